/**
 * Storage failures: the data folder cannot take a write (full, over quota, read-only, or a
 * folder the service user does not own). They are the data folder's fault, never the mail's
 * (STYLE principle 12: classify each error once, at the boundary): the mail stays where it is
 * (on the server unmarked, in the Maildir's new/, or stored and not yet filed), its processing
 * attempt does not count against it (the poison-mail guard is for mails that kill the
 * process), the error is logged once per run of failures at error level with the fix, `status`
 * turns red, and everything is tried again with backoff until the disk takes writes again.
 *
 * A file outside the data folder that cannot be read (a Maildir file of another user) is that
 * file's problem, not a storage failure. Inside it (the embedded Maildir) only the reader knows
 * which file it was reading: storageFailureReading tells that file apart by the path.
 */
import os from 'node:os';
import path from 'node:path';

export type StorageCode = 'ENOSPC' | 'EDQUOT' | 'EACCES' | 'EPERM' | 'EROFS' | 'SQLITE_FULL' | 'SQLITE_READONLY' | 'SQLITE_CANTOPEN' | 'SQLITE_IOERR';

export interface StorageFailure {
  readonly code: StorageCode;
  /** The file that could not be written, when the error names one. */
  readonly path: string | null;
  /** What an operator does about it, with the data folder's path. */
  readonly fix: string;
}

/** How a source's stored error starts when the data folder failed (read by `status`, src/ops/status.ts). */
export const STORAGE_FAILURE_PREFIX = 'cannot write to the data folder';

const FS_CODES = new Set(['ENOSPC', 'EDQUOT', 'EACCES', 'EPERM', 'EROFS']);

function within(dir: string, file: string): boolean {
  const rel = path.relative(path.resolve(dir), path.resolve(file));
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** The name `chown` takes for the user this process runs as. */
function serviceUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return String(process.getuid?.() ?? 'klagomal');
  }
}

/** The storage failure in `err` or its causes, or null when the error is something else. */
export function storageFailure(err: unknown, dataDir: string): StorageFailure | null {
  let e: unknown = err;
  for (let depth = 0; e && typeof e === 'object' && depth < 6; depth++) {
    const { code, path: file } = e as { code?: unknown; path?: unknown };
    if (typeof code === 'string') {
      const where = typeof file === 'string' ? file : null;
      if (FS_CODES.has(code) && (where === null || within(dataDir, where))) return failure(code as StorageCode, where, dataDir);
      if (code === 'SQLITE_FULL' || code === 'SQLITE_READONLY' || code.startsWith('SQLITE_READONLY_') || code === 'SQLITE_CANTOPEN')
        return failure(code.startsWith('SQLITE_READONLY') ? 'SQLITE_READONLY' : (code as StorageCode), where, dataDir);
      if (code.startsWith('SQLITE_IOERR')) return failure('SQLITE_IOERR', where, dataDir);
    }
    e = (e as { cause?: unknown }).cause;
  }
  return null;
}

/**
 * As storageFailure for an error met while reading the mail file `file`: an error that names
 * that file itself is the file's (another user's, mode 0600), not the data folder's, even when
 * the file lies inside the data folder (the embedded Maildir, config/default.json).
 */
export function storageFailureReading(err: unknown, dataDir: string, file: string): StorageFailure | null {
  const found = storageFailure(err, dataDir);
  return found && (found.path === null || path.resolve(found.path) !== path.resolve(file)) ? found : null;
}

function failure(code: StorageCode, file: string | null, dataDir: string): StorageFailure {
  const dir = path.resolve(dataDir);
  let fix: string;
  switch (code) {
    case 'ENOSPC':
    case 'SQLITE_FULL':
      fix = `the file system of the data folder ${dir} is full: free space there (df -h ${dir}); the service stores and files the waiting mail by itself once it can write`;
      break;
    case 'EDQUOT':
      fix = `the service user's disk quota is full: free space or raise the quota for the data folder ${dir}; the waiting mail is filed by itself once it can write`;
      break;
    case 'EROFS':
    case 'SQLITE_IOERR':
      fix = `the file system of the data folder ${dir} is read-only or failing (see dmesg): repair or remount it read-write; the waiting mail is filed by itself once it can write`;
      break;
    default:
      // An admin command run as root leaves root's folders behind (README "Running admin commands").
      fix = `the service user ${serviceUser()} cannot write ${file ?? dir}: give the data folder back to it: chown -R ${serviceUser()}: ${dir} (and run admin commands as that user)`;
  }
  return { code, path: file, fix };
}

/** An error to throw when a pass stops on a storage failure: carries the failure, the cause chain kept. */
export class StorageError extends Error {
  constructor(
    readonly failure: StorageFailure,
    cause: unknown,
  ) {
    super(`the data folder cannot be written (${failure.code}): ${failure.fix}`, { cause });
    this.name = 'StorageError';
  }
}
