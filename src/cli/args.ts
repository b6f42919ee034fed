/**
 * Argument parsing for the subcommands, on node:util's parseArgs. A usage mistake throws
 * UsageError (exit code 2) with a one-line reason; `--help` on any command prints its help.
 */
import { parseArgs, ParseArgsConfig } from 'node:util';

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
