/**
 * The outbox sender: works through queued mail with retries and exponential backoff.
 *
 * For each due mail, in this order:
 *   1. claim it in one transaction: status 'sending', attempts + 1, a lease (next_attempt_at =
 *      now + sendTimeoutSeconds) and an attempt row. The attempt is on disk before any byte
 *      goes on the wire (mox's rule), so a crash never causes a storm of repeats.
 *   2. hand it to the transport.
 *   3. record the result: 'sent' (with the server's response), or back to 'queued' with the
 *      next attempt time (temporary error), or 'failed' (permanent error or attempts used up),
 *      each as an event on the case.
 * A crash between 2 and 3 leaves the mail 'sending' with a lease; when the lease runs out the
 * mail is due again and is sent once more. That is the only way a mail can be sent twice: the
 * window between the server accepting the mail and step 3 committing (see README, "Crash safety").
 *
 * Steps 1 and 3 commit without fsync (Store.txRelaxed): a killed process loses neither, and a
 * power loss that rolls one back costs at most the same repeat. Two fsyncs per mail were the
 * largest cost of a backlog.
 *
 * Transitions: queued -> sending -> sent | queued (retry) | failed.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/config';
import type { Store, OutboxRow } from '../store/store';
import type { Transport } from './transport';
import { SendError } from './transport';
import type { Clock } from '../util/clock';
import { addSeconds, toInstant } from '../util/clock';
import type { Logger } from '../util/log';
import { addressForLog, errorChain, redactAddresses } from '../util/log';

export interface SendPassResult {
  sent: number;
  retried: number;
  failed: number;
}

/**
 * Delay before attempt n+1 after n failed attempts: base * 2^(n-1) with ±20 % jitter (so that
 * mails that failed together do not retry together), never more than `maxSeconds`.
 */
export function retryDelaySeconds(attempts: number, baseSeconds: number, maxSeconds: number, random: () => number = Math.random): number {
  const raw = baseSeconds * 2 ** Math.max(0, attempts - 1);
  return Math.max(1, Math.min(maxSeconds, Math.round(raw * (0.8 + 0.4 * random()))));
}

export class OutboxSender {
  constructor(
    private readonly store: Store,
    private readonly transport: Transport,
    private readonly config: Config,
    private readonly clock: Clock,
    private readonly log: Logger,
    /** Called in the transaction that records a mail as sent (milestones met by sending). */
    private readonly afterSent: (row: OutboxRow, at: string) => void = () => undefined,
    /** Sends running at once (the SMTP pool size; pickup writes are quick anyway). */
    private readonly concurrency = config.transport.type === 'smtp' ? config.transport.maxConnections : 2,
  ) {}

  /** Send everything due now. Resolves when every claimed mail has a recorded result. */
  async sendDue(signal?: AbortSignal): Promise<SendPassResult> {
    const result: SendPassResult = { sent: 0, retried: 0, failed: 0 };
    for (;;) {
      if (signal?.aborted) break;
      const ids = this.store.dueOutbox(toInstant(this.clock()), 200);
      if (ids.length === 0) break;
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < ids.length && !signal?.aborted) {
          const id = ids[next++];
          const outcome = await this.sendOne(id);
          if (outcome) result[outcome]++;
        }
      };
      await Promise.all(Array.from({ length: Math.min(this.concurrency, ids.length) }, worker));
    }
    return result;
  }

  /** One attempt for one mail. Returns what happened, or null when another sender had it. */
  async sendOne(id: number): Promise<keyof SendPassResult | null> {
    const now = this.clock();
    const lease = addSeconds(now, this.config.outbox.sendTimeoutSeconds);
    const row = this.store.txRelaxed(() => {
      const claimed = this.store.claimOutbox(id, toInstant(now), toInstant(lease));
      if (claimed && claimed.attempts > 1) {
        this.store.appendEvent({
          at: toInstant(now),
          caseId: claimed.case_id,
          outboxId: id,
          actor: 'sender',
          type: 'mail-send-attempt',
          detail: { kind: claimed.kind, attempt: claimed.attempts },
        });
      }
      return claimed;
    });
    if (!row) return null;
    const caseNumber = row.case_id !== null ? this.store.caseById(row.case_id)?.number : undefined;
    const log = this.log.child({ case: caseNumber, outbox: row.id, kind: row.kind, to: addressForLog(row.to_address), attempt: row.attempts });

    let response: string;
    try {
      response = (await this.transport.send(row, this.original(row), this.store.outboxAttachments(row.id))).response;
    } catch (err) {
      const e = err instanceof SendError ? err : new SendError(errorChain(err), true);
      const ageHours = (this.clock().getTime() - new Date(row.retry_from ?? row.created_at).getTime()) / 3_600_000;
      const exhausted = ageHours >= this.config.outbox.giveUpAfterHours;
      if (!e.temporary || exhausted) {
        const why = e.temporary ? `gave up after ${row.attempts} attempts over ${Math.round(ageHours)} hours: ${e.message}` : e.message;
        this.record(row, 'failed', why, null);
        log.error('mail failed permanently', { error: redactAddresses(why) });
        return 'failed';
      }
      const delay = retryDelaySeconds(row.attempts, this.config.outbox.retryBaseSeconds, this.config.outbox.retryMaxSeconds);
      this.record(row, 'retry', e.message, addSeconds(this.clock(), delay));
      log.warn('mail send failed, will retry', { error: redactAddresses(e.message), retryInSeconds: delay });
      return 'retried';
    }
    // Outside the try: if recording the success fails (a full disk), the mail stays 'sending'
    // and is retried after its lease, the one documented repeat; it is never recorded as a
    // transport failure and resent at once.
    try {
      this.record(row, 'sent', response, null);
    } catch (err) {
      log.error('mail was sent but could not be recorded as sent; it will be sent again after its lease', { error: errorChain(err) });
      throw err;
    }
    log.info('mail sent');
    return 'sent';
  }

  /** The inbound mail to attach, read from the store (or its file, for a large one). */
  private original(row: OutboxRow): Buffer | null {
    if (row.attach_inbound_id === null) return null;
    const inbound = this.store.inbound(row.attach_inbound_id);
    const raw = inbound ? this.store.rawMail(inbound.sha256) : undefined;
    if (!raw) {
      // A stored raw mail gone missing is lost evidence: a person must look (`klagomal reconcile` checks every hash).
      this.log.error('the mail to attach is missing from the store; sending without it', {
        case: row.case_id !== null ? this.store.caseById(row.case_id)?.number : undefined,
        outbox: row.id,
        inbound: row.attach_inbound_id,
      });
      return null;
    }
    return 'bytes' in raw ? raw.bytes : fs.readFileSync(path.join(this.config.dataDir, raw.path));
  }

  private record(row: OutboxRow, outcome: 'sent' | 'retry' | 'failed', response: string, nextAttemptAt: Date | null): void {
    const at = toInstant(this.clock());
    this.store.txRelaxed(() => {
      const ours = this.store.finishOutboxAttempt(row.id, row.attempts, outcome, response, at, nextAttemptAt ? toInstant(nextAttemptAt) : null);
      if (!ours) return; // the lease ran out and another sender took over; its result counts
      this.store.appendEvent({
        at,
        caseId: row.case_id,
        outboxId: row.id,
        actor: 'sender',
        type: outcome === 'sent' ? 'mail-sent' : outcome === 'retry' ? 'mail-send-retry' : 'mail-send-failed',
        fromState: 'sending',
        toState: outcome === 'sent' ? 'sent' : outcome === 'retry' ? 'queued' : 'failed',
        detail: {
          kind: row.kind,
          attempt: row.attempts,
          messageId: row.message_id,
          ...(outcome === 'sent' ? { response } : { error: response }),
          ...(nextAttemptAt ? { nextAttemptAt: toInstant(nextAttemptAt) } : {}),
        },
      });
      if (outcome === 'sent') {
        // The files went out with the mail: their content leaves the database (size and hash stay).
        this.store.blankOutboxAttachments(row.id);
        this.afterSent(row, at);
      }
    });
  }
}
