/**
 * Milestones are met by events, never by editing a deadline:
 *  - acknowledgement  when our acknowledgement to the customer has been sent, or when a person
 *                     has answered the customer (an answer acknowledges too)
 *  - firstAnswer      when an officer's mail to the customer is recorded on the case
 *  - finalAnswer      when an officer marks the final answer (`klagomal case met`; by mail later)
 * Each is an event on the case with who or what met it.
 */
import type { Store } from '../store/store';
import type { Actor } from './lifecycle';
import type { Milestone } from '../deadlines/policy';
import type { Instant } from '../util/clock';

/** Mark one milestone met; false when it was met already (or the case has no such deadline). */
export function meetMilestone(store: Store, caseId: number, milestone: Milestone, at: Instant, actor: Actor, detail: Record<string, unknown> = {}): boolean {
  if (!store.markDeadlineMet(caseId, milestone, at)) return false;
  store.appendEvent({ at, caseId, actor, type: 'milestone-met', detail: { milestone, ...detail } });
  return true;
}

/** After a mail of ours was sent: an acknowledgement meets the acknowledgement milestone. */
export function milestonesForSentMail(store: Store, mail: { case_id: number | null; kind: string; message_id: string }, at: Instant): void {
  if (mail.case_id !== null && mail.kind === 'acknowledgement')
    meetMilestone(store, mail.case_id, 'acknowledgement', at, 'sender', { messageId: mail.message_id });
}

/** An officer's mail to the customer: the first answer, and an acknowledgement if none was sent yet. */
export function milestonesForOfficerAnswer(store: Store, caseId: number, at: Instant, messageId: string | null): void {
  meetMilestone(store, caseId, 'firstAnswer', at, 'system', { messageId, by: 'officer mail to the customer' });
  meetMilestone(store, caseId, 'acknowledgement', at, 'system', { messageId, by: 'officer mail to the customer' });
}
