/**
 * The small pure figures of the statistics (src/report/statistics.ts): median and nearest-rank
 * percentile, rounding, ISO weeks, counting, masked addresses, and the register of record's
 * counts (ARN and court by last state, root causes with their cases' actions).
 */
import type { LocalDate } from '../util/stockholm-time';
import { addDays, isoDate, weekday } from '../util/stockholm-time';
import type { RegisterRow } from './register';

export interface TimeStat {
  readonly count: number;
  readonly median: number | null;
  readonly p90: number | null;
}

export const round = (x: number, decimals: number): number => {
  const f = 10 ** decimals;
  return Math.round(x * f) / f;
};

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Nearest-rank percentile (p in 0..100). */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil((p / 100) * s.length) - 1)];
}

export function timeStat(values: readonly number[]): TimeStat {
  const m = median(values);
  const p = percentile(values, 90);
  return { count: values.length, median: m === null ? null : round(m, 2), p90: p === null ? null : round(p, 2) };
}

export const percent = (n: number, of: number): number | null => (of > 0 ? round((100 * n) / of, 1) : null);

/** ISO 8601 week of a date: "2026-W10", and the Monday it starts on. */
export function isoWeek(date: LocalDate): { week: string; start: LocalDate } {
  const wd = weekday(date) || 7; // Monday 1 ... Sunday 7
  const thursday = addDays(date, 4 - wd);
  const dayOfYear = Math.round((Date.UTC(thursday.y, thursday.m - 1, thursday.d) - Date.UTC(thursday.y, 0, 1)) / 86_400_000) + 1;
  const n = Math.floor((dayOfYear - 1) / 7) + 1;
  return { week: `${thursday.y}-W${String(n).padStart(2, '0')}`, start: addDays(date, 1 - wd) };
}

export const monthOf = (d: LocalDate): string => isoDate(d).slice(0, 7);

/** "anna.svensson@example.com" -> "a***@example.com". */
export function maskAddress(address: string): string {
  const at = address.lastIndexOf('@');
  if (at <= 0) return '***';
  return `${address[0]}***${address.slice(at)}`;
}

export function countBy<T>(items: readonly T[], key: (t: T) => string): Map<string, number> {
  const m = new Map<string, number>();
  for (const i of items) m.set(key(i), (m.get(key(i)) ?? 0) + 1);
  return m;
}

/** Largest count first, then by name. */
export const byCount = (m: Map<string, number>): Array<[string, number]> => [...m.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));

export function referralStat(lists: ReadonlyArray<ReadonlyArray<{ state: string }>>): { referred: number; byState: Array<{ state: string; count: number }> } {
  const referred = lists.filter((l) => l.length > 0);
  return { referred: referred.length, byState: byCount(countBy(referred, (l) => l[l.length - 1].state)).map(([state, count]) => ({ state, count })) };
}

export function rootCauseStat(rows: readonly RegisterRow[]): Array<{ code: string; count: number; actionsPlanned: number; actionsDone: number }> {
  const by = new Map<string, { count: number; actionsPlanned: number; actionsDone: number }>();
  for (const r of rows)
    for (const code of new Set(r.rootCauses.map((c) => c.code))) {
      const x = by.get(code) ?? { count: 0, actionsPlanned: 0, actionsDone: 0 };
      x.count++;
      x.actionsPlanned += r.actions.filter((a) => a.state === 'planned').length;
      x.actionsDone += r.actions.filter((a) => a.state === 'done').length;
      by.set(code, x);
    }
  return [...by.entries()].sort((a, b) => b[1].count - a[1].count || a[0].localeCompare(b[0])).map(([code, x]) => ({ code, ...x }));
}
