/**
 * `klagomal retention run [--dry-run] [--json]`: anonymise what the retention periods say is
 * due (src/retention/retention.ts); `klagomal retention runs [--json]`: the runs on record
 * (what an auditor asks: "show what you delete, and when").
 *
 * Also the legal-hold verbs of `klagomal case` (registered in src/cli/commands.ts):
 * `case hold ID --reason TEXT` and `case release ID`.
 */
import { instantArg, UsageError } from './args';
import { Command, configOf, findCase, Io, json, logger, NotFound, operatorName, withStore } from './shared';
import { retentionRuns, runRetention, RetentionResult } from '../retention/retention';
import { holdCase, LegalHoldRefused, releaseCase } from '../retention/legal-hold';
import { toInstant } from '../util/clock';
import { openDatabase } from '../store/db';
import { Store } from '../store/store';
import { table } from './table';

export const retentionCommand: Command = {
  summary: 'retention: anonymise closed cases past their period (legal holds skipped); list the runs',
  usage: ['klagomal retention run [--dry-run [--now DATE]] [--json] [--config FILE]', 'klagomal retention runs [--json]'].join('\n       '),
  options: { 'dry-run': { type: 'boolean' }, json: { type: 'boolean' }, now: { type: 'string' } },
  positionals: true,
  async run(values, positionals, io) {
    const [verb] = positionals;
    if (verb === 'run' && positionals.length === 1) return retentionRun(values, io);
    if (verb === 'runs' && positionals.length === 1) return listRuns(values, io);
    throw new UsageError('usage: klagomal retention run [--dry-run] [--json] | retention runs [--json]');
  },
};

async function retentionRun(values: Record<string, string | boolean | undefined>, io: Io): Promise<number> {
  // A preview as of a later date (what would go then); only a dry run may pretend the date.
  if (values.now !== undefined && !values['dry-run']) throw new UsageError('--now DATE previews a later run: give it with --dry-run');
  const now = typeof values.now === 'string' ? instantArg('--now', values.now) : new Date();
  const config = configOf(values);
  const log = logger();
  // Not withStore: the run is asynchronous, and the database must stay open until it ends.
  const db = openDatabase(config.database);
  let r: RetentionResult;
  try {
    r = await runRetention({ store: new Store(db), config, log }, { now, dryRun: Boolean(values['dry-run']), trigger: 'command' });
  } finally {
    db.close();
  }
  if (values.json) io.out(json(r));
  else printRun(r, io);
  return r.failed.length > 0 ? 1 : 0;
}

function printRun(r: RetentionResult, io: Io): void {
  const would = r.dryRun ? ' (dry run: nothing changed)' : '';
  io.out(`retention run ${r.runId}${would}: cases closed before ${r.closedBefore} (${r.closedCaseYears} years) are anonymised`);
  if (r.rawClosedBefore) io.out(`  raw mails of cases closed before ${r.rawClosedBefore} (${r.rawMailDays} days) are removed`);
  io.out(
    `  ${r.dryRun ? 'would anonymise' : 'anonymised'}: ${r.anonymised.length} case(s)${r.anonymised.length ? ': ' + r.anonymised.map((c) => c.number).join(', ') : ''}`,
  );
  if (r.rawOnly.length) io.out(`  raw mails ${r.dryRun ? 'would be ' : ''}removed of: ${r.rawOnly.map((c) => c.number).join(', ')}`);
  io.out(
    `  raw mails ${r.dryRun ? 'to remove' : 'removed'}: ${r.rawRemoved}; files deleted: ${r.filesRemoved}${r.filesDeferred ? `; ${r.filesDeferred} left for the next run (mail was being filed)` : ''}`,
  );
  if (r.skippedHeld.length) io.out(`  on legal hold, skipped: ${r.skippedHeld.map((c) => `${c.number} (held since ${c.heldAt})`).join(', ')}`);
  for (const f of r.failed) io.out(`  FAILED ${f.number}: ${f.error} (tried again on the next run)`);
}

async function listRuns(values: Record<string, string | boolean | undefined>, io: Io): Promise<number> {
  const config = configOf(values);
  return withStore(config, (store) => {
    const rows = retentionRuns(store);
    if (values.json) {
      io.out(json(rows.map((r) => ({ ...r, dry_run: r.dry_run === 1, result: JSON.parse(r.result) as unknown }))));
      return 0;
    }
    if (rows.length === 0) {
      io.out('no retention runs yet');
      return 0;
    }
    io.out(
      table(
        ['run', 'started', 'finished', 'trigger', 'dry run', 'cases anonymised', 'raw removed'],
        rows.map((r) => [
          String(r.id),
          r.started_at,
          r.finished_at ?? 'did not finish',
          r.trigger,
          r.dry_run ? 'yes' : '',
          String(r.cases_anonymised),
          String(r.raw_removed),
        ]),
      ),
    );
    return 0;
  });
}

export async function caseHold(values: Record<string, string | boolean | undefined>, id: string, io: Io): Promise<number> {
  if (typeof values.reason !== 'string' || !values.reason.trim())
    throw new UsageError('--reason TEXT is required: why the case must be kept (an ARN or court case number, who asked)');
  const reason = values.reason;
  const config = configOf(values);
  return withStore(config, (store) => {
    const c = findCase(store, id);
    try {
      const r = store.tx(() => holdCase(store, c.id, { reason, actor: 'operator', at: toInstant(new Date()), user: operatorName(values) }));
      if (r.kind === 'unchanged') io.out(`${c.number} is already on legal hold since ${r.hold.heldAt} (${r.hold.reason})`);
      else if (r.kind === 'changed') io.out(`${c.number}: legal hold reason changed (was: ${r.previous})`);
      else io.out(`${c.number} is on legal hold: retention leaves it alone until 'klagomal case release ${c.number}'`);
      return 0;
    } catch (err) {
      if (err instanceof LegalHoldRefused) throw new NotFound(err.message);
      throw err;
    }
  });
}

export async function caseRelease(values: Record<string, string | boolean | undefined>, id: string, io: Io): Promise<number> {
  const config = configOf(values);
  return withStore(config, (store) => {
    const c = findCase(store, id);
    const hold = store.tx(() => releaseCase(store, c.id, { actor: 'operator', at: toInstant(new Date()), user: operatorName(values) }));
    if (!hold) throw new NotFound(`${c.number} is not on legal hold`);
    io.out(`${c.number}: legal hold lifted (held since ${hold.heldAt}: ${hold.reason}); retention applies to it again`);
    return 0;
  });
}
