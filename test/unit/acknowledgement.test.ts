/**
 * The acknowledgement (src/reply/acknowledgement.ts) and its templates (src/reply/templates.ts).
 *
 * decideAcknowledgement is the last guard against mail loops (RFC 3834 §2: never answer an
 * automatic reply, never answer our own address, cap automatic mail per address). The
 * rendering tests feed hostile customer text through the real admin-edited templates: HTML
 * injection in the HTML part, template injection, header injection via the subject.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Config } from '../../src/config/config';
import { parseConfig } from '../../src/config/load';
import type { Customer } from '../../src/classify/classify';
import type { ComplaintFields } from '../../src/parse/complaint-fields';
import type { ComplaintItem } from '../../src/config/complaint-rules';
import { COMPLAINT_ITEMS } from '../../src/config/complaint-rules';
import { AcknowledgementInput, AutoMailFacts, buildAcknowledgement, decideAcknowledgement } from '../../src/reply/acknowledgement';
import { newMessageId } from '../../src/reply/mail';
import { TemplateError, TemplateSet } from '../../src/reply/templates';
import { normaliseAddress } from '../../src/util/header-safe';

const TEMPLATES = path.join(__dirname, '..', '..', 'templates');

function config(extra: Record<string, unknown> = {}): Config {
  return parseConfig(
    {
      firm: { name: 'Exempelfinans AB', complaintsAddress: 'klagomal@exempelfinans.se', staffDomains: ['exempelfinans.se'] },
      sources: [{ type: 'maildir', path: 'maildir' }],
      officers: [{ name: 'Karin', address: 'karin@exempelfinans.se', role: 'manager' }],
      ...extra,
    },
    path.join(os.tmpdir(), 'klagomal-ack-test', 'config.json'),
  );
}

function customer(o: Partial<Customer> = {}): Customer {
  return { address: 'kund@example.com', name: 'Karin Kund', addressSource: 'from', doNotAutoReply: null, ...o };
}

function fields(missing: readonly ComplaintItem[]): ComplaintFields {
  return {
    contactName: 'Karin Kund',
    email: 'kund@example.com',
    phones: [],
    postalAddress: null,
    category: 'fees',
    categoryMatched: true,
    incidentDate: null,
    incidentDateText: null,
    descriptionWords: 40,
    compensationAsked: null,
    compensationReason: null,
    amountsSek: [],
    references: [],
    personnummerMasked: null,
    fromForm: false,
    missing,
  };
}

const HOSTILE_NAME = '<script>alert(1)</script> {{firm.name}}';
const HOSTILE_SUBJECT = 'Evil\r\nBcc: victim@example.com {{firm.name}} <script>alert(1)</script>';

function input(o: Partial<AcknowledgementInput> = {}): AcknowledgementInput {
  return {
    caseId: 42,
    caseNumber: 'KLG-2025-000042',
    language: 'sv',
    to: 'kund@example.com',
    customerName: HOSTILE_NAME,
    contactName: 'Olle Handläggare',
    customerSubject: HOSTILE_SUBJECT,
    customerMessageId: 'abc123@mail.example.com',
    customerReferences: ['first@mail.example.com'],
    receivedAt: new Date('2025-12-17T10:00:00+01:00'),
    answerDueAt: new Date('2025-12-31T23:59:59+01:00'),
    answerRule: { unit: 'calendarDays', amount: 14 },
    fields: fields(['incidentDate']),
    now: new Date('2025-12-17T10:00:05+01:00'),
    ...o,
  };
}

// ---------------------------------------------------------------------------------------------
// decideAcknowledgement
// ---------------------------------------------------------------------------------------------

/** The loop guard's inputs: `n` automatic mails to the address in 24 hours, nothing else. */
function sent(n: number, more: Partial<AutoMailFacts> = {}): AutoMailFacts {
  return { toAddressLast24h: n, domain: 'example.com', toDomainLast24h: 0, acknowledgementsLastHour: 0, forCaseLast24h: 0, failingUntil: null, ...more };
}

describe('decideAcknowledgement', () => {
  const cfg = config();

  test('ordinaryCustomerNotAcknowledged', () => {
    expect(decideAcknowledgement(customer(), sent(0), cfg)).toEqual({ send: true, to: 'kund@example.com', name: 'Karin Kund' });
    expect(decideAcknowledgement(customer({ name: null }), sent(2), cfg)).toEqual({ send: true, to: 'kund@example.com', name: null });
  });

  test.each<[string, Customer, number, Config, RegExp]>([
    ['switched off', customer(), 0, config({ acknowledgement: { enabled: false } }), /switched off/],
    ['no-reply sender', customer({ doNotAutoReply: 'the sender is a no-reply address without a Reply-To' }), 0, cfg, /no-reply/],
    ['staff sender', customer({ doNotAutoReply: 'the sender is staff' }), 0, cfg, /staff/],
    ['no address', customer({ address: null, addressSource: 'none' }), 0, cfg, /no usable sender address/],
    ['our own address', customer({ address: 'klagomal@exempelfinans.se' }), 0, cfg, /our own complaints address/],
    // A Reply-To of "Klagomal@..." is still us, as the parser gives it (src/parse/parse.ts normalises addresses).
    [
      'our own address, capitalised, as parsed',
      customer({ address: normaliseAddress('Klagomal@Exempelfinans.se'), addressSource: 'reply-to' }),
      0,
      cfg,
      /our own complaints address/,
    ],
    [
      'our own address in a config with capitals',
      customer({ address: 'klagomal@exempelfinans.se' }),
      0,
      config({ firm: { name: 'Exempelfinans AB', complaintsAddress: 'Klagomal@Exempelfinans.se' } }),
      /our own complaints address/,
    ],
    ['cap reached', customer(), 3, cfg, /maxPerAddressPer24h = 3/],
    ['cap exceeded', customer(), 50, cfg, /already got 50 automatic mails/],
    ['lower configured cap', customer(), 1, config({ acknowledgement: { maxPerAddressPer24h: 1 } }), /maxPerAddressPer24h = 1/],
  ])('acknowledgementSentWhenItMustNotBe: %s', (_label, c, count, conf, reason) => {
    const d = decideAcknowledgement(c, sent(count), conf);
    expect(d.send).toBe(false);
    if (d.send) return;
    expect(d.reason).toMatch(reason);
  });

  test('capOffByOne', () => {
    const c3 = config({ acknowledgement: { maxPerAddressPer24h: 3 } });
    expect(decideAcknowledgement(customer(), sent(2), c3).send).toBe(true);
    expect(decideAcknowledgement(customer(), sent(3), c3).send).toBe(false);
  });

  test('bouncingAddressStillAcknowledged', () => {
    const d = decideAcknowledgement(customer(), sent(0, { failingUntil: '2026-12-21T10:00:00.000Z' }), cfg);
    expect(d).toEqual({ send: false, reason: expect.stringMatching(/bounced permanently; no automatic mail to it until 2026-12-21/) });
  });

  test('caseCapIgnored', () => {
    const d = decideAcknowledgement(customer(), sent(0, { forCaseLast24h: 3 }), cfg);
    expect(d).toEqual({ send: false, reason: expect.stringMatching(/loop.maxPerCasePer24h = 3/) });
  });
});

// ---------------------------------------------------------------------------------------------
// Rendering with the real templates
// ---------------------------------------------------------------------------------------------

describe('buildAcknowledgement with the real templates', () => {
  const templates = TemplateSet.load(TEMPLATES);
  const cfg = config();

  test.each(['sv', 'en'] as const)('htmlInjectionFromCustomerText (%s)', (language) => {
    const out = buildAcknowledgement(input({ language }), templates, cfg);
    expect(out.bodyHtml).not.toBeNull();
    const html = out.bodyHtml!;
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toContain('<script>alert');
  });

  test.each(['sv', 'en'] as const)('templateInjectionFromCustomerText (%s)', (language) => {
    const out = buildAcknowledgement(input({ language }), templates, cfg);
    // Handlebars never evaluates inserted values: the customer's "{{firm.name}}" stays literal.
    expect(out.bodyText).toContain('{{firm.name}}');
    expect(out.bodyHtml).toContain('{{firm.name}}');
    // The text part is not HTML: no escaping, the customer's words are shown as written.
    expect(out.bodyText).toContain(HOSTILE_NAME);
  });

  test.each(['sv', 'en'] as const)('headerInjectionViaSubject (%s)', (language) => {
    const out = buildAcknowledgement(input({ language }), templates, cfg);
    expect(out.subject).not.toMatch(/[\r\n]/);
    expect(Array.from(out.subject).length).toBeLessThanOrEqual(200);
    expect(out.subject.startsWith('[KLG-2025-000042] ')).toBe(true);
    expect(out.fromName).not.toMatch(/[\r\n]/);
    for (const [k, v] of Object.entries(out.headers)) {
      expect(k).not.toMatch(/[\r\n:]/);
      expect(v).not.toMatch(/[\r\n]/);
    }
  });

  test('longSubjectFromAdminTemplateBreaksHeaderLimit', () => {
    // A case number is short, but a template may put customer text in the subject: render()
    // bounds it whatever the template does. Use a very long case number to push the subject.
    const out = templates.render('acknowledgement', 'en', {
      firm: { name: 'X', complaintsAddress: 'k@x.se' },
      case: { number: 'N', tag: 'T'.repeat(500) + '\r\nBcc: x@y', receivedAt: new Date(), answerDueAt: new Date() },
      answerWithin: { unit: 'calendarDays', amount: 14 },
      customer: { name: null },
      complaint: { subject: '' },
      missing: Object.fromEntries(COMPLAINT_ITEMS.map((i) => [i, false])),
      hasMissing: false,
    });
    expect(out.subject).not.toMatch(/[\r\n]/);
    expect(Array.from(out.subject).length).toBeLessThanOrEqual(200);
  });

  test.each(['sv', 'en'] as const)('acknowledgementAnsweredByAutoResponders (%s)', (language) => {
    const out = buildAcknowledgement(input({ language }), templates, cfg);
    expect(out.headers['Auto-Submitted']).toBe('auto-replied');
    expect(out.headers['X-Auto-Response-Suppress']).toBe('All');
    expect(out.headers['X-Klagomal-Case']).toBe('KLG-2025-000042');
  });

  test('ackNotThreadedOrSentTwice', () => {
    const out = buildAcknowledgement(input(), templates, cfg);
    expect(out.idempotencyKey).toBe('acknowledgement:42');
    expect(out.kind).toBe('acknowledgement');
    expect(out.inReplyTo).toBe('abc123@mail.example.com');
    expect(out.references).toEqual(['first@mail.example.com', 'abc123@mail.example.com']);
    expect(out.fromAddress).toBe('klagomal@exempelfinans.se');
    expect(out.toAddress).toBe('kund@example.com');
    expect(out.messageId).toMatch(/^klg-2025-000042\.ack\.[A-Za-z0-9_-]{12}@exempelfinans\.se$/);
    expect(out.templateVersion).toMatch(/^[0-9a-f]{12}$/);
    const many = buildAcknowledgement(input({ customerReferences: Array.from({ length: 20 }, (_, i) => `r${i}@x`) }), templates, cfg);
    expect(many.references).toHaveLength(10);
    expect(many.references[9]).toBe('abc123@mail.example.com');
  });

  test('messageIdGuessable', () => {
    const a = newMessageId('KLG-2026-000001', 'ack', 'exempelfinans.se');
    const b = newMessageId('KLG-2026-000001', 'ack', 'exempelfinans.se');
    expect(a).not.toBe(b);
  });

  test('swedishAckWithoutCaseNumberOrSwedishDate', () => {
    const out = buildAcknowledgement(input({ language: 'sv' }), templates, cfg);
    expect(out.bodyText).toContain('ärendenummer KLG-2025-000042');
    expect(out.bodyText).toContain('den 17 december 2025');
    expect(out.bodyText).toContain('senast onsdag 31 december 2025');
    expect(out.bodyText).not.toMatch(/December|Wednesday/);
    expect(out.bodyHtml).toContain('<strong>KLG-2025-000042</strong>');
    expect(out.language).toBe('sv');
  });

  test('englishAckWithoutCaseNumberOrEnglishDate', () => {
    const out = buildAcknowledgement(input({ language: 'en' }), templates, cfg);
    expect(out.bodyText).toContain('case number KLG-2025-000042');
    expect(out.bodyText).toContain('on 17 December 2025');
    expect(out.bodyText).toContain('no later than Wednesday 31 December 2025');
    expect(out.bodyText).not.toMatch(/onsdag|december 2025/);
  });

  test('dueDatePrintedInHostTimeZone', () => {
    // 23:59:59 Stockholm on 31 December is 22:59:59 UTC: the printed date must still be the 31st,
    // and 00:30 Stockholm on 1 January (23:30 UTC on the 31st) must print as 1 January.
    const late = buildAcknowledgement(input({ answerDueAt: new Date('2026-01-01T00:30:00+01:00') }), templates, cfg);
    expect(late.bodyText).toContain('torsdag 1 januari 2026');
  });

  function bulletLines(text: string): string[] {
    return text.split('\n').filter((l) => l.startsWith('  - '));
  }

  test.each(['sv', 'en'] as const)('missingItemsListWrong (%s)', (language) => {
    const one = buildAcknowledgement(input({ language, fields: fields(['incidentDate']) }), templates, cfg);
    const all = buildAcknowledgement(input({ language, fields: fields(COMPLAINT_ITEMS) }), templates, cfg);
    const none = buildAcknowledgement(input({ language, fields: fields([]) }), templates, cfg);

    const dateLine = language === 'sv' ? '  - vilket datum problemet uppstod' : '  - the date the problem occurred';
    expect(bulletLines(one.bodyText)).toEqual([dateLine]);
    expect(bulletLines(all.bodyText)).toHaveLength(5);
    expect(bulletLines(all.bodyText)).toContain(dateLine);
    expect(bulletLines(none.bodyText)).toEqual([]);

    const li = (html: string | null) => (html ?? '').match(/<li>/g)?.length ?? 0;
    expect(li(one.bodyHtml)).toBe(1);
    expect(li(all.bodyHtml)).toBe(5);
    expect(li(none.bodyHtml)).toBe(0);
    expect(none.bodyHtml).not.toContain('<ul>');

    // Each of the five items appears exactly once in the full list, in the order of COMPLAINT_ITEMS.
    const allLines = bulletLines(all.bodyText);
    for (const item of COMPLAINT_ITEMS) {
      const only = buildAcknowledgement(input({ language, fields: fields([item]) }), templates, cfg);
      const lines = bulletLines(only.bodyText);
      expect(lines).toHaveLength(1);
      expect(allLines.indexOf(lines[0])).toBe(COMPLAINT_ITEMS.indexOf(item));
    }
  });

  test('customerWithoutNameGetsBrokenGreeting', () => {
    const sv = buildAcknowledgement(input({ customerName: null }), templates, cfg);
    expect(sv.bodyText.startsWith('Hej,\n')).toBe(true);
    const en = buildAcknowledgement(input({ language: 'en', customerName: null }), templates, cfg);
    expect(en.bodyText.startsWith('Dear customer,\n')).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// Broken templates
// ---------------------------------------------------------------------------------------------

describe('TemplateSet.load on broken templates', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-templates-'));
    fs.cpSync(TEMPLATES, tmp, { recursive: true });
  });
  afterEach(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  function loadError(): TemplateError {
    try {
      TemplateSet.load(tmp);
    } catch (err) {
      expect(err).toBeInstanceOf(TemplateError);
      return err as TemplateError;
    }
    throw new Error('expected TemplateSet.load to throw');
  }

  test('validTemplatesRejected', () => {
    expect(() => TemplateSet.load(tmp)).not.toThrow();
  });

  test('syntaxErrorFoundOnlyAtFirstSend', () => {
    const file = path.join(tmp, 'sv', 'acknowledgement.text.hbs');
    fs.writeFileSync(file, 'Hej {{#if customer.name}}{{customer.name}},\n');
    const err = loadError();
    expect(err.file).toBe(file);
    expect(err.message).toContain(file);
  });

  test('missingTemplatePartFoundOnlyAtFirstSend', () => {
    const file = path.join(tmp, 'en', 'acknowledgement.html.hbs');
    fs.rmSync(file);
    const err = loadError();
    expect(err.file).toBe(file);
    expect(err.message).toContain(file);
    expect(err.message).toContain('missing');
  });

  test('brokenPartialNotNamed', () => {
    const file = path.join(tmp, 'en', 'partials', 'signature.html.hbs');
    fs.writeFileSync(file, '<p>{{firm.name</p>');
    const err = loadError();
    expect(err.file).toBe(file);
  });

  test('editedTemplateKeepsOldVersion', () => {
    const before = TemplateSet.load(tmp).version('acknowledgement', 'sv');
    fs.appendFileSync(path.join(tmp, 'sv', 'partials', 'signature.text.hbs'), '\nTel 08-000 00 00\n');
    const after = TemplateSet.load(tmp);
    expect(after.version('acknowledgement', 'sv')).not.toBe(before);
    expect(after.version('acknowledgement', 'en')).toBe(TemplateSet.load(TEMPLATES).version('acknowledgement', 'en'));
  });
});
