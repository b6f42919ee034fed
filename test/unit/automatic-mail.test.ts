/**
 * Automatic mail that carries no RFC 3834 header (issue 17, item 4): ticket-system receipts and
 * challenge/response filters are machine mail, never complaints to acknowledge; genuine
 * complaints that use the same words ("ticket", "ärendet har registrerats", "bekräfta att du är
 * en riktig person") stay complaints and keep their acknowledgement. Every sample goes through
 * the real parser (src/parse/parse.ts) and the classifier. Then the caps that hold what no
 * rule recognises: per mailbox (subaddresses together), per domain, and in all per hour.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseMail, ParsedMail } from '../../src/parse/parse';
import { classify, StaffDirectory, ThreadFacts } from '../../src/classify/classify';
import { machineSignal } from '../../src/classify/signals';
import type { Config } from '../../src/config/config';
import { ConfigError, parseConfig } from '../../src/config/load';
import { AutoMailFacts, decideAcknowledgement } from '../../src/reply/acknowledgement';
import { mailboxKey, mailboxOf, sameMailbox } from '../../src/util/mailbox';

let dataDir: string;
beforeAll(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-automatic-'));
});
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

async function read(o: { from: string; subject: string; body: string; headers?: string[] }): Promise<ParsedMail> {
  const raw = [
    `From: ${o.from}`,
    'To: klagomal@testfinans.se',
    `Subject: ${o.subject}`,
    'Date: Thu, 19 Nov 2026 09:14:02 +0100',
    `Message-ID: <${Math.random().toString(36).slice(2)}@sender.example>`,
    ...(o.headers ?? []),
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    o.body,
    '',
  ].join('\r\n');
  return parseMail(Buffer.from(raw, 'utf8'), { dataDir });
}

// Receipts as the helpdesks people use send them (their default templates), and the Swedish and
// Norwegian wording of firms' own systems.
const RECEIPTS: Array<[string, { from: string; subject: string; body: string }]> = [
  [
    'osTicket',
    {
      from: 'Support <support+t4829@helpdesk.example>',
      subject: 'Support Ticket Opened [#482913]',
      body: "Dear Testfinans AB,\n\nA request for support has been created and assigned #482913. A representative will follow-up with you as soon as possible.\n\nYou can view this ticket's progress online here: https://helpdesk.example/view.php?t=482913.\n\nIf you wish to provide additional comments or information regarding the issue, please reply to this email.\n\nSupport Team",
    },
  ],
  [
    'Zendesk',
    {
      from: 'Acme Support <support@acme.zendesk.example>',
      subject: 'Request received: Vi har tagit emot ditt klagomål',
      body: '##- Please type your reply above this line -##\n\nYour request (4711) has been received and is being reviewed by our support staff.\n\nTo add additional comments, reply to this email.\n\nThis email is a service from Acme Support.',
    },
  ],
  [
    'Freshdesk',
    {
      from: 'Example Support <help@example-co.freshdesk.example>',
      subject: 'Ticket Received - Re: [KLG-2026-000001] Ditt klagomål',
      body: 'Dear Testfinans AB,\n\nWe would like to acknowledge that we have received your request and a ticket has been created.\nA support representative will be reviewing your request and will send you a personal response (usually within 24 hours).\n\nTo view the status of the ticket or add comments, please visit\nhttps://example-co.freshdesk.example/helpdesk/tickets/17\n\nThank you for your patience.\n\nSincerely,\nExample Support Team',
    },
  ],
  [
    'Zammad',
    {
      from: 'Helpdesk <helpdesk@zammad.example>',
      subject: 'Thanks for your inquiry (Ditt klagomål är registrerat)',
      body: 'Your request (Ticket#31001) has been received and will be reviewed by our support staff.\n\nTo provide additional information, please reply to this email or click on the following link:\nhttps://zammad.example/#ticket/zoom/17\n\nYour Zammad Helpdesk Team',
    },
  ],
  [
    'RT',
    {
      from: 'The Help Desk <rt@rt.example.org>',
      subject: '[rt.example.org #1234] Ditt klagomål',
      body: 'Greetings,\n\nThis message has been automatically generated in response to the creation of a trouble ticket regarding:\n\t"Ditt klagomål",\na summary of which appears below.\n\nThere is no need to reply to this message right now.  Your ticket has been assigned an ID of [rt.example.org #1234].',
    },
  ],
  [
    "the issue's per-ticket helpdesk",
    {
      from: 'Support <support+t17@helpdesk.example>',
      subject: 'Ticket #17 opened',
      body: 'We received your request and will get back to you shortly.\n\n-- \nHelpdesk',
    },
  ],
  [
    'a CRM case (Salesforce style)',
    {
      from: 'Customer Care <care@crm.example>',
      subject: 'Re: [KLG-2026-000003] Vi har tagit emot ditt klagomål',
      body: 'Hello,\n\nThank you for contacting Customer Care. Your case 00123456 has been created and one of our agents will respond within 2 business days.\n\nKind regards,\nCustomer Care',
    },
  ],
  [
    'ServiceNow',
    {
      from: 'IT Service Desk <servicedesk@corp.example>',
      subject: 'Incident INC0012345 -- opened on your behalf',
      body: 'Your incident INC0012345 has been opened on your behalf. A ticket has been created and will be assigned to an analyst.\n\nYou can view all the details of the incident by following the link below.',
    },
  ],
  [
    'Swedish, with a case number',
    {
      from: 'Kundservice <kundservice+20417@handlare.example>',
      subject: 'Ärende #20417 har registrerats',
      body: 'Hej!\n\nTack för ditt mejl. Vi har tagit emot ditt ärende och återkommer så snart vi kan, normalt inom två arbetsdagar.\n\nDitt ärendenummer är 20417. Ange det om du kontaktar oss igen.\n\nMed vänlig hälsning\nKundservice',
    },
  ],
  [
    'Swedish, "Ärendet har registrerats"',
    {
      from: 'Kundtjänst <noreply-arende@forsakring.example>',
      subject: 'Ärendet har registrerats',
      body: 'Hej,\n\nÄrendet har registrerats med ärendenummer 2026-88123 och kommer att hanteras av vår kundtjänst.\n\nVänliga hälsningar\nKundtjänst',
    },
  ],
  [
    'Swedish, "ditt meddelande har tagits emot" with a reference',
    {
      from: 'Myndigheten <registrator@myndighet.example>',
      subject: 'Re: Ditt klagomål',
      body: 'Hej, ditt meddelande har tagits emot och fått diarienummer. Referensnummer: 4-2026-11873.\n\nDetta meddelande går inte att svara på.',
    },
  ],
  [
    'Norwegian',
    {
      from: 'Kundeservice <post@butikk.example>',
      subject: 'Vi har mottatt din henvendelse',
      body: 'Hei!\n\nVi har mottatt din henvendelse og vil svare deg så snart som mulig. Saksnummer: 88231.\n\nMed vennlig hilsen\nKundeservice',
    },
  ],
];

describe('ticketReceiptIsAutomaticMail', () => {
  test.each(RECEIPTS)('%s', async (_name, sample) => {
    const m = await read(sample);
    const signal = machineSignal(m);
    expect(signal).toMatchObject({ kind: 'autoreply', strength: 'strong' });
    expect(signal!.reason).toMatch(/ticket system's receipt|automatic/);
    expect(classify(m, NO_FACTS, STAFF).kind).toBe('autoreply');
  });

  test('a receipt sentence alone, without a number or a receipt subject, is held for a person (filed, not acknowledged)', async () => {
    const m = await read({
      from: 'Kundtjänst <info@smaforetag.example>',
      subject: 'Re: Ditt klagomål',
      body: 'Hej,\n\nVi har tagit emot ditt meddelande och återkommer så snart vi kan.\n\nHälsningar\nKundtjänsten',
    });
    const c = classify(m, NO_FACTS, STAFF);
    expect(c.kind).toBe('complaint');
    expect(c.kind === 'complaint' && c.customer.doNotAutoReply).toMatch(/receipt/);
  });
});

// Challenges in the vendors' own wording (their default English, French and Swedish texts).
const CHALLENGES: Array<[string, { from: string; subject: string; body: string }]> = [
  [
    'Bluebottle',
    {
      from: 'Anna Kund <anna@kund.example>',
      subject: 'Please confirm your email address',
      body: "Hi,\n\nYou've sent a message to anna@kund.example, who is protected by Bluebottle.\n\nTo help stop spam, Bluebottle needs you to confirm your email address by clicking the link below. Once confirmed, your message will be delivered and future messages will be delivered automatically.\n\nhttps://app.bluebottle.example/confirm/8f2a\n\nThanks,\nBluebottle",
    },
  ],
  [
    'Mailinblack (English)',
    {
      from: 'Per Kund <per@foretag.example>',
      subject: '[Mailinblack] Authentication request',
      body: 'Hello,\n\nI am protected by Mailinblack. To ensure that your message is delivered to me, please click on the link below to authenticate yourself. This operation is done only once.\n\nhttps://mailinblack.example/auth?id=Z91\n\nThank you.',
    },
  ],
  [
    'Mailinblack (French)',
    {
      from: 'Paul Client <paul@societe.example>',
      subject: 'Message en attente : veuillez vous authentifier',
      body: "Bonjour,\n\nJe suis protégé par Mailinblack. Afin que votre message me soit délivré, merci de cliquer sur le lien ci-dessous pour vous authentifier. Cette opération n'est à faire qu'une seule fois.\n\nhttps://mailinblack.example/auth?id=Q2",
    },
  ],
  [
    'SpamArrest',
    {
      from: 'Lisa Kund <lisa@kund.example>',
      subject: 'Re: [KLG-2026-000004] Vi har tagit emot ditt klagomål (verification)',
      body: "Hello,\n\nI'm protecting myself from receiving junk mail. Please click the link below to complete the verification process. You have to do this only once. Please confirm you are a real sender, and your message will be delivered.\n\nhttp://www.spamarrest.example/a2/verify?id=17\n\nThank you!\nSpam Arrest Sender Verification",
    },
  ],
  [
    'Boxbe',
    {
      from: 'Boxbe <notify@boxbe.example>',
      subject: 'Re: Vi har tagit emot ditt klagomål [Boxbe Waitlist]',
      body: 'Hello klagomal@testfinans.se,\n\nYour message about "Vi har tagit emot ditt klagomål" was waitlisted.\n\nPlease add yourself to my Guest List so your messages will be delivered to my Inbox. Use the link below.\n\nClick here to be added to my Guest List\nhttps://www.boxbe.example/anno?tc=1',
    },
  ],
  [
    'an unnamed filter, in Swedish',
    {
      from: 'Olof Kund <olof@kund.example>',
      subject: 'Verifiering krävs',
      body: 'Hej!\n\nJag skyddar mig mot skräppost. Bekräfta att du är en riktig avsändare genom att klicka på länken nedan, så levereras ditt meddelande till min inkorg: ditt meddelande väntar tills dess.\n\nhttps://verify.example/s/71',
    },
  ],
];

describe('challengeResponseIsAutomaticMail', () => {
  test.each(CHALLENGES)('%s', async (_name, sample) => {
    const m = await read(sample);
    expect(machineSignal(m)).toMatchObject({ kind: 'autoreply', strength: 'strong', reason: expect.stringMatching(/challenge\/response/) });
    expect(classify(m, NO_FACTS, STAFF).kind).toBe('autoreply');
  });
});

// Real-looking complaints that quote the words the rules above look for: each stays a complaint
// and is acknowledged (a false positive costs the customer their acknowledgement).
const COMPLAINTS: Array<[string, { from: string; subject: string; body: string }]> = [
  [
    'a complaint about an open ticket',
    {
      from: 'Karin Kund <karin@example.com>',
      subject: 'Ticket #4471 fortfarande olöst',
      body: "Hej,\n\njag öppnade ticket #4471 hos er kundtjänst för tre veckor sedan om en felaktig avgift på 250 kr. Ni svarade 'Vi har tagit emot ditt ärende' men sedan har ingenting hänt. Jag vill ha pengarna tillbaka.\n\nKarin",
    },
  ],
  [
    'a receipt quoted on its own line',
    {
      from: 'Sven Kund <sven@example.com>',
      subject: 'Inget svar på mitt ärende',
      body: 'Hej,\nJag ringde er förra veckan och fick beskedet:\nÄrendet har registrerats.\nMen sedan har inget hänt och min faktura är fortfarande fel.\nSven',
    },
  ],
  [
    'an English complaint whose subject is the receipt',
    {
      from: 'John Customer <john@example.org>',
      subject: 'Your request has been received - and then nothing',
      body: 'Hello,\n\nOn 3 November I complained about a late fee. Your system replied "Your request (#5521) has been received" but nobody has contacted me since. I want the fee refunded.\n\nRegards,\nJohn',
    },
  ],
  [
    'a login that asks to "bekräfta att jag är en riktig person"',
    {
      from: 'Maria Kund <maria@example.com>',
      subject: 'Kan inte bekräfta min e-post',
      body: 'Hej! När jag försöker logga in ber ni mig bekräfta att jag är en riktig person genom att klicka på länken https://login.testfinans.se/verify men länken fungerar inte. Mitt lån ska betalas imorgon och jag kommer inte åt fakturan.',
    },
  ],
  [
    'a fraud complaint quoting a fake verification mail',
    {
      from: 'Erik Kund <erik@example.com>',
      subject: 'Bedrägeri - pengar försvunna',
      body: "Hej,\n\njag fick ett mejl som såg ut att komma från er: 'Bekräfta att du är en riktig avsändare genom att klicka här https://evil.example/x så att ditt meddelande levereras'. Jag klickade och nu har 5 000 kr försvunnit från mitt konto. Jag kräver att ni ersätter mig.\n\nErik",
    },
  ],
  [
    'a business customer writing "vi har mottagit ert meddelande"',
    {
      from: 'Ekonomi <ekonomi@bolaget.example>',
      subject: 'Klagomål på räntehöjning, ärende 12345',
      body: 'Hej,\n\nVi har mottagit ert meddelande i ärende 12345 om räntehöjningen och vill klaga på den. Höjningen är orimlig och i strid med avtalet.\n\nMed vänliga hälsningar\nBolaget AB',
    },
  ],
  [
    'a complaint that thanks for a confirmation',
    {
      from: 'Ali Kund <ali@example.com>',
      subject: 'Tack för bekräftelsen, men avgiften är fel',
      body: 'Hej,\n\ntack för er bekräftelse. Men avgiften på 95 kr som drogs den 2 november är fel, jag har redan betalat fakturan. Jag vill ha tillbaka pengarna.\n\nAli',
    },
  ],
];

describe("an officer's answer that opens like a receipt is the officer's answer", () => {
  test('officerReplyIsNotATicketReceipt', async () => {
    const m = await read({
      from: 'Olle Handläggare <olle@testfinans.se>',
      subject: 'Re: [KLG-2026-000042] Felaktig avgift',
      body: 'Hej Karin,\n\nVi har tagit emot ditt klagomål och registrerat det med ärendenummer KLG-2026-000042. Jag återkommer med vårt svar senast fredag.\n\nOlle',
    });
    const trusted: StaffDirectory = { ...STAFF, trustStaffFrom: true };
    const onCase: ThreadFacts = { ...NO_FACTS, referencedCase: { caseId: 42, number: 'KLG-2026-000042', customerAddress: 'karin@example.com' } };
    expect(classify(m, onCase, trusted)).toMatchObject({ kind: 'officer', caseId: 42 });
    // The same words from outside the firm, on the thread of one of our mails, are a receipt.
    const fromOutside = await read({
      from: 'Support <support+t9@helpdesk.example>',
      subject: 'Re: [KLG-2026-000042] Felaktig avgift',
      body: 'Hej,\n\nVi har tagit emot ditt ärende. Ditt ärendenummer är 55123.',
    });
    expect(classify(fromOutside, onCase, trusted)).toMatchObject({ kind: 'autoreply', caseId: 42 });
  });
});

describe('our own address as the sender, however written, is a loop', () => {
  test.each(['klagomal@testfinans.se.', 'Klagomal+retur@Testfinans.se', '"klagomal"@testfinans.se'])(
    'ownAddressSpelledDifferentlyIsALoop: %s',
    async (from) => {
      const m = await read({
        from: `Testfinans <${from}>`,
        subject: '[KLG-2026-000042] Vi har tagit emot ditt klagomål',
        body: 'Hej, vi har tagit emot ditt klagomål.',
      });
      expect(classify(m, NO_FACTS, STAFF)).toMatchObject({ kind: 'autoreply', reason: expect.stringMatching(/our own complaints address \(loop guard\)/) });
    },
  );
});

describe('genuine complaints with ticket and confirmation words stay complaints', () => {
  test.each(COMPLAINTS)('%s', async (_name, sample) => {
    const m = await read(sample);
    expect(machineSignal(m)).toBeNull();
    const c = classify(m, NO_FACTS, STAFF);
    expect(c).toMatchObject({ kind: 'complaint', customer: { doNotAutoReply: null } });
  });
});

// ---------------------------------------------------------------------------------------------
// The caps (src/reply/acknowledgement.ts) and their configuration
// ---------------------------------------------------------------------------------------------

function config(extra: Record<string, unknown> = {}): Config {
  return parseConfig(
    {
      firm: { name: 'Testfinans AB', complaintsAddress: 'klagomal@testfinans.se', staffDomains: ['testfinans.se'], staffAddresses: ['jurist@advokat.example'] },
      sources: [{ type: 'maildir', path: 'maildir' }],
      deadlines: { escalation: { enabled: false } },
      ...extra,
    },
    path.join(os.tmpdir(), 'klagomal-caps-test', 'config.json'),
  );
}

const customer = (address: string) => ({ address, name: null, addressSource: 'from' as const, doNotAutoReply: null });

function facts(o: Partial<AutoMailFacts> = {}): AutoMailFacts {
  return { toAddressLast24h: 0, domain: 'helpdesk.example', toDomainLast24h: 0, acknowledgementsLastHour: 0, forCaseLast24h: 0, failingUntil: null, ...o };
}

describe('one mailbox however it is written', () => {
  test.each([
    ['support+t17@helpdesk.example', 'support@helpdesk.example'],
    ['Support+T18@Helpdesk.Example', 'support@helpdesk.example'],
    ['klagomal@testfinans.se.', 'klagomal@testfinans.se'],
    ['klagomal@testfinans.se..', 'klagomal@testfinans.se'],
    ['"klagomal"@testfinans.se', 'klagomal@testfinans.se'],
    ['"klagomal+x"@testfinans.se', 'klagomal@testfinans.se'],
    ['+alone@example.com', '+alone@example.com'],
  ])('%s is %s', (address, key) => {
    expect(mailboxKey(address)).toBe(key);
  });

  test('a quoted local part with a space or an @ is left as it is, not merged with another mailbox', () => {
    expect(mailboxOf('"a b"@example.com')?.local).toBe('"a b"');
    expect(sameMailbox('"x@y"@example.com', 'x@example.com')).toBe(false);
  });
});

describe('the caps on acknowledgements', () => {
  const cfg = config();

  test('our own address and staff, however written, are never acknowledged', () => {
    for (const a of ['klagomal@testfinans.se.', 'klagomal+x@testfinans.se', '"klagomal"@testfinans.se']) {
      expect(decideAcknowledgement(customer(a), facts(), cfg)).toEqual({ send: false, reason: expect.stringMatching(/our own complaints address/) });
    }
    for (const a of ['olle@testfinans.se.', 'olle+kund@testfinans.se', 'jurist@advokat.example', 'jurist+x@advokat.example.']) {
      expect(decideAcknowledgement(customer(a), facts(), cfg)).toEqual({ send: false, reason: expect.stringMatching(/staff address/) });
    }
  });

  test('the per-domain cap holds a domain, not the webmail domains many customers share', () => {
    expect(decideAcknowledgement(customer('t27@helpdesk.example'), facts({ toDomainLast24h: 9 }), cfg).send).toBe(true);
    expect(decideAcknowledgement(customer('t28@helpdesk.example'), facts({ toDomainLast24h: 10 }), cfg)).toEqual({
      send: false,
      reason: 'addresses at helpdesk.example already got 10 acknowledgements in 24 hours (loop.maxPerDomainPer24h = 10)',
    });
    expect(decideAcknowledgement(customer('anna@gmail.com'), facts({ domain: 'gmail.com', toDomainLast24h: 500 }), cfg).send).toBe(true);
    const own = config({ loop: { maxPerDomainPer24h: 2, publicMailDomains: ['Bolaget.SE'] } });
    expect(decideAcknowledgement(customer('a@bolaget.se'), facts({ domain: 'bolaget.se', toDomainLast24h: 50 }), own).send).toBe(true);
    expect(decideAcknowledgement(customer('a@gmail.com'), facts({ domain: 'gmail.com', toDomainLast24h: 2 }), own).send).toBe(false); // the list replaces the built-in one
  });

  test('the hourly total holds everyone', () => {
    expect(decideAcknowledgement(customer('anna@gmail.com'), facts({ domain: 'gmail.com', acknowledgementsLastHour: 9_999 }), cfg).send).toBe(true);
    expect(decideAcknowledgement(customer('anna@gmail.com'), facts({ domain: 'gmail.com', acknowledgementsLastHour: 10_000 }), cfg)).toEqual({
      send: false,
      reason: '10000 acknowledgements were queued in the last hour (loop.maxAutomaticPerHour = 10000)',
    });
  });

  test('every new key is checked, naming the file and the key', () => {
    let err: unknown;
    try {
      config({ loop: { maxPerDomainPer24h: 0, maxAutomaticPerHour: 'many', publicMailDomains: ['gmail.com', '@hotmail.com'], maxPerDomain: 3 } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const text = (err as ConfigError).message;
    expect(text).toContain('klagomal-caps-test/config.json');
    expect(text).toContain('loop.maxPerDomainPer24h: expected a whole number from 1 to 100000, got 0');
    expect(text).toContain('loop.maxAutomaticPerHour: expected a whole number from 1 to 1000000, got "many"');
    expect(text).toContain('loop.publicMailDomains[1]: expected a domain name like "gmail.com", got "@hotmail.com"');
    expect(text).toMatch(/loop\.maxPerDomain: unknown key; known keys here: .*maxPerDomainPer24h/);
  });
});
