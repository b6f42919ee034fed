/**
 * The act stage: what follows from a filed mail, decided from what filing recorded and done in
 * the same transaction. Old mail from `klagomal import` is history: recorded on its case, never
 * acted on (an officer's `#final` from 2021 must not send a final answer today, nor an old
 * bounce mark an address failing, nor an old forgery alarm the manager). After a restore, so is
 * mail the install before it may have acted on (src/cases/after-restore.ts): nothing twice.
 *
 *   officer mail        its commands run, its answer is recorded (src/officers/)
 *   a forged staff From the case and the manager are told (src/officers/)
 *   a bounce of ours    recorded; a permanent one marks the address failing (src/reply/bounces.ts)
 *   a new complaint     the acknowledgement is decided and queued (src/reply/acknowledge.ts),
 *                       then the contact person is notified (src/officers/)
 *   a #register mail    a postal-only customer's acknowledgement goes to the officer as a
 *                       letter to post; an unreadable one gets its problems back
 *   a follow-up on a    the contact person (else the managers) is told, to decide on #reopen;
 *   closed case         the customer gets no automatic answer (src/officers/closed-case-reply.ts)
 *   a follow-up with    the case's complaint is read again with them (src/cases/complaint-reread.ts)
 *   documents
 */
import type { FiledMail, FilingContext } from '../cases/filing';
import { handleOfficerMail, notifyContactOfNewCase, recordSuspectedSpoofing } from '../officers/officer-mail';
import { notifyOfReplyOnClosedCase } from '../officers/closed-case-reply';
import { recordBounce } from '../reply/bounces';
import { queueAcknowledgement } from '../reply/acknowledge';
import { actOnRegistration } from '../officers/registration';
import { rereadCaseFields } from '../cases/complaint-reread';

/** Act on a filed mail; returns whether an acknowledgement was queued. */
export function actOnMail(ctx: FilingContext, filed: FiledMail, now: Date): { acknowledgementQueued: boolean } {
  const { store, config } = ctx;
  const { classification: c, facts, mail, inbound, quietImport, quietAfterRestore } = filed;
  const caseId = filed.result.caseId;
  // After a restore, mail the install before it may have acted on is recorded, not acted on again.
  const quiet = quietImport || quietAfterRestore !== null;
  if (!quiet) {
    if (c.kind === 'officer' && caseId !== null) {
      handleOfficerMail(
        ctx,
        store.caseById(caseId)!,
        mail,
        filed.newText,
        { id: inbound.id, fromSentFolder: facts.fromSentFolder === true, otherCaseInSubject: c.otherCaseInSubject ?? null },
        now,
      );
    }
    if ((c.kind === 'followup' || c.kind === 'complaint') && c.spoofSuspected) {
      recordSuspectedSpoofing(store, config, caseId !== null ? store.caseById(caseId)! : null, mail, filed.newText, c.spoofSuspected, inbound.id, now);
    }
    if (c.kind === 'followup') notifyOfReplyOnClosedCase(ctx, filed, now);
    // The form or letter the acknowledgement asked for, sent in a follow-up: the case's complaint is read again.
    if (c.kind === 'followup' && caseId !== null && (filed.documentsRead ?? 0) > 0) {
      rereadCaseFields(store, config, caseId, now, { by: 'documents of a follow-up', inboundId: inbound.id });
    }
  }
  // A recent bounce of ours still marks the address failing after a restore (it sends nothing); an imported old one does not.
  if (!quietImport && c.kind === 'bounce' && facts.returnedMail) recordBounce(store, config, facts.returnedMail, mail, inbound.id, now);
  let acknowledgementQueued = false;
  if (filed.complaint) {
    acknowledgementQueued = queueAcknowledgement(ctx, filed.complaint, quietImport, now, quietAfterRestore);
    // The contact person hears of the case after the acknowledgement is queued (that is the promise to keep first).
    if (!quiet) notifyContactOfNewCase(ctx, store.caseById(filed.complaint.caseId)!, now);
  }
  // A #register mail: the acknowledgement by post, or the problems back to the officer.
  if (!quietImport) actOnRegistration(ctx, filed, now);
  return { acknowledgementQueued };
}
