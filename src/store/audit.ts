/**
 * The audit's reads of the event hash chain (src/audit/): every chain in order, one chain,
 * the event ids missing, the recorded retention runs an anonymised event may name; and
 * retention's one allowed change to an event (blanking its detail, src/audit/chain.ts).
 */
import type { ChainedEventRow } from './event-chain';
import { CHAIN_COLUMNS } from './event-chain';
import { ANONYMISED_DETAIL } from './event-hash';
import { StoreBase } from './base';

export class AuditQueries extends StoreBase {
  /** Every event, chain by chain (case_id, NULL first), each chain in id order. Streams. */
  eventsInChainOrder(): IterableIterator<ChainedEventRow> {
    return this.q(`SELECT ${CHAIN_COLUMNS} FROM events ORDER BY case_id, id`).iterate() as IterableIterator<ChainedEventRow>;
  }

  /** The events of one chain (a case, or null for the events without a case), in id order. */
  eventsOfChain(caseId: number | null): ChainedEventRow[] {
    return (
      caseId === null
        ? this.q(`SELECT ${CHAIN_COLUMNS} FROM events WHERE case_id IS NULL ORDER BY id`).all()
        : this.q(`SELECT ${CHAIN_COLUMNS} FROM events WHERE case_id = ? ORDER BY id`).all(caseId)
    ) as ChainedEventRow[];
  }

  /**
   * Event ids missing between the first and the last (ids are handed out as max + 1, so a gap
   * is a deleted row). Returns ranges [from, to]; at most `limit` of them.
   */
  eventIdGaps(limit = 20): Array<[number, number]> {
    const rows = this.q(
      `SELECT id + 1 AS gap_from, next_id - 1 AS gap_to FROM (
         SELECT id, LEAD(id) OVER (ORDER BY id) AS next_id FROM events
       ) WHERE next_id IS NOT NULL AND next_id > id + 1 LIMIT ?`,
    ).all(limit) as Array<{ gap_from: number; gap_to: number }>;
    const first = this.q('SELECT MIN(id) AS min FROM events').get() as { min: number | null };
    const out: Array<[number, number]> = [];
    if (first.min !== null && first.min > 1) out.push([1, first.min - 1]);
    for (const r of rows) out.push([r.gap_from, r.gap_to]);
    return out.slice(0, limit);
  }

  /** Case numbers by id, for reports. */
  caseNumbers(): Map<number, string> {
    const rows = this.q('SELECT id, number FROM cases').all() as Array<{ id: number; number: string }>;
    return new Map(rows.map((r) => [r.id, r.number]));
  }

  /**
   * The ids of retention runs that may have anonymised events (dry runs excluded), or null when
   * the database has no retention_runs table (retention not installed: no anonymisation is valid).
   */
  retentionRunIds(): Set<number> | null {
    const table = this.q("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'retention_runs'").get();
    if (!table) return null;
    const columns = (this.q('PRAGMA table_info(retention_runs)').all() as Array<{ name: string }>).map((c) => c.name);
    const sql = columns.includes('dry_run') ? 'SELECT id FROM retention_runs WHERE dry_run = 0' : 'SELECT id FROM retention_runs';
    return new Set((this.q(sql).all() as Array<{ id: number }>).map((r) => r.id));
  }

  /**
   * Retention's one allowed change: blank the detail of every event of a case not yet
   * anonymised. hash and detail_hash stay, so the chain still verifies. Returns the count.
   */
  anonymiseCaseEventDetails(caseId: number, runId: number, at: string): number {
    return this.q('UPDATE events SET detail = ?, anonymised_at = ?, anonymised_by_run = ? WHERE case_id = ? AND anonymised_at IS NULL').run(
      ANONYMISED_DETAIL,
      at,
      runId,
      caseId,
    ).changes;
  }

  /**
   * The same for the events of mails on no case (auto-replies, bounces, lists, loose duplicates):
   * their details name the sender ("the From display name holds another address (anna@...)").
   * Events on a case are left to the case's own anonymisation.
   */
  anonymiseLooseMailEventDetails(inboundIds: readonly number[], runId: number, at: string): number {
    if (inboundIds.length === 0) return 0;
    return this.db
      .prepare(
        `UPDATE events SET detail = ?, anonymised_at = ?, anonymised_by_run = ?
         WHERE case_id IS NULL AND anonymised_at IS NULL AND inbound_id IN (${inboundIds.map(() => '?').join(', ')})`,
      )
      .run(ANONYMISED_DETAIL, at, runId, ...inboundIds).changes;
  }

  /** Personnummer values still stored in clear (versions before schema 8). */
  countClearPersonnummer(): number {
    const row = this.q("SELECT COUNT(*) AS n FROM cases WHERE personnummer IS NOT NULL AND personnummer <> '' AND personnummer NOT LIKE 'v1:%'").get() as {
      n: number;
    };
    return row.n;
  }
}
