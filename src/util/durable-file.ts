/**
 * Durable file writes in the Postfix manner: write to a temporary name in the same folder,
 * fsync the file, rename it into place, fsync the folder. After `writeFileDurably` returns the
 * file is either wholly there under its final name or, after a crash, not there at all.
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';

export function ensureDir(dir: string, mode = 0o700): void {
  fs.mkdirSync(dir, { recursive: true, mode });
}

export function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * A temporary name beside `finalPath` that no consumer of the folder can mistake for a finished
 * file: hidden (leading dot) and without the final name's extension (a pickup agent taking
 * `*.eml` must never take a half-written mail left by a crash).
 */
export function tempNameFor(finalPath: string): string {
  return path.join(path.dirname(finalPath), `.tmp-${process.pid}-${crypto.randomBytes(6).toString('hex')}-${path.basename(finalPath)}.part`);
}

/** Write `data` to `finalPath` atomically and durably; replaces an existing file with the same name. */
export function writeFileDurably(finalPath: string, data: Buffer | string, mode = 0o600): void {
  const dir = path.dirname(finalPath);
  ensureDir(dir);
  const tmp = tempNameFor(finalPath);
  const fd = fs.openSync(tmp, 'w', mode);
  try {
    fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, finalPath);
  fsyncDir(dir);
}

/**
 * Remove the files of `dir` that `matches` and that nobody has touched for `olderThanMs` (an
 * hour by default): left behind by a crash mid-write. Younger ones are spared, since another
 * process (an `ingest` beside the service) may be writing one right now.
 */
export function removeStaleFiles(dir: string, matches: (name: string) => boolean, olderThanMs = 3_600_000): number {
  if (!fs.existsSync(dir)) return 0;
  let removed = 0;
  for (const name of fs.readdirSync(dir)) {
    if (!matches(name)) continue;
    const file = path.join(dir, name);
    try {
      if (Date.now() - fs.statSync(file).mtimeMs < olderThanMs) continue;
      fs.rmSync(file, { force: true });
      removed++;
    } catch {
      /* gone meanwhile */
    }
  }
  return removed;
}

/** Remove temporary files left behind by a crash in the middle of `writeFileDurably`. */
export function sweepTempFiles(dir: string, olderThanMs?: number): number {
  return removeStaleFiles(dir, (name) => name.startsWith('.tmp-'), olderThanMs);
}
