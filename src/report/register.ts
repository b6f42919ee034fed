/**
 * The complaints register: one row per case received in a period, with what an auditor asks
 * to see (REGULATION.md §4 A): where the complaint came from and the hash of the raw mail,
 * who complained and as what (consumer/business), what it is about, every deadline with the
 * policy that set it and when it was met, every delay and holding reply with its reason, the
 * outcome and who decided it, compensation asked and paid, and the assessment checklist.
 *
 * Read-only: plain SELECTs on `store.db`, with named columns, never `SELECT *` on cases, so
 * that the personnummer column is never read (the register shows only the mask the parser
 * stored in the case's fields). Free text that officers or customers wrote (delay reasons,
 * subjects) is masked again on the way out, as a guard against a number that slipped through.
 *
 * Times: instants are UTC ISO 8601 (`...Z`); `...Local` values are Stockholm time with their
 * offset (2026-03-02T10:00:00+01:00). A period is a range of Stockholm dates, inclusive, and
 * takes the cases *received* (the mail reached the firm) on those dates.
 *
 * `now` decides only which open deadlines count as overdue; everything else is the database
 * as it stands when the report runs.
 */
import type { DB } from '../store/db';
import type { EventRow } from '../store/store';
import type { LocalDate } from '../util/stockholm-time';
import { addDays, isoDate, localTime, parseIsoDate, formatStockholm } from '../util/stockholm-time';
import { describeRule, DeadlineRule } from '../deadlines/rules';
import { MILESTONES } from '../deadlines/policy';
import { ASSESSMENT_ITEMS } from '../officers/commands';
import { maskPersonnummer } from '../util/personnummer';

// ---- the period -----------------------------------------------------------------------------

export interface ReportPeriod {
  /** Stockholm dates, inclusive. */
  readonly from: LocalDate;
  readonly to: LocalDate;
  /** 00:00 Stockholm time on `from` (inclusive) and on the day after `to` (exclusive), UTC ISO. */
  readonly start: string;
  readonly end: string;
  /** Number of days in the period. */
  readonly days: number;
}

export class PeriodError extends Error {}

export function makePeriod(from: LocalDate, to: LocalDate): ReportPeriod {
  const days = Math.round((Date.UTC(to.y, to.m - 1, to.d) - Date.UTC(from.y, from.m - 1, from.d)) / 86_400_000) + 1;
  if (days < 1) throw new PeriodError(`--from ${isoDate(from)} is after --to ${isoDate(to)}`);
  return { from, to, start: localTime(from, 0, 0, 0).toISOString(), end: localTime(addDays(to, 1), 0, 0, 0).toISOString(), days };
}

/** "YYYY-MM-DD" twice -> a period, or PeriodError saying which one is wrong and how to write it. */
export function parsePeriod(from: string, to: string): ReportPeriod {
  const f = parseIsoDate(from.trim());
  const t = parseIsoDate(to.trim());
  if (!f) throw new PeriodError(`--from '${from}' is not a date; write YYYY-MM-DD (a Stockholm date, e.g. 2026-03-01)`);
  if (!t) throw new PeriodError(`--to '${to}' is not a date; write YYYY-MM-DD (a Stockholm date, e.g. 2026-03-31)`);
  return makePeriod(f, t);
}

/** The period of the same length just before `p` (for "rising categories"). */
export function previousPeriod(p: ReportPeriod): ReportPeriod {
  return makePeriod(addDays(p.from, -p.days), addDays(p.from, -1));
}

// ---- the facts of a case, as read from the database ----------------------------------------

interface CaseRecord {
  id: number;
  number: string;
  status: string;
  customer_address: string | null;
  customer_name: string | null;
  subject: string | null;
  language: string;
  received_at: string;
  filed_at: string;
  fields: string;
  refers_to_case_id: number | null;
  contact_officer: string | null;
  category: string | null;
  outcome: string | null;
  decided_by: string | null;
  compensation_sek: number | null;
  assessment: string;
  updated_at: string;
  customer_type: string | null;
  hold_reason: string | null;
  anonymised_at: string | null;
}

interface DeadlineRecord {
  case_id: number;
  milestone: string;
  due_at: string;
  rule: string;
  computed_from: string;
  met_at: string | null;
  policy: string | null;
  source: string | null;
  config_version: string | null;
  calendar_version: string | null;
  breached_at: string | null;
  /** Why the deadline does not apply ('imported'), or null. */
  not_applicable: string | null;
}

/** The event columns the register reads (events of a case: never without one). */
type EventRecord = Pick<EventRow, 'id' | 'at' | 'inbound_id' | 'outbox_id' | 'actor' | 'type' | 'from_state' | 'to_state' | 'detail'> & { case_id: number };

interface OutboxRecord {
  id: number;
  case_id: number;
  kind: string;
  status: string;
  created_at: string;
  sent_at: string | null;
  attempts: number;
  last_error: string | null;
}

interface InboundRecord {
  id: number;
  source: string;
  mailbox: string | null;
  sha256: string;
  message_id: string | null;
  received_at: string;
}

/** Everything the register and the statistics know about one case. */
export interface CaseFacts {
  readonly c: CaseRecord;
  readonly deadlines: readonly DeadlineRecord[];
  readonly events: readonly EventRecord[];
  readonly outbox: readonly OutboxRecord[];
  readonly firstInbound: InboundRecord | null;
  readonly related: readonly string[];
  readonly refersTo: string | null;
}

/** Event types the register reads (the rest of the history is `case show --audit`'s). */
const EVENT_TYPES = [
  'case-opened',
  'deadline-extended',
  'delay-notice-queued',
  'delay-notice-suppressed',
  'acknowledgement-suppressed',
  'status-changed',
  'outcome-set',
  'information-requested',
  'deadline-breached',
];

/** Whether the cases table has a column (a later migration may add `customer_type`). */
function hasColumn(db: DB, table: string, column: string): boolean {
  return (db.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string }>).some((c) => c.name === column);
}

/** The columns this module needs; a database older than migration 5 cannot be reported on. */
export function checkSchema(db: DB): void {
  for (const col of ['outcome', 'decided_by', 'compensation_sek', 'assessment', 'category', 'contact_officer']) {
    if (!hasColumn(db, 'cases', col)) {
      throw new Error(`the database has no cases.${col} (an older schema): open it once with this version of klagomal (e.g. 'klagomal cases') to upgrade it`);
    }
  }
}

/**
 * The facts of every case received in [start, end) (UTC ISO bounds), in received order. Seven
 * queries whatever the number of cases: each table is read once for the whole period.
 */
export function readCaseFacts(db: DB, start: string, end: string): CaseFacts[] {
  // Columns of later migrations, read when the database has them.
  const optional = (column: string): string => (hasColumn(db, 'cases', column) ? `c.${column}` : 'NULL');
  const inPeriod = 'SELECT id FROM cases WHERE received_at >= @start AND received_at < @end';
  const args = { start, end };
  const cases = db
    .prepare(
      `SELECT c.id, c.number, c.status, c.customer_address, c.customer_name, c.subject, c.language, c.received_at, c.filed_at, c.fields,
              c.refers_to_case_id, c.contact_officer, c.category, c.outcome, c.decided_by, c.compensation_sek, c.assessment, c.updated_at,
              ${optional('customer_type')} AS customer_type, ${optional('hold_reason')} AS hold_reason, ${optional('anonymised_at')} AS anonymised_at
         FROM cases c WHERE c.received_at >= @start AND c.received_at < @end ORDER BY c.received_at, c.id`,
    )
    .all(args) as CaseRecord[];
  const byCase = <T extends { case_id: number }>(rows: T[]): Map<number, T[]> => {
    const m = new Map<number, T[]>();
    for (const r of rows) {
      const list = m.get(r.case_id);
      if (list) list.push(r);
      else m.set(r.case_id, [r]);
    }
    return m;
  };
  const deadlines = byCase(
    db
      .prepare(
        `SELECT case_id, milestone, due_at, rule, computed_from, met_at, policy, source, config_version, calendar_version, breached_at, not_applicable
           FROM deadlines WHERE case_id IN (${inPeriod})`,
      )
      .all(args) as DeadlineRecord[],
  );
  const events = byCase(
    db
      .prepare(
        `SELECT id, at, case_id, inbound_id, outbox_id, actor, type, from_state, to_state, detail FROM events
          WHERE case_id IN (${inPeriod}) AND type IN (${EVENT_TYPES.map((t) => `'${t}'`).join(', ')}) ORDER BY id`,
      )
      .all(args) as EventRecord[],
  );
  const outbox = byCase(
    db
      .prepare(
        `SELECT id, case_id, kind, status, created_at, sent_at, attempts, last_error FROM outbox
          WHERE case_id IN (${inPeriod}) AND kind IN ('acknowledgement', 'final-answer', 'delay-notice', 'holding-reply', 'information-request') ORDER BY id`,
      )
      .all(args) as OutboxRecord[],
  );
  // The mail that opened the case (its case-opened event names it), else the case's first mail.
  const inbound = new Map<number, InboundRecord>();
  for (const r of db
    .prepare(
      `SELECT c.id AS case_id, i.id, i.source, i.mailbox, i.sha256, i.message_id, i.received_at
         FROM cases c JOIN inbound i ON i.id = COALESCE(
           (SELECT e.inbound_id FROM events e WHERE e.case_id = c.id AND e.type = 'case-opened' AND e.inbound_id IS NOT NULL ORDER BY e.id LIMIT 1),
           (SELECT MIN(i2.id) FROM inbound i2 WHERE i2.case_id = c.id))
        WHERE c.id IN (${inPeriod})`,
    )
    .all(args) as Array<InboundRecord & { case_id: number }>) {
    const { case_id, ...rest } = r;
    inbound.set(case_id, rest);
  }
  const related = new Map<number, string[]>();
  for (const r of db
    .prepare(
      `SELECT r.case_id, o.number FROM case_relations r JOIN cases o ON o.id = r.related_case_id
        WHERE r.case_id IN (${inPeriod}) ORDER BY o.number`,
    )
    .all(args) as Array<{ case_id: number; number: string }>) {
    const list = related.get(r.case_id) ?? [];
    list.push(r.number);
    related.set(r.case_id, list);
  }
  const numbers = new Map<number, string>();
  const refIds = [...new Set(cases.map((c) => c.refers_to_case_id).filter((x): x is number => x !== null))];
  const numberOf = db.prepare('SELECT number FROM cases WHERE id = ?');
  for (const id of refIds) numbers.set(id, (numberOf.get(id) as { number: string } | undefined)?.number ?? `#${id}`);

  return cases.map((c) => ({
    c,
    deadlines: deadlines.get(c.id) ?? [],
    events: events.get(c.id) ?? [],
    outbox: outbox.get(c.id) ?? [],
    firstInbound: inbound.get(c.id) ?? null,
    related: related.get(c.id) ?? [],
    refersTo: c.refers_to_case_id !== null ? (numbers.get(c.refers_to_case_id) ?? null) : null,
  }));
}

// ---- register rows --------------------------------------------------------------------------

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

export interface RegisterRow {
  readonly caseNumber: string;
  readonly status: string;
  readonly receivedAt: string;
  readonly receivedLocal: string;
  readonly filedAt: string;
  readonly channel: 'email';
  /** The configured source (its name) and the mailbox or folder the first mail came from. */
  readonly source: string | null;
  readonly mailbox: string | null;
  /** Staff who forwarded the customer's mail to the complaints address. */
  readonly forwardedBy: string | null;
  readonly messageId: string | null;
  readonly rawSha256: string | null;
  readonly customerType: 'consumer' | 'business';
  /** 'recorded' on the case, or 'default': nothing on the case says, and the firm's customers are consumers unless recorded otherwise. */
  readonly customerTypeSource: 'recorded' | 'default';
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
  readonly deadlines: readonly RegisterDeadline[];
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

function resultOf(d: { due_at: string; not_applicable: string | null }, metAt: string | null, closedAt: string | null, now: string): DeadlineResult {
  if (d.not_applicable) return 'not-applicable';
  if (metAt) return metAt <= d.due_at ? 'in-time' : 'late';
  if (closedAt && closedAt <= d.due_at) return 'closed-without';
  return now > d.due_at ? 'overdue' : 'open';
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

function customerTypeOf(f: CaseFacts, fields: Record<string, unknown>): { type: 'consumer' | 'business'; source: 'recorded' | 'default' } {
  const recorded = f.c.customer_type ?? str(fields.customerType);
  if (recorded === 'business' || recorded === 'consumer') return { type: recorded, source: 'recorded' };
  return { type: 'consumer', source: 'default' };
}

/** One register row per case. */
export function registerRow(f: CaseFacts, now: Date): RegisterRow {
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
      const result = resultOf(d, metAt, closedAt, at);
      const ext = extensionsOf(d.milestone);
      const cause = result === 'late' || result === 'overdue' ? causeOf(f, d, metAt, ext, at) : null;
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
  const type = customerTypeOf(f, fields);
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
    channel: 'email',
    source: f.firstInbound?.source ?? null,
    mailbox: f.firstInbound?.mailbox ?? null,
    forwardedBy: str(openedDetail.forwardedBy),
    messageId: f.firstInbound?.message_id ?? null,
    rawSha256: f.firstInbound?.sha256 ?? null,
    customerType: type.type,
    customerTypeSource: type.source,
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
    deadlines,
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

// ---- CSV ------------------------------------------------------------------------------------

/**
 * A cell for a spreadsheet. RFC 4180: a field with a comma, quote, CR or LF is quoted and its
 * quotes doubled. Formula injection (OWASP "CSV Injection"): a text that starts with = + - @,
 * a tab or a CR would be run as a formula by Excel or LibreOffice; it gets a leading ' so it
 * stays text. Numbers we computed are written as numbers.
 */
export function csvCell(v: string | number | boolean | null | undefined): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  let s = v;
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The milestones that get their own columns, in order. */
const CSV_MILESTONES = ['acknowledgement', 'firstAnswer', 'finalAnswer', 'finalAnswerMax'] as const;

type CsvColumn = readonly [header: string, value: (r: RegisterRow) => string | number | boolean | null];

const deadlineOf = (r: RegisterRow, m: string): RegisterDeadline | undefined => r.deadlines.find((d) => d.milestone === m);

const CSV_COLUMNS: readonly CsvColumn[] = [
  ['case_number', (r) => r.caseNumber],
  ['status', (r) => r.status],
  ['received_utc', (r) => r.receivedAt],
  ['received_local', (r) => r.receivedLocal],
  ['filed_utc', (r) => r.filedAt],
  ['channel', (r) => r.channel],
  ['source', (r) => r.source],
  ['mailbox', (r) => r.mailbox],
  ['forwarded_by', (r) => r.forwardedBy],
  ['message_id', (r) => r.messageId],
  ['raw_sha256', (r) => r.rawSha256],
  ['customer_type', (r) => r.customerType],
  ['customer_type_source', (r) => r.customerTypeSource],
  ['customer_name', (r) => r.customerName],
  ['customer_address', (r) => r.customerAddress],
  ['personnummer_masked', (r) => r.personnummerMasked],
  ['language', (r) => r.language],
  ['subject', (r) => r.subject],
  ['category', (r) => r.category],
  ['references', (r) => r.references.map((x) => `${x.type}:${x.value}`).join('; ')],
  ['incident_date', (r) => r.incidentDate],
  ['compensation_asked', (r) => r.compensationAsked],
  ['amounts_mentioned_sek', (r) => r.amountsSek.join('; ')],
  ['compensation_reason', (r) => r.compensationReason],
  ['compensation_paid_sek', (r) => r.compensationPaidSek],
  ['contact_person', (r) => r.contactPerson],
  ['acknowledgement_sent_utc', (r) => r.acknowledgementSentAt],
  ['acknowledgement_suppressed', (r) => r.acknowledgementSuppressed],
  ['information_requests', (r) => r.informationRequests],
  ['final_answer_sent_utc', (r) => r.finalAnswerSentAt],
  ...CSV_MILESTONES.flatMap((m): CsvColumn[] => [
    [`${m}_policy`, (r) => deadlineOf(r, m)?.policy ?? null],
    [`${m}_rule`, (r) => deadlineOf(r, m)?.rule ?? null],
    [`${m}_policy_source`, (r) => deadlineOf(r, m)?.source ?? null],
    [`${m}_original_due_local`, (r) => local(deadlineOf(r, m)?.originalDueAt ?? null)],
    [`${m}_due_local`, (r) => deadlineOf(r, m)?.dueLocal ?? null],
    [`${m}_met_local`, (r) => deadlineOf(r, m)?.metLocal ?? null],
    [`${m}_result`, (r) => deadlineOf(r, m)?.result ?? null],
    [`${m}_breach_cause`, (r) => deadlineOf(r, m)?.breachDetail ?? null],
  ]),
  ['holding_replies', (r) => r.delays.filter((d) => d.kind === 'holding-reply').length],
  ['delay_notices', (r) => r.delays.filter((d) => d.kind === 'delay-notice').length],
  [
    'delays',
    (r) =>
      r.delays
        .map(
          (d) =>
            `${d.at} ${d.kind} ${d.milestone} to ${d.toDueLocal} by ${d.by}: ${d.reason} (notice ${d.notice}${d.noticeSentAt ? ` ${d.noticeSentAt}` : ''})`,
        )
        .join(' | '),
  ],
  ['outcome', (r) => r.outcome],
  ['decided_by', (r) => r.decidedBy],
  ['decided_utc', (r) => r.decidedAt],
  ['closed_utc', (r) => r.closedAt],
  ['closed_local', (r) => r.closedLocal],
  ['related_cases', (r) => r.relatedCases.join(' ')],
  ['refers_to', (r) => r.refersTo],
  ...ASSESSMENT_ITEMS.map((item): CsvColumn => [`assessment_${item.replace(/-/g, '_')}`, (r) => r.assessment[item] ?? null]),
  ['legal_hold', (r) => r.legalHold],
  ['anonymised_utc', (r) => r.anonymisedAt],
];

export const CSV_HEADERS: readonly string[] = CSV_COLUMNS.map((c) => c[0]);

/** The register as CSV: UTF-8 with a byte order mark (Excel reads UTF-8 only with one), CRLF line ends (RFC 4180). */
export function registerCsv(rows: readonly RegisterRow[]): string {
  const lines = [CSV_HEADERS.map(csvCell).join(','), ...rows.map((r) => CSV_COLUMNS.map(([, v]) => csvCell(v(r))).join(','))];
  return `\uFEFF${lines.join('\r\n')}\r\n`;
}
