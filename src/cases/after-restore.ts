/**
 * Filing after a restore from a backup: which mail is filed quietly (recorded and put on a case
 * as usual, with its deadlines, but no acknowledgement, no notification, no officer command
 * run), because the install that was lost may already have acted on it. Pure: the caller
 * (src/cases/filing.ts) reads the restore marker and what reconciliation saw on the server.
 *
 * The lost install took a mail, filed it and acknowledged it within seconds, and moved it to the
 * processed folder (or flagged it \Seen, or renamed it into a Maildir's cur/) right after
 * storing it. So, after a restore, a mail is quiet when
 *
 *  1. it is in the backup but was not filed yet when the backup was taken: the lost install
 *     filed it moments later and may have acknowledged it;
 *  2. reconciliation found it where the lost install had put or marked it (the processed
 *     folder, the Sent folder, flagged \Seen in the watched folder, a Maildir's cur/): taken
 *     after the backup, so filed, acknowledged, its commands run;
 *  3. it reached the firm no later than the backup's newest mail: the backup should have held
 *     it, so the lost install had it in its hands;
 *  4. it names a case number of the gap (issued by the lost install after the backup: its case
 *     is not in the restored database): a customer's reply to a case a person must find.
 *
 * Everything else is live: it arrived after the backup and was never taken (still unread in the
 * watched folder, in a Maildir's new/), so nobody has answered it. The quiet ones are listed for
 * a person by the restore and reconciliation (each case's `case-opened` event says why).
 */
import type { RestoreMarker } from '../store/backup';

export interface CaseNumberGap {
  readonly prefix: string;
  readonly year: number;
  /** The first and last number the lost install may have issued after the backup. */
  readonly from: number;
  readonly to: number;
}

/** A restore marker as filing reads it: the gap of case numbers reserved by reconciliation. */
export type RestoreFacts = Pick<RestoreMarker, 'lastInboundId' | 'newestArrival' | 'manifest'> & { readonly gap?: readonly CaseNumberGap[] };

/** Why a mail is filed quietly after a restore, or null when it is live (or there was no restore). */
export function quietAfterRestore(
  marker: RestoreFacts | null,
  inbound: { readonly id: number; readonly received_at: string },
  takenBefore: string | null,
  namedCases: readonly string[],
): string | null {
  if (!marker) return null;
  if (inbound.id <= marker.lastInboundId)
    return `stored but not yet filed when the backup ${marker.manifest} was taken: the install before the restore filed it moments later and may have answered it`;
  if (takenBefore) return `${takenBefore}: the install before the restore had taken it, and may have answered it`;
  if (marker.newestArrival && inbound.received_at <= marker.newestArrival)
    return `it reached the firm before the newest mail of the backup ${marker.manifest}: the install before the restore had it`;
  const lost = namedCases.find((n) => inGap(marker.gap ?? [], n));
  if (lost) return `it names ${lost}, a case number issued after the backup ${marker.manifest}: that case was lost with the install before the restore`;
  return null;
}

/** Case numbers named in a text (a subject, References), upper-cased: PREFIX-YYYY-NNNNNN. */
export function caseNumbersIn(text: string, prefix: string): string[] {
  const re = new RegExp(`(?<![A-Za-z0-9])${prefix}-(\\d{4})-(\\d{6,9})(?!\\d)`, 'gi');
  return [...text.matchAll(re)].map((m) => `${prefix}-${m[1]}-${m[2]}`.toUpperCase());
}

function inGap(gap: readonly CaseNumberGap[], number: string): boolean {
  const m = /^(.+)-(\d{4})-(\d+)$/.exec(number);
  if (!m) return false;
  const [, prefix, year, n] = m;
  return gap.some((g) => g.prefix === prefix && g.year === Number(year) && Number(n) >= g.from && Number(n) <= g.to);
}
