/**
 * The append-only event history and its hash chain (src/store/event-hash.ts).
 */
import type { EventRow, NewEvent } from './rows';
import { detailHash, eventHash } from './event-hash';
import { StoreBase } from './base';

export class EventQueries extends StoreBase {
  // ---- events --------------------------------------------------------------------------

  /**
   * Append an event to its case's hash chain (src/store/event-hash.ts): the chain's last hash (an
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
