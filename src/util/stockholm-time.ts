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

/**
 * The Stockholm offset from UTC in minutes (60 or 120) at an instant, read from the zone
 * database once per UTC hour and kept: Europe/Stockholm changes its offset only on a whole UTC
 * hour (01:00 UTC, EU summer time, Directive 2000/84/EC), so every instant of one UTC hour has
 * the same offset. A TZDate costs about 20 µs; a backlog asked for thousands of them per second
 * (issue 16). Other zones (a calendar of another country), and instants before 1980 (when
 * Sweden kept other rules, and local mean time had seconds in its offset) or past year 9999,
 * go to the zone database every time.
 */
const stockholmOffsets = new Map<number, number>();
const FAST_FROM = Date.UTC(1980, 0, 1);
const FAST_UNTIL = Date.UTC(9999, 11, 31);

function fastStockholm(ms: number): boolean {
  return ms >= FAST_FROM && ms < FAST_UNTIL;
}

function stockholmOffsetMinutes(ms: number): number {
  const hour = Math.floor(ms / 3_600_000);
  let offset = stockholmOffsets.get(hour);
  if (offset === undefined) {
    offset = -new TZDate(hour * 3_600_000, TIME_ZONE).getTimezoneOffset();
    if (stockholmOffsets.size >= 100_000) stockholmOffsets.clear(); // bounded: ~11 years of hours
    stockholmOffsets.set(hour, offset);
  }
  return offset;
}

/** The Stockholm wall clock of an instant, as a Date whose UTC fields are that wall clock. */
function stockholmWallClock(ms: number): Date {
  return new Date(ms + stockholmOffsetMinutes(ms) * 60_000);
}

export function localDateOf(instant: Date, zone = TIME_ZONE): LocalDate {
  const ms = instant.getTime();
  if (zone === TIME_ZONE && fastStockholm(ms)) {
    const w = stockholmWallClock(ms);
    return { y: w.getUTCFullYear(), m: w.getUTCMonth() + 1, d: w.getUTCDate() };
  }
  const z = new TZDate(ms, zone);
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
  // Kept per wall-clock time (the zone database's answer, gaps and overlaps included): a
  // backlog's deadlines ask for the same few days' 23:59:59 and 08:00 over and over (issue 16).
  const key = `${zone} ${date.y}-${date.m}-${date.d} ${h}:${min}:${s}`;
  let ms = localTimes.get(key);
  if (ms === undefined) {
    ms = new TZDate(date.y, date.m - 1, date.d, h, min, s, zone).getTime();
    if (localTimes.size >= 10_000) localTimes.clear();
    localTimes.set(key, ms);
  }
  return new Date(ms);
}

const localTimes = new Map<string, number>();

const pad2 = (n: number): string => String(n).padStart(2, '0');

/** ISO 8601 with the Stockholm offset, e.g. 2026-01-15T23:59:59+01:00. */
export function formatStockholm(instant: Date): string {
  const ms = instant.getTime();
  if (!fastStockholm(ms)) return format(new TZDate(ms, TIME_ZONE), "yyyy-MM-dd'T'HH:mm:ssxxx");
  const offset = stockholmOffsetMinutes(ms);
  const w = new Date(ms + offset * 60_000);
  const year = w.getUTCFullYear();
  const sign = offset < 0 ? '-' : '+';
  const abs = Math.abs(offset);
  return (
    `${year}-${pad2(w.getUTCMonth() + 1)}-${pad2(w.getUTCDate())}T${pad2(w.getUTCHours())}:${pad2(w.getUTCMinutes())}:${pad2(w.getUTCSeconds())}` +
    `${sign}${pad2(Math.floor(abs / 60))}:${pad2(abs % 60)}`
  );
}
