/**
 * Escalation rules: the warnings a deadline gets and what a pass must do about them at `now`.
 * Pure: `now` is a parameter, the levels already acted on are passed in.
 *
 * Levels of a deadline (defaults from config deadlines.escalation):
 *  - day-based deadlines (calendarDays, businessDays):
 *      warn-2bd, warn-1bd   the contact person, at 00:00 Stockholm time on the business day that
 *                           is 2 (1) business days before the day the deadline falls on
 *      manager-1bd          the manager (klagomålsansvarig), at the same moment as warn-1bd
 *  - hour-based deadlines: warn-4h, the contact person, 4 hours before the due instant
 *  - breach                 contact person and manager, as soon as the due instant has passed;
 *                           the breach is also recorded on the case
 *
 * Catch-up: when several levels have come due since the last pass (the service was down),
 * only the levels of the latest moment are acted on and the earlier ones are recorded as
 * skipped, so downtime across a breach produces one (late) breach notice, not a burst.
 */
import type { EscalationConfig } from '../config/config';
import type { BusinessCalendar } from './calendar';
import type { LocalDate } from '../util/stockholm-time';
import { addDays, localDateOf, localTime } from '../util/stockholm-time';
import type { DeadlineUnit } from './rules';

export type Recipient = 'contact' | 'manager';

export interface EscalationLevel {
  readonly level: string;
  readonly at: Date;
  readonly to: readonly Recipient[];
}

/** The business day `n` business days before `date` (n >= 1). */
export function businessDaysBefore(date: LocalDate, n: number, calendar: BusinessCalendar): LocalDate {
  let cur = date;
  let left = n;
  while (left > 0) {
    cur = addDays(cur, -1);
    if (calendar.isBusinessDay(cur)) left--;
  }
  return cur;
}

export function escalationLevels(dueAt: Date, unit: DeadlineUnit, cfg: EscalationConfig, calendar: BusinessCalendar): EscalationLevel[] {
  const levels: EscalationLevel[] = [];
  if (unit === 'hours') {
    for (const h of cfg.warnHours) levels.push({ level: `warn-${h}h`, at: new Date(dueAt.getTime() - h * 3_600_000), to: ['contact'] });
  } else {
    const dueDay = localDateOf(dueAt);
    for (const n of cfg.warnBusinessDays)
      levels.push({ level: `warn-${n}bd`, at: localTime(businessDaysBefore(dueDay, n, calendar), 0, 0, 0), to: ['contact'] });
    if (cfg.managerBusinessDays > 0) {
      const n = cfg.managerBusinessDays;
      levels.push({ level: `manager-${n}bd`, at: localTime(businessDaysBefore(dueDay, n, calendar), 0, 0, 0), to: ['manager'] });
    }
  }
  levels.push({ level: 'breach', at: new Date(dueAt.getTime() + 1000), to: ['contact', 'manager'] });
  return levels.sort((a, b) => a.at.getTime() - b.at.getTime());
}

export interface EscalationDecision {
  /** Levels to act on now (all of the same, latest past moment). */
  readonly act: readonly EscalationLevel[];
  /** Earlier past levels made moot by `act` (recorded as skipped, never sent). */
  readonly skip: readonly EscalationLevel[];
  /** The notices come later than their moment by more than the configured tolerance. */
  readonly late: boolean;
  /** When the next level is due; null when nothing is left. */
  readonly next: Date | null;
}

export function decideEscalation(levels: readonly EscalationLevel[], done: ReadonlySet<string>, now: Date, lateAfterMinutes: number): EscalationDecision {
  const pending = levels.filter((l) => !done.has(l.level));
  const due = pending.filter((l) => l.at.getTime() <= now.getTime());
  const later = pending.filter((l) => l.at.getTime() > now.getTime());
  const next = later.length ? later[0].at : null;
  if (due.length === 0) return { act: [], skip: [], late: false, next };
  const latest = Math.max(...due.map((l) => l.at.getTime()));
  const act = due.filter((l) => l.at.getTime() === latest);
  const skip = due.filter((l) => l.at.getTime() !== latest);
  return { act, skip, late: now.getTime() - latest > lateAfterMinutes * 60_000, next };
}

/** The first level's moment for a new deadline (or the next one after `now`). */
export function firstEscalationAt(levels: readonly EscalationLevel[]): Date | null {
  return levels.length ? levels[0].at : null;
}
