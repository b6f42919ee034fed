/**
 * The files under the data folder: the database and its WAL are private however the command
 * that created them was started, and a process starting beside a running service removes only
 * spool files that no running process can still be writing (an hour untouched).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase } from '../../src/store/db';
import { loadConfig } from '../../src/config/load';
import { Service } from '../../src/service';
import { silentLogger } from '../../src/util/log';
import { packageRoot } from '../../src/util/package-root';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-data-files-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

test('databaseAndWalPrivateUnderAnOpenUmask', () => {
  const before = process.umask(0o022); // as `klagomal ingest` from an operator's shell
  try {
    const file = path.join(dir, 'data', 'klagomal.db');
    const db = openDatabase(file);
    try {
      db.prepare('CREATE TABLE t (x)').run(); // a write, so the -wal and -shm files exist
      for (const f of [file, `${file}-wal`, `${file}-shm`]) expect([f, fs.statSync(f).mode & 0o777]).toEqual([f, 0o600]);
    } finally {
      db.close();
    }
  } finally {
    process.umask(before);
  }
});

test('startingSweepsOnlyAbandonedSpoolFiles', () => {
  const configFile = path.join(dir, 'config.json');
  fs.writeFileSync(
    configFile,
    JSON.stringify({
      firm: { name: 'Testfinans AB', complaintsAddress: 'klagomal@testfinans.se' },
      dataDir: './data',
      templates: path.join(packageRoot(), 'templates'),
      sources: [{ type: 'maildir', name: 'klagomal', path: './data/maildir' }],
      transport: { type: 'pickup', path: './data/pickup' },
      personnummer: { store: false },
      deadlines: { escalation: { enabled: false } },
    }),
  );
  const config = loadConfig(configFile);
  const spools = [path.join(config.dataDir, 'raw', 'tmp'), path.join(config.dataDir, 'attachments', 'tmp')];
  const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
  for (const spool of spools) {
    fs.mkdirSync(spool, { recursive: true });
    fs.writeFileSync(path.join(spool, 'abandoned'), 'left by a process that died');
    fs.utimesSync(path.join(spool, 'abandoned'), twoHoursAgo, twoHoursAgo);
    fs.writeFileSync(path.join(spool, 'in-flight'), 'being written by the running service');
  }
  const service = new Service(config, silentLogger);
  try {
    for (const spool of spools) expect(fs.readdirSync(spool)).toEqual(['in-flight']);
  } finally {
    service.close();
  }
});
