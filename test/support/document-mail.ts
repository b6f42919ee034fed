/**
 * Mails that carry documents, and filing one through the real `klagomal ingest` with what the
 * tests check: the case's fields, its acknowledgement and the attachment readings.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { World } from './world';

export interface Attached {
  readonly filename: string;
  readonly type: string;
  readonly data: Buffer;
}

/** A customer's mail with attachments; dated after the letters it carries. */
export function mailWithDocuments(attachments: readonly Attached[], opts: { text?: string; from?: string; subject?: string } = {}): string {
  const parts = [
    `From: ${opts.from ?? 'Åsa Öberg <asa.oberg@example.com>'}`,
    'To: klagomal@testfinans.se',
    `Subject: ${opts.subject ?? 'Klagomål'}`,
    'Date: Sat, 21 Nov 2026 10:00:00 +0100',
    `Message-ID: <documents-${Math.random().toString(36).slice(2)}@example.com>`,
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="doc-boundary"',
    '',
    '--doc-boundary',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    opts.text ?? 'Hej, se bifogat.',
  ];
  for (const a of attachments) {
    parts.push(
      '--doc-boundary',
      `Content-Type: ${a.type}; name="${a.filename}"`,
      `Content-Disposition: attachment; filename="${a.filename}"`,
      'Content-Transfer-Encoding: base64',
      '',
      a.data.toString('base64').replace(/.{76}/g, '$&\r\n'),
    );
  }
  parts.push('--doc-boundary--', '');
  return parts.join('\r\n');
}

export const PDF = 'application/pdf';
export const DOCX = 'application/vnd.openxmlformats-officedocument.wordprocessingml.document';

export interface FiledCase {
  readonly number: string;
  readonly fields: Record<string, unknown> & { missing: string[]; sources: Record<string, Record<string, unknown>> };
  readonly acknowledgement: string;
  readonly readings: Array<{ state: string; note: string | null; pages: string; form_fields: string; kind: string }>;
}

/** Ingest one mail through the real binary; the case it opened, its acknowledgement text and its readings. */
export async function fileMail(w: World, raw: string): Promise<FiledCase> {
  const file = path.join(w.dir, `mail-${Math.random().toString(36).slice(2)}.eml`);
  fs.writeFileSync(file, raw);
  const r = await w.cli(['ingest', '--json', file]);
  expect(r.stderr).not.toMatch(/quarantined/);
  expect(r.code).toBe(0);
  const { store, close } = w.store();
  try {
    const c = store.listCases({}).at(-1)!;
    const ack = store.outboxOfCase(c.id).find((o) => o.kind === 'acknowledgement');
    return {
      number: c.number,
      fields: JSON.parse(c.fields),
      acknowledgement: ack?.body_text ?? '',
      readings: store.attachmentReadingsOfCase(c.id),
    };
  } finally {
    close();
  }
}

/** The sentence of the acknowledgement that asks for more (sv and en templates). */
export const ASKS_FOR_MORE = /komplettera|please also send|we need/i;
