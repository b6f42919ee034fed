/**
 * Content-addressed files: a stream is written to a temporary file while its sha256 is
 * computed, fsynced, then renamed to a name derived from the hash (and the folder fsynced).
 * Used for large raw mails and for attachments. The same content always lands on the same
 * name, so writing it again after a crash or a retry is harmless.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable, Transform, TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ensureDir, fsyncDir, removeStaleFiles } from './durable-file';

export interface SpooledFile {
  readonly tmpPath: string;
  readonly sha256: string;
  readonly size: number;
}

/** A pass-through stream that hashes (sha256) and counts what flows through it. */
export class Hasher extends Transform {
  readonly hash = crypto.createHash('sha256');
  size = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    cb(null, chunk);
  }
}

/** Stream `source` into a new fsynced file in `tmpDir`, hashing it on the way. */
export async function spoolToTemp(tmpDir: string, source: Readable): Promise<SpooledFile> {
  ensureDir(tmpDir);
  const tmpPath = path.join(tmpDir, `${process.pid}-${crypto.randomBytes(8).toString('hex')}`);
  const hasher = new Hasher();
  const out = fs.createWriteStream(tmpPath, { mode: 0o600 });
  try {
    await pipeline(source, hasher, out);
    const fd = fs.openSync(tmpPath, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    // The pipeline can fail before the file is even opened (a source that fails at once); the
    // stream opens it all the same, after. Removed once the stream has closed, or it stays behind.
    if (!out.closed) await new Promise<void>((resolve) => out.once('close', () => resolve()));
    fs.rmSync(tmpPath, { force: true });
    throw err;
  }
  return { tmpPath, sha256: hasher.hash.digest('hex'), size: hasher.size };
}

/** Move a spooled file to `finalPath` durably; when that content is there already, drop the copy. */
export function commitSpooled(spooled: SpooledFile, finalPath: string): void {
  ensureDir(path.dirname(finalPath));
  if (fs.existsSync(finalPath)) fs.rmSync(spooled.tmpPath, { force: true });
  else fs.renameSync(spooled.tmpPath, finalPath);
  fsyncDir(path.dirname(finalPath));
}

/** Remove spool files left by a crash mid-write (every file of a spool folder is a temporary one). */
export function sweepSpool(tmpDir: string, olderThanMs?: number): number {
  return removeStaleFiles(tmpDir, () => true, olderThanMs);
}
