/**
 * Retention: personal data kept no longer than needed (GDPR art. 5(1)(e)).
 *
 * A closed case whose last closing is older than `retention.closedCaseYears` (default 10, the
 * general limitation period) is anonymised by `runRetention` (`klagomal retention run`, and on
 * `retention.schedule` in the service). A case on legal hold (./legal-hold.ts) is skipped and
 * listed. `retention.rawMailDays`, when set, removes only the raw mails of closed cases earlier.
 *
 * What goes and what stays, field by field (statistics and the register must still hold):
 *
 *   cases       customer_address, customer_name, subject, subject_key, personnummer -> NULL
 *               fields: kept category, categoryMatched, incidentDate, descriptionWords,
 *               compensationAsked, amountsSek, fromForm, missing, customerAddressSource,
 *               fromStaff; references keep their type and lose their value (an account or
 *               invoice number points at a person); everything else (contactName, email,
 *               phones, postalAddress, incidentDateText, compensationReason,
 *               personnummerMasked, and any key added later) is dropped: an allow-list, so a
 *               new field is removed until someone decides to keep it.
 *               kept: number, status, category, language, dates, outcome, decided_by,
 *               compensation_sek, assessment, contact_officer, relations, deadlines, escalations
 *   messages    addresses, names, subject, text, quoted text, problems -> blank; kept: kind,
 *               dates, language, Message-ID and threading ids (dedupe and threading need them)
 *   attachments rows deleted; the file deleted when no remaining row points at it
 *   raw mail    bytes (or the file of a large mail) removed once every inbound row that points
 *               at them is done with them (raw_removed_at); the row keeps sha256 and size, and
 *               gets removed_at, so the register and reconciliation know the mail existed
 *   inbound     kept (source, folder, UID, received, sha256, size, kind); anonymised_at set
 *   outbox      subject, text, html, transport responses -> blank; to_address blank unless it
 *               is a configured officer; kept: kind, template and version, dates, status
 *   events      details replaced by {"anonymised":true} through the hash chain
 *               (src/audit/chain.ts), so `audit verify` still passes; then one
 *               `retention-anonymised` event with the run and the counts
 *   quarantine  the error text of the case's mails -> a fixed text
 *   address_status  the customer's row, when no case kept in full has that address
 *
 * Which mails are the case's: inbound rows filed on the case, rows without a case that the
 * case's events name (a bounce of its acknowledgement) unless a case kept in full names them
 * too, and duplicates of those without a case. Mails on no case at all (auto-replies, lists,
 * bounces of nothing) are anonymised the same way once their receipt is older than the case
 * period, unless a case kept in full names them; quarantined mail waits for an operator.
 *
 * Every run is a `retention_runs` row (dry runs too) with the case numbers and counts, never
 * personal data. Each case is anonymised in its own transaction, which checks again that the
 * case is closed, not held and not done; a crash loses at most the case in flight, and the next
 * run goes on. Files are recorded in `retention_pending_files` in that transaction and deleted
 * after it (see flushPendingFiles), so a crash never leaves an unreferenced personal file
 * behind. Running twice changes nothing the second time.
 *
 * Security notes: the database runs with secure_delete during a run (freed pages are zeroed)
 * and the WAL is checkpointed at the end; backups keep what they hold until they expire. Logs
 * name case numbers and counts only.
 */
import fs from 'node:fs';
import path from 'node:path';
import cron from 'node-cron';
import type { Config } from '../config/config';
import type { Store } from '../store/store';
import type { Logger } from '../util/log';
import { errorChain, silentLogger } from '../util/log';
import type { Clock, Instant } from '../util/clock';
import { toInstant } from '../util/clock';
import { anonymiseEventDetails } from '../audit/chain';
import { TIME_ZONE } from '../util/stockholm-time';

export type RetentionTrigger = 'command' | 'schedule';

export interface RetentionDeps {
  readonly store: Store;
  readonly config: Config;
  readonly log?: Logger;
}

export interface RetentionOptions {
  readonly now: Date;
  /** Record what would be done, change nothing (default false). */
  readonly dryRun?: boolean;
  readonly trigger: RetentionTrigger;
  /** The service stopping: the run ends after the case in hand (each case commits on its own); the next run does the rest. */
  readonly signal?: AbortSignal;
}

export interface AnonymisedCase {
  readonly number: string;
  readonly closedAt: Instant;
  readonly mails: number;
  readonly attachments: number;
  readonly rawRemoved: number;
  readonly outbox: number;
  readonly events: number;
}

export interface RawOnlyCase {
  readonly number: string;
  readonly closedAt: Instant;
  readonly mails: number;
  readonly rawRemoved: number;
}

export interface RetentionResult {
  readonly runId: number;
  readonly dryRun: boolean;
  readonly trigger: RetentionTrigger;
  readonly startedAt: Instant;
  readonly finishedAt: Instant;
  readonly closedCaseYears: number;
  readonly rawMailDays: number | null;
  /** Cases closed at or before this instant are anonymised. */
  readonly closedBefore: Instant;
  /** Cases closed at or before this instant lose their raw mails (null: no raw-only period). */
  readonly rawClosedBefore: Instant | null;
  readonly anonymised: readonly AnonymisedCase[];
  readonly rawOnly: readonly RawOnlyCase[];
  /** Mails on no case anonymised (their receipt older than the case period). */
  readonly mailsOnNoCase: number;
  /** Cases due for anonymisation or raw removal but on legal hold. */
  readonly skippedHeld: ReadonlyArray<{ number: string; closedAt: Instant; heldAt: Instant }>;
  readonly failed: ReadonlyArray<{ number: string; error: string }>;
  /** Raw mails whose bytes were removed (in a dry run: would be, counting each case alone). */
  readonly rawRemoved: number;
  /** Files deleted from the data folder (attachments, large raw mails). */
  readonly filesRemoved: number;
  /** Files left for the next run because mail was being filed meanwhile. */
  readonly filesDeferred: number;
}

/** The keys of a case's fields that hold no personal data (see the header). */
export const KEPT_FIELDS: readonly string[] = [
  'category',
  'categoryMatched',
  'incidentDate',
  'descriptionWords',
  'compensationAsked',
  'amountsSek',
  'fromForm',
  'missing',
  'customerAddressSource',
  'fromStaff',
];

/** The error text left in quarantine rows of an anonymised case's mails. */
const QUARANTINE_REMOVED = '(removed by retention)';

/** Pure: a case's fields with only what statistics need (see the header). */
export function anonymisedFields(fieldsJson: string): Record<string, unknown> {
  let fields: Record<string, unknown>;
  try {
    fields = JSON.parse(fieldsJson) as Record<string, unknown>;
  } catch {
    return {};
  }
  const out: Record<string, unknown> = {};
  for (const k of KEPT_FIELDS) if (k in fields) out[k] = fields[k];
  if (Array.isArray(fields.references))
    out.references = fields.references.map((r) => ({ type: typeof (r as { type?: unknown })?.type === 'string' ? (r as { type: string }).type : 'unknown' }));
  return out;
}

/** Pure: `now` minus whole years (29 February falls back to 28 February). */
export function yearsBefore(now: Date, years: number): Date {
  const d = new Date(now.getTime());
  const month = d.getUTCMonth();
  d.setUTCFullYear(d.getUTCFullYear() - years);
  if (d.getUTCMonth() !== month) d.setUTCDate(0); // rolled into March: the last day of February
  return d;
}

interface Candidate {
  id: number;
  number: string;
  closed_at: Instant | null;
  updated_at: Instant;
  hold_reason: string | null;
  held_at: Instant | null;
}

/** Closed cases not yet anonymised, with their last closing (from the events). */
function closedCases(store: Store): Array<Candidate & { closedAt: Instant }> {
  const rows = store.db
    .prepare(
      `SELECT c.id, c.number, c.updated_at, c.hold_reason, c.held_at,
         (SELECT MAX(e.at) FROM events e WHERE e.case_id = c.id AND e.type = 'status-changed' AND e.to_state = 'closed') AS closed_at
       FROM cases c WHERE c.status = 'closed' AND c.anonymised_at IS NULL ORDER BY c.id`,
    )
    .all() as Candidate[];
  // A case closed without a status-changed event (written by hand): its last change stands in.
  return rows.map((r) => ({ ...r, closedAt: r.closed_at ?? r.updated_at }));
}

/** The inbound mails that are a case's (see the header). */
export function mailsOfCase(store: Store, caseId: number): number[] {
  const db = store.db;
  const ids = new Set<number>((db.prepare('SELECT id FROM inbound WHERE case_id = ?').all(caseId) as { id: number }[]).map((r) => r.id));
  const named = db
    .prepare(
      `SELECT DISTINCT e.inbound_id AS id FROM events e JOIN inbound i ON i.id = e.inbound_id
       WHERE e.case_id = ? AND i.case_id IS NULL
         AND NOT EXISTS (SELECT 1 FROM events o JOIN cases oc ON oc.id = o.case_id
                         WHERE o.inbound_id = i.id AND o.case_id != ? AND oc.anonymised_at IS NULL)`,
    )
    .all(caseId, caseId) as { id: number }[];
  for (const r of named) ids.add(r.id);
  const dup = db.prepare('SELECT id FROM inbound WHERE duplicate_of = ? AND case_id IS NULL');
  for (const id of [...ids]) for (const r of dup.all(id) as { id: number }[]) ids.add(r.id);
  return [...ids].sort((a, b) => a - b);
}

function placeholders(n: number): string {
  return new Array(n).fill('?').join(', ');
}

/**
 * Mark the given inbound mails as done with their raw bytes, and remove the bytes of every raw
 * mail no other inbound row still needs. Returns the number removed. Inside a transaction.
 */
function removeRaw(store: Store, inboundIds: readonly number[], runId: number, at: Instant): number {
  if (inboundIds.length === 0) return 0;
  const db = store.db;
  db.prepare(`UPDATE inbound SET raw_removed_at = ? WHERE raw_removed_at IS NULL AND id IN (${placeholders(inboundIds.length)})`).run(at, ...inboundIds);
  const shas = (
    db.prepare(`SELECT DISTINCT sha256 FROM inbound WHERE id IN (${placeholders(inboundIds.length)})`).all(...inboundIds) as { sha256: string }[]
  ).map((r) => r.sha256);
  let removed = 0;
  for (const sha of shas) {
    if (db.prepare('SELECT 1 FROM inbound WHERE sha256 = ? AND raw_removed_at IS NULL').get(sha)) continue; // still needed elsewhere
    const raw = db.prepare('SELECT path FROM raw_mail WHERE sha256 = ? AND removed_at IS NULL').get(sha) as { path: string | null } | undefined;
    if (!raw) continue;
    db.prepare("UPDATE raw_mail SET bytes = X'', path = NULL, removed_at = ? WHERE sha256 = ?").run(at, sha);
    if (raw.path) queueFile(store, raw.path, 'raw', sha, runId, at);
    removed++;
  }
  return removed;
}

/** How many raw mails removeRaw would remove (dry run; each case counted alone). */
function countRawRemovable(store: Store, inboundIds: readonly number[]): number {
  if (inboundIds.length === 0) return 0;
  const list = placeholders(inboundIds.length);
  const row = store.db
    .prepare(
      `SELECT COUNT(*) AS n FROM raw_mail r WHERE r.removed_at IS NULL
         AND r.sha256 IN (SELECT sha256 FROM inbound WHERE id IN (${list}) AND raw_removed_at IS NULL)
         AND NOT EXISTS (SELECT 1 FROM inbound i WHERE i.sha256 = r.sha256 AND i.raw_removed_at IS NULL AND i.id NOT IN (${list}))`,
    )
    .get(...inboundIds, ...inboundIds) as { n: number };
  return row.n;
}

function queueFile(store: Store, relPath: string, kind: 'attachment' | 'raw', sha256: string, runId: number, at: Instant): void {
  store.db
    .prepare('INSERT OR IGNORE INTO retention_pending_files (path, kind, sha256, run_id, queued_at) VALUES (?, ?, ?, ?, ?)')
    .run(relPath, kind, sha256, runId, at);
}

/**
 * Delete the files whose rows retention removed, if nothing references them again. Runs in
 * one transaction, which holds the write lock: no mail can be stored meanwhile. While a stored
 * mail waits to be filed (its parse may already have found one of these files in place, being
 * the same content, and will point at it when it is filed) nothing is deleted: the files stay
 * listed for the next run.
 */
export function flushPendingFiles(store: Store, dataDir: string): { removed: number; deferred: number } {
  return store.tx(() => {
    const db = store.db;
    const pending = db.prepare('SELECT path, kind, sha256 FROM retention_pending_files ORDER BY path').all() as Array<{
      path: string;
      kind: 'attachment' | 'raw';
      sha256: string;
    }>;
    if (pending.length === 0) return { removed: 0, deferred: 0 };
    if (db.prepare("SELECT 1 FROM inbound WHERE state = 'stored' LIMIT 1").get()) return { removed: 0, deferred: pending.length };
    const root = path.resolve(dataDir);
    let removed = 0;
    for (const f of pending) {
      const referenced =
        f.kind === 'attachment'
          ? db.prepare('SELECT 1 FROM attachments WHERE path = ?').get(f.path)
          : db.prepare('SELECT 1 FROM raw_mail WHERE sha256 = ? AND removed_at IS NULL').get(f.sha256);
      const abs = path.resolve(root, f.path);
      // Only files inside the data folder, whatever a row says.
      if (!referenced && abs.startsWith(root + path.sep) && fs.existsSync(abs)) {
        fs.rmSync(abs, { force: true });
        removed++;
      }
      db.prepare('DELETE FROM retention_pending_files WHERE path = ?').run(f.path);
    }
    return { removed, deferred: 0 };
  });
}

interface CaseWork {
  mails: number;
  attachments: number;
  rawRemoved: number;
  outbox: number;
  events: number;
}

/** Count what anonymising a case would change (dry run). */
function planCase(store: Store, caseId: number): CaseWork {
  const db = store.db;
  const inbound = mailsOfCase(store, caseId);
  const list = placeholders(inbound.length);
  const count = (sql: string, ...args: unknown[]): number => (db.prepare(sql).get(...args) as { n: number }).n;
  return {
    mails: inbound.length ? count(`SELECT COUNT(*) AS n FROM messages WHERE inbound_id IN (${list})`, ...inbound) : 0,
    attachments: inbound.length
      ? count(`SELECT COUNT(*) AS n FROM attachments WHERE message_row IN (SELECT id FROM messages WHERE inbound_id IN (${list}))`, ...inbound)
      : 0,
    rawRemoved: countRawRemovable(store, inbound),
    outbox: count('SELECT COUNT(*) AS n FROM outbox WHERE case_id = ?', caseId),
    events: count('SELECT COUNT(*) AS n FROM events WHERE case_id = ?', caseId),
  };
}

/** Is the case still due: closed, not held, not anonymised? (Checked again inside its transaction.) */
function stillDue(store: Store, caseId: number): { customer_address: string | null; fields: string } | null {
  return (
    (store.db
      .prepare("SELECT customer_address, fields FROM cases WHERE id = ? AND status = 'closed' AND hold_reason IS NULL AND anonymised_at IS NULL")
      .get(caseId) as { customer_address: string | null; fields: string } | undefined) ?? null
  );
}

/**
 * Blank the parsed text and addresses of inbound mails, delete their attachment rows (files
 * queued), and remove their raw bytes where no other mail needs them. Inside a transaction.
 */
function anonymiseMails(store: Store, inbound: readonly number[], runId: number, at: Instant): { mails: number; attachments: number; rawRemoved: number } {
  if (inbound.length === 0) return { mails: 0, attachments: 0, rawRemoved: 0 };
  const db = store.db;
  const list = placeholders(inbound.length);
  const files = db
    .prepare(`SELECT DISTINCT path, sha256 FROM attachments WHERE message_row IN (SELECT id FROM messages WHERE inbound_id IN (${list}))`)
    .all(...inbound) as Array<{ path: string; sha256: string }>;
  const attachments = db
    .prepare(`DELETE FROM attachments WHERE message_row IN (SELECT id FROM messages WHERE inbound_id IN (${list}))`)
    .run(...inbound).changes;
  for (const f of files) queueFile(store, f.path, 'attachment', f.sha256, runId, at);
  const mails = db
    .prepare(
      `UPDATE messages SET from_address = NULL, from_name = NULL, reply_to = NULL, to_addresses = '[]', cc_addresses = '[]', subject = NULL,
         body_text = NULL, new_text = NULL, quoted_text = NULL, problems = '[]' WHERE inbound_id IN (${list})`,
    )
    .run(...inbound).changes;
  db.prepare(`UPDATE inbound SET anonymised_at = ? WHERE anonymised_at IS NULL AND id IN (${list})`).run(at, ...inbound);
  db.prepare(`UPDATE quarantine SET error = ? WHERE inbound_id IN (${list})`).run(QUARANTINE_REMOVED, ...inbound);
  return { mails, attachments, rawRemoved: removeRaw(store, inbound, runId, at) };
}

/**
 * Mails on no case (auto-replies, bounces, lists, duplicates) received before `before`, that no
 * case kept in full names or is the original of: they have no closing, so their receipt counts.
 * Mail still waiting to be filed, and quarantined mail an operator has not dealt with, stay.
 */
function looseMailsDue(store: Store, before: Instant, among: readonly number[] | null = null): number[] {
  if (among !== null && among.length === 0) return [];
  return (
    store.db
      .prepare(
        `SELECT i.id FROM inbound i
         WHERE i.case_id IS NULL AND i.anonymised_at IS NULL AND i.state = 'filed' AND i.received_at <= ?
           ${among === null ? '' : `AND i.id IN (${placeholders(among.length)})`}
           AND NOT EXISTS (SELECT 1 FROM events e JOIN cases c ON c.id = e.case_id WHERE e.inbound_id = i.id AND c.anonymised_at IS NULL)
           AND NOT EXISTS (SELECT 1 FROM inbound o JOIN cases c ON c.id = o.case_id WHERE o.id = i.duplicate_of AND c.anonymised_at IS NULL)
         ORDER BY i.id`,
      )
      .all(before, ...(among ?? [])) as { id: number }[]
  ).map((r) => r.id);
}

/** Anonymise one case (see the header). Inside a transaction; null when the case is no longer due. */
function anonymiseCase(store: Store, config: Config, caseId: number, runId: number, at: Instant): CaseWork | null {
  const db = store.db;
  const c = stillDue(store, caseId);
  if (!c) return null;
  const inbound = mailsOfCase(store, caseId);

  db.prepare(
    `UPDATE cases SET customer_address = NULL, customer_name = NULL, subject = NULL, subject_key = NULL, personnummer = NULL,
       fields = ?, anonymised_at = ?, anonymised_by_run = ? WHERE id = ?`,
  ).run(JSON.stringify(anonymisedFields(c.fields)), at, runId, caseId);

  const { mails, attachments, rawRemoved } = anonymiseMails(store, inbound, runId, at);

  // Mail we sent: the text goes; that it was sent, when, from which template version, stays.
  // Officers' addresses stay (who was told is the firm's record, not the customer's data).
  const officers = config.officers.map((o) => o.address.toLowerCase());
  const outboxIds = (db.prepare('SELECT id FROM outbox WHERE case_id = ?').all(caseId) as { id: number }[]).map((r) => r.id);
  if (outboxIds.length) {
    const olist = placeholders(outboxIds.length);
    db.prepare(
      `UPDATE outbox SET subject = '', body_text = '', body_html = NULL, transport_response = NULL,
         last_error = CASE WHEN status IN ('queued','sending') THEN 'removed by retention before it was sent' ELSE NULL END,
         status = CASE WHEN status IN ('queued','sending') THEN 'failed' ELSE status END,
         to_address = CASE WHEN lower(to_address) IN (SELECT value FROM json_each(?)) THEN to_address ELSE '' END
       WHERE id IN (${olist})`,
    ).run(JSON.stringify(officers), ...outboxIds);
    db.prepare(`UPDATE outbox_attempts SET response = NULL WHERE outbox_id IN (${olist})`).run(...outboxIds);
  }
  if (c.customer_address) {
    db.prepare(
      `DELETE FROM address_status WHERE address = ? AND NOT EXISTS (SELECT 1 FROM cases WHERE customer_address = address AND anonymised_at IS NULL)`,
    ).run(c.customer_address);
  }

  const events = anonymiseEventDetails(store, caseId, runId, at);
  const work: CaseWork = { mails, attachments, rawRemoved, outbox: outboxIds.length, events };
  store.appendEvent({ at, caseId, actor: 'retention', type: 'retention-anonymised', detail: { run: runId, ...work } });
  return work;
}

/** Remove only the raw mails of a case (the raw-only period). Inside a transaction; null when not due or nothing left. */
function removeCaseRaw(store: Store, caseId: number, runId: number, at: Instant): { mails: number; rawRemoved: number } | null {
  if (!stillDue(store, caseId)) return null;
  const inbound = mailsOfCase(store, caseId);
  if (inbound.length === 0) return null;
  const left = (
    store.db.prepare(`SELECT id FROM inbound WHERE raw_removed_at IS NULL AND id IN (${placeholders(inbound.length)})`).all(...inbound) as { id: number }[]
  ).map((r) => r.id);
  if (left.length === 0) return null;
  const rawRemoved = removeRaw(store, left, runId, at);
  store.appendEvent({ at, caseId, actor: 'retention', type: 'retention-raw-removed', detail: { run: runId, mails: left.length, rawRemoved } });
  return { mails: left.length, rawRemoved };
}

/** Raw mails of the case not yet marked done (dry run of removeCaseRaw). */
function planCaseRaw(store: Store, caseId: number): { mails: number; rawRemoved: number } | null {
  const inbound = mailsOfCase(store, caseId);
  if (inbound.length === 0) return null;
  const left = (
    store.db.prepare(`SELECT id FROM inbound WHERE raw_removed_at IS NULL AND id IN (${placeholders(inbound.length)})`).all(...inbound) as { id: number }[]
  ).map((r) => r.id);
  return left.length ? { mails: left.length, rawRemoved: countRawRemovable(store, left) } : null;
}

/** Mails on no case anonymised per transaction. */
const LOOSE_BATCH = 200;

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * One retention run as of `now`. Records the run (also a dry run) and returns what it did.
 * Yields to the event loop between cases, so that the service keeps filing mail meanwhile.
 */
export async function runRetention(deps: RetentionDeps, opts: RetentionOptions): Promise<RetentionResult> {
  const { store, config } = deps;
  const log = deps.log ?? silentLogger;
  const dryRun = opts.dryRun ?? false;
  const startedAt = toInstant(opts.now);
  const startedMs = performance.now(); // the run's instant is `now`; its duration is measured
  const { closedCaseYears, rawMailDays } = config.retention;
  const closedBefore = yearsBefore(opts.now, closedCaseYears);
  const rawClosedBefore = rawMailDays !== null ? new Date(opts.now.getTime() - rawMailDays * 86_400_000) : null;

  // The run is on record before it changes anything: events it anonymises name it.
  const runId = store.tx(() =>
    Number(
      store.db.prepare('INSERT INTO retention_runs (started_at, trigger, dry_run) VALUES (?, ?, ?)').run(startedAt, opts.trigger, dryRun ? 1 : 0)
        .lastInsertRowid,
    ),
  );

  const secureDelete = store.db.pragma('secure_delete', { simple: true }) as number;
  if (!dryRun) store.db.pragma('secure_delete = ON');
  let filesRemoved = 0;
  let filesDeferred = 0;
  const anonymised: AnonymisedCase[] = [];
  const rawOnly: RawOnlyCase[] = [];
  const skippedHeld: Array<{ number: string; closedAt: Instant; heldAt: Instant }> = [];
  const failed: Array<{ number: string; error: string }> = [];
  let mailsOnNoCase = 0;
  let looseRaw = 0;
  try {
    // Files left by an earlier run that stopped between its commit and the deletion.
    if (!dryRun) filesRemoved += flushPendingFiles(store, config.dataDir).removed;

    for (const c of closedCases(store)) {
      if (opts.signal?.aborted) break;
      const closed = new Date(c.closedAt).getTime();
      const full = closed <= closedBefore.getTime();
      const rawDue = !full && rawClosedBefore !== null && closed <= rawClosedBefore.getTime();
      if (!full && !rawDue) continue;
      if (c.hold_reason) {
        skippedHeld.push({ number: c.number, closedAt: c.closedAt, heldAt: c.held_at ?? '' });
        continue;
      }
      try {
        if (full) {
          const work = dryRun ? planCase(store, c.id) : store.tx(() => anonymiseCase(store, config, c.id, runId, startedAt));
          if (work) anonymised.push({ number: c.number, closedAt: c.closedAt, ...work });
        } else {
          const work = dryRun ? planCaseRaw(store, c.id) : store.tx(() => removeCaseRaw(store, c.id, runId, startedAt));
          if (work) rawOnly.push({ number: c.number, closedAt: c.closedAt, ...work });
        }
      } catch (err) {
        // One case that cannot be done must not stop the others; the run records it.
        failed.push({ number: c.number, error: errorChain(err) });
        log.error('retention: a case could not be anonymised; it is tried again on the next run', { case: c.number, error: errorChain(err) });
      }
      await yieldToLoop();
    }

    // Mails on no case, in batches (each its own transaction).
    const loose = looseMailsDue(store, toInstant(closedBefore));
    for (let i = 0; i < loose.length && !opts.signal?.aborted; i += LOOSE_BATCH) {
      const batch = loose.slice(i, i + LOOSE_BATCH);
      try {
        if (dryRun) {
          mailsOnNoCase += batch.length;
          looseRaw += countRawRemovable(store, batch);
        } else {
          // Checked again inside the transaction: a case may have named one of them meanwhile.
          const work = store.tx(() => anonymiseMails(store, looseMailsDue(store, toInstant(closedBefore), batch), runId, startedAt));
          mailsOnNoCase += work.mails;
          looseRaw += work.rawRemoved;
        }
      } catch (err) {
        failed.push({ number: `mails ${batch[0]}-${batch[batch.length - 1]} on no case`, error: errorChain(err) });
        log.error('retention: mails on no case could not be anonymised; tried again on the next run', { error: errorChain(err) });
      }
      await yieldToLoop();
    }

    if (!dryRun) {
      const flushed = flushPendingFiles(store, config.dataDir);
      filesRemoved += flushed.removed;
      filesDeferred = flushed.deferred;
    }
  } finally {
    if (!dryRun) store.db.pragma(`secure_delete = ${Number(secureDelete)}`); // 0, 1 or 2 (FAST), as it was
  }

  const rawRemoved = anonymised.reduce((n, c) => n + c.rawRemoved, 0) + rawOnly.reduce((n, c) => n + c.rawRemoved, 0) + looseRaw;
  const finishedAt = toInstant(new Date(opts.now.getTime() + Math.round(performance.now() - startedMs)));
  const result: RetentionResult = {
    runId,
    dryRun,
    trigger: opts.trigger,
    startedAt,
    finishedAt,
    closedCaseYears,
    rawMailDays,
    closedBefore: toInstant(closedBefore),
    rawClosedBefore: rawClosedBefore ? toInstant(rawClosedBefore) : null,
    anonymised,
    rawOnly,
    mailsOnNoCase,
    skippedHeld,
    failed,
    rawRemoved,
    filesRemoved,
    filesDeferred,
  };
  store.tx(() =>
    store.db
      .prepare('UPDATE retention_runs SET finished_at = ?, cases_anonymised = ?, raw_removed = ?, result = ? WHERE id = ?')
      .run(finishedAt, anonymised.length, rawRemoved, JSON.stringify(result), runId),
  );
  if (!dryRun && (anonymised.length > 0 || rawRemoved > 0 || mailsOnNoCase > 0)) {
    // The old page images of what was removed may still sit in the WAL: write them home (zeroed).
    try {
      store.db.pragma('wal_checkpoint(TRUNCATE)');
    } catch {
      /* readers in another process: the next checkpoint does it */
    }
  }
  log.info('retention run', {
    run: runId,
    dryRun,
    trigger: opts.trigger,
    anonymised: anonymised.length,
    rawOnly: rawOnly.length,
    mailsOnNoCase,
    rawRemoved,
    heldSkipped: skippedHeld.length,
    failed: failed.length,
    filesRemoved,
    filesDeferred: filesDeferred || undefined,
  });
  return result;
}

/** A recorded run, as `klagomal retention runs` lists it. */
export interface RetentionRunRow {
  id: number;
  started_at: Instant;
  finished_at: Instant | null;
  trigger: string;
  dry_run: number;
  cases_anonymised: number;
  raw_removed: number;
  result: string;
}

export function retentionRuns(store: Store, limit = 50): RetentionRunRow[] {
  return store.db.prepare('SELECT * FROM retention_runs ORDER BY id DESC LIMIT ?').all(limit) as RetentionRunRow[];
}

/** The service's nightly retention: stop() ends the schedule and waits for a run in progress. */
export interface RetentionSchedule {
  stop(): Promise<void>;
}

/**
 * The scheduled run in the service (`klagomal start`): on `retention.schedule` (Stockholm
 * time), never two at once. Returns null when no schedule is configured. A run in progress
 * when the signal aborts ends after its current case (each case commits on its own).
 *
 * There is no catch-up run at start: a missed night only delays anonymisation by a day, and
 * the next run does everything that is due.
 */
export function startRetentionSchedule(deps: RetentionDeps & { readonly log: Logger; readonly clock: Clock }, signal: AbortSignal): RetentionSchedule | null {
  const schedule = deps.config.retention.schedule;
  if (schedule === null) return null;
  let running: Promise<void> = Promise.resolve();
  const task = cron.schedule(
    schedule,
    () => {
      running = runRetention(deps, { now: deps.clock(), trigger: 'schedule', signal }).then(
        () => undefined,
        (err) => deps.log.error('retention run failed; the next scheduled run tries again', { error: errorChain(err) }),
      );
      return running;
    },
    { timezone: TIME_ZONE, noOverlap: true, name: 'retention' },
  );
  signal.addEventListener('abort', () => void task.stop(), { once: true });
  return {
    async stop() {
      await task.destroy();
      await running;
    },
  };
}
