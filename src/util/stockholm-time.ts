/**
 * Stockholm time: the firm's local dates and wall-clock times.
 *
 * Local dates are plain {y, m, d} values; arithmetic on them runs in UTC at midnight, where
 * there is no daylight saving to trip over. Instants are converted to local dates and back
 * only through the IANA zone Europe/Stockholm, so the two DST changes a year are the zone
 * database's business.
 * The business calendar built on these dates is src/deadlines/calendar.ts.
 */
import { TZDate } from '@date-fns/tz';
import { format } from 'date-fns/format';

export const TIME_ZONE = 'Europe/Stockholm';

export interface LocalDate {
  readonly y: number;
  /** 1-12 */
  readonly m: number;
  readonly d: number;
}

export function localDateOf(instant: Date, zone = TIME_ZONE): LocalDate {
  const z = new TZDate(instant.getTime(), zone);
  return { y: z.getFullYear(), m: z.getMonth() + 1, d: z.getDate() };
}

export function isoDate(date: LocalDate): string {
  return `${String(date.y).padStart(4, '0')}-${String(date.m).padStart(2, '0')}-${String(date.d).padStart(2, '0')}`;
}

export function parseIsoDate(text: string): LocalDate | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!m) return null;
  const date = { y: Number(m[1]), m: Number(m[2]), d: Number(m[3]) };
  const back = addDays(date, 0);
  return back.y === date.y && back.m === date.m && back.d === date.d ? date : null;
}

export function addDays(date: LocalDate, days: number): LocalDate {
  const t = new Date(Date.UTC(date.y, date.m - 1, date.d + days));
  return { y: t.getUTCFullYear(), m: t.getUTCMonth() + 1, d: t.getUTCDate() };
}

/** 0 = Sunday ... 6 = Saturday. */
export function weekday(date: LocalDate): number {
  return new Date(Date.UTC(date.y, date.m - 1, date.d)).getUTCDay();
}

/** The instant of a wall-clock time on a local date in the zone. */
export function localTime(date: LocalDate, h: number, min: number, s: number, zone = TIME_ZONE): Date {
  return new Date(new TZDate(date.y, date.m - 1, date.d, h, min, s, zone).getTime());
}

/** ISO 8601 with the Stockholm offset, e.g. 2026-01-15T23:59:59+01:00. */
export function formatStockholm(instant: Date): string {
  return format(new TZDate(instant.getTime(), TIME_ZONE), "yyyy-MM-dd'T'HH:mm:ssxxx");
}
