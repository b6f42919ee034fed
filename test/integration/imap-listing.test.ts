/**
 * Issue 16: a scan listed every UID above its cursor in one FETCH ("N:*") and held the listing
 * until it had stored them all: ~14 MB for 50,000 waiting mails, growing with the backlog on
 * the server. It lists them now in windows of UIDs below UIDNEXT (fetchBatchSize × 50 UIDs),
 * then one open-ended window for the rest; every mail is still stored once, in UID order, also
 * when a listing holds an unsolicited FETCH of a later window's mail. And a mail, small or
 * large, whose answer another session's flag update (an officer reading the mailbox) precedes
 * is stored whole, neither taken for expunged nor cut short.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ImapFlow } from 'imapflow';
import { dovecotAvailable, imapSourceOf, startDovecot, DovecotServer } from '../support/dovecot';
import { makeWorld, World, complaintMail } from '../support/world';
import { loadConfig } from '../../src/config/load';
import { ImapSource } from '../../src/ingest/imap';
import { credentialsFor } from '../../src/auth/credentials';
import { openDatabase } from '../../src/store/db';
import { Store } from '../../src/store/store';
import { silentLogger } from '../../src/util/log';
import type { ImapSourceConfig } from '../../src/config/config';

const available = dovecotAvailable();
if (!available.ok) console.warn(`Dovecot tests skipped: ${available.reason}`);
const describeImap = available.ok ? describe : describe.skip;

jest.setTimeout(60_000);

const PASSWORD_ENV = 'KLAGOMAL_TEST_IMAP_PASSWORD';

describeImap('listing the mails above the cursor', () => {
  let dovecot: DovecotServer;
  let world: World;
  beforeEach(async () => {
    dovecot = await startDovecot();
    // Batches of 2: windows of 100 UIDs.
    world = makeWorld({ sources: [imapSourceOf(dovecot, PASSWORD_ENV, { processedFolder: 'Processed', idle: false, fetchBatchSize: 2 })] });
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    world.cleanup();
    await dovecot.cleanup();
  });
  /** The source of the world's config on its own store, in this process. */
  const open = (): { db: ReturnType<typeof openDatabase>; store: Store; source: ImapSource } => {
    const config = loadConfig(world.configFile);
    const cfg = config.sources[0] as ImapSourceConfig;
    const db = openDatabase(path.join(config.dataDir, 'klagomal.db'));
    const store = new Store(db);
    const source = new ImapSource(cfg, store, () => new Date(), silentLogger, credentialsFor(cfg, { [PASSWORD_ENV]: dovecot.password }), config.dataDir);
    return { db, store, source };
  };
  /** The ranges listed (the FETCHes of sizes; the others fetch the mails themselves). */
  const listings = (): string[] => {
    const listed: string[] = [];
    const fetchAll = ImapFlow.prototype.fetchAll;
    jest.spyOn(ImapFlow.prototype, 'fetchAll').mockImplementation(function (this: ImapFlow, range, query, options) {
      if (typeof query === 'object' && query && 'size' in query) listed.push(String(range));
      return fetchAll.call(this, range, query, options);
    });
    return listed;
  };

  test('wholeFolderListedInOneFetchAndHeldForTheScan', async () => {
    dovecot.deliverToMaildir(Array.from({ length: 250 }, (_, i) => complaintMail(i, { messageId: `listing-${i}@example.com` })));
    const { db, store, source } = open();
    const listed = listings();
    try {
      const first = await source.pollOnce();
      expect(first).toMatchObject({ stored: 250, alreadyStored: 0 });
      expect(listed).toEqual(['1:100', '101:200', '201:*']);
      const rows = db.prepare('SELECT uid FROM inbound ORDER BY id').all() as Array<{ uid: number }>;
      expect(rows.map((r) => r.uid)).toEqual(Array.from({ length: 250 }, (_, i) => i + 1));
      expect(store.cursor('klagomal', 'INBOX')?.last_uid).toBe(250);

      // The next scan starts above the cursor: a window below UIDNEXT, then the open one.
      listed.length = 0;
      dovecot.deliverToMaildir(Array.from({ length: 120 }, (_, i) => complaintMail(`b${i}`, { messageId: `listing-b${i}@example.com` })));
      expect(await source.pollOnce()).toMatchObject({ stored: 120, alreadyStored: 0 });
      expect(listed).toEqual(['251:350', '351:*']);
      expect(store.cursor('klagomal', 'INBOX')?.last_uid).toBe(370);
      expect((db.prepare('SELECT COUNT(*) AS n FROM inbound').get() as { n: number }).n).toBe(370);
    } finally {
      db.close();
    }
  });

  test('mailOfAWindowSkippedWhenTheListingHeldALaterUid', async () => {
    // A listing also returns the unsolicited FETCHes that come while it runs: another session
    // flagging UID 150 during the listing of 1:100 gives imapflow an entry for 150 there (seen
    // with Dovecot and QRESYNC, which puts the UID in flag updates; here one that even carries a
    // size, so that only the window's bound keeps it out). Before: the cursor moved to
    // 150 with that window, and UIDs 101-149 were never listed again.
    dovecot.deliverToMaildir(Array.from({ length: 250 }, (_, i) => complaintMail(i, { messageId: `late-${i}@example.com` })));
    const fetchAll = ImapFlow.prototype.fetchAll;
    jest.spyOn(ImapFlow.prototype, 'fetchAll').mockImplementation(async function (this: ImapFlow, range, query, options) {
      const got = await fetchAll.call(this, range, query, options);
      if (String(range) === '1:100') got.push({ seq: 150, uid: 150, size: 999, internalDate: new Date(), flags: new Set(['\\Flagged']) });
      return got;
    });
    const { db, source } = open();
    try {
      expect(await source.pollOnce()).toMatchObject({ stored: 250, alreadyStored: 0 });
      const rows = db.prepare('SELECT uid FROM inbound ORDER BY id').all() as Array<{ uid: number }>;
      expect(rows.map((r) => r.uid)).toEqual(Array.from({ length: 250 }, (_, i) => i + 1));
    } finally {
      db.close();
    }
  });

  test('emptyWindowsListedOneRoundTripEach', async () => {
    // UIDs 101-300 were removed before the scan (another client): after the first empty window
    // the rest is listed at once, not in one FETCH per empty window.
    dovecot.deliverToMaildir(Array.from({ length: 450 }, (_, i) => complaintMail(i, { messageId: `gap-${i}@example.com` })));
    const other = new ImapFlow({ ...dovecot.clientOptions(), logger: false });
    await other.connect();
    const lock = await other.getMailboxLock('INBOX');
    try {
      await other.messageDelete('101:300', { uid: true });
    } finally {
      lock.release();
      await other.logout();
    }
    const { db, store, source } = open();
    const listed = listings();
    try {
      expect(await source.pollOnce()).toMatchObject({ stored: 250, alreadyStored: 0 });
      expect(listed).toEqual(['1:100', '101:200', '201:*']);
      const uids = (db.prepare('SELECT uid FROM inbound ORDER BY id').all() as Array<{ uid: number }>).map((r) => r.uid);
      expect(uids).toEqual([...Array.from({ length: 100 }, (_, i) => i + 1), ...Array.from({ length: 150 }, (_, i) => i + 301)]);
      expect(store.cursor('klagomal', 'INBOX')?.last_uid).toBe(450);
    } finally {
      db.close();
    }
  });

  test('singleMailTakenForExpungedWhenAFlagUpdateCameFirst', async () => {
    // fetchOne answers with the first FETCH of its command: another session's flag update of the
    // mail (its UID sent, as under QRESYNC) had no source, the mail passed for expunged, and
    // the cursor moved past it. It is fetched as a batch of one now, matched by UID.
    dovecot.deliverToMaildir([complaintMail(1, { messageId: 'single@example.com' })]);
    jest.spyOn(ImapFlow.prototype, 'fetchOne').mockImplementation(async () => ({ seq: 1, uid: 1, flags: new Set(['\\Flagged']) }));
    const fetchAll = ImapFlow.prototype.fetchAll;
    jest.spyOn(ImapFlow.prototype, 'fetchAll').mockImplementation(async function (this: ImapFlow, range, query, options) {
      const got = await fetchAll.call(this, range, query, options);
      if (typeof query === 'object' && query && 'source' in query) got.unshift({ seq: 1, uid: 1, flags: new Set(['\\Flagged']) });
      return got;
    });
    const { db, store, source } = open();
    try {
      expect(await source.pollOnce()).toMatchObject({ stored: 1 });
      expect(db.prepare('SELECT uid FROM inbound').all()).toEqual([{ uid: 1 }]);
      expect(store.cursor('klagomal', 'INBOX')?.last_uid).toBe(1);
    } finally {
      db.close();
    }
  });

  /** A 2.5 MB mail (three 1 MB chunks), whose flag update another session's FETCH reports in the chunk `at` (0-based) before its own answer. */
  async function largeMailWithAFlagUpdateAt(at: number): Promise<{ stored: number; raw: Buffer | null; sent: Buffer }> {
    const sent = Buffer.from(complaintMail(1, { messageId: 'large@example.com', body: 'Jag klagar. ' + 'x'.repeat(2_500_000) + ' SLUT' }));
    dovecot.deliverToMaildir([sent]);
    const flagUpdate = { seq: 1, uid: 1, flags: new Set(['\\Seen']) };
    let chunk = 0;
    // imapflow's download asks with fetchOne, which answers with the first FETCH of its command.
    const fetchOne = ImapFlow.prototype.fetchOne;
    jest.spyOn(ImapFlow.prototype, 'fetchOne').mockImplementation(async function (this: ImapFlow, range, query, options) {
      return chunk++ === at ? flagUpdate : fetchOne.call(this, range, query, options);
    });
    // fetchAll collects every FETCH of its command: the flag update comes first, then the chunk.
    const fetchAll = ImapFlow.prototype.fetchAll;
    jest.spyOn(ImapFlow.prototype, 'fetchAll').mockImplementation(async function (this: ImapFlow, range, query, options) {
      const got = await fetchAll.call(this, range, query, options);
      if (typeof query === 'object' && query && typeof query.source === 'object' && chunk++ === at) got.unshift(flagUpdate);
      return got;
    });
    const { db, store, source } = open();
    try {
      const { stored } = await source.pollOnce();
      const row = db.prepare('SELECT sha256 FROM inbound').get() as { sha256: string } | undefined;
      const kept = row ? store.rawMail(row.sha256) : undefined;
      const raw = !kept ? null : 'bytes' in kept ? kept.bytes : fs.readFileSync(path.join(world.dataDir, kept.path));
      return { stored, raw, sent };
    } finally {
      db.close();
    }
  }

  test('largeMailTakenForExpungedWhenAFlagUpdateAnsweredItsFirstChunk', async () => {
    const { stored, raw, sent } = await largeMailWithAFlagUpdateAt(0);
    expect(stored).toBe(1);
    expect(raw?.length).toBe(sent.length);
    expect(raw!.subarray(-8).toString()).toContain('SLUT');
  });

  test('largeMailStoredCutShortWhenAFlagUpdateAnsweredALaterChunk', async () => {
    const { stored, raw, sent } = await largeMailWithAFlagUpdateAt(1);
    expect(stored).toBe(1);
    expect(raw?.length).toBe(sent.length);
    expect(raw!.subarray(-8).toString()).toContain('SLUT');
  });

  test('batchTakenForExpungedWhenTheConnectionClosedBeforeItsFetch', async () => {
    // A closed connection answers a FETCH with nothing (imapflow fetches only in a selected
    // mailbox). Before: every mail of the batch passed for expunged and the cursor moved past it;
    // a large mail too.
    const { db, store, source } = open();
    /** One scan whose connection closes just before it fetches mail (`large`: the chunks of a large mail). */
    const scanClosingAt = async (large: boolean): Promise<void> => {
      const fetchAll = ImapFlow.prototype.fetchAll;
      const spy = jest.spyOn(ImapFlow.prototype, 'fetchAll').mockImplementation(async function (this: ImapFlow, range, query, options) {
        if (typeof query === 'object' && query && (large ? typeof query.source === 'object' : query.source === true)) this.close();
        return fetchAll.call(this, range, query, options);
      });
      try {
        await expect(source.pollOnce()).rejects.toThrow(/IMAP connection closed/);
      } finally {
        spy.mockRestore();
      }
    };
    try {
      dovecot.deliverToMaildir([1, 2, 3].map((i) => complaintMail(i, { messageId: `closed-${i}@example.com` })));
      await scanClosingAt(false);
      expect(store.cursor('klagomal', 'INBOX')?.last_uid ?? 0).toBe(0);
      expect(await source.pollOnce()).toMatchObject({ stored: 3 });

      dovecot.deliverToMaildir([complaintMail(4, { messageId: 'closed-large@example.com', body: 'y'.repeat(1_500_000) })]);
      await scanClosingAt(true);
      expect(store.cursor('klagomal', 'INBOX')?.last_uid).toBe(3);
      expect(await source.pollOnce()).toMatchObject({ stored: 1 });
      expect(store.cursor('klagomal', 'INBOX')?.last_uid).toBe(4);
    } finally {
      db.close();
    }
  });
});
