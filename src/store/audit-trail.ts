/**
 * The audit trail's SQL (src/audit/trail.ts, src/audit/rehearsals.ts): who read personal data
 * (access_log, append-only by trigger), each deadline configuration as first used
 * (config_versions), and the reads of the five audit rehearsals (`klagomal audit late`,
 * `rejections`, `retention`) across cases, deadlines, outbox and events.
 */
import type { Instant } from '../util/clock';
import { StoreBase } from './base';

export interface AccessRow {
  id: number;
  at: Instant;
  actor: string;
  action: string;
  case_id: number | null;
  case_number: string | null;
  inbound_id: number | null;
  detail: string | null;
}

export interface ConfigVersionRow {
  kind: 'deadlines' | 'calendar';
  version: string;
  content: string | null;
  first_used_at: Instant;
  approved_by: string | null;
  approved_at: string | null;
  /** Deadlines computed with it (for the deadline policy: cases filed under it). */
  deadlines: number;
  last_used_at: Instant | null;
}

/** A deadline of a case, with the case's facts an auditor's "late" list needs. */
export interface LateDeadlineRow {
  case_id: number;
  number: string;
  regime: string;
  category: string | null;
  status: string;
  outcome: string | null;
  received_at: Instant;
  milestone: string;
  policy: string;
  source: string;
  statutory: number;
  due_at: Instant;
  met_at: Instant | null;
  breached_at: Instant | null;
  effective_due_at: Instant | null;
}

/** A case whose outcome is a rejection (or partly upheld), with its final answer as sent. */
export interface RejectionRow {
  id: number;
  number: string;
  outcome: string;
  decided_by: string | null;
  status: string;
  regime: string;
  received_at: Instant;
  final_sent_at: Instant | null;
  final_status: string | null;
  final_template: string | null;
  final_body: string | null;
}

export class AuditTrailQueries extends StoreBase {
  // ---- who read personal data ----------------------------------------------------------

  recordAccess(a: { at: Instant; actor: string; action: string; caseId?: number | null; inboundId?: number | null; detail?: unknown }): void {
    this.q('INSERT INTO access_log (at, actor, action, case_id, inbound_id, detail) VALUES (?, ?, ?, ?, ?, ?)').run(
      a.at,
      a.actor,
      a.action,
      a.caseId ?? null,
      a.inboundId ?? null,
      a.detail === undefined ? null : JSON.stringify(a.detail),
    );
  }

  accessLog(filter: { caseId?: number; since?: Instant }): AccessRow[] {
    return this.q(
      `SELECT l.id, l.at, l.actor, l.action, l.case_id, c.number AS case_number, l.inbound_id, l.detail
         FROM access_log l LEFT JOIN cases c ON c.id = l.case_id
        WHERE (? IS NULL OR l.case_id = ?) AND (? IS NULL OR l.at >= ?)
        ORDER BY l.at, l.id`,
    ).all(filter.caseId ?? null, filter.caseId ?? null, filter.since ?? null, filter.since ?? null) as AccessRow[];
  }

  // ---- the configuration behind the deadlines -------------------------------------------

  /**
   * Keep a configuration version the first time it is used. A version already kept keeps its
   * first use; an approval is added when the kept row has none (the text is the same: the
   * version is its hash).
   */
  recordConfigVersion(v: {
    kind: 'deadlines' | 'calendar';
    version: string;
    content: string;
    at: Instant;
    approvedBy: string | null;
    approvedAt: string | null;
  }): void {
    this.q(
      `INSERT INTO config_versions (kind, version, content, first_used_at, approved_by, approved_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (kind, version) DO UPDATE SET
         content = COALESCE(config_versions.content, excluded.content),
         approved_by = COALESCE(config_versions.approved_by, excluded.approved_by),
         approved_at = COALESCE(config_versions.approved_at, excluded.approved_at)`,
    ).run(v.kind, v.version, v.content, v.at, v.approvedBy, v.approvedAt);
  }

  /** Every kept version, with how many deadlines name it and the latest: two passes over the deadlines in all, whatever the number of versions. */
  configVersions(): ConfigVersionRow[] {
    return this.q(
      `SELECT v.kind, v.version, v.content, v.first_used_at, v.approved_by, v.approved_at,
              COALESCE(u.n, 0) AS deadlines, u.last AS last_used_at
         FROM config_versions v
         LEFT JOIN (SELECT 'deadlines' AS kind, config_version AS version, COUNT(*) AS n, MAX(computed_from) AS last FROM deadlines GROUP BY config_version
                    UNION ALL
                    SELECT 'calendar', calendar_version, COUNT(*), MAX(computed_from) FROM deadlines GROUP BY calendar_version) u
           ON u.kind = v.kind AND u.version = v.version
        ORDER BY v.first_used_at, v.kind, v.version`,
    ).all() as ConfigVersionRow[];
  }

  /** One kept version by its name (`config show VERSION`), without the counts. */
  configVersion(version: string): Omit<ConfigVersionRow, 'deadlines' | 'last_used_at'> | null {
    return (
      (this.q('SELECT kind, version, content, first_used_at, approved_by, approved_at FROM config_versions WHERE version = ? ORDER BY kind LIMIT 1').get(
        version,
      ) as Omit<ConfigVersionRow, 'deadlines' | 'last_used_at'> | undefined) ?? null
    );
  }

  // ---- the rehearsals' reads ------------------------------------------------------------

  /**
   * Every final-answer deadline of the cases received in [from, to) under a regime, each policy's
   * beside the effective one (policy_deadlines), for `audit late`.
   */
  finalAnswerDeadlines(regime: string | null, from: Instant | null, to: Instant | null): LateDeadlineRow[] {
    return this.q(
      `SELECT c.id AS case_id, c.number, c.regime, c.category, c.status, c.outcome, c.received_at,
              p.milestone, p.policy, p.source, p.statutory, p.due_at,
              d.met_at, d.breached_at, d.due_at AS effective_due_at
         FROM policy_deadlines p JOIN cases c ON c.id = p.case_id
         LEFT JOIN deadlines d ON d.case_id = p.case_id AND d.milestone = 'finalAnswer'
        WHERE p.milestone IN ('finalAnswer', 'finalAnswerMax') AND p.not_applicable IS NULL
          AND (? IS NULL OR c.regime = ?) AND (? IS NULL OR c.received_at >= ?) AND (? IS NULL OR c.received_at < ?)
        ORDER BY c.received_at, c.id, p.milestone, p.policy`,
    ).all(regime, regime, from, from, to, to) as LateDeadlineRow[];
  }

  /** Cases rejected or partly upheld, each with its last final answer (the outbox's). */
  rejections(from: Instant | null, to: Instant | null): RejectionRow[] {
    return this.q(
      `SELECT c.id, c.number, c.outcome, c.decided_by, c.status, c.regime, c.received_at,
              o.sent_at AS final_sent_at, o.status AS final_status, o.template AS final_template, o.body_text AS final_body
         FROM cases c
         LEFT JOIN outbox o ON o.id = (SELECT MAX(o2.id) FROM outbox o2 WHERE o2.case_id = c.id AND o2.kind = 'final-answer')
        WHERE c.outcome IN ('rejected', 'partly-upheld')
          AND (? IS NULL OR c.received_at >= ?) AND (? IS NULL OR c.received_at < ?)
        ORDER BY c.received_at, c.id`,
    ).all(from, from, to, to) as RejectionRow[];
  }
}
