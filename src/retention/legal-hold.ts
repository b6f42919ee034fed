/**
 * Legal hold: a case that may be needed as evidence (an ARN complaint, a court case, a
 * supervisor's inquiry) is kept whole, whatever its age: retention (./retention.ts) skips it.
 *
 * Set by an officer's `#hold REASON` and lifted by `#release` (src/officers/commands.ts), or by
 * an operator with `klagomal case hold ID --reason TEXT` / `klagomal case release ID`.
 *
 * Storage: cases.hold_reason, held_at, held_by (migration 9); hold_reason NULL = not held.
 * Every change is an event (`legal-hold-set`, `legal-hold-released`) with who and why, so the
 * history of holds survives their release. Both verbs check the current state and must run
 * inside the caller's transaction.
 */
import type { Actor } from '../cases/lifecycle';
import type { Store } from '../store/store';
import type { Instant } from '../util/clock';
import { maskPersonnummer } from '../util/personnummer';

export interface LegalHold {
  readonly reason: string;
  readonly heldAt: Instant;
  /** The actor who set it: `officer:ADDRESS` or `operator`. */
  readonly heldBy: string;
}

/** A hold that cannot be set (the case is gone, or its personal data was already removed). */
export class LegalHoldRefused extends Error {
  /** `sv` says the same in Swedish, for an officer's confirmation (src/officers/commands.ts). */
  constructor(
    message: string,
    readonly sv: string = message,
  ) {
    super(message);
  }
}

/** The longest reason kept (a reason is a reference, not a document). */
export const HOLD_REASON_MAX = 500;

/** The case's legal hold, or null when it is not held. */
export function legalHoldOf(store: Store, caseId: number): LegalHold | null {
  const c = store.caseHoldColumns(caseId);
  return c?.hold_reason ? { reason: c.hold_reason, heldAt: c.held_at!, heldBy: c.held_by ?? '' } : null;
}

export type HoldResult =
  { readonly kind: 'set' } | { readonly kind: 'changed'; readonly previous: string } | { readonly kind: 'unchanged'; readonly hold: LegalHold };

/**
 * Put a case on legal hold, or change the reason of its hold. A case whose personal data
 * retention has removed cannot be held (there is nothing left to keep).
 */
export function holdCase(store: Store, caseId: number, o: { reason: string; actor: Actor; at: Instant; inboundId?: number | null; user?: string }): HoldResult {
  // Stored on the case and in its events: masked whoever gave it (#hold, the CLI).
  const reason = maskPersonnummer(o.reason.replace(/\s+/g, ' ').trim(), new Date(o.at)).slice(0, HOLD_REASON_MAX);
  if (!reason)
    throw new LegalHoldRefused(
      'a legal hold needs a reason (an ARN or court case number, who asked for it)',
      'en gallringsspärr behöver ett skäl (ett ARN- eller målnummer, vem som begärde den)',
    );
  const c = store.caseHoldColumns(caseId);
  if (!c) throw new LegalHoldRefused(`no case ${caseId}`, `inget ärende ${caseId}`);
  if (c.anonymised_at)
    throw new LegalHoldRefused(
      `${c.number} was anonymised by retention on ${c.anonymised_at}: its personal data is gone, nothing is left to hold`,
      `${c.number} anonymiserades av gallringen ${c.anonymised_at}: personuppgifterna är borta, det finns inget kvar att spärra`,
    );
  if (c.hold_reason === reason) return { kind: 'unchanged', hold: { reason, heldAt: c.held_at!, heldBy: c.held_by ?? '' } };
  // A changed reason keeps the hold's start: the case has been held since then without a break.
  store.setCaseHold(caseId, reason, o.at, o.actor);
  store.appendEvent({
    at: o.at,
    caseId,
    inboundId: o.inboundId ?? null,
    actor: o.actor,
    type: 'legal-hold-set',
    detail: { reason, ...(c.hold_reason ? { previous: c.hold_reason, heldSince: c.held_at } : {}), ...(o.user ? { user: o.user } : {}) },
  });
  return c.hold_reason ? { kind: 'changed', previous: c.hold_reason } : { kind: 'set' };
}

/** Lift a case's legal hold. Returns the hold that was lifted, or null when the case was not held. */
export function releaseCase(store: Store, caseId: number, o: { actor: Actor; at: Instant; inboundId?: number | null; user?: string }): LegalHold | null {
  const c = store.caseHoldColumns(caseId);
  if (!c) throw new LegalHoldRefused(`no case ${caseId}`, `inget ärende ${caseId}`);
  if (!c.hold_reason) return null;
  store.clearCaseHold(caseId);
  const hold: LegalHold = { reason: c.hold_reason, heldAt: c.held_at!, heldBy: c.held_by ?? '' };
  store.appendEvent({
    at: o.at,
    caseId,
    inboundId: o.inboundId ?? null,
    actor: o.actor,
    type: 'legal-hold-released',
    detail: { reason: hold.reason, heldSince: hold.heldAt, heldBy: hold.heldBy, ...(o.user ? { user: o.user } : {}) },
  });
  return hold;
}
