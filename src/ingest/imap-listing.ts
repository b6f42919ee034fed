/**
 * What a scan of an IMAP folder takes from one listing of waiting mail (src/ingest/imap.ts).
 * Pure: the listing as imapflow's fetchAll gave it in, the mails to store out.
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
