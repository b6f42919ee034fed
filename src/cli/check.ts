/**
 * `klagomal check [--json]`: everything `klagomal start` checks before it begins (the config
 * and its secrets, the data folder, the database, a login to each IMAP mailbox, the transport,
 * the templates), each printed ok or FAILED with how to fix it. Changes nothing on disk, so it
 * is safe to run as root beside the running service. Exit 0 when every check passed, else 1.
 */
import { ConfigError, configFileFrom, loadConfig } from '../config/load';
import { formatResult, preflight, PreflightResult } from '../ops/preflight';
import { silentLogger } from '../util/log';
import type { Command } from './shared';

export const checkCommand: Command = {
  summary: 'check what start needs (config, data folder, database, each mailbox login, transport, templates) and say how to fix what fails',
  usage: 'klagomal check [--config FILE] [--json]',
  options: { json: { type: 'boolean' } },
  positionals: false,
  async run(values, _positionals, io) {
    const file = configFileFrom(values.config as string | undefined);
    let results: PreflightResult[];
    try {
      results = await preflight(loadConfig(file), silentLogger, { repair: false });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      // An unusable config: nothing else can be checked without it.
      results = [
        {
          check: 'config',
          ok: false,
          fatal: true,
          detail: `${err.file}: ${err.problems.map((p) => `${p.key ? p.key + ': ' : ''}${p.message}`).join('; ')}`,
          fix: err.problems.find((p) => p.fix)?.fix ?? `correct the key(s) named ('klagomal config check' lists every problem)`,
        },
      ];
    }
    const failed = results.filter((r) => !r.ok);
    if (values.json) io.out(JSON.stringify({ ok: failed.length === 0, checks: results }, null, 2));
    else {
      for (const r of results) io.out(formatResult(r));
      io.out(failed.length === 0 ? 'all checks passed' : `${failed.length} check(s) failed`);
    }
    return failed.length === 0 ? 0 : 1;
  },
};
