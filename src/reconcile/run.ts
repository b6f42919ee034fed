/**
 * Reconciliation: proof that nothing on the server was silently never filed.
 *
 * The worst failure of the peers is a mail that is never imported and nobody notices: a cursor
 * that jumped past a mail, a restore from an old backup, a bug in a source, a person moving
 * mail with a mail client. The sources trust their cursors; this pass does not. It compares
 * what is on the server with what the database holds, and re-checks what the database holds:
 *
 *  - IMAP, per source, on a short-lived connection of its own: the processed folder, the Sent
 *    folder (when watched) and the watched folder are listed with UID, size and Message-ID (one
 *    FETCH per folder, no bodies). A mail is known when it was stored from that folder under
 *    its UIDVALIDITY and UID; else by its Message-ID (a mail moved to the processed folder has
 *    a new UID there); else it is fetched and known by its sha256 (no Message-ID, or stored
 *    but not filed yet). Mail above the source's cursor is the source's to take (`waiting`),
 *    as is a whole folder whose new UIDVALIDITY the source has not seen yet (it rescans it).
 *    The Sent folder is read by its source only from the moment it was first seen, so only
 *    its part from the first mail stored from it on is compared (the rest is `notCompared`).
 *  - Maildir: the files in cur/, by name and size, else by sha256. new/ is the source's queue.
 *  - Raw mail: every stored raw mail (bytes in the database, files under data/raw) is hashed
 *    again and compared with its sha256. Missing and mismatching ones are reported, never
 *    "repaired": which copy is right is for a person to judge.
 *
 * A mail on the server that was never stored is stored through the intake (source key
 * `reconcile:<source>:<folder>:<uidvalidity>:<uid>`, or `reconcile:<source>:<name>:<hash>`
 * for a Maildir file), gets an event `reconcile-found-unfiled` in the same transaction, and is
 * filed by the normal processor. On the server it gets only what its source would have done:
 * a mail found in the watched folder is flagged \Seen and moved to the processed folder, after
 * the commit; the processed and Sent folders are opened read-only (EXAMINE).
 *
 * Every run is a row in reconcile_runs (trigger, times, the report as JSON). When something
 * was found or is damaged it says so loudly: error log lines (source, folder, UID, inbound id,
 * case number; never addresses or subjects), and one bilingual mail to firm.adminAddress
 * through the outbox per run (per distinct set of damage when there is only damage, so that a
 * damaged file nobody has fixed yet does not mail the admin every hour).
 *
 * Failure behaviour: a folder or source that cannot be compared is reported with its error and
 * the others go on; a run stopped by its signal records what it did. Nothing here deletes
 * anything, in the database or on a server.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { ImapFlow } from 'imapflow';
import type { Config, ImapSourceConfig, MaildirSourceConfig } from '../config/config';
import type { EventType } from '../cases/lifecycle';
import type { Store } from '../store/store';
import type { Clock, Instant } from '../util/clock';
import { toInstant } from '../util/clock';
import type { Logger } from '../util/log';
import { errorChain } from '../util/log';
import { normaliseMessageId } from '../util/header-safe';
import { buildAdminNotice } from '../reply/mail';
import { uidSet } from '../ingest/imap';
import { RawArrival, sha256, storeArrivals } from '../ingest/intake';
import { connectMailbox, mailboxConnection } from '../ingest/imap';
import { credentialsFor, Login, MailboxCredentials } from '../auth/credentials';
import { LARGE_MAIL_BYTES, spoolRaw, SpooledRaw } from '../ingest/raw-files';

export type ReconcileTrigger = 'schedule' | 'command';

/** The event of a mail found on the server that had never been stored. */
export const FOUND_EVENT: EventType = 'reconcile-found-unfiled';

/** Mails fetched per FETCH of bodies, and the bytes of one such batch. */
const FETCH_BATCH = 50;
const FETCH_BATCH_BYTES = 16 * 1024 * 1024;
/** Raw mails read per database page while verifying (each at most LARGE_MAIL_BYTES). */
const VERIFY_PAGE = 16;
/** Damaged raw mails listed in a report (all are counted). */
const DAMAGED_LISTED = 100;

// ---- the report ------------------------------------------------------------------------

export type FolderRole = 'watched' | 'processed' | 'sent' | 'maildir';

/** A mail found on the server that had never been stored, and what filing made of it. */
export interface FoundMail {
  /** "UID 7" (IMAP) or the file name (Maildir). */
  readonly where: string;
  readonly inboundId: number;
  state: 'stored' | 'filed' | 'quarantined';
  kind: string | null;
  caseNumber: string | null;
}

export interface FolderReport {
  readonly source: string;
  readonly folder: string;
  readonly role: FolderRole;
  uidvalidity: string | null;
  /** Mails in the folder (files in new/ and cur/ for a Maildir). */
  onServer: number;
  /** Stored before this run (by UID, Message-ID, name or sha256). */
  known: number;
  /** Not yet taken by the source: above its cursor, a UIDVALIDITY it has not seen, Maildir new/. */
  waiting: number;
  /** Not compared: the Sent folder's history from before it was first watched. */
  notCompared: number;
  /** Never stored: stored and filed by this run. */
  found: FoundMail[];
  /** Of `found`, those the processor filed (not quarantined, not left stored). */
  filedNow: number;
  /** Why this folder could not be compared (then the counts are what was done before). */
  error: string | null;
}

export interface DamagedRaw {
  readonly sha256: string;
  readonly storedAs: 'database' | 'file';
  /** The file, relative to the data folder (file-stored mail). */
  readonly path: string | null;
  readonly problem: 'missing' | 'unreadable' | 'mismatch';
  /** The hash the bytes have now (mismatch), or the read error (unreadable). */
  readonly detail: string | null;
  /** The mails stored with these bytes, and their cases (at most 10 each). */
  readonly inboundIds: number[];
  readonly cases: string[];
}

export interface RawReport {
  checked: number;
  /** Missing or unreadable (a file gone, a row gone). */
  missing: number;
  mismatched: number;
  /** The first DAMAGED_LISTED damaged ones. */
  damaged: DamagedRaw[];
}

export interface ReconcileReport {
  readonly runId: number;
  readonly trigger: ReconcileTrigger;
  readonly startedAt: Instant;
  finishedAt: Instant | null;
  folders: FolderReport[];
  raw: RawReport;
  /** Mails found on a server that had never been stored, over all folders. */
  found: number;
  filedNow: number;
  /** Folders that could not be compared, plus a run-level failure. */
  errors: number;
  error: string | null;
  /** Stopped by its signal (service shutdown) before it was done. */
  interrupted: boolean;
  /** A mail to firm.adminAddress was queued by this run. */
  adminNotified: boolean;
  /** Everything compared and matched: nothing found, nothing damaged, no errors. */
  ok: boolean;
}

// ---- decisions (pure) ------------------------------------------------------------------

/** A mail as listed on the server: no body. */
export interface ServerMail {
  readonly uid: number;
  readonly size: number;
  readonly messageId: string | null;
  readonly internalDate: Date | null;
}

export interface FolderFacts {
  readonly role: 'watched' | 'processed' | 'sent';
  /** The folder's UIDVALIDITY now. */
  readonly uidvalidity: string;
  /** The source's cursor for this folder (watched and Sent folders; null for the processed folder). */
  readonly cursor: { readonly uidvalidity: string; readonly lastUid: number } | null;
  /** UIDs stored from this folder under `uidvalidity`, by its source or an earlier reconcile. */
  readonly storedUids: ReadonlySet<number>;
}

export interface FolderPlan {
  readonly known: number;
  readonly waiting: number;
  readonly notCompared: number;
  /** To fetch and hash: known by sha256, or never stored. */
  readonly toCheck: ServerMail[];
}

/** Which listed mails are known, the source's to take, or to be fetched and checked by hash. */
export function planFolder(mails: readonly ServerMail[], facts: FolderFacts, messageIdKnown: (messageId: string, size: number) => boolean): FolderPlan {
  let known = 0;
  let waiting = 0;
  let notCompared = 0;
  const toCheck: ServerMail[] = [];
  // The watched and Sent folders are read by their source up to its cursor; what is above it
  // (or in a renumbered folder the source has not rescanned yet) is not missing, only not yet read.
  const cursor = facts.role !== 'processed' && facts.cursor && facts.cursor.uidvalidity === facts.uidvalidity ? facts.cursor.lastUid : null;
  // The Sent folder is read from its end at the first look: the mail before the first one stored
  // is the mailbox's history, deliberately not read (src/ingest/imap.ts).
  const sentFrom = facts.role === 'sent' ? minimum(facts.storedUids) : null;
  for (const m of mails) {
    if (facts.role !== 'processed' && (cursor === null || m.uid > cursor)) waiting++;
    else if (facts.role === 'sent' && (sentFrom === null || m.uid < sentFrom)) notCompared++;
    // A Message-ID alone does not make a mail known: different mails can share one (a web
    // form's constant id, a forged one). The size must match too; anything else is fetched and
    // compared by its bytes, and filing tells a copy from another mail (src/parse/content-key.ts).
    else if (facts.storedUids.has(m.uid) || (m.messageId !== null && messageIdKnown(m.messageId, m.size))) known++;
    else toCheck.push(m);
  }
  return { known, waiting, notCompared, toCheck };
}

function minimum(values: ReadonlySet<number>): number | null {
  let min: number | null = null;
  for (const v of values) if (min === null || v < min) min = v;
  return min;
}

/** The Message-ID of a `BODY[HEADER.FIELDS (MESSAGE-ID)]` answer, normalised as the parser does. */
export function messageIdFromHeaders(headers: Buffer | string | undefined | null): string | null {
  if (!headers) return null;
  const text = (Buffer.isBuffer(headers) ? headers.toString('utf8') : headers).replace(/\r?\n[ \t]+/g, ' '); // unfold (RFC 5322 §2.2.3)
  const m = /^message-id[ \t]*:(.*)$/im.exec(text);
  return m ? normaliseMessageId(m[1]) : null;
}

/** A Maildir file's delivery name: the name without the ":2,<flags>" info part. */
export function maildirLocator(fileName: string): string {
  const colon = fileName.indexOf(':');
  return colon >= 0 ? fileName.slice(0, colon) : fileName;
}

export interface MaildirFile {
  readonly sub: 'new' | 'cur';
  readonly name: string;
  readonly size: number;
  readonly mtime: Date;
}

/**
 * Files in new/ are the source's queue (`waiting`). A file in cur/ is known when a mail was
 * stored under its delivery name with its size; anything else is fetched and checked by hash
 * (the source renames a clash to "<name>.1", and a person may have copied a different file
 * under a reused name).
 */
export function planMaildir(
  files: readonly MaildirFile[],
  storedSizes: ReadonlyMap<string, ReadonlySet<number>>,
): { known: number; waiting: number; toCheck: MaildirFile[] } {
  let known = 0;
  let waiting = 0;
  const toCheck: MaildirFile[] = [];
  for (const f of files) {
    if (f.sub === 'new') waiting++;
    else if (storedSizes.get(maildirLocator(f.name))?.has(f.size)) known++;
    else toCheck.push(f);
  }
  return { known, waiting, toCheck };
}

/** Something a person must look at: mail that had been missed, or stored mail that is damaged. */
export function alarming(r: Pick<ReconcileReport, 'found' | 'raw'>): boolean {
  return r.found > 0 || r.raw.missing > 0 || r.raw.mismatched > 0;
}

/**
 * The admin's mail (plain text, Swedish and English, like the template-problem notice), with
 * its idempotency key: once per run when mail was found; once per distinct set of damage when
 * only damage is reported. Null when there is nothing to tell.
 */
export function adminNotice(r: ReconcileReport): { subject: string; text: string; idempotencyKey: string } | null {
  if (!alarming(r)) return null;
  const lines: string[] = [];
  const when = r.startedAt.slice(0, 16).replace('T', ' ');
  lines.push(
    `Avstämningen av brevlådorna mot ärenderegistret (körning ${r.runId}, ${when} UTC) behöver uppmärksamhet.`,
    `The reconciliation of the mailboxes with the case register (run ${r.runId}, ${when} UTC) needs attention.`,
    '',
  );
  if (r.found > 0) {
    lines.push(
      `${r.found} brev på servern hade aldrig registrerats. De är registrerade nu:`,
      `${r.found} mail(s) on the server had never been filed. They are filed now:`,
      '',
    );
    for (const f of r.folders)
      for (const m of f.found)
        lines.push(
          `  ${f.source} / ${f.folder} ${m.where}: ${m.caseNumber ?? '(inget ärende / no case)'} ${m.state === 'filed' ? `(${m.kind})` : `(${m.state})`}`,
        );
    lines.push('');
  }
  if (r.raw.missing + r.raw.mismatched > 0) {
    lines.push(
      `${r.raw.missing} lagrade brev saknas och ${r.raw.mismatched} stämmer inte längre med sin sha256. Inget har rättats automatiskt; återställ från säkerhetskopia.`,
      `${r.raw.missing} stored mail(s) are missing and ${r.raw.mismatched} no longer match their sha256. Nothing was repaired; restore them from a backup.`,
      '',
    );
    for (const d of r.raw.damaged)
      lines.push(
        `  ${d.path ?? `raw_mail ${d.sha256.slice(0, 16)}…`}: ${d.problem}; inbound ${d.inboundIds.join(',') || '-'}${d.cases.length ? `; ${d.cases.join(',')}` : ''}`,
      );
    lines.push('');
  }
  lines.push('Kör / run: klagomal reconcile', '');
  const damage = crypto
    .createHash('sha256')
    .update(JSON.stringify(r.raw.damaged.map((d) => [d.sha256, d.problem])))
    .digest('hex')
    .slice(0, 16);
  return {
    subject:
      r.found > 0
        ? `Avstämning: ${r.found} brev hade inte registrerats / Reconciliation: ${r.found} mail(s) had not been filed`
        : `Avstämning: lagrade brev är skadade / Reconciliation: stored mail is damaged (${r.raw.missing + r.raw.mismatched})`,
    text: lines.join('\n'),
    idempotencyKey: r.found > 0 ? `reconcile:run:${r.runId}` : `reconcile:damage:${r.raw.missing}:${r.raw.mismatched}:${damage}`,
  };
}

// ---- the run ---------------------------------------------------------------------------

export interface ReconcileDeps {
  readonly config: Config;
  readonly store: Store;
  readonly log: Logger;
  readonly clock: Clock;
  /** File the given stored mails through the normal processor (the service's `process({ only })`). */
  readonly process: (inboundIds: readonly number[]) => Promise<unknown>;
  /** How an IMAP source logs in (default: its password variable or OAuth2 config, as the service does; the service passes its own, sharing the cached token). */
  readonly credentialsOf?: (source: ImapSourceConfig) => MailboxCredentials;
  /** Stops the run between folders (service shutdown); what was done is recorded. */
  readonly signal?: AbortSignal;
}

interface Run {
  readonly deps: ReconcileDeps;
  readonly log: Logger;
  readonly runId: number;
  /** Is a mail of this Message-ID and size stored (any source)? */
  readonly messageIdKnown: (messageId: string, size: number) => boolean;
  /** Is a mail of this Message-ID and size stored from this source's Sent folder? */
  readonly sentMessageIdKnown: (source: string, folder: string, messageId: string, size: number) => boolean;
  readonly shaKnown: (sha: string) => boolean;
}

/** One reconciliation of every source and of the stored raw mail. Never throws for a server's sake. */
export async function reconcile(deps: ReconcileDeps, trigger: ReconcileTrigger): Promise<ReconcileReport> {
  const { store, config } = deps;
  const log = deps.log.child({ stage: 'reconcile' });
  const startedAt = toInstant(deps.clock());
  const runId = store.tx(() =>
    Number(store.db.prepare("INSERT INTO reconcile_runs (started_at, trigger, result) VALUES (?, ?, '{}')").run(startedAt, trigger).lastInsertRowid),
  );
  log.info('reconcile started', { run: runId, trigger });
  const report: ReconcileReport = {
    runId,
    trigger,
    startedAt,
    finishedAt: null,
    folders: [],
    raw: { checked: 0, missing: 0, mismatched: 0, damaged: [] },
    found: 0,
    filedNow: 0,
    errors: 0,
    error: null,
    interrupted: false,
    adminNotified: false,
    ok: false,
  };
  const byMessageId = store.db.prepare('SELECT 1 FROM inbound WHERE message_id = ? AND size = ? LIMIT 1');
  const bySentMessageId = store.db.prepare('SELECT 1 FROM inbound WHERE message_id = ? AND size = ? AND source = ? AND mailbox = ? LIMIT 1');
  const bySha = store.db.prepare('SELECT 1 FROM inbound WHERE sha256 = ? LIMIT 1');
  const run: Run = {
    deps,
    log,
    runId,
    messageIdKnown: (id, size) => byMessageId.get(id, size) !== undefined,
    sentMessageIdKnown: (source, folder, id, size) => bySentMessageId.get(id, size, source, folder) !== undefined,
    shaKnown: (sha) => bySha.get(sha) !== undefined,
  };

  try {
    for (const source of config.sources) {
      if (deps.signal?.aborted) {
        report.interrupted = true;
        break;
      }
      report.folders.push(...(source.type === 'imap' ? await reconcileImapSource(run, source) : [await reconcileMaildir(run, source)]));
    }
    const found = report.folders.flatMap((f) => f.found);
    if (found.length > 0) {
      try {
        await deps.process(found.map((m) => m.inboundId));
      } catch (err) {
        // Stored is safe: the service's processing loop (or the next `run --once`) files them.
        log.error('reconcile: filing the found mail failed; it stays stored and is filed by the next processing pass', { run: runId, error: errorChain(err) });
      }
      for (const f of report.folders) {
        for (const m of f.found) describeFiled(store, m);
        f.filedNow = f.found.filter((m) => m.state === 'filed').length;
      }
    }
    if (deps.signal?.aborted) report.interrupted = true;
    else report.raw = await verifyRawMail(store, config.dataDir, deps.signal);
  } catch (err) {
    // The database itself failed us: record what is known, loudly.
    report.error = errorChain(err);
    log.error('reconcile failed', { run: runId, error: report.error });
  }

  report.found = report.folders.reduce((n, f) => n + f.found.length, 0);
  report.filedNow = report.folders.reduce((n, f) => n + f.filedNow, 0);
  report.errors = report.folders.filter((f) => f.error !== null).length + (report.error ? 1 : 0);
  report.ok = !alarming(report) && report.errors === 0 && !report.interrupted;
  report.finishedAt = toInstant(deps.clock());

  const notice = adminNotice(report);
  try {
    store.tx(() => {
      if (notice && config.firm.adminAddress) {
        const queued = store.enqueue(
          buildAdminNotice(
            { to: config.firm.adminAddress, subject: notice.subject, text: notice.text, idempotencyKey: notice.idempotencyKey, now: deps.clock() },
            config,
          ),
        );
        report.adminNotified = queued !== null;
      }
      store.db.prepare('UPDATE reconcile_runs SET finished_at = ?, result = ? WHERE id = ?').run(report.finishedAt, JSON.stringify(report), runId);
    });
  } catch (err) {
    report.error = report.error ?? errorChain(err);
    log.error('reconcile: cannot record the run', { run: runId, error: errorChain(err) });
  }

  const summary = {
    run: runId,
    found: report.found,
    filedNow: report.filedNow,
    rawChecked: report.raw.checked,
    rawMissing: report.raw.missing,
    rawMismatched: report.raw.mismatched,
    errors: report.errors,
  };
  if (alarming(report)) {
    log.error('reconcile: mail on the server had never been filed, or stored mail is damaged', summary);
    if (!config.firm.adminAddress) log.warn('reconcile: no admin address to tell (firm.adminAddress)', { run: runId });
  } else if (report.errors > 0) log.error('reconcile: not every folder could be compared', summary);
  else if (report.interrupted) log.warn('reconcile: stopped before it was done', summary);
  else log.info('reconcile: everything on the servers is filed and every stored raw mail matches its sha256', summary);
  return report;
}

function newFolder(source: string, folder: string, role: FolderRole): FolderReport {
  return { source, folder, role, uidvalidity: null, onServer: 0, known: 0, waiting: 0, notCompared: 0, found: [], filedNow: 0, error: null };
}

/** What the processor made of a found mail, from the database (another process may have filed it). */
function describeFiled(store: Store, m: FoundMail): void {
  const row = store.inbound(m.inboundId);
  if (!row) return;
  m.state = row.state;
  m.kind = row.kind;
  m.caseNumber = row.case_id !== null ? (store.caseById(row.case_id)?.number ?? null) : null;
}

/** Store never-stored mails with their found-event, in one transaction. */
function storeFound(
  run: Run,
  source: string,
  arrivals: readonly RawArrival[],
  describe: (a: RawArrival) => { where: string; detail: Record<string, unknown> },
): Array<{ arrival: RawArrival; id: number; created: boolean; where: string }> {
  const { store, clock, config } = run.deps;
  const now = toInstant(clock());
  return store.tx(() => {
    const results = storeArrivals(store, config.dataDir, source, arrivals, now);
    return results.map((r, i) => {
      const d = describe(arrivals[i]);
      if (r.created) {
        store.appendEvent({ at: now, inboundId: r.id, actor: 'system', type: FOUND_EVENT, detail: { run: run.runId, source, ...d.detail } });
      }
      return { arrival: arrivals[i], id: r.id, created: r.created, where: d.where };
    });
  });
}

function dropSpool(raw: Buffer | SpooledRaw): void {
  if (!Buffer.isBuffer(raw)) fs.rmSync(raw.tmpPath, { force: true });
}

// ---- IMAP ------------------------------------------------------------------------------

function imapClient(s: ImapSourceConfig, login: Login, log: Logger): ImapFlow {
  const client = new ImapFlow({
    ...mailboxConnection(s, login),
    // A short-lived connection that only lists and fetches: no IDLE between commands.
    disableAutoIdle: true,
    socketTimeout: 5 * 60_000,
  });
  client.on('error', (err: Error) => log.warn('reconcile: imap connection error', { source: s.name, error: errorChain(err) }));
  return client;
}

async function reconcileImapSource(run: Run, s: ImapSourceConfig): Promise<FolderReport[]> {
  // The processed and Sent folders first: a mail this run moves out of the watched folder then
  // lands in a folder already compared, instead of being fetched and hashed a second time.
  const folders: Array<{ folder: string; role: 'watched' | 'processed' | 'sent' }> = [
    ...(s.processedFolder ? [{ folder: s.processedFolder, role: 'processed' as const }] : []),
    ...(s.sentFolder ? [{ folder: s.sentFolder, role: 'sent' as const }] : []),
    { folder: s.mailbox, role: 'watched' as const },
  ];
  const reports = folders.map((f) => newFolder(s.name, f.folder, f.role));
  const credentials = run.deps.credentialsOf ? run.deps.credentialsOf(s) : credentialsFor(s);
  let client: ImapFlow | null = null;
  // Folders handled (compared, or failed with their own error); the rest share a connection failure.
  const handled = new Set<number>();
  const inboxName = (p: string): string => (p.toUpperCase() === 'INBOX' ? 'INBOX' : p);
  try {
    client = (await connectMailbox(credentials, (login) => imapClient(s, login, run.log))).client;
    const existing = new Set((await client.list()).map((m) => inboxName(m.path)));
    for (let i = 0; i < folders.length; i++) {
      const { folder, role } = folders[i];
      if (run.deps.signal?.aborted) break;
      if (!client.usable) throw new Error('the IMAP connection was lost');
      handled.add(i);
      if (!existing.has(inboxName(folder))) {
        // The source creates its processed folder when it first connects: not there yet, nothing in it.
        if (role !== 'processed') reports[i].error = `the folder ${folder} does not exist on the server`;
        continue;
      }
      try {
        await reconcileImapFolder(run, client, s, role, reports[i]);
      } catch (err) {
        reports[i].error = errorChain(err);
        run.log.error('reconcile: cannot compare a folder', { source: s.name, mailbox: folder, error: reports[i].error });
      }
    }
  } catch (err) {
    const error = errorChain(err);
    run.log.error('reconcile: cannot reach the IMAP server', { source: s.name, error });
    reports.forEach((r, i) => {
      if (!handled.has(i)) r.error = error;
    });
  } finally {
    const c = client as ImapFlow | null;
    if (c) await c.logout().catch(() => c.close());
  }
  return reports;
}

async function reconcileImapFolder(
  run: Run,
  client: ImapFlow,
  s: ImapSourceConfig,
  role: 'watched' | 'processed' | 'sent',
  report: FolderReport,
): Promise<void> {
  const { store } = run.deps;
  const folder = report.folder;
  // EXAMINE where we never change anything: no \Recent taken, no flag touched by accident.
  const lock = await client.getMailboxLock(folder, { readOnly: role !== 'watched' });
  try {
    const mailbox = client.mailbox;
    if (!mailbox) throw new Error(`mailbox ${folder} is not open`);
    const uidvalidity = String(mailbox.uidValidity);
    report.uidvalidity = uidvalidity;
    const storedUidsNow = (): Set<number> =>
      new Set(
        store.db
          .prepare('SELECT uid FROM inbound WHERE source = ? AND mailbox = ? AND uidvalidity = ? AND uid IS NOT NULL')
          .pluck()
          .all(s.name, folder, uidvalidity) as number[],
      );

    // The Sent folder can hold years of the shared mailbox's mail that is not ours to read:
    // list only from the first mail its source stored (or from its cursor when none yet).
    let from = 1;
    if (role === 'sent') {
      const cursor = store.cursor(s.name, folder);
      const first = minimum(storedUidsNow());
      from = cursor && cursor.uidvalidity === uidvalidity ? (first ?? cursor.last_uid + 1) : Number(mailbox.uidNext ?? 1);
    }
    const listing =
      mailbox.exists === 0 ? [] : await client.fetchAll(`${from}:*`, { uid: true, size: true, internalDate: true, headers: ['message-id'] }, { uid: true });
    // "N:*" also answers the highest message when its UID is below N (RFC 3501 §6.4.8): filter.
    const mails: ServerMail[] = listing
      .filter((m) => m.uid >= from)
      .map((m) => ({
        uid: m.uid,
        size: m.size ?? 0,
        messageId: messageIdFromHeaders(m.headers),
        internalDate: m.internalDate ? new Date(m.internalDate) : null,
      }));

    // The database is read after the listing: a source stores a mail before it moves or flags
    // it, so a mail listed here that the database does not know yet was really never stored.
    const cursor = role === 'processed' ? null : store.cursor(s.name, folder);
    const plan = planFolder(
      mails,
      { role, uidvalidity, cursor: cursor ? { uidvalidity: cursor.uidvalidity, lastUid: cursor.last_uid } : null, storedUids: storedUidsNow() },
      role === 'sent' ? (id, size) => run.sentMessageIdKnown(s.name, folder, id, size) : run.messageIdKnown,
    );
    // Only the Sent folder is listed in part; what it was not listed from is its history.
    const unlisted = role === 'sent' ? Math.max(0, mailbox.exists - mails.length) : 0;
    report.onServer = mails.length + unlisted;
    report.known = plan.known;
    report.waiting = plan.waiting;
    report.notCompared = plan.notCompared + unlisted;

    await fetchRaw(client, plan.toCheck, run.deps.config.dataDir, async (got) => {
      const fresh: RawArrival[] = [];
      for (const { mail, raw } of got) {
        if (run.shaKnown(Buffer.isBuffer(raw) ? sha256(raw) : raw.sha256)) {
          report.known++;
          dropSpool(raw);
          continue;
        }
        fresh.push({
          raw,
          receivedAt: mail.internalDate ?? run.deps.clock(),
          mailbox: folder,
          locator: String(mail.uid),
          sourceKey: `reconcile:${s.name}:${folder}:${uidvalidity}:${mail.uid}`,
          uidvalidity,
          uid: mail.uid,
        });
      }
      if (fresh.length === 0) return;
      const stored = storeFound(run, s.name, fresh, (a) => ({
        where: `UID ${a.uid}`,
        detail: { mailbox: folder, role, uidvalidity, uid: a.uid },
      }));
      for (const r of stored) {
        if (!r.created) {
          report.known++; // a concurrent run stored it a moment ago
          continue;
        }
        report.found.push({ where: r.where, inboundId: r.id, state: 'stored', kind: null, caseNumber: null });
        run.log.error('reconcile: a mail on the server had never been stored; stored it and filing it now', {
          run: run.runId,
          source: s.name,
          mailbox: folder,
          uid: r.arrival.uid ?? undefined,
          inbound: r.id,
        });
      }
      // Committed; now what the source would have done to it. Only the watched folder's mail is
      // marked: \Seen, then moved to the processed folder. If that fails, the source's own
      // recovery of unmarked mail (server_marked_at still null) does it on its next scan.
      if (role === 'watched') {
        const uids = stored.map((r) => r.arrival.uid!);
        const range = uidSet(uids);
        const marked =
          (await client.messageFlagsAdd(range, ['\\Seen'], { uid: true })) &&
          (!s.processedFolder || (await client.messageMove(range, s.processedFolder, { uid: true })) !== false);
        if (!marked) {
          run.log.warn('reconcile: the server refused to mark found mail; the source marks it on its next scan', { source: s.name, mailbox: folder });
          return;
        }
      }
      store.markServerDone(
        stored.map((r) => r.id),
        toInstant(run.deps.clock()),
      );
    });
  } finally {
    lock.release();
  }
}

/**
 * Fetch the bodies of `mails` in batches (as the source does: many small mails in one FETCH, a
 * large one alone, streamed into a spool file) and hand each batch to `onBatch`. A mail
 * expunged meanwhile is simply not handed on.
 */
async function fetchRaw(
  client: ImapFlow,
  mails: readonly ServerMail[],
  dataDir: string,
  onBatch: (got: Array<{ mail: ServerMail; raw: Buffer | SpooledRaw }>) => Promise<void>,
): Promise<void> {
  for (let i = 0; i < mails.length;) {
    const batch: ServerMail[] = [];
    let bytes = 0;
    if (mails[i].size > LARGE_MAIL_BYTES) batch.push(mails[i++]);
    else
      while (
        i < mails.length &&
        mails[i].size <= LARGE_MAIL_BYTES &&
        batch.length < FETCH_BATCH &&
        (batch.length === 0 || bytes + mails[i].size <= FETCH_BATCH_BYTES)
      ) {
        bytes += mails[i].size;
        batch.push(mails[i++]);
      }
    const got: Array<{ mail: ServerMail; raw: Buffer | SpooledRaw }> = [];
    if (batch.length === 1 && batch[0].size > LARGE_MAIL_BYTES) {
      const dl = await client.download(String(batch[0].uid), undefined, { uid: true });
      if (dl.content) got.push({ mail: batch[0], raw: await spoolRaw(dataDir, dl.content) });
    } else {
      const byUid = new Map(batch.map((m) => [m.uid, m]));
      for (const m of await client.fetchAll(uidSet([...byUid.keys()]), { uid: true, source: true }, { uid: true })) {
        const mail = byUid.get(m.uid);
        if (mail && m.source) got.push({ mail, raw: m.source });
      }
    }
    if (got.length > 0) await onBatch(got);
  }
}

// ---- Maildir ---------------------------------------------------------------------------

async function reconcileMaildir(run: Run, s: MaildirSourceConfig): Promise<FolderReport> {
  const report = newFolder(s.name, s.path, 'maildir');
  const { store, config } = run.deps;
  try {
    const files: MaildirFile[] = [];
    let dirs = 0;
    for (const sub of ['new', 'cur'] as const) {
      const dir = path.join(s.path, sub);
      let names: string[];
      try {
        names = fs.readdirSync(dir);
        dirs++;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw err;
      }
      for (const name of names.filter((n) => !n.startsWith('.')).sort()) {
        try {
          const st = fs.statSync(path.join(dir, name));
          if (st.isFile()) files.push({ sub, name, size: st.size, mtime: st.mtime });
        } catch {
          /* taken by the source meanwhile */
        }
      }
    }
    // The source creates the Maildir when it starts: none yet, nothing in it.
    if (dirs === 0) return report;
    report.onServer = files.length;
    const storedSizes = new Map<string, Set<number>>();
    for (const row of store.db
      .prepare('SELECT locator, size FROM inbound WHERE source = ? AND mailbox = ? AND locator IS NOT NULL')
      .all(s.name, s.path) as Array<{
      locator: string;
      size: number;
    }>) {
      let sizes = storedSizes.get(row.locator);
      if (!sizes) storedSizes.set(row.locator, (sizes = new Set()));
      sizes.add(row.size);
    }
    const plan = planMaildir(files, storedSizes);
    report.known = plan.known;
    report.waiting = plan.waiting;

    for (const f of plan.toCheck) {
      if (run.deps.signal?.aborted) break;
      const file = path.join(s.path, f.sub, f.name);
      let raw: Buffer | SpooledRaw;
      try {
        raw = f.size > LARGE_MAIL_BYTES ? await spoolRaw(config.dataDir, fs.createReadStream(file)) : fs.readFileSync(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // removed meanwhile
        throw err;
      }
      const hash = Buffer.isBuffer(raw) ? sha256(raw) : raw.sha256;
      if (run.shaKnown(hash)) {
        report.known++;
        dropSpool(raw);
        continue;
      }
      const locator = maildirLocator(f.name);
      const [r] = storeFound(
        run,
        s.name,
        [{ raw, receivedAt: f.mtime, mailbox: s.path, locator, sourceKey: `reconcile:${s.name}:${locator}:${hash.slice(0, 16)}` }],
        () => ({ where: f.name, detail: { mailbox: s.path, role: 'maildir', file: `${f.sub}/${f.name}` } }),
      );
      if (!r.created) {
        report.known++;
        continue;
      }
      // Already in cur/: nothing left to do on disk, the file stays where it is.
      store.markServerDone([r.id], toInstant(run.deps.clock()));
      report.found.push({ where: f.name, inboundId: r.id, state: 'stored', kind: null, caseNumber: null });
      run.log.error('reconcile: a mail in the Maildir had never been stored; stored it and filing it now', {
        run: run.runId,
        source: s.name,
        file: f.name,
        inbound: r.id,
      });
    }
  } catch (err) {
    report.error = errorChain(err);
    run.log.error('reconcile: cannot compare a Maildir', { source: s.name, error: report.error });
  }
  return report;
}

// ---- raw mail --------------------------------------------------------------------------

function hashFile(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = crypto.createHash('sha256');
    fs.createReadStream(file)
      .on('error', reject)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve(hash.digest('hex')));
  });
}

/**
 * Hash every stored raw mail again. Paged by sha256 (keyset), a few rows at a time, yielding to
 * the event loop between pages: the service's sources and sender keep running meanwhile.
 */
export async function verifyRawMail(store: Store, dataDir: string, signal?: AbortSignal): Promise<RawReport> {
  const report: RawReport = { checked: 0, missing: 0, mismatched: 0, damaged: [] };
  // Bytes that retention removed on purpose (raw_mail.removed_at, from migration 9: the row stays
  // as a tombstone with an empty blob) are not damage; older schemas have no such column.
  const columns = store.db.prepare("SELECT name FROM pragma_table_info('raw_mail')").pluck().all() as string[];
  const kept = columns.includes('removed_at') ? 'AND removed_at IS NULL' : '';
  const page = store.db.prepare(`SELECT sha256, bytes, path FROM raw_mail WHERE sha256 > ? ${kept} ORDER BY sha256 LIMIT ?`);
  const users = store.db.prepare('SELECT i.id, c.number FROM inbound i LEFT JOIN cases c ON c.id = i.case_id WHERE i.sha256 = ? ORDER BY i.id LIMIT 10');
  const damaged = (d: Omit<DamagedRaw, 'inboundIds' | 'cases'>): void => {
    if (d.problem === 'mismatch') report.mismatched++;
    else report.missing++;
    if (report.damaged.length >= DAMAGED_LISTED) return;
    const rows = users.all(d.sha256) as Array<{ id: number; number: string | null }>;
    report.damaged.push({ ...d, inboundIds: rows.map((r) => r.id), cases: [...new Set(rows.flatMap((r) => (r.number ? [r.number] : [])))] });
  };
  let after = '';
  for (;;) {
    if (signal?.aborted) break;
    const rows = page.all(after, VERIFY_PAGE) as Array<{ sha256: string; bytes: Buffer | null; path: string | null }>;
    if (rows.length === 0) break;
    for (const row of rows) {
      report.checked++;
      if (row.bytes) {
        const actual = sha256(row.bytes);
        if (actual !== row.sha256) damaged({ sha256: row.sha256, storedAs: 'database', path: null, problem: 'mismatch', detail: actual });
        continue;
      }
      const rel = row.path ?? '';
      try {
        const actual = await hashFile(path.join(dataDir, rel));
        if (actual !== row.sha256) damaged({ sha256: row.sha256, storedAs: 'file', path: rel, problem: 'mismatch', detail: actual });
      } catch (err) {
        const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
        damaged({ sha256: row.sha256, storedAs: 'file', path: rel, problem: missing ? 'missing' : 'unreadable', detail: missing ? null : errorChain(err) });
      }
    }
    after = rows[rows.length - 1].sha256;
    await yieldToEventLoop();
  }
  // Mails whose raw row is gone altogether (possible only with foreign keys off: a hand edit, a bad restore).
  for (const sha of store.db
    .prepare('SELECT DISTINCT i.sha256 FROM inbound i LEFT JOIN raw_mail r ON r.sha256 = i.sha256 WHERE r.sha256 IS NULL')
    .pluck()
    .all() as string[]) {
    report.checked++;
    damaged({ sha256: sha, storedAs: 'database', path: null, problem: 'missing', detail: 'no raw_mail row' });
  }
  return report;
}

// ---- for `klagomal status` -------------------------------------------------------------

export interface ReconcileRunSummary {
  readonly id: number;
  readonly trigger: string;
  readonly startedAt: Instant;
  /** Null while it runs, or when the process stopped during it. */
  readonly finishedAt: Instant | null;
  readonly ok: boolean;
  readonly found: number;
  readonly filedNow: number;
  readonly rawChecked: number;
  readonly rawMissing: number;
  readonly rawMismatched: number;
  readonly errors: number;
  /** The whole report (null when the run did not finish). */
  readonly report: ReconcileReport | null;
}

/** The latest reconciliation run, or null when there was none (or the schema predates them). */
export function lastReconcileRun(store: Store): ReconcileRunSummary | null {
  let row: { id: number; trigger: string; started_at: string; finished_at: string | null; result: string } | undefined;
  try {
    row = store.db.prepare('SELECT id, trigger, started_at, finished_at, result FROM reconcile_runs ORDER BY id DESC LIMIT 1').get() as typeof row;
  } catch (err) {
    if (/no such table/.test(String((err as Error).message))) return null;
    throw err;
  }
  if (!row) return null;
  const report = row.finished_at ? (JSON.parse(row.result) as ReconcileReport) : null;
  return {
    id: row.id,
    trigger: row.trigger,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    ok: report?.ok ?? false,
    found: report?.found ?? 0,
    filedNow: report?.filedNow ?? 0,
    rawChecked: report?.raw.checked ?? 0,
    rawMissing: report?.raw.missing ?? 0,
    rawMismatched: report?.raw.mismatched ?? 0,
    errors: report?.errors ?? 0,
    report,
  };
}
