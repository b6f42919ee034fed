/**
 * The pure parts of document reading (src/documents/): which attachments are documents, the zip
 * directory check before inflating, a form's fields as the reader's labels, and the precedence
 * and sources of the complaint read from a mail and its documents.
 */
import { documentKind } from '../../src/documents/reading';
import { zipExpandedSize, imageSize, pageText } from '../../src/documents/reader-child';
import { formFieldLines } from '../../src/documents/complaint-form';
import { readComplaintWithDocuments } from '../../src/documents/complaint-sources';
import { letterDocx, zipBombDocx, LETTER_SV } from '../support/documents';

const MAIL_DATE = new Date('2026-11-21T09:00:00Z');
const input = (text: string) => ({ text, subject: 'Klagomål', senderName: 'Åsa Öberg', senderAddress: 'asa@example.com', mailDate: MAIL_DATE });

describe('which attachments are documents', () => {
  test('attachmentIsADocumentByItsBytesNotItsNameOrType', () => {
    expect(documentKind(Buffer.from('%PDF-1.7\n...'), 'text/plain', 'notes.txt')).toBe('pdf');
    // Random bytes named and typed as a PDF (a large "kontoutdrag.pdf") are not read at all.
    expect(documentKind(Buffer.from([1, 2, 3, 4, 5, 6]), 'application/pdf', 'kontoutdrag.pdf')).toBeNull();
    expect(documentKind(Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'), 'application/octet-stream', null)).toBe('image');
    expect(documentKind(Buffer.from([0xff, 0xd8, 0xff, 0xe0]), null, 'foto')).toBe('image');
    expect(documentKind(Buffer.from('II*\u0000', 'latin1'), null, null)).toBe('image');
  });

  test('zipIsReadAsWordOnlyWhenItSaysItIsWord', () => {
    const zip = letterDocx();
    expect(documentKind(zip, 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', 'a')).toBe('docx');
    expect(documentKind(zip, 'application/octet-stream', 'Brev.DOCX')).toBe('docx');
    expect(documentKind(zip, 'application/zip', 'arkiv.zip')).toBeNull();
  });

  test('oldWordDocumentIsRecognisedToBeNotedAsNotRead', () => {
    expect(documentKind(Buffer.from('d0cf11e0a1b11ae1', 'hex'), 'application/msword', 'brev.doc')).toBe('doc');
  });
});

describe('bounds seen before reading', () => {
  test('zipBombIsSeenInItsDirectoryBeforeAnythingIsInflated', () => {
    expect(zipExpandedSize(zipBombDocx(300))!.bytes).toBeGreaterThan(300 * 1048576);
    expect(zipExpandedSize(letterDocx())!.bytes).toBeLessThan(10_000);
    expect(zipExpandedSize(Buffer.from('not a zip'))).toBeNull();
  });

  test('imagePixelsAreReadFromTheHeaderBeforeOcr', () => {
    const png = Buffer.alloc(24);
    Buffer.from('\x89PNG\r\n\x1a\n', 'latin1').copy(png);
    png.writeUInt32BE(100_000, 16);
    png.writeUInt32BE(100_000, 20);
    expect(imageSize(png)).toEqual({ width: 100_000, height: 100_000 });
  });
});

describe('the complaint from a mail and its documents', () => {
  test('formAmountWithoutCurrencyIsReadAsKronorAndYesAsCompensationWanted', () => {
    const lines = formFieldLines([
      { name: 'klagomal_belopp', value: '1 250' },
      { name: 'klagomal_ersattning', value: 'yes' },
      { name: 'klagomal_namn', value: '' },
      { name: 'Datum', value: '2026-11-02' },
    ]);
    expect(lines).toEqual([
      { field: 'klagomal_belopp', line: 'Belopp: 1 250 kr' },
      { field: 'klagomal_ersattning', line: 'Önskar ersättning: Ja' },
      { field: 'Datum', line: 'Datum: 2026-11-02' },
    ]);
  });

  test('shortMailWithLetterTakesEveryItemFromTheLetterWithItsPage', () => {
    const f = readComplaintWithDocuments(input('Hej, se bifogat.'), [
      { file: 'brev.pdf', pages: [{ page: 2, text: LETTER_SV.join('\n'), via: 'text-layer' }], formFields: [] },
    ]);
    expect(f.incidentDate).toBe('2026-11-03');
    expect(f.missing).toEqual([]);
    expect(f.sources?.incidentDate).toEqual({ from: 'attachment', file: 'brev.pdf', page: 2 });
    expect(f.sources?.contact).toEqual({ from: 'body' });
  });

  test('mailBodyComesBeforeTheLetterAndFormFieldsBeforeBoth', () => {
    const body = 'Problemet uppstod den 1 november 2026 när ni drog en avgift.';
    const letter = { file: 'brev.pdf', pages: [{ page: 1, text: LETTER_SV.join('\n'), via: 'text-layer' as const }], formFields: [] };
    expect(readComplaintWithDocuments(input(body), [letter]).incidentDate).toBe('2026-11-01');
    const form = { file: 'form.pdf', pages: [], formFields: [{ name: 'klagomal_datum', value: '2026-10-30' }] };
    const f = readComplaintWithDocuments(input(body), [letter, form]);
    expect(f.incidentDate).toBe('2026-10-30');
    expect(f.sources?.incidentDate).toEqual({ from: 'form', file: 'form.pdf', field: 'klagomal_datum' });
    // Amounts and references are gathered from every source.
    expect(f.references).toEqual([{ type: 'agreement', value: 'AV-778812' }]);
  });

  test('mailWithoutDocumentsReadsAsBeforeWithItsSourcesTheBody', () => {
    const text = 'Ni tog ut en avgift på 60 kr den 3 november 2026 fast jag betalat i tid. Jag vill ha pengarna tillbaka.';
    const f = readComplaintWithDocuments(input(text), []);
    expect(f.amountsSek).toEqual([60]);
    expect(f.sources?.incidentDate).toEqual({ from: 'body' });
  });
});

describe("a PDF page's text from its items (pdf.js getTextContent)", () => {
  /** Items as pdf.js gives them for text drawn at `x` on a line: each followed by its own space item. */
  const drawn = (parts: Array<[string, number]>, width = 6.116, size = 11): Array<Record<string, unknown>> =>
    parts.flatMap(([str, x]) => [
      { str, transform: [size, 0, 0, size, x, 700], width: str.length * width, height: size, hasEOL: false },
      { str: ' ', transform: [size, 0, 0, size, x + str.length * width, 700], width: 7.9, height: 0, hasEOL: false },
    ]);

  test('combFieldPersonnummerInPdfLeftInClear: one box per character is one word', () => {
    const items = drawn([['Personnummer:', 60], ...[...'811218-9876'].map((ch, i): [string, number] => [ch, 160 + i * 14])], 6.0);
    expect(pageText(items as never)).toBe('Personnummer: 811218-9876');
    // Boxes in groups: a wider gap around the printed dash, or between the groups without one.
    const grouped = drawn(
      [...'811218-9876'].map((ch, i): [string, number] => [ch, 160 + i * 14 + (i >= 6 ? 6 : 0) + (i >= 7 ? 6 : 0)]),
      6.0,
    );
    expect(pageText(grouped as never)).toBe('811218-9876');
    const twelve = drawn(
      [...'198112189876'].map((ch, i): [string, number] => [ch, 160 + i * 14 + (i >= 8 ? 14 : 0)]),
      6.0,
    );
    expect(pageText(twelve as never)).toBe('198112189876');
  });

  test('single-digit table columns and one-letter words stay apart', () => {
    const scores = drawn([['Betyg', 60], ...[...'12345'].map((ch, i): [string, number] => [ch, 120 + i * 18])]);
    expect(pageText(scores as never).trim()).toBe('Betyg 1 2 3 4 5');
    const words = drawn([
      ['Jag', 60],
      ['bor', 90],
      ['i', 115],
      ['å', 125],
      ['ö', 135],
      ['i', 145],
      ['Umeå', 160],
    ]);
    expect(pageText(words as never).trim()).toBe('Jag bor i å ö i Umeå');
    // Digits at an uneven pitch: not a comb field.
    const uneven = drawn([...'1234567'].map((ch, i): [string, number] => [ch, 100 + i * 14 + (i % 2) * 6]));
    expect(pageText(uneven as never).trim()).toBe('1 2 3 4 5 6 7');
  });
});
