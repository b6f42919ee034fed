/**
 * The auditor's requests of REGULATION.md §4 D, one function each, for `klagomal audit late`,
 * `audit rejections`, `audit policy`, `audit retention` and `audit access` (`audit case` is
 * src/audit/case-audit.ts). Each returns a value (printed as a table or JSON by src/cli/audit.ts);
 * none changes anything but the access log.
 *
 * Lateness is the statute's (PSD2 art. 101(2), Lag (2010:751) om betaltjänster): a payment
 * complaint is answered in time when the final answer came within 15 business days, or, when a
 * holding reply reached the customer within those 15 days, within 35. The firm's own promise is
 * shown beside it, and with `promise` a case late only against the promise is listed as well.
 */
import type { Config } from '../config/config';
import { BusinessCalendar } from '../deadlines/calendar';
import type { Store } from '../store/store';
import type { AccessRow, ConfigVersionRow } from '../store/audit-trail';
import type { Instant } from '../util/clock';
import { addYears, toInstant } from '../util/clock';
import { isoDate, localDateOf, addDays } from '../util/stockholm-time';

// ---- audit late ------------------------------------------------------------------------

export interface LateDeadline {
  readonly milestone: string;
  readonly policy: string;
  readonly source: string;
  readonly statutory: boolean;
  readonly dueAt: Instant;
  /** Not met by its due time (answered after it, or still unanswered after it). */
  readonly missed: boolean;
}

export interface HoldingReply {
  readonly at: Instant;
  readonly to: Instant;
  /** Business days from receipt to the holding reply (the statute allows it within 15). */
  readonly businessDay: number;
  readonly withinStatute: boolean | null;
  readonly late: boolean;
}

export interface LateCase {
  readonly number: string;
  readonly regime: string;
  readonly category: string | null;
  readonly status: string;
  readonly receivedAt: Instant;
  readonly answeredAt: Instant | null;
  /** Business days from receipt to the final answer (or to now when unanswered). */
  readonly businessDaysToAnswer: number;
  readonly deadlines: readonly LateDeadline[];
  readonly holdingReplies: readonly HoldingReply[];
  readonly breachedAt: Instant | null;
  /** Late against the statute (see the file's header). */
  readonly lateAgainstStatute: boolean;
  /** Late against the firm's own promise. */
  readonly lateAgainstPromise: boolean;
  readonly why: string;
}

export interface LateReport {
  readonly regime: string | null;
  readonly from: Instant | null;
  readonly to: Instant | null;
  readonly now: Instant;
  readonly examined: number;
  readonly cases: readonly LateCase[];
}

/** Business days after `from`'s Stockholm date up to and including `to`'s (the statute's count: the day of receipt is day 0). */
export function businessDaysBetween(calendar: BusinessCalendar, from: Date, to: Date): number {
  let d = localDateOf(from);
  const end = isoDate(localDateOf(to));
  let n = 0;
  // Bounded: a case is at most a few years old; 5,000 days is far past any.
  for (let i = 0; i < 5000 && isoDate(d) < end; i++) {
    d = addDays(d, 1);
    if (calendar.isBusinessDay(d)) n++;
  }
  return n;
}

export function auditLate(store: Store, opts: { regime: string | null; from: Instant | null; to: Instant | null; now: Date; promise: boolean }): LateReport {
  const calendar = new BusinessCalendar();
  const rows = store.finalAnswerDeadlines(opts.regime, opts.from, opts.to);
  const byCase = new Map<number, typeof rows>();
  for (const r of rows) byCase.set(r.case_id, [...(byCase.get(r.case_id) ?? []), r]);
  const now = toInstant(opts.now);
  const cases: LateCase[] = [];
  for (const [caseId, ds] of byCase) {
    const first = ds[0];
    // A withdrawn complaint is owed no answer (the customer took it back): never late.
    if (first.outcome === 'withdrawn') continue;
    const answeredAt = first.met_at;
    const until = answeredAt ?? now;
    const missed = (due: Instant): boolean => until > due;
    const deadlines: LateDeadline[] = ds.map((d) => ({
      milestone: d.milestone,
      policy: d.policy,
      source: d.source,
      statutory: d.statutory === 1,
      dueAt: d.due_at,
      missed: missed(d.due_at),
    }));
    const statute15 = ds.find((d) => d.statutory === 1 && d.milestone === 'finalAnswer');
    const statute35 = ds.find((d) => d.statutory === 1 && d.milestone === 'finalAnswerMax');
    const holdingReplies: HoldingReply[] = store
      .eventsOfCase(caseId)
      .filter((e) => e.type === 'deadline-extended')
      .map((e) => ({ e, d: JSON.parse(e.detail) as { milestone?: string; to?: string; holdingReply?: boolean; late?: boolean } }))
      .filter(({ d }) => d.holdingReply === true && (d.milestone ?? 'finalAnswer') === 'finalAnswer')
      .map(({ e, d }) => ({
        at: e.at,
        to: d.to ?? e.at,
        businessDay: businessDaysBetween(calendar, new Date(first.received_at), new Date(e.at)),
        withinStatute: statute15 ? e.at <= statute15.due_at : null,
        late: d.late === true,
      }));
    let lateAgainstStatute = false;
    let why = '';
    if (statute15) {
      const timelyHolding = holdingReplies.some((h) => h.withinStatute === true);
      if (!missed(statute15.due_at)) why = 'answered within the statutory deadline';
      else if (timelyHolding && statute35 && !missed(statute35.due_at)) why = 'holding reply within the statutory deadline; answered within the extended limit';
      else {
        lateAgainstStatute = true;
        why = timelyHolding
          ? `${answeredAt ? 'answered' : 'unanswered'} after the extended statutory limit despite a holding reply`
          : holdingReplies.length
            ? `${answeredAt ? 'answered' : 'unanswered'} after the statutory deadline; the holding reply came after it`
            : `${answeredAt ? 'answered' : 'unanswered'} after the statutory deadline, without a holding reply`;
      }
    } else {
      // Regime-wide statute rows exist for PSD2 and ECSP; any other statutory row counts as missed when its due passed.
      const st = deadlines.filter((d) => d.statutory);
      lateAgainstStatute = st.some((d) => d.missed);
      why = st.length ? (lateAgainstStatute ? 'after a statutory deadline' : 'within the statutory deadlines') : 'no statutory deadline applies';
    }
    const lateAgainstPromise = deadlines.some((d) => !d.statutory && d.milestone === 'finalAnswer' && d.missed);
    if (!lateAgainstStatute && !(opts.promise && lateAgainstPromise)) continue;
    if (!lateAgainstStatute) why = `${answeredAt ? 'answered after' : 'unanswered past'} the firm's own promise (within the statute)`;
    cases.push({
      number: first.number,
      regime: first.regime,
      category: first.category,
      status: first.status,
      receivedAt: first.received_at,
      answeredAt,
      businessDaysToAnswer: businessDaysBetween(calendar, new Date(first.received_at), new Date(until)),
      deadlines,
      holdingReplies,
      breachedAt: first.breached_at,
      lateAgainstStatute,
      lateAgainstPromise,
      why,
    });
  }
  return { regime: opts.regime, from: opts.from, to: opts.to, now, examined: byCase.size, cases };
}

// ---- audit rejections ----------------------------------------------------------------

export interface RejectionAudit {
  readonly number: string;
  readonly outcome: string;
  readonly decidedBy: string | null;
  readonly regime: string;
  readonly receivedAt: Instant;
  readonly finalAnswer: {
    readonly status: string;
    readonly sentAt: Instant | null;
    readonly template: string;
    readonly words: number;
    /** Does the text sent name where the customer can take it (ARN, Konsumenternas Bank- och finansbyrå, court)? */
    readonly escalationParagraph: boolean;
    /** The answer's opening, one line (a summary of the reasons as the customer read them). */
    readonly summary: string;
  } | null;
  readonly problem: string | null;
}

/** Words that the escalation paragraph (templates/<lang>/partials/escalation) always carries. */
const ESCALATION_MARKERS = [/Allmänna reklamationsnämnden/i, /\bARN\b/, /National Board for Consumer Disputes/i, /Konsumenternas Bank/i];

export function auditRejections(store: Store, opts: { from: Instant | null; to: Instant | null }): RejectionAudit[] {
  return store.rejections(opts.from, opts.to).map((r) => {
    const body = r.final_body ?? '';
    const finalAnswer =
      r.final_status === null
        ? null
        : {
            status: r.final_status,
            sentAt: r.final_sent_at,
            template: r.final_template ?? '',
            words: body.split(/\s+/).filter(Boolean).length,
            escalationParagraph: ESCALATION_MARKERS.some((m) => m.test(body)),
            summary: oneLine(body, 240),
          };
    const problem = !finalAnswer
      ? 'no final answer sent through klagomal (answered outside the system, or not at all): check the case file'
      : finalAnswer.status === 'failed'
        ? 'the final answer failed to send'
        : !finalAnswer.escalationParagraph
          ? 'the final answer as sent does not name ARN or the other ways to take the matter further'
          : null;
    return { number: r.number, outcome: r.outcome, decidedBy: r.decided_by, regime: r.regime, receivedAt: r.received_at, finalAnswer, problem };
  });
}

function oneLine(text: string, max: number): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

// ---- audit policy --------------------------------------------------------------------

export interface PolicyVersion {
  readonly kind: 'deadlines' | 'calendar';
  readonly version: string;
  readonly inEffectFrom: Instant;
  /** The first use of the next version of the same kind, or null while it is the latest. */
  readonly inEffectUntil: Instant | null;
  readonly lastUsedAt: Instant | null;
  readonly deadlines: number;
  readonly approvedBy: string | null;
  readonly approvedAt: string | null;
  readonly textKept: boolean;
  readonly current: boolean;
}

export function auditPolicy(store: Store, config: Config): PolicyVersion[] {
  const rows = store.configVersions();
  return rows.map((r: ConfigVersionRow) => {
    const next = rows.find((o) => o.kind === r.kind && o.first_used_at > r.first_used_at);
    return {
      kind: r.kind,
      version: r.version,
      inEffectFrom: r.first_used_at,
      inEffectUntil: next?.first_used_at ?? null,
      lastUsedAt: r.last_used_at,
      deadlines: r.deadlines,
      approvedBy: r.approved_by,
      approvedAt: r.approved_at,
      textKept: r.content !== null,
      current: r.kind === 'deadlines' ? r.version === config.deadlines.version : true,
    };
  });
}

/** One kept version's text (`config show VERSION`), or null when unknown. */
export function configVersionText(store: Store, version: string): Omit<ConfigVersionRow, 'deadlines' | 'last_used_at'> | null {
  return store.configVersion(version);
}

// ---- audit retention -----------------------------------------------------------------

export interface RetentionAudit {
  readonly closedCaseYears: number;
  readonly rawMailDays: number | null;
  readonly runs: ReadonlyArray<{
    startedAt: Instant;
    finishedAt: Instant | null;
    trigger: string;
    dryRun: boolean;
    casesAnonymised: number;
    rawRemoved: number;
  }>;
  readonly due: ReadonlyArray<{ number: string; closedAt: Instant; dueAt: Instant; heldSince: Instant | null; holdReason: string | null; overdue: boolean }>;
}

export function auditRetention(store: Store, config: Config, now: Date): RetentionAudit {
  const { closedCaseYears, rawMailDays } = config.retention;
  const runs = store.retentionRunsNewestFirst(200).map((r) => ({
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    trigger: r.trigger,
    dryRun: r.dry_run === 1,
    casesAnonymised: r.cases_anonymised,
    rawRemoved: r.raw_removed,
  }));
  const due = store
    .closedCasesNotAnonymised()
    .map((c) => {
      const closedAt = c.closed_at ?? c.updated_at;
      // Due when the closing is `closedCaseYears` whole years back (src/retention/retention.ts yearsBefore, turned round).
      const dueAt = toInstant(addYears(new Date(closedAt), closedCaseYears));
      return { number: c.number, closedAt, dueAt, heldSince: c.held_at, holdReason: c.hold_reason, overdue: dueAt <= toInstant(now) && !c.held_at };
    })
    .sort((a, b) => (a.dueAt < b.dueAt ? -1 : a.dueAt > b.dueAt ? 1 : 0));
  return { closedCaseYears, rawMailDays, runs, due };
}

// ---- audit access --------------------------------------------------------------------

export function auditAccess(store: Store, opts: { caseId?: number; since?: Instant }): AccessRow[] {
  return store.accessLog(opts);
}
