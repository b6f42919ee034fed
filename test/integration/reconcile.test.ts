/**
 * `klagomal reconcile` through the real binary, against a real Dovecot (IMAP) and the embedded
 * Maildir: mail on the server that the database lost (a restore from an old backup), mail a
 * source skipped (below its cursor), a mail file a person moved to cur/ with a mail client, and
 * stored raw mail damaged on disk. Each is the silent loss this command exists to make loud.
 */
import fs from 'node:fs';
import path from 'node:path';
import { dovecotAvailable, imapSourceOf, startDovecot, DovecotServer } from '../support/dovecot';
import { makeWorld, World, complaintMail, deliverToMaildir, mailWithAttachment } from '../support/world';
import type { ReconcileReport } from '../../src/reconcile';
import type { OutboxRow } from '../../src/store/store';

const available = dovecotAvailable();
if (!available.ok) console.warn(`Dovecot tests skipped: ${available.reason}`);
const describeImap = available.ok ? describe : describe.skip;

const PASSWORD_ENV = 'KLAGOMAL_TEST_IMAP_PASSWORD';
const ADMIN = 'it-drift@testfinans.se';
const FIRM = {
  name: 'Testfinans AB',
  complaintsAddress: 'klagomal@testfinans.se',
  staffDomains: ['testfinans.se'],
  authservIds: ['mx1.testfinans.se'],
  adminAddress: ADMIN,
};

async function reconcileJson(world: World, env?: NodeJS.ProcessEnv): Promise<{ code: number | null; report: ReconcileReport; stderr: string }> {
  const r = await world.cli(['reconcile', '--json'], env);
  let report: ReconcileReport;
  try {
    report = JSON.parse(r.stdout) as ReconcileReport;
  } catch {
    throw new Error(`reconcile printed no JSON (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
  }
  return { code: r.code, report, stderr: r.stderr };
}

function query<T>(world: World, fn: (db: ReturnType<World['store']>['store']) => T): T {
  const { store, close } = world.store();
  try {
    return fn(store);
  } finally {
    close();
  }
}

const adminMails = (world: World): OutboxRow[] => query(world, (s) => s.listOutbox().filter((o) => o.kind === 'admin-notice'));
const caseCount = (world: World): number => query(world, (s) => s.listCases({}).length);

describeImap('reconcile against Dovecot', () => {
  let dovecot: DovecotServer | undefined;
  let world: World | undefined;
  let env: NodeJS.ProcessEnv;

  async function setup(): Promise<{ dovecot: DovecotServer; world: World }> {
    dovecot = await startDovecot();
    world = makeWorld({
      firm: FIRM,
      sources: [imapSourceOf(dovecot, PASSWORD_ENV, { mailbox: 'INBOX', processedFolder: 'Processed', idle: false })],
    });
    env = { [PASSWORD_ENV]: dovecot.password };
    return { dovecot, world };
  }

  afterEach(async () => {
    world?.cleanup();
    await dovecot?.cleanup();
    world = undefined;
    dovecot = undefined;
  });

  test('mailDeletedFromTheDatabaseByARestoreOfAnOldBackupIsFoundInProcessedAndFiledAgain', async () => {
    const { dovecot, world } = await setup();
    // Mail 2 has no Message-ID: known in the processed folder only by its sha256.
    await dovecot.appendMany([complaintMail(1, { messageId: 'reconcile-1@example.com' }), complaintMail(2, { messageId: null })]);
    expect((await world.cli(['run', '--once'], env)).code).toBe(0);
    const dbFile = path.join(world.dataDir, 'klagomal.db');
    const backup = path.join(world.dir, 'backup.db');
    const { store, close } = world.store();
    await store.db.backup(backup);
    close();

    await dovecot.append(complaintMail(3, { messageId: 'reconcile-3@example.com' }));
    expect((await world.cli(['run', '--once'], env)).code).toBe(0);
    expect(caseCount(world)).toBe(3);
    expect(await dovecot.list('INBOX')).toHaveLength(0);
    const processedBefore = await dovecot.list('Processed');
    expect(processedBefore).toHaveLength(3);

    // The disk is lost; the backup from before mail 3 is restored. Mail 3 is in Processed on the
    // server, the database has never heard of it, and the cursor says INBOX was read past it.
    fs.copyFileSync(backup, dbFile);
    fs.rmSync(`${dbFile}-wal`, { force: true });
    fs.rmSync(`${dbFile}-shm`, { force: true });
    expect(caseCount(world)).toBe(2);
    const quiet = await world.cli(['run', '--once', '--json'], env);
    expect(JSON.parse(quiet.stdout)).toMatchObject({ filed: 0 }); // the sources cannot see it

    const first = await reconcileJson(world, env);
    expect(first.code).toBe(1);
    expect(first.report.ok).toBe(false);
    expect(first.report.found).toBe(1);
    expect(first.report.filedNow).toBe(1);
    const processed = first.report.folders.find((f) => f.folder === 'Processed')!;
    expect(processed).toMatchObject({ role: 'processed', onServer: 3, known: 2, waiting: 0, filedNow: 1, error: null });
    expect(processed.found).toHaveLength(1);
    expect(processed.found[0]).toMatchObject({ state: 'filed', kind: 'complaint' });
    expect(processed.found[0].caseNumber).toMatch(/^KLG-20\d\d-00000\d$/);
    expect(first.report.folders.find((f) => f.folder === 'INBOX')).toMatchObject({ role: 'watched', onServer: 0, error: null });
    expect(first.report.raw).toMatchObject({ checked: 2 + 1, missing: 0, mismatched: 0 }); // two from the backup, one found

    // Filed again from the server's copy: its case, its INBOUND row with the found event.
    expect(caseCount(world)).toBe(3);
    query(world, (s) => {
      const row = s.inbound(processed.found[0].inboundId)!;
      expect(row).toMatchObject({ source: 'klagomal', mailbox: 'Processed', state: 'filed', message_id: 'reconcile-3@example.com' });
      expect(row.source_key).toMatch(/^reconcile:klagomal:Processed:\d+:\d+$/);
      expect(s.eventsOfInbound(row.id).map((e) => e.type)).toEqual(expect.arrayContaining(['mail-stored', 'reconcile-found-unfiled', 'mail-filed']));
      const run = s.db.prepare('SELECT trigger, finished_at, result FROM reconcile_runs WHERE id = ?').get(first.report.runId) as {
        trigger: string;
        finished_at: string | null;
        result: string;
      };
      expect(run.trigger).toBe('command');
      expect(run.finished_at).not.toBeNull();
      expect(JSON.parse(run.result)).toMatchObject({ found: 1, ok: false });
    });

    // Loudly: an error line (without the customer's address or subject), and one mail to the admin.
    expect(first.stderr).toMatch(/"level":"error".*had never been stored/);
    expect(first.stderr).not.toMatch(/kund3|Klagomål nummer 3/);
    const notices = adminMails(world);
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatchObject({ to_address: ADMIN, idempotency_key: `reconcile:run:${first.report.runId}`, status: 'queued' });
    expect(notices[0].subject).toMatch(/Reconciliation: 1 mail\(s\) had not been filed/);
    expect(notices[0].body_text).toContain(processed.found[0].caseNumber!);

    // Nothing was touched on the server.
    expect(await dovecot.list('Processed')).toEqual(processedBefore);

    const second = await reconcileJson(world, env);
    expect(second.code).toBe(0);
    expect(second.report).toMatchObject({ ok: true, found: 0, errors: 0 });
    expect(second.report.folders.find((f) => f.folder === 'Processed')).toMatchObject({ onServer: 3, known: 3 });
    expect(adminMails(world)).toHaveLength(1);
    expect(caseCount(world)).toBe(3);
  });

  test('mailBelowTheCursorThatTheSourceSkippedIsFoundFiledAndMovedLikeTheSourceWould', async () => {
    const { dovecot, world } = await setup();
    await dovecot.append(complaintMail(10, { messageId: 'skip-10@example.com' }));
    expect((await world.cli(['run', '--once'], env)).code).toBe(0);
    // The classic silent skip: the cursor moved past a mail that was never stored.
    query(world, (s) => s.db.prepare("UPDATE source_cursor SET last_uid = 50 WHERE source = 'klagomal' AND mailbox = 'INBOX'").run());
    const uid = await dovecot.append(complaintMail(11, { messageId: 'skip-11@example.com' }));
    expect(uid).toBeLessThan(50);
    const missed = await world.cli(['run', '--once', '--json'], env);
    expect(JSON.parse(missed.stdout)).toMatchObject({ filed: 0 });
    expect((await dovecot.list('INBOX')).map((m) => m.uid)).toEqual([uid]);

    const first = await reconcileJson(world, env);
    expect(first.code).toBe(1);
    const inbox = first.report.folders.find((f) => f.folder === 'INBOX')!;
    expect(inbox).toMatchObject({ role: 'watched', onServer: 1, known: 0, filedNow: 1 });
    expect(inbox.found).toEqual([expect.objectContaining({ where: `UID ${uid}`, state: 'filed', kind: 'complaint' })]);
    expect(first.report.folders.find((f) => f.folder === 'Processed')).toMatchObject({ onServer: 1, known: 1 });
    expect(caseCount(world)).toBe(2);
    // Marked as its source would have: \Seen, moved to the processed folder, recorded as done.
    expect(await dovecot.list('INBOX')).toHaveLength(0);
    const processed = await dovecot.list('Processed');
    expect(processed.map((m) => m.messageId).sort()).toEqual(['<skip-10@example.com>', '<skip-11@example.com>']);
    expect(processed.every((m) => m.flags.includes('\\Seen'))).toBe(true);
    query(world, (s) => {
      const row = s.inbound(inbox.found[0].inboundId)!;
      expect(row).toMatchObject({ mailbox: 'INBOX', uid, state: 'filed' });
      expect(row.server_marked_at).not.toBeNull();
    });
    expect(adminMails(world)).toHaveLength(1);

    // The acknowledgement goes out with the next pass, like any other.
    const sent = await world.cli(['run', '--once', '--json'], env);
    expect(JSON.parse(sent.stdout)).toMatchObject({ sent: { sent: 2 } }); // the acknowledgement and the admin's mail

    const second = await reconcileJson(world, env);
    expect(second.code).toBe(0);
    expect(second.report.found).toBe(0);
    expect(second.report.folders.find((f) => f.folder === 'Processed')).toMatchObject({ onServer: 2, known: 2 });
  });

  test('sentFolderMailSkippedAfterWatchingBeganIsFoundButItsHistoryIsLeftAlone', async () => {
    const { dovecot, world } = await setup();
    const config = world.config as { sources: Array<Record<string, unknown>> };
    config.sources[0].sentFolder = 'Sent';
    fs.writeFileSync(world.configFile, JSON.stringify(config, null, 2));
    const sentMail = (id: string): string =>
      ['From: klagomal@testfinans.se', 'To: kund@example.com', `Subject: Re: ${id}`, `Message-ID: <${id}@testfinans.se>`, '', 'Hej!', ''].join('\r\n');
    await dovecot.append(sentMail('history'), 'Sent', ['\\Seen']);
    expect((await world.cli(['run', '--once'], env)).code).toBe(0); // first look: from the end on
    await dovecot.append(sentMail('read'), 'Sent', ['\\Seen']);
    expect((await world.cli(['run', '--once'], env)).code).toBe(0);
    // Skipped: the cursor moves past a Sent mail that was never stored.
    query(world, (s) => s.db.prepare("UPDATE source_cursor SET last_uid = 40 WHERE mailbox = 'Sent'").run());
    const skipped = await dovecot.append(sentMail('skipped'), 'Sent', ['\\Seen']);
    const before = await dovecot.list('Sent');

    const r = await reconcileJson(world, env);
    expect(r.code).toBe(1);
    const sent = r.report.folders.find((f) => f.folder === 'Sent')!;
    expect(sent).toMatchObject({ role: 'sent', onServer: 3, known: 1, notCompared: 1, error: null });
    expect(sent.found).toEqual([expect.objectContaining({ where: `UID ${skipped}`, state: 'filed', kind: 'officer' })]);
    query(world, (s) => {
      const ids = s.db.prepare("SELECT message_id FROM inbound WHERE mailbox = 'Sent' ORDER BY id").pluck().all();
      expect(ids).toEqual(['read@testfinans.se', 'skipped@testfinans.se']); // never the history
    });
    expect(await dovecot.list('Sent')).toEqual(before); // the Sent folder is never flagged or moved

    const again = await reconcileJson(world, env);
    expect(again.code).toBe(0);
    expect(again.report.folders.find((f) => f.folder === 'Sent')).toMatchObject({ onServer: 3, known: 2, notCompared: 1 });
  });

  test('aServerThatRefusesTheLoginIsAFailureNotASilentPass', async () => {
    const { world } = await setup();
    const r = await reconcileJson(world, { [PASSWORD_ENV]: 'wrong-password' });
    expect(r.code).toBe(1);
    expect(r.report.ok).toBe(false);
    expect(r.report.errors).toBe(2); // Processed and INBOX
    expect(r.report.folders.every((f) => f.error !== null)).toBe(true);
    expect(adminMails(world)).toHaveLength(0); // status and the exit code tell; nothing was lost
  });
});

describe('reconcile of a Maildir and of the stored raw mail', () => {
  let w: World;
  beforeEach(() => {
    w = makeWorld({ firm: FIRM });
  });
  afterEach(() => w.cleanup());

  test('aMailFileMovedToCurByAMailClientIsFoundAndFiled', async () => {
    deliverToMaildir(w.maildir, complaintMail(20));
    expect((await w.cli(['run', '--once'])).code).toBe(0);
    // Read with a mail client straight from new/ into cur/: the source never saw it.
    const name = `1763800000.M1P2.reconcile-test:2,S`;
    fs.writeFileSync(path.join(w.maildir, 'cur', name), complaintMail(21, { messageId: null }));
    expect(JSON.parse((await w.cli(['run', '--once', '--json'])).stdout)).toMatchObject({ filed: 0 });

    const first = await reconcileJson(w);
    expect(first.code).toBe(1);
    const folder = first.report.folders[0];
    expect(folder).toMatchObject({ role: 'maildir', onServer: 2, known: 1, waiting: 0, filedNow: 1 });
    expect(folder.found).toEqual([expect.objectContaining({ where: name, state: 'filed', kind: 'complaint' })]);
    expect(caseCount(w)).toBe(2);
    expect(fs.readdirSync(path.join(w.maildir, 'cur'))).toContain(name); // left where it was
    expect(adminMails(w)).toHaveLength(1);

    const second = await reconcileJson(w);
    expect(second.code).toBe(0);
    expect(second.report.folders[0]).toMatchObject({ onServer: 2, known: 2 });
  });

  test('aRawFileCorruptedOnDiskIsReportedAsMismatchedAndNotRefiled', async () => {
    deliverToMaildir(w.maildir, complaintMail(30));
    deliverToMaildir(w.maildir, mailWithAttachment({ attachment: Buffer.alloc(1536 * 1024, 7), filename: 'kontoutdrag.pdf', messageId: 'big-30@example.com' }));
    expect((await w.cli(['run', '--once'])).code).toBe(0);
    const rel = query(w, (s) => (s.db.prepare('SELECT path FROM raw_mail WHERE path IS NOT NULL').pluck().get() as string | undefined) ?? null);
    expect(rel).toMatch(/^raw\/[0-9a-f]{2}\/[0-9a-f]{64}\.eml$/);
    const clean = await reconcileJson(w);
    expect(clean.code).toBe(0);
    expect(clean.report.raw).toEqual({ checked: 2, missing: 0, mismatched: 0, damaged: [] });

    // One flipped byte in the middle of the stored file (bit rot, a bad restore, a careless edit).
    const file = path.join(w.dataDir, rel!);
    const bytes = fs.readFileSync(file);
    bytes[Math.floor(bytes.length / 2)] ^= 0x01;
    fs.writeFileSync(file, bytes);

    const first = await reconcileJson(w);
    expect(first.code).toBe(1);
    expect(first.report.raw).toMatchObject({ checked: 2, missing: 0, mismatched: 1 });
    expect(first.report.raw.damaged).toEqual([expect.objectContaining({ storedAs: 'file', path: rel, problem: 'mismatch' })]);
    expect(first.report.raw.damaged[0].cases).toHaveLength(1);
    expect(first.report.found).toBe(0); // the Maildir copy is known; nothing is filed twice
    expect(first.stderr).toMatch(/"level":"error"/);
    // reported, not "repaired" (Buffer.equals: jest's toEqual walks 2 MB byte by byte, 15 s)
    expect(fs.readFileSync(file).equals(bytes)).toBe(true);
    const notices = adminMails(w);
    expect(notices).toHaveLength(1);
    expect(notices[0].subject).toMatch(/stored mail is damaged/);
    expect(notices[0].body_text).toContain(rel!);

    // Still damaged: still exit 1, but the admin is not mailed again about the same damage.
    const again = await reconcileJson(w);
    expect(again.code).toBe(1);
    expect(again.report.raw.mismatched).toBe(1);
    expect(adminMails(w)).toHaveLength(1);

    // A missing file is reported too.
    fs.rmSync(file);
    const gone = await reconcileJson(w);
    expect(gone.code).toBe(1);
    expect(gone.report.raw).toMatchObject({ missing: 1, mismatched: 0 });
    expect(adminMails(w)).toHaveLength(2);
  });

  test('usageMistakeExitsTwo', async () => {
    const r = await w.cli(['reconcile', 'INBOX']);
    expect(r.code).toBe(2);
  });
});
