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
import { fileMail, FilingResult } from '../cases/filing';

export interface QuarantineResult {
  readonly inboundId: number;
  readonly kind: 'quarantined';
  readonly stage: 'process' | 'parse' | 'file';
  readonly error: string;
}

/**
 * A mail whose processing was started this many times without finishing is quarantined instead
 * of being tried on every start: the process died on it (out of memory, a native crash) or
 * while it was in flight. The first start is usually in a batch; after that the mail is tried
 * alone and after the fresh mails, so an innocent mail caught in flight by a crash (or several:
 * a crash loop of another cause) is filed on its next turn, and a poison mail crashes the
 * process a few more times, each time after everything else has been filed, before it is put
 * aside. Postfix defers a message that crashes its delivery agent in the same spirit.
 */
export const MAX_PROCESSING_ATTEMPTS = 4;

export type ProcessResult = FilingResult | QuarantineResult;

const MAX_BATCH_BYTES = 32 * 1024 * 1024;

export class Processor {
  constructor(
    private readonly store: Store,
    private readonly config: Config,
    private readonly templates: TemplateRenderer,
    private readonly calendars: Calendars,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /** Process every pending mail. `onResult` sees each outcome as soon as its batch commits. */
  async processPending(opts: { signal?: AbortSignal; onResult?: (r: ProcessResult) => void; only?: ReadonlySet<number> } = {}): Promise<ProcessResult[]> {
    const all: ProcessResult[] = [];
    const size = this.config.processing.batchSize;
    for (;;) {
      if (opts.signal?.aborted) break;
      const pending = opts.only ? this.store.pendingInboundIn([...opts.only]).slice(0, size) : this.store.pendingInbound(size);
      if (pending.length === 0) break;
      // A mail that was being processed when the process stopped goes alone (and, by the store's
      // order, after the fresh ones), so that a mail which kills the process cannot take its
      // batch neighbours into quarantine with it, nor hold them up.
      const firstRetried = pending.findIndex((r) => r.attempts > 0);
      const batch = firstRetried === 0 ? [pending[0]] : firstRetried > 0 ? pending.slice(0, firstRetried) : pending;
      const results = await this.processBatch(batch);
      for (const r of results) {
        all.push(r);
        opts.onResult?.(r);
      }
    }
    return all;
  }

  private async processBatch(rows: InboundRow[]): Promise<ProcessResult[]> {
    const parsed: Array<{ row: InboundRow; mail: ParsedMail } | { row: InboundRow; error: string; stage: 'process' | 'parse' }> = [];
    let bytes = 0;
    for (const row of rows) {
      if (parsed.length > 0 && bytes + row.size > MAX_BATCH_BYTES) break; // the rest comes in the next batch
      bytes += row.size;
      const attempts = this.store.txRelaxed(() => this.store.bumpProcessingAttempt(row.id));
      if (attempts > MAX_PROCESSING_ATTEMPTS) {
        parsed.push({
          row,
          stage: 'process',
          error: `processing was started ${attempts - 1} times and never finished (the process stopped while parsing or filing this mail)`,
        });
        continue;
      }
      const raw = this.store.rawMail(row.sha256);
      const input = raw && ('bytes' in raw ? raw.bytes : fs.createReadStream(path.join(this.config.dataDir, raw.path)));
      if (!raw || !input) {
        parsed.push({ row, stage: 'parse', error: `raw mail ${row.sha256} is missing from the store` });
        continue;
      }
      try {
        const mail = await parseMail(input, { dataDir: this.config.dataDir, receivedAt: new Date(row.received_at) });
        if (!mail.from && !mail.replyTo && !mail.text.trim() && mail.attachments.length === 0) {
          // Nothing to file a case from and no one to answer: an operator must look at the raw bytes.
          throw new Error('not a readable mail: no sender, no text and no attachments');
        }
        parsed.push({ row, mail });
      } catch (err) {
        parsed.push({ row, stage: 'parse', error: errorChain(err) });
      }
    }

    const now = this.clock();
    const at = toInstant(now);
    const results: ProcessResult[] = [];
    this.store.tx(() => {
      for (const p of parsed) {
        if ('error' in p) {
          if (this.store.inbound(p.row.id)?.state !== 'stored') continue;
          results.push(this.quarantine(p.row, p.stage, p.error, at));
          continue;
        }
        // Another process (an `ingest` beside the service) may have filed it meanwhile; we hold
        // the write lock now, so this check and the filing below cannot interleave with it.
        if (this.store.inbound(p.row.id)?.state !== 'stored') continue;
        try {
          // A nested transaction is a savepoint: a throw undoes this mail only.
          const r = this.store.tx(() => {
            const filed = fileMail(
              { store: this.store, config: this.config, templates: this.templates, calendar: this.calendars.firm, calendars: this.calendars, log: this.log },
              p.row,
              p.mail,
              now,
            );
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
          results.push(this.quarantine(p.row, 'file', errorChain(err), at));
        }
      }
    });

    for (const r of results) {
      const row = rows.find((x) => x.id === r.inboundId);
      if (r.kind === 'quarantined') {
        this.log.error('mail quarantined', { inbound: r.inboundId, source: row?.source, stage: r.stage, error: redactAddresses(r.error) });
      } else {
        this.log.info('mail filed', { inbound: r.inboundId, source: row?.source, kind: r.kind, action: r.action, case: r.caseNumber ?? undefined });
      }
    }
    return results;
  }

  private quarantine(row: InboundRow, stage: QuarantineResult['stage'], error: string, at: string): QuarantineResult {
    this.store.quarantine(row.id, stage, error, at);
    this.store.appendEvent({ at, inboundId: row.id, actor: 'system', type: 'quarantined', toState: 'quarantined', detail: { stage, error } });
    return { inboundId: row.id, kind: 'quarantined', stage, error };
  }
}
