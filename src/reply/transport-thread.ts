/**
 * A transport on its own thread (issue 16). Composing a mail's MIME with nodemailer and writing
 * it to the SMTP connection took a fifth of the service's main thread on a backlog, while the
 * machine's second core idled; a pickup folder's fsync per mail blocked the main thread too.
 * On a worker thread both run beside filing.
 *
 * Only `send` and `verify` move. The outbox sender still claims each mail (its attempt on
 * disk) before handing it over and records the result when it comes back, on the main thread
 * and its database connection, so the outbox's rules (src/reply/outbox-sender.ts) are unchanged.
 * A worker that dies leaves its sends in flight in doubt (SendError.inDoubt): the server may
 * have taken them, so the sender records nothing and each goes again when its lease runs out,
 * as after a crash of the process.
 *
 * Not for OAuth2 (SMTP XOAUTH2, Graph): their logins share a token cache with the mailboxes and
 * record token events in the store (src/auth), which belong to the main thread.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { TransportConfig } from '../config/config';
import type { OutboxAttachmentRow, OutboxRow } from '../store/store';
import { SendError, SendResult, Transport } from './transport';
import { registerSecret } from '../util/secrets';

/** What the worker answers: a result, or an error with its classification (src/reply/transport-worker.ts). */
export type WorkerAnswer =
  | { id: number; response: string; refused?: readonly string[] }
  | {
      id: number;
      error: { message: string; temporary: boolean; responseCode?: number; badAddress?: boolean; copiesAccepted?: readonly string[] };
    };

/** What the main thread asks. */
export type WorkerRequest =
  { id: number; op: 'send'; row: OutboxRow; original: Buffer | null; files: readonly OutboxAttachmentRow[] } | { id: number; op: 'verify' };

const WORKER_FILE = path.join(__dirname, 'transport-worker.js');

/**
 * The transport of `cfg` on a worker thread, or null where it must stay on the main thread:
 * OAuth2 logins (see above), or klagomal run from its TypeScript sources (ts-jest), which have
 * no compiled worker file to start.
 */
export function threadedTransport(cfg: TransportConfig, env: NodeJS.ProcessEnv = process.env): Transport | null {
  if (cfg.type === 'graph' || (cfg.type === 'smtp' && cfg.auth)) return null;
  if (!fs.existsSync(WORKER_FILE)) return null;
  // The thread registers the password for its own redaction; this thread's log lines and error
  // texts (an error the thread could not classify, the thread's own end) need it too.
  if (cfg.type === 'smtp' && cfg.passwordEnv) registerSecret(env[cfg.passwordEnv]);
  return new ThreadedTransport(cfg);
}

class ThreadedTransport implements Transport {
  readonly name: string;
  readonly queues = true; // messages wait on the thread
  /** The thread new sends go to: started on first use, and again after one died or was closed. */
  private worker: Worker | null = null;
  /** Sends not yet answered, each with the thread it went to (a closed thread still answers its own). */
  private readonly pending = new Map<number, { resolve: (r: SendResult) => void; reject: (e: SendError) => void; worker: Worker }>();
  private nextId = 1;

  constructor(private readonly cfg: TransportConfig) {
    this.name = cfg.type;
  }

  private thread(): Worker {
    if (this.worker) return this.worker;
    // The worker reads the password from its copy of the environment (transport.passwordEnv),
    // as the main thread would: no secret travels in workerData.
    // A small young generation: each composed mail is garbage at once, and the thread's own heap
    // adds to the service's RSS (50,000 backlog: peak 275 MB with V8's default, 258 MB with 8 MB,
    // at the same speed). Large attachments live outside it and are not limited.
    const worker = new Worker(WORKER_FILE, { workerData: { cfg: this.cfg }, resourceLimits: { maxYoungGenerationSizeMb: 8 } });
    worker.unref(); // held only while a send is in flight (call)
    worker.on('message', (m: WorkerAnswer) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.settled(m.id, worker);
      if ('error' in m)
        p.reject(new SendError(m.error.message, m.error.temporary, m.error.responseCode, false, m.error.badAddress ?? false, m.error.copiesAccepted ?? []));
      else p.resolve({ response: m.response, ...(m.refused ? { refused: m.refused } : {}) }); // refused: a Cc the server would not take
    });
    const died = (why: string): void => {
      if (this.worker === worker) this.worker = null;
      for (const [id, p] of [...this.pending]) {
        if (p.worker !== worker) continue;
        this.settled(id, worker);
        p.reject(new SendError(`the transport thread stopped: ${why}`, true, undefined, true));
      }
    };
    worker.on('error', (err) => died(err.message));
    worker.on('exit', (code) => died(`exit code ${code}`));
    this.worker = worker;
    return worker;
  }

  private busy(worker: Worker): boolean {
    for (const p of this.pending.values()) if (p.worker === worker) return true;
    return false;
  }

  private settled(id: number, worker: Worker): void {
    this.pending.delete(id);
    if (!this.busy(worker)) worker.unref();
  }

  private call(request: WorkerRequest): Promise<SendResult> {
    const worker = this.thread();
    return new Promise((resolve, reject) => {
      if (!this.busy(worker)) worker.ref();
      this.pending.set(request.id, { resolve, reject, worker });
      try {
        worker.postMessage(request);
      } catch (err) {
        // Not sent at all (a value the thread cannot be given): this mail's temporary error.
        this.settled(request.id, worker);
        reject(new SendError(`the mail could not be handed to the transport thread: ${(err as Error).message}`, true));
      }
    });
  }

  async verify(): Promise<void> {
    await this.call({ id: this.nextId++, op: 'verify' });
  }

  send(row: OutboxRow, original?: Buffer | null, files: readonly OutboxAttachmentRow[] = []): Promise<SendResult> {
    return this.call({ id: this.nextId++, op: 'send', row, original: original ?? null, files });
  }

  /**
   * The thread closes its connections (SMTP QUIT) and ends once its sends in flight have
   * answered (a thread that ends first leaves them in doubt); a later send starts a new one.
   */
  close(): void {
    const worker = this.worker;
    if (!worker) return;
    this.worker = null;
    worker.postMessage({ op: 'close' });
  }
}
