/**
 * Issue 17 item 2: forged officer mail through the Authentication-Results reader. Each header
 * set below goes through the real parser (mailparser, folding and all) and the staff check.
 * The forged ones were written the way an attacker (or a receiving server that copies sender
 * text into its header) would; the genuine ones are the formats real servers write (Gmail,
 * OpenDKIM, OpenDMARC, rspamd, policyd-spf, Fastmail/Cyrus, RFC 8601 appendix B).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseMail } from '../../src/parse/parse';
import { domainOfValue, parseAuthenticationResults, staffAuthentication } from '../../src/classify/authentication';

const AUTHSERV = 'mx1.exempelfinans.se';
const OLLE = 'olle@exempelfinans.se';
let dataDir: string;
beforeAll(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-authres-'));
});
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

/** A raw mail with these header lines above From, parsed by the real parser. */
async function verdict(arHeaders: string[], opts: { from?: string[]; ids?: string[] } = {}) {
  const raw = [
    ...arHeaders.map((h) => `Authentication-Results: ${h}`),
    'Received: from mail.exempelfinans.se by mx1.exempelfinans.se; Thu, 19 Nov 2026 09:14:05 +0100',
    ...(opts.from ?? [`From: Olle Officer <${OLLE}>`]).map((f) => (f.startsWith('From:') ? f : `From: ${f}`)),
    'To: klagomal@exempelfinans.se',
    'Subject: [KLG-2026-000042] Svar',
    'Date: Thu, 19 Nov 2026 09:14:02 +0100',
    'Message-ID: <officer-1@exempelfinans.se>',
    '',
    '#outcome upheld',
    '#compensation 99999',
    '',
  ].join('\r\n');
  const mail = await parseMail(Buffer.from(raw), { dataDir });
  return staffAuthentication(mail.headers, mail.from!.address, opts.ids ?? [AUTHSERV]);
}

// The attack pass's two samples, then variants of each trick.
const FORGED: Array<[string, string[], { from?: string[]; ids?: string[] }?]> = [
  [
    'quoted local part carries our domain into smtp.mailfrom (issue sample)',
    [`${AUTHSERV}; spf=pass smtp.mailfrom="olle@exempelfinans.se"@evil.example; dkim=none; dmarc=fail header.from=exempelfinans.se`],
  ],
  ['the same without the dmarc result', [`${AUTHSERV}; spf=pass smtp.mailfrom="olle@exempelfinans.se"@evil.example; dkim=none`]],
  ['quoted header.i at our domain, header.d evil (issue sample)', [`${AUTHSERV}; dkim=pass header.d=evil.example header.i="@exempelfinans.se"@evil.example`]],
  ['quoted header.i alone', [`${AUTHSERV}; dkim=pass header.i="@exempelfinans.se"@evil.example`]],
  [
    'unquoted header.i at our domain beside header.d of another (found by a review)',
    [`${AUTHSERV}; dkim=pass header.d=evil.example header.i=@exempelfinans.se; spf=fail smtp.mailfrom=evil.example; dmarc=none`],
  ],
  ['header.i with a local part at our domain beside header.d of another', [`${AUTHSERV}; dkim=pass header.d=evil.example header.i="olle"@exempelfinans.se`]],
  ['quoted header.d with an address after it', [`${AUTHSERV}; dkim=pass header.d="exempelfinans.se"@evil.example`]],
  ['two unquoted "@": the last one is the domain', [`${AUTHSERV}; spf=pass smtp.mailfrom=olle@exempelfinans.se@evil.example`]],
  ['angle brackets around our address, then another domain', [`${AUTHSERV}; spf=pass smtp.mailfrom=<olle@exempelfinans.se>@evil.example`]],
  ['escaped quote inside the quoted local part', [`${AUTHSERV}; spf=pass smtp.mailfrom="olle\\"@exempelfinans.se"@evil.example`]],
  ['duplicate header.d: a later one must not override (issue)', [`${AUTHSERV}; dkim=pass header.d=evil.example header.d=exempelfinans.se`]],
  ['duplicate header.d in the other order', [`${AUTHSERV}; dkim=pass header.d=exempelfinans.se header.d=evil.example`]],
  ['duplicate smtp.mailfrom', [`${AUTHSERV}; spf=pass smtp.mailfrom=x@evil.example smtp.mailfrom=olle@exempelfinans.se`]],
  ['duplicate header.from in dmarc', [`${AUTHSERV}; dmarc=pass header.from=evil.example header.from=exempelfinans.se`]],
  ['duplicate property with different case', [`${AUTHSERV}; dkim=pass header.d=evil.example HEADER.D=exempelfinans.se`]],
  ['a ")" that closes nothing re-opens structure', [`${AUTHSERV}; spf=fail (domain of x@evil.example) ); dkim=pass header.d=exempelfinans.se`]],
  [
    'a quoted ")" inside a comment ends the comment early',
    [`${AUTHSERV}; spf=fail (helo "evil)" ; dkim=pass header.d=exempelfinans.se) smtp.mailfrom=evil.example`],
  ],
  ['an escaped ")" keeps the comment open to the end', [`${AUTHSERV}; spf=fail (x \\) ; dkim=pass header.d=exempelfinans.se (y) smtp.mailfrom=evil.example`]],
  ['an unterminated comment', [`${AUTHSERV}; dkim=pass header.d=exempelfinans.se (good signature`]],
  ['an unterminated quoted string', [`${AUTHSERV}; dkim=pass reason="ok header.d=exempelfinans.se`]],
  ['a comment splits the address: "@" after it', [`${AUTHSERV}; spf=pass smtp.mailfrom=olle(@evil.example)@exempelfinans.se`]],
  ['a comment hides the real domain', [`${AUTHSERV}; spf=pass smtp.mailfrom=olle@exempelfinans.se(x)@evil.example`]],
  ['our domain only inside a comment', [`${AUTHSERV}; dkim=pass header.d=evil.example (header.d=exempelfinans.se)`]],
  ['our domain only inside a quoted reason', [`${AUTHSERV}; dkim=pass reason="header.d=exempelfinans.se" header.d=evil.example`]],
  ['";" inside a comment does not start a result', [`${AUTHSERV}; spf=fail (x; dkim=pass header.d=exempelfinans.se) smtp.mailfrom=evil.example`]],
  [
    'sender text copied unescaped into a comment (HELO), dmarc=fail vetoes',
    [`${AUTHSERV}; spf=fail (helo=evil) ; dkim=pass header.d=exempelfinans.se (x) smtp.mailfrom=evil.example; dmarc=fail header.from=exempelfinans.se`],
  ],
  [
    'spf passes, dmarc fails: the fail vetoes',
    [`${AUTHSERV}; spf=pass smtp.mailfrom=olle@exempelfinans.se; dmarc=fail (p=reject) header.from=exempelfinans.se`],
  ],
  ['dkim passes, dmarc fails in upper case', [`${AUTHSERV}; DKIM=PASS header.d=exempelfinans.se; DMARC=FAIL header.from=exempelfinans.se`]],
  ['a failing dkim signature of our domain vetoes a passing one', [`${AUTHSERV}; dkim=fail header.d=exempelfinans.se; dkim=pass header.i=@exempelfinans.se`]],
  ['look-alike authserv-id with a suffix', [`${AUTHSERV}.evil.example; dkim=pass header.d=exempelfinans.se`]],
  ['look-alike authserv-id with a prefix', [`x${AUTHSERV}; dkim=pass header.d=exempelfinans.se`]],
  ['look-alike authserv-id with a hyphen', ['mx1-exempelfinans.se; dkim=pass header.d=exempelfinans.se']],
  ['look-alike authserv-id in Cyrillic', ['m\u04451.exempelfinans.se; dkim=pass header.d=exempelfinans.se']],
  ['quoted authserv-id with a ";" inside', [`"${AUTHSERV};"; dkim=pass header.d=exempelfinans.se`]],
  ['authserv-id with a trailing dot', [`${AUTHSERV}.; dkim=pass header.d=exempelfinans.se`]],
  ['look-alike domain in Cyrillic', [`${AUTHSERV}; dkim=pass header.d=exempelfinans.s\u0435`]],
  ['look-alike sub-domain', [`${AUTHSERV}; dmarc=pass header.from=exempelfinans.se.evil.example`]],
  ['a control character inside the domain', [`${AUTHSERV}; dkim=pass header.d=exempelfinans.se\u0001`]],
  ['a control character before the last @ (found by a review)', [`${AUTHSERV}; spf=pass smtp.mailfrom=x@evil.example\u0001@exempelfinans.se`]],
  ['results after "none"', [`${AUTHSERV}; none; dkim=pass header.d=exempelfinans.se`]],
  ['an empty result between two ";"', [`${AUTHSERV}; spf=fail smtp.mailfrom=evil.example;; dkim=pass header.d=exempelfinans.se`]],
  [
    'a folded forgery over several lines',
    [`${AUTHSERV};\r\n\tdkim=pass header.d=evil.example\r\n\theader.i="@exempelfinans.se"@evil.example;\r\n\tdmarc=none`],
  ],
  [
    'the real header (fail) on top, a forged pass below',
    [
      `${AUTHSERV}; dkim=none; spf=softfail smtp.mailfrom=olle@exempelfinans.se; dmarc=fail header.from=exempelfinans.se`,
      `${AUTHSERV}; dkim=pass header.d=exempelfinans.se`,
    ],
  ],
  [
    'an unreadable header of ours on top is not skipped for a readable one below',
    [`${AUTHSERV}; dkim=pass header.d=evil.example header.d=evil.example`, `${AUTHSERV}; dkim=pass header.d=exempelfinans.se`],
  ],
  [
    'a pass from another server above ours, ours fails',
    ['mx.google.com; dkim=pass header.d=exempelfinans.se', `${AUTHSERV}; dkim=fail header.d=exempelfinans.se`],
  ],
  [
    'two From fields, the header passes for the first',
    [`${AUTHSERV}; dkim=pass header.d=exempelfinans.se`],
    { from: [`From: ${OLLE}`, 'From: mallory@evil.example'] },
  ],
  ['one From naming two addresses', [`${AUTHSERV}; dkim=pass header.d=exempelfinans.se`], { from: [`From: ${OLLE}, mallory@evil.example`] }],
];

describe('forged Authentication-Results are never believed', () => {
  test('the corpus has at least 30 forged variants', () => {
    expect(FORGED.length).toBeGreaterThanOrEqual(30);
  });
  // Every row gets all three arguments: jest takes a missing last one for the `done` callback.
  test.each(FORGED.map(([what, headers, opts]) => [what, headers, opts ?? {}] as const))(
    'forgedAuthenticationResultsNotBelieved: %s',
    async (_what, headers, opts) => {
      const v = await verdict([...headers], opts);
      expect(v.authenticated).toBe(false);
      expect(v.reason).not.toBe('');
    },
  );
});

const GENUINE: Array<[string, string[], string[]?]> = [
  [
    'Gmail (mx.google.com), folded, comments, header.b',
    [
      'mx.google.com;\r\n       dkim=pass header.i=@exempelfinans.se header.s=google header.b=Xx2J+9aB;\r\n       spf=pass (google.com: domain of olle@exempelfinans.se designates 209.85.220.41 as permitted sender) smtp.mailfrom=olle@exempelfinans.se;\r\n       dmarc=pass (p=QUARANTINE sp=QUARANTINE dis=NONE) header.from=exempelfinans.se',
    ],
    ['mx.google.com'],
  ],
  [
    'OpenDKIM with a quoted header.b',
    [
      `${AUTHSERV};\r\n\tdkim=pass (2048-bit key; unprotected) header.d=exempelfinans.se header.i=@exempelfinans.se header.a=rsa-sha256 header.s=mail header.b="k3Fo+5vJ";\r\n\tdkim-atps=neutral`,
    ],
  ],
  ['OpenDMARC', [`${AUTHSERV}; dmarc=pass (p=reject dis=none) header.from=exempelfinans.se`]],
  [
    'rspamd, a quoted address inside a comment',
    [
      `${AUTHSERV};\r\n\tdkim=pass header.d=exempelfinans.se header.s=dkim header.b=abcdEFGH;\r\n\tdmarc=pass (policy=reject) header.from=exempelfinans.se;\r\n\tspf=pass (${AUTHSERV}: domain of "olle@exempelfinans.se" designates 192.0.2.10 as permitted sender) smtp.mailfrom=olle@exempelfinans.se`,
    ],
  ],
  [
    'policyd-spf, ";" and "=" inside a comment',
    [
      `${AUTHSERV}; spf=pass (sender SPF authorized) smtp.mailfrom=exempelfinans.se (client-ip=192.0.2.10; helo=mail.exempelfinans.se; envelope-from=olle@exempelfinans.se; receiver=<UNKNOWN>)`,
    ],
  ],
  [
    'Fastmail/Cyrus, policy properties and x- methods',
    [
      `${AUTHSERV};\r\n    dkim=pass (2048-bit rsa key sha256) header.d=exempelfinans.se header.i=@exempelfinans.se header.b=Ab12Cd34 header.a=rsa-sha256 header.s=fm1 x-bits=2048;\r\n    dmarc=pass policy.published-domain-policy=reject policy.applied-disposition=none (p=reject,d=none,d.eval=none) policy.policy-from=p header.from=exempelfinans.se;\r\n    iprev=pass smtp.remote-ip=192.0.2.10 (mail.exempelfinans.se);\r\n    spf=pass smtp.mailfrom=olle@exempelfinans.se smtp.helo=mail.exempelfinans.se;\r\n    x-aligned-from=pass (Address match);\r\n    x-me-sender=none`,
    ],
  ],
  ['a version number, a trailing ";"', [`${AUTHSERV} 1; dkim=pass header.d=exempelfinans.se;`]],
  ['a quoted authserv-id and comments before it', [`(Postfix) "${AUTHSERV}" (v1); dmarc=pass header.from=exempelfinans.se`]],
  ['mixed case everywhere', [`MX1.ExempelFinans.SE; DKIM/1=Pass Header.D=ExempelFinans.SE`]],
  ['a pass for an address with a quoted local part at our domain', [`${AUTHSERV}; spf=pass smtp.mailfrom="olle officer"@exempelfinans.se`]],
  ["a relay's header above ours", ['relay.example.net; dkim=fail header.d=exempelfinans.se', `${AUTHSERV}; dkim=pass header.d=exempelfinans.se`]],
];

describe('genuine Authentication-Results still pass', () => {
  test.each(GENUINE.map(([what, headers, ids]) => [what, headers, ids ?? [AUTHSERV]] as const))(
    'genuineAuthenticationResultsPass: %s',
    async (_what, headers, ids) => {
      const v = await verdict([...headers], { ids: [...ids] });
      expect(v.reason).toMatch(/pass for exempelfinans\.se/);
      expect(v.authenticated).toBe(true);
    },
  );
});

describe('the grammar (RFC 8601 §2.2 with RFC 5322 CFWS)', () => {
  test('RFC 8601 B.7: CFWS everywhere is read as the standard says', () => {
    const r = parseAuthenticationResults(
      "foo.example.net (foobar) 1 (baz); dkim (Because I like it) / 1 (One yay) = (wait for it) fail policy (A dot can go here) . (like that) expired (this surprised me) = (as I wasn't expecting it) 1362471462",
    );
    expect(r).toEqual({ authservId: 'foo.example.net', results: [{ method: 'dkim', result: 'fail', props: { 'policy.expired': '1362471462' } }] });
  });
  test('a property given twice is a parse failure, not an override', () => {
    expect(parseAuthenticationResults('mx; dkim=pass header.d=a.example header.d=b.example')).toBeNull();
  });
  test.each([
    ['olle@exempelfinans.se', 'exempelfinans.se'],
    ['"olle@exempelfinans.se"@evil.example', 'evil.example'],
    ['"@exempelfinans.se"@evil.example', 'evil.example'],
    ['<Olle@ExempelFinans.SE>', 'exempelfinans.se'],
    ['@exempelfinans.se', 'exempelfinans.se'],
    ['exempelfinans.se', 'exempelfinans.se'],
    ['"unbalanced@exempelfinans.se', ''],
    // U+212A KELVIN SIGN lower-cases to "k": checked as written, it is no domain.
    ['olle@testban\u212A.se', ''],
  ])('domainOfValue(%s) = %s: the domain follows the last unquoted "@"', (v, d) => {
    expect(domainOfValue(v)).toBe(d);
  });
});

// ---------------------------------------------------------------------------------------------
// Officers on Microsoft 365 and Google Workspace (issue 12): the platform's own stamps.
// ---------------------------------------------------------------------------------------------

const TENANT = '3f1c2a9e-5b7d-4c1e-9a2b-8d6e4f0a1b2c';
const OTHER_TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';

/** Exchange Online's stamps on mail between two mailboxes of one tenant (the layout of real ones). */
const exchangeInternal = (tenant = TENANT): string[] => [
  'X-MS-Exchange-Organization-AuthAs: Internal',
  'X-MS-Exchange-Organization-AuthMechanism: 04',
  'X-MS-Exchange-Organization-AuthSource: AM9PR03MB7012.eurprd03.prod.outlook.com',
  'X-MS-Exchange-Organization-Network-Message-Id: 5e1c0d2a-8f3b-4c6d-9e0f-08dd7b508c0b',
  'X-MS-Exchange-Organization-SCL: -1',
  'X-MS-Exchange-Organization-MessageDirectionality: Originating',
  'X-MS-PublicTrafficType: Email',
  `X-MS-Exchange-CrossTenant-Id: ${tenant}`,
  'X-MS-Exchange-CrossTenant-AuthAs: Internal',
  'X-MS-Exchange-CrossTenant-AuthSource: AM9PR03MB7012.eurprd03.prod.outlook.com',
  'X-MS-Exchange-CrossTenant-FromEntityHeader: Hosted',
  'X-MS-Exchange-CrossTenant-OriginalArrivalTime: 20 Nov 2026 09:00:01.1234 (UTC)',
  'X-MS-Exchange-Transport-CrossTenantHeadersStamped: DB9PR03MB8398',
  'X-OriginatorOrg: exempelfinans.se',
];

/** What Exchange Online stamps on mail from the internet (the header firewall replaced any copies). */
const exchangeFromOutside = (tenant = TENANT): string[] => [
  'Authentication-Results: spf=pass (sender IP is 203.0.113.9) smtp.mailfrom=evil.example; dkim=none (message not signed) header.d=none;dmarc=fail action=quarantine header.from=exempelfinans.se;compauth=fail reason=000',
  'X-MS-Exchange-Organization-AuthAs: Anonymous',
  'X-MS-Exchange-Organization-AuthSource: DB5PEPF00014B8C.eurprd02.prod.outlook.com',
  'X-MS-Exchange-Organization-SCL: 5',
  `X-MS-Exchange-CrossTenant-Id: ${tenant}`,
  'X-MS-Exchange-CrossTenant-AuthAs: Anonymous',
  'X-MS-Exchange-CrossTenant-AuthSource: DB5PEPF00014B8C.eurprd02.prod.outlook.com',
  'X-MS-Exchange-CrossTenant-FromEntityHeader: Internet',
];

const GMAIL_INTERNAL = [
  'Authentication-Results: mx.google.com;\r\n       dkim=pass header.i=@exempelfinans.se header.s=google header.b=Ab12cd34;\r\n       spf=pass (google.com: domain of olle@exempelfinans.se designates 209.85.220.41 as permitted sender) smtp.mailfrom=olle@exempelfinans.se;\r\n       dmarc=pass (p=QUARANTINE sp=QUARANTINE dis=NONE) header.from=exempelfinans.se',
  'ARC-Authentication-Results: i=1; mx.google.com; dkim=pass header.i=@exempelfinans.se; spf=pass smtp.mailfrom=olle@exempelfinans.se; dmarc=pass header.from=exempelfinans.se',
];
const GMAIL_FROM_OUTSIDE =
  'Authentication-Results: mx.google.com;\r\n       spf=fail (google.com: domain of olle@exempelfinans.se does not designate 203.0.113.9 as permitted sender) smtp.mailfrom=olle@exempelfinans.se;\r\n       dmarc=fail (p=QUARANTINE sp=QUARANTINE dis=NONE) header.from=exempelfinans.se';

/** A raw officer mail with these header lines (Exchange writes its stamps below the message's own). */
async function platformVerdict(
  top: string[],
  bottom: string[],
  platform: { mailPlatform?: 'own' | 'microsoft365' | 'google'; tenantId?: string | null },
  ids: string[] = [],
) {
  const raw = [
    ...top,
    'Received: from AM9PR03MB7012.eurprd03.prod.outlook.com by DB9PR03MB8398.eurprd03.prod.outlook.com with HTTPS; Fri, 20 Nov 2026 09:00:01 +0000',
    `From: Olle Officer <${OLLE}>`,
    'To: klagomal@exempelfinans.se',
    'Subject: SV: [KLG-2026-000042] Avgift',
    'Date: Fri, 20 Nov 2026 09:00:00 +0000',
    'Message-ID: <AM9PR03MB7012A1B2C3@AM9PR03MB7012.eurprd03.prod.outlook.com>',
    ...bottom,
    'Content-Type: text/plain; charset="utf-8"',
    'MIME-Version: 1.0',
    '',
    '#status in-progress',
    '',
  ].join('\r\n');
  const mail = await parseMail(Buffer.from(raw), { dataDir });
  return staffAuthentication(mail.headers, mail.from!.address, ids, platform);
}

describe('officers on Microsoft 365 (firm.mailPlatform "microsoft365")', () => {
  const m365 = { mailPlatform: 'microsoft365' as const, tenantId: TENANT };

  test('officerOnMicrosoft365IsRecognisedWithoutTheSentFolder: internal mail of the firm tenant', async () => {
    const v = await platformVerdict([], exchangeInternal(), m365);
    expect(v).toEqual({ authenticated: true, reason: expect.stringContaining(`tenant ${TENANT}`) });
  });

  test('the stamps compare without regard to case and surrounding space', async () => {
    const lines = exchangeInternal().map((l) => l.replace(': Internal', ': internal ').replace(TENANT, TENANT.toUpperCase()));
    expect((await platformVerdict([], lines, m365)).authenticated).toBe(true);
  });

  test.each<[string, string[], string[]]>([
    ['mail from the internet: Exchange wrote AuthAs Anonymous', [], exchangeFromOutside()],
    ["a forged Internal stamp that survived beside Exchange's own Anonymous", [], [...exchangeFromOutside(), 'X-MS-Exchange-Organization-AuthAs: Internal']],
    ["forged Internal stamps above, Exchange's own below", exchangeInternal(), exchangeFromOutside()],
    [
      "a forged CrossTenant-AuthAs Internal beside Exchange's Anonymous",
      [],
      [
        ...exchangeInternal().filter((l) => !l.startsWith('X-MS-Exchange-CrossTenant-AuthAs')),
        'X-MS-Exchange-CrossTenant-AuthAs: Internal',
        'X-MS-Exchange-CrossTenant-AuthAs: Anonymous',
      ],
    ],
    ['internal mail of another tenant (mail relayed from another organisation)', [], exchangeInternal(OTHER_TENANT)],
    ['two tenant ids', [], [...exchangeInternal(), `X-MS-Exchange-CrossTenant-Id: ${OTHER_TENANT}`]],
    ['the Organization stamp without the tenant stamps', [], ['X-MS-Exchange-Organization-AuthAs: Internal']],
    ['a look-alike value', [], exchangeInternal().map((l) => l.replace('Organization-AuthAs: Internal', 'Organization-AuthAs: Internal, Anonymous'))],
    ['a look-alike header name', [], exchangeInternal().map((l) => l.replace('X-MS-Exchange-Organization-AuthAs', 'X-MS-Exchange-Organisation-AuthAs'))],
    [
      "a forged Authentication-Results pass with no authserv-id (what EOP writes is not the firm's)",
      [
        'Authentication-Results: spf=pass smtp.mailfrom=exempelfinans.se; dkim=pass header.d=exempelfinans.se; dmarc=pass action=none header.from=exempelfinans.se',
      ],
      exchangeFromOutside(),
    ],
  ])('forgedMicrosoft365StampsNotBelieved: %s', async (_what, top, bottom) => {
    expect((await platformVerdict(top, bottom, m365)).authenticated).toBe(false);
  });

  test('Exchange stamps are not trusted unless the config says the mail is on Microsoft 365', async () => {
    const own = await platformVerdict([], exchangeInternal(), { mailPlatform: 'own' });
    expect(own.authenticated).toBe(false);
    const google = await platformVerdict([], exchangeInternal(), { mailPlatform: 'google' });
    expect(google.authenticated).toBe(false);
  });

  test('a firm gateway of its own still counts beside the platform (firm.authservIds)', async () => {
    const v = await platformVerdict([`Authentication-Results: ${AUTHSERV}; dkim=pass header.d=exempelfinans.se`], exchangeFromOutside(), m365, [AUTHSERV]);
    expect(v.authenticated).toBe(true);
  });
});

describe('officers on Google Workspace (firm.mailPlatform "google")', () => {
  const google = { mailPlatform: 'google' as const };

  test("officerOnGoogleWorkspaceIsRecognised: Gmail's Authentication-Results for the firm domain", async () => {
    const v = await platformVerdict(GMAIL_INTERNAL, [], google);
    expect(v).toEqual({ authenticated: true, reason: expect.stringContaining('mx.google.com') });
  });

  test.each<[string, string[]]>([
    ['Gmail recorded a failing SPF and DMARC for a mail from outside', [GMAIL_FROM_OUTSIDE]],
    ["Gmail's real verdict on top, a forged mx.google.com pass below it", [GMAIL_FROM_OUTSIDE, ...GMAIL_INTERNAL]],
    ['only a forged ARC-Authentication-Results pass', [GMAIL_INTERNAL[1]]],
    ['a look-alike authserv-id', [GMAIL_INTERNAL[0].replace('mx.google.com;', 'mx.google.com.evil.example;')]],
    ['a quoted local part carries the domain', ['Authentication-Results: mx.google.com; spf=pass smtp.mailfrom="olle@exempelfinans.se"@evil.example']],
  ])('forgedGoogleStampsNotBelieved: %s', async (_what, top) => {
    expect((await platformVerdict(top, [], google)).authenticated).toBe(false);
  });

  test('forgedGmailHeaderDirectlyBelowGmailsOwnIsBelieved: Gmail writes one, below its own Received:', async () => {
    const raw = [
      'Received: from mail.evil.example (mail.evil.example. [203.0.113.9]) by mx.google.com with ESMTPS id a1; Fri, 20 Nov 2026 09:00:01 -0800 (PST)',
      'Received-SPF: pass (google.com: domain of bounce@evil.example designates 203.0.113.9 as permitted sender) client-ip=203.0.113.9;',
      'Authentication-Results: mx.google.com;\r\n       spf=pass (google.com: domain of bounce@evil.example designates 203.0.113.9 as permitted sender) smtp.mailfrom=bounce@evil.example',
      // The sender's own header fields from here on.
      'Authentication-Results: mx.google.com; dkim=pass header.i=@exempelfinans.se header.s=google',
      `From: Olle Officer <${OLLE}>`,
      'To: klagomal@exempelfinans.se',
      'Subject: Svar',
      'Message-ID: <g1@evil.example>',
      '',
      'text',
      '',
    ].join('\r\n');
    const mail = await parseMail(Buffer.from(raw), { dataDir });
    expect(staffAuthentication(mail.headers, OLLE, [], google).authenticated).toBe(false);
  });

  test("Gmail's header is not trusted unless the config says the mail is on Google", async () => {
    expect((await platformVerdict(GMAIL_INTERNAL, [], { mailPlatform: 'own' })).authenticated).toBe(false);
  });
});

// Found by a review: Postfix stacks (OpenDKIM, OpenDMARC, policyd-spf) each prepend a header of
// their own under the same authserv-id; the pass may be in a lower one.
describe('stacked headers of the firm server', () => {
  async function stacked(lines: string[]) {
    const raw = [
      ...lines,
      `From: Olle Officer <${OLLE}>`,
      'To: klagomal@exempelfinans.se',
      'Subject: Svar',
      'Message-ID: <s1@exempelfinans.se>',
      '',
      'text',
      '',
    ].join('\r\n');
    const mail = await parseMail(Buffer.from(raw), { dataDir });
    return staffAuthentication(mail.headers, OLLE, [AUTHSERV]);
  }
  const OUR_RECEIVED =
    'Received: from mail.exempelfinans.se (mail.exempelfinans.se [192.0.2.10]) by mx1.exempelfinans.se (Postfix) with ESMTPS id 4Q; Fri, 20 Nov 2026 09:00:01 +0100';

  test('stackedHeadersOfTheFirmServerAreReadTogether: the pass in a lower header of ours counts', async () => {
    const v = await stacked([
      `Authentication-Results: ${AUTHSERV}; dkim=none (no signatures found)`,
      `Authentication-Results: ${AUTHSERV}; dmarc=pass (p=reject dis=none) header.from=exempelfinans.se`,
      `Authentication-Results: ${AUTHSERV}; spf=pass smtp.mailfrom=olle@exempelfinans.se`,
      OUR_RECEIVED,
    ]);
    expect(v.authenticated).toBe(true);
  });

  test('a local delivery agent above them does not hide them', async () => {
    const v = await stacked([
      'Received: from mx1.exempelfinans.se by imap.exempelfinans.se (Dovecot) with LMTP id x; Fri, 20 Nov 2026 09:00:02 +0100',
      `Authentication-Results: ${AUTHSERV}; dkim=none`,
      `Authentication-Results: ${AUTHSERV}; dmarc=pass header.from=exempelfinans.se`,
      OUR_RECEIVED,
    ]);
    expect(v.authenticated).toBe(true);
  });

  test('a fail in one of our stacked headers vetoes a pass in another', async () => {
    const v = await stacked([
      `Authentication-Results: ${AUTHSERV}; dmarc=fail header.from=exempelfinans.se`,
      `Authentication-Results: ${AUTHSERV}; spf=pass smtp.mailfrom=olle@exempelfinans.se`,
      OUR_RECEIVED,
    ]);
    expect(v.authenticated).toBe(false);
  });

  // The layout of Postfix with OpenDKIM's milters (and of the mails in test/fixtures/golden): our
  // headers directly below our own Received:, the sender's header fields directly below them.
  test.each<[string, string[]]>([
    [
      'a DKIM pass beside our "no signature"',
      [`${AUTHSERV}; dkim=none; spf=pass smtp.mailfrom=bounce@evil.example`, `${AUTHSERV}; dkim=pass header.d=exempelfinans.se`],
    ],
    [
      'a DMARC pass beside our DMARC none',
      [`${AUTHSERV}; dkim=none; spf=none; dmarc=none header.from=exempelfinans.se`, `${AUTHSERV}; dmarc=pass header.from=exempelfinans.se`],
    ],
    ['an SPF pass beside our SPF', [`${AUTHSERV}; spf=pass smtp.mailfrom=bounce@evil.example`, `${AUTHSERV}; spf=pass smtp.mailfrom=olle@exempelfinans.se`]],
    [
      'a DKIM pass for our domain beside our DKIM result for it',
      [`${AUTHSERV}; dkim=fail header.d=exempelfinans.se; dkim=pass header.d=evil.example`, `${AUTHSERV}; dkim=pass header.d=exempelfinans.se`],
    ],
  ])('forgedHeaderDirectlyBelowOurPostfixStackIsBelieved: %s', async (_what, headers) => {
    const v = await stacked([OUR_RECEIVED, ...headers.map((h) => `Authentication-Results: ${h}`)]);
    expect(v.authenticated).toBe(false);
  });

  // Found by a review of the rule above: filters of one server that report the same check, and agree.
  test.each<[string, string[]]>([
    [
      'pypolicyd-spf and OpenDMARC both report SPF (OpenDMARC issues #160, #161)',
      [
        `${AUTHSERV}; dmarc=pass (p=reject dis=none) header.from=exempelfinans.se`,
        `${AUTHSERV}; spf=pass smtp.mailfrom=exempelfinans.se`,
        `${AUTHSERV}; dkim=pass header.d=exempelfinans.se`,
        `${AUTHSERV}; spf=pass (sender SPF authorized) smtp.mailfrom=olle@exempelfinans.se`,
      ],
    ],
    [
      'rspamd and OpenDMARC both report DMARC',
      [`${AUTHSERV}; dkim=pass header.d=exempelfinans.se; dmarc=pass header.from=exempelfinans.se`, `${AUTHSERV}; dmarc=pass header.from=exempelfinans.se`],
    ],
    [
      'one header per signature, RSA and Ed25519 for one domain',
      [`${AUTHSERV}; dkim=pass header.d=exempelfinans.se header.a=rsa-sha256`, `${AUTHSERV}; dkim=pass header.d=exempelfinans.se header.a=ed25519-sha256`],
    ],
  ])('genuineStackRefusedAsForged: %s', async (_what, headers) => {
    expect((await stacked([OUR_RECEIVED, ...headers.map((h) => `Authentication-Results: ${h}`)])).authenticated).toBe(true);
    // Above our Received: (the place RFC 8601 §4 asks for) nothing is compared: all are ours.
    expect((await stacked([...headers.map((h) => `Authentication-Results: ${h}`), OUR_RECEIVED])).authenticated).toBe(true);
  });

  test('our headers below our own Received: still pass, in one header or one per check', async () => {
    expect(
      (
        await stacked([
          OUR_RECEIVED,
          `Authentication-Results: ${AUTHSERV}; dkim=pass header.d=exempelfinans.se; spf=pass smtp.mailfrom=olle@exempelfinans.se; dmarc=pass header.from=exempelfinans.se`,
        ])
      ).authenticated,
    ).toBe(true);
    const perCheck = await stacked([
      OUR_RECEIVED,
      `Authentication-Results: ${AUTHSERV}; dmarc=pass (p=reject dis=none) header.from=exempelfinans.se`,
      `Authentication-Results: ${AUTHSERV}; dkim=pass (2048-bit key) header.d=exempelfinans.se header.i=@exempelfinans.se`,
      `Authentication-Results: ${AUTHSERV}; spf=pass smtp.mailfrom=olle@exempelfinans.se`,
    ]);
    expect(perCheck.authenticated).toBe(true);
  });

  test('forgedHeaderBelowOurReceivedIsNotRead: the sender wrote it before our server saw the mail', async () => {
    const v = await stacked([
      `Authentication-Results: ${AUTHSERV}; dkim=none; spf=none smtp.mailfrom=evil.example`,
      OUR_RECEIVED,
      `Authentication-Results: ${AUTHSERV}; dkim=pass header.d=exempelfinans.se; dmarc=pass header.from=exempelfinans.se`,
    ]);
    expect(v.authenticated).toBe(false);
  });
});
