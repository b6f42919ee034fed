/**
 * The processor: stored raw mail -> parsed -> classified -> filed, in batches.
 *
 * Input: inbound rows in state 'stored' (written by the sources or `klagomal ingest`).
 * Output: each row 'filed' with its kind, or 'quarantined' with its error. Never both, never
 * neither: a mail that throws anywhere (parser, classifier, filing, template) is quarantined
 * with its raw bytes kept, and the batch goes on with the next mail (Zammad #2754 is the
 * failure this prevents: one bad mail blocking the mailbox).
 *
 * Parsing is async (attachments stream to disk) and happens outside the database transaction;
 * filing a batch is one transaction, each mail in its own savepoint, so one mail's failure
 * rolls back only that mail. Batches are capped by count and by bytes to bound memory.
 *
 * A mail that kills the process (out of memory, a native crash, a kill while it is read) throws
 * nothing we could catch. The processing attempts of a batch are counted and committed before
 * its first mail is parsed, so after a restart every mail of the batch that was in flight is
 * known (attempts > 0, still stored). Those are never processed in this process again: each is
 * tried once more alone in an isolated child process (src/pipeline/isolation.ts) with a heap
 * and a time limit, and quarantined if that attempt dies too. So a poison mail costs at most
 * one crash of the service, and the innocent mails of its batch are filed by their isolated
 * attempt.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/config';
import type { InboundRow, Store } from '../store/store';
import type { TemplateRenderer } from '../reply/templates';
import type { Calendars } from '../deadlines/deadlines';
import type { Clock } from '../util/clock';
import { toInstant } from '../util/clock';
import type { Logger } from '../util/log';
import { errorChain, redactAddresses } from '../util/log';
import { parseMail, ParsedMail } from '../parse/parse';
import { fileMail, FilingContext, FilingResult } from '../cases/filing';
import { classify } from '../classify/classify';
import { maskMail } from '../parse/mask-mail';
import { gatherFacts } from './facts';
import { HourlyAcknowledgements } from '../reply/acknowledge';
import { actOnMail } from './act';
import { IsolatedProcessor, IsolatedState, IsolationLimits } from './isolation';
import { StorageError, StorageFailure, storageFailure } from '../util/storage-error';
import { relieveMemory } from '../util/memory';
import { DocumentReader } from '../documents/reader';
import { AttachmentReading, readAttachedDocuments } from '../documents/stage';

export interface QuarantineResult {
  readonly inboundId: number;
  readonly kind: 'quarantined';
  readonly stage: 'process' | 'parse' | 'file';
  readonly error: string;
}

/**
 * Backstop: a mail whose processing was started this many times without finishing is
 * quarantined without another try. Starts: once in a batch; once alone in isolation after the
 * process died with it in flight; once more only if the service itself stopped (a restart, a
 * kill) while that isolated attempt ran. An isolated attempt that dies quarantines the mail at
 * once, so this is reached only when the service keeps dying for another reason.
 */
export const MAX_PROCESSING_ATTEMPTS = 3;

export type ProcessResult = FilingResult | QuarantineResult;

/** A processing pass: until `signal`, over the mails of `only` (all pending ones without it). */
export interface PassOptions {
  readonly signal?: AbortSignal;
  readonly only?: ReadonlySet<number>;
}

const MAX_BATCH_BYTES = 32 * 1024 * 1024;

/**
 * One mail along the stages, in the order it takes them, inside the caller's transaction (its
 * attached documents were read before, outside it: `documents`, see processBatch):
 *
 *   (documents, before: the attachments read as documents, bounded, src/documents/stage.ts)
 *   mask      personnummer never reach a stored or sent text (src/parse/personnummer.ts); only
 *             the number itself is read from the clear mail, to be sealed on its case
 *   facts     what the store knows about it (src/pipeline/facts.ts): reads only
 *   classify  its kind and why, a pure decision (src/classify/classify.ts)
 *   file      the records: duplicate, new case, follow-up, ... (src/cases/filing.ts)
 *   act       officer commands | forgery notice | bounce | acknowledgement and notification
 *             (src/pipeline/act.ts -> src/officers/, src/reply/)
 */
export function processMail(
  ctx: FilingContext,
  inbound: InboundRow,
  parsed: ParsedMail,
  now: Date,
  documents: readonly AttachmentReading[] = [],
): FilingResult {
  // Against the arrival, not the sender's Date header: a personnummer is only one if its birth
  // date is not after the reference, and a mail dated 2000 (a phone with its clock reset) kept
  // every 12-digit number of someone born since in clear. An import's arrival is its Date header.
  const mail = maskMail(parsed, new Date(inbound.received_at));
  const facts = gatherFacts(ctx.store, inbound, mail, ctx.config, now);
  const decision = classify(mail, facts, ctx.config.firm);
  const filed = fileMail(ctx, inbound, mail, parsed, decision, facts, now, documents);
  const acted = actOnMail(ctx, filed, now);
  return { ...filed.result, acknowledgementQueued: acted.acknowledgementQueued };
}

/** A mail of a batch: parsed, with its documents read, or the reason it could not be. */
type BatchEntry = { row: InboundRow; mail: ParsedMail; documents: AttachmentReading[] } | { row: InboundRow; error: string; stage: 'process' | 'parse' };
/** A mail of a batch that the data folder failed (full, not writable): not the mail's failure. */
type StorageFailed = { row: InboundRow; failure: StorageFailure; err: unknown };

export class Processor {
  private readonly documents: DocumentReader;

  constructor(
    private readonly store: Store,
    private readonly config: Config,
    private readonly templates: TemplateRenderer,
    private readonly calendars: Calendars,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    this.documents = new DocumentReader(config.documents);
  }

  /**
   * Process every pending mail. `onResult` sees each outcome as soon as its batch commits; the
   * outcomes are returned only to a caller without one. Kept for the whole pass, they were the
   * one thing that grew with a backlog (issue 16: ~0.4 KB a mail, 20 MB of live heap by the end
   * of a 50,000 backlog in the service's loop, which needs none of them).
   */
  processPending(opts: PassOptions & { onResult: (r: ProcessResult) => void }): Promise<void>;
  processPending(opts?: PassOptions): Promise<ProcessResult[]>;
  async processPending(opts: PassOptions & { onResult?: (r: ProcessResult) => void } = {}): Promise<ProcessResult[] | void> {
    const all: ProcessResult[] = [];
    const size = this.config.processing.batchSize;
    const report = opts.onResult ?? ((r: ProcessResult): void => void all.push(r));
    for (;;) {
      if (opts.signal?.aborted) break;
      const pending = opts.only ? this.store.pendingInboundIn([...opts.only]).slice(0, size) : this.store.pendingInbound(size);
      if (pending.length === 0) break;
      // Fresh mails first, in a batch; the mails that were in flight when a process stopped (by
      // the store's order, after the fresh ones) each alone, in isolation: a mail which kills
      // the process can neither do it again nor take its batch neighbours with it.
      const fresh = pending.filter((r) => r.attempts === 0);
      const results = fresh.length > 0 ? await this.processBatch(fresh, { bump: true, state: 'stored' }) : await this.processInIsolation(pending, opts.signal);
      for (const r of results) report(r);
      // The batch's parsed mails are garbage now: keep the process's size flat over a backlog.
      relieveMemory();
    }
    return opts.onResult ? undefined : all;
  }

  /**
   * `klagomal quarantine retry ID`: the quarantined mail processed once more, in isolation (it
   * may be one that killed a process) with `limits` (the config's, or raised by the operator).
   * It stays quarantined while it runs, so a running service never takes it up. Null when it
   * is not in quarantine.
   */
  async retryQuarantined(inboundId: number, limits: IsolationLimits = this.isolationLimits()): Promise<ProcessResult | null> {
    const row = this.store.inbound(inboundId);
    if (!row || row.state !== 'quarantined') return null;
    // The operator's retry starts the count again: a mail set aside after repeated starts
    // ("processing was started 5 times") is otherwise taken for a poison mail at the next pass.
    this.store.txRelaxed(() => this.store.resetProcessingAttempts(inboundId));
    const isolated = new IsolatedProcessor(this.config, limits);
    try {
      const outcome = await isolated.run(inboundId, 'quarantined', this.clock());
      if (outcome.kind === 'done') return outcome.result ?? this.resultFromStore(row);
      const error = `its isolated retry ${outcome.why} (${limitsText(limits)})`;
      return this.store.tx(() =>
        this.store.inbound(inboundId)?.state === 'quarantined' ? this.quarantine(row, 'process', error, toInstant(this.clock())) : this.resultFromStore(row),
      );
    } finally {
      isolated.stop();
    }
  }

  /**
   * In the isolated child (src/pipeline/isolated-child.ts): one mail, in the state the parent
   * expects it in, filed or quarantined as in a batch. Null when it is no longer in that state
   * (another process filed it meanwhile).
   */
  async processAlone(inboundId: number, state: IsolatedState): Promise<ProcessResult | null> {
    const row = this.store.inbound(inboundId);
    if (!row || row.state !== state) return null;
    return (await this.processBatch([row], { bump: false, state }))[0] ?? null;
  }

  private isolationLimits(): IsolationLimits {
    return { heapMb: this.config.processing.isolatedHeapMb, seconds: this.config.processing.isolatedSeconds };
  }

  /**
   * The mails that were in flight when a process stopped, one at a time in one isolated child.
   * Each attempt is counted and committed before the child sees the mail. A mail on which the
   * child dies (out of memory, a crash, the time limit) is quarantined; the child is started
   * again for the next one.
   */
  private async processInIsolation(rows: InboundRow[], signal?: AbortSignal): Promise<ProcessResult[]> {
    const results: ProcessResult[] = [];
    const limits = this.isolationLimits();
    const isolated = new IsolatedProcessor(this.config, limits);
    try {
      for (const row of rows) {
        if (signal?.aborted) break;
        // The child first: a child that cannot start is no fault of the mail, and must not
        // count as one of its attempts (IsolationError fails the pass, retried later).
        await isolated.start();
        const attempts = this.store.txRelaxed(() => this.store.bumpProcessingAttempt(row.id));
        const at = (): string => toInstant(this.clock());
        if (attempts > MAX_PROCESSING_ATTEMPTS) {
          const error = `processing was started ${attempts - 1} times and never finished (the process stopped each time while this mail's batch was being parsed or filed)`;
          const r = this.store.tx(() => (this.store.inbound(row.id)?.state === 'stored' ? this.quarantine(row, 'process', error, at()) : null));
          if (r) {
            this.logResult(r, row);
            results.push(r);
          }
          continue;
        }
        this.log.warn('mail was in flight when a process stopped: trying it alone in an isolated process', {
          inbound: row.id,
          source: row.source,
          attempt: attempts,
        });
        let outcome: Awaited<ReturnType<IsolatedProcessor['run']>>;
        try {
          outcome = await isolated.run(row.id, 'stored', this.clock());
        } catch (err) {
          // The data folder failed in the child, not the mail: the attempt does not count.
          if (err instanceof StorageError) this.store.txRelaxed(() => this.store.unbumpProcessingAttempt(row.id));
          throw err;
        }
        if (outcome.kind === 'done') {
          // Logged by the child.
          if (outcome.result) results.push(outcome.result);
          continue;
        }
        const error = `the process stopped while this mail was being processed, and its isolated attempt ${outcome.why} (${limitsText(limits)}): set aside so that it cannot stop the service again`;
        const r = this.store.tx(() => (this.store.inbound(row.id)?.state === 'stored' ? this.quarantine(row, 'process', error, at()) : null));
        if (r) {
          this.logResult(r, row);
          results.push(r);
        }
      }
    } finally {
      isolated.stop();
    }
    return results;
  }

  /** A mail the isolated child filed but could not report (it died just after the commit): its outcome as stored. */
  private resultFromStore(row: InboundRow): ProcessResult | null {
    const now = this.store.inbound(row.id);
    if (!now || now.state === 'stored') return null;
    if (now.state === 'quarantined') {
      const q = this.store.quarantineEntry(row.id);
      return { inboundId: row.id, kind: 'quarantined', stage: (q?.stage as QuarantineResult['stage']) ?? 'process', error: q?.error ?? '' };
    }
    return null;
  }

  private async processBatch(rows: InboundRow[], mode: { bump: boolean; state: IsolatedState }): Promise<ProcessResult[]> {
    const parsed: BatchEntry[] = [];
    const storageFailed: StorageFailed[] = [];
    const batch = withinBatchBytes(rows);
    // Counted and committed before the first parse: if this process dies while the batch is
    // parsed or filed, the next start knows every mail of it was in flight (see the header).
    // One commit for the batch, not one per mail before its parse (issue 16: those commits were
    // a tenth of the service's CPU on a backlog). What it widens: a death while parsing sends the
    // mails not yet reached to isolation too, as a death while filing the batch always did; each
    // is filed there alone, and none is the worse for it but for one more counted attempt.
    const takeBack = (ids: readonly InboundRow[]): void => {
      if (mode.bump && ids.length > 0) this.store.txRelaxed(() => ids.forEach((r) => this.store.unbumpProcessingAttempt(r.id)));
    };
    if (mode.bump) this.store.txRelaxed(() => batch.forEach((row) => this.store.bumpProcessingAttempt(row.id)));
    let next = 0;
    try {
      for (; next < batch.length; next++) {
        const read = await this.readMail(batch[next]);
        if ('failure' in read) storageFailed.push(read);
        else parsed.push(read);
      }
    } catch (err) {
      // Not a mail's failure (each mail's own is caught in readMail), e.g. the store could not
      // be read: the mails not yet reached were never in flight, and a failure of the data
      // folder is the disk's, not the mail's (the one it stopped at is taken back too).
      const failure = storageFailure(err, this.config.dataDir);
      try {
        takeBack([...storageFailed.map((f) => f.row), ...batch.slice(failure ? next : next + 1)]);
      } catch {
        /* the database takes no write: the attempts stay as they are */
      }
      throw failure ? new StorageError(failure, err) : err;
    }

    const now = this.clock();
    const at = toInstant(now);
    const results: ProcessResult[] = [];
    try {
      this.fileParsed(parsed, mode.state, now, at, results);
    } catch (err) {
      // A full or read-only database: the whole batch was rolled back; nothing is the mails' fault.
      const failure = storageFailure(err, this.config.dataDir);
      if (!failure) throw err;
      try {
        takeBack([...parsed.map((p) => p.row), ...storageFailed.map((f) => f.row)]);
      } catch {
        /* the database takes no write: the attempts stay as they are; while it is full the batch's bump before its first parse fails too, so the count cannot run up */
      }
      throw new StorageError(failure, err);
    }

    for (const r of results)
      this.logResult(
        r,
        rows.find((x) => x.id === r.inboundId),
      );
    if (storageFailed.length > 0) {
      takeBack(storageFailed.map((f) => f.row));
      throw new StorageError(storageFailed[0].failure, storageFailed[0].err);
    }
    return results;
  }

  /**
   * One mail of a batch read from the store: parsed, with its attached documents read; or why it
   * cannot be filed (quarantined by fileParsed); or the data folder's failure, which is not the
   * mail's. Throws only what is no mail's failure (the store could not be read).
   */
  private async readMail(row: InboundRow): Promise<BatchEntry | StorageFailed> {
    const raw = this.store.rawMail(row.sha256);
    const input = raw && ('bytes' in raw ? raw.bytes : fs.createReadStream(path.join(this.config.dataDir, raw.path)));
    if (!raw || !input) return { row, stage: 'parse', error: `raw mail ${row.sha256} is missing from the store` };
    try {
      const mail = await parseMail(input, { dataDir: this.config.dataDir, receivedAt: new Date(row.received_at) });
      if (!mail.from && !mail.replyTo && !mail.text.trim() && mail.attachments.length === 0) {
        // Nothing to file a case from and no one to answer: an operator must look at the raw bytes.
        throw new Error('not a readable mail: no sender, no text and no attachments');
      }
      // The documents stage: attachments read as documents, each in a bounded child process
      // (src/documents/stage.ts); a document that cannot be read is noted, never the mail's fault.
      let documents: AttachmentReading[] = [];
      try {
        documents = await readAttachedDocuments(this.documents, this.config, mail);
      } catch (err) {
        this.log.error('attachments could not be read as documents', { inbound: row.id, error: errorChain(err) });
      }
      return { row, mail, documents };
    } catch (err) {
      // An attachment or raw file the data folder cannot take is the disk's failure, not the
      // mail's: it stays stored, its attempt is taken back, and the pass reports the disk.
      const failure = storageFailure(err, this.config.dataDir);
      return failure ? { row, failure, err } : { row, stage: 'parse', error: errorChain(err) };
    }
  }

  /** File the parsed mails of a batch in one transaction (each in its own savepoint), quarantining the mails that failed. */
  private fileParsed(parsed: readonly BatchEntry[], state: IsolatedState, now: Date, at: string, results: ProcessResult[]): void {
    const mode = { state };
    this.store.tx(() => {
      // The hourly acknowledgement count, carried through this transaction (src/reply/acknowledge.ts).
      const hourlyAcknowledgements = new HourlyAcknowledgements(this.store);
      const ctx: FilingContext = {
        store: this.store,
        config: this.config,
        templates: this.templates,
        calendar: this.calendars.firm,
        calendars: this.calendars,
        log: this.log,
        hourlyAcknowledgements,
      };
      for (const p of parsed) {
        if ('error' in p) {
          if (this.store.inbound(p.row.id)?.state !== mode.state) continue;
          results.push(this.quarantine(p.row, p.stage, p.error, at));
          continue;
        }
        // Another process (an `ingest` beside the service) may have filed it meanwhile; we hold
        // the write lock now, so this check and the filing below cannot interleave with it.
        if (this.store.inbound(p.row.id)?.state !== mode.state) continue;
        try {
          // A nested transaction is a savepoint: a throw undoes this mail only.
          const r = this.store.tx(() => {
            const filed = processMail(ctx, p.row, p.mail, now, p.documents);
            // A mail that was in quarantine (retried by an operator) is released as it is filed.
            if (this.store.releaseQuarantine(p.row.id, at)) {
              this.store.appendEvent({
                at,
                inboundId: p.row.id,
                caseId: filed.caseId,
                actor: 'system',
                type: 'quarantine-released',
                detail: { kind: filed.kind },
              });
            }
            return filed;
          });
          results.push(r);
        } catch (err) {
          hourlyAcknowledgements.mailRolledBack();
          // A full database fails every mail alike: the whole batch rolls back (see the caller).
          if (storageFailure(err, this.config.dataDir)) throw err;
          results.push(this.quarantine(p.row, 'file', errorChain(err), at));
        }
      }
    });
  }

  private logResult(r: ProcessResult, row: InboundRow | undefined): void {
    if (r.kind === 'quarantined') {
      this.log.error('mail quarantined', { inbound: r.inboundId, source: row?.source, stage: r.stage, error: redactAddresses(r.error) });
    } else {
      this.log.info('mail filed', { inbound: r.inboundId, source: row?.source, kind: r.kind, action: r.action, case: r.caseNumber ?? undefined });
    }
  }

  private quarantine(row: InboundRow, stage: QuarantineResult['stage'], error: string, at: string): QuarantineResult {
    this.store.quarantine(row.id, stage, error, at);
    this.store.appendEvent({ at, inboundId: row.id, actor: 'system', type: 'quarantined', toState: 'quarantined', detail: { stage, error } });
    return { inboundId: row.id, kind: 'quarantined', stage, error };
  }
}

/** The first mails of `rows` that fit the batch's byte cap (at least one); the rest comes in the next batch. */
function withinBatchBytes(rows: readonly InboundRow[]): InboundRow[] {
  const batch: InboundRow[] = [];
  let bytes = 0;
  for (const row of rows) {
    if (batch.length > 0 && bytes + row.size > MAX_BATCH_BYTES) break;
    bytes += row.size;
    batch.push(row);
  }
  return batch;
}

function limitsText(l: IsolationLimits): string {
  return `heap limit ${l.heapMb} MB, time limit ${l.seconds} s`;
}
