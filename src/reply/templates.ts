/**
 * Mail templates that admins edit: templates/<lang>/<kind>.{subject,text,html}.hbs plus
 * partials in templates/<lang>/partials/<name>.{text,html}.hbs.
 *
 * Escaping: the HTML part is compiled with Handlebars' HTML escaping, so customer text such as
 * `<script>` arrives as text. The text part and the subject are not HTML, so they are compiled
 * without HTML escaping; Handlebars never evaluates the *values* it inserts, so `{{` in a
 * customer's name stays literal. The subject is then cut to one bounded line (no CR/LF can
 * reach a header).
 *
 * Every rendered mail carries the version of its template: a short sha256 over the files that
 * produced it (the three parts and every partial of that language), stored in the outbox.
 */
import Handlebars from 'handlebars';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { format } from 'date-fns';
import { sv, enGB } from 'date-fns/locale';
import { TZDate } from '@date-fns/tz';
import type { Language } from '../config/config';
import type { OutboundKind } from '../cases/lifecycle';
import { LANGUAGES } from '../config/config';
import { headerText } from '../util/header-safe';
import { TIME_ZONE } from '../deadlines/calendar';

export type TemplateKind = OutboundKind;
export const TEMPLATE_KINDS: readonly TemplateKind[] = ['acknowledgement', 'delay-notice', 'escalation-warning', 'breach-notice', 'manager-digest'];

const MILESTONE_NAMES: Record<Language, Record<string, string>> = {
  sv: { acknowledgement: 'bekräftelse', firstAnswer: 'första svar', finalAnswer: 'slutligt svar', finalAnswerMax: 'slutligt svar (yttersta gräns)' },
  en: { acknowledgement: 'acknowledgement', firstAnswer: 'first answer', finalAnswer: 'final answer', finalAnswerMax: 'final answer (outer limit)' },
};
const PARTS = ['subject', 'text', 'html'] as const;

export interface RenderedMail {
  readonly subject: string;
  readonly text: string;
  readonly html: string;
  readonly kind: TemplateKind;
  readonly language: Language;
  readonly version: string;
}

export class TemplateError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = 'TemplateError';
  }
}

interface CompiledKind {
  readonly subject: HandlebarsTemplateDelegate;
  readonly text: HandlebarsTemplateDelegate;
  readonly html: HandlebarsTemplateDelegate;
  readonly version: string;
}

function registerHelpers(hb: typeof Handlebars, lang: Language): void {
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
    const withWeekday = Boolean(options?.hash?.weekday);
    const pattern = withWeekday ? 'EEEE d MMMM yyyy' : 'd MMMM yyyy';
    return format(new TZDate(d.getTime(), TIME_ZONE), pattern, { locale });
  });
  // {{datetime someInstant}} -> "14 december 2026 kl. 23:59" / "14 December 2026 at 23:59" (Stockholm time).
  hb.registerHelper('datetime', (value: unknown) => {
    const d = toDate(value);
    if (!d) return '';
    return format(new TZDate(d.getTime(), TIME_ZONE), lang === 'sv' ? "d MMMM yyyy 'kl.' HH:mm" : "d MMMM yyyy 'at' HH:mm", { locale });
  });
  // {{milestoneName milestone}} -> "slutligt svar" / "final answer"
  hb.registerHelper('milestoneName', (value: unknown) => MILESTONE_NAMES[lang][String(value)] ?? String(value));
  hb.registerHelper('eq', (a: unknown, b: unknown) => a === b);
}

function readIfExists(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** A compiled set of templates for every language and kind. Load once; render many times. */
export class TemplateSet {
  private constructor(
    readonly root: string,
    private readonly compiled: ReadonlyMap<string, CompiledKind>,
  ) {}

  /** Load and compile every template; throws TemplateError naming the first broken file. */
  static load(root: string): TemplateSet {
    const compiled = new Map<string, CompiledKind>();
    for (const lang of LANGUAGES) {
      const dir = path.join(root, lang);
      // Two environments: text and subject without HTML escaping, HTML with it. Each has its own
      // partials (partials/<name>.text.hbs, partials/<name>.html.hbs), compiled with its own rules.
      const envs = { text: Handlebars.create(), html: Handlebars.create() };
      registerHelpers(envs.text, lang);
      registerHelpers(envs.html, lang);
      const partialDir = path.join(dir, 'partials');
      const partialTexts: string[] = [];
      if (fs.existsSync(partialDir)) {
        for (const name of fs.readdirSync(partialDir).sort()) {
          const m = /^(.+)\.(text|html)\.hbs$/.exec(name);
          if (!m) continue;
          const file = path.join(partialDir, name);
          const text = fs.readFileSync(file, 'utf8');
          partialTexts.push(`${name}\n${text}`);
          const env = envs[m[2] as 'text' | 'html'];
          try {
            env.precompile(text);
            env.registerPartial(m[1], env.compile(text, { strict: true, noEscape: m[2] === 'text' }));
          } catch (err) {
            throw new TemplateError(file, (err as Error).message);
          }
        }
      }
      for (const kind of TEMPLATE_KINDS) {
        const hash = crypto.createHash('sha256');
        const parts: Partial<Record<(typeof PARTS)[number], HandlebarsTemplateDelegate>> = {};
        for (const part of PARTS) {
          const file = path.join(dir, `${kind}.${part}.hbs`);
          const text = readIfExists(file);
          if (text === null) throw new TemplateError(file, `missing: every language needs ${kind}.{subject,text,html}.hbs`);
          hash.update(`${part}\n${text}\n`);
          const env = part === 'html' ? envs.html : envs.text;
          try {
            env.precompile(text); // surfaces syntax errors now rather than at the first render
            parts[part] = env.compile(text, { strict: true, noEscape: part !== 'html' });
          } catch (err) {
            throw new TemplateError(file, (err as Error).message);
          }
        }
        for (const p of partialTexts) hash.update(p);
        compiled.set(`${lang}/${kind}`, {
          subject: parts.subject!,
          text: parts.text!,
          html: parts.html!,
          version: hash.digest('hex').slice(0, 12),
        });
      }
    }
    return new TemplateSet(root, compiled);
  }

  version(kind: TemplateKind, lang: Language): string {
    return this.get(kind, lang).version;
  }

  private get(kind: TemplateKind, lang: Language): CompiledKind {
    const c = this.compiled.get(`${lang}/${kind}`);
    if (!c) throw new Error(`no template ${lang}/${kind}`);
    return c;
  }

  render(kind: TemplateKind, lang: Language, data: object): RenderedMail {
    const c = this.get(kind, lang);
    const at = (part: string): string => path.join(this.root, lang, `${kind}.${part}.hbs`);
    const run = (part: (typeof PARTS)[number]): string => {
      try {
        return c[part](data);
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
