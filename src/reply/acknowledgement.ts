/**
 * The acknowledgement: whether a new complaint gets one, and the queued mail if it does.
 *
 * `decideAcknowledgement` is pure: the classifier's verdict on the customer, the number of
 * automatic mails already sent to the address in the last 24 hours, and the config. We never
 * acknowledge: a mail that is not a new complaint (auto-replies, bounces, lists are never
 * complaints), a sender without a usable address, a no-reply sender without Reply-To, our own
 * address or staff (however written), an address whose mailbox already got the configured
 * number of automatic mails in 24 hours, a domain that got its daily number of
 * acknowledgements, or any address once the hourly total is reached (the loop breakers of
 * last resort). "Never twice for one case" is enforced by the
 * outbox's unique idempotency key `acknowledgement:<case id>`.
 *
 * Our acknowledgement carries `Auto-Submitted: auto-replied` (RFC 3834 §5) and
 * `X-Auto-Response-Suppress: All` (Exchange), so well-behaved systems do not answer it.
 */
import type { Config, Language } from '../config/config';
import type { Customer } from '../classify/classify';
import { isStaff } from '../classify/classify';
import { sameMailbox } from '../util/mailbox';
import type { NewOutbox } from '../store/store';
import type { ComplaintFields } from '../parse/complaint-fields';
import type { ComplaintItem } from '../config/complaint-rules';
import type { TemplateRenderer } from './templates';
import type { DeadlineRule } from '../deadlines/rules';
import { caseTag } from '../classify/thread';
import { buildMail } from './mail';

export type AckDecision = { readonly send: true; readonly to: string; readonly name: string | null } | { readonly send: false; readonly reason: string };

/** What the store knows about automatic mail to an address (the loop guard's inputs). */
export interface AutoMailFacts {
  /** Automatic mails queued to the address's mailbox (its `+tag` subaddresses counted together) in the last 24 hours. */
  readonly toAddressLast24h: number;
  /** The address's domain (the per-domain cap's key); null when there is none. */
  readonly domain: string | null;
  /** Acknowledgements queued to any address at `domain` in the last 24 hours (counted up to loop.maxPerDomainPer24h). */
  readonly toDomainLast24h: number;
  /** Acknowledgements queued to anyone in the last hour (counted up to loop.maxAutomaticPerHour). */
  readonly acknowledgementsLastHour: number;
  /** Automatic mails queued to the customer of this case in the last 24 hours (0 for a new case). */
  readonly forCaseLast24h: number;
  /** The address bounced permanently: no automatic mail until this instant. */
  readonly failingUntil: string | null;
}

/**
 * Whether automatic mail may go to this address now; the reason when not. The loop breakers of
 * last resort: whatever a broken autoresponder on the other side does, we answer it at most a
 * few times a day, and never an address that bounces.
 */
export function automaticMailBlocked(facts: AutoMailFacts, config: Config): string | null {
  if (facts.failingUntil) return `the address bounced permanently; no automatic mail to it until ${facts.failingUntil} (loop.bouncingAddressDays)`;
  if (facts.toAddressLast24h >= config.acknowledgement.maxPerAddressPer24h) {
    return `the address already got ${facts.toAddressLast24h} automatic mails in 24 hours (acknowledgement.maxPerAddressPer24h = ${config.acknowledgement.maxPerAddressPer24h})`;
  }
  if (facts.forCaseLast24h >= config.loop.maxPerCasePer24h) {
    return `the case's customer already got ${facts.forCaseLast24h} automatic mails in 24 hours (loop.maxPerCasePer24h = ${config.loop.maxPerCasePer24h})`;
  }
  return null;
}

/** Whether acknowledgements to `domain` count against loop.maxPerDomainPer24h: a public mail domain (gmail.com) has no cap. */
export function domainIsCapped(domain: string, config: Config): boolean {
  return !config.loop.publicMailDomains.includes(domain);
}

/**
 * The caps that only acknowledgements (the one mail sent because a mail came in) count against:
 * a helpdesk answering from a fresh address per ticket stays within one domain; a flood of
 * forged senders (backscatter) is spread over many, and only the hourly total holds it.
 */
export function acknowledgementCapped(facts: AutoMailFacts, config: Config): string | null {
  const { domain } = facts;
  if (domain && domainIsCapped(domain, config) && facts.toDomainLast24h >= config.loop.maxPerDomainPer24h) {
    return `addresses at ${domain} already got ${facts.toDomainLast24h} acknowledgements in 24 hours (loop.maxPerDomainPer24h = ${config.loop.maxPerDomainPer24h})`;
  }
  if (facts.acknowledgementsLastHour >= config.loop.maxAutomaticPerHour) {
    return `${facts.acknowledgementsLastHour} acknowledgements were queued in the last hour (loop.maxAutomaticPerHour = ${config.loop.maxAutomaticPerHour})`;
  }
  return null;
}

export function decideAcknowledgement(customer: Customer, facts: AutoMailFacts, config: Config): AckDecision {
  if (!config.acknowledgement.enabled) return { send: false, reason: 'acknowledgements are switched off (acknowledgement.enabled)' };
  if (customer.doNotAutoReply) return { send: false, reason: customer.doNotAutoReply };
  if (!customer.address) return { send: false, reason: 'the mail has no usable sender address' };
  // However written ("klagomal@firm.se.", "klagomal+x@firm.se", a colleague's Reply-To): never
  // ourselves (a loop), never an officer (src/util/mailbox.ts).
  if (sameMailbox(customer.address, config.firm.complaintsAddress)) return { send: false, reason: 'the customer address is our own complaints address' };
  if (isStaff(customer.address, config.firm)) return { send: false, reason: `the customer address ${customer.address} is a staff address` };
  const blocked = automaticMailBlocked(facts, config) ?? acknowledgementCapped(facts, config);
  if (blocked) return { send: false, reason: blocked };
  return { send: true, to: customer.address, name: customer.name };
}

export interface AcknowledgementInput {
  readonly caseId: number;
  readonly caseNumber: string;
  readonly language: Language;
  readonly to: string;
  readonly customerName: string | null;
  /** The case's contact person, by name (templates may name them to the customer). */
  readonly contactName: string | null;
  readonly customerSubject: string;
  readonly customerMessageId: string | null;
  readonly customerReferences: readonly string[];
  readonly receivedAt: Date;
  readonly answerDueAt: Date;
  readonly answerRule: DeadlineRule;
  readonly fields: ComplaintFields;
  readonly now: Date;
}

/** The data the acknowledgement templates may use (documented in templates/README.md). */
export function acknowledgementData(input: AcknowledgementInput, config: Config): Record<string, unknown> {
  const missing = Object.fromEntries(
    (['contact', 'concerns', 'incidentDate', 'description', 'compensation'] as ComplaintItem[]).map((i) => [i, input.fields.missing.includes(i)]),
  );
  return {
    firm: { name: config.firm.name, complaintsAddress: config.firm.complaintsAddress },
    case: { number: input.caseNumber, tag: caseTag(input.caseNumber), receivedAt: input.receivedAt, answerDueAt: input.answerDueAt },
    answerWithin: { unit: input.answerRule.unit, amount: input.answerRule.amount },
    customer: { name: input.customerName, type: 'consumer' },
    contact: { name: input.contactName },
    complaint: { subject: input.customerSubject },
    missing,
    hasMissing: input.fields.missing.length > 0,
  };
}

export function buildAcknowledgement(input: AcknowledgementInput, templates: TemplateRenderer, config: Config): NewOutbox {
  return buildMail(
    {
      kind: 'acknowledgement',
      caseId: input.caseId,
      caseNumber: input.caseNumber,
      language: input.language,
      to: input.to,
      data: acknowledgementData(input, config),
      idempotencyKey: `acknowledgement:${input.caseId}`,
      inReplyTo: input.customerMessageId,
      references: input.customerReferences,
      now: input.now,
    },
    templates,
    config,
  );
}
