/**
 * Backups (issue 18): `klagomal backup` of a register of N cases, its size, the second
 * (incremental) backup into the same folder, `backup verify`, a restore, and how long a writer waits
 * while a backup runs. Printed, not asserted.
 *
 * The register is built the way production builds it: an mbox of N complaints brought in by
 * `klagomal import` (the real binary: raw mail stored, parsed, filed, events hash-chained);
 * every 50th complaint carries a 30 KB attachment of its own (random bytes), every 2,000th one
 * of 1.1 MB (so the raw mail is a file of its own under data/raw/). Then 1 % more complaints
 * are imported and a second backup taken into the same folder.
 *
 * The writer: this process opens the live database as the service does and commits one small
 * transaction (a meta row) every 5 ms, timing each, first for 2 s alone (the baseline), then
 * while `klagomal backup` copies the database in its own process (as the service's schedule
 * runs it). In WAL mode the backup's one read transaction should not make a writer wait.
 *
 * Sizes: BENCH_BACKUP_CASES (default "10000"; "10000,100000" for both; the 100,000 register
 * takes a few minutes to import on 2 cores, so it is an option, not the default).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { makeWorld, complaintMail, mailWithAttachment, World } from '../test/support/world';
import { openDatabase } from '../src/store/db';
import { Store } from '../src/store/store';
import type { BackupSummary } from '../src/backup/backup';

function mbox(from: number, to: number): string {
  const parts: string[] = [];
  for (let i = from; i < to; i++) {
    const raw =
      i % 2000 === 1999
        ? mailWithAttachment({
            attachment: crypto.randomBytes(1_100_000),
            filename: `stor-${i}.pdf`,
            from: `Kund ${i} <kund${i}@example.com>`,
            messageId: `bb-${i}@example.com`,
          })
        : i % 50 === 49
          ? mailWithAttachment({
              attachment: crypto.randomBytes(30_000),
              filename: `utdrag-${i}.pdf`,
              from: `Kund ${i} <kund${i}@example.com>`,
              messageId: `bb-${i}@example.com`,
            })
          : complaintMail(i, { messageId: `bb-${i}@example.com` });
    parts.push(`From kund${i}@example.com Thu Nov 19 09:14:02 2026\n${raw.replace(/\r\n/g, '\n')}\n`);
  }
  return parts.join('');
}

async function importMails(world: World, from: number, to: number): Promise<number> {
  const file = path.join(world.dir, `import-${from}-${to}.mbox`);
  // Written in slices so that 100,000 mails never sit in memory as one string.
  fs.writeFileSync(file, '');
  for (let i = from; i < to; i += 5000) fs.appendFileSync(file, mbox(i, Math.min(to, i + 5000)));
  const t0 = Date.now();
  const r = await world.cli(['import', file, '--json'], { KLAGOMAL_LOG_LEVEL: 'error' });
  if (r.code !== 0) throw new Error(`import failed (${r.code}): ${r.stderr.slice(-2000)}`);
  fs.rmSync(file);
  return (Date.now() - t0) / 1000;
}

function duBytes(dir: string): number {
  let total = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    total += e.isDirectory() ? duBytes(p) : fs.statSync(p).size;
  }
  return total;
}

const mib = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MiB`;

interface WriteWaits {
  writes: number;
  p50: number;
  p99: number;
  max: number;
}

/** Commit a small transaction every 5 ms until `until` settles; the time each took (ms). */
async function writerWhile<T>(store: Store, until: Promise<T>): Promise<{ result: T; waits: WriteWaits }> {
  const times: number[] = [];
  let done = false;
  let i = 0;
  const timer = setInterval(() => {
    if (done) return;
    const t0 = process.hrtime.bigint();
    store.setMeta('bench.backup.writer', String(i++));
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }, 5);
  try {
    const result = await until;
    return { result, waits: summarise(times) };
  } finally {
    done = true;
    clearInterval(timer);
  }
}

function summarise(times: number[]): WriteWaits {
  const s = [...times].sort((a, b) => a - b);
  const at = (p: number): number => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
  return { writes: s.length, p50: at(50), p99: at(99), max: s[s.length - 1] ?? 0 };
}

const fmtWaits = (w: WriteWaits): string => `${w.writes} writes, p50 ${w.p50.toFixed(2)} ms, p99 ${w.p99.toFixed(2)} ms, max ${w.max.toFixed(1)} ms`;

async function timedBackup(world: World, dir: string, store: Store): Promise<{ summary: BackupSummary; seconds: number; waits: WriteWaits }> {
  const t0 = Date.now();
  const { result, waits } = await writerWhile(store, world.cli(['backup', dir, '--json'], { KLAGOMAL_LOG_LEVEL: 'error' }));
  const seconds = (Date.now() - t0) / 1000;
  if (result.code !== 0) throw new Error(`backup failed (${result.code}): ${result.stdout}\n${result.stderr.slice(-2000)}`);
  return { summary: JSON.parse(result.stdout) as BackupSummary, seconds, waits };
}

export async function backupBench(sizes: number[] = (process.env.BENCH_BACKUP_CASES ?? '10000').split(',').map(Number)): Promise<void> {
  for (const n of sizes) {
    const world = makeWorld();
    try {
      const importSeconds = await importMails(world, 0, n);
      const dir = path.join(world.dir, 'backup');
      const db = openDatabase(path.join(world.dataDir, 'klagomal.db'));
      try {
        const store = new Store(db);
        const cases = (db.prepare('SELECT COUNT(*) AS n FROM cases').get() as { n: number }).n;
        const dbBytes = fs.statSync(path.join(world.dataDir, 'klagomal.db')).size;
        const idle = await writerWhile(store, new Promise((r) => setTimeout(r, 2000)));
        const first = await timedBackup(world, dir, store);
        const size1 = duBytes(dir);
        console.log(
          `backup: ${cases.toLocaleString('en')} cases (database ${mib(dbBytes)}, imported in ${importSeconds.toFixed(1)} s): first backup ${first.seconds.toFixed(1)} s ` +
            `(database copy ${first.summary.database.seconds.toFixed(1)} s), ${first.summary.files.total} files, backup folder ${mib(size1)}`,
        );
        console.log(`backup: a writer committing every 5 ms: alone ${fmtWaits(idle.waits)}; during the backup ${fmtWaits(first.waits)}`);

        await importMails(world, n, n + Math.max(1, Math.floor(n / 100)));
        const second = await timedBackup(world, dir, store);
        console.log(
          `backup: second (incremental) backup after ${Math.floor(n / 100)} more mails: ${second.seconds.toFixed(1)} s, copied ${second.summary.files.copied} files ` +
            `(${mib(second.summary.files.bytesCopied)}, the database included), ${second.summary.files.alreadyThere} already there; folder now ${mib(duBytes(dir))}; ` +
            `writer during it: ${fmtWaits(second.waits)}`,
        );
        const t0 = Date.now();
        const v = await world.cli(['backup', 'verify', dir, '--json']);
        console.log(`backup: verify of the second backup ${((Date.now() - t0) / 1000).toFixed(1)} s, exit ${v.code}`);
        // A restore into a new folder (not the config's data folder: no reconciliation): verify, copy, integrity_check, audit verify.
        const t1 = Date.now();
        const rs = await world.cli(['restore', dir, '--to', path.join(world.dir, 'restored'), '--json']);
        console.log(`backup: restore of the second backup into a new folder ${((Date.now() - t1) / 1000).toFixed(1)} s, exit ${rs.code}`);
      } finally {
        db.close();
      }
    } finally {
      world.cleanup();
    }
  }
}

if (require.main === module) {
  backupBench().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
