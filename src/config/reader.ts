/**
 * The config reader: typed access to the keys of one JSON object that collects every problem
 * instead of stopping at the first (mox's config check does the same), so that one
 * `klagomal config check` shows the admin all there is to fix.
 *
 * Every problem names the key and what is allowed, e.g.
 *   sources[0].port: expected a whole number from 1 to 65535, got "abc"
 * Unknown keys are problems too (a typo must not silently fall back to a default), with the
 * closest known key as a hint.
 */
import { editDistance } from '../util/edit-distance';

export interface ConfigProblem {
  readonly key: string;
  readonly message: string;
  /** How to fix it, when the key alone does not say (a file that is not JSON: its line and column). */
  readonly fix?: string;
}

export type Json = unknown;

export function describe(v: Json): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? v.slice(0, 60) + '…' : v);
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  return String(v);
}

/**
 * `describe` for the value of key `k`: the value of a key naming an environment variable
 * (passwordEnv, clientSecretEnv, personnummer.keyEnv, ...) is never shown, since an admin who
 * gets the key wrong has most likely put the secret itself there, and the problem goes to the
 * terminal and to the journal.
 */
export function describeAt(k: string, v: Json): string {
  if (typeof v === 'string' && /Env$/.test(k)) return 'a value that is no variable name (not shown: it may be the secret itself)';
  return describe(v);
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
export class Section {
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

  /** Whether a problem has been reported at key `k` (read or checked so far). */
  reported(k: string): boolean {
    const key = this.key(k);
    return this.problems.some((p) => p.key === key);
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
      this.problem(k, `expected ${opts.hint ?? 'a non-empty text'}, got ${describeAt(k, v)}`);
      return opts.default ?? '';
    }
    if (opts.pattern && !opts.pattern.test(v)) {
      this.problem(k, `expected ${opts.hint ?? `text matching ${opts.pattern}`}, got ${describeAt(k, v)}`);
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

/** Hints shared by the sections: an address, the name of an environment variable that holds a secret. */
export const ADDRESS = { pattern: /^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/, hint: 'an e-mail address like klagomal@firma.se' };
export const ENV_NAME = { pattern: /^[A-Z_][A-Z0-9_]*$/, hint: 'an environment variable name like KLAGOMAL_IMAP_PASSWORD' };
