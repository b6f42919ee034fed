/**
 * Deadlines: stored with the inputs of their computation; met, moved, escalated and breached.
 */
import type { Instant } from '../util/clock';
import type { DeadlineRow, NewDeadline, NewPolicyDeadline, OpenDeadlineRow, PolicyDeadlineRow } from './rows';
import { StoreBase } from './base';

export class DeadlineQueries extends StoreBase {
  // ---- deadlines -----------------------------------------------------------------------

  setDeadline(d: NewDeadline): void {
    this.q(
      `INSERT INTO deadlines (case_id, milestone, due_at, rule, computed_from, policy, source, config_version, calendar_version, next_escalation_at, not_applicable)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      d.caseId,
      d.milestone,
      d.dueAt,
      JSON.stringify(d.rule),
      d.computedFrom,
      d.policy,
      d.source,
      d.configVersion,
      d.calendarVersion,
      d.notApplicable ? null : d.nextEscalationAt,
      d.notApplicable ?? null,
    );
  }

  deadlinesOfCase(caseId: number): DeadlineRow[] {
    return this.q('SELECT * FROM deadlines WHERE case_id = ? ORDER BY due_at').all(caseId) as DeadlineRow[];
  }

  deadline(caseId: number, milestone: string): DeadlineRow | undefined {
    return this.q('SELECT * FROM deadlines WHERE case_id = ? AND milestone = ?').get(caseId, milestone) as DeadlineRow | undefined;
  }

  markDeadlineMet(caseId: number, milestone: string, at: Instant): boolean {
    return (
      this.q('UPDATE deadlines SET met_at = ?, next_escalation_at = NULL WHERE case_id = ? AND milestone = ? AND met_at IS NULL').run(at, caseId, milestone)
        .changes === 1
    );
  }

  /**
   * Move an open deadline (an extension or a holding reply); the caller records the event. A
   * breach already recorded stays recorded: a deadline that was missed was missed, whatever is
   * extended afterwards (issue 14; the register and the statistics count it late).
   */
  moveDeadline(caseId: number, milestone: string, dueAt: Instant, rule: Record<string, unknown>, nextEscalationAt: Instant | null): boolean {
    return (
      this.q('UPDATE deadlines SET due_at = ?, rule = ?, next_escalation_at = ? WHERE case_id = ? AND milestone = ? AND met_at IS NULL').run(
        dueAt,
        JSON.stringify(rule),
        nextEscalationAt,
        caseId,
        milestone,
      ).changes === 1
    );
  }

  /**
   * Count a deadline anew (a reopened case owes its final answer again): a new due time from a
   * new instant, not met. A breach of the first round stays recorded (breached_at).
   */
  reopenDeadline(
    caseId: number,
    milestone: string,
    dueAt: Instant,
    computedFrom: Instant,
    rule: Record<string, unknown>,
    nextEscalationAt: Instant | null,
  ): boolean {
    return (
      this.q('UPDATE deadlines SET due_at = ?, computed_from = ?, rule = ?, met_at = NULL, next_escalation_at = ? WHERE case_id = ? AND milestone = ?').run(
        dueAt,
        computedFrom,
        JSON.stringify(rule),
        nextEscalationAt,
        caseId,
        milestone,
      ).changes === 1
    );
  }

  /**
   * Open deadlines of open cases with an escalation step due by `now`: read through the
   * partial index deadlines_escalation, so the cost follows the work, not the register's size.
   */
  deadlinesDueForEscalation(now: Instant, limit: number): OpenDeadlineRow[] {
    return this.q(
      `SELECT d.*, c.number, c.status, c.contact_officer, c.customer_name, c.customer_address, c.subject, c.language, c.received_at
       FROM deadlines d INDEXED BY deadlines_escalation JOIN cases c ON c.id = d.case_id
       WHERE d.met_at IS NULL AND d.next_escalation_at IS NOT NULL AND d.next_escalation_at <= ? AND c.status != 'closed' AND d.not_applicable IS NULL
       ORDER BY d.next_escalation_at LIMIT ?`,
    ).all(now, limit) as OpenDeadlineRow[];
  }

  setNextEscalation(caseId: number, milestone: string, next: Instant | null): void {
    this.q('UPDATE deadlines SET next_escalation_at = ? WHERE case_id = ? AND milestone = ?').run(next, caseId, milestone);
  }

  markBreached(caseId: number, milestone: string, at: Instant): boolean {
    return this.q('UPDATE deadlines SET breached_at = ? WHERE case_id = ? AND milestone = ? AND breached_at IS NULL').run(at, caseId, milestone).changes === 1;
  }

  escalationLevelsDone(caseId: number, milestone: string, dueAt: Instant): Set<string> {
    const rows = this.q('SELECT level FROM escalations WHERE case_id = ? AND milestone = ? AND due_at = ?').all(caseId, milestone, dueAt) as {
      level: string;
    }[];
    return new Set(rows.map((r) => r.level));
  }

  /** Claim one (deadline, level). False when it was claimed before: then nothing may be sent for it. */
  claimEscalation(
    caseId: number,
    milestone: string,
    level: string,
    dueAt: Instant,
    plannedAt: Instant,
    actedAt: Instant,
    outcome: 'sent' | 'late' | 'skipped',
  ): boolean {
    return (
      this.q('INSERT OR IGNORE INTO escalations (case_id, milestone, level, due_at, planned_at, acted_at, outcome) VALUES (?, ?, ?, ?, ?, ?, ?)').run(
        caseId,
        milestone,
        level,
        dueAt,
        plannedAt,
        actedAt,
        outcome,
      ).changes === 1
    );
  }

  /** Open deadlines of open cases, nearest first (for the digest and `cases --due-before`); not those that do not apply. */
  openDeadlines(dueBefore: Instant | null, limit: number): OpenDeadlineRow[] {
    return this.q(
      `SELECT d.*, c.number, c.status, c.contact_officer, c.customer_name, c.customer_address, c.subject, c.language, c.received_at
       FROM deadlines d JOIN cases c ON c.id = d.case_id
       WHERE d.met_at IS NULL AND c.status != 'closed' AND d.milestone != 'finalAnswerMax' AND d.not_applicable IS NULL AND (? IS NULL OR d.due_at < ?)
       ORDER BY d.due_at LIMIT ?`,
    ).all(dueBefore, dueBefore, limit) as OpenDeadlineRow[];
  }

  digestClaimed(day: string): boolean {
    return this.q('SELECT 1 FROM digests WHERE day = ?').get(day) !== undefined;
  }

  /** Claim the digest of a local day. False when it was claimed before. */
  claimDigest(day: string, at: Instant, late: boolean): boolean {
    return this.q('INSERT OR IGNORE INTO digests (day, claimed_at, late) VALUES (?, ?, ?)').run(day, at, late ? 1 : 0).changes === 1;
  }

  // ---- every policy's deadline (migration 11) --------------------------------------------

  setPolicyDeadline(d: NewPolicyDeadline): void {
    this.q(
      `INSERT INTO policy_deadlines (case_id, milestone, policy, source, statutory, regime, due_at, rule, computed_from, config_version, calendar_version, not_applicable)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (case_id, milestone, policy) DO NOTHING`,
    ).run(
      d.case_id,
      d.milestone,
      d.policy,
      d.source,
      d.statutory,
      d.regime,
      d.due_at,
      JSON.stringify(d.rule),
      d.computed_from,
      d.config_version,
      d.calendar_version,
      d.not_applicable ?? null,
    );
  }

  policyDeadlinesOfCase(caseId: number): PolicyDeadlineRow[] {
    return this.q('SELECT * FROM policy_deadlines WHERE case_id = ? ORDER BY due_at, policy').all(caseId) as PolicyDeadlineRow[];
  }

  /** Mark a regime's policy deadlines of a case as not applicable (or applicable again: `why` null). */
  setPolicyDeadlinesApplicable(caseId: number, regime: 'psd2' | 'ecsp', why: string | null): number {
    return this.q('UPDATE policy_deadlines SET not_applicable = ? WHERE case_id = ? AND regime = ? AND not_applicable IS NOT ?').run(why, caseId, regime, why)
      .changes;
  }

  /** A deadline's not-applicable mark ('regime none'), or null to make it apply again. */
  setDeadlineApplicable(caseId: number, milestone: string, why: string | null): boolean {
    return this.q('UPDATE deadlines SET not_applicable = ? WHERE case_id = ? AND milestone = ? AND met_at IS NULL').run(why, caseId, milestone).changes === 1;
  }
}
