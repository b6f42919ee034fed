/**
 * The SQL of the event hash chain (the hashing itself is in src/store/event-hash.ts): chaining the
 * events that existed before migration 8, reading the chains for `klagomal audit verify`, and
 * retention's one allowed change to an event (blanking its detail).
 *
 * Appending an event (and so extending a chain) is Store.appendEvent in src/store/store.ts.
 */
import type { DB } from './db';
import type { EventRow } from './store';
import { ANONYMISED_DETAIL, detailHash, eventHash } from './event-hash';
import { EVENTS_UPDATE_TRIGGER_V8 } from './migrations';

/** An event as the chain sees it: the whole row, hash columns included. */
export type ChainedEventRow = EventRow;

const CHAIN_COLUMNS =
  'id, at, case_id, inbound_id, outbox_id, actor, type, from_state, to_state, detail, prev_hash, hash, detail_hash, anonymised_at, anonymised_by_run';

/**
 * Migration 8, after its SQL and in its transaction: give every existing event its detail
 * hash, its chain's previous hash and its own hash, in id order, then create the UPDATE
 * trigger that allows only retention's anonymisation. The old trigger was dropped by the
 * migration's SQL, so these UPDATEs can run; nothing else can write meanwhile (the migration
 * holds the write lock).
 */
export function chainExistingEvents(db: DB): number {
  const last = new Map<number | null, string>();
  const update = db.prepare('UPDATE events SET prev_hash = ?, hash = ?, detail_hash = ? WHERE id = ?');
  let n = 0;
  // .all(): better-sqlite3 cannot write while an iterator on the same connection is open.
  const rows = db.prepare(`SELECT ${CHAIN_COLUMNS} FROM events ORDER BY id`).all() as ChainedEventRow[];
  for (const row of rows) {
    const prev = last.get(row.case_id) ?? null;
    const dh = detailHash(row.detail);
    const hash = eventHash(prev, row, dh);
    update.run(prev, hash, dh, row.id);
    last.set(row.case_id, hash);
    n++;
  }
  db.exec(EVENTS_UPDATE_TRIGGER_V8);
  return n;
}

/** Every event, chain by chain (case_id, NULL first), each chain in id order. Streams. */
export function eventsInChainOrder(db: DB): IterableIterator<ChainedEventRow> {
  return db.prepare(`SELECT ${CHAIN_COLUMNS} FROM events ORDER BY case_id, id`).iterate() as IterableIterator<ChainedEventRow>;
}

/** The events of one chain (a case, or null for the events without a case), in id order. */
export function eventsOfChain(db: DB, caseId: number | null): ChainedEventRow[] {
  return (
    caseId === null
      ? db.prepare(`SELECT ${CHAIN_COLUMNS} FROM events WHERE case_id IS NULL ORDER BY id`).all()
      : db.prepare(`SELECT ${CHAIN_COLUMNS} FROM events WHERE case_id = ? ORDER BY id`).all(caseId)
  ) as ChainedEventRow[];
}

/**
 * Event ids missing between the first and the last (ids are handed out as max + 1, so a gap
 * is a deleted row). Returns ranges [from, to]; at most `limit` of them.
 */
export function eventIdGaps(db: DB, limit = 20): Array<[number, number]> {
  const rows = db
    .prepare(
      `SELECT id + 1 AS gap_from, next_id - 1 AS gap_to FROM (
         SELECT id, LEAD(id) OVER (ORDER BY id) AS next_id FROM events
       ) WHERE next_id IS NOT NULL AND next_id > id + 1 LIMIT ?`,
    )
    .all(limit) as Array<{ gap_from: number; gap_to: number }>;
  const first = db.prepare('SELECT MIN(id) AS min FROM events').get() as { min: number | null };
  const out: Array<[number, number]> = [];
  if (first.min !== null && first.min > 1) out.push([1, first.min - 1]);
  for (const r of rows) out.push([r.gap_from, r.gap_to]);
  return out.slice(0, limit);
}

/** Case numbers by id, for reports. */
export function caseNumbers(db: DB): Map<number, string> {
  const rows = db.prepare('SELECT id, number FROM cases').all() as Array<{ id: number; number: string }>;
  return new Map(rows.map((r) => [r.id, r.number]));
}

/**
 * The ids of retention runs that may have anonymised events (dry runs excluded), or null when
 * the database has no retention_runs table (retention not installed: no anonymisation is valid).
 */
export function retentionRunIds(db: DB): Set<number> | null {
  const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'retention_runs'").get();
  if (!table) return null;
  const columns = (db.prepare('PRAGMA table_info(retention_runs)').all() as Array<{ name: string }>).map((c) => c.name);
  const sql = columns.includes('dry_run') ? 'SELECT id FROM retention_runs WHERE dry_run = 0' : 'SELECT id FROM retention_runs';
  return new Set((db.prepare(sql).all() as Array<{ id: number }>).map((r) => r.id));
}

/**
 * Retention's one allowed change: blank the detail of every event of a case not yet
 * anonymised. hash and detail_hash stay, so the chain still verifies. Returns the count.
 */
export function anonymiseCaseEventDetails(db: DB, caseId: number, runId: number, at: string): number {
  return db
    .prepare('UPDATE events SET detail = ?, anonymised_at = ?, anonymised_by_run = ? WHERE case_id = ? AND anonymised_at IS NULL')
    .run(ANONYMISED_DETAIL, at, runId, caseId).changes;
}

/** Personnummer values still stored in clear (versions before schema 8). */
export function countClearPersonnummer(db: DB): number {
  const row = db.prepare("SELECT COUNT(*) AS n FROM cases WHERE personnummer IS NOT NULL AND personnummer <> '' AND personnummer NOT LIKE 'v1:%'").get() as {
    n: number;
  };
  return row.n;
}
