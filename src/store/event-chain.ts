/**
 * Chaining the events that existed before migration 8 (the hashing itself is in
 * src/store/event-hash.ts). It runs inside the migration, on the bare connection, before any
 * Store exists.
 *
 * Appending an event (and so extending a chain) is Store.appendEvent (src/store/events.ts);
 * reading the chains for `klagomal audit verify` and retention's one allowed change to an event
 * are in src/store/audit.ts.
 */
import type { DB } from './db';
import type { EventRow } from './store';
import { detailHash, eventHash } from './event-hash';
import { EVENTS_UPDATE_TRIGGER_V8 } from './migrations';

/** An event as the chain sees it: the whole row, hash columns included. */
export type ChainedEventRow = EventRow;

export const CHAIN_COLUMNS =
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
