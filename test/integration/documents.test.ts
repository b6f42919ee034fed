/**
 * Complaints that arrive as documents (issue 19): a short mail ("se bifogat") with the whole
 * complaint in a PDF letter, a Word document, the firm's own form filled in, or a scanned page.
 * Each goes through the real `klagomal ingest`; the case must get the date, the amount, the
 * reference, the demand and the reason from the document, each with its source, and the
 * acknowledgement must ask for nothing the document gave. The documents are made by
 * test/support/documents.ts, never downloaded.
 */
import fs from 'node:fs';
import path from 'node:path';
import { makeWorld, World } from '../support/world';
import { ASKS_FOR_MORE, DOCX, PDF, fileMail, mailWithDocuments } from '../support/document-mail';
import { execFileSync } from 'node:child_process';
import { PDFDocument } from 'pdf-lib';
import { COMPLAINT_FORM_FIELDS } from '../../src/documents/complaint-form';
import { FORM_VALUES_SV, LETTER_EN, filledFormPdf, letterDocx, letterPdf, scannedLetterImage, scannedLetterPng, scannedPdf } from '../support/documents';

jest.setTimeout(60_000);

describe('complaints in attached documents', () => {
  let w: World;
  beforeEach(() => {
    w = makeWorld();
  });
  afterEach(() => w.cleanup());

  test('complaintInAttachedPdfLetterIsRead', async () => {
    const c = await fileMail(w, mailWithDocuments([{ filename: 'klagomål.pdf', type: PDF, data: await letterPdf() }]));
    expect(c.readings.map((r) => r.state)).toEqual(['read']);
    expect(c.fields.incidentDate).toBe('2026-11-03');
    expect(c.fields.amountsSek).toEqual([450]);
    expect(c.fields.references).toEqual([{ type: 'agreement', value: 'AV-778812' }]);
    expect(c.fields.compensationAsked).toBe(true);
    expect(String(c.fields.compensationReason)).toMatch(/betalar tillbaka 450 kr eftersom avgiften togs ut felaktigt/);
    expect(c.fields.missing).toEqual([]);
    // Each field says where it was read: the attachment and its page.
    expect(c.fields.sources.incidentDate).toEqual({ from: 'attachment', file: 'klagomål.pdf', page: 1 });
    expect(c.fields.sources.compensation).toEqual({ from: 'attachment', file: 'klagomål.pdf', page: 1 });
    expect(c.fields.sources.contact).toEqual({ from: 'body' });
    expect(c.acknowledgement).not.toMatch(ASKS_FOR_MORE);
  });

  test('complaintInAttachedEnglishPdfLetterIsRead', async () => {
    const c = await fileMail(
      w,
      mailWithDocuments([{ filename: 'complaint.pdf', type: PDF, data: await letterPdf([LETTER_EN]) }], {
        text: 'Please see the attached letter.',
        from: 'John Smith <john.smith@example.com>',
        subject: 'Complaint',
      }),
    );
    expect(c.fields.incidentDate).toBe('2026-11-04');
    expect(c.fields.amountsSek).toEqual([1250]);
    expect(c.fields.references).toEqual([{ type: 'agreement', value: 'AG-55120' }]);
    expect(c.fields.compensationAsked).toBe(true);
    expect(c.fields.missing).toEqual([]);
    expect(c.acknowledgement).not.toMatch(ASKS_FOR_MORE);
  });

  test('complaintInAttachedWordDocumentIsRead', async () => {
    const c = await fileMail(w, mailWithDocuments([{ filename: 'brev.docx', type: DOCX, data: letterDocx() }]));
    expect(c.readings.map((r) => [r.kind, r.state])).toEqual([['docx', 'read']]);
    expect(c.fields.incidentDate).toBe('2026-11-03');
    expect(c.fields.amountsSek).toEqual([450]);
    expect(c.fields.references).toEqual([{ type: 'agreement', value: 'AV-778812' }]);
    expect(c.fields.compensationAsked).toBe(true);
    expect(c.fields.sources.incidentDate).toEqual({ from: 'attachment', file: 'brev.docx', page: null });
    expect(c.fields.missing).toEqual([]);
    expect(c.acknowledgement).not.toMatch(ASKS_FOR_MORE);
  });

  test('acknowledgementDoesNotAskForWhatTheFormGave', async () => {
    const c = await fileMail(
      w,
      mailWithDocuments([{ filename: 'formular.pdf', type: PDF, data: await filledFormPdf(FORM_VALUES_SV) }], { text: 'Ifyllt formulär bifogat.' }),
    );
    expect(c.fields.fromForm).toBe(true);
    expect(c.fields.contactName).toBe('Örjan Ärlig');
    expect(c.fields.incidentDate).toBe('2026-11-02');
    expect(c.fields.amountsSek).toEqual([95]);
    expect(c.fields.references).toEqual(
      expect.arrayContaining([
        { type: 'agreement', value: 'AV-900431' },
        { type: 'customer', value: 'K-40021' },
      ]),
    );
    expect(c.fields.compensationAsked).toBe(true);
    expect(c.fields.compensationReason).toBe('Avgiften togs ut fast dragningen lyckades.');
    expect(c.fields.personnummerMasked).toMatch(/^19811218-\*{4}$/);
    // Read field by field: each item names its form field.
    expect(c.fields.sources.incidentDate).toEqual({ from: 'form', file: 'formular.pdf', field: 'klagomal_datum' });
    expect(c.fields.sources.contact).toEqual({ from: 'form', file: 'formular.pdf', field: 'klagomal_namn' });
    expect(c.fields.sources.amounts).toEqual({ from: 'form', file: 'formular.pdf', field: 'klagomal_belopp' });
    expect(c.fields.missing).toEqual([]);
    expect(c.acknowledgement).not.toMatch(ASKS_FOR_MORE);
  });

  test('formWithoutCompensationAnswerIsNotReadFromItsPrintedQuestion', async () => {
    // The form's own printed label "Önskar du ersättning?" is no answer: an empty field stays missing.
    const { klagomal_ersattning: _a, klagomal_belopp: _b, klagomal_skal: _c, ...rest } = FORM_VALUES_SV;
    (void _a, _b, _c);
    const c = await fileMail(w, mailWithDocuments([{ filename: 'formular.pdf', type: PDF, data: await filledFormPdf(rest) }], { text: 'Bifogar formuläret.' }));
    expect(c.fields.compensationAsked).toBeNull();
    expect(c.fields.missing).toEqual(['compensation']);
    expect(c.acknowledgement).toMatch(ASKS_FOR_MORE);
  });

  test('personnummerInAttachedDocumentIsMaskedInStoredTextAndCaseShow', async () => {
    const c = await fileMail(w, mailWithDocuments([{ filename: 'formular.pdf', type: PDF, data: await filledFormPdf(FORM_VALUES_SV) }]));
    const stored = JSON.stringify(c.readings);
    expect(stored).not.toMatch(/811218-?9876/);
    expect(stored).toMatch(/19811218-\*{4}/);
    const show = await w.cli(['case', 'show', c.number]);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/field klagomal_datum: 2026-11-02/);
    expect(show.stdout).not.toMatch(/811218-?9876/);
  });

  test('combFieldPersonnummerInPdfLeftInClear: one box per character, as a printed or flattened form draws it', async () => {
    const { StandardFonts } = await import('pdf-lib');
    const doc = await PDFDocument.create();
    const font = await doc.embedFont(StandardFonts.Helvetica);
    const page = doc.addPage([595.28, 841.89]);
    page.drawText('Jag klagar på en avgift på 60 kr som togs ut den 3 november 2026.', { x: 60, y: 780, size: 11, font });
    page.drawText('Personnummer:', { x: 60, y: 700, size: 11, font });
    [...'811218-9876'].forEach((ch, i) => page.drawText(ch, { x: 160 + i * 14, y: 700, size: 11, font }));
    const c = await fileMail(w, mailWithDocuments([{ filename: 'reklamation.pdf', type: PDF, data: Buffer.from(await doc.save()) }]));
    const stored = JSON.stringify(c.readings);
    expect(stored).not.toMatch(/8 ?1 ?1 ?2 ?1 ?8 ?- ?9 ?8 ?7 ?6/);
    expect(stored).toContain('Personnummer: 19811218-****');
    expect(stored).toContain('Jag klagar på en avgift på 60 kr'); // words of ordinary text stay apart
    expect(c.fields.personnummerMasked).toBe('19811218-****');
    const show = await w.cli(['case', 'show', c.number]);
    expect(show.stdout).not.toMatch(/8 1 1 2 1 8/);
  });

  test('caseShowShowsTheTextReadFromTheAttachment', async () => {
    const c = await fileMail(w, mailWithDocuments([{ filename: 'brev.pdf', type: PDF, data: await letterPdf() }]));
    const show = await w.cli(['case', 'show', c.number]);
    expect(show.stdout).toMatch(/read \(pdf, 1 page\(s\)\)/);
    expect(show.stdout).toMatch(/\| Den 3 november 2026 drogs en påminnelseavgift på 450 kr/);
    const json = JSON.parse((await w.cli(['case', 'show', c.number, '--json'])).stdout);
    const a = json.messages[0].attachments[0];
    expect(a.reading.state).toBe('read');
    expect(a.reading.pages[0].text).toMatch(/Åsa Öberg/);
  });

  test('formWrittenByKlagomalFormIsReadFieldByFieldWhenReturned', async () => {
    const out = path.join(w.dir, 'klagomal-en.pdf');
    const r = await w.cli(['form', '--lang', 'en', '--out', out]);
    expect(r.code).toBe(0);
    // The firm's name and address from the config, the labels in English.
    const text = execFileSync('pdftotext', [out, '-'], { encoding: 'utf8' });
    expect(text).toMatch(/Complaint – Testfinans AB/);
    expect(text).toMatch(/klagomal@testfinans\.se/);
    expect(text).toMatch(/Do you want compensation\?/);
    // Fillable, with exactly the fields the reader knows.
    const doc = await PDFDocument.load(fs.readFileSync(out));
    const form = doc.getForm();
    expect(form.getFields().map((f) => f.getName())).toEqual(COMPLAINT_FORM_FIELDS.map((f) => f.name));
    // A customer fills it in (in English) and sends it back.
    const values: Record<string, string> = {
      klagomal_namn: 'John Smith',
      klagomal_galler: 'Interest on my loan',
      klagomal_datum: '2026-11-04',
      klagomal_beskrivning:
        'Interest of 1 250 SEK was charged on 4 November although the loan had already been repaid in full at the end of October, as my bank statement shows clearly.',
      klagomal_ersattning: 'yes',
      klagomal_belopp: '1250',
      klagomal_skal: 'The loan was repaid before the interest was charged.',
      klagomal_avtalsnummer: 'Agreement number AG-55120',
    };
    for (const [k, v] of Object.entries(values)) form.getTextField(k).setText(v);
    const c = await fileMail(
      w,
      mailWithDocuments([{ filename: 'complaint-form.pdf', type: PDF, data: Buffer.from(await doc.save()) }], {
        text: 'Form attached.',
        from: 'John Smith <john@example.com>',
      }),
    );
    expect(c.fields.incidentDate).toBe('2026-11-04');
    expect(c.fields.amountsSek).toEqual([1250]);
    expect(c.fields.compensationAsked).toBe(true);
    expect(c.fields.compensationReason).toBe('The loan was repaid before the interest was charged.');
    expect(c.fields.category).toBe('interest');
    expect(c.fields.sources.concerns).toEqual({ from: 'form', file: 'complaint-form.pdf', field: 'klagomal_galler' });
    expect(c.fields.missing).toEqual([]);
  });

  test('formSentInAFollowUpFillsWhatTheComplaintLacked', async () => {
    const first = await fileMail(
      w,
      mailWithDocuments([], { text: 'Hej, jag är missnöjd och vill klaga. Jag skickar formuläret sedan.', from: 'Örjan Ärlig <orjan@example.com>' }),
    );
    expect(first.fields.missing).toEqual(expect.arrayContaining(['incidentDate', 'description', 'compensation']));
    const file = path.join(w.dir, 'followup.eml');
    fs.writeFileSync(
      file,
      mailWithDocuments([{ filename: 'formular.pdf', type: PDF, data: await filledFormPdf(FORM_VALUES_SV) }], {
        text: 'Här kommer formuläret.',
        from: 'Örjan Ärlig <orjan@example.com>',
        subject: `Sv: [${first.number}] Klagomål`,
      }),
    );
    const r = await w.cli(['ingest', '--json', file]);
    expect(JSON.parse(r.stdout.trim().split('\n')[0])).toMatchObject({ kind: 'followup', caseId: first.number });
    const { store, close } = w.store();
    try {
      const c = store.caseByNumber(first.number)!;
      const fields = JSON.parse(c.fields);
      expect(fields.incidentDate).toBe('2026-11-02');
      expect(fields.missing).toEqual([]);
      expect(fields.sources.incidentDate).toEqual({ from: 'form', file: 'formular.pdf', field: 'klagomal_datum' });
      const updated = store.eventsOfCase(c.id).filter((e) => e.type === 'fields-updated');
      expect(updated.map((e) => JSON.parse(e.detail))).toEqual([
        expect.objectContaining({
          by: 'documents of a follow-up',
          found: expect.arrayContaining(['incidentDate', 'description', 'compensation']),
          stillMissing: [],
        }),
      ]);
    } finally {
      close();
    }
  });

  test('formCommandRefusesAnUnknownLanguage', async () => {
    const r = await w.cli(['form', '--lang', 'de', '--out', path.join(w.dir, 'x.pdf')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--lang: "de"; allowed: sv, en/);
    expect(fs.existsSync(path.join(w.dir, 'x.pdf'))).toBe(false);
  });
});

const OFFICERS = [
  { name: 'Karin Ansvarig', address: 'karin@testfinans.se', role: 'manager' },
  { name: 'Olle Handläggare', address: 'olle@testfinans.se', role: 'officer' },
];

describe('scanned complaints (OCR)', () => {
  let w: World;
  afterEach(() => w.cleanup());

  test('scannedLetterImageIsReadByOcrBeforeTheAcknowledgement', async () => {
    // A wait long enough for one page on a busy machine: the acknowledgement then has the fields.
    w = makeWorld({ documents: { ocrWaitSeconds: 30 } });
    const png = await scannedLetterPng();
    const c = await fileMail(w, mailWithDocuments([{ filename: 'skanning.png', type: 'image/png', data: png }]));
    expect(c.readings.map((r) => [r.kind, r.state])).toEqual([['image', 'read']]);
    expect(c.fields.incidentDate).toBe('2026-11-03');
    expect(c.fields.amountsSek).toEqual([450]);
    expect(c.fields.references).toEqual([{ type: 'agreement', value: 'AV-778812' }]);
    expect(c.fields.compensationAsked).toBe(true);
    expect(c.fields.sources.incidentDate).toEqual({ from: 'attachment', file: 'skanning.png', page: null });
    expect(c.fields.missing).toEqual([]);
    expect(c.acknowledgement).not.toMatch(ASKS_FOR_MORE);
  });

  test.each([
    ['jpeg', 'image/jpeg', 'foto.jpg'],
    ['tiff', 'image/tiff', 'skanner.tif'],
  ] as const)('scannedLetterAs %s IsReadByOcr', async (format, type, filename) => {
    w = makeWorld({ documents: { ocrWaitSeconds: 30 } });
    const c = await fileMail(w, mailWithDocuments([{ filename, type, data: await scannedLetterImage(format) }]));
    expect(c.readings.map((r) => [r.kind, r.state])).toEqual([['image', 'read']]);
    expect(c.fields.incidentDate).toBe('2026-11-03');
    expect(c.fields.references).toEqual([{ type: 'agreement', value: 'AV-778812' }]);
    expect(c.fields.missing).toEqual([]);
  });

  test('imageOnlyPdfIsReadByOcrPageByPage', async () => {
    w = makeWorld({ documents: { ocrWaitSeconds: 30 } });
    const pdf = await scannedPdf(await scannedLetterPng());
    const c = await fileMail(w, mailWithDocuments([{ filename: 'skannat.pdf', type: PDF, data: pdf }]));
    expect(c.readings[0].state).toBe('read');
    expect(JSON.parse(c.readings[0].pages)[0]).toMatchObject({ page: 1, via: 'ocr' });
    expect(c.fields.incidentDate).toBe('2026-11-03');
    expect(c.fields.sources.incidentDate).toEqual({ from: 'attachment', file: 'skannat.pdf', page: 1 });
    expect(c.fields.missing).toEqual([]);
  });

  test('ocrThatDoesNotFinishInTheWaitUpdatesTheCaseAfterFilingAndTellsTheContactPerson', async () => {
    // No wait at all: the acknowledgement goes without OCR (it must never wait long on it).
    w = makeWorld({ documents: { ocrWaitSeconds: 0 }, officers: OFFICERS });
    const pdf = await scannedPdf(await scannedLetterPng());
    const c = await fileMail(w, mailWithDocuments([{ filename: 'skannat.pdf', type: PDF, data: pdf }]));
    expect(c.readings[0].state).toBe('ocr-pending');
    expect(c.fields.missing).toEqual(expect.arrayContaining(['incidentDate', 'description', 'compensation']));
    expect(c.acknowledgement).toMatch(ASKS_FOR_MORE);

    const r = await w.cli(['run', '--once', '--json']);
    expect(r.code).toBe(0);
    const { store, close } = w.store();
    try {
      const row = store.caseByNumber(c.number)!;
      const fields = JSON.parse(row.fields);
      expect(fields.incidentDate).toBe('2026-11-03');
      expect(fields.amountsSek).toEqual([450]);
      expect(fields.missing).toEqual([]);
      expect(fields.sources.incidentDate).toEqual({ from: 'attachment', file: 'skannat.pdf', page: 1 });
      expect(store.attachmentReadingsOfCase(row.id)[0].state).toBe('read');
      const events = store.eventsOfCase(row.id);
      const updated = events.find((e) => e.type === 'fields-updated');
      expect(JSON.parse(updated!.detail)).toMatchObject({ found: expect.arrayContaining(['incidentDate', 'description', 'compensation']), stillMissing: [] });
      // The contact person sees what was found.
      const notice = store.outboxOfCase(row.id).find((o) => o.idempotency_key.startsWith('ocr-read:'));
      expect(notice?.to_address).toBe(row.contact_officer);
      expect(notice?.body_text).toMatch(/Nu finns \/ now given: .*incidentDate/);
      expect(notice?.body_text).toMatch(/2026-11-03/);
    } finally {
      close();
    }
    // Only once: a second pass finds nothing to read.
    await w.cli(['run', '--once']);
    const again = w.store();
    try {
      const row = again.store.caseByNumber(c.number)!;
      expect(again.store.eventsOfCase(row.id).filter((e) => e.type === 'fields-updated')).toHaveLength(1);
    } finally {
      again.close();
    }
  });

  test('scanIsNotReadWhenNoOcrIsInstalledAndTheMailIsFiled', async () => {
    w = makeWorld({ documents: { tesseract: path.join('/nonexistent', 'tesseract') } });
    const png = await scannedLetterPng();
    const c = await fileMail(w, mailWithDocuments([{ filename: 'skanning.png', type: 'image/png', data: png }]));
    expect(c.readings.map((r) => [r.state, r.note])).toEqual([['not-read', 'no OCR installed']]);
    const show = await w.cli(['case', 'show', c.number]);
    expect(show.stdout).toMatch(/not read: no OCR installed/);
  });
});
