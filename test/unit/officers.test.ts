/**
 * Officers: who counts as staff (src/classify/authentication.ts, classify.ts), how a case gets
 * its contact person (src/cases/assignment.ts), and what an officer's command mail does to a
 * case (src/officers/commands.ts) on a real database with the real templates.
 *
 * A forged staff From must never steer a case; a command must do exactly what it says, or be
 * refused with a reason the officer can act on; the customer's final answer must carry the
 * escalation paragraph.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Config, Officer } from '../../src/config/config';
import { parseConfig } from '../../src/config/load';
import type { HeaderView, MailAddress, ParsedMail } from '../../src/parse/parse';
import { parseMail } from '../../src/parse/parse';
import { parseAuthenticationResults, staffAuthentication } from '../../src/classify/authentication';
import { classify, StaffDirectory, TaggedCase, ThreadFacts } from '../../src/classify/classify';
import {
  ASSESSMENT_ITEMS,
  COMMAND_NAMES,
  CommandOutcome,
  FINAL_MIN_WORDS,
  hasReasonedAnswer,
  parseCommandMail,
  parseSek,
  runOfficerCommands,
} from '../../src/officers/commands';
import { candidatePool, nextContactOfficer, officerAtTurn } from '../../src/cases/assignment';
import { FilingContext, FilingResult } from '../../src/cases/filing';
import { processMail } from '../../src/pipeline/processor';
import { milestonesForSentMail } from '../../src/cases/milestones';
import { calendarsFor } from '../../src/deadlines/deadlines';
import { storeArrivals, sha256 } from '../../src/ingest/intake';
import { TemplateSet } from '../../src/reply/templates';
import { openDatabase } from '../../src/store/db';
import { CaseRow, EventRow, OutboxRow, Store } from '../../src/store/store';
import { toInstant } from '../../src/util/clock';
import { silentLogger } from '../../src/util/log';
import { normaliseAddress } from '../../src/util/header-safe';

// ---------------------------------------------------------------------------------------------
// Shared fixtures
// ---------------------------------------------------------------------------------------------

const AUTHSERV = 'mx1.exempelfinans.se';
const COMPLAINTS = 'klagomal@exempelfinans.se';
const MAJA = 'maja@exempelfinans.se'; // manager
const OLLE = 'olle@exempelfinans.se';
const PETRA = 'petra@exempelfinans.se';
const LISA = 'lisa@exempelfinans.se'; // unavailable
const CUSTOMER = 'kund@example.com';

/** Mon 2 Mar 2026: finalAnswer (14 calendar days) is due Mon 16 Mar 23:59:59. */
const RECEIVED = new Date('2026-03-02T09:00:00+01:00');
const NOW = new Date('2026-03-03T10:00:00+01:00');

const TEMPLATES = TemplateSet.load(path.join(__dirname, '..', '..', 'templates'));

// ---------------------------------------------------------------------------------------------
// Parsed mail without the parser (as in classify.test.ts)
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

function addr(address: string, name = ''): MailAddress {
  const normalised = normaliseAddress(address);
  if (!normalised) throw new Error(`test bug: ${address} is not an address`);
  return { address: normalised, name };
}

function mail(o: { from?: string; headers?: Record<string, string | string[]>; subject?: string; to?: string[]; messageId?: string } = {}): ParsedMail {
  return {
    messageId: o.messageId ?? 'abc123@mail.example.com',
    embeddedMessageIds: [],
    dsn: null,
    fromName: null,
    feedbackReport: false,
    inReplyTo: null,
    references: [],
    from: addr(o.from ?? CUSTOMER),
    replyTo: null,
    to: (o.to ?? [COMPLAINTS]).map((a) => addr(a)),
    cc: [],
    subject: o.subject ?? 'SV: [KLG-2026-000042] Felaktig avgift',
    date: new Date('2026-03-03T10:00:00+01:00'),
    returnPath: o.from ?? CUSTOMER,
    contentType: 'text/plain',
    contentTypeParams: {},
    text: '#status in-progress\n',
    textFromHtml: false,
    headers: headerView(o.headers ?? {}),
    attachments: [],
    problems: [],
  };
}

const STAFF: StaffDirectory = {
  complaintsAddress: COMPLAINTS,
  staffAddresses: [],
  staffDomains: ['exempelfinans.se'],
  formAddresses: [],
  authservIds: [AUTHSERV],
  trustStaffFrom: false,
};

const CASE: TaggedCase = { caseId: 42, number: 'KLG-2026-000042', customerAddress: CUSTOMER };
const NO_FACTS: ThreadFacts = { duplicateOf: null, ownMessageId: false, referencedCase: null, repliesToOurMail: false, taggedCase: null };
const facts = (o: Partial<ThreadFacts> = {}): ThreadFacts => ({ ...NO_FACTS, ...o });

const DKIM_PASS = `${AUTHSERV}; dkim=pass header.d=exempelfinans.se header.s=sel1; spf=none smtp.mailfrom=exempelfinans.se`;
const ALL_FAIL = `${AUTHSERV}; dkim=fail header.d=exempelfinans.se; spf=softfail smtp.mailfrom=olle@exempelfinans.se; dmarc=fail header.from=exempelfinans.se`;

// ---------------------------------------------------------------------------------------------
// 1. parseAuthenticationResults
// ---------------------------------------------------------------------------------------------

describe('parseAuthenticationResults (RFC 8601)', () => {
  test('no authentication done: "none" with a version number', () => {
    // RFC 8601 B.2
    expect(parseAuthenticationResults('example.org 1; none')).toEqual({ authservId: 'example.org', results: [] });
  });

  test('one SPF result', () => {
    // RFC 8601 B.3
    expect(parseAuthenticationResults('example.com; spf=pass smtp.mailfrom=example.net')).toEqual({
      authservId: 'example.com',
      results: [{ method: 'spf', result: 'pass', props: { 'smtp.mailfrom': 'example.net' } }],
    });
  });

  test('several methods, a comment in parentheses', () => {
    // RFC 8601 B.4
    const r = parseAuthenticationResults('example.com;\r\n auth=pass (cram-md5) smtp.auth=sender@example.net;\r\n spf=pass smtp.mailfrom=example.net');
    expect(r).toEqual({
      authservId: 'example.com',
      results: [
        { method: 'auth', result: 'pass', props: { 'smtp.auth': 'sender@example.net' } },
        { method: 'spf', result: 'pass', props: { 'smtp.mailfrom': 'example.net' } },
      ],
    });
  });

  test('header.from and header.d, comments dropped', () => {
    // RFC 8601 B.5
    const r = parseAuthenticationResults('example.com; sender-id=fail header.from=example.com; dkim=pass (good signature) header.d=example.com');
    expect(r?.results).toEqual([
      { method: 'sender-id', result: 'fail', props: { 'header.from': 'example.com' } },
      { method: 'dkim', result: 'pass', props: { 'header.d': 'example.com' } },
    ]);
  });

  test('quoted values with spaces, header.i', () => {
    // RFC 8601 B.6
    const r = parseAuthenticationResults(
      'example.com; dkim=pass reason="good signature" header.i=@mail-router.example.net; dkim=fail reason="bad signature" header.i=@newyork.example.com',
    );
    expect(r?.results).toEqual([
      { method: 'dkim', result: 'pass', props: { reason: 'good signature', 'header.i': '@mail-router.example.net' } },
      { method: 'dkim', result: 'fail', props: { reason: 'bad signature', 'header.i': '@newyork.example.com' } },
    ]);
  });

  test('case is folded; method version "/1"; spaces around "="; nested comments; comment inside a quoted string kept', () => {
    const r = parseAuthenticationResults(
      'MX1.ExempelFinans.SE (Postfix (nested) comment) 1; DKIM/1=PASS header.D=ExempelFinans.SE; dmarc = pass header.from = exempelfinans.se; spf=pass reason="a (not a comment)" smtp.mailfrom=<Olle@ExempelFinans.se>',
    );
    expect(r?.authservId).toBe('mx1.exempelfinans.se');
    expect(r?.results).toEqual([
      { method: 'dkim', result: 'pass', props: { 'header.d': 'exempelfinans.se' } },
      { method: 'dmarc', result: 'pass', props: { 'header.from': 'exempelfinans.se' } },
      { method: 'spf', result: 'pass', props: { reason: 'a (not a comment)', 'smtp.mailfrom': '<olle@exempelfinans.se>' } },
    ]);
  });

  test('RFC 8601 B.7 (comments and CFWS everywhere): the authserv-id is read, nothing crashes', () => {
    const r = parseAuthenticationResults(
      "foo.example.net (foobar) 1 (baz); dkim (Because I like it) / 1 (One yay) = (wait for it) fail policy (A dot can go here) . (like that) expired (this surprised me) = (as I wasn't expecting it) 1362471462",
    );
    expect(r?.authservId).toBe('foo.example.net');
    // "dkim / 1 = fail" with spaces around the "/" is not read; a result that is not read can
    // only make a mail less trusted, never more.
    expect(r?.results.every((x) => x.result !== 'pass')).toBe(true);
  });

  test.each<[string, string]>([
    ['empty', ''],
    ['only spaces', '   '],
    ['only a comment', '(just a comment)'],
    ['starts with a semicolon', '; dkim=pass header.d=exempelfinans.se'],
    ['semicolons only', ';;;'],
  ])('unreadable header -> null: %s', (_label, value) => {
    expect(parseAuthenticationResults(value)).toBeNull();
  });

  test.each<[string, string]>([
    ['a word', 'garbage'],
    ['results without "="', 'mx; dkim; spf pass; =pass; dkim=; ==='],
    ['unbalanced parentheses and quotes', 'mx ((( ; dkim="pass ; spf=pass) header.d="x'],
    ['binary noise', 'mx; \u0000\u0001\u00ff=\u2028; dkim=p\u00e5ss'],
  ])('garbage -> no results that pass, no crash: %s', (_label, value) => {
    const r = parseAuthenticationResults(value);
    expect(r === null || r.results.every((x) => x.result !== 'pass')).toBe(true);
  });

  test('a very long header does not take long', () => {
    const start = Date.now();
    parseAuthenticationResults(`mx; ${'dkim=pass header.d=x.se '.repeat(2000)}${'('.repeat(5000)}${'"'.repeat(5000)}`);
    expect(Date.now() - start).toBeLessThan(1000);
  });
});

// ---------------------------------------------------------------------------------------------
// 2. staffAuthentication
// ---------------------------------------------------------------------------------------------

describe('staffAuthentication', () => {
  const auth = (ar: string | string[], from = OLLE, ids: readonly string[] = [AUTHSERV]) =>
    staffAuthentication(headerView({ 'Authentication-Results': ar }), from, ids);

  test.each<[string, string, string]>([
    ['dkim=pass header.d', `${AUTHSERV}; dkim=pass header.d=exempelfinans.se`, 'dkim=pass for exempelfinans.se'],
    ['dkim=pass header.i', `${AUTHSERV}; dkim=pass header.i=@exempelfinans.se`, 'dkim=pass for exempelfinans.se'],
    ['spf=pass smtp.mailfrom address', `${AUTHSERV}; spf=pass smtp.mailfrom=bounces+x@exempelfinans.se`, 'spf=pass for exempelfinans.se'],
    ['spf=pass smtp.mailfrom domain only', `${AUTHSERV}; spf=pass smtp.mailfrom=exempelfinans.se`, 'spf=pass for exempelfinans.se'],
    ['dmarc=pass header.from', `${AUTHSERV}; dmarc=pass (p=reject) header.from=exempelfinans.se`, 'dmarc=pass for exempelfinans.se'],
    ['one of several methods passes', `${AUTHSERV}; spf=fail smtp.mailfrom=exempelfinans.se; dkim=pass header.d=exempelfinans.se`, 'dkim=pass'],
  ])('authenticated: %s', (_label, ar, reason) => {
    const r = auth(ar);
    expect(r.authenticated).toBe(true);
    expect(r.reason).toContain(reason);
    expect(r.reason).toContain(AUTHSERV);
  });

  test.each<[string, string]>([
    ['dkim for another domain', `${AUTHSERV}; dkim=pass header.d=evil.example`],
    ['dkim for a look-alike sub-domain', `${AUTHSERV}; dkim=pass header.d=exempelfinans.se.evil.example`],
    ['dkim header.i at another domain', `${AUTHSERV}; dkim=pass header.i=olle@evil.example`],
    ['spf for another domain', `${AUTHSERV}; spf=pass smtp.mailfrom=attacker@evil.example`],
    ['dmarc for another domain', `${AUTHSERV}; dmarc=pass header.from=evil.example`],
    ['pass without the property that names the domain', `${AUTHSERV}; dkim=pass; spf=pass; dmarc=pass`],
  ])('not authenticated: %s', (_label, ar) => {
    const r = auth(ar);
    expect(r.authenticated).toBe(false);
    expect(r.reason).toContain('none passed for exempelfinans.se');
  });

  test('fail results: not authenticated, and the reason names what was seen', () => {
    const r = auth(ALL_FAIL);
    expect(r).toEqual({
      authenticated: false,
      reason: `${AUTHSERV} recorded dkim=fail, spf=softfail, dmarc=fail: none passed for exempelfinans.se`,
    });
    expect(auth(`${AUTHSERV}; none`).reason).toBe(`${AUTHSERV} recorded no results: none passed for exempelfinans.se`);
  });

  test("another server's Authentication-Results is ignored, however good it looks", () => {
    const r = auth('mx.evil.example; dkim=pass header.d=exempelfinans.se; dmarc=pass header.from=exempelfinans.se');
    expect(r.authenticated).toBe(false);
    expect(r.reason).toBe(`no Authentication-Results header from ${AUTHSERV}`);
    // A header without any Authentication-Results at all.
    expect(staffAuthentication(headerView({}), OLLE, [AUTHSERV]).reason).toBe(`no Authentication-Results header from ${AUTHSERV}`);
  });

  test('a relay above ours adds its own header: ours below it still counts', () => {
    const r = auth(['outlook.example; dkim=fail header.d=exempelfinans.se', `${AUTHSERV}; dkim=pass header.d=exempelfinans.se`]);
    expect(r.authenticated).toBe(true);
  });

  test('only the topmost header with our authserv-id counts: a forged pass below a real fail is not believed', () => {
    const r = auth([
      `${AUTHSERV}; dkim=none; spf=fail smtp.mailfrom=olle@exempelfinans.se; dmarc=fail header.from=exempelfinans.se`,
      `${AUTHSERV}; dkim=pass header.d=exempelfinans.se; dmarc=pass header.from=exempelfinans.se`,
    ]);
    expect(r.authenticated).toBe(false);
    expect(r.reason).toContain('spf=fail');
  });

  test('authserv-ids are matched case-insensitively in the header; several ids may be configured', () => {
    expect(auth(`MX1.EXEMPELFINANS.SE; dkim=pass header.d=exempelfinans.se`).authenticated).toBe(true);
    expect(auth(`mx2.exempelfinans.se; dkim=pass header.d=exempelfinans.se`, OLLE, [AUTHSERV, 'mx2.exempelfinans.se']).authenticated).toBe(true);
  });

  test('no authservIds configured: never authenticated, with a reason', () => {
    const r = auth(DKIM_PASS, OLLE, []);
    expect(r.authenticated).toBe(false);
    expect(r.reason).toMatch(/no firm\.authservIds configured/);
  });

  // Found while writing these tests: a quoted MAIL FROM local part once carried a result of its own.
  test('a ";" inside a quoted smtp.mailfrom cannot smuggle in a result', () => {
    const forged = `${AUTHSERV}; spf=pass smtp.mailfrom="x;dkim=pass header.d=exempelfinans.se x=y"@evil.example; dkim=none; dmarc=fail header.from=exempelfinans.se`;
    expect(auth(forged).authenticated).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------
// 3. classify(): staff mail
// ---------------------------------------------------------------------------------------------

describe('classify: staff mail', () => {
  test('authenticated staff From on a case thread -> officer, with the authentication as reason', () => {
    const c = classify(mail({ from: OLLE, headers: { 'Authentication-Results': DKIM_PASS } }), facts({ taggedCase: CASE }), STAFF);
    expect(c).toMatchObject({ kind: 'officer', caseId: 42, senderDiffers: false });
    if (c.kind !== 'officer') throw new Error('not officer');
    expect(c.authentication).toBe(`dkim=pass for exempelfinans.se (${AUTHSERV})`);
    expect(c.reason).toContain('KLG-2026-000042');
    expect(c.reason).toContain('case tag in the subject');
  });

  test('same, with failing authentication -> a follow-up on that case, flagged as suspected spoofing', () => {
    const c = classify(mail({ from: OLLE, headers: { 'Authentication-Results': ALL_FAIL } }), facts({ taggedCase: CASE }), STAFF);
    expect(c.kind).toBe('followup');
    if (c.kind !== 'followup') throw new Error('not followup');
    expect(c.caseId).toBe(42);
    expect(c.senderDiffers).toBe(true);
    expect(c.spoofSuspected).toContain(`staff From ${OLLE} not authenticated`);
    expect(c.spoofSuspected).toContain('dkim=fail');
  });

  test('unauthenticated staff From by reference to one of our mails -> follow-up, flagged', () => {
    const c = classify(mail({ from: OLLE }), facts({ referencedCase: CASE, repliesToOurMail: true }), STAFF);
    expect(c).toMatchObject({ kind: 'followup', caseId: 42 });
    expect((c as { spoofSuspected?: string | null }).spoofSuspected).toContain(`no Authentication-Results header from ${AUTHSERV}`);
  });

  test('failing staff From on no case -> a complaint from staff, flagged, never answered automatically', () => {
    const c = classify(mail({ from: OLLE, subject: 'Hej', headers: { 'Authentication-Results': ALL_FAIL } }), NO_FACTS, STAFF);
    expect(c.kind).toBe('complaint');
    if (c.kind !== 'complaint') throw new Error('not complaint');
    expect(c.fromStaff).toBe(true);
    expect(c.refersToCaseId).toBeNull();
    expect(c.spoofSuspected).toContain('not authenticated');
    expect(c.customer.doNotAutoReply).toBe('a staff From that is not authenticated');
  });

  test('authenticated staff From on no case -> complaint from staff, not answered, not flagged', () => {
    const c = classify(mail({ from: OLLE, subject: 'Hej', headers: { 'Authentication-Results': DKIM_PASS } }), NO_FACTS, STAFF);
    expect(c).toMatchObject({ kind: 'complaint', fromStaff: true, spoofSuspected: null });
    expect((c as { customer: { doNotAutoReply: string } }).customer.doNotAutoReply).toBe('the sender is staff');
  });

  test('trustStaffFrom: a staff From on a case thread is an officer without any header', () => {
    const c = classify(mail({ from: OLLE }), facts({ taggedCase: CASE }), { ...STAFF, trustStaffFrom: true });
    expect(c).toMatchObject({ kind: 'officer', caseId: 42, authentication: 'firm.trustStaffFrom is on' });
    // ...also with no authserv-ids configured at all.
    const d = classify(mail({ from: OLLE }), facts({ taggedCase: CASE }), { ...STAFF, authservIds: [], trustStaffFrom: true });
    expect(d.kind).toBe('officer');
  });

  test('a customer with a passing header for their own domain is still the customer', () => {
    const c = classify(
      mail({ from: CUSTOMER, headers: { 'Authentication-Results': `${AUTHSERV}; dkim=pass header.d=example.com` } }),
      facts({ taggedCase: CASE }),
      STAFF,
    );
    expect(c).toMatchObject({ kind: 'followup', caseId: 42, senderDiffers: false });
  });

  describe('mail from the Sent folder of the shared mailbox', () => {
    test('on a case thread -> officer, even with From = the complaints address', () => {
      const c = classify(mail({ from: COMPLAINTS, to: [CUSTOMER] }), facts({ fromSentFolder: true, referencedCase: CASE }), STAFF);
      expect(c).toMatchObject({ kind: 'officer', caseId: 42, authentication: 'found in the Sent folder of the shared mailbox' });
      expect(c.reason).toContain('In-Reply-To/References');
    });

    test('by case tag -> officer on that case', () => {
      const c = classify(mail({ from: COMPLAINTS, to: [CUSTOMER] }), facts({ fromSentFolder: true, taggedCase: CASE }), STAFF);
      expect(c).toMatchObject({ kind: 'officer', caseId: 42 });
    });

    test('our own Message-ID -> autoreply (our automatic mail, saved in Sent)', () => {
      const c = classify(mail({ from: COMPLAINTS }), facts({ fromSentFolder: true, ownMessageId: true, referencedCase: CASE }), STAFF);
      expect(c).toMatchObject({ kind: 'autoreply', caseId: 42 });
    });

    test('on no thread -> officer with caseId null (recorded only)', () => {
      const c = classify(mail({ from: COMPLAINTS, subject: 'Lunch?' }), facts({ fromSentFolder: true }), STAFF);
      expect(c).toMatchObject({ kind: 'officer', caseId: null, senderDiffers: false });
    });
  });

  test('outside the Sent folder, From = the complaints address is a loop unless the firm vouches for it on a case thread', () => {
    // The shared mailbox replying with a copy to itself: authenticated, on a thread -> the officer's reply.
    const shared = classify(mail({ from: COMPLAINTS, headers: { 'Authentication-Results': DKIM_PASS } }), facts({ taggedCase: CASE }), STAFF);
    expect(shared).toMatchObject({ kind: 'officer', caseId: 42 });
    expect(shared.reason).toContain('sent from the shared mailbox');
    // Not vouched for, or on no case: our own address writing to us is a loop.
    expect(classify(mail({ from: COMPLAINTS }), facts({ taggedCase: CASE }), STAFF).kind).toBe('autoreply');
    expect(classify(mail({ from: COMPLAINTS, headers: { 'Authentication-Results': ALL_FAIL } }), facts({ taggedCase: CASE }), STAFF).kind).toBe('autoreply');
    expect(classify(mail({ from: COMPLAINTS, headers: { 'Authentication-Results': DKIM_PASS } }), NO_FACTS, STAFF).kind).toBe('autoreply');
  });
});

// ---------------------------------------------------------------------------------------------
// 4. parseCommandMail
// ---------------------------------------------------------------------------------------------

describe('parseCommandMail', () => {
  test('leading blank lines, blank lines between commands, commands up to the first other line', () => {
    const text = '\n\n#status in-progress\n\n#  outcome   upheld  \n#Compensation 1 250\nHej,\n#not a command\n\nText.\n\n';
    const m = parseCommandMail(text);
    expect(m.commands).toEqual([
      { lineNumber: 3, line: '#status in-progress', name: 'status', args: 'in-progress' },
      { lineNumber: 5, line: '#  outcome   upheld', name: 'outcome', args: 'upheld' },
      { lineNumber: 6, line: '#Compensation 1 250', name: 'compensation', args: '1 250' },
    ]);
    expect(m.rest).toBe('Hej,\n#not a command\n\nText.');
  });

  test('"# status closed" with a space after "#"', () => {
    expect(parseCommandMail('# status closed').commands).toEqual([{ lineNumber: 1, line: '# status closed', name: 'status', args: 'closed' }]);
  });

  test('CRLF (and bare CR) input: same lines, same numbers, no CR left', () => {
    const m = parseCommandMail('\r\n#status in-progress\r\n\r\n#note ringde kunden\r\nDetta är en anteckning.\r\nRad två.\r\n');
    expect(m.commands.map((c) => [c.lineNumber, c.name, c.args])).toEqual([
      [2, 'status', 'in-progress'],
      [4, 'note', 'ringde kunden'],
    ]);
    expect(m.rest).toBe('Detta är en anteckning.\nRad två.');
    expect(parseCommandMail('#final\rSvar').commands[0].lineNumber).toBe(1);
    expect(parseCommandMail('#final\rSvar').rest).toBe('Svar');
  });

  test('no commands: everything is the rest; only commands: the rest is empty', () => {
    expect(parseCommandMail('  Ringde kunden.  \n')).toEqual({ commands: [], rest: 'Ringde kunden.' });
    expect(parseCommandMail('#ask\n#final').rest).toBe('');
    expect(parseCommandMail('')).toEqual({ commands: [], rest: '' });
  });

  test('indented commands count; a bare "#" is a command with an empty name; unknown names are kept lower-cased', () => {
    const m = parseCommandMail('   #STAT closed\n#\n');
    expect(m.commands.map((c) => [c.name, c.args])).toEqual([
      ['stat', 'closed'],
      ['', ''],
    ]);
  });

  test('the documented command and checklist names', () => {
    expect([...COMMAND_NAMES].sort()).toEqual(
      [
        'ask',
        'assessment',
        'assign',
        'category',
        'compensation',
        'extend',
        'final',
        'holding',
        'note',
        'outcome',
        'regime',
        'related',
        'reopen',
        'status',
        'approve',
        'return',
      ].sort(),
    );
    expect(ASSESSMENT_ITEMS).toContain('training');
    expect(FINAL_MIN_WORDS).toBe(15);
  });
});

// ---------------------------------------------------------------------------------------------
// 5. parseSek
// ---------------------------------------------------------------------------------------------

describe('parseSek', () => {
  test.each<[string, number]>([
    ['1250', 1250],
    ['1 250', 1250],
    ['1\u00a0250', 1250],
    ['1 250,50 kr', 1250.5],
    ['1.250:-', 1250],
    ['1 250:-', 1250],
    ['1250 SEK', 1250],
    ['SEK 1250', 1250],
    ['1250kr', 1250],
    ['1250 kronor', 1250],
    ['100.000', 100000],
    ['1.250,50', 1250.5],
    ['12.50', 12.5],
    ['0,5', 0.5],
    ['0', 0],
    ['  75  ', 75],
  ])('%j -> %d', (text, n) => {
    expect(parseSek(text)).toBe(n);
  });

  test.each<string>(['abc', '-5', '12,345,678', '', ' ', '1,250', '1 2345', '1 250.50', '12,5,0', '1e5', '0x10', 'Infinity', '5 euro'])(
    '%j -> null',
    (text) => {
      expect(parseSek(text)).toBeNull();
    },
  );
});

// ---------------------------------------------------------------------------------------------
// 6. Assignment
// ---------------------------------------------------------------------------------------------

function officer(name: string, o: Partial<Officer> = {}): Officer {
  return { name, address: `${name.toLowerCase()}@exempelfinans.se`, role: 'officer', languages: ['sv', 'en'], categories: [], available: true, ...o };
}

describe('candidatePool', () => {
  const anna = officer('Anna', { categories: ['payments'] });
  const bo = officer('Bo');
  const cia = officer('Cia', { categories: ['fees'] });
  const names = (r: { pool: Officer[] }): string[] => r.pool.map((o) => o.name);

  test('specialists for the category win', () => {
    const r = candidatePool([anna, bo, cia], 'payments', 'sv');
    expect(names(r)).toEqual(['Anna']);
    expect(r.rule).toBe('round-robin: category payments, language sv');
  });

  test('no specialist: officers without categories take any category', () => {
    const r = candidatePool([anna, bo, cia], 'interest', 'sv');
    expect(names(r)).toEqual(['Bo']);
    expect(r.rule).toBe('round-robin: any category, language sv');
    expect(names(candidatePool([anna, bo, cia], null, null))).toEqual(['Bo']);
    expect(candidatePool([anna, bo, cia], null, null).rule).toBe('round-robin: any category, language any');
  });

  test('no one takes the category: all available officers', () => {
    const r = candidatePool([anna, cia], 'interest', 'sv');
    expect(names(r)).toEqual(['Anna', 'Cia']);
    expect(r.rule).toMatch(/all available officers/);
  });

  test('language filter, with a fallback to the category pool when no one speaks it', () => {
    const sv = officer('Sven', { languages: ['sv'] });
    const en = officer('Emma', { languages: ['en'] });
    expect(names(candidatePool([sv, en], 'fees', 'en'))).toEqual(['Emma']);
    expect(names(candidatePool([sv, en], 'fees', 'sv'))).toEqual(['Sven']);
    const onlySv = candidatePool([sv], 'fees', 'en');
    expect(names(onlySv)).toEqual(['Sven']);
    expect(onlySv.rule).toBe('round-robin: any category (no one for language en)');
    // The specialist who does not speak the language still beats the generalist who does.
    const spec = officer('Sara', { languages: ['sv'], categories: ['fees'] });
    expect(names(candidatePool([spec, en], 'fees', 'en'))).toEqual(['Sara']);
  });

  test('unavailable officers are skipped', () => {
    expect(names(candidatePool([officer('Anna', { categories: ['payments'], available: false }), bo], 'payments', 'sv'))).toEqual(['Bo']);
    expect(candidatePool([officer('X', { available: false })], null, null).pool).toEqual([]);
  });

  test('managers only when there is no available officer', () => {
    const boss = officer('Chef', { role: 'manager' });
    expect(names(candidatePool([boss, bo], 'fees', 'sv'))).toEqual(['Bo']);
    expect(names(candidatePool([boss, officer('Bo', { available: false })], 'fees', 'sv'))).toEqual(['Chef']);
    expect(names(candidatePool([boss], null, null))).toEqual(['Chef']);
  });

  test('officerAtTurn wraps around; an empty pool gives no one', () => {
    expect(officerAtTurn([anna, bo], 0)?.name).toBe('Anna');
    expect(officerAtTurn([anna, bo], 3)?.name).toBe('Bo');
    expect(officerAtTurn([anna, bo], -1)?.name).toBe('Bo');
    expect(officerAtTurn([], 5)).toBeNull();
  });
});

describe('nextContactOfficer', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-officers-rr-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('round-robin advances, and survives a new Store on the same database file', () => {
    const file = path.join(dir, 'db', 'k.db');
    const team = [officer('Anna'), officer('Bo'), officer('Cia')];
    const db1 = openDatabase(file);
    const s1 = new Store(db1);
    const first = [1, 2].map(() => nextContactOfficer(s1, team, 'fees', 'sv')?.officer.name);
    expect(first).toEqual(['Anna', 'Bo']);
    expect(s1.meta('assignment.turn')).toBe('2');
    db1.close();

    const db2 = openDatabase(file);
    const s2 = new Store(db2);
    const next = [1, 2, 3].map(() => nextContactOfficer(s2, team, 'fees', 'sv')?.officer.name);
    expect(next).toEqual(['Cia', 'Anna', 'Bo']);
    const choice = nextContactOfficer(s2, team, 'fees', 'sv');
    expect(choice?.rule).toBe('round-robin: any category, language sv');
    db2.close();
  });

  test('no one to choose: null, and the round does not advance', () => {
    const db = openDatabase(path.join(dir, 'k.db'));
    const s = new Store(db);
    expect(nextContactOfficer(s, [officer('X', { available: false })])).toBeNull();
    expect(s.meta('assignment.turn')).toBeUndefined();
    db.close();
  });
});

// ---------------------------------------------------------------------------------------------
// 7. Command mails on a real database
// ---------------------------------------------------------------------------------------------

interface World {
  dir: string;
  config: Config;
  store: Store;
  ctx: FilingContext;
  close(): void;
}

/**
 * These tests are about what a command does once it is carried out, so a final answer goes
 * straight to the customer here (approval.finalAnswer "none"); four eyes on final answers is
 * test/unit/approval.test.ts.
 */
function makeWorld(deadlines: Record<string, unknown> = {}): World {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-officers-'));
  const config = parseConfig(
    {
      firm: { name: 'Exempelfinans AB', complaintsAddress: COMPLAINTS, staffDomains: ['exempelfinans.se'], authservIds: [AUTHSERV] },
      sources: [{ type: 'maildir', path: 'maildir' }],
      dataDir: './data',
      officers: [
        { name: 'Maja Chef', address: MAJA, role: 'manager' },
        { name: 'Olle Handläggare', address: OLLE },
        { name: 'Petra Handläggare', address: PETRA },
        { name: 'Lisa Ledig', address: LISA, available: false },
      ],
      deadlines: {
        escalation: { enabled: false },
        // A firstAnswer milestone too, so that every milestone can be met.
        policies: ['promise-24h-14d', 'first-answer-5bd'],
        custom: { 'first-answer-5bd': { firstAnswer: { unit: 'businessDays', amount: 5 } } },
        ...deadlines,
      },
      approval: { finalAnswer: 'none' },
    },
    path.join(dir, 'config.json'),
  );
  const db = openDatabase(path.join(dir, 'data', 'klagomal.db'));
  const store = new Store(db);
  const calendars = calendarsFor(config.deadlines);
  const ctx: FilingContext = { store, config, templates: TEMPLATES, calendar: calendars.firm, calendars, log: silentLogger };
  return {
    dir,
    config,
    store,
    ctx,
    close() {
      db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

let mailSeq = 0;

function rawMail(o: {
  from?: string;
  to?: string;
  subject?: string;
  body?: string;
  messageId?: string;
  date?: string;
  headers?: string[];
  inReplyTo?: string;
}): Buffer {
  const lines = [
    ...(o.headers ?? []),
    `From: ${o.from ?? `Karin Kund <${CUSTOMER}>`}`,
    `To: ${o.to ?? COMPLAINTS}`,
    `Subject: ${o.subject ?? 'Felaktig avgift på min faktura'}`,
    `Date: ${o.date ?? 'Mon, 02 Mar 2026 09:00:00 +0100'}`,
    `Message-ID: <${o.messageId ?? `m${++mailSeq}@example.com`}>`,
    ...(o.inReplyTo ? [`In-Reply-To: <${o.inReplyTo}>`] : []),
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    o.body ??
      'Hej,\n\nni har tagit ut en avgift på 250 kr på min faktura för februari som jag inte känner igen. Jag vill att ni betalar tillbaka avgiften.\n\nMed vänlig hälsning\nKarin Kund',
    '',
  ];
  return Buffer.from(lines.join('\r\n'), 'utf8');
}

/** Store a raw mail as a source would, parse it, file it: the pipeline's path. */
async function fileRaw(w: World, bytes: Buffer, receivedAt = RECEIVED, now = receivedAt): Promise<FilingResult> {
  const [stored] = storeArrivals(
    w.store,
    w.config.dataDir,
    'klagomal',
    [{ raw: bytes, receivedAt, mailbox: null, locator: null, sourceKey: null }],
    toInstant(now),
  );
  const parsed = await parseMail(bytes, { dataDir: w.config.dataDir });
  return w.store.tx(() => processMail(w.ctx, w.store.inbound(stored.id)!, parsed, now));
}

async function fileComplaint(w: World, o: Parameters<typeof rawMail>[0] = {}): Promise<CaseRow> {
  const r = await fileRaw(w, rawMail(o));
  expect(r).toMatchObject({ kind: 'complaint', action: 'opened' });
  return w.store.caseById(r.caseId!)!;
}

/** An officer's command mail, run the way handleOfficerMail runs it (inside the filing transaction). */
function command(w: World, caseId: number, text: string, o: { from?: string; now?: Date } = {}): { out: CommandOutcome; inboundId: number } {
  const now = o.now ?? NOW;
  const from = o.from ?? OLLE;
  const bytes = Buffer.from(`From: ${from}\r\nSubject: command ${++mailSeq}\r\n\r\n${text}`);
  const { id } = w.store.tx(() =>
    w.store.storeInbound(
      {
        source: 'test',
        mailbox: null,
        locator: null,
        sourceKey: null,
        uidvalidity: null,
        uid: null,
        receivedAt: toInstant(now),
        sha256: sha256(bytes),
        size: bytes.length,
        raw: { bytes },
      },
      toInstant(now),
    ),
  );
  const out = w.store.tx(() =>
    runOfficerCommands(
      w.ctx,
      w.store.caseById(caseId)!,
      { address: from, name: null },
      parseCommandMail(text),
      { id, messageId: `cmd-${id}@exempelfinans.se` },
      now,
    ),
  );
  return { out, inboundId: id };
}

const outboxOf = (w: World, caseId: number, kind: string): OutboxRow[] => w.store.outboxOfCase(caseId).filter((o) => o.kind === kind);
const eventsOf = (w: World, caseId: number, type: string): EventRow[] => w.store.eventsOfCase(caseId).filter((e) => e.type === type);
const detail = (e: EventRow): Record<string, unknown> => JSON.parse(e.detail) as Record<string, unknown>;
const resultMail = (w: World, inboundId: number): OutboxRow | undefined =>
  w.store.listOutbox().find((o) => o.idempotency_key === `officer-command-result:${inboundId}`);

/** Twenty words of reasons. */
const ANSWER_SV =
  'Vi har gått igenom ditt ärende och kontrollerat avgiften på fakturan. Avgiften följer prislistan som gällde när du tecknade avtalet med oss.';
const ANSWER_EN =
  'We have looked into your complaint and checked the fee on your invoice. The fee follows the price list that applied when you signed the agreement.';
const words = (s: string): number => s.split(/\s+/).filter(Boolean).length;

describe('officer commands on a case', () => {
  let w: World;
  let c: CaseRow;

  beforeEach(async () => {
    w = makeWorld();
    c = await fileComplaint(w);
  });
  afterEach(() => w.close());

  test('a staff address that is not a configured officer cannot give commands', () => {
    const { out } = command(w, c.id, '#status in-progress\n#outcome upheld', { from: 'reception@exempelfinans.se' });
    expect(out.done).toEqual([]);
    expect(out.errors.map((e) => e.problem)).toEqual([
      'reception@exempelfinans.se is not a configured officer (config "officers"): commands are not carried out',
      'reception@exempelfinans.se is not a configured officer (config "officers"): commands are not carried out',
    ]);
    expect(w.store.caseById(c.id)).toMatchObject({ status: 'new', outcome: null });
  });

  test('#final and #ask in one mail, or two #final lines: refused, nothing doubled', () => {
    const both = command(w, c.id, `#final\n#ask\n${ANSWER_SV}`).out;
    expect(both.done).toEqual([]);
    expect(both.errors.map((e) => e.problem)).toEqual([
      '#final and #ask in one mail: send the answer and the questions separately',
      '#final and #ask in one mail: send the answer and the questions separately',
    ]);
    const twice = command(w, c.id, `#final\n#final\n${ANSWER_SV}`).out;
    expect(twice.done).toHaveLength(1);
    expect(twice.errors.map((e) => e.problem)).toEqual(['only one #final per mail']);
    expect(outboxOf(w, c.id, 'final-answer')).toHaveLength(1);
    expect(outboxOf(w, c.id, 'information-request')).toEqual([]);
  });

  test('the filed complaint the commands work on', () => {
    expect(c).toMatchObject({ number: 'KLG-2026-000001', status: 'new', category: 'fees', language: 'sv', contact_officer: OLLE, customer_address: CUSTOMER });
    expect(outboxOf(w, c.id, 'acknowledgement')).toHaveLength(1);
    expect(outboxOf(w, c.id, 'officer-new-case').map((o) => o.to_address)).toEqual([OLLE]);
    expect(w.store.deadline(c.id, 'finalAnswer')?.due_at).toBe('2026-03-16T22:59:59.000Z');
  });

  describe('#status', () => {
    test('in-progress: the status changes, with an event naming the officer', () => {
      const { out, inboundId } = command(w, c.id, '#status in-progress');
      expect(out.errors).toEqual([]);
      expect(out.done).toEqual([{ line: '#status in-progress', result: 'status: new -> in-progress' }]);
      expect(w.store.caseById(c.id)!.status).toBe('in-progress');
      const [changed] = eventsOf(w, c.id, 'status-changed');
      expect(changed).toMatchObject({ actor: `officer:${OLLE}`, from_state: 'new', to_state: 'in-progress' });
      const [cmd] = eventsOf(w, c.id, 'officer-command');
      expect(cmd.inbound_id).toBe(inboundId);
      expect(detail(cmd)).toEqual({ command: '#status in-progress', result: 'status: new -> in-progress' });
      // The same status again is no change and no error.
      expect(command(w, c.id, '#status in-progress').out.done[0].result).toBe('status is already in-progress');
      expect(eventsOf(w, c.id, 'status-changed')).toHaveLength(1);
    });

    test('a mistyped command: an error with a suggestion, nothing changes', () => {
      const { out, inboundId } = command(w, c.id, '#stat closed');
      expect(out.done).toEqual([]);
      expect(out.errors).toHaveLength(1);
      expect(out.errors[0]).toMatchObject({ lineNumber: 1, line: '#stat closed' });
      expect(out.errors[0].problem).toContain("did you mean '#status'");
      expect(out.errors[0].problem).toContain('#assign, #status');
      expect(w.store.caseById(c.id)!.status).toBe('new');
      const [refused] = eventsOf(w, c.id, 'officer-command-refused');
      expect(detail(refused)).toMatchObject({ command: '#stat closed', line: 1 });
      // The confirmation is in the officer's language (Swedish, the first of Olle's languages).
      expect(resultMail(w, inboundId)!.body_text).toContain("menade du '#status'");
    });

    test('an unknown status: the allowed ones are listed', () => {
      const { out } = command(w, c.id, '#status klar');
      // `new` is set only when a case is opened (issue 13: `#status new` was accepted).
      expect(out.errors[0].problem).toBe("unknown status 'klar'; allowed: in-progress, awaiting-customer, answered, closed");
      expect(command(w, c.id, '#status new').out.errors[0].problem).toMatch(/^unknown status 'new'/);
      expect(command(w, c.id, '#status').out.errors[0].problem).toMatch(/^status missing; allowed:/);
    });

    test('closed without an outcome is refused', () => {
      const { out } = command(w, c.id, '#status closed');
      expect(out.errors[0].problem).toMatch(/set the outcome first/);
      expect(w.store.caseById(c.id)!.status).toBe('new');
    });

    test('closed after an outcome', () => {
      const { out } = command(w, c.id, '#outcome upheld\n#status closed');
      expect(out.errors).toEqual([]);
      expect(w.store.caseById(c.id)).toMatchObject({ status: 'closed', outcome: 'upheld', decided_by: OLLE });
    });
  });

  describe('#outcome and #final', () => {
    test('rejected without a final answer is refused: a reasoned answer comes first', () => {
      const { out } = command(w, c.id, '#outcome rejected');
      expect(out.errors).toHaveLength(1);
      expect(out.errors[0].problem).toContain("'rejected' needs a written, reasoned answer to the customer first");
      expect(out.errors[0].problem).toContain(`at least ${FINAL_MIN_WORDS} words`);
      expect(w.store.caseById(c.id)!.outcome).toBeNull();
      expect(command(w, c.id, '#outcome partly-upheld').out.errors[0].problem).toContain("'partly-upheld' needs a written, reasoned answer");
      // upheld and withdrawn need none.
      expect(command(w, c.id, '#outcome withdrawn').out.errors).toEqual([]);
      expect(w.store.caseById(c.id)!.outcome).toBe('withdrawn');
    });

    test('rejected + #final + a reasoned answer in one mail: both done, the answer goes to the customer with the ARN paragraph', () => {
      expect(words(ANSWER_SV)).toBeGreaterThanOrEqual(20);
      const { out, inboundId } = command(w, c.id, `#outcome rejected\n#final\n\n${ANSWER_SV}\n`);
      expect(out.errors).toEqual([]);
      expect(out.done.map((d) => d.line)).toEqual(['#outcome rejected', '#final']);
      expect(out.done[1].result).toBe(`final answer queued to the customer (${words(ANSWER_SV)} words, with the escalation paragraph); status answered`);
      expect(out.note).toBeNull();

      const after = w.store.caseById(c.id)!;
      expect(after).toMatchObject({ status: 'answered', outcome: 'rejected', decided_by: OLLE });
      const [final] = outboxOf(w, c.id, 'final-answer');
      expect(final.to_address).toBe(CUSTOMER);
      expect(final.language).toBe('sv');
      expect(final.status).toBe('queued');
      expect(final.body_text).toContain(ANSWER_SV);
      expect(final.body_text).toContain('Allmänna reklamationsnämnden (ARN)');
      expect(final.body_text).toContain('allmän domstol');
      expect(final.body_text).toContain('Konsumenternas Bank- och finansbyrå');
      expect(final.subject).toContain('[KLG-2026-000001]');
      // Threaded on the customer's complaint.
      expect(final.in_reply_to).toBe(w.store.messagesOfCase(c.id)[0].message_id);
      expect(hasReasonedAnswer(w.store, c.id)).toBe(true);

      const queued = eventsOf(w, c.id, 'final-answer-queued');
      expect(queued).toHaveLength(1);
      expect(queued[0].outbox_id).toBe(final.id);
      expect(detail(queued[0])).toMatchObject({ messageId: final.message_id, words: words(ANSWER_SV) });
      expect(eventsOf(w, c.id, 'outcome-set').map(detail)).toEqual([{ outcome: 'rejected', previous: null }]);
      expect(eventsOf(w, c.id, 'status-changed').map((e) => [e.from_state, e.to_state])).toEqual([['new', 'answered']]);
      // No note: the text was the customer's answer.
      expect(eventsOf(w, c.id, 'note-added')).toEqual([]);
      expect(resultMail(w, inboundId)!.body_text).toContain('slutligt svar köat till kunden');

      // Now the case has its reasoned answer: a later rejected is accepted on its own.
      expect(command(w, c.id, '#outcome partly-upheld').out.errors).toEqual([]);
    });

    test('an English case gets the English escalation paragraph, and the compensation of the same mail', async () => {
      const en = await fileComplaint(w, {
        from: 'John Smith <john@example.org>',
        subject: 'Wrong fee on my invoice',
        body: 'Hello,\n\nyou have charged me a fee on my invoice that I do not recognise. I would like you to pay it back to my account as soon as you can.\n\nThank you,\nJohn Smith',
      });
      expect(en.language).toBe('en');
      const { out } = command(w, en.id, `#outcome partly-upheld\n#compensation 150 kr\n#final\n${ANSWER_EN}`);
      expect(out.errors).toEqual([]);
      const [final] = outboxOf(w, en.id, 'final-answer');
      expect(final.language).toBe('en');
      expect(final.to_address).toBe('john@example.org');
      expect(final.body_text).toContain(ANSWER_EN);
      expect(final.body_text).toContain('Allmänna reklamationsnämnden (ARN, the National Board for Consumer Disputes)');
      expect(final.body_text).toContain('general court');
      expect(final.body_text).toMatch(/We will pay you .*150/);
    });

    test('#final with a five-word answer is refused, and so is the outcome that leans on it', () => {
      const { out } = command(w, c.id, '#outcome rejected\n#final\nVi beklagar men nej tack.');
      expect(out.done).toEqual([]);
      expect(out.errors.map((e) => e.lineNumber)).toEqual([1, 2]);
      expect(out.errors[1].problem).toContain(`it needs at least ${FINAL_MIN_WORDS} words`);
      expect(outboxOf(w, c.id, 'final-answer')).toEqual([]);
      expect(w.store.caseById(c.id)).toMatchObject({ status: 'new', outcome: null });
    });

    // The #final of the same mail counts for #outcome only if it will really be sent.
    test('rejected is not recorded when the #final it relies on is refused', () => {
      w.store.tx(() => w.store.markAddressFailing(CUSTOMER, toInstant(RECEIVED), '2026-04-30T00:00:00.000Z', 'test: permanent bounce', null));
      const { out } = command(w, c.id, `#outcome rejected\n#final\n${ANSWER_SV}`);
      expect(out.errors.map((e) => e.lineNumber)).toContain(2);
      expect(outboxOf(w, c.id, 'final-answer')).toEqual([]);
      expect(w.store.caseById(c.id)!.outcome).toBeNull();
    });

    test('#final to a bouncing address is refused with the reason', () => {
      w.store.tx(() => w.store.markAddressFailing(CUSTOMER, toInstant(RECEIVED), '2026-04-30T00:00:00.000Z', 'test: permanent bounce', null));
      const { out } = command(w, c.id, `#final\n${ANSWER_SV}`);
      expect(out.errors[0].problem).toBe(`mail to ${CUSTOMER} bounces (until 2026-04-30T00:00:00.000Z): answer the customer another way`);
    });
  });

  describe('#ask', () => {
    test('questions to the customer: an information request, status awaiting-customer, answer by in 10 days', () => {
      const questions = 'Kan du skicka en kopia av fakturan? Vilket datum drogs avgiften?';
      const { out } = command(w, c.id, `#ask\n${questions}`);
      expect(out.errors).toEqual([]);
      expect(out.done[0].result).toBe('questions queued to the customer; status awaiting-customer');
      const [req] = outboxOf(w, c.id, 'information-request');
      expect(req.to_address).toBe(CUSTOMER);
      expect(req.body_text).toContain(questions);
      expect(w.store.caseById(c.id)!.status).toBe('awaiting-customer');
      const [ev] = eventsOf(w, c.id, 'information-requested');
      expect(ev.outbox_id).toBe(req.id);
      expect(detail(ev).answerBy).toBe('2026-03-13T09:00:00.000Z');
      expect(eventsOf(w, c.id, 'note-added')).toEqual([]);
    });

    test('#ask with a date; a bad date and no questions are refused', () => {
      expect(command(w, c.id, '#ask 2026-03-20\nVilket datum drogs avgiften?').out.errors).toEqual([]);
      expect(detail(eventsOf(w, c.id, 'information-requested')[0]).answerBy).toBe('2026-03-20T12:00:00.000Z');
      expect(command(w, c.id, '#ask snart\nVilket datum?').out.errors[0].problem).toBe(
        "'snart' is not a date; write #ask or #ask YYYY-MM-DD (when the customer should answer by)",
      );
      expect(command(w, c.id, '#ask').out.errors[0].problem).toBe('write the questions for the customer after the command lines');
      expect(outboxOf(w, c.id, 'information-request')).toHaveLength(1);
    });

    test('#ask with an answer-by date in the past is refused', () => {
      const { out } = command(w, c.id, '#ask 2020-01-01\nVilket datum drogs avgiften?');
      expect(out.errors).toHaveLength(1);
      expect(outboxOf(w, c.id, 'information-request')).toEqual([]);
    });
  });

  describe('#extend and #holding', () => {
    test('a few days after the current due date: moved, with a delay notice to the customer', () => {
      const { out } = command(w, c.id, '#extend 2026-03-20 Vi väntar på underlag från banken');
      expect(out.errors).toEqual([]);
      expect(out.done[0].result).toBe('final answer due 2026-03-16T23:59:59+01:00 -> 2026-03-20T23:59:59+01:00; the customer gets a delay notice');
      expect(w.store.deadline(c.id, 'finalAnswer')?.due_at).toBe('2026-03-20T22:59:59.000Z');
      const [notice] = outboxOf(w, c.id, 'delay-notice');
      expect(notice.to_address).toBe(CUSTOMER);
      expect(notice.body_text).toContain('Vi väntar på underlag från banken');
      expect(detail(eventsOf(w, c.id, 'deadline-extended')[0])).toMatchObject({
        milestone: 'finalAnswer',
        from: '2026-03-16T22:59:59.000Z',
        to: '2026-03-20T22:59:59.000Z',
        reason: 'Vi väntar på underlag från banken',
        holdingReply: false,
      });
      expect(eventsOf(w, c.id, 'delay-notice-queued')[0].outbox_id).toBe(notice.id);
    });

    test('far in the future: no statutory limit on a case outside PSD2, so it is accepted', () => {
      const { out } = command(w, c.id, '#extend 2099-01-01 Vi väntar på domstolens avgörande');
      expect(out.errors).toEqual([]);
      expect(w.store.deadline(c.id, 'finalAnswer')?.due_at).toBe('2099-01-01T22:59:59.000Z');
    });

    test('a date before the current deadline, a passed date, malformed lines and a missing reason are refused', () => {
      expect(command(w, c.id, '#extend 2026-03-01 Vi väntar på underlag').out.errors[0].problem).toBe(
        '2026-03-01 is not later than the current deadline 2026-03-16T23:59:59+01:00',
      );
      // After the deadline: a new date later than it but already passed.
      expect(command(w, c.id, '#extend 2026-03-17 Vi väntar på underlag', { now: new Date('2026-03-18T10:00:00+01:00') }).out.errors[0].problem).toBe(
        '2026-03-17 has already passed',
      );
      for (const line of ['#extend 20-03-2026 Vi väntar', '#extend 2026-02-30 Vi väntar', '#extend 2026-03-20', '#extend']) {
        const e = command(w, c.id, line).out.errors;
        expect(e).toHaveLength(1);
        expect(e[0].problem).toMatch(/^write #extend YYYY-MM-DD and the reason the customer is told/);
      }
      expect(command(w, c.id, '#extend 2026-03-20 abc').out.errors[0].problem).toMatch(/a reason is required/);
      expect(w.store.deadline(c.id, 'finalAnswer')?.due_at).toBe('2026-03-16T22:59:59.000Z');
      expect(outboxOf(w, c.id, 'delay-notice')).toEqual([]);
      expect(eventsOf(w, c.id, 'deadline-extended')).toEqual([]);
    });

    // #note and the text after #final / #ask are masked; so is the reason of #extend / #holding.
    test('a personnummer in the #extend reason is masked wherever it is stored', () => {
      command(w, c.id, '#extend 2026-03-20 Vi väntar på besked från banken om kontot för 19850412-1230');
      expect(w.store.deadline(c.id, 'finalAnswer')?.due_at).toBe('2026-03-20T22:59:59.000Z');
      for (const e of w.store.eventsOfCase(c.id)) expect(e.detail).not.toContain('1230');
      expect(w.store.deadline(c.id, 'finalAnswer')!.rule).not.toContain('1230');
      for (const o of w.store.outboxOfCase(c.id)) expect(o.body_text).not.toContain('1230');
    });

    test('#holding is only for PSD2 cases', () => {
      expect(command(w, c.id, '#holding 2026-03-20 Vi väntar på underlag').out.errors[0].problem).toBe(
        'a holding reply is for payment-service complaints under PSD2; KLG-2026-000001 has no PSD2 limit (#regime psd2 makes it a PSD2 case)',
      );
    });

    test('on a PSD2 case: not beyond the 35-business-day limit; a holding reply within it', () => {
      command(w, c.id, '#category payments');
      const max = w.store.deadline(c.id, 'finalAnswerMax')!;
      expect(max.policy).toBe('psd2');
      const refused = command(w, c.id, '#extend 2099-01-01 Vi väntar på domstolens avgörande').out.errors[0].problem;
      expect(refused).toContain('PSD2');
      expect(refused).toContain('at the latest');
      const { out } = command(w, c.id, '#holding 2026-04-01 Vi väntar på underlag från mottagarens bank');
      expect(out.errors).toEqual([]);
      expect(detail(eventsOf(w, c.id, 'deadline-extended')[0])).toMatchObject({ holdingReply: true });
      expect(outboxOf(w, c.id, 'delay-notice')).toHaveLength(1);
    });
  });

  describe('#assign', () => {
    test('another officer: contact person changed, notified with the complaint attached', () => {
      const { out, inboundId } = command(w, c.id, '#assign Petra <petra@exempelfinans.se>');
      expect(out.errors).toEqual([]);
      expect(out.done[0].result).toBe(`contact person: ${OLLE} -> ${PETRA} (notified)`);
      expect(w.store.caseById(c.id)!.contact_officer).toBe(PETRA);
      const toPetra = outboxOf(w, c.id, 'officer-new-case').filter((o) => o.to_address === PETRA);
      expect(toPetra).toHaveLength(1);
      expect(toPetra[0].attach_inbound_id).toBe(w.store.messagesOfCase(c.id)[0].inbound_id);
      expect(toPetra[0].idempotency_key).toBe(`officer-new-case:${c.id}:${PETRA}:assigned-${inboundId}`);
      const assigned = eventsOf(w, c.id, 'contact-assigned');
      expect(detail(assigned[assigned.length - 1])).toEqual({ officer: PETRA, name: 'Petra Handläggare', rule: 'by officer', previous: OLLE });
      expect(eventsOf(w, c.id, 'officer-notified').some((e) => e.outbox_id === toPetra[0].id)).toBe(true);
      // Again: nothing new.
      expect(command(w, c.id, `#assign ${PETRA}`).out.done[0].result).toBe('Petra Handläggare is already the contact person');
      expect(outboxOf(w, c.id, 'officer-new-case').filter((o) => o.to_address === PETRA)).toHaveLength(1);
    });

    test('someone who is not an officer: an error listing the allowed addresses', () => {
      const { out } = command(w, c.id, '#assign someone@else.se');
      expect(out.errors[0].problem).toBe(`someone@else.se is not a configured officer; allowed: ${MAJA}, ${OLLE}, ${PETRA}, ${LISA}`);
      expect(command(w, c.id, `#assign ${LISA}`).out.errors[0].problem).toBe('Lisa Ledig is marked unavailable in the config');
      expect(command(w, c.id, '#assign Petra').out.errors[0].problem).toMatch(/^an officer's address is needed/);
      expect(w.store.caseById(c.id)!.contact_officer).toBe(OLLE);
    });
  });

  describe('#category', () => {
    test('payments on a case under the 14-day promise: PSD2 15 business days is later, so finalAnswer stays; the PSD2 limit is added', () => {
      // Received Mon 2 Mar: 14 calendar days = 16 Mar; 15 business days = 23 Mar (never earlier than 21 calendar days).
      const { out } = command(w, c.id, '#category payments');
      expect(out.errors).toEqual([]);
      expect(out.done[0].result).toMatch(
        /^category: fees -> payments; finalAnswerMax now due 2026-04-2\dT23:59:59\+02:00 \(psd2\); regime: PSD2 \(15 business days, at most 35 with a holding reply\)$/,
      );
      expect(w.store.caseById(c.id)!.category).toBe('payments');
      expect(w.store.deadline(c.id, 'finalAnswer')).toMatchObject({ due_at: '2026-03-16T22:59:59.000Z', policy: 'promise-24h-14d' });
      expect(detail(eventsOf(w, c.id, 'category-changed')[0])).toEqual({ from: 'fees', to: 'payments' });
      const set = eventsOf(w, c.id, 'deadline-set').filter((e) => detail(e).reason === 'category payments');
      expect(set.map((e) => detail(e).milestone)).toEqual(['finalAnswerMax']);
      expect(command(w, c.id, '#category payments').out.done[0].result).toBe('category is already payments');
      expect(command(w, c.id, '#category betalningar').out.errors[0].problem).toMatch(/^unknown category 'betalningar'.*allowed: .*payments.*other$/);
    });
  });

  describe('#compensation, #related, #assessment, #note', () => {
    test('#compensation 1 250 -> 1250 kr; nonsense is refused', () => {
      expect(command(w, c.id, '#compensation 1 250').out.done[0].result).toBe('compensation: 1250 kr');
      expect(w.store.caseById(c.id)!.compensation_sek).toBe(1250);
      expect(detail(eventsOf(w, c.id, 'compensation-set')[0])).toEqual({ sek: 1250, previous: null });
      expect(command(w, c.id, '#compensation mycket').out.errors[0].problem).toMatch(/an amount in SEK is needed/);
      expect(w.store.caseById(c.id)!.compensation_sek).toBe(1250);
    });

    test('#related another case: related both ways, with an event on each', async () => {
      const other = await fileComplaint(w, { from: 'Nils Nilsson <nils@example.net>', subject: 'Avgift igen', messageId: 'other@example.net' });
      const { out } = command(w, c.id, `#related ${other.number.toLowerCase()}`);
      expect(out.errors).toEqual([]);
      expect(out.done[0].result).toBe(`related to ${other.number} (new)`);
      expect(w.store.relatedCases(w.store.caseById(c.id)!, 0).map((r) => [r.number, r.relation])).toEqual([[other.number, 'related']]);
      expect(w.store.relatedCases(w.store.caseById(other.id)!, 0).map((r) => [r.number, r.relation])).toEqual([[c.number, 'related']]);
      expect(detail(eventsOf(w, c.id, 'case-related')[0])).toEqual({ related: other.number });
      expect(detail(eventsOf(w, other.id, 'case-related')[0])).toEqual({ related: c.number });
      expect(command(w, other.id, `#related ${c.number}`).out.done[0].result).toBe(`already related to ${c.number}`);
      expect(command(w, c.id, `#related ${c.number}`).out.errors[0].problem).toBe('a case cannot be related to itself');
      expect(command(w, c.id, '#related KLG-2026-999999').out.errors[0].problem).toBe('no case KLG-2026-999999');
      expect(command(w, c.id, '#related förra ärendet').out.errors[0].problem).toMatch(/^a case number is needed, e\.g\. #related KLG-/);
    });

    test('#assessment: items set in the JSON checklist, ja/nej read, mistakes refused', () => {
      command(w, c.id, '#assessment training ja\n#assessment changed-routines nej\n#assessment other-complaints');
      expect(JSON.parse(w.store.caseById(c.id)!.assessment)).toEqual({ training: true, 'changed-routines': false, 'other-complaints': true });
      expect(command(w, c.id, '#assessment traning').out.errors[0].problem).toContain("did you mean 'training'");
      expect(command(w, c.id, '#assessment training kanske').out.errors[0].problem).toBe("'kanske' is not yes or no (ja/nej)");
      expect(JSON.parse(w.store.caseById(c.id)!.assessment)).toEqual({ training: true, 'changed-routines': false, 'other-complaints': true });
    });

    test('#note: the personnummer is masked in the note and in the command event', () => {
      // 19850412-1230 passes the Luhn check (19850412-1234 does not: it is no personnummer and stays as written).
      const { out, inboundId } = command(w, c.id, '#note Kunden ringde, personnummer 19850412-1230, vill ha svar per brev');
      expect(out.done[0]).toEqual({ line: '#note Kunden ringde, personnummer 19850412-****, vill ha svar per brev', result: 'note recorded' });
      const [note] = eventsOf(w, c.id, 'note-added');
      expect(detail(note).text).toBe('Kunden ringde, personnummer 19850412-****, vill ha svar per brev');
      for (const e of w.store.eventsOfInbound(inboundId)) expect(e.detail).not.toContain('1230');
      expect(resultMail(w, inboundId)!.body_text).not.toContain('1230');
      expect(command(w, c.id, '#note').out.errors[0].problem).toBe('#note needs a text on the same line');
    });

    test('the rest of a command mail is a masked note', () => {
      const { out } = command(w, c.id, '#status in-progress\nRingde kunden (850412-1230), hon skickar kvittot.');
      expect(out.note).toBe('Ringde kunden (19850412-****), hon skickar kvittot.');
      expect(eventsOf(w, c.id, 'note-added').map((e) => detail(e).text)).toEqual(['Ringde kunden (19850412-****), hon skickar kvittot.']);
    });
  });

  describe('the confirmation to the officer', () => {
    test('every command mail: exactly one confirmation to the sender, listing what was done and every error with its line', () => {
      const before = outboxOf(w, c.id, 'officer-command-result').length;
      const { out, inboundId } = command(w, c.id, '#status in-progress\n#compensation 500\n\n#stat closed\n#assign nobody@else.se\nTack!');
      expect(out.done.map((d) => d.line)).toEqual(['#status in-progress', '#compensation 500']);
      expect(out.errors.map((e) => e.lineNumber)).toEqual([4, 5]);
      const results = outboxOf(w, c.id, 'officer-command-result');
      expect(results).toHaveLength(before + 1);
      const r = resultMail(w, inboundId)!;
      expect(r.to_address).toBe(OLLE);
      expect(r.in_reply_to).toBe(`cmd-${inboundId}@exempelfinans.se`);
      expect(r.body_text).toContain('#status in-progress  ->  status: new -> in-progress');
      expect(r.body_text).toContain('#compensation 500  ->  ersättning: 500 kr');
      expect(r.body_text).toContain('rad 4: #stat closed');
      expect(r.body_text).toContain("menade du '#status'");
      expect(r.body_text).toContain('rad 5: #assign nobody@else.se');
      expect(r.body_text).toContain('Tack!');
      // Each command also ran on its own: the good ones are on the case.
      expect(w.store.caseById(c.id)).toMatchObject({ status: 'in-progress', compensation_sek: 500 });
    });

    test('a mail with only a note: a note-added event, no confirmation', () => {
      const before = w.store.listOutbox().length;
      const { out, inboundId } = command(w, c.id, '\nRingde kunden, hon återkommer i morgon.\n');
      expect(out).toEqual({ done: [], errors: [], note: 'Ringde kunden, hon återkommer i morgon.' });
      expect(w.store.listOutbox()).toHaveLength(before);
      expect(resultMail(w, inboundId)).toBeUndefined();
      const [note] = eventsOf(w, c.id, 'note-added');
      expect(note).toMatchObject({ inbound_id: inboundId, actor: `officer:${OLLE}` });
    });
  });

  describe('a closed case', () => {
    beforeEach(() => {
      expect(command(w, c.id, '#outcome upheld\n#status closed').out.errors).toEqual([]);
    });

    test('only #status, #note, #related and #assessment are carried out', async () => {
      const other = await fileComplaint(w, { from: 'nils@example.net', subject: 'Avgift igen', messageId: 'other2@example.net' });
      const { out } = command(
        w,
        c.id,
        [
          '#category payments',
          '#compensation 100',
          '#assign petra@exempelfinans.se',
          '#outcome withdrawn',
          '#extend 2026-03-20 Vi väntar på underlag',
          '#final',
          '#note efterhandsanteckning',
          `#related ${other.number}`,
          '#assessment training ja',
          ANSWER_SV,
        ].join('\n'),
      );
      expect(out.done.map((d) => d.line)).toEqual(['#note efterhandsanteckning', `#related ${other.number}`, '#assessment training ja']);
      expect(out.errors.map((e) => e.lineNumber)).toEqual([1, 2, 3, 4, 5, 6]);
      for (const e of out.errors) expect(e.problem).toBe('KLG-2026-000001 is closed; reopen it first with #reopen and the reason');
      expect(w.store.caseById(c.id)).toMatchObject({ status: 'closed', outcome: 'upheld', category: 'fees', compensation_sek: null, contact_officer: OLLE });
      expect(outboxOf(w, c.id, 'final-answer')).toEqual([]);
      expect(outboxOf(w, c.id, 'delay-notice')).toEqual([]);
    });

    // Issue 13: a closed case was reopened by `#status in-progress`, with no reason on record.
    test('closedCaseIsNotReopenedByStatus: #status refuses, #reopen with a reason reopens it', () => {
      const refused = command(w, c.id, '#status in-progress\n#compensation 100').out.errors;
      expect(refused.map((e) => e.problem)).toEqual([
        'KLG-2026-000001 is closed: reopen it with #reopen and the reason',
        'KLG-2026-000001 is closed; reopen it first with #reopen and the reason',
      ]);
      expect(w.store.caseById(c.id)).toMatchObject({ status: 'closed', compensation_sek: null });
      expect(command(w, c.id, '#reopen').out.errors[0].problem).toMatch(/^#reopen needs the reason/);
      expect(command(w, c.id, '#reopen kunden är inte nöjd och har skickat nya kvitton\n#compensation 100').out.errors).toEqual([]);
      expect(w.store.caseById(c.id)).toMatchObject({ status: 'in-progress', compensation_sek: 100, outcome: 'upheld' });
      const events = w.store.eventsOfCase(c.id);
      const reopened = events.findIndex((e) => e.type === 'case-reopened');
      expect(JSON.parse(events[reopened].detail)).toEqual({ reason: 'kunden är inte nöjd och har skickat nya kvitton', previousOutcome: 'upheld' });
      expect(events[reopened + 1]).toMatchObject({ type: 'status-changed', from_state: 'closed', to_state: 'in-progress' });
      expect(command(w, c.id, '#reopen igen av misstag').out.errors[0].problem).toBe('KLG-2026-000001 is not closed (in-progress)');
    });
  });
});

describe('#category on a case whose own deadline is later than PSD2', () => {
  let w: World;
  afterEach(() => w.close());

  test('the stricter PSD2 finalAnswer replaces the 60-day one', async () => {
    w = makeWorld({
      policies: ['slow-60d'],
      custom: { 'slow-60d': { acknowledgement: { unit: 'hours', amount: 24 }, finalAnswer: { unit: 'calendarDays', amount: 60 } } },
    });
    const c = await fileComplaint(w);
    expect(w.store.deadline(c.id, 'finalAnswer')?.due_at).toBe('2026-05-01T21:59:59.000Z'); // 1 May, summer time
    const { out } = command(w, c.id, '#category payments');
    expect(out.errors).toEqual([]);
    // Mon 2 Mar + 15 business days = Mon 23 Mar.
    expect(out.done[0].result).toContain('finalAnswer now due 2026-03-23T23:59:59+01:00 (psd2)');
    expect(w.store.deadline(c.id, 'finalAnswer')).toMatchObject({ due_at: '2026-03-23T22:59:59.000Z', met_at: null });
    expect(w.store.deadline(c.id, 'finalAnswerMax')?.policy).toBe('psd2');
    const milestones = eventsOf(w, c.id, 'deadline-set')
      .filter((e) => detail(e).reason === 'category payments')
      .map((e) => detail(e).milestone);
    expect(milestones.sort()).toEqual(['finalAnswer', 'finalAnswerMax']);
  });
});

// ---------------------------------------------------------------------------------------------
// Officer mail through the whole filing path
// ---------------------------------------------------------------------------------------------

describe('an officer mail filed like any other', () => {
  let w: World;
  let c: CaseRow;
  beforeEach(async () => {
    w = makeWorld();
    c = await fileComplaint(w);
  });
  afterEach(() => w.close());

  const officerMail = (headers: string[], body: string): Buffer =>
    rawMail({
      headers,
      from: `Olle Handläggare <${OLLE}>`,
      subject: `SV: [${c.number}] Felaktig avgift på min faktura`,
      date: 'Tue, 03 Mar 2026 10:00:00 +0100',
      body,
    });

  test('authenticated by our server: the commands run', async () => {
    const r = await fileRaw(
      w,
      officerMail([`Authentication-Results: ${AUTHSERV}; dkim=pass header.d=exempelfinans.se`], '#status in-progress\n#compensation 1 250\n'),
      NOW,
    );
    expect(r).toMatchObject({ kind: 'officer', action: 'attached', caseId: c.id });
    expect(w.store.caseById(c.id)).toMatchObject({ status: 'in-progress', compensation_sek: 1250 });
    expect(resultMail(w, r.inboundId)?.to_address).toBe(OLLE);
  });

  // Found by a review: an officer answered case A's notification (threaded on A) but retitled it
  // with case B's tag for Bertil: the commands ran on A, and A's customer got Bertil's answer.
  test('officerMailWithConflictingTagAndThreadRefusesFinal: threaded on one case, tagged with another: filed on the threaded case, nothing to either customer', async () => {
    const BERTIL = 'bertil@example.com';
    const b = await fileComplaint(w, {
      from: `Bertil Kund <${BERTIL}>`,
      subject: 'Fel ränta på mitt lån',
      body: 'Hej,\n\nni har tagit ut för hög ränta på mitt lån i februari. Jag vill ha tillbaka mellanskillnaden.\n\nBertil Kund',
    });
    const [notification] = outboxOf(w, c.id, 'officer-new-case');
    const AR = `Authentication-Results: ${AUTHSERV}; dkim=pass header.d=exempelfinans.se`;
    const r = await fileRaw(
      w,
      rawMail({
        headers: [AR, `References: <${notification.message_id}>`],
        inReplyTo: notification.message_id,
        from: `Olle Handläggare <${OLLE}>`,
        subject: `[${b.number}] svar till Bertil`,
        date: 'Tue, 03 Mar 2026 10:00:00 +0100',
        body: `#compensation 250\n#final\n\nHej Bertil, ${ANSWER_SV}`,
      }),
      NOW,
    );
    // Filed on the case it is threaded on, as before; the conflict is in its reason.
    expect(r).toMatchObject({ kind: 'officer', caseId: c.id });
    expect(r.reason).toContain(`; the subject names ${b.number}`);
    // Nothing to either customer; the officer is told why, in Swedish.
    expect(outboxOf(w, c.id, 'final-answer')).toEqual([]);
    expect(outboxOf(w, b.id, 'final-answer')).toEqual([]);
    const refused = eventsOf(w, c.id, 'officer-command-refused').map((e) => detail(e));
    const inDoubt = expect.stringContaining(`this mail is a reply on ${c.number} (In-Reply-To/References) but its subject names ${b.number}`);
    expect(refused).toEqual([
      expect.objectContaining({ command: '#compensation 250', problem: inDoubt }),
      expect.objectContaining({ command: '#final', problem: inDoubt }),
    ]);
    const told = resultMail(w, r.inboundId)!;
    expect(told.to_address).toBe(OLLE);
    expect(told.body_text).toContain(`det här mejlet är ett svar i ${c.number} (In-Reply-To/References) men ämnesraden anger ${b.number}`);
    // Nor does the case's record change: which case the compensation was for is in doubt too.
    expect(w.store.caseById(c.id)!.compensation_sek).toBeNull();
    expect(w.store.caseById(b.id)!.compensation_sek).toBeNull();
    // The same reply with the case's own tag sends the answer (the usual flow is unchanged).
    const ok = await fileRaw(
      w,
      rawMail({
        headers: [AR, `References: <${notification.message_id}>`],
        inReplyTo: notification.message_id,
        from: `Olle Handläggare <${OLLE}>`,
        subject: `SV: [${c.number}] Felaktig avgift på min faktura`,
        date: 'Tue, 03 Mar 2026 10:05:00 +0100',
        body: `#final\n\n${ANSWER_SV}`,
      }),
      NOW,
    );
    expect(ok).toMatchObject({ kind: 'officer', caseId: c.id });
    expect(outboxOf(w, c.id, 'final-answer')).toHaveLength(1);
  });

  // Found by a review: in the same retitled reply, #final was refused but the case it was
  // threaded on was still decided and closed (#outcome, #compensation, #status ran on A).
  test('conflictingTagStillClosedTheThreadedCase: threaded on one case, tagged with another: no command changes either case; a note is kept', async () => {
    const b = await fileComplaint(w, {
      from: 'Bertil Kund <bertil@example.com>',
      subject: 'Fel ränta på mitt lån',
      body: 'Hej,\n\nni har tagit ut för hög ränta på mitt lån i februari. Jag vill ha tillbaka mellanskillnaden.\n\nBertil Kund',
    });
    const [notification] = outboxOf(w, c.id, 'officer-new-case');
    const before = w.store.caseById(c.id)!;
    const r = await fileRaw(
      w,
      rawMail({
        headers: [`Authentication-Results: ${AUTHSERV}; dkim=pass header.d=exempelfinans.se`, `References: <${notification.message_id}>`],
        inReplyTo: notification.message_id,
        from: `Olle Handläggare <${OLLE}>`,
        subject: `[${b.number}] svar till Bertil`,
        date: 'Tue, 03 Mar 2026 10:00:00 +0100',
        body: `#note Bertil ringde om räntan\n#outcome upheld\n#compensation 250\n#inadmissible inte ett klagomål\n#status closed\n#final\n\nHej Bertil, ${ANSWER_SV}`,
      }),
      NOW,
    );
    expect(r).toMatchObject({ kind: 'officer', caseId: c.id });
    // Neither case decided, closed or answered.
    for (const x of [c, b]) expect(w.store.caseById(x.id)).toMatchObject({ status: 'new', outcome: null, compensation_sek: null, inadmissible_reason: null });
    expect(w.store.caseById(c.id)!.updated_at).toBe(before.updated_at);
    expect(eventsOf(w, c.id, 'status-changed')).toEqual([]);
    expect(outboxOf(w, c.id, 'final-answer')).toEqual([]);
    expect(outboxOf(w, b.id, 'final-answer')).toEqual([]);
    // Every command but the note refused, each with both cases named and what to do.
    const refused = eventsOf(w, c.id, 'officer-command-refused').map((e) => detail(e));
    expect(refused.map((x) => x.command)).toEqual(['#outcome upheld', '#compensation 250', '#inadmissible inte ett klagomål', '#final', '#status closed']);
    for (const x of refused) {
      expect(x.problem).toContain(`this mail is a reply on ${c.number} (In-Reply-To/References) but its subject names ${b.number}`);
      expect(x.problem).toContain("reply in that case's own thread, or write a new mail with only its tag");
    }
    expect(eventsOf(w, c.id, 'note-added').map((e) => detail(e).text)).toEqual(['Bertil ringde om räntan']);
    // Told in the officer's language (Swedish), with the way out.
    const told = resultMail(w, r.inboundId)!.body_text;
    expect(told).toContain(`det här mejlet är ett svar i ${c.number} (In-Reply-To/References) men ämnesraden anger ${b.number}`);
    expect(told).toContain('svara i det ärendets egen tråd');
  });

  test('a forged staff From (a pass under our id written by the sender, below our real fail): a follow-up, no command runs, the manager is told', async () => {
    const r = await fileRaw(
      w,
      officerMail(
        [
          `Authentication-Results: ${AUTHSERV}; dkim=none; spf=fail smtp.mailfrom=${OLLE}; dmarc=fail header.from=exempelfinans.se`,
          `Authentication-Results: ${AUTHSERV}; dkim=pass header.d=exempelfinans.se`,
        ],
        '#status closed\n#outcome upheld\n',
      ),
      NOW,
    );
    expect(r).toMatchObject({ kind: 'followup', caseId: c.id });
    expect(w.store.caseById(c.id)).toMatchObject({ status: 'new', outcome: null });
    expect(resultMail(w, r.inboundId)).toBeUndefined();
    const [spoof] = eventsOf(w, c.id, 'spoofing-suspected');
    expect(detail(spoof)).toMatchObject({ claimedFrom: OLLE, commandsIgnored: 2 });
    const notice = w.store.listOutbox().find((o) => o.idempotency_key === `spoofing:${r.inboundId}`);
    expect(notice?.to_address).toBe(MAJA);
  });
});

// ---------------------------------------------------------------------------------------------
// 8. Milestones met by the mail we send
// ---------------------------------------------------------------------------------------------

describe('milestonesForSentMail', () => {
  let w: World;
  let c: CaseRow;
  const at = '2026-03-04T08:00:00.000Z';
  beforeEach(async () => {
    w = makeWorld();
    c = await fileComplaint(w);
  });
  afterEach(() => w.close());

  const met = (): Record<string, string | null> => Object.fromEntries(w.store.deadlinesOfCase(c.id).map((d) => [d.milestone, d.met_at]));

  test('a sent final answer meets finalAnswer, firstAnswer and the acknowledgement, once', () => {
    expect(met()).toEqual({ acknowledgement: null, firstAnswer: null, finalAnswer: null });
    w.store.tx(() => milestonesForSentMail(w.store, { case_id: c.id, kind: 'final-answer', message_id: 'answer@exempelfinans.se' }, at));
    expect(met()).toEqual({ acknowledgement: at, firstAnswer: at, finalAnswer: at });
    const events = eventsOf(w, c.id, 'milestone-met');
    expect(events.map((e) => [detail(e).milestone, e.actor])).toEqual([
      ['acknowledgement', 'sender'],
      ['firstAnswer', 'sender'],
      ['finalAnswer', 'sender'],
    ]);
    expect(detail(events[0])).toEqual({ milestone: 'acknowledgement', messageId: 'answer@exempelfinans.se', by: 'final-answer' });
    // Sent again (a retry after a crash): no second event, the first instant stays.
    w.store.tx(() =>
      milestonesForSentMail(w.store, { case_id: c.id, kind: 'final-answer', message_id: 'answer@exempelfinans.se' }, '2026-03-05T08:00:00.000Z'),
    );
    expect(eventsOf(w, c.id, 'milestone-met')).toHaveLength(3);
    expect(met().finalAnswer).toBe(at);
  });

  test('an information request is an answer but not the final one; an acknowledgement meets only itself; no case, nothing', () => {
    w.store.tx(() => milestonesForSentMail(w.store, { case_id: c.id, kind: 'acknowledgement', message_id: 'ack@exempelfinans.se' }, at));
    expect(met()).toEqual({ acknowledgement: at, firstAnswer: null, finalAnswer: null });
    w.store.tx(() => milestonesForSentMail(w.store, { case_id: c.id, kind: 'information-request', message_id: 'info@exempelfinans.se' }, at));
    expect(met()).toEqual({ acknowledgement: at, firstAnswer: at, finalAnswer: null });
    w.store.tx(() => milestonesForSentMail(w.store, { case_id: c.id, kind: 'officer-command-result', message_id: 'x@exempelfinans.se' }, at));
    w.store.tx(() => milestonesForSentMail(w.store, { case_id: null, kind: 'final-answer', message_id: 'y@exempelfinans.se' }, at));
    expect(met().finalAnswer).toBeNull();
    expect(eventsOf(w, c.id, 'milestone-met')).toHaveLength(2);
  });
});

// Found by a review: "#outcome rejected / #status closed / #final ..." closed the case first, then
// refused the final answer because the case was closed: a rejection with no reasoned answer.
describe('a final answer and closing in one mail', () => {
  let w: World;
  afterEach(() => w.close());

  test.each([
    ['#status before #final', `#outcome rejected\n#status closed\n#final\n${ANSWER_SV}`],
    ['#status after #final is not possible (the rest is the answer), so: #final first line', `#final\n${ANSWER_SV}`],
  ])('finalAnswerAndClosingInOneMailSendsTheAnswerThenCloses: %s', async (_what, text) => {
    w = makeWorld();
    const c = await fileComplaint(w);
    const { out } = command(w, c.id, text);
    expect(out.errors).toEqual([]);
    expect(outboxOf(w, c.id, 'final-answer')).toHaveLength(1);
    if (text.includes('#status closed')) expect(w.store.caseById(c.id)).toMatchObject({ status: 'closed', outcome: 'rejected' });
    else expect(w.store.caseById(c.id)!.status).toBe('answered');
  });
});
