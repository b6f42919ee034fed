/**
 * The outbox: queued mail, claims and send attempts (recorded before the network call), results; and the meta key-value rows.
 */
import type { OutboxStatus } from '../cases/lifecycle';
import type { Instant } from '../util/clock';
import crypto from 'node:crypto';
import type { OutboxRow, NewOutbox, OutboxAttachmentRow } from './rows';
import { StoreBase } from './base';

export class OutboxQueries extends StoreBase {
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
    if (info.changes === 1 && o.attachments?.length) {
      const id = Number(info.lastInsertRowid);
      const add = this.q(
        'INSERT INTO outbox_attachments (outbox_id, position, filename, content_type, cid, size, sha256, content) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      );
      o.attachments.forEach((a, i) =>
        add.run(id, i, a.filename, a.contentType, a.cid, a.content.length, crypto.createHash('sha256').update(a.content).digest('hex'), a.content),
      );
    }
    // The version's sources are kept once; asked first, so that the sources of every template of
    // the version are not turned into JSON again for each mail (issue 16).
    if (
      info.changes === 1 &&
      o.templateSources &&
      !this.q('SELECT 1 FROM template_versions WHERE version = ? AND kind = ? AND language = ?').get(o.templateVersion, o.template, o.language)
    ) {
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

  /** The files a mail carries, in order (none for most mails). */
  outboxAttachments(id: number): OutboxAttachmentRow[] {
    return this.q('SELECT * FROM outbox_attachments WHERE outbox_id = ? ORDER BY position').all(id) as OutboxAttachmentRow[];
  }

  /**
   * Files of mails that failed for good, queued before `before`, still holding their content
   * (retention: a failed monthly pack must not keep the register's names for ever).
   */
  failedOutboxFilesDue(before: Instant): number {
    return (
      this.q(
        "SELECT COUNT(*) AS n FROM outbox_attachments WHERE content IS NOT NULL AND outbox_id IN (SELECT id FROM outbox WHERE status = 'failed' AND created_at < ?)",
      ).get(before) as { n: number }
    ).n;
  }

  /** Drop the content of the files counted by failedOutboxFilesDue (size and hash stay). */
  blankFailedOutboxFiles(before: Instant): number {
    return this.q(
      "UPDATE outbox_attachments SET content = NULL WHERE content IS NOT NULL AND outbox_id IN (SELECT id FROM outbox WHERE status = 'failed' AND created_at < ?)",
    ).run(before).changes;
  }

  /** How many of a mail's files have lost their content (0 for a mail that can be sent whole). */
  outboxFilesBlanked(id: number): number {
    return (this.q('SELECT COUNT(*) AS n FROM outbox_attachments WHERE outbox_id = ? AND content IS NULL').get(id) as { n: number }).n;
  }

  /** Drop the content of a sent mail's files (size and hash stay): the register CSV is personal data. */
  blankOutboxAttachments(id: number): number {
    return this.q('UPDATE outbox_attachments SET content = NULL WHERE outbox_id = ? AND content IS NOT NULL').run(id).changes;
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

  /**
   * Record copies (Cc) the server took in an attempt that failed for the customer, beside any
   * recorded before: later attempts leave them out of the envelope (src/reply/transport.ts).
   */
  addOutboxCopiesAccepted(id: number, addresses: readonly string[]): void {
    this.q(
      `UPDATE outbox SET copies_accepted = (SELECT json_group_array(value) FROM
           (SELECT value FROM json_each(COALESCE(copies_accepted, '[]')) UNION SELECT value FROM json_each(?)))
         WHERE id = ?`,
    ).run(JSON.stringify(addresses.map((a) => a.toLowerCase())), id);
  }

  /**
   * Put off the next attempt of a mail whose send ended in doubt: it stays 'sending' with its
   * attempt unfinished (the server may have taken it), due again at `notBefore` but never before
   * its lease runs out. Only while the mail is still this attempt's.
   */
  deferOutboxInDoubt(id: number, attempt: number, notBefore: Instant): void {
    this.q("UPDATE outbox SET next_attempt_at = MAX(next_attempt_at, ?) WHERE id = ? AND status = 'sending' AND attempts = ?").run(notBefore, id, attempt);
  }

  /**
   * Whether retention removed a mail's text (blankOutboxMails, when its case was anonymised): the
   * row is the record that the mail existed, with nothing left to send (subject and body empty,
   * the customer's address gone).
   */
  outboxBlankedByRetention(id: number): boolean {
    return (
      this.q(
        `SELECT 1 FROM outbox o LEFT JOIN cases c ON c.id = o.case_id
           WHERE o.id = ? AND (c.anonymised_at IS NOT NULL OR (o.subject = '' AND o.body_text = ''))`,
      ).get(id) !== undefined
    );
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
}
