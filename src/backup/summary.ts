/**
 * Backups and restores as `klagomal status` shows them (src/ops/status.ts): the last backup and
 * the last good one, and whether a restore still waits for its reconciliation. Read from the
 * database only; what needs a person is returned as reasons:
 *  - the last good backup is older than `backup.maxAgeHours` (or there is none);
 *  - the data folder was restored and not yet compared with the mailboxes (nothing is filed).
 */
import type { Config } from '../config/config';
import type { BackupRecord, RestoreMarker } from '../store/backup';
import type { Store } from '../store/store';

export interface BackupStatus {
  readonly dir: string | null;
  readonly schedule: string | null;
  readonly maxAgeHours: number | null;
  readonly last: BackupRecord | null;
  readonly lastGood: BackupRecord | null;
  /** Hours since the last good backup finished; null when there is none. */
  readonly lastGoodAgeHours: number | null;
  readonly restore: {
    readonly manifest: string;
    readonly backupAt: string;
    readonly restoredAt: string;
    readonly reconciledAt: string | null;
    /** Cases opened after the restore without an acknowledgement (the install before it may have answered them). */
    readonly quietCases: readonly string[];
  } | null;
}

/** Nothing may be filed after a restore until a reconciliation has compared every mailbox. */
export class RestoreNotReconciled extends Error {
  constructor(m: RestoreMarker) {
    super(
      `the data folder was restored from the backup ${m.manifest} at ${m.restoredAt} and has not been compared with the mailboxes yet: run 'klagomal reconcile' first (it reserves the case numbers the install before the restore may have used and files what arrived since, without acknowledging anything twice); nothing is filed or sent until then`,
    );
    this.name = 'RestoreNotReconciled';
  }
}

/** Throws RestoreNotReconciled while a restore waits for its reconciliation. */
export function refuseWhileRestoring(store: Store): void {
  const m = store.restoreMarker();
  if (m && m.reconciledAt === null) throw new RestoreNotReconciled(m);
}

export function backupStatus(config: Config, store: Store, now: Date): { report: BackupStatus; reasons: string[] } {
  const reasons: string[] = [];
  const last = store.backupRecord('last');
  const lastGood = store.backupRecord('lastGood');
  const age = lastGood ? (now.getTime() - Date.parse(lastGood.finishedAt)) / 3_600_000 : null;
  const max = config.backup.maxAgeHours;
  if (max !== null && (age === null || age > max)) {
    const failed = last && !last.ok ? `; the last attempt at ${last.finishedAt} failed: ${last.error ?? 'see its log'}` : '';
    reasons.push(
      age === null
        ? `no good backup was ever taken (backup.maxAgeHours ${max}; 'klagomal backup'${config.backup.dir ? '' : ', and set backup.dir and backup.schedule'})${failed}`
        : `the last good backup is ${Math.floor(age)} h old, older than backup.maxAgeHours ${max} (${lastGood!.manifest} in ${lastGood!.dir})${failed}`,
    );
  }
  const m = store.restoreMarker();
  if (m && m.reconciledAt === null) reasons.push(new RestoreNotReconciled(m).message);
  return {
    report: {
      dir: config.backup.dir,
      schedule: config.backup.schedule,
      maxAgeHours: max,
      last,
      lastGood,
      lastGoodAgeHours: age === null ? null : Math.round(age * 10) / 10,
      restore: m
        ? {
            manifest: m.manifest,
            backupAt: m.backupAt,
            restoredAt: m.restoredAt,
            reconciledAt: m.reconciledAt,
            quietCases: store.casesOpenedQuietlyAfterRestore(m.firstEventId).map((c) => c.number),
          }
        : null,
    },
    reasons,
  };
}
