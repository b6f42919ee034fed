/**
 * `verifyBackup`: is a backup what its manifest says, and is its database whole? Every problem
 * is listed, none stops the check:
 *
 *  - every file of the manifest is there, with its size and sha256 (a byte changed in a raw
 *    mail, a missing attachment, a truncated database);
 *  - the database opens and passes `PRAGMA integrity_check`;
 *  - it holds what the manifest counts (schema version, cases, mails, events, ...), and the
 *    last event of every chain is the one the manifest recorded;
 *  - every hash chain verifies as `klagomal audit verify` checks it (src/audit/verify.ts);
 *  - every file the database refers to is in the manifest (or listed there as missing when the
 *    backup was taken).
 *
 * The backup folder is only read: the database copy has the rollback journal (backup.ts), so it
 * is opened read-only where it lies.
 */
import path from 'node:path';
import { verifyAudit } from '../audit/verify';
import { openDatabase } from '../store/db';
import { Store } from '../store/store';
import { errorChain } from '../util/log';
import { hashFile } from './files';
import { Manifest, ManifestError, readManifest } from './manifest';

export interface BackupVerification {
  readonly ok: boolean;
  readonly dir: string;
  readonly manifest: string | null;
  readonly createdAt: string | null;
  readonly files: { readonly checked: number; readonly bytes: number };
  readonly problems: readonly string[];
  /**
   * Of the problems, the files the data folder already lacked (or held damaged) when the backup
   * was taken: the backup is not damaged, it holds all it could. A restore goes on with them.
   */
  readonly notBackedUp: readonly string[];
}

export async function verifyBackup(dir: string, name?: string, progress?: (done: number, total: number) => void): Promise<BackupVerification> {
  let manifest: Manifest;
  try {
    manifest = readManifest(dir, name);
  } catch (err) {
    if (!(err instanceof ManifestError)) throw err;
    return { ok: false, dir, manifest: null, createdAt: null, files: { checked: 0, bytes: 0 }, problems: [err.message], notBackedUp: [] };
  }
  const problems: string[] = [];
  let checked = 0;
  let bytes = 0;
  const listed = new Set<string>();
  for (const f of manifest.files) {
    listed.add(path.normalize(f.path));
    try {
      const h = await hashFile(path.join(dir, f.path));
      bytes += h.size;
      if (h.size !== f.size) problems.push(`${f.kind} ${f.path}: ${h.size} bytes, the manifest says ${f.size} (truncated or changed)`);
      else if (h.sha256 !== f.sha256) problems.push(`${f.kind} ${f.path}: its sha256 is ${h.sha256}, the manifest says ${f.sha256} (changed)`);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      problems.push(`${f.kind} ${f.path}: ${code === 'ENOENT' ? 'missing' : `cannot be read: ${errorChain(err)}`}`);
    }
    checked++;
    progress?.(checked, manifest.files.length);
  }
  const notBackedUp = manifest.missing.map((m) => `${m.kind} ${m.path}: not backed up when the backup was taken (${m.problem})`);
  problems.push(...notBackedUp);
  problems.push(...checkDatabase(dir, manifest, listed));
  return { ok: problems.length === 0, dir, manifest: manifest.name, createdAt: manifest.createdAt, files: { checked, bytes }, problems, notBackedUp };
}

/** The database copy: whole, what the manifest counts, every chain intact, every file it names backed up. */
function checkDatabase(dir: string, m: Manifest, listed: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  const file = path.join(dir, m.database.path);
  let db: ReturnType<typeof openDatabase>;
  try {
    db = openDatabase(file, { readonly: true });
  } catch (err) {
    return [`database ${m.database.path}: cannot be opened: ${errorChain(err)}`];
  }
  const at = `database ${m.database.path}`;
  try {
    const store = new Store(db);
    const integrity = store.integrityCheck();
    if (!(integrity.length === 1 && integrity[0] === 'ok')) {
      problems.push(...integrity.map((p) => `${at}: integrity_check: ${p}`));
      return problems; // a damaged file answers nothing else reliably
    }
    const version = store.readonlySchemaVersion();
    if (version !== m.schemaVersion) problems.push(`${at}: schema version ${version}, the manifest says ${m.schemaVersion}`);
    const counts = store.backupCounts();
    for (const [k, v] of Object.entries(m.counts) as Array<[keyof Manifest['counts'], number]>)
      if (counts[k] !== v) problems.push(`${at}: ${counts[k]} ${k}, the manifest counts ${v}`);
    const expected = new Map(m.chains.last.map(([caseNumber, id, hash]) => [caseNumber ?? '(no case)', { id, hash }]));
    let chains = 0;
    for (const h of store.chainHeads()) {
      chains++;
      const key = h.caseNumber ?? (h.caseId === null ? '(no case)' : `#${h.caseId}`);
      const e = expected.get(key);
      if (!e) problems.push(`${at}: the chain of ${key} is not in the manifest`);
      else if (e.id !== h.lastEventId || e.hash !== h.hash)
        problems.push(`${at}: the chain of ${key} ends at event #${h.lastEventId} ${h.hash}, the manifest recorded #${e.id} ${e.hash}`);
    }
    if (chains !== m.chains.count) problems.push(`${at}: ${chains} chain(s), the manifest records ${m.chains.count}`);
    const audit = verifyAudit(store);
    for (const b of audit.broken)
      problems.push(
        `${at}: the chain of ${b.caseNumber ?? '(no case)'} is broken at event #${b.firstBreak.eventId}: ${b.firstBreak.kind}: ${b.firstBreak.message}`,
      );
    for (const [from, to] of audit.missingIds) problems.push(`${at}: event id${from === to ? ` #${from}` : `s #${from}-#${to}`} missing`);
    const missingAtBackup = new Set(m.missing.map((x) => path.normalize(x.path)));
    for (const ref of store.referencedFiles()) {
      const p = path.normalize(ref.path);
      if (!listed.has(p) && !missingAtBackup.has(p)) problems.push(`${ref.kind} ${ref.path}: the database refers to it, the manifest does not list it`);
    }
  } catch (err) {
    problems.push(`${at}: ${errorChain(err)}`);
  } finally {
    db.close();
  }
  return problems;
}
