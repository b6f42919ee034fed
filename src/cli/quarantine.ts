/**
 * `klagomal quarantine`: the mails that could not be processed; `quarantine retry ID`
 * processes one again in an isolated child process (src/pipeline), reporting as `ingest` does.
 */
import { Service } from '../service';
import { toInstant } from '../util/clock';
import { UsageError, wholeNumber } from './args';
import { ingestLine } from './ingest';
import { Command, configOf, json, logger, NotFound, operatorName, requireFilingSecrets, withStore } from './shared';
import { table } from './table';

export const quarantineCommand: Command = {
  summary: 'list mails that could not be processed; `quarantine retry ID` processes one again',
  usage: 'klagomal quarantine [--all] [--json] [--config FILE]\n       klagomal quarantine retry ID [--heap-mb N] [--seconds N] [--json] [--config FILE]',
  options: { json: { type: 'boolean' }, all: { type: 'boolean' }, 'heap-mb': { type: 'string' }, seconds: { type: 'string' } },
  positionals: true,
  async run(values, positionals, io) {
    const config = configOf(values);
    if (positionals.length === 0) {
      withStore(config, (store) => {
        const rows = store.quarantined(Boolean(values.all)).map((q) => ({
          id: q.inbound_id,
          source: q.source,
          mailbox: q.mailbox,
          locator: q.locator,
          receivedAt: q.received_at,
          size: q.size,
          sha256: q.sha256,
          stage: q.stage,
          error: q.error,
          attempts: q.attempts,
          firstAt: q.first_at,
          lastAt: q.last_at,
          releasedAt: q.released_at,
        }));
        if (values.json) io.out(json(rows));
        else if (rows.length === 0) io.out('quarantine is empty');
        else
          io.out(
            table(
              ['ID', 'RECEIVED', 'SOURCE', 'STAGE', 'TRIES', 'ERROR'],
              rows.map((r) => [r.id, r.receivedAt, r.source, r.stage, r.attempts, r.error]),
            ),
          );
      });
      return 0;
    }
    if (positionals[0] !== 'retry' || positionals.length !== 2) throw new UsageError('usage: klagomal quarantine retry ID');
    const id = wholeNumber('ID', positionals[1], 1);
    // The retry runs in an isolated child process (the mail may be one that killed a process),
    // with the config's limits unless raised here for this one retry.
    const limit = (name: 'heap-mb' | 'seconds', fallback: number, min: number, max: number): number =>
      values[name] === undefined ? fallback : wholeNumber(`--${name}`, values[name] as string | boolean, min, max);
    const limits = {
      heapMb: limit('heap-mb', config.processing.isolatedHeapMb, 32, 65536),
      seconds: limit('seconds', config.processing.isolatedSeconds, 1, 3600),
    };
    requireFilingSecrets(config);
    const service = new Service(config, logger());
    try {
      const store = service.store;
      const inQuarantine = store.tx(() => {
        if (store.inbound(id)?.state !== 'quarantined') return false;
        store.appendEvent({
          at: toInstant(new Date()),
          inboundId: id,
          actor: 'operator',
          type: 'quarantine-retried',
          detail: { ...limits, user: operatorName(values) },
        });
        return true;
      });
      if (!inQuarantine) throw new NotFound(`mail ${id} is not in quarantine`);
      const r = (await service.processor.retryQuarantined(id, limits)) ?? undefined;
      const line = ingestLine(`inbound:${id}`, r, store, id);
      io.out(
        values.json
          ? JSON.stringify(line)
          : r?.kind === 'quarantined'
            ? `mail ${id}: still failing: ${r.error}`
            : `mail ${id}: ${line.kind}${line.caseId ? ` ${line.caseId}` : ''} (${line.action})`,
      );
      return r?.kind === 'quarantined' ? 1 : 0;
    } finally {
      service.close();
    }
  },
};
