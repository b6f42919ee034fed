/**
 * Filing: a classified mail -> the records that say what it is. Runs inside the caller's
 * transaction, so that everything commits together or not at all: the case with its number,
 * the message and its attachments, the deadlines and the events (and, in the act stage that
 * follows in the same transaction, the queued acknowledgement). A crash anywhere before the
 * commit leaves the mail 'stored', and it is simply filed again on the next pass.
 *
 * Transitions made here: inbound stored -> filed; a new case -> 'new' (openCase). Only a
 * `complaint` opens a case. This stage decides nothing about sending: see src/pipeline/act.ts.
 */
import { keepConfigVersions } from './config-versions';
import { storedReading } from '../documents/reading';
import { detectBusiness } from '../parse/customer-type';
import type { Config } from '../config/config';
import type { ParsedMail } from '../parse/parse';
import type { ForwardedOriginal } from '../parse/forwarded';
import type { InboundRow, NewCase, Store } from '../store/store';
import type { HourlyAcknowledgements } from '../reply/acknowledge';
import type { MailKind } from './lifecycle';
import type { TemplateRenderer } from '../reply/templates';
import type { BusinessCalendar } from '../deadlines/calendar';
import type { Logger } from '../util/log';
import type { Classification, Customer, ThreadFacts } from '../classify/classify';
import type { ComplaintFields } from '../parse/complaint-fields';
import { subjectKey } from '../classify/thread';
import { detectLanguage } from '../parse/language';
import { publicFields } from '../parse/complaint-fields';
import type { AttachmentReading } from '../documents/stage';
import type { AttachedDocument } from '../documents/complaint-sources';
import { readComplaintWithDocuments } from '../documents/complaint-sources';
import { maskPersonnummer, maskPersonnummerIn } from '../util/personnummer';
import { sealPersonnummer } from './personnummer-store';
import { splitReply } from '../parse/quote';
import { CaseDeadline, Calendars, deadlineRecord, deadlineSetDetail, earliestDeadlines, policiesFor } from '../deadlines/deadlines';
import { regimeOf } from '../deadlines/regime';
import { storePolicyDeadlines } from './regime';
import { escalationLevels } from '../deadlines/escalation';
import { nextContactOfficer } from './assignment';
import { caseNumbersIn, quietAfterRestore } from './after-restore';
import { openCase } from './transitions';
import { isoDate, localDateOf } from '../util/stockholm-time';
import { toInstant } from '../util/clock';

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
  /** The hourly acknowledgement count carried through a batch (src/reply/acknowledge.ts); absent: asked of the store. */
  readonly hourlyAcknowledgements?: HourlyAcknowledgements | null;
}

/** What filing recorded, and what the act stage needs to act on it. */
export interface FiledMail {
  readonly result: Omit<FilingResult, 'acknowledgementQueued'>;
  readonly inbound: InboundRow;
  /** The mail as filed (personnummer masked). */
  readonly mail: ParsedMail;
  readonly classification: Classification;
  readonly facts: ThreadFacts;
  /** Old mail from `klagomal import`: recorded, never acted on. */
  readonly quietImport: boolean;
  /** After a restore, mail the install before it may have answered (src/cases/after-restore.ts): why it is not acted on, or null. */
  readonly quietAfterRestore: string | null;
  /** The mail's new text, without the quoted history (an officer's commands are read from it). */
  readonly newText: string;
  /** A new complaint's case, for its acknowledgement and the contact person's notification. */
  readonly complaint: FiledComplaint | null;
  /** Attached documents read (text or form fields, or OCR to come): a follow-up's may fill in its case's complaint. */
  readonly documentsRead?: number;
}

export interface FiledComplaint {
  readonly caseId: number;
  readonly caseNumber: string;
  readonly customer: Customer;
  readonly language: ReturnType<typeof detectLanguage>;
  readonly fields: ComplaintFields;
  /** The customer's subject, Message-ID and References (of the original, for a forward). */
  readonly subject: string;
  readonly messageId: string | null;
  readonly references: readonly string[];
  readonly receivedAt: Date;
  readonly answerDue: CaseDeadline;
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

/**
 * The filing stage: record a classified mail (inside the caller's transaction). A duplicate is
 * recorded as one; a complaint opens its case (src/cases/transitions.ts openCase) with its
 * contact person and every deadline; any other mail is attached to its case or recorded on
 * none. The message, its attachments and the `mail-filed` event are written here. What follows
 * from the mail (officer commands, the acknowledgement, notifications) is the act stage's
 * (src/pipeline/act.ts), which gets the returned FiledMail.
 */
export function fileMail(
  ctx: FilingContext,
  inbound: InboundRow,
  mail: ParsedMail,
  parsed: ParsedMail,
  c: Classification,
  facts: ThreadFacts,
  now: Date,
  documents: readonly AttachmentReading[] = [],
): FiledMail {
  const { store, config } = ctx;
  const at = toInstant(now);

  if (c.kind === 'duplicate') {
    store.setInboundFiled(inbound.id, 'duplicate', c.reason, mail.messageId, null, c.duplicateOf, at);
    store.appendEvent({ at, inboundId: inbound.id, actor: 'system', type: 'duplicate-recorded', detail: { reason: c.reason, duplicateOf: c.duplicateOf } });
    return {
      result: { inboundId: inbound.id, kind: 'duplicate', reason: c.reason, action: 'skipped', caseId: null, caseNumber: null, messageId: mail.messageId },
      inbound,
      mail,
      classification: c,
      facts,
      quietImport: false,
      quietAfterRestore: null,
      newText: '',
      complaint: null,
    };
  }

  const quietImport = isQuietImport(config, inbound);
  const quietRestore = quietImport ? null : restoreQuiet(store, config, inbound, mail);
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
  // Personnummer never reach the stored text or subject; the raw mail keeps the original. Read
  // against the mail's arrival, never the sender's Date header (src/pipeline/processor.ts).
  const personnummerAt = new Date(inbound.received_at);
  const mask = (s: string): string => maskPersonnummer(s, personnummerAt);
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
  // The attached documents' text (clear, like parsed.text: the personnummer is read, then sealed).
  const attached: AttachedDocument[] = documents
    .filter((d) => d.reading.state !== 'not-read')
    .map((d) => ({ file: attachmentName(parsed, d.index), pages: d.reading.pages, formFields: d.reading.formFields }));
  const read =
    c.kind === 'complaint'
      ? readComplaintWithDocuments(
          {
            text: clearOriginal?.text ?? parsed.text,
            subject: clearOriginal?.subject ?? parsed.subject,
            senderName: c.customer.name,
            senderAddress: c.customer.address,
            mailDate: original?.receivedAt ?? readAt,
            personnummerAt,
          },
          attached,
          config.complaints,
        )
      : null;
  const fields = read ? maskPersonnummerIn(publicFields(read), personnummerAt) : null;

  if (c.kind === 'complaint') {
    // The case year is the Stockholm year in which the mail reached the firm.
    caseNumber = store.nextCaseNumber(config.cases.prefix, localDateOf(receivedAt).y);
    const choice = nextContactOfficer(store, config.officers, fields!.category, language);
    const contact = choice?.officer ?? null;
    // The policies of its category decide the case's deadlines and its statutory regime.
    const policies = policiesFor(fields!.category, config.deadlines);
    const newCase: NewCase = {
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
      regime: regimeOf(policies),
    };
    caseId = openCase(
      store,
      newCase,
      {
        inboundId: inbound.id,
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
          ...(quietRestore ? { afterRestore: quietRestore } : {}),
        },
      },
      at,
    );
    // Registered from a letter, call, chat or visit: the channel, the customer type and the
    // postal address the officer gave (the customer and the received time are already the
    // customer's: see the classification's forwarded original).
    const registered = c.kind === 'complaint' ? (c.registered ?? null) : null;
    if (registered) {
      const g = registered.registration;
      store.setCaseRecord(
        caseId,
        {
          channel: g.channel,
          postalAddress: g.postal,
          ...(g.customerType ? { customerType: g.customerType, customerTypeBy: registered.by } : {}),
        },
        at,
      );
      store.appendEvent({
        at,
        caseId,
        inboundId: inbound.id,
        actor: `officer:${registered.by}`,
        type: 'case-registered',
        detail: {
          channel: g.channel,
          by: registered.by,
          receivedAt: toInstant(g.receivedAt),
          email: g.email !== null,
          postal: g.postal !== null,
          customerType: g.customerType,
        },
      });
    }
    // An organisation is not a consumer: no ARN paragraph, and the register counts it apart.
    const business = registered?.registration.customerType
      ? null
      : detectBusiness({ senderName: c.customer.name, text: clearOriginal?.text ?? parsed.text, firmName: config.firm.name });
    if (business) {
      const by = `detected: ${mask(business)}`;
      store.setCaseRecord(caseId, { customerType: 'business', customerTypeBy: by }, at);
      store.appendEvent({ at, caseId, actor: 'system', type: 'customer-type-set', detail: { type: 'business', detected: mask(business) } });
    }
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
    keepConfigVersions(store, config.deadlines, at);
    for (const d of earliestDeadlines(receivedAt, policies, ctx.calendars)) {
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
    // Every policy's own deadline beside the effective one (the earliest), never moved: the
    // statistics measure the firm's promise and each statutory limit (PSD2 15 and 35, ECSP 10).
    storePolicyDeadlines(store, config, caseId, caseReceivedAt, policies, ctx.calendars, quietImport ? 'imported' : null);
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
  for (const [i, a] of mail.attachments.entries()) {
    const attachmentId = store.insertAttachment(messageRow, a);
    const d = documents.find((x) => x.index === i);
    if (!d) continue;
    // What the document said, stored like every text: personnummer masked.
    const r = d.reading;
    store.saveAttachmentReading(storedReading(attachmentId, d.kind, r, mask, at));
    store.appendEvent({
      at,
      caseId,
      inboundId: inbound.id,
      actor: 'system',
      type: 'attachment-read',
      detail: {
        attachment: attachmentId,
        kind: d.kind,
        state: r.state,
        note: r.note,
        pages: r.pages.length,
        formFields: r.formFields.filter((f) => f.value.trim()).length,
        ocrPages: r.ocrPages,
      },
    });
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
      ...(quietRestore && c.kind !== 'complaint' ? { afterRestore: quietRestore } : {}),
    },
  });

  const action: FilingAction = c.kind === 'complaint' ? 'opened' : caseId !== null ? 'attached' : 'recorded';
  return {
    result: { inboundId: inbound.id, kind: c.kind, reason: c.reason, action, caseId, caseNumber, messageId: mail.messageId },
    inbound,
    mail,
    classification: c,
    facts,
    quietImport,
    quietAfterRestore: quietRestore,
    newText: reply.newText,
    documentsRead: documents.filter((d) => d.reading.state !== 'not-read').length,
    complaint:
      c.kind === 'complaint' && caseId !== null && caseNumber !== null && answerDue !== null && fields
        ? {
            caseId,
            caseNumber,
            customer: c.customer,
            language,
            fields,
            subject: original ? mask(original.subject) : subject,
            messageId: original ? original.messageId : mail.messageId,
            references: original ? [] : mail.references,
            receivedAt,
            answerDue,
          }
        : null,
  };
}

/**
 * After a restore from a backup, why this mail is filed quietly (src/cases/after-restore.ts), or
 * null: the restore marker, where reconciliation found the mail, and the case numbers it names.
 */
function restoreQuiet(store: Store, config: Config, inbound: InboundRow, mail: ParsedMail): string | null {
  const marker = store.restoreMarker();
  if (!marker) return null;
  const named = caseNumbersIn([mail.subject, mail.inReplyTo ?? '', ...mail.references].join(' '), config.cases.prefix);
  return quietAfterRestore(marker, inbound, store.takenBeforeRestore(inbound.id), named);
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

/** An attachment's name for a field's source: as the customer sent it, else its place in the mail. */
export function attachmentName(mail: ParsedMail, index: number): string {
  return mail.attachments[index]?.filename?.trim() || `attachment ${index + 1}`;
}
