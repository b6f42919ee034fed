/**
 * The hash chain over the events (pure; used by the store when it appends an event, by the
 * migration that chains the events already there, and by `klagomal audit verify`).
 *
 * Chains: one per case (events.case_id), and one for every event without a case (case_id IS
 * NULL: mails stored before they are filed, duplicates, system events). Within a chain, events
 * follow in id order; the first has prev_hash NULL.
 *
 *   detail_hash = sha256(detail as stored, UTF-8)                                 (hex)
 *   hash        = sha256(JSON.stringify(["klagomal-event-1", prev_hash, id, at, case_id,
 *                 inbound_id, outbox_id, actor, type, from_state, to_state, detail_hash]))
 *
 * A JSON array is the canonical form: every field is delimited and typed (null differs from
 * "null", 12 from "12"), so no two different events share an input. The detail enters only
 * through its hash, so that retention can replace a detail with '{"anonymised":true}' and the
 * chain still verifies over the stored detail_hash (see src/audit/chain.ts).
 *
 * What the chain shows, and what it does not (security notes):
 *  - an edited detail (sha256(detail) differs from detail_hash), an edited field (the hash
 *    differs), a row deleted, inserted or moved inside a chain (prev_hash differs from the
 *    previous row's hash), a row deleted at the end of a chain (a gap in the event ids, which
 *    the store hands out without gaps: max(id) + 1);
 *  - not: someone with write access to the file who recomputes every later hash, or who
 *    removes the very last events of the database. The chain has no secret. Against that, keep
 *    the head that `klagomal audit verify` prints (last event id and hash) somewhere else, e.g.
 *    in the audit report: any later rewrite of what came before it changes that hash.
 */
import crypto from 'node:crypto';

export const EVENT_HASH_VERSION = 'klagomal-event-1';

/** The detail retention leaves in an event it anonymised. */
export const ANONYMISED_DETAIL = '{"anonymised":true}';

export interface HashedEventFields {
  readonly id: number;
  readonly at: string;
  readonly case_id: number | null;
  readonly inbound_id: number | null;
  readonly outbox_id: number | null;
  readonly actor: string;
  readonly type: string;
  readonly from_state: string | null;
  readonly to_state: string | null;
}

/**
 * The one-shot hash where Node has it (20.12+): the same digest without a Hash object per call;
 * two per event, several events per mail (issue 16). package.json allows any Node 20.
 */
export const sha256Hex: (text: string) => string =
  typeof crypto.hash === 'function' ? (text) => crypto.hash('sha256', text, 'hex') : (text) => crypto.createHash('sha256').update(text, 'utf8').digest('hex');

export function detailHash(detail: string): string {
  return sha256Hex(detail);
}

export function eventHash(prevHash: string | null, e: HashedEventFields, detailHashHex: string): string {
  return sha256Hex(
    JSON.stringify([EVENT_HASH_VERSION, prevHash, e.id, e.at, e.case_id, e.inbound_id, e.outbox_id, e.actor, e.type, e.from_state, e.to_state, detailHashHex]),
  );
}

/** The first 12 hex digits: enough to compare by eye, as git does. */
export function shortHash(hash: string | null): string {
  return hash ? hash.slice(0, 12) : '(none)';
}
