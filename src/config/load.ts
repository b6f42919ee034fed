/**
 * Config: load -> validate (every problem at once) -> frozen `Config`.
 *
 * A config file is JSON. Relative paths resolve against the folder of the config file, so a
 * config can be moved together with its data. Secrets are never in the file: a key such as
 * `passwordEnv` names the environment variable that holds one.
 *
 * Every problem names the file, the key and what is allowed, e.g.
 *   config/prod.json: sources[0].port: expected a whole number from 1 to 65535, got "abc"
 * Unknown keys are problems too (a typo must not silently fall back to a default).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import cron from 'node-cron';
import {
  Config,
  DeadlinesConfig,
  LANGUAGES,
  Language,
  MAIL_PLATFORMS,
  MailPlatform,
  MicrosoftOAuth2,
  OAuth2Config,
  OAUTH2_PROVIDERS,
  OAuth2Provider,
  Officer,
  OFFICER_ROLES,
  OfficerRole,
  SourceConfig,
  TLS_MODES,
  TlsMode,
  TransportConfig,
} from './config';
import { DEADLINE_UNITS, DeadlineRule, DeadlineUnit } from '../deadlines/rules';
import { Milestone, Policy, PRESETS } from '../deadlines/policy';
import { parseIsoDate } from '../util/stockholm-time';
import {
  CategoryRule,
  compileCategory,
  COMPLAINT_ITEMS,
  ComplaintItem,
  ComplaintRules,
  DEFAULT_CATEGORIES,
  DEFAULT_REFERENCES,
  ReferenceRule,
} from './complaint-rules';
import { normaliseAddress } from '../util/header-safe';
import { parseFieldKey } from '../util/crypto-field';
import { packageRoot } from '../util/package-root';
import { editDistance } from '../util/edit-distance';

/** Where `klagomal` looks when neither --config nor KLAGOMAL_CONFIG is given: the embedded default. */
export function defaultConfigFile(): string {
  return path.join(packageRoot(), 'config', 'default.json');
}

export interface ConfigProblem {
  readonly key: string;
  readonly message: string;
}

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: readonly ConfigProblem[],
  ) {
    super(
      problems.length === 1
        ? `${file}: ${problems[0].key ? problems[0].key + ': ' : ''}${problems[0].message}`
        : `${file}: ${problems.length} problems:\n` + problems.map((p) => `  - ${p.key ? p.key + ': ' : ''}${p.message}`).join('\n'),
    );
    this.name = 'ConfigError';
  }
}

type Json = unknown;

function describe(v: Json): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? v.slice(0, 60) + '…' : v);
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  return String(v);
}

function closest(word: string, candidates: Iterable<string>): string | null {
  let best: string | null = null;
  let bestDist = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDist) {
      bestDist = d;
      best = c;
    }
  }
  return best !== null && bestDist <= Math.max(2, Math.floor(word.length / 3)) ? best : null;
}

/**
 * Reads one JSON object, remembering which keys were asked for so that the rest can be
 * reported as unknown. Readers return a usable value even after a problem, so that
 * validation goes on and reports everything in one run.
 */
class Section {
  private readonly asked = new Set<string>();

  constructor(
    private readonly obj: Record<string, Json>,
    private readonly at: string,
    private readonly problems: ConfigProblem[],
  ) {}

  private key(k: string): string {
    if (!k) return this.at;
    return this.at ? `${this.at}.${k}` : k;
  }

  problem(k: string, message: string): void {
    this.problems.push({ key: this.key(k), message });
  }

  has(k: string): boolean {
    return this.obj[k] !== undefined;
  }

  raw(k: string): Json {
    this.asked.add(k);
    return this.obj[k];
  }

  string(k: string, opts: { default?: string; pattern?: RegExp; hint?: string } = {}): string {
    const v = this.raw(k);
    if (v === undefined) {
      if (opts.default !== undefined) return opts.default;
      this.problem(k, `missing; expected ${opts.hint ?? 'a text'}`);
      return '';
    }
    if (typeof v !== 'string' || v.trim() === '') {
      this.problem(k, `expected ${opts.hint ?? 'a non-empty text'}, got ${describe(v)}`);
      return opts.default ?? '';
    }
    if (opts.pattern && !opts.pattern.test(v)) {
      this.problem(k, `expected ${opts.hint ?? `text matching ${opts.pattern}`}, got ${describe(v)}`);
    }
    return v;
  }

  optionalString(k: string): string | null {
    const v = this.raw(k);
    if (v === undefined || v === null) return null;
    if (typeof v !== 'string' || v.trim() === '') {
      this.problem(k, `expected a non-empty text or null, got ${describe(v)}`);
      return null;
    }
    return v;
  }

  oneOf<T extends string>(k: string, allowed: readonly T[], dflt?: T): T {
    const v = this.raw(k);
    if (v === undefined && dflt !== undefined) return dflt;
    if (typeof v !== 'string' || !allowed.includes(v as T)) {
      const guess = typeof v === 'string' ? closest(v, allowed) : null;
      this.problem(
        k,
        `${v === undefined ? 'missing' : `got ${describe(v)}`}; allowed: ${allowed.map((a) => `"${a}"`).join(', ')}` +
          (guess ? ` (did you mean "${guess}"?)` : ''),
      );
      return dflt ?? allowed[0];
    }
    return v as T;
  }

  int(k: string, opts: { default?: number; min: number; max: number }): number {
    const v = this.raw(k);
    if (v === undefined && opts.default !== undefined) return opts.default;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < opts.min || v > opts.max) {
      this.problem(k, `expected a whole number from ${opts.min} to ${opts.max}, got ${v === undefined ? 'nothing' : describe(v)}`);
      return opts.default ?? opts.min;
    }
    return v;
  }

  bool(k: string, dflt: boolean): boolean {
    const v = this.raw(k);
    if (v === undefined) return dflt;
    if (typeof v !== 'boolean') {
      this.problem(k, `expected true or false, got ${describe(v)}`);
      return dflt;
    }
    return v;
  }

  stringList(k: string, dflt: string[]): string[] {
    const v = this.raw(k);
    if (v === undefined) return dflt;
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || x.trim() === '')) {
      this.problem(k, `expected a list of texts, got ${describe(v)}`);
      return dflt;
    }
    return v as string[];
  }

  section(k: string, required = false): Section {
    const v = this.raw(k);
    if (v === undefined && !required) return new Section({}, this.key(k), this.problems);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      this.problem(k, `expected an object, got ${v === undefined ? 'nothing' : describe(v)}`);
      return new Section({}, this.key(k), this.problems);
    }
    return new Section(v as Record<string, Json>, this.key(k), this.problems);
  }

  list(k: string): Section[] {
    const v = this.raw(k);
    if (!Array.isArray(v)) {
      this.problem(k, `expected a list of objects, got ${v === undefined ? 'nothing' : describe(v)}`);
      return [];
    }
    return v.map((item, i) => {
      const at = `${this.key(k)}[${i}]`;
      if (typeof item !== 'object' || item === null || Array.isArray(item)) {
        this.problems.push({ key: at, message: `expected an object, got ${describe(item)}` });
        return new Section({}, at, this.problems);
      }
      return new Section(item as Record<string, Json>, at, this.problems);
    });
  }

  /** Report keys that were present but never read. Call after reading everything. */
  done(): void {
    for (const k of Object.keys(this.obj)) {
      if (!this.asked.has(k)) {
        const guess = closest(k, this.asked);
        this.problem(k, `unknown key${guess ? ` (did you mean "${guess}"?)` : ''}; known keys here: ${[...this.asked].join(', ')}`);
      }
    }
  }
}

const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
/**
 * Webmail providers and Swedish and Nordic ISPs: thousands of unrelated customers share each of
 * these domains, so a per-domain cap would silence real complaints (loop.publicMailDomains).
 */
export const PUBLIC_MAIL_DOMAINS: readonly string[] = [
  'gmail.com',
  'googlemail.com',
  'hotmail.com',
  'hotmail.se',
  'outlook.com',
  'outlook.se',
  'live.com',
  'live.se',
  'msn.com',
  'yahoo.com',
  'yahoo.se',
  'ymail.com',
  'icloud.com',
  'me.com',
  'mac.com',
  'aol.com',
  'protonmail.com',
  'proton.me',
  'pm.me',
  'gmx.com',
  'gmx.net',
  'gmx.de',
  'web.de',
  'mail.com',
  'zoho.com',
  'yandex.com',
  'telia.com',
  'telia.se',
  'bredband.net',
  'bredband2.com',
  'comhem.se',
  'tele2.se',
  'spray.se',
  'passagen.se',
  'bahnhof.se',
  'glocalnet.net',
  'swipnet.se',
  'home.se',
  'ownit.se',
  'tiscali.se',
  'hotmail.no',
  'online.no',
  'hotmail.dk',
  'live.dk',
  'jubii.dk',
  'hotmail.fi',
  'luukku.com',
];

/** A list of domain names, lower-cased ("gmail.com", not "@gmail.com" or an address). */
function readDomainList(s: Section, k: string, dflt: readonly string[]): readonly string[] {
  const list = s.stringList(k, [...dflt]);
  list.forEach((d, i) => {
    if (!/^[a-z0-9-]+(\.[a-z0-9-]+)+$/i.test(d.trim())) s.problem(`${k}[${i}]`, `expected a domain name like "gmail.com", got ${describe(d)}`);
  });
  return list.map((d) => d.trim().toLowerCase());
}

const ADDRESS = { pattern: /^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/, hint: 'an e-mail address like klagomal@firma.se' };
const ENV_NAME = { pattern: /^[A-Z_][A-Z0-9_]*$/, hint: 'an environment variable name like KLAGOMAL_IMAP_PASSWORD' };

function readRule(s: Section): DeadlineRule {
  const unit = s.oneOf<DeadlineUnit>('unit', DEADLINE_UNITS);
  const amount = s.int('amount', { min: 1, max: unit === 'hours' ? 24 * 366 : 366 });
  s.done();
  return { unit, amount };
}

const MILESTONE_KEYS: Record<string, Milestone> = {
  acknowledgement: 'acknowledgement',
  firstAnswer: 'firstAnswer',
  finalAnswer: 'finalAnswer',
  position: 'finalAnswer',
  finalAnswerMax: 'finalAnswerMax',
};

/** A custom policy: optionally a preset, with milestone rules that override it. */
function readPolicy(s: Section, name: string): Policy {
  const presetName = s.has('preset') ? s.oneOf('preset', Object.keys(PRESETS)) : null;
  const preset = presetName ? PRESETS[presetName] : null;
  const rules: Partial<Record<Milestone, DeadlineRule>> = { ...(preset?.rules ?? {}) };
  const statutory: Partial<Record<Milestone, DeadlineRule>> = preset?.statutory ? { ...preset.rules } : {};
  for (const [key, milestone] of Object.entries(MILESTONE_KEYS)) {
    if (!s.has(key)) continue;
    const rule = readRule(s.section(key));
    const limit = statutory[milestone];
    if (limit && !(rule.unit === limit.unit && rule.amount <= limit.amount)) {
      s.problem(
        key,
        `${preset!.source} allows at most ${limit.amount} ${limit.unit} here; a statutory deadline may be shortened, never lengthened (got ${rule.amount} ${rule.unit})`,
      );
    }
    rules[milestone] = rule;
  }
  const source = s.has('source')
    ? s.string('source')
    : preset
      ? `${preset.source}${Object.keys(MILESTONE_KEYS).some((k) => s.has(k)) ? ' (shortened by the firm)' : ''}`
      : `the firm's policy "${name}"`;
  s.done();
  if (Object.keys(rules).length === 0)
    s.problem('', `policy "${name}" sets no milestone; give a "preset" or rules for acknowledgement, firstAnswer, finalAnswer`);
  return { name, source, rules, statutory };
}

function readDeadlines(s: Section): DeadlinesConfig {
  const definitions: Record<string, Policy> = {};
  for (const [name, p] of Object.entries(PRESETS)) definitions[name] = { name, source: p.source, rules: p.rules, statutory: p.statutory ? p.rules : {} };
  const customS = s.section('custom');
  const customRaw = s.raw('custom');
  if (customRaw && typeof customRaw === 'object') {
    for (const name of Object.keys(customRaw as object)) {
      if (PRESETS[name]) customS.problem(name, `"${name}" is a preset name; give your policy another name and "preset": "${name}"`);
      definitions[name] = readPolicy(customS.section(name, true), name);
    }
  }
  customS.done();
  const known = Object.keys(definitions);
  const checkNames = (key: string, names: string[]): string[] => {
    names.forEach((n, i) => {
      if (!definitions[n]) s.problem(`${key}[${i}]`, `unknown policy "${n}"; known: ${known.join(', ')}`);
    });
    return names.filter((n) => definitions[n]);
  };
  const policies = checkNames('policies', s.stringList('policies', ['promise-24h-14d']));
  if (!policies.some((n) => definitions[n].rules.finalAnswer)) {
    s.problem('policies', 'no policy here sets finalAnswer: the acknowledgement must tell every customer when to expect an answer');
  }
  const byCategory: Record<string, string[]> = {};
  const catRaw = s.raw('byCategory');
  if (catRaw === undefined) {
    byCategory.payments = ['psd2'];
    byCategory.fraud = ['psd2'];
  } else if (typeof catRaw !== 'object' || catRaw === null || Array.isArray(catRaw)) s.problem('byCategory', 'expected an object like {"payments": ["psd2"]}');
  else {
    const catS = s.section('byCategory');
    for (const cat of Object.keys(catRaw)) byCategory[cat] = checkNames(`byCategory.${cat}`, catS.stringList(cat, []));
    catS.done();
  }
  const extraClosedDates = s.stringList('extraClosedDates', []);
  extraClosedDates.forEach((d, i) => {
    if (!parseIsoDate(d)) s.problem(`extraClosedDates[${i}]`, `expected a date "YYYY-MM-DD", got ${describe(d)}`);
  });

  const e = s.section('escalation');
  const intList = (key: string, dflt: number[], max: number): number[] => {
    const v = e.raw(key);
    if (v === undefined) return dflt;
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'number' || !Number.isInteger(x) || x < 1 || x > max)) {
      e.problem(key, `expected a list of whole numbers from 1 to ${max}, got ${describe(v)}`);
      return dflt;
    }
    return [...(v as number[])].sort((a, b) => b - a);
  };
  const schedule = e.string('schedule', { default: '*/5 * * * *' });
  if (!cron.validate(schedule)) e.problem('schedule', `not a valid cron expression: ${describe(schedule)} (e.g. "*/5 * * * *", every 5 minutes)`);
  const digestRaw = e.raw('digestTime');
  let digestTime: string | null = '07:30';
  if (digestRaw === null) digestTime = null;
  else if (digestRaw !== undefined) {
    if (typeof digestRaw !== 'string' || !/^([01]\d|2[0-3]):[0-5]\d$/.test(digestRaw))
      e.problem('digestTime', `expected a time "HH:MM" (Stockholm time) or null, got ${describe(digestRaw)}`);
    else digestTime = digestRaw;
  }
  const escalation = {
    enabled: e.bool('enabled', true),
    schedule,
    warnBusinessDays: intList('warnBusinessDays', [2, 1], 20),
    warnHours: intList('warnHours', [4], 24 * 30),
    managerBusinessDays: e.int('managerBusinessDays', { default: 1, min: 0, max: 20 }),
    digestTime,
    lateAfterMinutes: e.int('lateAfterMinutes', { default: 15, min: 1, max: 24 * 60 }),
  };
  e.done();
  s.done();
  const version = crypto.createHash('sha256').update(JSON.stringify({ policies, byCategory, definitions, extraClosedDates })).digest('hex').slice(0, 12);
  return { policies, byCategory, definitions, extraClosedDates, escalation, version };
}

/** Category rules and reference patterns: lists that replace the defaults when given. */
function readComplaintRules(s: Section): ComplaintRules {
  const categories: CategoryRule[] = s.has('categories')
    ? s.list('categories').map((c, i) => {
        const rule = { id: c.string('id', { pattern: /^[a-z][a-z0-9-]{0,40}$/, hint: 'a lower-case id like "fees"' }), words: c.stringList('keywords', []) };
        if (rule.words.length === 0) c.problem('keywords', 'expected a list of word stems, e.g. ["avgift", "fee"]');
        try {
          compileCategory(rule);
        } catch (err) {
          s.problem(`categories[${i}].keywords`, `not a valid pattern: ${(err as Error).message}`);
        }
        c.done();
        return rule;
      })
    : [...DEFAULT_CATEGORIES];
  const references: ReferenceRule[] = s.has('references')
    ? s.list('references').map((r, i) => {
        const rule = { type: r.string('type', { pattern: /^[a-z][a-z0-9-]{0,40}$/, hint: 'a lower-case type like "invoice"' }), pattern: r.string('pattern') };
        try {
          if (new RegExp(`${rule.pattern}|`).exec('')!.length < 2) r.problem('pattern', 'needs one capture group (…) around the number');
        } catch (err) {
          s.problem(`references[${i}].pattern`, `not a valid regular expression: ${(err as Error).message}`);
        }
        r.done();
        return rule;
      })
    : [...DEFAULT_REFERENCES];
  const requiredItems = s.stringList('requiredItems', [...COMPLAINT_ITEMS]);
  requiredItems.forEach((item, i) => {
    if (!COMPLAINT_ITEMS.includes(item as ComplaintItem)) s.problem(`requiredItems[${i}]`, `unknown item "${item}"; allowed: ${COMPLAINT_ITEMS.join(', ')}`);
  });
  s.done();
  return { categories, references, requiredItems: requiredItems.filter((i): i is ComplaintItem => COMPLAINT_ITEMS.includes(i as ComplaintItem)) };
}

function readOfficers(root: Section): Officer[] {
  if (!root.has('officers')) return [];
  const seen = new Set<string>();
  return root.list('officers').map((s, i) => {
    const address = s.string('address', ADDRESS).trim().toLowerCase();
    if (seen.has(address)) root.problem(`officers[${i}].address`, `${address} is listed twice`);
    seen.add(address);
    const languages = s.stringList('languages', [...LANGUAGES]);
    languages.forEach((l, j) => {
      if (!LANGUAGES.includes(l as Language)) s.problem(`languages[${j}]`, `unknown language "${l}"; allowed: ${LANGUAGES.join(', ')}`);
    });
    if (languages.length === 0) s.problem('languages', 'at least one language');
    const o = {
      name: s.string('name', { hint: "the officer's name" }),
      address,
      role: s.oneOf<OfficerRole>('role', OFFICER_ROLES, 'officer'),
      languages: languages.filter((l): l is Language => LANGUAGES.includes(l as Language)),
      categories: s.stringList('categories', []).map((c) => c.trim()),
      available: s.bool('available', true),
    };
    s.done();
    return o;
  });
}

/** Defaults of the OAuth2 providers, as Microsoft and Google document them for IMAP and SMTP. */
export const OAUTH2_DEFAULTS = {
  microsoftAuthorityHost: 'https://login.microsoftonline.com',
  /** Exchange Online's resource: IMAP.AccessAsApp and SMTP.SendAsApp are granted on it. */
  microsoftMailScope: 'https://outlook.office365.com/.default',
  /** Microsoft Graph's resource: Mail.Send for the graph transport. */
  microsoftGraphScope: 'https://graph.microsoft.com/.default',
  googleScope: 'https://mail.google.com/',
  googleTokenUrl: 'https://oauth2.googleapis.com/token',
  graphEndpoint: 'https://graph.microsoft.com',
} as const;

/**
 * A URL that tokens or mail are sent to: https, or plain http to this machine only (a local
 * token proxy, tests). A secret sent in clear over a network is refused at load.
 */
const SECRET_URL = {
  pattern: /^(https:\/\/[^\s/?#]+|http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?)(\/[^\s]*)?$/,
  hint: 'an https:// URL (plain http only to 127.0.0.1)',
};

/**
 * `auth` of an IMAP source, the SMTP transport or the graph transport: OAuth2 instead of a
 * password. Each provider's keys are checked; what belongs to another provider is an unknown key.
 */
function readAuth(s: Section, use: 'mail' | 'graph', resolvePath: (p: string) => string): OAuth2Config {
  s.oneOf('type', ['oauth2'] as const);
  const provider = s.oneOf<OAuth2Provider>('provider', use === 'graph' ? ['microsoft'] : OAUTH2_PROVIDERS);
  const envName = (k: string): string | null => {
    const v = s.optionalString(k);
    if (v !== null && !ENV_NAME.pattern.test(v)) s.problem(k, `expected ${ENV_NAME.hint}, got ${describe(v)}`);
    return v;
  };
  let auth: OAuth2Config;
  if (provider === 'microsoft') {
    const clientSecretEnv = envName('clientSecretEnv');
    const certificateFileEnv = envName('certificateFileEnv');
    const thumbRaw = s.optionalString('certificateThumbprint');
    const certificateThumbprint = thumbRaw === null ? null : thumbRaw.replace(/[:\s]/g, '').toLowerCase();
    if (certificateThumbprint !== null && !/^([0-9a-f]{40}|[0-9a-f]{64})$/.test(certificateThumbprint))
      s.problem(
        'certificateThumbprint',
        `expected the certificate's thumbprint as the app registration shows it (40 hex digits, or 64 for SHA-256), got ${describe(thumbRaw)}`,
      );
    if (clientSecretEnv === null && certificateFileEnv === null)
      s.problem(
        '',
        'give "clientSecretEnv" (the variable holding the app\'s client secret) or "certificateFileEnv" and "certificateThumbprint" (a certificate uploaded to the app registration)',
      );
    if (clientSecretEnv !== null && certificateFileEnv !== null) s.problem('clientSecretEnv', 'give either a client secret or a certificate, not both');
    if (certificateFileEnv !== null && certificateThumbprint === null)
      s.problem('certificateThumbprint', 'required with "certificateFileEnv": the thumbprint Entra shows for the uploaded certificate');
    if (certificateFileEnv === null && thumbRaw !== null) s.problem('certificateThumbprint', 'only used with "certificateFileEnv"');
    auth = {
      type: 'oauth2',
      provider,
      tenantId: s.string('tenantId', {
        pattern: /^[A-Za-z0-9.-]{1,100}$/,
        hint: "the directory (tenant) id, a GUID like 72f988bf-86f1-41af-91ab-2d7cd011db47, or the tenant's domain",
      }),
      clientId: s.string('clientId', { pattern: /^[A-Za-z0-9._-]{1,100}$/, hint: "the app registration's application (client) id, a GUID" }),
      clientSecretEnv,
      certificateFileEnv,
      certificateThumbprint,
      authorityHost: s.string('authorityHost', { default: OAUTH2_DEFAULTS.microsoftAuthorityHost, ...SECRET_URL }).replace(/\/+$/, ''),
      scope: s.string('scope', { default: use === 'graph' ? OAUTH2_DEFAULTS.microsoftGraphScope : OAUTH2_DEFAULTS.microsoftMailScope }),
    };
  } else if (provider === 'google') {
    auth = {
      type: 'oauth2',
      provider,
      serviceAccountKeyFileEnv: s.string('serviceAccountKeyFileEnv', {
        ...ENV_NAME,
        hint: "an environment variable name like KLAGOMAL_GOOGLE_KEY_FILE (holding the path of the service account's JSON key)",
      }),
      scope: s.string('scope', { default: OAUTH2_DEFAULTS.googleScope }),
      tokenUrl: s.string('tokenUrl', { default: OAUTH2_DEFAULTS.googleTokenUrl, ...SECRET_URL }),
    };
  } else if (provider === 'generic') {
    auth = {
      type: 'oauth2',
      provider,
      tokenUrl: s.string('tokenUrl', SECRET_URL),
      clientId: s.string('clientId', { hint: 'the client id registered at the OAuth2 server' }),
      clientSecretEnv: s.string('clientSecretEnv', ENV_NAME),
      scope: s.optionalString('scope'),
    };
  } else {
    const command = s.stringList('command', []);
    if (command.length === 0) s.problem('command', 'expected ["/path/to/program", "argument", ...]: a program that prints an access token');
    else if (!command[0].includes('/'))
      s.problem('command[0]', `give the program's path (absolute, or relative to the config file), not a name looked up in PATH: got ${describe(command[0])}`);
    auth = { type: 'oauth2', provider, command: command.length > 0 && command[0].includes('/') ? [resolvePath(command[0]), ...command.slice(1)] : command };
  }
  s.done();
  return auth;
}

function readSource(s: Section, resolvePath: (p: string) => string, index: number): SourceConfig {
  const type = s.oneOf('type', ['maildir', 'imap'] as const);
  const name = s.string('name', {
    default: index === 0 ? 'klagomal' : `source${index + 1}`,
    pattern: /^[A-Za-z0-9._-]{1,40}$/,
    hint: 'a short name of letters, digits, ".", "_" or "-"',
  });
  if (type === 'maildir') {
    const cfg = {
      type,
      name,
      path: resolvePath(s.string('path', { hint: 'the Maildir folder (relative to the config file)' })),
      pollSeconds: s.int('pollSeconds', { default: 5, min: 1, max: 3600 }),
    } as const;
    s.done();
    return cfg;
  }
  const tls = s.oneOf<TlsMode>('tls', TLS_MODES, 'implicit');
  const auth = s.has('auth') ? readAuth(s.section('auth'), 'mail', resolvePath) : null;
  let passwordEnv: string | null = null;
  if (auth === null) passwordEnv = s.string('passwordEnv', { ...ENV_NAME, hint: `${ENV_NAME.hint} (or "auth" for OAuth2: Microsoft 365, Google Workspace)` });
  else if (s.has('passwordEnv')) {
    s.raw('passwordEnv');
    s.problem('passwordEnv', 'remove it: this mailbox logs in with "auth" (OAuth2), and no password is used');
  }
  const cfg = {
    type,
    name,
    host: s.string('host', { hint: 'the IMAP server host name' }),
    port: s.int('port', { default: tls === 'implicit' ? 993 : 143, min: 1, max: 65535 }),
    tls,
    tlsRejectUnauthorized: s.bool('tlsRejectUnauthorized', true),
    user: s.string('user', { hint: 'the IMAP login name (with "auth": the mailbox address)' }),
    passwordEnv,
    auth,
    mailbox: s.string('mailbox', { default: 'INBOX' }),
    sentFolder: s.optionalString('sentFolder'),
    processedFolder: s.optionalString('processedFolder'),
    idle: s.bool('idle', true),
    pollSeconds: s.int('pollSeconds', { default: 60, min: 1, max: 3600 }),
    fetchBatchSize: s.int('fetchBatchSize', { default: 200, min: 1, max: 5000 }),
  } as const;
  if (cfg.processedFolder !== null && cfg.processedFolder === cfg.mailbox) {
    s.problem('processedFolder', `must differ from "mailbox" (${cfg.mailbox}): moving filed mail into the watched folder would fetch it again`);
  }
  if (cfg.sentFolder !== null && (cfg.sentFolder === cfg.mailbox || cfg.sentFolder === cfg.processedFolder)) {
    s.problem('sentFolder', `must differ from "mailbox" and "processedFolder": it is the folder the shared mailbox's sent mail is saved in`);
  }
  s.done();
  return cfg;
}

function readTransport(s: Section, resolvePath: (p: string) => string, dataDir: string, complaintsAddress: string): TransportConfig {
  const type = s.oneOf('type', ['pickup', 'smtp', 'graph'] as const, 'pickup');
  if (type === 'pickup') {
    const p = s.has('path') ? resolvePath(s.string('path')) : path.join(dataDir, 'outbox', 'pickup');
    s.done();
    return { type, path: p };
  }
  if (type === 'graph') {
    const cfg = {
      type,
      user: s.string('user', { default: complaintsAddress, ...ADDRESS }),
      auth: readAuth(s.section('auth', true), 'graph', resolvePath) as MicrosoftOAuth2,
      endpoint: s.string('endpoint', { default: OAUTH2_DEFAULTS.graphEndpoint, ...SECRET_URL }).replace(/\/+$/, ''),
    } as const;
    s.done();
    return cfg;
  }
  const tls = s.oneOf<TlsMode>('tls', TLS_MODES, 'starttls');
  const user = s.optionalString('user');
  const auth = s.has('auth') ? readAuth(s.section('auth'), 'mail', resolvePath) : null;
  const passwordEnv = s.optionalString('passwordEnv');
  if (passwordEnv !== null && !ENV_NAME.pattern.test(passwordEnv)) s.problem('passwordEnv', `expected ${ENV_NAME.hint}, got ${describe(passwordEnv)}`);
  if (auth !== null && passwordEnv !== null) s.problem('passwordEnv', 'remove it: the transport logs in with "auth" (OAuth2), and no password is used');
  if (auth !== null && user === null) s.problem('user', 'required with "auth": the mailbox that sends (our From address)');
  if (auth === null && user !== null && passwordEnv === null)
    s.problem('passwordEnv', 'required when "user" is set: the environment variable holding the SMTP password (or "auth" for OAuth2)');
  const cfg = {
    type,
    host: s.string('host', { hint: 'the SMTP server host name' }),
    port: s.int('port', { default: tls === 'implicit' ? 465 : tls === 'starttls' ? 587 : 25, min: 1, max: 65535 }),
    tls,
    tlsRejectUnauthorized: s.bool('tlsRejectUnauthorized', true),
    user,
    passwordEnv: auth === null ? passwordEnv : null,
    auth,
    maxConnections: s.int('maxConnections', { default: 3, min: 1, max: 20 }),
  } as const;
  s.done();
  return cfg;
}

/** Validate a parsed JSON value as it would be read from `file`. Throws ConfigError with every problem. */
export function parseConfig(json: Json, file: string): Config {
  const problems: ConfigProblem[] = [];
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ConfigError(file, [{ key: '', message: 'the file must hold one JSON object' }]);
  }
  const base = path.dirname(file);
  const resolvePath = (p: string): string => path.resolve(base, p);
  const root = new Section(json as Record<string, Json>, '', problems);

  const firmS = root.section('firm', true);
  const firmName = firmS.string('name', { hint: "the firm's name" });
  const complaintsAddress = firmS.string('complaintsAddress', ADDRESS).trim();
  const domain = complaintsAddress.includes('@') ? complaintsAddress.slice(complaintsAddress.lastIndexOf('@') + 1).toLowerCase() : 'invalid';
  const staffAddresses = firmS.stringList('staffAddresses', []).map((a) => a.trim().toLowerCase());
  staffAddresses.forEach((a, i) => {
    if (!normaliseAddress(a)) firmS.problem(`staffAddresses[${i}]`, `expected an e-mail address, got ${describe(a)}`);
  });
  const staffDomains = firmS.stringList('staffDomains', []).map((d) => d.trim().toLowerCase().replace(/^@/, ''));
  const firm = {
    name: firmName,
    complaintsAddress,
    fromName: firmS.string('fromName', { default: `${firmName} Klagomål` }),
    messageIdDomain: firmS.string('messageIdDomain', { default: domain, pattern: /^[A-Za-z0-9.-]+$/, hint: 'a domain name' }),
    staffAddresses,
    staffDomains,
    formAddresses: firmS.stringList('formAddresses', []).map((a) => a.trim().toLowerCase()),
    adminAddress: firmS.has('adminAddress') ? firmS.string('adminAddress', ADDRESS).trim().toLowerCase() : null,
    caseLinkBase: firmS.string('caseLinkBase', { default: '' }),
    authservIds: firmS.stringList('authservIds', []).map((a) => a.trim().toLowerCase()),
    trustStaffFrom: firmS.bool('trustStaffFrom', false),
    mailPlatform: firmS.oneOf<MailPlatform>('mailPlatform', MAIL_PLATFORMS, 'own'),
    tenantId: firmS.has('tenantId')
      ? firmS.string('tenantId', { pattern: GUID, hint: 'the Microsoft 365 tenant id, a GUID like "72f988bf-86f1-41af-91ab-2d7cd011db47"' }).toLowerCase()
      : null,
  };
  if (firm.mailPlatform === 'microsoft365' && firm.tenantId === null)
    firmS.problem(
      'tenantId',
      'required with mailPlatform "microsoft365": the tenant id (Entra admin center > Overview > Tenant ID), so that only your tenant\'s internal-mail stamps are trusted',
    );
  if (firm.mailPlatform !== 'microsoft365' && firm.tenantId !== null) firmS.problem('tenantId', 'only used with mailPlatform "microsoft365"');
  firmS.done();

  const casesS = root.section('cases');
  const cases = {
    prefix: casesS.string('prefix', {
      default: 'KLG',
      pattern: /^[A-Z][A-Z0-9]{0,9}$/,
      hint: '1-10 capital letters or digits, starting with a letter, e.g. "KLG"',
    }),
    relatedWindowDays: casesS.int('relatedWindowDays', { default: 90, min: 0, max: 3650 }),
  };
  casesS.done();

  const language = root.oneOf<Language>('language', LANGUAGES, 'sv');
  const dataDir = resolvePath(root.string('dataDir', { default: '../data' }));
  const database = root.has('database') ? resolvePath(root.string('database')) : path.join(dataDir, 'klagomal.db');
  const templates = resolvePath(root.string('templates', { default: '../templates' }));

  const sources = root.list('sources').map((s, i) => readSource(s, resolvePath, i));
  if (sources.length === 0 && !problems.some((p) => p.key === 'sources'))
    root.problem('sources', 'at least one source is needed (a "maildir" or an "imap" mailbox)');
  const seen = new Set<string>();
  sources.forEach((s, i) => {
    if (seen.has(s.name)) problems.push({ key: `sources[${i}].name`, message: `"${s.name}" is used by another source; names must be unique` });
    // Names the system gives mail of its own: `klagomal import` (quiet filing) and `klagomal ingest`.
    if (RESERVED_SOURCE_NAMES.includes(s.name))
      problems.push({
        key: `sources[${i}].name`,
        message: `"${s.name}" is reserved for mail brought in by \`klagomal ${s.name === 'cli' ? 'ingest' : s.name}\`; choose another name`,
      });
    seen.add(s.name);
  });

  const transport = readTransport(root.section('transport'), resolvePath, dataDir, complaintsAddress);

  const ackS = root.section('acknowledgement');
  const acknowledgement = {
    enabled: ackS.bool('enabled', true),
    maxPerAddressPer24h: ackS.int('maxPerAddressPer24h', { default: 3, min: 1, max: 1000 }),
    nameContactPerson: ackS.bool('nameContactPerson', true),
  };
  ackS.done();

  const complaints = readComplaintRules(root.section('complaints'));
  const thrS = root.section('threading');
  const threading = { subjectWindowDays: thrS.int('subjectWindowDays', { default: 30, min: 0, max: 365 }) };
  thrS.done();
  const loopS = root.section('loop');
  const loop = {
    maxPerCasePer24h: loopS.int('maxPerCasePer24h', { default: 3, min: 1, max: 100 }),
    bouncingAddressDays: loopS.int('bouncingAddressDays', { default: 30, min: 0, max: 3650 }),
    maxPerDomainPer24h: loopS.int('maxPerDomainPer24h', { default: 10, min: 1, max: 100_000 }),
    publicMailDomains: readDomainList(loopS, 'publicMailDomains', PUBLIC_MAIL_DOMAINS),
    maxAutomaticPerHour: loopS.int('maxAutomaticPerHour', { default: 10_000, min: 1, max: 1_000_000 }),
  };
  loopS.done();

  const officers = readOfficers(root);
  // The admin defaults to the first manager (the klagomålsansvarig), so that template problems reach a person.
  if (firm.adminAddress === null) firm.adminAddress = officers.find((o) => o.role === 'manager')?.address ?? null;
  // An officer's categories must be ones the firm's rules can give a complaint.
  const categoryIds = new Set([...complaints.categories.map((c) => c.id), 'other']);
  officers.forEach((o, i) =>
    o.categories.forEach((c, j) => {
      if (!categoryIds.has(c)) root.problem(`officers[${i}].categories[${j}]`, `unknown category "${c}"; allowed: ${[...categoryIds].join(', ')}`);
    }),
  );
  const deadlines = readDeadlines(root.section('deadlines'));
  if (deadlines.escalation.enabled && !officers.some((o) => o.role === 'manager')) {
    root.problem(
      'officers',
      'escalation needs at least one officer with "role": "manager" (the klagomålsansvarig), or set deadlines.escalation.enabled to false',
    );
  }

  const outS = root.section('outbox');
  const outbox = {
    giveUpAfterHours: outS.int('giveUpAfterHours', { default: 120, min: 1, max: 30 * 24 }),
    retryBaseSeconds: outS.int('retryBaseSeconds', { default: 30, min: 1, max: 86400 }),
    retryMaxSeconds: outS.int('retryMaxSeconds', { default: 3600, min: 1, max: 7 * 86400 }),
    sendTimeoutSeconds: outS.int('sendTimeoutSeconds', { default: 120, min: 1, max: 3600 }),
  };
  outS.done();

  const procS = root.section('processing');
  const processing = {
    batchSize: procS.int('batchSize', { default: 50, min: 1, max: 1000 }),
    isolatedHeapMb: procS.int('isolatedHeapMb', { default: 512, min: 32, max: 65536 }),
    isolatedSeconds: procS.int('isolatedSeconds', { default: 60, min: 1, max: 3600 }),
  };
  procS.done();

  const importS = root.section('import');
  const acknowledgeAfter = importS.optionalString('acknowledgeAfter');
  if (acknowledgeAfter !== null && !parseIsoDate(acknowledgeAfter))
    importS.problem('acknowledgeAfter', `expected a date "YYYY-MM-DD", got ${describe(acknowledgeAfter)}`);
  importS.done();
  const reconcileS = root.section('reconcile');
  const reconcileSchedule = reconcileS.has('schedule') ? reconcileS.optionalString('schedule') : '17 * * * *';
  if (reconcileSchedule !== null && !cron.validate(reconcileSchedule))
    reconcileS.problem('schedule', `not a valid cron expression: ${describe(reconcileSchedule)} (e.g. "17 * * * *", hourly; null = only on demand)`);
  reconcileS.done();
  const retentionS = root.section('retention');
  const rawMailDaysGiven = retentionS.raw('rawMailDays');
  const retention = {
    closedCaseYears: retentionS.int('closedCaseYears', { default: 10, min: 1, max: 100 }),
    rawMailDays: rawMailDaysGiven === undefined || rawMailDaysGiven === null ? null : retentionS.int('rawMailDays', { min: 1, max: 36500 }),
    schedule: retentionS.has('schedule') ? retentionS.optionalString('schedule') : '40 3 * * *',
  };
  if (retention.rawMailDays !== null && retention.rawMailDays >= retention.closedCaseYears * 365)
    retentionS.problem(
      'rawMailDays',
      `${retention.rawMailDays} days is not shorter than closedCaseYears (${retention.closedCaseYears} years): raw mails go with their case anyway; give fewer days, or null`,
    );
  if (retention.schedule !== null && !cron.validate(retention.schedule))
    retentionS.problem('schedule', `not a valid cron expression: ${describe(retention.schedule)} (e.g. "40 3 * * *", daily at 03:40; null = only on demand)`);
  retentionS.done();
  const statusS = root.section('status');
  const status = { sourceDownMinutes: statusS.int('sourceDownMinutes', { default: 15, min: 1, max: 7 * 24 * 60 }) };
  statusS.done();
  const httpS = root.section('http');
  const http = { enabled: httpS.bool('enabled', false), port: httpS.int('port', { default: 9464, min: 1, max: 65535 }) };
  httpS.done();
  const pnrS = root.section('personnummer');
  const personnummer = {
    store: pnrS.bool('store', true),
    keyEnv: pnrS.string('keyEnv', {
      default: 'KLAGOMAL_PERSONNUMMER_KEY',
      pattern: ENV_NAME.pattern,
      hint: 'an environment variable name like KLAGOMAL_PERSONNUMMER_KEY',
    }),
  };
  pnrS.done();
  const shutdownS = root.section('shutdown');
  const shutdown = { graceSeconds: shutdownS.int('graceSeconds', { default: 20, min: 1, max: 600 }) };
  shutdownS.done();

  root.raw('$comment'); // a free-text note for admins, ignored
  root.done();

  if (problems.length > 0) throw new ConfigError(file, problems);
  return deepFreeze({
    file,
    firm,
    cases,
    language,
    dataDir,
    database,
    templates,
    sources,
    transport,
    acknowledgement,
    complaints,
    threading,
    loop,
    officers,
    deadlines,
    outbox,
    processing,
    import: { acknowledgeAfter },
    reconcile: { schedule: reconcileSchedule },
    retention,
    status,
    http,
    personnummer,
    shutdown,
  });
}

export function loadConfig(file: string): Config {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = fs.readFileSync(abs, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(abs, [
      { key: '', message: code === 'ENOENT' ? 'no such file (give --config FILE or set KLAGOMAL_CONFIG)' : `cannot read: ${String(err)}` },
    ]);
  }
  let json: Json;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(abs, [{ key: '', message: `not valid JSON: ${(err as Error).message}` }]);
  }
  return parseConfig(json, abs);
}

/** The config file chosen by --config, then KLAGOMAL_CONFIG, then the embedded default. */
export function configFileFrom(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(flag ?? env.KLAGOMAL_CONFIG ?? defaultConfigFile());
}

/**
 * Secrets named by the config that are missing from the environment (or, for the personnummer
 * key, not a usable key). `start` and `run` refuse to begin while any is missing; `config check`
 * lists them with the other problems.
 */
export function missingSecrets(config: Config, env: NodeJS.ProcessEnv = process.env): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  config.sources.forEach((s, i) => {
    if (s.type !== 'imap') return;
    if (s.passwordEnv && !env[s.passwordEnv])
      out.push({ key: `sources[${i}].passwordEnv`, message: `names ${s.passwordEnv}, which is not set in the environment` });
    if (s.auth) out.push(...missingAuthSecrets(s.auth, `sources[${i}].auth`, env));
  });
  const t = config.transport;
  if (t.type === 'smtp' && t.passwordEnv && !env[t.passwordEnv])
    out.push({ key: 'transport.passwordEnv', message: `names ${t.passwordEnv}, which is not set in the environment` });
  if ((t.type === 'smtp' || t.type === 'graph') && t.auth) out.push(...missingAuthSecrets(t.auth, 'transport.auth', env));
  // The personnummer key: only when numbers are kept; present and exactly 32 bytes. The value is never echoed.
  const p = config.personnummer;
  if (p.store) {
    const value = env[p.keyEnv];
    if (!value)
      out.push({
        key: 'personnummer.keyEnv',
        message: `names ${p.keyEnv}, which is not set in the environment; personnummer.store is on, so the key is required (create one with \`openssl rand -base64 32\` and keep a copy: without it stored numbers cannot be read), or set personnummer.store to false to keep only the mask`,
      });
    else if (!parseFieldKey(value))
      out.push({
        key: 'personnummer.keyEnv',
        message: `names ${p.keyEnv}, whose value is not a 32-byte key (${value.trim().length} characters; expected 64 hex digits or 44 base64 characters, e.g. from \`openssl rand -base64 32\`)`,
      });
  }
  return out;
}

/**
 * What an OAuth2 login needs from the environment: the variables set, the files they name
 * readable (a key file is also checked for the fields a token request needs), the program
 * runnable. No value is ever echoed.
 */
function missingAuthSecrets(auth: OAuth2Config, at: string, env: NodeJS.ProcessEnv): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const unset = (key: string, name: string, what: string): boolean => {
    if (env[name]) return false;
    out.push({ key: `${at}.${key}`, message: `names ${name}, which is not set in the environment (${what})` });
    return true;
  };
  const readable = (key: string, name: string, check?: (text: string) => string | null): void => {
    const file = env[name]!;
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      out.push({
        key: `${at}.${key}`,
        message: `names ${name}, whose file ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}); the service user must be able to read it`,
      });
      return;
    }
    const problem = check?.(text);
    if (problem) out.push({ key: `${at}.${key}`, message: `names ${name}, whose file ${file} ${problem}` });
  };
  if (auth.provider === 'microsoft') {
    if (auth.clientSecretEnv) unset('clientSecretEnv', auth.clientSecretEnv, "the app registration's client secret");
    if (auth.certificateFileEnv && !unset('certificateFileEnv', auth.certificateFileEnv, 'the path of the PEM file with the certificate and its private key'))
      readable('certificateFileEnv', auth.certificateFileEnv, (t) => (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(t) ? null : 'holds no PEM private key'));
  } else if (auth.provider === 'google') {
    if (!unset('serviceAccountKeyFileEnv', auth.serviceAccountKeyFileEnv, "the path of the service account's JSON key file"))
      readable('serviceAccountKeyFileEnv', auth.serviceAccountKeyFileEnv, (t) => {
        try {
          const k = JSON.parse(t) as Record<string, unknown>;
          return typeof k.client_email === 'string' && typeof k.private_key === 'string'
            ? null
            : 'is not a service account key (no client_email or private_key: create a JSON key for the service account)';
        } catch {
          return 'is not JSON (download the key as JSON, not P12)';
        }
      });
  } else if (auth.provider === 'generic') {
    unset('clientSecretEnv', auth.clientSecretEnv, 'the client secret');
  } else if (auth.command.length > 0) {
    try {
      fs.accessSync(auth.command[0], fs.constants.X_OK);
    } catch {
      out.push({ key: `${at}.command`, message: `${auth.command[0]} is not an executable program (for the service user)` });
    }
  }
  return out;
}

const RESERVED_SOURCE_NAMES: readonly string[] = ['import', 'cli'];

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}
