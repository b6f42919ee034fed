/**
 * The documents stage: a parsed mail's attachments read as documents, before the mail is filed
 * (src/pipeline/processor.ts runs it after the parse, outside the database transaction, as it
 * is async and bounded in time). Each attachment that is a document (reading.ts documentKind)
 * is read in the reader child (reader.ts): text layer, form fields and Word text within
 * documents.readerSeconds; pages without text and images by OCR within what is left of
 * documents.ocrWaitSeconds for the whole mail. What OCR did not finish by then stays
 * `ocr-pending` and is read after filing by the OCR pass (ocr-pass.ts), so that the
 * acknowledgement waits for OCR a few seconds at most.
 *
 * The readings are the clear text (the complaint reader needs the personnummer to seal it);
 * filing masks them before they are stored.
 */
import path from 'node:path';
import type { Config } from '../config/config';
import type { ParsedMail } from '../parse/parse';
import type { DocumentKind, DocumentReading } from './reading';
import { notRead } from './reading';
import type { DocumentReader } from './reader';

export interface AttachmentReading {
  /** Index into the mail's attachments. */
  readonly index: number;
  readonly kind: DocumentKind;
  readonly reading: DocumentReading;
}

export async function readAttachedDocuments(reader: DocumentReader, config: Config, mail: ParsedMail): Promise<AttachmentReading[]> {
  const d = config.documents;
  if (!d?.enabled) return [];
  const out: AttachmentReading[] = [];
  let ocrBudgetMs = d.ocrWaitSeconds * 1000;
  for (const [index, a] of mail.attachments.entries()) {
    const doc = { file: path.join(config.dataDir, a.path), contentType: a.contentType, filename: a.filename };
    const kind = reader.kindOf(doc);
    if (!kind) continue;
    if (out.length >= d.maxDocuments) {
      out.push({ index, kind, reading: notRead(`more than ${d.maxDocuments} documents in one mail`) });
      continue;
    }
    let { reading } = await reader.read(doc, kind, { ocr: false, seconds: d.readerSeconds });
    // OCR now only while the mail's wait allows; else after filing.
    if (reading.state === 'ocr-pending' && ocrBudgetMs >= 500) {
      const started = Date.now();
      const ocr = await reader.read(doc, kind, { ocr: true, seconds: ocrBudgetMs / 1000 });
      ocrBudgetMs -= Date.now() - started;
      if (ocr.bound === 'time') {
        // Not done within the wait: left ocr-pending, read after filing.
      } else if (ocr.reading.state === 'not-read' && reading.pages.length + reading.formFields.length > 0) {
        // OCR failed at a bound: what the text layer gave is kept.
        reading = { ...reading, state: 'read', note: `pages without text not read by OCR: ${ocr.reading.note ?? 'not read'}` };
      } else reading = { ...ocr.reading, ms: reading.ms + ocr.reading.ms };
    }
    out.push({ index, kind, reading });
  }
  return out;
}
