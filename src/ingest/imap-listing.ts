/**
 * UIDs of an IMAP folder, pure: what a scan takes from one listing of waiting mail
 * (src/ingest/imap.ts; the listing as imapflow's fetchAll gave it in, the mails to store out),
 * and a set of UIDs written as IMAP writes it (the scan's and reconciliation's FETCH and MOVE).
 */
import type { FetchMessageObject } from 'imapflow';

/**
 * The mails a listing of the UIDs `from`..`last` found above the cursor, in UID order, one entry
 * each. "N:*" also returns the highest message when its UID is below N (RFC 3501 §6.4.8), and a
 * listing also holds the unsolicited FETCHes that came while it ran: another session's flag
 * change, with its UID where the server sends it (QRESYNC). One of a later window's UIDs would
 * move the cursor past the mails between, for good; one of a mail that came during the listing
 * of the open window, past that listing's last; so only the window's own UIDs are kept, and
 * only entries with what was asked for (a flag update has neither size nor date).
 */
export function listedIn(listing: readonly FetchMessageObject[], from: number, last: number, lastUid: number): FetchMessageObject[] {
  const own = new Map<number, FetchMessageObject>();
  for (const m of listing) {
    if (!(m.uid >= from && m.uid <= last && m.uid > lastUid)) continue;
    if (m.size === undefined && m.internalDate === undefined) continue;
    if (!own.has(m.uid) || own.get(m.uid)!.size === undefined) own.set(m.uid, m);
  }
  return [...own.values()].sort((a, b) => a.uid - b.uid);
}

/** "1:3,5,7:9" from a list of UIDs. */
export function uidSet(uids: readonly number[]): string {
  const sorted = [...new Set(uids)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(i === j ? String(sorted[i]) : `${sorted[i]}:${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}
