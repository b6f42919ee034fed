/**
 * Retention: personal data kept no longer than needed (GDPR art. 5(1)(e)).
 *
 * A closed case whose last closing is older than `retention.closedCaseYears` (default 10, the
 * general limitation period) is anonymised by `runRetention` (`klagomal retention run`, and on
 * `retention.schedule` in the service). A case on legal hold (./legal-hold.ts) is skipped and
 * listed. `retention.rawMailDays`, when set, removes only the raw mails of closed cases earlier.
 *
 * What goes and what stays, field by field, and which mails are a case's: ./anonymise.ts, which
 * does the work on each case; the SQL is in src/store/retention.ts.
 *
 * Every run is a `retention_runs` row (dry runs too) with the case numbers and counts, never
 * personal data. Each case is anonymised in its own transaction, which checks again that the
 * case is closed, not held and not done; a crash loses at most the case in flight, and the next
 * run goes on. Files are recorded in `retention_pending_files` in that transaction and deleted
 * after it (see flushPendingFiles), so a crash never leaves an unreferenced personal file
 * behind. Running twice changes nothing the second time.
 *
 * Security notes: the database runs with secure_delete during a run (freed pages are zeroed)
 * and the WAL is checkpointed at the end; backups keep what they hold until they expire. Logs
 * name case numbers and counts only.
 */
import cron from 'node-cron';
import type { Config } from '../config/config';
import type { Store } from '../store/store';
import type { Logger } from '../util/log';
import { errorChain, silentLogger } from '../util/log';
import type { Clock, Instant } from '../util/clock';
import { toInstant, addYears } from '../util/clock';
import { TIME_ZONE } from '../util/stockholm-time';
import type { RetentionCandidateRow, RetentionRunRow } from '../store/retention';
import { anonymiseCase, anonymiseMails, flushPendingFiles, planCase, planCaseRaw, removeCaseRaw } from './anonymise';

export { anonymisedFields, flushPendingFiles, KEPT_FIELDS } from './anonymise';
export type { RetentionRunRow } from '../store/retention';

export type RetentionTrigger = 'command' | 'schedule';

/** Days a mail that failed for good keeps its attached files for `outbox retry`. */
export const FAILED_MAIL_FILES_DAYS = 30;

export interface RetentionDeps {
  readonly store: Store;
  readonly config: Config;
  readonly log?: Logger;
}

export interface RetentionOptions {
  readonly now: Date;
  /** Record what would be done, change nothing (default false). */
  readonly dryRun?: boolean;
  readonly trigger: RetentionTrigger;
  /** The service stopping: the run ends after the case in hand (each case commits on its own); the next run does the rest. */
  readonly signal?: AbortSignal;
}

export interface AnonymisedCase {
  readonly number: string;
  readonly closedAt: Instant;
  readonly mails: number;
  readonly attachments: number;
  readonly rawRemoved: number;
  readonly outbox: number;
  readonly events: number;
}

export interface RawOnlyCase {
  readonly number: string;
  readonly closedAt: Instant;
  readonly mails: number;
  readonly rawRemoved: number;
}

export interface RetentionResult {
  readonly runId: number;
  readonly dryRun: boolean;
  readonly trigger: RetentionTrigger;
  readonly startedAt: Instant;
  readonly finishedAt: Instant;
  readonly closedCaseYears: number;
  readonly rawMailDays: number | null;
  /** Cases closed at or before this instant are anonymised. */
  readonly closedBefore: Instant;
  /** Cases closed at or before this instant lose their raw mails (null: no raw-only period). */
  readonly rawClosedBefore: Instant | null;
  readonly anonymised: readonly AnonymisedCase[];
  readonly rawOnly: readonly RawOnlyCase[];
  /** Mails on no case anonymised (their receipt older than the case period). */
  readonly mailsOnNoCase: number;
  /** Cases due for anonymisation or raw removal but on legal hold. */
  readonly skippedHeld: ReadonlyArray<{ number: string; closedAt: Instant; heldAt: Instant }>;
  readonly failed: ReadonlyArray<{ number: string; error: string }>;
  /** Raw mails whose bytes were removed (in a dry run: would be, counting each case alone). */
  readonly rawRemoved: number;
  /** Files deleted from the data folder (attachments, large raw mails). */
  readonly filesRemoved: number;
  /** Files left for the next run because mail was being filed meanwhile. */
  readonly filesDeferred: number;
  /** Files of mails that failed for good whose content was dropped (counted in a dry run). */
  readonly outboxFilesBlanked: number;
}

/** Pure: `now` minus whole years (29 February falls back to 28 February). */
export function yearsBefore(now: Date, years: number): Date {
  return addYears(now, -years);
}

/** Closed cases not yet anonymised, with their last closing (from the events). */
function closedCases(store: Store): Array<RetentionCandidateRow & { closedAt: Instant }> {
  // A case closed without a status-changed event (written by hand): its last change stands in.
  return store.closedCasesNotAnonymised().map((r) => ({ ...r, closedAt: r.closed_at ?? r.updated_at }));
}

/** Mails on no case anonymised per transaction. */
const LOOSE_BATCH = 200;

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * One retention run as of `now`. Records the run (also a dry run) and returns what it did.
 * Yields to the event loop between cases, so that the service keeps filing mail meanwhile.
 */
export async function runRetention(deps: RetentionDeps, opts: RetentionOptions): Promise<RetentionResult> {
  const { store, config } = deps;
  const log = deps.log ?? silentLogger;
  const dryRun = opts.dryRun ?? false;
  const startedAt = toInstant(opts.now);
  const startedMs = performance.now(); // the run's instant is `now`; its duration is measured
  const { closedCaseYears, rawMailDays } = config.retention;
  const closedBefore = yearsBefore(opts.now, closedCaseYears);
  const rawClosedBefore = rawMailDays !== null ? new Date(opts.now.getTime() - rawMailDays * 86_400_000) : null;

  // The run is on record before it changes anything: events it anonymises name it.
  const runId = store.tx(() => store.insertRetentionRun(startedAt, opts.trigger, dryRun));

  const secureDelete = store.secureDeleteMode();
  if (!dryRun) store.setSecureDelete('ON');
  let filesRemoved = 0;
  let filesDeferred = 0;
  const anonymised: AnonymisedCase[] = [];
  const rawOnly: RawOnlyCase[] = [];
  const skippedHeld: Array<{ number: string; closedAt: Instant; heldAt: Instant }> = [];
  const failed: Array<{ number: string; error: string }> = [];
  let mailsOnNoCase = 0;
  let looseRaw = 0;
  let outboxFilesBlanked = 0;
  try {
    // Files left by an earlier run that stopped between its commit and the deletion.
    if (!dryRun) filesRemoved += flushPendingFiles(store, config.dataDir).removed;

    for (const c of closedCases(store)) {
      if (opts.signal?.aborted) break;
      const closed = new Date(c.closedAt).getTime();
      const full = closed <= closedBefore.getTime();
      const rawDue = !full && rawClosedBefore !== null && closed <= rawClosedBefore.getTime();
      if (!full && !rawDue) continue;
      if (c.hold_reason) {
        skippedHeld.push({ number: c.number, closedAt: c.closedAt, heldAt: c.held_at ?? '' });
        continue;
      }
      try {
        if (full) {
          const work = dryRun ? planCase(store, c.id) : store.tx(() => anonymiseCase(store, config, c.id, runId, startedAt));
          if (work) anonymised.push({ number: c.number, closedAt: c.closedAt, ...work });
        } else {
          const work = dryRun ? planCaseRaw(store, c.id) : store.tx(() => removeCaseRaw(store, c.id, runId, startedAt));
          if (work) rawOnly.push({ number: c.number, closedAt: c.closedAt, ...work });
        }
      } catch (err) {
        // One case that cannot be done must not stop the others; the run records it.
        failed.push({ number: c.number, error: errorChain(err) });
        log.error('retention: a case could not be anonymised; it is tried again on the next run', { case: c.number, error: errorChain(err) });
      }
      await yieldToLoop();
    }

    // Mails on no case, in batches (each its own transaction).
    const loose = store.looseMailsDue(toInstant(closedBefore));
    for (let i = 0; i < loose.length && !opts.signal?.aborted; i += LOOSE_BATCH) {
      const batch = loose.slice(i, i + LOOSE_BATCH);
      try {
        if (dryRun) {
          mailsOnNoCase += batch.length;
          looseRaw += store.countRawRemovable(batch);
        } else {
          // Checked again inside the transaction: a case may have named one of them meanwhile.
          const work = store.tx(() => anonymiseMails(store, store.looseMailsDue(toInstant(closedBefore), batch), runId, startedAt));
          mailsOnNoCase += work.mails;
          looseRaw += work.rawRemoved;
        }
      } catch (err) {
        failed.push({ number: `mails ${batch[0]}-${batch[batch.length - 1]} on no case`, error: errorChain(err) });
        log.error('retention: mails on no case could not be anonymised; tried again on the next run', { error: errorChain(err) });
      }
      await yieldToLoop();
    }

    // Files of mails that failed for good (a monthly pack's charts and register CSV, with
    // customers' names): kept FAILED_MAIL_FILES_DAYS for `outbox retry`, then their content goes.
    const filesBefore = toInstant(new Date(opts.now.getTime() - FAILED_MAIL_FILES_DAYS * 86_400_000));
    outboxFilesBlanked = dryRun ? store.failedOutboxFilesDue(filesBefore) : store.tx(() => store.blankFailedOutboxFiles(filesBefore));

    if (!dryRun) {
      const flushed = flushPendingFiles(store, config.dataDir);
      filesRemoved += flushed.removed;
      filesDeferred = flushed.deferred;
    }
  } finally {
    if (!dryRun) store.setSecureDelete(secureDelete); // 0, 1 or 2 (FAST), as it was
  }

  const rawRemoved = anonymised.reduce((n, c) => n + c.rawRemoved, 0) + rawOnly.reduce((n, c) => n + c.rawRemoved, 0) + looseRaw;
  const finishedAt = toInstant(new Date(opts.now.getTime() + Math.round(performance.now() - startedMs)));
  const result: RetentionResult = {
    runId,
    dryRun,
    trigger: opts.trigger,
    startedAt,
    finishedAt,
    closedCaseYears,
    rawMailDays,
    closedBefore: toInstant(closedBefore),
    rawClosedBefore: rawClosedBefore ? toInstant(rawClosedBefore) : null,
    anonymised,
    rawOnly,
    mailsOnNoCase,
    skippedHeld,
    failed,
    rawRemoved,
    filesRemoved,
    filesDeferred,
    outboxFilesBlanked,
  };
  store.tx(() => store.finishRetentionRun(runId, finishedAt, anonymised.length, rawRemoved, JSON.stringify(result)));
  if (!dryRun && (anonymised.length > 0 || rawRemoved > 0 || mailsOnNoCase > 0)) {
    // The old page images of what was removed may still sit in the WAL: write them home (zeroed).
    try {
      store.checkpointWalTruncate();
    } catch {
      /* readers in another process: the next checkpoint does it */
    }
  }
  log.info('retention run', {
    run: runId,
    dryRun,
    trigger: opts.trigger,
    anonymised: anonymised.length,
    rawOnly: rawOnly.length,
    mailsOnNoCase,
    rawRemoved,
    heldSkipped: skippedHeld.length,
    failed: failed.length,
    filesRemoved,
    filesDeferred: filesDeferred || undefined,
    outboxFilesBlanked: outboxFilesBlanked || undefined,
  });
  return result;
}

/** The last `limit` recorded runs, newest first (`klagomal retention runs`). */
export function retentionRuns(store: Store, limit = 50): RetentionRunRow[] {
  return store.retentionRunsNewestFirst(limit);
}

/** The service's nightly retention: stop() ends the schedule and waits for a run in progress. */
export interface RetentionSchedule {
  stop(): Promise<void>;
}

/**
 * The scheduled run in the service (`klagomal start`): on `retention.schedule` (Stockholm
 * time), never two at once. Returns null when no schedule is configured. A run in progress
 * when the signal aborts ends after its current case (each case commits on its own).
 *
 * There is no catch-up run at start: a missed night only delays anonymisation by a day, and
 * the next run does everything that is due.
 */
export function startRetentionSchedule(deps: RetentionDeps & { readonly log: Logger; readonly clock: Clock }, signal: AbortSignal): RetentionSchedule | null {
  const schedule = deps.config.retention.schedule;
  if (schedule === null) return null;
  let running: Promise<void> = Promise.resolve();
  const task = cron.schedule(
    schedule,
    () => {
      running = runRetention(deps, { now: deps.clock(), trigger: 'schedule', signal }).then(
        () => undefined,
        (err) => deps.log.error('retention run failed; the next scheduled run tries again', { error: errorChain(err) }),
      );
      return running;
    },
    { timezone: TIME_ZONE, noOverlap: true, name: 'retention' },
  );
  signal.addEventListener('abort', () => void task.stop(), { once: true });
  return {
    async stop() {
      await task.destroy();
      await running;
    },
  };
}
