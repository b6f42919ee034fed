/**
 * The last reconciliation run as `klagomal status` (src/ops/status.ts) shows it.
 */
import type { Store } from '../store/store';
import type { Instant } from '../util/clock';
import type { ReconcileReport } from './report';

export interface ReconcileRunSummary {
  readonly id: number;
  readonly trigger: string;
  readonly startedAt: Instant;
  /** Null while it runs, or when the process stopped during it. */
  readonly finishedAt: Instant | null;
  readonly ok: boolean;
  readonly found: number;
  readonly filedNow: number;
  readonly rawChecked: number;
  readonly rawMissing: number;
  readonly rawMismatched: number;
  readonly errors: number;
  /** The whole report (null when the run did not finish). */
  readonly report: ReconcileReport | null;
}

/** The latest reconciliation run, or null when there was none (or the schema predates them). */
export function lastReconcileRun(store: Store): ReconcileRunSummary | null {
  const row = store.lastReconcileRunRow();
  if (!row) return null;
  const report = row.finished_at ? (JSON.parse(row.result) as ReconcileReport) : null;
  return {
    id: row.id,
    trigger: row.trigger,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    ok: report?.ok ?? false,
    found: report?.found ?? 0,
    filedNow: report?.filedNow ?? 0,
    rawChecked: report?.raw.checked ?? 0,
    rawMissing: report?.raw.missing ?? 0,
    rawMismatched: report?.raw.mismatched ?? 0,
    errors: report?.errors ?? 0,
    report,
  };
}
