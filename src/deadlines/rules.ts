/**
 * Deadline rules and how a due instant is computed from the moment a mail reached the firm.
 *
 *  - hours N:        received instant + N elapsed hours (across a DST change the wall clock
 *                    moves by an hour: 10:00 on the day before the March change + 24 h = 11:00).
 *  - calendarDays N: 23:59:59 Stockholm time on the local date N days after the local date of receipt.
 *  - businessDays N: 23:59:59 Stockholm time on the Nth business day after the local date of
 *                    receipt; the day of receipt is day 0 even when it is not a business day.
 *
 * The rule and its inputs are stored with every computed deadline so an auditor can redo it.
 */
import { BusinessCalendar } from './calendar';
import { addDays, localDateOf, localTime } from '../util/stockholm-time';

export type DeadlineUnit = 'hours' | 'calendarDays' | 'businessDays';
export const DEADLINE_UNITS: readonly DeadlineUnit[] = ['hours', 'calendarDays', 'businessDays'];

export interface DeadlineRule {
  readonly unit: DeadlineUnit;
  readonly amount: number;
}

export function computeDue(receivedAt: Date, rule: DeadlineRule, calendar: BusinessCalendar): Date {
  switch (rule.unit) {
    case 'hours':
      return new Date(receivedAt.getTime() + rule.amount * 3_600_000);
    case 'calendarDays':
      return localTime(addDays(localDateOf(receivedAt), rule.amount), 23, 59, 59);
    case 'businessDays':
      return localTime(calendar.addBusinessDays(localDateOf(receivedAt), rule.amount), 23, 59, 59);
  }
}

export function describeRule(rule: DeadlineRule): string {
  const unit = { hours: 'hours', calendarDays: 'calendar days', businessDays: 'business days' }[rule.unit];
  return `${rule.amount} ${unit}`;
}
