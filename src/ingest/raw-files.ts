/**
 * Large raw mails are kept as files, not database rows: <dataDir>/raw/<aa>/<sha256>.eml.
 *
 * A mail over LARGE_MAIL_BYTES is streamed from its source straight into a spool file (hashed
 * on the way, so the whole mail is never in memory), fsynced, and renamed to its content
 * address before the database row that points at it commits. Small mails stay in SQLite, where
 * a batch commits with one fsync.
 *
 * A crash after the rename and before the commit leaves an unreferenced file, which is
 * harmless: the mail is fetched again and lands on the same name.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Store } from '../store/store';
import type { Readable } from 'node:stream';
import { commitSpooled, spoolToTemp, sweepSpool, SpooledFile } from '../util/content-file';

/** Mails larger than this are stored as files (1 MiB). */
export const LARGE_MAIL_BYTES = 1024 * 1024;

/** A raw mail written to a fsynced spool file, not yet at its final name. */
export type SpooledRaw = SpooledFile;

function spoolDir(dataDir: string): string {
  return path.join(dataDir, 'raw', 'tmp');
}

/** Relative path (to the data folder) of a raw mail stored as a file. */
export function rawFileRelative(sha256: string): string {
  return path.join('raw', sha256.slice(0, 2), `${sha256}.eml`);
}

export function spoolRaw(dataDir: string, source: Readable): Promise<SpooledRaw> {
  return spoolToTemp(spoolDir(dataDir), source);
}

/** Move a spooled mail to its content address (durably). Returns the path relative to the data folder. */
export function commitSpooledRaw(dataDir: string, spooled: SpooledRaw): string {
  const rel = rawFileRelative(spooled.sha256);
  commitSpooled(spooled, path.join(dataDir, rel));
  return rel;
}

/** Remove spool files left by a crash. */
export function sweepRawSpool(dataDir: string): number {
  return sweepSpool(spoolDir(dataDir));
}

/** The stored bytes of a raw mail (from the database, or its file); null when gone (retention) or unreadable. */
export function readStoredRaw(store: Store, dataDir: string, sha256: string): Buffer | null {
  const raw = store.rawMail(sha256);
  if (!raw) return null;
  if ('bytes' in raw) return raw.bytes;
  try {
    return fs.readFileSync(path.join(dataDir, raw.path));
  } catch {
    return null;
  }
}
