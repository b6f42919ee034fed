/**
 * Forwarded complaints: the customer's original found inside a staff member's forward, in the
 * shapes real clients write (Gmail, Outlook, Thunderbird, Apple Mail; Swedish and English; as
 * quoted text or as an attached message), and the classifier's rule that only authenticated
 * staff can file a forward as the customer's complaint.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findInlineForward, hasForwardPrefix, parseForwardedAddress, parseWrittenDate } from '../../src/parse/forwarded';
import { parseMail, ParsedMail } from '../../src/parse/parse';
import { classify, StaffDirectory, ThreadFacts } from '../../src/classify/classify';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-fwd-'));
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

const STAFF: StaffDirectory = {
  complaintsAddress: 'klagomal@testfinans.se',
  staffAddresses: [],
  staffDomains: ['testfinans.se'],
  formAddresses: [],
  authservIds: ['mx1.testfinans.se'],
  trustStaffFrom: false,
};
const NO_FACTS: ThreadFacts = { duplicateOf: null, ownMessageId: false, referencedCase: null, repliesToOurMail: false, taggedCase: null };
const AUTH_PASS =
  'Authentication-Results: mx1.testfinans.se; dkim=pass header.d=testfinans.se; spf=pass smtp.mailfrom=erik@testfinans.se; dmarc=pass header.from=testfinans.se';

// 2 November 2026, 09:15 in Stockholm (CET, UTC+1) is 08:15 UTC.
const ORIGINAL_UTC = '2026-11-02T08:15:00.000Z';

function forward(body: string, opts: { subject?: string; auth?: boolean; from?: string; contentType?: string } = {}): Buffer {
  return Buffer.from(
    [
      ...(opts.auth === false ? [] : [AUTH_PASS]),
      `From: ${opts.from ?? 'Erik Kundtjänst <erik@testfinans.se>'}`,
      'To: klagomal@testfinans.se',
      `Subject: ${opts.subject ?? 'VB: Felaktig avgift'}`,
      'Date: Thu, 19 Nov 2026 14:00:00 +0100',
      'Message-ID: <fwd-1@testfinans.se>',
      'MIME-Version: 1.0',
      `Content-Type: ${opts.contentType ?? 'text/plain; charset=utf-8'}`,
      'Content-Transfer-Encoding: 8bit',
      '',
      body,
      '',
    ].join('\r\n'),
  );
}

const CUSTOMER_TEXT = 'Hej, jag har fått en avgift på 60 kr som jag inte har beställt. Jag vill ha pengarna tillbaka.';

describe('inline forwards as mail clients write them', () => {
  const cases: Array<[string, string, string]> = [
    [
      'Gmail, English',
      `Please file this.\n\n---------- Forwarded message ---------\nFrom: Anna Svensson <anna.svensson@example.com>\nDate: Mon, 2 Nov 2026 at 09:15\nSubject: Felaktig avgift\nTo: <kundtjanst@testfinans.se>\n\n\n${CUSTOMER_TEXT}\n`,
      'Fwd: Felaktig avgift',
    ],
    [
      'Gmail, Swedish',
      `Kan ni ta hand om detta?\n\n---------- Vidarebefordrat meddelande ---------\nFrån: Anna Svensson <anna.svensson@example.com>\nDate: mån 2 nov. 2026 kl 09:15\nSubject: Felaktig avgift\nTo: <kundtjanst@testfinans.se>\n\n${CUSTOMER_TEXT}\n`,
      'Fwd: Felaktig avgift',
    ],
    [
      'Outlook, Swedish (no marker line)',
      `Hej, ett klagomål från en kund.\n\nFrån: Anna Svensson <anna.svensson@example.com>\nSkickat: den 2 november 2026 09:15\nTill: Kundtjänst <kundtjanst@testfinans.se>\nÄmne: Felaktig avgift\n\n${CUSTOMER_TEXT}\n`,
      'VB: Felaktig avgift',
    ],
    [
      'Outlook, English, old style with mailto',
      `FYI\n\n-----Original Message-----\nFrom: Anna Svensson [mailto:anna.svensson@example.com]\nSent: Monday, November 2, 2026 9:15 AM\nTo: Kundtjanst\nSubject: Felaktig avgift\n\n${CUSTOMER_TEXT}\n`,
      'FW: Felaktig avgift',
    ],
    [
      'Outlook from HTML, bold labels under a rule',
      `Se nedan\n\n________________________________\n*Från:* Anna Svensson <anna.svensson@example.com>\n*Skickat:* måndag 2 november 2026 09:15\n*Till:* Kundtjänst\n*Ämne:* Felaktig avgift\n\n${CUSTOMER_TEXT}\n`,
      'VB: Felaktig avgift',
    ],
    [
      'Thunderbird, English (Subject and Date before From)',
      `\n\n-------- Forwarded Message --------\nSubject: \tFelaktig avgift\nDate: \tMon, 2 Nov 2026 09:15:00 +0100\nFrom: \tAnna Svensson <anna.svensson@example.com>\nTo: \tkundtjanst@testfinans.se\n\n\n\n${CUSTOMER_TEXT}\n`,
      'Fwd: Felaktig avgift',
    ],
    [
      'Apple Mail, Swedish',
      `\n\nVidarebefordrat brev:\n\nFrån: Anna Svensson <anna.svensson@example.com>\nÄmne: Felaktig avgift\nDatum: 2 november 2026 09:15:00 CET\nTill: kundtjanst@testfinans.se\n\n${CUSTOMER_TEXT}\n`,
      'Fwd: Felaktig avgift',
    ],
    [
      'quoted with > (mutt, some webmails)',
      `Forwarding.\n\n----- Forwarded message from Anna Svensson <anna.svensson@example.com> -----\n> From: Anna Svensson <anna.svensson@example.com>\n> Date: Mon, 02 Nov 2026 08:15:00 +0000\n> Subject: Felaktig avgift\n>\n> ${CUSTOMER_TEXT}\n`,
      'Fwd: Felaktig avgift',
    ],
  ];

  test.each(cases)('%s: customer, date, subject and text', (_name, text, subject) => {
    const o = findInlineForward(text, subject);
    expect(o).not.toBeNull();
    expect(o!.via).toBe('inline');
    expect(o!.from).toEqual({ address: 'anna.svensson@example.com', name: 'Anna Svensson' });
    expect(o!.date?.toISOString()).toBe(ORIGINAL_UTC);
    expect(o!.subject).toBe('Felaktig avgift');
    expect(o!.text).toBe(CUSTOMER_TEXT);
  });

  test('a header-like block without a forward marker or a forward subject is not a forward', () => {
    const text = `Hej!\n\nFrom: Anna <anna@example.com>\nDate: Mon, 2 Nov 2026 09:15\n\nDetta är mitt klagomål.`;
    expect(findInlineForward(text, 'Klagomål på avgift')).toBeNull();
  });

  test('a block without a date is not taken as a forward', () => {
    const text = `---------- Forwarded message ---------\nFrom: Anna <anna@example.com>\nSubject: x\n\nText`;
    expect(findInlineForward(text, 'Fwd: x')).toBeNull();
  });

  test('only the outermost forward counts: an older quote inside the customer text stays text', () => {
    const inner = `-----Original Message-----\nFrom: Testfinans <info@testfinans.se>\nSent: Friday, October 30, 2026 10:00 AM\nSubject: Avgift\n\nVi har dragit 60 kr.`;
    const text = `---------- Forwarded message ---------\nFrom: Anna <anna@example.com>\nDate: Mon, 2 Nov 2026 at 09:15\nSubject: Re: Avgift\n\nDet är fel!\n\n${inner}\n`;
    const o = findInlineForward(text, 'Fwd: Re: Avgift')!;
    expect(o.from?.address).toBe('anna@example.com');
    expect(o.text).toContain('Det är fel!');
    expect(o.text).toContain('Vi har dragit 60 kr.');
  });
});

describe('dates written in forwards', () => {
  test.each([
    ['Mon, 2 Nov 2026 09:15:00 +0100', ORIGINAL_UTC],
    ['Mon, 2 Nov 2026 at 09:15', ORIGINAL_UTC],
    ['mån 2 nov. 2026 kl 09:15', ORIGINAL_UTC],
    ['den 2 november 2026 09:15', ORIGINAL_UTC],
    ['Monday, November 2, 2026 9:15 AM', ORIGINAL_UTC],
    ['2 November 2026 at 09:15:00 CET', ORIGINAL_UTC],
    ['2026-11-02 09:15', ORIGINAL_UTC],
    // Summer time: 09:15 in Stockholm in June is 07:15 UTC.
    ['tisdag 2 juni 2026 09:15', '2026-06-02T07:15:00.000Z'],
    ['Tuesday, June 2, 2026 9:15 PM', '2026-06-02T19:15:00.000Z'],
    ['Tue, 2 Jun 2026 09:15:00 GMT', '2026-06-02T09:15:00.000Z'],
  ])('%s', (text, iso) => {
    expect(parseWrittenDate(text)?.toISOString()).toBe(iso);
  });

  test.each(['3/11/2026 10:15', 'yesterday', '31 november 2026 10:00', 'Mon, 2 Nov 10:15', ''])('%s: unreadable, never guessed', (text) => {
    expect(parseWrittenDate(text)).toBeNull();
  });
});

describe('forward subjects and addresses', () => {
  test.each(['Fwd: x', 'FW: x', 'VB: x', 'vb:x', 'VS: x', '[Extern] VB: x'])('%s is a forward', (s) => expect(hasForwardPrefix(s)).toBe(true));
  test.each(['Re: x', 'SV: x', 'Forward planning', 'Vb-nummer 12'])('%s is not', (s) => expect(hasForwardPrefix(s)).toBe(false));
  test('addresses in their several forms', () => {
    expect(parseForwardedAddress('"Svensson, Anna" <Anna.Svensson@Example.com>')).toEqual({ address: 'anna.svensson@example.com', name: 'Svensson, Anna' });
    expect(parseForwardedAddress('anna@example.com')).toEqual({ address: 'anna@example.com', name: '' });
    expect(parseForwardedAddress('Anna Svensson')).toBeNull();
  });
});

describe('parseMail finds the original', () => {
  const inner = [
    'From: Anna Svensson <anna.svensson@example.com>',
    'To: kundtjanst@testfinans.se',
    'Date: Mon, 02 Nov 2026 09:15:00 +0100',
    'Subject: =?utf-8?Q?Felaktig_avgift_f=C3=B6r_l=C3=A5n?=',
    'Message-ID: <orig-1@example.com>',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    CUSTOMER_TEXT,
    '',
  ].join('\r\n');

  function withAttached(disposition: string | null): Buffer {
    const body = [
      '--b1',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'Se bifogat mejl från kunden.',
      '--b1',
      'Content-Type: message/rfc822',
      ...(disposition ? [`Content-Disposition: ${disposition}`] : []),
      '',
      inner,
      '--b1--',
    ].join('\r\n');
    return forward(body, { subject: 'VB: Felaktig avgift för lån', contentType: 'multipart/mixed; boundary="b1"' });
  }

  test.each([['attachment'], [null]])('as an attached message (Content-Disposition %s)', async (disposition) => {
    const mail = await parseMail(withAttached(disposition), { dataDir });
    expect(mail.forwarded).toMatchObject({
      via: 'attachment',
      from: { address: 'anna.svensson@example.com', name: 'Anna Svensson' },
      subject: 'Felaktig avgift för lån',
      messageId: 'orig-1@example.com',
      text: CUSTOMER_TEXT,
    });
    expect(mail.forwarded!.date!.toISOString()).toBe(ORIGINAL_UTC);
  });

  test('as an inline message part (mailparser writes its headers into the text)', async () => {
    const mail = await parseMail(withAttached('inline'), { dataDir });
    expect(mail.forwarded?.from?.address).toBe('anna.svensson@example.com');
    expect(mail.forwarded?.date?.toISOString()).toBe(ORIGINAL_UTC);
    expect(mail.forwarded?.text).toBe(CUSTOMER_TEXT);
  });

  test('files inside the attached original are not written on their own (the original is kept whole)', async () => {
    const own = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-fwd-nested-'));
    try {
      const pdf = Buffer.from('%PDF-1.4 kontoutdrag för Anna').toString('base64');
      const nested = inner
        .replace('Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n', 'Content-Type: multipart/mixed; boundary="in"\r\n')
        .replace(
          `\r\n\r\n${CUSTOMER_TEXT}\r\n`,
          `\r\n\r\n--in\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${CUSTOMER_TEXT}\r\n--in\r\nContent-Type: application/pdf; name="kontoutdrag.pdf"\r\nContent-Disposition: attachment; filename="kontoutdrag.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n${pdf}\r\n--in--\r\n`,
        );
      expect(nested).toContain('kontoutdrag.pdf');
      const body = ['--b1', 'Content-Type: text/plain', '', 'Se bifogat.', '--b1', 'Content-Type: message/rfc822', '', nested, '--b1--'].join('\r\n');
      const mail = await parseMail(forward(body, { contentType: 'multipart/mixed; boundary="b1"' }), { dataDir: own });
      expect(mail.forwarded?.text).toBe(CUSTOMER_TEXT);
      // Exactly one file on disk: the attached original, which the mail's record points at.
      const files = fs
        .readdirSync(path.join(own, 'attachments'), { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile() && !e.parentPath.endsWith('tmp'));
      expect(mail.attachments.map((a) => a.contentType)).toEqual(['message/rfc822']);
      expect(files.map((f) => f.name)).toEqual([mail.attachments[0].sha256]);
    } finally {
      fs.rmSync(own, { recursive: true, force: true });
    }
  });

  test('a plain complaint has no forwarded original', async () => {
    const mail = await parseMail(Buffer.from(`From: a@example.com\r\nSubject: Avgift\r\n\r\n${CUSTOMER_TEXT}\r\n`), { dataDir });
    expect(mail.forwarded).toBeNull();
  });
});

describe('who may file a forward as the customer\u2019s complaint', () => {
  const text = `Se nedan.\n\nFrån: Anna Svensson <anna.svensson@example.com>\nSkickat: den 2 november 2026 09:15\nÄmne: Felaktig avgift\n\n${CUSTOMER_TEXT}`;

  async function classified(opts: Parameters<typeof forward>[1], facts: ThreadFacts = NO_FACTS): Promise<ReturnType<typeof classify>> {
    const mail: ParsedMail = await parseMail(forward(text, opts), { dataDir });
    return classify(mail, facts, STAFF);
  }

  test('authenticated staff: the customer of the original is the customer', async () => {
    const c = await classified({});
    expect(c.kind).toBe('complaint');
    if (c.kind !== 'complaint') return;
    expect(c.customer).toEqual({ address: 'anna.svensson@example.com', name: 'Anna Svensson', addressSource: 'forwarded', doNotAutoReply: null });
    expect(c.fromStaff).toBe(false);
    expect(c.forwarded?.by).toBe('erik@testfinans.se');
    expect(c.reason).toMatch(/forwarded by staff erik@testfinans\.se/);
  });

  test('a staff From without authentication: a suspected forgery, not a customer complaint with a made-up date', async () => {
    const c = await classified({ auth: false });
    expect(c.kind).toBe('complaint');
    if (c.kind !== 'complaint') return;
    expect(c.forwarded ?? null).toBeNull();
    expect(c.customer.address).toBe('erik@testfinans.se');
    expect(c.spoofSuspected).toMatch(/not authenticated/);
  });

  test('a customer forwarding their own earlier mail stays the customer', async () => {
    const c = await classified({ auth: false, from: 'Bo <bo@example.org>' });
    expect(c.kind).toBe('complaint');
    if (c.kind === 'complaint') expect(c.customer.address).toBe('bo@example.org');
  });

  test('the same customer mail forwarded again goes on its case', async () => {
    const c = await classified({}, { ...NO_FACTS, forwardedCase: { caseId: 7, number: 'KLG-2026-000007', customerAddress: 'anna.svensson@example.com' } });
    expect(c).toMatchObject({ kind: 'followup', caseId: 7, forwardedAgain: true });
  });

  test('a forward of mail from a colleague is not a customer complaint', async () => {
    const staffText = text.replace('anna.svensson@example.com', 'lisa@testfinans.se');
    const mail = await parseMail(forward(staffText), { dataDir });
    const c = classify(mail, NO_FACTS, STAFF);
    expect(c.kind).toBe('complaint');
    if (c.kind === 'complaint') {
      expect(c.forwarded ?? null).toBeNull();
      expect(c.fromStaff).toBe(true);
    }
  });
});
