/**
 * Mail templates that admins edit: templates/<lang>/<kind>.{subject,text,html}.hbs plus
 * partials in templates/<lang>/partials/<name>.{text,html}.hbs.
 *
 * Loading checks everything and reports every problem at once, each with its file and line
 * (`klagomal templates check`): a syntax error, a variable the mail kind does not declare
 * (src/reply/template-schema.ts; `{{caseNumbr}}` is caught with a "did you mean"), an unknown
 * partial or helper, a missing file in one language, and a failure to render the kind's sample
 * data. A set with problems is never used.
 *
 * Escaping: the HTML part is compiled with Handlebars' HTML escaping, so customer text such as
 * `<script>` arrives as text. The text part and the subject are not HTML, so they are compiled
 * without HTML escaping; Handlebars never evaluates the *values* it inserts, so `{{` in a
 * customer's name stays literal. The subject is then cut to one bounded line (no CR/LF can
 * reach a header).
 *
 * Every rendered mail carries the version of its template: a short sha256 over the files that
 * produced it (the three parts and every partial of that language); `sources(kind, lang)` gives
 * those files, so that the text of every version ever used can be kept in the database.
 */
import Handlebars from 'handlebars';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
// One function and two locales, not the packages' indexes: the whole locale index alone costs
// every command ~0.1 s at start.
import { format } from 'date-fns/format';
import { sv } from 'date-fns/locale/sv';
import { enGB } from 'date-fns/locale/en-GB';
import { TZDate } from '@date-fns/tz';
import type { Language } from '../config/config';
import { LANGUAGES } from '../config/config';
import type { TemplateKind } from '../cases/lifecycle';
import { headerText } from '../util/header-safe';
import { TIME_ZONE } from '../util/stockholm-time';
import { boundLines, TEMPLATE_SAMPLES, TEMPLATE_SCHEMAS } from './template-schema';
import { checkProgram, parseError } from './template-checker';

export type { TemplateKind };
export const TEMPLATE_KINDS: readonly TemplateKind[] = [
  'acknowledgement',
  'information-request',
  'delay-notice',
  'holding-reply',
  'final-answer',
  'officer-new-case',
  'officer-command-result',
  'officer-closed-case-reply',
  'escalation-warning',
  'breach-notice',
  'manager-digest',
  'approval-request',
];
const PARTS = ['subject', 'text', 'html'] as const;
type Part = (typeof PARTS)[number];

const MILESTONE_NAMES: Record<Language, Record<string, string>> = {
  sv: { acknowledgement: 'bekräftelse', firstAnswer: 'första svar', finalAnswer: 'slutligt svar', finalAnswerMax: 'slutligt svar (yttersta gräns)' },
  en: { acknowledgement: 'acknowledgement', firstAnswer: 'first answer', finalAnswer: 'final answer', finalAnswerMax: 'final answer (outer limit)' },
};

export interface RenderedMail {
  readonly subject: string;
  readonly text: string;
  readonly html: string;
  readonly kind: TemplateKind;
  readonly language: Language;
  readonly version: string;
}

export interface TemplateProblem {
  readonly file: string;
  readonly line: number | null;
  readonly message: string;
}

export class TemplateError extends Error {
  constructor(
    readonly file: string,
    message: string,
    readonly problems: readonly TemplateProblem[] = [{ file, line: null, message }],
  ) {
    super(
      problems.length > 1
        ? `${problems.length} template problems; the first: ${formatProblem(problems[0])}`
        : formatProblem(problems[0] ?? { file, line: null, message }),
    );
    this.name = 'TemplateError';
  }
}

export function formatProblem(p: TemplateProblem): string {
  return `${p.file}${p.line !== null ? `:${p.line}` : ''}: ${p.message}`;
}

export interface TemplateOptions {
  /** A case link base, e.g. https://klagomal.firma.se/arende/ ({{caseLink case.number}}); '' = none. */
  readonly caseLinkBase?: string;
  /**
   * The check key (TemplateSet.checkKey) of a set that passed the whole check before, as the
   * database keeps it: files, options and code that give this key again are compiled without
   * being checked again. Every command that files or sends builds the set, and the check
   * (parsing, the tree walk, rendering the samples, which compiles every template) cost each
   * ~0.35 s; an unchanged set passes it again by construction. `templates check` never passes it.
   */
  readonly checkedBefore?: string | null;
}

let codeIdentity: string | null = null;
/**
 * What the check's result depends on besides the files and options: this module and the ones
 * its checks and helpers use, Handlebars and Node (Intl formats the dates). Any change to one
 * of them gives a new key, so the next build checks the set in full again.
 */
function templateCodeIdentity(): string {
  if (codeIdentity === null) {
    const h = crypto.createHash('sha256').update(`${process.version}\n${Handlebars.VERSION}\n`);
    for (const m of [__filename, require.resolve('./template-schema'), require.resolve('./template-checker'), require.resolve('../util/stockholm-time')])
      h.update(fs.readFileSync(m));
    codeIdentity = h.digest('hex');
  }
  return codeIdentity;
}

/** The key under which a set's passing check is remembered: files, options and code. */
export function templateCheckKey(files: ReadonlyMap<string, string>, opts: TemplateOptions): string {
  return crypto
    .createHash('sha256')
    .update(templateCodeIdentity())
    .update(JSON.stringify({ caseLinkBase: opts.caseLinkBase ?? '' }))
    .update(JSON.stringify([...files.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))))
    .digest('hex');
}

const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;
/** Europe/Stockholm has kept whole-hour offsets (CET, CEST) since 1900; before, local mean time +01:12:12. */
const WHOLE_HOUR_OFFSETS_FROM = Date.UTC(1900, 0, 1);
const formattedDates = new Map<string, string>();

/**
 * A Stockholm date or time formatted once per UTC hour (a date) or minute (a time with minutes):
 * with a whole-hour offset, every instant of one UTC hour has the same Stockholm date, and of
 * one UTC minute the same Stockholm minute, so the text is the same. Formatting through a
 * TZDate cost a quarter of rendering an acknowledgement (issue 16); a backlog's mails share
 * their hours. Instants before 1900 are formatted each time.
 */
function formatStockholmOnce(d: Date, key: string, unitMs: number, make: () => string): string {
  const ms = d.getTime();
  if (ms < WHOLE_HOUR_OFFSETS_FROM) return make();
  const k = `${key}|${Math.floor(ms / unitMs)}`;
  let text = formattedDates.get(k);
  if (text === undefined) {
    if (formattedDates.size >= 20_000) formattedDates.clear(); // bounded: a long-running service formats ever new hours
    text = make();
    formattedDates.set(k, text);
  }
  return text;
}

function registerHelpers(hb: typeof Handlebars, lang: Language, opts: TemplateOptions): void {
  const locale = lang === 'sv' ? sv : enGB;
  const toDate = (v: unknown): Date | null => {
    if (v instanceof Date) return v;
    if (typeof v === 'string' || typeof v === 'number') {
      const d = new Date(v);
      return Number.isNaN(d.getTime()) ? null : d;
    }
    return null;
  };
  const formatted = (d: Date, pattern: string, unitMs: number): string =>
    formatStockholmOnce(d, `${lang}|${pattern}`, unitMs, () => format(new TZDate(d.getTime(), TIME_ZONE), pattern, { locale }));
  // {{date someInstant}} -> "14 december 2026" / "14 December 2026"; {{date x weekday=true}} adds the weekday.
  hb.registerHelper('date', (value: unknown, options: Handlebars.HelperOptions) => {
    const d = toDate(value);
    if (!d) return '';
    return formatted(d, options?.hash?.weekday ? 'EEEE d MMMM yyyy' : 'd MMMM yyyy', HOUR_MS);
  });
  // {{datetime someInstant}} -> "14 december 2026 kl. 23:59" / "14 December 2026 at 23:59" (Stockholm time).
  hb.registerHelper('datetime', (value: unknown) => {
    const d = toDate(value);
    if (!d) return '';
    return formatted(d, lang === 'sv' ? "d MMMM yyyy 'kl.' HH:mm" : "d MMMM yyyy 'at' HH:mm", MINUTE_MS);
  });
  // {{amount 1250}} -> "1 250 kr" / "SEK 1,250"
  hb.registerHelper('amount', (value: unknown) => {
    const n = typeof value === 'number' ? value : Number(value);
    if (!Number.isFinite(n)) return '';
    const digits = Number.isInteger(n) ? 0 : 2;
    if (lang === 'sv')
      return `${new Intl.NumberFormat('sv-SE', { minimumFractionDigits: digits, maximumFractionDigits: 2 }).format(n).replace(/\u00a0|\u202f/g, ' ')} kr`;
    return `SEK ${new Intl.NumberFormat('en-GB', { minimumFractionDigits: digits, maximumFractionDigits: 2 }).format(n)}`;
  });
  // {{plural count "ärende" "ärenden"}} -> "1 ärende" / "3 ärenden"
  hb.registerHelper('plural', (count: unknown, one: unknown, many: unknown) => `${Number(count)} ${Number(count) === 1 ? String(one) : String(many)}`);
  // {{caseLink case.number}} -> the configured link to the case, or nothing
  hb.registerHelper('caseLink', (number: unknown) => (opts.caseLinkBase ? `${opts.caseLinkBase}${encodeURIComponent(String(number))}` : ''));
  hb.registerHelper('milestoneName', (value: unknown) => MILESTONE_NAMES[lang][String(value)] ?? String(value));
  hb.registerHelper('eq', (a: unknown, b: unknown) => a === b);
}

interface CompiledKind {
  readonly parts: Record<Part, HandlebarsTemplateDelegate>;
  readonly version: string;
  readonly sources: Readonly<Record<string, string>>;
}

/** Every template file under a root, by its path relative to the root ("sv/partials/signature.text.hbs"). */
export function readTemplateFiles(root: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const lang of LANGUAGES) {
    for (const sub of ['', 'partials']) {
      const dir = path.join(root, lang, sub);
      if (!fs.existsSync(dir)) continue;
      for (const name of fs.readdirSync(dir).sort()) {
        if (!name.endsWith('.hbs')) continue;
        files.set(path.posix.join(lang, sub, name), fs.readFileSync(path.join(dir, name), 'utf8'));
      }
    }
  }
  return files;
}

/** What mail builders need of templates: a set, or the manager that swaps sets while running. */
export interface TemplateRenderer {
  render(kind: TemplateKind, lang: Language, data: object): RenderedMail;
  /** The files the current version of (kind, lang) is made of. */
  sources(kind: TemplateKind, lang: Language): Readonly<Record<string, string>>;
}

/** A compiled set of templates for every language and kind. */
export class TemplateSet implements TemplateRenderer {
  private constructor(
    readonly root: string,
    private readonly compiled: ReadonlyMap<string, CompiledKind>,
    /** Short hash over every file of the set: what changed is a new set version. */
    readonly setVersion: string,
    /** Every file of the set (relative path -> text), to keep the set in the database. */
    readonly files: ReadonlyMap<string, string>,
    /** templateCheckKey of the set: kept by the caller so that the next build may skip the check. */
    readonly checkKey: string,
  ) {}

  /** Load, check and compile every template under `root`. Returns the set, or every problem found. */
  static build(root: string, opts: TemplateOptions = {}): { set: TemplateSet | null; problems: TemplateProblem[] } {
    return TemplateSet.fromFiles(readTemplateFiles(root), root, opts);
  }

  /**
   * Check and compile a set from its files (relative path -> text): the files on disk, or a set
   * kept in the database. `root` names the folder in problems and errors.
   */
  static fromFiles(files: ReadonlyMap<string, string>, root: string, opts: TemplateOptions = {}): { set: TemplateSet | null; problems: TemplateProblem[] } {
    const problems: TemplateProblem[] = [];
    const compiled = new Map<string, CompiledKind>();
    const setHash = crypto.createHash('sha256');
    const checkKey = templateCheckKey(files, opts);
    // Checked before, unchanged since: compiled (lazily, by Handlebars) without the check.
    const checked = opts.checkedBefore === checkKey;
    // Problems name the file by its full path: unambiguous for whoever runs `templates check`.
    const rel = (file: string): string => path.resolve(file);
    const read = (file: string): string | null => files.get(path.relative(root, file).split(path.sep).join('/')) ?? null;
    for (const lang of LANGUAGES) {
      const dir = path.join(root, lang);
      // Two environments: text and subject without HTML escaping, HTML with it. Each has its
      // own partials (partials/<name>.text.hbs, partials/<name>.html.hbs).
      const envs = { text: Handlebars.create(), html: Handlebars.create() };
      registerHelpers(envs.text, lang, opts);
      registerHelpers(envs.html, lang, opts);
      const partialAsts = { text: new Map<string, { file: string; ast: hbs.AST.Program }>(), html: new Map<string, { file: string; ast: hbs.AST.Program }>() };
      const partialTexts: string[] = [];
      const partialDir = path.join(dir, 'partials');
      const partialNames = [...files.keys()].filter((k) => k.startsWith(`${lang}/partials/`)).map((k) => k.slice(`${lang}/partials/`.length));
      {
        for (const name of partialNames.sort()) {
          const m = /^(.+)\.(text|html)\.hbs$/.exec(name);
          if (!m) continue;
          const file = path.join(partialDir, name);
          const text = read(file)!;
          partialTexts.push(`${name}\n${text}`);
          setHash.update(`${lang}/partials/${name}\n${text}\n`);
          const kindOfPart = m[2] as 'text' | 'html';
          try {
            if (!checked) partialAsts[kindOfPart].set(m[1], { file: rel(file), ast: Handlebars.parse(text) });
            envs[kindOfPart].registerPartial(m[1], envs[kindOfPart].compile(text, { strict: true, noEscape: kindOfPart === 'text' }));
          } catch (err) {
            const e = parseError(err);
            problems.push({ file: rel(file), line: e.line, message: e.message });
            // Known but empty, so that the kinds using it do not also report "unknown partial"
            // or fail to render for want of it.
            partialAsts[kindOfPart].set(m[1], { file: rel(file), ast: Handlebars.parse('') });
            envs[kindOfPart].registerPartial(m[1], '');
          }
        }
      }
      for (const kind of TEMPLATE_KINDS) {
        const hash = crypto.createHash('sha256');
        const parts: Partial<Record<Part, HandlebarsTemplateDelegate>> = {};
        const sources: Record<string, string> = {};
        let broken = false;
        for (const part of PARTS) {
          const file = path.join(dir, `${kind}.${part}.hbs`);
          const text = read(file);
          if (text === null) {
            problems.push({ file: rel(file), line: null, message: `missing: every language needs ${kind}.subject.hbs, ${kind}.text.hbs and ${kind}.html.hbs` });
            broken = true;
            continue;
          }
          sources[`${lang}/${kind}.${part}.hbs`] = text;
          hash.update(`${part}\n${text}\n`);
          setHash.update(`${lang}/${kind}.${part}\n${text}\n`);
          const env = part === 'html' ? envs.html : envs.text;
          if (checked) {
            parts[part] = env.compile(text, { strict: true, noEscape: part !== 'html' });
            continue;
          }
          let ast: hbs.AST.Program;
          try {
            ast = Handlebars.parse(text);
          } catch (err) {
            const e = parseError(err);
            problems.push({ file: rel(file), line: e.line, message: e.message });
            broken = true;
            continue;
          }
          const before = problems.length;
          checkProgram(ast, [TEMPLATE_SCHEMAS[kind]], {
            file: rel(file),
            kind,
            schema: TEMPLATE_SCHEMAS[kind],
            partials: partialAsts[part === 'html' ? 'html' : 'text'],
            problems,
            seenPartials: new Set(),
          });
          if (problems.length > before) broken = true;
          parts[part] = env.compile(text, { strict: true, noEscape: part !== 'html' });
        }
        for (const p of partialTexts) {
          hash.update(p);
          sources[`${lang}/partials/${p.slice(0, p.indexOf('\n'))}`] = p.slice(p.indexOf('\n') + 1);
        }
        if (broken) continue;
        const entry: CompiledKind = { parts: parts as Record<Part, HandlebarsTemplateDelegate>, version: hash.digest('hex').slice(0, 12), sources };
        // Render the sample data: catches what the tree does not show (a helper given nonsense).
        for (const part of checked ? [] : PARTS) {
          try {
            entry.parts[part](TEMPLATE_SAMPLES[kind]);
          } catch (err) {
            const message = (err as Error).message;
            problems.push({
              file: rel(path.join(dir, `${kind}.${part}.hbs`)),
              line: Number(/ - (\d+):\d+/.exec(message)?.[1]) || null,
              message: `does not render with sample data: ${message}`,
            });
            broken = true;
          }
        }
        if (!broken) compiled.set(`${lang}/${kind}`, entry);
      }
    }
    if (problems.length > 0) {
      // A problem in a partial is found once per kind that uses it: report it once, naming the kinds.
      const merged = new Map<string, { problem: TemplateProblem; kinds: string[] }>();
      for (const p of problems) {
        const kind = / of ([a-z-]+) mails/.exec(p.message)?.[1];
        const key = `${p.file}:${p.line}:${p.message.replace(/ of [a-z-]+ mails/, ' of # mails')}`;
        const seen = merged.get(key);
        if (!seen) merged.set(key, { problem: p, kinds: kind ? [kind] : [] });
        else if (kind && !seen.kinds.includes(kind)) seen.kinds.push(kind);
      }
      const unique = [...merged.values()].map(({ problem, kinds }) =>
        kinds.length > 1 ? { ...problem, message: problem.message.replace(/ of [a-z-]+ mails/, ` of ${kinds.join(', ')} mails`) } : problem,
      );
      return { set: null, problems: unique };
    }
    return { set: new TemplateSet(root, compiled, setHash.digest('hex').slice(0, 12), new Map(files), checkKey), problems };
  }

  /** Load and check; throws TemplateError listing every problem. */
  static load(root: string, opts: TemplateOptions = {}): TemplateSet {
    const { set, problems } = TemplateSet.build(root, opts);
    if (!set) throw new TemplateError(problems[0].file, problems[0].message, problems);
    return set;
  }

  version(kind: TemplateKind, lang: Language): string {
    return this.get(kind, lang).version;
  }

  /** The files (name -> text) that version `version(kind, lang)` was made of. */
  sources(kind: TemplateKind, lang: Language): Readonly<Record<string, string>> {
    return this.get(kind, lang).sources;
  }

  kinds(): Array<{ kind: TemplateKind; language: Language; version: string }> {
    return [...this.compiled.entries()].map(([key, c]) => {
      const [language, kind] = key.split('/') as [Language, TemplateKind];
      return { kind, language, version: c.version };
    });
  }

  private get(kind: TemplateKind, lang: Language): CompiledKind {
    const c = this.compiled.get(`${lang}/${kind}`);
    if (!c) throw new Error(`no template ${lang}/${kind}`);
    return c;
  }

  render(kind: TemplateKind, lang: Language, data: object): RenderedMail {
    const c = this.get(kind, lang);
    // Subjects and names one bounded line each, whoever built the data (template-schema.ts).
    const view = boundLines(TEMPLATE_SCHEMAS[kind], data);
    const at = (part: string): string => path.join(this.root, lang, `${kind}.${part}.hbs`);
    const run = (part: Part): string => {
      try {
        return c.parts[part](view);
      } catch (err) {
        throw new TemplateError(at(part), (err as Error).message);
      }
    };
    return {
      subject: headerText(run('subject'), 200),
      text: run('text'),
      html: run('html'),
      kind,
      language: lang,
      version: c.version,
    };
  }
}
