/**
 * The statutory regime of a case, and every policy's deadline beside the effective one. Pure.
 *
 * PSD2 art. 101 (payment services): the firm answers within 15 business days; in exceptional
 * situations a holding reply, with the reasons, within those 15 days, and the final answer within
 * 35. A policy carries PSD2's rules when it has a statutory `finalAnswerMax` (the preset `psd2`,
 * or the firm's policy built from it); ECSP (crowdfunding, RTS 2022/2117 art. 3) when its only
 * statutory rule is the acknowledgement.
 *
 * The rule for a case (README "Deadlines and escalation"): a case is PSD2 when a policy that
 * applies to it at filing is (its category, by default payments and fraud); `#category` into such
 * a category makes it PSD2; statutory protection is never lost by recategorising: only an officer's
 * `#regime none` with a reason (the complaint turned out not to concern a payment service) takes
 * it away, and `#regime psd2` gives it to any case.
 */
import type { DeadlinesConfig } from '../config/config';
import type { Regime } from '../store/rows';
import type { Calendars } from './deadlines';
import type { Milestone, Policy } from './policy';
import { MILESTONES, PRESETS } from './policy';
import { computeDue, DeadlineRule } from './rules';

/** The statutory regime a policy's rules belong to, or null for the firm's own promise. */
export function regimeOfPolicy(p: Policy): 'psd2' | 'ecsp' | null {
  if (p.statutory.finalAnswerMax || p.statutory.finalAnswer) return 'psd2';
  if (p.statutory.acknowledgement) return 'ecsp';
  return null;
}

/** The regime of a case filed under these policies. */
export function regimeOf(policies: readonly Policy[]): Regime {
  return policies.some((p) => regimeOfPolicy(p) === 'psd2') ? 'psd2' : 'none';
}

/**
 * The PSD2 policy to apply to a case that becomes PSD2 by `#regime psd2`: the firm's own PSD2
 * policy if it configured one (for payments, or any category), else the preset.
 */
export function psd2Policy(cfg: DeadlinesConfig): Policy {
  const names = [...cfg.policies, ...Object.values(cfg.byCategory).flat()];
  for (const n of names) if (cfg.definitions[n] && regimeOfPolicy(cfg.definitions[n]) === 'psd2') return cfg.definitions[n];
  const p = PRESETS.psd2;
  return { name: 'psd2', source: p.source, rules: p.rules, statutory: p.rules };
}

export interface PolicyDeadline {
  readonly milestone: Milestone;
  readonly policy: string;
  readonly source: string;
  readonly statutory: boolean;
  readonly regime: 'psd2' | 'ecsp' | null;
  readonly dueAt: Date;
  readonly rule: DeadlineRule;
}

/**
 * Every policy's deadline for every milestone it sets, counted from receipt. A statutory rule is
 * stored as the statute's own (policy named after its regime, "psd2" or "ecsp", with the law's
 * limit, in the statutory calendar), and, when the firm shortened it, the firm's shorter rule
 * beside it as the firm's own promise: PSD2's day 15 is day 15 whatever the firm promises.
 */
export function computePolicyDeadlines(receivedAt: Date, policies: readonly Policy[], calendars: Calendars): PolicyDeadline[] {
  const out = new Map<string, PolicyDeadline>();
  const add = (d: PolicyDeadline): void => {
    const key = `${d.policy}\u0000${d.milestone}`;
    if (!out.has(key)) out.set(key, d);
  };
  for (const p of policies) {
    const regime = regimeOfPolicy(p);
    for (const milestone of MILESTONES) {
      const rule = p.rules[milestone];
      if (!rule) continue;
      const statute = p.statutory[milestone];
      if (statute && regime) {
        add({
          milestone,
          policy: regime,
          source: PRESETS[regime].source,
          statutory: true,
          regime,
          dueAt: computeDue(receivedAt, statute, calendars.statutory),
          rule: statute,
        });
        if (statute.unit === rule.unit && statute.amount === rule.amount) continue;
      }
      // The firm's own rule, or its shortening of a statutory one (counted, as the effective
      // deadline is, in the statutory calendar: a closed day of the firm never stretches it).
      const calendar = statute ? calendars.statutory : calendars.firm;
      add({ milestone, policy: p.name, source: p.source, statutory: false, regime: null, dueAt: computeDue(receivedAt, rule, calendar), rule });
    }
  }
  return [...out.values()];
}
