/**
 * `klagomal escalate`: one escalation pass (warnings, breaches, the digest) as of now or
 * --now ISO; --dry-run only shows what it would do.
 */
import { formatStockholm } from '../util/stockholm-time';
import { Service } from '../service';
import { instantArg } from './args';
import { Command, configOf, logger } from './shared';

export const escalateCommand: Command = {
  summary: 'one escalation pass (warnings, breaches, the digest) as of now or --now ISO; --dry-run only shows what it would do',
  usage: 'klagomal escalate [--now ISO] [--dry-run] [--json] [--config FILE]',
  options: { now: { type: 'string' }, 'dry-run': { type: 'boolean' }, json: { type: 'boolean' } },
  positionals: false,
  async run(values, _p, io) {
    const now = values.now !== undefined ? instantArg('--now', values.now as string) : new Date();
    const service = new Service(configOf(values), logger());
    try {
      const r = service.escalate(now, { dryRun: Boolean(values['dry-run']) });
      if (values.json) io.out(JSON.stringify({ now: now.toISOString(), dryRun: Boolean(values['dry-run']), ...r }));
      else {
        io.out(
          `${values['dry-run'] ? 'would escalate' : 'escalated'} ${r.escalated} deadline level(s) as of ${formatStockholm(now)}: ${r.breaches} breach(es), ${r.skipped} superseded level(s) skipped, ${r.notices} notice(s) queued${r.digest ? (values['dry-run'] ? ', daily digest due' : ', daily digest queued') : ''}`,
        );
        for (const a of r.actions) io.out(`  ${a.case}  ${a.milestone.padEnd(15)} ${a.level.padEnd(12)} ${a.late ? 'LATE ' : ''}-> ${a.to.join(', ')}`);
      }
      return 0;
    } finally {
      service.close();
    }
  },
};
