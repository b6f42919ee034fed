/**
 * `klagomal reconcile`: compare every watched mailbox on its server (and every Maildir) with
 * what was filed, file what never was, and check every stored raw mail against its sha256
 * (src/reconcile/). For cron and monitoring: exit 0 when everything matched, 1 when
 * mail had been missed, stored mail is damaged or a folder could not be compared, 2 on a
 * usage mistake. Acknowledgements and the admin's mail are queued; `start` or `run --once`
 * sends them.
 */
import { Service } from '../service';
import { reconcile, ReconcileReport } from '../reconcile';
import type { Command } from './shared';
import { configOf, json, logger, requireFilingSecrets } from './shared';
import { table } from './table';

export function formatReconcileReport(r: ReconcileReport): string {
  const out: string[] = [`reconcile run ${r.runId} (${r.trigger}), ${r.startedAt.slice(0, 19).replace('T', ' ')} UTC`, ''];
  if (r.folders.length > 0) {
    out.push(
      table(
        ['SOURCE', 'FOLDER', 'ROLE', 'ON SERVER', 'KNOWN', 'WAITING', 'NOT COMPARED', 'FOUND', 'FILED NOW', 'ERROR'],
        r.folders.map((f) => [f.source, f.folder, f.role, f.onServer, f.known, f.waiting, f.notCompared, f.found.length, f.filedNow, f.error]),
      ),
      '',
    );
  }
  for (const f of r.folders) for (const u of f.unreadable) out.push(`UNREADABLE ${f.source} / ${f.folder} ${u.where}: ${u.error}`);
  if (r.folders.some((f) => f.unreadable.length > 0)) out.push('');
  out.push(`raw mails: ${r.raw.checked} checked, ${r.raw.missing} missing, ${r.raw.mismatched} mismatched`);
  for (const d of r.raw.damaged)
    out.push(
      `  ${d.problem.toUpperCase()} ${d.path ?? `raw_mail ${d.sha256}`}${d.inboundIds.length ? `  inbound ${d.inboundIds.join(',')}` : ''}${d.cases.length ? `  ${d.cases.join(',')}` : ''}`,
    );
  if (r.found > 0) {
    out.push('', `FOUND ${r.found} mail(s) on the server that had never been filed; filed now: ${r.filedNow}`);
    for (const f of r.folders)
      for (const m of f.found)
        out.push(
          `  ${f.source} / ${f.folder} ${m.where}: inbound ${m.inboundId}, ${m.state}${m.kind ? ` as ${m.kind}` : ''}${m.caseNumber ? `, ${m.caseNumber}` : ''}`,
        );
  }
  if (r.error) out.push('', `FAILED: ${r.error}`);
  if (r.interrupted) out.push('', 'stopped before it was done');
  if (r.adminNotified) out.push('', 'the admin was told (a mail is queued in the outbox)');
  out.push('', r.ok ? 'everything matched' : 'NOT everything matched: see above');
  return out.join('\n');
}

export const reconcileCommand: Command = {
  summary: 'compare the mailboxes on the server with what was filed, file what never was, verify every stored raw mail',
  usage: 'klagomal reconcile [--json] [--config FILE]',
  options: { json: { type: 'boolean' } },
  positionals: false,
  async run(values, _p, io) {
    const config = configOf(values);
    requireFilingSecrets(config);
    const service = new Service(config, logger());
    try {
      const report = await reconcile(service.reconcileDeps(), 'command');
      io.out(values.json ? json(report) : formatReconcileReport(report));
      return report.ok ? 0 : 1;
    } finally {
      service.close();
    }
  },
};
