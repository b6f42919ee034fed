/**
 * Preflight (src/ops/preflight.ts) and `klagomal check`: each check says what failed and how
 * to fix it; a failing source does not stop the start, even when it is the only one;
 * `check` changes nothing on disk. The IMAP checks run against a real Dovecot when there is one.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Config } from '../../src/config/config';
import { parseConfig } from '../../src/config/load';
import { blockingFailures, imapFix, preflight, PreflightError, PreflightResult, transportFix } from '../../src/ops/preflight';
import { checkCommand } from '../../src/cli/check';
import { openDatabase } from '../../src/store/db';
import { silentLogger } from '../../src/util/log';
import { packageRoot } from '../../src/util/package-root';
import * as checker from '../../src/reply/template-checker';
import { dovecotAvailable, DovecotServer, imapSourceOf, startDovecot } from '../support/dovecot';

const TEMPLATES = path.join(packageRoot(), 'templates');
const ENV: NodeJS.ProcessEnv = { KLAGOMAL_PERSONNUMMER_KEY: crypto.randomBytes(32).toString('base64'), IMAP_PW: 'test-password' };

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-preflight-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function config(extra: Record<string, unknown> = {}): Config {
  return parseConfig(
    {
      firm: { name: 'Testfinans AB', complaintsAddress: 'klagomal@testfinans.se' },
      dataDir: './data',
      templates: TEMPLATES,
      sources: [{ type: 'maildir', name: 'klagomal', path: './data/maildir' }],
      transport: { type: 'pickup', path: './data/outbox/pickup' },
      deadlines: { escalation: { enabled: false } },
      ...extra,
    },
    path.join(dir, 'config.json'),
  );
}

const byCheck = (results: PreflightResult[], check: string): PreflightResult => {
  const r = results.find((x) => x.check === check);
  if (!r) throw new Error(`no check ${check} in ${JSON.stringify(results)}`);
  return r;
};

/** A port on 127.0.0.1 where nothing listens. */
async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe('preflight on a fresh install', () => {
  test('checkCreatesFilesAsWhoeverRunsIt: every check passes and nothing is made on disk', async () => {
    const results = await preflight(config(), silentLogger, { env: ENV });
    expect(results.map((r) => [r.check, r.ok])).toEqual([
      ['config', true],
      ['data folder', true],
      ['database', true],
      ['maildir klagomal', true],
      ['transport', true],
      ['templates', true],
    ]);
    expect(byCheck(results, 'database').detail).toContain('created (0600');
    expect(fs.existsSync(path.join(dir, 'data'))).toBe(false);
  });

  test('unmountedBackupDiskWentUnnoticed: a missing backup.dir fails check, not start', async () => {
    const missing = path.join(dir, 'mnt', 'backup');
    const r = byCheck(await preflight(config({ backup: { dir: missing } }), silentLogger, { env: ENV }), 'backup folder');
    expect(r).toMatchObject({ ok: false, fatal: false });
    expect(r.detail).toContain(missing);
    expect(r.fix).toMatch(/mount the backup disk/);
    expect(fs.existsSync(missing)).toBe(false);
    fs.mkdirSync(missing, { recursive: true });
    const ok = byCheck(await preflight(config({ backup: { dir: missing } }), silentLogger, { env: ENV }), 'backup folder');
    expect(ok.ok).toBe(true);
    // The temp folder and the data folder share a disk here: the check says so.
    expect(ok.detail).toMatch(/same disk as the data folder/);
  });

  test('missingSecretNotNamed: the config check names the variable and where to set it', async () => {
    const c = config({ sources: [{ type: 'imap', name: 'kundtjanst', host: '127.0.0.1', port: 1, tls: 'none', user: 'k', passwordEnv: 'KUNDTJANST_PW' }] });
    const r = byCheck(await preflight(c, silentLogger, { env: ENV, imapTimeoutSeconds: 2 }), 'config');
    expect(r).toMatchObject({ ok: false, fatal: true });
    expect(r.fix).toContain('KUNDTJANST_PW');
    expect(r.fix).toContain('EnvironmentFile');
  });
});

describe('data folder and database modes', () => {
  test('dataFolderReadableByOthersNotReported, and tightened by the service', async () => {
    const c = config();
    fs.mkdirSync(c.dataDir, { mode: 0o755 });
    fs.chmodSync(c.dataDir, 0o755);
    const report = byCheck(await preflight(c, silentLogger, { env: ENV }), 'data folder');
    expect(report).toMatchObject({ ok: false, fix: `chmod 700 ${c.dataDir}` });
    expect(fs.statSync(c.dataDir).mode & 0o777).toBe(0o755); // check changes nothing
    const repaired = byCheck(await preflight(c, silentLogger, { env: ENV, repair: true }), 'data folder');
    expect(repaired.ok).toBe(true);
    expect(fs.statSync(c.dataDir).mode & 0o777).toBe(0o700);
  });

  test('walReadableByOthers: the database and its -wal/-shm must be 0600', async () => {
    const c = config();
    fs.mkdirSync(c.dataDir, { mode: 0o700 });
    const db = openDatabase(c.database); // keeps -wal and -shm while open
    try {
      for (const f of [c.database, `${c.database}-wal`, `${c.database}-shm`]) if (fs.existsSync(f)) fs.chmodSync(f, 0o644);
      const report = byCheck(await preflight(c, silentLogger, { env: ENV, db }), 'database');
      expect(report.ok).toBe(false);
      expect(report.detail).toMatch(/schema version \d+; klagomal\.db is 0644/);
      expect(report.fix).toBe(`chmod 600 ${c.database}*`);
      await preflight(c, silentLogger, { env: ENV, db, repair: true });
      for (const f of [c.database, `${c.database}-wal`, `${c.database}-shm`]) if (fs.existsSync(f)) expect(fs.statSync(f).mode & 0o777).toBe(0o600);
    } finally {
      db.close();
    }
  });
});

describe('transport and templates', () => {
  test('smtpRefusedNotFatal: reported with the fix, but the start goes on (the outbox retries)', async () => {
    const port = await closedPort();
    const c = config({ transport: { type: 'smtp', host: '127.0.0.1', port, tls: 'none' } });
    const results = await preflight(c, silentLogger, { env: ENV });
    const r = byCheck(results, 'transport');
    expect(r).toMatchObject({ ok: false, fatal: false });
    expect(r.detail).toContain('ECONNREFUSED');
    expect(r.fix).toContain('transport.host and transport.port');
    expect(blockingFailures(results)).toEqual([]);
    const err = new PreflightError([r]);
    expect(err.message).toMatch(/^transport check failed: SMTP 127\.0\.0\.1:\d+: .*ECONNREFUSED.* — fix: nothing listens on/);
  });

  test('brokenTemplatesNotFatalWithoutGoodSet: fatal unless a good set was kept', async () => {
    const root = path.join(dir, 'templates');
    fs.cpSync(TEMPLATES, root, { recursive: true });
    const c = config({ templates: root });
    fs.mkdirSync(c.dataDir, { mode: 0o700 });
    // A good set kept in the database first.
    const db = openDatabase(c.database);
    const good = (await import('../../src/reply/templates')).TemplateSet.build(root).set!;
    const { Store } = await import('../../src/store/store');
    new Store(db).saveTemplateSet(good.setVersion, good.files, new Date().toISOString() as never);
    db.close();
    fs.writeFileSync(path.join(root, 'sv', 'acknowledgement.text.hbs'), 'Hej {{#if case.number}}');
    const withGood = byCheck(await preflight(c, silentLogger, { env: ENV }), 'templates');
    expect(withGood).toMatchObject({ ok: false, fatal: false });
    expect(withGood.detail).toContain(`the last good set ${good.setVersion} stays in use`);
    expect(withGood.detail).toContain('acknowledgement.text.hbs');
    fs.rmSync(c.database);
    const withoutGood = byCheck(await preflight(c, silentLogger, { env: ENV }), 'templates');
    expect(withoutGood).toMatchObject({ ok: false, fatal: true });
    expect(withoutGood.fix).toContain('klagomal templates check');
  });

  test('templatesCheckedInFullAgainAtEveryStart: the set the service checked before, unchanged, is not checked twice', async () => {
    const root = path.join(dir, 'templates');
    fs.cpSync(TEMPLATES, root, { recursive: true });
    const c = config({ templates: root });
    fs.mkdirSync(c.dataDir, { mode: 0o700 });
    const db = openDatabase(c.database);
    try {
      // As the service's own build leaves it (src/reply/template-manager.ts) before its preflight.
      const { Store } = await import('../../src/store/store');
      const { CHECKED_KEY } = await import('../../src/reply/template-manager');
      const { TemplateSet } = await import('../../src/reply/templates');
      new Store(db).setMeta(CHECKED_KEY, TemplateSet.build(root, { caseLinkBase: c.firm.caseLinkBase }).set!.checkKey);
      const walked = jest.spyOn(checker, 'checkProgram');
      expect(byCheck(await preflight(c, silentLogger, { env: ENV, db }), 'templates')).toMatchObject({ ok: true });
      expect(walked).not.toHaveBeenCalled();
      // An edit gives another key: checked in full, and the problem found.
      fs.writeFileSync(path.join(root, 'sv', 'acknowledgement.text.hbs'), 'Hej {{#if case.number}}');
      const edited = byCheck(await preflight(c, silentLogger, { env: ENV, db }), 'templates');
      expect(edited.ok).toBe(false);
      expect(edited.detail).toContain('acknowledgement.text.hbs');
      walked.mockRestore();
    } finally {
      db.close();
    }
  });
});

describe('sources', () => {
  test('aSourceDownNeverStopsTheStart: the outbox and the deadlines must go on', async () => {
    const port = await closedPort();
    const imap = { type: 'imap', name: 'kundtjanst', host: '127.0.0.1', port, tls: 'none', user: 'k', passwordEnv: 'IMAP_PW' };
    const mixed = await preflight(config({ sources: [{ type: 'maildir', name: 'klagomal', path: './data/maildir' }, imap] }), silentLogger, { env: ENV });
    const r = byCheck(mixed, 'imap kundtjanst');
    expect(r).toMatchObject({ ok: false, fatal: false });
    expect(r.fix).toContain(`nothing listens on 127.0.0.1:${port}: check sources[1].host and sources[1].port`);
    expect(blockingFailures(mixed)).toEqual([]);
    const alone = await preflight(config({ sources: [imap] }), silentLogger, { env: ENV });
    expect(byCheck(alone, 'imap kundtjanst')).toMatchObject({ ok: false, fatal: false });
    expect(blockingFailures(alone)).toEqual([]);
  });

  test('imapFix: each class of error gets its own fix', () => {
    const s = { host: 'imap.firma.se', port: 993, tls: 'implicit' as const, passwordEnv: 'KLAGOMAL_IMAP_PASSWORD', user: 'klagomal' };
    expect(imapFix(Object.assign(new Error('Command failed'), { authenticationFailed: true }), s, 0)).toContain(
      'check the password in $KLAGOMAL_IMAP_PASSWORD',
    );
    expect(imapFix(Object.assign(new Error('x'), { code: 'ENOTFOUND' }), s, 2)).toContain('the name imap.firma.se does not resolve: check sources[2].host');
    expect(imapFix(Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }), s, 0)).toMatch(
      /^TLS failed: check sources\[0\]\.tls/,
    );
    expect(imapFix(new Error('wrong version number'), s, 0)).toMatch(/^TLS failed/);
    expect(imapFix(Object.assign(new Error('x'), { code: 'CONNECT_TIMEOUT' }), s, 0)).toContain('did not answer in time');
  });

  test('transportFix: login, DNS, TLS', () => {
    const c = config({ transport: { type: 'smtp', host: 'smtp.firma.se', tls: 'starttls', user: 'klagomal', passwordEnv: 'SMTP_PW' } });
    expect(transportFix(c, 'SMTP login failed (check transport.user and transport.passwordEnv): 535 5.7.8 Error')).toContain('$SMTP_PW');
    expect(transportFix(c, 'getaddrinfo ENOTFOUND smtp.firma.se')).toContain('does not resolve');
    expect(transportFix(c, 'unable to verify the first certificate')).toMatch(/^TLS failed/);
  });

  test('connectionRefusedOnPortLikeReplyCode: a port such as 53512 is not read as a 535 login refusal', () => {
    const c = config({ transport: { type: 'smtp', host: '127.0.0.1', port: 53512, tls: 'none' } });
    for (const port of [53512, 53499, 45345, 5345]) expect(transportFix(c, `connect ECONNREFUSED 127.0.0.1:${port}`)).toMatch(/^nothing listens on/);
    expect(transportFix(c, 'Invalid login: 535 Authentication failed')).toMatch(/refused the login/);
  });
});

const avail = dovecotAvailable();
const describeImap = avail.ok ? describe : describe.skip;

describeImap('sources on a real Dovecot', () => {
  let dovecot: DovecotServer;
  beforeAll(async () => {
    dovecot = await startDovecot({ folders: ['Skickat'] });
  }, 60_000);
  afterAll(async () => dovecot?.stop());

  const imap = (extra: Record<string, unknown> = {}) => imapSourceOf(dovecot, 'IMAP_PW', extra);

  test('wrongPasswordNotExplained: a refused login names the password variable', async () => {
    const r = byCheck(await preflight(config({ sources: [imap()] }), silentLogger, { env: { ...ENV, IMAP_PW: 'wrong' } }), 'imap klagomal');
    expect(r.ok).toBe(false);
    expect(r.fix).toContain('check the password in $IMAP_PW');
  });

  test('loginAndFolders: ok with the mailbox count; a processed folder still missing is made at start', async () => {
    const r = byCheck(
      await preflight(config({ sources: [imap({ processedFolder: 'Arkiv', sentFolder: 'Skickat' })] }), silentLogger, { env: ENV }),
      'imap klagomal',
    );
    expect(r.ok).toBe(true);
    expect(r.detail).toContain(`logged in to ${dovecot.host}:${dovecot.port} as ${dovecot.user}, INBOX has 0 mail(s)`);
    expect(r.detail).toContain('sentFolder "Skickat" exists');
    expect(r.detail).toContain('processedFolder "Arkiv" does not exist yet; it is created at start');
  });

  test('missingFolderNotNamed: a watched folder or Sent folder that is not there', async () => {
    const noMailbox = byCheck(await preflight(config({ sources: [imap({ mailbox: 'Klagomal' })] }), silentLogger, { env: ENV }), 'imap klagomal');
    expect(noMailbox).toMatchObject({ ok: false, fix: 'create "Klagomal" on the server or fix sources[0].mailbox' });
    const noSent = byCheck(await preflight(config({ sources: [imap({ sentFolder: 'Sent Items' })] }), silentLogger, { env: ENV }), 'imap klagomal');
    expect(noSent.ok).toBe(false);
    expect(noSent.fix).toContain('sources[0].sentFolder');
  });
});

describe('klagomal check', () => {
  function io() {
    const out: string[] = [];
    return { out, io: { out: (t: string) => out.push(t), err: (t: string) => out.push(t) } };
  }

  test('checkPrintsOkAndFixes: exit 1 naming the failed check and its fix', async () => {
    const port = await closedPort();
    const file = path.join(dir, 'config.json');
    fs.writeFileSync(
      file,
      JSON.stringify({
        firm: { name: 'Testfinans AB', complaintsAddress: 'klagomal@testfinans.se' },
        templates: TEMPLATES,
        sources: [{ type: 'maildir', name: 'klagomal', path: './data/maildir' }],
        transport: { type: 'smtp', host: '127.0.0.1', port, tls: 'none' },
        deadlines: { escalation: { enabled: false } },
      }),
    );
    const saved = process.env.KLAGOMAL_PERSONNUMMER_KEY;
    process.env.KLAGOMAL_PERSONNUMMER_KEY = ENV.KLAGOMAL_PERSONNUMMER_KEY;
    try {
      const text = io();
      expect(await checkCommand.run({ config: file }, [], text.io)).toBe(1);
      expect(text.out).toContain(
        `transport: FAILED: SMTP 127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}\n` +
          `    fix: nothing listens on 127.0.0.1:${port}: check transport.host and transport.port (465 "implicit", 587 "starttls", 25 "none")`,
      );
      expect(text.out.some((l) => l.startsWith('templates: ok: '))).toBe(true);
      expect(text.out[text.out.length - 1]).toBe('1 check(s) failed');
      const json = io();
      expect(await checkCommand.run({ config: file, json: true }, [], json.io)).toBe(1);
      const parsed = JSON.parse(json.out[0]) as { ok: boolean; checks: PreflightResult[] };
      expect(parsed.ok).toBe(false);
      expect(parsed.checks.filter((c) => !c.ok).map((c) => c.check)).toEqual(['transport']);
    } finally {
      if (saved === undefined) delete process.env.KLAGOMAL_PERSONNUMMER_KEY;
      else process.env.KLAGOMAL_PERSONNUMMER_KEY = saved;
    }
  });

  test('brokenConfigCrashesCheck: an unusable config is one failed check, every problem listed', async () => {
    const file = path.join(dir, 'config.json');
    fs.writeFileSync(file, JSON.stringify({ firm: { name: 'X' }, langauge: 'sv' }));
    const text = io();
    expect(await checkCommand.run({ config: file }, [], text.io)).toBe(1);
    expect(text.out[0]).toMatch(/^config: FAILED: .*firm\.complaintsAddress: missing.*langauge/);
    expect(text.out[0]).toContain("fix: correct the key(s) named ('klagomal config check' lists every problem)");
  });
});
