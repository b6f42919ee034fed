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
import fs from 'node:fs';
import path from 'node:path';
import { Config, LANGUAGES, Language, SourceConfig, TLS_MODES, TlsMode, TransportConfig } from './config';
import { DEADLINE_UNITS, DeadlineRule, DeadlineUnit } from '../deadlines/rules';
import { normaliseAddress } from '../util/header-safe';
import { packageRoot } from '../util/package-root';

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

export function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0];
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j];
      dp[j] = Math.min(dp[j] + 1, dp[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length];
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

const ADDRESS = { pattern: /^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/, hint: 'an e-mail address like klagomal@firma.se' };
const ENV_NAME = { pattern: /^[A-Z_][A-Z0-9_]*$/, hint: 'an environment variable name like KLAGOMAL_IMAP_PASSWORD' };

function readRule(s: Section, dflt: DeadlineRule): DeadlineRule {
  if (!s.has('unit') && !s.has('amount')) {
    s.done();
    return dflt;
  }
  const unit = s.oneOf<DeadlineUnit>('unit', DEADLINE_UNITS);
  const amount = s.int('amount', { min: 1, max: unit === 'hours' ? 24 * 366 : 366 });
  s.done();
  return { unit, amount };
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
  const cfg = {
    type,
    name,
    host: s.string('host', { hint: 'the IMAP server host name' }),
    port: s.int('port', { default: tls === 'implicit' ? 993 : 143, min: 1, max: 65535 }),
    tls,
    tlsRejectUnauthorized: s.bool('tlsRejectUnauthorized', true),
    user: s.string('user', { hint: 'the IMAP login name' }),
    passwordEnv: s.string('passwordEnv', ENV_NAME),
    mailbox: s.string('mailbox', { default: 'INBOX' }),
    processedFolder: s.optionalString('processedFolder'),
    idle: s.bool('idle', true),
    pollSeconds: s.int('pollSeconds', { default: 60, min: 1, max: 3600 }),
    fetchBatchSize: s.int('fetchBatchSize', { default: 200, min: 1, max: 5000 }),
  } as const;
  s.done();
  return cfg;
}

function readTransport(s: Section, resolvePath: (p: string) => string, dataDir: string): TransportConfig {
  const type = s.oneOf('type', ['pickup', 'smtp'] as const, 'pickup');
  if (type === 'pickup') {
    const p = s.has('path') ? resolvePath(s.string('path')) : path.join(dataDir, 'outbox', 'pickup');
    s.done();
    return { type, path: p };
  }
  const tls = s.oneOf<TlsMode>('tls', TLS_MODES, 'starttls');
  const user = s.optionalString('user');
  const passwordEnv = s.optionalString('passwordEnv');
  if (passwordEnv !== null && !ENV_NAME.pattern.test(passwordEnv)) s.problem('passwordEnv', `expected ${ENV_NAME.hint}, got ${describe(passwordEnv)}`);
  if (user !== null && passwordEnv === null) s.problem('passwordEnv', 'required when "user" is set: the environment variable holding the SMTP password');
  const cfg = {
    type,
    host: s.string('host', { hint: 'the SMTP server host name' }),
    port: s.int('port', { default: tls === 'implicit' ? 465 : tls === 'starttls' ? 587 : 25, min: 1, max: 65535 }),
    tls,
    tlsRejectUnauthorized: s.bool('tlsRejectUnauthorized', true),
    user,
    passwordEnv,
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
  };
  firmS.done();

  const casesS = root.section('cases');
  const cases = {
    prefix: casesS.string('prefix', {
      default: 'KLG',
      pattern: /^[A-Z][A-Z0-9]{0,9}$/,
      hint: '1-10 capital letters or digits, starting with a letter, e.g. "KLG"',
    }),
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
    seen.add(s.name);
  });

  const transport = readTransport(root.section('transport'), resolvePath, dataDir);

  const ackS = root.section('acknowledgement');
  const acknowledgement = {
    enabled: ackS.bool('enabled', true),
    maxPerAddressPer24h: ackS.int('maxPerAddressPer24h', { default: 3, min: 1, max: 1000 }),
    answerWithin: readRule(ackS.section('answerWithin'), { unit: 'calendarDays', amount: 14 }),
  };
  ackS.done();

  const outS = root.section('outbox');
  const outbox = {
    maxAttempts: outS.int('maxAttempts', { default: 8, min: 1, max: 100 }),
    retryBaseSeconds: outS.int('retryBaseSeconds', { default: 30, min: 1, max: 86400 }),
    retryMaxSeconds: outS.int('retryMaxSeconds', { default: 3600, min: 1, max: 7 * 86400 }),
    sendTimeoutSeconds: outS.int('sendTimeoutSeconds', { default: 120, min: 1, max: 3600 }),
  };
  outS.done();

  const procS = root.section('processing');
  const processing = { batchSize: procS.int('batchSize', { default: 50, min: 1, max: 1000 }) };
  procS.done();

  root.raw('$comment'); // a free-text note for admins, ignored
  root.done();

  if (problems.length > 0) throw new ConfigError(file, problems);
  return deepFreeze({ file, firm, cases, language, dataDir, database, templates, sources, transport, acknowledgement, outbox, processing });
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
 * Secrets named by the config that are missing from the environment. `start` and `run` refuse
 * to begin while any is missing; `config check` lists them with the other problems.
 */
export function missingSecrets(config: Config, env: NodeJS.ProcessEnv = process.env): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  config.sources.forEach((s, i) => {
    if (s.type === 'imap' && !env[s.passwordEnv])
      out.push({ key: `sources[${i}].passwordEnv`, message: `names ${s.passwordEnv}, which is not set in the environment` });
  });
  const t = config.transport;
  if (t.type === 'smtp' && t.passwordEnv && !env[t.passwordEnv])
    out.push({ key: 'transport.passwordEnv', message: `names ${t.passwordEnv}, which is not set in the environment` });
  return out;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}
