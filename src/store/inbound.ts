/**
 * Raw mail, inbound rows, source cursors and the quarantine: intake writes here first (src/ingest/intake.ts), the processor files from here.
 */
import type { MailKind } from '../cases/lifecycle';
import type { Instant } from '../util/clock';
import type { InboundRow, NewInbound, QuarantineRow } from './rows';
import { StoreBase } from './base';

export class InboundQueries extends StoreBase {
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

  /**
   * Where a raw mail is: its bytes, or its file (relative to the data folder); undefined when
   * there is none or retention removed it. A removed raw mail keeps its row with the empty blob
   * (blankRawMail): returned as bytes, it was a valid-looking empty mail (an officer's
   * notification went out with a 0-byte original.eml).
   */
  rawMail(sha256: string): { bytes: Buffer } | { path: string } | undefined {
    const row = this.q('SELECT bytes, path FROM raw_mail WHERE sha256 = ? AND removed_at IS NULL').get(sha256) as
      { bytes: Buffer | null; path: string | null } | undefined;
    if (!row) return undefined;
    return row.bytes ? { bytes: row.bytes } : { path: row.path! };
  }

  /** Whether retention removed the raw mail's bytes (its row and sha256 stay). */
  rawMailRemoved(sha256: string): boolean {
    return this.q('SELECT 1 FROM raw_mail WHERE sha256 = ? AND removed_at IS NOT NULL').get(sha256) !== undefined;
  }

  /**
   * Stored but not yet filed or quarantined: fresh mails oldest first, then mails whose
   * processing was started before without finishing (deferred, so that a mail which kills the
   * process cannot hold up the others).
   */
  pendingInbound(limit: number): InboundRow[] {
    // Two walks of the partial index inbound_pending in id order, each stopping at `limit`. One
    // query ordered by (attempts > 0, id) sorted every stored mail at each batch: a cost that
    // grew with the backlog (issue 16).
    const fresh = this.q("SELECT * FROM inbound WHERE state = 'stored' AND attempts = 0 ORDER BY id LIMIT ?").all(limit) as InboundRow[];
    if (fresh.length >= limit) return fresh;
    const started = this.q("SELECT * FROM inbound WHERE state = 'stored' AND attempts > 0 ORDER BY id LIMIT ?").all(limit - fresh.length) as InboundRow[];
    return [...fresh, ...started];
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

  /** Count one processing attempt of a mail before its batch is parsed (poison-mail guard). */
  bumpProcessingAttempt(id: number): number {
    return (this.q('UPDATE inbound SET attempts = attempts + 1 WHERE id = ? RETURNING attempts').get(id) as { attempts: number }).attempts;
  }

  /**
   * A processing attempt that failed on the data folder (full, unwritable), not on the mail:
   * taken back, so that the poison-mail guard never counts a full disk against a mail.
   */
  unbumpProcessingAttempt(id: number): void {
    this.q('UPDATE inbound SET attempts = MAX(0, attempts - 1) WHERE id = ?').run(id);
  }

  /** `quarantine retry`: the operator starts the count again, so that no later pass takes the mail for a poison mail. */
  resetProcessingAttempts(id: number): void {
    this.q('UPDATE inbound SET attempts = 0 WHERE id = ?').run(id);
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
}
