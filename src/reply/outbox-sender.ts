/**
 * The outbox sender: works through queued mail with retries and exponential backoff.
 *
 * For each due mail, in this order:
 *   1. claim it in one transaction: status 'sending', attempts + 1, a lease (next_attempt_at =
 *      now + sendTimeoutSeconds, times the mails handed to one connection at once: see
 *      QUEUE_DEPTH) and an attempt row. The attempt is on disk before any byte goes on the wire
 *      (mox's rule), so a crash never causes a storm of repeats.
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
 * largest cost of a backlog. Step 3 of one mail and step 1 of the next mail the same worker
 * sends are one commit (issue 16): the claim is still on disk before that mail goes out, and a
 * result is committed no later than before.
 *
 * Results that come back together share one commit (GroupCommit below): each is recorded in
 * its own savepoint of a transaction that runs as soon as the event loop is done with the
 * callbacks ready at that moment, so no result waits for a later one. With the transport on
 * its own thread (src/reply/transport-thread.ts) a burst of results arrives while the main
 * thread files a batch; they were a commit each.
 *
 * Transitions: queued -> sending -> sent | queued (retry) | failed.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/config';
import type { Store, OutboxRow } from '../store/store';
import type { Transport } from './transport';
import { SendError } from './transport';
import { TO_CUSTOMER } from './mail';
import { markAddressFailing } from './bounces';
import type { Clock } from '../util/clock';
import { addSeconds, toInstant } from '../util/clock';
import type { Logger } from '../util/log';
import { addressForLog, errorChain, redactAddresses } from '../util/log';
import { relieveMemory } from '../util/memory';

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

/**
 * Transactions asked for in one turn of the event loop, committed together: each in its own
 * savepoint (a throw undoes only its own writes and reaches only its own caller), all in one
 * relaxed commit at the end of the turn (setImmediate).
 */
class GroupCommit {
  private queue: Array<{ fn: () => unknown; resolve: (v: unknown) => void; reject: (e: unknown) => void }> = [];

  constructor(private readonly store: Store) {}

  run<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.queue.push({ fn, resolve: resolve as (v: unknown) => void, reject }) === 1) setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    const queue = this.queue.splice(0);
    const settle: Array<() => void> = [];
    try {
      this.store.txRelaxed(() => {
        for (const item of queue) {
          try {
            const value = this.store.tx(item.fn); // a savepoint inside the commit
            settle.push(() => item.resolve(value));
          } catch (err) {
            // A full disk or an I/O error can make SQLite roll back the whole transaction, not
            // only the savepoint: then nothing of the group is recorded, and no later item
            // may run outside it and commit on its own.
            if (!this.store.db.inTransaction) throw err;
            settle.push(() => item.reject(err));
          }
        }
      });
    } catch (err) {
      // The commit itself failed, or the transaction was rolled back: nothing of the group is recorded.
      for (const item of queue) item.reject(err);
      return;
    }
    for (const s of settle) s();
  }
}

/**
 * Mails handed at once to a transport that queues (its own thread, an SMTP pool), per
 * connection: a connection that finishes a mail has the next one at hand instead of waiting
 * for the main thread, which may be filing a batch. Measured on the 5,000 backlog: depth 1
 * 16.0 s, 2 15.1 s, 4 13.6 s.
 */
export const QUEUE_DEPTH = 4;

export class OutboxSender {
  private readonly commits: GroupCommit;
  /** Mails in flight per connection (QUEUE_DEPTH, or 1 for a transport that does not queue). */
  private readonly depth: number;

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
  ) {
    this.commits = new GroupCommit(store);
    this.depth = transport.queues ? QUEUE_DEPTH : 1;
  }

  /** Send everything due now. Resolves when every claimed mail has a recorded result. */
  async sendDue(signal?: AbortSignal): Promise<SendPassResult> {
    const result: SendPassResult = { sent: 0, retried: 0, failed: 0 };
    for (;;) {
      if (signal?.aborted) break;
      const ids = this.store.dueOutbox(toInstant(this.clock()), 200);
      if (ids.length === 0) break;
      let next = 0;
      const take = (): number | undefined => (next < ids.length && !signal?.aborted ? ids[next++] : undefined);
      const worker = async (): Promise<void> => {
        let row = await this.commits.run(() => this.claimNext(take));
        while (row) {
          const done = await this.sendClaimed(row, take);
          if (done.outcome) result[done.outcome]++;
          row = done.next;
        }
      };
      // Every worker finishes before a failed round reports: the next round must not start while
      // this one's workers still claim (more mails would wait in the transport than the lease covers).
      const settled = await Promise.allSettled(Array.from({ length: Math.min(this.concurrency * this.depth, ids.length) }, worker));
      const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      relieveMemory(); // the round's composed mails are garbage now
    }
    return result;
  }

  /** One attempt for one mail. Returns what happened, or null when another sender had it. */
  async sendOne(id: number): Promise<keyof SendPassResult | null> {
    const row = this.store.txRelaxed(() => this.claim(id));
    return row ? (await this.sendClaimed(row, () => undefined)).outcome : null;
  }

  /**
   * Claim the next of `take`'s mails that can be claimed (null when none is left), in the
   * caller's transaction. That is the transaction recording the previous mail's result, when
   * there was one: one commit per mail instead of two (issue 16), and each claim still on disk
   * before its mail goes out.
   */
  private claimNext(take: () => number | undefined): OutboxRow | null {
    for (let id = take(); id !== undefined; id = take()) {
      const row = this.claim(id);
      if (row) return row;
    }
    return null;
  }

  /** Claim one mail, in the caller's transaction: null when someone else claimed it first or it is not due. */
  private claim(id: number): OutboxRow | null {
    const now = this.clock();
    // The lease covers the wait in the transport's queue too: up to `depth` sends on one
    // connection, each allowed outbox.sendTimeoutSeconds. Until it runs out no other sender
    // takes the mail, so a mail still waiting in the queue is never sent twice.
    const lease = addSeconds(now, this.config.outbox.sendTimeoutSeconds * this.depth);
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
  }

  /** Send a claimed mail and record the result; the next mail of `take` is claimed in the same commit. */
  private async sendClaimed(row: OutboxRow, take: () => number | undefined): Promise<{ outcome: keyof SendPassResult; next: OutboxRow | null }> {
    const caseNumber = row.case_id !== null ? this.store.caseNumberById(row.case_id) : undefined;
    const log = this.log.child({ case: caseNumber, outbox: row.id, kind: row.kind, to: addressForLog(row.to_address), attempt: row.attempts });

    let response: string;
    let refused: readonly string[] = [];
    try {
      ({ response, refused = [] } = await this.transport.send(row, this.original(row), this.store.outboxAttachments(row.id)));
    } catch (err) {
      const e = err instanceof SendError ? err : new SendError(errorChain(err), true);
      const ageHours = (this.clock().getTime() - new Date(row.retry_from ?? row.created_at).getTime()) / 3_600_000;
      const exhausted = ageHours >= this.config.outbox.giveUpAfterHours;
      if (e.inDoubt && exhausted) {
        // A mail whose sends keep ending in doubt (it kills the transport's thread) is given up
        // like any mail still failing after outbox.giveUpAfterHours: reported failed, never
        // resent for ever. Its attempts never finished are the sends in doubt, this one included.
        const inDoubt = this.store.outboxAttempts(row.id).filter((a) => a.finished_at === null).length;
        const why = `gave up after ${row.attempts} attempts over ${Math.round(ageHours)} hours, ${inDoubt} of them in doubt (the server may have taken the mail: check its log before \`klagomal outbox retry\`): ${e.message}`;
        const next = await this.record(row, 'failed', why, null, take);
        log.error('mail failed permanently', { error: redactAddresses(why) });
        return { outcome: 'failed', next };
      }
      if (e.inDoubt) {
        // Nothing is recorded: the mail stays claimed and goes again when its lease runs out, or
        // after the retry delay if that is later, so a mail that ends in doubt every time backs
        // off as a failing one does instead of going every lease.
        const delay = retryDelaySeconds(row.attempts, this.config.outbox.retryBaseSeconds, this.config.outbox.retryMaxSeconds);
        const notBefore = toInstant(addSeconds(this.clock(), delay));
        log.error('mail may or may not have been sent; it goes again after its lease or the retry delay, whichever is later', {
          error: redactAddresses(e.message),
          retryInSeconds: delay,
        });
        return {
          outcome: 'retried',
          next: await this.commits.run(() => {
            this.store.deferOutboxInDoubt(row.id, row.attempts, notBefore);
            return this.claimNext(take);
          }),
        };
      }
      if (!e.temporary || exhausted) {
        const why = e.temporary ? `gave up after ${row.attempts} attempts over ${Math.round(ageHours)} hours: ${e.message}` : e.message;
        const next = await this.record(row, 'failed', why, null, take, {
          addressRefused: e.badAddress && !e.temporary,
          copiesAccepted: e.copiesAccepted,
        });
        log.error('mail failed permanently', { error: redactAddresses(why) });
        return { outcome: 'failed', next };
      }
      const delay = retryDelaySeconds(row.attempts, this.config.outbox.retryBaseSeconds, this.config.outbox.retryMaxSeconds);
      const next = await this.record(row, 'retry', e.message, addSeconds(this.clock(), delay), take, { copiesAccepted: e.copiesAccepted });
      log.warn('mail send failed, will retry', { error: redactAddresses(e.message), retryInSeconds: delay });
      return { outcome: 'retried', next };
    }
    // The customer has the mail, a copy (Cc) was refused: sent, with the refusal on record in the
    // attempt's response and the mail-sent event, so the representative's missing copy is seen.
    if (refused.length) response = `${response}; copy refused: ${refused.join('; ')}`;
    // Outside the try: if recording the success fails (a full disk), the mail stays 'sending'
    // and is retried after its lease, the one documented repeat; it is never recorded as a
    // transport failure and resent at once.
    let next: OutboxRow | null;
    try {
      next = await this.record(row, 'sent', response, null, take, { refused });
    } catch (err) {
      log.error('mail was sent but could not be recorded as sent; it will be sent again after its lease', { error: errorChain(err) });
      throw err;
    }
    if (refused.length) log.warn('mail sent, but the server refused its copy (Cc)', { refused: redactAddresses(refused.join('; ')) });
    else log.info('mail sent');
    return { outcome: 'sent', next };
  }

  /** The inbound mail to attach, read from the store (or its file, for a large one). */
  private original(row: OutboxRow): Buffer | null {
    if (row.attach_inbound_id === null) return null;
    const inbound = this.store.inbound(row.attach_inbound_id);
    const raw = inbound ? this.store.rawMail(inbound.sha256) : undefined;
    if (!raw) {
      // A stored raw mail gone missing is lost evidence: a person must look (`klagomal reconcile` checks every hash).
      // One retention removed (retention.rawMailDays) is not, but the officer gets the notice without it.
      const removed = inbound !== undefined && this.store.rawMailRemoved(inbound.sha256);
      this.log.error(`the mail to attach is ${removed ? 'removed by retention' : 'missing from the store'}; sending without it`, {
        case: row.case_id !== null ? this.store.caseNumberById(row.case_id) : undefined,
        outbox: row.id,
        inbound: row.attach_inbound_id,
      });
      return null;
    }
    return 'bytes' in raw ? raw.bytes : fs.readFileSync(path.join(this.config.dataDir, raw.path));
  }

  /** Record the result of `row`'s attempt, and claim the next mail of `take` in the same transaction (null when none). */
  private record(
    row: OutboxRow,
    outcome: 'sent' | 'retry' | 'failed',
    response: string,
    nextAttemptAt: Date | null,
    take: () => number | undefined,
    extra: ResultExtra = {},
  ): Promise<OutboxRow | null> {
    const at = toInstant(this.clock());
    return this.commits.run(() => {
      this.recordResult(row, outcome, response, nextAttemptAt, at, extra);
      return this.claimNext(take);
    });
  }

  private recordResult(
    row: OutboxRow,
    outcome: 'sent' | 'retry' | 'failed',
    response: string,
    nextAttemptAt: Date | null,
    at: string,
    { refused = [], addressRefused = false, copiesAccepted = [] }: ResultExtra,
  ): void {
    const ours = this.store.finishOutboxAttempt(row.id, row.attempts, outcome, response, at, nextAttemptAt ? toInstant(nextAttemptAt) : null);
    // The server took the copy (Cc) while it refused the customer: the representative has the
    // mail, so a later attempt goes to the customer alone (recorded even when another sender
    // took the mail over: the copy went out all the same).
    if (copiesAccepted.length) this.store.addOutboxCopiesAccepted(row.id, copiesAccepted);
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
        ...(refused.length ? { copyRefused: refused } : {}),
        ...(copiesAccepted.length ? { copyAccepted: copiesAccepted } : {}),
      },
    });
    if (outcome === 'sent') {
      // The files went out with the mail: their content leaves the database (size and hash stay).
      this.store.blankOutboxAttachments(row.id);
      this.afterSent(row, at);
    }
    // A customer's address refused for good at RCPT TO for the address itself (5.1.x, see
    // SendError.badAddress): as after a permanent bounce (src/reply/bounces.ts), no more
    // automatic mail goes to it for loop.bouncingAddressDays, and the case shows it, so that an
    // officer reaches the customer another way. Not a staff address (TO_CUSTOMER).
    if (outcome === 'failed' && addressRefused && TO_CUSTOMER[row.kind])
      markAddressFailing(this.store, this.config, {
        address: row.to_address,
        at,
        reason: `refused by the SMTP server for ${row.kind} ${row.message_id}`,
        caseId: row.case_id,
        outboxId: row.id,
        actor: 'sender',
        detail: { refusedAtSend: true },
      });
  }
}

/**
 * What a result carries besides its outcome: the copies refused (sent), the customer's address
 * refused for good (failed), the copies taken while the customer was refused (retry, failed).
 */
interface ResultExtra {
  readonly refused?: readonly string[];
  readonly addressRefused?: boolean;
  readonly copiesAccepted?: readonly string[];
}
