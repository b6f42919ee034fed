/**
 * `klagomal ingest FILE...`: raw .eml files filed through the same path as the pollers
 * (src/ingest/intake.ts, then the processor); acknowledgements are queued, sent by start/run.
 * Exit 1 when a file could not be read or a mail was quarantined.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Store } from '../store/store';
import { Service } from '../service';
import { storeArrivals } from '../ingest/intake';
import { LARGE_MAIL_BYTES, spoolRaw, SpooledRaw } from '../ingest/raw-files';
import { errorChain } from '../util/log';
import { toInstant } from '../util/clock';
import type { ProcessResult } from '../pipeline/processor';
import { UsageError } from './args';
import { Command, configOf, logger, requireFilingSecrets } from './shared';

/** One `ingest --json` line: what happened to one file (or to one retried quarantined mail, src/cli/quarantine.ts). */
export function ingestLine(file: string, r: ProcessResult | undefined, store: Store, inboundId: number) {
  if (r && r.kind === 'quarantined') {
    return { file, inbound: inboundId, messageId: null, kind: 'quarantined', caseId: null, action: 'quarantined', reason: r.error, acknowledgement: null };
  }
  if (r) {
    return {
      file,
      inbound: inboundId,
      messageId: r.messageId,
      kind: r.kind,
      caseId: r.caseNumber,
      action: r.action,
      reason: r.reason,
      acknowledgement: r.kind === 'complaint' ? (r.acknowledgementQueued ? 'queued' : 'suppressed') : null,
    };
  }
  // Filed by another process (a running service) between our store and our processing: report
  // what the database says, in the same terms.
  const row = store.inbound(inboundId)!;
  const quarantined = row.state === 'quarantined';
  const kind = quarantined ? 'quarantined' : row.kind;
  const caseNumber = row.case_id ? (store.caseById(row.case_id)?.number ?? null) : null;
  const action = quarantined
    ? 'quarantined'
    : row.kind === 'duplicate'
      ? 'skipped'
      : row.kind === 'complaint'
        ? 'opened'
        : caseNumber
          ? 'attached'
          : 'recorded';
  return {
    file,
    inbound: inboundId,
    messageId: row.message_id,
    kind,
    caseId: caseNumber,
    action,
    reason: quarantined ? (store.quarantineEntry(inboundId)?.error ?? null) : row.reason,
    acknowledgement: null,
  };
}

export const ingestCommand: Command = {
  summary: 'file raw .eml files through the same path as the pollers (acknowledgements are queued, sent by start/run)',
  usage: 'klagomal ingest FILE... [--config FILE] [--json]',
  options: { json: { type: 'boolean' } },
  positionals: true,
  async run(values, files, io) {
    if (files.length === 0) throw new UsageError('ingest needs at least one FILE');
    const config = configOf(values);
    requireFilingSecrets(config);
    const service = new Service(config, logger());
    let failures = 0;
    try {
      const stored: Array<{ file: string; id: number }> = [];
      for (const file of files) {
        let raw: Buffer | SpooledRaw;
        let st: fs.Stats;
        try {
          st = fs.statSync(file);
          if (!st.isFile()) throw new Error('not a regular file');
          raw = st.size > LARGE_MAIL_BYTES ? await spoolRaw(config.dataDir, fs.createReadStream(file)) : fs.readFileSync(file);
        } catch (err) {
          failures++;
          const msg = errorChain(err);
          io.out(values.json ? JSON.stringify({ file, error: msg }) : `${file}: cannot read: ${msg}`);
          continue;
        }
        const [r] = storeArrivals(
          service.store,
          config.dataDir,
          'cli',
          [{ raw, receivedAt: st.mtime, mailbox: path.dirname(path.resolve(file)), locator: path.basename(file), sourceKey: null }],
          toInstant(new Date()),
        );
        stored.push({ file, id: r.id });
      }
      const results = await service.process({ only: new Set(stored.map((s) => s.id)) });
      const byId = new Map(results.map((r) => [r.inboundId, r]));
      for (const s of stored) {
        const line = ingestLine(s.file, byId.get(s.id), service.store, s.id);
        if (line.kind === 'quarantined') failures++;
        if (values.json) io.out(JSON.stringify(line));
        else io.out(`${s.file}: ${line.kind}${line.caseId ? ` ${line.caseId}` : ''} (${line.action})${line.kind === 'quarantined' ? `: ${line.reason}` : ''}`);
      }
    } finally {
      service.close();
    }
    return failures > 0 ? 1 : 0;
  },
};
