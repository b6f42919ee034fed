/**
 * `restoreBackup`: a backup back into a data folder, and what makes the restored install safe
 * to run against the same mailbox and the same customers. A restored database is older than
 * the world: after the backup the lost install went on filing mail, numbering cases and
 * sending mail. None of that may happen twice.
 *
 *  1. The backup is verified first (verify.ts); a damaged one is refused, naming every problem.
 *  2. A folder that holds anything is refused unless `force`; then the database files there are
 *     kept beside it (`klagomal.db.before-restore-<time>`), never deleted.
 *  3. The database and every file are copied (hashed on the way), the database opened (migrated
 *     when the backup is from an older version), checked (`integrity_check`, the hash chains as
 *     `audit verify` does).
 *  4. In one transaction, with a `backup-restored` event: the restore marker (src/store/backup.ts
 *     RestoreMarker), which keeps anything from being filed until reconciliation has compared
 *     the mailboxes (src/reconcile/after-restore.ts reserves the gap's case numbers, then
 *     filing files mail of the gap quietly: src/cases/after-restore.ts); outgoing mail unsent in
 *     the backup held (it may have gone out after the backup: `outbox retry` sends it when a
 *     person has checked); the case-number sequences raised to the highest any manifest in the
 *     backup folder recorded (a newer backup than the one restored may have been taken) and
 *     past the case-number high-water mark (high-water.ts: every number the install may have
 *     handed out, reserved in a file on the backup disk before it was used); and
 *     the officers' notices of the gap (escalation warnings, the manager's digest) claimed as
 *     done, since the lost install may have sent them. A breach notice is not claimed: the
 *     breach must be recorded on the case, and its notice says it is late.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/config';
import type { DeadlineRule } from '../deadlines/rules';
import { calendarsFor } from '../deadlines/deadlines';
import { escalationLevels } from '../deadlines/escalation';
import { verifyAudit, AuditVerification } from '../audit/verify';
import { openDatabase } from '../store/db';
import { Store } from '../store/store';
import type { Clock } from '../util/clock';
import { toInstant } from '../util/clock';
import { addDays, isoDate, localDateOf, localTime } from '../util/stockholm-time';
import { ensureDir } from '../util/durable-file';
import { copyDurably } from './files';
import { highestCaseNumbers, Manifest, readManifest, stamp } from './manifest';
import { readHighWater } from './high-water';
import { verifyBackup } from './verify';

export interface RestoreOptions {
  readonly dir: string;
  readonly manifest?: string;
  /** The data folder to restore into. */
  readonly to: string;
  /** The database file (the config's `database` when `to` is its data folder). */
  readonly database: string;
  readonly force: boolean;
  /** Where the backup's template files go, if anywhere. */
  readonly templatesTo?: string;
  readonly config: Config;
  readonly clock: Clock;
  readonly progress?: (phase: string, done: number, total: number) => void;
}

export interface RestoreSummary {
  readonly manifest: string;
  readonly backupAt: string;
  readonly restoredAt: string;
  readonly to: string;
  readonly database: string;
  readonly files: number;
  readonly counts: Manifest['counts'];
  readonly integrity: readonly string[];
  readonly audit: Pick<AuditVerification, 'ok' | 'events' | 'chains' | 'head'> & { readonly problems: readonly string[] };
  /** Outgoing mail unsent in the backup, held for a person. */
  readonly held: ReadonlyArray<{ readonly id: number; readonly case: string | null; readonly kind: string }>;
  /** Case-number sequences raised past what the backup had, from newer manifests. */
  readonly sequencesRaised: ReadonlyArray<{ readonly prefix: string; readonly year: number; readonly last: number }>;
  readonly noticesClaimed: { readonly escalationLevels: number; readonly digestDays: readonly string[] };
  readonly movedAside: readonly string[];
  /** Files the database refers to that the backup could not hold (missing or damaged in the data folder when it was taken). */
  readonly notBackedUp: readonly string[];
}

/** The restore was refused: the backup is damaged, or the target is not empty. */
export class RestoreRefused extends Error {
  constructor(
    message: string,
    readonly problems: readonly string[] = [],
  ) {
    super(message);
  }
}

export async function restoreBackup(opts: RestoreOptions): Promise<RestoreSummary> {
  const progress = opts.progress ?? ((): void => undefined);
  const check = await verifyBackup(opts.dir, opts.manifest, (done, total) => progress('verify', done, total));
  // A file the data folder already lacked when the backup was taken does not make the backup
  // damaged: the rest is restored and the file listed (reconciliation reports it missing too).
  const damage = check.problems.filter((p) => !check.notBackedUp.includes(p));
  if (damage.length > 0 || !check.manifest)
    throw new RestoreRefused(`the backup ${check.manifest ?? opts.dir} does not verify; nothing was restored`, check.problems);
  const m = readManifest(opts.dir, check.manifest!);

  const now = opts.clock();
  const present = listing(opts.to);
  if (present.length > 0 && !opts.force)
    throw new RestoreRefused(
      `${opts.to} is not empty (${present.slice(0, 3).join(', ')}${present.length > 3 ? ', ...' : ''}): restore into an empty or new folder, or give --force (the database files there are kept beside it as *.before-restore-<time>)`,
    );
  ensureDir(opts.to);
  const movedAside: string[] = [];
  for (const suffix of ['', '-wal', '-shm', '-journal']) {
    const f = `${opts.database}${suffix}`;
    if (fs.existsSync(f)) {
      const aside = `${opts.database}.before-restore-${stamp(now)}${suffix}`;
      fs.renameSync(f, aside);
      movedAside.push(aside);
    }
  }

  // ---- copy: every file, hashed on the way; the database last, under its final name
  const data = m.files.filter((f) => f.kind === 'raw' || f.kind === 'attachment');
  for (let i = 0; i < data.length; i++) {
    await copyDurably(path.join(opts.dir, data[i].path), path.join(opts.to, data[i].path), data[i].sha256);
    if (i % 200 === 0 || i === data.length - 1) progress('files', i + 1, data.length);
  }
  if (opts.templatesTo)
    for (const t of m.files.filter((f) => f.kind === 'template' && f.name))
      await copyDurably(path.join(opts.dir, t.path), path.join(opts.templatesTo, t.name!), t.sha256);
  ensureDir(path.dirname(opts.database));
  await copyDurably(path.join(opts.dir, m.database.path), opts.database, m.database.sha256);
  progress('database', 1, 1);

  // ---- open (migrating an older schema), check, and record what follows from a restore
  const db = openDatabase(opts.database);
  try {
    const store = new Store(db);
    const integrity = store.integrityCheck();
    const audit = verifyAudit(store);
    const auditProblems = [
      ...audit.broken.map((b) => `${b.caseNumber ?? '(no case)'} event #${b.firstBreak.eventId}: ${b.firstBreak.kind}: ${b.firstBreak.message}`),
      ...audit.missingIds.map(([a, b]) => `event ids #${a}-#${b} missing`),
    ];
    const restoredAt = toInstant(now);
    const recorded = store.tx(() => record(store, opts.config, m, opts.dir, now, restoredAt));
    return {
      manifest: m.name,
      backupAt: m.createdAt,
      restoredAt,
      to: opts.to,
      database: opts.database,
      files: data.length + 1,
      counts: m.counts,
      integrity,
      audit: { ok: audit.ok, events: audit.events, chains: audit.chains, head: audit.head, problems: auditProblems },
      ...recorded,
      movedAside,
      notBackedUp: check.notBackedUp,
    };
  } finally {
    db.close();
  }
}

function record(
  store: Store,
  config: Config,
  m: Manifest,
  dir: string,
  now: Date,
  restoredAt: string,
): Pick<RestoreSummary, 'held' | 'sequencesRaised' | 'noticesClaimed'> {
  const firstEventId = store.nextEventId();
  store.setRestoreMarker({
    manifest: m.name,
    dir: path.resolve(dir),
    backupAt: m.createdAt,
    restoredAt,
    lastInboundId: m.lastInboundId,
    newestArrival: m.newestArrival,
    reconciledAt: null,
    firstEventId,
  });
  // The restored case-number sequences may be below a newer backup's: the highest any manifest
  // in the folder recorded is a floor kept outside the database.
  // So is the high-water mark the install kept in its backup folder (high-water.ts): the one
  // restored from, and backup.dir when that is another (the live mark, not a shipped copy).
  const floors = [...highestCaseNumbers(dir), ...readHighWater(dir), ...(config.backup.dir ? readHighWater(config.backup.dir) : [])];
  const raised = new Map<string, { prefix: string; year: number; last: number }>();
  for (const s of floors) if (store.raiseCaseNumberSequence(s.prefix, s.year, s.last)) raised.set(`${s.prefix}/${s.year}`, s);
  const sequencesRaised = [...raised.values()];
  const reason = `held by the restore of ${m.name} (taken ${m.createdAt}): it was not sent when the backup was taken and may have been sent since; check the mail server's log, then 'klagomal outbox retry ID' sends it`;
  const heldRows = store.holdUnsentOutbox(reason, restoredAt);
  const numbers = store.caseNumbers();
  for (const h of heldRows)
    store.appendEvent({
      at: restoredAt,
      caseId: h.caseId,
      outboxId: h.id,
      actor: 'operator',
      type: 'outbox-held-after-restore',
      fromState: h.status,
      toState: 'failed',
      detail: { manifest: m.name, kind: h.kind },
    });
  const noticesClaimed = claimNoticesOfTheGap(store, config, now);
  store.appendEvent({
    at: restoredAt,
    actor: 'operator',
    type: 'backup-restored',
    detail: {
      manifest: m.name,
      backupAt: m.createdAt,
      counts: m.counts,
      head: m.chains.head,
      held: heldRows.length,
      sequencesRaised,
      noticesClaimed: { escalationLevels: noticesClaimed.escalationLevels, digestDays: noticesClaimed.digestDays },
      nothingFiledUntil: 'a reconciliation has compared every mailbox (klagomal reconcile)',
    },
  });
  return {
    held: heldRows.map((h) => ({ id: h.id, case: h.caseId !== null ? (numbers.get(h.caseId) ?? null) : null, kind: h.kind })),
    sequencesRaised,
    noticesClaimed,
  };
}

/**
 * The officers' notices whose moment has come by the restore: the lost install may have sent
 * them after the backup, so each level of an open deadline due by now (but the breach) and the
 * manager's digest of each day up to today are claimed as done, and nothing of the gap is sent
 * twice. What the lost install did not send is lost with it; the breach (recorded on the case,
 * its notice marked late) and the next levels and digests come as usual.
 */
function claimNoticesOfTheGap(store: Store, config: Config, now: Date): { escalationLevels: number; digestDays: string[] } {
  const at = toInstant(now);
  const cfg = config.deadlines.escalation;
  const calendar = calendarsFor(config.deadlines).firm;
  let levels = 0;
  for (const d of store.deadlinesEscalatingBy(at)) {
    const rule = JSON.parse(d.rule) as DeadlineRule;
    for (const l of escalationLevels(new Date(d.due_at), rule.unit, cfg, calendar)) {
      if (l.level === 'breach' || l.at.getTime() > now.getTime()) continue;
      if (store.claimEscalation(d.case_id, d.milestone, l.level, d.due_at, toInstant(l.at), at, 'skipped')) levels++;
    }
  }
  const digestDays: string[] = [];
  if (cfg.digestTime) {
    const [h, min] = cfg.digestTime.split(':').map(Number);
    // The last week is enough: a digest older than that is no longer news to anyone.
    for (let day = addDays(localDateOf(now), -7); ; day = addDays(day, 1)) {
      if (localTime(day, h, min, 0).getTime() > now.getTime()) break;
      if (store.claimDigest(isoDate(day), at, false)) digestDays.push(isoDate(day));
    }
  }
  return { escalationLevels: levels, digestDays };
}

/** The names in a folder (none when it does not exist). */
function listing(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}
