/**
 * `klagomal run --once`: one pass of everything (poll the sources, file, send the outbox) and
 * exit; for cron and tests. Exit 1 when a source failed.
 */
import { Service } from '../service';
import { UsageError } from './args';
import { Command, configOf, logger } from './shared';

export const runCommand: Command = {
  summary: 'one pass of everything (poll the sources, file, send the outbox) and exit; for cron and tests',
  usage: 'klagomal run --once [--config FILE] [--json]',
  options: { once: { type: 'boolean' }, json: { type: 'boolean' } },
  positionals: false,
  async run(values, _p, io) {
    if (!values.once) throw new UsageError("'run' needs --once (use 'klagomal start' for the long-running service)");
    process.umask(0o077); // private files, as under `start` (cron runs this as the service's user)
    const config = configOf(values);
    const service = new Service(config, logger());
    try {
      const summary = await service.runOnce();
      if (values.json) io.out(JSON.stringify(summary));
      else {
        for (const [name, s] of Object.entries(summary.sources)) {
          io.out('error' in s ? `source ${name}: FAILED: ${s.error}` : `source ${name}: ${s.stored} new mail(s) stored`);
        }
        io.out(
          `filed ${summary.filed}, quarantined ${summary.quarantined}; sent ${summary.sent.sent}, retrying ${summary.sent.retried}, failed ${summary.sent.failed}`,
        );
      }
      const sourceFailed = Object.values(summary.sources).some((s) => 'error' in s);
      return sourceFailed ? 1 : 0;
    } finally {
      service.close();
    }
  },
};
