/**
 * Source status: what each source (and folder) is doing, recorded by the source itself (this
 * file decides what and when; the SQL and the table's columns are in src/store/source-status.ts)
 * and read by `klagomal status` and the HTTP endpoint (src/ops/status.ts), which usually run in
 * another process. The table is the only channel between them.
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
import type { Store } from '../store/store';
import type { SourceStatusEvent, SourceStatusValues } from '../store/source-status';
import type { Clock } from '../util/clock';
import { toInstant } from '../util/clock';
import type { Logger } from '../util/log';
import { errorChain, redactAddresses } from '../util/log';
import { redactSecrets } from '../util/secrets';
import { STORAGE_FAILURE_PREFIX, storageFailure } from '../util/storage-error';

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

/** Records one source folder's status. One instance per source object; cheap to call. */
export class SourceStatusRecorder {
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
    /** The data folder: a failure to write there is recorded as such, which `status` reports at once. */
    private readonly dataDir: string | null = null,
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
    this.write('failed', { error: this.describe(error) });
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
    this.write('failedOnce', { error: this.describe(error) });
  }

  /** The stored error; a data folder that cannot be written says so first, with its fix (src/util/storage-error.ts). */
  private describe(error: unknown): string {
    const failure = this.dataDir ? storageFailure(error, this.dataDir) : null;
    return failure ? `${STORAGE_FAILURE_PREFIX}: ${describeError(error)}; ${failure.fix}` : describeError(error);
  }

  private write(event: SourceStatusEvent, values: SourceStatusValues): boolean {
    const now = this.clock();
    try {
      this.store.recordSourceStatus(event, this.source, this.mailbox, toInstant(now), values);
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
