/**
 * The monthly management pack's figures (issue 15; REGULATION.md §4 C, the EU guidelines'
 * internal follow-up): a month against the previous twelve.
 *
 * Every figure of the month is `klagomal report`'s for the same period: the same
 * `readReportInput` and `computeStatistics` (src/report/statistics.ts), one run per month, so
 * the pack can never say something the report does not. The twelve months before are each a
 * report of their own month, read the same way. The one thing the report does not hold is the
 * list of final answers that waited longest for approval (four eyes), read from the drafts.
 *
 * Read-only: the caller runs it in one read transaction.
 */
import type { Store } from '../store/store';
import type { DraftWaitRow } from '../store/store';
import { computeStatistics, readReportInput, Statistics } from '../report/statistics';
import type { RegisterRow } from '../report/register';
import { makePeriod, ReportPeriod } from '../report/period';
import { localDateOf } from '../util/stockholm-time';

/** A month, "YYYY-MM"; only `parseMonth` and `monthBefore` make one. */
export type Month = string & { readonly __month: unique symbol };

export class MonthError extends Error {}

/** "YYYY-MM" -> a Month, or MonthError saying how to write it. */
export function parseMonth(text: string): Month {
  const m = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(text.trim());
  if (!m || Number(m[1]) < 2000) throw new MonthError(`--month '${text}' is not a month; write YYYY-MM (e.g. 2026-11)`);
  return `${m[1]}-${m[2]}` as Month;
}

/** The month `n` months before `m` (n may be 0). */
export function monthBefore(m: Month, n = 1): Month {
  const [y, mm] = m.split('-').map(Number);
  const i = y * 12 + (mm - 1) - n;
  return `${Math.floor(i / 12)}-${String((i % 12) + 1).padStart(2, '0')}` as Month;
}

/** The Stockholm month of an instant. */
export function monthOfInstant(at: Date): Month {
  const d = localDateOf(at);
  return `${d.y}-${String(d.m).padStart(2, '0')}` as Month;
}

/** The report period of a month: its first to its last Stockholm day. */
export function monthPeriod(m: Month): ReportPeriod {
  const [y, mm] = m.split('-').map(Number);
  const last = new Date(Date.UTC(y, mm, 0)).getUTCDate();
  return makePeriod({ y, m: mm, d: 1 }, { y, m: mm, d: last });
}

/** A final answer that waited for approval in the month. */
export interface DraftWait {
  readonly caseNumber: string;
  readonly state: DraftWaitRow['state'];
  readonly author: string;
  readonly draftedAt: string;
  readonly decidedBy: string | null;
  /** Approved, returned or replaced at; null: still waiting at the end of the month (or now). */
  readonly decidedAt: string | null;
  /** Hours from drafting to the decision, or to the end of the month (or now) while it waits. */
  readonly waitedHours: number;
}

export interface MonthlyPack {
  readonly month: Month;
  /** `klagomal report --from <first day> --to <last day>` of the month. */
  readonly statistics: Statistics;
  /** The month's register (the CSV attached to the mail). */
  readonly register: readonly RegisterRow[];
  /** The twelve months before and the month itself, oldest first: each its own report. */
  readonly history: ReadonlyArray<{ readonly month: Month; readonly statistics: Statistics }>;
  /** Drafts that waited for approval in the month, longest first (at most `DRAFTS_SHOWN`). */
  readonly drafts: readonly DraftWait[];
  readonly draftsWaiting: number;
}

export const DRAFTS_SHOWN = 10;
export const HISTORY_MONTHS = 12;

/** Read the pack of `month` as of `now`. Read-only; run it in one read transaction. */
export function readMonthlyPack(store: Store, month: Month, now: Date, retentionYears: number | null): MonthlyPack {
  const history: Array<{ month: Month; statistics: Statistics }> = [];
  let register: readonly RegisterRow[] = [];
  for (let n = HISTORY_MONTHS; n >= 0; n--) {
    const m = monthBefore(month, n);
    const input = readReportInput(store, monthPeriod(m), now, retentionYears);
    if (n === 0) register = input.rows;
    history.push({ month: m, statistics: computeStatistics(input) });
  }
  const period = monthPeriod(month);
  const until = Math.min(new Date(period.end).getTime(), now.getTime());
  const waits = store.draftsWaitingBetween(period.start, period.end).map((d): DraftWait => ({
    caseNumber: d.number,
    state: d.state,
    author: d.author,
    draftedAt: d.drafted_at,
    decidedBy: d.decided_by,
    decidedAt: d.decided_at,
    waitedHours: Math.max(0, ((d.decided_at ? new Date(d.decided_at).getTime() : until) - new Date(d.drafted_at).getTime()) / 3_600_000),
  }));
  waits.sort((a, b) => b.waitedHours - a.waitedHours || a.caseNumber.localeCompare(b.caseNumber));
  return {
    month,
    statistics: history[history.length - 1].statistics,
    register,
    history,
    drafts: waits.slice(0, DRAFTS_SHOWN),
    draftsWaiting: waits.length,
  };
}
