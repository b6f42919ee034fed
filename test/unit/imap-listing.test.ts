/**
 * What a scan takes from one listing of waiting mail (src/ingest/imap-listing.ts). A listing
 * holds, besides its own answers, the unsolicited FETCHes that came while it ran (another
 * session's flag changes; with QRESYNC they carry the UID). Before: the open-ended window kept
 * them, and a flag update of a mail that came during the listing moved the cursor past the mail
 * before it, which the listing had not seen; a flag update sorted before a mail's own entry
 * left it without its size (a large mail read whole) and its date.
 */
import type { FetchMessageObject } from 'imapflow';
import { listedIn } from '../../src/ingest/imap-listing';

const DATE = new Date('2026-12-07T09:00:00Z');
const own = (uid: number): FetchMessageObject => ({ seq: uid, uid, size: 1000 + uid, internalDate: DATE });
const flagUpdate = (uid: number): FetchMessageObject => ({ seq: uid, uid, flags: new Set(['\\Flagged']) });

describe('the mails of one listing', () => {
  test('flagUpdateOfAMailThatCameDuringTheListingMovedTheCursorPastAnUnlistedOne', () => {
    // The open window 101:* listed 101; 102 and 103 came during it, and 103 was flagged at once.
    expect(listedIn([own(101), flagUpdate(103)], 101, Infinity, 100).map((m) => m.uid)).toEqual([101]);
  });

  test('flagUpdateBeforeAMailsOwnEntryTookItsPlace', () => {
    const got = listedIn([flagUpdate(105), own(104), own(105)], 101, 200, 100);
    expect(got).toEqual([own(104), own(105)]);
  });

  test('entryWithoutItsSizeKeptOverTheOneWithIt', () => {
    // A server that answers one mail in two FETCHes, the date first: the size decides whether a
    // large mail is streamed to a file or read whole into memory.
    const dateOnly: FetchMessageObject = { seq: 104, uid: 104, internalDate: DATE };
    expect(listedIn([dateOnly, own(104)], 101, 200, 100)).toEqual([own(104)]);
    expect(listedIn([own(104), dateOnly], 101, 200, 100)).toEqual([own(104)]);
  });

  test('uidsOutsideTheWindowOrAtTheCursorKept', () => {
    // "N:*" returns the highest message even below N (RFC 3501 §6.4.8); a later window's UID
    // came in an unsolicited FETCH with its size (a server that sends all items).
    expect(listedIn([own(90), own(100), own(150), own(201), own(120)], 101, 200, 100).map((m) => m.uid)).toEqual([120, 150]);
    expect(listedIn([own(99)], 150, Infinity, 149)).toEqual([]);
  });
});
