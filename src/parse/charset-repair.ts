/**
 * Swedish mail from old clients: 8-bit ISO-8859-1 / windows-1252 bytes in headers, and in
 * bodies that declare no charset (or UTF-8, or one nobody knows). mailparser reads such bytes
 * as UTF-8 and turns every å, ä and ö into U+FFFD. This pass runs before the parser on a copy
 * of the raw bytes (the stored raw mail is never changed):
 *
 *  - a header line with bytes that are not valid UTF-8 is read as windows-1252 and re-encoded
 *    as UTF-8 (a line that is valid UTF-8, as modern clients write, is left alone);
 *  - a text part without a usable charset (none, us-ascii, utf-8, or one iconv does not know)
 *    whose decoded bytes are not valid UTF-8 is given `charset=windows-1252`, which the parser
 *    then decodes correctly (windows-1252 is a superset of ISO-8859-1's printable range, and
 *    the bytes 0x80-0x9F in real Swedish mail are €, quotes and dashes, never C1 controls);
 *  - a part that declares a real charset is trusted.
 *
 * Before all that, a mail whose header ends lines with a bare CR gets CRLF line ends (see
 * "line endings" below).
 *
 * Never throws: anything it cannot make sense of is passed through unchanged.
 */
import { isUtf8 } from 'node:buffer';
import iconv from 'iconv-lite';

export interface CharsetRepair {
  readonly bytes: Buffer;
  /** What was repaired, for the message's problem list. */
  readonly notes: readonly string[];
}

const CRLF = Buffer.from('\r\n');

function splitLines(buf: Buffer): Buffer[] {
  const lines: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < buf.length; i++) {
    if (buf[i] === 0x0a) {
      const end = i > start && buf[i - 1] === 0x0d ? i - 1 : i;
      lines.push(buf.subarray(start, end));
      start = i + 1;
    }
  }
  if (start < buf.length) lines.push(buf.subarray(start));
  return lines;
}

function toUtf8FromCp1252(line: Buffer): Buffer {
  return Buffer.from(iconv.decode(line, 'windows-1252'), 'utf8');
}

interface PartHeader {
  readonly contentType: string;
  readonly charset: string | null;
  readonly boundary: string | null;
  readonly encoding: string;
}

/** Unfold a header block and read what the repair needs from it. */
function readHeader(lines: Buffer[]): PartHeader {
  const text = lines
    .map((l) => l.toString('latin1'))
    .join('\r\n')
    .replace(/\r\n[ \t]+/g, ' ');
  const field = (name: string): string => new RegExp(`^${name}\\s*:\\s*(.*)$`, 'im').exec(text)?.[1] ?? '';
  const ct = field('content-type');
  const param = (p: string): string | null => {
    const m = new RegExp(`(?:^|;)\\s*${p}\\s*=\\s*(?:"([^"]*)"|([^;\\s]+))`, 'i').exec(ct);
    return m ? (m[1] ?? m[2]) : null;
  };
  return {
    contentType: (ct.split(';')[0] || 'text/plain').trim().toLowerCase(),
    charset: param('charset')?.toLowerCase() ?? null,
    boundary: param('boundary'),
    encoding: field('content-transfer-encoding').trim().toLowerCase() || '7bit',
  };
}

function decodeBody(lines: Buffer[], encoding: string): Buffer {
  const joined = Buffer.concat(lines.flatMap((l, i) => (i === 0 ? [l] : [CRLF, l])));
  if (encoding === 'base64') return Buffer.from(joined.toString('latin1').replace(/[^A-Za-z0-9+/=]/g, ''), 'base64');
  if (encoding === 'quoted-printable') {
    const s = joined.toString('latin1').replace(/=\r?\n/g, '');
    // Decoded QP is never longer than its text: one Buffer, not an array of numbers per byte.
    const out = Buffer.allocUnsafe(s.length);
    let n = 0;
    for (let i = 0; i < s.length; i++) {
      if (s[i] === '=' && /^[0-9A-Fa-f]{2}$/.test(s.slice(i + 1, i + 3))) {
        out[n++] = parseInt(s.slice(i + 1, i + 3), 16);
        i += 2;
      } else out[n++] = s.charCodeAt(i) & 0xff;
    }
    return out.subarray(0, n);
  }
  return joined;
}

/**
 * How much of a part's body is decoded to tell whether it is UTF-8: a Latin-1 text shows it in
 * its first lines. Decoding all of a 10 MB part (a forwarded original is parsed from a buffer)
 * held it several times over (issue 17).
 */
const SAMPLE_BYTES = 1024 * 1024;

function sampleOf(lines: Buffer[]): { lines: Buffer[]; cut: boolean } {
  let bytes = 0;
  for (let i = 0; i < lines.length; i++) {
    bytes += lines[i].length + 2;
    if (bytes > SAMPLE_BYTES) return { lines: lines.slice(0, i + 1), cut: true };
  }
  return { lines, cut: false };
}

/** Valid UTF-8, allowing a sample cut inside the last character. */
function looksUtf8(bytes: Buffer, cut: boolean): boolean {
  if (isUtf8(bytes)) return true;
  if (!cut) return false;
  for (let k = 1; k <= 3 && k < bytes.length; k++) if (isUtf8(bytes.subarray(0, bytes.length - k))) return true;
  return false;
}

function untrustedCharset(charset: string | null): boolean {
  if (charset === null) return true;
  const c = charset.replace(/[^a-z0-9]/g, '');
  return c === 'usascii' || c === 'ascii' || c === 'utf8' || !iconv.encodingExists(charset);
}

/** Set (or replace) the charset parameter in a Content-Type header of the block. */
function withCharset(headerLines: Buffer[], charset: string): Buffer[] {
  const text = headerLines.map((l) => l.toString('latin1'));
  const i = text.findIndex((l) => /^content-type\s*:/i.test(l));
  if (i < 0) return [...headerLines, Buffer.from(`Content-Type: text/plain; charset=${charset}`, 'latin1')];
  // The field may be folded over several lines: rewrite it as one line.
  let j = i + 1;
  while (j < text.length && /^[ \t]/.test(text[j])) j++;
  const field = text.slice(i, j).join(' ').replace(/\s+/g, ' ');
  const rewritten = /charset\s*=/i.test(field) ? field.replace(/charset\s*=\s*("[^"]*"|[^;\s]+)/i, `charset=${charset}`) : `${field}; charset=${charset}`;
  return [...headerLines.slice(0, i), Buffer.from(rewritten, 'latin1'), ...headerLines.slice(j)];
}

/**
 * Raw 8-bit bytes inside a Q-encoded word (`=?iso-8859-1?Q?Fr\xf6sche?=`, seen from old
 * clients) escaped as `=F6`, so that the encoded word is decoded with its own charset instead of
 * being read as UTF-8 first.
 */
function escapeEightBitInEncodedWords(line: Buffer): Buffer {
  const text = line.toString('latin1');
  if (!/=\?[^?\s]+\?[Qq]\?/.test(text)) return line;
  const fixed = text.replace(/=\?([^?\s]+)\?([Qq])\?([^?]*)\?=/g, (_m, cs: string, q: string, body: string) => {
    const escaped = body.replace(/[\x80-\xff]/g, (c) => `=${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
    return `=?${cs}?${q}?${escaped}?=`;
  });
  return fixed === text ? line : Buffer.from(fixed, 'latin1');
}

/** A mail that starts with whitespace-only lines has no headers for a parser: drop them. */
function stripLeadingBlankLines(raw: Buffer): Buffer {
  let i = 0;
  for (;;) {
    let j = i;
    while (j < raw.length && (raw[j] === 0x20 || raw[j] === 0x09)) j++;
    if (j < raw.length && (raw[j] === 0x0a || (raw[j] === 0x0d && raw[j + 1] === 0x0a))) i = raw[j] === 0x0d ? j + 2 : j + 1;
    else break;
  }
  // Only when real header lines follow; a mail that is all body stays as it is.
  return i > 0 && /^[!-9;-~]+:/.test(raw.subarray(i, i + 200).toString('latin1')) ? raw.subarray(i) : raw;
}

export function repairCharsets(input: Buffer): CharsetRepair {
  const endings = normaliseLineEndings(input);
  const raw = stripLeadingBlankLines(endings ?? input);
  const notes = [...(endings ? [LINE_ENDINGS_NOTE] : []), ...(raw !== (endings ?? input) ? ['blank lines before the headers dropped'] : [])];
  const result = repairCharsetsOf(raw);
  return notes.length ? { bytes: result.bytes, notes: [...notes, ...result.notes] } : result;
}

// ---- line endings ---------------------------------------------------------------------------
// RFC 5322 §2.1: CR and LF appear only together, as CRLF. Old Mac clients, some web forms and
// gateways end lines with a bare CR; a double conversion writes CR CR LF. mailparser ends lines
// at LF only, so a CR-only mail is one header line holding everything: the From is lost, and the
// first address-like text (inside the Message-ID) becomes the sender. When the header has such
// line ends, they are rewritten as CRLF before the parser sees the mail:
//  - 'each': the header ends lines with a bare CR (a CR before an ordinary character): every CR
//    is a line end, also in a run before an LF ("a CR-terminated line, then a CRLF blank line");
//  - 'collapse': every CR run stands before an LF (CR CR LF): a doubled conversion, one line end.
// LF-only mail is left alone (mailparser reads it), and so is a CRLF mail with stray CRs in its
// body only.

export const LINE_ENDINGS_NOTE = 'bare CR line endings read as CRLF';

/** How far into a mail the header is looked for (a header is never longer in real mail). */
const HEADER_SCAN = 256 * 1024;

export type LineEndingMode = 'each' | 'collapse';

/** How the header's line ends must be read, or null when they are CRLF or LF already. */
export function lineEndingMode(start: Buffer): LineEndingMode | null {
  if (start.indexOf(0x0d) < 0) return null;
  const head = start.subarray(0, HEADER_SCAN).toString('latin1');
  // The header ends at its first blank line, in whichever convention it is written.
  const blank = /\r\n\r\n|\n\n|\r\r(?!\n)|\r\r\n\r\r\n/.exec(head);
  const header = blank ? head.slice(0, blank.index + blank[0].length) : head;
  if (/\r[^\r\n]/.test(header)) return 'each';
  if (/\r\r+\n/.test(header)) return 'collapse';
  return null;
}

/** Rewrites CR runs as line ends, chunk by chunk (a CR at a chunk's end waits for the next). */
export class LineEndingNormaliser {
  private pendingCrs = 0;

  constructor(private readonly mode: LineEndingMode) {}

  push(chunk: Buffer): Buffer {
    const out: Buffer[] = [];
    let i = 0;
    while (i < chunk.length) {
      if (this.pendingCrs > 0) {
        if (chunk[i] === 0x0d) {
          this.pendingCrs++;
          i++;
          continue;
        }
        const lf = chunk[i] === 0x0a;
        out.push(lf && this.mode === 'collapse' ? CRLF : Buffer.from('\r\n'.repeat(this.pendingCrs)));
        if (lf) i++;
        this.pendingCrs = 0;
        continue;
      }
      const cr = chunk.indexOf(0x0d, i);
      if (cr < 0) {
        out.push(chunk.subarray(i));
        break;
      }
      out.push(chunk.subarray(i, cr));
      this.pendingCrs = 1;
      i = cr + 1;
    }
    return out.length === 1 ? out[0] : Buffer.concat(out);
  }

  end(): Buffer {
    const tail = Buffer.from('\r\n'.repeat(this.pendingCrs));
    this.pendingCrs = 0;
    return tail;
  }
}

/**
 * The same for a mail read as a stream (a large mail from its file): the start is held until
 * the header's end is seen (at most HEADER_SCAN bytes), then everything passes through the
 * normaliser when the header needs it, or as it is. `onNormalised` is told when it does.
 */
export async function* normaliseLineEndingsStream(chunks: AsyncIterable<Buffer>, onNormalised: () => void): AsyncGenerator<Buffer> {
  const held: Buffer[] = [];
  let size = 0;
  let normaliser: LineEndingNormaliser | null | undefined; // undefined: not decided yet
  const decide = (): LineEndingNormaliser | null => {
    const mode = lineEndingMode(Buffer.concat(held));
    if (mode) onNormalised();
    return mode ? new LineEndingNormaliser(mode) : null;
  };
  for await (const chunk of chunks) {
    if (normaliser === undefined) {
      held.push(chunk);
      size += chunk.length;
      const start = Buffer.concat(held).subarray(0, HEADER_SCAN).toString('latin1');
      if (size < HEADER_SCAN && !/\r\n\r\n|\n\n|\r\r[^\n]|\r\r\n\r\r\n/.test(start)) continue;
      normaliser = decide();
      for (const h of held.splice(0)) yield normaliser ? normaliser.push(h) : h;
      continue;
    }
    yield normaliser ? normaliser.push(chunk) : chunk;
  }
  if (normaliser === undefined) {
    normaliser = decide();
    for (const h of held.splice(0)) yield normaliser ? normaliser.push(h) : h;
  }
  if (normaliser) yield normaliser.end();
}

/** The mail with its line ends made CRLF, or null when its header needs nothing. */
export function normaliseLineEndings(raw: Buffer): Buffer | null {
  const mode = lineEndingMode(raw);
  if (!mode) return null;
  const n = new LineEndingNormaliser(mode);
  return Buffer.concat([n.push(raw), n.end()]);
}

/**
 * Multiparts nested deeper than this are not walked (real mail nests 3-5 deep; a forward of a
 * forward a few more). Every line is compared with the boundary of each enclosing multipart,
 * so 10,000 nested multiparts in 700 KB took 3.6 s and 350 MB (issue 17); such a mail is
 * parsed as it is.
 */
const MAX_MULTIPART_NESTING = 32;
class TooDeep extends Error {}

function repairCharsetsOf(raw: Buffer): CharsetRepair {
  try {
    // Valid UTF-8 throughout needs nothing, unless a part is transfer-encoded: quoted-printable
    // or base64 hides Latin-1 bytes behind ASCII.
    if (isUtf8(raw) && !/content-transfer-encoding\s*:\s*"?(quoted-printable|base64)/i.test(raw.toString('latin1'))) return { bytes: raw, notes: [] };
    const notes = new Set<string>();
    const lines = splitLines(raw);
    const out: Buffer[] = [];
    let i = 0;

    // Walks one entity (header block + body) starting at line i, up to (not including) a line
    // that is a boundary of an enclosing multipart.
    const entity = (enclosing: readonly string[]): void => {
      if (enclosing.length > MAX_MULTIPART_NESTING) throw new TooDeep();
      const header: Buffer[] = [];
      for (; i < lines.length && lines[i].length > 0; i++) {
        if (enclosing.some((b) => isBoundary(lines[i], b))) return flush(header, [], null);
        const line = escapeEightBitInEncodedWords(lines[i]);
        if (line !== lines[i]) notes.add('8-bit bytes inside encoded words escaped');
        if (!isUtf8(line)) notes.add('8-bit bytes in headers read as windows-1252');
        header.push(isUtf8(line) ? line : toUtf8FromCp1252(line));
      }
      const h = readHeader(header);
      const blank = i < lines.length ? (i++, true) : false;
      if (h.contentType.startsWith('multipart/') && h.boundary) {
        flush(header, [], blank ? Buffer.alloc(0) : null);
        const boundary = h.boundary;
        const all = [...enclosing, boundary];
        // Preamble and parts, up to the closing boundary.
        while (i < lines.length) {
          const line = lines[i];
          if (enclosing.some((b) => isBoundary(line, b))) return;
          out.push(line);
          i++;
          if (isBoundary(line, boundary)) {
            if (line.toString('latin1').trimEnd().endsWith(`--${boundary}--`)) break;
            entity(all);
          }
        }
        // Epilogue until an enclosing boundary.
        while (i < lines.length && !enclosing.some((b) => isBoundary(lines[i], b))) out.push(lines[i++]);
        return;
      }
      const body: Buffer[] = [];
      for (; i < lines.length && !enclosing.some((b) => isBoundary(lines[i], b)); i++) body.push(lines[i]);
      const textual = h.contentType.startsWith('text/') || h.contentType === '';
      const sample = textual && untrustedCharset(h.charset) ? sampleOf(body) : null;
      if (sample && !looksUtf8(decodeBody(sample.lines, h.encoding), sample.cut)) {
        notes.add('text without a usable charset read as windows-1252');
        flush(withCharset(header, 'windows-1252'), body, blank ? Buffer.alloc(0) : null);
      } else flush(header, body, blank ? Buffer.alloc(0) : null);
    };

    // One by one: push(...lines) throws a RangeError past ~120,000 lines, and the repair then
    // gave up on the whole mail.
    const flush = (header: Buffer[], body: Buffer[], separator: Buffer | null): void => {
      for (const line of header) out.push(line);
      if (separator) out.push(separator);
      for (const line of body) out.push(line);
    };

    entity([]);
    while (i < lines.length) out.push(lines[i++]);
    if (notes.size === 0) return { bytes: raw, notes: [] };
    return { bytes: Buffer.concat(out.flatMap((l, k) => (k === 0 ? [l] : [CRLF, l]))), notes: [...notes] };
  } catch (err) {
    if (err instanceof TooDeep) return { bytes: raw, notes: [`multiparts nested deeper than ${MAX_MULTIPART_NESTING}: charsets not repaired`] };
    return { bytes: raw, notes: [] };
  }
}

function isBoundary(line: Buffer, boundary: string): boolean {
  if (line.length < boundary.length + 2 || line[0] !== 0x2d || line[1] !== 0x2d) return false;
  return line.toString('latin1').startsWith(`--${boundary}`);
}
