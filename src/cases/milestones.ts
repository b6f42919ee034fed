/**
 * Milestones are met by events, never by editing a deadline:
 *  - acknowledgement  when our acknowledgement to the customer has been sent, or when a person
 *                     has answered the customer (an answer acknowledges too)
 *  - firstAnswer      when an officer's mail to the customer is recorded on the case
 *  - finalAnswer      when the final answer an officer gave with #final has been sent, or an
 *                     operator records it (`klagomal case met`, e.g. an answer by letter)
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

/**
 * After a mail of ours was sent: an acknowledgement meets the acknowledgement milestone; an
 * officer's final answer (#final) meets the final answer, and like a request for more
 * information (#ask) is a person answering the customer (first answer, and acknowledgement).
 */
export function milestonesForSentMail(store: Store, mail: { case_id: number | null; kind: string; message_id: string }, at: Instant): void {
  if (mail.case_id === null) return;
  const detail = { messageId: mail.message_id };
  if (mail.kind === 'acknowledgement') meetMilestone(store, mail.case_id, 'acknowledgement', at, 'sender', detail);
  if (mail.kind === 'final-answer' || mail.kind === 'information-request') {
    meetMilestone(store, mail.case_id, 'acknowledgement', at, 'sender', { ...detail, by: mail.kind });
    meetMilestone(store, mail.case_id, 'firstAnswer', at, 'sender', { ...detail, by: mail.kind });
  }
  if (mail.kind === 'final-answer') meetMilestone(store, mail.case_id, 'finalAnswer', at, 'sender', detail);
}

/** An officer's mail to the customer: the first answer, and an acknowledgement if none was sent yet. */
export function milestonesForOfficerAnswer(store: Store, caseId: number, at: Instant, messageId: string | null): void {
  meetMilestone(store, caseId, 'firstAnswer', at, 'system', { messageId, by: 'officer mail to the customer' });
  meetMilestone(store, caseId, 'acknowledgement', at, 'system', { messageId, by: 'officer mail to the customer' });
}
