/**
 * Reconciliation (src/reconcile/): its runs in `reconcile_runs` (trigger, times, the report as
 * JSON), the lookups that tell whether a mail on a server is already stored, and the raw mail
 * listed for verification against its sha256. Reads inbound and raw_mail; writes only
 * reconcile_runs (found mail is stored through the intake's storeInbound).
 */
import type { Instant } from '../util/clock';
import { StoreBase } from './base';

export interface ReconcileRunRow {
  id: number;
  trigger: string;
  started_at: Instant;
  /** Null while it runs, or when the process stopped during it. */
  finished_at: Instant | null;
  /** The report as JSON ('{}' until the run finishes). */
  result: string;
}

/** A stored raw mail as verification reads it: its bytes, or its file relative to the data folder. */
export interface RawMailToVerify {
  sha256: string;
  bytes: Buffer | null;
  path: string | null;
}

export class ReconcileQueries extends StoreBase {
  // ---- runs ----------------------------------------------------------------------------

  /** A new run, its result still empty; returns its id. */
  startReconcileRun(startedAt: Instant, trigger: string): number {
    return Number(this.q("INSERT INTO reconcile_runs (started_at, trigger, result) VALUES (?, ?, '{}')").run(startedAt, trigger).lastInsertRowid);
  }

  finishReconcileRun(id: number, finishedAt: Instant, result: string): void {
    this.q('UPDATE reconcile_runs SET finished_at = ?, result = ? WHERE id = ?').run(finishedAt, result, id);
  }

  /** The latest run, or null when there was none (or the schema predates them). */
  lastReconcileRunRow(): ReconcileRunRow | null {
    try {
      return (
        (this.q('SELECT id, trigger, started_at, finished_at, result FROM reconcile_runs ORDER BY id DESC LIMIT 1').get() as ReconcileRunRow | undefined) ??
        null
      );
    } catch (err) {
      if (/no such table/.test(String((err as Error).message))) return null;
      throw err;
    }
  }

  // ---- is a mail on the server already stored? -------------------------------------------

  /** A mail of this Message-ID and size is stored (from any source). */
  storedWithMessageId(messageId: string, size: number): boolean {
    return this.q('SELECT 1 FROM inbound WHERE message_id = ? AND size = ? LIMIT 1').get(messageId, size) !== undefined;
  }

  /** A mail of this Message-ID and size is stored from this source folder. */
  storedWithMessageIdFrom(source: string, mailbox: string, messageId: string, size: number): boolean {
    return (
      this.q('SELECT 1 FROM inbound WHERE message_id = ? AND size = ? AND source = ? AND mailbox = ? LIMIT 1').get(messageId, size, source, mailbox) !==
      undefined
    );
  }

  /** A mail with these bytes is stored. */
  storedWithSha256(sha256: string): boolean {
    return this.q('SELECT 1 FROM inbound WHERE sha256 = ? LIMIT 1').get(sha256) !== undefined;
  }

  /** The UIDs stored from an IMAP folder under this UIDVALIDITY (by its source or a reconcile). */
  storedUids(source: string, mailbox: string, uidvalidity: string): number[] {
    const rows = this.q('SELECT uid FROM inbound WHERE source = ? AND mailbox = ? AND uidvalidity = ? AND uid IS NOT NULL').all(
      source,
      mailbox,
      uidvalidity,
    ) as Array<{
      uid: number;
    }>;
    return rows.map((r) => r.uid);
  }

  /** The (delivery name, size) of every mail stored from a Maildir. */
  storedLocatorSizes(source: string, mailbox: string): Array<{ locator: string; size: number }> {
    return this.q('SELECT locator, size FROM inbound WHERE source = ? AND mailbox = ? AND locator IS NOT NULL').all(source, mailbox) as Array<{
      locator: string;
      size: number;
    }>;
  }

  // ---- raw mail verification -----------------------------------------------------------

  /**
   * Whether raw_mail keeps tombstones (raw_mail.removed_at, from migration 9): bytes that
   * retention removed on purpose leave the row with an empty blob. Older schemas have no such column.
   */
  rawMailHasTombstones(): boolean {
    const columns = (this.q("SELECT name FROM pragma_table_info('raw_mail')").all() as Array<{ name: string }>).map((c) => c.name);
    return columns.includes('removed_at');
  }

  /** The next `limit` raw mails after the sha256 `after` (keyset paging), leaving out tombstones when `skipRemoved`. */
  rawMailPage(after: string, limit: number, skipRemoved: boolean): RawMailToVerify[] {
    const kept = skipRemoved ? 'AND removed_at IS NULL' : '';
    return this.q(`SELECT sha256, bytes, path FROM raw_mail WHERE sha256 > ? ${kept} ORDER BY sha256 LIMIT ?`).all(after, limit) as RawMailToVerify[];
  }

  /** The first 10 mails stored with these bytes, with their case numbers. */
  inboundOfRaw(sha256: string): Array<{ id: number; number: string | null }> {
    return this.q('SELECT i.id, c.number FROM inbound i LEFT JOIN cases c ON c.id = i.case_id WHERE i.sha256 = ? ORDER BY i.id LIMIT 10').all(sha256) as Array<{
      id: number;
      number: string | null;
    }>;
  }

  /** The sha256 of mails whose raw_mail row is gone altogether (possible only with foreign keys off). */
  inboundWithoutRaw(): string[] {
    const rows = this.q('SELECT DISTINCT i.sha256 FROM inbound i LEFT JOIN raw_mail r ON r.sha256 = i.sha256 WHERE r.sha256 IS NULL').all() as Array<{
      sha256: string;
    }>;
    return rows.map((r) => r.sha256);
  }
}
