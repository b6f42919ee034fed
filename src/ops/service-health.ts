/**
 * The service's own signs of life for `status`, which runs in another process and reads them
 * from the database (meta rows; the SQL is the store's):
 *
 *  - a heartbeat every HEARTBEAT_SECONDS while `klagomal start` runs, and a clean-stop mark.
 *    A source writes only when it scans or reconnects (a slow poll: minutes), so before this a
 *    service killed with -9 looked alive for three minutes; a heartbeat older than
 *    SERVICE_STALE_SECONDS without a clean stop now says "killed" within a minute.
 *  - a stage that cannot write to the data folder (processing, src/util/storage-error.ts): since
 *    when, the error and the fix, cleared when the stage writes again. `status` is red meanwhile.
 *
 * A failed write here is logged once and ignored: a full disk must not stop the service, and
 * `status` then sees the free space itself.
 */
import type { Store } from '../store/store';
import type { Clock } from '../util/clock';
import { toInstant } from '../util/clock';
import type { Logger } from '../util/log';
import { errorChain } from '../util/log';
import type { StorageFailure } from '../util/storage-error';

/** How often the running service writes its heartbeat. */
export const HEARTBEAT_SECONDS = 10;
/** A heartbeat older than this, without a clean stop: the service is not running (killed, hung). */
export const SERVICE_STALE_SECONDS = 45;

const HEARTBEAT = 'service.heartbeatAt';
const STOPPED = 'service.stoppedAt';
const storageKey = (part: string): string => `storage.failing.${part}`;

export interface ServiceHealthRead {
  readonly heartbeatAt: string | null;
  readonly stoppedAt: string | null;
}

export interface StorageFailingRead {
  readonly part: string;
  readonly since: string;
  readonly error: string;
  readonly fix: string;
}

/** The service's heartbeat and clean-stop mark as recorded (null: no service wrote one, e.g. an older version). */
export function readServiceHealth(store: Store): ServiceHealthRead {
  return { heartbeatAt: store.meta(HEARTBEAT) || null, stoppedAt: store.meta(STOPPED) || null };
}

/** The stages that cannot write to the data folder, as recorded. */
export function readStorageFailing(store: Store, parts: readonly string[] = ['processing']): StorageFailingRead[] {
  return parts.flatMap((part) => {
    const v = store.meta(storageKey(part));
    if (!v) return [];
    try {
      const o = JSON.parse(v) as { since: string; error: string; fix: string };
      return [{ part, since: o.since, error: o.error, fix: o.fix }];
    } catch {
      return [];
    }
  });
}

export class ServiceHealth {
  private timer: NodeJS.Timeout | null = null;
  private warned = false;
  /** The stages failing now, by part (so that a run of failures is logged and recorded once). */
  private readonly failing = new Map<string, StorageFailure>();

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /** Beat now and every HEARTBEAT_SECONDS until stop(). */
  start(): void {
    this.write(() => {
      this.store.setMeta(HEARTBEAT, toInstant(this.clock()));
      this.store.setMeta(STOPPED, '');
    });
    this.timer = setInterval(() => this.write(() => this.store.setMeta(HEARTBEAT, toInstant(this.clock()))), HEARTBEAT_SECONDS * 1000);
    this.timer.unref();
  }

  /** A clean stop: `status` says stopped, not killed. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.write(() => this.store.setMeta(STOPPED, toInstant(this.clock())));
  }

  /** A stage could not write to the data folder. True the first time of a run of failures (the caller logs it at error then). */
  storageFailed(part: string, failure: StorageFailure, error: string): boolean {
    if (this.failing.has(part)) return false;
    this.failing.set(part, failure);
    const value = JSON.stringify({ since: toInstant(this.clock()), error, fix: failure.fix });
    this.write(() => this.store.setMeta(storageKey(part), value));
    return true;
  }

  /** The stage wrote again. True when it had been failing (the caller logs the recovery). */
  storageWorks(part: string): boolean {
    // Also clears a mark a killed service left behind.
    if (!this.failing.delete(part) && !this.store.meta(storageKey(part))) return false;
    this.write(() => this.store.setMeta(storageKey(part), ''));
    return true;
  }

  private write(f: () => void): void {
    try {
      this.store.txRelaxed(f);
      this.warned = false;
    } catch (err) {
      if (!this.warned) this.log.warn('cannot record the service status', { error: errorChain(err) });
      this.warned = true;
    }
  }
}
