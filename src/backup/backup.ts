/**
 * `takeBackup`: a consistent backup of a running install into a backup folder (manifest.ts
 * describes the layout).
 *
 *  1. The database is copied with SQLite's online backup API in one read transaction
 *     (src/store/backup.ts): one moment, while the service goes on writing (WAL: a reader
 *     never blocks the writer). The copy gets the rollback journal, so it is one file.
 *  2. What the manifest records is read from the copy, not the live database: counts, the
 *     last event of every chain, the case-number sequences, and the files it refers to.
 *  3. Those files (large raw mails, attachments) are copied from the data folder unless the
 *     backup folder has them already: they are content-addressed, written before the row that
 *     names them commits, so every file the copy names exists; each copied file is hashed on
 *     the way and must match its name. Then the template files in use, by content.
 *  4. The manifest is written last (durably): a backup without its manifest does not exist.
 *  5. The result is recorded in the live database (`status` shows it), and with `keep` the
 *     oldest manifests beyond it are removed with the files only they needed (prune.ts).
 *
 * Failure behaviour: a file the database names but the data folder lacks (or holds with other
 * bytes) is listed in the manifest's `missing` and makes the backup not ok (exit 1), the rest
 * is still backed up. Any other error stops the backup; it is recorded as failed, and a
 * half-written copy never has a manifest. Two backups into one folder at once are refused
 * (a lock file holding the pid).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/config';
import { openDatabase } from '../store/db';
import { Store } from '../store/store';
import type { ReferencedFile } from '../store/backup';
import type { Clock } from '../util/clock';
import { toInstant } from '../util/clock';
import type { Logger } from '../util/log';
import { errorChain } from '../util/log';
import { ensureDir, fsyncDir, tempNameFor } from '../util/durable-file';
import { packageRoot } from '../util/package-root';
import { copyDurably, filesUnder, hashFile, HashMismatch, sizeOf } from './files';
import { databasePathFor, Manifest, MANIFEST_FORMAT, ManifestFile, manifestName, templatePath, writeManifest } from './manifest';
import { pruneBackups, PruneResult } from './prune';

export interface BackupProgress {
  readonly phase: 'database' | 'files' | 'templates' | 'manifest';
  readonly done: number;
  readonly total: number;
  readonly bytesCopied: number;
}

export interface BackupDeps {
  readonly config: Config;
  readonly store: Store;
  readonly log: Logger;
  readonly clock: Clock;
  readonly progress?: (p: BackupProgress) => void;
}

export interface BackupSummary {
  readonly ok: boolean;
  readonly dir: string;
  readonly manifest: string;
  readonly createdAt: string;
  readonly seconds: number;
  readonly database: { readonly bytes: number; readonly seconds: number };
  readonly counts: Manifest['counts'];
  readonly files: { readonly total: number; readonly copied: number; readonly alreadyThere: number; readonly bytesCopied: number; readonly bytesTotal: number };
  readonly missing: Manifest['missing'];
  readonly pruned: PruneResult | null;
}

export class BackupRefused extends Error {}

function programVersion(): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** One backup into `dir`; with `keep`, the manifests beyond the newest `keep` are pruned. */
export async function takeBackup(deps: BackupDeps, dir: string, opts: { keep?: number | null } = {}): Promise<BackupSummary> {
  const { store } = deps;
  const started = deps.clock();
  const log = deps.log.child({ stage: 'backup' });
  ensureDir(dir);
  const unlock = lockFolder(dir);
  let summary: BackupSummary | null = null;
  try {
    summary = await backupLocked(deps, dir, started, opts.keep ?? null);
    return summary;
  } catch (err) {
    store.recordBackup({
      dir,
      manifest: null,
      startedAt: toInstant(started),
      finishedAt: toInstant(deps.clock()),
      ok: false,
      error: errorChain(err),
      filesCopied: 0,
      bytesCopied: 0,
    });
    log.error('backup failed', { dir, error: errorChain(err) });
    throw err;
  } finally {
    unlock();
  }
}

async function backupLocked(deps: BackupDeps, dir: string, started: Date, keep: number | null): Promise<BackupSummary> {
  const { config, store } = deps;
  const progress = deps.progress ?? ((): void => undefined);
  // ---- 1. the database, one moment
  const createdAt = deps.clock();
  const dbRel = databasePathFor(createdAt);
  const dbFinal = path.join(dir, dbRel);
  ensureDir(path.dirname(dbFinal));
  const tmp = tempNameFor(dbFinal);
  progress({ phase: 'database', done: 0, total: 1, bytesCopied: 0 });
  const t0 = Date.now();
  let facts: ReturnType<typeof readCopy>;
  try {
    await store.snapshotDatabaseTo(tmp);
    const dbSeconds = (Date.now() - t0) / 1000;
    // ---- 2. what the copy holds
    facts = readCopy(tmp);
    const fd = fs.openSync(tmp, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, dbFinal);
    fsyncDir(path.dirname(dbFinal));
    facts = { ...facts, dbSeconds };
  } finally {
    for (const f of [tmp, `${tmp}-wal`, `${tmp}-shm`, `${tmp}-journal`]) fs.rmSync(f, { force: true });
  }
  const dbHash = await hashFile(dbFinal);
  const database: ManifestFile = { kind: 'database', path: dbRel, sha256: dbHash.sha256, size: dbHash.size };
  progress({ phase: 'database', done: 1, total: 1, bytesCopied: dbHash.size });

  // ---- 3. the files it refers to, copied once
  const files: ManifestFile[] = [database];
  const missing: Array<Manifest['missing'][number]> = [];
  let copied = 0;
  let alreadyThere = 0;
  let bytesCopied = dbHash.size;
  let bytesTotal = dbHash.size;
  const refs = facts.files;
  // The folders of the copies, fsynced once each before the manifest is written (files.ts).
  const folders = new Set<string>();
  for (let i = 0; i < refs.length; i++) {
    const ref = refs[i];
    const inBackup = path.join(dir, ref.path);
    const entry: ManifestFile = { kind: ref.kind, path: ref.path, sha256: ref.sha256, size: ref.size };
    // The name is the content's hash: a file of that name and size in DIR is this file (`backup verify` rehashes).
    if (sizeOf(inBackup) === ref.size) {
      alreadyThere++;
      files.push(entry);
      bytesTotal += ref.size;
      // The data folder must still have it: a file lost there after the first backup into DIR
      // went unnoticed by every later one (nothing else checks attachments). The copy here stays.
      if (sizeOf(path.join(config.dataDir, ref.path)) !== ref.size)
        missing.push({ kind: ref.kind, path: ref.path, problem: 'missing or changed in the data folder (the backup keeps its earlier copy)' });
    } else {
      try {
        const got = await copyDurably(path.join(config.dataDir, ref.path), inBackup, ref.sha256, folders);
        copied++;
        bytesCopied += got.size;
        bytesTotal += got.size;
        files.push({ ...entry, size: got.size });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (err instanceof HashMismatch) missing.push({ kind: ref.kind, path: ref.path, problem: `damaged in the data folder: ${err.message}` });
        else if (code === 'ENOENT') missing.push({ kind: ref.kind, path: ref.path, problem: 'not in the data folder' });
        else throw err;
      }
    }
    if (i % 200 === 0 || i === refs.length - 1) progress({ phase: 'files', done: i + 1, total: refs.length, bytesCopied });
  }

  // ---- the template files in use, by content
  const names = filesUnder(config.templates);
  for (let i = 0; i < names.length; i++) {
    const source = path.join(config.templates, names[i]);
    const h = await hashFile(source);
    const rel = templatePath(h.sha256);
    if (sizeOf(path.join(dir, rel)) !== h.size) {
      await copyDurably(source, path.join(dir, rel), h.sha256, folders);
      copied++;
      bytesCopied += h.size;
    } else alreadyThere++;
    bytesTotal += h.size;
    files.push({ kind: 'template', path: rel, sha256: h.sha256, size: h.size, name: names[i] });
    progress({ phase: 'templates', done: i + 1, total: names.length, bytesCopied });
  }

  // ---- 4. the manifest, last (after every copy's folder is durable)
  // Their parents too, up to DIR: a folder made for this backup (raw/ab/) is an entry of its parent.
  for (const f of [...folders]) for (let p = path.dirname(f); p.startsWith(dir) && p !== path.dirname(p); p = path.dirname(p)) folders.add(p);
  for (const f of folders) fsyncDir(f);
  const finishedAt = deps.clock();
  const manifest: Manifest = {
    format: MANIFEST_FORMAT,
    name: manifestName(createdAt),
    createdAt: toInstant(createdAt),
    finishedAt: toInstant(finishedAt),
    program: { version: programVersion() },
    schemaVersion: facts.schemaVersion,
    database,
    counts: facts.counts,
    chains: facts.chains,
    caseNumbers: facts.caseNumbers,
    lastInboundId: facts.lastInboundId,
    newestArrival: facts.newestArrival,
    templates: { folder: config.templates, setInUse: facts.templateSet },
    personnummer: {
      encrypted: facts.encryptedPersonnummer,
      key: `not in the backup: keep the key (${config.personnummer.keyEnv}) apart from it, or the numbers cannot be read back`,
    },
    files,
    missing,
    copied: { files: copied + 1, bytes: bytesCopied },
  };
  progress({ phase: 'manifest', done: 0, total: 1, bytesCopied });
  writeManifest(dir, manifest);
  progress({ phase: 'manifest', done: 1, total: 1, bytesCopied });

  // ---- 5. recorded; older manifests pruned
  const ok = missing.length === 0;
  store.recordBackup({
    dir,
    manifest: manifest.name,
    startedAt: toInstant(started),
    finishedAt: toInstant(finishedAt),
    ok,
    error: ok ? null : `${missing.length} file(s) the database refers to could not be backed up (see the manifest's "missing")`,
    filesCopied: copied + 1,
    bytesCopied,
  });
  const pruned = keep !== null ? pruneBackups(dir, keep) : null;
  const summary: BackupSummary = {
    ok,
    dir,
    manifest: manifest.name,
    createdAt: manifest.createdAt,
    seconds: (deps.clock().getTime() - started.getTime()) / 1000,
    database: { bytes: dbHash.size, seconds: facts.dbSeconds },
    counts: facts.counts,
    files: { total: files.length, copied: copied + 1, alreadyThere, bytesCopied, bytesTotal },
    missing,
    pruned,
  };
  const log = deps.log.child({ stage: 'backup' });
  if (ok) log.info('backup taken', { dir, manifest: manifest.name, copied: copied + 1, bytesCopied, seconds: summary.seconds });
  else
    log.error('backup taken, but files the database refers to are missing or damaged in the data folder', {
      dir,
      manifest: manifest.name,
      missing: missing.length,
    });
  return summary;
}

/** What the manifest records, read from the copy (which also gets the rollback journal). */
function readCopy(file: string): {
  counts: Manifest['counts'];
  chains: Manifest['chains'];
  caseNumbers: Manifest['caseNumbers'];
  lastInboundId: number;
  newestArrival: string | null;
  schemaVersion: number;
  templateSet: string | null;
  encryptedPersonnummer: number;
  files: ReferencedFile[];
  dbSeconds: number;
} {
  const db = openDatabase(file);
  try {
    const copy = new Store(db);
    copy.useRollbackJournal();
    const last: Array<[string | null, number, string | null]> = [];
    let head: { id: number; hash: string | null } | null = null;
    for (const h of copy.chainHeads()) {
      last.push([h.caseNumber ?? (h.caseId === null ? null : `#${h.caseId}`), h.lastEventId, h.hash]);
      if (!head || h.lastEventId > head.id) head = { id: h.lastEventId, hash: h.hash };
    }
    const high = copy.inboundHighWater();
    return {
      counts: copy.backupCounts(),
      chains: { count: last.length, head, last },
      caseNumbers: copy.caseNumberSequences(),
      lastInboundId: high.lastInboundId,
      newestArrival: high.newestArrival,
      schemaVersion: copy.readonlySchemaVersion(),
      templateSet: copy.meta('templates.lastGood') ?? null,
      encryptedPersonnummer: copy.countEncryptedPersonnummer(),
      files: [...copy.referencedFiles()],
      dbSeconds: 0,
    };
  } finally {
    db.close();
  }
}

/** One backup per folder at a time: a lock file holding the pid (taken over when that process is gone). */
function lockFolder(dir: string): () => void {
  const lock = path.join(dir, '.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = fs.openSync(lock, 'wx', 0o600);
      fs.writeSync(fd, String(process.pid));
      fs.closeSync(fd);
      return () => fs.rmSync(lock, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(fs.readFileSync(lock, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid))
        throw new BackupRefused(`another backup (pid ${pid}) is writing to ${dir}; wait for it, or remove ${lock} if that process is not klagomal`);
      fs.rmSync(lock, { force: true }); // left by a backup that died
    }
  }
  throw new BackupRefused(`cannot lock ${dir}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
