/**
 * Large raw mails are kept as files, not database rows: <dataDir>/raw/<aa>/<sha256>.eml.
 *
 * A mail over LARGE_MAIL_BYTES is streamed from its source straight into a temporary file
 * (hashed on the way, so the whole mail is never in memory), fsynced, and renamed to its
 * content address before the database row that points at it commits; the folder is fsynced
 * too. Small mails stay in SQLite, where a batch commits with one fsync.
 *
 * A crash after the rename and before the commit leaves an unreferenced file, which is
 * harmless: the mail is fetched again and lands on the same name.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable, Transform, TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ensureDir, fsyncDir, sweepTempFiles } from '../util/durable-file';

/** Mails larger than this are stored as files (1 MiB). */
export const LARGE_MAIL_BYTES = 1024 * 1024;

/** A raw mail written to a temporary file, fsynced, not yet at its final name. */
export interface SpooledRaw {
  readonly tmpPath: string;
  readonly sha256: string;
  readonly size: number;
}

class Hasher extends Transform {
  readonly hash = crypto.createHash('sha256');
  size = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    cb(null, chunk);
  }
}

function tmpDir(dataDir: string): string {
  return path.join(dataDir, 'raw', 'tmp');
}

/** Relative path (to the data folder) of a raw mail stored as a file. */
export function rawFileRelative(sha256: string): string {
  return path.join('raw', sha256.slice(0, 2), `${sha256}.eml`);
}

/** Stream a raw mail into a fsynced temporary file, hashing it on the way. */
export async function spoolRaw(dataDir: string, source: Readable): Promise<SpooledRaw> {
  ensureDir(tmpDir(dataDir));
  const tmpPath = path.join(tmpDir(dataDir), `${process.pid}-${crypto.randomBytes(8).toString('hex')}`);
  const hasher = new Hasher();
  try {
    await pipeline(source, hasher, fs.createWriteStream(tmpPath, { mode: 0o600 }));
    const fd = fs.openSync(tmpPath, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    fs.rmSync(tmpPath, { force: true });
    throw err;
  }
  return { tmpPath, sha256: hasher.hash.digest('hex'), size: hasher.size };
}

/** Move a spooled mail to its content address (durably). Returns the path relative to the data folder. */
export function commitSpooledRaw(dataDir: string, spooled: SpooledRaw): string {
  const rel = rawFileRelative(spooled.sha256);
  const finalPath = path.join(dataDir, rel);
  ensureDir(path.dirname(finalPath));
  if (fs.existsSync(finalPath)) fs.rmSync(spooled.tmpPath, { force: true });
  else fs.renameSync(spooled.tmpPath, finalPath);
  fsyncDir(path.dirname(finalPath));
  return rel;
}

/** Remove temporary spool files left by a crash. */
export function sweepRawSpool(dataDir: string): number {
  const dir = tmpDir(dataDir);
  if (!fs.existsSync(dir)) return 0;
  let n = 0;
  for (const name of fs.readdirSync(dir)) {
    fs.rmSync(path.join(dir, name), { force: true });
    n++;
  }
  return n + sweepTempFiles(dir);
}
