/**
 * Copying and hashing the files of a backup: every copy is read once, hashed on the way,
 * written to a temporary name beside its destination, fsynced and renamed into place (the
 * folder fsynced too), so that a file in the backup folder is either whole or not there, and a
 * copy whose bytes are not what their hash says never takes a good name.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ensureDir, fsyncDir, tempNameFor } from '../util/durable-file';
import { Hasher } from '../util/content-file';

export interface Hashed {
  readonly sha256: string;
  readonly size: number;
}

/** The sha256 and size of a file, streamed. */
export async function hashFile(file: string): Promise<Hashed> {
  const hash = crypto.createHash('sha256');
  let size = 0;
  for await (const chunk of fs.createReadStream(file)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), size };
}

export class HashMismatch extends Error {
  constructor(
    readonly file: string,
    readonly expected: string,
    readonly actual: Hashed,
  ) {
    super(`${file}: its sha256 is ${actual.sha256}, not ${expected} (${actual.size} bytes)`);
  }
}

/**
 * Copy `from` to `to` durably (0600). With `expected`, a copy whose bytes hash otherwise is
 * thrown away and HashMismatch thrown: a damaged file never passes for a good one. With
 * `folders`, the folder is not fsynced here but added to the set, for the caller to fsync each
 * once before what makes the copies count (a backup's manifest): half the fsyncs of a backup of
 * many files, the most of its time.
 */
export async function copyDurably(from: string, to: string, expected?: string, folders?: Set<string>): Promise<Hashed> {
  const dir = path.dirname(to);
  ensureDir(dir);
  const tmp = tempNameFor(to);
  const hasher = new Hasher();
  try {
    await pipeline(fs.createReadStream(from), hasher, fs.createWriteStream(tmp, { mode: 0o600 }));
    const fd = fs.openSync(tmp, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    const got = { sha256: hasher.hash.digest('hex'), size: hasher.size };
    if (expected !== undefined && got.sha256 !== expected) throw new HashMismatch(from, expected, got);
    fs.renameSync(tmp, to);
    if (folders) folders.add(dir);
    else fsyncDir(dir);
    return got;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** Every file under `dir`, as paths relative to it ('/'-separated), sorted; none when it does not exist. */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(path.join(dir, rel), { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const e of entries) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.push(p);
    }
  };
  walk('');
  return out.sort();
}

/** Size of a file, or null when it is not there. */
export function sizeOf(file: string): number | null {
  try {
    return fs.statSync(file).size;
  } catch {
    return null;
  }
}
