/**
 * The contact person of a new case (the customer has a right to a designated one): round-robin
 * over the configured officers with role "officer", or over the managers when there are none.
 * The position of the round is kept in the database so that it survives restarts. Category
 * rules and the officer's notification come with the officers' mail workflow.
 */
import type { Officer } from '../config/config';
import type { Store } from '../store/store';

/** Pure: the officer at `turn` of the round. */
export function officerAtTurn(officers: readonly Officer[], turn: number): Officer | null {
  const pool = officers.some((o) => o.role === 'officer') ? officers.filter((o) => o.role === 'officer') : officers;
  if (pool.length === 0) return null;
  return pool[((turn % pool.length) + pool.length) % pool.length];
}

/** Choose and advance the round. Call inside the filing transaction. */
export function nextContactOfficer(store: Store, officers: readonly Officer[]): Officer | null {
  const turn = Number(store.meta('assignment.turn') ?? '0');
  const officer = officerAtTurn(officers, turn);
  if (officer) store.setMeta('assignment.turn', String(turn + 1));
  return officer;
}
