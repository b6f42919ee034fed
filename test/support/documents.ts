/**
 * Made documents for the document-reading tests and the bench: built here, never downloaded.
 * A PDF letter with a text layer (pdf-lib, standard fonts: å, ä, ö are in WinAnsi), the firm's
 * own form filled in, a Word .docx (a zip written here), a scanned page (a letter rendered to PNG
 * with pdftoppm, and that PNG as an image-only PDF), and hostile ones: an encrypted PDF, a PDF
 * with JavaScript, a PDF whose page tree loops, a 50 MB image, a .docx zip bomb, a 300-page scan.
 *
 * `npx ts-node test/support/documents.ts DIR` is not needed: tests call these functions; the
 * `writeAll(dir)` below writes every fixture to a folder for a look by hand.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { PDFDocument, StandardFonts } from 'pdf-lib';
import { complaintFormPdf } from '../../src/documents/complaint-form';

/** A Swedish complaint letter: date of the problem, amount, agreement number, demand and reason, with å ä ö. */
export const LETTER_SV = [
  'Stockholm den 20 november 2026',
  '',
  'Till Exempelfinans AB, klagomålsansvarig',
  '',
  'Klagomål på påminnelseavgift',
  '',
  'Den 3 november 2026 drogs en påminnelseavgift på 450 kr från mitt konto, fast jag betalade',
  'fakturan i tid. Det gäller avtalsnummer AV-778812. Jag har kontoutdrag som',
  'visar att betalningen gick iväg före förfallodagen, och jag förstår inte varför avgiften',
  'ändå togs ut. Jag har ringt er kundtjänst två gånger utan att få något svar.',
  '',
  'Jag vill att ni betalar tillbaka 450 kr eftersom avgiften togs ut felaktigt, och att ni',
  'rättar uppgiften hos er så att det inte händer igen.',
  '',
  'Med vänliga hälsningar',
  'Åsa Öberg',
  'Storgatan 12, 114 55 Stockholm',
];

export const LETTER_EN = [
  'Dear Sir or Madam,',
  '',
  'I am writing to complain about an interest charge on my loan, agreement number AG-55120.',
  'On 4 November 2026 you charged me 1 250 SEK in interest although the loan was already repaid',
  'in full. I have the bank statement that shows the repayment reached you in time, and',
  'your customer service could not explain the charge when I called them last week.',
  '',
  'I ask for a refund of the 1 250 SEK because the interest was charged after the loan was',
  'repaid.',
  '',
  'Kind regards',
  'John Smith',
];

/** A PDF with these lines as its text layer (one page per `pages` entry). */
export async function letterPdf(pages: ReadonlyArray<readonly string[]> = [LETTER_SV]): Promise<Buffer> {
  const doc = await PDFDocument.create();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  for (const lines of pages) {
    const page = doc.addPage([595.28, 841.89]);
    let y = 780;
    for (const l of lines) {
      if (l) page.drawText(l, { x: 60, y, size: 11, font });
      y -= 16;
    }
  }
  return Buffer.from(await doc.save());
}

/** The firm's own form (as `klagomal form` writes it), filled in field by field. */
export async function filledFormPdf(values: Readonly<Record<string, string>>, lang: 'sv' | 'en' = 'sv'): Promise<Buffer> {
  const blank = await complaintFormPdf({ lang, firmName: 'Exempelfinans AB', complaintsAddress: 'klagomal@exempelfinans.se' });
  const doc = await PDFDocument.load(blank);
  const form = doc.getForm();
  for (const [name, value] of Object.entries(values)) form.getTextField(name).setText(value);
  return Buffer.from(await doc.save());
}

export const FORM_VALUES_SV: Readonly<Record<string, string>> = {
  klagomal_namn: 'Örjan Ärlig',
  klagomal_epost: 'orjan.arlig@example.se',
  klagomal_telefon: '070-123 45 67',
  klagomal_kundnummer: 'K-40021',
  klagomal_personnummer: '19811218-9876',
  klagomal_avtalsnummer: 'AV-900431',
  klagomal_galler: 'Avgift för autogiro',
  klagomal_datum: '2026-11-02',
  klagomal_beskrivning:
    'En avgift på 95 kr för ett misslyckat autogiro drogs fast dragningen gick igenom. Jag har skärmbilder från banken som visar att pengarna fanns på kontot hela dagen och att dragningen gjordes.',
  klagomal_ersattning: 'ja',
  klagomal_belopp: '95',
  klagomal_skal: 'Avgiften togs ut fast dragningen lyckades.',
};

// ---- .docx: a zip written here (APPNOTE.TXT), deflated entries ------------------------------

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(b: Buffer): number {
  let c = 0xffffffff;
  for (const x of b) c = CRC_TABLE[(c ^ x) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

interface ZipEntry {
  readonly name: string;
  readonly data?: Buffer;
  /** Already deflated bytes, with the sizes to declare (for the zip bomb). */
  readonly raw?: { deflated: Buffer; size: number; crc: number };
}

export function zip(entries: readonly ZipEntry[]): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const deflated = e.raw ? e.raw.deflated : zlib.deflateRawSync(e.data!);
    const size = e.raw ? e.raw.size : e.data!.length;
    const crc = e.raw ? e.raw.crc : crc32(e.data!);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(8, 8); // deflate
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(deflated.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(20, 4);
    cd.writeUInt16LE(20, 6);
    cd.writeUInt16LE(0x0800, 8);
    cd.writeUInt16LE(8, 10);
    cd.writeUInt32LE(crc, 16);
    cd.writeUInt32LE(deflated.length, 20);
    cd.writeUInt32LE(size, 24);
    cd.writeUInt16LE(name.length, 28);
    cd.writeUInt32LE(offset, 42);
    parts.push(local, name, deflated);
    central.push(cd, name);
    offset += 30 + name.length + deflated.length;
  }
  const cdBuf = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cdBuf.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, cdBuf, end]);
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function docxParts(documentXml: ZipEntry): ZipEntry[] {
  return [
    {
      name: '[Content_Types].xml',
      data: Buffer.from(
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
      ),
    },
    {
      name: '_rels/.rels',
      data: Buffer.from(
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>',
      ),
    },
    documentXml,
  ];
}

const DOC_HEAD =
  '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>';
const DOC_TAIL = '</w:body></w:document>';

/** A Word document with one paragraph per line. */
export function letterDocx(lines: readonly string[] = LETTER_SV): Buffer {
  const body = lines.map((l) => `<w:p><w:r><w:t xml:space="preserve">${esc(l)}</w:t></w:r></w:p>`).join('');
  return zip(docxParts({ name: 'word/document.xml', data: Buffer.from(DOC_HEAD + body + DOC_TAIL, 'utf8') }));
}

/**
 * A .docx whose document.xml inflates to `mib` MiB of spaces from a few MB: the same flushed
 * deflate block repeated (deflate blocks concatenate, RFC 1951 §3.2.3), then a final empty one.
 * `declared`: the size its zip directory admits to (a lying directory hides the bomb from a
 * check of the directory; the memory bound must stop it then).
 */
export function zipBombDocx(mib = 2047, declared: 'true' | 'lying' = 'true'): Buffer {
  const head = zlib.deflateRawSync(Buffer.from(DOC_HEAD + '<w:p><w:r><w:t>'), { finishFlush: zlib.constants.Z_FULL_FLUSH });
  const block = zlib.deflateRawSync(Buffer.alloc(1048576, 0x20), { finishFlush: zlib.constants.Z_FULL_FLUSH });
  const tail = zlib.deflateRawSync(Buffer.from('</w:t></w:r></w:p>' + DOC_TAIL));
  const deflated = Buffer.concat([head, ...Array.from({ length: mib }, () => block), tail]);
  const size = declared === 'true' ? Math.min(0xffffffff, mib * 1048576 + 200) : 4096;
  return zip(docxParts({ name: 'word/document.xml', raw: { deflated, size, crc: 0 } }));
}

// ---- raw PDFs for the hostile ones ---------------------------------------------------------

/** A PDF from object bodies (object i+1 = objects[i]) with a correct xref table. */
export function rawPdf(objects: readonly string[], trailer = ''): Buffer {
  let out = '%PDF-1.7\n%\xe2\xe3\xcf\xd3\n';
  const offsets: number[] = [];
  objects.forEach((o, i) => {
    offsets.push(Buffer.byteLength(out, 'latin1'));
    out += `${i + 1} 0 obj\n${o}\nendobj\n`;
  });
  const xref = Buffer.byteLength(out, 'latin1');
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const o of offsets) out += `${String(o).padStart(10, '0')} 00000 n \n`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R ${trailer} >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}

const textPage = (stream: string): string[] => [
  `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>`,
  `<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`,
  '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>',
];
const LINE = 'BT /F1 11 Tf 60 780 Td (Klagomal: avgiften 450 kr den 3 november 2026 var fel.) Tj ET';

/** Encrypted with a user password (Standard security handler, R2): no text without the password. */
export function encryptedPdf(): Buffer {
  const hex = (n: number, seed: number): string => Array.from({ length: n }, (_, i) => ((i * 37 + seed) & 0xff).toString(16).padStart(2, '0')).join('');
  return rawPdf(
    [
      '<< /Type /Catalog /Pages 2 0 R >>',
      '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
      ...textPage(LINE),
      `<< /Filter /Standard /V 1 /R 2 /O <${hex(32, 7)}> /U <${hex(32, 91)}> /P -4 >>`,
    ],
    `/Encrypt 6 0 R /ID [<${hex(16, 3)}> <${hex(16, 3)}>]`,
  );
}

/** A letter whose catalog opens with JavaScript that would loop forever if it were run. */
export function javascriptPdf(): Buffer {
  return rawPdf([
    '<< /Type /Catalog /Pages 2 0 R /OpenAction 6 0 R /Names << /JavaScript << /Names [(x) 6 0 R] >> >> >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    ...textPage(LINE),
    '<< /S /JavaScript /JS (while \\(true\\) { app.alert\\("x"\\); }) >>',
  ]);
}

/** A page tree that loops: the pages node's only kid is a pages node whose kid is the first. */
export function loopingPdf(): Buffer {
  return rawPdf([
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1000000 >>',
    '<< /Type /Pages /Parent 2 0 R /Kids [2 0 R] /Count 1000000 >>',
  ]);
}

/**
 * A PDF bomb: one page whose content stream (FlateDecode) inflates to `mib` MiB of text-drawing
 * operators from about a thousandth of that (repeated flushed deflate blocks, as in the zip bomb).
 */
export function flateBombPdf(mib = 1024): Buffer {
  const op = Buffer.from('BT /F1 11 Tf 60 700 Td (Klagomal) Tj ET\n'.repeat(1048576 / 40 + 1).slice(0, 1048576), 'latin1');
  const block = zlib.deflateRawSync(op, { finishFlush: zlib.constants.Z_FULL_FLUSH });
  const stream = Buffer.concat([Buffer.from([0x78, 0x9c]), ...Array.from({ length: mib }, () => block), Buffer.from([0x03, 0x00, 0, 0, 0, 0])]);
  const data = stream.toString('latin1');
  return rawPdf([
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    `<< /Length ${stream.length} /Filter /FlateDecode >>\nstream\n${data}\nendstream`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>',
  ]);
}

/** A PNG of about `mib` MiB (incompressible IDAT behind a valid header): too big to OCR. */
export function hugeImage(mib = 50): Buffer {
  const ihdr = Buffer.alloc(25);
  ihdr.writeUInt32BE(13, 0);
  ihdr.write('IHDR', 4, 'latin1');
  ihdr.writeUInt32BE(8000, 8);
  ihdr.writeUInt32BE(8000, 12);
  ihdr[16] = 8;
  ihdr[17] = 2;
  const data = Buffer.alloc(mib * 1048576);
  for (let i = 0; i < data.length; i += 4) data.writeUInt32LE((i * 2654435761) >>> 0, i);
  const idatHead = Buffer.alloc(8);
  idatHead.writeUInt32BE(data.length, 0);
  idatHead.write('IDAT', 4, 'latin1');
  return Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'), ihdr, idatHead, data, Buffer.alloc(4)]);
}

// ---- scans ---------------------------------------------------------------------------------

/** A letter PDF rendered to PNG with pdftoppm (poppler-utils): what a scanner or phone gives. */
export async function scannedLetterPng(lines: readonly string[] = LETTER_SV, dpi = 200): Promise<Buffer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-scan-'));
  try {
    fs.writeFileSync(path.join(dir, 'letter.pdf'), await letterPdf([lines]));
    execFileSync('pdftoppm', ['-r', String(dpi), '-gray', '-png', '-singlefile', path.join(dir, 'letter.pdf'), path.join(dir, 'page')]);
    return fs.readFileSync(path.join(dir, 'page.png'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The letter scanned as JPEG or TIFF (pdftoppm's -jpeg and -tiff): what phones and office scanners give. */
export async function scannedLetterImage(format: 'jpeg' | 'tiff', lines: readonly string[] = LETTER_SV, dpi = 200): Promise<Buffer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-scan-'));
  try {
    fs.writeFileSync(path.join(dir, 'letter.pdf'), await letterPdf([lines]));
    execFileSync('pdftoppm', ['-r', String(dpi), '-gray', `-${format}`, '-singlefile', path.join(dir, 'letter.pdf'), path.join(dir, 'page')]);
    return fs.readFileSync(path.join(dir, format === 'jpeg' ? 'page.jpg' : 'page.tif'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** An image-only PDF (no text layer): the scanned page on each of `pages` pages. */
export async function scannedPdf(png: Buffer, pages = 1): Promise<Buffer> {
  const doc = await PDFDocument.create();
  const image = await doc.embedPng(png);
  for (let i = 0; i < pages; i++) {
    const page = doc.addPage([595.28, 841.89]);
    page.drawImage(image, { x: 0, y: 0, width: 595.28, height: 841.89 });
  }
  return Buffer.from(await doc.save());
}

/** Every fixture into `dir`, for a look by hand (`node dist/test/support/documents.js DIR`). */
export async function writeAll(dir: string): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  const png = await scannedLetterPng();
  const files: Record<string, Buffer> = {
    'letter-sv.pdf': await letterPdf(),
    'letter-en.pdf': await letterPdf([LETTER_EN]),
    'form-filled-sv.pdf': await filledFormPdf(FORM_VALUES_SV),
    'letter-sv.docx': letterDocx(),
    'scan-sv.png': png,
    'scan-sv.pdf': await scannedPdf(png),
    'encrypted.pdf': encryptedPdf(),
    'javascript.pdf': javascriptPdf(),
    'looping.pdf': loopingPdf(),
    'flate-bomb.pdf': flateBombPdf(),
    'huge.png': hugeImage(),
    'bomb.docx': zipBombDocx(),
    'scan-300.pdf': await scannedPdf(png, 300),
  };
  for (const [name, b] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), b);
}

if (require.main === module) void writeAll(process.argv[2] ?? path.join(os.tmpdir(), 'klagomal-documents'));
