/**
 * `klagomal import PATH`: bring in a firm's old complaints mailbox (an mbox file, a Maildir or a
 * folder of .eml files) through the same path as live mail (issue 8, "Backfills").
 *
 *   PATH ──(src/ingest/import.ts reads)──▶ intake, source `import`, in batches ──▶ processor (every few batches)
 *
 * Deduplicated twice: each mail's intake key is its content hash (`import:<sha256>`), so a second
 * run, or a run after an interrupted one, stores nothing it stored before; and the classifier
 * records a mail whose Message-ID was filed before (from a live mailbox, or another copy in the
 * archive) as a duplicate. Old mail is filed quietly (no acknowledgement, no notification, no
 * escalation; src/cases/filing.ts isQuietImport): all of it, or what reached the firm before
 * `import.acknowledgeAfter`. Acknowledgements that are queued go out with the next `start` or
 * `run --once`, never from here.
 *
 * Output: progress on stderr (redrawn in place on a terminal; otherwise a line now and then for
 * long imports), a summary at the end on stdout (`--json`: one JSON object). No personal data:
 * neither the progress, the summary nor the log names an address, a subject or a body.
 *
 * Exit codes: 0 done; 1 PATH (or a mail file in it) could not be read; 130 interrupted (what was
 * read is stored; a second run goes on where this one stopped and files what is not filed yet).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import type { Readable } from 'node:stream';
import type { Config } from '../config/config';
import { MAIL_KINDS, MailKind } from '../cases/lifecycle';
import { IMPORT_SOURCE } from '../cases/filing';
import { ImportedMail, ImportItem, ImportPlan, isUnreadable, planImport, ReceivedFrom } from '../ingest/import';
import { RawArrival, storeArrivals } from '../ingest/intake';
import { LARGE_MAIL_BYTES, spoolRaw, SpooledRaw } from '../ingest/raw-files';
import type { ProcessResult } from '../pipeline/processor';
import { Service } from '../service';
import { openDatabase } from '../store/db';
import { Store } from '../store/store';
import { toInstant } from '../util/clock';
import { createLogger } from '../util/log';
import { UsageError } from './args';
import type { Command } from './shared';
import { configOf, requireFilingSecrets } from './shared';

/** Mails per intake transaction (one fsync each), and the memory a batch may hold. */
const BATCH_MAILS = 200;
const BATCH_BYTES = 32 * 1024 * 1024;
/** Stored mails filed together: a huge import files as it goes, and its cases appear while it runs. */
const FILE_EVERY = 1000;
/** A terminal's progress line is redrawn at most this often. */
const REDRAW_MS = 250;
/** Without a terminal (cron, systemd, a pipe): a progress line at most this often, and only for long imports. */
const QUIET_LINE_MS = 10_000;
const QUIET_LINE_MAILS = 1000;

export interface ImportSummary {
  path: string;
  kind: ImportPlan['kind'];
  dryRun: boolean;
  /** Stopped by a signal before the end of PATH. */
  interrupted: boolean;
  /** Mails read from PATH (without the unreadable files). */
  read: number;
  /** Newly stored by this run (with --dry-run: not imported yet, would be stored). */
  stored: number;
  /** Stored before (same bytes: an earlier import, or another copy earlier in PATH): nothing new. */
  alreadyImported: number;
  /** Filed by this run, by kind (a mail stored by an interrupted earlier run is filed now). */
  filed: Record<MailKind, number>;
  quarantined: number;
  acknowledgementsQueued: number;
  /** Stored by this run and filed meanwhile by a running service (counted there, not here). */
  filedByService: number;
  /** Files that could not be read: their place below PATH and the error. */
  unreadable: Array<{ locator: string; error: string }>;
  /** Where each mail's receipt time came from. */
  receivedFrom: Record<ReceivedFrom, number>;
  skippedFolders: readonly string[];
  ignoredFiles: number;
  /** Below a Maildir: folders and .eml files that are in no Maildir folder, not read (ImportPlan.notRead). */
  notRead: readonly string[];
  /** Imported mail received on or after this Stockholm day is treated as live mail; null = none. */
  acknowledgeAfter: string | null;
  elapsedSeconds: number;
  mailsPerSecond: number;
}

export const importCommand: Command = {
  summary: 'bring in an old mailbox (mbox, Maildir or a folder of .eml files): filed like live mail, once, without acknowledging old mail',
  usage: 'klagomal import PATH [--dry-run] [--json] [--config FILE]',
  options: { json: { type: 'boolean' }, 'dry-run': { type: 'boolean' } },
  positionals: true,
  async run(values, positionals, io) {
    if (positionals.length !== 1) throw new UsageError('import needs exactly one PATH (an mbox file, a Maildir or a folder of .eml files)');
    const config = configOf(values);
    requireFilingSecrets(config);
    const plan = planImport(positionals[0]); // ImportPathError names PATH: exit 1
    const stopping = new AbortController();
    let signals = 0;
    const onSignal = (): void => {
      if (++signals > 1) process.exit(130); // committed batches are kept; a second run goes on from there
      stopping.abort();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const progress = new Progress(plan, Boolean(process.stderr.isTTY), (s) => process.stderr.write(s));
    try {
      const summary = values['dry-run'] ? await dryRun(config, plan, progress, stopping.signal) : await importMailbox(config, plan, progress, stopping.signal);
      progress.clear();
      io.out(values.json ? JSON.stringify(summary) : formatSummary(summary));
      if (summary.interrupted) return 130;
      return summary.unreadable.length > 0 ? 1 : 0;
    } finally {
      progress.clear();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  },
};

function emptySummary(config: Config, plan: ImportPlan, dryRun: boolean): ImportSummary {
  return {
    path: plan.path,
    kind: plan.kind,
    dryRun,
    interrupted: false,
    read: 0,
    stored: 0,
    alreadyImported: 0,
    filed: Object.fromEntries(MAIL_KINDS.map((k) => [k, 0])) as Record<MailKind, number>,
    quarantined: 0,
    acknowledgementsQueued: 0,
    filedByService: 0,
    unreadable: [],
    receivedFrom: { 'date-header': 0, envelope: 0, 'file-time': 0 },
    skippedFolders: plan.skippedFolders,
    ignoredFiles: plan.ignoredFiles,
    notRead: plan.notRead,
    acknowledgeAfter: config.import.acknowledgeAfter,
    elapsedSeconds: 0,
    mailsPerSecond: 0,
  };
}

function finish(summary: ImportSummary, startedAt: number): ImportSummary {
  const elapsed = (Date.now() - startedAt) / 1000;
  summary.elapsedSeconds = Math.round(elapsed * 10) / 10;
  summary.mailsPerSecond = elapsed > 0 ? Math.round(summary.read / elapsed) : summary.read;
  return summary;
}

function countRead(summary: ImportSummary, item: ImportItem): item is ImportedMail {
  if (isUnreadable(item)) {
    summary.unreadable.push({ locator: item.locator, error: item.error });
    return false;
  }
  summary.read++;
  summary.receivedFrom[item.receivedFrom]++;
  return true;
}

async function importMailbox(config: Config, plan: ImportPlan, progress: Progress, signal: AbortSignal): Promise<ImportSummary> {
  const startedAt = Date.now();
  const summary = emptySummary(config, plan, false);
  // One line per filed mail is the service's log; here it would bury the progress. Warnings and
  // quarantines still show (KLAGOMAL_LOG_LEVEL=info brings the rest back).
  // On a terminal each line clears the progress line first and redraws it after.
  const log = createLogger({
    level: process.env.KLAGOMAL_LOG_LEVEL ? undefined : 'warn',
    ...(progress.tty ? { write: (line: string) => progress.around(() => process.stderr.write(line + '\n')) } : {}),
  }).child({ source: IMPORT_SOURCE });
  const service = new Service(config, log);
  try {
    let batch: ImportedMail[] = [];
    let batchBytes = 0;
    let toFile: number[] = [];
    let storedNow = new Set<number>();
    let lastProgress = 0;
    // Mails read whose storing and filing are done (reading runs up to FILE_EVERY mails ahead).
    let settled = 0;

    const store = (): void => {
      if (batch.length === 0) return;
      const arrivals: RawArrival[] = batch.map((m) => ({
        raw: m.raw,
        receivedAt: m.receivedAt,
        mailbox: null,
        locator: m.locator,
        // The content is the key: the same mail found again (a second run, a copy elsewhere in
        // the archive) is the same mail.
        sourceKey: `${IMPORT_SOURCE}:${m.sha256}`,
      }));
      const results = storeArrivals(service.store, config.dataDir, IMPORT_SOURCE, arrivals, toInstant(new Date()));
      for (const r of results) {
        if (r.created) {
          summary.stored++;
          storedNow.add(r.id);
        } else summary.alreadyImported++;
        // Also an old one: an interrupted run may have stored it and not filed it.
        toFile.push(r.id);
      }
      batch = [];
      batchBytes = 0;
    };

    const file = async (): Promise<void> => {
      if (toFile.length === 0) return;
      // Stops between batches on a signal; what is left stored is filed by the next run (or the service).
      await service.process({
        only: new Set(toFile),
        signal,
        onResult: (r) => {
          tally(summary, r);
          storedNow.delete(r.inboundId);
          settled++;
          progress.update({ read: summary.read, done: lastProgress, filed: filedCount(summary), settled });
        },
      });
      // Stored by us, not filed by us, no longer pending: a running service filed it meanwhile.
      for (const id of storedNow) if (service.store.inbound(id)?.state !== 'stored') summary.filedByService++;
      toFile = [];
      storedNow = new Set();
      settled = summary.read - batch.length;
    };

    const mails = plan.mails({
      now: new Date(startedAt),
      largeMailBytes: LARGE_MAIL_BYTES,
      spool: (source) => spoolRaw(config.dataDir, source),
      onScan: (done, total) => progress.scan(done, total),
    });
    for await (const item of mails) {
      if (countRead(summary, item)) {
        batch.push(item);
        if (Buffer.isBuffer(item.raw)) batchBytes += item.size;
        if (batch.length >= BATCH_MAILS || batchBytes >= BATCH_BYTES) store();
        if (toFile.length >= FILE_EVERY) await file();
      }
      lastProgress = item.progress;
      progress.update({ read: summary.read, done: item.progress, filed: filedCount(summary), settled });
      if (signal.aborted) {
        summary.interrupted = true;
        break;
      }
    }
    store();
    await file();
    return finish(summary, startedAt);
  } finally {
    service.close();
  }
}

function filedCount(summary: ImportSummary): number {
  return Object.values(summary.filed).reduce((a, b) => a + b, 0) + summary.quarantined;
}

function tally(summary: ImportSummary, r: ProcessResult): void {
  if (r.kind === 'quarantined') {
    summary.quarantined++;
    return;
  }
  summary.filed[r.kind]++;
  if (r.acknowledgementQueued) summary.acknowledgementsQueued++;
}

/** `--dry-run`: read and count; what is already imported is looked up, nothing is written. */
async function dryRun(config: Config, plan: ImportPlan, progress: Progress, signal: AbortSignal): Promise<ImportSummary> {
  const startedAt = Date.now();
  const summary = emptySummary(config, plan, true);
  const db = fs.existsSync(config.database) ? openDatabase(config.database, { readonly: true }) : null;
  try {
    const store = db ? new Store(db) : null;
    const seen = new Set<string>();
    const mails = plan.mails({ now: new Date(startedAt), largeMailBytes: LARGE_MAIL_BYTES, spool: hashOnly, onScan: (d, t) => progress.scan(d, t) });
    for await (const item of mails) {
      if (countRead(summary, item)) {
        const key = `${IMPORT_SOURCE}:${item.sha256}`;
        if (seen.has(key) || store?.inboundBySourceKey(key)) summary.alreadyImported++;
        else summary.stored++;
        seen.add(key);
      }
      progress.update({ read: summary.read, done: item.progress, settled: summary.read });
      if (signal.aborted) {
        summary.interrupted = true;
        break;
      }
    }
    return finish(summary, startedAt);
  } finally {
    db?.close();
  }
}

/** A dry run's "spool": the hash and size of a large mail, nothing written. */
async function hashOnly(source: Readable): Promise<SpooledRaw> {
  const hash = crypto.createHash('sha256');
  let size = 0;
  for await (const chunk of source as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { tmpPath: '', sha256: hash.digest('hex'), size };
}

// ---- progress --------------------------------------------------------------------------

export interface ProgressPoint {
  /** Mails read so far. */
  readonly read: number;
  /** Progress of the reading in the plan's unit (bytes of the mbox, or files). */
  readonly done: number;
  /** Mails filed (or quarantined) so far; absent in a dry run. */
  readonly filed?: number;
  /** Mails read whose storing and filing are done. */
  readonly settled: number;
}

/** Progress on stderr: one line redrawn in place on a terminal, an occasional line otherwise. */
export class Progress {
  private readonly startedAt = Date.now();
  private lastDraw = 0;
  private shown = '';
  private quietAt = Date.now();
  private quietMails = 0;

  constructor(
    private readonly plan: Pick<ImportPlan, 'unit' | 'total'>,
    readonly tty: boolean,
    private readonly write: (text: string) => void,
  ) {}

  /** Reading the folder's headers to put its mails in order (before the first mail). */
  scan(done: number, total: number): void {
    if (!this.tty || !this.due()) return;
    this.draw(`reading headers to order the mails: ${done}/${total} files`);
  }

  update(p: ProgressPoint): void {
    const now = Date.now();
    if (this.tty) {
      if (this.due(now)) this.draw(this.line(p, now));
    } else if (p.read - this.quietMails >= QUIET_LINE_MAILS && now - this.quietAt >= QUIET_LINE_MS) {
      this.write(`klagomal import: ${this.line(p, now)}\n`);
      this.quietAt = now;
      this.quietMails = p.read;
    }
  }

  /** Write something else to stderr without tearing the progress line. */
  around(fn: () => void): void {
    const was = this.shown;
    this.clear();
    fn();
    if (was) this.draw(was);
  }

  clear(): void {
    if (this.shown) this.write('\r\x1b[K');
    this.shown = '';
  }

  private due(now = Date.now()): boolean {
    if (now - this.lastDraw < REDRAW_MS) return false;
    this.lastDraw = now;
    return true;
  }

  private draw(text: string): void {
    // \r and erase-line: the line is redrawn in place; it is cut to the terminal's width so it never wraps.
    const width = process.stderr.columns || 100;
    this.shown = text.slice(0, width - 1);
    this.write(`\r\x1b[K${this.shown}`);
  }

  line(p: ProgressPoint, now: number): string {
    const seconds = (now - this.startedAt) / 1000;
    const parts = [`${p.read} mail${p.read === 1 ? '' : 's'} read`];
    if (p.filed !== undefined) parts.push(`${p.filed} filed`);
    const total = this.plan.total;
    // The share done: by bytes of an mbox (mails differ in size) or by files of a folder, read
    // so far, scaled by the share of what was read that is also filed.
    const share = total > 0 && p.read > 0 ? Math.min(1, p.done / total) * (p.settled / p.read) : total > 0 ? 0 : 1;
    if (total > 0) parts.push(`${Math.floor(share * 100)} %`);
    // Rate and estimate once there is something to go on (the start includes opening the database).
    if (seconds >= 2 && p.settled > 0) {
      parts.push(`${Math.round(p.settled / seconds)} mails/s`);
      if (seconds >= 3 && share > 0 && share < 1) parts.push(`about ${duration(((1 - share) / share) * seconds)} left`);
    }
    return parts.join(', ');
  }
}

export function duration(seconds: number): string {
  if (seconds < 60) return `${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)} s`;
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const mmss = `${String(m).padStart(h ? 2 : 1, '0')}:${String(s % 60).padStart(2, '0')}`;
  return h ? `${h}:${mmss}` : `${mmss} min`;
}

// ---- summary ---------------------------------------------------------------------------

export function formatSummary(s: ImportSummary): string {
  const other = MAIL_KINDS.filter((k) => k !== 'complaint' && k !== 'followup' && s.filed[k] > 0);
  const otherCount = other.reduce((n, k) => n + s.filed[k], 0);
  const ackNote =
    s.acknowledgeAfter === null
      ? 'import.acknowledgeAfter is not set: no imported mail is acknowledged'
      : `mail received before ${s.acknowledgeAfter} is filed without one; queued ones go out with start or run --once`;
  const rows: Array<[string, string | number, string?]> = s.dryRun
    ? [
        ['mails read', s.read],
        ['not imported yet', s.stored],
        ['already imported', s.alreadyImported],
      ]
    : [
        ['mails read', s.read],
        ['newly stored', s.stored],
        ['already imported', s.alreadyImported],
        ['filed as new complaints', s.filed.complaint],
        ['filed as follow-ups', s.filed.followup],
        ['filed as other kinds', otherCount, other.map((k) => `${k} ${s.filed[k]}`).join(', ')],
        ['quarantined', s.quarantined, s.quarantined > 0 ? "see 'klagomal quarantine'" : undefined],
        ['acknowledgements queued', s.acknowledgementsQueued, ackNote],
      ];
  if (s.filedByService > 0) rows.push(['filed by the running service', s.filedByService]);
  if (s.unreadable.length > 0) rows.push(['files not readable', s.unreadable.length]);
  const rf = s.receivedFrom;
  if (rf.envelope + rf['file-time'] > 0)
    rows.push(['received time from', `Date header ${rf['date-header']}, mbox envelope ${rf.envelope}, file time ${rf['file-time']}`]);
  if (s.skippedFolders.length > 0) rows.push(['folders left out', s.skippedFolders.join(', '), 'not mail the firm received']);
  if (s.ignoredFiles > 0) rows.push(['files left out', s.ignoredFiles, 'not .eml files']);
  if (s.notRead.length > 0) {
    const names = `${s.notRead.slice(0, 10).join(', ')}${s.notRead.length > 10 ? ', ...' : ''}`;
    rows.push(['not read', s.notRead.length, `not in a Maildir folder: ${names}; a folder of .eml files is imported on its own`]);
  }
  rows.push(['time', duration(s.elapsedSeconds), `${s.mailsPerSecond} mails/s`]);
  const width = Math.max(...rows.map((r) => r[0].length));
  const lines = [
    `${s.dryRun ? 'dry run (nothing stored): ' : ''}${s.interrupted ? 'INTERRUPTED: ' : ''}${s.path} (${s.kind})`,
    ...rows.map(([k, v, note]) => `  ${k.padEnd(width)}  ${String(v).padStart(7)}${note ? `  (${note})` : ''}`),
    ...s.unreadable.slice(0, 20).map((u) => `  not readable: ${u.locator}: ${u.error}`),
    ...(s.unreadable.length > 20 ? [`  ... and ${s.unreadable.length - 20} more not readable (--json lists them all)`] : []),
    ...(s.interrupted ? ['  what was read is stored; run the same import again to go on (it also files what was stored and not yet filed)'] : []),
  ];
  return lines.join('\n');
}
