/**
 * All SQL of klagomal lives in src/store. This file holds the queries the pipeline stages use,
 * grouped by what they touch. Stages call these inside `store.tx(...)` where several writes
 * must commit together (filing a case and queueing its acknowledgement, for one).
 *
 * Values from mail are always bound as parameters, never put into SQL text.
 */
import type { Statement, Transaction } from 'better-sqlite3';
import type { DB } from './db';
import type { Actor, CaseOutcome, CaseStatus, EventType, MailKind, OutboundKind, OutboxStatus } from '../cases/lifecycle';
import type { Instant } from '../util/clock';
import { detailHash, eventHash } from '../audit/hash';

/** One line of `klagomal mail list`. */
export interface MailListRow {
  inbound_id: number;
  kind: string;
  reason: string | null;
  received_at: string;
  duplicate_of: number | null;
  from_address: string | null;
  subject: string | null;
  case_number: string | null;
  /** For a duplicate: the case of the mail it duplicates. */
  duplicate_of_case: string | null;
}

export interface InboundRow {
  id: number;
  source: string;
  mailbox: string | null;
  locator: string | null;
  source_key: string | null;
  uidvalidity: string | null;
  uid: number | null;
  sha256: string;
  size: number;
  received_at: Instant;
  stored_at: Instant;
  state: 'stored' | 'filed' | 'quarantined';
  kind: MailKind | null;
  reason: string | null;
  message_id: string | null;
  duplicate_of: number | null;
  case_id: number | null;
  processed_at: Instant | null;
  server_marked_at: Instant | null;
  attempts: number;
}

export interface NewInbound {
  source: string;
  mailbox: string | null;
  locator: string | null;
  sourceKey: string | null;
  uidvalidity: string | null;
  uid: number | null;
  receivedAt: Instant;
  sha256: string;
  size: number;
  /** The bytes of a small mail, or the path (relative to the data folder) of a large one's file. */
  raw: { bytes: Buffer } | { path: string };
}

export interface CaseRow {
  id: number;
  number: string;
  status: CaseStatus;
  customer_address: string | null;
  customer_name: string | null;
  subject: string | null;
  language: string;
  received_at: Instant;
  filed_at: Instant;
  fields: string;
  refers_to_case_id: number | null;
  updated_at: Instant;
  contact_officer: string | null;
  category: string | null;
  /** Encrypted ("v1:...", src/cases/personnummer-store.ts), in clear before schema 8, or null. */
  personnummer: string | null;
  subject_key: string | null;
  outcome: CaseOutcome | null;
  decided_by: string | null;
  compensation_sek: number | null;
  assessment: string;
}

export interface MessageRow {
  id: number;
  inbound_id: number;
  case_id: number | null;
  kind: MailKind;
  message_id: string | null;
  in_reply_to: string | null;
  refs: string;
  from_address: string | null;
  from_name: string | null;
  reply_to: string | null;
  to_addresses: string;
  cc_addresses: string;
  subject: string | null;
  date_header: Instant | null;
  received_at: Instant;
  body_text: string | null;
  language: string | null;
  problems: string;
  created_at: Instant;
  new_text: string | null;
  quoted_text: string | null;
}

export interface AttachmentRow {
  id: number;
  message_row: number;
  filename: string | null;
  content_type: string | null;
  size: number;
  sha256: string;
  path: string;
}

export interface OutboxRow {
  id: number;
  case_id: number | null;
  kind: OutboundKind;
  idempotency_key: string;
  template: string;
  language: string;
  template_version: string;
  from_address: string;
  from_name: string;
  to_address: string;
  subject: string;
  message_id: string;
  in_reply_to: string | null;
  refs: string;
  headers: string;
  body_text: string;
  body_html: string | null;
  date_header: Instant;
  status: OutboxStatus;
  attempts: number;
  next_attempt_at: Instant;
  last_error: string | null;
  created_at: Instant;
  sent_at: Instant | null;
  transport_response: string | null;
  retry_from: Instant | null;
  attach_inbound_id: number | null;
}

export interface EventRow {
  id: number;
  at: Instant;
  case_id: number | null;
  inbound_id: number | null;
  outbox_id: number | null;
  actor: string;
  type: EventType;
  from_state: string | null;
  to_state: string | null;
  detail: string;
  /** The hash chain (migration 8, src/audit/hash.ts): the previous event's hash in this case's chain, ... */
  prev_hash: string | null;
  /** ... this event's hash over prev_hash and its fields, ... */
  hash: string | null;
  /** ... and sha256(detail) as first written (kept when retention blanks the detail). */
  detail_hash: string | null;
  /** Set when retention replaced the detail with {"anonymised":true}, by run anonymised_by_run. */
  anonymised_at: Instant | null;
  anonymised_by_run: number | null;
}

export interface DeadlineRow {
  case_id: number;
  milestone: string;
  due_at: Instant;
  rule: string;
  computed_from: Instant;
  met_at: Instant | null;
  policy: string | null;
  source: string | null;
  config_version: string | null;
  calendar_version: string | null;
  breached_at: Instant | null;
  next_escalation_at: Instant | null;
  /** Why the deadline does not apply ('imported'), or null when it does (migration 10). */
  not_applicable: string | null;
}

export interface NewDeadline {
  caseId: number;
  milestone: string;
  dueAt: Instant;
  rule: Record<string, unknown>;
  computedFrom: Instant;
  policy: string;
  source: string;
  configVersion: string;
  calendarVersion: string;
  nextEscalationAt: Instant | null;
  /** Why the deadline does not apply ('imported': an old complaint filed quietly); it is kept as history only. */
  notApplicable?: string | null;
}

/** An open deadline with what the escalation pass needs of its case. */
export interface OpenDeadlineRow extends DeadlineRow {
  number: string;
  status: CaseStatus;
  contact_officer: string | null;
  customer_name: string | null;
  customer_address: string | null;
  subject: string | null;
  language: string;
  received_at: Instant;
}

export interface QuarantineRow {
  inbound_id: number;
  stage: string;
  error: string;
  first_at: Instant;
  last_at: Instant;
  attempts: number;
  released_at: Instant | null;
}

export interface NewEvent {
  at: Instant;
  caseId?: number | null;
  inboundId?: number | null;
  outboxId?: number | null;
  actor: Actor;
  type: EventType;
  fromState?: string | null;
  toState?: string | null;
  detail?: Record<string, unknown>;
}

export interface NewMessage {
  inboundId: number;
  caseId: number | null;
  kind: MailKind;
  messageId: string | null;
  inReplyTo: string | null;
  references: string[];
  fromAddress: string | null;
  fromName: string | null;
  replyTo: string | null;
  to: string[];
  cc: string[];
  subject: string | null;
  dateHeader: Instant | null;
  receivedAt: Instant;
  bodyText: string;
  newText: string | null;
  quotedText: string | null;
  language: string | null;
  problems: string[];
  createdAt: Instant;
}

export interface NewAttachment {
  filename: string | null;
  contentType: string | null;
  size: number;
  sha256: string;
  path: string;
}

export interface NewCase {
  number: string;
  category: string | null;
  contactOfficer: string | null;
  /** Already encrypted by the caller (sealPersonnummer), or null. */
  personnummer: string | null;
  subjectKey: string | null;
  customerAddress: string | null;
  customerName: string | null;
  subject: string | null;
  language: string;
  receivedAt: Instant;
  filedAt: Instant;
  fields: Record<string, unknown>;
  refersToCaseId: number | null;
}

export interface NewOutbox {
  caseId: number | null;
  kind: OutboundKind;
  idempotencyKey: string;
  template: string;
  language: string;
  templateVersion: string;
  fromAddress: string;
  fromName: string;
  toAddress: string;
  subject: string;
  messageId: string;
  inReplyTo: string | null;
  references: string[];
  headers: Record<string, string>;
  bodyText: string;
  bodyHtml: string | null;
  dateHeader: Instant;
  createdAt: Instant;
  /** The files the template version was made of; kept once per version (template_versions). */
  templateSources?: Readonly<Record<string, string>>;
  /** An inbound mail to attach as message/rfc822. */
  attachInboundId?: number | null;
}

export class Store {
  private readonly statements = new Map<string, Statement>();
  /**
   * One transaction wrapper for every transaction: better-sqlite3 compiles BEGIN/COMMIT/
   * SAVEPOINT statements each time `db.transaction()` is called, which costs more than the
   * writes of a small transaction. Called inside a transaction it runs as a savepoint.
   */
  private readonly runInTransaction: Transaction<(fn: () => unknown) => unknown>;

  constructor(readonly db: DB) {
    this.runInTransaction = db.transaction((fn: () => unknown) => fn());
  }

  /** A prepared statement, compiled once per SQL text (preparing costs more than running). */
  private q(sql: string): Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  /**
   * Run `fn` in one IMMEDIATE transaction; a call inside another transaction becomes a
   * savepoint, so a throw undoes only the inner part.
   */
  tx<T>(fn: () => T): T {
    return this.runInTransaction.immediate(fn) as T;
  }

  /**
   * A transaction committed without waiting for fsync (synchronous=NORMAL in WAL mode). A
   * crash of the process loses nothing (the WAL is in the OS before COMMIT returns); only a
   * power loss or kernel crash can roll back the last such commits. Use it only where a
   * rolled-back commit is harmless: the outbox's claims and results, where the worst case is
   * one more send of the same mail with the same Message-ID. Intake and filing never use it.
   */
  txRelaxed<T>(fn: () => T): T {
    if (this.db.inTransaction) return this.tx(fn);
    this.q('PRAGMA synchronous = NORMAL').run();
    try {
      return this.tx(fn);
    } finally {
      this.q('PRAGMA synchronous = FULL').run();
    }
  }

  // ---- raw mail and inbound ------------------------------------------------------------

  /**
   * Keep one raw mail: its bytes (content-addressed) and its inbound row. Idempotent on the
   * source key: a mail already stored from the same place returns the existing row and
   * `created: false`. Call inside a transaction together with the cursor update.
   */
  storeInbound(m: NewInbound, storedAt: Instant): { id: number; created: boolean } {
    if (m.sourceKey) {
      const existing = this.q('SELECT id FROM inbound WHERE source_key = ?').get(m.sourceKey) as { id: number } | undefined;
      if (existing) return { id: existing.id, created: false };
    }
    this.q('INSERT OR IGNORE INTO raw_mail (sha256, size, bytes, path) VALUES (?, ?, ?, ?)').run(
      m.sha256,
      m.size,
      'bytes' in m.raw ? m.raw.bytes : null,
      'path' in m.raw ? m.raw.path : null,
    );
    const info = this.q(
      `INSERT INTO inbound (source, mailbox, locator, source_key, uidvalidity, uid, sha256, size, received_at, stored_at, state)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'stored')`,
    ).run(m.source, m.mailbox, m.locator, m.sourceKey, m.uidvalidity, m.uid, m.sha256, m.size, m.receivedAt, storedAt);
    return { id: Number(info.lastInsertRowid), created: true };
  }

  inboundBySourceKey(key: string): InboundRow | undefined {
    return this.q('SELECT * FROM inbound WHERE source_key = ?').get(key) as InboundRow | undefined;
  }

  inbound(id: number): InboundRow | undefined {
    return this.q('SELECT * FROM inbound WHERE id = ?').get(id) as InboundRow | undefined;
  }

  /** Where a raw mail is: its bytes, or its file (relative to the data folder). */
  rawMail(sha256: string): { bytes: Buffer } | { path: string } | undefined {
    const row = this.q('SELECT bytes, path FROM raw_mail WHERE sha256 = ?').get(sha256) as { bytes: Buffer | null; path: string | null } | undefined;
    if (!row) return undefined;
    return row.bytes ? { bytes: row.bytes } : { path: row.path! };
  }

  /**
   * Stored but not yet filed or quarantined: fresh mails oldest first, then mails whose
   * processing was started before without finishing (deferred, so that a mail which kills the
   * process cannot hold up the others).
   */
  pendingInbound(limit: number): InboundRow[] {
    return this.q("SELECT * FROM inbound WHERE state = 'stored' ORDER BY attempts > 0, id LIMIT ?").all(limit) as InboundRow[];
  }

  /** The given mails, if still stored and not yet filed or quarantined (ordered as pendingInbound). */
  pendingInboundIn(ids: readonly number[]): InboundRow[] {
    if (ids.length === 0) return [];
    const out: InboundRow[] = [];
    for (const id of ids) {
      const row = this.q("SELECT * FROM inbound WHERE id = ? AND state = 'stored'").get(id) as InboundRow | undefined;
      if (row) out.push(row);
    }
    return out.sort((a, b) => Number(a.attempts > 0) - Number(b.attempts > 0) || a.id - b.id);
  }

  /** Count one processing attempt of a mail before it is parsed (poison-mail guard). */
  bumpProcessingAttempt(id: number): number {
    return (this.q('UPDATE inbound SET attempts = attempts + 1 WHERE id = ? RETURNING attempts').get(id) as { attempts: number }).attempts;
  }

  countPendingInbound(): number {
    return (this.q("SELECT COUNT(*) AS n FROM inbound WHERE state = 'stored'").get() as { n: number }).n;
  }

  /** Mails stored from a source folder whose \Seen flag or move on the server is still to do. */
  unmarkedInbound(source: string, mailbox: string): InboundRow[] {
    return this.q('SELECT * FROM inbound WHERE source = ? AND mailbox = ? AND server_marked_at IS NULL ORDER BY id').all(source, mailbox) as InboundRow[];
  }

  markServerDone(ids: readonly number[], at: Instant): void {
    const stmt = this.q('UPDATE inbound SET server_marked_at = ? WHERE id = ? AND server_marked_at IS NULL');
    this.tx(() => {
      for (const id of ids) stmt.run(at, id);
    });
  }

  setInboundFiled(id: number, kind: MailKind, reason: string, messageId: string | null, caseId: number | null, duplicateOf: number | null, at: Instant): void {
    this.q(
      `UPDATE inbound SET state = 'filed', kind = ?, reason = ?, message_id = ?, case_id = ?, duplicate_of = ?, processed_at = ?
         WHERE id = ? AND state IN ('stored','quarantined')`,
    ).run(kind, reason, messageId, caseId, duplicateOf, at, id);
  }

  /** The first inbound mail filed (not as a duplicate) with this Message-ID. */
  /**
   * Every filed inbound mail (not recorded as a duplicate) with this Message-ID, oldest first.
   * More than one when different mails shared a Message-ID (a collision, see src/parse/content-key.ts).
   */
  filedInboundWithMessageId(messageId: string, exceptId: number): InboundRow[] {
    return this.q("SELECT * FROM inbound WHERE message_id = ? AND kind IS NOT 'duplicate' AND state = 'filed' AND id != ? ORDER BY id").all(
      messageId,
      exceptId,
    ) as InboundRow[];
  }

  /** The first filed inbound mail with the same bytes (dedupe when there is no Message-ID). */
  firstInboundWithSha(sha256: string, exceptId: number): InboundRow | undefined {
    return this.q("SELECT * FROM inbound WHERE sha256 = ? AND kind IS NOT 'duplicate' AND state = 'filed' AND id != ? ORDER BY id LIMIT 1").get(
      sha256,
      exceptId,
    ) as InboundRow | undefined;
  }

  // ---- cursors -------------------------------------------------------------------------

  cursor(source: string, mailbox: string): { uidvalidity: string; last_uid: number } | undefined {
    return this.q('SELECT uidvalidity, last_uid FROM source_cursor WHERE source = ? AND mailbox = ?').get(source, mailbox) as
      { uidvalidity: string; last_uid: number } | undefined;
  }

  setCursor(source: string, mailbox: string, uidvalidity: string, lastUid: number, at: Instant): void {
    this.q(
      `INSERT INTO source_cursor (source, mailbox, uidvalidity, last_uid, updated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (source, mailbox) DO UPDATE SET uidvalidity = excluded.uidvalidity, last_uid = excluded.last_uid, updated_at = excluded.updated_at`,
    ).run(source, mailbox, uidvalidity, lastUid, at);
  }

  // ---- quarantine ----------------------------------------------------------------------

  quarantine(inboundId: number, stage: string, error: string, at: Instant): void {
    this.q("UPDATE inbound SET state = 'quarantined', processed_at = ? WHERE id = ?").run(at, inboundId);
    this.q(
      `INSERT INTO quarantine (inbound_id, stage, error, first_at, last_at, attempts) VALUES (?, ?, ?, ?, ?, 1)
         ON CONFLICT (inbound_id) DO UPDATE SET stage = excluded.stage, error = excluded.error, last_at = excluded.last_at,
           attempts = quarantine.attempts + 1, released_at = NULL`,
    ).run(inboundId, stage, error, at, at);
  }

  /** Mark a quarantined mail as released (it has been filed after all). False when it was not in quarantine. */
  releaseQuarantine(inboundId: number, at: Instant): boolean {
    return this.q('UPDATE quarantine SET released_at = ? WHERE inbound_id = ? AND released_at IS NULL').run(at, inboundId).changes === 1;
  }

  quarantined(
    includeReleased = false,
  ): Array<QuarantineRow & { source: string; mailbox: string | null; locator: string | null; received_at: Instant; size: number; sha256: string }> {
    return this.q(
      `SELECT q.*, i.source, i.mailbox, i.locator, i.received_at, i.size, i.sha256 FROM quarantine q JOIN inbound i ON i.id = q.inbound_id
         ${includeReleased ? '' : 'WHERE q.released_at IS NULL'} ORDER BY q.inbound_id`,
    ).all() as Array<QuarantineRow & { source: string; mailbox: string | null; locator: string | null; received_at: Instant; size: number; sha256: string }>;
  }

  quarantineEntry(inboundId: number): QuarantineRow | undefined {
    return this.q('SELECT * FROM quarantine WHERE inbound_id = ?').get(inboundId) as QuarantineRow | undefined;
  }

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
      `INSERT INTO cases (number, status, customer_address, customer_name, subject, language, received_at, filed_at, fields, refers_to_case_id, updated_at, category, contact_officer, personnummer, subject_key)
         VALUES (?, 'new', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
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
  updateCase(
    id: number,
    change: {
      status?: CaseStatus;
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
    if (change.status !== undefined) put('status', change.status);
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
      `SELECT m.case_id, m.from_address, c.customer_address, 0 AS ours FROM messages m JOIN cases c ON c.id = m.case_id
        WHERE m.message_id = ? ORDER BY m.id`,
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

  /** True when the Message-ID is one we generated for a mail we sent. */
  isOurMessageId(messageId: string): boolean {
    return this.q('SELECT 1 FROM outbox WHERE message_id = ?').get(messageId) !== undefined;
  }

  // ---- messages and attachments --------------------------------------------------------

  insertMessage(m: NewMessage): number {
    const info = this.q(
      `INSERT INTO messages (inbound_id, case_id, kind, message_id, in_reply_to, refs, from_address, from_name, reply_to, to_addresses, cc_addresses,
           subject, date_header, received_at, body_text, language, problems, created_at, new_text, quoted_text)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      m.inboundId,
      m.caseId,
      m.kind,
      m.messageId,
      m.inReplyTo,
      JSON.stringify(m.references),
      m.fromAddress,
      m.fromName,
      m.replyTo,
      JSON.stringify(m.to),
      JSON.stringify(m.cc),
      m.subject,
      m.dateHeader,
      m.receivedAt,
      m.bodyText,
      m.language,
      JSON.stringify(m.problems),
      m.createdAt,
      m.newText,
      m.quotedText,
    );
    return Number(info.lastInsertRowid);
  }

  insertAttachment(messageRow: number, a: NewAttachment): void {
    this.q('INSERT INTO attachments (message_row, filename, content_type, size, sha256, path) VALUES (?, ?, ?, ?, ?, ?)').run(
      messageRow,
      a.filename,
      a.contentType,
      a.size,
      a.sha256,
      a.path,
    );
  }

  messagesOfCase(caseId: number): MessageRow[] {
    return this.q('SELECT * FROM messages WHERE case_id = ? ORDER BY received_at, id').all(caseId) as MessageRow[];
  }

  attachmentsOfMessage(messageRow: number): AttachmentRow[] {
    return this.q('SELECT * FROM attachments WHERE message_row = ? ORDER BY id').all(messageRow) as AttachmentRow[];
  }

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

  /** Move an open deadline (an extension or a holding reply); the caller records the event. */
  moveDeadline(caseId: number, milestone: string, dueAt: Instant, rule: Record<string, unknown>, nextEscalationAt: Instant | null): boolean {
    return (
      this.q(
        'UPDATE deadlines SET due_at = ?, rule = ?, next_escalation_at = ?, breached_at = NULL WHERE case_id = ? AND milestone = ? AND met_at IS NULL',
      ).run(dueAt, JSON.stringify(rule), nextEscalationAt, caseId, milestone).changes === 1
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

  // ---- meta ------------------------------------------------------------------------------

  meta(key: string): string | undefined {
    return (this.q('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)?.value;
  }

  setMeta(key: string, value: string): void {
    this.q('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  // ---- outbox --------------------------------------------------------------------------

  /** Queue a mail. Returns null when a mail with the same idempotency key exists already. */
  enqueue(o: NewOutbox): number | null {
    const info = this.q(
      `INSERT OR IGNORE INTO outbox (case_id, kind, idempotency_key, template, language, template_version, from_address, from_name, to_address, subject,
           message_id, in_reply_to, refs, headers, body_text, body_html, date_header, status, attempts, next_attempt_at, created_at, attach_inbound_id)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', 0, ?, ?, ?)`,
    ).run(
      o.caseId,
      o.kind,
      o.idempotencyKey,
      o.template,
      o.language,
      o.templateVersion,
      o.fromAddress,
      o.fromName,
      o.toAddress,
      o.subject,
      o.messageId,
      o.inReplyTo,
      JSON.stringify(o.references),
      JSON.stringify(o.headers),
      o.bodyText,
      o.bodyHtml,
      o.dateHeader,
      o.createdAt,
      o.createdAt,
      o.attachInboundId ?? null,
    );
    if (info.changes === 1 && o.templateSources) {
      this.q('INSERT OR IGNORE INTO template_versions (version, kind, language, sources, first_used_at) VALUES (?, ?, ?, ?, ?)').run(
        o.templateVersion,
        o.template,
        o.language,
        JSON.stringify(o.templateSources),
        o.createdAt,
      );
    }
    return info.changes === 1 ? Number(info.lastInsertRowid) : null;
  }

  templateVersions(version: string): Array<{ version: string; kind: string; language: string; sources: string; first_used_at: Instant }> {
    return this.q('SELECT * FROM template_versions WHERE version = ? ORDER BY kind, language').all(version) as Array<{
      version: string;
      kind: string;
      language: string;
      sources: string;
      first_used_at: Instant;
    }>;
  }

  /** Keep a template set that passed the check (its files), as the last good one. */
  saveTemplateSet(setVersion: string, files: ReadonlyMap<string, string>, at: Instant): void {
    this.q('INSERT OR IGNORE INTO template_sets (set_version, files, checked_at) VALUES (?, ?, ?)').run(
      setVersion,
      JSON.stringify(Object.fromEntries(files)),
      at,
    );
    this.setMeta('templates.lastGood', setVersion);
  }

  /** The last template set that passed the check, if any. */
  lastGoodTemplateSet(): { setVersion: string; files: Map<string, string> } | null {
    const v = this.meta('templates.lastGood');
    if (!v) return null;
    const row = this.q('SELECT files FROM template_sets WHERE set_version = ?').get(v) as { files: string } | undefined;
    return row ? { setVersion: v, files: new Map(Object.entries(JSON.parse(row.files) as Record<string, string>)) } : null;
  }

  /** Record that the admin was told about a broken set; false when they were already. */
  claimTemplateProblemReport(setVersion: string, problems: string, at: Instant): boolean {
    return (
      this.q('INSERT OR IGNORE INTO template_problems_reported (set_version, reported_at, problems) VALUES (?, ?, ?)').run(setVersion, at, problems).changes ===
      1
    );
  }

  /** Automatic mails queued to an address since `since` (the per-address cap). */
  countOutboxTo(address: string, since: Instant): number {
    return (this.q("SELECT COUNT(*) AS n FROM outbox WHERE to_address = ? AND created_at >= ? AND status != 'failed'").get(address, since) as { n: number }).n;
  }

  /**
   * Automatic mails queued since `since` to one mailbox: `local@domain` and its subaddresses
   * `local+tag@domain` (RFC 5233), so that a helpdesk's per-ticket addresses count as one. The
   * subaddresses are the range ["local+", "local,") of the outbox_to index ("," follows "+").
   */
  countOutboxToMailbox(local: string, domain: string, since: Instant): number {
    const suffix = `@${domain}`;
    return (
      this.q(
        `SELECT COUNT(*) AS n FROM outbox WHERE created_at >= ? AND status != 'failed'
           AND (to_address = ? OR (to_address >= ? AND to_address < ? AND substr(to_address, -length(?)) = ?))`,
      ).get(since, `${local}${suffix}`, `${local}+`, `${local},`, suffix, suffix) as { n: number }
    ).n;
  }

  /**
   * Acknowledgements queued since `since` to any address at `domain`, counted up to `atMost`
   * (the per-domain cap: only whether it is reached matters, so a burst is never counted whole;
   * covering index outbox_ack_domain).
   */
  countAcknowledgementsToDomain(domain: string, since: Instant, atMost: number): number {
    return (
      this.q(
        `SELECT COUNT(*) AS n FROM (SELECT 1 FROM outbox
           WHERE kind = 'acknowledgement' AND substr(to_address, instr(to_address, '@') + 1) = ? AND created_at >= ? AND status != 'failed' LIMIT ?)`,
      ).get(domain, since, atMost) as { n: number }
    ).n;
  }

  /** Acknowledgements queued to anyone since `since`, counted up to `atMost` (the hourly total; covering index outbox_ack_created). */
  countAcknowledgementsSince(since: Instant, atMost: number): number {
    return (
      this.q("SELECT COUNT(*) AS n FROM (SELECT 1 FROM outbox WHERE kind = 'acknowledgement' AND created_at >= ? AND status != 'failed' LIMIT ?)").get(
        since,
        atMost,
      ) as { n: number }
    ).n;
  }

  outboxOfCase(caseId: number): OutboxRow[] {
    return this.q('SELECT * FROM outbox WHERE case_id = ? ORDER BY id').all(caseId) as OutboxRow[];
  }

  outboxRow(id: number): OutboxRow | undefined {
    return this.q('SELECT * FROM outbox WHERE id = ?').get(id) as OutboxRow | undefined;
  }

  listOutbox(status?: OutboxStatus): Array<OutboxRow & { case_number: string | null }> {
    const where = status ? 'WHERE o.status = ?' : '';
    const stmt = this.q(`SELECT o.*, c.number AS case_number FROM outbox o LEFT JOIN cases c ON c.id = o.case_id ${where} ORDER BY o.id`);
    return (status ? stmt.all(status) : stmt.all()) as Array<OutboxRow & { case_number: string | null }>;
  }

  /** Ids of mails due for an attempt: queued and due, or sending with an expired lease (in doubt). */
  dueOutbox(now: Instant, limit: number): number[] {
    return (
      this.q("SELECT id FROM outbox WHERE status IN ('queued','sending') AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?").all(now, limit) as {
        id: number;
      }[]
    ).map((r) => r.id);
  }

  nextOutboxDue(): Instant | undefined {
    const row = this.q("SELECT MIN(next_attempt_at) AS t FROM outbox WHERE status IN ('queued','sending')").get() as { t: Instant | null };
    return row.t ?? undefined;
  }

  /**
   * Claim a mail for one attempt, before any network traffic: status 'sending', attempts + 1,
   * a lease until `leaseUntil`, and an attempt row. Fails (returns null) when someone else
   * claimed it first or it is not due, so two senders never send the same attempt.
   */
  claimOutbox(id: number, now: Instant, leaseUntil: Instant): OutboxRow | null {
    const changed = this.q(
      `UPDATE outbox SET status = 'sending', attempts = attempts + 1, next_attempt_at = ?
         WHERE id = ? AND status IN ('queued','sending') AND next_attempt_at <= ?`,
    ).run(leaseUntil, id, now).changes;
    if (changed !== 1) return null;
    const row = this.outboxRow(id)!;
    this.q('INSERT INTO outbox_attempts (outbox_id, attempt, started_at) VALUES (?, ?, ?)').run(id, row.attempts, now);
    return row;
  }

  /** Record the result of the attempt `attempt`; only if the mail is still ours (status 'sending', same attempt). */
  finishOutboxAttempt(
    id: number,
    attempt: number,
    outcome: 'sent' | 'retry' | 'failed',
    response: string,
    at: Instant,
    nextAttemptAt: Instant | null,
  ): boolean {
    const status: OutboxStatus = outcome === 'sent' ? 'sent' : outcome === 'failed' ? 'failed' : 'queued';
    const changed = this.q(
      `UPDATE outbox SET status = ?, last_error = CASE WHEN ? = 'sent' THEN last_error ELSE ? END,
           transport_response = CASE WHEN ? = 'sent' THEN ? ELSE transport_response END,
           sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END,
           next_attempt_at = COALESCE(?, next_attempt_at)
         WHERE id = ? AND status = 'sending' AND attempts = ?`,
    ).run(status, outcome, response, outcome, response, outcome, at, nextAttemptAt, id, attempt).changes;
    this.q('UPDATE outbox_attempts SET finished_at = ?, outcome = ?, response = ? WHERE outbox_id = ? AND attempt = ?').run(at, outcome, response, id, attempt);
    return changed === 1;
  }

  /** Put a failed mail back in the queue (an operator fixed the cause). False when it is not failed. */
  requeueFailedOutbox(id: number, at: Instant): boolean {
    return this.q("UPDATE outbox SET status = 'queued', next_attempt_at = ?, retry_from = ? WHERE id = ? AND status = 'failed'").run(at, at, id).changes === 1;
  }

  outboxAttempts(id: number): Array<{ attempt: number; started_at: Instant; finished_at: Instant | null; outcome: string | null; response: string | null }> {
    return this.q('SELECT attempt, started_at, finished_at, outcome, response FROM outbox_attempts WHERE outbox_id = ? ORDER BY attempt').all(id) as Array<{
      attempt: number;
      started_at: Instant;
      finished_at: Instant | null;
      outcome: string | null;
      response: string | null;
    }>;
  }

  // ---- events --------------------------------------------------------------------------

  /**
   * Append an event to its case's hash chain (src/audit/hash.ts): the chain's last hash (an
   * index lookup on events_case), the next id (max + 1, so that ids have no gaps and a deleted
   * row shows), and the hash, all read and written in the caller's transaction, which holds
   * the write lock: no other writer can extend the same chain in between. Called outside a
   * transaction it opens its own.
   */
  appendEvent(e: NewEvent): void {
    if (!this.db.inTransaction) {
      this.tx(() => this.appendEvent(e));
      return;
    }
    const caseId = e.caseId ?? null;
    const last = (
      caseId === null
        ? this.q('SELECT hash FROM events WHERE case_id IS NULL ORDER BY id DESC LIMIT 1').get()
        : this.q('SELECT hash FROM events WHERE case_id = ? ORDER BY id DESC LIMIT 1').get(caseId)
    ) as { hash: string | null } | undefined;
    const { next } = this.q('SELECT COALESCE(MAX(id), 0) + 1 AS next FROM events').get() as { next: number };
    const row = {
      id: next,
      at: e.at,
      case_id: caseId,
      inbound_id: e.inboundId ?? null,
      outbox_id: e.outboxId ?? null,
      actor: e.actor,
      type: e.type,
      from_state: e.fromState ?? null,
      to_state: e.toState ?? null,
    };
    const detail = JSON.stringify(e.detail ?? {});
    const prevHash = last?.hash ?? null;
    const dh = detailHash(detail);
    this.q(
      `INSERT INTO events (id, at, case_id, inbound_id, outbox_id, actor, type, from_state, to_state, detail, prev_hash, hash, detail_hash)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      row.id,
      row.at,
      row.case_id,
      row.inbound_id,
      row.outbox_id,
      row.actor,
      row.type,
      row.from_state,
      row.to_state,
      detail,
      prevHash,
      eventHash(prevHash, row, dh),
      dh,
    );
  }

  eventsOfCase(caseId: number): EventRow[] {
    return this.q('SELECT * FROM events WHERE case_id = ? ORDER BY id').all(caseId) as EventRow[];
  }

  eventsOfInbound(inboundId: number): EventRow[] {
    return this.q('SELECT * FROM events WHERE inbound_id = ? ORDER BY id').all(inboundId) as EventRow[];
  }
}
