/**
 * Deadline policies: which milestones a case has and by when each must be met.
 *
 * Milestones:
 *  - acknowledgement   the customer is told we have the complaint (met when our acknowledgement is sent)
 *  - firstAnswer       a person answers the customer (met by the first officer mail to the customer)
 *  - finalAnswer       our position / final answer ("ställningstagande")
 *  - finalAnswerMax    the latest a final answer may be moved to by a holding reply (PSD2 day 35)
 *
 * A policy sets rules for some milestones; a case gets every policy that applies to it (the
 * firm's defaults plus those of its category), and for each milestone the earliest due
 * instant wins. Presets encode the promises and rules we know; statutory presets (PSD2,
 * ECSP) may be shortened in config but never lengthened.
 */
import type { DeadlineRule } from './rules';

export type Milestone = 'acknowledgement' | 'firstAnswer' | 'finalAnswer' | 'finalAnswerMax';
export const MILESTONES: readonly Milestone[] = ['acknowledgement', 'firstAnswer', 'finalAnswer', 'finalAnswerMax'];

export interface Policy {
  readonly name: string;
  /** Where the rules come from, for the register: a law or the firm's published promise. */
  readonly source: string;
  readonly rules: Readonly<Partial<Record<Milestone, DeadlineRule>>>;
  /** Milestones whose rules are set by law: config may shorten them, never lengthen them. */
  readonly statutory: Readonly<Partial<Record<Milestone, DeadlineRule>>>;
}

export interface Preset {
  readonly source: string;
  readonly rules: Partial<Record<Milestone, DeadlineRule>>;
  readonly statutory: boolean;
}

export const PRESETS: Readonly<Record<string, Preset>> = {
  // Billender: "Vi svarar alltid på ett klagomål inom 24 timmar ... ställningstagande inom 14 dagar".
  'promise-24h-14d': {
    source: "firm's promise: an answer within 24 hours, a position within 14 days",
    rules: { acknowledgement: { unit: 'hours', amount: 24 }, finalAnswer: { unit: 'calendarDays', amount: 14 } },
    statutory: false,
  },
  // Kameo: "en bekräftelse ... senast 3 verksamhetsdagar efter mottagandet".
  'confirmation-3bd': {
    source: "firm's promise: a confirmation within 3 business days",
    rules: { acknowledgement: { unit: 'businessDays', amount: 3 } },
    statutory: false,
  },
  // PSD2 art. 101(1)-(2): reply within 15 business days; in exceptional cases a holding reply
  // with the reasons and a final answer within 35 business days.
  psd2: {
    source: 'PSD2 (Directive (EU) 2015/2366) art. 101: 15 business days, at most 35 with a holding reply',
    rules: { finalAnswer: { unit: 'businessDays', amount: 15 }, finalAnswerMax: { unit: 'businessDays', amount: 35 } },
    statutory: true,
  },
  // ECSP RTS (EU) 2022/2117 art. 3: acknowledge and decide admissibility within 10 working days.
  ecsp: {
    source: 'ECSP RTS (EU) 2022/2117 art. 3: acknowledgement and admissibility within 10 working days',
    rules: { acknowledgement: { unit: 'businessDays', amount: 10 } },
    statutory: true,
  },
};

/**
 * Whether `candidate` can never be later than `limit`. Only rules of the same unit can be
 * compared for every receipt instant; a statutory rule must be overridden in its own unit.
 */
export function neverLater(candidate: DeadlineRule, limit: DeadlineRule): boolean {
  return candidate.unit === limit.unit && candidate.amount <= limit.amount;
}

export function describePolicyRules(p: Policy): string {
  return Object.entries(p.rules)
    .map(([m, r]) => `${m} ${r!.amount} ${r!.unit}`)
    .join(', ');
}
