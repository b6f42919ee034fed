/**
 * The reads of `klagomal status`, /healthz and /metrics (src/ops/status.ts, src/ops/http.ts)
 * and of the preflight's database check (src/ops/preflight.ts): counts and oldest times of the
 * outbox, quarantine, the processor's queue, open cases and deadlines, the acknowledgement
 * latency, the schema version. Read-only; no personal data (case numbers, kinds, counts, times).
 */
import type { Instant } from '../util/clock';
import { schemaVersion } from './db';
import { StoreBase } from './base';

/** A mail of the outbox as the status lists it. */
export interface OutboxMailRow {
  id: number;
  number: string | null;
  kind: string;
  attempts: number;
  at: Instant | null;
  last_error: string | null;
}

/** Permanently failed mails with when they failed (their last attempt's end; a give-up by age has one too). */
const FAILED_OUTBOX = `SELECT * FROM (SELECT o.id, c.number, o.kind, o.attempts, o.last_error,
         COALESCE((SELECT MAX(a.finished_at) FROM outbox_attempts a WHERE a.outbox_id = o.id), o.created_at) AS at
       FROM outbox o LEFT JOIN cases c ON c.id = o.case_id WHERE o.status = 'failed') WHERE at >= ?`;

/** Open deadlines the officers work to (the digest's: finalAnswerMax is a cap, not a target). */
const OPEN_DEADLINE = `FROM deadlines d JOIN cases c ON c.id = d.case_id WHERE d.met_at IS NULL AND c.status != 'closed' AND d.milestone != 'finalAnswerMax' AND d.not_applicable IS NULL`;

export class StatusQueries extends StoreBase {
  // ---- outbox --------------------------------------------------------------------------

  /** Outbox mails by status, queued ones split by whether they are retrying (an earlier attempt failed). */
  outboxCountsByStatus(): Array<{ status: string; retrying: number; n: number }> {
    return this.q("SELECT status, (status = 'queued' AND last_error IS NOT NULL) AS retrying, COUNT(*) AS n FROM outbox GROUP BY 1, 2").all() as Array<{
      status: string;
      retrying: number;
      n: number;
    }>;
  }

  /** Queued mails whose last attempt failed, the next to be tried first. */
  retryingOutboxMails(limit: number): OutboxMailRow[] {
    return this.q(
      `SELECT o.id, c.number, o.kind, o.attempts, o.next_attempt_at AS at, o.last_error FROM outbox o LEFT JOIN cases c ON c.id = o.case_id
       WHERE o.status = 'queued' AND o.last_error IS NOT NULL ORDER BY o.next_attempt_at, o.id LIMIT ?`,
    ).all(limit) as OutboxMailRow[];
  }

  countOutboxFailedSince(since: Instant): number {
    return (this.q(`SELECT COUNT(*) AS n FROM (${FAILED_OUTBOX})`).get(since) as { n: number }).n;
  }

  /** Mails that failed permanently at or after `since`, the latest first. */
  outboxFailedSince(since: Instant, limit: number): OutboxMailRow[] {
    return this.q(`${FAILED_OUTBOX} ORDER BY at DESC, id DESC LIMIT ?`).all(since, limit) as OutboxMailRow[];
  }

  // ---- quarantine, the processor's queue -----------------------------------------------

  /** Mails in quarantine not released, and the first time the oldest of them failed. */
  quarantineBacklog(): { n: number; oldest: Instant | null } {
    return this.q('SELECT COUNT(*) AS n, MIN(first_at) AS oldest FROM quarantine WHERE released_at IS NULL').get() as { n: number; oldest: Instant | null };
  }

  /** Mails stored but not yet filed, and when the oldest was stored. */
  storedMailBacklog(): { n: number; oldest: Instant | null } {
    return this.q("SELECT COUNT(*) AS n, MIN(stored_at) AS oldest FROM inbound WHERE state = 'stored'").get() as { n: number; oldest: Instant | null };
  }

  // ---- cases and deadlines -------------------------------------------------------------

  openCasesByStatus(): Array<{ status: string; n: number }> {
    return this.q("SELECT status, COUNT(*) AS n FROM cases WHERE status != 'closed' GROUP BY status ORDER BY status").all() as Array<{
      status: string;
      n: number;
    }>;
  }

  /** Open deadlines of open cases due before `at`. */
  countOpenDeadlinesDueBefore(at: Instant): number {
    return (this.q(`SELECT COUNT(*) AS n ${OPEN_DEADLINE} AND d.due_at < ?`).get(at) as { n: number }).n;
  }

  /** Open deadlines of open cases due in [from, to). */
  countOpenDeadlinesDueBetween(from: Instant, to: Instant): number {
    return (this.q(`SELECT COUNT(*) AS n ${OPEN_DEADLINE} AND d.due_at >= ? AND d.due_at < ?`).get(from, to) as { n: number }).n;
  }

  // ---- templates, database -------------------------------------------------------------

  /** When a kept template set was checked, or null when no such set is kept. */
  templateSetCheckedAt(setVersion: string): Instant | null {
    return (this.q('SELECT checked_at FROM template_sets WHERE set_version = ?').get(setVersion) as { checked_at: Instant } | undefined)?.checked_at ?? null;
  }

  /** The schema version (creates the bookkeeping table when missing: a writable database only). */
  databaseSchemaVersion(): number {
    return schemaVersion(this.db);
  }

  /** The schema version without creating the bookkeeping table (the database may be read-only); 0 without one. */
  readonlySchemaVersion(): number {
    const exists = this.q("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
    return exists ? schemaVersion(this.db) : 0;
  }

  // ---- metrics -------------------------------------------------------------------------

  filedInboundByKind(): Array<{ kind: string; n: number }> {
    return this.q("SELECT kind, COUNT(*) AS n FROM inbound WHERE state = 'filed' AND kind IS NOT NULL GROUP BY kind").all() as Array<{
      kind: string;
      n: number;
    }>;
  }

  /**
   * Acknowledgement latency over every acknowledgement sent, bucketed in the database (one row
   * back, whatever the history): count, sum and b0.. bN, the cumulative count at or below each
   * bound of `buckets` (seconds). The complaint that opened the case is the case's first
   * inbound mail of kind complaint. A clock difference between the mail server and us never
   * makes a latency negative. The bounds are the program's constants (LATENCY_BUCKETS in
   * src/ops/http.ts), never input: they are written into the SQL text.
   */
  acknowledgementLatencyBuckets(buckets: readonly number[]): Record<string, number> {
    return this.q(
      `WITH l AS (
         SELECT MAX(0, (julianday(o.sent_at) - julianday(
           (SELECT i.received_at FROM inbound i WHERE i.case_id = o.case_id AND i.kind = 'complaint' ORDER BY i.id LIMIT 1))) * 86400.0) AS s
         FROM outbox o WHERE o.kind = 'acknowledgement' AND o.status = 'sent' AND o.sent_at IS NOT NULL)
       SELECT COUNT(s) AS count, COALESCE(SUM(s), 0) AS sum, ${buckets.map((le, k) => `COALESCE(SUM(s <= ${le}), 0) AS b${k}`).join(', ')} FROM l`,
    ).get() as Record<string, number>;
  }
}
