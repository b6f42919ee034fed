/**
 * The facts stage: what the store knows about a parsed mail, looked up once, so that the
 * classifier (src/classify/classify.ts) can decide without reading the store, the clock or the
 * network. Reads only; writes nothing.
 *
 * Facts: is it a copy of a mail already filed (the same Message-ID and content, see
 * src/parse/content-key.ts), or another mail under a Message-ID already used; our own
 * Message-ID; the case a reference, a case tag or (for replies that lost their threading
 * headers) the subject points to; the mail of ours a bounce returns; a forwarded original
 * already filed; whether it was read from the shared mailbox's Sent folder.
 */
import { readStoredRaw } from '../ingest/raw-files';
import { readRegistration, startsWithRegister } from '../parse/registration';
import type { Config } from '../config/config';
import type { ParsedMail } from '../parse/parse';
import type { InboundRow, Store } from '../store/store';
import type { TaggedCase, ThreadFacts } from '../classify/classify';
import { customerOf } from '../classify/classify';
import { caseNumbersInSubject, chooseReferencedCase, hasReplyPrefix, subjectKey } from '../classify/thread';
import { contentKey } from '../parse/content-key';
import { toInstant } from '../util/clock';

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
  let referencedOurMail = false;
  let repliesToOurMail = false;
  const refs = [...(mail.inReplyTo ? [mail.inReplyTo] : []), ...[...mail.references].reverse()];
  for (const ref of refs) {
    if (store.isOurMessageId(ref)) repliesToOurMail = true;
    const owners = store.casesOfMessageId(ref);
    const caseId = chooseReferencedCase(owners, sender, recipients);
    if (caseId !== undefined) {
      referencedCase = taggedCase(store, caseId);
      referencedOurMail = owners.some((o) => o.case_id === caseId && o.ours === 1);
      break;
    }
  }
  let tagged: TaggedCase | null = null;
  // A subject that names the case the mail is threaded on, among others, is tagged with that
  // case: only a subject naming none but other cases disagrees with the threading (classify.ts).
  const numbers = caseNumbersInSubject(mail.subject, casePrefix);
  for (const number of referencedCase && numbers.includes(referencedCase.number) ? [referencedCase.number] : numbers) {
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
    referencedOurMail,
    repliesToOurMail,
    taggedCase: tagged,
    subjectCase,
    returnedMail,
    fromSentFolder: sent,
    forwardedCase,
    // A complaint by letter, phone, chat or visit typed in by an officer (#register on the
    // first line): read here, believed by the classifier only from authenticated staff.
    registration: startsWithRegister(mail.text) ? readRegistration(mail.text, now) : null,
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
  const own = readStoredRaw(store, dataDir, inbound.sha256);
  const key = own ? contentKey(own) : null;
  for (const r of earlier) {
    // An earlier raw mail removed by retention cannot be compared: file this one rather than risk losing it.
    const theirs = key ? readStoredRaw(store, dataDir, r.sha256) : null;
    if (theirs && contentKey(theirs) === key) return { duplicateOf: r.id, collision: null };
  }
  const first = earlier[0];
  return {
    duplicateOf: null,
    collision: { inboundId: first.id, caseId: first.case_id, caseNumber: first.case_id !== null ? (store.caseById(first.case_id)?.number ?? null) : null },
  };
}

/** Was the mail read from a source's Sent folder (mail the shared mailbox sent)? */
export function fromSentFolder(config: Config, inbound: InboundRow): boolean {
  return config.sources.some((s) => s.type === 'imap' && s.name === inbound.source && s.sentFolder !== null && s.sentFolder === inbound.mailbox);
}
