/**
 * Attachment readings (migration 15): what reading each attachment as a document gave, and the
 * queue of OCR that runs after filing (src/documents/ocr-pass.ts). Texts arrive here already
 * masked (personnummer); the JSON columns hold pages and form fields.
 */
import type { Instant } from '../util/clock';
import { StoreBase } from './base';

export interface AttachmentReadingRow {
  attachment_id: number;
  kind: string;
  state: 'read' | 'not-read' | 'ocr-pending';
  note: string | null;
  /** JSON: [{ page, text, via }] */
  pages: string;
  /** JSON: [{ name, value }] */
  form_fields: string;
  page_count: number | null;
  ocr_pages: number;
  ms: number;
  ocr_attempts: number;
  ocr_next_at: Instant | null;
  read_at: Instant;
}

export interface NewAttachmentReading {
  readonly attachmentId: number;
  readonly kind: string;
  readonly state: AttachmentReadingRow['state'];
  readonly note: string | null;
  readonly pages: unknown;
  readonly formFields: unknown;
  readonly pageCount: number | null;
  readonly ocrPages: number;
  readonly ms: number;
  readonly at: Instant;
}

/** An attachment waiting for OCR, with what the OCR pass needs to read it and update its case. */
export interface PendingOcrRow extends AttachmentReadingRow {
  path: string;
  filename: string | null;
  content_type: string | null;
  message_row: number;
  case_id: number | null;
  inbound_id: number;
}

export class DocumentQueries extends StoreBase {
  /** Record (or, after OCR, replace) what reading an attachment gave. */
  saveAttachmentReading(r: NewAttachmentReading): void {
    this.q(
      `INSERT INTO attachment_readings (attachment_id, kind, state, note, pages, form_fields, page_count, ocr_pages, ms, read_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (attachment_id) DO UPDATE SET state = excluded.state, note = excluded.note, pages = excluded.pages,
         form_fields = excluded.form_fields, page_count = excluded.page_count, ocr_pages = excluded.ocr_pages, ms = excluded.ms,
         read_at = excluded.read_at, ocr_next_at = NULL`,
    ).run(r.attachmentId, r.kind, r.state, r.note, JSON.stringify(r.pages), JSON.stringify(r.formFields), r.pageCount, r.ocrPages, r.ms, r.at);
  }

  attachmentReading(attachmentId: number): AttachmentReadingRow | null {
    return (this.q('SELECT * FROM attachment_readings WHERE attachment_id = ?').get(attachmentId) as AttachmentReadingRow | undefined) ?? null;
  }

  /** The readings of a case's attachments, in the order the mails and attachments came. */
  attachmentReadingsOfCase(caseId: number): Array<AttachmentReadingRow & { filename: string | null; message_row: number }> {
    return this.q(
      `SELECT r.*, a.filename, a.message_row FROM attachment_readings r JOIN attachments a ON a.id = r.attachment_id
         JOIN messages m ON m.id = a.message_row WHERE m.case_id = ? ORDER BY m.received_at, m.id, a.id`,
    ).all(caseId) as Array<AttachmentReadingRow & { filename: string | null; message_row: number }>;
  }

  /** Attachments waiting for OCR whose lease (if any) has run out, oldest first. */
  pendingOcr(now: Instant, limit: number): PendingOcrRow[] {
    return this.q(
      `SELECT r.*, a.path, a.filename, a.content_type, a.message_row, m.case_id, m.inbound_id
         FROM attachment_readings r JOIN attachments a ON a.id = r.attachment_id JOIN messages m ON m.id = a.message_row
        WHERE r.state = 'ocr-pending' AND (r.ocr_next_at IS NULL OR r.ocr_next_at <= ?)
        ORDER BY r.read_at, r.attachment_id LIMIT ?`,
    ).all(now, limit) as PendingOcrRow[];
  }

  /**
   * Claim an attachment for OCR: the attempt is counted and a lease set before the tools run,
   * so that a crash during OCR costs one attempt, and another process leaves it alone meanwhile.
   * Returns the attempt number, or null when another process claimed it first.
   */
  claimOcr(attachmentId: number, now: Instant, leaseUntil: Instant): number | null {
    const row = this.q(
      `UPDATE attachment_readings SET ocr_attempts = ocr_attempts + 1, ocr_next_at = ?
        WHERE attachment_id = ? AND state = 'ocr-pending' AND (ocr_next_at IS NULL OR ocr_next_at <= ?) RETURNING ocr_attempts`,
    ).get(leaseUntil, attachmentId, now) as { ocr_attempts: number } | undefined;
    return row?.ocr_attempts ?? null;
  }

  /** A case's structured complaint, read again (after OCR); the change is also an event (the caller's). */
  setCaseFields(caseId: number, fields: Record<string, unknown>, at: Instant): void {
    this.q('UPDATE cases SET fields = ?, updated_at = ? WHERE id = ?').run(JSON.stringify(fields), at, caseId);
  }
}
