/**
 * `klagomal backup`: a consistent backup while `start` runs, and its check (src/backup/).
 *
 *   klagomal backup [DIR] [--keep N] [--json]     back up into DIR (default `backup.dir`, then
 *                                                 keeping `backup.keep` manifests); --keep N
 *                                                 keeps the newest N in DIR and removes files
 *                                                 only older manifests needed
 *   klagomal backup verify DIR [--manifest NAME] [--json]
 *                                                 every file's sha256, the database's
 *                                                 integrity_check, its counts and the hash
 *                                                 chains against the manifest
 *
 * Progress on a terminal (stderr, redrawn in place); a summary on stdout (`--json`: one JSON
 * object). Exit codes: 0 ok; 1 a problem (every one listed): a file the database refers to
 * missing or damaged in the data folder, a backup that does not verify; 2 usage.
 */
import fs from 'node:fs';
import path from 'node:path';
import { takeBackup, BackupProgress, BackupSummary } from '../backup/backup';
import { verifyBackup } from '../backup/verify';
import { openDatabase } from '../store/db';
import { Store } from '../store/store';
import { systemClock } from '../util/clock';
import { UsageError, wholeNumber } from './args';
import type { Command, Io } from './shared';
import { configOf, json, logger, NotFound } from './shared';

export const backupCommand: Command = {
  summary: 'back up the database, raw mail, attachments and templates while the service runs; `backup verify DIR` checks a backup',
  usage: ['klagomal backup [DIR] [--keep N] [--json] [--config FILE]', 'klagomal backup verify DIR [--manifest NAME] [--json]'].join('\n       '),
  options: { json: { type: 'boolean' }, keep: { type: 'string' }, manifest: { type: 'string' } },
  positionals: true,
  async run(values, positionals, io) {
    if (positionals[0] === 'verify') {
      if (positionals.length !== 2) throw new UsageError('usage: klagomal backup verify DIR [--manifest NAME]');
      return verify(path.resolve(positionals[1]), values.manifest as string | undefined, values.json === true, io);
    }
    if (positionals.length > 1) throw new UsageError('usage: klagomal backup [DIR] [--keep N]');
    if (values.manifest !== undefined) throw new UsageError('--manifest is for `backup verify` (and `restore`)');
    const config = configOf(values);
    const dir = positionals[0] !== undefined ? path.resolve(positionals[0]) : config.backup.dir;
    if (!dir) throw new UsageError('give DIR, or set backup.dir in the config');
    const inside = path.relative(config.dataDir, dir);
    if (inside === '' || (!inside.startsWith('..') && !path.isAbsolute(inside)))
      throw new UsageError(`${dir} is inside the data folder ${config.dataDir}: a backup there is lost with it; back up to another disk`);
    const keep = values.keep !== undefined ? wholeNumber('--keep', values.keep, 1, 10_000) : positionals[0] === undefined ? config.backup.keep : null;
    if (!fs.existsSync(config.database)) throw new NotFound(`the database ${config.database} does not exist: nothing to back up yet`);
    const db = openDatabase(config.database);
    const onTerminal = process.stderr.isTTY === true && values.json !== true;
    try {
      const summary = await takeBackup(
        { config, store: new Store(db), log: logger(), clock: systemClock, progress: onTerminal ? progressLine(io) : undefined },
        dir,
        { keep },
      );
      if (onTerminal) process.stderr.write('\r\x1b[K');
      io.out(values.json ? json(summary) : describe(summary));
      // The README's exit 1: a one-line reason on stderr (the list is in the output).
      if (!summary.ok)
        io.err(`klagomal backup: ${summary.missing.length} file(s) the database refers to are missing or damaged in the data folder; the rest is backed up`);
      return summary.ok ? 0 : 1;
    } finally {
      db.close();
    }
  },
};

async function verify(dir: string, manifest: string | undefined, asJson: boolean, io: Io): Promise<number> {
  const onTerminal = process.stderr.isTTY === true && !asJson;
  let drawn = 0;
  const v = await verifyBackup(dir, manifest, (done, total) => {
    if (!onTerminal || (Date.now() - drawn < 250 && done < total)) return;
    drawn = Date.now();
    process.stderr.write(`\r\x1b[Kverifying: ${done} of ${total} files`);
  });
  if (onTerminal) process.stderr.write('\r\x1b[K');
  if (asJson) io.out(json(v));
  else {
    const lines = [
      `backup ${v.manifest ?? '?'} in ${v.dir}${v.createdAt ? ` (taken ${v.createdAt})` : ''}: ${v.files.checked} file(s), ${mib(v.files.bytes)} hashed`,
    ];
    if (v.ok)
      lines.push('OK: every file matches its sha256, the database passes integrity_check, holds what the manifest counts, and every hash chain verifies');
    else {
      lines.push(`NOT OK: ${v.problems.length} problem(s)`);
      for (const p of v.problems) lines.push(`  - ${p}`);
    }
    io.out(lines.join('\n'));
  }
  if (!v.ok) io.err(`klagomal backup verify: ${v.problems.length} problem(s) in ${v.manifest ?? dir}`);
  return v.ok ? 0 : 1;
}

function describe(s: BackupSummary): string {
  const lines = [
    `backup ${s.manifest} in ${s.dir}: ${s.seconds.toFixed(1)} s`,
    `  database   ${mib(s.database.bytes)} copied in ${s.database.seconds.toFixed(1)} s (one consistent moment: ${s.createdAt})`,
    `  holds      ${s.counts.cases} case(s), ${s.counts.mails} mail(s), ${s.counts.events} event(s), ${s.counts.attachments} attachment(s)`,
    `  files      ${s.files.total} in the manifest (${mib(s.files.bytesTotal)}); copied now ${s.files.copied} (${mib(s.files.bytesCopied)}), already there ${s.files.alreadyThere}`,
  ];
  if (s.pruned)
    lines.push(
      `  kept       removed ${s.pruned.manifestsRemoved.length} older manifest(s) and ${s.pruned.filesRemoved} file(s) only they needed (${mib(s.pruned.bytesRemoved)})`,
    );
  if (s.missing.length > 0) {
    lines.push(`NOT OK: ${s.missing.length} file(s) the database refers to could not be backed up (run 'klagomal reconcile'):`);
    for (const m of s.missing) lines.push(`  - ${m.kind} ${m.path}: ${m.problem}`);
  } else lines.push('OK. The personnummer key is not in the backup: keep it apart from it.');
  return lines.join('\n');
}

function progressLine(io: Io): (p: BackupProgress) => void {
  void io;
  let drawn = 0;
  return (p) => {
    // The manifest written: the line is cleared before the backup's log line and the summary.
    if (p.phase === 'manifest' && p.done === p.total) return void process.stderr.write('\r\x1b[K');
    if (Date.now() - drawn < 250 && p.done < p.total) return;
    drawn = Date.now();
    const what = p.phase === 'database' ? 'copying the database' : p.phase === 'manifest' ? 'writing the manifest' : `${p.phase} ${p.done} of ${p.total}`;
    process.stderr.write(`\r\x1b[K${what} (${mib(p.bytesCopied)} copied)`);
  };
}

function mib(n: number): string {
  return n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
