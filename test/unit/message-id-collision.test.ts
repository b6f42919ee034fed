/**
 * Issue 17 item 1: a Message-ID does not identify a mail. A duplicate is the same Message-ID
 * and the same content (From, Date, body); the same Message-ID on other content is another mail.
 */
import { contentKey } from '../../src/parse/content-key';
import { chooseReferencedCase } from '../../src/classify/thread';
import { planFolder } from '../../src/reconcile';

const base = [
  'Received: from mx1.example.net by mx.firm.se; Thu, 19 Nov 2026 09:14:05 +0100',
  'From: Anna Svensson <anna@example.com>',
  'To: klagomal@firm.se',
  'Subject: Felaktig avgift',
  'Date: Thu, 19 Nov 2026 09:14:02 +0100',
  'Message-ID: <constant@webform.example>',
  '',
  'Hej, jag vill klaga på en avgift på 60 kr.',
  '',
  'Anna',
  '',
];
const mail = (lines: string[], eol = '\r\n'): Buffer => Buffer.from(lines.join(eol), 'utf8');

describe('contentKey: the same mail, whatever its trace headers', () => {
  const key = contentKey(mail(base));
  test.each([
    [
      'another Received line and Delivered-To (a second delivery route)',
      ['Received: from relay2 by mx2; Thu, 19 Nov 2026 09:14:09 +0100', 'Delivered-To: klagomal@firm.se', ...base],
    ],
    ['an Authentication-Results header added on delivery', ['Authentication-Results: mx.firm.se; spf=pass smtp.mailfrom=example.com', ...base]],
    ['headers in another order', [base[0], base[2], base[1], ...base.slice(3)]],
    [
      'trailing spaces and extra blank lines at the end of the body',
      [...base.slice(0, 7), 'Hej, jag vill klaga på en avgift på 60 kr.   ', '', 'Anna', '', '', ''],
    ],
    ['a folded From', [base[0], 'From: Anna Svensson', ' <anna@example.com>', ...base.slice(2)]],
  ])('sameMailWithOtherTraceHeadersHasTheSameKey: %s', (_what, lines) => {
    expect(contentKey(mail(lines))).toBe(key);
  });

  test('sameMailWithLfLineEndingsHasTheSameKey (a Maildir copy of an IMAP mail)', () => {
    expect(contentKey(mail(base, '\n'))).toBe(key);
  });

  test.each([
    ['another sender', base.map((l) => l.replace('anna@example.com', 'mallory@evil.example'))],
    ['another Date', base.map((l) => l.replace('09:14:02', '09:15:02'))],
    ['another body', base.map((l) => l.replace('60 kr', '600 kr'))],
    ['a body with one more line', [...base.slice(0, -1), 'PS: ring mig', '']],
  ])('differentMailWithTheSameMessageIdHasAnotherKey: %s', (_what, lines) => {
    expect(contentKey(mail(lines))).not.toBe(key);
  });
});

describe('chooseReferencedCase: a reply to a colliding Message-ID', () => {
  const owners = [
    { case_id: 1, from_address: 'mallory@evil.example', customer_address: 'mallory@evil.example' },
    { case_id: 2, from_address: 'anna@example.com', customer_address: 'anna@example.com' },
  ];
  test('replyToCollidingMessageIdGoesToTheSameSendersCase', () => {
    expect(chooseReferencedCase(owners, 'anna@example.com', [])).toBe(2);
    expect(chooseReferencedCase(owners, 'ANNA@example.com', [])).toBe(2);
    expect(chooseReferencedCase(owners, 'mallory@evil.example', [])).toBe(1);
  });
  test('officerReplyToCollidingMessageIdGoesToTheCaseOfTheCustomerAddressed', () => {
    expect(chooseReferencedCase(owners, 'olle@firm.se', ['anna@example.com', 'klagomal@firm.se'])).toBe(2);
  });
  test('without a better clue the earliest mail wins; one owner is taken as it is', () => {
    expect(chooseReferencedCase(owners, 'someone@else.example', [])).toBe(1);
    expect(chooseReferencedCase([owners[1]], 'mallory@evil.example', [])).toBe(2);
    expect(chooseReferencedCase([], 'anna@example.com', [])).toBeUndefined();
  });
});

describe('reconcile: a Message-ID on the server is not proof that this mail was stored', () => {
  test('collidingMessageIdOnServerIsFetchedAndCompared', () => {
    const stored = new Map([['constant@webform.example', 2048]]);
    const plan = planFolder(
      [
        { uid: 1, size: 2048, messageId: 'constant@webform.example', internalDate: null },
        { uid: 2, size: 3000, messageId: 'constant@webform.example', internalDate: null },
      ],
      { role: 'processed', uidvalidity: '1', cursor: null, storedUids: new Set() },
      (id, size) => stored.get(id) === size,
    );
    expect(plan.known).toBe(1);
    expect(plan.toCheck.map((m) => m.uid)).toEqual([2]);
  });
});

describe('contentKey: the author fields beside From and Date', () => {
  const key = contentKey(mail(base));
  test.each([
    ['another Reply-To (another customer to answer)', [...base.slice(0, 2), 'Reply-To: someone@else.example', ...base.slice(2)]],
    ['another To', base.map((l) => l.replace('To: klagomal@firm.se', 'To: care@firm.se'))],
    ['another Subject', base.map((l) => l.replace('Felaktig avgift', 'Felaktig ränta'))],
    ['another thread (In-Reply-To)', [...base.slice(0, 6), 'In-Reply-To: <other@firm.se>', ...base.slice(6)]],
  ])('sameIdSameBodyOtherAuthorFieldsIsAnotherMail: %s', (_what, lines) => {
    expect(contentKey(mail(lines))).not.toBe(key);
  });
});

describe('contentKey: line endings a broken client writes', () => {
  test('crOnlyMailsWithTheSameMessageIdAreNotTakenForCopies (found by a review: no header end was found, so every such mail had one key)', () => {
    const anna = ['Received: from a by b', 'From: anna@example.com', 'Subject: Avgift', 'Message-ID: <webform@crm.example>', '', 'Annas text.', ''];
    const bertil = ['Received: from a by b', 'From: bertil@example.com', 'Subject: Ränta', 'Message-ID: <webform@crm.example>', '', 'Bertils text.', ''];
    expect(contentKey(mail(anna, '\r'))).not.toBe(contentKey(mail(bertil, '\r')));
    // The same mail with CR, CRLF, LF or CR CR LF line ends is one mail.
    const key = contentKey(mail(anna, '\r\n'));
    for (const eol of ['\r', '\n', '\r\r\n']) expect(contentKey(mail(anna, eol))).toBe(key);
  });
});
