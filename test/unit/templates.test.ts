/**
 * The mail templates (src/reply/templates.ts) against their schemas (src/reply/template-schema.ts).
 *
 * - The checker: every kind of problem an admin can make in templates/ is reported with its
 *   file and line, all at once, and a broken set is never used.
 * - The schemas: the sample data and the acknowledgement builder give every declared variable.
 * - Golden files: every kind in both languages rendered from its sample data, compared with
 *   test/fixtures/templates/<lang>/<kind>.{subject.txt,text.txt,html}. Regenerate them after a
 *   deliberate change of wording with `UPDATE_GOLDEN=1 npx jest test/unit/templates.test.ts`
 *   and read the diff. Dates are Stockholm dates whatever the host's TZ.
 * - Hostile customer text in every customer value of every kind: HTML-escaped in the HTML part,
 *   never evaluated as template text, and never more than one bounded line in the subject.
 * - The helpers (date, datetime, amount, plural, caseLink, milestoneName, eq).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Config, Language } from '../../src/config/config';
import { LANGUAGES } from '../../src/config/config';
import { parseConfig } from '../../src/config/load';
import type { ComplaintFields } from '../../src/parse/complaint-fields';
import type { ComplaintItem } from '../../src/config/complaint-rules';
import { COMPLAINT_ITEMS } from '../../src/config/complaint-rules';
import { acknowledgementData, AcknowledgementInput } from '../../src/reply/acknowledgement';
import { isList, LINE_MAX, missingFromData, Schema, TEMPLATE_SAMPLES, TEMPLATE_SCHEMAS } from '../../src/reply/template-schema';
import { headerText } from '../../src/util/header-safe';
import { format } from 'date-fns/format';
import { sv } from 'date-fns/locale/sv';
import { enGB } from 'date-fns/locale/en-GB';
import { TZDate } from '@date-fns/tz';
import {
  formatProblem,
  RenderedMail,
  TEMPLATE_KINDS,
  TemplateError,
  TemplateKind,
  TemplateOptions,
  TemplateProblem,
  TemplateSet,
} from '../../src/reply/templates';

const TEMPLATES = path.join(__dirname, '..', '..', 'templates');
const GOLDEN = path.join(__dirname, '..', 'fixtures', 'templates');
const UPDATE_GOLDEN = process.env.UPDATE_GOLDEN === '1';

const KIND_LANGS: Array<[TemplateKind, Language]> = TEMPLATE_KINDS.flatMap((kind) => LANGUAGES.map((lang): [TemplateKind, Language] => [kind, lang]));

// ---------------------------------------------------------------------------------------------
// A temporary copy of the real templates, to break
// ---------------------------------------------------------------------------------------------

const copies: string[] = [];
afterAll(() => {
  for (const dir of copies) fs.rmSync(dir, { recursive: true, force: true });
});

function copyOfTemplates(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-templates-test-'));
  copies.push(dir);
  fs.cpSync(TEMPLATES, dir, { recursive: true });
  return dir;
}

/** The full path of a template file under `root`, from its slash-separated relative name. */
function at(root: string, rel: string): string {
  return path.join(root, ...rel.split('/'));
}

/**
 * Appends `add` to the first line of `rel` that contains `needle` and saves the file.
 * Returns that line's number (1-based), the line a problem in `add` must be reported on.
 */
function appendToLine(root: string, rel: string, needle: string, add: string): number {
  const file = at(root, rel);
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const i = lines.findIndex((l) => l.includes(needle));
  if (i < 0) throw new Error(`test setup: no line with ${JSON.stringify(needle)} in ${rel}`);
  lines[i] += add;
  fs.writeFileSync(file, lines.join('\n'));
  return i + 1;
}

/** The problems reported for one file (relative name such as "sv/acknowledgement.text.hbs"). */
function problemsOf(problems: readonly TemplateProblem[], root: string, rel: string): TemplateProblem[] {
  return problems.filter((p) => p.file === at(root, rel));
}

function loadError(root: string): TemplateError {
  try {
    TemplateSet.load(root);
  } catch (err) {
    expect(err).toBeInstanceOf(TemplateError);
    return err as TemplateError;
  }
  throw new Error('expected TemplateSet.load to throw');
}

const realSet = TemplateSet.load(TEMPLATES);

// ---------------------------------------------------------------------------------------------
// 1. The checker
// ---------------------------------------------------------------------------------------------

describe('the template checker', () => {
  test('the real templates pass with no problem, every kind in both languages', () => {
    const { set, problems } = TemplateSet.build(TEMPLATES);
    expect(problems.map(formatProblem)).toEqual([]);
    expect(set).not.toBeNull();
    const kinds = set!.kinds();
    expect(kinds).toHaveLength(TEMPLATE_KINDS.length * LANGUAGES.length);
    for (const [kind, lang] of KIND_LANGS) {
      const entry = kinds.find((k) => k.kind === kind && k.language === lang);
      expect(entry).toBeDefined();
      expect(entry!.version).toMatch(/^[0-9a-f]{12}$/);
    }
  });

  test('a misspelt variable is named, with its line and a "did you mean" for case.number', () => {
    const root = copyOfTemplates();
    const svLine = appendToLine(root, 'sv/acknowledgement.text.hbs', 'Vi tog emot ditt meddelande', ' Ärende {{caseNumbr}}.');
    const enLine = appendToLine(root, 'en/acknowledgement.html.hbs', 'We received your message', '<p>{{case.numbr}}</p>');
    const { set, problems } = TemplateSet.build(root);
    expect(set).toBeNull();
    expect(problems).toHaveLength(2);

    const [sv] = problemsOf(problems, root, 'sv/acknowledgement.text.hbs');
    expect(sv.file.endsWith(path.join('sv', 'acknowledgement.text.hbs'))).toBe(true);
    expect(sv.line).toBe(svLine);
    expect(sv.message).toContain('"caseNumbr" is not a variable of acknowledgement mails');
    expect(sv.message).toContain('did you mean "case.number"?');

    const [en] = problemsOf(problems, root, 'en/acknowledgement.html.hbs');
    expect(en.line).toBe(enLine);
    expect(en.message).toContain('"case.numbr"');
    expect(en.message).toContain('did you mean "case.number"?');
    // formatProblem gives what `templates check` prints: file:line: message.
    expect(formatProblem(sv)).toBe(`${at(root, 'sv/acknowledgement.text.hbs')}:${svLine}: ${sv.message}`);
  });

  test("a variable of another kind is not a variable of this kind's mails", () => {
    const root = copyOfTemplates();
    // `answer` belongs to final-answer; acknowledgement does not declare it.
    const line = appendToLine(root, 'sv/acknowledgement.text.hbs', 'Tack för att du hör av dig', ' {{answer}}');
    const { set, problems } = TemplateSet.build(root);
    expect(set).toBeNull();
    expect(problems).toEqual([{ file: at(root, 'sv/acknowledgement.text.hbs'), line, message: expect.stringContaining('"answer" is not a variable') }]);
  });

  test('an unknown helper is reported with its line', () => {
    const root = copyOfTemplates();
    const line = appendToLine(root, 'sv/acknowledgement.text.hbs', 'Vi tog emot ditt meddelande', ' ({{dat case.receivedAt}})');
    const { set, problems } = TemplateSet.build(root);
    expect(set).toBeNull();
    expect(problems).toHaveLength(1);
    expect(problems[0]).toEqual({ file: at(root, 'sv/acknowledgement.text.hbs'), line, message: expect.stringContaining('unknown helper "dat"') });
    expect(problems[0].message).toContain('date'); // the list of helpers that exist
  });

  test('a mustache missing a brace is a syntax error on its line', () => {
    const root = copyOfTemplates();
    const line = appendToLine(root, 'en/delay-notice.text.hbs', 'We are working on your complaint', ' Ref {{case.number}');
    const { set, problems } = TemplateSet.build(root);
    expect(set).toBeNull();
    expect(problems).toHaveLength(1);
    expect(problems[0].file).toBe(at(root, 'en/delay-notice.text.hbs'));
    expect(problems[0].line).toBe(line);
    expect(problems[0].message).toMatch(/^syntax error near ".*\{\{case\.number\}/);
    expect(problems[0].message).toContain('is a "}" missing?');
  });

  test('an #if never closed is a syntax error, reported at the end of the file (where Handlebars notices it)', () => {
    const root = copyOfTemplates();
    appendToLine(root, 'sv/acknowledgement.text.hbs', 'Vi tog emot ditt meddelande', '{{#if hasMissing}}');
    const text = fs.readFileSync(at(root, 'sv/acknowledgement.text.hbs'), 'utf8');
    const { set, problems } = TemplateSet.build(root);
    expect(set).toBeNull();
    expect(problems).toHaveLength(1);
    expect(problems[0].file).toBe(at(root, 'sv/acknowledgement.text.hbs'));
    expect(problems[0].line).toBe(text.split('\n').length);
    expect(problems[0].message).toMatch(/^syntax error near .*\(unexpected EOF\)$/);
  });

  test('a file missing in one language only is named; the other language is fine', () => {
    const root = copyOfTemplates();
    fs.rmSync(at(root, 'en/holding-reply.html.hbs'));
    const { set, problems } = TemplateSet.build(root);
    expect(set).toBeNull();
    expect(problems).toEqual([
      { file: at(root, 'en/holding-reply.html.hbs'), line: null, message: expect.stringContaining('missing: every language needs holding-reply.subject.hbs') },
    ]);
    expect(problems[0].file.endsWith(path.join('en', 'holding-reply.html.hbs'))).toBe(true);
  });

  test('an unknown partial is reported with its line and the partials that exist', () => {
    const root = copyOfTemplates();
    const line = appendToLine(root, 'sv/information-request.html.hbs', '{{> signature}}', '\n{{> signatur}}');
    const { set, problems } = TemplateSet.build(root);
    expect(set).toBeNull();
    expect(problems).toHaveLength(1);
    expect(problems[0].file).toBe(at(root, 'sv/information-request.html.hbs'));
    expect(problems[0].line).toBe(line + 1);
    expect(problems[0].message).toContain('unknown partial "signatur"');
    expect(problems[0].message).toMatch(/partials here: .*\bsignature\b/);
  });

  test('#each over something that is not a list is an error', () => {
    const root = copyOfTemplates();
    const line = appendToLine(root, 'sv/delay-notice.text.hbs', 'Anledningen är', '\n{{#each customer.name}}- {{this}}\n{{/each}}');
    const { set, problems } = TemplateSet.build(root);
    expect(set).toBeNull();
    expect(problems).toEqual([
      { file: at(root, 'sv/delay-notice.text.hbs'), line: line + 1, message: expect.stringContaining('"customer.name" is not a list') },
    ]);
  });

  test('a problem in a partial names the partial file and its own line', () => {
    const root = copyOfTemplates();
    const line = appendToLine(root, 'sv/partials/signature.text.hbs', '{{firm.name}}', ' ({{firm.nmae}})');
    const { set, problems } = TemplateSet.build(root);
    expect(set).toBeNull();
    expect(problems.length).toBeGreaterThan(0);
    // Checked in the context of each kind that uses it, reported once, naming those kinds.
    expect(problems).toHaveLength(1);
    for (const p of problems) {
      expect(p.file).toBe(at(root, 'sv/partials/signature.text.hbs'));
      expect(p.line).toBe(line);
      expect(p.message).toContain('"firm.nmae"');
      expect(p.message).toContain('did you mean "firm.name"?');
    }
    expect(problems[0].message).toMatch(/of acknowledgement, information-request, .*final-answer mails/);
  });

  test('several broken files are all reported at once; the set is not used and load throws', () => {
    const root = copyOfTemplates();
    const expected: Array<{ rel: string; line: number | null; message: string }> = [
      {
        rel: 'sv/acknowledgement.text.hbs',
        line: appendToLine(root, 'sv/acknowledgement.text.hbs', 'Vi tog emot ditt meddelande', ' {{caseNumbr}}'),
        message: 'did you mean "case.number"?',
      },
      {
        rel: 'en/acknowledgement.subject.hbs',
        line: appendToLine(root, 'en/acknowledgement.subject.hbs', '{{case.tag}}', ' {{case.numbr}}'),
        message: '"case.numbr"',
      },
      {
        rel: 'sv/final-answer.text.hbs',
        line: appendToLine(root, 'sv/final-answer.text.hbs', 'Här är vårt svar', ' ({{dat case.receivedAt}})'),
        message: 'unknown helper "dat"',
      },
      {
        rel: 'en/delay-notice.text.hbs',
        line: appendToLine(root, 'en/delay-notice.text.hbs', 'We are working on', ' {{case.number}'),
        message: 'syntax error',
      },
      {
        rel: 'sv/information-request.html.hbs',
        line: appendToLine(root, 'sv/information-request.html.hbs', '{{> signature}}', '{{> signatur}}'),
        message: 'unknown partial "signatur"',
      },
      {
        rel: 'en/final-answer.text.hbs',
        line: appendToLine(root, 'en/final-answer.text.hbs', 'Here is our answer', ' {{#each customer.name}}x{{/each}}'),
        message: 'is not a list',
      },
      { rel: 'en/holding-reply.html.hbs', line: null, message: 'missing' },
    ];
    fs.rmSync(at(root, 'en/holding-reply.html.hbs'));

    const { set, problems } = TemplateSet.build(root);
    expect(set).toBeNull();
    for (const e of expected) {
      const found = problemsOf(problems, root, e.rel);
      expect({ rel: e.rel, found: found.map((p) => ({ line: p.line, message: p.message })) }).toEqual({
        rel: e.rel,
        found: [{ line: e.line, message: expect.stringContaining(e.message) }],
      });
    }
    expect(problems).toHaveLength(expected.length);

    const err = loadError(root);
    expect(err.name).toBe('TemplateError');
    expect(err.problems).toEqual(problems);
    expect(err.file).toBe(problems[0].file);
    expect(err.message).toBe(`${expected.length} template problems; the first: ${formatProblem(problems[0])}`);
  });

  test('fromFiles checks a set kept in the database the same way (no disk)', () => {
    const files = new Map(realSet.files);
    expect(TemplateSet.fromFiles(files, TEMPLATES).problems).toEqual([]);
    files.set('sv/acknowledgement.subject.hbs', '{{case.tag}} {{caseNumbr}}');
    files.delete('en/manager-digest.text.hbs');
    const { set, problems } = TemplateSet.fromFiles(files, '/kept/set');
    expect(set).toBeNull();
    expect(problems).toEqual([
      { file: path.resolve('/kept/set/sv/acknowledgement.subject.hbs'), line: 1, message: expect.stringContaining('did you mean "case.number"?') },
      { file: path.resolve('/kept/set/en/manager-digest.text.hbs'), line: null, message: expect.stringContaining('missing') },
    ]);
  });
});

describe('the checker on subtler mistakes', () => {
  test('a mismatched block close ({{#if}} ... {{/each}}) is reported with its line', () => {
    const root = copyOfTemplates();
    const line = appendToLine(root, 'sv/acknowledgement.text.hbs', 'Vi tog emot ditt meddelande', ' {{#if hasMissing}}x{{/each}}');
    const { problems } = TemplateSet.build(root);
    expect(problems).toHaveLength(1);
    expect(problems[0].message).toContain("if doesn't match each");
    expect(problems[0].line).toBe(line);
  });

  test('a triple-stash {{{customer.name}}} or {{& ...}} in the HTML part is rejected (it bypasses HTML escaping)', () => {
    const root = copyOfTemplates();
    const line = appendToLine(root, 'sv/acknowledgement.html.hbs', '<p>Hej', '<p>{{{customer.name}}}</p>');
    const line2 = appendToLine(root, 'en/acknowledgement.html.hbs', '<p>Dear', '<p>{{& complaint.subject}}</p>');
    const { set, problems } = TemplateSet.build(root);
    expect(set).toBeNull();
    expect(problemsOf(problems, root, 'sv/acknowledgement.html.hbs')).toEqual([
      expect.objectContaining({ line, message: expect.stringContaining('unescaped output') }),
    ]);
    expect(problemsOf(problems, root, 'en/acknowledgement.html.hbs')).toEqual([
      expect.objectContaining({ line: line2, message: expect.stringContaining('unescaped output') }),
    ]);
  });

  test('a triple-stash in the text part is allowed: text is never HTML-escaped anyway', () => {
    const root = copyOfTemplates();
    appendToLine(root, 'sv/acknowledgement.text.hbs', 'Vi tog emot ditt meddelande', ' {{{case.number}}}');
    expect(TemplateSet.build(root).problems).toEqual([]);
  });

  test('a group or a list printed as a value ({{customer}}, {{fields}}) is rejected with a hint', () => {
    const root = copyOfTemplates();
    const line = appendToLine(root, 'sv/officer-new-case.text.hbs', 'Kategori:', ' {{fields}}');
    const line2 = appendToLine(root, 'sv/acknowledgement.text.hbs', 'Vi tog emot ditt meddelande', ' {{customer}}');
    const { set, problems } = TemplateSet.build(root);
    expect(set).toBeNull();
    expect(problemsOf(problems, root, 'sv/officer-new-case.text.hbs')).toEqual([
      expect.objectContaining({ line, message: expect.stringContaining('is a list: use {{#each fields}}') }),
    ]);
    expect(problemsOf(problems, root, 'sv/acknowledgement.text.hbs')).toEqual([
      expect.objectContaining({ line: line2, message: expect.stringContaining('a group of values') }),
    ]);
  });

  test('a formatting helper given the wrong kind of value ({{date firm.name}}, {{amount customer}}) is rejected', () => {
    const root = copyOfTemplates();
    const line = appendToLine(root, 'sv/acknowledgement.text.hbs', 'Vi tog emot ditt meddelande', ' {{date firm.name}}');
    const line2 = appendToLine(root, 'sv/final-answer.text.hbs', 'Vi betalar dig', ' {{amount customer}}');
    const { problems } = TemplateSet.build(root);
    expect(problemsOf(problems, root, 'sv/acknowledgement.text.hbs')).toEqual([
      expect.objectContaining({ line, message: expect.stringContaining('{{date}} formats a date, but "firm.name" is a text') }),
    ]);
    expect(problemsOf(problems, root, 'sv/final-answer.text.hbs')).toEqual([
      expect.objectContaining({ line: line2, message: expect.stringContaining('a group of values') }),
    ]);
  });

  test('a broken partial is reported once, not once per kind that uses it, and not also as unknown', () => {
    const root = copyOfTemplates();
    appendToLine(root, 'sv/partials/signature.text.hbs', '', ' {{firm.nmae}}');
    const typo = TemplateSet.build(root).problems;
    expect(typo).toHaveLength(1);
    expect(typo[0].file).toBe(at(root, 'sv/partials/signature.text.hbs'));

    const root2 = copyOfTemplates();
    appendToLine(root2, 'en/partials/signature.text.hbs', '', ' {{#if firm.name}}');
    const syntax = TemplateSet.build(root2).problems;
    expect(syntax).toHaveLength(1);
    expect(syntax[0]).toEqual(expect.objectContaining({ file: at(root2, 'en/partials/signature.text.hbs'), message: expect.stringContaining('syntax error') }));
  });
});

// ---------------------------------------------------------------------------------------------
// 2. Schemas and the data given to templates
// ---------------------------------------------------------------------------------------------

function config(): Config {
  return parseConfig(
    {
      firm: { name: 'Exempelfinans AB', complaintsAddress: 'klagomal@exempelfinans.se', staffDomains: ['exempelfinans.se'] },
      sources: [{ type: 'maildir', path: 'maildir' }],
      officers: [{ name: 'Karin', address: 'karin@exempelfinans.se', role: 'manager' }],
    },
    path.join(os.tmpdir(), 'klagomal-templates-test', 'config.json'),
  );
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

function ackInput(o: Partial<AcknowledgementInput> = {}): AcknowledgementInput {
  return {
    caseId: 42,
    caseNumber: 'KLG-2026-000042',
    language: 'sv',
    to: 'kund@example.com',
    customerName: 'Karin Kund',
    contactName: 'Olle Handläggare',
    customerSubject: 'Felaktig avgift',
    customerMessageId: 'abc123@mail.example.com',
    customerReferences: [],
    receivedAt: new Date('2026-11-16T09:12:00+01:00'),
    answerDueAt: new Date('2026-11-30T23:59:59+01:00'),
    answerRule: { unit: 'calendarDays', amount: 14 },
    fields: fields(['incidentDate']),
    now: new Date('2026-11-16T09:12:05+01:00'),
    ...o,
  };
}

describe('schemas and data', () => {
  test.each(TEMPLATE_KINDS)('the sample data of %s gives every variable its schema declares', (kind) => {
    expect(missingFromData(TEMPLATE_SCHEMAS[kind], TEMPLATE_SAMPLES[kind])).toEqual([]);
  });

  test('missingFromData does find what is missing (so the test above means something)', () => {
    const sample = TEMPLATE_SAMPLES['officer-new-case'];
    const { case: theCase, ...noCase } = sample;
    expect(missingFromData(TEMPLATE_SCHEMAS['officer-new-case'], noCase)).toEqual(['case']);
    const { number: _number, ...caseWithoutNumber } = theCase as Record<string, unknown>;
    expect(missingFromData(TEMPLATE_SCHEMAS['officer-new-case'], { ...sample, case: caseWithoutNumber })).toEqual(['case.number']);
    expect(missingFromData(TEMPLATE_SCHEMAS['officer-new-case'], { ...sample, fields: [{ label: 'x' }], related: 'none' })).toEqual([
      'fields[].value',
      'related (not a list)',
    ]);
  });

  test.each<[string, Partial<AcknowledgementInput>]>([
    ['an ordinary complaint', {}],
    ['no customer name, no contact person, nothing missing', { customerName: null, contactName: null, fields: fields([]) }],
    ['everything missing', { fields: fields(COMPLAINT_ITEMS) }],
  ])('acknowledgementData gives every variable of the acknowledgement schema: %s', (_label, o) => {
    const data = acknowledgementData(ackInput(o), config());
    expect(missingFromData(TEMPLATE_SCHEMAS.acknowledgement, data)).toEqual([]);
    // And it renders in strict mode with the real templates, in both languages.
    for (const lang of LANGUAGES) {
      const mail = realSet.render('acknowledgement', lang, data);
      expect(mail.text).toContain('KLG-2026-000042');
      expect(`${mail.subject}\n${mail.text}\n${mail.html}`).not.toMatch(/undefined|\[object Object\]|NaN|Invalid Date/);
    }
  });

  test('the real templates refuse data that lacks a variable they print (strict mode)', () => {
    const sample = TEMPLATE_SAMPLES.acknowledgement as { case: Record<string, unknown> };
    const { number: _number, ...caseWithoutNumber } = sample.case;
    const data = { ...sample, case: caseWithoutNumber };
    expect(missingFromData(TEMPLATE_SCHEMAS.acknowledgement, data)).toEqual(['case.number']);
    let err: unknown = null;
    try {
      realSet.render('acknowledgement', 'sv', data);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TemplateError);
    expect((err as TemplateError).file).toBe(path.join(TEMPLATES, 'sv', 'acknowledgement.text.hbs'));
    expect((err as TemplateError).message).toContain('"number" not defined');
  });
});

// ---------------------------------------------------------------------------------------------
// 3. Golden files: every kind in both languages, from the sample data
// ---------------------------------------------------------------------------------------------

const GOLDEN_PARTS = [
  ['subject', 'subject.txt'],
  ['text', 'text.txt'],
  ['html', 'html'],
] as const;

const SWEDISH_MONTHS = /\b(januari|februari|mars|april|maj|juni|juli|augusti|september|oktober|november|december)\b/;
const ENGLISH_MONTHS = /\b(January|February|March|April|May|June|July|August|September|October|November|December)\b/;

describe(`golden files (test/fixtures/templates; TZ=${process.env.TZ ?? '(unset)'}${UPDATE_GOLDEN ? ', UPDATE_GOLDEN=1: writing' : ''})`, () => {
  test.each(KIND_LANGS)('%s (%s) renders as its golden files', (kind, lang) => {
    const mail = realSet.render(kind, lang, TEMPLATE_SAMPLES[kind]);
    for (const [part, ext] of GOLDEN_PARTS) {
      const file = path.join(GOLDEN, lang, `${kind}.${ext}`);
      if (UPDATE_GOLDEN) {
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, mail[part]);
      }
      if (!fs.existsSync(file)) throw new Error(`no golden file ${file}: run with UPDATE_GOLDEN=1 and read what it wrote`);
      expect({ file: path.relative(GOLDEN, file), content: mail[part] }).toEqual({ file: path.relative(GOLDEN, file), content: fs.readFileSync(file, 'utf8') });
    }
  });

  test.each(KIND_LANGS)('%s (%s) from the sample data reads as a sensible mail', (kind, lang) => {
    const mail = realSet.render(kind, lang, TEMPLATE_SAMPLES[kind]);
    const all = `${mail.subject}\n${mail.text}\n${mail.html}`;
    expect(all).not.toMatch(/undefined|\[object Object\]|NaN|Invalid Date|\{\{|\}\}/);
    expect(mail.subject).not.toBe('');
    expect(mail.subject).not.toMatch(/[\r\n]/);
    expect(mail.text.trim()).not.toBe('');
    expect(mail.html).toMatch(/^<!DOCTYPE html>\n<html lang="(sv|en)">/);
    expect(mail.html).toContain(`<html lang="${lang}">`);
    // A greeting has a name after it, or none at all: never "Hej ," or "Dear ,".
    expect(mail.text).not.toMatch(/^(Hej|Dear|Hello) ?,/m);
    // Months in the mail's own language only (the customer's own words aside: the samples are Swedish).
    const ours = customerValues(TEMPLATE_SCHEMAS[kind], TEMPLATE_SAMPLES[kind]).reduce((s, v) => s.split(v).join('').split(htmlEscaped(v)).join(''), all);
    expect(ours).not.toMatch(lang === 'sv' ? ENGLISH_MONTHS : SWEDISH_MONTHS);
    if (kind !== 'manager-digest') expect(mail.subject.startsWith('[KLG-2026-000042] ')).toBe(true);
    expect(mail.kind).toBe(kind);
    expect(mail.language).toBe(lang);
    expect(mail.version).toBe(realSet.version(kind, lang));
  });

  test('Stockholm dates and amounts in the words of each language', () => {
    const sv = (kind: TemplateKind) => realSet.render(kind, 'sv', TEMPLATE_SAMPLES[kind]);
    const en = (kind: TemplateKind) => realSet.render(kind, 'en', TEMPLATE_SAMPLES[kind]);
    // 2026-11-30T23:59:59+01:00 is 22:59:59 UTC and 17:59:59 in New York: still the 30th.
    expect(sv('acknowledgement').text).toContain('senast måndag 30 november 2026');
    expect(en('acknowledgement').text).toContain('Monday 30 November 2026');
    expect(sv('breach-notice').subject).toBe('[KLG-2026-000042] Tidsfrist överskriden: slutligt svar (30 november 2026 kl. 23:59)');
    expect(en('breach-notice').subject).toBe('[KLG-2026-000042] Deadline missed: final answer (30 November 2026 at 23:59)');
    expect(sv('final-answer').text).toContain('Vi betalar dig 1 250 kr i ersättning.');
    expect(en('final-answer').text).toContain('SEK 1,250');
    expect(sv('acknowledgement').text.startsWith('Hej Anna Svensson,\n')).toBe(true);
    expect(en('acknowledgement').text.startsWith('Dear Anna Svensson,\n')).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// 4. Hostile customer text in every customer value
// ---------------------------------------------------------------------------------------------

/** A copy of `data` with every value the schema marks `customer` replaced by `value`. */
function withCustomerValues(schema: Schema, data: unknown, value: string): Record<string, unknown> {
  const src = data as Record<string, unknown>;
  const out: Record<string, unknown> = { ...src };
  for (const [k, decl] of Object.entries(schema)) {
    if (decl === 'customer' || decl === 'line') out[k] = value;
    else if (typeof decl === 'string') continue;
    else if (isList(decl)) out[k] = (src[k] as unknown[]).map((item) => withCustomerValues(decl.list, item, value));
    else if (src[k] !== null) out[k] = withCustomerValues(decl, src[k], value);
  }
  return out;
}

/** The paths of customer values (`customer`, and `line`: customer text shown as one line); `only` picks one of the two. */
function customerLeaves(schema: Schema, prefix = '', only?: 'customer' | 'line'): string[] {
  return Object.entries(schema).flatMap(([k, decl]) => {
    const p = prefix ? `${prefix}.${k}` : k;
    if (decl === 'customer' || decl === 'line') return only === undefined || only === decl ? [p] : [];
    if (typeof decl === 'string') return [];
    return isList(decl) ? customerLeaves(decl.list, `${p}[]`, only) : customerLeaves(decl, p, only);
  });
}

/** The values `data` has where the schema says `customer`. */
function customerValues(schema: Schema, data: unknown): string[] {
  const src = data as Record<string, unknown>;
  return Object.entries(schema).flatMap(([k, decl]) => {
    if (decl === 'customer') return typeof src[k] === 'string' ? [src[k] as string] : [];
    if (typeof decl === 'string' || src[k] === null) return [];
    return isList(decl) ? (src[k] as unknown[]).flatMap((item) => customerValues(decl.list, item)) : customerValues(decl, src[k]);
  });
}

/** What Handlebars' HTML escaping makes of a value. */
function htmlEscaped(s: string): string {
  const map: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#x27;', '`': '&#x60;', '=': '&#x3D;' };
  return s.replace(/[&<>"'`=]/g, (c) => map[c]);
}

const HOSTILE = [
  '{{case.number}}',
  '<script>alert(1)</script>',
  '"quotes" & ampersands',
  'Anna\r\nBcc: evil@x.se',
  `${'Lång text '.repeat(60)}\nBcc: evil@x.se`,
];
const KINDS_WITH_CUSTOMER_TEXT = TEMPLATE_KINDS.filter((kind) => customerLeaves(TEMPLATE_SCHEMAS[kind]).length > 0);

describe('hostile customer text', () => {
  test('every kind has customer values to attack, and the walk reaches them all', () => {
    expect(KINDS_WITH_CUSTOMER_TEXT).toEqual(TEMPLATE_KINDS);
    expect(customerLeaves(TEMPLATE_SCHEMAS['officer-new-case'])).toEqual([
      'case.subject',
      'case.customerName',
      'case.customerAddress',
      'fields[].value',
      'related[].subject',
      'excerpt',
    ]);
    const data = withCustomerValues(TEMPLATE_SCHEMAS['officer-new-case'], TEMPLATE_SAMPLES['officer-new-case'], 'X') as {
      case: Record<string, unknown>;
      fields: Array<Record<string, unknown>>;
      excerpt: string;
    };
    expect(data.case.customerName).toBe('X');
    expect(data.case.number).toBe('KLG-2026-000042');
    expect(data.fields.map((f) => f.value)).toEqual(['X', 'X']);
    expect(data.fields.map((f) => f.label)).toEqual(['Kategori', 'Datum för problemet']);
    expect(data.case.receivedAt).toBeInstanceOf(Date);
    // The sample itself is untouched.
    expect((TEMPLATE_SAMPLES['officer-new-case'].case as Record<string, unknown>).customerName).toBe('Anna Svensson');
  });

  const cases = KINDS_WITH_CUSTOMER_TEXT.flatMap((kind) =>
    LANGUAGES.flatMap((lang) => HOSTILE.map((value): [TemplateKind, Language, string] => [kind, lang, value])),
  );

  test.each(cases)('%s (%s) with every customer value %j', (kind, lang, value) => {
    const data = withCustomerValues(TEMPLATE_SCHEMAS[kind], TEMPLATE_SAMPLES[kind], value);
    const mail: RenderedMail = realSet.render(kind, lang, data);

    // The text part shows the customer's words as written (a one-line value flattened and cut
    // to LINE_MAX characters); the HTML part escaped.
    const shown = customerLeaves(TEMPLATE_SCHEMAS[kind], '', 'customer').length > 0 ? value : headerText(value, LINE_MAX);
    expect(mail.text).toContain(shown);
    expect(mail.html).toContain(htmlEscaped(shown));
    if (shown !== value) expect(mail.text.split(/\r\n|\r|\n/).some((l) => /^\s*Bcc:/i.test(l))).toBe(false);
    expect(mail.html).not.toMatch(/<script/i);
    if (value.includes('<script>')) expect(mail.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');

    // Never evaluated: "{{case.number}}" stays literal and does not become the case number.
    if (value === '{{case.number}}') {
      const plain = realSet.render(kind, lang, TEMPLATE_SAMPLES[kind]);
      expect(mail.text).toContain('{{case.number}}');
      expect(mail.html).toContain('{{case.number}}');
      const count = (s: string) => s.split('KLG-2026-000042').length - 1;
      expect(count(mail.text)).toBeLessThanOrEqual(count(plain.text));
      expect(count(mail.html)).toBeLessThanOrEqual(count(plain.html));
    }

    // The subject is one bounded line: no header can be smuggled in.
    expect(mail.subject).not.toMatch(/[\r\n]/);
    expect(Array.from(mail.subject).length).toBeLessThanOrEqual(200);
    expect(mail.subject.split(/\r\n|\r|\n/).some((l) => /^\s*Bcc:/i.test(l))).toBe(false);
  });

  test('customer text in a subject is flattened to one line and cut to 200 characters', () => {
    const kind = 'officer-new-case';
    const crlf = realSet.render(kind, 'sv', withCustomerValues(TEMPLATE_SCHEMAS[kind], TEMPLATE_SAMPLES[kind], 'Anna\r\nBcc: evil@x.se'));
    expect(crlf.subject).toBe('[KLG-2026-000042] Nytt klagomål till dig: Anna Bcc: evil@x.se');
    const long = realSet.render(kind, 'en', withCustomerValues(TEMPLATE_SCHEMAS[kind], TEMPLATE_SAMPLES[kind], 'å'.repeat(500)));
    expect(Array.from(long.subject)).toHaveLength(200);
    expect(long.subject.startsWith('[KLG-2026-000042] New complaint for you: ååå')).toBe(true);
    expect(long.subject.endsWith('å…')).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// 5. Helpers, through a copy of the real set whose acknowledgement text part uses them all
// ---------------------------------------------------------------------------------------------

const HELPER_TEMPLATE = [
  'date={{date case.answerDueAt}}',
  'weekday={{date case.answerDueAt weekday=true}}',
  'datetime={{datetime case.answerDueAt}}',
  'amount={{amount answerWithin.amount}}',
  'plural={{plural answerWithin.amount "ärende" "ärenden"}}',
  'link=[{{caseLink case.number}}]',
  'milestone={{milestoneName answerWithin.unit}}',
  'eq={{#if (eq answerWithin.unit "calendarDays")}}yes{{else}}no{{/if}}',
  '',
].join('\n');

describe('helpers', () => {
  let root: string;
  const sets = new Map<string, TemplateSet>();
  beforeAll(() => {
    root = copyOfTemplates();
    for (const lang of LANGUAGES) fs.writeFileSync(at(root, `${lang}/acknowledgement.text.hbs`), HELPER_TEMPLATE);
  });

  function helperSet(opts: TemplateOptions): TemplateSet {
    const key = JSON.stringify(opts);
    if (!sets.has(key)) sets.set(key, TemplateSet.load(root, opts));
    return sets.get(key)!;
  }

  /** The helper template rendered from the acknowledgement sample with `over` put in, as name -> value. */
  function helpers(lang: Language, over: { answerDueAt?: unknown; amount?: unknown; unit?: string; number?: string } = {}, opts: TemplateOptions = {}) {
    const sample = TEMPLATE_SAMPLES.acknowledgement as { case: Record<string, unknown>; answerWithin: Record<string, unknown> };
    const data = {
      ...sample,
      case: { ...sample.case, ...('answerDueAt' in over ? { answerDueAt: over.answerDueAt } : {}), ...(over.number ? { number: over.number } : {}) },
      answerWithin: { ...sample.answerWithin, ...('amount' in over ? { amount: over.amount } : {}), ...(over.unit ? { unit: over.unit } : {}) },
    };
    const text = helperSet(opts).render('acknowledgement', lang, data).text;
    return Object.fromEntries(
      text
        .split('\n')
        .filter((l) => l.includes('='))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
  }

  const MONDAY_EVENING = new Date('2026-12-14T23:59:59+01:00');

  test('date and datetime in Swedish', () => {
    const h = helpers('sv', { answerDueAt: MONDAY_EVENING });
    expect(h.date).toBe('14 december 2026');
    expect(h.weekday).toBe('måndag 14 december 2026');
    expect(h.datetime).toBe('14 december 2026 kl. 23:59');
  });

  test('date and datetime in English', () => {
    const h = helpers('en', { answerDueAt: MONDAY_EVENING });
    expect(h.date).toBe('14 December 2026');
    expect(h.weekday).toBe('Monday 14 December 2026');
    expect(h.datetime).toBe('14 December 2026 at 23:59');
  });

  test('dates are Stockholm dates, whatever the host time zone', () => {
    // 00:30 in Stockholm on the 15th is still the 14th in UTC and in New York.
    const h = helpers('sv', { answerDueAt: new Date('2026-12-15T00:30:00+01:00') });
    expect(h.weekday).toBe('tisdag 15 december 2026');
    expect(h.datetime).toBe('15 december 2026 kl. 00:30');
    // Summer time: 23:30 UTC on 30 June is 01:30 on 1 July in Stockholm.
    expect(helpers('en', { answerDueAt: new Date('2026-06-30T23:30:00Z') }).datetime).toBe('1 July 2026 at 01:30');
    // An ISO string is an instant too; no date at all gives nothing.
    expect(helpers('sv', { answerDueAt: '2026-12-14T22:59:59Z' }).date).toBe('14 december 2026');
    expect(helpers('sv', { answerDueAt: null }).date).toBe('');
  });

  test('datesFormattedOncePerHourWrongAcrossMidnightOrSummerTime', () => {
    // The helpers format each Stockholm hour (a date) and minute (a time) once and reuse the
    // text (src/reply/templates.ts); every instant must still read as formatted on its own.
    // Steps of 7 min 13 s over the days around both summer-time changes of 2026 and a
    // Stockholm midnight, and instants from before 1900 (local mean time, +01:12:12).
    const starts = ['2026-03-28T20:00:00Z', '2026-10-24T20:00:00Z', '2026-12-14T21:00:00Z'].map((t) => Date.parse(t));
    const instants = starts.flatMap((from) => Array.from({ length: 60 }, (_, i) => new Date(from + i * 433_000)));
    instants.push(new Date('1899-12-31T22:30:00Z'), new Date('1899-12-31T22:50:00Z'), new Date('1899-12-31T23:00:00Z'));
    const direct = (d: Date, pattern: string, lang: Language): string =>
      format(new TZDate(d.getTime(), 'Europe/Stockholm'), pattern, { locale: lang === 'sv' ? sv : enGB });
    for (const lang of LANGUAGES) {
      // Twice over: the second pass reads what the first remembered.
      for (const d of [...instants, ...instants]) {
        const h = helpers(lang, { answerDueAt: d });
        expect([d.toISOString(), h.date, h.weekday, h.datetime]).toEqual([
          d.toISOString(),
          direct(d, 'd MMMM yyyy', lang),
          direct(d, 'EEEE d MMMM yyyy', lang),
          direct(d, lang === 'sv' ? "d MMMM yyyy 'kl.' HH:mm" : "d MMMM yyyy 'at' HH:mm", lang),
        ]);
      }
    }
  });

  test('amount', () => {
    expect(helpers('sv', { amount: 1250 }).amount).toBe('1 250 kr');
    expect(helpers('sv', { amount: 1250.5 }).amount).toBe('1 250,50 kr');
    expect(helpers('sv', { amount: 1234567 }).amount).toBe('1 234 567 kr');
    expect(helpers('en', { amount: 1250 }).amount).toBe('SEK 1,250');
    expect(helpers('sv', { amount: 'not a number' }).amount).toBe('');
  });

  test('plural', () => {
    expect(helpers('sv', { amount: 1 }).plural).toBe('1 ärende');
    expect(helpers('sv', { amount: 3 }).plural).toBe('3 ärenden');
    expect(helpers('sv', { amount: 0 }).plural).toBe('0 ärenden');
  });

  test('caseLink is empty without caseLinkBase and a link with it', () => {
    expect(helpers('sv').link).toBe('[]');
    expect(helpers('sv', {}, { caseLinkBase: '' }).link).toBe('[]');
    const base = 'https://klagomal.firma.se/arende/';
    expect(helpers('sv', {}, { caseLinkBase: base }).link).toBe('[https://klagomal.firma.se/arende/KLG-2026-000042]');
    expect(helpers('en', { number: 'KLG 1/2?x' }, { caseLinkBase: base }).link).toBe('[https://klagomal.firma.se/arende/KLG%201%2F2%3Fx]');
  });

  test('milestoneName and eq', () => {
    expect(helpers('sv', { unit: 'finalAnswer' }).milestone).toBe('slutligt svar');
    expect(helpers('en', { unit: 'finalAnswer' }).milestone).toBe('final answer');
    expect(helpers('en', { unit: 'somethingElse' }).milestone).toBe('somethingElse');
    expect(helpers('sv').eq).toBe('yes');
    expect(helpers('sv', { unit: 'businessDays' }).eq).toBe('no');
  });
});
