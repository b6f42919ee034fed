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
import { Command, configOf, Io, json, NotFound, withStore } from './shared';
import { auditPolicy, configVersionText } from '../audit/rehearsals';
import { formatStockholm } from '../util/stockholm-time';
import { terminalLine } from '../util/terminal';
import { table } from './table';

export const configCommand: Command = {
  summary: 'validate the config (and the secrets and templates it names); the deadline policy versions used, and their text',
  usage: ['klagomal config check [--config FILE]', 'klagomal config history [--json]', 'klagomal config show VERSION'].join('\n       '),
  options: { json: { type: 'boolean' } },
  positionals: true,
  async run(values, positionals, io) {
    if (positionals[0] === 'history' && positionals.length === 1) return history(values, io);
    if (positionals[0] === 'show' && positionals.length === 2) return show(values, positionals[1], io);
    if (positionals[0] !== 'check' || positionals.length !== 1) throw new UsageError('usage: klagomal config check | config history | config show VERSION');
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
    io.out(
      `  deadline policy version ${c.deadlines.version}${c.deadlines.approvedBy ? `, approved by ${c.deadlines.approvedBy} ${c.deadlines.approvedAt}` : ''}`,
    );
    // An auditor asks who approved the deadline policy (REGULATION.md §4 B); escalation chases
    // these deadlines, so a firm running it should say. A warning, not an error: the service runs.
    if (c.deadlines.escalation.enabled && !c.deadlines.approvedBy)
      io.out(
        '  warning: deadlines.approvedBy: escalation is on, but who approved the deadline policy is not recorded; set deadlines.approvedBy and deadlines.approvedAt',
      );
    return 0;
  },
};

/** `config history`: every deadline policy and calendar version a deadline was computed with (src/cases/config-versions.ts). */
function history(values: Record<string, string | boolean | undefined>, io: Io): number {
  const config = configOf(values);
  return withStore(config, (store) => {
    const r = auditPolicy(store, config);
    if (values.json) io.out(json(r));
    else
      io.out(
        table(
          ['kind', 'version', 'in effect from', 'until', 'deadlines', 'approved by'],
          r.map((v) => [
            v.kind,
            `${v.version}${v.current && v.kind === 'deadlines' ? ' (current)' : ''}`,
            formatStockholm(new Date(v.inEffectFrom)),
            v.inEffectUntil ? formatStockholm(new Date(v.inEffectUntil)) : '-',
            v.deadlines,
            v.approvedBy ? `${terminalLine(v.approvedBy)} ${v.approvedAt ?? ''}`.trim() : '-',
          ]),
        ),
      );
    return 0;
  });
}

/** `config show VERSION`: the deadline policy (or calendar) as it was when first used. */
function show(values: Record<string, string | boolean | undefined>, version: string, io: Io): number {
  const config = configOf(values);
  return withStore(config, (store) => {
    const v = configVersionText(store, version);
    if (!v) throw new NotFound(`no configuration version ${version} is on record (see: klagomal config history)`);
    io.out(
      `${v.kind} version ${v.version}, first used ${formatStockholm(new Date(v.first_used_at))}${v.approved_by ? `, approved by ${v.approved_by} ${v.approved_at ?? ''}` : ''}`,
    );
    if (v.content === null) io.out('(its text was not kept: it was in use before schema 12)');
    else io.out(JSON.stringify(JSON.parse(v.content), null, 2));
    return 0;
  });
}
