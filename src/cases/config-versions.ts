/**
 * The configuration behind every deadline (REGULATION.md §4 B: "which deadline rules were in
 * force when, and who approved them"): the deadline policy and the calendar a deadline was
 * computed with are kept, text and approval, the first time they are used. A deadline names its
 * versions (deadlines.config_version, calendar_version); `klagomal config history` and `audit
 * policy` list them, `config show VERSION` prints one.
 */
import type { DeadlinesConfig } from '../config/config';
import { CALENDAR_VERSION } from '../deadlines/deadlines';
import { swedishHolidays } from '../deadlines/calendar';
import { isoDate } from '../util/stockholm-time';
import type { Store } from '../store/store';
import type { Instant } from '../util/clock';

/** What the calendar version means, in words, with the holidays of the year it was first used in and the next. */
export function calendarText(at: Instant): string {
  const year = Number(at.slice(0, 4));
  // The same text for every case filed in a year: made once (a backlog filed thousands, issue 16).
  let text = calendarTexts.get(year);
  if (text === undefined) {
    text = calendarTextOf(year);
    calendarTexts.set(year, text);
  }
  return text;
}

const calendarTexts = new Map<number, string>();

function calendarTextOf(year: number): string {
  return JSON.stringify({
    version: CALENDAR_VERSION,
    rule: "Business days are Monday to Friday except Swedish public holidays (Lag (1989:253) om allmänna helgdagar) and Midsummer Eve, Christmas Eve and New Year's Eve; the firm's extra closed days are in the deadline policy (extraClosedDates). Times are Europe/Stockholm.",
    holidays: [year, year + 1].flatMap((y) => swedishHolidays(y).map((h) => `${isoDate(h.date)} ${h.name}`)),
  });
}

/**
 * Keep the deadline policy and the calendar in use, in the caller's transaction (the filing's:
 * so a version is on record whenever a deadline names it). Two upserts per case filed; not
 * cached in the process, since a rolled-back filing would leave the cache claiming a record.
 */
export function keepConfigVersions(store: Store, deadlines: DeadlinesConfig, at: Instant): void {
  store.recordConfigVersion({
    kind: 'deadlines',
    version: deadlines.version,
    content: deadlines.text,
    at,
    approvedBy: deadlines.approvedBy,
    approvedAt: deadlines.approvedAt,
  });
  store.recordConfigVersion({ kind: 'calendar', version: CALENDAR_VERSION, content: calendarText(at), at, approvedBy: null, approvedAt: null });
}
