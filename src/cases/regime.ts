/**
 * Policies and the statutory regime applied to a case after it was filed: `#category` (the new
 * category's deadlines where stricter, and PSD2 when it concerns a payment service) and
 * `#regime psd2|none` (src/deadlines/regime.ts has the rule). In the caller's transaction.
 *
 * A deadline already met is left alone; a new one is counted from receipt, as at filing, never
 * from the change; each policy's own deadline is stored beside the effective one (the
 * statistics measure each). An imported old complaint's deadlines do not apply, and a new
 * category or regime does not revive them.
 */
import type { Config } from '../config/config';
import type { CaseRow, Regime, Store } from '../store/store';
import type { Actor } from './lifecycle';
import type { Bilingual } from './transitions';
import type { Calendars } from '../deadlines/deadlines';
import type { Policy } from '../deadlines/policy';
import type { BusinessCalendar } from '../deadlines/calendar';
import { CALENDAR_VERSION, deadlineRecord, deadlineSetDetail, earliestDeadlines, policiesFor } from '../deadlines/deadlines';
import { computePolicyDeadlines, psd2Policy, regimeOf } from '../deadlines/regime';
import { escalationLevels } from '../deadlines/escalation';
import { formatStockholm } from '../util/stockholm-time';
import { toInstant, Instant } from '../util/clock';

export interface RegimeDeps {
  readonly store: Store;
  readonly config: Config;
  readonly calendars: Calendars;
  readonly calendar: BusinessCalendar;
}

/**
 * Apply `policies` to a case: each milestone's deadline where stricter than the one it has,
 * every policy's own deadline stored, and the regime PSD2 when one of them is. `why` goes on
 * the `deadline-set` events ("category fees", "regime psd2"). Returns what changed.
 */
export function applyPolicies(deps: RegimeDeps, c: CaseRow, policies: readonly Policy[], why: string, actor: Actor, at: Instant): Bilingual[] {
  const { store, config } = deps;
  const out: Bilingual[] = [];
  if (store.deadlinesOfCase(c.id).some((d) => d.not_applicable === 'imported')) return out;
  const received = new Date(c.received_at);
  for (const d of earliestDeadlines(received, policies, deps.calendars)) {
    const existing = store.deadline(c.id, d.milestone);
    if (existing?.met_at) continue;
    if (existing && !existing.not_applicable && new Date(existing.due_at).getTime() <= d.dueAt.getTime()) continue;
    const next = d.milestone === 'finalAnswerMax' ? null : toInstant(escalationLevels(d.dueAt, d.rule.unit, config.deadlines.escalation, deps.calendar)[0].at);
    if (existing) {
      store.moveDeadline(c.id, d.milestone, toInstant(d.dueAt), { ...d.rule, policy: d.policy, reason: why }, next);
      if (existing.not_applicable) store.setDeadlineApplicable(c.id, d.milestone, null);
    } else store.setDeadline(deadlineRecord(c.id, d, c.received_at, config.deadlines, next));
    store.appendEvent({ at, caseId: c.id, actor, type: 'deadline-set', detail: { ...deadlineSetDetail(d), reason: why } });
    out.push({
      en: `${d.milestone} now due ${formatStockholm(d.dueAt)} (${d.policy})`,
      sv: `${d.milestone} nu senast ${formatStockholm(d.dueAt)} (${d.policy})`,
    });
  }
  storePolicyDeadlines(store, config, c.id, c.received_at, policies, deps.calendars, null);
  if (regimeOf(policies) === 'psd2' && c.regime !== 'psd2') {
    changeRegime(store, c, 'psd2', why, actor, at);
    out.push({ en: 'regime: PSD2 (15 business days, at most 35 with a holding reply)', sv: 'regim: PSD2 (15 bankdagar, högst 35 med preliminärt svar)' });
  }
  return out;
}

/**
 * Every policy's own deadline for every milestone, counted from receipt and stored beside the
 * effective one, never moved (the statistics measure the firm's promise and each statutory limit
 * apart: PSD2 15 and 35, ECSP 10). At filing, and when #category or #regime adds policies.
 */
export function storePolicyDeadlines(
  store: Store,
  config: Config,
  caseId: number,
  receivedAt: Instant,
  policies: readonly Policy[],
  calendars: Calendars,
  notApplicable: string | null,
): void {
  for (const p of computePolicyDeadlines(new Date(receivedAt), policies, calendars)) {
    store.setPolicyDeadline({
      case_id: caseId,
      milestone: p.milestone,
      policy: p.policy,
      source: p.source,
      statutory: p.statutory ? 1 : 0,
      regime: p.regime,
      due_at: toInstant(p.dueAt),
      rule: { ...p.rule },
      computed_from: receivedAt,
      config_version: config.deadlines.version,
      calendar_version: CALENDAR_VERSION,
      not_applicable: notApplicable,
    });
  }
}

function changeRegime(store: Store, c: CaseRow, to: Regime, reason: string, actor: Actor, at: Instant): void {
  if (!store.setCaseRegime(c.id, to, at)) return;
  store.appendEvent({ at, caseId: c.id, actor, type: 'regime-changed', detail: { from: c.regime, to, reason } });
}

/**
 * `#regime psd2|none REASON`: the officer says under which regime the case is handled. PSD2
 * applies the firm's PSD2 policy (or the preset) from receipt; `none` takes statutory protection
 * away (a complaint that turned out not to concern a payment service), with the reason on record:
 * PSD2's deadlines stay on the case as not applicable, and holding replies are refused.
 */
export function setRegime(deps: RegimeDeps, c: CaseRow, regime: Regime, reason: string, actor: Actor, at: Instant): Bilingual[] {
  const { store } = deps;
  if (regime === 'psd2') {
    store.setPolicyDeadlinesApplicable(c.id, 'psd2', null);
    const out = applyPolicies(deps, c, [psd2Policy(deps.config.deadlines)], `regime psd2: ${reason}`, actor, at);
    if (c.regime !== 'psd2' && !out.some((o) => o.en.startsWith('regime:'))) changeRegime(store, c, 'psd2', reason, actor, at);
    return out;
  }
  changeRegime(store, c, 'none', reason, actor, at);
  store.setPolicyDeadlinesApplicable(c.id, 'psd2', 'regime none');
  const max = store.deadline(c.id, 'finalAnswerMax');
  if (max && !max.not_applicable) store.setDeadlineApplicable(c.id, 'finalAnswerMax', 'regime none');
  return [{ en: 'PSD2 does not apply: holding replies are refused', sv: 'PSD2 gäller inte: preliminära svar avvisas' }];
}

/** The milestones a reopened case owes again: the final answer (and PSD2's limit for it). */
const REOPENED_MILESTONES = ['finalAnswer', 'finalAnswerMax'] as const;

/**
 * `#reopen`: the final answer is owed again, so its deadline is counted anew from the reopening
 * (REGULATION.md §4 A, "reopened": a reopened complaint is handled as one received then), by the
 * case's policies (its category's, and PSD2's when the case is under it). The first round stays
 * on record: its `deadline-set`, met and breach events, and a breach it had (breached_at).
 */
export function recountOnReopen(deps: RegimeDeps, c: CaseRow, actor: Actor, at: Instant): Bilingual[] {
  const { store, config } = deps;
  if (store.deadlinesOfCase(c.id).some((d) => d.not_applicable === 'imported')) return [];
  const policies = policiesFor(c.category, config.deadlines);
  if (c.regime === 'psd2' && regimeOf(policies) !== 'psd2') policies.push(psd2Policy(config.deadlines));
  const out: Bilingual[] = [];
  for (const d of earliestDeadlines(new Date(at), policies, deps.calendars)) {
    if (!(REOPENED_MILESTONES as readonly string[]).includes(d.milestone)) continue;
    const existing = store.deadline(c.id, d.milestone);
    const next = d.milestone === 'finalAnswerMax' ? null : toInstant(escalationLevels(d.dueAt, d.rule.unit, config.deadlines.escalation, deps.calendar)[0].at);
    if (existing) store.reopenDeadline(c.id, d.milestone, toInstant(d.dueAt), at, { ...d.rule, policy: d.policy, reason: 'reopened' }, next);
    else store.setDeadline(deadlineRecord(c.id, d, at, config.deadlines, next));
    store.appendEvent({
      at,
      caseId: c.id,
      actor,
      type: 'deadline-set',
      detail: { ...deadlineSetDetail(d), from: at, reason: 'reopened', previousDue: existing?.due_at ?? null, previousMet: existing?.met_at ?? null },
    });
    if (d.milestone === 'finalAnswer')
      out.push({
        en: `final answer due again ${formatStockholm(d.dueAt)} (${d.policy}, counted from the reopening)`,
        sv: `slutligt svar senast ${formatStockholm(d.dueAt)} (${d.policy}, räknat från återöppningen)`,
      });
  }
  return out;
}
