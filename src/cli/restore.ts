/**
 * `klagomal restore DIR --to DATADIR [--manifest NAME] [--force] [--templates-to DIR] [--json]`:
 * a backup back into a data folder (src/backup/restore.ts), then, when DATADIR is the config's
 * data folder, the reconciliation with the mailboxes that must come before anything is filed
 * (src/reconcile/after-restore.ts): it reserves the case numbers the lost install may have
 * used and files what it finds, quietly where the lost install may have answered it.
 *
 * Exit codes: 0 restored, the database whole, every chain verified and every mailbox compared;
 * 1 refused (a damaged backup, a non-empty DATADIR without --force), or restored with a
 * problem (a broken chain, a file the backup could not hold because the data folder lacked it
 * when it was taken, a mailbox that could not be compared: then `klagomal reconcile`
 * must run before `start`); 2 usage.
 */
import path from 'node:path';
import { restoreBackup, RestoreRefused, RestoreSummary } from '../backup/restore';
import { reconcile, ReconcileReport } from '../reconcile';
import { Service } from '../service';
import { systemClock } from '../util/clock';
import { UsageError } from './args';
import { formatReconcileReport } from './reconcile';
import type { Command } from './shared';
import { configOf, json, logger, requireFilingSecrets } from './shared';

export const restoreCommand: Command = {
  summary: 'restore a backup into a data folder, verify it, and reconcile with the mailboxes without sending anything twice',
  usage: 'klagomal restore DIR --to DATADIR [--manifest NAME] [--force] [--templates-to DIR] [--json] [--config FILE]',
  options: {
    to: { type: 'string' },
    manifest: { type: 'string' },
    force: { type: 'boolean' },
    'templates-to': { type: 'string' },
    json: { type: 'boolean' },
  },
  positionals: true,
  async run(values, positionals, io) {
    if (positionals.length !== 1 || typeof values.to !== 'string') throw new UsageError('usage: klagomal restore DIR --to DATADIR [--manifest NAME] [--force]');
    const config = configOf(values);
    const dir = path.resolve(positionals[0]);
    const to = path.resolve(values.to);
    const isDataDir = to === config.dataDir;
    if (isDataDir) requireFilingSecrets(config);
    let summary: RestoreSummary;
    try {
      summary = await restoreBackup({
        dir,
        manifest: values.manifest as string | undefined,
        to,
        database: isDataDir ? config.database : path.join(to, 'klagomal.db'),
        force: values.force === true,
        templatesTo: typeof values['templates-to'] === 'string' ? path.resolve(values['templates-to']) : undefined,
        config,
        clock: systemClock,
      });
    } catch (err) {
      if (!(err instanceof RestoreRefused)) throw err;
      io.err(`klagomal restore: ${err.message}`);
      for (const p of err.problems) io.err(`  - ${p}`);
      return 1;
    }
    let report: ReconcileReport | null = null;
    if (isDataDir) {
      const service = new Service(config, logger());
      try {
        report = await reconcile(service.reconcileDeps(), 'restore');
      } finally {
        service.close();
      }
    }
    const ok =
      summary.audit.ok && summary.integrity.join() === 'ok' && summary.notBackedUp.length === 0 && (report ? report.errors === 0 && !report.interrupted : true);
    if (values.json) io.out(json({ ok, restore: summary, reconcile: report }));
    else io.out(describe(summary, report, isDataDir, config.dataDir));
    return ok ? 0 : 1;
  },
};

function describe(s: RestoreSummary, r: ReconcileReport | null, isDataDir: boolean, dataDir: string): string {
  const lines = [
    `restored ${s.manifest} (taken ${s.backupAt}) into ${s.to}: ${s.files} file(s), ${s.counts.cases} case(s), ${s.counts.mails} mail(s), ${s.counts.events} event(s)`,
    `  integrity_check ${s.integrity.join('; ')}; audit verify ${s.audit.ok ? `OK (${s.audit.events} events in ${s.audit.chains} chains, head #${s.audit.head?.id} ${s.audit.head?.hash})` : `BROKEN: ${s.audit.problems.join('; ')}`}`,
  ];
  if (s.movedAside.length) lines.push(`  kept the database that was there as ${s.movedAside.join(', ')}`);
  if (s.notBackedUp.length) {
    lines.push(`  NOT in the backup (the data folder lacked them when it was taken; find them in an older backup or on the mail server):`);
    for (const p of s.notBackedUp) lines.push(`    - ${p}`);
  }
  if (s.held.length) {
    lines.push(`  ${s.held.length} outgoing mail(s) unsent in the backup are held, not sent (they may have gone out after the backup):`);
    for (const h of s.held.slice(0, 20)) lines.push(`    #${h.id} ${h.case ?? '-'} ${h.kind}`);
    lines.push(`    check the mail server's log; 'klagomal outbox retry ID' sends one`);
  }
  if (s.sequencesRaised.length)
    lines.push(`  case numbers raised to a newer backup's: ${s.sequencesRaised.map((q) => `${q.prefix}-${q.year} > ${q.last}`).join(', ')}`);
  if (!isDataDir) {
    lines.push(
      '',
      `${s.to} is not the config's data folder (${dataDir}): not reconciled. Point dataDir (and database) at it, then run 'klagomal reconcile' before 'klagomal start': nothing is filed until then.`,
    );
    return lines.join('\n');
  }
  if (r) {
    lines.push('', formatReconcileReport(r));
    if (r.restore)
      lines.push(
        '',
        `case numbers reserved for the gap (the install before the restore may have issued them): ${r.restore.gap.map((g) => `${g.prefix}-${g.year}-${g.from}..${g.to}`).join(', ') || 'none'}`,
      );
    const quiet = r.folders.flatMap((f) => f.found).filter((m) => m.afterRestore);
    if (quiet.length) {
      lines.push(`${quiet.length} mail(s) filed quietly (not acknowledged, not acted on: the install before the restore may have done it); check them:`);
      for (const m of quiet) lines.push(`  inbound ${m.inboundId}${m.caseNumber ? ` ${m.caseNumber}` : ''} ${m.kind ?? ''}: ${m.afterRestore}`);
    }
    if (r.errors > 0 || r.interrupted)
      lines.push('', "NOT every mailbox was compared: run 'klagomal reconcile' before 'klagomal start' (nothing is filed until then).");
  }
  return lines.join('\n');
}
