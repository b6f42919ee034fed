/**
 * Statistics of a period, for management and the supervisor (REGULATION.md §4 C).
 *
 * What each number counts (the same words appear in the JSON and the HTML report):
 *  - the cohort: the cases *received* in the period (as the register). Categories, outcomes,
 *    customer types, times, deadlines, breaches, delays and compensation are the cohort's, as
 *    the database stands when the report runs;
 *  - `closed`: cases closed during the period, whenever they were received (a case closed,
 *    reopened and closed again in the period counts once);
 *  - `backlog`: cases open at the end of the period (or now, if the period has not ended),
 *    whenever they were received, by age in whole days since receipt;
 *  - times: median (the middle value; the mean of the two middle ones for an even count) and
 *    p90 (nearest rank: the smallest value with at least 90 % of values at or below it);
 *  - deadlines: per milestone and policy, met in time / met late / open past due (overdue) /
 *    open not yet due; a case closed before a deadline without meeting it (a withdrawn
 *    complaint) does not count, nor does a deadline that does not apply (an old complaint
 *    brought in by `klagomal import`). "late" in the shares is met late + overdue. The headline
 *    "met in time" is of the deadlines already decided (met, or passed), open ones left out;
 *  - repeat complainants: customers with a case in the period who have more than one case
 *    received up to the end of the period; addresses only masked (and never in the HTML);
 *  - rising categories: against the period of the same length just before.
 *
 * `computeStatistics` is pure (the tests hand-compute its values); `readReportInput` reads,
 * through the store (src/store/register.ts), read-only.
 */
import type { Store } from '../store/store';
import { addDays, isoDate, localDateOf } from '../util/stockholm-time';
import { CASE_OUTCOMES } from '../cases/lifecycle';
import { BREACH_CAUSES, BreachCause, registerRow, RegisterPolicyDeadline, RegisterRow } from './register';
import { previousPeriod, ReportPeriod } from './period';
import { readCaseFacts } from './facts';
import { byCount, countBy, isoWeek, maskAddress, monthOf, percent, referralStat, rootCauseStat, round, timeStat } from './figures';
import type { TimeStat } from './figures';
export type { TimeStat } from './figures';
export { isoWeek, maskAddress, median, percentile } from './figures';

export const UNCATEGORISED = 'uncategorised';
export const UNDECIDED = 'undecided';
/** Closed as not a complaint (FFFS 2002:23 §2, #inadmissible). */
export const INADMISSIBLE = 'not-a-complaint';

/** Age buckets of the open backlog, in whole days since receipt (inclusive bounds; null = no upper bound). */
export const AGE_BUCKETS: ReadonlyArray<{ label: string; min: number; max: number | null }> = [
  { label: '0-7 days', min: 0, max: 7 },
  { label: '8-14 days', min: 8, max: 14 },
  { label: '15-30 days', min: 15, max: 30 },
  { label: '31-60 days', min: 31, max: 60 },
  { label: '61-90 days', min: 61, max: 90 },
  { label: 'over 90 days', min: 91, max: null },
];

/** Everything the statistics are computed from (read by `readReportInput`). */
export interface ReportInput {
  readonly period: ReportPeriod;
  readonly now: Date;
  /** The register of the period (the cohort). */
  readonly rows: readonly RegisterRow[];
  /** Cases received in the previous period of the same length, by category. */
  readonly previousByCategory: ReadonlyMap<string, number>;
  /** Number of cases closed during the period. */
  readonly closedInPeriod: number;
  /** The instant the backlog is counted at, and the received instant of every case open then. */
  readonly backlogAsOf: string;
  readonly backlogReceived: readonly string[];
  /** Every customer with a case in the period: their address, cases in the period, cases up to its end. */
  readonly customers: ReadonlyArray<{ address: string; inPeriod: number; upToEnd: number }>;
  /** The filters the rows were cut by (src/report/filter.ts); absent or {} for all cases. */
  readonly filters?: Readonly<Record<string, string>>;
}

export interface DeadlineStat {
  readonly milestone: string;
  readonly policy: string;
  readonly source: string | null;
  readonly total: number;
  readonly inTime: number;
  readonly metLate: number;
  readonly overdue: number;
  readonly open: number;
  /** Closed before the deadline without meeting it: not counted in the shares. */
  readonly closedWithout: number;
  /** Percent (one decimal) of total - closedWithout; null when that is 0. late = metLate + overdue. The three add up to 100. */
  readonly percentInTime: number | null;
  readonly percentLate: number | null;
  readonly percentOpen: number | null;
  /** Percent met in time of the deadlines already decided (met, or passed unmet): inTime / (inTime + metLate + overdue). */
  readonly percentInTimeOfDecided: number | null;
}

export interface Breach {
  readonly caseNumber: string;
  readonly milestone: string;
  readonly policy: string | null;
  readonly dueAt: string;
  readonly metAt: string | null;
  readonly result: 'late' | 'overdue';
  readonly cause: BreachCause;
  readonly detail: string | null;
}

export interface RuleStat {
  /** 'PSD2 15 business days (final answer)', 'ECSP 10 business days (acknowledgement)', "firm's promise: ..." */
  readonly label: string;
  readonly regime: 'psd2' | 'ecsp' | null;
  readonly policy: string;
  readonly milestone: string;
  readonly counted: number;
  readonly inTime: number;
  readonly late: number;
  readonly open: number;
  /** Of those decided (met, or passed unmet). */
  readonly percentInTime: number | null;
}

export interface Statistics {
  readonly period: { from: string; to: string; days: number };
  readonly previousPeriod: { from: string; to: string };
  readonly generatedAt: string;
  readonly received: number;
  readonly closed: number;
  readonly backlog: { asOf: string; total: number; byAge: ReadonlyArray<{ bucket: string; count: number }> };
  readonly byCategory: ReadonlyArray<{ category: string; count: number }>;
  readonly byOutcome: ReadonlyArray<{ outcome: string; count: number }>;
  readonly byCustomerType: ReadonlyArray<{ customerType: string; count: number }>;
  readonly byChannel: ReadonlyArray<{ channel: string; count: number }>;
  readonly byProduct: ReadonlyArray<{ product: string; count: number }>;
  /** Cases reopened (#reopen) at least once, and the reopenings in all. */
  readonly reopened: { cases: number; times: number };
  /** ARN and court: cases referred, and each by its last recorded state. */
  readonly arn: { referred: number; byState: ReadonlyArray<{ state: string; count: number }> };
  readonly court: { referred: number; byState: ReadonlyArray<{ state: string; count: number }> };
  /** Root causes with the corrective actions of their cases, planned and done (the internal follow-up of the EU guidelines). */
  readonly rootCauses: ReadonlyArray<{ code: string; count: number; actionsPlanned: number; actionsDone: number }>;
  /** The filters the register was cut by (report --product, --category, ...), or {} for all cases. */
  readonly filters: Readonly<Record<string, string>>;
  /** Cases whose customer type is recorded on the case (the rest are counted as consumers by default). */
  readonly customerTypeRecorded: number;
  /** Hours from receipt to the acknowledgement (sent, or a person's answer). */
  readonly timeToAcknowledgementHours: TimeStat;
  /** Days from receipt to the final answer. */
  readonly timeToFinalAnswerDays: TimeStat;
  readonly deadlines: readonly DeadlineStat[];
  /**
   * All milestones except finalAnswerMax (a limit, counted in `deadlines`). percentInTime: of
   * the deadlines already decided (inTime + late), so that open ones do not dilute it.
   */
  readonly deadlinesOverall: { counted: number; inTime: number; late: number; open: number; percentInTime: number | null };
  /**
   * Each statutory limit and the firm's promise measured apart, from every policy's own
   * deadline (never moved by a holding reply or an extension): % within PSD2 15 and 35 business
   * days, ECSP 10, the firm's promise. Cases filed before these were stored are not in it.
   */
  readonly byRule: readonly RuleStat[];
  readonly breaches: readonly Breach[];
  readonly breachesByCause: ReadonlyArray<{ cause: BreachCause; label: string; count: number }>;
  readonly delayNotices: number;
  readonly holdingReplies: number;
  readonly compensation: { totalPaidSek: number; casesPaid: number; casesAsked: number };
  readonly repeatComplainants: {
    readonly count: number;
    readonly withSeveralInPeriod: number;
    readonly casesInPeriod: number;
    /** Each repeat complainant masked (a***@example.com), with their cases in the period and up to its end. */
    readonly customers: ReadonlyArray<{ customer: string; inPeriod: number; upToEnd: number }>;
  };
  readonly categoryTrend: ReadonlyArray<{ category: string; count: number; previous: number; change: number; rising: boolean }>;
  readonly risingCategories: readonly string[];
  readonly charts: {
    readonly weeks: ReadonlyArray<{ week: string; start: string }>;
    /** Non-zero cells only. */
    readonly weeklyByCategory: ReadonlyArray<{ week: string; category: string; count: number }>;
    readonly complianceByMonth: ReadonlyArray<{ month: string; inTime: number; late: number; open: number }>;
    readonly outcomeMix: ReadonlyArray<{ outcome: string; count: number }>;
  };
}

// ---- the statistics ------------------------------------------------------------------------

export function computeStatistics(input: ReportInput): Statistics {
  const { period, rows } = input;
  const prev = previousPeriod(period);
  const category = (r: RegisterRow): string => r.category ?? UNCATEGORISED;

  // Categories, outcomes, customer types.
  const categories = countBy(rows, category);
  // A case closed as not a complaint (#inadmissible) has no outcome; counted apart.
  const outcomes = countBy(rows, (r) => (r.inadmissible ? INADMISSIBLE : (r.outcome ?? UNDECIDED)));
  const outcomeOrder = [...CASE_OUTCOMES, INADMISSIBLE, UNDECIDED];
  const byOutcome = [...outcomes.entries()]
    .sort((a, b) => outcomeOrder.indexOf(a[0] as never) - outcomeOrder.indexOf(b[0] as never) || a[0].localeCompare(b[0]))
    .map(([outcome, count]) => ({ outcome, count }));
  const types = countBy(rows, (r) => r.customerType);

  // Times.
  const hoursSince = (r: RegisterRow, t: string): number => (new Date(t).getTime() - new Date(r.receivedAt).getTime()) / 3_600_000;
  const ackHours: number[] = [];
  const finalDays: number[] = [];
  for (const r of rows) {
    const ack = r.deadlines.find((d) => d.milestone === 'acknowledgement')?.metAt ?? r.acknowledgementSentAt;
    if (ack) ackHours.push(Math.max(0, hoursSince(r, ack)));
    const final = r.deadlines.find((d) => d.milestone === 'finalAnswer')?.metAt ?? r.finalAnswerSentAt;
    if (final) finalDays.push(Math.max(0, hoursSince(r, final) / 24));
  }

  // Deadlines, per milestone and policy; breaches.
  const groups = new Map<string, { milestone: string; policy: string; source: string | null; results: string[] }>();
  const breaches: Breach[] = [];
  const overall = { counted: 0, inTime: 0, late: 0, open: 0 };
  const byMonth = new Map<string, { inTime: number; late: number; open: number }>();
  for (const r of rows) {
    const month = monthOf(localDateOf(new Date(r.receivedAt)));
    for (const d of r.deadlines) {
      // An imported old complaint's deadlines are history, not the firm's performance.
      if (d.result === 'not-applicable') continue;
      const key = `${d.milestone}\u0000${d.policy ?? ''}`;
      const g = groups.get(key) ?? { milestone: d.milestone, policy: d.policy ?? '', source: d.source, results: [] };
      g.results.push(d.result);
      groups.set(key, g);
      if (d.result === 'late' || d.result === 'overdue') {
        breaches.push({
          caseNumber: r.caseNumber,
          milestone: d.milestone,
          policy: d.policy,
          dueAt: d.dueAt,
          metAt: d.metAt,
          result: d.result,
          cause: d.breachCause!,
          detail: d.breachDetail,
        });
      }
      if (d.milestone === 'finalAnswerMax' || d.result === 'closed-without') continue;
      const m = byMonth.get(month) ?? { inTime: 0, late: 0, open: 0 };
      overall.counted++;
      if (d.result === 'in-time') {
        overall.inTime++;
        m.inTime++;
      } else if (d.result === 'open') {
        overall.open++;
        m.open++;
      } else {
        overall.late++;
        m.late++;
      }
      byMonth.set(month, m);
    }
  }
  // Each rule measured apart, from the policies' own deadlines.
  const rules = new Map<string, { label: string; regime: 'psd2' | 'ecsp' | null; policy: string; milestone: string; results: string[] }>();
  for (const r of rows) {
    for (const p of r.policyDeadlines) {
      if (p.result === 'not-applicable' || p.result === 'closed-without') continue;
      const key = `${p.regime ?? ''}\u0000${p.policy}\u0000${p.milestone}`;
      const g = rules.get(key) ?? { label: ruleLabel(p), regime: p.regime, policy: p.policy, milestone: p.milestone, results: [] };
      g.results.push(p.result);
      rules.set(key, g);
    }
  }
  const byRule: RuleStat[] = [...rules.values()]
    .sort((a, b) => (a.regime ?? 'zz').localeCompare(b.regime ?? 'zz') || a.label.localeCompare(b.label))
    .map((g) => {
      const n = (x: string): number => g.results.filter((r) => r === x).length;
      const late = n('late') + n('overdue');
      return {
        label: g.label,
        regime: g.regime,
        policy: g.policy,
        milestone: g.milestone,
        counted: g.results.length,
        inTime: n('in-time'),
        late,
        open: n('open'),
        percentInTime: percent(n('in-time'), n('in-time') + late),
      };
    });
  const milestoneOrder = ['acknowledgement', 'firstAnswer', 'finalAnswer', 'finalAnswerMax'];
  const deadlines: DeadlineStat[] = [...groups.values()]
    .sort((a, b) => milestoneOrder.indexOf(a.milestone) - milestoneOrder.indexOf(b.milestone) || a.policy.localeCompare(b.policy))
    .map((g) => {
      const n = (x: string): number => g.results.filter((r) => r === x).length;
      const counted = g.results.length - n('closed-without');
      return {
        milestone: g.milestone,
        policy: g.policy,
        source: g.source,
        total: g.results.length,
        inTime: n('in-time'),
        metLate: n('late'),
        overdue: n('overdue'),
        open: n('open'),
        closedWithout: n('closed-without'),
        percentInTime: percent(n('in-time'), counted),
        percentLate: percent(n('late') + n('overdue'), counted),
        percentOpen: percent(n('open'), counted),
        percentInTimeOfDecided: percent(n('in-time'), n('in-time') + n('late') + n('overdue')),
      };
    });
  breaches.sort((a, b) => a.dueAt.localeCompare(b.dueAt) || a.caseNumber.localeCompare(b.caseNumber));
  const causes = countBy(breaches, (b) => b.cause);

  // Backlog by age at the end of the period.
  const asOf = new Date(input.backlogAsOf).getTime();
  const ages = input.backlogReceived.map((t) => Math.floor((asOf - new Date(t).getTime()) / 86_400_000));
  const byAge = AGE_BUCKETS.map((b) => ({ bucket: b.label, count: ages.filter((a) => a >= b.min && (b.max === null || a <= b.max)).length }));

  // Repeat complainants.
  const repeat = input.customers.filter((c) => c.upToEnd > 1);

  // Categories against the previous period.
  const allCategories = new Set([...categories.keys(), ...input.previousByCategory.keys()]);
  const categoryTrend = [...allCategories]
    .map((c) => {
      const count = categories.get(c) ?? 0;
      const previous = input.previousByCategory.get(c) ?? 0;
      return { category: c, count, previous, change: count - previous, rising: count > previous };
    })
    .sort((a, b) => b.change - a.change || b.count - a.count || a.category.localeCompare(b.category));

  // Charts: weeks (ISO, Monday first) and months of the period.
  const weeks: Array<{ week: string; start: string }> = [];
  for (let d = isoWeek(period.from).start; isoDate(d) <= isoDate(period.to); d = addDays(d, 7)) {
    weeks.push({ week: isoWeek(d).week, start: isoDate(d) });
  }
  const weekly = new Map<string, number>();
  for (const r of rows) {
    const key = `${isoWeek(localDateOf(new Date(r.receivedAt))).week}\u0000${category(r)}`;
    weekly.set(key, (weekly.get(key) ?? 0) + 1);
  }
  const categoryRank = byCount(categories).map(([c]) => c);
  const weeklyByCategory = weeks.flatMap((w) =>
    categoryRank.filter((c) => weekly.get(`${w.week}\u0000${c}`)).map((c) => ({ week: w.week, category: c, count: weekly.get(`${w.week}\u0000${c}`)! })),
  );
  const months: string[] = [];
  for (
    let m = { y: period.from.y, m: period.from.m, d: 1 };
    monthOf(m) <= monthOf(period.to);
    m = m.m === 12 ? { y: m.y + 1, m: 1, d: 1 } : { ...m, m: m.m + 1 }
  ) {
    months.push(monthOf(m));
  }

  return {
    period: { from: isoDate(period.from), to: isoDate(period.to), days: period.days },
    previousPeriod: { from: isoDate(prev.from), to: isoDate(prev.to) },
    generatedAt: input.now.toISOString(),
    received: rows.length,
    closed: input.closedInPeriod,
    backlog: { asOf: input.backlogAsOf, total: ages.length, byAge },
    byCategory: byCount(categories).map(([c, count]) => ({ category: c, count })),
    byOutcome,
    byCustomerType: byCount(types).map(([customerType, count]) => ({ customerType, count })),
    customerTypeRecorded: rows.filter((r) => r.customerTypeSource !== 'default').length,
    byChannel: byCount(countBy(rows, (r) => r.channel)).map(([channel, count]) => ({ channel, count })),
    byProduct: byCount(countBy(rows, (r) => r.product ?? 'not recorded')).map(([product, count]) => ({ product, count })),
    reopened: { cases: rows.filter((r) => r.reopened > 0).length, times: rows.reduce((n, r) => n + r.reopened, 0) },
    arn: referralStat(rows.map((r) => r.arn)),
    court: referralStat(rows.map((r) => r.court)),
    rootCauses: rootCauseStat(rows),
    filters: input.filters ?? {},
    timeToAcknowledgementHours: timeStat(ackHours),
    timeToFinalAnswerDays: timeStat(finalDays),
    deadlines,
    deadlinesOverall: { ...overall, percentInTime: percent(overall.inTime, overall.inTime + overall.late) },
    byRule,
    breaches,
    breachesByCause: byCount(causes).map(([cause, count]) => ({ cause: cause as BreachCause, label: BREACH_CAUSES[cause as BreachCause], count })),
    delayNotices: rows.reduce((n, r) => n + r.delays.filter((d) => d.kind === 'delay-notice').length, 0),
    holdingReplies: rows.reduce((n, r) => n + r.delays.filter((d) => d.kind === 'holding-reply').length, 0),
    compensation: {
      totalPaidSek: round(
        rows.reduce((n, r) => n + (r.compensationPaidSek ?? 0), 0),
        2,
      ),
      casesPaid: rows.filter((r) => (r.compensationPaidSek ?? 0) > 0).length,
      casesAsked: rows.filter((r) => r.compensationAsked === true).length,
    },
    repeatComplainants: {
      count: repeat.length,
      withSeveralInPeriod: repeat.filter((c) => c.inPeriod > 1).length,
      casesInPeriod: repeat.reduce((n, c) => n + c.inPeriod, 0),
      customers: repeat
        .map((c) => ({ customer: maskAddress(c.address), inPeriod: c.inPeriod, upToEnd: c.upToEnd }))
        .sort((a, b) => b.upToEnd - a.upToEnd || b.inPeriod - a.inPeriod || a.customer.localeCompare(b.customer)),
    },
    categoryTrend,
    risingCategories: categoryTrend.filter((c) => c.rising).map((c) => c.category),
    charts: {
      weeks,
      weeklyByCategory,
      complianceByMonth: months.map((month) => ({ month, ...(byMonth.get(month) ?? { inTime: 0, late: 0, open: 0 }) })),
      outcomeMix: byOutcome,
    },
  };
}

// ---- reading the input ---------------------------------------------------------------------

/** Read everything the register and the statistics of `period` need, as of `now`. Read-only. */
/** The register cut by what it records (REGULATION.md §4 C): `report --product --category --regime --channel --customer-type`. */
export interface ReportFilters {
  readonly product?: string;
  readonly category?: string;
  readonly regime?: string;
  readonly channel?: string;
  readonly customerType?: string;
}

/** Does a register row pass the filters (each given one must equal the row's)? */
export function passesFilters(r: RegisterRow, f: ReportFilters): boolean {
  return (
    (f.product === undefined || (r.product ?? 'not recorded') === f.product) &&
    (f.category === undefined || (r.category ?? UNCATEGORISED) === f.category) &&
    (f.regime === undefined || (r.regime ?? 'none') === f.regime) &&
    (f.channel === undefined || r.channel === f.channel) &&
    (f.customerType === undefined || r.customerType === f.customerType)
  );
}

export function readReportInput(store: Store, period: ReportPeriod, now: Date, retentionYears: number | null = null, filters: ReportFilters = {}): ReportInput {
  const prev = previousPeriod(period);
  const filtered = Object.values(filters).some((v) => v !== undefined);
  if (filtered) return readFilteredInput(store, period, now, retentionYears, filters);
  const rows = readCaseFacts(store, period.start, period.end).map((f) => registerRow(f, now, retentionYears));
  const previousByCategory = new Map<string, number>();
  for (const r of store.casesReceivedByCategory(prev.start, prev.end)) {
    previousByCategory.set(r.category ?? UNCATEGORISED, r.n);
  }
  const closedInPeriod = store.countCasesClosedBetween(period.start, period.end);
  // The backlog at the end of the period: from the status history for a period that has
  // ended, from the status itself while it runs (the two agree; the column is the cheaper).
  const nowIso = now.toISOString();
  const asOf = period.end < nowIso ? period.end : nowIso;
  const backlogReceived = period.end < nowIso ? store.receivedAtOfCasesOpenAt(asOf) : store.receivedAtOfOpenCasesReceivedBefore(asOf);
  const customers = store
    .customersWithCasesReceivedBetween(period.start, period.end)
    .map((c) => ({ address: c.address, inPeriod: c.inPeriod, upToEnd: c.upToEnd }));
  return { period, now, rows, previousByCategory, closedInPeriod, backlogAsOf: asOf, backlogReceived, customers };
}

/**
 * The input for a filtered register: every figure from the filtered cases received in the
 * period (closed: those of them closed in the period; the backlog: those of them open at its
 * end; the previous period: its cases passing the same filters). Customers: those of the cases.
 */
function readFilteredInput(store: Store, period: ReportPeriod, now: Date, retentionYears: number | null, filters: ReportFilters): ReportInput {
  const prev = previousPeriod(period);
  const rows = readCaseFacts(store, period.start, period.end)
    .map((f) => registerRow(f, now, retentionYears))
    .filter((r) => passesFilters(r, filters));
  const previousByCategory = new Map<string, number>();
  for (const r of readCaseFacts(store, prev.start, prev.end).map((f) => registerRow(f, now, retentionYears))) {
    if (!passesFilters(r, filters)) continue;
    const c = r.category ?? UNCATEGORISED;
    previousByCategory.set(c, (previousByCategory.get(c) ?? 0) + 1);
  }
  const nowIso = now.toISOString();
  const asOf = period.end < nowIso ? period.end : nowIso;
  const closedInPeriod = rows.filter((r) => r.closedAt !== null && r.closedAt >= period.start && r.closedAt < period.end).length;
  const backlogReceived = rows.filter((r) => r.closedAt === null || r.closedAt > asOf).map((r) => r.receivedAt);
  const addresses = new Set(rows.map((r) => (r.customerAddress ?? '').toLowerCase()));
  const customers = store
    .customersWithCasesReceivedBetween(period.start, period.end)
    .filter((c) => addresses.has(c.address.toLowerCase()))
    .map((c) => ({ address: c.address, inPeriod: c.inPeriod, upToEnd: c.upToEnd }));
  const shown: Record<string, string> = {};
  for (const [k, v] of Object.entries(filters)) if (v !== undefined) shown[k] = v;
  return { period, now, rows, previousByCategory, closedInPeriod, backlogAsOf: asOf, backlogReceived, customers, filters: shown };
}

/** How a rule is called in the statistics: the law and its limit, or the firm's promise. */
function ruleLabel(p: RegisterPolicyDeadline): string {
  if (p.regime === 'psd2' && p.milestone === 'finalAnswer') return 'PSD2 15 business days (final answer)';
  if (p.regime === 'psd2' && p.milestone === 'finalAnswerMax') return 'PSD2 35 business days (final answer after a holding reply)';
  if (p.regime === 'ecsp' && p.milestone === 'acknowledgement') return 'ECSP 10 business days (acknowledgement)';
  return `${p.statutory ? p.source : "firm's promise"}: ${p.milestone} (${p.policy})`;
}
