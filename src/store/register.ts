/**
 * The reads of the complaints register and the statistics (src/report/): the cases received in
 * a period with their deadlines, the events and mails the register reads, the mail that opened
 * each, its related cases; and the counts the statistics add (closings, the backlog, repeat
 * complainants, the previous period's categories).
 *
 * Read-only, with named columns: never `SELECT *` on cases, so that the personnummer column is
 * never read. Each table is read once for the whole period, whatever the number of cases. Time
 * bounds are UTC ISO instants, [start, end).
 */
import type { EventRow, PolicyDeadlineRow } from './rows';
import { StoreBase } from './base';

export interface CaseRecord {
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
  /** 'psd2' | 'none'; null in a database from before migration 11. */
  regime: string | null;
  /** The register of record (migration 13); the defaults in a database from before it. */
  channel: string | null;
  customer_type_by: string | null;
  representative_name: string | null;
  representative_address: string | null;
  product: string | null;
  inadmissible_reason: string | null;
  inadmissible_by: string | null;
  reasons_summary: string | null;
  compensation_paid_at: string | null;
  first_complained_at: string | null;
}

export interface DeadlineRecord {
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
export type EventRecord = Pick<EventRow, 'id' | 'at' | 'inbound_id' | 'outbox_id' | 'actor' | 'type' | 'from_state' | 'to_state' | 'detail'> & {
  case_id: number;
};

export interface OutboxRecord {
  id: number;
  case_id: number;
  kind: string;
  status: string;
  created_at: string;
  sent_at: string | null;
  attempts: number;
  last_error: string | null;
}

export interface InboundRecord {
  id: number;
  source: string;
  mailbox: string | null;
  sha256: string;
  message_id: string | null;
  received_at: string;
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
  'regime-changed',
  'case-reopened',
  'case-inadmissible',
  'reasons-recorded',
  // Four eyes on final answers: who drafted and who approved, and when.
  'final-answer-drafted',
  'final-answer-approved',
];

/** The register of record's columns of cases (migration 13). */
const RECORD_COLUMNS = [
  'channel',
  'customer_type_by',
  'representative_name',
  'representative_address',
  'product',
  'inadmissible_reason',
  'inadmissible_by',
  'reasons_summary',
  'compensation_paid_at',
  'first_complained_at',
] as const;

/** The cases received in the period, as a subquery (bound as @start and @end). */
const IN_PERIOD = 'SELECT id FROM cases WHERE received_at >= @start AND received_at < @end';

export class RegisterQueries extends StoreBase {
  /** Whether a table has a column (a later migration may add one: `customer_type`). */
  tableHasColumn(table: string, column: string): boolean {
    return (this.q(`PRAGMA table_info(${table})`).all() as Array<{ name: string }>).some((c) => c.name === column);
  }

  /** The cases received in [start, end), in received order; columns of later migrations read as NULL where the database lacks them. */
  casesReceivedBetween(start: string, end: string): CaseRecord[] {
    const optional = (column: string): string => (this.tableHasColumn('cases', column) ? `c.${column}` : 'NULL');
    return this.q(
      `SELECT c.id, c.number, c.status, c.customer_address, c.customer_name, c.subject, c.language, c.received_at, c.filed_at, c.fields,
              c.refers_to_case_id, c.contact_officer, c.category, c.outcome, c.decided_by, c.compensation_sek, c.assessment, c.updated_at,
              ${optional('customer_type')} AS customer_type, ${optional('hold_reason')} AS hold_reason, ${optional('anonymised_at')} AS anonymised_at, ${optional('regime')} AS regime,
              ${RECORD_COLUMNS.map((col) => `${optional(col)} AS ${col}`).join(', ')}
         FROM cases c WHERE c.received_at >= @start AND c.received_at < @end ORDER BY c.received_at, c.id`,
    ).all({ start, end }) as CaseRecord[];
  }

  /** The deadlines of the cases received in [start, end). */
  deadlinesOfCasesReceivedBetween(start: string, end: string): DeadlineRecord[] {
    return this.q(
      `SELECT case_id, milestone, due_at, rule, computed_from, met_at, policy, source, config_version, calendar_version, breached_at, not_applicable
           FROM deadlines WHERE case_id IN (${IN_PERIOD})`,
    ).all({ start, end }) as DeadlineRecord[];
  }

  /** Every policy's deadline (migration 11) of the cases received in [start, end); none in an older database. */
  policyDeadlinesOfCasesReceivedBetween(start: string, end: string): PolicyDeadlineRow[] {
    if (!this.tableHasColumn('policy_deadlines', 'case_id')) return [];
    return this.q(`SELECT * FROM policy_deadlines WHERE case_id IN (${IN_PERIOD}) ORDER BY due_at, policy`).all({ start, end }) as PolicyDeadlineRow[];
  }

  /** The events the register reads (EVENT_TYPES) of the cases received in [start, end), in id order. */
  registerEventsOfCasesReceivedBetween(start: string, end: string): EventRecord[] {
    return this.q(
      `SELECT id, at, case_id, inbound_id, outbox_id, actor, type, from_state, to_state, detail FROM events
          WHERE case_id IN (${IN_PERIOD}) AND type IN (${EVENT_TYPES.map((t) => `'${t}'`).join(', ')}) ORDER BY id`,
    ).all({ start, end }) as EventRecord[];
  }

  /** The mails to the customer (acknowledgements, answers, notices, requests) of the cases received in [start, end), in id order. */
  customerMailsOfCasesReceivedBetween(start: string, end: string): OutboxRecord[] {
    return this.q(
      `SELECT id, case_id, kind, status, created_at, sent_at, attempts, last_error FROM outbox
          WHERE case_id IN (${IN_PERIOD}) AND kind IN ('acknowledgement', 'final-answer', 'delay-notice', 'holding-reply', 'information-request') ORDER BY id`,
    ).all({ start, end }) as OutboxRecord[];
  }

  /** The mail that opened each case received in [start, end) (its case-opened event names it), else the case's first mail. */
  openingMailsOfCasesReceivedBetween(start: string, end: string): Array<InboundRecord & { case_id: number }> {
    return this.q(
      `SELECT c.id AS case_id, i.id, i.source, i.mailbox, i.sha256, i.message_id, i.received_at
         FROM cases c JOIN inbound i ON i.id = COALESCE(
           (SELECT e.inbound_id FROM events e WHERE e.case_id = c.id AND e.type = 'case-opened' AND e.inbound_id IS NOT NULL ORDER BY e.id LIMIT 1),
           (SELECT MIN(i2.id) FROM inbound i2 WHERE i2.case_id = c.id))
        WHERE c.id IN (${IN_PERIOD})`,
    ).all({ start, end }) as Array<InboundRecord & { case_id: number }>;
  }

  /** The numbers of the cases related to each case received in [start, end), by number. */
  relatedCasesOfCasesReceivedBetween(start: string, end: string): Array<{ case_id: number; number: string }> {
    return this.q(
      `SELECT r.case_id, o.number FROM case_relations r JOIN cases o ON o.id = r.related_case_id
        WHERE r.case_id IN (${IN_PERIOD}) ORDER BY o.number`,
    ).all({ start, end }) as Array<{ case_id: number; number: string }>;
  }

  caseNumberById(id: number): string | undefined {
    return (this.q('SELECT number FROM cases WHERE id = ?').get(id) as { number: string } | undefined)?.number;
  }

  // ---- statistics ----------------------------------------------------------------------

  /** Cases received in [start, end) by category (null: uncategorised). */
  casesReceivedByCategory(start: string, end: string): Array<{ category: string | null; n: number }> {
    return this.q('SELECT category, COUNT(*) AS n FROM cases WHERE received_at >= ? AND received_at < ? GROUP BY category').all(start, end) as Array<{
      category: string | null;
      n: number;
    }>;
  }

  /** Cases closed in [start, end), each once however often. */
  countCasesClosedBetween(start: string, end: string): number {
    return (
      this.q("SELECT COUNT(DISTINCT case_id) AS n FROM events WHERE type = 'status-changed' AND to_state = 'closed' AND at >= ? AND at < ?").get(
        start,
        end,
      ) as {
        n: number;
      }
    ).n;
  }

  /** The received instant of every case open at `asOf`, from the status history (for a moment past). */
  receivedAtOfCasesOpenAt(asOf: string): string[] {
    return (
      this.q(
        `SELECT c.received_at FROM cases c WHERE c.received_at < @asOf AND COALESCE(
               (SELECT e.to_state FROM events e WHERE e.case_id = c.id AND e.type = 'status-changed' AND e.at < @asOf ORDER BY e.id DESC LIMIT 1),
               'new') != 'closed'`,
      ).all({ asOf }) as Array<{ received_at: string }>
    ).map((r) => r.received_at);
  }

  /** The received instant of every case received before `before` that is open now (from the status column). */
  receivedAtOfOpenCasesReceivedBefore(before: string): string[] {
    return (this.q("SELECT received_at FROM cases WHERE received_at < ? AND status != 'closed'").all(before) as Array<{ received_at: string }>).map(
      (r) => r.received_at,
    );
  }

  /** Every customer address (lower case) with a case received in [start, end): its cases in the period and up to its end. */
  customersWithCasesReceivedBetween(start: string, end: string): Array<{ address: string; inPeriod: number; upToEnd: number }> {
    return this.q(
      `SELECT lower(customer_address) AS address, SUM(received_at >= @start) AS inPeriod, COUNT(*) AS upToEnd
           FROM cases WHERE customer_address IS NOT NULL AND received_at < @end
          GROUP BY lower(customer_address) HAVING SUM(received_at >= @start) > 0`,
    ).all({ start, end }) as Array<{ address: string; inPeriod: number; upToEnd: number }>;
  }
}
