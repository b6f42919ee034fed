/**
 * What every subcommand of `klagomal` shares: the command shape, the config and store they
 * open, and the errors the dispatcher (src/cli.ts) turns into exit codes.
 */
import os from 'node:os';
import type { Config } from '../config/config';
import { ConfigError, configFileFrom, loadConfig } from '../config/load';
import { missingSecrets } from '../config/missing-secrets';
import { openDatabase } from '../store/db';
import { CaseRow, Store } from '../store/store';
import { createLogger, Logger } from '../util/log';
import type { Options } from './args';
import { wholeNumber } from './args';

export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** Bytes as they are (a raw mail for a file): refused when stdout is a terminal (src/cli.ts). */
  raw?(bytes: Buffer): void;
}

export interface Command {
  readonly summary: string;
  readonly usage: string;
  readonly options: Options;
  readonly positionals: boolean;
  run(values: Record<string, string | boolean | undefined>, positionals: string[], io: Io): Promise<number>;
}

/** Something the user named does not exist (exit 1 with the message). */
export class NotFound extends Error {}

export function configOf(values: Record<string, string | boolean | undefined>): Config {
  return loadConfig(configFileFrom(values.config as string | undefined));
}

/** Run `fn` with the config's database open; closed afterwards. */
export function withStore<T>(config: Config, fn: (store: Store) => T): T {
  const db = openDatabase(config.database);
  try {
    return fn(new Store(db));
  } finally {
    db.close();
  }
}

export function logger(): Logger {
  return createLogger();
}

export const json = (v: unknown): string => JSON.stringify(v, null, 2);

/** A case by number (KLG-2026-000042) or numeric id. */
export function findCase(store: Store, id: string): CaseRow {
  const c = /^\d+$/.test(id) ? store.caseById(wholeNumber('ID', id, 0)) : store.caseByNumber(id.toUpperCase());
  if (!c) throw new NotFound(`no case '${id}'`);
  return c;
}

/**
 * Commands that file mail (ingest, import, reconcile, quarantine retry) need the personnummer
 * key as `start` does: refuse up front rather than quarantine every complaint with a number in it.
 */
export function requireFilingSecrets(config: Config): void {
  const problems = missingSecrets(config).filter((p) => p.key === 'personnummer.keyEnv');
  if (problems.length > 0) throw new ConfigError(config.file, problems);
}

/**
 * Who runs a command, for the events and the access log (REGULATION.md §4 B: a person, not an
 * anonymous "operator"): `--as NAME` with the operating-system user beside it, else the
 * operating-system user.
 */
export function operatorName(values: Record<string, string | boolean | undefined>): string {
  let user = 'unknown';
  try {
    user = os.userInfo().username;
  } catch {
    // no passwd entry (a container's arbitrary uid): the uid stands in
    user = `uid ${process.getuid?.() ?? '?'}`;
  }
  const as =
    typeof values.as === 'string'
      ? values.as
          .replace(/[\u0000-\u001f\u007f]/g, '')
          .trim()
          .slice(0, 100)
      : '';
  return as ? `${as} (os user ${user})` : user;
}
