/**
 * The Swedish business calendar and due-date rules (src/deadlines/calendar.ts, rules.ts), and
 * the local dates and Stockholm time they are built on (src/util/stockholm-time.ts).
 *
 * The holiday list is checked against one computed here independently: Easter by Gauss's
 * algorithm (not the source's Meeus/Jones/Butcher), cross-checked against a table of known
 * Easter dates; the other holidays from their legal definitions (lag 1989:253, SFS 2004:1373).
 * A wrong due date is a regulatory breach (the firm promises an answer by a date), so the
 * worked examples below are the ones a compliance officer would check by hand.
 */
import { BusinessCalendar, easterSunday, swedishHolidays } from '../../src/deadlines/calendar';
import { LocalDate, addDays, isoDate, localDateOf, localTime, parseIsoDate, weekday, formatStockholm } from '../../src/util/stockholm-time';
import { computeDue, DeadlineRule, describeRule } from '../../src/deadlines/rules';

// ---------------------------------------------------------------------------------------------
// Independent reference
// ---------------------------------------------------------------------------------------------

/** Easter Sunday by Gauss's algorithm for the Gregorian calendar, with its two exceptions. */
function gaussEaster(year: number): string {
  const a = year % 19;
  const b = year % 4;
  const c = year % 7;
  const k = Math.floor(year / 100);
  const p = Math.floor((13 + 8 * k) / 25);
  const q = Math.floor(k / 4);
  const M = (15 - p + k - q) % 30;
  const N = (4 + k - q) % 7;
  const d = (19 * a + M) % 30;
  const e = (2 * b + 4 * c + 6 * d + N) % 7;
  let month: number;
  let day: number;
  if (22 + d + e <= 31) {
    month = 3;
    day = 22 + d + e;
  } else {
    month = 4;
    day = d + e - 9;
    // The two exceptions: 26 April becomes 19 April; 25 April becomes 18 April in some years.
    if (d === 29 && e === 6) day = 19;
    else if (d === 28 && e === 6 && (11 * M + 11) % 30 < 19) day = 18;
  }
  return `${year}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

const KNOWN_EASTER: Record<number, string> = {
  2020: '2020-04-12',
  2021: '2021-04-04',
  2022: '2022-04-17',
  2023: '2023-04-09',
  2024: '2024-03-31',
  2025: '2025-04-20',
  2026: '2026-04-05',
  2027: '2027-03-28',
  2028: '2028-04-16',
  2029: '2029-04-01',
  2030: '2030-04-21',
  2031: '2031-04-13',
  2032: '2032-03-28',
  2033: '2033-04-17',
  2034: '2034-04-09',
  2035: '2035-03-25',
  2036: '2036-04-13',
  2037: '2037-04-05',
  2038: '2038-04-25',
  2039: '2039-04-10',
  2040: '2040-04-01',
};

/** ISO date `n` days after an ISO date, computed with Date.UTC (no local time zone involved). */
function plusDays(iso: string, n: number): string {
  const [y, m, d] = iso.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, d + n)).toISOString().slice(0, 10);
}

function iso(y: number, m: number, d: number): string {
  return new Date(Date.UTC(y, m - 1, d)).toISOString().slice(0, 10);
}

/** The one date in [from .. from+6] of the month that falls on `dow` (0 = Sunday). */
function nthWeekdayFrom(y: number, m: number, from: number, dow: number): string {
  const hits: string[] = [];
  for (let i = 0; i < 7; i++) {
    const t = new Date(Date.UTC(y, m - 1, from + i));
    if (t.getUTCDay() === dow) hits.push(t.toISOString().slice(0, 10));
  }
  expect(hits).toHaveLength(1);
  return hits[0];
}

function expectedHolidays(year: number): Array<[string, string]> {
  const e = gaussEaster(year);
  const list: Array<[string, string]> = [
    [iso(year, 1, 1), 'nyårsdagen'],
    [iso(year, 1, 6), 'trettondedag jul'],
    [plusDays(e, -2), 'långfredagen'],
    [e, 'påskdagen'],
    [plusDays(e, 1), 'annandag påsk'],
    [iso(year, 5, 1), 'första maj'],
    [plusDays(e, 39), 'Kristi himmelsfärdsdag'],
    [plusDays(e, 49), 'pingstdagen'],
    year >= 2005 ? [iso(year, 6, 6), 'Sveriges nationaldag'] : [plusDays(e, 50), 'annandag pingst'],
    [nthWeekdayFrom(year, 6, 19, 5), 'midsommarafton'],
    [nthWeekdayFrom(year, 6, 20, 6), 'midsommardagen'],
    // 31 October .. 6 November: counting from 31 October rolls over into November.
    [nthWeekdayFrom(year, 10, 31, 6), 'alla helgons dag'],
    [iso(year, 12, 24), 'julafton'],
    [iso(year, 12, 25), 'juldagen'],
    [iso(year, 12, 26), 'annandag jul'],
    [iso(year, 12, 31), 'nyårsafton'],
  ];
  return list.sort((a, b) => a[0].localeCompare(b[0]) || a[1].localeCompare(b[1]));
}

function actualHolidays(year: number): Array<[string, string]> {
  return swedishHolidays(year)
    .map((h): [string, string] => [isoDate(h.date), h.name])
    .sort((a, b) => a[0].localeCompare(b[0]) || a[1].localeCompare(b[1]));
}

const YEARS = Array.from({ length: 21 }, (_, i) => 2020 + i);

// ---------------------------------------------------------------------------------------------
// Holidays
// ---------------------------------------------------------------------------------------------

describe('swedishHolidays', () => {
  test.each(YEARS)('referenceEasterAgreesWithKnownTable %i (guards the test oracle itself)', (year) => {
    expect(gaussEaster(year)).toBe(KNOWN_EASTER[year]);
  });

  test.each(YEARS)('wrongEasterDate %i', (year) => {
    expect(isoDate(easterSunday(year))).toBe(KNOWN_EASTER[year]);
  });

  test.each(YEARS)('missingOrMisplacedHoliday %i', (year) => {
    expect(actualHolidays(year)).toEqual(expectedHolidays(year));
  });

  test.each([2000, 2001, 2004, 2005, 2006])('wrongNationalDayRuleAroundTheSfs2004_1373Change %i', (year) => {
    const names = swedishHolidays(year).map((h) => h.name);
    if (year >= 2005) {
      expect(names).toContain('Sveriges nationaldag');
      expect(names).not.toContain('annandag pingst');
    } else {
      expect(names).not.toContain('Sveriges nationaldag');
      expect(names).toContain('annandag pingst');
    }
    expect(actualHolidays(year)).toEqual(expectedHolidays(year));
  });

  test('eveMarkedAsPublicHoliday', () => {
    const kinds = Object.fromEntries(swedishHolidays(2026).map((h) => [h.name, h.kind]));
    expect(kinds.midsommarafton).toBe('eve');
    expect(kinds.julafton).toBe('eve');
    expect(kinds.nyårsafton).toBe('eve');
    expect(kinds.juldagen).toBe('public');
    expect(kinds['alla helgons dag']).toBe('public');
  });

  test('holidaysOutOfOrder', () => {
    for (const year of YEARS) {
      const dates = swedishHolidays(year).map((h) => isoDate(h.date));
      expect([...dates].sort()).toEqual(dates);
    }
  });

  test('allaHelgonsDagStuckInOctober', () => {
    // 2026: 31 October is a Saturday; 2025: the Saturday is 1 November; 2021: 6 November.
    const find = (y: number) => isoDate(swedishHolidays(y).find((h) => h.name === 'alla helgons dag')!.date);
    expect(find(2026)).toBe('2026-10-31');
    expect(find(2025)).toBe('2025-11-01');
    expect(find(2021)).toBe('2021-11-06');
  });
});

describe('BusinessCalendar.isBusinessDay', () => {
  const cal = new BusinessCalendar();
  test.each<[string, boolean]>([
    ['2026-06-19', false], // midsommarafton (Friday)
    ['2026-06-18', true], // the Thursday before
    ['2026-12-24', false], // julafton
    ['2026-12-31', false], // nyårsafton
    ['2026-04-03', false], // långfredagen
    ['2026-04-06', false], // annandag påsk
    ['2026-05-14', false], // Kristi himmelsfärdsdag
    ['2026-05-15', true], // klämdag: a business day by law
    ['2026-06-06', false], // Saturday anyway
    ['2028-06-06', false], // nationaldag on a Tuesday
    ['2026-11-21', false], // Saturday
    ['2026-11-22', false], // Sunday
    ['2026-11-23', true], // Monday
  ])('businessDayMisjudged %s', (date, expected) => {
    expect(cal.isBusinessDay(parseIsoDate(date)!)).toBe(expected);
  });

  test('firmClosedDateNotSkipped', () => {
    const plain = new BusinessCalendar();
    const firm = new BusinessCalendar(['2026-12-28']);
    const d = parseIsoDate('2026-12-28')!;
    expect(plain.isBusinessDay(d)).toBe(true);
    expect(firm.isBusinessDay(d)).toBe(false);
    // 2026-12-23 (Wed) + 1: julafton, juldagen, annandag jul, Sunday, and the firm's 28th are skipped.
    expect(isoDate(plain.addBusinessDays(parseIsoDate('2026-12-23')!, 1))).toBe('2026-12-28');
    expect(isoDate(firm.addBusinessDays(parseIsoDate('2026-12-23')!, 1))).toBe('2026-12-29');
  });
});

describe('local date helpers', () => {
  test.each<[string, LocalDate | null]>([
    ['2026-02-28', { y: 2026, m: 2, d: 28 }],
    ['2028-02-29', { y: 2028, m: 2, d: 29 }],
    ['2026-02-29', null], // not a leap year
    ['2026-13-01', null],
    ['2026-1-01', null],
    ['20260101', null],
  ])('impossibleDateAccepted %s', (text, expected) => {
    expect(parseIsoDate(text)).toEqual(expected);
  });

  test('dayLostAtMonthYearOrDstBoundary', () => {
    expect(isoDate(addDays({ y: 2026, m: 12, d: 31 }, 1))).toBe('2027-01-01');
    expect(isoDate(addDays({ y: 2028, m: 3, d: 1 }, -1))).toBe('2028-02-29');
    // Across the March DST change: date arithmetic must not lose or gain a day.
    expect(isoDate(addDays({ y: 2026, m: 3, d: 28 }, 2))).toBe('2026-03-30');
  });

  test('weekdayOffByOne', () => {
    expect(weekday({ y: 2025, m: 12, d: 17 })).toBe(3); // Wednesday
    expect(weekday({ y: 2026, m: 11, d: 21 })).toBe(6); // Saturday
  });
});

// ---------------------------------------------------------------------------------------------
// computeDue
// ---------------------------------------------------------------------------------------------

describe('computeDue', () => {
  const cal = new BusinessCalendar();
  const business = (n: number): DeadlineRule => ({ unit: 'businessDays', amount: n });
  const due = (received: string, rule: DeadlineRule, c = cal) => formatStockholm(computeDue(new Date(received), rule, c));

  test.each<[string, string, DeadlineRule, string]>([
    ['15 business days over Christmas and New Year', '2025-12-17T10:00:00+01:00', business(15), '2026-01-15T23:59:59+01:00'],
    ['35 business days over Christmas and New Year', '2025-12-17T10:00:00+01:00', business(35), '2026-02-12T23:59:59+01:00'],
    ['3 business days into Christmas week', '2025-12-17T10:00:00+01:00', business(3), '2025-12-22T23:59:59+01:00'],
    ['midsommarafton skipped', '2026-06-18T10:00:00+02:00', business(3), '2026-06-24T23:59:59+02:00'],
    ['Easter skipped', '2026-03-27T10:00:00+01:00', business(15), '2026-04-21T23:59:59+02:00'],
    ['receipt on a Saturday is day 0', '2026-11-21T12:00:00+01:00', business(1), '2026-11-23T23:59:59+01:00'],
    ['receipt on a holiday is day 0', '2026-12-25T12:00:00+01:00', business(1), '2026-12-28T23:59:59+01:00'],
    ['24 hours across the spring DST change', '2026-03-28T10:00:00+01:00', { unit: 'hours', amount: 24 }, '2026-03-29T11:00:00+02:00'],
    ['24 hours across the autumn DST change', '2026-10-24T10:00:00+02:00', { unit: 'hours', amount: 24 }, '2026-10-25T09:00:00+01:00'],
    ['14 calendar days from a late evening', '2026-11-21T23:30:00+01:00', { unit: 'calendarDays', amount: 14 }, '2026-12-05T23:59:59+01:00'],
    ['calendar days across the spring DST change', '2026-03-28T12:00:00+01:00', { unit: 'calendarDays', amount: 2 }, '2026-03-30T23:59:59+02:00'],
  ])('wrongDueDate: %s', (_label, received, rule, expected) => {
    expect(due(received, rule)).toBe(expected);
  });

  test('lateEveningReceiptCountedOnUtcDate', () => {
    // 23:30 in Stockholm on 30 June is 21:30 UTC, same date either way.
    const lateEvening = new Date('2026-06-30T23:30:00+02:00');
    expect(lateEvening.toISOString()).toBe('2026-06-30T21:30:00.000Z');
    expect(localDateOf(lateEvening)).toEqual({ y: 2026, m: 6, d: 30 });
    expect(due('2026-06-30T23:30:00+02:00', { unit: 'calendarDays', amount: 1 })).toBe('2026-07-01T23:59:59+02:00');

    // 00:30 in Stockholm on 1 July is still 30 June in UTC: the local date (1 July) must count.
    const afterMidnight = new Date('2026-07-01T00:30:00+02:00');
    expect(afterMidnight.toISOString()).toBe('2026-06-30T22:30:00.000Z');
    expect(localDateOf(afterMidnight)).toEqual({ y: 2026, m: 7, d: 1 });
    expect(due('2026-07-01T00:30:00+02:00', { unit: 'calendarDays', amount: 1 })).toBe('2026-07-02T23:59:59+02:00');
    // 2026-07-01 is a Wednesday: 1 business day later is Thursday 2 July, not Wednesday 1 July.
    expect(due('2026-07-01T00:30:00+02:00', business(1))).toBe('2026-07-02T23:59:59+02:00');
  });

  test('firmClosedDateNotSkippedInDueDate', () => {
    const firm = new BusinessCalendar(['2026-12-28']);
    expect(due('2026-12-23T09:00:00+01:00', business(1))).toBe('2026-12-28T23:59:59+01:00');
    expect(due('2026-12-23T09:00:00+01:00', business(1), firm)).toBe('2026-12-29T23:59:59+01:00');
  });

  test('dueDateDependsOnHostTimeZone', () => {
    // computeDue works in Europe/Stockholm whatever TZ the process runs in; an instant in, an
    // instant out. Check the raw UTC instant so this does not lean on formatStockholm alone.
    const d = computeDue(new Date('2025-12-17T10:00:00+01:00'), business(15), cal);
    expect(d.toISOString()).toBe('2026-01-15T22:59:59.000Z');
  });

  test('ruleDescriptionUnreadableForAuditors', () => {
    expect(describeRule({ unit: 'businessDays', amount: 15 })).toBe('15 business days');
    expect(describeRule({ unit: 'calendarDays', amount: 14 })).toBe('14 calendar days');
    expect(describeRule({ unit: 'hours', amount: 24 })).toBe('24 hours');
  });
});

describe('Stockholm time kept per hour (issue 16)', () => {
  // The reference: the zone database through date-fns, as before the offsets were kept.
  const { TZDate } = jest.requireActual<typeof import('@date-fns/tz')>('@date-fns/tz');
  const { format } = jest.requireActual<typeof import('date-fns')>('date-fns');
  const reference = (ms: number): { date: LocalDate; text: string } => {
    const z = new TZDate(ms, 'Europe/Stockholm');
    return { date: { y: z.getFullYear(), m: z.getMonth() + 1, d: z.getDate() }, text: format(z, "yyyy-MM-dd'T'HH:mm:ssxxx") };
  };

  test('keptOffsetGivesWrongLocalDateAroundSummerTimeChange', () => {
    // Every 17 minutes 11 seconds from a day before to a day after each change of 2000-2040
    // (last Sunday of March and of October, 01:00 UTC), twice in a row: the first call keeps
    // the hour's offset, the second reads it back.
    let checked = 0;
    const wrong: string[] = [];
    for (let y = 2000; y <= 2040; y++) {
      for (const month of [2, 9]) {
        const lastSunday = 31 - new Date(Date.UTC(y, month, 31)).getUTCDay();
        const change = Date.UTC(y, month, lastSunday, 1);
        for (let ms = change - 86_400_000; ms <= change + 86_400_000; ms += 1_031_000) {
          const want = reference(ms);
          for (let round = 0; round < 2; round++) {
            const text = formatStockholm(new Date(ms));
            if (text !== want.text || isoDate(localDateOf(new Date(ms))) !== isoDate(want.date))
              wrong.push(`${new Date(ms).toISOString()}: ${text}, want ${want.text}`);
            checked++;
          }
        }
      }
    }
    expect(wrong).toEqual([]);
    expect(checked).toBeGreaterThan(25_000);
  });

  test('keptOffsetGivesWrongTimeForOldOrFarInstants', () => {
    // Before 1980 and in far years the zone database answers each time (local mean time had seconds).
    for (const iso of ['1899-12-31T23:30:00Z', '1900-01-01T00:00:00Z', '1949-10-02T01:59:59Z', '1979-12-31T23:59:59Z', '2199-07-01T12:00:00Z']) {
      const ms = Date.parse(iso);
      expect(formatStockholm(new Date(ms))).toBe(reference(ms).text);
      expect(localDateOf(new Date(ms))).toEqual(reference(ms).date);
    }
  });

  test('keptLocalTimeGivesWrongInstantInSummerTimeGap', () => {
    // The wall-clock times of the spring gap and the autumn overlap, asked twice: the kept answer is the zone database's.
    for (const [y, m, d] of [
      [2026, 3, 29],
      [2026, 10, 25],
      [2030, 3, 31],
    ]) {
      for (let h = 0; h < 5; h++) {
        const want = new TZDate(y, m - 1, d, h, 30, 0, 'Europe/Stockholm').getTime();
        expect(localTime({ y, m, d }, h, 30, 0).getTime()).toBe(want);
        expect(localTime({ y, m, d }, h, 30, 0).getTime()).toBe(want);
      }
    }
  });
});
