/**
 * Classify: ParsedMail + what the store knows -> one kind and the reason for it.
 *
 * Pure: every fact that needs the database (is this Message-ID known, which case does a
 * reference belong to) is looked up by the caller first and passed in as `ThreadFacts`; the
 * rules here never read the clock, the store or the network.
 *
 * Order of the rules (first match wins):
 *  1. duplicate   the same mail was filed before: the same Message-ID and the same From, Date
 *                 and body (src/parse/content-key.ts), or, without a Message-ID, the same bytes
 *  2. our own     a Message-ID we generated, or our complaints address as sender: a loop
 *  3. bounce / autoreply / bulk   machine mail (src/classify/signals.ts)
 *  4. officer     staff sender on a case thread, authenticated (src/classify/authentication.ts),
 *                 or any mail found in the shared mailbox's Sent folder; an unauthenticated
 *                 staff From is read as the customer's (or a stranger's) mail, flagged as spoofing;
 *                 on the threaded case when the subject's tag names another (otherCaseInSubject)
 *  5. followup    the case's customer (or anyone replying to one of our Message-IDs) on a case thread
 *  6. complaint   everything else, including a case tag from a third party (a new case that
 *                 refers to the tagged one, so no one can write into someone else's case), and
 *                 a customer's mail forwarded by authenticated staff (the customer's complaint)
 */
import type { ParsedMail, MailAddress } from '../parse/parse';
import type { ForwardedOriginal } from '../parse/forwarded';
import type { Registration, RegistrationRead } from '../parse/registration';
import type { MailKind } from '../cases/lifecycle';
import { isNoReplyAddress, machineSignal } from './signals';
import { staffAuthentication } from './authentication';
import { mailboxKey, sameMailbox } from '../util/mailbox';

export interface StaffDirectory {
  readonly complaintsAddress: string;
  readonly staffAddresses: readonly string[];
  readonly staffDomains: readonly string[];
  readonly formAddresses: readonly string[];
  /** authserv-ids whose Authentication-Results vouch for staff mail. */
  readonly authservIds: readonly string[];
  /** Believe a staff From without authentication (test installs). */
  readonly trustStaffFrom: boolean;
  /** Where the firm's mail is hosted: whose internal-mail stamps count (src/classify/authentication.ts). */
  readonly mailPlatform?: 'own' | 'microsoft365' | 'google';
  readonly tenantId?: string | null;
}

export interface TaggedCase {
  readonly caseId: number;
  readonly number: string;
  readonly customerAddress: string | null;
}

export interface ThreadFacts {
  /** Inbound id of the filed mail this one is a copy of (same Message-ID and content; same bytes when it has none). */
  readonly duplicateOf: number | null;
  /**
   * An earlier filed mail with the same Message-ID but other content (src/parse/content-key.ts):
   * this mail is not a duplicate and is filed as its own; the collision goes on record.
   */
  readonly messageIdCollision?: { readonly inboundId: number; readonly caseId: number | null; readonly caseNumber: string | null } | null;
  /** The mail's own Message-ID is one we generated. */
  readonly ownMessageId: boolean;
  /** Case of the first In-Reply-To/References id that belongs to a case. */
  readonly referencedCase: TaggedCase | null;
  /**
   * The id that threads the mail to referencedCase is one of the mails we sent on it: only whoever
   * received our mail has it. Another id of the case (the customer's own mail, public through a
   * Cc or a forum) is anyone's to copy. Absent: taken as ours (callers from before the field).
   */
  readonly referencedOurMail?: boolean;
  /** True when a referenced id is one of the mails we sent (the reply is to us). */
  readonly repliesToOurMail: boolean;
  /** The first existing case whose number is in the subject. */
  readonly taggedCase: TaggedCase | null;
  /**
   * A case of this sender with the same subject once reply prefixes are removed, with mail
   * within the threading window; looked up only for a subject with a reply prefix. Outlook
   * drops In-Reply-To and References on some replies; this is how such a reply finds its case.
   */
  readonly subjectCase?: TaggedCase | null;
  /** A mail of ours that this mail quotes the headers of (a bounce returning it). */
  readonly returnedMail?: { readonly caseId: number | null; readonly kind: string; readonly to: string; readonly messageId: string } | null;
  /** Found in the shared mailbox's Sent folder: only its owners can put mail there. */
  readonly fromSentFolder?: boolean;
  /** The case of a forwarded original already filed (the same customer mail forwarded again). */
  readonly forwardedCase?: TaggedCase | null;
  /** A `#register` mail read (src/parse/registration.ts), or null when the mail is none. */
  readonly registration?: RegistrationRead | null;
}

export type Classification =
  | { readonly kind: 'duplicate'; readonly reason: string; readonly duplicateOf: number }
  | {
      readonly kind: 'complaint';
      readonly reason: string;
      readonly customer: Customer;
      readonly refersToCaseId: number | null;
      readonly fromStaff: boolean;
      /** A staff From that failed authentication: why it is suspected. */
      readonly spoofSuspected?: string | null;
      /** Forwarded by authenticated staff: the customer's original, and who forwarded it. */
      readonly forwarded?: { readonly by: string; readonly original: ForwardedOriginal } | null;
      /** Registered by an authenticated officer from a letter, call, chat or visit (#register). */
      readonly registered?: { readonly by: string; readonly registration: Registration } | null;
      /** A `#register` mail that could not be read: what the officer must correct. */
      readonly registrationProblems?: readonly string[] | null;
    }
  | {
      readonly kind: 'followup';
      readonly reason: string;
      readonly caseId: number;
      readonly senderDiffers: boolean;
      readonly spoofSuspected?: string | null;
      /** The customer mail of the case forwarded again by staff: nothing new from the customer. */
      readonly forwardedAgain?: boolean;
    }
  | {
      readonly kind: 'officer';
      readonly reason: string;
      /** Null: a mail from the Sent folder on no case (recorded, nothing else). */
      readonly caseId: number | null;
      readonly senderDiffers: false;
      /** How the sender was known to be staff. */
      readonly authentication: string;
      /**
       * The case the subject's tag names when the threading headers name another (a reply to one
       * case's mail retitled for another): the mail is on the threaded case, and its commands to
       * a customer are refused (src/officers/commands.ts).
       */
      readonly otherCaseInSubject?: string;
    }
  | { readonly kind: 'autoreply' | 'bounce' | 'bulk'; readonly reason: string; readonly caseId: number | null };

/** Who the complaint is from and whether we may write back. */
export interface Customer {
  readonly address: string | null;
  readonly name: string | null;
  /** Why the address was chosen (From, or Reply-To for a no-reply or form sender). */
  readonly addressSource: 'from' | 'reply-to' | 'forwarded' | 'registered' | 'none';
  /** Set when we must not write to this customer automatically, with the reason. */
  readonly doNotAutoReply: string | null;
}

export function isStaff(address: string | null | undefined, staff: StaffDirectory): boolean {
  if (!address) return false;
  // Compared as mailboxes: "klagomal@firm.se.", "klagomal+x@firm.se" and "olle+cases@..." are
  // the firm's own mailboxes however they are written (src/util/mailbox.ts).
  const a = mailboxKey(address);
  if (a === mailboxKey(staff.complaintsAddress)) return true;
  if (staff.staffAddresses.some((s) => mailboxKey(s) === a)) return true;
  const domain = a.slice(a.lastIndexOf('@') + 1);
  return staff.staffDomains.includes(domain);
}

/** The customer of a new complaint: the From, or the Reply-To when the From is a no-reply or form address. */
export function customerOf(mail: ParsedMail, staff: StaffDirectory): Customer {
  const from = mail.from;
  const replyTo = mail.replyTo;
  const pick = (a: MailAddress, source: 'from' | 'reply-to', doNotAutoReply: string | null): Customer => ({
    address: a.address,
    name: a.name || null,
    addressSource: source,
    doNotAutoReply,
  });
  // A Reply-To that is our own address or a colleague's is not a customer to write to: an
  // acknowledgement there answers ourselves (a loop) or lands in an officer's inbox.
  const replyToUs = (a: MailAddress): string | null =>
    sameMailbox(a.address, staff.complaintsAddress)
      ? `the Reply-To ${a.address} is our own complaints address`
      : isStaff(a.address, staff)
        ? `the Reply-To ${a.address} is a staff address`
        : null;
  if (!from) {
    if (replyTo) return pick(replyTo, 'reply-to', replyToUs(replyTo));
    return { address: null, name: null, addressSource: 'none', doNotAutoReply: 'the mail has no usable sender address' };
  }
  const isForm = staff.formAddresses.includes(from.address) || isNoReplyAddress(from.address);
  if (isForm) {
    if (replyTo && replyTo.address !== from.address) return pick(replyTo, 'reply-to', replyToUs(replyTo));
    return pick(from, 'from', 'the sender is a no-reply address without a Reply-To');
  }
  return pick(from, 'from', null);
}

/** The case the subject's tag names when the threading headers name another existing case, else null. */
function otherCaseInSubject(facts: ThreadFacts): string | null {
  const threaded = facts.referencedCase;
  const tagged = facts.taggedCase;
  return threaded && tagged && threaded.caseId !== tagged.caseId ? tagged.number : null;
}

export function classify(mail: ParsedMail, facts: ThreadFacts, staff: StaffDirectory): Classification {
  if (facts.duplicateOf !== null) {
    return {
      kind: 'duplicate',
      reason: mail.messageId
        ? `a copy of inbound #${facts.duplicateOf} (the same Message-ID, From, Date and body)`
        : `same bytes already filed as inbound #${facts.duplicateOf}`,
      duplicateOf: facts.duplicateOf,
    };
  }

  const linkedCase = facts.referencedCase?.caseId ?? facts.taggedCase?.caseId ?? facts.returnedMail?.caseId ?? null;

  if (facts.fromSentFolder) return classifySent(facts, linkedCase);
  if (facts.ownMessageId) return { kind: 'autoreply', reason: 'the Message-ID is one we generated: our own mail came back', caseId: linkedCase };
  if (mail.from && sameMailbox(mail.from.address, staff.complaintsAddress)) {
    // An officer writing from the shared mailbox with a copy to it: the firm's server vouches
    // for it (trustStaffFrom does not do here: a loop must never pass for an officer), and it
    // is on a case thread. Anything else from our own address is a loop.
    const thread = facts.referencedCase ?? facts.taggedCase ?? null;
    const auth = thread ? staffAuthentication(mail.headers, mail.from.address, staff.authservIds, staff) : null;
    if (thread && auth?.authenticated) {
      const other = otherCaseInSubject(facts);
      return {
        kind: 'officer',
        reason: `sent from the shared mailbox on case ${thread.number} (${auth.reason})${other ? `; the subject names ${other}` : ''}`,
        caseId: thread.caseId,
        senderDiffers: false,
        authentication: auth.reason,
        ...(other ? { otherCaseInSubject: other } : {}),
      };
    }
    return { kind: 'autoreply', reason: 'sent from our own complaints address (loop guard)', caseId: linkedCase };
  }

  // An officer's reply opens as a receipt does ("Vi har tagit emot ditt klagomål ..."): the
  // receipt rules are for mail from outside the firm.
  const machine = machineSignal(mail, { fromStaff: isStaff(mail.from?.address, staff) });
  // Strong evidence decides; weak evidence decides only on a case thread, where the mail is
  // attached to its case either way and so cannot be lost.
  if (machine && (machine.strength === 'strong' || linkedCase !== null)) return { kind: machine.kind, reason: machine.reason, caseId: linkedCase };
  // Weak evidence never takes a complaint away: it only holds back the automatic answer.
  const weak = machine ? `it may be an automatic mail (${machine.reason}): filed for a person to judge, not acknowledged` : null;

  const sender = mail.from?.address ?? null;
  // The firm's own web form (a no-reply or form address, even on the firm's domain) is not a
  // member of staff: its customer is in Reply-To.
  const staffFrom = isStaff(sender, staff) && customerOf(mail, staff).addressSource !== 'reply-to';
  const auth = staffFrom && sender ? staffAuthentication(mail.headers, sender, staff.authservIds, staff) : null;
  const trusted = auth !== null && (auth.authenticated || staff.trustStaffFrom);
  const senderIsStaff = staffFrom && trusted;
  // A staff From the firm's server does not vouch for: read as anyone else's mail, and say so.
  const spoofSuspected = staffFrom && !trusted ? `staff From ${sender} not authenticated: ${auth?.reason}` : null;
  const thread = facts.referencedCase ?? facts.taggedCase ?? facts.subjectCase ?? null;
  const via = facts.referencedCase
    ? 'In-Reply-To/References'
    : facts.taggedCase
      ? 'case tag in the subject'
      : 'same sender and subject (a reply without threading headers)';

  // A complaint that came by letter, phone, chat or at a branch, registered by authenticated
  // staff (#register on the first line): the customer's, from the date it reached the firm.
  const registration = facts.registration ?? null;
  if (senderIsStaff && sender && registration?.ok) {
    const how = auth!.authenticated ? auth!.reason : 'firm.trustStaffFrom is on';
    const g = registration.registration;
    return {
      kind: 'complaint',
      reason: `registered by staff ${sender} (${how}): a complaint by ${g.channel}, received ${g.receivedAt.toISOString()}`,
      customer: {
        address: g.email,
        name: g.name,
        addressSource: 'registered',
        doNotAutoReply: g.email ? null : 'registered with a postal address only: the acknowledgement goes by post (the officer prints it)',
      },
      refersToCaseId: null,
      fromStaff: false,
      forwarded: {
        by: sender,
        original: {
          via: 'registered',
          from: g.email ? { address: g.email, name: g.name } : null,
          date: g.receivedAt,
          dateText: g.receivedAt.toISOString(),
          subject: null,
          messageId: null,
          text: g.text,
        },
      },
      registered: { by: sender, registration: g },
    };
  }

  if (thread && senderIsStaff) {
    const how = auth!.authenticated ? auth!.reason : 'firm.trustStaffFrom is on';
    const other = otherCaseInSubject(facts);
    return {
      kind: 'officer',
      reason: `staff sender on case ${thread.number} (${via}; ${how})${other ? `; the subject names ${other}` : ''}`,
      caseId: thread.caseId,
      senderDiffers: false,
      authentication: how,
      ...(other ? { otherCaseInSubject: other } : {}),
    };
  }

  if (thread) {
    const customer = customerOf(mail, staff).address;
    const isCaseCustomer = customer !== null && customer === thread.customerAddress;
    // A reference to a Message-ID we generated is hard to guess: whoever has it received our
    // mail, so we attach (and flag a different sender). A bare case tag is easy to copy: from a
    // stranger it must not reach into someone else's case. (A subject match is by construction
    // from the case's customer.)
    // A stranger whose reference is not to a mail of ours is treated as a case tag is: a new
    // case referring to this one (a reply to a list mail or a public Message-ID of the case
    // merged a stranger's complaint, unacknowledged, into another customer's case).
    const referencedByOurMail = facts.referencedCase !== null && facts.referencedOurMail !== false;
    if (isCaseCustomer || referencedByOurMail || spoofSuspected) {
      // A forged staff From on a case thread goes on the case (flagged), never into a new case.
      return {
        kind: 'followup',
        reason: spoofSuspected
          ? `${spoofSuspected}: recorded on case ${thread.number} as a follow-up, not as an officer's mail (${via})`
          : `${isCaseCustomer ? "the case's customer" : 'a reply to a mail of the case'} on case ${thread.number} (${via})`,
        caseId: thread.caseId,
        senderDiffers: !isCaseCustomer,
        spoofSuspected,
      };
    }
    return {
      kind: 'complaint',
      reason: `tag of case ${thread.number} from a sender who is neither its customer nor staff: filed as a new case referring to it`,
      customer: holdBack(customerOf(mail, staff), weak),
      refersToCaseId: thread.caseId,
      fromStaff: false,
    };
  }

  // A customer's mail forwarded by staff from another mailbox: the customer's complaint. Only
  // from authenticated staff: anyone else could put any customer's name and any date there.
  const original = mail.forwarded;
  if (senderIsStaff && sender && original?.from && !isStaff(original.from.address, staff)) {
    const how = auth!.authenticated ? auth!.reason : 'firm.trustStaffFrom is on';
    if (facts.forwardedCase) {
      return {
        kind: 'followup',
        reason: `forwarded by staff ${sender}: the customer's mail is already case ${facts.forwardedCase.number}, recorded there`,
        caseId: facts.forwardedCase.caseId,
        senderDiffers: true,
        forwardedAgain: true,
      };
    }
    return {
      kind: 'complaint',
      reason: `forwarded by staff ${sender} (${how}; the original as ${original.via === 'attachment' ? 'an attached message' : 'quoted text'}): filed as the customer's complaint`,
      customer: {
        address: original.from.address,
        name: original.from.name || null,
        addressSource: 'forwarded',
        doNotAutoReply: isNoReplyAddress(original.from.address) ? 'the original sender is a no-reply address' : null,
      },
      refersToCaseId: null,
      fromStaff: false,
      forwarded: { by: sender, original },
    };
  }

  const customer = customerOf(mail, staff);
  if (staffFrom) {
    const unread = senderIsStaff && registration && !registration.ok ? registration.problems : null;
    return {
      kind: 'complaint',
      reason: spoofSuspected
        ? `${spoofSuspected}; on no case: filed as a complaint for an officer to look at`
        : unread
          ? `#register not read (${unread.join('; ')}): filed as a complaint for an officer to look at`
          : 'staff sender without a case thread: filed as a complaint for an officer to look at',
      registrationProblems: unread,
      customer: { ...customer, doNotAutoReply: customer.doNotAutoReply ?? (spoofSuspected ? 'a staff From that is not authenticated' : 'the sender is staff') },
      refersToCaseId: null,
      fromStaff: true,
      spoofSuspected,
    };
  }
  return {
    kind: 'complaint',
    reason: weak ? `a new mail on no existing case; ${weak}` : 'a new mail from a person, on no existing case',
    customer: holdBack(customer, weak),
    refersToCaseId: null,
    fromStaff: false,
  };
}

/**
 * Mail the shared mailbox sent (its Sent folder): an officer's reply from the shared mailbox
 * when it is on a case thread; our own automatic mail when the Message-ID is ours; otherwise
 * recorded on no case.
 */
function classifySent(facts: ThreadFacts, linkedCase: number | null): Classification {
  if (facts.ownMessageId) return { kind: 'autoreply', reason: 'our own automatic mail, saved in the Sent folder', caseId: linkedCase };
  const thread = facts.referencedCase ?? facts.taggedCase ?? null;
  const how = 'found in the Sent folder of the shared mailbox';
  if (thread) {
    const via = facts.referencedCase ? 'In-Reply-To/References' : 'case tag in the subject';
    return {
      kind: 'officer',
      reason: `sent from the shared mailbox on case ${thread.number} (${via})`,
      caseId: thread.caseId,
      senderDiffers: false,
      authentication: how,
    };
  }
  return { kind: 'officer', reason: 'sent from the shared mailbox on no case: recorded only', caseId: null, senderDiffers: false, authentication: how };
}

function holdBack(customer: Customer, reason: string | null): Customer {
  return reason && !customer.doNotAutoReply ? { ...customer, doNotAutoReply: reason } : customer;
}

export const OPENS_CASE: ReadonlySet<MailKind> = new Set(['complaint']);
