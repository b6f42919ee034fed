/**
 * A case's deadlines: for every milestone, the earliest due instant among the policies that
 * apply to the case (the firm's defaults plus those of its category). Pure; the caller stores
 * the result together with the inputs, so an auditor can compute every deadline again:
 * the received instant, the rule, the policy and its source, the config and calendar versions.
 */
import type { DeadlinesConfig } from '../config/config';
import { BusinessCalendar } from './calendar';
import type { Milestone, Policy } from './policy';
import { MILESTONES } from './policy';
import { computeDue, DeadlineRule, describeRule } from './rules';
import { formatStockholm } from '../util/stockholm-time';
import type { NewDeadline } from '../store/store';
import { toInstant, Instant } from '../util/clock';

/** Version of the holiday rules in src/deadlines/calendar.ts; change it when they change. */
export const CALENDAR_VERSION = 'se-lag-1989:253+eves-v1';

export interface CaseDeadline {
  readonly milestone: Milestone;
  readonly dueAt: Date;
  readonly rule: DeadlineRule;
  readonly policy: string;
  readonly source: string;
}

/** The policies that apply to a case of this category, in config order, without repeats. */
export function policiesFor(category: string | null, cfg: DeadlinesConfig): Policy[] {
  const names = [...cfg.policies, ...((category && cfg.byCategory[category]) || [])];
  return [...new Set(names)].map((n) => cfg.definitions[n]);
}

/**
 * The two calendars deadlines are counted in: the firm's own promises skip the firm's closed
 * days too; statutory rules (PSD2, ECSP) count only days the law knows, since a voluntary
 * closure must not stretch a legal time limit.
 */
export interface Calendars {
  readonly firm: BusinessCalendar;
  readonly statutory: BusinessCalendar;
}

export function computeCaseDeadlines(receivedAt: Date, category: string | null, cfg: DeadlinesConfig, calendars: Calendars): CaseDeadline[] {
  return earliestDeadlines(receivedAt, policiesFor(category, cfg), calendars);
}

/** For each milestone, the earliest due instant among `policies` (the effective deadline). */
export function earliestDeadlines(receivedAt: Date, policies: readonly Policy[], calendars: Calendars): CaseDeadline[] {
  const out: CaseDeadline[] = [];
  for (const milestone of MILESTONES) {
    let best: CaseDeadline | null = null;
    for (const p of policies) {
      const rule = p.rules[milestone];
      if (!rule) continue;
      const dueAt = computeDue(receivedAt, rule, p.statutory[milestone] ? calendars.statutory : calendars.firm);
      if (!best || dueAt.getTime() < best.dueAt.getTime()) best = { milestone, dueAt, rule, policy: p.name, source: p.source };
    }
    if (best) out.push(best);
  }
  return out;
}

export function calendarsFor(cfg: DeadlinesConfig): Calendars {
  return { firm: new BusinessCalendar(cfg.extraClosedDates), statutory: new BusinessCalendar() };
}

/**
 * A computed deadline as stored: with every input of its computation, so that it can be
 * computed again (by an auditor, or after a calendar fix).
 */
export function deadlineRecord(caseId: number, d: CaseDeadline, computedFrom: Instant, cfg: DeadlinesConfig, nextEscalationAt: Instant | null): NewDeadline {
  return {
    caseId,
    milestone: d.milestone,
    dueAt: toInstant(d.dueAt),
    rule: { ...d.rule },
    computedFrom,
    policy: d.policy,
    source: d.source,
    configVersion: cfg.version,
    calendarVersion: CALENDAR_VERSION,
    nextEscalationAt,
  };
}

/** The detail of a `deadline-set` event: what is due when, by which rule and policy. */
export function deadlineSetDetail(d: CaseDeadline): Record<string, string> {
  return { milestone: d.milestone, dueAt: formatStockholm(d.dueAt), rule: describeRule(d.rule), policy: d.policy, source: d.source };
}
