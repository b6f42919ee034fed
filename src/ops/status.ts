/**
 * The status report: what an operator (or a monitoring check) needs to know about a running
 * install, gathered from the database and the config only, so that it works from any process:
 * `klagomal status`, the HTTP endpoint inside the service, a test.
 *
 * Inputs: the config (which sources should be watched, the thresholds), the store, `now`.
 * Output: a `StatusReport` value and its `needsAttention` reasons; nothing is written.
 *
 * What needs a person (and turns `klagomal status` red, exit code 1):
 *  - a source down (not connected, or no live service watching it) for longer than
 *    `status.sourceDownMinutes`, or never watched at all;
 *  - the service killed: its heartbeat (src/ops/service-health.ts) older than
 *    SERVICE_STALE_SECONDS without a clean stop (or, from a service that writes none, a
 *    source's heartbeat stopped without a clean stop);
 *  - a source or the processing that cannot write to the data folder (full, not the service
 *    user's), at once, and a data folder with less than MIN_FREE_BYTES free;
 *  - outgoing mail that failed permanently in the last FAILED_MAIL_ATTENTION_DAYS days;
 *  - anything in quarantine;
 *  - stored mail not filed for longer than `status.sourceDownMinutes` (the processor is stuck);
 *  - template files with problems (only when the files are checked: the CLI does, /healthz not);
 *  - the last reconciliation found mail that had never been filed, or damaged raw mail;
 *  - the last good backup older than `backup.maxAgeHours`, a restore not yet reconciled (src/backup/summary.ts).
 * Overdue deadlines are reported but are not a reason: they are the officers' work and the
 * escalation pass already tells them; a monitoring check is for what operators can fix.
 *
 * No personal data: case numbers, source names, counts and times; errors have addresses
 * reduced to their domain (SMTP replies quote the recipient).
 */
import fs from 'node:fs';
import type { Config, SourceConfig } from '../config/config';
import type { Store } from '../store/store';
import type { OutboxMailRow } from '../store/status';
import { MIGRATIONS } from '../store/migrations';
import { TemplateSet } from '../reply/templates';
import { CHECKED_KEY } from '../reply/template-manager';
import type { Instant } from '../util/clock';
import { toInstant } from '../util/clock';
import { redactAddresses } from '../util/log';
import { lastReconcileRun, ReconcileRunSummary } from '../reconcile';
import { sourceStatusKey, SourceStatusRow } from '../store/source-status';
import { AuthStatus, authStatusKey, readAuthStatus } from './auth-status';
import { redactSecrets } from '../util/secrets';
import { STORAGE_FAILURE_PREFIX } from '../util/storage-error';
import { readServiceHealth, readStorageFailing, SERVICE_STALE_SECONDS } from './service-health';
import { backupStatus, BackupStatus } from '../backup/summary';

/**
 * A permanently failed mail needs a person for this long after it failed. Not forever: a
 * customer address that does not exist is an ordinary event, and a check that stays red for
 * ever after the first one is a check nobody looks at. A week covers a weekend and a holiday.
 */
export const FAILED_MAIL_ATTENTION_DAYS = 7;
/** The nearest deadlines listed. */
export const NEAREST_DEADLINES = 5;
/** Mails listed per outbox group (counts are always complete). */
const LISTED_MAILS = 10;

/**
 * A heartbeat older than this means no service is watching the source. A live source writes
 * at least once per poll interval (a scan) or per reconnect attempt (at most ~80 s of backoff
 * plus up to 60 s of connection and greeting timeouts), so three poll intervals, and never
 * less than three minutes.
 */
export function staleAfterSeconds(pollSeconds: number): number {
  return Math.max(3 * pollSeconds, 180);
}

/**
 *  - connected    live connection (IMAP) or watch (Maildir), heartbeat fresh
 *  - reconnecting the service runs but this source is failing; it retries with backoff
 *  - stopped      no live service: the last one stopped cleanly, or only one-off scans (`run --once`) ran
 *  - not-running  a live service watched it and its heartbeat stopped without a clean stop: killed or hung
 *  - never-seen   nothing recorded: no service has watched it since it was configured
 */
export type SourceState = 'connected' | 'reconnecting' | 'stopped' | 'not-running' | 'never-seen';

export interface SourceReport {
  readonly name: string;
  readonly type: 'imap' | 'maildir';
  /** The IMAP folder, or the Maildir's path. */
  readonly mailbox: string;
  /** 'inbox' for the complaints folder, 'sent' for the shared mailbox's Sent folder. */
  readonly role: 'inbox' | 'sent';
  readonly state: SourceState;
  readonly connected: boolean;
  /** When `connected` last changed: connected since, or disconnected since. */
  readonly since: Instant | null;
  readonly lastPollAt: Instant | null;
  readonly lastError: string | null;
  readonly failingSince: Instant | null;
  /** The service's last sign of life for this source. */
  readonly heartbeatAt: Instant | null;
  readonly stoppedAt: Instant | null;
  /** Since when nobody has been taking mail from it (null while connected). */
  readonly downSince: Instant | null;
  readonly downMinutes: number | null;
  /** IMAP: the stored cursor (UIDVALIDITY, last UID stored); null for a Maildir. */
  readonly cursor: { readonly uidvalidity: string; readonly lastUid: number } | null;
  /** Messages in the folder at the last scan (IMAP EXISTS); null when unknown. */
  readonly folderMessages: number | null;
  /** Messages not yet taken at the last scan; null when the source cannot tell. */
  readonly waiting: number | null;
  /** IMAP: how it logs in; null for a Maildir. */
  readonly auth: AuthReport | null;
}

/**
 * How a mailbox logs in: `kind` from the config ("password", "oauth2 microsoft", ...); for
 * OAuth2 what the running service recorded: when its current token expires and the last
 * token error (a refused token request, or a token the server refused), never the token.
 */
export interface AuthReport {
  readonly kind: string;
  readonly tokenExpiresAt: Instant | null;
  readonly tokenObtainedAt: Instant | null;
  readonly lastTokenError: string | null;
  readonly lastTokenErrorAt: Instant | null;
}

export interface OutboxMailReport {
  readonly id: number;
  readonly case: string | null;
  readonly kind: string;
  readonly attempts: number;
  readonly at: Instant | null;
  readonly lastError: string | null;
}

export interface StatusReport {
  readonly generatedAt: Instant;
  /** True when `needsAttention` is empty. */
  readonly ok: boolean;
  readonly needsAttention: readonly string[];
  readonly service: {
    /** Some source has a fresh heartbeat from a service that has not stopped. */
    readonly running: boolean;
    readonly lastHeartbeatAt: Instant | null;
  };
  readonly sources: readonly SourceReport[];
  /** The transport and, for SMTP with a login or Graph, how it logs in. */
  readonly transport: { readonly type: string; readonly auth: AuthReport | null };
  readonly outbox: {
    /** Waiting for their first attempt. */
    readonly queued: number;
    /** Had a temporary failure; retried with backoff (`retryingMails` lists them, next attempt in `at`). */
    readonly retrying: number;
    /** An attempt in flight (or in doubt after a crash, retried after its lease). */
    readonly sending: number;
    readonly sent: number;
    readonly failed: number;
    /** Failed in the last FAILED_MAIL_ATTENTION_DAYS days (`failedMails` lists them, failure time in `at`). */
    readonly failedRecently: number;
    readonly retryingMails: readonly OutboxMailReport[];
    readonly failedMails: readonly OutboxMailReport[];
  };
  readonly quarantine: { readonly count: number; readonly oldestAt: Instant | null };
  /** Raw mail stored but not yet filed (the processor's queue). */
  readonly inbound: { readonly pending: number; readonly oldestPendingAt: Instant | null };
  readonly cases: {
    readonly open: number;
    readonly byStatus: Readonly<Record<string, number>>;
    readonly deadlinesOverdue: number;
    readonly deadlinesDueWithin24h: number;
    readonly nearestDeadlines: ReadonlyArray<{ readonly case: string; readonly milestone: string; readonly dueAt: Instant; readonly overdue: boolean }>;
  };
  readonly templates: {
    /** The set the service uses: the last set that passed the check. */
    readonly inUse: string | null;
    readonly checkedAt: Instant | null;
    /** The files on disk now (only when checked). */
    readonly files?: { readonly version: string | null; readonly problems: number };
  };
  readonly database: { readonly path: string; readonly bytes: number; readonly walBytes: number; readonly schemaVersion: number };
  /** The last reconciliation (`klagomal reconcile`, or the service's schedule); null when none ran. */
  readonly reconcile: Omit<ReconcileRunSummary, 'id' | 'report'> | null;
  /** The last backup and the last good one; a restore and its reconciliation (src/backup/summary.ts). */
  readonly backup: BackupStatus;
}

export interface StatusOptions {
  /** Build the template files and report their problems (costs a compile; the CLI does it). */
  readonly checkTemplateFiles?: boolean;
}

interface WatchedFolder {
  readonly name: string;
  readonly type: 'imap' | 'maildir';
  readonly mailbox: string;
  readonly role: 'inbox' | 'sent';
  readonly pollSeconds: number;
}

/** The folders the service watches for a config: as src/service.ts builds its sources. */
export function watchedFolders(sources: readonly SourceConfig[]): WatchedFolder[] {
  return sources.flatMap((s): WatchedFolder[] => {
    if (s.type === 'maildir') return [{ name: s.name, type: 'maildir', mailbox: s.path, role: 'inbox', pollSeconds: s.pollSeconds }];
    const inbox: WatchedFolder = { name: s.name, type: 'imap', mailbox: s.mailbox, role: 'inbox', pollSeconds: s.pollSeconds };
    return s.sentFolder ? [inbox, { ...inbox, mailbox: s.sentFolder, role: 'sent' }] : [inbox];
  });
}

const ms = (i: Instant | null | undefined): number => (i ? Date.parse(i) : -Infinity);
const later = (...xs: Array<Instant | null | undefined>): Instant | null =>
  xs.reduce<Instant | null>((a, x) => (x && (a === null || ms(x) > ms(a)) ? x : a), null);
const minutesBetween = (from: Instant, now: Date): number => Math.max(0, Math.floor((now.getTime() - ms(from)) / 60_000));

/** One watched folder's report from its recorded row (pure: `now` decides what is stale). */
export function sourceReport(folder: WatchedFolder, row: SourceStatusRow | undefined, cursor: SourceReport['cursor'], now: Date): SourceReport {
  const base = { name: folder.name, type: folder.type, mailbox: folder.mailbox, role: folder.role, cursor, auth: null };
  if (!row) {
    return {
      ...base,
      state: 'never-seen',
      connected: false,
      since: null,
      lastPollAt: null,
      lastError: null,
      failingSince: null,
      heartbeatAt: null,
      stoppedAt: null,
      downSince: null,
      downMinutes: null,
      folderMessages: null,
      waiting: null,
    };
  }
  const fresh = now.getTime() - ms(row.updated_at) <= staleAfterSeconds(folder.pollSeconds) * 1000;
  const connected = row.connected === 1;
  let state: SourceState;
  if (row.stopped_at && !connected) state = 'stopped';
  else if (!fresh) state = 'not-running';
  else state = connected ? 'connected' : 'reconnecting';
  // Down since: when it went down; for a killed service, its last heartbeat. A later completed
  // one-off scan (`run --once`) counts as mail taken.
  let downSince: Instant | null = null;
  if (state !== 'connected') downSince = later(connected ? row.updated_at : (row.since ?? row.updated_at), row.last_poll_at);
  // Connected, yet every scan since failing_since failed (a full disk, raw/ not writable): a
  // reconnect does not end that, only a completed scan does; nothing was taken meanwhile.
  else if (row.failing_since) downSince = later(row.failing_since, row.last_poll_at);
  return {
    ...base,
    state,
    connected: state === 'connected',
    since: row.since,
    lastPollAt: row.last_poll_at,
    lastError: row.last_error,
    failingSince: row.failing_since,
    heartbeatAt: row.updated_at,
    stoppedAt: row.stopped_at,
    downSince,
    downMinutes: downSince ? minutesBetween(downSince, now) : null,
    folderMessages: row.folder_messages,
    waiting: row.waiting,
  };
}

/** Below this much free space in the data folder's file system, `status` is red: a large mail (1 MiB) no longer fits. */
export const MIN_FREE_BYTES = 1024 * 1024;

/** Free bytes for an unprivileged writer in the file system of `dir`; null when it cannot be told. */
function freeBytes(dir: string): number | null {
  try {
    const s = fs.statfsSync(dir);
    return s.bavail * s.bsize;
  } catch {
    return null;
  }
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

const oneLine = (s: string | null): string | null => (s === null ? null : redactAddresses(redactSecrets(s)).replace(/\s+/g, ' ').slice(0, 300));

/** A login's report: the kind from the config, the token facts from what the service recorded. */
function authReport(kind: string, recorded: AuthStatus | null): AuthReport {
  const same = recorded && recorded.kind === kind ? recorded : null;
  return {
    kind,
    tokenExpiresAt: same?.expiresAt ?? null,
    tokenObtainedAt: same?.obtainedAt ?? null,
    lastTokenError: oneLine(same?.lastError ?? null),
    lastTokenErrorAt: same?.lastErrorAt ?? null,
  };
}

export function gatherStatus(config: Config, store: Store, now: Date, opts: StatusOptions = {}): StatusReport {
  const reasons: string[] = [];
  const downLimit = config.status.sourceDownMinutes;
  const nowI = toInstant(now);
  const fmt = (i: Instant | null): string => (i ? i.replace(/\.\d{3}Z$/, 'Z') : '?');

  // ---- sources
  const rows = store.sourceStatusRows();
  const sources = watchedFolders(config.sources).map((f) => {
    const c = f.type === 'imap' ? store.cursor(f.name, f.mailbox) : undefined;
    const report = sourceReport(f, rows.get(sourceStatusKey(f.name, f.mailbox)), c ? { uidvalidity: c.uidvalidity, lastUid: c.last_uid } : null, now);
    const cfg = config.sources.find((s) => s.name === f.name);
    if (cfg?.type !== 'imap') return report;
    return { ...report, auth: authReport(cfg.auth ? `oauth2 ${cfg.auth.provider}` : 'password', readAuthStatus(store, authStatusKey({ source: f.name }))) };
  });
  // The service's own heartbeat (src/ops/service-health.ts), when it writes one: a kill -9 is
  // seen within SERVICE_STALE_SECONDS, not after the sources' window of minutes.
  const health = readServiceHealth(store);
  const serviceState: 'alive' | 'stopped' | 'dead' | null = !health.heartbeatAt
    ? null
    : health.stoppedAt && ms(health.stoppedAt) >= ms(health.heartbeatAt)
      ? 'stopped'
      : now.getTime() - ms(health.heartbeatAt) > SERVICE_STALE_SECONDS * 1000
        ? 'dead'
        : 'alive';
  if (serviceState === 'dead' || serviceState === 'stopped')
    sources.forEach((s, i) => {
      if (s.state !== 'connected' && s.state !== 'reconnecting') return;
      const since = serviceState === 'dead' ? health.heartbeatAt! : health.stoppedAt!;
      const downSince = s.downSince && ms(s.downSince) < ms(since) ? s.downSince : since;
      sources[i] = {
        ...s,
        state: serviceState === 'dead' ? 'not-running' : 'stopped',
        connected: false,
        downSince,
        downMinutes: minutesBetween(downSince, now),
      };
    });
  for (const s of sources) {
    const label = `source ${s.name} (${s.role === 'sent' ? `Sent folder ${s.mailbox}` : s.mailbox})`;
    if (s.state === 'never-seen') reasons.push(`${label}: never watched (no status recorded; is the service running with this config?)`);
    else if (s.state !== 'stopped' && s.lastError?.startsWith(STORAGE_FAILURE_PREFIX) && s.failingSince)
      // Mail waits from the first failure on: no grace of sourceDownMinutes.
      reasons.push(`${label}: ${STORAGE_FAILURE_PREFIX} since ${fmt(s.failingSince)}${s.lastError.slice(STORAGE_FAILURE_PREFIX.length)}`);
    else if (s.downMinutes !== null && s.downMinutes >= downLimit) {
      const why =
        s.state === 'stopped' ? 'the service stopped' : s.state === 'not-running' ? 'no service is watching it' : `${s.lastError ?? 'disconnected'}; retrying`;
      reasons.push(`${label}: down for ${s.downMinutes} min since ${fmt(s.downSince)} (${why})`);
    }
  }
  const killed = sources.filter((s) => s.state === 'not-running');
  const heartbeats = sources.map((s) => s.heartbeatAt).filter((h): h is Instant => h !== null);
  const lastHeartbeatAt = later(health.heartbeatAt, ...heartbeats);
  if (serviceState === 'dead' || (serviceState === null && killed.length > 0)) {
    const last = serviceState === 'dead' ? health.heartbeatAt : later(...killed.map((s) => s.heartbeatAt));
    reasons.push(`service not running: no heartbeat since ${fmt(last)} and it did not stop cleanly (killed or crashed?)`);
  }
  const running = serviceState !== null ? serviceState === 'alive' : sources.some((s) => s.state === 'connected' || s.state === 'reconnecting');

  // ---- the data folder: a stage that cannot write to it, and its free space (a full disk also
  // stops the service from recording anything, so it is measured here, not only reported)
  for (const f of readStorageFailing(store)) reasons.push(`${f.part}: ${STORAGE_FAILURE_PREFIX} since ${fmt(f.since)}: ${oneLine(f.error)}; ${f.fix}`);
  const free = freeBytes(config.dataDir);
  if (free !== null && free < MIN_FREE_BYTES)
    reasons.push(
      `the data folder ${config.dataDir} has ${Math.floor(free / 1024)} KiB free: mail over ${MIN_FREE_BYTES / 1024} KiB cannot be stored and the database cannot grow; free space there (df -h ${config.dataDir})`,
    );

  // ---- the transport's login
  const t = config.transport;
  const transportKind = t.type === 'graph' ? 'oauth2 microsoft' : t.type === 'smtp' && t.user ? (t.auth ? `oauth2 ${t.auth.provider}` : 'password') : null;
  const transport = { type: t.type, auth: transportKind ? authReport(transportKind, readAuthStatus(store, authStatusKey('transport'))) : null };
  // A transport that has had no usable token for a while cannot send (the outbox retries meanwhile).
  const ta = transport.auth;
  if (
    ta?.lastTokenError &&
    ta.lastTokenErrorAt &&
    minutesBetween(ta.lastTokenErrorAt, now) >= downLimit &&
    !(ta.tokenExpiresAt && ms(ta.tokenExpiresAt) > now.getTime())
  )
    reasons.push(`transport (${t.type}, ${ta.kind}): no usable token since ${fmt(ta.lastTokenErrorAt)}: ${ta.lastTokenError}`);

  // ---- outbox
  const byState = store.outboxCountsByStatus();
  const outboxCount = (status: string, retrying?: boolean): number =>
    byState.filter((r) => r.status === status && (retrying === undefined || (r.retrying === 1) === retrying)).reduce((a, r) => a + r.n, 0);
  const failedSince = toInstant(new Date(now.getTime() - FAILED_MAIL_ATTENTION_DAYS * 86_400_000));
  const mailReports = (rows: OutboxMailRow[]): OutboxMailReport[] =>
    rows.map((r) => ({ id: r.id, case: r.number, kind: r.kind, attempts: r.attempts, at: r.at, lastError: oneLine(r.last_error) }));
  const retryingMails = mailReports(store.retryingOutboxMails(LISTED_MAILS));
  // When a mail failed: its last attempt's end (a give-up by age has one too).
  const failedRecently = store.countOutboxFailedSince(failedSince);
  const failedMails = mailReports(store.outboxFailedSince(failedSince, LISTED_MAILS));
  const outbox = {
    queued: outboxCount('queued', false),
    retrying: outboxCount('queued', true),
    sending: outboxCount('sending'),
    sent: outboxCount('sent'),
    failed: outboxCount('failed'),
    failedRecently,
    retryingMails,
    failedMails,
  };
  if (failedRecently > 0) {
    const list = failedMails
      .slice(0, 3)
      .map((m) => `#${m.id}${m.case ? ` ${m.case}` : ''}`)
      .join(', ');
    reasons.push(
      `${failedRecently} outgoing mail(s) failed in the last ${FAILED_MAIL_ATTENTION_DAYS} days (${list}${failedRecently > 3 ? ', ...' : ''}; see 'klagomal outbox --status failed', retry with 'klagomal outbox retry ID')`,
    );
  }

  // ---- quarantine and the processor's queue
  const q = store.quarantineBacklog();
  if (q.n > 0) reasons.push(`${q.n} mail(s) in quarantine since ${fmt(q.oldest)} (see 'klagomal quarantine', retry with 'klagomal quarantine retry ID')`);
  const p = store.storedMailBacklog();
  if (p.n > 0 && p.oldest && minutesBetween(p.oldest, now) >= downLimit)
    reasons.push(`${p.n} stored mail(s) not filed, the oldest for ${minutesBetween(p.oldest, now)} min (is the service running? see its log)`);

  // ---- cases and deadlines (the same open deadlines as the digest: finalAnswerMax is a cap, not a target)
  const byStatus: Record<string, number> = {};
  for (const r of store.openCasesByStatus()) byStatus[r.status] = r.n;
  const in24h = toInstant(new Date(now.getTime() + 86_400_000));
  const cases = {
    open: Object.values(byStatus).reduce((a, n) => a + n, 0),
    byStatus,
    deadlinesOverdue: store.countOpenDeadlinesDueBefore(nowI),
    deadlinesDueWithin24h: store.countOpenDeadlinesDueBetween(nowI, in24h),
    nearestDeadlines: store
      .openDeadlines(null, NEAREST_DEADLINES)
      .map((d) => ({ case: d.number, milestone: d.milestone, dueAt: d.due_at, overdue: ms(d.due_at) < now.getTime() })),
  };

  // ---- templates
  const inUse = store.meta('templates.lastGood') ?? null;
  const checkedAt = inUse ? store.templateSetCheckedAt(inUse) : null;
  let files: { version: string | null; problems: number } | undefined;
  if (opts.checkTemplateFiles) {
    const built = TemplateSet.build(config.templates, { caseLinkBase: config.firm.caseLinkBase, checkedBefore: store.meta(CHECKED_KEY) ?? null });
    files = { version: built.set?.setVersion ?? null, problems: built.problems.length };
    if (!built.set)
      reasons.push(
        `the template files in ${config.templates} have ${built.problems.length} problem(s) ('klagomal templates check'); ${inUse ? `the last good set ${inUse} stays in use` : 'no good set was ever kept: the service cannot start'}`,
      );
  }

  // ---- database, reconciliation
  const database = {
    path: config.database,
    bytes: fileSize(config.database),
    walBytes: fileSize(`${config.database}-wal`),
    schemaVersion: store.databaseSchemaVersion(),
  };
  const rec = lastReconcileRun(store);
  // Said loudly until the next run compares clean: missed mail was found (and filed), or stored
  // raw mail no longer matches its hash. A folder it could not compare is the source's reason.
  if (rec?.finishedAt && rec.found > 0)
    reasons.push(
      `reconciliation at ${fmt(rec.finishedAt)} found ${rec.found} mail(s) on the server that had never been filed (filed now: ${rec.filedNow}; see 'klagomal reconcile --json')`,
    );
  if (rec?.finishedAt && rec.rawMissing + rec.rawMismatched > 0)
    reasons.push(
      `reconciliation at ${fmt(rec.finishedAt)}: ${rec.rawMissing} stored raw mail(s) missing and ${rec.rawMismatched} not matching their sha256 (see 'klagomal reconcile --json')`,
    );

  const backup = backupStatus(config, store, now);
  reasons.push(...backup.reasons);

  return {
    generatedAt: nowI,
    ok: reasons.length === 0,
    needsAttention: reasons,
    service: { running, lastHeartbeatAt },
    sources,
    transport,
    outbox,
    quarantine: { count: q.n, oldestAt: q.oldest },
    inbound: { pending: p.n, oldestPendingAt: p.oldest },
    cases,
    templates: { inUse, checkedAt, ...(files ? { files } : {}) },
    database,
    // Without the whole report (that is `klagomal reconcile --json`) and the row id.
    reconcile: rec ? (({ id: _id, report: _report, ...summary }) => summary)(rec) : null,
    backup: backup.report,
  };
}

/** The schema this program expects; an older database lacks columns the report reads. */
export const LATEST_SCHEMA = MIGRATIONS[MIGRATIONS.length - 1].version;
