/**
 * Admin commands run as root broke the service (issue 18): `klagomal import` as root made
 * `data/raw` and `data/attachments` root's, and the service user then failed on every mail over
 * 1 MiB and crashed on every attachment. Two halves:
 *
 *  - a service whose `raw/` and `attachments/` it cannot write neither crashes nor loses mail:
 *    the error (EACCES) is one JSON line with the `chown` that fixes it, `status` is red, and
 *    the mail is filed once the folders are the service user's again;
 *  - a command that writes into the data folder, run as another user than the folder's owner,
 *    refuses before it touches anything and prints the exact `sudo -u OWNER ...` line; with
 *    `--as-owner` root runs it as the owner, and what it makes is the owner's.
 *
 * The tests run as root (root ignores file modes), so the service runs as `nobody` here and the
 * data folder is `nobody`'s; without root they are skipped with a message.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BIN, complaintMail, deliverToMaildir, startService, mailWithAttachment, makeWorld, waitFor, waitForAsync, World } from '../support/world';
import { MaildirSource } from '../../src/ingest/maildir';
import { createLogger } from '../../src/util/log';

jest.setTimeout(120_000);

const NOBODY = 65534;
const asRoot = process.getuid?.() === 0;
if (!asRoot) console.warn('Unwritable data folder tests skipped: they need root (to run the service as another user)');
const describeRoot = asRoot ? describe : describe.skip;

function logLines(output: string): Array<Record<string, unknown>> {
  return output
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>); // throws on a line that is not JSON
}

function inbound(w: World): Array<{ state: string; attempts: number }> {
  const { store, close } = w.store();
  try {
    return store.db.prepare('SELECT state, attempts FROM inbound ORDER BY id').all() as Array<{ state: string; attempts: number }>;
  } finally {
    close();
  }
}

/** Every file and folder under `dir` with another owner than `uid`. */
function notOwnedBy(dir: string, uid: number): string[] {
  const out: string[] = [];
  const walk = (p: string): void => {
    const st = fs.lstatSync(p);
    if (st.uid !== uid) out.push(path.relative(dir, p) || '.');
    if (st.isDirectory()) for (const e of fs.readdirSync(p)) walk(path.join(p, e));
  };
  walk(dir);
  return out;
}

describeRoot('a data folder the service user cannot write', () => {
  let w: World;
  let child: (ChildProcess & { output: () => string }) | null = null;
  afterEach(() => {
    child?.kill('SIGKILL');
    child = null;
    w?.cleanup();
  });

  test('rootOwnedRawAndAttachmentsNeitherCrashTheServiceNorLoseMail', async () => {
    w = makeWorld({ personnummer: { store: false } });
    fs.chmodSync(w.dir, 0o755); // the service user must reach its config
    fs.mkdirSync(w.dataDir, { recursive: true });
    execFileSync('chown', ['-R', `${NOBODY}:${NOBODY}`, w.dataDir]);
    // What an import run as root left behind: the folders of large mail and attachments, root's, 0700.
    for (const sub of ['raw', 'attachments']) fs.mkdirSync(path.join(w.dataDir, sub), { mode: 0o700 });

    child = startService(w.configFile, { uid: NOBODY });
    await waitFor('the service started', () => /klagomal started/.test(child!.output()), 20_000);
    deliverToMaildir(w.maildir, mailWithAttachment({ attachment: Buffer.alloc(100 * 1024, 2), filename: 'kvitto.pdf', messageId: 'att@example.com' }), 'a-att');
    await waitFor('the attachment write refused', () => logLines(child!.output()).find((l) => l.level === 'error' && l.part === 'processing'), 20_000);
    deliverToMaildir(w.maildir, mailWithAttachment({ attachment: Buffer.alloc(1536 * 1024, 6), filename: 'stor.pdf', messageId: 'big@example.com' }), 'b-big');
    const refused = await waitFor(
      'the large mail refused',
      () => logLines(child!.output()).find((l) => l.level === 'error' && /cannot store mail/.test(String(l.msg))),
      20_000,
    );
    expect(String(refused.error)).toMatch(/EACCES/);
    expect(refused.fix).toMatch(new RegExp(`chown -R nobody: ${w.dataDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    await new Promise((r) => setTimeout(r, 3000));
    expect(child.exitCode).toBeNull();
    expect(inbound(w)).toEqual([{ state: 'stored', attempts: 0 }]); // the small one stored, waiting; the large one still in new/
    expect(fs.readdirSync(path.join(w.maildir, 'new'))).toEqual(['b-big']);
    expect(JSON.parse((await w.cli(['quarantine', '--json'])).stdout)).toEqual([]);
    const status = await w.cli(['status', '--json']);
    expect(status.code).toBe(1);
    expect((JSON.parse(status.stdout) as { needsAttention: string[] }).needsAttention.join('\n')).toMatch(/cannot write to the data folder/);

    // The admin gives the folders back.
    execFileSync('chown', ['-R', `${NOBODY}:${NOBODY}`, w.dataDir]);
    await waitFor('both filed', () => inbound(w).length === 2 && inbound(w).every((r) => r.state === 'filed'), 60_000, 200);
    await waitFor('both acknowledged', () => fs.existsSync(w.pickup) && fs.readdirSync(w.pickup).filter((f) => f.endsWith('.eml')).length === 2, 20_000, 200);
    expect(child.exitCode).toBeNull();
    expect(() => logLines(child!.output())).not.toThrow();
  });
});

describeRoot('a mail file the service user cannot read', () => {
  let w: World;
  afterEach(() => {
    process.seteuid?.(0);
    w?.cleanup();
  });

  test('unreadableMailInTheEmbeddedMaildirDoesNotBlockTheOthers', async () => {
    // The default layout: the Maildir inside the data folder, everything the service user's,
    // except one mail file of another user (root's, 0600).
    w = makeWorld();
    fs.chmodSync(w.dir, 0o755);
    for (const [n, name] of ['a-first', 'b-unreadable', 'c-third'].entries()) deliverToMaildir(w.maildir, complaintMail(n), name);
    fs.mkdirSync(path.join(w.maildir, 'tmp'), { recursive: true });
    const { store, close } = w.store();
    execFileSync('chown', ['-R', `${NOBODY}:${NOBODY}`, w.dataDir]);
    const bad = path.join(w.maildir, 'new', 'b-unreadable');
    fs.chownSync(bad, 0, 0);
    fs.chmodSync(bad, 0o600);
    const lines: Array<Record<string, unknown>> = [];
    const log = createLogger({ level: 'warn', write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) });
    const source = new MaildirSource({ type: 'maildir', name: 'klagomal', path: w.maildir, pollSeconds: 1 }, store, () => new Date(), log, w.dataDir);
    try {
      // The scan as the service user: the kernel itself refuses the one file (EACCES).
      process.seteuid!(NOBODY);
      for (let scan = 0; scan < 2; scan++) await source.pollOnce();
    } finally {
      process.seteuid!(0);
    }
    try {
      expect(store.db.prepare('SELECT count(*) AS n FROM inbound').get()).toEqual({ n: 2 });
      expect(fs.readdirSync(path.join(w.maildir, 'new'))).toEqual(['b-unreadable']);
      const reported = lines.filter((l) => l.level === 'error' && /cannot read a mail file/.test(String(l.msg)));
      expect(reported).toHaveLength(2); // once per scan, with the file's name, never as the data folder's fault
      expect(reported[0].file).toBe('b-unreadable');
      expect(String(reported[0].error)).toMatch(/EACCES/);
    } finally {
      close();
    }
  });
});

describeRoot('admin commands run as another user', () => {
  let w: World;
  afterEach(() => w?.cleanup());

  test('adminCommandAsRootOnTheServiceUsersDataFolderIsRefusedWithTheSudoLine', async () => {
    w = makeWorld({ personnummer: { store: false } });
    fs.chmodSync(w.dir, 0o755);
    expect((await w.cli(['run', '--once'])).code).toBe(0); // the service user's data folder, made by a first run
    execFileSync('chown', ['-R', `${NOBODY}:${NOBODY}`, w.dataDir]);
    const mail = path.join(w.dir, 'gammalt brev.eml');
    fs.writeFileSync(mail, mailWithAttachment({ attachment: Buffer.alloc(1536 * 1024, 1), filename: 'stor.pdf', messageId: 'old@example.com' }));
    fs.chmodSync(mail, 0o644);

    const refused = await w.cli(['ingest', mail]);
    expect(refused.code).toBe(1);
    const lines = refused.stderr.trim().split('\n');
    expect(lines[0]).toMatch(new RegExp(`^klagomal ingest: the data folder .* belongs to nobody, and this command runs as root: .*Nothing was changed`));
    expect(lines[1]).toBe(`  sudo -u nobody ${process.execPath} ${BIN} ingest '${mail}' --config ${w.configFile}`);
    // Nothing was touched: no raw/ folder, nothing stored, everything still nobody's.
    expect(fs.existsSync(path.join(w.dataDir, 'raw'))).toBe(false);
    expect(notOwnedBy(w.dataDir, NOBODY)).toEqual([]);
    expect(inbound(w)).toEqual([]);

    // A read-only command may still be run as root.
    expect((await w.cli(['cases', '--json'])).code).toBe(0);

    // As root with --as-owner: run as nobody, and every file it makes is nobody's.
    const asOwner = await w.cli(['ingest', '--as-owner', mail]);
    expect(asOwner.stderr).not.toMatch(/belongs to/);
    expect(asOwner.code).toBe(0);
    expect(inbound(w)).toEqual([{ state: 'filed', attempts: 1 }]);
    expect(fs.existsSync(path.join(w.dataDir, 'raw'))).toBe(true);
    // (w.store() above opened the database as root: its -wal/-shm are gone again when it closes)
    expect(notOwnedBy(w.dataDir, NOBODY).filter((f) => !/klagomal\.db-(wal|shm)$/.test(f))).toEqual([]);

    // The service, as nobody, can use what the command made.
    const ok = await waitForAsync('the service files and sends as nobody', async () => {
      const r = spawn(process.execPath, [BIN, 'run', '--once', '--config', w.configFile], { uid: NOBODY, gid: NOBODY, stdio: 'ignore' });
      return new Promise<boolean>((resolve) => r.on('exit', (code) => resolve(code === 0)));
    });
    expect(ok).toBe(true);
  });
});
