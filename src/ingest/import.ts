/**
 * Import: reading an old complaints mailbox for `klagomal import` (issue 8, "Backfills").
 *
 * Input: a path that is an mbox file, a Maildir (with its Maildir++ folders), or a folder of
 * `.eml` files. Output: the mails one by one, each with its exact bytes, its sha256, when it
 * reached the firm and where it was found, for the command to hand to intake (src/ingest/intake.ts)
 * under the source `import`, keyed by content so that a second run stores nothing new.
 *
 * No side effects beyond reading, except spooling: a mail larger than `largeMailBytes` is
 * streamed into intake's spool (through `spool`) as it is read and never held in memory whole.
 * An mbox is read as a stream, line by line; an old mailbox can be gigabytes.
 *
 * mbox (RFC 4155 and the mboxo/mboxrd conventions):
 *  - a message starts at a line "From " at the start of the file, or after a blank line when
 *    the line also reads as an envelope ("From sender Thu Jan  1 00:00:00 2026"), so that a
 *    body line "From the start, ..." that a careless writer left unquoted does not split a mail;
 *  - the blank line before a separator (and at the end of the file) was added by the writer
 *    and is not part of the message;
 *  - ">From ", ">>From ", ... lose one ">" (mboxrd; for mboxo, which quoted only "From ", this
 *    is also right except for a body line that really began with ">From ", which mboxo itself
 *    cannot tell apart);
 *  - LF and CRLF line ends are both read, and every other byte is kept as it was.
 *
 * Folders (a Maildir's cur/ and new/, or .eml files anywhere below a folder) are read in the
 * order the mails reached the firm, so that a customer's first mail is filed before the
 * follow-up that refers to it. Maildir++ folders for mail the firm did not receive (Sent,
 * Drafts, Trash, Junk/Spam) are left out and named in the result. A Maildir's folders in
 * Dovecot's LAYOUT=fs (Arkiv/cur/) are read like Maildir++ ones; any other folder below a
 * Maildir that holds files is named in the result as not read, never passed over unseen.
 *
 * When a mail reached the firm: its Date header; when that is missing, unreadable or not
 * plausible (before 1980, or more than a day after the import), the mbox envelope date; then
 * the file's modification time. Which one was used is recorded per mail.
 *
 * Failure behaviour: a path that is none of the three kinds throws ImportPathError naming it;
 * a single mail file that cannot be read is reported as an UnreadableMail and the reading goes on;
 * a mail that cannot be parsed is still a mail here (the processor quarantines it later).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { envelopeDate, receiptTime } from './import-dates';
import { isMaildir, listEmlFolder, listMaildir, MailFile } from './import-folders';
import { errorChain } from '../util/log';
import type { SpooledRaw } from './raw-files';

export type ImportKind = 'mbox' | 'maildir' | 'eml';

/** Where the receipt time of an imported mail came from. */
export type ReceivedFrom = 'date-header' | 'envelope' | 'file-time';

export interface ImportedMail {
  /** The exact bytes (mbox quoting undone), or a spool file for a large mail. */
  readonly raw: Buffer | SpooledRaw;
  readonly sha256: string;
  readonly size: number;
  readonly receivedAt: Date;
  readonly receivedFrom: ReceivedFrom;
  /** Where it was found: `<mbox file>#<n>` (1-based), or the file's path below the folder. */
  readonly locator: string;
  /** Progress after this mail, in the plan's unit (bytes of the mbox read, or files done). */
  readonly progress: number;
}

export interface UnreadableMail {
  readonly locator: string;
  readonly error: string;
  readonly progress: number;
}

export type ImportItem = ImportedMail | UnreadableMail;

export interface ReadOptions {
  /** The time of the import: a Date header after it (by more than a day) is not believed. */
  readonly now: Date;
  /** Mails larger than this go through `spool` instead of memory (when `spool` is given). */
  readonly largeMailBytes?: number;
  /** Stream a large mail into a spool file (src/ingest/raw-files.ts spoolRaw, bound to the data folder). */
  readonly spool?: (source: Readable) => Promise<SpooledRaw>;
  /** Folders: called while the headers are read to put the mails in order (done, total). */
  readonly onScan?: (done: number, total: number) => void;
}

export interface ImportPlan {
  readonly path: string;
  readonly kind: ImportKind;
  /** What progress counts: bytes of the mbox file, or mail files. */
  readonly unit: 'bytes' | 'files';
  /** The whole of it in that unit (for the estimate of the time left). */
  readonly total: number;
  /** Maildir folders (Maildir++ or LAYOUT=fs) left out: mail the firm sent, drafted, threw away or marked as junk. */
  readonly skippedFolders: readonly string[];
  /** Files in an .eml folder that are not .eml files (not read). */
  readonly ignoredFiles: number;
  /**
   * Below a Maildir: folders that are no Maildir and hold files, and .eml files beside cur/ and
   * new/. Not read (a folder of .eml files is imported on its own); named so that an import
   * that read none of it does not pass for complete.
   */
  readonly notRead: readonly string[];
  mails(opts: ReadOptions): AsyncGenerator<ImportItem>;
}

/** PATH is not something `klagomal import` can read (exit 1 with the message). */
export class ImportPathError extends Error {}

export function isUnreadable(item: ImportItem): item is UnreadableMail {
  return 'error' in item;
}

// ---- what PATH is ----------------------------------------------------------------------

const WHAT_WE_READ = 'an mbox file (starting with a "From " line), a Maildir (with cur/ or new/) or a folder of .eml files';

/** Look at PATH and say how it will be read. Reads directory listings and the first bytes only. */
export function planImport(p: string): ImportPlan {
  try {
    return plan(p);
  } catch (err) {
    if (err instanceof ImportPathError) throw err;
    throw new ImportPathError(`${p}: cannot be read: ${errorChain(err)}`);
  }
}

function plan(p: string): ImportPlan {
  const st = fs.statSync(p);
  if (st.isFile()) {
    if (st.size === 0 || looksLikeMbox(p)) {
      return { path: p, kind: 'mbox', unit: 'bytes', total: st.size, skippedFolders: [], ignoredFiles: 0, notRead: [], mails: (o) => readMbox(p, o) };
    }
    if (/\.eml$/i.test(p)) return filePlan(p, 'eml', [{ file: p, locator: path.basename(p) }], [], 0, []);
    throw new ImportPathError(`${p}: not ${WHAT_WE_READ}: it is a file that does not start with "From "`);
  }
  if (!st.isDirectory()) throw new ImportPathError(`${p}: not ${WHAT_WE_READ}`);
  if (isMaildir(p)) {
    const { files, skipped, notRead } = listMaildir(p);
    return filePlan(p, 'maildir', files, skipped, 0, notRead);
  }
  const { files, ignored } = listEmlFolder(p);
  if (files.length === 0) throw new ImportPathError(`${p}: not ${WHAT_WE_READ}: no cur/ or new/ and no .eml file in it`);
  return filePlan(p, 'eml', files, [], ignored, []);
}

function filePlan(p: string, kind: ImportKind, files: MailFile[], skipped: string[], ignored: number, notRead: string[]): ImportPlan {
  return {
    path: p,
    kind,
    unit: 'files',
    total: files.length,
    skippedFolders: skipped,
    ignoredFiles: ignored,
    notRead,
    mails: (o) => readMailFiles(files, o),
  };
}

function looksLikeMbox(file: string): boolean {
  const fd = fs.openSync(file, 'r');
  try {
    const head = Buffer.alloc(1024);
    const n = fs.readSync(fd, head, 0, head.length, 0);
    // Tolerate blank lines before the first separator (some exporters write one).
    return /^(?:\r?\n)*From /.test(head.subarray(0, n).toString('latin1'));
  } finally {
    fs.closeSync(fd);
  }
}

// ---- mbox ------------------------------------------------------------------------------

const READ_CHUNK = 1024 * 1024;
/** Header bytes kept to find the Date header (a header longer than this is unusual; the rest is only not searched). */
const MAX_HEAD_BYTES = 256 * 1024;
const LF = 0x0a;
const CR = 0x0d;
const GT = 0x3e;
const FROM_ = Buffer.from('From ', 'latin1');

function isBlank(line: Buffer): boolean {
  return line.length === 0 || (line.length === 1 && line[0] === LF) || (line.length === 2 && line[0] === CR && line[1] === LF);
}

function startsWithFrom(line: Buffer, at = 0): boolean {
  return line.length >= at + 5 && line.compare(FROM_, 0, 5, at, at + 5) === 0;
}

/** ">From " with one or more ">": the quoting an mbox writer adds to a body line "From ". */
function unquote(line: Buffer): Buffer {
  if (line[0] !== GT) return line;
  let i = 1;
  while (i < line.length && line[i] === GT) i++;
  return startsWithFrom(line, i) ? line.subarray(1) : line;
}

/** One message being read from an mbox: in memory until it grows past the spool threshold. */
class MboxMessage {
  private chunks: Buffer[] = [];
  private head: Buffer[] = [];
  private headBytes = 0;
  private headDone = false;
  size = 0;
  private spooling: { stream: PassThrough; done: Promise<SpooledRaw> } | null = null;
  /** Set when the spool stream asks us to wait (backpressure). */
  waitForDrain = false;

  constructor(
    readonly envelope: string,
    readonly n: number,
    private readonly opts: ReadOptions,
  ) {}

  add(line: Buffer): void {
    this.size += line.length;
    if (!this.headDone) {
      if (isBlank(line) || this.headBytes + line.length > MAX_HEAD_BYTES) this.headDone = true;
      else {
        this.head.push(line);
        this.headBytes += line.length;
      }
    }
    if (this.spooling) {
      if (!this.spooling.stream.write(line)) this.waitForDrain = true;
      return;
    }
    this.chunks.push(line);
    if (this.opts.spool && this.size > (this.opts.largeMailBytes ?? Infinity)) {
      const stream = new PassThrough();
      const done = this.opts.spool(stream);
      done.catch(() => undefined); // awaited in finish() or drain(); this only keeps an early failure from going unhandled
      this.spooling = { stream, done };
      for (const c of this.chunks) if (!stream.write(c)) this.waitForDrain = true;
      this.chunks = [];
    }
  }

  async drain(): Promise<void> {
    if (!this.spooling || !this.waitForDrain) return;
    this.waitForDrain = false;
    const { stream, done } = this.spooling;
    // A failed spool (disk full) ends the wait with its error instead of waiting forever.
    await Promise.race([new Promise<void>((resolve) => stream.once('drain', resolve)), done.then(() => undefined)]);
  }

  async finish(fileMtime: Date, progress: number, locatorBase: string): Promise<ImportedMail> {
    let raw: Buffer | SpooledRaw;
    let digest: string;
    if (this.spooling) {
      this.spooling.stream.end();
      raw = await this.spooling.done;
      digest = raw.sha256;
    } else {
      raw = Buffer.concat(this.chunks, this.size);
      this.chunks = [];
      digest = crypto.createHash('sha256').update(raw).digest('hex');
    }
    const received = receiptTime(Buffer.concat(this.head), envelopeDate(this.envelope), fileMtime, this.opts.now);
    return { raw, sha256: digest, size: this.size, ...received, locator: `${locatorBase}#${this.n}`, progress };
  }
}

/**
 * The mails of an mbox file, in file order, streamed. Never holds more than one mail in memory
 * (and not even that for a mail over `largeMailBytes` when `spool` is given).
 */
export async function* readMbox(file: string, opts: ReadOptions): AsyncGenerator<ImportedMail> {
  const mtime = fs.statSync(file).mtime;
  const base = path.basename(file);
  let offset = 0;
  let n = 0;
  let msg: MboxMessage | null = null;
  // A blank line is held back until the next line shows whether it was the message's own last
  // line or the blank line a writer puts before the next separator.
  let held: Buffer | null = null;
  let carry: Buffer[] = [];

  /** One line: returns the message it ended, if it was a separator. */
  const step = (line: Buffer): MboxMessage | null => {
    if (startsWithFrom(line) && (msg === null || (held !== null && envelopeDate(line.toString('latin1')) !== null))) {
      const ended = msg;
      held = null;
      msg = new MboxMessage(line.toString('latin1'), ++n, opts);
      return ended;
    }
    if (msg === null) {
      if (isBlank(line)) return null; // blank lines before the first separator
      throw new ImportPathError(`${file}: not an mbox file: a line before the first "From " separator`);
    }
    if (held) {
      msg.add(held);
      held = null;
    }
    if (isBlank(line)) held = line;
    else msg.add(unquote(line));
    return null;
  };

  const stream = fs.createReadStream(file, { highWaterMark: READ_CHUNK });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(LF, start);
      if (nl < 0) {
        if (start < chunk.length) carry.push(chunk.subarray(start));
        break;
      }
      let line = chunk.subarray(start, nl + 1);
      start = nl + 1;
      if (carry.length > 0) {
        carry.push(line);
        line = Buffer.concat(carry);
        carry = [];
      }
      const before = offset;
      offset += line.length;
      const ended = step(line);
      if (ended) yield await ended.finish(mtime, before, base);
      const current = msg as MboxMessage | null;
      if (current?.waitForDrain) await current.drain();
    }
  }
  // The last line may lack its line end; a held blank line at the end is the writer's.
  if (carry.length > 0) {
    const line = Buffer.concat(carry);
    offset += line.length;
    const ended = step(line);
    if (ended) yield await ended.finish(mtime, offset - line.length, base);
  }
  const last = msg as MboxMessage | null;
  if (last) yield await last.finish(mtime, offset, base);
}

// ---- Maildir and .eml folders (listed in import-folders.ts) ----------------------------

/** The header block of a mail file (up to the blank line, at most MAX_HEAD_BYTES). */
function readHead(file: string): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const parts: Buffer[] = [];
    let total = 0;
    while (total < MAX_HEAD_BYTES) {
      const buf = Buffer.alloc(16 * 1024);
      const n = fs.readSync(fd, buf, 0, buf.length, total);
      if (n === 0) break;
      parts.push(buf.subarray(0, n));
      total += n;
      const sofar = Buffer.concat(parts);
      const end = headerEnd(sofar);
      if (end >= 0) return sofar.subarray(0, end);
    }
    return Buffer.concat(parts);
  } finally {
    fs.closeSync(fd);
  }
}

function headerEnd(buf: Buffer): number {
  const lf = buf.indexOf('\n\n');
  const crlf = buf.indexOf('\r\n\r\n');
  if (lf < 0) return crlf;
  if (crlf < 0) return lf;
  return Math.min(lf, crlf);
}

type ScannedFile = MailFile & ({ size: number; receivedAt: Date; receivedFrom: ReceivedFrom } | { error: string });

/**
 * The mails of a list of files, in the order they reached the firm (ties by path). A first
 * pass reads only each file's header block, to know that order.
 */
export async function* readMailFiles(files: readonly MailFile[], opts: ReadOptions): AsyncGenerator<ImportItem> {
  const scanned: ScannedFile[] = [];
  for (const f of files) {
    try {
      const st = fs.statSync(f.file);
      if (!st.isFile()) throw new Error('not a regular file');
      scanned.push({ ...f, size: st.size, ...receiptTime(readHead(f.file), null, st.mtime, opts.now) });
    } catch (err) {
      scanned.push({ ...f, error: errorChain(err) });
    }
    if (scanned.length % 500 === 0) opts.onScan?.(scanned.length, files.length);
  }
  opts.onScan?.(scanned.length, files.length);
  const time = (s: ScannedFile): number => ('error' in s ? Infinity : s.receivedAt.getTime());
  scanned.sort((a, b) => time(a) - time(b) || (a.locator < b.locator ? -1 : a.locator > b.locator ? 1 : 0));

  let done = 0;
  for (const s of scanned) {
    done++;
    if ('error' in s) {
      yield { locator: s.locator, error: s.error, progress: done };
      continue;
    }
    let raw: Buffer | SpooledRaw;
    try {
      raw =
        opts.spool && s.size > (opts.largeMailBytes ?? Infinity)
          ? await opts.spool(fs.createReadStream(s.file)) // a large mail is streamed, never read into memory whole
          : fs.readFileSync(s.file);
    } catch (err) {
      yield { locator: s.locator, error: errorChain(err), progress: done };
      continue;
    }
    const digest = Buffer.isBuffer(raw) ? crypto.createHash('sha256').update(raw).digest('hex') : raw.sha256;
    const size = Buffer.isBuffer(raw) ? raw.length : raw.size;
    yield { raw, sha256: digest, size, receivedAt: s.receivedAt, receivedFrom: s.receivedFrom, locator: s.locator, progress: done };
  }
}

export { dateHeader, envelopeDate, parseMailDate, receiptTime } from './import-dates';
