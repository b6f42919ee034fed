/**
 * What every mail source offers the service. A source finds new mail, hands it to the intake
 * (raw bytes committed first), then marks it taken at the source. Triggers (IDLE, fs.watch,
 * timers) only ask for a scan; the scan from the stored cursor is the truth.
 */
export interface PollStats {
  /** Mails newly stored by this scan. */
  readonly stored: number;
  /** Mails seen again that were stored before (finished marking after a crash, or a re-listing). */
  readonly alreadyStored: number;
}

export interface MailSource {
  readonly name: string;
  /** One scan: store what is new and mark it. Throws on connection or server errors. */
  pollOnce(): Promise<PollStats>;
  /**
   * Run until `signal` aborts: scan on start, on every hint and every poll interval, and
   * reconnect with backoff after failures. `onStored` is called after each batch commits.
   */
  run(signal: AbortSignal, onStored: () => void): Promise<void>;
}
