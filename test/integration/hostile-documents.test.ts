/**
 * Hostile documents (issue 19): an encrypted PDF, a PDF with JavaScript, a PDF whose page tree
 * loops, a PDF bomb (a content stream that inflates to 1 GB), a 50 MB image, a .docx zip bomb (declared, and hidden behind a lying zip directory), and
 * a 300-page scan. Each is read in the bounded reader child: the mail is filed and acknowledged,
 * the attachment kept and marked "not read: reason" (or read within its page limits), and the
 * running service stays up and files the next mail. Made by test/support/documents.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import { complaintMail, deliverToMaildir, makeWorld, waitFor, World } from '../support/world';
import { encryptedPdf, flateBombPdf, hugeImage, javascriptPdf, loopingPdf, scannedLetterPng, scannedPdf, zipBombDocx } from '../support/documents';
import { DOCX, PDF, fileMail, mailWithDocuments } from '../support/document-mail';

jest.setTimeout(180_000);

describe('hostile documents are bounded', () => {
  let w: World;
  afterEach(() => w.cleanup());

  test('encryptedPdfIsFiledAndMarkedNotRead', async () => {
    w = makeWorld();
    const c = await fileMail(w, mailWithDocuments([{ filename: 'låst.pdf', type: PDF, data: encryptedPdf() }], { text: 'Klagomål om avgiften, se bifogat.' }));
    expect(c.readings.map((r) => [r.state, r.note])).toEqual([['not-read', 'encrypted: the PDF needs a password']]);
    expect(c.acknowledgement).not.toBe('');
  });

  test('pdfWithJavaScriptIsReadWithoutRunningIt', async () => {
    w = makeWorld();
    const c = await fileMail(w, mailWithDocuments([{ filename: 'skript.pdf', type: PDF, data: javascriptPdf() }]));
    expect(c.readings.map((r) => [r.state, r.note])).toEqual([['read', 'has JavaScript: not run']]);
    expect(c.fields.amountsSek).toEqual([450]);
  });

  test('pdfWhosePageTreeLoopsIsFiledAndMarkedNotRead', async () => {
    w = makeWorld();
    const c = await fileMail(w, mailWithDocuments([{ filename: 'loop.pdf', type: PDF, data: loopingPdf() }]));
    expect(c.readings[0].state).toBe('not-read');
    expect(c.readings[0].note).toMatch(/page 1 not read \(Pages tree contains circular reference/);
  });

  test('pdfBombIsStoppedAtTheMemoryBoundAndTheMailIsFiled', async () => {
    // A 3 MB PDF whose one content stream inflates to 1 GB of text operators.
    w = makeWorld({ documents: { readerMemoryMb: 256 } });
    const c = await fileMail(w, mailWithDocuments([{ filename: 'bomb.pdf', type: PDF, data: flateBombPdf(1024) }]));
    expect(c.readings[0].state).toBe('not-read');
    expect(c.readings[0].note).toMatch(/^(memory limit: the reader passed 256 MB|the reader stopped)/);
    expect(c.acknowledgement).not.toBe('');
  });

  test('fiftyMegabyteImageIsNotReadAndTheMailIsFiled', async () => {
    w = makeWorld();
    const c = await fileMail(w, mailWithDocuments([{ filename: 'foto.png', type: 'image/png', data: hugeImage(50) }]));
    expect(c.readings.map((r) => [r.state, r.note])).toEqual([['not-read', 'image of 50 MB, larger than the 30 MB read by OCR']]);
  });

  test('zipBombDocxIsRefusedByItsZipDirectory', async () => {
    w = makeWorld();
    const c = await fileMail(w, mailWithDocuments([{ filename: 'bomb.docx', type: DOCX, data: zipBombDocx(2047) }]));
    expect(c.readings.map((r) => [r.state, r.note])).toEqual([['not-read', 'the Word document expands to 2047 MB, more than the 100 MB read']]);
  });

  test('zipBombDocxWithALyingDirectoryIsStoppedByTheMemoryBound', async () => {
    w = makeWorld({ documents: { readerMemoryMb: 256 } });
    const c = await fileMail(w, mailWithDocuments([{ filename: 'bomb.docx', type: DOCX, data: zipBombDocx(2047, 'lying') }]));
    expect(c.readings[0].state).toBe('not-read');
    // Stopped at the memory bound, by V8's heap limit, or refused by the zip reader: never read, never a crash of ours.
    expect(c.readings[0].note).toMatch(/memory limit: the reader passed 256 MB|not a readable Word document|the reader stopped/);
  });

  test('threeHundredPageScanIsReadWithinItsPageLimitsAfterFiling', async () => {
    w = makeWorld({ documents: { ocrWaitSeconds: 0, ocrMaxPages: 2 } });
    const pdf = await scannedPdf(await scannedLetterPng(), 300);
    const started = Date.now();
    const c = await fileMail(w, mailWithDocuments([{ filename: 'skanning-300.pdf', type: PDF, data: pdf }]));
    // Filed and acknowledged without waiting for 300 pages of OCR.
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(c.readings[0].state).toBe('ocr-pending');
    expect(c.acknowledgement).not.toBe('');
    const r = await w.cli(['run', '--once']);
    expect(r.code).toBe(0);
    const { store, close } = w.store();
    try {
      const reading = store.attachmentReadingsOfCase(store.caseByNumber(c.number)!.id)[0];
      expect(reading.state).toBe('read');
      expect(reading.ocr_pages).toBe(2);
      expect(reading.note).toMatch(/pages 101-300 not read: more than 100 pages/);
      expect(reading.note).toMatch(/pages 3-100 not read: more than 2 pages for OCR/);
    } finally {
      close();
    }
  });

  test('serviceStaysUpThroughHostileDocumentsAndFilesTheNextMail', async () => {
    w = makeWorld({ documents: { readerMemoryMb: 256, ocrWaitSeconds: 0, ocrMaxPages: 1 } });
    const svc = w.start();
    const hostile: Array<[string, string, Buffer]> = [
      ['låst.pdf', PDF, encryptedPdf()],
      ['skript.pdf', PDF, javascriptPdf()],
      ['loop.pdf', PDF, loopingPdf()],
      ['bomb.pdf', PDF, flateBombPdf(1024)],
      ['foto.png', 'image/png', hugeImage(50)],
      ['bomb.docx', DOCX, zipBombDocx(2047)],
      ['lying.docx', DOCX, zipBombDocx(2047, 'lying')],
      ['skanning-300.pdf', PDF, await scannedPdf(await scannedLetterPng(), 300)],
    ];
    for (const [i, [filename, type, data]] of hostile.entries())
      deliverToMaildir(w.maildir, mailWithDocuments([{ filename, type, data }], { from: `Kund ${i} <kund${i}@example.com>` }));
    const count = (): number => {
      const { store, close } = w.store();
      try {
        return store.listCases({}).length;
      } finally {
        close();
      }
    };
    await waitFor('the hostile mails filed', () => count() === hostile.length, 120_000, 500);
    deliverToMaildir(w.maildir, complaintMail('efter'));
    await waitFor('the next mail filed', () => count() === hostile.length + 1, 60_000, 500);
    expect(svc.exitCode).toBeNull();
    // Every attachment kept, each hostile one marked as not read or read within bounds.
    const { store, close } = w.store();
    try {
      const readings = store.listCases({}).flatMap((c) => store.attachmentReadingsOfCase(c.id));
      expect(readings).toHaveLength(hostile.length);
      expect(
        readings
          .filter((r) => r.state === 'not-read')
          .map((r) => r.filename)
          .sort(),
      ).toEqual(['bomb.docx', 'bomb.pdf', 'foto.png', 'loop.pdf', 'lying.docx', 'låst.pdf'].sort());
      for (const c of store.listCases({}))
        for (const m of store.messagesOfCase(c.id))
          for (const a of store.attachmentsOfMessage(m.id)) expect(fs.existsSync(path.join(w.dataDir, a.path))).toBe(true);
    } finally {
      close();
    }
  });
});
