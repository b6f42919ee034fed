/**
 * Source status: what each source (and folder) is doing, written by the source itself into
 * `source_status`, read by `klagomal status` and the HTTP endpoint, which usually run in
 * another process. The table is the only channel between them.
 *
 * Columns (migrations 6 and 7), one row per (source, mailbox):
 *  - connected       1 while a live connection (IMAP) or watch (Maildir) is up
 *  - since           when `connected` last changed: connected since, or down since
 *  - last_poll_at    the last scan that completed
 *  - last_error      the last failure, NULL after a scan that completed
 *  - failing_since   the first failure of the current run of failures, NULL when not failing
 *  - updated_at      heartbeat of the running service: written on every event and at least
 *                    every HEARTBEAT_MS during long scans. Old = nobody is watching.
 *  - folder_messages, waiting   what the last scan saw in the folder (NULL: unknown)
 *  - stopped_at      the service stopped watching cleanly (or only one-off scans ever wrote
 *                    the row); NULL while a service watches
 *
 * Two kinds of writer:
 *  - the long-running loop (`run`): connected / polled / failed / stopped / heartbeat. These
 *    own the connection columns and the heartbeat.
 *  - one-off scans (`pollOnce`, from `run --once` or another command): polledOnce / failedOnce.
 *    They record the result of their scan only, never `connected`, the heartbeat or a stop,
 *    so that a one-off beside a running service cannot make a live source look down or a
 *    dead service look alive.
 *
 * Cost: each event is one small UPSERT on a prepared statement, committed without waiting for
 * fsync (a status row rolled back by a power loss is rewritten by the next event). Completed
 * scans are written when something changed or every POLLED_WRITE_MS, not on every IDLE notice.
 * A failed status write is logged and ignored: it must never stop mail from being taken.
 */
import type { Statement } from 'better-sqlite3';
import type { Store } from '../store/store';
import type { Clock, Instant } from '../util/clock';
import { toInstant } from '../util/clock';
import type { Logger } from '../util/log';
import { errorChain, redactAddresses } from '../util/log';
import { redactSecrets } from '../util/secrets';

/** A live source refreshes its heartbeat at least this often during a long scan. */
export const HEARTBEAT_MS = 15_000;
/** An unchanged completed scan is written at most this often (IDLE can scan many times a second). */
export const POLLED_WRITE_MS = 10_000;

export interface ScanFacts {
  /** Messages in the watched folder after the scan (IMAP EXISTS); null when unknown. */
  readonly folderMessages: number | null;
  /** Messages in the folder not yet taken; null when the source cannot tell. */
  readonly waiting: number | null;
}

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
  // One-off scans: their own result only (see the header).
  // A first row from a one-off is "not watched" (stopped_at set): nothing live wrote it.
  polledOnce: `INSERT INTO source_status (source, mailbox, connected, since, last_poll_at, updated_at, folder_messages, waiting, stopped_at)
      VALUES (@source, @mailbox, 0, @now, @now, @now, @folderMessages, @waiting, @now)
    ON CONFLICT (source, mailbox) DO UPDATE SET
      last_poll_at = @now, last_error = NULL, failing_since = NULL, folder_messages = @folderMessages, waiting = @waiting`,
  failedOnce: `INSERT INTO source_status (source, mailbox, connected, since, last_error, failing_since, updated_at, stopped_at)
      VALUES (@source, @mailbox, 0, @now, @error, @now, @now, @now)
    ON CONFLICT (source, mailbox) DO UPDATE SET last_error = @error, failing_since = COALESCE(failing_since, @now)`,
} as const;

type Event = keyof typeof SQL;

/** Records one source folder's status. One instance per source object; cheap to call. */
export class SourceStatusRecorder {
  private readonly statements = new Map<Event, Statement>();
  private live = false;
  private lastWriteMs = 0;
  /** The facts and time of the last completed scan written (the throttle of `polled`). */
  private lastPolled: string | null = null;
  private lastPolledMs = 0;
  private warned = false;

  constructor(
    private readonly store: Store,
    readonly source: string,
    readonly mailbox: string,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /** A live connection (or watch) is up. */
  connected(): void {
    this.live = true;
    this.lastPolled = null;
    this.write('connected', {});
  }

  /** A scan of the live connection completed. */
  polled(facts: ScanFacts): void {
    const key = `${facts.folderMessages}/${facts.waiting}`;
    // An unchanged result is only a heartbeat: written at most every POLLED_WRITE_MS.
    const nowMs = this.clock().getTime();
    if (this.live && this.lastPolled === key && nowMs - this.lastPolledMs < POLLED_WRITE_MS) return;
    this.live = true;
    if (this.write('polled', { folderMessages: facts.folderMessages, waiting: facts.waiting })) {
      this.lastPolled = key;
      this.lastPolledMs = nowMs;
    }
  }

  /** The live connection failed or was dropped; the source will try again. */
  failed(error: unknown): void {
    this.live = true;
    this.lastPolled = null;
    this.write('failed', { error: describeError(error) });
  }

  /** The service stopped watching (shutdown). */
  stopped(): void {
    this.live = false;
    this.lastPolled = null;
    this.write('stopped', {});
  }

  /** Still alive during a long scan: refresh the heartbeat, at most every HEARTBEAT_MS. */
  heartbeat(): void {
    if (!this.live || this.clock().getTime() - this.lastWriteMs < HEARTBEAT_MS) return;
    this.write('heartbeat', {});
  }

  /** A one-off scan (`run --once`) completed. */
  polledOnce(facts: ScanFacts): void {
    this.write('polledOnce', { folderMessages: facts.folderMessages, waiting: facts.waiting });
  }

  /** A one-off scan failed. */
  failedOnce(error: unknown): void {
    this.write('failedOnce', { error: describeError(error) });
  }

  private write(event: Event, params: Record<string, string | number | null>): boolean {
    const now = this.clock();
    try {
      let stmt = this.statements.get(event);
      if (!stmt) {
        stmt = this.store.db.prepare(SQL[event]);
        this.statements.set(event, stmt);
      }
      const s = stmt;
      this.store.txRelaxed(() => s.run({ source: this.source, mailbox: this.mailbox, now: toInstant(now), ...params }));
      this.lastWriteMs = now.getTime();
      this.warned = false;
      return true;
    } catch (err) {
      // Mail intake matters more than its status line: log once per run of failures, go on.
      if (!this.warned) this.log.warn('cannot record the source status', { source: this.source, mailbox: this.mailbox, error: errorChain(err) });
      this.warned = true;
      return false;
    }
  }
}

/**
 * A stored error: one line, no customer addresses (server replies can quote them). imapflow
 * says only "Command failed" for a refused login; the server's words and code are on the error.
 */
export function describeError(error: unknown): string {
  let text = typeof error === 'string' ? error : errorChain(error);
  if (error && typeof error === 'object') {
    const e = error as { authenticationFailed?: unknown; serverResponseCode?: unknown; responseText?: unknown; response?: unknown };
    const said = [e.serverResponseCode, e.responseText ?? e.response].filter((x): x is string => typeof x === 'string' && x !== '').join(' ');
    if (said && !text.includes(said)) text = `${text}: ${said}`;
    if (e.authenticationFailed === true) text = `login refused (check the user and the password variable): ${text}`;
  }
  return redactAddresses(redactSecrets(text)).replace(/\s+/g, ' ').slice(0, 500);
}

/** Every recorded row (for `status`), keyed by "source\u0000mailbox". */
export function sourceStatusRows(store: Store): Map<string, SourceStatusRow> {
  const rows = store.db.prepare('SELECT * FROM source_status').all() as SourceStatusRow[];
  return new Map(rows.map((r) => [statusKey(r.source, r.mailbox), r]));
}

export function statusKey(source: string, mailbox: string): string {
  return `${source}\u0000${mailbox}`;
}
