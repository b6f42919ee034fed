/**
 * The scheduled backup of `klagomal start` (`backup.schedule`, node-cron in Stockholm time):
 * each tick runs `klagomal backup` (into `backup.dir`, keeping `backup.keep` manifests) as a
 * child process with the service's config and environment.
 *
 * Why a child process: copying the database is one synchronous SQLite call (one read
 * transaction, src/store/backup.ts) that takes seconds on a large register; in the service's
 * own thread it would stop filing and sending meanwhile. In its own process it is one more
 * reader of the WAL database, which the service's writes never wait for. The child records
 * its result in the database (`status` shows it) and logs its own JSON lines on stderr, which
 * are passed through as they come.
 *
 * A tick never overlaps the previous one (node-cron's noOverlap); on shutdown the child is
 * asked to stop (SIGTERM: its half-written copy has no manifest, so it does not exist).
 */
import { spawn, ChildProcess } from 'node:child_process';
import path from 'node:path';
import cron from 'node-cron';
import type { Config } from '../config/config';
import type { Logger } from '../util/log';
import { errorChain } from '../util/log';
import { packageRoot } from '../util/package-root';
import { TIME_ZONE } from '../util/stockholm-time';

export interface BackupSchedule {
  stop(): Promise<void>;
}

export function startBackupSchedule(deps: { readonly config: Config; readonly log: Logger }, signal: AbortSignal): BackupSchedule | null {
  const { config } = deps;
  const log = deps.log.child({ stage: 'backup' });
  if (config.backup.schedule === null || config.backup.dir === null) return null;
  let child: ChildProcess | null = null;
  let running: Promise<void> = Promise.resolve();
  const task = cron.schedule(
    config.backup.schedule,
    () => {
      running = runBackupChild(config, log, (c) => (child = c)).catch((err) =>
        log.error('scheduled backup could not run; the next one tries again', { error: errorChain(err) }),
      );
      return running;
    },
    { timezone: TIME_ZONE, noOverlap: true, name: 'backup' },
  );
  signal.addEventListener(
    'abort',
    () => {
      void task.stop();
      (child as ChildProcess | null)?.kill('SIGTERM');
    },
    { once: true },
  );
  return {
    async stop() {
      await task.destroy();
      await running;
    },
  };
}

function runBackupChild(config: Config, log: Logger, started: (c: ChildProcess) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [path.join(packageRoot(), 'bin', 'klagomal.js'), 'backup', '--json', '--config', config.file], {
      env: process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    started(c);
    let out = '';
    c.stdout!.on('data', (d: Buffer) => (out += d.toString('utf8')));
    // The child's log lines are JSON already: passed through whole, line by line.
    let partial = '';
    c.stderr!.on('data', (d: Buffer) => {
      const lines = (partial + d.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) process.stderr.write(`${line}\n`);
    });
    c.on('error', reject);
    c.on('close', (code, sig) => {
      if (partial.trim()) process.stderr.write(`${partial}\n`);
      let summary: { manifest?: string; seconds?: number; files?: { copied?: number; bytesCopied?: number } } = {};
      try {
        summary = JSON.parse(out) as typeof summary;
      } catch {
        /* no summary: the child failed before it */
      }
      if (code === 0)
        log.info('scheduled backup done', {
          dir: config.backup.dir,
          manifest: summary.manifest,
          seconds: summary.seconds,
          copied: summary.files?.copied,
          bytesCopied: summary.files?.bytesCopied,
        });
      else log.error('scheduled backup failed: see its lines above and `klagomal status`', { dir: config.backup.dir, exitCode: code, signal: sig });
      resolve();
    });
  });
}
