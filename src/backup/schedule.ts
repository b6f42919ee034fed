/**
 * The scheduled backup of `klagomal start` (`backup.schedule`, node-cron in Stockholm time):
 * each tick runs `klagomal backup` (into `backup.dir`, keeping `backup.keep` manifests) as a
 * child process with the service's config and environment.
 *
 * Why a child process: copying the database is one synchronous SQLite call (one read
 * transaction, src/store/backup.ts) that takes seconds on a large register; in the service's
 * own thread it would stop filing and sending meanwhile. In its own process it is one more
 * reader of the WAL database, which the service's writes never wait for. The child records
 * its result in the database (`status` shows it); its JSON log lines are read and logged again
 * by the service's logger (one writer on stderr: a line is never cut by another).
 *
 * A tick never overlaps the previous one (node-cron's noOverlap); on shutdown the child is
 * asked to stop (SIGTERM: its half-written copy has no manifest, so it does not exist).
 */
import { spawn, ChildProcess } from 'node:child_process';
import path from 'node:path';
import cron from 'node-cron';
import type { Config } from '../config/config';
import type { Logger, LogFields } from '../util/log';
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
    // The child's log lines are logged again through this process's logger, not written to
    // stderr beside it: one writer on stderr, so that a line is never cut by another when the
    // pipe is full (every line stays JSON), and each gets the journal's priority under systemd.
    let partial = '';
    c.stderr!.on('data', (d: Buffer) => {
      const lines = (partial + d.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) relogChildLine(log, line, c.pid);
    });
    c.on('error', reject);
    c.on('close', (code, sig) => {
      relogChildLine(log, partial, c.pid);
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

/** One line of the backup child's stderr, logged by `log` at its level with its fields. */
export function relogChildLine(log: Logger, line: string, childPid: number | undefined): void {
  if (!line.trim()) return;
  let parsed: Record<string, unknown> | null = null;
  try {
    const v = JSON.parse(line) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) parsed = v as Record<string, unknown>;
  } catch {
    /* not JSON: logged as text below */
  }
  if (!parsed) {
    log.warn('the backup process wrote a line that is not JSON', { childPid, line: line.slice(0, 2000) });
    return;
  }
  const { level, msg, time: _time, pid: _pid, ...rest } = parsed;
  const fields: LogFields = { childPid };
  for (const [k, v] of Object.entries(rest))
    fields[k] = v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? v : JSON.stringify(v);
  const text = typeof msg === 'string' ? msg : 'backup';
  if (level === 'error' || level === 'fatal') log.error(text, fields);
  else if (level === 'warn') log.warn(text, fields);
  else if (level === 'debug' || level === 'trace') log.debug(text, fields);
  else log.info(text, fields);
}
