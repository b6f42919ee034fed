/**
 * The case-number high-water mark kept outside the database (issue 18): `backup.dir/case-numbers.json`.
 *
 * A restored database is older than the numbers its install handed out after the backup, and
 * those numbers may have left the building (an acknowledgement names the case). The mailboxes
 * tell a restore most of it (src/reconcile/after-restore.ts), but not mail that left no trace on
 * a server: brought in by `klagomal ingest` or `import`, or deleted from the processed folder by
 * a person. So whoever files mail reserves numbers ahead in a file on the backup disk, before
 * it uses them: the file says "numbers up to N may have been used", and a restore resumes past
 * N (src/backup/restore.ts), whatever the mailboxes say.
 *
 * Reserved in blocks (hi/lo): the file is rewritten (durably: temporary name, fsync, rename) only
 * when fewer than half a block is left, before a batch is filed and after each mail, so a batch
 * (at most `processing.batchSize`, at most 1,000) never runs past the mark. The cost is a gap of
 * at most one block in the numbering after a restore (recorded on the `backup-restored` event).
 * The mark never goes down: it is the highest of what the file says and what the database holds.
 * A file that cannot be written is logged at error level (the backup disk is gone: a person must
 * act) and filing goes on: the mailboxes still bound the gap.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/config';
import type { CaseNumberSequence } from '../store/backup';
import type { Store } from '../store/store';
import type { Instant } from '../util/clock';
import { toInstant } from '../util/clock';
import { writeFileDurably } from '../util/durable-file';
import type { Logger } from '../util/log';
import { errorChain } from '../util/log';
import { localDateOf } from '../util/stockholm-time';

export const HIGH_WATER_FILE = 'case-numbers.json';
const FORMAT = 'klagomal-case-numbers/1';

interface HighWaterFile {
  readonly format: typeof FORMAT;
  readonly writtenAt: Instant;
  /** Per prefix and year: every number up to `last` may have been handed out. */
  readonly reserved: readonly CaseNumberSequence[];
}

/** The block reserved at a time: twice the largest batch, at least 1,000. */
export function blockSize(batchSize: number): number {
  return Math.max(1000, 2 * batchSize);
}

/**
 * Pure: the marks to write, or null when every sequence (and this year's, which the next case
 * opens) has at least half a block left below what is reserved.
 */
export function planHighWater(
  current: readonly CaseNumberSequence[],
  reserved: readonly CaseNumberSequence[],
  prefix: string,
  year: number,
  block: number,
): CaseNumberSequence[] | null {
  const key = (s: { prefix: string; year: number }): string => `${s.prefix}/${s.year}`;
  const marks = new Map(reserved.map((s) => [key(s), s]));
  const used = new Map(current.map((s) => [key(s), s]));
  if (!used.has(key({ prefix, year }))) used.set(key({ prefix, year }), { prefix, year, last: 0 });
  let move = false;
  const next = new Map(marks);
  for (const [k, s] of used) {
    const mark = marks.get(k)?.last ?? -1;
    if (s.last > mark - block / 2) {
      move = true;
      next.set(k, { prefix: s.prefix, year: s.year, last: s.last + block });
    }
  }
  return move ? [...next.values()].sort((a, b) => key(a).localeCompare(key(b))) : null;
}

/** What the file in `dir` reserves ([] when there is none, or it cannot be read). */
export function readHighWater(dir: string): CaseNumberSequence[] {
  try {
    const f = JSON.parse(fs.readFileSync(path.join(dir, HIGH_WATER_FILE), 'utf8')) as HighWaterFile;
    if (f.format !== FORMAT || !Array.isArray(f.reserved)) return [];
    return f.reserved.filter((s) => typeof s.prefix === 'string' && Number.isInteger(s.year) && Number.isInteger(s.last));
  } catch {
    return [];
  }
}

export interface HighWaterMark {
  /** Make sure the numbers the next batch can take are reserved in the file. */
  ensure(now: Date): void;
}

/** The mark of `backup.dir`, or null when there is no backup folder. */
export function caseNumberHighWater(config: Config, store: Store, log: Logger): HighWaterMark | null {
  const dir = config.backup.dir;
  if (dir === null) return null;
  const block = blockSize(config.processing.batchSize);
  let reserved: CaseNumberSequence[] | null = null;
  let failing = false;
  let lastAttempt = 0;
  return {
    ensure(now) {
      reserved ??= readHighWater(dir);
      const plan = planHighWater(store.caseNumberSequences(), reserved, config.cases.prefix, localDateOf(now).y, block);
      // While the disk is gone, tried again once a minute, not at every mail.
      if (!plan || (failing && now.getTime() - lastAttempt < 60_000)) return;
      lastAttempt = now.getTime();
      try {
        const file: HighWaterFile = { format: FORMAT, writtenAt: toInstant(now), reserved: plan };
        writeFileDurably(path.join(dir, HIGH_WATER_FILE), JSON.stringify(file, null, 1) + '\n');
        reserved = plan;
        if (failing) log.info('case-number high-water mark written again', { dir });
        failing = false;
      } catch (err) {
        // Filing goes on: the mailboxes still bound what a restore must skip. Logged once per streak.
        if (!failing)
          log.error('cannot write the case-number high-water mark to backup.dir: a restore could not know every number used since the last backup', {
            dir,
            error: errorChain(err),
          });
        failing = true;
      }
    },
  };
}
