/**
 * The decisions of the reconciliation (src/reconcile/), without a server: which mails
 * on a server count as known, as the source's to take, or as to be checked by their bytes; the
 * Maildir comparison; the Message-ID of a header-fields answer; the admin's mail; and the
 * re-hashing of stored raw mail. A wrong answer here is either a mail silently never filed
 * (known when it is not) or a mail filed twice (missing when it is not).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase } from '../../src/store/db';
import { Store } from '../../src/store/store';
import { storeArrivals } from '../../src/ingest/intake';
import { rawFileRelative } from '../../src/ingest/raw-files';
import {
  adminNotice,
  FolderFacts,
  lastReconcileRun,
  maildirLocator,
  messageIdFromHeaders,
  planFolder,
  planMaildir,
  ReconcileReport,
  ServerMail,
  verifyRawMail,
} from '../../src/reconcile';
import { fetchRaw } from '../../src/reconcile/imap';
import { reconcile } from '../../src/reconcile/run';
import { formatReconcileReport } from '../../src/cli/reconcile';
import { loadConfig } from '../../src/config/load';
import { silentLogger } from '../../src/util/log';
import { complaintMail, makeWorld, World } from '../support/world';
import type { ImapFlow } from 'imapflow';

const mail = (uid: number, messageId: string | null = `m${uid}@example.com`): ServerMail => ({ uid, size: 1000 + uid, messageId, internalDate: null });
const none = (): boolean => false;

describe('planFolder', () => {
  const watched = (over: Partial<FolderFacts> = {}): FolderFacts => ({
    role: 'watched',
    uidvalidity: '7',
    cursor: { uidvalidity: '7', lastUid: 10 },
    storedUids: new Set([1, 2, 3]),
    ...over,
  });

  test('mailBelowTheCursorNeverStoredIsToBeChecked', () => {
    const plan = planFolder([mail(1), mail(2), mail(3), mail(4)], watched(), none);
    expect(plan.known).toBe(3);
    expect(plan.toCheck.map((m) => m.uid)).toEqual([4]);
    expect(plan.waiting).toBe(0);
  });

  test('mailAboveTheCursorIsTheSourcesNotMissing', () => {
    const plan = planFolder([mail(3), mail(11), mail(12)], watched(), none);
    expect(plan).toEqual({ known: 1, waiting: 2, notCompared: 0, toCheck: [] });
  });

  test('aRenumberedFolderIsWaitingForTheSourcesRescan', () => {
    // UIDVALIDITY 8 on the server, cursor still at 7: the source rescans it all (and dedupes).
    const plan = planFolder([mail(1), mail(2)], watched({ uidvalidity: '8', storedUids: new Set() }), none);
    expect(plan).toEqual({ known: 0, waiting: 2, notCompared: 0, toCheck: [] });
  });

  test('noCursorYetMeansTheSourceHasNotReadTheFolder', () => {
    const plan = planFolder([mail(1)], watched({ cursor: null, storedUids: new Set() }), none);
    expect(plan.waiting).toBe(1);
    expect(plan.toCheck).toEqual([]);
  });

  test('processedFolderIsMatchedByMessageIdWhateverItsUids', () => {
    const filed = new Set(['m1@example.com', 'm2@example.com']);
    const facts: FolderFacts = { role: 'processed', uidvalidity: '9', cursor: null, storedUids: new Set() };
    const plan = planFolder([mail(101, 'm1@example.com'), mail(102, 'm2@example.com'), mail(103, 'm3@example.com'), mail(104, null)], facts, (id) =>
      filed.has(id),
    );
    expect(plan.known).toBe(2);
    expect(plan.waiting).toBe(0);
    // Unknown Message-ID, and no Message-ID at all: fetched and known (or not) by sha256.
    expect(plan.toCheck.map((m) => m.uid)).toEqual([103, 104]);
  });

  test('processedFolderMailStoredByAnEarlierReconcileIsKnownByUid', () => {
    const facts: FolderFacts = { role: 'processed', uidvalidity: '9', cursor: null, storedUids: new Set([5]) };
    expect(planFolder([mail(5, null)], facts, none).known).toBe(1);
  });

  test('sentFolderHistoryBeforeTheFirstStoredMailIsNotCompared', () => {
    const facts: FolderFacts = { role: 'sent', uidvalidity: '3', cursor: { uidvalidity: '3', lastUid: 20 }, storedUids: new Set([12, 15]) };
    const plan = planFolder([mail(1), mail(11), mail(12), mail(13), mail(15), mail(21)], facts, none);
    expect(plan.notCompared).toBe(2); // 1 and 11: the mailbox's history
    expect(plan.known).toBe(2);
    expect(plan.waiting).toBe(1); // 21: above the cursor
    expect(plan.toCheck.map((m) => m.uid)).toEqual([13]);
  });

  test('sentFolderWithNothingStoredYetComparesNothing', () => {
    const facts: FolderFacts = { role: 'sent', uidvalidity: '3', cursor: { uidvalidity: '3', lastUid: 20 }, storedUids: new Set() };
    const plan = planFolder([mail(4), mail(20)], facts, none);
    expect(plan).toEqual({ known: 0, waiting: 0, notCompared: 2, toCheck: [] });
  });
});

describe('messageIdFromHeaders', () => {
  test.each<[string, string | null]>([
    ['Message-ID: <abc@example.com>\r\n\r\n', 'abc@example.com'],
    ['message-id:   <abc@example.com>  \r\n', 'abc@example.com'],
    ['Message-Id:\r\n <folded@example.com>\r\n\r\n', 'folded@example.com'],
    ['\r\n', null],
    ['Message-ID: <has space@example.com>\r\n', null],
  ])('%j', (header, expected) => {
    expect(messageIdFromHeaders(Buffer.from(header))).toBe(expected);
  });
  test('missingAnswer', () => expect(messageIdFromHeaders(undefined)).toBeNull());
});

describe('planMaildir', () => {
  const at = new Date('2026-11-20T10:00:00Z');
  test('curFilesKnownByNameAndSizeNewFilesAreTheSourcesQueue', () => {
    const stored = new Map([['1700.a.host', new Set([120])]]);
    const plan = planMaildir(
      [
        { sub: 'cur', name: '1700.a.host:2,S', size: 120, mtime: at },
        { sub: 'cur', name: '1700.a.host.1:2,S', size: 90, mtime: at }, // renamed clash: by hash
        { sub: 'cur', name: '1800.b.host:2,', size: 50, mtime: at }, // read by a person, never stored
        { sub: 'new', name: '1900.c.host', size: 70, mtime: at },
      ],
      stored,
    );
    expect(plan.known).toBe(1);
    expect(plan.waiting).toBe(1);
    expect(plan.toCheck.map((f) => f.name)).toEqual(['1700.a.host.1:2,S', '1800.b.host:2,']);
  });
  test('aDifferentFileUnderAReusedNameIsCheckedByHash', () => {
    const plan = planMaildir([{ sub: 'cur', name: 'x:2,S', size: 121, mtime: at }], new Map([['x', new Set([120])]]));
    expect(plan.toCheck).toHaveLength(1);
  });
  test('maildirLocator', () => {
    expect(maildirLocator('1700.a.host:2,S')).toBe('1700.a.host');
    expect(maildirLocator('plain')).toBe('plain');
  });
});

function report(over: Partial<ReconcileReport> = {}): ReconcileReport {
  return {
    runId: 4,
    trigger: 'schedule',
    startedAt: '2026-11-20T10:17:00.000Z',
    finishedAt: '2026-11-20T10:17:05.000Z',
    folders: [],
    raw: { checked: 3, missing: 0, mismatched: 0, damaged: [] },
    found: 0,
    filedNow: 0,
    errors: 0,
    error: null,
    interrupted: false,
    adminNotified: false,
    ok: true,
    ...over,
  };
}

describe('adminNotice', () => {
  test('nothingToTellWhenEverythingMatched', () => {
    expect(adminNotice(report())).toBeNull();
  });

  test('foundMailIsToldOncePerRunInBothLanguages', () => {
    const r = report({
      found: 1,
      filedNow: 1,
      ok: false,
      folders: [
        {
          source: 'klagomal',
          folder: 'Processed',
          role: 'processed',
          uidvalidity: '9',
          onServer: 3,
          known: 2,
          waiting: 0,
          notCompared: 0,
          found: [{ where: 'UID 3', inboundId: 12, state: 'filed', kind: 'complaint', caseNumber: 'KLG-2026-000003' }],
          filedNow: 1,
          error: null,
          unreadable: [],
        },
      ],
    });
    const n = adminNotice(r)!;
    expect(n.idempotencyKey).toBe('reconcile:run:4');
    expect(n.subject).toMatch(/Avstämning: 1 brev hade inte registrerats \/ Reconciliation: 1 mail\(s\) had not been filed/);
    expect(n.text).toMatch(/hade aldrig registrerats/);
    expect(n.text).toMatch(/had never been filed/);
    expect(n.text).toContain('klagomal / Processed UID 3: KLG-2026-000003 (complaint)');
  });

  test('theSameDamageIsToldOnceNotEveryHour', () => {
    const damaged = {
      sha256: 'ab'.repeat(32),
      storedAs: 'file' as const,
      path: 'raw/ab/x.eml',
      problem: 'mismatch' as const,
      detail: 'cd',
      inboundIds: [1],
      cases: [],
    };
    const a = adminNotice(report({ runId: 5, ok: false, raw: { checked: 3, missing: 0, mismatched: 1, damaged: [damaged] } }))!;
    const b = adminNotice(report({ runId: 6, ok: false, raw: { checked: 3, missing: 0, mismatched: 1, damaged: [damaged] } }))!;
    const c = adminNotice(
      report({
        runId: 7,
        ok: false,
        raw: { checked: 3, missing: 1, mismatched: 1, damaged: [damaged, { ...damaged, sha256: 'ef'.repeat(32), problem: 'missing' }] },
      }),
    )!;
    expect(a.idempotencyKey).toBe(b.idempotencyKey);
    expect(c.idempotencyKey).not.toBe(a.idempotencyKey);
    expect(a.text).toContain('raw/ab/x.eml: mismatch');
  });
});

describe('verifyRawMail and lastReconcileRun', () => {
  let dir: string;
  let store: Store;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-reconcile-unit-'));
    store = new Store(openDatabase(':memory:'));
  });
  afterEach(() => {
    store.db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const now = '2026-11-20T10:00:00.000Z';
  function storeSmall(text: string, key: string): void {
    storeArrivals(store, dir, 'test', [{ raw: Buffer.from(text), receivedAt: new Date(now), mailbox: 'INBOX', locator: key, sourceKey: key }], now);
  }
  function storeLarge(bytes: Buffer): string {
    const sha = crypto.createHash('sha256').update(bytes).digest('hex');
    const rel = rawFileRelative(sha);
    fs.mkdirSync(path.join(dir, path.dirname(rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), bytes);
    store.tx(() =>
      store.storeInbound(
        {
          source: 'test',
          mailbox: 'INBOX',
          locator: 'big',
          sourceKey: `big-${sha}`,
          uidvalidity: null,
          uid: null,
          receivedAt: now,
          sha256: sha,
          size: bytes.length,
          raw: { path: rel },
        },
        now,
      ),
    );
    return rel;
  }

  test('intactRawMailMatches', async () => {
    storeSmall('Subject: a\r\n\r\nA\r\n', 'a');
    storeLarge(Buffer.alloc(2 * 1024 * 1024, 'x'));
    const r = await verifyRawMail(store, dir);
    expect(r).toEqual({ checked: 2, missing: 0, mismatched: 0, damaged: [] });
  });

  test('aCorruptedDatabaseRowAndACorruptedFileAreMismatched', async () => {
    storeSmall('Subject: a\r\n\r\nA\r\n', 'a');
    storeSmall('Subject: b\r\n\r\nB\r\n', 'b');
    const rel = storeLarge(Buffer.alloc(2 * 1024 * 1024, 'y'));
    const victim = (store.db.prepare("SELECT sha256 FROM inbound WHERE locator = 'b'").get() as { sha256: string }).sha256;
    store.db.prepare('UPDATE raw_mail SET bytes = ? WHERE sha256 = ?').run(Buffer.from('Subject: b\r\n\r\nX\r\n'), victim);
    const fd = fs.openSync(path.join(dir, rel), 'r+');
    fs.writeSync(fd, Buffer.from('Z'), 0, 1, 1000);
    fs.closeSync(fd);
    const r = await verifyRawMail(store, dir);
    expect(r.checked).toBe(3);
    expect(r.mismatched).toBe(2);
    expect(r.missing).toBe(0);
    expect(r.damaged.map((d) => [d.storedAs, d.problem]).sort()).toEqual([
      ['database', 'mismatch'],
      ['file', 'mismatch'],
    ]);
    expect(r.damaged.find((d) => d.storedAs === 'database')!.sha256).toBe(victim);
    expect(r.damaged.find((d) => d.storedAs === 'file')!.path).toBe(rel);
    expect(r.damaged.every((d) => d.inboundIds.length === 1)).toBe(true);
  });

  test('aDeletedFileIsMissing', async () => {
    const rel = storeLarge(Buffer.alloc(2 * 1024 * 1024, 'z'));
    fs.rmSync(path.join(dir, rel));
    const r = await verifyRawMail(store, dir);
    expect(r.missing).toBe(1);
    expect(r.damaged[0]).toMatchObject({ problem: 'missing', storedAs: 'file', path: rel });
  });

  test('lastReconcileRunReadsTheNewestFinishedRun', () => {
    expect(lastReconcileRun(store)).toBeNull();
    const r = report({ runId: 1, found: 2, filedNow: 2, ok: false });
    store.db
      .prepare('INSERT INTO reconcile_runs (started_at, finished_at, trigger, result) VALUES (?, ?, ?, ?)')
      .run(r.startedAt, r.finishedAt, r.trigger, JSON.stringify(r));
    store.db.prepare("INSERT INTO reconcile_runs (started_at, trigger, result) VALUES (?, 'command', '{}')").run('2026-11-20T11:00:00.000Z');
    const last = lastReconcileRun(store)!;
    expect(last).toMatchObject({ id: 2, trigger: 'command', finishedAt: null, ok: false, report: null });
    store.db.prepare('DELETE FROM reconcile_runs WHERE id = 2').run();
    expect(lastReconcileRun(store)).toMatchObject({ id: 1, ok: false, found: 2, filedNow: 2, rawChecked: 3 });
  });
});

describe('fetchRaw (src/reconcile/imap.ts)', () => {
  /** A client whose connection closed after the listing: imapflow answers a FETCH there with nothing. */
  const closedClient = (): ImapFlow => ({ usable: false, mailbox: false, fetchAll: async () => [] }) as unknown as ImapFlow;

  test('batchTakenForExpungedWhenTheReconcileConnectionClosedBeforeItsFetch', async () => {
    // Before, the batch passed for expunged: nothing handed on, no error, and after a restore the
    // source's cursor was then moved past the mails this run had listed but never read.
    const handed: number[] = [];
    await expect(fetchRaw(closedClient(), [mail(3), mail(4)], os.tmpdir(), async (got) => void handed.push(...got.map((g) => g.mail.uid)))).rejects.toThrow(
      /IMAP connection closed while mails were fetched for reconciliation/,
    );
    expect(handed).toEqual([]);
  });

  test('mailExpungedOnAnOpenConnectionIsNotHandedOn', async () => {
    const open = { usable: true, mailbox: { path: 'INBOX' }, fetchAll: async () => [{ uid: 4, source: Buffer.from('x') }] } as unknown as ImapFlow;
    const handed: number[] = [];
    await fetchRaw(open, [mail(3), mail(4)], os.tmpdir(), async (got) => void handed.push(...got.map((g) => g.mail.uid)));
    expect(handed).toEqual([4]);
  });
});

// Root ignores file modes: the run is made as nobody (seteuid) so that the kernel refuses the file.
const NOBODY = 65534;
const describeRoot = process.getuid?.() === 0 ? describe : describe.skip;

describeRoot('reconcile of a Maildir with a file the service user cannot read', () => {
  let w: World;
  afterEach(() => {
    process.seteuid?.(0);
    w?.cleanup();
  });

  test('reconcileRecoversTheOtherCurFilesPastAnUnreadableOne', async () => {
    // A mail client moved three mails new/ -> cur/ before the source saw them; one is another user's.
    w = makeWorld();
    fs.chmodSync(w.dir, 0o755);
    for (const sub of ['new', 'cur', 'tmp']) fs.mkdirSync(path.join(w.maildir, sub), { recursive: true });
    for (const [n, name] of ['a:2,S', 'b:2,S', 'c:2,S'].entries()) fs.writeFileSync(path.join(w.maildir, 'cur', name), complaintMail(n));
    fs.chownSync(w.dataDir, NOBODY, NOBODY);
    for (const p of [w.maildir, ...['new', 'cur', 'tmp', 'cur/a:2,S', 'cur/c:2,S'].map((s) => path.join(w.maildir, s))]) fs.chownSync(p, NOBODY, NOBODY);
    fs.chmodSync(path.join(w.maildir, 'cur', 'b:2,S'), 0o600); // root's
    const config = loadConfig(w.configFile);
    const store = new Store(openDatabase(':memory:'));
    let report: ReconcileReport;
    try {
      process.seteuid!(NOBODY);
      report = await reconcile({ config, store, log: silentLogger, clock: () => new Date(), process: async () => undefined }, 'command');
    } finally {
      process.seteuid!(0);
      store.db.close();
    }
    const folder = report.folders[0];
    expect(folder.error).toBeNull();
    expect(folder.found.map((f) => f.where)).toEqual(['a:2,S', 'c:2,S']);
    expect(folder.unreadable).toEqual([{ where: 'cur/b:2,S', error: expect.stringMatching(/EACCES/) }]);
    expect(report.errors).toBe(1);
    expect(report.ok).toBe(false);
    expect(formatReconcileReport(report)).toMatch(/UNREADABLE klagomal .*cur\/b:2,S: .*EACCES/);
  });
});
