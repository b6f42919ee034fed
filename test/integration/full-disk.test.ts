/**
 * A full disk (issue 18, "A bad day without a backup"), end to end through the real binary.
 *
 * Before: an attachment that could not be written (ENOSPC) ended `klagomal start` with an
 * uncaught stack trace and no JSON line; every restart crashed again until the poison-mail guard
 * quarantined the mail ("processing was started 5 times"), which `quarantine retry` could not
 * release; meanwhile `status` said all was well. Now every write error is a handled, temporary
 * failure: the mail stays where it is (on the server unmarked, in new/, or stored and not
 * filed), the error is one JSON line at error level with the fix, `status` is red, the service
 * stays up and retries with backoff, and the mail is filed once space returns.
 *
 * The full file systems are real: small tmpfs mounts (root may mount here; without the right to
 * mount, these tests are skipped with a message, as the Dovecot tests are without Dovecot). A
 * tmpfs of a few KiB over `data/attachments` or `data/raw` fills deterministically with the
 * first attachment or large mail; one over the whole data folder, filled by a file, fills the
 * database too.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dovecotAvailable, imapSourceOf, startDovecot, DovecotServer } from '../support/dovecot';
import { complaintMail, deliverToMaildir, mailWithAttachment, makeWorld, waitFor, waitForAsync, World } from '../support/world';
import { storeArrivals } from '../../src/ingest/intake';

jest.setTimeout(120_000);

function mountAllowed(): string | null {
  const probe = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-mount-probe-'));
  try {
    const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe], { encoding: 'utf8' });
    if (r.status !== 0) return `cannot mount a tmpfs here (${(r.stderr || r.error?.message || '').trim() || `exit ${r.status}`})`;
    spawnSync('umount', [probe]);
    return null;
  } finally {
    fs.rmSync(probe, { recursive: true, force: true });
  }
}

const noMount = mountAllowed();
if (noMount) console.warn(`Full-disk tests skipped: ${noMount}`);
const describeMount = noMount ? describe.skip : describe;
const dovecot = dovecotAvailable();
if (!dovecot.ok) console.warn(`Full-disk IMAP test skipped: ${dovecot.reason}`);
const testImap = !noMount && dovecot.ok ? test : test.skip;

const mounts: string[] = [];
// Whatever a test left mounted (a failed assertion before its afterEach, a timeout) goes too.
afterAll(() => {
  for (const m of mounts.splice(0).reverse()) spawnSync('umount', ['-l', m]);
});
function mountTmpfs(dir: string, size: string): void {
  fs.mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir]);
  mounts.push(dir);
}
/** Space returns: the small file system goes, the folder under it (on the roomy one) takes over. */
function unmount(dir: string): void {
  execFileSync('umount', ['-l', dir]);
  mounts.splice(mounts.indexOf(dir), 1);
}

/** Fill the file system of `dir` to the last byte with one file; returns it (remove it to free the space). */
function fill(dir: string): string {
  const file = path.join(dir, 'filler');
  const fd = fs.openSync(file, 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) fs.writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    fs.closeSync(fd);
  }
  return file;
}

/** Every line the service wrote is a JSON object (README "Logs": `journalctl -o cat | jq`). */
function nonJsonLines(output: string): string[] {
  return output.split('\n').filter((l) => {
    if (l.trim() === '') return false;
    try {
      return typeof JSON.parse(l) !== 'object';
    } catch {
      return true;
    }
  });
}

function logLines(output: string): Array<Record<string, unknown>> {
  return output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

function inbound(w: World): Array<{ id: number; state: string; attempts: number }> {
  const { store, close } = w.store();
  try {
    return store.db.prepare('SELECT id, state, attempts FROM inbound ORDER BY id').all() as Array<{ id: number; state: string; attempts: number }>;
  } finally {
    close();
  }
}

async function statusOf(w: World): Promise<{ code: number | null; reasons: string[] }> {
  const r = await w.cli(['status', '--json']);
  return { code: r.code, reasons: (JSON.parse(r.stdout) as { needsAttention: string[] }).needsAttention };
}

const pickup = (w: World): string[] => (fs.existsSync(w.pickup) ? fs.readdirSync(w.pickup).filter((f) => f.endsWith('.eml')) : []);

describeMount('a full disk', () => {
  let w: World;
  let d: DovecotServer | undefined;
  afterEach(async () => {
    for (const m of mounts.splice(0).reverse()) spawnSync('umount', ['-l', m]);
    w?.cleanup();
    await d?.cleanup();
    d = undefined;
  });

  test('anAttachmentThatCannotBeWrittenNeitherCrashesNorQuarantinesAndIsFiledWhenSpaceReturns', async () => {
    w = makeWorld({ personnummer: { store: false } });
    fs.mkdirSync(w.dataDir, { recursive: true });
    mountTmpfs(path.join(w.dataDir, 'attachments'), '64k'); // a 200 KB attachment cannot fit
    const child = w.start();
    await waitFor('the service started', () => /klagomal started/.test(child.output()), 20_000);
    deliverToMaildir(w.maildir, mailWithAttachment({ attachment: Buffer.alloc(200 * 1024, 3), filename: 'kontoutdrag.pdf', messageId: 'full-1@example.com' }));

    const failed = await waitFor(
      'the write error reported',
      () => logLines(child.output()).find((l) => l.level === 'error' && /data folder cannot be written/.test(String(l.msg))),
      20_000,
    );
    expect(failed).toMatchObject({ part: 'processing', fix: expect.stringMatching(/is full: free space/) });
    expect(String(failed.error)).toMatch(/ENOSPC/);
    // A few retries later: still up, the mail stored and waiting, nothing quarantined, no attempt counted against it.
    await new Promise((r) => setTimeout(r, 4000));
    expect(child.exitCode).toBeNull();
    expect(inbound(w)).toEqual([{ id: 1, state: 'stored', attempts: 0 }]);
    expect(JSON.parse((await w.cli(['quarantine', '--json'])).stdout)).toEqual([]);
    const red = await statusOf(w);
    expect(red.code).toBe(1);
    expect(red.reasons.join('\n')).toMatch(/processing: cannot write to the data folder since .*ENOSPC.*free space/);
    expect(nonJsonLines(child.output())).toEqual([]);

    unmount(path.join(w.dataDir, 'attachments'));
    await waitFor('the mail filed and acknowledged', () => inbound(w)[0].state === 'filed' && pickup(w).length === 1, 60_000, 200);
    await waitForAsync('status green again', async () => (await statusOf(w)).code === 0, 20_000, 500);
    expect(logLines(child.output()).some((l) => /takes writes again/.test(String(l.msg)))).toBe(true);
    expect(child.exitCode).toBeNull();
    expect(nonJsonLines(child.output())).toEqual([]);
  });

  test('aFullDatabaseLeavesTheMailInTheMaildirUntilSpaceReturns', async () => {
    // The whole data folder on a small file system, filled to the last byte while the service runs.
    w = makeWorld({ sources: [{ type: 'maildir', name: 'klagomal', path: './maildir', pollSeconds: 1 }], personnummer: { store: false } });
    const maildir = path.join(w.dir, 'maildir');
    mountTmpfs(w.dataDir, '8m');
    const child = w.start();
    await waitFor('the service started', () => /klagomal started/.test(child.output()), 20_000);
    const filler = fill(w.dataDir);
    const big = mailWithAttachment({ attachment: Buffer.alloc(1536 * 1024, 5), filename: 'stor.pdf', messageId: 'full-big@example.com' });
    // The large one first (a spool file under raw/), so that the scan stops at it.
    deliverToMaildir(maildir, big, 'a-big');
    deliverToMaildir(maildir, complaintMail(1, { messageId: 'full-small@example.com' }), 'b-small');

    await waitFor(
      'the source reporting that it cannot store',
      () => logLines(child.output()).some((l) => l.level === 'error' && /cannot store mail: the data folder cannot be written/.test(String(l.msg))),
      20_000,
    );
    await new Promise((r) => setTimeout(r, 3000));
    expect(child.exitCode).toBeNull();
    // Nothing was taken: both files still in new/, nothing stored.
    expect(fs.readdirSync(path.join(maildir, 'new')).sort()).toEqual(['a-big', 'b-small']);
    const red = await statusOf(w);
    expect(red.code).toBe(1);
    expect(red.reasons.join('\n')).toMatch(/the data folder .* has \d+ KiB free/);
    expect(nonJsonLines(child.output())).toEqual([]);

    fs.rmSync(filler);
    await waitFor('both mails filed and acknowledged', () => pickup(w).length === 2, 60_000, 200);
    expect(inbound(w).map((r) => r.state)).toEqual(['filed', 'filed']);
    expect(fs.readdirSync(path.join(maildir, 'new'))).toEqual([]);
    await waitForAsync('status green again', async () => (await statusOf(w)).code === 0, 30_000, 500);
    expect(child.exitCode).toBeNull();
    expect(nonJsonLines(child.output())).toEqual([]);
  });

  testImap('aLargeMailThatCannotBeKeptStaysOnTheServerUnmarkedUntilSpaceReturns', async () => {
    d = await startDovecot();
    w = makeWorld({
      sources: [imapSourceOf(d, 'KLAGOMAL_TEST_IMAP_PASSWORD', { idle: true, pollSeconds: 2, processedFolder: 'Processed' })],
      personnummer: { store: false },
    });
    fs.mkdirSync(w.dataDir, { recursive: true });
    mountTmpfs(path.join(w.dataDir, 'raw'), '64k'); // a mail over 1 MiB is kept as a file under raw/
    const child = w.start({ KLAGOMAL_TEST_IMAP_PASSWORD: d.password });
    await waitFor('connected', () => /imap connected/.test(child.output()), 20_000);
    await d.append(mailWithAttachment({ attachment: Buffer.alloc(1536 * 1024, 9), filename: 'stor.pdf', messageId: 'imap-big@example.com' }));
    await d.append(complaintMail(2, { messageId: 'imap-small@example.com' }));

    const failed = await waitFor(
      'the source reporting that it cannot store',
      () => logLines(child.output()).find((l) => l.level === 'error' && /the mail stays on the server/.test(String(l.msg))),
      20_000,
    );
    expect(failed).toMatchObject({ source: 'klagomal', fix: expect.stringMatching(/full: free space/) });
    await new Promise((r) => setTimeout(r, 3000));
    expect(child.exitCode).toBeNull();
    // Not marked: both still in INBOX, unread; the Processed folder empty; nothing stored.
    const onServer = await d.list('INBOX');
    expect(onServer.map((m) => m.flags)).toEqual([[], []]);
    expect(inbound(w)).toEqual([]);
    const red = await statusOf(w);
    expect(red.code).toBe(1);
    expect(red.reasons.join('\n')).toMatch(/source klagomal \(INBOX\): cannot write to the data folder/);

    unmount(path.join(w.dataDir, 'raw'));
    await waitForAsync('both taken from INBOX', async () => (await d!.list('INBOX')).length === 0, 90_000, 500);
    await waitFor('both filed', () => inbound(w).length === 2 && inbound(w).every((r) => r.state === 'filed'), 30_000, 200);
    expect((await d.list('Processed')).length).toBe(2);
    await waitForAsync('status green again', async () => (await statusOf(w)).code === 0, 30_000, 500);
    expect(nonJsonLines(child.output())).toEqual([]);
  });

  test('quarantineRetryOnAFullDiskBlamesTheDiskNotTheMailAndFilesItWhenSpaceReturns', async () => {
    // A mail the poison-mail guard put aside after the old crash loop ("processing was started 5 times").
    w = makeWorld({ personnummer: { store: false } });
    fs.mkdirSync(w.dataDir, { recursive: true });
    const raw = Buffer.from(mailWithAttachment({ attachment: Buffer.alloc(200 * 1024, 4), filename: 'bevis.pdf', messageId: 'retry-1@example.com' }));
    const reason = 'processing was started 5 times and never finished (the process stopped while parsing or filing this mail)';
    const id = (() => {
      const { store, close } = w.store();
      try {
        const [r] = storeArrivals(
          store,
          w.dataDir,
          'klagomal',
          [{ raw, receivedAt: new Date(), mailbox: null, locator: null, sourceKey: null }],
          new Date().toISOString(),
        );
        store.tx(() => {
          store.db.prepare('UPDATE inbound SET attempts = 6 WHERE id = ?').run(r.id);
          store.quarantine(r.id, 'process', reason, new Date().toISOString());
        });
        return r.id;
      } finally {
        close();
      }
    })();

    mountTmpfs(path.join(w.dataDir, 'attachments'), '64k');
    const blocked = await w.cli(['quarantine', 'retry', String(id)]);
    expect(blocked.code).toBe(1);
    expect(blocked.stderr).toMatch(/the data folder cannot be written \(ENOSPC\).*free space/);
    // Still in quarantine with its own reason: the disk, not the mail, failed this time.
    const q = JSON.parse((await w.cli(['quarantine', '--json'])).stdout) as Array<{ id: number; error: string }>;
    expect(q).toEqual([expect.objectContaining({ id, error: reason })]);

    unmount(path.join(w.dataDir, 'attachments'));
    const retried = await w.cli(['quarantine', 'retry', String(id)]);
    expect(retried.stdout).toMatch(new RegExp(`^mail ${id}: complaint KLG-\\d{4}-\\d{6} \\(opened\\)`));
    expect(retried.code).toBe(0);
    expect(JSON.parse((await w.cli(['quarantine', '--json'])).stdout)).toEqual([]);
    expect(inbound(w)).toEqual([{ id, state: 'filed', attempts: 0 }]);
  });
});

describe('quarantine retry', () => {
  let w: World;
  afterEach(() => w?.cleanup());

  test('quarantineRetryReallyRetriesAMailQuarantinedAfterRepeatedStarts', async () => {
    w = makeWorld({ personnummer: { store: false } });
    fs.mkdirSync(w.dataDir, { recursive: true });
    const { store, close } = w.store();
    let id: number;
    try {
      [{ id }] = storeArrivals(
        store,
        w.dataDir,
        'klagomal',
        [{ raw: Buffer.from(complaintMail(7)), receivedAt: new Date(), mailbox: null, locator: null, sourceKey: null }],
        new Date().toISOString(),
      );
      store.db.prepare('UPDATE inbound SET attempts = 4 WHERE id = ?').run(id);
    } finally {
      close();
    }
    // The service's guard quarantines it at once: started more often than MAX_PROCESSING_ATTEMPTS.
    expect((await w.cli(['run', '--once'])).code).toBe(0);
    const q = JSON.parse((await w.cli(['quarantine', '--json'])).stdout) as Array<{ id: number; error: string }>;
    expect(q).toEqual([expect.objectContaining({ id, error: expect.stringMatching(/^processing was started 4 times/) })]);

    const retried = await w.cli(['quarantine', 'retry', String(id)]);
    expect(retried.code).toBe(0);
    expect(retried.stdout).toMatch(/complaint KLG-\d{4}-\d{6} \(opened\)/);
    // The count starts again with the retry, so no later pass takes it for a poison mail.
    expect(inbound(w)).toEqual([{ id, state: 'filed', attempts: 0 }]);
    expect((await w.cli(['run', '--once'])).code).toBe(0);
    expect(pickup(w)).toHaveLength(1);
  });
});
