/**
 * The complaints register: one row per case received in a period, with what an auditor asks
 * to see (REGULATION.md §4 A): where the complaint came from and the hash of the raw mail,
 * who complained and as what (consumer/business), what it is about, every deadline with the
 * policy that set it and when it was met, every delay and holding reply with its reason, the
 * outcome and who decided it, compensation asked and paid, and the assessment checklist.
 *
 * Read-only (./facts.ts, src/store/register.ts): named columns, never `SELECT *` on cases, so
 * that the personnummer column is never read (the register shows only the mask the parser
 * stored in the case's fields). Free text that officers or customers wrote (delay reasons,
 * subjects) is masked again on the way out, as a guard against a number that slipped through.
 *
 * Times: instants are UTC ISO 8601 (`...Z`); `...Local` values are Stockholm time with their
 * offset (2026-03-02T10:00:00+01:00). A period (./period.ts) is a range of Stockholm dates,
 * inclusive, and takes the cases *received* (the mail reached the firm) on those dates. The
 * CSV of the rows is ./csv.ts.
 *
 * `now` decides only which open deadlines count as overdue; everything else is the database
 * as it stands when the report runs.
 */
import { describeRule, DeadlineRule } from '../deadlines/rules';
import { formatStockholm } from '../util/stockholm-time';
import { MILESTONES } from '../deadlines/policy';
import { ASSESSMENT_ITEMS } from '../officers/commands';
import { maskPersonnummer } from '../util/personnummer';
import type { CaseFacts, DeadlineRecord, EventRecord } from './facts';
import { approvalOf, recordFields, withExtensionFacts } from './record-fields';

/**
 * How a deadline stands: met in time, met late, still open (not yet due / past due), the case was
 * closed without it, or it does not apply (an old complaint brought in by `klagomal import`: its
 * deadlines are history, left out of the compliance figures).
 */
export type DeadlineResult = 'in-time' | 'late' | 'open' | 'overdue' | 'closed-without' | 'not-applicable';

/** Why a deadline was missed, as a code (for counting) and a sentence (for the reader). */
export type BreachCause =
  | 'filed-after-deadline'
  | 'acknowledgement-suppressed'
  | 'send-failed'
  | 'sent-late'
  | 'not-acknowledged'
  | 'awaiting-customer'
  | 'extended-still-late'
  | 'extended-after-deadline'
  | 'answered-late'
  | 'no-answer';

export const BREACH_CAUSES: Readonly<Record<BreachCause, string>> = {
  'filed-after-deadline': 'filed after the deadline (quarantine, downtime or a late import)',
  'acknowledgement-suppressed': 'no automatic acknowledgement (suppressed)',
  'send-failed': 'the mail to the customer could not be sent',
  'sent-late': 'the acknowledgement was sent late',
  'not-acknowledged': 'not acknowledged in time',
  'awaiting-customer': 'waiting for information from the customer',
  'extended-still-late': 'extended, and still not met in time',
  'answered-late': 'answered after the deadline',
  'no-answer': 'no answer yet',
  'extended-after-deadline': 'extended or held only after the deadline had passed (the breach stays)',
};

export interface RegisterDelay {
  readonly at: string;
  readonly milestone: string;
  /** A PSD2 holding reply, or the firm's own delay notice. */
  readonly kind: 'holding-reply' | 'delay-notice';
  readonly fromDue: string;
  readonly toDue: string;
  readonly toDueLocal: string;
  readonly reason: string;
  readonly by: string;
  /** What happened to the notice to the customer. */
  readonly notice: 'sent' | 'queued' | 'failed' | 'suppressed' | 'not sent';
  readonly noticeSentAt: string | null;
  readonly noticeDetail: string | null;
}

export interface RegisterDeadline {
  readonly milestone: string;
  readonly policy: string | null;
  /** The law or promise behind the policy. */
  readonly source: string | null;
  readonly rule: string;
  readonly computedFrom: string;
  readonly configVersion: string | null;
  readonly calendarVersion: string | null;
  /** Before any extension (a holding reply or delay notice moves `dueAt`). */
  readonly originalDueAt: string;
  readonly dueAt: string;
  readonly dueLocal: string;
  /** For finalAnswerMax (a limit, never met by itself): when the final answer was. */
  readonly metAt: string | null;
  readonly metLocal: string | null;
  readonly result: DeadlineResult;
  /** When the escalation pass recorded the breach. */
  readonly breachRecordedAt: string | null;
  readonly breachCause: BreachCause | null;
  readonly breachDetail: string | null;
}

/** One policy's own deadline (the firm's promise, PSD2 15 or 35, ECSP 10), measured against the milestone. */
export interface RegisterPolicyDeadline {
  readonly milestone: string;
  readonly policy: string;
  readonly source: string;
  readonly statutory: boolean;
  readonly regime: 'psd2' | 'ecsp' | null;
  readonly dueAt: string;
  readonly dueLocal: string;
  /** When the milestone was met (for finalAnswerMax: the final answer). */
  readonly metAt: string | null;
  readonly result: DeadlineResult;
}

export interface RegisterRow {
  readonly caseNumber: string;
  readonly status: string;
  readonly receivedAt: string;
  readonly receivedLocal: string;
  readonly filedAt: string;
  /** How the complaint reached the firm: email, or letter, phone, chat, in-person as an officer registered it. */
  readonly channel: string;
  /** The configured source (its name) and the mailbox or folder the first mail came from. */
  readonly source: string | null;
  readonly mailbox: string | null;
  /** Staff who forwarded the customer's mail to the complaints address. */
  readonly forwardedBy: string | null;
  readonly messageId: string | null;
  readonly rawSha256: string | null;
  readonly customerType: 'consumer' | 'business';
  /** 'recorded' by an officer, 'detected' at filing (a company form, an organisationsnummer), or 'default': nothing says, and the firm's customers are consumers unless recorded otherwise. */
  readonly customerTypeSource: 'recorded' | 'detected' | 'default';
  /** Who recorded the type, or why it was detected. */
  readonly customerTypeBy: string | null;
  /** A lawyer or relative acting for the customer (#representative). */
  readonly representative: { readonly name: string | null; readonly address: string | null } | null;
  readonly product: string | null;
  /** Not a complaint under FFFS 2002:23 §2 (#inadmissible): who and why; still in the register. */
  readonly inadmissible: { readonly reason: string; readonly by: string | null; readonly at: string | null } | null;
  /** The reasons for the decision in short (#reasons), as the officer confirmed them. */
  readonly reasonsSummary: string | null;
  readonly compensationPaidAt: string | null;
  /** The customer's first contact about the matter (#first-contact), when before the complaint reached us. */
  readonly firstComplainedAt: string | null;
  /** How often the case was reopened (#reopen). */
  readonly reopened: number;
  /** ARN and court, each with every state recorded (the last is the current). */
  readonly arn: ReadonlyArray<{ readonly reference: string; readonly state: string; readonly on: string }>;
  readonly court: ReadonlyArray<{ readonly reference: string; readonly state: string; readonly on: string }>;
  readonly rootCauses: ReadonlyArray<{ readonly code: string; readonly text: string | null }>;
  readonly actions: ReadonlyArray<{ readonly text: string; readonly state: 'planned' | 'done'; readonly doneAt: string | null }>;
  /** When retention will anonymise the case (closed + retention.closedCaseYears), null while open or on legal hold. */
  readonly retentionUntil: string | null;
  readonly customerName: string | null;
  readonly customerAddress: string | null;
  /** Only ever the mask (YYYYMMDD-****). */
  readonly personnummerMasked: string | null;
  readonly language: string;
  readonly subject: string | null;
  readonly category: string | null;
  readonly references: ReadonlyArray<{ type: string; value: string }>;
  readonly incidentDate: string | null;
  readonly compensationAsked: boolean | null;
  /** Amounts in SEK the complaint mentions (the amount claimed is usually among them). */
  readonly amountsSek: readonly number[];
  readonly compensationReason: string | null;
  readonly compensationPaidSek: number | null;
  readonly contactPerson: string | null;
  readonly acknowledgementSentAt: string | null;
  readonly acknowledgementSuppressed: string | null;
  readonly informationRequests: number;
  readonly finalAnswerSentAt: string | null;
  /**
   * Four eyes on the final answer (approval.finalAnswer): the approved draft's author and
   * approver, when it was drafted and approved, and when that answer was sent; null when the
   * answer went out without approval (or none was approved yet).
   */
  readonly approval: {
    readonly author: string;
    readonly approver: string;
    readonly draftedAt: string;
    readonly approvedAt: string;
    readonly sentAt: string | null;
  } | null;
  readonly deadlines: readonly RegisterDeadline[];
  /** The statutory regime the case is handled under ('psd2' | 'none'; null before migration 11). */
  readonly regime: string | null;
  /** Every policy's own deadline beside the effective ones (cases filed from migration 11). */
  readonly policyDeadlines: readonly RegisterPolicyDeadline[];
  readonly delays: readonly RegisterDelay[];
  readonly outcome: string | null;
  readonly decidedBy: string | null;
  readonly decidedAt: string | null;
  readonly closedAt: string | null;
  readonly closedLocal: string | null;
  readonly relatedCases: readonly string[];
  readonly refersTo: string | null;
  /** The firm's checklist: every item, true/false, or null when not assessed. */
  readonly assessment: Readonly<Record<string, boolean | null>>;
  /** Why the case is kept beyond retention (ARN, court), or null. */
  readonly legalHold: string | null;
  /** When retention removed the case's personal data (names, addresses, texts), or null. */
  readonly anonymisedAt: string | null;
}

const detailOf = (e: EventRecord): Record<string, unknown> => {
  try {
    return JSON.parse(e.detail) as Record<string, unknown>;
  } catch {
    return {};
  }
};
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const local = (instant: string | null): string | null => (instant ? formatStockholm(new Date(instant)) : null);
const days = (ms: number): string => `${(ms / 86_400_000).toFixed(1)} days`;

/** When the case was last closed (null while it is open: a reopened case is open). */
export function closedAtOf(f: CaseFacts): string | null {
  if (f.c.status !== 'closed') return null;
  const closes = f.events.filter((e) => e.type === 'status-changed' && e.to_state === 'closed');
  // Closed without a recorded transition (not done by klagomal today): its last change.
  return closes.length ? closes[closes.length - 1].at : f.c.updated_at;
}

/** When a milestone was met; finalAnswerMax is met by the final answer. */
function metAtOf(f: CaseFacts, d: DeadlineRecord): string | null {
  if (d.milestone === 'finalAnswerMax') return f.deadlines.find((x) => x.milestone === 'finalAnswer')?.met_at ?? null;
  return d.met_at;
}

function resultOf(
  d: { due_at: string; not_applicable: string | null },
  metAt: string | null,
  closedAt: string | null,
  now: string,
  missedBefore: string | null,
): DeadlineResult {
  if (d.not_applicable) return 'not-applicable';
  // A deadline missed once stays missed, whatever was extended after it (issue 14): a holding
  // reply or an extension after the deadline moves the date, not the fact.
  if (missedBefore) return metAt ? 'late' : 'overdue';
  if (metAt) return metAt <= d.due_at ? 'in-time' : 'late';
  if (closedAt && closedAt <= d.due_at) return 'closed-without';
  return now > d.due_at ? 'overdue' : 'open';
}

/**
 * When a deadline was missed before it was moved, if it was: a breach recorded on it (by the
 * escalation pass, or by an extension or a refused holding reply after it), a `deadline-breached`
 * event (which also covers databases from before the breach was kept across extensions), or an
 * extension made after the deadline it extended had passed.
 */
function missedOf(f: CaseFacts, d: DeadlineRecord, extensions: readonly EventRecord[]): string | null {
  if (d.breached_at) return d.breached_at;
  const event = f.events.find((e) => e.type === 'deadline-breached' && detailOf(e).milestone === d.milestone);
  if (event) return event.at;
  const lateExtension = extensions.find((e) => {
    const from = str(detailOf(e).from);
    return from !== null && e.at > from;
  });
  return lateExtension ? lateExtension.at : null;
}

/** The extensions made after the deadline they moved had been missed. */
function movedAfter(extensions: readonly EventRecord[], missedAt: string): EventRecord[] {
  return extensions.filter((e) => e.at >= missedAt || (str(detailOf(e).from) ?? '') < e.at);
}

function missedCause(extensions: readonly EventRecord[], missedAt: string): { code: BreachCause; detail: string } {
  const after = movedAfter(extensions, missedAt);
  const last = detailOf(after[after.length - 1]);
  return {
    code: 'extended-after-deadline',
    detail: `missed (recorded ${local(missedAt)}); ${last.holdingReply ? 'a holding reply' : 'an extension'} afterwards moved it to ${local(str(last.to))}`,
  };
}

/** Why a deadline was missed: the first cause that the case's history shows. */
function causeOf(
  f: CaseFacts,
  d: DeadlineRecord,
  metAt: string | null,
  extensions: readonly EventRecord[],
  now: string,
): { code: BreachCause; detail: string } {
  const late = (metAt ? new Date(metAt) : new Date(now)).getTime() - new Date(d.due_at).getTime();
  if (f.c.filed_at > d.due_at) {
    const waited = new Date(f.c.filed_at).getTime() - new Date(f.c.received_at).getTime();
    return { code: 'filed-after-deadline', detail: `the mail was filed ${(waited / 3_600_000).toFixed(1)} h after it was received, after the deadline` };
  }
  if (d.milestone === 'acknowledgement') {
    const suppressed = f.events.find((e) => e.type === 'acknowledgement-suppressed');
    const ack = f.outbox.find((o) => o.kind === 'acknowledgement');
    if (!ack && suppressed)
      return { code: 'acknowledgement-suppressed', detail: `no automatic acknowledgement: ${str(detailOf(suppressed).reason) ?? 'suppressed'}` };
    if (ack?.status === 'failed' && !metAt) return { code: 'send-failed', detail: `the acknowledgement could not be sent: ${ack.last_error ?? 'failed'}` };
    if (ack?.sent_at && ack.sent_at > d.due_at)
      return { code: 'sent-late', detail: `the acknowledgement was sent ${days(late)} late, after ${ack.attempts} attempt(s)` };
    return { code: 'not-acknowledged', detail: metAt ? `acknowledged ${days(late)} late` : `not acknowledged, ${days(late)} past the deadline` };
  }
  const asked = f.events.filter((e) => e.type === 'information-requested' && e.at <= d.due_at);
  if (!metAt && f.c.status === 'awaiting-customer' && asked.length)
    return {
      code: 'awaiting-customer',
      detail: `information requested from the customer on ${local(asked[asked.length - 1].at)}, ${days(late)} past the deadline`,
    };
  const final = f.outbox.filter((o) => o.kind === 'final-answer');
  if (!metAt && final.length && final.every((o) => o.status === 'failed'))
    return { code: 'send-failed', detail: `the final answer could not be sent: ${final[final.length - 1].last_error ?? 'failed'}` };
  if (extensions.length) {
    const last = detailOf(extensions[extensions.length - 1]);
    return {
      code: 'extended-still-late',
      detail: `extended to ${local(str(last.to))} (${str(last.reason) ?? 'no reason recorded'}), ${metAt ? 'met' : 'still open'} ${days(late)} after it`,
    };
  }
  if (metAt) return { code: 'answered-late', detail: `met ${days(late)} after the deadline` };
  return { code: 'no-answer', detail: `not met, ${days(late)} past the deadline` };
}

/** One register row per case. */
export function registerRow(facts: CaseFacts, now: Date, retentionYears: number | null = null): RegisterRow {
  const f = withExtensionFacts(facts);
  const at = now.toISOString();
  const mask = (s: string | null): string | null => (s === null ? null : maskPersonnummer(s, now));
  let fields: Record<string, unknown> = {};
  try {
    fields = JSON.parse(f.c.fields) as Record<string, unknown>;
  } catch {
    /* a case without readable fields still has a row */
  }
  let assessmentRaw: Record<string, unknown> = {};
  try {
    assessmentRaw = JSON.parse(f.c.assessment) as Record<string, unknown>;
  } catch {
    /* as above */
  }
  const closedAt = closedAtOf(f);
  const opened = f.events.find((e) => e.type === 'case-opened');
  const extended = f.events.filter((e) => e.type === 'deadline-extended');
  const extensionsOf = (milestone: string): EventRecord[] => extended.filter((e) => detailOf(e).milestone === milestone);

  const order = (m: string): number => {
    const i = (MILESTONES as readonly string[]).indexOf(m);
    return i < 0 ? MILESTONES.length : i;
  };
  const deadlines = [...f.deadlines]
    .sort((a, b) => order(a.milestone) - order(b.milestone) || a.milestone.localeCompare(b.milestone))
    .map((d): RegisterDeadline => {
      const metAt = metAtOf(f, d);
      const ext = extensionsOf(d.milestone);
      const missed = missedOf(f, d, ext);
      const result = resultOf(d, metAt, closedAt, at, missed);
      const cause =
        result === 'late' || result === 'overdue'
          ? missed && movedAfter(ext, missed).length
            ? missedCause(ext, missed)
            : causeOf(f, d, metAt, ext, at)
          : null;
      let rule = d.rule;
      try {
        rule = describeRule(JSON.parse(d.rule) as DeadlineRule);
      } catch {
        /* keep the stored text */
      }
      return {
        milestone: d.milestone,
        policy: d.policy,
        source: d.source,
        rule,
        computedFrom: d.computed_from,
        configVersion: d.config_version,
        calendarVersion: d.calendar_version,
        originalDueAt: ext.length ? (str(detailOf(ext[0]).from) ?? d.due_at) : d.due_at,
        dueAt: d.due_at,
        dueLocal: local(d.due_at)!,
        metAt,
        metLocal: local(metAt),
        result,
        breachRecordedAt: d.breached_at,
        breachCause: cause?.code ?? null,
        breachDetail: cause ? mask(cause.detail) : null,
      };
    });

  // Each policy's own deadline, never moved, against when its milestone was met: the firm's
  // promise and each statutory limit measured apart (a holding reply moves the effective
  // deadline, never PSD2's day 15). A regime the case is not under does not apply.
  const effective = new Map(f.deadlines.map((d) => [d.milestone, d]));
  const policyDeadlines = f.policyDeadlines.map((p): RegisterPolicyDeadline => {
    const e = effective.get(p.milestone === 'finalAnswerMax' ? 'finalAnswer' : p.milestone);
    const metAt = e ? metAtOf(f, e) : null;
    const notApplicable = p.not_applicable ?? (p.regime === 'psd2' && f.c.regime !== null && f.c.regime !== 'psd2' ? 'regime none' : null);
    return {
      milestone: p.milestone,
      policy: p.policy,
      source: p.source,
      statutory: p.statutory === 1,
      regime: p.regime,
      dueAt: p.due_at,
      dueLocal: local(p.due_at)!,
      metAt,
      result: resultOf({ due_at: p.due_at, not_applicable: notApplicable }, metAt, closedAt, at, null),
    };
  });

  const delays = extended.map((e): RegisterDelay => {
    const d = detailOf(e);
    const to = str(d.to) ?? '';
    const queued = f.events.find((q) => q.type === 'delay-notice-queued' && q.at === e.at && str(detailOf(q).to) === to);
    const suppressed = f.events.find((q) => q.type === 'delay-notice-suppressed' && q.at === e.at);
    const mail = queued?.outbox_id ? f.outbox.find((o) => o.id === queued.outbox_id) : undefined;
    let notice: RegisterDelay['notice'] = 'not sent';
    let noticeDetail: string | null = null;
    if (mail) {
      notice = mail.status === 'sent' ? 'sent' : mail.status === 'failed' ? 'failed' : 'queued';
      if (mail.status === 'failed') noticeDetail = mail.last_error;
    } else if (queued) notice = 'queued';
    else if (suppressed) {
      notice = 'suppressed';
      noticeDetail = str(detailOf(suppressed).reason);
    }
    return {
      at: e.at,
      milestone: str(d.milestone) ?? '',
      kind: d.holdingReply === true ? 'holding-reply' : 'delay-notice',
      fromDue: str(d.from) ?? '',
      toDue: to,
      toDueLocal: to ? local(to)! : '',
      reason: mask(str(d.reason) ?? '')!,
      by: e.actor,
      notice,
      noticeSentAt: mail?.sent_at ?? null,
      noticeDetail: mask(noticeDetail),
    };
  });

  const ack = f.outbox.find((o) => o.kind === 'acknowledgement');
  const suppressed = f.events.find((e) => e.type === 'acknowledgement-suppressed');
  const finals = f.outbox.filter((o) => o.kind === 'final-answer' && o.sent_at).map((o) => o.sent_at!);
  const outcomes = f.events.filter((e) => e.type === 'outcome-set');
  const openedDetail = opened ? detailOf(opened) : {};
  const refs = Array.isArray(fields.references) ? (fields.references as Array<{ type?: unknown; value?: unknown }>) : [];
  const assessment: Record<string, boolean | null> = {};
  for (const item of ASSESSMENT_ITEMS) assessment[item] = typeof assessmentRaw[item] === 'boolean' ? (assessmentRaw[item] as boolean) : null;
  for (const [k, v] of Object.entries(assessmentRaw)) if (!(k in assessment) && typeof v === 'boolean') assessment[k] = v;

  return {
    caseNumber: f.c.number,
    status: f.c.status,
    receivedAt: f.c.received_at,
    receivedLocal: local(f.c.received_at)!,
    filedAt: f.c.filed_at,
    channel: f.c.channel ?? 'email',
    source: f.firstInbound?.source ?? null,
    mailbox: f.firstInbound?.mailbox ?? null,
    forwardedBy: str(openedDetail.forwardedBy),
    messageId: f.firstInbound?.message_id ?? null,
    rawSha256: f.firstInbound?.sha256 ?? null,
    ...recordFields(f, closedAt, retentionYears, fields, mask),
    customerName: mask(f.c.customer_name),
    customerAddress: f.c.customer_address,
    personnummerMasked: str(fields.personnummerMasked),
    language: f.c.language,
    subject: mask(f.c.subject),
    category: f.c.category,
    references: refs.map((r) => ({ type: String(r.type ?? ''), value: mask(String(r.value ?? ''))! })),
    incidentDate: str(fields.incidentDate),
    compensationAsked: typeof fields.compensationAsked === 'boolean' ? fields.compensationAsked : null,
    amountsSek: Array.isArray(fields.amountsSek) ? [...new Set((fields.amountsSek as unknown[]).filter((x): x is number => typeof x === 'number'))] : [],
    compensationReason: mask(str(fields.compensationReason)),
    compensationPaidSek: f.c.compensation_sek,
    contactPerson: f.c.contact_officer,
    acknowledgementSentAt: ack?.sent_at ?? null,
    acknowledgementSuppressed: suppressed ? mask(str(detailOf(suppressed).reason) ?? 'suppressed') : null,
    informationRequests: f.events.filter((e) => e.type === 'information-requested').length,
    finalAnswerSentAt: finals.length ? finals.sort()[0] : null,
    approval: approvalOf(f),
    deadlines,
    regime: f.c.regime,
    policyDeadlines,
    delays,
    outcome: f.c.outcome,
    decidedBy: f.c.decided_by,
    decidedAt: outcomes.length ? outcomes[outcomes.length - 1].at : null,
    closedAt,
    closedLocal: local(closedAt),
    relatedCases: f.related,
    refersTo: f.refersTo,
    assessment,
    legalHold: mask(f.c.hold_reason),
    anonymisedAt: f.c.anonymised_at,
  };
}
