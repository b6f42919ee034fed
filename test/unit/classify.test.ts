/**
 * Classification (src/classify/classify.ts, signals.ts, thread.ts): which mail opens a case,
 * which joins one, and which must never be answered. Every misclassification here is either a
 * mail loop (we answer a machine), a lost complaint (we take a person for a machine) or a
 * privacy breach (a stranger writes into someone else's case).
 */
import type { HeaderView, MailAddress, ParsedMail } from '../../src/parse/parse';
import { classify, customerOf, isStaff, StaffDirectory, TaggedCase, ThreadFacts } from '../../src/classify/classify';
import { isNoReplyAddress, machineSignal } from '../../src/classify/signals';
import { caseNumbersInSubject, caseTag, stripReplyPrefixes } from '../../src/classify/thread';
import { normaliseAddress } from '../../src/util/header-safe';

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

function headerView(plain: Record<string, string | string[]>): HeaderView {
  const map = new Map<string, string[]>();
  for (const [k, v] of Object.entries(plain)) map.set(k.toLowerCase(), Array.isArray(v) ? v : [v]);
  return {
    get: (n) => map.get(n.toLowerCase())?.[0],
    all: (n) => map.get(n.toLowerCase()) ?? [],
    has: (n) => map.has(n.toLowerCase()),
  };
}

/** An address as parseMail gives it: through normaliseAddress, like src/parse/parse.ts does. */
function addr(address: string, name = ''): MailAddress {
  const normalised = normaliseAddress(address);
  if (!normalised) throw new Error(`test bug: ${address} is not an address`);
  return { address: normalised, name };
}

interface MailOptions extends Partial<Omit<ParsedMail, 'headers' | 'from' | 'replyTo'>> {
  headers?: Record<string, string | string[]>;
  from?: MailAddress | string | null;
  replyTo?: MailAddress | string | null;
}

function mail(o: MailOptions = {}): ParsedMail {
  const asAddr = (v: MailAddress | string | null | undefined, dflt: MailAddress | null): MailAddress | null =>
    v === undefined ? dflt : v === null ? null : typeof v === 'string' ? addr(v) : v;
  return {
    messageId: o.messageId === undefined ? 'abc123@mail.example.com' : o.messageId,
    embeddedMessageIds: o.embeddedMessageIds ?? [],
    dsn: o.dsn ?? null,
    fromName: o.fromName ?? null,
    feedbackReport: o.feedbackReport ?? false,
    inReplyTo: o.inReplyTo ?? null,
    references: o.references ?? [],
    from: asAddr(o.from, addr('kund@example.com', 'Karin Kund')),
    replyTo: asAddr(o.replyTo, null),
    to: o.to ?? [addr('klagomal@exempelfinans.se')],
    cc: o.cc ?? [],
    subject: o.subject ?? 'Felaktig avgift på min faktura',
    date: o.date ?? new Date('2026-11-03T10:00:00+01:00'),
    returnPath: o.returnPath === undefined ? 'kund@example.com' : o.returnPath,
    contentType: o.contentType ?? 'text/plain',
    contentTypeParams: o.contentTypeParams ?? {},
    text: o.text ?? 'Hej, ni har tagit ut en avgift som jag inte känner igen.',
    textFromHtml: o.textFromHtml ?? false,
    headers: headerView(o.headers ?? {}),
    attachments: o.attachments ?? [],
    problems: o.problems ?? [],
  };
}

const STAFF: StaffDirectory = {
  complaintsAddress: 'klagomal@exempelfinans.se',
  staffAddresses: ['extern.jurist@advokatbyra.se'],
  staffDomains: ['exempelfinans.se'],
  formAddresses: ['kontakt@webbtjanst.example'],
  authservIds: ['mx1.exempelfinans.se'],
  // Authentication has its own tests below; here a staff From is believed.
  trustStaffFrom: true,
};

const NO_FACTS: ThreadFacts = { duplicateOf: null, ownMessageId: false, referencedCase: null, repliesToOurMail: false, taggedCase: null };

const CASE: TaggedCase = { caseId: 42, number: 'KLG-2026-000042', customerAddress: 'kund@example.com' };

function facts(o: Partial<ThreadFacts> = {}): ThreadFacts {
  return { ...NO_FACTS, ...o };
}

// ---------------------------------------------------------------------------------------------
// Machine mail
// ---------------------------------------------------------------------------------------------

describe('machine mail is never taken for a complaint', () => {
  test.each<[string, MailOptions, 'autoreply' | 'bounce' | 'bulk']>([
    ['Auto-Submitted: auto-replied', { headers: { 'Auto-Submitted': 'auto-replied' } }, 'autoreply'],
    ['Auto-Submitted: auto-generated', { headers: { 'Auto-Submitted': 'auto-generated' } }, 'autoreply'],
    ['Auto-Submitted with parameters', { headers: { 'Auto-Submitted': 'Auto-Replied; owner-email="x@y.se"' } }, 'autoreply'],
    ['X-Autoreply', { headers: { 'X-Autoreply': 'yes' } }, 'autoreply'],
    ['X-Autorespond', { headers: { 'X-Autorespond': 'yes' } }, 'autoreply'],
    ['Exchange generated', { headers: { 'X-MS-Exchange-Generated-Message-Source': 'Mailbox Rules Agent' } }, 'autoreply'],
    ['Precedence: auto_reply', { headers: { Precedence: 'auto_reply' } }, 'autoreply'],
    ['Precedence: bulk', { headers: { Precedence: 'bulk' } }, 'bulk'],
    ['Precedence: list', { headers: { Precedence: 'list' } }, 'bulk'],
    ['Precedence: junk', { headers: { Precedence: 'junk' } }, 'bulk'],
    ['List-Id', { headers: { 'List-Id': '<nyheter.lists.example.com>' } }, 'bulk'],
    ['DSN', { contentType: 'multipart/report', contentTypeParams: { 'report-type': 'delivery-status' }, from: 'postmaster@example.com' }, 'bounce'],
    ['DSN from an ordinary-looking sender', { contentType: 'multipart/report', contentTypeParams: { 'report-type': 'delivery-status' } }, 'bounce'],
    ['read receipt (MDN)', { contentType: 'multipart/report', contentTypeParams: { 'report-type': 'disposition-notification' } }, 'autoreply'],
    ['MAILER-DAEMON sender', { from: 'MAILER-DAEMON@mx.example.com', subject: 'Returned mail: see transcript' }, 'bounce'],
    ['postmaster sender', { from: 'postmaster@example.com' }, 'bounce'],
    ['null Return-Path', { returnPath: '' }, 'bounce'],
    ['bounce subject with null sender', { returnPath: '', subject: 'Undeliverable: Felaktig avgift' }, 'bounce'],
  ])('machineMailFiledAsComplaint: %s', (_label, options, kind) => {
    const m = mail(options);
    expect(machineSignal(m)?.kind).toBe(kind);
    const c = classify(m, NO_FACTS, STAFF);
    expect(c.kind).toBe(kind);
    expect(c.reason.length).toBeGreaterThan(0);
  });

  // Weak evidence: what a person's mail can also carry. Filed as a complaint (a complaint is
  // never lost to a guess), but not acknowledged; the reason is on the case.
  test.each<[string, MailOptions, 'autoreply' | 'bulk']>([
    ['List-Unsubscribe (web-form and CRM services add it too)', { headers: { 'List-Unsubscribe': '<mailto:unsub@example.com>' } }, 'bulk'],
    ['Swedish Outlook', { subject: 'Automatiskt svar: Felaktig avgift' }, 'autoreply'],
    ['Swedish absence', { subject: 'Frånvaro: Felaktig avgift' }, 'autoreply'],
    ['Swedish absence message', { subject: 'Frånvaromeddelande: Faktura' }, 'autoreply'],
    ['Norwegian', { subject: 'Fraværsmelding: Faktura' }, 'autoreply'],
    ['Finnish', { subject: 'Poissaolo: Lasku' }, 'autoreply'],
    ['German', { subject: 'Abwesenheitsnotiz: Rechnung' }, 'autoreply'],
    ['English OOO', { subject: 'Out of Office: Invoice' }, 'autoreply'],
    ['English Outlook', { subject: 'Automatic reply: Invoice' }, 'autoreply'],
    ['leading space', { subject: '  AUTOMATISKT SVAR: x' }, 'autoreply'],
  ])('weakSignalLosesTheComplaintOrAnswersIt: %s', (_label, options, kind) => {
    const m = mail(options);
    expect(machineSignal(m)).toMatchObject({ kind, strength: 'weak' });
    const c = classify(m, NO_FACTS, STAFF);
    expect(c.kind).toBe('complaint');
    if (c.kind !== 'complaint') throw new Error('unreachable');
    expect(c.customer.doNotAutoReply).toMatch(/may be an automatic mail/);
  });

  test.each<[string, MailOptions]>([
    ['a complaint about missing answers', { subject: 'Frånvaro av svar på mitt klagomål' }],
    ['absence in English', { subject: 'Absence of any refund' }],
    ['Exchange inbox-rule forward (customer service passing a complaint on)', { headers: { 'X-MS-Exchange-Inbox-Rules-Loop': 'kundtjanst@exempelfinans.se' } }],
  ])('complaintFiledAsMachineMail: %s', (_label, options) => {
    const m = mail(options);
    expect(machineSignal(m)).toBeNull();
    const c = classify(m, NO_FACTS, STAFF);
    expect(c.kind).toBe('complaint');
    if (c.kind !== 'complaint') throw new Error('unreachable');
    expect(c.customer.doNotAutoReply).toBeNull();
  });

  test.each<[string, MailOptions]>([
    ['Auto-Submitted: no (RFC 3834: written by a person)', { headers: { 'Auto-Submitted': 'no' } }],
    ['Auto-Submitted: No with a comment', { headers: { 'Auto-Submitted': 'No; person' } }],
    ['"semester" in an ordinary subject', { subject: 'Avgift under min semester i juli' }],
    ['"semester" first', { subject: 'Semester och autogiro' }],
    ['complaint about an auto-reply', { subject: 'Klagomål: ert automatiska svar säger ingenting' }],
    ['the word absence later in the subject', { subject: 'Fee charged during my absence' }],
    ['Precedence: normal', { headers: { Precedence: 'normal' } }],
    ['X-Auto-Response-Suppress alone (Outlook sets it on ordinary mail too)', { headers: { 'X-Auto-Response-Suppress': 'OOF' } }],
    ['a daemon-like subject from a person', { subject: 'Returned mail about my loan', returnPath: 'kund@example.com' }],
  ])('personTakenForMachine: %s', (_label, options) => {
    const m = mail(options);
    expect(machineSignal(m)).toBeNull();
    expect(classify(m, NO_FACTS, STAFF).kind).toBe('complaint');
  });

  test('autoreplyOnCaseThreadLosesItsCase', () => {
    const c = classify(mail({ subject: 'Automatiskt svar: [KLG-2026-000042] Vi har tagit emot ditt klagomål' }), facts({ taggedCase: CASE }), STAFF);
    expect(c).toMatchObject({ kind: 'autoreply', caseId: 42 });
  });
});

// ---------------------------------------------------------------------------------------------
// Rule order and loops
// ---------------------------------------------------------------------------------------------

describe('classify: order of rules', () => {
  test('duplicateFiledTwice', () => {
    const c = classify(mail({ headers: { 'Auto-Submitted': 'auto-replied' } }), facts({ duplicateOf: 7, ownMessageId: true, taggedCase: CASE }), STAFF);
    expect(c).toEqual({ kind: 'duplicate', reason: 'a copy of inbound #7 (the same Message-ID, From, Date and body)', duplicateOf: 7 });
    const bytes = classify(mail({ messageId: null }), facts({ duplicateOf: 8 }), STAFF);
    expect(bytes).toMatchObject({ kind: 'duplicate', duplicateOf: 8 });
    expect(bytes.reason).toContain('same bytes');
  });

  test('ownMailComingBackStartsLoop', () => {
    const c = classify(mail(), facts({ ownMessageId: true }), STAFF);
    expect(c).toMatchObject({ kind: 'autoreply', caseId: null });
    expect(c.reason).toContain('one we generated');
    const threaded = classify(mail(), facts({ ownMessageId: true, referencedCase: CASE }), STAFF);
    expect(threaded).toMatchObject({ kind: 'autoreply', caseId: 42 });
  });

  test.each([
    ['exact', 'klagomal@exempelfinans.se'],
    // A capitalised local part is still our own address (the parser lower-cases addresses).
    ['capitalised local part', 'Klagomal@exempelfinans.se'],
    ['upper-case local part', 'KLAGOMAL@exempelfinans.se'],
  ])('mailFromOurOwnAddressStartsLoop (%s)', (_label, from) => {
    const c = classify(mail({ from }), NO_FACTS, STAFF);
    expect(c.kind).toBe('autoreply');
    expect(c.reason).toContain('loop guard');
  });

  test('ownAddressLoopGuardBeatsStaffRule', () => {
    // Our own address is on the staff domain; on a case thread it must still be a loop, not an officer.
    const c = classify(mail({ from: 'klagomal@exempelfinans.se' }), facts({ referencedCase: CASE }), STAFF);
    expect(c).toMatchObject({ kind: 'autoreply', caseId: 42 });
  });
});

// ---------------------------------------------------------------------------------------------
// Threads
// ---------------------------------------------------------------------------------------------

describe('classify: case threads', () => {
  test.each([
    ['staff domain, by reference', 'handlaggare@exempelfinans.se', facts({ referencedCase: CASE })],
    ['staff domain, by tag', 'handlaggare@exempelfinans.se', facts({ taggedCase: CASE })],
    ['listed staff address', 'extern.jurist@advokatbyra.se', facts({ taggedCase: CASE })],
  ])('staffReplyFiledAsCustomerFollowup (%s)', (_label, from, f) => {
    const c = classify(mail({ from }), f, STAFF);
    expect(c).toMatchObject({ kind: 'officer', caseId: 42, senderDiffers: false });
  });

  test('customerReplyOpensNewCase', () => {
    const byTag = classify(mail({ subject: 'Sv: [KLG-2026-000042] Vi har tagit emot ditt klagomål' }), facts({ taggedCase: CASE }), STAFF);
    expect(byTag).toMatchObject({ kind: 'followup', caseId: 42, senderDiffers: false });
    const byRef = classify(mail(), facts({ referencedCase: CASE, repliesToOurMail: true }), STAFF);
    expect(byRef).toMatchObject({ kind: 'followup', caseId: 42, senderDiffers: false });
  });

  test('strangerWithCaseTagWritesIntoSomeoneElsesCase', () => {
    const c = classify(mail({ from: addr('annan@example.org', 'Olle Annan') }), facts({ taggedCase: CASE }), STAFF);
    expect(c.kind).toBe('complaint');
    if (c.kind !== 'complaint') return;
    expect(c.refersToCaseId).toBe(42);
    expect(c.fromStaff).toBe(false);
    expect(c.customer).toEqual({ address: 'annan@example.org', name: 'Olle Annan', addressSource: 'from', doNotAutoReply: null });
  });

  test('replyToCaseMailFromOtherAddressLost', () => {
    // Someone who holds a Message-ID of the case (a spouse, the customer's work address) replies.
    const c = classify(mail({ from: 'karin@jobbet.example' }), facts({ referencedCase: CASE, repliesToOurMail: true }), STAFF);
    expect(c).toMatchObject({ kind: 'followup', caseId: 42, senderDiffers: true });
  });

  test('tagOverridesReferencedCase', () => {
    const other: TaggedCase = { caseId: 99, number: 'KLG-2026-000099', customerAddress: 'kund@example.com' };
    const c = classify(mail(), facts({ referencedCase: CASE, taggedCase: other }), STAFF);
    expect(c).toMatchObject({ kind: 'followup', caseId: 42 });
  });

  test('staffWithoutThreadGetsAcknowledged', () => {
    const c = classify(mail({ from: 'anna@exempelfinans.se' }), NO_FACTS, STAFF);
    expect(c.kind).toBe('complaint');
    if (c.kind !== 'complaint') return;
    expect(c.fromStaff).toBe(true);
    expect(c.customer.doNotAutoReply).toBe('the sender is staff');
  });

  test('ordinaryComplaintMisfiled', () => {
    const c = classify(mail(), NO_FACTS, STAFF);
    expect(c).toEqual({
      kind: 'complaint',
      reason: 'a new mail from a person, on no existing case',
      customer: { address: 'kund@example.com', name: 'Karin Kund', addressSource: 'from', doNotAutoReply: null },
      refersToCaseId: null,
      fromStaff: false,
    });
  });
});

// ---------------------------------------------------------------------------------------------
// The customer
// ---------------------------------------------------------------------------------------------

describe('customerOf', () => {
  test('noReplySenderAnsweredInsteadOfReplyTo', () => {
    const c = customerOf(mail({ from: 'no-reply@bank.example', replyTo: addr('karin@example.com', 'Karin') }), STAFF);
    expect(c).toEqual({ address: 'karin@example.com', name: 'Karin', addressSource: 'reply-to', doNotAutoReply: null });
  });

  test('noReplySenderWithoutReplyToGetsAutoReply', () => {
    const c = customerOf(mail({ from: 'noreply@bank.example' }), STAFF);
    expect(c.address).toBe('noreply@bank.example');
    expect(c.addressSource).toBe('from');
    expect(c.doNotAutoReply).toMatch(/no-reply/);
  });

  test('noReplyWithReplyToItselfGetsAutoReply', () => {
    const c = customerOf(mail({ from: 'noreply@bank.example', replyTo: 'noreply@bank.example' }), STAFF);
    expect(c.doNotAutoReply).not.toBeNull();
  });

  test.each([
    ['configured form address', 'kontakt@webbtjanst.example'],
    // The config lower-cases form addresses; so must the comparison with the parsed sender.
    ['configured form address, capitalised', 'Kontakt@webbtjanst.example'],
    ['form-like local part not in config', 'formular@annan.example'],
  ])('formSenderAnsweredInsteadOfCustomer (%s)', (_label, from) => {
    const c = customerOf(mail({ from: addr(from, 'Webbformulär'), replyTo: addr('karin@example.com', 'Karin') }), STAFF);
    expect(c).toEqual({ address: 'karin@example.com', name: 'Karin', addressSource: 'reply-to', doNotAutoReply: null });
  });

  test('ordinarySenderReplyToIgnored', () => {
    // A person's own Reply-To is not followed for the customer: the From is who complained.
    const c = customerOf(mail({ replyTo: 'annan@example.org' }), STAFF);
    expect(c.address).toBe('kund@example.com');
    expect(c.addressSource).toBe('from');
  });

  test('mailWithoutSenderCrashesOrGetsAddress', () => {
    expect(customerOf(mail({ from: null }), STAFF)).toEqual({
      address: null,
      name: null,
      addressSource: 'none',
      doNotAutoReply: 'the mail has no usable sender address',
    });
    expect(customerOf(mail({ from: null, replyTo: 'karin@example.com' }), STAFF)).toMatchObject({ address: 'karin@example.com', addressSource: 'reply-to' });
  });

  test.each<[string, boolean]>([
    ['noreply', true],
    ['no-reply', true],
    ['no_reply+abc', true],
    ['donotreply', true],
    ['do-not-reply', true],
    ['svara-inte', true],
    ['notifications', true],
    ['wordpress', true],
    ['karin', false],
    ['noreplyfan', false],
    ['formgivare', false],
  ])('noReplyAddressMisjudged %s', (local, expected) => {
    expect(isNoReplyAddress(`${local}@example.com`)).toBe(expected);
  });

  test('kelvinSignInFromDomainIsStaff: U+212A lower-cases to an ASCII k', () => {
    const bank: StaffDirectory = { ...STAFF, staffDomains: ['testbank.se'], staffAddresses: ['olle@testbank.se'] };
    expect(isStaff('olle@testban\u212A.se', bank)).toBe(false);
    expect(isStaff('nils@testban\u212A.se', bank)).toBe(false);
    expect(isStaff('olle@testbank.se', bank)).toBe(true);
  });

  test('staffMatchIsCaseSensitive', () => {
    expect(isStaff('Anna@ExempelFinans.se', STAFF)).toBe(true);
    expect(isStaff('Extern.Jurist@advokatbyra.se', STAFF)).toBe(true);
    expect(isStaff('anna@exempelfinans.se.evil.example', STAFF)).toBe(false);
    expect(isStaff('anna@evil-exempelfinans.se', STAFF)).toBe(false);
    expect(isStaff(null, STAFF)).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------
// thread.ts
// ---------------------------------------------------------------------------------------------

describe('caseNumbersInSubject', () => {
  test.each<[string, string[]]>([
    ['[KLG-2026-000042] Vi har tagit emot ditt klagomål', ['KLG-2026-000042']],
    ['Sv: [KLG-2026-000042] Vi har tagit emot', ['KLG-2026-000042']],
    ['Angående ärende KLG-2026-000042', ['KLG-2026-000042']],
    ['KLG-2026-000042', ['KLG-2026-000042']],
    ['(KLG-2026-000042)', ['KLG-2026-000042']],
    ['[KLG-2026-000001][KLG-2026-000002]', ['KLG-2026-000001', 'KLG-2026-000002']],
    ['KLG-2026-000042 och KLG-2026-000042 igen', ['KLG-2026-000042']],
    ['[ABC-2026-000042] Another firm', []],
    ['XKLG-2026-000042', []],
    ['KLG-2026-0000421', []], // seven digits: not our number
    ['KLG-2026-00004', []], // five digits
    ['KLG 2026 000042', []],
  ])('caseTagMisread %p', (subject, expected) => {
    expect(caseNumbersInSubject(subject, 'KLG')).toEqual(expected);
  });

  test('ownCaseTagNotRecognised', () => {
    expect(caseNumbersInSubject(`${caseTag('KLG-2026-000042')} Vi har tagit emot ditt klagomål`, 'KLG')).toEqual(['KLG-2026-000042']);
    expect(caseNumbersInSubject('[FIN-2026-000042]', 'FIN')).toEqual(['FIN-2026-000042']);
    expect(caseNumbersInSubject('[FIN-2026-000042]', 'KLG')).toEqual([]);
  });
});

describe('stripReplyPrefixes', () => {
  test.each<[string, string]>([
    ['Re: Avgift', 'Avgift'],
    ['RE: Avgift', 'Avgift'],
    ['Sv: Avgift', 'Avgift'],
    ['SV: Avgift', 'Avgift'],
    ['VB: Avgift', 'Avgift'],
    ['Vb: Avgift', 'Avgift'],
    ['VS: Avgift', 'Avgift'],
    ['VL: Avgift', 'Avgift'],
    ['AW: Rechnung', 'Rechnung'],
    ['WG: Rechnung', 'Rechnung'],
    ['Fwd: Avgift', 'Avgift'],
    ['FW: Avgift', 'Avgift'],
    ['Fw: Avgift', 'Avgift'],
    ['Antw: Factuur', 'Factuur'],
    ['Odp: Faktura', 'Faktura'],
    ['Réf: Facture', 'Facture'],
    ['Re[2]: Avgift', 'Avgift'],
    ['Re [3]: Avgift', 'Avgift'],
    ['RE: SV: Fwd: Avgift', 'Avgift'],
    ['Re:Avgift', 'Avgift'],
    ['  Re :  Avgift   för   sent ', 'Avgift för sent'],
    ['[Fwd: Avgift]', 'Avgift'],
    ['Avgift', 'Avgift'],
    ['Regarding: my loan', 'Regarding: my loan'],
    ['Svar på fråga', 'Svar på fråga'],
    ['Fwd', 'Fwd'],
  ])('replyPrefixLeftOrWordEaten %p', (subject, expected) => {
    expect(stripReplyPrefixes(subject)).toBe(expected);
  });
});
