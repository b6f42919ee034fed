/**
 * OCR after filing: attachments whose pages had no text (scans, phone photos) and that OCR did
 * not finish within the documents stage's short wait (documents.ocrWaitSeconds) are read here,
 * after the case was filed and acknowledged, so that a 300-page scan never holds an
 * acknowledgement back.
 *
 * The database is the queue (attachment_readings.state = 'ocr-pending'). Each attempt is counted
 * and leased before the tools run (Postfix/mox habit: record the attempt before the effect): a
 * crash during OCR costs one attempt, and at most MAX_OCR_ATTEMPTS are made. Then, in one
 * transaction: the reading is stored (personnummer masked), an `attachment-read` event, the
 * case's structured complaint read again from the mail and every document of the case
 * (src/cases/complaint-reread.ts: `fields-updated` with what was found and what is still
 * missing), and the contact person (else the manager) told by a built-in notice.
 */
import path from 'node:path';
import type { Config } from '../config/config';
import type { Store, PendingOcrRow } from '../store/store';
import type { Logger } from '../util/log';
import type { Clock } from '../util/clock';
import { toInstant } from '../util/clock';
import { errorChain } from '../util/log';
import type { DocumentReading } from '../documents/reading';
import { storedReading } from '../documents/reading';
import { DocumentReader } from '../documents/reader';
import { rereadCaseFields } from '../cases/complaint-reread';
import type { DocumentKind } from '../documents/reading';
import { maskPersonnummer } from '../util/personnummer';
import { buildAdminNotice } from '../reply/mail';
import { fieldLines } from '../officers/notify';

export const MAX_OCR_ATTEMPTS = 3;

export interface OcrPassResult {
  readonly read: number;
  readonly notified: number;
}

export class OcrAfterFiling {
  private readonly reader: DocumentReader;

  constructor(
    private readonly store: Store,
    private readonly config: Config,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    this.reader = new DocumentReader(config.documents);
  }

  /** Read every attachment waiting for OCR (a bounded batch per call). */
  async runPending(signal?: AbortSignal): Promise<OcrPassResult> {
    let read = 0;
    let notified = 0;
    if (!this.config.documents?.enabled) return { read, notified };
    for (const row of this.store.pendingOcr(toInstant(this.clock()), 20)) {
      if (signal?.aborted) break;
      const now = this.clock();
      const lease = new Date(now.getTime() + (this.config.documents.ocrSeconds + 60) * 1000);
      const attempt = this.store.txRelaxed(() => this.store.claimOcr(row.attachment_id, toInstant(now), toInstant(lease)));
      if (attempt === null) continue; // another process has it
      try {
        let result: DocumentReading;
        if (attempt > MAX_OCR_ATTEMPTS) {
          result = { ...earlier(row), state: 'not-read', note: `OCR did not finish in ${MAX_OCR_ATTEMPTS} attempts (the process stopped during each)` };
        } else {
          const doc = { file: path.join(this.config.dataDir, row.path), contentType: row.content_type, filename: row.filename };
          const r = await this.reader.read(doc, row.kind as DocumentKind, { ocr: true, seconds: this.config.documents.ocrSeconds, signal });
          result = r.reading.state === 'not-read' ? keepTextLayer(row, r.reading.note ?? 'not read') : r.reading;
        }
        if (signal?.aborted) break; // the lease runs out; the next start reads it again
        if (this.store.tx(() => this.record(row, result, attempt))) notified++;
        read++;
      } catch (err) {
        this.log.error('OCR of an attachment failed', { attachment: row.attachment_id, inbound: row.inbound_id, error: errorChain(err) });
      }
    }
    return { read, notified };
  }

  /** Store the reading, read the case again, tell the contact person; true when a notice was queued. */
  private record(row: PendingOcrRow, r: DocumentReading, attempt: number): boolean {
    const { store } = this;
    const now = this.clock();
    const at = toInstant(now);
    const current = store.attachmentReading(row.attachment_id);
    if (!current || current.state !== 'ocr-pending') return false; // read meanwhile
    const mask = (s: string): string => maskPersonnummer(s, now);
    store.saveAttachmentReading(storedReading(row.attachment_id, row.kind, r, mask, at));
    store.appendEvent({
      at,
      caseId: row.case_id,
      inboundId: row.inbound_id,
      actor: 'system',
      type: 'attachment-read',
      detail: {
        attachment: row.attachment_id,
        kind: row.kind,
        state: r.state,
        note: r.note,
        pages: r.pages.length,
        ocrPages: r.ocrPages,
        by: 'ocr after filing',
        attempt,
      },
    });
    if (row.case_id === null) return false;
    const c = store.caseById(row.case_id);
    const reread = rereadCaseFields(store, this.config, row.case_id, now, { by: 'ocr after filing', attachment: row.attachment_id });
    if (!c || !reread) return false;
    const { fields, found, stillMissing: missing, suggestedCategory } = reread;
    const officer = this.config.officers.find((o) => o.address === c.contact_officer) ?? this.config.officers.find((o) => o.role === 'manager');
    if (!officer) return false;
    const lines = fieldLines(JSON.stringify(fields), 'sv');
    const what = r.state === 'read' ? `lästes med OCR / was read by OCR (${r.ocrPages} sida/page(s))` : `kunde inte läsas / could not be read: ${r.note ?? ''}`;
    const notice = buildAdminNotice(
      {
        to: officer.address,
        subject: `[${c.number}] Bilaga läst efter registrering / Attachment read after filing`,
        text:
          `Ärende / case ${c.number}: en bifogad fil ${what}.\n` +
          (found.length ? `Nu finns / now given: ${found.join(', ')}\n` : 'Inga nya uppgifter av de efterfrågade / none of the items asked for was added\n') +
          (missing.length ? `Saknas fortfarande / still missing: ${missing.join(', ')}\n` : 'Inget saknas / nothing is missing\n') +
          (suggestedCategory ? `Dokumentet talar om / the document speaks of: ${suggestedCategory} (ärendet: ${c.category}; ändra med #category)\n` : '') +
          `\nUppgifter i klagomålet / the complaint's fields:\n${lines.map((l) => `  ${l.label}: ${l.value}`).join('\n')}\n\n` +
          `klagomal case show ${c.number}\n`,
        idempotencyKey: `ocr-read:${row.attachment_id}`,
        now,
      },
      this.config,
    );
    const id = store.enqueue({ ...notice, caseId: c.id });
    if (id === null) return false;
    store.appendEvent({
      at,
      caseId: c.id,
      outboxId: id,
      actor: 'system',
      type: 'officer-notified',
      detail: { officer: officer.address, occasion: 'attachment read after filing' },
    });
    return true;
  }
}

/** What the documents stage stored for the row (masked), as a reading. */
function earlier(row: PendingOcrRow): DocumentReading {
  return {
    state: 'read',
    note: row.note,
    pages: JSON.parse(row.pages),
    formFields: JSON.parse(row.form_fields),
    pageCount: row.page_count,
    ocrPages: 0,
    ms: row.ms,
  };
}

/** OCR failed or hit a bound: the text layer read before is kept, the reason noted. */
function keepTextLayer(row: PendingOcrRow, reason: string): DocumentReading {
  const e = earlier(row);
  const hasText = e.pages.length > 0 || e.formFields.some((f) => f.value.trim());
  return { ...e, state: hasText ? 'read' : 'not-read', note: hasText ? `pages without text not read by OCR: ${reason}` : reason };
}
