/**
 * The document reader's child process: one untrusted document in, its text and form fields out.
 * Started by reader.ts for each attachment (node, a V8 heap limit, its own process group, killed
 * at the time or memory bound), so that a PDF that loops, a zip bomb or a native crash in a
 * decoder ends this process and never the service.
 *
 * Protocol: one JSON ReadRequest on stdin; one JSON DocumentReading (without `ms`) on stdout.
 * Anything else it prints goes to stderr, which the parent drops (document text is personal data).
 *
 * Security: the network is cut before any parser is loaded (sockets, DNS and fetch throw), and
 * pdf.js runs without eval, without fonts from the system and without fetching; PDF JavaScript
 * is never run (pdf.js only runs it in a browser viewer with scripting enabled). The external
 * tools (pdftoppm, tesseract) run under `ulimit -v`, inside this process group.
 */
import net from 'node:net';
import dns from 'node:dns';
import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import type { DocumentKind, DocumentReading, FormFieldValue, PageText } from './reading';
import { notRead } from './reading';

export interface ReadRequest {
  readonly file: string;
  readonly kind: DocumentKind;
  /** Read pages without a text layer and images by OCR now (else they are left `ocr-pending`). */
  readonly ocr: boolean;
  readonly limits: {
    readonly maxPages: number;
    readonly ocrMaxPages: number;
    readonly maxImageBytes: number;
    readonly maxImagePixels: number;
    readonly maxExpandedBytes: number;
    readonly toolMemoryMb: number;
    readonly maxTextChars: number;
  };
  /** Absolute paths of the tools, null when absent; the Tesseract languages (swe+eng). */
  readonly tools: { readonly tesseract: string | null; readonly pdftoppm: string | null; readonly languages: string };
  readonly tmpDir: string;
}

type Reading = Omit<DocumentReading, 'ms'>;

function cutNetwork(): void {
  const refuse = (): never => {
    throw new Error('the document reader has no network');
  };
  net.Socket.prototype.connect = refuse as never;
  (net as { connect: unknown }).connect = refuse;
  (net as { createConnection: unknown }).createConnection = refuse;
  (dns as { lookup: unknown }).lookup = refuse;
  (globalThis as { fetch?: unknown }).fetch = refuse;
}

/** A page with fewer visible characters than this has no usable text layer (a scan). */
const MIN_PAGE_CHARS = 20;

const visible = (s: string): number => s.replace(/\s+/g, '').length;

/** Run a tool under an address-space limit (`ulimit -v`, KiB), its output as text. */
function tool(file: string, args: readonly string[], memoryMb: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      '/bin/sh',
      ['-c', 'ulimit -v "$1"; shift; exec "$@"', 'sh', String(memoryMb * 1024), file, ...args],
      { maxBuffer: 16 * 1024 * 1024, encoding: 'utf8', env: { PATH: '/usr/bin:/bin', OMP_THREAD_LIMIT: '1', LANG: 'C.UTF-8' } },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`${path.basename(file)} failed: ${(stderr || err.message).split('\n')[0].slice(0, 200)}`));
        else resolve(stdout);
      },
    );
  });
}

async function ocrImage(req: ReadRequest, image: string): Promise<string> {
  return tool(req.tools.tesseract!, [image, 'stdout', '-l', req.tools.languages, '--psm', '3'], req.limits.toolMemoryMb);
}

/** Width and height from a PNG's IHDR or a JPEG's SOF marker; null when not found (TIFF: Tesseract's own limits). */
export function imageSize(b: Buffer): { width: number; height: number } | null {
  if (b[0] === 0x89 && b.length >= 24) return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
  if (b[0] === 0xff && b[1] === 0xd8) {
    let i = 2;
    while (i + 9 < b.length) {
      if (b[i] !== 0xff) return null;
      const marker = b[i + 1];
      const len = b.readUInt16BE(i + 2);
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc)
        return { width: b.readUInt16BE(i + 7), height: b.readUInt16BE(i + 5) };
      i += 2 + len;
    }
  }
  return null;
}

async function readImage(req: ReadRequest): Promise<Reading> {
  const size = fs.statSync(req.file).size;
  if (size > req.limits.maxImageBytes) return notRead(`image of ${mb(size)} MB, larger than the ${mb(req.limits.maxImageBytes)} MB read by OCR`);
  const head = Buffer.alloc(64 * 1024);
  const fd = fs.openSync(req.file, 'r');
  const n = fs.readSync(fd, head, 0, head.length, 0);
  fs.closeSync(fd);
  const dim = imageSize(head.subarray(0, n));
  if (dim && dim.width * dim.height > req.limits.maxImagePixels)
    return notRead(`image of ${dim.width}x${dim.height} pixels, more than the ${Math.round(req.limits.maxImagePixels / 1e6)} megapixels read by OCR`);
  if (!req.tools.tesseract) return notRead('no OCR installed');
  if (!req.ocr) return { state: 'ocr-pending', note: 'an image: waiting for OCR', pages: [], formFields: [], pageCount: 1, ocrPages: 0 };
  const text = await ocrImage(req, req.file);
  return { state: 'read', note: null, pages: [{ page: null, text: cap(text, req), via: 'ocr' }], formFields: [], pageCount: 1, ocrPages: 1 };
}

const mb = (n: number): string => (n / 1048576).toFixed(n < 10 * 1048576 ? 1 : 0);

function cap(text: string, req: ReadRequest): string {
  return text.length > req.limits.maxTextChars ? text.slice(0, req.limits.maxTextChars) : text;
}

// pdf.js is an ES module; this CommonJS build loads it with a real dynamic import.
const importEsm = new Function('s', 'return import(s)') as (s: string) => Promise<unknown>;

interface PdfJs {
  getDocument(o: Record<string, unknown>): { promise: Promise<PdfDoc> };
}
interface PdfDoc {
  numPages: number;
  getPage(n: number): Promise<{ getTextContent(): Promise<{ items: PdfTextItem[] }>; cleanup(): void }>;
  getFieldObjects(): Promise<Record<string, Array<{ value?: unknown; type?: string; actions?: unknown }>> | null>;
  getJSActions(): Promise<unknown>;
}

async function readPdf(req: ReadRequest): Promise<Reading> {
  const dir = path.dirname(require.resolve('pdfjs-dist/package.json'));
  const pdfjs = (await importEsm(pathToFileURL(path.join(dir, 'legacy', 'build', 'pdf.mjs')).href)) as PdfJs;
  let doc: PdfDoc;
  try {
    doc = await pdfjs.getDocument({
      data: new Uint8Array(fs.readFileSync(req.file)),
      isEvalSupported: false,
      disableFontFace: true,
      useSystemFonts: false,
      useWorkerFetch: false,
      enableXfa: false,
      standardFontDataUrl: path.join(dir, 'standard_fonts') + path.sep,
      verbosity: 0,
    }).promise;
  } catch (err) {
    const e = err as Error;
    if (e?.name === 'PasswordException') return notRead('encrypted: the PDF needs a password');
    return notRead(`not a readable PDF (${oneLine(e)})`);
  }
  const notes: string[] = [];
  const count = doc.numPages;
  const last = Math.min(count, req.limits.maxPages);
  if (count > last) notes.push(`pages ${last + 1}-${count} not read: more than ${req.limits.maxPages} pages`);
  const pages: PageText[] = [];
  const blank: number[] = [];
  let chars = 0;
  for (let i = 1; i <= last; i++) {
    try {
      const page = await doc.getPage(i);
      const content = await page.getTextContent();
      const text = pageText(content.items);
      page.cleanup();
      if (visible(text) < MIN_PAGE_CHARS) blank.push(i);
      else if (chars < req.limits.maxTextChars) {
        pages.push({ page: i, text: text.slice(0, req.limits.maxTextChars - chars), via: 'text-layer' });
        chars += text.length;
      }
    } catch (err) {
      // A broken page (a page tree that loops, a missing object) is noted; the other pages are read.
      notes.push(`page ${i} not read (${oneLine(err)})`);
      if (/circular|loop/i.test(String((err as Error)?.message))) break;
    }
  }
  const formFields: FormFieldValue[] = [];
  try {
    const fields = await doc.getFieldObjects();
    for (const [name, widgets] of Object.entries(fields ?? {})) {
      for (const w of widgets) {
        const raw = Array.isArray(w.value) ? w.value.join(', ') : typeof w.value === 'string' ? w.value : null;
        // A parent node has no type; an unticked box is "Off" (ISO 32000-1 §12.7.4.2.3). Empty
        // fields are kept too: they tell the firm's own form (its printed labels are no answer).
        if (!w.type || raw === null) continue;
        const v = raw === 'Off' ? '' : raw.slice(0, 10_000);
        const known = formFields.findIndex((f) => f.name === name);
        if (known < 0) formFields.push({ name, value: v });
        else if (!formFields[known].value.trim() && v.trim()) formFields[known] = { name, value: v };
      }
    }
  } catch (err) {
    notes.push(`form fields not read (${oneLine(err)})`);
  }
  try {
    if (await doc.getJSActions()) notes.push('has JavaScript: not run');
  } catch {
    /* only a note */
  }
  if (pages.length === 0 && !formFields.some((f) => f.value.trim()) && blank.length === 0) return notRead(notes.join('; ') || 'no text in the PDF');
  let ocrPages = 0;
  if (blank.length > 0) {
    const list = ranges(blank);
    if (!req.tools.tesseract || !req.tools.pdftoppm) {
      if (pages.length === 0 && !formFields.some((f) => f.value.trim())) return notRead('no OCR installed');
      notes.push(`pages ${list} not read: no OCR installed`);
    } else if (!req.ocr) {
      return {
        state: 'ocr-pending',
        note: [`pages ${list} without text: waiting for OCR`, ...notes].join('; '),
        pages,
        formFields,
        pageCount: count,
        ocrPages: 0,
      };
    } else {
      const todo = blank.slice(0, req.limits.ocrMaxPages);
      if (blank.length > todo.length) notes.push(`pages ${ranges(blank.slice(todo.length))} not read: more than ${req.limits.ocrMaxPages} pages for OCR`);
      for (const i of todo) {
        const prefix = path.join(req.tmpDir, `page-${i}`);
        await tool(
          req.tools.pdftoppm,
          ['-r', '200', '-gray', '-f', String(i), '-l', String(i), '-png', '-singlefile', req.file, prefix],
          req.limits.toolMemoryMb,
        );
        const text = await ocrImage(req, `${prefix}.png`);
        fs.rmSync(`${prefix}.png`, { force: true });
        pages.push({ page: i, text: cap(text, req), via: 'ocr' });
        ocrPages++;
      }
      pages.sort((a, b) => (a.page ?? 0) - (b.page ?? 0));
    }
  }
  return { state: 'read', note: notes.length ? notes.join('; ') : null, pages, formFields, pageCount: count, ocrPages };
}

/** "1-3, 5": page numbers as ranges, for notes. */
function ranges(pages: readonly number[]): string {
  const out: string[] = [];
  for (let i = 0; i < pages.length; i++) {
    let j = i;
    while (j + 1 < pages.length && pages[j + 1] === pages[j] + 1) j++;
    out.push(i === j ? String(pages[i]) : `${pages[i]}-${pages[j]}`);
    i = j;
  }
  return out.join(', ');
}

/**
 * What a zip says it expands to, from its central directory (APPNOTE.TXT §4.3.16), before any
 * byte is inflated: a .docx that would expand past the bound is refused unread. A zip that lies
 * in its directory is stopped by the memory bound of this process instead.
 */
export function zipExpandedSize(b: Buffer): { bytes: number; entries: number } | null {
  const eocd = b.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0 || eocd + 22 > b.length) return null;
  const entries = b.readUInt16LE(eocd + 10);
  let at = b.readUInt32LE(eocd + 16);
  let bytes = 0;
  for (let i = 0; i < entries; i++) {
    if (at + 46 > b.length || b.readUInt32LE(at) !== 0x02014b50) return null;
    bytes += b.readUInt32LE(at + 24);
    at += 46 + b.readUInt16LE(at + 28) + b.readUInt16LE(at + 30) + b.readUInt16LE(at + 32);
  }
  return { bytes, entries };
}

async function readDocx(req: ReadRequest): Promise<Reading> {
  const buffer = fs.readFileSync(req.file);
  const size = zipExpandedSize(buffer);
  if (!size) return notRead('not a readable Word document (no zip directory)');
  if (size.bytes > req.limits.maxExpandedBytes)
    return notRead(`the Word document expands to ${mb(size.bytes)} MB, more than the ${mb(req.limits.maxExpandedBytes)} MB read`);
  const mammoth = (await import('mammoth')) as unknown as { extractRawText(o: { buffer: Buffer }): Promise<{ value: string }> };
  try {
    const { value } = await mammoth.extractRawText({ buffer });
    if (visible(value) === 0) return notRead('no text in the Word document');
    return { state: 'read', note: null, pages: [{ page: null, text: cap(value, req), via: 'docx' }], formFields: [], pageCount: null, ocrPages: 0 };
  } catch (err) {
    return notRead(`not a readable Word document (${oneLine(err)})`);
  }
}

function oneLine(err: unknown): string {
  return String((err as Error)?.message ?? err)
    .split('\n')[0]
    .slice(0, 160);
}

export async function readDocument(req: ReadRequest): Promise<Reading> {
  switch (req.kind) {
    case 'pdf':
      return readPdf(req);
    case 'docx':
      return readDocx(req);
    case 'image':
      return readImage(req);
    case 'doc':
      return notRead('old Word format (.doc): no reader; ask for a PDF or .docx');
  }
}

async function main(): Promise<void> {
  cutNetwork();
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const req = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ReadRequest;
  let out: Reading;
  try {
    out = await readDocument(req);
  } catch (err) {
    out = notRead(`the reader failed (${oneLine(err)})`);
  }
  process.stdout.write(JSON.stringify(out), () => process.exit(0));
}

if (require.main === module) void main();

/** A text item of pdf.js: its string, whether a line ends after it, and where it is drawn. */
interface PdfTextItem {
  str?: string;
  hasEOL?: boolean;
  /** [a, b, c, d, x, y]: the item's matrix; x and y where it starts. */
  transform?: number[];
  width?: number;
  height?: number;
}

/**
 * A page's text from its items, each followed by a space or its line's end. A comb field (a
 * form printed or flattened with one box per character) draws "811218-9876" as eleven items, and
 * pdf.js puts a space item between each: joined with spaces ("8 1 1 2 1 8 - 9 8 7 6") it was no
 * personnummer to the masker, and was stored and shown in clear. So a run of at least
 * COMB_MIN single digits (with "-" or "+") drawn on one line at an even pitch (or in groups
 * whose gap is at most twice the pitch), less than three heights apart, is one word. Anything else is joined as before: single-digit table columns
 * ("Betyg 1 2 3 4 5") and one-letter words ("i å") stay apart.
 */
export function pageText(items: readonly PdfTextItem[]): string {
  const words = items.filter((it) => (it.str ?? '').trim() !== '' || it.hasEOL);
  const comb = combRuns(words);
  let out = '';
  for (const [i, it] of words.entries()) {
    const str = (it.str ?? '').trim() === '' ? '' : (it.str ?? '');
    if (str !== '') {
      if (out !== '' && !out.endsWith('\n') && !(comb[i] && comb[i - 1] === comb[i])) out += ' ';
      out += str;
    }
    if (it.hasEOL) out += '\n';
  }
  return out.replace(/[ \t]+/g, ' ');
}

/** Fewest boxes a comb field run has: a personnummer has 10 digits, a date 6. */
const COMB_MIN = 6;

/** For each item, the number of the comb run it belongs to (from 1), or 0. */
function combRuns(items: readonly PdfTextItem[]): number[] {
  const runs = items.map(() => 0);
  let run = 0;
  for (let i = 0; i < items.length;) {
    let j = i;
    const gaps: number[] = [];
    while (j + 1 < items.length) {
      const a = box(items[j]);
      const b = box(items[j + 1]);
      if (!a || !b || items[j].hasEOL || Math.abs(b.y - a.y) >= a.height / 2) break;
      const gap = b.x - a.end;
      if (gap <= -a.height / 4 || gap >= 3 * a.height) break;
      gaps.push(b.x - a.x); // the pitch: box to box
      j++;
    }
    // An even pitch, or boxes in groups (ÅÅMMDD – NNNN) whose gap is at most twice the pitch.
    const even = gaps.length > 0 && Math.max(...gaps) <= 2 * Math.min(...gaps);
    if (j - i + 1 >= COMB_MIN && even) {
      run++;
      for (let k = i; k <= j; k++) runs[k] = run;
    }
    i = j + 1;
  }
  return runs;
}

/** Where a single digit, "-" or "+" is drawn, or null for anything else or an item without a position. */
function box(it: PdfTextItem): { x: number; y: number; end: number; height: number } | null {
  const str = it.str ?? '';
  const t = it.transform;
  if (!/^[0-9+-]$/.test(str) || !t || t.length < 6 || !Number.isFinite(t[4]) || !Number.isFinite(t[5]) || it.width === undefined) return null;
  const height = Math.abs(it.height || t[3] || 0);
  return height > 0 ? { x: t[4], y: t[5], end: t[4] + it.width, height } : null;
}
