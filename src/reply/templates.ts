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
import { format } from 'date-fns';
import { sv, enGB } from 'date-fns/locale';
import { TZDate } from '@date-fns/tz';
import type { Language } from '../config/config';
import { LANGUAGES } from '../config/config';
import type { TemplateKind } from '../cases/lifecycle';
import { headerText } from '../util/header-safe';
import { TIME_ZONE } from '../util/stockholm-time';
import { editDistance } from '../util/edit-distance';
import { boundLines, isList, ListOf, Leaf, Schema, schemaPaths, TEMPLATE_SAMPLES, TEMPLATE_SCHEMAS } from './template-schema';

export type { TemplateKind };
export const TEMPLATE_KINDS: readonly TemplateKind[] = [
  'acknowledgement',
  'information-request',
  'delay-notice',
  'holding-reply',
  'final-answer',
  'officer-new-case',
  'officer-command-result',
  'escalation-warning',
  'breach-notice',
  'manager-digest',
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
}

const BUILTIN_HELPERS = new Set(['if', 'unless', 'each', 'with', 'lookup', 'log']);
/** What the first input of a formatting helper must be (the schema's leaf type). */
const HELPER_INPUT: Readonly<Record<string, Leaf>> = { date: 'date', datetime: 'date', amount: 'number', plural: 'number' };
const OUR_HELPERS = new Set(['date', 'datetime', 'milestoneName', 'eq', 'amount', 'plural', 'caseLink']);

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
  // {{date someInstant}} -> "14 december 2026" / "14 December 2026"; {{date x weekday=true}} adds the weekday.
  hb.registerHelper('date', (value: unknown, options: Handlebars.HelperOptions) => {
    const d = toDate(value);
    if (!d) return '';
    return format(new TZDate(d.getTime(), TIME_ZONE), options?.hash?.weekday ? 'EEEE d MMMM yyyy' : 'd MMMM yyyy', { locale });
  });
  // {{datetime someInstant}} -> "14 december 2026 kl. 23:59" / "14 December 2026 at 23:59" (Stockholm time).
  hb.registerHelper('datetime', (value: unknown) => {
    const d = toDate(value);
    if (!d) return '';
    return format(new TZDate(d.getTime(), TIME_ZONE), lang === 'sv' ? "d MMMM yyyy 'kl.' HH:mm" : "d MMMM yyyy 'at' HH:mm", { locale });
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

// ---- checking a template's syntax tree against its schema ------------------------------

type Ctx = Schema | null; // null: unknown shape (no checking below it)

function lookupPath(stack: readonly Ctx[], expr: hbs.AST.PathExpression): { ok: boolean; leaf?: Leaf | Schema | ListOf } {
  if (expr.data) return { ok: true }; // @index, @first, @root ...
  const ctx = stack[stack.length - 1 - (expr.depth ?? 0)];
  if (ctx === undefined) return { ok: false };
  if (ctx === null) return { ok: true };
  let cur: Leaf | Schema | ListOf = ctx;
  for (const part of expr.parts) {
    if (part === 'this') continue;
    if (typeof cur === 'string') return { ok: part === 'length' ? false : false };
    if (isList(cur)) {
      if (part === 'length') return { ok: true, leaf: 'number' };
      return { ok: false };
    }
    const next: Leaf | Schema | ListOf | undefined = (cur as Schema)[part];
    if (next === undefined) return { ok: false };
    cur = next;
  }
  return { ok: true, leaf: cur };
}

interface WalkEnv {
  readonly file: string;
  readonly kind: TemplateKind;
  readonly schema: Schema;
  readonly partials: ReadonlyMap<string, { file: string; ast: hbs.AST.Program }>;
  readonly problems: TemplateProblem[];
  readonly seenPartials: Set<string>;
}

function checkProgram(program: hbs.AST.Program, stack: Ctx[], env: WalkEnv): void {
  for (const node of program.body) checkNode(node, stack, env);
}

function report(env: WalkEnv, node: hbs.AST.Node, message: string): void {
  env.problems.push({ file: env.file, line: node.loc?.start.line ?? null, message });
}

/**
 * `single`: the expression is printed or given to one of our formatting helpers, so it must be
 * one value, not a group or a list (`{{customer}}` would print "[object Object]").
 */
function checkExpr(expr: hbs.AST.Expression, stack: Ctx[], env: WalkEnv, single: boolean): void {
  if (expr.type === 'PathExpression') {
    const p = expr as hbs.AST.PathExpression;
    const found = lookupPath(stack, p);
    if (found.ok && single && found.leaf !== undefined && typeof found.leaf === 'object') {
      report(
        env,
        expr,
        `"${p.original}" is ${isList(found.leaf) ? 'a list: use {{#each ' + p.original + '}}' : 'a group of values: name one of them, e.g. {{' + p.original + '.' + Object.keys(found.leaf)[0] + '}}'}, not a value to print`,
      );
    }
    if (!found.ok) {
      const known = schemaPaths(env.schema);
      const guess = known.map((k) => [k, editDistance(p.original.toLowerCase(), k.toLowerCase())] as const).sort((a, b) => a[1] - b[1])[0];
      report(
        env,
        expr,
        `"${p.original}" is not a variable of ${env.kind} mails${guess && guess[1] <= Math.max(2, p.original.length / 3) ? ` (did you mean "${guess[0]}"?)` : ''}; see templates/README.md for the variables of each kind`,
      );
    }
  } else if (expr.type === 'SubExpression') {
    const s = expr as hbs.AST.SubExpression;
    checkCall(s.path, s.params, s.hash, stack, env, expr);
  }
}

function checkCall(
  pathExpr: hbs.AST.PathExpression | hbs.AST.Literal,
  params: hbs.AST.Expression[],
  hash: hbs.AST.Hash | undefined,
  stack: Ctx[],
  env: WalkEnv,
  node: hbs.AST.Node,
): void {
  const name = pathExpr.type === 'PathExpression' ? (pathExpr as hbs.AST.PathExpression).original : null;
  const isHelper = name !== null && (BUILTIN_HELPERS.has(name) || OUR_HELPERS.has(name));
  if (params.length > 0 || (hash && hash.pairs.length > 0)) {
    if (!isHelper) report(env, node, `unknown helper "${name ?? '?'}"; helpers: ${[...OUR_HELPERS, ...BUILTIN_HELPERS].join(', ')}`);
  } else if (!isHelper && pathExpr.type === 'PathExpression') checkExpr(pathExpr, stack, env, true);
  // Our helpers format one value; the built-in ones (if, each, with ...) take groups and lists.
  const single = name !== null && OUR_HELPERS.has(name);
  const wants = name !== null ? HELPER_INPUT[name] : undefined;
  const first = params[0];
  if (wants && first?.type === 'PathExpression') {
    const leaf = lookupPath(stack, first as hbs.AST.PathExpression).leaf;
    if (typeof leaf === 'string' && leaf !== wants)
      report(
        env,
        node,
        `{{${name}}} formats a ${wants}, but "${(first as hbs.AST.PathExpression).original}" is ${leaf === 'customer' || leaf === 'line' ? 'text' : `a ${leaf}`}`,
      );
  }
  for (const p of params) checkExpr(p, stack, env, single);
  for (const pair of hash?.pairs ?? []) checkExpr(pair.value, stack, env, single);
}

function checkNode(node: hbs.AST.Statement, stack: Ctx[], env: WalkEnv): void {
  switch (node.type) {
    case 'MustacheStatement': {
      const m = node as hbs.AST.MustacheStatement;
      // {{{x}}} and {{& x}} skip HTML escaping: customer text would become markup.
      if (!m.escaped && env.file.endsWith('.html.hbs'))
        report(env, node, 'unescaped output ({{{...}}} or {{& ...}}) is not allowed in HTML templates: write {{...}}, values are escaped');
      checkCall(m.path as hbs.AST.PathExpression, m.params, m.hash, stack, env, node);
      return;
    }
    case 'BlockStatement': {
      const b = node as hbs.AST.BlockStatement;
      const name = b.path.type === 'PathExpression' ? b.path.original : '';
      if (!BUILTIN_HELPERS.has(name) && !OUR_HELPERS.has(name)) report(env, node, `unknown block helper "#${name}"; use #if, #unless, #each or #with`);
      for (const p of b.params) checkExpr(p, stack, env, OUR_HELPERS.has(name));
      let inner: Ctx = stack[stack.length - 1];
      if ((name === 'each' || name === 'with') && b.params[0]?.type === 'PathExpression') {
        const found = lookupPath(stack, b.params[0] as hbs.AST.PathExpression);
        const leaf = found.leaf;
        if (name === 'each') inner = leaf && typeof leaf === 'object' && isList(leaf) ? leaf.list : null;
        else inner = leaf && typeof leaf === 'object' && !isList(leaf) ? (leaf as Schema) : null;
        if (found.ok && leaf && name === 'each' && !(typeof leaf === 'object' && isList(leaf)))
          report(env, node, `"${(b.params[0] as hbs.AST.PathExpression).original}" is not a list; #each needs one`);
      }
      const pushed = name === 'each' || name === 'with';
      if (b.program) checkProgram(b.program, pushed ? [...stack, inner] : stack, env);
      if (b.inverse) checkProgram(b.inverse, stack, env);
      return;
    }
    case 'PartialStatement': {
      const p = node as hbs.AST.PartialStatement;
      const name = p.name.type === 'PathExpression' ? (p.name as hbs.AST.PathExpression).original : String((p.name as unknown as hbs.AST.StringLiteral).value);
      const partial = env.partials.get(name);
      if (!partial) {
        report(env, node, `unknown partial "${name}"; partials here: ${[...env.partials.keys()].join(', ') || 'none'}`);
        return;
      }
      // Check the partial in this kind's context, once per kind, with its own file and lines.
      const key = `${env.kind}/${partial.file}`;
      if (env.seenPartials.has(key)) return;
      env.seenPartials.add(key);
      checkProgram(partial.ast, stack, { ...env, file: partial.file });
      return;
    }
    case 'PartialBlockStatement':
    case 'DecoratorBlock':
    case 'Decorator':
      report(env, node, `${node.type} is not supported in mail templates`);
      return;
    default:
      return; // content, comments
  }
}

/** Handlebars' parse error as one line: where, the source line, what it got. */
function parseError(err: unknown): { line: number | null; message: string } {
  const msg = (err as Error).message ?? String(err);
  // "Parse error on line 3: ..." or, for a block closed by the wrong name, "if doesn't match each - 2:3".
  const m = /Parse error on line (\d+)/.exec(msg) ?? /line (\d+)/i.exec(msg) ?? / - (\d+):\d+/.exec(msg);
  const lines = msg.split('\n');
  const source = lines[1]?.trim();
  const got = /got '([^']+)'/.exec(msg)?.[1];
  const text =
    m && source
      ? `syntax error near "${source}"${got ? ` (unexpected ${got === 'INVALID' ? 'text: is a "}" missing?' : got})` : ''}`
      : `syntax error: ${lines[0]}`;
  return { line: m ? Number(m[1]) : null, message: text };
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
            const ast = Handlebars.parse(text);
            partialAsts[kindOfPart].set(m[1], { file: rel(file), ast });
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
        for (const part of PARTS) {
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
    return { set: new TemplateSet(root, compiled, setHash.digest('hex').slice(0, 12), new Map(files)), problems };
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
