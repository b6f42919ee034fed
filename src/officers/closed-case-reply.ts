/**
 * A customer's mail on a closed case ("not satisfied, I am going to ARN"). It is filed on its
 * case like any follow-up (src/cases/filing.ts); here the act stage makes sure a person reads it:
 * the contact person gets `officer-closed-case-reply` with the customer's new text, the case's
 * outcome and when it was closed, and how to reopen it (`#reopen REASON`, a reply to the
 * notification: its subject carries the case tag). The case stays closed until someone does:
 * whether a complaint is reopened is the firm's decision, not the customer's mail's.
 *
 * The customer gets no automatic answer (the acknowledgement is for a new complaint only).
 *
 * Who is told: the contact person when they are a configured officer; else every manager (a
 * contact person who left, or none); else the admin address. Nobody is told of old mail from
 * `klagomal import` (history), of machine mail (auto-replies and bounces are other kinds and
 * never come here), of the case's own complaint forwarded again by staff (nothing new from the
 * customer), or of mail on a case that is not closed.
 *
 * One mail per inbound mail and recipient (idempotency key `officer-closed-case-reply:INBOUND:
 * ADDRESS`): a mail processed again (`mail requeue`, a crash before the commit) never notifies
 * twice. Each queued notification is a `closed-case-reply-notified` event on the case. A
 * template that cannot be rendered (an old kept set without this kind) is logged, and the mail
 * stays filed: the notification is lost, never the customer's mail.
 */
import type { Config, Language } from '../config/config';
import type { FiledMail, FilingContext } from '../cases/filing';
import type { CaseRow, NewOutbox, Store } from '../store/store';
import type { TemplateRenderer } from '../reply/templates';
import { buildMail } from '../reply/mail';
import { lastClosedAt } from '../cases/view';
import { toInstant } from '../util/clock';
import { errorChain } from '../util/log';
import { officerLanguage, staffCaseData } from './notify';

/** The longest stretch of the customer's new text the notification quotes (the whole mail is attached). */
export const REPLY_TEXT_MAX = 2000;

export interface ClosedCaseReplyRecipient {
  readonly address: string;
  readonly name: string | null;
  readonly language: Language;
  /** Told because the case has no contact person among the configured officers. */
  readonly toManager: boolean;
}

export type ClosedCaseReplyDecision =
  { readonly notify: false; readonly why: string } | { readonly notify: true; readonly recipients: readonly ClosedCaseReplyRecipient[] };

/** Who must hear of a filed mail on a closed case, if anyone: decided before anything is written. */
export function decideClosedCaseReply(
  config: Config,
  filed: Pick<FiledMail, 'classification' | 'quietImport'>,
  c: Pick<CaseRow, 'status' | 'contact_officer'> | null,
): ClosedCaseReplyDecision {
  const k = filed.classification;
  if (k.kind !== 'followup') return { notify: false, why: `a ${k.kind} mail, not a follow-up from the customer` };
  if (filed.quietImport) return { notify: false, why: 'old mail from klagomal import: history, not acted on' };
  if (k.forwardedAgain) return { notify: false, why: "the case's own complaint forwarded again: nothing new from the customer" };
  if (!c) return { notify: false, why: 'on no case' };
  if (c.status !== 'closed') return { notify: false, why: `the case is ${c.status}, not closed` };
  const contact = config.officers.find((o) => o.address === c.contact_officer);
  if (contact)
    return { notify: true, recipients: [{ address: contact.address, name: contact.name, language: officerLanguage(contact, config), toManager: false }] };
  const managers = config.officers.filter((o) => o.role === 'manager');
  if (managers.length)
    return {
      notify: true,
      recipients: managers.map((m) => ({ address: m.address, name: m.name, language: officerLanguage(m, config), toManager: true })),
    };
  const admin = config.firm.adminAddress;
  if (admin) return { notify: true, recipients: [{ address: admin, name: null, language: config.language, toManager: true }] };
  return { notify: false, why: 'no contact person, manager or admin address is configured' };
}

/** The notification to one recipient, with the customer's mail attached (Reply answers the customer). */
export function buildClosedCaseReplyNotice(
  store: Store,
  config: Config,
  templates: TemplateRenderer,
  c: CaseRow,
  filed: Pick<FiledMail, 'classification' | 'mail' | 'newText' | 'inbound'>,
  to: ClosedCaseReplyRecipient,
  now: Date,
): NewOutbox {
  const { mail, inbound } = filed;
  const text = (filed.newText.trim() || mail.text.trim()).replace(/\r\n?/g, '\n');
  const senderDiffers = filed.classification.kind === 'followup' && filed.classification.senderDiffers;
  const data = {
    firm: { name: config.firm.name, complaintsAddress: config.firm.complaintsAddress },
    case: { ...staffCaseData(c), outcome: c.outcome, closedAt: dateOrNull(lastClosedAt(c, store.eventsOfCase(c.id))) },
    recipient: { name: to.name },
    toManager: to.toManager,
    reply: {
      fromName: mail.from?.name || null,
      fromAddress: mail.from?.address ?? '',
      senderDiffers,
      receivedAt: new Date(inbound.received_at),
      subject: mail.subject,
      text: text.length > REPLY_TEXT_MAX ? `${text.slice(0, REPLY_TEXT_MAX)} …` : text,
      attachments: mail.attachments.length,
    },
  };
  return {
    ...buildMail(
      {
        kind: 'officer-closed-case-reply',
        caseId: c.id,
        caseNumber: c.number,
        language: to.language,
        to: to.address,
        data,
        idempotencyKey: `officer-closed-case-reply:${inbound.id}:${to.address}`,
        now,
      },
      templates,
      config,
    ),
    attachInboundId: inbound.id,
  };
}

/**
 * The act stage's part: tell the contact person (or the managers) of a follow-up on a closed
 * case. Inside the filing transaction; returns the addresses told by this call.
 */
export function notifyOfReplyOnClosedCase(ctx: FilingContext, filed: FiledMail, now: Date): string[] {
  const { store, config } = ctx;
  const caseId = filed.result.caseId;
  const c = caseId !== null ? store.caseById(caseId) : undefined;
  const decision = decideClosedCaseReply(config, filed, c ?? null);
  if (!decision.notify || !c) return [];
  const told: string[] = [];
  for (const to of decision.recipients) {
    try {
      const id = store.enqueue(buildClosedCaseReplyNotice(store, config, ctx.templates, c, filed, to, now));
      if (id === null) continue; // this mail was processed before: its notification is already queued
      store.appendEvent({
        at: toInstant(now),
        caseId: c.id,
        inboundId: filed.inbound.id,
        outboxId: id,
        actor: 'system',
        type: 'closed-case-reply-notified',
        detail: { officer: to.address, ...(to.toManager ? { asManager: 'the case has no contact person among the officers' } : {}), status: c.status },
      });
      told.push(to.address);
    } catch (err) {
      ctx.log.error('closed-case reply notification could not be rendered', { case: c.number, error: errorChain(err) });
    }
  }
  return told;
}

function dateOrNull(instant: string | null): Date | null {
  return instant ? new Date(instant) : null;
}
