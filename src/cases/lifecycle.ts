/**
 * The words of the case lifecycle, as string-literal unions mirrored by CHECK constraints in
 * the schema (src/store/migrations.ts). A case's state is one column, never loose flags.
 *
 *   new ──▶ in-progress ──▶ awaiting-customer ──▶ answered ──▶ closed
 *
 * The pipeline sets `new`; officers move cases on by mail commands (src/officers/commands.ts):
 * `#status`, and `#ask` (awaiting-customer) and `#final` (answered) as side effects.
 */
export type CaseStatus = 'new' | 'in-progress' | 'awaiting-customer' | 'answered' | 'closed';
export const CASE_STATUSES: readonly CaseStatus[] = ['new', 'in-progress', 'awaiting-customer', 'answered', 'closed'];

/** What the firm decided on a complaint (`#outcome`). */
export type CaseOutcome = 'upheld' | 'partly-upheld' | 'rejected' | 'withdrawn';
export const CASE_OUTCOMES: readonly CaseOutcome[] = ['upheld', 'partly-upheld', 'rejected', 'withdrawn'];

/** What an inbound mail is, decided once by src/classify and stored with its reason. */
export type MailKind = 'complaint' | 'followup' | 'officer' | 'autoreply' | 'bounce' | 'bulk' | 'duplicate';
export const MAIL_KINDS: readonly MailKind[] = ['complaint', 'followup', 'officer', 'autoreply', 'bounce', 'bulk', 'duplicate'];

/** Kinds of mail made from a template (each is also the name of its template). */
export type TemplateKind =
  | 'acknowledgement'
  | 'information-request'
  | 'delay-notice'
  | 'holding-reply'
  | 'final-answer'
  | 'officer-new-case'
  | 'officer-command-result'
  | 'officer-closed-case-reply'
  | 'escalation-warning'
  | 'breach-notice'
  | 'manager-digest'
  | 'approval-request';

/**
 * Kinds of mail we send: the templated ones, the built-in notice to the admin (it must work when
 * the templates do not), and the monthly management pack (built by src/monthly/, its words in
 * src/report/labels.ts like the HTML report's).
 */
export type OutboundKind = TemplateKind | 'admin-notice' | 'acknowledgement-letter' | 'monthly-pack';

export type OutboxStatus = 'queued' | 'sending' | 'sent' | 'failed';

/** Event types of the append-only history. */
export type EventType =
  | 'mail-stored'
  | 'case-opened'
  | 'mail-filed'
  | 'duplicate-recorded'
  | 'message-id-collision'
  | 'reconcile-found-unfiled'
  | 'quarantined'
  | 'quarantine-retried'
  | 'quarantine-released'
  | 'source-reset'
  | 'mail-requeued'
  | 'deadline-set'
  | 'acknowledgement-queued'
  | 'acknowledgement-suppressed'
  | 'mail-send-attempt'
  | 'mail-sent'
  | 'mail-send-retry'
  | 'mail-send-failed'
  | 'contact-assigned'
  | 'milestone-met'
  | 'deadline-extended'
  | 'deadline-escalated'
  | 'deadline-breached'
  | 'delay-notice-queued'
  | 'acknowledgement-bounced'
  | 'mail-bounced'
  | 'address-failing'
  // An operator lifted the mark (`klagomal outbox unblock`): the customer fixed the mailbox.
  | 'address-unblocked'
  | 'delay-notice-suppressed'
  | 'officer-notified'
  // A customer wrote on a closed case: who was told (src/officers/closed-case-reply.ts).
  | 'closed-case-reply-notified'
  | 'officer-replied'
  | 'officer-command'
  | 'officer-command-refused'
  | 'note-added'
  | 'status-changed'
  | 'case-reopened'
  | 'regime-changed'
  | 'outcome-set'
  | 'category-changed'
  | 'compensation-set'
  | 'case-related'
  | 'assessment-set'
  | 'information-requested'
  | 'final-answer-queued'
  // Four eyes on final answers (approval.finalAnswer): the draft's life (src/cases/transitions.ts).
  | 'final-answer-drafted'
  | 'final-answer-approved'
  | 'final-answer-returned'
  | 'final-answer-replaced'
  | 'approval-requested'
  | 'approval-refused'
  | 'spoofing-suspected'
  // An attachment read as a document (src/documents/), and a case's fields read again after OCR.
  | 'attachment-read'
  | 'fields-updated'
  // Personal data (src/retention): legal hold, and what retention removed.
  | 'legal-hold-set'
  | 'legal-hold-released'
  | 'retention-anonymised'
  | 'retention-raw-removed'
  | 'subject-access-exported'
  // The register of record (src/officers/record-commands.ts, migration 13).
  | 'case-inadmissible'
  | 'case-registered'
  | 'acknowledgement-letter-queued'
  | 'acknowledgement-posted'
  | 'customer-type-set'
  | 'representative-set'
  | 'representative-removed'
  | 'product-set'
  | 'reasons-recorded'
  | 'arn-recorded'
  | 'court-recorded'
  | 'root-cause-recorded'
  | 'action-recorded'
  | 'action-done'
  | 'compensation-paid'
  | 'first-contact-recorded'
  // Backup and restore (src/backup/): the restore itself, an unsent mail held because it may
  // have gone out after the backup, and the case numbers of the gap reserved.
  | 'backup-restored'
  | 'outbox-held-after-restore'
  | 'case-numbers-reserved';

/** Who caused an event: the system itself, a source poller, an operator at the command line. */
export type Actor = 'system' | `source:${string}` | 'operator' | 'sender' | 'escalation' | 'retention' | `officer:${string}`;
