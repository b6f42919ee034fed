/**
 * Source status: one row per (source, mailbox) in `source_status`, written by the sources
 * themselves (src/ingest/source-status.ts decides when) and read by `klagomal status` and the
 * HTTP endpoint (src/ops/status.ts), which usually run in another process. The table is the
 * only channel between them.
 *
 * Columns (migrations 6 and 7):
 *  - connected       1 while a live connection (IMAP) or watch (Maildir) is up
 *  - since           when `connected` last changed: connected since, or down since
 *  - last_poll_at    the last scan that completed
 *  - last_error      the last failure, NULL after a scan that completed
 *  - failing_since   the first failure of the current run of failures, NULL when not failing;
 *                    only a completed scan ends the run (a reconnect does not: a source that
 *                    connects and then fails every scan is down from its first failure)
 *  - updated_at      heartbeat of the running service: written on every event and at least
 *                    every HEARTBEAT_MS during long scans. Old = nobody is watching.
 *  - folder_messages, waiting   what the last scan saw in the folder (NULL: unknown)
 *  - stopped_at      the service stopped watching cleanly (or only one-off scans ever wrote
 *                    the row); NULL while a service watches
 *
 * Each event is one small UPSERT, committed without waiting for fsync (a status row rolled
 * back by a power loss is rewritten by the next event).
 */
import type { Instant } from '../util/clock';
import { StoreBase } from './base';

export interface SourceStatusRow {
  source: string;
  mailbox: string;
  connected: number;
  since: Instant | null;
  last_poll_at: Instant | null;
  last_error: string | null;
  failing_since: Instant | null;
  updated_at: Instant;
  folder_messages: number | null;
  waiting: number | null;
  stopped_at: Instant | null;
}

// In every UPSERT below, a bare column name in DO UPDATE is the row's old value (SQLite
// evaluates all SET expressions against the row before the update).
const SQL = {
  connected: `INSERT INTO source_status (source, mailbox, connected, since, updated_at) VALUES (@source, @mailbox, 1, @now, @now)
    ON CONFLICT (source, mailbox) DO UPDATE SET
      since = CASE WHEN connected = 1 AND stopped_at IS NULL THEN since ELSE @now END,
      connected = 1, stopped_at = NULL, updated_at = @now`,
  polled: `INSERT INTO source_status (source, mailbox, connected, since, last_poll_at, updated_at, folder_messages, waiting)
      VALUES (@source, @mailbox, 1, @now, @now, @now, @folderMessages, @waiting)
    ON CONFLICT (source, mailbox) DO UPDATE SET
      since = CASE WHEN connected = 1 AND stopped_at IS NULL THEN since ELSE @now END,
      connected = 1, stopped_at = NULL, last_poll_at = @now, last_error = NULL, failing_since = NULL,
      folder_messages = @folderMessages, waiting = @waiting, updated_at = @now`,
  failed: `INSERT INTO source_status (source, mailbox, connected, since, last_error, failing_since, updated_at)
      VALUES (@source, @mailbox, 0, @now, @error, @now, @now)
    ON CONFLICT (source, mailbox) DO UPDATE SET
      since = CASE WHEN connected = 1 OR since IS NULL THEN @now ELSE since END,
      connected = 0, stopped_at = NULL, last_error = @error, failing_since = COALESCE(failing_since, @now), updated_at = @now`,
  stopped: `INSERT INTO source_status (source, mailbox, connected, since, updated_at, stopped_at) VALUES (@source, @mailbox, 0, @now, @now, @now)
    ON CONFLICT (source, mailbox) DO UPDATE SET
      since = CASE WHEN connected = 1 OR since IS NULL THEN @now ELSE since END,
      connected = 0, stopped_at = @now, updated_at = @now`,
  heartbeat: `UPDATE source_status SET updated_at = @now WHERE source = @source AND mailbox = @mailbox`,
  // One-off scans: their own result only (src/ingest/source-status.ts).
  // A first row from a one-off is "not watched" (stopped_at set): nothing live wrote it.
  polledOnce: `INSERT INTO source_status (source, mailbox, connected, since, last_poll_at, updated_at, folder_messages, waiting, stopped_at)
      VALUES (@source, @mailbox, 0, @now, @now, @now, @folderMessages, @waiting, @now)
    ON CONFLICT (source, mailbox) DO UPDATE SET
      last_poll_at = @now, last_error = NULL, failing_since = NULL, folder_messages = @folderMessages, waiting = @waiting`,
  failedOnce: `INSERT INTO source_status (source, mailbox, connected, since, last_error, failing_since, updated_at, stopped_at)
      VALUES (@source, @mailbox, 0, @now, @error, @now, @now, @now)
    ON CONFLICT (source, mailbox) DO UPDATE SET last_error = @error, failing_since = COALESCE(failing_since, @now)`,
} as const;

/** What a source reports about one of its folders (the writers are described in src/ingest/source-status.ts). */
export type SourceStatusEvent = keyof typeof SQL;

/** The values an event writes besides the time: the scan's counts (polled), the error (failed). */
export interface SourceStatusValues {
  readonly folderMessages?: number | null;
  readonly waiting?: number | null;
  readonly error?: string;
}

export class SourceStatusQueries extends StoreBase {
  /** Record one event of a source folder: one UPSERT in a relaxed transaction. Throws on a database error. */
  recordSourceStatus(event: SourceStatusEvent, source: string, mailbox: string, now: Instant, values: SourceStatusValues): void {
    const stmt = this.q(SQL[event]);
    this.txRelaxed(() => stmt.run({ source, mailbox, now, ...values }));
  }

  /** Every recorded row (for `status`), keyed by sourceStatusKey(source, mailbox). */
  sourceStatusRows(): Map<string, SourceStatusRow> {
    const rows = this.q('SELECT * FROM source_status').all() as SourceStatusRow[];
    return new Map(rows.map((r) => [sourceStatusKey(r.source, r.mailbox), r]));
  }
}

/** The key of a source folder in sourceStatusRows(). */
export function sourceStatusKey(source: string, mailbox: string): string {
  return `${source}\u0000${mailbox}`;
}
