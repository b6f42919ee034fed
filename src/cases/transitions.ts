/**
 * The case lifecycle as a table of named, guarded transitions (BullMQ's `moveToX`, mox's queue):
 * each one checks the current state, makes one guarded UPDATE (`... WHERE status = ?`, so two
 * writers cannot both move the same case) and appends its event, in the caller's transaction.
 * A transition that is not allowed returns a typed refusal with its reason in Swedish and
 * English, which the officer's confirmation shows; nothing is written then.
 *
 *                ┌──────────── awaitCustomer ───────────┐
 *   openCase ──▶ new ──▶ in-progress ◀──▶ awaiting-customer ──▶ answered ──▶ closed
 *                  └──────────── markAnswered ─────────────────────▲    close ▲
 *
 *   from \ to          in-progress  awaiting-customer  answered  closed
 *   new                startWork    awaitCustomer      markAnswered close*
 *   in-progress        -            awaitCustomer      markAnswered close*
 *   awaiting-customer  startWork    -                  markAnswered close*
 *   answered           startWork    awaitCustomer      -            close*
 *   closed             reopen (#reopen REASON only: never by #status)
 *
 *   * close needs an outcome (#outcome), so that the register says what was decided;
 *     closeInadmissible (#inadmissible REASON) closes from the same states without one.
 *
 * `new` is only ever set by openCase (filing a complaint): a case does not go back to it.
 * Who may: `openCase` the pipeline (actor `system`); the others officers by mail (`#status`,
 * and `#ask` / `#final` as their side effect). Later work (approval of final answers,
 * reopening, inadmissible complaints) adds its states and rows here.
 */
import type { Store } from '../store/store';
import type { CaseRow, NewCase } from '../store/rows';
import type { Actor, CaseStatus } from './lifecycle';
import type { Instant } from '../util/clock';

/** A text for the officer, in both languages (the confirmation follows the officer's). */
export interface Bilingual {
  readonly en: string;
  readonly sv: string;
}

export type TransitionName = 'startWork' | 'awaitCustomer' | 'markAnswered' | 'close' | 'reopen' | 'closeInadmissible';

interface TransitionRule {
  readonly to: CaseStatus;
  readonly from: readonly CaseStatus[];
  readonly who: 'officer';
}

/** The table: which transition leads to which state, from which states, and who may make it. */
export const TRANSITIONS: Readonly<Record<TransitionName, TransitionRule>> = {
  startWork: { to: 'in-progress', from: ['new', 'awaiting-customer', 'answered'], who: 'officer' },
  awaitCustomer: { to: 'awaiting-customer', from: ['new', 'in-progress', 'answered'], who: 'officer' },
  markAnswered: { to: 'answered', from: ['new', 'in-progress', 'awaiting-customer'], who: 'officer' },
  close: { to: 'closed', from: ['new', 'in-progress', 'awaiting-customer', 'answered'], who: 'officer' },
  // Only by #reopen with a reason (a customer not satisfied, ARN asks): never by #status.
  reopen: { to: 'in-progress', from: ['closed'], who: 'officer' },
  // Only by #inadmissible with a reason: not a complaint under FFFS 2002:23 §2 (no outcome needed).
  closeInadmissible: { to: 'closed', from: ['new', 'in-progress', 'awaiting-customer', 'answered'], who: 'officer' },
};

/** The states an officer can set with `#status`: those the status transitions lead to. */
export const SETTABLE_STATUSES: readonly CaseStatus[] = ['in-progress', 'awaiting-customer', 'answered', 'closed'];

/** The transition `#status STATE` makes: reopening is never one of them. */
export function transitionTo(to: CaseStatus): Exclude<TransitionName, 'reopen'> | null {
  return (['startWork', 'awaitCustomer', 'markAnswered', 'close'] as const).find((n) => TRANSITIONS[n].to === to) ?? null;
}

export type TransitionRefusal = 'same-state' | 'not-allowed' | 'needs-outcome' | 'changed-meanwhile';

export type TransitionResult =
  | { readonly ok: true; readonly from: CaseStatus; readonly to: CaseStatus }
  | { readonly ok: false; readonly code: TransitionRefusal; readonly reason: Bilingual };

/**
 * Whether `name` may be made on a case in this state (pure: the decision, before any write).
 * Refusals carry the reason an officer reads.
 */
export function checkTransition(
  c: Pick<CaseRow, 'status' | 'outcome' | 'number'> & Partial<Pick<CaseRow, 'inadmissible_reason'>>,
  name: TransitionName,
): TransitionResult {
  const rule = TRANSITIONS[name];
  const from = c.status as CaseStatus;
  if (name === 'reopen' && from !== 'closed')
    return { ok: false, code: 'not-allowed', reason: { en: `${c.number} is not closed (${from})`, sv: `${c.number} är inte stängt (${from})` } };
  if (from === rule.to) return { ok: false, code: 'same-state', reason: { en: `status is already ${from}`, sv: `status är redan ${from}` } };
  if (!rule.from.includes(from)) {
    const reason: Bilingual =
      from === 'closed'
        ? { en: `${c.number} is closed: reopen it with #reopen and the reason`, sv: `${c.number} är stängt: öppna det igen med #reopen och skälet` }
        : { en: `a case cannot go from ${from} to ${rule.to}`, sv: `ett ärende kan inte gå från ${from} till ${rule.to}` };
    return { ok: false, code: 'not-allowed', reason };
  }
  if (name === 'close' && !c.outcome && !c.inadmissible_reason)
    return {
      ok: false,
      code: 'needs-outcome',
      reason: {
        en: 'set the outcome first (#outcome upheld | partly-upheld | rejected | withdrawn)',
        sv: 'ange utfallet först (#outcome upheld | partly-upheld | rejected | withdrawn)',
      },
    };
  return { ok: true, from, to: rule.to };
}

/** Make a transition: the guarded UPDATE and its `status-changed` event, or a refusal and nothing written. */
export function makeTransition(store: Store, c: CaseRow, name: TransitionName, actor: Actor, at: Instant): TransitionResult {
  const check = checkTransition(c, name);
  if (!check.ok) return check;
  if (!store.setCaseStatus(c.id, check.from, check.to, at))
    return {
      ok: false,
      code: 'changed-meanwhile',
      reason: { en: `${c.number} changed meanwhile: try again`, sv: `${c.number} ändrades under tiden: försök igen` },
    };
  store.appendEvent({ at, caseId: c.id, actor, type: 'status-changed', fromState: check.from, toState: check.to });
  return check;
}

export const startWork = (store: Store, c: CaseRow, actor: Actor, at: Instant): TransitionResult => makeTransition(store, c, 'startWork', actor, at);
export const awaitCustomer = (store: Store, c: CaseRow, actor: Actor, at: Instant): TransitionResult => makeTransition(store, c, 'awaitCustomer', actor, at);
export const markAnswered = (store: Store, c: CaseRow, actor: Actor, at: Instant): TransitionResult => makeTransition(store, c, 'markAnswered', actor, at);
export const close = (store: Store, c: CaseRow, actor: Actor, at: Instant): TransitionResult => makeTransition(store, c, 'close', actor, at);

/**
 * Reopen a closed case, with the reason on a `case-reopened` event before its `status-changed`
 * (the register counts reopenings from it). The outcome and the deadlines stay as they were.
 */
export function reopen(store: Store, c: CaseRow, reason: string, actor: Actor, at: Instant): TransitionResult {
  const check = checkTransition(c, 'reopen');
  if (!check.ok) return check;
  store.appendEvent({
    at,
    caseId: c.id,
    actor,
    type: 'case-reopened',
    detail: { reason, previousOutcome: c.outcome, ...(c.inadmissible_reason ? { previousInadmissible: c.inadmissible_reason } : {}) },
  });
  // Reopened, a case closed as not a complaint is a complaint again.
  if (c.inadmissible_reason) store.setCaseRecord(c.id, { inadmissibleReason: null, inadmissibleBy: null }, at);
  return makeTransition(store, c, 'reopen', actor, at);
}

/**
 * Close a case as not a complaint (FFFS 2002:23 §2: a general opinion, a question), with who
 * and why on the case and on a `case-inadmissible` event before its `status-changed`. It stays
 * in the register, counted apart from the complaints decided.
 */
export function closeInadmissible(store: Store, c: CaseRow, reason: string, actor: Actor, at: Instant): TransitionResult {
  const check = checkTransition(c, 'closeInadmissible');
  if (!check.ok) return check;
  const by = actor.startsWith('officer:') ? actor.slice('officer:'.length) : actor;
  store.setCaseRecord(c.id, { inadmissibleReason: reason, inadmissibleBy: by }, at);
  store.appendEvent({ at, caseId: c.id, actor, type: 'case-inadmissible', detail: { reason } });
  return makeTransition(store, c, 'closeInadmissible', actor, at);
}

/**
 * Open a case (state `new`) with its `case-opened` event: the only way a case comes to be.
 * `detail` is the event's detail as filing composes it (the reason, a forward, an import).
 */
export function openCase(
  store: Store,
  c: NewCase,
  event: { readonly inboundId: number | null; readonly detail: Record<string, unknown> },
  at: Instant,
): number {
  const caseId = store.insertCase(c);
  store.appendEvent({ at, caseId, inboundId: event.inboundId, actor: 'system', type: 'case-opened', toState: 'new', detail: event.detail });
  return caseId;
}
