/**
 * Filing: a parsed inbound mail -> its kind, and the case changes that follow from it.
 *
 * Runs inside the caller's transaction, so that everything below commits together or not at
 * all: the case with its number, the message and its attachments, the answer deadline, the
 * events, and the queued acknowledgement. A crash anywhere before the commit leaves the mail
 * 'stored', and it is simply filed again on the next pass.
 *
 * Transitions made here: inbound stored -> filed; a new case -> 'new'. Only a `complaint`
 * opens a case, and only a new case is acknowledged.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/config';
import type { ParsedMail } from '../parse/parse';
import type { ForwardedOriginal } from '../parse/forwarded';
import type { InboundRow, Store } from '../store/store';
import type { MailKind } from './lifecycle';
import type { TemplateRenderer } from '../reply/templates';
import type { BusinessCalendar } from '../deadlines/calendar';
import type { Logger } from '../util/log';
import { classify, Classification, customerOf, TaggedCase, ThreadFacts } from '../classify/classify';
import { caseNumbersInSubject, chooseReferencedCase, hasReplyPrefix, subjectKey } from '../classify/thread';
import { contentKey } from '../parse/content-key';
import { detectLanguage } from '../parse/language';
import { publicFields, readComplaintFields } from '../parse/complaint-fields';
import { maskPersonnummer, maskPersonnummerIn } from '../util/personnummer';
import { maskMail } from '../parse/mask-mail';
import { sealPersonnummer } from './personnummer-store';
import { splitReply } from '../parse/quote';
import { buildAcknowledgement, decideAcknowledgement } from '../reply/acknowledgement';
import { CaseDeadline, Calendars, computeCaseDeadlines, deadlineRecord, deadlineSetDetail } from '../deadlines/deadlines';
import { escalationLevels } from '../deadlines/escalation';
import { nextContactOfficer } from './assignment';
import { handleOfficerMail, notifyContactOfNewCase, recordSuspectedSpoofing } from '../officers/officer-mail';
import { isoDate, localDateOf } from '../util/stockholm-time';
import { toInstant } from '../util/clock';
import { errorChain } from '../util/log';
import { mailboxOf } from '../util/mailbox';

export type FilingAction = 'opened' | 'attached' | 'recorded' | 'skipped';

export interface FilingResult {
  readonly inboundId: number;
  readonly kind: MailKind;
  readonly reason: string;
  readonly action: FilingAction;
  readonly caseId: number | null;
  readonly caseNumber: string | null;
  readonly messageId: string | null;
  readonly acknowledgementQueued: boolean;
}

export interface FilingContext {
  readonly store: Store;
  readonly config: Config;
  readonly templates: TemplateRenderer;
  readonly calendar: BusinessCalendar;
  readonly calendars: Calendars;
  readonly log: Logger;
}

function taggedCase(store: Store, caseId: number): TaggedCase | null {
  const c = store.caseById(caseId);
  return c ? { caseId: c.id, number: c.number, customerAddress: c.customer_address } : null;
}

/** Look up, in the store, every fact the pure classifier needs. */
export function gatherFacts(store: Store, inbound: InboundRow, mail: ParsedMail, config: Config, now: Date): ThreadFacts {
  const casePrefix = config.cases.prefix;
  const sent = fromSentFolder(config, inbound);
  const { duplicateOf, collision } = sameMail(store, config.dataDir, inbound, mail.messageId, sent);
  const sender = mail.from?.address ?? null;
  const recipients = [...mail.to, ...mail.cc].map((a) => a.address);
  let referencedCase: TaggedCase | null = null;
  let repliesToOurMail = false;
  const refs = [...(mail.inReplyTo ? [mail.inReplyTo] : []), ...[...mail.references].reverse()];
  for (const ref of refs) {
    if (store.isOurMessageId(ref)) repliesToOurMail = true;
    const caseId = chooseReferencedCase(store.casesOfMessageId(ref), sender, recipients);
    if (caseId !== undefined) {
      referencedCase = taggedCase(store, caseId);
      break;
    }
  }
  let tagged: TaggedCase | null = null;
  for (const number of caseNumbersInSubject(mail.subject, casePrefix)) {
    const c = store.caseByNumber(number);
    if (c) {
      tagged = { caseId: c.id, number: c.number, customerAddress: c.customer_address };
      break;
    }
  }
  // A reply that lost its threading headers: same customer, same subject without prefixes.
  let subjectCase: TaggedCase | null = null;
  const customer = customerOf(mail, config.firm).address;
  if (!referencedCase && !tagged && customer && hasReplyPrefix(mail.subject) && config.threading.subjectWindowDays > 0) {
    const since = toInstant(new Date(now.getTime() - config.threading.subjectWindowDays * 86_400_000));
    const c = store.caseBySubject(customer, subjectKey(mail.subject, casePrefix), since);
    if (c) subjectCase = { caseId: c.id, number: c.number, customerAddress: c.customer_address };
  }
  // The same customer mail forwarded again (by a colleague, or after it was also sent to us):
  // by its Message-ID when the original was attached, else by customer and subject.
  let forwardedCase: TaggedCase | null = null;
  const original = mail.forwarded;
  if (original?.from) {
    const byId = original.messageId ? chooseReferencedCase(store.casesOfMessageId(original.messageId), original.from.address, []) : undefined;
    if (byId !== undefined) forwardedCase = taggedCase(store, byId);
    else if (original.subject && config.threading.subjectWindowDays > 0) {
      const since = toInstant(new Date(now.getTime() - config.threading.subjectWindowDays * 86_400_000));
      const c = store.caseBySubject(original.from.address, subjectKey(original.subject, casePrefix), since);
      if (c && original.date && c.received_at === toInstant(original.date)) forwardedCase = taggedCase(store, c.id);
    }
  }
  let returnedMail: ThreadFacts['returnedMail'] = null;
  for (const id of mail.embeddedMessageIds) {
    const o = store.outboxByMessageId(id);
    if (o) {
      returnedMail = { caseId: o.case_id, kind: o.kind, to: o.to_address, messageId: o.message_id };
      break;
    }
  }
  return {
    duplicateOf,
    messageIdCollision: collision,
    ownMessageId: mail.messageId !== null && store.isOurMessageId(mail.messageId),
    referencedCase,
    repliesToOurMail,
    taggedCase: tagged,
    subjectCase,
    returnedMail,
    fromSentFolder: sent,
    forwardedCase,
  };
}

/**
 * Is this mail one already filed? Without a Message-ID: the same bytes. With one: the same
 * Message-ID and the same content (src/parse/content-key.ts): the same Message-ID on other
 * content is another mail, filed as its own with a `message-id-collision` event, never dropped.
 */
function sameMail(
  store: Store,
  dataDir: string,
  inbound: InboundRow,
  messageId: string | null,
  fromSent: boolean,
): { duplicateOf: number | null; collision: ThreadFacts['messageIdCollision'] } {
  if (!messageId) return { duplicateOf: store.firstInboundWithSha(inbound.sha256, inbound.id)?.id ?? null, collision: null };
  // The Sent folder's copy of a shared-mailbox reply that Cc'd the mailbox: the inbox copy was
  // held by the loop guard (nothing vouched for it); the Sent copy is the officer's reply.
  const earlier = store.filedInboundWithMessageId(messageId, inbound.id).filter((r) => !(fromSent && r.kind === 'autoreply'));
  if (earlier.length === 0) return { duplicateOf: null, collision: null };
  const same = earlier.find((r) => r.sha256 === inbound.sha256);
  if (same) return { duplicateOf: same.id, collision: null };
  const own = readRawMail(store, dataDir, inbound.sha256);
  const key = own ? contentKey(own) : null;
  for (const r of earlier) {
    // An earlier raw mail removed by retention cannot be compared: file this one rather than risk losing it.
    const theirs = key ? readRawMail(store, dataDir, r.sha256) : null;
    if (theirs && contentKey(theirs) === key) return { duplicateOf: r.id, collision: null };
  }
  const first = earlier[0];
  return {
    duplicateOf: null,
    collision: { inboundId: first.id, caseId: first.case_id, caseNumber: first.case_id !== null ? (store.caseById(first.case_id)?.number ?? null) : null },
  };
}

function readRawMail(store: Store, dataDir: string, sha256: string): Buffer | null {
  const raw = store.rawMail(sha256);
  if (!raw) return null;
  if ('bytes' in raw) return raw.bytes;
  try {
    return fs.readFileSync(path.join(dataDir, raw.path));
  } catch {
    return null;
  }
}

/** The source name of mail brought in by `klagomal import`. */
export const IMPORT_SOURCE = 'import';

/**
 * Old mail from `klagomal import` (received before `import.acknowledgeAfter`, or any imported
 * mail when that is not set) is filed quietly: no acknowledgement, no notification, no
 * escalation. Its case and deadlines are recorded as they were.
 */
export function isQuietImport(config: Config, inbound: InboundRow): boolean {
  if (inbound.source !== IMPORT_SOURCE) return false;
  const after = config.import.acknowledgeAfter;
  if (!after) return true;
  return isoDate(localDateOf(new Date(inbound.received_at))) < after; // "YYYY-MM-DD" compares as text
}

/** Was the mail read from a source's Sent folder (mail the shared mailbox sent)? */
export function fromSentFolder(config: Config, inbound: InboundRow): boolean {
  return config.sources.some((s) => s.type === 'imap' && s.name === inbound.source && s.sentFolder !== null && s.sentFolder === inbound.mailbox);
}

/** A bounce is permanent unless its DSN says the delivery is only delayed (RFC 3464 Action/Status). */
function permanentBounce(mail: ParsedMail): boolean {
  if (!mail.dsn) return true;
  if (mail.dsn.action === 'delayed' || mail.dsn.action === 'relayed' || mail.dsn.action === 'delivered') return false;
  return !(mail.dsn.status?.startsWith('4') ?? false);
}

/** File one parsed mail. Must be called inside a transaction (store.tx). */
export function fileMail(ctx: FilingContext, inbound: InboundRow, parsed: ParsedMail, now: Date): FilingResult {
  const { store, config } = ctx;
  // Personnummer never reach a stored or sent text: everything below (classification, the
  // case's name, subject and subject key, the message, attachment names, the acknowledgement,
  // the officer's notification) works on the masked mail. Only the number itself is read from
  // the clear mail, to be sealed. The raw mail keeps the original, as evidence.
  const mail = maskMail(parsed, parsed.date ?? new Date(inbound.received_at));
  const at = toInstant(now);
  const facts = gatherFacts(store, inbound, mail, config, now);
  const c: Classification = classify(mail, facts, config.firm);

  if (c.kind === 'duplicate') {
    store.setInboundFiled(inbound.id, 'duplicate', c.reason, mail.messageId, null, c.duplicateOf, at);
    store.appendEvent({ at, inboundId: inbound.id, actor: 'system', type: 'duplicate-recorded', detail: { reason: c.reason, duplicateOf: c.duplicateOf } });
    return {
      inboundId: inbound.id,
      kind: 'duplicate',
      reason: c.reason,
      action: 'skipped',
      caseId: null,
      caseNumber: null,
      messageId: mail.messageId,
      acknowledgementQueued: false,
    };
  }

  const quietImport = isQuietImport(config, inbound);
  // A complaint forwarded by staff is the customer's: their words, their subject, and the
  // time their mail reached the firm (the deadline runs from then, not from the forward).
  const forwarded = c.kind === 'complaint' ? (c.forwarded ?? null) : null;
  const original = forwarded ? forwardedContent(forwarded.original, mail) : null;
  const language = detectLanguage(original?.text ?? mail.text, original?.subject ?? mail.subject, config.language);
  const receivedAt =
    original?.receivedAt && original.receivedAt.getTime() <= new Date(inbound.received_at).getTime() ? original.receivedAt : new Date(inbound.received_at);
  const caseReceivedAt = toInstant(receivedAt);
  let caseId: number | null = null;
  let caseNumber: string | null = null;
  let answerDue: CaseDeadline | null = null;
  const readAt = mail.date ?? receivedAt;
  // Personnummer never reach the stored text or subject; the raw mail keeps the original.
  const mask = (s: string): string => maskPersonnummer(s, readAt);
  const subject = mask(mail.subject);
  // An original attached to a forward is kept as an attachment (the whole message); its text
  // also goes into the stored body, so that the case shows the customer's words.
  const bodyText = mask(
    forwarded?.original.via === 'attachment' && original
      ? `${mail.text.trimEnd()}\n\n---------- ${forwarded.original.from?.address ?? ''} ${forwarded.original.dateText ?? ''} ----------\n${original.text}`
      : mail.text,
  );
  const reply = splitReply(bodyText);
  const clearOriginal = forwarded && parsed.forwarded ? forwardedContent(parsed.forwarded, parsed) : null;
  const read =
    c.kind === 'complaint'
      ? readComplaintFields(
          {
            text: clearOriginal?.text ?? parsed.text,
            subject: clearOriginal?.subject ?? parsed.subject,
            senderName: c.customer.name,
            senderAddress: c.customer.address,
            mailDate: original?.receivedAt ?? readAt,
          },
          config.complaints,
        )
      : null;
  const fields = read ? maskPersonnummerIn(publicFields(read), readAt) : null;

  if (c.kind === 'complaint') {
    // The case year is the Stockholm year in which the mail reached the firm.
    caseNumber = store.nextCaseNumber(config.cases.prefix, localDateOf(receivedAt).y);
    const choice = nextContactOfficer(store, config.officers, fields!.category, language);
    const contact = choice?.officer ?? null;
    caseId = store.insertCase({
      number: caseNumber,
      category: fields!.category,
      contactOfficer: contact?.address ?? null,
      personnummer: sealPersonnummer(config, caseNumber, read!.personnummer),
      subjectKey: subjectKey(original?.subject ?? mail.subject, config.cases.prefix) || null,
      customerAddress: c.customer.address,
      customerName: c.customer.name,
      subject: (original ? mask(original.subject) : subject) || null,
      language,
      receivedAt: caseReceivedAt,
      filedAt: at,
      fields: { ...fields!, customerAddressSource: c.customer.addressSource, fromStaff: c.fromStaff },
      refersToCaseId: c.refersToCaseId,
    });
    store.appendEvent({
      at,
      caseId,
      inboundId: inbound.id,
      actor: 'system',
      type: 'case-opened',
      toState: 'new',
      detail: {
        number: caseNumber,
        reason: c.reason,
        refersToCaseId: c.refersToCaseId,
        customerAddressSource: c.customer.addressSource,
        ...(forwarded
          ? {
              forwardedBy: forwarded.by,
              forwardedAt: inbound.received_at,
              originalDate: forwarded.original.dateText,
              originalAs: forwarded.original.via,
              ...(original!.receivedAt ? {} : { receivedAtFrom: 'the forward: the original has no readable date' }),
            }
          : {}),
        ...(quietImport ? { imported: 'old mail from klagomal import: no acknowledgement, notification or escalation' } : {}),
      },
    });
    if (contact) {
      store.appendEvent({
        at,
        caseId,
        actor: 'system',
        type: 'contact-assigned',
        detail: { officer: contact.address, name: contact.name, rule: choice!.rule },
      });
    }
    // Every deadline from receipt (not from filing: a mail that waited in quarantine keeps its
    // clock), stored with its inputs so that it can be computed again.
    for (const d of computeCaseDeadlines(receivedAt, fields!.category, config.deadlines, ctx.calendars)) {
      const levels = escalationLevels(d.dueAt, d.rule.unit, config.deadlines.escalation, ctx.calendar);
      // finalAnswerMax is a limit for holding replies, not a deadline to chase on its own.
      // Nor is an old complaint brought in by `klagomal import`: its deadlines are history.
      const chase = d.milestone !== 'finalAnswerMax' && !quietImport;
      // An imported old complaint's deadlines are history, not targets: recorded as not applicable,
      // so that the digest, escalation, `cases --breached` and the statistics leave them out.
      store.setDeadline({
        ...deadlineRecord(caseId, d, caseReceivedAt, config.deadlines, chase ? toInstant(levels[0].at) : null),
        notApplicable: quietImport ? 'imported' : null,
      });
      store.appendEvent({ at, caseId, actor: 'system', type: 'deadline-set', detail: { ...deadlineSetDetail(d), from: caseReceivedAt } });
      if (d.milestone === 'finalAnswer') answerDue = d;
    }
  } else {
    caseId = c.caseId;
    caseNumber = caseId !== null ? (store.caseById(caseId)?.number ?? null) : null;
  }

  const messageRow = store.insertMessage({
    inboundId: inbound.id,
    caseId,
    kind: c.kind,
    messageId: mail.messageId,
    inReplyTo: mail.inReplyTo,
    references: [...mail.references],
    fromAddress: mail.from?.address ?? null,
    fromName: mail.from?.name || null,
    replyTo: mail.replyTo?.address ?? null,
    to: mail.to.map((a) => a.address),
    cc: mail.cc.map((a) => a.address),
    subject: subject || null,
    dateHeader: mail.date ? toInstant(mail.date) : null,
    receivedAt: inbound.received_at,
    bodyText,
    newText: reply.quoted ? reply.newText : null,
    quotedText: reply.quoted || null,
    language,
    problems: [...mail.problems],
    createdAt: at,
  });
  for (const a of mail.attachments) store.insertAttachment(messageRow, a);
  // Old mail brought in by `klagomal import` is history: recorded on its case, never acted on.
  // An officer's `#final` from 2021 must not send a final answer today, nor an old bounce mark
  // an address failing, nor an old forgery alarm the manager.
  if (!quietImport) {
    if (c.kind === 'officer' && caseId !== null) {
      handleOfficerMail(ctx, store.caseById(caseId)!, mail, reply.newText, { id: inbound.id, fromSentFolder: facts.fromSentFolder === true }, now);
    }
    if ((c.kind === 'followup' || c.kind === 'complaint') && c.spoofSuspected) {
      recordSuspectedSpoofing(store, config, caseId !== null ? store.caseById(caseId)! : null, mail, reply.newText, c.spoofSuspected, inbound.id, now);
    }
    if (c.kind === 'bounce' && facts.returnedMail) recordBounce(store, config, facts.returnedMail, mail, inbound.id, now);
  }
  store.setInboundFiled(inbound.id, c.kind, c.reason, mail.messageId, caseId, null, at);
  if (facts.messageIdCollision) {
    // Filed as its own mail (never as a "duplicate" of another sender's text); the earlier mail is named.
    const earlier = facts.messageIdCollision;
    store.appendEvent({
      at,
      caseId,
      inboundId: inbound.id,
      actor: 'system',
      type: 'message-id-collision',
      detail: {
        messageId: mail.messageId,
        earlierInbound: earlier.inboundId,
        earlierCase: earlier.caseNumber,
        rule: 'same Message-ID, other From, Date or body: a different mail',
      },
    });
    ctx.log.warn('Message-ID collision: a different mail with a Message-ID already filed; filed as its own', {
      inbound: inbound.id,
      earlierInbound: earlier.inboundId,
      case: caseNumber ?? undefined,
    });
  }
  store.appendEvent({
    at,
    caseId,
    inboundId: inbound.id,
    actor: 'system',
    type: 'mail-filed',
    detail: {
      kind: c.kind,
      reason: c.reason,
      attachments: mail.attachments.length,
      ...(c.kind === 'followup' || c.kind === 'officer' ? { senderDiffersFromCustomer: c.senderDiffers } : {}),
      ...(mail.problems.length ? { problems: mail.problems } : {}),
      ...(quietImport && c.kind !== 'complaint' ? { imported: 'old mail from klagomal import: recorded, not acted on' } : {}),
    },
  });

  let acknowledgementQueued = false;
  if (c.kind === 'complaint' && caseId !== null && caseNumber !== null && answerDue !== null && fields) {
    const due: CaseDeadline = answerDue;
    const since = toInstant(new Date(now.getTime() - 24 * 3600_000));
    const address = c.customer.address;
    // The loop guards count mailboxes, not spellings: support+t17@ and support+t18@ are one.
    const box = address ? mailboxOf(address) : null;
    const decision: ReturnType<typeof decideAcknowledgement> = quietImport
      ? { send: false, reason: 'imported old mail (received before import.acknowledgeAfter): not acknowledged' }
      : decideAcknowledgement(
          c.customer,
          {
            toAddressLast24h: box ? store.countOutboxToMailbox(box.local, box.domain, since) : address ? store.countOutboxTo(address, since) : 0,
            domain: box?.domain ?? null,
            toDomainLast24h: box ? store.countAcknowledgementsToDomain(box.domain, since, config.loop.maxPerDomainPer24h) : 0,
            acknowledgementsLastHour: store.countAcknowledgementsSince(toInstant(new Date(now.getTime() - 3600_000)), config.loop.maxAutomaticPerHour),
            forCaseLast24h: 0,
            failingUntil: address ? store.addressFailingUntil(address, at) : null,
          },
          config,
        );
    if (!decision.send && /loop\.maxAutomaticPerHour/.test(decision.reason)) {
      // Not one customer's matter: the whole desk stopped acknowledging. An operator must look.
      ctx.log.warn('hourly cap on acknowledgements reached (loop.maxAutomaticPerHour): this case is not acknowledged', { case: caseNumber });
    } else if (!decision.send && /loop\.maxPerDomainPer24h/.test(decision.reason) && box) {
      // A loop with a helpdesk, or a domain many customers share: the operator decides which.
      ctx.log.warn(
        'per-domain cap on acknowledgements reached (loop.maxPerDomainPer24h): this case is not acknowledged; if many customers use this domain, add it to loop.publicMailDomains',
        {
          case: caseNumber,
          domain: box.domain,
        },
      );
    }
    if (decision.send) {
      try {
        const outbox = buildAcknowledgement(
          {
            caseId,
            caseNumber,
            language,
            to: decision.to,
            customerName: decision.name,
            contactName: config.acknowledgement.nameContactPerson
              ? (config.officers.find((o) => o.address === store.caseById(caseId!)?.contact_officer)?.name ?? null)
              : null,
            customerSubject: original ? mask(original.subject) : subject,
            customerMessageId: original ? original.messageId : mail.messageId,
            customerReferences: original ? [] : mail.references,
            receivedAt,
            answerDueAt: due.dueAt,
            answerRule: due.rule,
            fields,
            now,
          },
          ctx.templates,
          config,
        );
        const outboxId = store.enqueue(outbox);
        acknowledgementQueued = outboxId !== null;
        store.appendEvent({
          at,
          caseId,
          outboxId,
          actor: 'system',
          type: outboxId !== null ? 'acknowledgement-queued' : 'acknowledgement-suppressed',
          detail:
            outboxId !== null
              ? { messageId: outbox.messageId, language, template: 'acknowledgement', templateVersion: outbox.templateVersion }
              : { reason: 'an acknowledgement for this case exists already' },
        });
      } catch (err) {
        // A broken template must not lose the complaint: the case stays filed, the gap is on record.
        ctx.log.error('acknowledgement could not be rendered', { case: caseNumber, error: errorChain(err) });
        store.appendEvent({ at, caseId, actor: 'system', type: 'acknowledgement-suppressed', detail: { reason: `template error: ${errorChain(err)}` } });
      }
    } else {
      store.appendEvent({ at, caseId, actor: 'system', type: 'acknowledgement-suppressed', detail: { reason: decision.reason } });
    }
  }

  // The contact person hears of the case after the acknowledgement is queued (that is the promise to keep first).
  if (c.kind === 'complaint' && caseId !== null && !quietImport) notifyContactOfNewCase(ctx, store.caseById(caseId)!, now);

  const action: FilingAction = c.kind === 'complaint' ? 'opened' : caseId !== null ? 'attached' : 'recorded';
  return { inboundId: inbound.id, kind: c.kind, reason: c.reason, action, caseId, caseNumber, messageId: mail.messageId, acknowledgementQueued };
}

/** What a forwarded complaint is read from: the original's text, subject and date. */
function forwardedContent(o: ForwardedOriginal, mail: ParsedMail): { text: string; subject: string; receivedAt: Date | null; messageId: string | null } {
  return {
    text: o.text,
    subject: o.subject ?? mail.subject.replace(/^\s*(?:(?:fwd?|vb|vs|wg|tr)\s*:\s*)+/i, ''),
    receivedAt: o.date,
    messageId: o.messageId,
  };
}

/**
 * A bounce of a mail of ours: on its case as an event ("acknowledgement bounced"), and when it
 * is permanent the address is marked failing, so that no automatic mail keeps going to it.
 */
function recordBounce(store: Store, config: Config, returned: NonNullable<ThreadFacts['returnedMail']>, mail: ParsedMail, inboundId: number, now: Date): void {
  const at = toInstant(now);
  const permanent = permanentBounce(mail);
  store.appendEvent({
    at,
    caseId: returned.caseId,
    inboundId,
    actor: 'system',
    type: returned.kind === 'acknowledgement' ? 'acknowledgement-bounced' : 'mail-bounced',
    detail: { kind: returned.kind, messageId: returned.messageId, permanent, dsnAction: mail.dsn?.action ?? null, dsnStatus: mail.dsn?.status ?? null },
  });
  if (permanent && config.loop.bouncingAddressDays > 0) {
    const until = toInstant(new Date(now.getTime() + config.loop.bouncingAddressDays * 86_400_000));
    store.markAddressFailing(returned.to, at, until, `permanent bounce of ${returned.kind} ${returned.messageId}`, inboundId);
    store.appendEvent({
      at,
      caseId: returned.caseId,
      inboundId,
      actor: 'system',
      type: 'address-failing',
      detail: { until, days: config.loop.bouncingAddressDays },
    });
  }
}
