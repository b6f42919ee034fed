/**
 * The register of record's SQL (migration 13): what officers record on a case beyond its state
 * (channel, customer type, representative, product, inadmissible, reasons, compensation paid,
 * first contact), and its ARN and court referrals, root causes and corrective actions
 * (src/officers/record-commands.ts writes them; src/report/register.ts reads them).
 */
import type { Instant } from '../util/clock';
import type { Channel } from './rows';
import { StoreBase } from './base';

export interface CaseRecordChange {
  channel?: Channel;
  postalAddress?: string | null;
  customerType?: 'consumer' | 'business';
  customerTypeBy?: string;
  representativeName?: string | null;
  representativeAddress?: string | null;
  product?: string;
  inadmissibleReason?: string | null;
  inadmissibleBy?: string | null;
  reasonsSummary?: string;
  compensationPaidAt?: string;
  firstComplainedAt?: string;
}

export interface ReferralRow {
  id: number;
  case_id: number;
  body: 'arn' | 'court';
  reference: string;
  state: string;
  at: Instant;
  actor: string;
}

export interface CauseRow {
  id: number;
  case_id: number;
  code: string;
  text: string | null;
  at: Instant;
  actor: string;
}

/** An extension or holding reply as a fact without personal data (migration 13). */
export interface ExtensionRow {
  id: number;
  case_id: number;
  milestone: string;
  at: Instant;
  from_due: Instant;
  to_due: Instant;
  holding_reply: 0 | 1;
  late: 0 | 1;
}

export interface ActionRow {
  id: number;
  case_id: number;
  text: string;
  state: 'planned' | 'done';
  at: Instant;
  done_at: Instant | null;
  actor: string;
}

const COLUMNS: Record<keyof CaseRecordChange, string> = {
  channel: 'channel',
  postalAddress: 'postal_address',
  customerType: 'customer_type',
  customerTypeBy: 'customer_type_by',
  representativeName: 'representative_name',
  representativeAddress: 'representative_address',
  product: 'product',
  inadmissibleReason: 'inadmissible_reason',
  inadmissibleBy: 'inadmissible_by',
  reasonsSummary: 'reasons_summary',
  compensationPaidAt: 'compensation_paid_at',
  firstComplainedAt: 'first_complained_at',
};

/** The cases received in [start, end), as a subquery (bound as @start and @end). */
const IN_PERIOD = 'SELECT id FROM cases WHERE received_at >= @start AND received_at < @end';

export class RecordQueries extends StoreBase {
  setCaseRecord(id: number, change: CaseRecordChange, at: Instant): void {
    const entries = (Object.keys(COLUMNS) as Array<keyof CaseRecordChange>).filter((k) => change[k] !== undefined);
    if (entries.length === 0) return;
    // Column names come from the fixed map above, never from input; values are bound.
    const sets = entries.map((k) => `${COLUMNS[k]} = ?`);
    this.q(`UPDATE cases SET ${sets.join(', ')}, updated_at = ? WHERE id = ?`).run(...entries.map((k) => change[k] ?? null), at, id);
  }

  addReferral(r: Omit<ReferralRow, 'id'>): void {
    this.q('INSERT INTO case_referrals (case_id, body, reference, state, at, actor) VALUES (?, ?, ?, ?, ?, ?)').run(
      r.case_id,
      r.body,
      r.reference,
      r.state,
      r.at,
      r.actor,
    );
  }

  referralsOfCase(caseId: number): ReferralRow[] {
    return this.q('SELECT * FROM case_referrals WHERE case_id = ? ORDER BY id').all(caseId) as ReferralRow[];
  }

  addCause(r: Omit<CauseRow, 'id'>): void {
    this.q('INSERT INTO case_causes (case_id, code, text, at, actor) VALUES (?, ?, ?, ?, ?)').run(r.case_id, r.code, r.text, r.at, r.actor);
  }

  causesOfCase(caseId: number): CauseRow[] {
    return this.q('SELECT * FROM case_causes WHERE case_id = ? ORDER BY id').all(caseId) as CauseRow[];
  }

  addAction(r: Omit<ActionRow, 'id' | 'done_at'>): number {
    const done = r.state === 'done' ? r.at : null;
    return Number(
      this.q('INSERT INTO case_actions (case_id, text, state, at, done_at, actor) VALUES (?, ?, ?, ?, ?, ?)').run(
        r.case_id,
        r.text,
        r.state,
        r.at,
        done,
        r.actor,
      ).lastInsertRowid,
    );
  }

  /** Mark a case's action done; false when it has no such action or it was done already. */
  markActionDone(caseId: number, actionId: number, at: Instant): boolean {
    return (
      this.q("UPDATE case_actions SET state = 'done', done_at = ? WHERE id = ? AND case_id = ? AND state = 'planned'").run(at, actionId, caseId).changes === 1
    );
  }

  actionsOfCase(caseId: number): ActionRow[] {
    return this.q('SELECT * FROM case_actions WHERE case_id = ? ORDER BY id').all(caseId) as ActionRow[];
  }

  recordExtension(e: Omit<ExtensionRow, 'id'>): void {
    this.q('INSERT INTO deadline_extensions (case_id, milestone, at, from_due, to_due, holding_reply, late) VALUES (?, ?, ?, ?, ?, ?, ?)').run(
      e.case_id,
      e.milestone,
      e.at,
      e.from_due,
      e.to_due,
      e.holding_reply,
      e.late,
    );
  }

  /** Referrals, causes and actions of the cases received in [start, end) (the register's). */
  recordOfCasesReceivedBetween(start: string, end: string): { referrals: ReferralRow[]; causes: CauseRow[]; actions: ActionRow[]; extensions: ExtensionRow[] } {
    // A report opens the database read-only: one from before migration 13 has none of these.
    const tables = this.q("SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'case_referrals'").get() as { n: number };
    if (tables.n === 0) return { referrals: [], causes: [], actions: [], extensions: [] };
    return {
      referrals: this.q(`SELECT * FROM case_referrals WHERE case_id IN (${IN_PERIOD}) ORDER BY id`).all({ start, end }) as ReferralRow[],
      causes: this.q(`SELECT * FROM case_causes WHERE case_id IN (${IN_PERIOD}) ORDER BY id`).all({ start, end }) as CauseRow[],
      actions: this.q(`SELECT * FROM case_actions WHERE case_id IN (${IN_PERIOD}) ORDER BY id`).all({ start, end }) as ActionRow[],
      extensions: this.q(`SELECT * FROM deadline_extensions WHERE case_id IN (${IN_PERIOD}) ORDER BY id`).all({ start, end }) as ExtensionRow[],
    };
  }
}
