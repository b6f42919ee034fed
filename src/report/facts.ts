/**
 * The facts of the cases received in a period, as the register and the statistics read them
 * from the store (src/store/register.ts): each case with its deadlines, the events and mails the
 * register reads, the mail that opened it, its related cases and the case it refers to.
 *
 * Read-only. The caller runs it in one read transaction, so that every query sees the same
 * state even while the service files mail.
 */
import type { ActionRow, CauseRow, ExtensionRow, ReferralRow } from '../store/record';
import type { PolicyDeadlineRow, Store } from '../store/store';
import type { CaseRecord, DeadlineRecord, EventRecord, InboundRecord, OutboxRecord } from '../store/register';

export type { CaseRecord, DeadlineRecord, EventRecord, InboundRecord, OutboxRecord } from '../store/register';

/** Everything the register and the statistics know about one case. */
export interface CaseFacts {
  readonly c: CaseRecord;
  readonly deadlines: readonly DeadlineRecord[];
  /** Every policy's own deadline, never moved (migration 11; none for cases filed before it). */
  readonly policyDeadlines: readonly PolicyDeadlineRow[];
  readonly events: readonly EventRecord[];
  readonly outbox: readonly OutboxRecord[];
  readonly firstInbound: InboundRecord | null;
  readonly related: readonly string[];
  readonly refersTo: string | null;
  /** ARN and court referrals, root causes, corrective actions (migration 13). */
  readonly referrals: readonly ReferralRow[];
  readonly causes: readonly CauseRow[];
  readonly actions: readonly ActionRow[];
  /** Extensions and holding replies without their reasons: what the register counts once the events are anonymised. */
  readonly extensions: readonly ExtensionRow[];
}

/** The columns this module needs; a database older than migration 5 cannot be reported on. */
export function checkSchema(store: Store): void {
  for (const col of ['outcome', 'decided_by', 'compensation_sek', 'assessment', 'category', 'contact_officer']) {
    if (!store.tableHasColumn('cases', col)) {
      throw new Error(`the database has no cases.${col} (an older schema): open it once with this version of klagomal (e.g. 'klagomal cases') to upgrade it`);
    }
  }
}

/**
 * The facts of every case received in [start, end) (UTC ISO bounds), in received order. Seven
 * queries whatever the number of cases: each table is read once for the whole period.
 */
export function readCaseFacts(store: Store, start: string, end: string): CaseFacts[] {
  const cases = store.casesReceivedBetween(start, end);
  const byCase = <T extends { case_id: number }>(rows: T[]): Map<number, T[]> => {
    const m = new Map<number, T[]>();
    for (const r of rows) {
      const list = m.get(r.case_id);
      if (list) list.push(r);
      else m.set(r.case_id, [r]);
    }
    return m;
  };
  const deadlines = byCase(store.deadlinesOfCasesReceivedBetween(start, end));
  const policyDeadlines = byCase(store.policyDeadlinesOfCasesReceivedBetween(start, end));
  const events = byCase(store.registerEventsOfCasesReceivedBetween(start, end));
  const outbox = byCase(store.customerMailsOfCasesReceivedBetween(start, end));
  // The mail that opened the case (its case-opened event names it), else the case's first mail.
  const inbound = new Map<number, InboundRecord>();
  for (const r of store.openingMailsOfCasesReceivedBetween(start, end)) {
    const { case_id, ...rest } = r;
    inbound.set(case_id, rest);
  }
  const related = new Map<number, string[]>();
  for (const r of store.relatedCasesOfCasesReceivedBetween(start, end)) {
    const list = related.get(r.case_id) ?? [];
    list.push(r.number);
    related.set(r.case_id, list);
  }
  const record = store.recordOfCasesReceivedBetween(start, end);
  const referrals = byCase(record.referrals);
  const causes = byCase(record.causes);
  const actions = byCase(record.actions);
  const extensions = byCase(record.extensions);
  const numbers = new Map<number, string>();
  const refIds = [...new Set(cases.map((c) => c.refers_to_case_id).filter((x): x is number => x !== null))];
  for (const id of refIds) numbers.set(id, store.caseNumberById(id) ?? `#${id}`);

  return cases.map((c) => ({
    c,
    deadlines: deadlines.get(c.id) ?? [],
    policyDeadlines: policyDeadlines.get(c.id) ?? [],
    events: events.get(c.id) ?? [],
    outbox: outbox.get(c.id) ?? [],
    firstInbound: inbound.get(c.id) ?? null,
    related: related.get(c.id) ?? [],
    refersTo: c.refers_to_case_id !== null ? (numbers.get(c.refers_to_case_id) ?? null) : null,
    referrals: referrals.get(c.id) ?? [],
    causes: causes.get(c.id) ?? [],
    actions: actions.get(c.id) ?? [],
    extensions: extensions.get(c.id) ?? [],
  }));
}
