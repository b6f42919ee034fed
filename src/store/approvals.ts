/**
 * Final answers waiting for approval (migration 14): the drafts, their guarded state changes and
 * the lookups the commands, escalation, the digest and the register make. The state machine
 * itself (which change is allowed, and its event) is src/cases/transitions.ts.
 */
import type { Instant } from '../util/clock';
import type { NewOutbox } from './rows';
import { StoreBase } from './base';

export type DraftState = 'pending' | 'approved' | 'returned' | 'replaced';

export interface FinalAnswerDraftRow {
  id: number;
  case_id: number;
  state: DraftState;
  author: string;
  inbound_id: number | null;
  outcome: string | null;
  words: number;
  /** The final answer as the customer gets it: a NewOutbox as JSON. */
  mail: string;
  /** The approvers asked, a JSON list of addresses. */
  approvers: string;
  drafted_at: Instant;
  decided_by: string | null;
  decided_at: Instant | null;
  return_reason: string | null;
  replaced_by: number | null;
  outbox_id: number | null;
}

/** A draft waiting, with its case, for escalation and the digest. */
export interface PendingDraftRow extends FinalAnswerDraftRow {
  number: string;
  subject: string | null;
  contact_officer: string | null;
  final_due_at: Instant | null;
}

export class ApprovalQueries extends StoreBase {
  insertDraft(d: {
    caseId: number;
    author: string;
    inboundId: number | null;
    outcome: string | null;
    words: number;
    mail: NewOutbox;
    approvers: readonly string[];
    at: Instant;
  }): number {
    const info = this.q(
      `INSERT INTO final_answer_drafts (case_id, state, author, inbound_id, outcome, words, mail, approvers, drafted_at)
         VALUES (?, 'pending', ?, ?, ?, ?, ?, ?, ?)`,
    ).run(d.caseId, d.author, d.inboundId, d.outcome, d.words, JSON.stringify(d.mail), JSON.stringify(d.approvers), d.at);
    return Number(info.lastInsertRowid);
  }

  draftById(id: number): FinalAnswerDraftRow | undefined {
    return this.q('SELECT * FROM final_answer_drafts WHERE id = ?').get(id) as FinalAnswerDraftRow | undefined;
  }

  draftsOfCase(caseId: number): FinalAnswerDraftRow[] {
    return this.q('SELECT * FROM final_answer_drafts WHERE case_id = ? ORDER BY id').all(caseId) as FinalAnswerDraftRow[];
  }

  pendingDraftOfCase(caseId: number): FinalAnswerDraftRow | undefined {
    return this.q("SELECT * FROM final_answer_drafts WHERE case_id = ? AND state = 'pending'").get(caseId) as FinalAnswerDraftRow | undefined;
  }

  /**
   * The draft an approval request (an outbox row of kind approval-request, idempotency key
   * `approval-request:<draft id>:<approver>`) of this case was about, by the request's
   * Message-ID; the last of `messageIds` that names one wins (In-Reply-To is given last).
   */
  draftOfApprovalRequest(caseId: number, messageIds: readonly string[]): FinalAnswerDraftRow | undefined {
    for (const id of [...messageIds].reverse()) {
      const row = this.q("SELECT idempotency_key FROM outbox WHERE message_id = ? AND kind = 'approval-request' AND case_id = ?").get(id, caseId) as
        { idempotency_key: string } | undefined;
      const draftId = row ? Number(row.idempotency_key.split(':')[1]) : NaN;
      if (Number.isInteger(draftId)) return this.draftById(draftId);
    }
    return undefined;
  }

  /** Guarded: move a draft from `from` to `to`; false when it was not in `from` (changed meanwhile). */
  setDraftState(
    id: number,
    from: DraftState,
    to: DraftState,
    o: { by: string | null; at: Instant; reason?: string | null; replacedBy?: number | null; outboxId?: number | null },
  ): boolean {
    return (
      this.q(
        `UPDATE final_answer_drafts SET state = ?, decided_by = ?, decided_at = ?, return_reason = ?, replaced_by = ?, outbox_id = ?
           WHERE id = ? AND state = ?`,
      ).run(to, o.by, o.at, o.reason ?? null, o.replacedBy ?? null, o.outboxId ?? null, id, from).changes === 1
    );
  }

  setDraftReplacedBy(id: number, by: number): void {
    this.q("UPDATE final_answer_drafts SET replaced_by = ? WHERE id = ? AND state = 'replaced'").run(by, id);
  }

  /** Retention: the drafts' texts go (the answer, a return reason); who wrote and decided, and when, stay. */
  blankDraftsOfCase(caseId: number): number {
    return this.q("UPDATE final_answer_drafts SET mail = '{}', return_reason = NULL WHERE case_id = ?").run(caseId).changes;
  }

  /** Every draft waiting, oldest first, with its case and the final answer's effective deadline. */
  pendingDrafts(): PendingDraftRow[] {
    return this.q(
      `SELECT d.*, c.number, c.subject, c.contact_officer,
              (SELECT due_at FROM deadlines x WHERE x.case_id = d.case_id AND x.milestone = 'finalAnswer') AS final_due_at
         FROM final_answer_drafts d JOIN cases c ON c.id = d.case_id
        WHERE d.state = 'pending' ORDER BY d.drafted_at, d.id`,
    ).all() as PendingDraftRow[];
  }

  /** The approved drafts of the cases given (for the register): the latest per case. */
  approvedDraftsOf(caseIds: readonly number[]): Map<number, FinalAnswerDraftRow> {
    const out = new Map<number, FinalAnswerDraftRow>();
    for (const id of caseIds) {
      const row = this.q("SELECT * FROM final_answer_drafts WHERE case_id = ? AND state = 'approved' ORDER BY id DESC LIMIT 1").get(id) as
        FinalAnswerDraftRow | undefined;
      if (row) out.set(id, row);
    }
    return out;
  }
}
