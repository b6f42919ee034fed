/**
 * A level-triggered wake-up signal for the service loops. A trigger (IDLE notice, fs.watch,
 * a finished batch) only *asks* a loop to scan; the scan reads the truth from the store or the
 * server. Triggers that arrive while the loop is busy are remembered, never lost, and many
 * triggers collapse into one scan.
 */
export class Wakeup {
  private pending = false;
  private waiter: (() => void) | null = null;

  /** Ask the loop to run again. Cheap; safe to call from any callback. */
  notify(): void {
    this.pending = true;
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  /** Resolves when notified (or at once if a notice is pending), after `timeoutMs`, or on abort. */
  wait(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.pending || signal?.aborted) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', finish);
        if (this.waiter === finish) this.waiter = null;
        this.pending = false;
        resolve();
      };
      const timer = setTimeout(finish, Math.max(0, timeoutMs));
      signal?.addEventListener('abort', finish, { once: true });
      this.waiter = finish;
    });
  }
}

/**
 * One shutdown signal for many loops, with one listener on it. Each loop (a source, the
 * processor, the sender, a schedule, the HTTP endpoint) waits on a child signal of its own,
 * aborted with the shared one. Waiting on the shared signal directly put one listener per
 * waiting loop on it: two mailboxes with their Sent folders and HTTP on are more than Node's
 * limit of ten, which printed a MaxListenersExceededWarning (plain text, not a log line).
 * Raising the limit would hide a real leak later; this keeps each signal's listeners to its loop's.
 */
export class SignalFanout {
  private readonly children = new Set<AbortController>();

  constructor(private readonly signal: AbortSignal) {
    signal.addEventListener('abort', () => this.children.forEach((c) => c.abort(signal.reason)), { once: true });
  }

  /** A signal for one loop: aborted when the shared one is (at once, when it already is). */
  child(): AbortSignal {
    const c = new AbortController();
    if (this.signal.aborted) c.abort(this.signal.reason);
    else this.children.add(c);
    return c.signal;
  }
}
