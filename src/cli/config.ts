/**
 * `klagomal config check`: validate the config, the secrets it names and the templates;
 * every problem at once (exit 1), or a short summary of what the config sets up.
 */
import type { Config } from '../config/config';
import { ConfigError, configFileFrom, loadConfig } from '../config/load';
import { missingSecrets } from '../config/missing-secrets';
import { ConfigProblem } from '../config/reader';
import { formatProblem, TemplateSet } from '../reply/templates';
import { UsageError } from './args';
import { Command } from './shared';

export const configCommand: Command = {
  summary: 'validate the config (and the secrets and templates it names); print every problem at once',
  usage: 'klagomal config check [--config FILE]',
  options: {},
  positionals: true,
  async run(values, positionals, io) {
    if (positionals[0] !== 'check' || positionals.length !== 1) throw new UsageError('usage: klagomal config check');
    const file = configFileFrom(values.config as string | undefined);
    const problems: ConfigProblem[] = [];
    let config: Config | null = null;
    try {
      config = loadConfig(file);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(...err.problems);
    }
    if (config) {
      problems.push(...missingSecrets(config));
      const built = TemplateSet.build(config.templates, { caseLinkBase: config.firm.caseLinkBase });
      for (const p of built.problems) problems.push({ key: 'templates', message: formatProblem(p) });
    }
    if (problems.length > 0) {
      for (const p of problems) io.err(`${file}: ${p.key ? p.key + ': ' : ''}${p.message}${p.fix ? ` (${p.fix})` : ''}`);
      io.err(`${problems.length} problem(s)`);
      return 1;
    }
    const c = config!;
    io.out(`${file}: OK`);
    io.out(`  firm ${c.firm.name} <${c.firm.complaintsAddress}>, case prefix ${c.cases.prefix}, language ${c.language}`);
    for (const s of c.sources)
      io.out(
        `  source ${s.name}: ${s.type === 'maildir' ? `maildir ${s.path}` : `imap ${s.user}@${s.host}:${s.port}/${s.mailbox} (tls ${s.tls}, ${s.auth ? `oauth2 ${s.auth.provider}` : 'password'})`}`,
      );
    const t = c.transport;
    io.out(
      `  transport: ${
        t.type === 'pickup'
          ? `pickup ${t.path}`
          : t.type === 'graph'
            ? `graph ${t.endpoint} as ${t.user} (oauth2 microsoft)`
            : `smtp ${t.host}:${t.port} (tls ${t.tls}${t.user ? `, ${t.auth ? `oauth2 ${t.auth.provider}` : 'password'}` : ''})`
      }`,
    );
    io.out(`  database ${c.database}; templates ${c.templates}`);
    return 0;
  },
};
