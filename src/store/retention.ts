/**
 * Retention's SQL (src/retention/): the closed cases it considers, which mails are a case's,
 * blanking a case's personal data row by row, the raw mails and files it removes (queued in
 * retention_pending_files until the transaction that freed them commits), the record of every
 * run, and the legal hold on a case (src/retention/legal-hold.ts).
 *
 * Every method runs in the caller's transaction: retention anonymises each case in one
 * `store.tx`, which checks again that the case is due (caseDueForAnonymisation).
 *
 * Statements whose text depends on the length of a list of ids (`IN (?, ?, ...)`) are prepared
 * on each call, as they always were: cached, there would be one per list length, without bound.
 */
import type { Instant } from '../util/clock';
import { StoreBase } from './base';

/** A closed case not yet anonymised, with its last closing (null when no event records one). */
export interface RetentionCandidateRow {
  id: number;
  number: string;
  closed_at: Instant | null;
  updated_at: Instant;
  hold_reason: string | null;
  held_at: Instant | null;
}

/** A file whose row retention removed, to be deleted once nothing references it. */
export interface RetentionPendingFile {
  path: string;
  kind: 'attachment' | 'raw';
  sha256: string;
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

/** The legal hold columns of a case (src/retention/legal-hold.ts). */
export interface CaseHoldRow {
  id: number;
  number: string;
  hold_reason: string | null;
  held_at: Instant | null;
  held_by: string | null;
  anonymised_at: Instant | null;
}

function placeholders(n: number): string {
  return new Array(n).fill('?').join(', ');
}

export class RetentionQueries extends StoreBase {
  // ---- which cases and mails -----------------------------------------------------------

  /** Closed cases not yet anonymised, with their last closing (from the events). */
  closedCasesNotAnonymised(): RetentionCandidateRow[] {
    return this.q(
      `SELECT c.id, c.number, c.updated_at, c.hold_reason, c.held_at,
         (SELECT MAX(e.at) FROM events e WHERE e.case_id = c.id AND e.type = 'status-changed' AND e.to_state = 'closed') AS closed_at
       FROM cases c WHERE c.status = 'closed' AND c.anonymised_at IS NULL ORDER BY c.id`,
    ).all() as RetentionCandidateRow[];
  }

  /**
   * The inbound mails that are a case's (src/retention/anonymise.ts, "Which mails are the
   * case's"): filed on the case, named by its events and on no case (unless a case kept in full
   * names them too), and the duplicates of those on no case. Ids in ascending order.
   */
  mailsOfCase(caseId: number): number[] {
    const ids = new Set<number>((this.q('SELECT id FROM inbound WHERE case_id = ?').all(caseId) as { id: number }[]).map((r) => r.id));
    const named = this.q(
      `SELECT DISTINCT e.inbound_id AS id FROM events e JOIN inbound i ON i.id = e.inbound_id
       WHERE e.case_id = ? AND i.case_id IS NULL
         AND NOT EXISTS (SELECT 1 FROM events o JOIN cases oc ON oc.id = o.case_id
                         WHERE o.inbound_id = i.id AND o.case_id != ? AND oc.anonymised_at IS NULL)`,
    ).all(caseId, caseId) as { id: number }[];
    for (const r of named) ids.add(r.id);
    const dup = this.q('SELECT id FROM inbound WHERE duplicate_of = ? AND case_id IS NULL');
    for (const id of [...ids]) for (const r of dup.all(id) as { id: number }[]) ids.add(r.id);
    return [...ids].sort((a, b) => a - b);
  }

  /**
   * Mails on no case (auto-replies, bounces, lists, duplicates) received at or before `before`,
   * filed, not anonymised, that no case kept in full names or is the original of; only among
   * `among` when given.
   */
  looseMailsDue(before: Instant, among: readonly number[] | null = null): number[] {
    if (among !== null && among.length === 0) return [];
    return (
      this.db
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

  /** The case's customer address and fields when it is still due: closed, not held, not anonymised; else null. */
  caseDueForAnonymisation(caseId: number): { customer_address: string | null; fields: string } | null {
    return (
      (this.q("SELECT customer_address, fields FROM cases WHERE id = ? AND status = 'closed' AND hold_reason IS NULL AND anonymised_at IS NULL").get(caseId) as
        { customer_address: string | null; fields: string } | undefined) ?? null
    );
  }

  /** Of the given inbound mails, those whose raw bytes are not yet marked done with. */
  inboundWithRawKept(inboundIds: readonly number[]): number[] {
    return (
      this.db.prepare(`SELECT id FROM inbound WHERE raw_removed_at IS NULL AND id IN (${placeholders(inboundIds.length)})`).all(...inboundIds) as {
        id: number;
      }[]
    ).map((r) => r.id);
  }

  // ---- counts for a dry run ------------------------------------------------------------

  countMessagesOfInbound(inboundIds: readonly number[]): number {
    return (this.db.prepare(`SELECT COUNT(*) AS n FROM messages WHERE inbound_id IN (${placeholders(inboundIds.length)})`).get(...inboundIds) as { n: number })
      .n;
  }

  countAttachmentsOfInbound(inboundIds: readonly number[]): number {
    return (
      this.db
        .prepare(
          `SELECT COUNT(*) AS n FROM attachments WHERE message_row IN (SELECT id FROM messages WHERE inbound_id IN (${placeholders(inboundIds.length)}))`,
        )
        .get(...inboundIds) as { n: number }
    ).n;
  }

  /** Every mail queued on the case, whatever its state. */
  countOutboxMailsOfCase(caseId: number): number {
    return (this.q('SELECT COUNT(*) AS n FROM outbox WHERE case_id = ?').get(caseId) as { n: number }).n;
  }

  countEventsOfCase(caseId: number): number {
    return (this.q('SELECT COUNT(*) AS n FROM events WHERE case_id = ?').get(caseId) as { n: number }).n;
  }

  /** How many raw mails removing the given inbound mails' raw bytes would remove (none other still needs them). */
  countRawRemovable(inboundIds: readonly number[]): number {
    if (inboundIds.length === 0) return 0;
    const list = placeholders(inboundIds.length);
    const row = this.db
      .prepare(
        `SELECT COUNT(*) AS n FROM raw_mail r WHERE r.removed_at IS NULL
         AND r.sha256 IN (SELECT sha256 FROM inbound WHERE id IN (${list}) AND raw_removed_at IS NULL)
         AND NOT EXISTS (SELECT 1 FROM inbound i WHERE i.sha256 = r.sha256 AND i.raw_removed_at IS NULL AND i.id NOT IN (${list}))`,
      )
      .get(...inboundIds, ...inboundIds) as { n: number };
    return row.n;
  }

  // ---- raw mail ------------------------------------------------------------------------

  /** Mark the given inbound mails as done with their raw bytes. */
  markRawRemoved(inboundIds: readonly number[], at: Instant): void {
    this.db.prepare(`UPDATE inbound SET raw_removed_at = ? WHERE raw_removed_at IS NULL AND id IN (${placeholders(inboundIds.length)})`).run(at, ...inboundIds);
  }

  /** The distinct raw mails (sha256) the given inbound mails point at. */
  rawMailsOfInbound(inboundIds: readonly number[]): string[] {
    return (
      this.db.prepare(`SELECT DISTINCT sha256 FROM inbound WHERE id IN (${placeholders(inboundIds.length)})`).all(...inboundIds) as { sha256: string }[]
    ).map((r) => r.sha256);
  }

  /** Whether an inbound mail still needs the raw mail's bytes. */
  rawMailStillNeeded(sha256: string): boolean {
    return this.q('SELECT 1 FROM inbound WHERE sha256 = ? AND raw_removed_at IS NULL').get(sha256) !== undefined;
  }

  /** A raw mail not yet removed, with the file of a large one (path null: the bytes are in the row). */
  rawMailNotRemoved(sha256: string): { path: string | null } | undefined {
    return this.q('SELECT path FROM raw_mail WHERE sha256 = ? AND removed_at IS NULL').get(sha256) as { path: string | null } | undefined;
  }

  /** Remove a raw mail's bytes; the row keeps sha256 and size and records when. */
  blankRawMail(sha256: string, at: Instant): void {
    this.q("UPDATE raw_mail SET bytes = X'', path = NULL, removed_at = ? WHERE sha256 = ?").run(at, sha256);
  }

  // ---- files to delete after the commit ------------------------------------------------

  queueRetentionFile(relPath: string, kind: 'attachment' | 'raw', sha256: string, runId: number, at: Instant): void {
    this.q('INSERT OR IGNORE INTO retention_pending_files (path, kind, sha256, run_id, queued_at) VALUES (?, ?, ?, ?, ?)').run(
      relPath,
      kind,
      sha256,
      runId,
      at,
    );
  }

  retentionPendingFiles(): RetentionPendingFile[] {
    return this.q('SELECT path, kind, sha256 FROM retention_pending_files ORDER BY path').all() as RetentionPendingFile[];
  }

  /** Whether a stored mail waits to be filed (its parse may point at a file about to be deleted). */
  mailWaitingToBeFiled(): boolean {
    return this.q("SELECT 1 FROM inbound WHERE state = 'stored' LIMIT 1").get() !== undefined;
  }

  /** Whether an attachment row points at the file. */
  attachmentFileInUse(relPath: string): boolean {
    return this.q('SELECT 1 FROM attachments WHERE path = ?').get(relPath) !== undefined;
  }

  /** Whether the raw mail's bytes are kept (not removed). */
  rawMailKept(sha256: string): boolean {
    return this.q('SELECT 1 FROM raw_mail WHERE sha256 = ? AND removed_at IS NULL').get(sha256) !== undefined;
  }

  forgetRetentionFile(relPath: string): void {
    this.q('DELETE FROM retention_pending_files WHERE path = ?').run(relPath);
  }

  // ---- blanking ------------------------------------------------------------------------

  /** The attachment files of the given inbound mails' messages. */
  attachmentFilesOfInbound(inboundIds: readonly number[]): Array<{ path: string; sha256: string }> {
    return this.db
      .prepare(
        `SELECT DISTINCT path, sha256 FROM attachments WHERE message_row IN (SELECT id FROM messages WHERE inbound_id IN (${placeholders(inboundIds.length)}))`,
      )
      .all(...inboundIds) as Array<{ path: string; sha256: string }>;
  }

  /** Delete the attachment rows of the given inbound mails' messages; returns how many. */
  deleteAttachmentsOfInbound(inboundIds: readonly number[]): number {
    // Their readings first (the text read from them is the customer's too).
    this.db
      .prepare(
        `DELETE FROM attachment_readings WHERE attachment_id IN (SELECT id FROM attachments WHERE message_row IN (SELECT id FROM messages WHERE inbound_id IN (${placeholders(inboundIds.length)})))`,
      )
      .run(...inboundIds);
    return this.db
      .prepare(`DELETE FROM attachments WHERE message_row IN (SELECT id FROM messages WHERE inbound_id IN (${placeholders(inboundIds.length)}))`)
      .run(...inboundIds).changes;
  }

  /** Blank the addresses, names, subject and texts of the given inbound mails' messages; returns how many. */
  blankMessagesOfInbound(inboundIds: readonly number[]): number {
    return this.db
      .prepare(
        `UPDATE messages SET from_address = NULL, from_name = NULL, reply_to = NULL, to_addresses = '[]', cc_addresses = '[]', subject = NULL,
         body_text = NULL, new_text = NULL, quoted_text = NULL, problems = '[]' WHERE inbound_id IN (${placeholders(inboundIds.length)})`,
      )
      .run(...inboundIds).changes;
  }

  markInboundAnonymised(inboundIds: readonly number[], at: Instant): void {
    this.db.prepare(`UPDATE inbound SET anonymised_at = ? WHERE anonymised_at IS NULL AND id IN (${placeholders(inboundIds.length)})`).run(at, ...inboundIds);
  }

  /** Replace the error text of the given inbound mails' quarantine rows. */
  setQuarantineErrorOfInbound(inboundIds: readonly number[], text: string): void {
    this.db.prepare(`UPDATE quarantine SET error = ? WHERE inbound_id IN (${placeholders(inboundIds.length)})`).run(text, ...inboundIds);
  }

  /** Blank a case's personal columns, keep `fields` as given, and record the run that did it. */
  anonymiseCaseRow(caseId: number, fieldsJson: string, at: Instant, runId: number): void {
    // The register of record's texts (migration 13) may name people: blanked, their facts kept
    // (channel, customer type, product, that a case was inadmissible, ARN states, cause codes,
    // action states), so that the statistics of the past do not change.
    this.q(
      `UPDATE cases SET customer_address = NULL, customer_name = NULL, subject = NULL, subject_key = NULL, personnummer = NULL,
       postal_address = NULL, representative_name = NULL, representative_address = NULL,
       reasons_summary = CASE WHEN reasons_summary IS NULL THEN NULL ELSE '(anonymised)' END,
       inadmissible_reason = CASE WHEN inadmissible_reason IS NULL THEN NULL ELSE '(anonymised)' END,
       customer_type_by = CASE WHEN customer_type_by LIKE 'detected%' THEN 'detected' ELSE customer_type_by END,
       fields = ?, anonymised_at = ?, anonymised_by_run = ? WHERE id = ?`,
    ).run(fieldsJson, at, runId, caseId);
    this.q('UPDATE case_causes SET text = NULL WHERE case_id = ?').run(caseId);
    this.q("UPDATE case_actions SET text = '(anonymised)' WHERE case_id = ?").run(caseId);
  }

  outboxIdsOfCase(caseId: number): number[] {
    return (this.q('SELECT id FROM outbox WHERE case_id = ?').all(caseId) as { id: number }[]).map((r) => r.id);
  }

  /**
   * Blank the text of mails we sent: subject, bodies, transport response, the copies' addresses
   * (the customer's representative in Cc, and in copies_accepted); the recipient unless it is one of `keepAddresses`
   * (lower-case: the officers); mail not yet sent fails.
   */
  blankOutboxMails(outboxIds: readonly number[], keepAddresses: readonly string[]): void {
    this.db
      .prepare(
        `UPDATE outbox SET subject = '', body_text = '', body_html = NULL, transport_response = NULL,
         headers = CASE WHEN json_valid(headers) THEN json_remove(headers, '$.Cc', '$.Bcc') ELSE '{}' END, copies_accepted = NULL,
         last_error = CASE WHEN status IN ('queued','sending') THEN 'removed by retention before it was sent' ELSE NULL END,
         status = CASE WHEN status IN ('queued','sending') THEN 'failed' ELSE status END,
         to_address = CASE WHEN lower(to_address) IN (SELECT value FROM json_each(?)) THEN to_address ELSE '' END
       WHERE id IN (${placeholders(outboxIds.length)})`,
      )
      .run(JSON.stringify(keepAddresses), ...outboxIds);
  }

  /** Blank the transport responses of the given mails' send attempts. */
  blankOutboxAttemptResponses(outboxIds: readonly number[]): void {
    this.db.prepare(`UPDATE outbox_attempts SET response = NULL WHERE outbox_id IN (${placeholders(outboxIds.length)})`).run(...outboxIds);
  }

  /** Forget an address's delivery status unless a case kept in full has that address. */
  forgetAddressStatusOfAnonymised(address: string): void {
    this.q(`DELETE FROM address_status WHERE address = ? AND NOT EXISTS (SELECT 1 FROM cases WHERE customer_address = address AND anonymised_at IS NULL)`).run(
      address,
    );
  }

  // ---- runs ----------------------------------------------------------------------------

  /** Record a run before it changes anything; returns its id. */
  insertRetentionRun(startedAt: Instant, trigger: string, dryRun: boolean): number {
    return Number(this.q('INSERT INTO retention_runs (started_at, trigger, dry_run) VALUES (?, ?, ?)').run(startedAt, trigger, dryRun ? 1 : 0).lastInsertRowid);
  }

  finishRetentionRun(runId: number, finishedAt: Instant, casesAnonymised: number, rawRemoved: number, resultJson: string): void {
    this.q('UPDATE retention_runs SET finished_at = ?, cases_anonymised = ?, raw_removed = ?, result = ? WHERE id = ?').run(
      finishedAt,
      casesAnonymised,
      rawRemoved,
      resultJson,
      runId,
    );
  }

  /** The last `limit` runs, newest first. */
  retentionRunsNewestFirst(limit: number): RetentionRunRow[] {
    return this.q('SELECT * FROM retention_runs ORDER BY id DESC LIMIT ?').all(limit) as RetentionRunRow[];
  }

  // ---- the database's own copies -------------------------------------------------------

  /** SQLite's secure_delete setting: 0, 1, or 2 (FAST). */
  secureDeleteMode(): number {
    return this.db.pragma('secure_delete', { simple: true }) as number;
  }

  /** Zero freed pages (ON) during a run, or put back the mode it was. */
  setSecureDelete(mode: 'ON' | number): void {
    this.db.pragma(mode === 'ON' ? 'secure_delete = ON' : `secure_delete = ${Number(mode)}`);
  }

  /** Write the WAL's pages home and truncate it (the old page images of what was removed). Throws when readers hold it. */
  checkpointWalTruncate(): void {
    this.db.pragma('wal_checkpoint(TRUNCATE)');
  }

  // ---- legal hold ----------------------------------------------------------------------

  caseHoldColumns(caseId: number): CaseHoldRow | undefined {
    return this.q('SELECT id, number, hold_reason, held_at, held_by, anonymised_at FROM cases WHERE id = ?').get(caseId) as CaseHoldRow | undefined;
  }

  /** Set or change a case's hold reason; a changed reason keeps when and by whom the hold began. */
  setCaseHold(caseId: number, reason: string, at: Instant, actor: string): void {
    this.q('UPDATE cases SET hold_reason = ?, held_at = COALESCE(held_at, ?), held_by = COALESCE(held_by, ?) WHERE id = ?').run(reason, at, actor, caseId);
  }

  clearCaseHold(caseId: number): void {
    this.q('UPDATE cases SET hold_reason = NULL, held_at = NULL, held_by = NULL WHERE id = ? AND hold_reason IS NOT NULL').run(caseId);
  }
}
