/**
 * Backups and restores (src/backup/): the online copy of the database, what a manifest says
 * about a copy (counts, chain heads, case-number sequences, the files it refers to), the record
 * of the last backup for `status`, and what a restore writes so that nothing is sent twice and
 * no case number is used twice (the restore marker, held outbox mail, raised sequences, notices
 * of the gap claimed).
 *
 * The copy is SQLite's online backup API (better-sqlite3's `backup()`) in one step: one read
 * transaction on this connection, so the copy is one consistent moment; in WAL mode that reader
 * never blocks the service's writers (which would restart a backup taken in many small steps
 * at each of their commits, and a busy service commits every few milliseconds).
 */
import type { Instant } from '../util/clock';
import { StoreBase } from './base';

export interface BackupCounts {
  readonly cases: number;
  /** Inbound mails (every mail taken from a source, including duplicates). */
  readonly mails: number;
  readonly events: number;
  readonly messages: number;
  readonly attachments: number;
  readonly outbox: number;
}

/** The last event of one chain: one per case, and one (caseId null) for the events without a case. */
export interface ChainHead {
  readonly caseId: number | null;
  readonly caseNumber: string | null;
  readonly lastEventId: number;
  readonly hash: string | null;
}

/** A file outside the database that the database refers to, relative to the data folder. */
export interface ReferencedFile {
  readonly kind: 'raw' | 'attachment';
  readonly path: string;
  readonly sha256: string;
  readonly size: number;
}

export interface CaseNumberSequence {
  readonly prefix: string;
  readonly year: number;
  readonly last: number;
}

/**
 * What a restore wrote into the restored database (meta row `restore`). While `reconciledAt` is
 * null nothing is filed: the mailbox must be compared first (src/reconcile/after-restore.ts),
 * so that the case numbers of the gap are reserved before any new case takes one.
 */
export interface RestoreMarker {
  /** The manifest restored from, and the backup folder. */
  readonly manifest: string;
  readonly dir: string;
  /** The moment of the copy (everything committed before it is in the backup). */
  readonly backupAt: Instant;
  readonly restoredAt: Instant;
  /** The highest inbound id in the backup: rows above it were stored after the restore. */
  readonly lastInboundId: number;
  /** The latest arrival of a mail in the backup. */
  readonly newestArrival: Instant | null;
  /** When a reconciliation compared every mailbox and reserved the gap's case numbers; null until then. */
  readonly reconciledAt: Instant | null;
  /** The first event id written after the restore (its `backup-restored` event). */
  readonly firstEventId: number;
  /** The case numbers the lost install may have issued after the backup, reserved by reconciliation. */
  readonly gap?: ReadonlyArray<{ readonly prefix: string; readonly year: number; readonly from: number; readonly to: number }>;
}

/** The last backup taken of this database (meta rows `backup.last` and `backup.lastGood`). */
export interface BackupRecord {
  readonly dir: string;
  readonly manifest: string | null;
  readonly startedAt: Instant;
  readonly finishedAt: Instant;
  readonly ok: boolean;
  readonly error: string | null;
  readonly filesCopied: number;
  readonly bytesCopied: number;
}

export class BackupQueries extends StoreBase {
  // ---- the copy -----------------------------------------------------------------------------

  /** Copy the whole database to `file` (a new file) in one step of the online backup API. */
  async snapshotDatabaseTo(file: string): Promise<void> {
    // The first step transfers nothing (better-sqlite3 starts with 0 pages); every later one all.
    await this.db.backup(file, { progress: () => 0x7fffffff });
  }

  /**
   * Make this database (a copy) a single self-contained file: the rollback journal instead of
   * WAL, so that it can be opened read-only where it lies without -wal and -shm files beside it.
   */
  useRollbackJournal(): void {
    this.db.pragma('journal_mode = DELETE');
  }

  /** `PRAGMA integrity_check`: ['ok'], or SQLite's list of problems (at most `max`). */
  integrityCheck(max = 100): string[] {
    return (this.db.pragma(`integrity_check(${Math.max(1, Math.floor(max))})`) as Array<{ integrity_check: string }>).map((r) => r.integrity_check);
  }

  backupCounts(): BackupCounts {
    const n = (table: string): number => (this.q(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
    return {
      cases: n('cases'),
      mails: n('inbound'),
      events: n('events'),
      messages: n('messages'),
      attachments: n('attachments'),
      outbox: n('outbox'),
    };
  }

  /** The last event of every chain, by case id (the chain without a case first). */
  *chainHeads(): Generator<ChainHead> {
    const rows = this.q(
      `SELECT e.case_id, c.number, e.id, e.hash FROM (SELECT case_id, MAX(id) AS id FROM events GROUP BY case_id) m
         JOIN events e ON e.id = m.id LEFT JOIN cases c ON c.id = e.case_id ORDER BY e.case_id IS NOT NULL, e.case_id`,
    ).iterate() as IterableIterator<{ case_id: number | null; number: string | null; id: number; hash: string | null }>;
    for (const r of rows) yield { caseId: r.case_id, caseNumber: r.number, lastEventId: r.id, hash: r.hash };
  }

  caseNumberSequences(): CaseNumberSequence[] {
    return this.q('SELECT prefix, year, last FROM case_number_sequence ORDER BY prefix, year').all() as CaseNumberSequence[];
  }

  /** The highest inbound id and the latest arrival (0 and null for an empty database). */
  inboundHighWater(): { lastInboundId: number; newestArrival: Instant | null } {
    const r = this.q('SELECT MAX(id) AS id, MAX(received_at) AS newest FROM inbound').get() as { id: number | null; newest: Instant | null };
    return { lastInboundId: r.id ?? 0, newestArrival: r.newest };
  }

  /** Every file the database refers to: large raw mails (not removed by retention) and attachments. */
  *referencedFiles(): Generator<ReferencedFile> {
    for (const r of this.q(
      'SELECT path, sha256, size FROM raw_mail WHERE path IS NOT NULL AND removed_at IS NULL ORDER BY path',
    ).iterate() as IterableIterator<{
      path: string;
      sha256: string;
      size: number;
    }>)
      yield { kind: 'raw', ...r };
    for (const r of this.q('SELECT path, MIN(sha256) AS sha256, MIN(size) AS size FROM attachments GROUP BY path ORDER BY path').iterate() as IterableIterator<{
      path: string;
      sha256: string;
      size: number;
    }>)
      yield { kind: 'attachment', ...r };
  }

  /** Cases holding an encrypted personnummer (a backup keeps them encrypted; the key is never in it). */
  countEncryptedPersonnummer(): number {
    return (this.q("SELECT COUNT(*) AS n FROM cases WHERE personnummer LIKE 'v1:%'").get() as { n: number }).n;
  }

  // ---- the record of the last backup ------------------------------------------------------

  recordBackup(r: BackupRecord): void {
    const text = JSON.stringify(r);
    this.tx(() => {
      this.q('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run('backup.last', text);
      if (r.ok) this.q('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run('backup.lastGood', text);
    });
  }

  backupRecord(which: 'last' | 'lastGood'): BackupRecord | null {
    const row = this.q('SELECT value FROM meta WHERE key = ?').get(`backup.${which}`) as { value: string } | undefined;
    return row ? (JSON.parse(row.value) as BackupRecord) : null;
  }

  // ---- after a restore --------------------------------------------------------------------

  restoreMarker(): RestoreMarker | null {
    const row = this.q("SELECT value FROM meta WHERE key = 'restore'").get() as { value: string } | undefined;
    return row ? (JSON.parse(row.value) as RestoreMarker) : null;
  }

  setRestoreMarker(m: RestoreMarker): void {
    this.q("INSERT INTO meta (key, value) VALUES ('restore', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(JSON.stringify(m));
  }

  /** Raise a case-number sequence to at least `last`; true when it moved. */
  raiseCaseNumberSequence(prefix: string, year: number, last: number): boolean {
    return (
      this.q(
        `INSERT INTO case_number_sequence (prefix, year, last) VALUES (?, ?, ?)
           ON CONFLICT (prefix, year) DO UPDATE SET last = excluded.last WHERE excluded.last > case_number_sequence.last`,
      ).run(prefix, year, last).changes === 1
    );
  }

  /**
   * Outgoing mail not sent when the backup was taken: after a restore it may have gone out in
   * the meantime, so it is marked failed with `reason` (listed by `status` and `klagomal outbox
   * --status failed`; `klagomal outbox retry ID` sends it) instead of being sent again.
   */
  holdUnsentOutbox(reason: string, at: Instant): Array<{ id: number; caseId: number | null; kind: string; status: string }> {
    const rows = this.q("SELECT id, case_id, kind, status FROM outbox WHERE status IN ('queued', 'sending') ORDER BY id").all() as Array<{
      id: number;
      case_id: number | null;
      kind: string;
      status: string;
    }>;
    const update = this.q("UPDATE outbox SET status = 'failed', last_error = ?, next_attempt_at = ? WHERE id = ? AND status IN ('queued', 'sending')");
    for (const r of rows) update.run(reason, at, r.id);
    return rows.map((r) => ({ id: r.id, caseId: r.case_id, kind: r.kind, status: r.status }));
  }

  /** Open deadlines with an escalation step due by `at` (the restore claims the notices of the gap). */
  deadlinesEscalatingBy(at: Instant): Array<{ case_id: number; milestone: string; due_at: Instant; rule: string }> {
    return this.q(
      `SELECT case_id, milestone, due_at, rule FROM deadlines
        WHERE met_at IS NULL AND next_escalation_at IS NOT NULL AND next_escalation_at <= ? AND not_applicable IS NULL`,
    ).all(at) as Array<{ case_id: number; milestone: string; due_at: Instant; rule: string }>;
  }

  /** Stored mails that are not filed yet, up to an id (those in a backup were filed after it by the instance before the restore). */
  pendingInboundIdsUpTo(lastId: number): number[] {
    return (this.q("SELECT id FROM inbound WHERE state = 'stored' AND id <= ? ORDER BY id").all(lastId) as Array<{ id: number }>).map((r) => r.id);
  }

  /** Mails stored after a restore (ids above the backup's highest), with where their raw bytes are. */
  inboundStoredAfter(lastId: number): Array<{ id: number; sha256: string; received_at: Instant }> {
    return this.q('SELECT id, sha256, received_at FROM inbound WHERE id > ? ORDER BY id').all(lastId) as Array<{
      id: number;
      sha256: string;
      received_at: Instant;
    }>;
  }

  /**
   * What reconciliation saw on the server about a mail it found after a restore: where the
   * instance before the restore had put or marked it (`takenBefore` of its found event), or null.
   */
  takenBeforeRestore(inboundId: number): string | null {
    const row = this.q(
      "SELECT json_extract(detail, '$.takenBefore') AS t FROM events WHERE inbound_id = ? AND type = 'reconcile-found-unfiled' AND json_valid(detail) LIMIT 1",
    ).get(inboundId) as { t: string | null } | undefined;
    return row?.t ?? null;
  }

  /** Why filing after a restore left a mail quiet (its `afterRestore`), or null. */
  afterRestoreReason(inboundId: number): string | null {
    const row = this.q(
      `SELECT json_extract(detail, '$.afterRestore') AS r FROM events WHERE inbound_id = ? AND type IN ('case-opened', 'mail-filed') AND json_valid(detail)
         AND json_extract(detail, '$.afterRestore') IS NOT NULL LIMIT 1`,
    ).get(inboundId) as { r: string } | undefined;
    return row?.r ?? null;
  }

  /** Cases opened by filing after a restore without an acknowledgement, for a person (case-opened with `afterRestore`). */
  casesOpenedQuietlyAfterRestore(fromEventId: number): Array<{ number: string; reason: string }> {
    return this.q(
      `SELECT c.number, json_extract(e.detail, '$.afterRestore') AS reason FROM events e JOIN cases c ON c.id = e.case_id
        WHERE e.id >= ? AND e.type = 'case-opened' AND json_valid(e.detail) AND json_extract(e.detail, '$.afterRestore') IS NOT NULL ORDER BY e.id`,
    ).all(fromEventId) as Array<{ number: string; reason: string }>;
  }

  /** The next event id (the id the next appended event gets). */
  nextEventId(): number {
    return ((this.q('SELECT MAX(id) AS id FROM events').get() as { id: number | null }).id ?? 0) + 1;
  }
}
