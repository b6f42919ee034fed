/**
 * The period of a report: a range of Stockholm dates, inclusive, that takes the cases
 * *received* (the mail reached the firm) on those dates. Its bounds are UTC ISO instants
 * (00:00 Stockholm time on the first day, and on the day after the last).
 */
import type { LocalDate } from '../util/stockholm-time';
import { addDays, isoDate, localTime, parseIsoDate } from '../util/stockholm-time';

export interface ReportPeriod {
  /** Stockholm dates, inclusive. */
  readonly from: LocalDate;
  readonly to: LocalDate;
  /** 00:00 Stockholm time on `from` (inclusive) and on the day after `to` (exclusive), UTC ISO. */
  readonly start: string;
  readonly end: string;
  /** Number of days in the period. */
  readonly days: number;
}

export class PeriodError extends Error {}

export function makePeriod(from: LocalDate, to: LocalDate): ReportPeriod {
  const days = Math.round((Date.UTC(to.y, to.m - 1, to.d) - Date.UTC(from.y, from.m - 1, from.d)) / 86_400_000) + 1;
  if (days < 1) throw new PeriodError(`--from ${isoDate(from)} is after --to ${isoDate(to)}`);
  return { from, to, start: localTime(from, 0, 0, 0).toISOString(), end: localTime(addDays(to, 1), 0, 0, 0).toISOString(), days };
}

/** "YYYY-MM-DD" twice -> a period, or PeriodError saying which one is wrong and how to write it. */
export function parsePeriod(from: string, to: string): ReportPeriod {
  const f = parseIsoDate(from.trim());
  const t = parseIsoDate(to.trim());
  if (!f) throw new PeriodError(`--from '${from}' is not a date; write YYYY-MM-DD (a Stockholm date, e.g. 2026-03-01)`);
  if (!t) throw new PeriodError(`--to '${to}' is not a date; write YYYY-MM-DD (a Stockholm date, e.g. 2026-03-31)`);
  return makePeriod(f, t);
}

/** The period of the same length just before `p` (for "rising categories"). */
export function previousPeriod(p: ReportPeriod): ReportPeriod {
  return makePeriod(addDays(p.from, -p.days), addDays(p.from, -1));
}
