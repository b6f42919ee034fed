/**
 * The Swedish business calendar, computed for any year.
 *
 * Closed days = Saturdays, Sundays, the public holidays of lag (1989:253) om allmänna
 * helgdagar, and the three eves that banks treat as holidays (midsommarafton, julafton,
 * nyårsafton; lag (1930:173) 2 § lists them beside Saturday), plus firm-specific dates from
 * config. Easter comes from the Gregorian computus (Meeus/Jones/Butcher).
 *
 * Dates are the local dates of src/util/stockholm-time.ts.
 */
import type { LocalDate } from '../util/stockholm-time';
import { addDays, isoDate, weekday } from '../util/stockholm-time';

export interface Holiday {
  readonly date: LocalDate;
  readonly name: string;
  /** 'public' = allmän helgdag (lag 1989:253); 'eve' = day treated as a holiday by banks. */
  readonly kind: 'public' | 'eve';
}

/** Easter Sunday, Gregorian calendar (anonymous algorithm, Meeus/Jones/Butcher). */
export function easterSunday(year: number): LocalDate {
  const a = year % 19;
  const b = Math.floor(year / 100);
  const c = year % 100;
  const d = Math.floor(b / 4);
  const e = b % 4;
  const f = Math.floor((b + 8) / 25);
  const g = Math.floor((b - f + 1) / 3);
  const h = (19 * a + b - d - g + 15) % 30;
  const i = Math.floor(c / 4);
  const k = c % 4;
  const l = (32 + 2 * e + 2 * i - h - k) % 7;
  const m = Math.floor((a + 11 * h + 22 * l) / 451);
  const month = Math.floor((h + l - 7 * m + 114) / 31);
  const day = ((h + l - 7 * m + 114) % 31) + 1;
  return { y: year, m: month, d: day };
}

/** The first date in [from, from+6] that falls on `dow`. */
function weekdayBetween(year: number, month: number, fromDay: number, dow: number): LocalDate {
  for (let i = 0; i < 7; i++) {
    const date = addDays({ y: year, m: month, d: fromDay }, i);
    if (weekday(date) === dow) return date;
  }
  throw new Error('unreachable');
}

/** Every public holiday and bank-free eve of a year, in date order. */
export function swedishHolidays(year: number): Holiday[] {
  const easter = easterSunday(year);
  const list: Holiday[] = [
    { date: { y: year, m: 1, d: 1 }, name: 'nyårsdagen', kind: 'public' },
    { date: { y: year, m: 1, d: 6 }, name: 'trettondedag jul', kind: 'public' },
    { date: addDays(easter, -2), name: 'långfredagen', kind: 'public' },
    { date: easter, name: 'påskdagen', kind: 'public' },
    { date: addDays(easter, 1), name: 'annandag påsk', kind: 'public' },
    { date: { y: year, m: 5, d: 1 }, name: 'första maj', kind: 'public' },
    // "sjätte torsdagen efter påskdagen"
    { date: addDays(easter, 39), name: 'Kristi himmelsfärdsdag', kind: 'public' },
    { date: addDays(easter, 49), name: 'pingstdagen', kind: 'public' },
    // Midsommarafton: the Friday between 19 and 25 June; midsommardagen the Saturday after.
    { date: weekdayBetween(year, 6, 19, 5), name: 'midsommarafton', kind: 'eve' },
    { date: weekdayBetween(year, 6, 20, 6), name: 'midsommardagen', kind: 'public' },
    // Alla helgons dag: the Saturday between 31 October and 6 November.
    { date: weekdayBetween(year, 10, 31, 6), name: 'alla helgons dag', kind: 'public' },
    { date: { y: year, m: 12, d: 24 }, name: 'julafton', kind: 'eve' },
    { date: { y: year, m: 12, d: 25 }, name: 'juldagen', kind: 'public' },
    { date: { y: year, m: 12, d: 26 }, name: 'annandag jul', kind: 'public' },
    { date: { y: year, m: 12, d: 31 }, name: 'nyårsafton', kind: 'eve' },
  ];
  // SFS 2004:1373: from 2005 the national day (6 June) replaced annandag pingst.
  if (year >= 2005) list.push({ date: { y: year, m: 6, d: 6 }, name: 'Sveriges nationaldag', kind: 'public' });
  else list.push({ date: addDays(easter, 50), name: 'annandag pingst', kind: 'public' });
  return list.sort((a, b) => isoDate(a.date).localeCompare(isoDate(b.date)));
}

/**
 * A business-day calendar: Swedish holidays plus the firm's own closed dates.
 * Holiday sets are computed once per year and cached.
 */
export class BusinessCalendar {
  private readonly byYear = new Map<number, Set<string>>();
  private readonly extra: ReadonlySet<string>;

  constructor(extraClosedDates: readonly string[] = []) {
    this.extra = new Set(extraClosedDates);
  }

  private closedOf(year: number): Set<string> {
    let set = this.byYear.get(year);
    if (!set) {
      set = new Set(swedishHolidays(year).map((h) => isoDate(h.date)));
      this.byYear.set(year, set);
    }
    return set;
  }

  isBusinessDay(date: LocalDate): boolean {
    const dow = weekday(date);
    if (dow === 0 || dow === 6) return false;
    const iso = isoDate(date);
    return !this.closedOf(date.y).has(iso) && !this.extra.has(iso);
  }

  /** The Nth business day after `date` (date itself is day 0, business day or not). */
  addBusinessDays(date: LocalDate, n: number): LocalDate {
    let cur = date;
    let left = n;
    while (left > 0) {
      cur = addDays(cur, 1);
      if (this.isBusinessDay(cur)) left--;
    }
    return cur;
  }
}
