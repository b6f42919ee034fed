/**
 * Argument parsing for the subcommands, on node:util's parseArgs. A usage mistake throws
 * UsageError (exit code 2) with a one-line reason; `--help` on any command prints its help.
 */
import { parseArgs, ParseArgsConfig } from 'node:util';
import { localTime, parseIsoDate } from '../util/stockholm-time';

export class UsageError extends Error {}

export type Options = NonNullable<ParseArgsConfig['options']>;

export const COMMON: Options = {
  config: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

export function parse(
  argv: string[],
  options: Options,
  allowPositionals: boolean,
): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    const r = parseArgs({ args: argv, options: { ...COMMON, ...options }, allowPositionals, strict: true });
    return { values: r.values as Record<string, string | boolean | undefined>, positionals: r.positionals };
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0]);
  }
}

/** The largest whole number an option takes: what SQLite's INTEGER and a JavaScript number both hold exactly. */
export const MAX_WHOLE = Number.MAX_SAFE_INTEGER;

/**
 * A whole number from the command line: decimal digits only (no sign, exponent, fraction or
 * hex: `Number()` would take "1e3", "0x10" and " 5"), from `min` to `max`. Anything else is a
 * usage error naming the option and what it takes (exit 2), never a database error.
 */
export function wholeNumber(name: string, value: string | boolean | undefined, min: number, max: number = MAX_WHOLE): number {
  const text = typeof value === 'string' ? value : '';
  const n = /^\d{1,16}$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    const shown = text.length > 40 ? `${text.slice(0, 40)}…` : text;
    throw new UsageError(`${name}: a whole number from ${min} to ${max} (got "${shown}")`);
  }
  return n;
}

/** An instant from the command line: ISO 8601 with an offset or Z, or a date (midnight Stockholm). */
export function instantArg(name: string, value: string): Date {
  const date = parseIsoDate(value);
  if (date) return localTime(date, 0, 0, 0);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/.test(value)) {
    throw new UsageError(`${name}: expected an ISO 8601 instant with an offset, like 2026-12-17T10:00:00+01:00 (got "${value}")`);
  }
  const d = new Date(value);
  // JavaScript rolls 2026-11-31 over to 2026-12-01: a date that does not exist is refused.
  const [y, m, day] = value.slice(0, 10).split('-').map(Number);
  const lastDay = new Date(Date.UTC(y, m, 0)).getUTCDate();
  if (Number.isNaN(d.getTime()) || m < 1 || m > 12 || day < 1 || day > lastDay) throw new UsageError(`${name}: not a valid instant: "${value}"`);
  return d;
}
