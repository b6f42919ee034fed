/**
 * One reconciliation run (`reconcile()`): every source in turn (imap.ts, maildir.ts), then the
 * filing of what was found through the normal processor, then the stored raw mail
 * (verify-raw.ts).
 *
 * Every run is a row in reconcile_runs (trigger, times, the report as JSON). When something
 * was found or is damaged it says so loudly: error log lines (source, folder, UID, inbound id,
 * case number; never addresses or subjects), and one bilingual mail to firm.adminAddress
 * through the outbox per run (per distinct set of damage when there is only damage, so that a
 * damaged file nobody has fixed yet does not mail the admin every hour).
 *
 * Failure behaviour: a folder or source that cannot be compared is reported with its error and
 * the others go on; a run stopped by its signal records what it did. Nothing here deletes
 * anything, in the database or on a server.
 */
import type { Store } from '../store/store';
import { toInstant } from '../util/clock';
import { errorChain } from '../util/log';
import { buildAdminNotice } from '../reply/mail';
import { adminNotice, alarming, damageKey, FoundMail, ReconcileReport, ReconcileTrigger } from './report';

/** Meta row: the damaged raw mails (damageKey) the admin has been mailed about. */
const DAMAGE_TOLD = 'reconcile.damageTold';

function parseTold(v: string | undefined): string[] {
  try {
    const a: unknown = v ? JSON.parse(v) : [];
    return Array.isArray(a) ? a.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}
import type { ReconcileDeps, Run } from './context';
import { reconcileImapSource } from './imap';
import { reconcileMaildir } from './maildir';
import { verifyRawMail } from './verify-raw';
import { reserveGap } from './after-restore';

/** One reconciliation of every source and of the stored raw mail. Never throws for a server's sake. */
export async function reconcile(deps: ReconcileDeps, trigger: ReconcileTrigger): Promise<ReconcileReport> {
  const { store, config } = deps;
  const log = deps.log.child({ stage: 'reconcile' });
  const startedAt = toInstant(deps.clock());
  const runId = store.tx(() => store.startReconcileRun(startedAt, trigger));
  const restore = store.restoreMarker();
  log.info('reconcile started', { run: runId, trigger });
  const report: ReconcileReport = {
    runId,
    trigger,
    startedAt,
    finishedAt: null,
    folders: [],
    raw: { checked: 0, missing: 0, mismatched: 0, damaged: [] },
    found: 0,
    filedNow: 0,
    errors: 0,
    error: null,
    interrupted: false,
    adminNotified: false,
    ok: false,
  };
  const run: Run = {
    deps,
    log,
    runId,
    messageIdKnown: (id, size) => store.storedWithMessageId(id, size),
    sentMessageIdKnown: (source, folder, id, size) => store.storedWithMessageIdFrom(source, folder, id, size),
    shaKnown: (sha) => store.storedWithSha256(sha),
    restoring: restore !== null && restore.reconciledAt === null,
  };
  if (run.restoring) log.warn('reconcile after a restore: nothing is filed until every mailbox is compared', { run: runId, manifest: restore!.manifest });

  try {
    for (const source of config.sources) {
      if (deps.signal?.aborted) {
        report.interrupted = true;
        break;
      }
      report.folders.push(...(source.type === 'imap' ? await reconcileImapSource(run, source) : [await reconcileMaildir(run, source)]));
    }
    const found = report.folders.flatMap((f) => f.found);
    // After a restore: the gap's case numbers are reserved before anything is filed, and only
    // when every mailbox was compared (a folder not compared may hold mail of the gap).
    let toFile = found.map((m) => m.inboundId);
    if (run.restoring) {
      // An unreadable Maildir file may be mail of the gap as much as a folder not compared.
      const compared = report.folders.every((f) => f.error === null && f.unreadable.length === 0) && !deps.signal?.aborted;
      if (!compared) {
        toFile = [];
        log.error('reconcile after a restore: not every mailbox could be compared; nothing is filed until a run compares them all', { run: runId });
      } else {
        report.restore = { manifest: restore!.manifest, gap: reserveGap(store, config, restore!, toInstant(deps.clock())) };
        // The backup's mail that was stored but not filed is filed now too (quietly: src/cases/after-restore.ts).
        toFile = [...store.pendingInboundIdsUpTo(restore!.lastInboundId), ...toFile];
      }
    }
    if (toFile.length > 0) {
      try {
        await deps.process(toFile);
      } catch (err) {
        // Stored is safe: the service's processing loop (or the next `run --once`) files them.
        log.error('reconcile: filing the found mail failed; it stays stored and is filed by the next processing pass', { run: runId, error: errorChain(err) });
      }
      for (const f of report.folders) {
        for (const m of f.found) describeFiled(store, m);
        f.filedNow = f.found.filter((m) => m.state === 'filed').length;
      }
    }
    if (deps.signal?.aborted) report.interrupted = true;
    else report.raw = await verifyRawMail(store, config.dataDir, deps.signal);
  } catch (err) {
    // The database itself failed us: record what is known, loudly.
    report.error = errorChain(err);
    log.error('reconcile failed', { run: runId, error: report.error });
  }

  report.found = report.folders.reduce((n, f) => n + f.found.length, 0);
  report.filedNow = report.folders.reduce((n, f) => n + f.filedNow, 0);
  report.errors = report.folders.filter((f) => f.error !== null).length + report.folders.reduce((n, f) => n + f.unreadable.length, 0) + (report.error ? 1 : 0);
  report.ok = !alarming(report) && report.errors === 0 && !report.interrupted;
  const finishedAt = toInstant(deps.clock());
  report.finishedAt = finishedAt;

  // The damage earlier notices told of (meta row), less what is no longer damaged: a file
  // repaired and damaged again is told again.
  const current = new Set(report.raw.damaged.map(damageKey));
  const told = new Set(parseTold(store.meta(DAMAGE_TOLD)).filter((k) => current.has(k)));
  const notice = adminNotice(report, told);
  try {
    store.tx(() => {
      if (notice && config.firm.adminAddress) {
        const queued = store.enqueue(
          buildAdminNotice(
            { to: config.firm.adminAddress, subject: notice.subject, text: notice.text, idempotencyKey: notice.idempotencyKey, now: deps.clock() },
            config,
          ),
        );
        report.adminNotified = queued !== null;
        for (const k of notice.damageTold) told.add(k);
      }
      if (!report.error && !report.interrupted) store.setMeta(DAMAGE_TOLD, JSON.stringify([...told]));
      store.finishReconcileRun(runId, finishedAt, JSON.stringify(report));
    });
  } catch (err) {
    report.error = report.error ?? errorChain(err);
    log.error('reconcile: cannot record the run', { run: runId, error: errorChain(err) });
  }

  const summary = {
    run: runId,
    found: report.found,
    filedNow: report.filedNow,
    rawChecked: report.raw.checked,
    rawMissing: report.raw.missing,
    rawMismatched: report.raw.mismatched,
    errors: report.errors,
  };
  if (alarming(report)) {
    log.error('reconcile: mail on the server had never been filed, or stored mail is damaged', summary);
    if (!config.firm.adminAddress) log.warn('reconcile: no admin address to tell (firm.adminAddress)', { run: runId });
  } else if (report.errors > 0) log.error('reconcile: not every folder could be compared', summary);
  else if (report.interrupted) log.warn('reconcile: stopped before it was done', summary);
  else log.info('reconcile: everything on the servers is filed and every stored raw mail matches its sha256', summary);
  return report;
}

/** What the processor made of a found mail, from the database (another process may have filed it). */
function describeFiled(store: Store, m: FoundMail): void {
  const row = store.inbound(m.inboundId);
  if (!row) return;
  m.state = row.state;
  m.kind = row.kind;
  m.caseNumber = row.case_id !== null ? (store.caseById(row.case_id)?.number ?? null) : null;
  const quiet = store.afterRestoreReason(m.inboundId);
  if (quiet) m.afterRestore = quiet;
}
