/**
 * Cases: numbers, the case row, lookups for threading, assignment and views.
 */
import type { CaseOutcome, CaseStatus } from '../cases/lifecycle';
import type { Instant } from '../util/clock';
import type { MailListRow, CaseRow, OutboxRow, NewCase, Regime } from './rows';
import { StoreBase } from './base';

export class CaseQueries extends StoreBase {
  // ---- cases ---------------------------------------------------------------------------

  /**
   * The next case number for a prefix and year. Runs inside the filing transaction, so a
   * number is only ever used by a committed case and is never handed out twice.
   */
  nextCaseNumber(prefix: string, year: number): string {
    const row = this.q(
      `INSERT INTO case_number_sequence (prefix, year, last) VALUES (?, ?, 1)
         ON CONFLICT (prefix, year) DO UPDATE SET last = last + 1 RETURNING last`,
    ).get(prefix, year) as { last: number };
    return `${prefix}-${year}-${String(row.last).padStart(6, '0')}`;
  }

  insertCase(c: NewCase): number {
    const info = this.q(
      `INSERT INTO cases (number, status, customer_address, customer_name, subject, language, received_at, filed_at, fields, refers_to_case_id, updated_at, category, contact_officer, personnummer, subject_key, regime)
         VALUES (?, 'new', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      c.number,
      c.customerAddress,
      c.customerName,
      c.subject,
      c.language,
      c.receivedAt,
      c.filedAt,
      JSON.stringify(c.fields),
      c.refersToCaseId,
      c.filedAt,
      c.category,
      c.contactOfficer,
      c.personnummer,
      c.subjectKey,
      c.regime ?? 'none',
    );
    return Number(info.lastInsertRowid);
  }

  /** Cases whose personnummer is stored in clear (before schema 8; see src/cases/personnummer-store.ts). */
  casesWithClearPersonnummer(): Array<{ id: number; number: string; personnummer: string }> {
    return this.q(
      "SELECT id, number, personnummer FROM cases WHERE personnummer IS NOT NULL AND personnummer <> '' AND personnummer NOT LIKE 'v1:%'",
    ).all() as Array<{
      id: number;
      number: string;
      personnummer: string;
    }>;
  }

  /** Every case that holds a personnummer (encrypted or not): for a lookup by number, which must decrypt each. */
  casesWithPersonnummer(): Array<{ id: number; number: string; personnummer: string }> {
    return this.q("SELECT id, number, personnummer FROM cases WHERE personnummer IS NOT NULL AND personnummer <> '' ORDER BY id").all() as Array<{
      id: number;
      number: string;
      personnummer: string;
    }>;
  }

  /** Replace a case's stored personnummer (an encrypted value, or null to keep none). */
  setCasePersonnummer(id: number, value: string | null): void {
    this.q('UPDATE cases SET personnummer = ? WHERE id = ?').run(value, id);
  }

  /** Change what an officer may change on a case; every change is also an event (the caller's). */
  /**
   * The guarded state change of a case transition (src/cases/transitions.ts): true when the
   * case was in `from` and is now in `to`; false (nothing written) when another writer moved it.
   */
  setCaseStatus(id: number, from: CaseStatus, to: CaseStatus, at: Instant): boolean {
    return this.q('UPDATE cases SET status = ?, updated_at = ? WHERE id = ? AND status = ?').run(to, at, id, from).changes === 1;
  }

  /** The statutory regime of a case (src/deadlines/regime.ts); true when it changed. */
  setCaseRegime(id: number, regime: Regime, at: Instant): boolean {
    return this.q('UPDATE cases SET regime = ?, updated_at = ? WHERE id = ? AND regime != ?').run(regime, at, id, regime).changes === 1;
  }

  /** The case's other fields; its state changes only through setCaseStatus (a named transition). */
  updateCase(
    id: number,
    change: {
      outcome?: CaseOutcome;
      decidedBy?: string;
      category?: string;
      contactOfficer?: string;
      compensationSek?: number;
      assessment?: Record<string, boolean>;
    },
    at: Instant,
  ): void {
    const sets: string[] = [];
    const values: unknown[] = [];
    const put = (column: string, value: unknown): void => {
      sets.push(`${column} = ?`);
      values.push(value);
    };
    if (change.outcome !== undefined) put('outcome', change.outcome);
    if (change.decidedBy !== undefined) put('decided_by', change.decidedBy);
    if (change.category !== undefined) put('category', change.category);
    if (change.contactOfficer !== undefined) put('contact_officer', change.contactOfficer);
    if (change.compensationSek !== undefined) put('compensation_sek', change.compensationSek);
    if (change.assessment !== undefined) put('assessment', JSON.stringify(change.assessment));
    if (sets.length === 0) return;
    put('updated_at', at);
    // Column names come from the fixed list above, never from input; values are bound.
    this.q(`UPDATE cases SET ${sets.join(', ')} WHERE id = ?`).run(...values, id);
  }

  /** Record two cases as related (both ways); false when they were already. */
  relateCases(a: number, b: number, at: Instant, actor: string): boolean {
    const one = this.q('INSERT OR IGNORE INTO case_relations (case_id, related_case_id, created_at, actor) VALUES (?, ?, ?, ?)');
    const first = one.run(a, b, at, actor).changes === 1;
    one.run(b, a, at, actor);
    return first;
  }

  /**
   * The cases to show beside a case: the same customer's other cases, cases declared related,
   * and cases of the same category received within `windowDays` before it (newest first).
   */
  relatedCases(c: CaseRow, windowDays: number, limit = 10): Array<CaseRow & { relation: 'same customer' | 'related' | 'same category' }> {
    const out: Array<CaseRow & { relation: 'same customer' | 'related' | 'same category' }> = [];
    const seen = new Set<number>([c.id]);
    const add = (rows: CaseRow[], relation: 'same customer' | 'related' | 'same category'): void => {
      for (const r of rows) {
        if (seen.has(r.id) || out.length >= limit * 3) continue;
        seen.add(r.id);
        out.push({ ...r, relation });
      }
    };
    if (c.customer_address)
      add(
        this.q('SELECT * FROM cases WHERE customer_address = ? AND id != ? ORDER BY id DESC LIMIT ?').all(c.customer_address, c.id, limit) as CaseRow[],
        'same customer',
      );
    add(
      this.q('SELECT c.* FROM case_relations r JOIN cases c ON c.id = r.related_case_id WHERE r.case_id = ? ORDER BY c.id DESC LIMIT ?').all(
        c.id,
        limit,
      ) as CaseRow[],
      'related',
    );
    if (c.category && windowDays > 0) {
      const since = new Date(new Date(c.received_at).getTime() - windowDays * 86_400_000).toISOString();
      add(
        this.q('SELECT * FROM cases WHERE category = ? AND received_at >= ? AND id != ? ORDER BY received_at DESC LIMIT ?').all(
          c.category,
          since,
          c.id,
          limit,
        ) as CaseRow[],
        'same category',
      );
    }
    return out;
  }

  caseById(id: number): CaseRow | undefined {
    return this.q('SELECT * FROM cases WHERE id = ?').get(id) as CaseRow | undefined;
  }

  caseByNumber(number: string): CaseRow | undefined {
    return this.q('SELECT * FROM cases WHERE number = ?').get(number) as CaseRow | undefined;
  }

  /**
   * Cases, optionally by status; `dueBefore`: with an open deadline due before that instant;
   * `breachedAsOf`: with a deadline missed as of that instant (still open and past due, or met
   * after it was due). Deadlines that do not apply (an imported old complaint's) count for neither.
   */
  listCases(filter: { status?: CaseStatus; dueBefore?: Instant; breachedAsOf?: Instant }): CaseRow[] {
    return this.q(
      `SELECT * FROM cases c
       WHERE (? IS NULL OR c.status = ?)
         AND (? IS NULL OR EXISTS (SELECT 1 FROM deadlines d WHERE d.case_id = c.id AND d.met_at IS NULL AND d.milestone != 'finalAnswerMax'
               AND d.not_applicable IS NULL AND d.due_at < ?))
         AND (? IS NULL OR EXISTS (SELECT 1 FROM deadlines d WHERE d.case_id = c.id AND d.milestone != 'finalAnswerMax' AND d.not_applicable IS NULL
               AND d.due_at < ? AND (d.met_at IS NULL OR d.met_at > d.due_at)))
       ORDER BY c.id`,
    ).all(
      filter.status ?? null,
      filter.status ?? null,
      filter.dueBefore ?? null,
      filter.dueBefore ?? null,
      filter.breachedAsOf ?? null,
      filter.breachedAsOf ?? null,
    ) as CaseRow[];
  }

  /** The case a Message-ID belongs to: one of its inbound mails or one of the mails we sent on it. */
  /**
   * The cases a Message-ID belongs to: each inbound mail with it that is on a case (with its
   * sender and the case's customer), then our own mail with it. Usually one; more when
   * different mails shared one Message-ID, and the caller chooses (src/cases/filing.ts).
   */
  casesOfMessageId(messageId: string): Array<{ case_id: number; from_address: string | null; customer_address: string | null; ours: 0 | 1 }> {
    const inbound = this.q(
      // Not list mail, auto-replies or bounces filed on a case: their ids are public or not a person's.
      `SELECT m.case_id, m.from_address, c.customer_address, 0 AS ours FROM messages m JOIN cases c ON c.id = m.case_id
        WHERE m.message_id = ? AND m.kind NOT IN ('bulk', 'autoreply', 'bounce') ORDER BY m.id`,
    ).all(messageId) as Array<{ case_id: number; from_address: string | null; customer_address: string | null; ours: 0 | 1 }>;
    const out = this.q(
      `SELECT o.case_id, NULL AS from_address, c.customer_address, 1 AS ours FROM outbox o JOIN cases c ON c.id = o.case_id WHERE o.message_id = ?`,
    ).all(messageId) as Array<{ case_id: number; from_address: string | null; customer_address: string | null; ours: 0 | 1 }>;
    return [...out, ...inbound];
  }

  /**
   * The case whose customer is `address` and whose subject key is `key`, with mail on it since
   * `since` (the most recent such case). For replies that lost their threading headers.
   */
  caseBySubject(address: string, key: string, since: Instant): CaseRow | undefined {
    return this.q(
      `SELECT c.* FROM cases c
       WHERE c.customer_address = ? AND c.subject_key = ? AND c.status != 'closed'
         AND (c.received_at >= ? OR EXISTS (SELECT 1 FROM messages m WHERE m.case_id = c.id AND m.received_at >= ?))
       ORDER BY c.id DESC LIMIT 1`,
    ).get(address, key, since, since) as CaseRow | undefined;
  }

  /** The outbox mail with this Message-ID (one of ours). */
  outboxByMessageId(messageId: string): OutboxRow | undefined {
    return this.q('SELECT * FROM outbox WHERE message_id = ?').get(messageId) as OutboxRow | undefined;
  }

  /** An address that bounced permanently: no automatic mail to it until `until`. */
  markAddressFailing(address: string, at: Instant, until: Instant, reason: string, inboundId: number | null): void {
    this.q(
      `INSERT INTO address_status (address, failing_since, failing_until, reason, inbound_id) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (address) DO UPDATE SET failing_until = excluded.failing_until, reason = excluded.reason, inbound_id = excluded.inbound_id`,
    ).run(address, at, until, reason, inboundId);
  }

  /**
   * An address marked failing no more (`klagomal outbox unblock`): the ids of the cases not yet
   * anonymised that have it as their customer's, for their events; null when it was not marked.
   */
  clearAddressFailing(address: string): number[] | null {
    if (this.q('DELETE FROM address_status WHERE address = ?').run(address).changes === 0) return null;
    return (this.q('SELECT id FROM cases WHERE customer_address = ? AND anonymised_at IS NULL ORDER BY id').all(address) as Array<{ id: number }>).map(
      (r) => r.id,
    );
  }

  /** Until when an address counts as failing, if it does at `now`. */
  addressFailingUntil(address: string, now: Instant): Instant | null {
    const row = this.q('SELECT failing_until FROM address_status WHERE address = ? AND failing_until > ?').get(address, now) as
      { failing_until: Instant } | undefined;
    return row?.failing_until ?? null;
  }

  /** Automatic mails queued to the customer of a case since `since`. */
  countOutboxForCase(caseId: number, to: string, since: Instant): number {
    return (
      this.q("SELECT COUNT(*) AS n FROM outbox WHERE case_id = ? AND to_address = ? AND created_at >= ? AND status != 'failed'").get(caseId, to, since) as {
        n: number;
      }
    ).n;
  }

  /** Mails by kind (all inbound mail, on a case or not), newest first. */
  /**
   * Every filed inbound mail, newest first, with its kind and why. A duplicate has no messages
   * row of its own: it is shown with the sender, subject and case of the mail it duplicates.
   */
  listMail(kind: string | null, limit: number): MailListRow[] {
    return this.q(
      `SELECT i.id AS inbound_id, i.kind, i.reason, i.received_at, i.duplicate_of,
              COALESCE(m.from_address, om.from_address) AS from_address, COALESCE(m.subject, om.subject) AS subject,
              c.number AS case_number, oc.number AS duplicate_of_case
         FROM inbound i
         LEFT JOIN messages m ON m.inbound_id = i.id
         LEFT JOIN messages om ON om.inbound_id = i.duplicate_of
         LEFT JOIN cases c ON c.id = m.case_id
         LEFT JOIN cases oc ON oc.id = om.case_id
        WHERE i.state = 'filed' AND (? IS NULL OR i.kind = ?) ORDER BY i.id DESC LIMIT ?`,
    ).all(kind, kind, limit) as MailListRow[];
  }

  /**
   * A random sample of filed mail of one kind since an instant, for a person to check the
   * classification (REGULATION.md §4 C: what was judged not a complaint). SQLite's random().
   */
  sampleMail(kind: string, n: number, since: string | null): MailListRow[] {
    return this.q(
      `SELECT i.id AS inbound_id, i.kind, i.reason, i.received_at, i.duplicate_of,
              m.from_address, m.subject, c.number AS case_number, NULL AS duplicate_of_case
         FROM inbound i
         LEFT JOIN messages m ON m.inbound_id = i.id
         LEFT JOIN cases c ON c.id = m.case_id
        WHERE i.state = 'filed' AND i.kind = ? AND (? IS NULL OR i.received_at >= ?) ORDER BY random() LIMIT ?`,
    ).all(kind, since, since, n) as MailListRow[];
  }

  /** True when the Message-ID is one we generated for a mail we sent. */
  isOurMessageId(messageId: string): boolean {
    return this.q('SELECT 1 FROM outbox WHERE message_id = ?').get(messageId) !== undefined;
  }
}
