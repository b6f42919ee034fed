/**
 * Every mail we send is built here from its template, so that all of them carry the same
 * loop-safety headers and traceability: `Auto-Submitted` (RFC 3834 §5: `auto-replied` for an
 * answer to a customer's mail, `auto-generated` for notices), `X-Auto-Response-Suppress: All`
 * (Exchange), `Precedence: auto_reply`, our own Message-ID under the firm's domain, the case
 * number in `X-Klagomal-Case`, and the template's kind, language and version in the outbox row.
 */
import crypto from 'node:crypto';
import type { Config, Language } from '../config/config';
import type { OutboundKind, TemplateKind } from '../cases/lifecycle';
import type { NewOutbox } from '../store/store';
import type { TemplateRenderer } from './templates';
import { headerText } from '../util/header-safe';

/** A new Message-ID under the firm's domain: the case number for people, random bits so it cannot be guessed. */
export function newMessageId(caseNumber: string | null, kind: string, domain: string): string {
  return `${(caseNumber ?? 'klagomal').toLowerCase()}.${kind}.${crypto.randomBytes(9).toString('base64url')}@${domain}`;
}

export interface MailSpec {
  readonly kind: TemplateKind;
  readonly caseId: number | null;
  readonly caseNumber: string | null;
  readonly language: Language;
  readonly to: string;
  readonly data: object;
  /** Unique per effect: a second mail with the same key is never queued. */
  readonly idempotencyKey: string;
  readonly inReplyTo?: string | null;
  readonly references?: readonly string[];
  readonly now: Date;
  /** A copy to (the customer's representative, #representative): a plain address, checked when recorded. */
  readonly cc?: string | null;
}

const SHORT: Record<OutboundKind, string> = {
  acknowledgement: 'ack',
  'delay-notice': 'delay',
  'escalation-warning': 'warn',
  'breach-notice': 'breach',
  'manager-digest': 'digest',
  'information-request': 'info',
  'holding-reply': 'holding',
  'final-answer': 'answer',
  'officer-new-case': 'newcase',
  'officer-command-result': 'command',
  'officer-closed-case-reply': 'closedreply',
  'approval-request': 'approval',
  'admin-notice': 'admin',
  'acknowledgement-letter': 'ackletter',
  'monthly-pack': 'monthly',
};

/**
 * Whether a kind of mail goes to the customer; every other kind goes to staff (officers,
 * approvers, managers, the admin). The sender marks only a customer's address failing when the
 * SMTP server refuses it for good (src/reply/outbox-sender.ts): a refused staff address is the
 * firm's own setup to fix, and no automatic mail to the customer depends on it.
 */
export const TO_CUSTOMER: Readonly<Record<OutboundKind, boolean>> = {
  acknowledgement: true,
  'information-request': true,
  'delay-notice': true,
  'holding-reply': true,
  'final-answer': true,
  'officer-new-case': false,
  'officer-command-result': false,
  'officer-closed-case-reply': false,
  'escalation-warning': false,
  'breach-notice': false,
  'manager-digest': false,
  'approval-request': false,
  'admin-notice': false,
  'acknowledgement-letter': false,
  'monthly-pack': false,
};

/**
 * RFC 3834 §5: 'auto-replied' for a mail that answers the customer's mail (the acknowledgement),
 * 'auto-generated' for the notices we send on our own.
 */
export const AUTO_SUBMITTED: Readonly<Record<TemplateKind, 'auto-replied' | 'auto-generated'>> = {
  acknowledgement: 'auto-replied',
  'information-request': 'auto-generated',
  'delay-notice': 'auto-generated',
  'holding-reply': 'auto-generated',
  'final-answer': 'auto-generated',
  'officer-new-case': 'auto-generated',
  'officer-command-result': 'auto-replied',
  'officer-closed-case-reply': 'auto-generated',
  'escalation-warning': 'auto-generated',
  'breach-notice': 'auto-generated',
  'manager-digest': 'auto-generated',
  'approval-request': 'auto-generated',
};

export function buildMail(spec: MailSpec, templates: TemplateRenderer, config: Config): NewOutbox {
  const rendered = templates.render(spec.kind, spec.language, spec.data);
  // Each once, in order (a Set: a customer's References may hold 30,000 ids), the last ten.
  const references = [...new Set([...(spec.references ?? []), ...(spec.inReplyTo ? [spec.inReplyTo] : [])])].slice(-10);
  return {
    caseId: spec.caseId,
    kind: spec.kind,
    idempotencyKey: spec.idempotencyKey,
    template: spec.kind,
    language: spec.language,
    templateVersion: rendered.version,
    fromAddress: config.firm.complaintsAddress,
    fromName: headerText(config.firm.fromName, 100),
    toAddress: spec.to,
    subject: rendered.subject,
    messageId: newMessageId(spec.caseNumber, SHORT[spec.kind], config.firm.messageIdDomain),
    inReplyTo: spec.inReplyTo ?? null,
    references,
    headers: {
      'Auto-Submitted': AUTO_SUBMITTED[spec.kind],
      'X-Auto-Response-Suppress': 'All',
      Precedence: 'auto_reply',
      ...(spec.caseNumber ? { 'X-Klagomal-Case': spec.caseNumber } : {}),
      // Kept with the headers; the transport makes it the Cc and a recipient (src/reply/transport.ts).
      ...(spec.cc ? { Cc: spec.cc } : {}),
    },
    bodyText: rendered.text,
    bodyHtml: rendered.html,
    dateHeader: spec.now.toISOString(),
    createdAt: spec.now.toISOString(),
    templateSources: templates.sources(spec.kind, spec.language),
  };
}

/**
 * A notice to the firm's admin that does not depend on the templates (it reports that they are
 * broken). Plain text, Swedish and English together.
 */
export function buildAdminNotice(o: { to: string; subject: string; text: string; idempotencyKey: string; now: Date }, config: Config): NewOutbox {
  return {
    caseId: null,
    kind: 'admin-notice',
    idempotencyKey: o.idempotencyKey,
    template: '(built-in)',
    language: 'sv',
    templateVersion: 'built-in',
    fromAddress: config.firm.complaintsAddress,
    fromName: headerText(config.firm.fromName, 100),
    toAddress: o.to,
    subject: headerText(o.subject, 200),
    messageId: newMessageId(null, SHORT['admin-notice'], config.firm.messageIdDomain),
    inReplyTo: null,
    references: [],
    headers: { 'Auto-Submitted': 'auto-generated', 'X-Auto-Response-Suppress': 'All', Precedence: 'auto_reply' },
    bodyText: o.text,
    bodyHtml: null,
    dateHeader: o.now.toISOString(),
    createdAt: o.now.toISOString(),
  };
}
