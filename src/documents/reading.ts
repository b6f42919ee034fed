/**
 * What reading one attachment gives, as the reader child sends it and the store keeps it, and
 * which attachments are documents at all (by their first bytes, not the sender's name or type).
 * Pure; shared by the parent (reader.ts), the child (reader-child.ts) and the OCR pass.
 */

/** The kinds of document read. `doc` (Word 97-2003) is recognised but not read: no well-kept reader for Node. */
import type { NewAttachmentReading } from '../store/documents';

export type DocumentKind = 'pdf' | 'docx' | 'image' | 'doc';

export interface PageText {
  /** 1-based page of a PDF; null for a Word document (it has no fixed pages) or a one-page image. */
  readonly page: number | null;
  readonly text: string;
  readonly via: 'text-layer' | 'docx' | 'ocr';
}

export interface FormFieldValue {
  /** The AcroForm field's full name, as in the PDF (e.g. klagomal_datum). */
  readonly name: string;
  readonly value: string;
}

/**
 * `read`: text (and form fields) taken; `not-read`: why not, the attachment is kept as it came;
 * `ocr-pending`: what has a text layer is read, the pages without one wait for OCR after filing.
 */
export type ReadingState = 'read' | 'not-read' | 'ocr-pending';

export interface DocumentReading {
  readonly state: ReadingState;
  /** not-read: the reason; ocr-pending: what waits; read: what was left out (e.g. pages past the limit), else null. */
  readonly note: string | null;
  readonly pages: readonly PageText[];
  readonly formFields: readonly FormFieldValue[];
  /** Pages in the document as it says (a PDF), or null. */
  readonly pageCount: number | null;
  /** Pages read by OCR (for the bench and the event). */
  readonly ocrPages: number;
  readonly ms: number;
}

export function notRead(reason: string, ms = 0): DocumentReading {
  return { state: 'not-read', note: reason, pages: [], formFields: [], pageCount: null, ocrPages: 0, ms };
}

/**
 * The kind of document an attachment is, from its first bytes (magic numbers) and, for the zip
 * container of a .docx, its declared type or name; null for anything else (not read, nothing noted).
 */
export function documentKind(head: Buffer, contentType: string | null, filename: string | null): DocumentKind | null {
  const type = (contentType ?? '').toLowerCase();
  const name = (filename ?? '').toLowerCase();
  if (head.subarray(0, 1024).includes('%PDF-')) return 'pdf';
  if (head[0] === 0x89 && head.subarray(1, 4).toString('latin1') === 'PNG') return 'image';
  if (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'image';
  const tiff = head.subarray(0, 4).toString('latin1');
  if (tiff === 'II*\u0000' || tiff === 'MM\u0000*') return 'image';
  // A .docx is a zip (ECMA-376 part 2): read as one when it says it is Word.
  if (head.subarray(0, 4).toString('latin1') === 'PK\u0003\u0004' && (type.includes('wordprocessingml') || name.endsWith('.docx'))) return 'docx';
  // Word 97-2003: an OLE compound file (D0 CF 11 E0) said to be Word.
  if (head.subarray(0, 4).toString('hex') === 'd0cf11e0' && (type.includes('msword') || name.endsWith('.doc'))) return 'doc';
  return null;
}

/** The full text of a reading, pages in order (for `case show` and the complaint reader). */
export function readingText(r: Pick<DocumentReading, 'pages'>): string {
  return r.pages.map((p) => p.text).join('\n\n');
}

/**
 * A reading as it is stored with its attachment: every text (page and form field) masked like
 * every stored text, by the caller's `mask` (personnummer, as of the mail's time).
 */
export function storedReading(attachmentId: number, kind: string, r: DocumentReading, mask: (s: string) => string, at: string): NewAttachmentReading {
  return {
    attachmentId,
    kind,
    state: r.state,
    note: r.note,
    pages: r.pages.map((p) => ({ ...p, text: mask(p.text) })),
    formFields: r.formFields.map((f) => ({ name: f.name, value: mask(f.value) })),
    pageCount: r.pageCount,
    ocrPages: r.ocrPages,
    ms: r.ms,
    at,
  };
}
