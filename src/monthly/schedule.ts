/**
 * The scheduled monthly pack (`reports.monthly`, run by `klagomal start`): on the first Swedish
 * business day of each month (the firm's calendar: Swedish public holidays and
 * deadlines.extraClosedDates, src/deadlines/calendar.ts), from SEND_FROM Stockholm time, the
 * previous month's pack goes to every manager, once.
 *
 * Once: the month is claimed in `monthly_packs` in the same transaction that queues the mails, so
 * a restart the same day, two processes, or the hourly tick after it send nothing more
 * (graphile-worker's rule: the database makes a cron tick happen once). Catch-up is explicit:
 * a service that was down on the first business day sends the pack at its next pass in the
 * same month, marked late in the claim and the log; a month with nothing to report (no case
 * received, none open at its end: a new install) is claimed without a mail.
 *
 * `decideMonthlyPack` is the decision, a pure function of the instant, the calendar and what was
 * claimed; `runMonthlyPass` acts on it.
 */
import type { Config } from '../config/config';
import type { Store } from '../store/store';
import type { BusinessCalendar } from '../deadlines/calendar';
import type { Logger } from '../util/log';
import { isoDate, LocalDate, localDateOf, localTime } from '../util/stockholm-time';
import { toInstant } from '../util/clock';
import { monthBefore, Month, monthOfInstant } from './pack';
import { packRecipients, queuePack, readPack, renderPackIn } from './mail';

/** Stockholm time from which the pack is sent on its day (the start of a working day). */
export const SEND_FROM = { h: 7, m: 0 } as const;
/** node-cron expression of the pass in `start`: hourly (the claim makes it once); also run at start. */
export const MONTHLY_PASS_SCHEDULE = '7 * * * *';

export type MonthlyDecision =
  | { readonly send: true; readonly month: Month; readonly day: string; readonly late: boolean }
  | { readonly send: false; readonly why: 'before-first-business-day' | 'before-send-time' | 'already-sent'; readonly month: Month };

/** The first business day of the month of `date`. */
export function firstBusinessDay(date: LocalDate, calendar: BusinessCalendar): LocalDate {
  let d: LocalDate = { y: date.y, m: date.m, d: 1 };
  while (!calendar.isBusinessDay(d)) d = { ...d, d: d.d + 1 };
  return d;
}

/** Whether the previous month's pack is to be sent at `now`. */
export function decideMonthlyPack(now: Date, calendar: BusinessCalendar, claimed: (month: Month) => boolean): MonthlyDecision {
  const month = monthBefore(monthOfInstant(now));
  const today = localDateOf(now);
  const first = firstBusinessDay(today, calendar);
  if (isoDate(today) < isoDate(first)) return { send: false, why: 'before-first-business-day', month };
  if (isoDate(today) === isoDate(first) && now.getTime() < localTime(first, SEND_FROM.h, SEND_FROM.m, 0).getTime())
    return { send: false, why: 'before-send-time', month };
  if (claimed(month)) return { send: false, why: 'already-sent', month };
  return { send: true, month, day: isoDate(first), late: isoDate(today) > isoDate(first) };
}

export interface MonthlyPassResult {
  readonly month: Month;
  /** Mails queued (0: not due, already sent, or nothing to report). */
  readonly queued: number;
}

/** One pass: decide, and when due claim the month and queue the pack to every manager, in one transaction. */
export function runMonthlyPass(deps: { store: Store; config: Config; calendar: BusinessCalendar; log: Logger }, now: Date): MonthlyPassResult {
  const { store, config, calendar, log } = deps;
  const decision = decideMonthlyPack(now, calendar, (m) => store.monthlyPackClaimed(m));
  if (!decision.send) return { month: decision.month, queued: 0 };
  const managers = packRecipients(config);
  if (managers.length === 0) return { month: decision.month, queued: 0 };
  // Read and render in a read transaction (seconds on a large register: bench/monthly.ts), not
  // under the write lock, so filing goes on; the claim and the queueing are one short write.
  const pack = store.readTx(() => readPack(store, config, decision.month, now));
  const rendered = renderPackIn(
    pack,
    config,
    managers.map((m) => m.language),
    now,
  );
  return store.tx(() => {
    if (!store.claimMonthlyPack(decision.month, toInstant(now), decision.late, managers.length)) return { month: decision.month, queued: 0 };
    if (pack.statistics.received === 0 && pack.statistics.backlog.total === 0) {
      log.info('monthly pack not sent: nothing to report', { month: decision.month });
      return { month: decision.month, queued: 0 };
    }
    const ids = queuePack(store, config, rendered, decision.month, 'scheduled', now);
    log.info('monthly pack queued', { month: decision.month, managers: ids.length, late: decision.late });
    return { month: decision.month, queued: ids.length };
  });
}
