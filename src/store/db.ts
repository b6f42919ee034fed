/**
 * Opening the database: pragmas for durability, then migrations.
 *
 * WAL with synchronous=FULL: a committed transaction survives a crash or power loss, and
 * readers (`klagomal cases` while the service runs) never block the writer. busy_timeout lets
 * a second process (an `ingest` beside a running service) wait for the write lock instead of
 * failing at once.
 */
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { MIGRATIONS } from './migrations';
import { chainExistingEvents } from './event-chain';

export type DB = Database.Database;

export class SchemaTooNewError extends Error {}

export function openDatabase(file: string, opts: { readonly?: boolean } = {}): DB {
  if (file !== ':memory:') {
    const dir = path.dirname(file);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (opts.readonly && !fs.existsSync(file)) {
      throw new Error(`database ${file} does not exist yet (it is created when mail is first filed)`);
    }
  }
  // Created private before SQLite opens it: SQLite gives the -wal and -shm files the database
  // file's mode, so they are private too, whatever the umask of the command that made them.
  if (file !== ':memory:' && !opts.readonly && !fs.existsSync(file)) fs.closeSync(fs.openSync(file, 'a', 0o600));
  const db = new Database(file, { readonly: opts.readonly ?? false });
  db.pragma('busy_timeout = 10000');
  if (!opts.readonly) {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    migrate(db);
    if (file !== ':memory:') {
      try {
        fs.chmodSync(file, 0o600);
      } catch {
        /* not our file to chmod (another user's service); SQLite opened it, that is enough */
      }
    }
  }
  return db;
}

export function schemaVersion(db: DB): number {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
  const row = db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null };
  return row.v ?? 0;
}

export function migrate(db: DB): void {
  const current = schemaVersion(db);
  const latest = MIGRATIONS[MIGRATIONS.length - 1].version;
  if (current > latest) {
    throw new SchemaTooNewError(`the database is at schema version ${current}, newer than this program knows (${latest}); upgrade klagomal`);
  }
  for (const m of MIGRATIONS) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      // Migration 8's hash chain needs JavaScript (sha256 in chain order) for the events already there.
      if (m.version === 8) chainExistingEvents(db);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, new Date().toISOString());
    }).immediate();
  }
}
