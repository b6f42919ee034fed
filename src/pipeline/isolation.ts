/**
 * Isolated attempts: a mail that was being processed when a process died is tried again in a
 * child process, where its death cannot take the service down (issue 17: one poison mail
 * crashed the service four times and two such mails eight times in a row, past systemd's start
 * limit, and no acknowledgement left meanwhile).
 *
 * Why a child process and not a worker thread: a worker's resourceLimits bound only the V8
 * heap, while Buffers (mailparser's chunks, attachments) live outside it; a native crash or an
 * abort in a worker still ends the whole process; and a process can be killed, with all its
 * memory returned, whatever it is doing. The price, a start of 1-2 s (loading the modules,
 * checking the templates), is paid only after a crash, once for all the mails that were in
 * flight (they go through one child, one at a time, each in its own transaction).
 *
 * Protocol (IPC, structured clone): the parent sends `init` (the Config), the child answers
 * `ready`; then per mail the parent sends `mail` (inbound id, the state it must be in, the
 * instant to file it at) and the child answers `result` once the mail is filed or quarantined
 * and committed. A child that dies, runs out of heap (--max-old-space-size) or is killed at the
 * time limit while a mail is in it has died on that mail: the caller quarantines it. A child
 * that dies before `ready` has not seen any mail: that is an error of the pass, not the mail's.
 *
 * The child's log lines are passed on to our stderr line by line; the last of them tell what
 * killed it (V8 prints "JavaScript heap out of memory" before it aborts).
 */
import { fork, ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/config';
import type { ProcessResult } from './processor';
import { packageRoot } from '../util/package-root';
import { StorageError, StorageFailure } from '../util/storage-error';

export interface IsolationLimits {
  /** V8 heap limit of the child, MB (processing.isolatedHeapMb). */
  readonly heapMb: number;
  /** Time limit per mail, seconds (processing.isolatedSeconds). */
  readonly seconds: number;
}

/** The state a mail must still be in for the child to process it: queued, or quarantined (a retry). */
export type IsolatedState = 'stored' | 'quarantined';

export type ToChild =
  | { readonly type: 'init'; readonly config: Config; readonly prettyLogs: boolean }
  | { readonly type: 'mail'; readonly id: number; readonly state: IsolatedState; readonly now: string };

export type FromChild =
  | { readonly type: 'ready' }
  | { readonly type: 'result'; readonly id: number; readonly result: ProcessResult | null }
  | { readonly type: 'error'; readonly message: string; readonly storage?: StorageFailure };

/** What became of one mail in the child: processed (filed, quarantined, or already taken by someone else: null), or the child died on it. */
export type IsolatedOutcome = { readonly kind: 'done'; readonly result: ProcessResult | null } | { readonly kind: 'died'; readonly why: string };

/** The isolated child could not start or failed outside any mail: the pass fails, no mail is blamed. */
export class IsolationError extends Error {}

/** The compiled child module (dist/src/pipeline/isolated-child.js), also when this file runs from src/ under ts-jest. */
function childModule(): string {
  const beside = path.join(__dirname, 'isolated-child.js');
  if (fs.existsSync(beside)) return beside;
  const built = path.join(packageRoot(), 'dist', 'src', 'pipeline', 'isolated-child.js');
  if (fs.existsSync(built)) return built;
  throw new IsolationError(`the isolated processor ${built} is not built: run \`npm run build\``);
}

const TAIL_CHARS = 4096;

export class IsolatedProcessor {
  private child: ChildProcess | null = null;
  private tail = '';
  private pendingLine = '';
  private exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: string }> | null = null;
  private listener: ((m: FromChild) => void) | null = null;

  constructor(
    private readonly config: Config,
    readonly limits: IsolationLimits,
  ) {}

  /** Process one mail in the child (started on first use). Never throws for the mail's own failures. */
  async run(id: number, state: IsolatedState, now: Date): Promise<IsolatedOutcome> {
    const child = await this.start();
    const died = this.exit!;
    let timer: NodeJS.Timeout | undefined;
    const answer = new Promise<FromChild>((resolve) => {
      this.listener = resolve;
    });
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.limits.seconds * 1000);
    });
    child.send({ type: 'mail', id, state, now: now.toISOString() } satisfies ToChild);
    try {
      const first = await Promise.race([answer, died, timedOut]);
      if (first === 'timeout') {
        child.kill('SIGKILL');
        await died;
        this.child = null;
        return { kind: 'died', why: `took longer than ${this.limits.seconds} s and was stopped` };
      }
      if ('type' in first) {
        if (first.type === 'result') return { kind: 'done', result: first.result };
        this.stop();
        // The data folder, not the mail, failed in the child: the caller takes the attempt back.
        if (first.type === 'error' && first.storage) throw new StorageError(first.storage, new Error(first.message));
        throw new IsolationError(`the isolated processor failed: ${first.type === 'error' ? first.message : first.type}`);
      }
      this.child = null;
      return { kind: 'died', why: this.describeDeath(first.code, first.signal) };
    } finally {
      clearTimeout(timer);
      this.listener = null;
    }
  }

  /** End the child (it exits when its IPC channel closes). */
  stop(): void {
    const child = this.child;
    this.child = null;
    if (child?.connected) child.disconnect();
  }

  /** Start the child (once; again after it died) and wait for it to be ready. Throws IsolationError when it cannot start. */
  async start(): Promise<ChildProcess> {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) return this.child;
    this.tail = '';
    this.pendingLine = '';
    const child = fork(childModule(), [], {
      execArgv: [`--max-old-space-size=${this.limits.heapMb}`],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    this.child = child;
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => this.relay(chunk));
    // 'close', not 'exit': it comes after the child's stderr has been read to the end, so that
    // the last lines (V8's "heap out of memory") are there to tell why it died.
    this.exit = new Promise((resolve) => {
      child.once('close', (code, signal) => resolve({ code, signal }));
      // A process that could not be created at all (no memory, no process slots) never closes.
      child.once('error', (err) => child.pid === undefined && resolve({ code: null, signal: null, error: err.message }));
    });
    child.on('message', (m: FromChild) => this.listener?.(m));
    child.on('error', () => undefined); // a failed send shows as the exit; a failed fork above
    const started = new Promise<FromChild>((resolve) => {
      this.listener = resolve;
    });
    child.send({ type: 'init', config: this.config, prettyLogs: Boolean(process.stderr.isTTY) } satisfies ToChild);
    const first = await Promise.race([started, this.exit]);
    this.listener = null;
    if ('type' in first && first.type === 'ready') return child;
    this.stop();
    throw new IsolationError(
      `the isolated processor did not start: ${'type' in first ? (first.type === 'error' ? first.message : first.type) : (first.error ?? this.describeDeath(first.code, first.signal))}`,
    );
  }

  /** The child's stderr to ours, whole lines only; the last few KB kept to tell why it died. */
  private relay(chunk: string): void {
    this.tail = (this.tail + chunk).slice(-TAIL_CHARS);
    const lines = (this.pendingLine + chunk).split('\n');
    this.pendingLine = (lines.pop() ?? '').slice(-TAIL_CHARS);
    for (const line of lines) process.stderr.write(`${line}\n`);
  }

  private describeDeath(code: number | null, signal: NodeJS.Signals | null): string {
    if (/heap out of memory|Reached heap limit/i.test(this.tail)) return 'ran out of memory';
    if (signal) return `died (signal ${signal})`;
    return `exited with code ${code}`;
  }
}
