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
 *   * close needs an outcome (#outcome), so that the register says what was decided, and the
 *     outcome must still stand: a rejection under four eyes still needs the written answer it
 *     leaned on, not returned by an approver since (the caller's OutcomeSupport:
 *     src/officers/approval.ts, which knows the rule);
 *     closeInadmissible (#inadmissible REASON) closes from the same states without one.
 *
 * `new` is only ever set by openCase (filing a complaint): a case does not go back to it.
 * Who may: `openCase` the pipeline (actor `system`); the others officers by mail (`#status`,
 * and `#ask` / `#final` as their side effect). Later work (inadmissible complaints) adds its
 * states and rows here.
 *
 * Four eyes on final answers (approval.finalAnswer): a final answer that needs approval is a
 * draft with a state of its own, beside the case's (the case keeps its state while the draft
 * waits, and takes `answered` through markAnswered when the approved answer is queued):
 *
 *   submitDraft ──▶ pending ──▶ approved   approveDraft (#approve: an approver, never the author)
 *                          ├──▶ returned   returnDraft  (#return REASON: an approver, to the author)
 *                          └──▶ replaced   replaceDraft (a new #final on the case)
 *
 * Each is a guarded UPDATE (`... WHERE state = 'pending'`) with its event on the case
 * (final-answer-drafted, -approved, -returned, -replaced). While a draft waits, `close` and
 * `markAnswered` by #status, and `closeInadmissible`, are refused: the case would look answered
 * (or done) with nothing sent.
 */
import type { Store } from '../store/store';
import type { CaseRow, NewCase, NewOutbox } from '../store/rows';
import type { DraftState, FinalAnswerDraftRow } from '../store/approvals';
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

export type TransitionRefusal = 'same-state' | 'not-allowed' | 'needs-outcome' | 'changed-meanwhile' | 'draft-pending' | 'outcome-unsupported';

/**
 * Whether a case's outcome still stands (null) or why not: what `#outcome` accepted it on (a
 * rejection's reasoned answer), which `close` checks again because it can change after the
 * outcome was set (a draft returned, an answer failed for good). Given by the caller: src/cases
 * does not know the officers' rules.
 */
export type OutcomeSupport = (c: CaseRow) => Bilingual | null;

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

/**
 * A final answer waiting for approval refuses the transitions that would make the case look
 * answered or done with nothing sent: close, closeInadmissible and markAnswered.
 */
function draftWaiting(store: Store, c: CaseRow, name: TransitionName): TransitionResult | null {
  const waiting = name === 'close' || name === 'closeInadmissible' || name === 'markAnswered' ? store.pendingDraftOfCase(c.id) : undefined;
  if (!waiting) return null;
  return {
    ok: false,
    code: 'draft-pending',
    reason: {
      en: `a final answer waits for approval (draft ${waiting.id}): an approver answers it with #approve or #return, or a new #final replaces it`,
      sv: `ett slutligt svar väntar på godkännande (utkast ${waiting.id}): en godkännare svarar med #approve eller #return, eller så ersätter ett nytt #final det`,
    },
  };
}

/**
 * Make a transition: the guarded UPDATE and its `status-changed` event, or a refusal and nothing
 * written. `support`: for `close`, the rule the case's outcome must still meet (OutcomeSupport).
 */
export function makeTransition(store: Store, c: CaseRow, name: TransitionName, actor: Actor, at: Instant, support?: OutcomeSupport): TransitionResult {
  const check = checkTransition(c, name);
  if (!check.ok) return check;
  const waiting = draftWaiting(store, c, name);
  if (waiting) return waiting;
  // Closed with an outcome that no longer stands (a rejection whose draft was returned): refused.
  const unsupported = name === 'close' && c.outcome && support ? support(c) : null;
  if (unsupported) return { ok: false, code: 'outcome-unsupported', reason: unsupported };
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
 * (the register counts reopenings from it). The outcome stays; the final answer's deadline is
 * counted anew from the reopening by the caller (src/cases/regime.ts recountOnReopen).
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
  // Refused before anything is written, as close is: a final answer waits for approval.
  const waiting = draftWaiting(store, c, 'closeInadmissible');
  if (waiting) return waiting;
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

// ---- final answers waiting for approval -----------------------------------------------------

export type DraftTransitionName = 'approveDraft' | 'returnDraft' | 'replaceDraft';

/** The draft's table: every change leaves `pending`, and a draft never goes back to it. */
export const DRAFT_TRANSITIONS: Readonly<Record<DraftTransitionName, { readonly from: 'pending'; readonly to: DraftState }>> = {
  approveDraft: { from: 'pending', to: 'approved' },
  returnDraft: { from: 'pending', to: 'returned' },
  replaceDraft: { from: 'pending', to: 'replaced' },
};

export type DraftRefusal = 'not-pending' | 'author' | 'not-approver' | 'changed-meanwhile';
export type DraftResult = { readonly ok: true } | { readonly ok: false; readonly code: DraftRefusal; readonly reason: Bilingual };

/**
 * Whether `by` may approve or return this draft (pure). The author never decides on their own
 * answer (four eyes); only the configured approvers decide; only a pending draft is decided.
 */
export function checkDraftDecision(
  d: Pick<FinalAnswerDraftRow, 'id' | 'state' | 'author' | 'replaced_by' | 'decided_by'>,
  by: string,
  approvers: readonly string[],
): DraftResult {
  if (d.state !== 'pending') {
    const reason: Bilingual =
      d.state === 'replaced'
        ? {
            en: `draft ${d.id} was replaced by draft ${d.replaced_by ?? '?'}: answer the approval request of the newer draft`,
            sv: `utkast ${d.id} har ersatts av utkast ${d.replaced_by ?? '?'}: svara på godkännandebegäran för det nyare utkastet`,
          }
        : d.state === 'approved'
          ? { en: `draft ${d.id} was already approved by ${d.decided_by ?? '?'}`, sv: `utkast ${d.id} är redan godkänt av ${d.decided_by ?? '?'}` }
          : {
              en: `draft ${d.id} was returned to its author by ${d.decided_by ?? '?'}`,
              sv: `utkast ${d.id} har skickats tillbaka till författaren av ${d.decided_by ?? '?'}`,
            };
    return { ok: false, code: 'not-pending', reason };
  }
  if (d.author === by)
    return {
      ok: false,
      code: 'author',
      reason: {
        en: `you wrote draft ${d.id}: a final answer is approved by another person (four eyes)`,
        sv: `du skrev utkast ${d.id}: ett slutligt svar godkänns av en annan person (fyra ögon)`,
      },
    };
  if (!approvers.includes(by))
    return {
      ok: false,
      code: 'not-approver',
      reason: {
        en: `${by} is not an approver (approval.approvers: ${approvers.join(', ')})`,
        sv: `${by} är inte godkännare (approval.approvers: ${approvers.join(', ')})`,
      },
    };
  return { ok: true };
}

function moveDraft(
  store: Store,
  d: FinalAnswerDraftRow,
  name: DraftTransitionName,
  o: { by: string | null; at: Instant; reason?: string; replacedBy?: number; outboxId?: number },
): DraftResult {
  const rule = DRAFT_TRANSITIONS[name];
  if (!store.setDraftState(d.id, rule.from, rule.to, o))
    return {
      ok: false,
      code: 'changed-meanwhile',
      reason: { en: `draft ${d.id} changed meanwhile: try again`, sv: `utkast ${d.id} ändrades under tiden: försök igen` },
    };
  return { ok: true };
}

/**
 * A final answer becomes a draft waiting for approval, with its `final-answer-drafted` event; a
 * draft already waiting on the case is replaced first (its `final-answer-replaced` event names
 * the new one). Returns the new draft's id and the one it replaced.
 */
export function submitDraft(
  store: Store,
  c: CaseRow,
  draft: {
    readonly author: string;
    readonly inboundId: number | null;
    readonly words: number;
    readonly mail: NewOutbox;
    readonly approvers: readonly string[];
    /** Which of the complaint's own points the answer names (src/officers/reasons.ts), or null. */
    readonly namesPoint?: string | null;
  },
  actor: Actor,
  at: Instant,
): { id: number; replaced: number | null } {
  const previous = store.pendingDraftOfCase(c.id);
  // The unique index allows one pending draft per case: the old one leaves `pending` first.
  if (previous) store.setDraftState(previous.id, 'pending', 'replaced', { by: draft.author, at });
  const id = store.insertDraft({
    caseId: c.id,
    author: draft.author,
    inboundId: draft.inboundId,
    outcome: c.outcome,
    words: draft.words,
    mail: draft.mail,
    approvers: draft.approvers,
    at,
  });
  if (previous) {
    store.setDraftReplacedBy(previous.id, id);
    store.appendEvent({ at, caseId: c.id, actor, type: 'final-answer-replaced', detail: { draft: previous.id, by: id } });
  }
  store.appendEvent({
    at,
    caseId: c.id,
    inboundId: draft.inboundId,
    actor,
    type: 'final-answer-drafted',
    detail: {
      draft: id,
      author: draft.author,
      words: draft.words,
      outcome: c.outcome,
      messageId: draft.mail.messageId,
      approvers: draft.approvers,
      replaces: previous?.id ?? null,
      ...(draft.namesPoint !== undefined ? { namesPoint: draft.namesPoint } : {}),
    },
  });
  return { id, replaced: previous?.id ?? null };
}

/** A pending draft is replaced without a new draft (a new #final that needs no approval is sent instead). */
export function replaceDraft(store: Store, c: CaseRow, d: FinalAnswerDraftRow, by: string, actor: Actor, at: Instant): DraftResult {
  const r = moveDraft(store, d, 'replaceDraft', { by, at });
  if (r.ok) store.appendEvent({ at, caseId: c.id, actor, type: 'final-answer-replaced', detail: { draft: d.id, by: null } });
  return r;
}

/**
 * An approver approves a draft: the guarded UPDATE (with the outbox row of the answer queued
 * by the caller), its `final-answer-approved` event, then the case takes `answered`.
 */
export function approveDraft(
  store: Store,
  c: CaseRow,
  d: FinalAnswerDraftRow,
  by: string,
  approvers: readonly string[],
  outboxId: number,
  actor: Actor,
  at: Instant,
): DraftResult {
  const check = checkDraftDecision(d, by, approvers);
  if (!check.ok) return check;
  const r = moveDraft(store, d, 'approveDraft', { by, at, outboxId });
  if (!r.ok) return r;
  store.appendEvent({
    at,
    caseId: c.id,
    outboxId,
    actor,
    type: 'final-answer-approved',
    detail: { draft: d.id, author: d.author, approver: by, draftedAt: d.drafted_at },
  });
  if (c.status !== 'answered' && checkTransition(c, 'markAnswered').ok) makeTransition(store, c, 'markAnswered', actor, at);
  return r;
}

/** An approver returns a draft to its author with the reason; the draft stays in the history. */
export function returnDraft(
  store: Store,
  c: CaseRow,
  d: FinalAnswerDraftRow,
  by: string,
  approvers: readonly string[],
  reason: string,
  actor: Actor,
  at: Instant,
): DraftResult {
  const check = checkDraftDecision(d, by, approvers);
  if (!check.ok) return check;
  const r = moveDraft(store, d, 'returnDraft', { by, at, reason });
  if (r.ok) store.appendEvent({ at, caseId: c.id, actor, type: 'final-answer-returned', detail: { draft: d.id, author: d.author, approver: by, reason } });
  return r;
}
