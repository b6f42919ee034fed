/**
 * The report of a reconciliation run (what `klagomal reconcile --json` prints and reconcile_runs
 * keeps as JSON), and what it tells the admin: `alarming` and the bilingual admin notice. Pure.
 */
import crypto from 'node:crypto';
import type { Instant } from '../util/clock';
import type { CaseNumberGap } from '../cases/after-restore';

export type ReconcileTrigger = 'schedule' | 'command' | 'restore';

// ---- the report ------------------------------------------------------------------------

export type FolderRole = 'watched' | 'processed' | 'sent' | 'maildir';

/** A mail found on the server that had never been stored, and what filing made of it. */
export interface FoundMail {
  /** "UID 7" (IMAP) or the file name (Maildir). */
  readonly where: string;
  readonly inboundId: number;
  state: 'stored' | 'filed' | 'quarantined';
  kind: string | null;
  caseNumber: string | null;
  /** After a restore: why it was filed quietly (not acknowledged, not acted on), for a person. */
  afterRestore?: string | null;
}

export interface FolderReport {
  readonly source: string;
  readonly folder: string;
  readonly role: FolderRole;
  uidvalidity: string | null;
  /** Mails in the folder (files in new/ and cur/ for a Maildir). */
  onServer: number;
  /** Stored before this run (by UID, Message-ID, name or sha256). */
  known: number;
  /** Not yet taken by the source: above its cursor, a UIDVALIDITY it has not seen, Maildir new/. */
  waiting: number;
  /** Not compared: the Sent folder's history from before it was first watched. */
  notCompared: number;
  /** Never stored: stored and filed by this run. */
  found: FoundMail[];
  /** Of `found`, those the processor filed (not quarantined, not left stored). */
  filedNow: number;
  /** Why this folder could not be compared (then the counts are what was done before). */
  error: string | null;
  /**
   * Maildir files that could not be read (another user's, an I/O error), so not compared; the
   * rest of the folder was. One such file once ended the folder's comparison at itself.
   */
  unreadable: UnreadableFile[];
}

export interface UnreadableFile {
  /** The file, as `cur/NAME`. */
  readonly where: string;
  readonly error: string;
}

export interface DamagedRaw {
  readonly sha256: string;
  readonly storedAs: 'database' | 'file';
  /** The file, relative to the data folder (file-stored mail). */
  readonly path: string | null;
  readonly problem: 'missing' | 'unreadable' | 'mismatch';
  /** The hash the bytes have now (mismatch), or the read error (unreadable). */
  readonly detail: string | null;
  /** The mails stored with these bytes, and their cases (at most 10 each). */
  readonly inboundIds: number[];
  readonly cases: string[];
}

export interface RawReport {
  checked: number;
  /** Missing or unreadable (a file gone, a row gone). */
  missing: number;
  mismatched: number;
  /** The first DAMAGED_LISTED (verify-raw.ts) damaged ones. */
  damaged: DamagedRaw[];
}

export interface ReconcileReport {
  readonly runId: number;
  readonly trigger: ReconcileTrigger;
  readonly startedAt: Instant;
  finishedAt: Instant | null;
  folders: FolderReport[];
  raw: RawReport;
  /** Mails found on a server that had never been stored, over all folders. */
  found: number;
  filedNow: number;
  /** Folders that could not be compared, plus files that could not be read, plus a run-level failure. */
  errors: number;
  error: string | null;
  /** Stopped by its signal (service shutdown) before it was done. */
  interrupted: boolean;
  /** A mail to firm.adminAddress was queued by this run. */
  adminNotified: boolean;
  /** Everything compared and matched: nothing found, nothing damaged, no errors. */
  ok: boolean;
  /** The run after a restore that reserved the case numbers of the gap (src/reconcile/after-restore.ts). */
  restore?: { readonly manifest: string; readonly gap: readonly CaseNumberGap[] };
}

/** Something a person must look at: mail that had been missed, or stored mail that is damaged. */
export function alarming(r: Pick<ReconcileReport, 'found' | 'raw'>): boolean {
  return r.found > 0 || r.raw.missing > 0 || r.raw.mismatched > 0;
}

/** How one damaged raw mail is remembered as told (its hash and what is wrong with it). */
export function damageKey(d: Pick<DamagedRaw, 'sha256' | 'problem'>): string {
  return `${d.sha256}:${d.problem}`;
}

/**
 * The admin's mail (plain text, Swedish and English, like the template-problem notice), with
 * its idempotency key: once per run when mail was found; damage only when some of it was not
 * told before (`told`: the damage keys of earlier notices), so that one damaged file is
 * mailed about once, not again by the next hourly run nor by a run that found mail too.
 * `damageTold` is every damage this report knows, for the caller to keep as told. Null when
 * there is nothing new to tell.
 */
export function adminNotice(
  r: ReconcileReport,
  told: ReadonlySet<string> = new Set(),
): { subject: string; text: string; idempotencyKey: string; damageTold: string[] } | null {
  if (!alarming(r)) return null;
  const fresh = r.raw.damaged.filter((d) => !told.has(damageKey(d)));
  const toldBefore = r.raw.damaged.length - fresh.length;
  const newDamage = fresh.length > 0 || (r.raw.missing + r.raw.mismatched > r.raw.damaged.length && toldBefore === 0);
  if (r.found === 0 && !newDamage) return null;
  const lines: string[] = [];
  const when = r.startedAt.slice(0, 16).replace('T', ' ');
  lines.push(
    `Avstämningen av brevlådorna mot ärenderegistret (körning ${r.runId}, ${when} UTC) behöver uppmärksamhet.`,
    `The reconciliation of the mailboxes with the case register (run ${r.runId}, ${when} UTC) needs attention.`,
    '',
  );
  if (r.found > 0) {
    lines.push(
      `${r.found} brev på servern hade aldrig registrerats. De är registrerade nu:`,
      `${r.found} mail(s) on the server had never been filed. They are filed now:`,
      '',
    );
    for (const f of r.folders)
      for (const m of f.found)
        lines.push(
          `  ${f.source} / ${f.folder} ${m.where}: ${m.caseNumber ?? '(inget ärende / no case)'} ${m.state === 'filed' ? `(${m.kind})` : `(${m.state})`}`,
        );
    lines.push('');
  }
  if (r.raw.missing + r.raw.mismatched > 0) {
    lines.push(
      `${r.raw.missing} lagrade brev saknas och ${r.raw.mismatched} stämmer inte längre med sin sha256. Inget har rättats automatiskt; återställ från säkerhetskopia.`,
      `${r.raw.missing} stored mail(s) are missing and ${r.raw.mismatched} no longer match their sha256. Nothing was repaired; restore them from a backup.`,
      '',
    );
    for (const d of fresh)
      lines.push(
        `  ${d.path ?? `raw_mail ${d.sha256.slice(0, 16)}…`}: ${d.problem}; inbound ${d.inboundIds.join(',') || '-'}${d.cases.length ? `; ${d.cases.join(',')}` : ''}`,
      );
    if (toldBefore > 0)
      lines.push(
        `  (${toldBefore} av dem har rapporterats tidigare och listas inte igen / ${toldBefore} of them were reported before and are not listed again)`,
      );
    lines.push('');
  }
  lines.push('Kör / run: klagomal reconcile', '');
  const damage = crypto
    .createHash('sha256')
    .update(JSON.stringify(fresh.map((d) => [d.sha256, d.problem])))
    .digest('hex')
    .slice(0, 16);
  return {
    subject:
      r.found > 0
        ? `Avstämning: ${r.found} brev hade inte registrerats / Reconciliation: ${r.found} mail(s) had not been filed`
        : `Avstämning: lagrade brev är skadade / Reconciliation: stored mail is damaged (${r.raw.missing + r.raw.mismatched})`,
    text: lines.join('\n'),
    idempotencyKey: r.found > 0 ? `reconcile:run:${r.runId}` : `reconcile:damage:${r.raw.missing}:${r.raw.mismatched}:${damage}`,
    damageTold: r.raw.damaged.map(damageKey),
  };
}
