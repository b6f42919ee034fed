/**
 * Document reading (issue 19): pages per second for the PDF text layer and for OCR, and the
 * peak resident memory of the reader process (src/documents/reader.ts samples it every 50 ms),
 * on documents made by test/support/documents.ts. Each reading is one child process, start-up
 * included, as in the service. Nothing is asserted: the numbers are printed.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DocumentReader } from '../src/documents/reader';
import type { Config } from '../src/config/config';
import {
  LETTER_EN,
  LETTER_SV,
  encryptedPdf,
  filledFormPdf,
  FORM_VALUES_SV,
  letterDocx,
  letterPdf,
  loopingPdf,
  scannedLetterPng,
  scannedPdf,
  zipBombDocx,
} from '../test/support/documents';

const CONFIG: Config['documents'] = {
  enabled: true,
  readerSeconds: 120,
  readerMemoryMb: 512,
  maxPages: 1000,
  maxDocuments: 10,
  ocrWaitSeconds: 3,
  ocrSeconds: 600,
  ocrMaxPages: 1000,
  tesseract: 'tesseract',
  pdftoppm: 'pdftoppm',
};

export async function documentsBench(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-bench-docs-'));
  const reader = new DocumentReader(CONFIG);
  const run = async (name: string, data: Buffer, ocr: boolean, pages: number | null): Promise<void> => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, data);
    const doc = { file, contentType: null, filename: name };
    const kind = reader.kindOf(doc);
    if (!kind) throw new Error(`${name}: not a document`);
    const t0 = process.hrtime.bigint();
    const r = await reader.read(doc, kind, { ocr, seconds: ocr ? CONFIG.ocrSeconds : CONFIG.readerSeconds });
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    const n = pages ?? r.reading.pages.length;
    console.log(
      `documents: ${name.padEnd(22)} ${r.reading.state.padEnd(11)} ${n} page(s) in ${s.toFixed(2)} s` +
        `${pages !== null ? ` = ${(n / s).toFixed(1)} pages/s` : ''}, reader peak RSS ${(r.peakRss / 1048576).toFixed(0)} MB` +
        `${r.reading.note ? ` (${r.reading.note})` : ''}`,
    );
  };
  try {
    const tools = reader.tools();
    await run('letter-1p.pdf', await letterPdf(), false, 1);
    await run('letter-50p.pdf', await letterPdf(Array.from({ length: 50 }, (_, i) => (i % 2 ? LETTER_EN : LETTER_SV))), false, 50);
    await run('letter-500p.pdf', await letterPdf(Array.from({ length: 500 }, () => LETTER_SV)), false, 500);
    await run('form-filled.pdf', await filledFormPdf(FORM_VALUES_SV), false, null);
    await run('letter.docx', letterDocx(), false, null);
    await run('encrypted.pdf', encryptedPdf(), false, null);
    await run('looping.pdf', loopingPdf(), false, null);
    await run('bomb-lying.docx', zipBombDocx(2047, 'lying'), false, null);
    if (!tools.tesseract || !tools.pdftoppm) {
      console.log('documents: OCR skipped: tesseract (swe, eng) or pdftoppm not installed');
      return;
    }
    const png = await scannedLetterPng();
    await run('scan-1p.png', png, true, 1);
    await run('scan-5p.pdf', await scannedPdf(png, 5), true, 5);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) void documentsBench();
