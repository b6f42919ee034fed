/**
 * Writing a data subject access export to disk: file names cut by UTF-8 bytes (a file system
 * counts bytes, not characters), the folder checked to be new or empty, everything written into
 * a temporary folder beside it and renamed into place when complete, so that a failure leaves
 * nothing half-written; files 0600 in folders 0700, never written over another file.
 */
import fs from 'node:fs';
import path from 'node:path';

/** The query is neither an address nor a valid personnummer, or the export cannot be written. */
export class SubjectExportError extends Error {}

const utf8Bytes = (s: string): number => Buffer.byteLength(s, 'utf8');

/** The longest start of `s` that fits in `max` bytes of UTF-8, cut between characters. */
function cutToBytes(s: string, max: number): string {
  let out = '';
  let bytes = 0;
  for (const ch of s) {
    const b = utf8Bytes(ch);
    if (bytes + b > max) break;
    out += ch;
    bytes += b;
  }
  return out;
}

/**
 * Pure: a file name that is safe on any file system and cannot leave its folder, at most
 * `maxBytes` bytes of UTF-8. File systems count a name in bytes (255 on ext4, XFS, APFS), not in
 * UTF-16 units: a hundred CJK characters are 300 bytes, and a name cut by its JavaScript length
 * made the export fail with ENAMETOOLONG (anyone could block a person's access request by
 * mailing such an attachment from their address). A short extension is kept. Bidi controls go
 * too: "faktura\u202Efdp.exe" must not show as "fakturaexe.pdf".
 */
export function safeFileName(name: string | null | undefined, fallback: string, maxBytes = 100): string {
  let n = (name ?? '')
    .normalize('NFC')
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f-\u009f/\\:*?"<>|\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '_')
    .replace(/^[\s.]+|[\s.]+$/g, '')
    .replace(/\s+/g, ' ');
  if (!n) n = fallback;
  if (utf8Bytes(n) > maxBytes) {
    let ext = path.extname(n);
    if (ext === n || utf8Bytes(ext) > 16) ext = '';
    const stem = cutToBytes(n.slice(0, n.length - ext.length), maxBytes - utf8Bytes(ext)).replace(/[\s.]+$/, '');
    n = stem ? stem + ext : cutToBytes(fallback, maxBytes);
  }
  return n;
}

/** DIR must be new or an empty folder; refuse anything else. */
export function checkDir(dir: string): void {
  if (fs.existsSync(dir)) {
    if (!fs.statSync(dir).isDirectory()) throw new SubjectExportError(`${dir} exists and is not a folder`);
    if (fs.readdirSync(dir).length > 0)
      throw new SubjectExportError(`${dir} is not empty: give a new or empty folder, so that nothing of another export is mixed in`);
  }
}

/**
 * A temporary folder (0700) beside DIR, on the same file system, so that the finished export
 * is renamed into place in one step. Its name is short whatever DIR is called.
 */
export function temporaryDirBeside(dir: string): string {
  const parent = path.dirname(dir);
  fs.mkdirSync(parent, { recursive: true, mode: 0o700 });
  return fs.mkdtempSync(path.join(parent, '.klagomal-export-'));
}

/**
 * Put the finished export in place: rename the temporary folder to DIR (an empty folder DIR is
 * replaced, POSIX rename(2)). Something put into DIR meanwhile makes it fail, and nothing moves.
 */
export function publishDir(tmp: string, dir: string): void {
  try {
    fs.renameSync(tmp, dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'ENOTDIR' || code === 'EISDIR')
      throw new SubjectExportError(`${dir} is no longer a new or empty folder (something was put there during the export); nothing was written to it`);
    throw err;
  }
  fs.chmodSync(dir, 0o700);
}

export class Writer {
  files = 0;
  constructor(readonly root: string) {}
  dir(rel: string): string {
    const abs = path.join(this.root, rel);
    fs.mkdirSync(abs, { recursive: true, mode: 0o700 });
    return abs;
  }
  file(rel: string, content: string | Buffer): void {
    const abs = path.join(this.root, rel);
    fs.mkdirSync(path.dirname(abs), { recursive: true, mode: 0o700 });
    fs.writeFileSync(abs, content, { mode: 0o600, flag: 'wx' }); // never over another file
    this.files++;
  }
  json(rel: string, value: unknown): void {
    this.file(rel, JSON.stringify(value, null, 2) + '\n');
  }
}
