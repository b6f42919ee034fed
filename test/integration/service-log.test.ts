/**
 * What the service tells an operator on a bad day (issue 18), through the real binary:
 *
 *  - every line it writes on stderr is JSON (`journalctl -o cat | jq` must never meet raw
 *    text): Node's MaxListenersExceededWarning with two mailboxes and HTTP on, and the stack of
 *    an uncaught error or an unhandled rejection, were plain text;
 *  - a wrong password after start was a warning "Command failed": it is an error (a person must
 *    act) with the server's reason, AUTHENTICATIONFAILED;
 *  - the admin was mailed twice about one damaged raw file;
 *  - `kill -9` was seen by `status` after three minutes; now within a minute;
 *  - stopping took 1-2 s (a fixed one-second forced exit) against the 180-330 ms measured.
 */
import fs from 'node:fs';
import path from 'node:path';
import { dovecotAvailable, imapSourceOf, startDovecot, DovecotServer, freePort } from '../support/dovecot';
import { startSmtpReceiver, SmtpReceiver } from '../support/smtp';
import { complaintMail, deliverToMaildir, mailWithAttachment, makeWorld, waitFor, World } from '../support/world';
import { loadConfig } from '../../src/config/load';
import { openDatabase } from '../../src/store/db';
import { Store } from '../../src/store/store';
import { gatherStatus } from '../../src/ops/status';
import type { ReconcileReport } from '../../src/reconcile/report';

jest.setTimeout(120_000);

const available = dovecotAvailable();
if (!available.ok) console.warn(`Dovecot tests skipped: ${available.reason}`);
const testImap = available.ok ? test : test.skip;
const PW = 'KLAGOMAL_TEST_IMAP_PASSWORD';

/** The lines of `output` that are not a JSON object. */
function nonJsonLines(output: string): string[] {
  return output.split('\n').filter((l) => {
    if (l.trim() === '') return false;
    try {
      const v: unknown = JSON.parse(l);
      return typeof v !== 'object' || v === null;
    } catch {
      return true;
    }
  });
}

const logLines = (output: string): Array<Record<string, unknown>> =>
  output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

function exited(child: ReturnType<World['start']>): Promise<{ code: number | null; at: number }> {
  if (child.exitCode !== null) return Promise.resolve({ code: child.exitCode, at: Date.now() });
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, at: Date.now() })));
}

describe('the service log on a bad day', () => {
  let w: World;
  let d: DovecotServer | undefined;
  let smtp: SmtpReceiver | undefined;
  afterEach(async () => {
    w?.cleanup();
    await smtp?.close();
    await d?.cleanup();
    smtp = undefined;
    d = undefined;
  });

  testImap('everyStderrLineIsJsonWithTwoMailboxesAndHttpOn', async () => {
    d = await startDovecot({ folders: ['Kundtjanst', 'Sent'] });
    smtp = await startSmtpReceiver();
    const watched = { idle: true, pollSeconds: 5, processedFolder: 'Processed', sentFolder: 'Sent' };
    w = makeWorld({
      sources: [
        imapSourceOf(d, PW, { ...watched, name: 'klagomal', mailbox: 'INBOX' }),
        imapSourceOf(d, PW, { ...watched, name: 'kundtjanst', mailbox: 'Kundtjanst' }),
      ],
      transport: { type: 'smtp', host: smtp.host, port: smtp.port, tls: 'none' },
      http: { enabled: true, port: await freePort() },
      personnummer: { store: false },
    });
    const child = w.start({ [PW]: d.password });
    await waitFor('both connected', () => (child.output().match(/imap connected/g) ?? []).length >= 4, 30_000);
    await d.append(complaintMail(1));
    await d.append(complaintMail(2), 'Kundtjanst');
    await smtp.waitFor(2, 20_000);
    await new Promise((r) => setTimeout(r, 3000)); // several polls and template checks on every loop
    child.kill('SIGTERM');
    expect((await exited(child)).code).toBe(0);
    expect(child.output()).not.toMatch(/MaxListenersExceededWarning/);
    expect(nonJsonLines(child.output())).toEqual([]);
  });

  test('anUncaughtErrorAndAnUnhandledRejectionAreOneFatalJsonLineEach', async () => {
    for (const [kind, code] of [
      ['uncaught', `setTimeout(() => { throw new Error('a library threw in a timer') }, 1500)`],
      ['rejection', `setTimeout(() => { Promise.reject(new Error('a library forgot a catch')) }, 1500)`],
    ] as const) {
      w = makeWorld({ personnummer: { store: false } });
      const preload = path.join(w.dir, `${kind}.js`);
      fs.writeFileSync(preload, code);
      const child = w.start({}, ['--require', preload]);
      const { code: exitCode } = await exited(child);
      expect(exitCode).toBe(1);
      expect(nonJsonLines(child.output())).toEqual([]);
      const fatal = logLines(child.output()).filter((l) => l.level === 'fatal');
      expect(fatal).toHaveLength(1);
      expect(fatal[0]).toMatchObject({
        msg: kind === 'uncaught' ? expect.stringMatching(/^uncaught error/) : expect.stringMatching(/^unhandled promise rejection/),
        error: kind === 'uncaught' ? 'a library threw in a timer' : 'a library forgot a catch',
        stack: expect.stringMatching(/Error: a library/),
      });
      w.cleanup();
    }
  });

  test('aRefusedStartIsAJsonLineToo', async () => {
    w = makeWorld({ personnummer: { store: true, keyEnv: 'KLAGOMAL_TEST_NO_SUCH_KEY' } });
    const child = w.start({ KLAGOMAL_TEST_NO_SUCH_KEY: '' });
    expect((await exited(child)).code).toBe(1);
    expect(nonJsonLines(child.output())).toEqual([]);
    expect(logLines(child.output()).pop()).toMatchObject({ level: 'fatal', msg: expect.stringMatching(/^klagomal start: .*personnummer\.keyEnv/) });
  });

  testImap('aWrongPasswordIsAnErrorWithTheServersReasonNotAWarningCommandFailed', async () => {
    d = await startDovecot();
    w = makeWorld({ sources: [imapSourceOf(d, PW, { idle: true, pollSeconds: 2, processedFolder: 'Processed' })], personnummer: { store: false } });
    const child = w.start({ [PW]: 'not-the-password' });
    const refused = await waitFor(
      'the source reporting the refused login',
      () => logLines(child.output()).find((l) => l.source === 'klagomal' && /login refused/.test(String(l.msg))),
      30_000,
    );
    expect(refused.level).toBe('error');
    expect(refused.reason).toBe('AUTHENTICATIONFAILED');
    expect(String(refused.error)).toMatch(/AUTHENTICATIONFAILED/);
    expect(String(refused.fix)).toContain(`$${PW}`);
    expect(
      logLines(child.output()).filter((l) => l.level === 'warn' && /Command failed/.test(String(l.error)) && !/AUTHENTICATIONFAILED/.test(String(l.error))),
    ).toEqual([]);
    // The password is never in the log.
    expect(child.output()).not.toContain('not-the-password');
  });

  testImap('stoppingIsNotHeldUpByAFixedSecond', async () => {
    d = await startDovecot();
    smtp = await startSmtpReceiver();
    w = makeWorld({
      sources: [imapSourceOf(d, PW, { idle: true, pollSeconds: 5, processedFolder: 'Processed' })],
      transport: { type: 'smtp', host: smtp.host, port: smtp.port, tls: 'none' },
      personnummer: { store: false },
    });
    const child = w.start({ [PW]: d.password });
    await waitFor('connected', () => /imap connected/.test(child.output()), 20_000);
    for (let i = 0; i < 3; i++) await d.append(complaintMail(i));
    await smtp.waitFor(3, 20_000); // the SMTP pool has open connections, which end their half slowly
    const t0 = Date.now();
    child.kill('SIGTERM');
    const { code, at } = await exited(child);
    expect(code).toBe(0);
    // Before: never less than 1000 ms, a fixed timer's (README: 180-330 ms with mail in flight).
    // A floor, not a speed target: the bound is the old timer's, far above the real stop.
    expect(at - t0).toBeLessThan(1000);
    expect(child.output()).toContain('"msg":"klagomal stopped cleanly"');
  });

  test('aServiceKilledWithMinusNineIsNotRunningForStatusWithinAMinute', async () => {
    // A slow poll: the source itself writes only once a minute.
    w = makeWorld({ sources: [{ type: 'maildir', name: 'klagomal', path: './data/maildir', pollSeconds: 60 }], personnummer: { store: false } });
    const child = w.start();
    await waitFor('started', () => /klagomal started/.test(child.output()), 20_000);
    await new Promise((r) => setTimeout(r, 500));
    child.kill('SIGKILL');
    await exited(child);
    const killedAt = Date.now();
    const config = loadConfig(w.configFile);
    const db = openDatabase(config.database, { readonly: true });
    try {
      const store = new Store(db);
      expect(gatherStatus(config, store, new Date(killedAt)).service.running).toBe(true); // just killed: not yet known
      const later = gatherStatus(config, store, new Date(killedAt + 60_000));
      expect(later.service.running).toBe(false);
      expect(later.ok).toBe(false);
      expect(later.needsAttention.join('\n')).toMatch(/service not running: no heartbeat since/);
    } finally {
      db.close();
    }
  });

  test('theAdminIsMailedOnceAboutOneDamagedRawFile', async () => {
    w = makeWorld({
      firm: { name: 'Testfinans AB', complaintsAddress: 'klagomal@testfinans.se', adminAddress: 'it-drift@testfinans.se' },
      personnummer: { store: false },
    });
    deliverToMaildir(w.maildir, mailWithAttachment({ attachment: Buffer.alloc(1536 * 1024, 7), filename: 'kontoutdrag.pdf', messageId: 'big-40@example.com' }));
    expect((await w.cli(['run', '--once'])).code).toBe(0);
    // One bit flipped in the stored large mail, and a mail a client moved to cur/ unseen: one run finds both.
    const { store, close } = w.store();
    const rel = store.db.prepare('SELECT path FROM raw_mail WHERE path IS NOT NULL').pluck().get() as string;
    close();
    const file = path.join(w.dataDir, rel);
    const bytes = fs.readFileSync(file);
    bytes[1000] ^= 1;
    fs.writeFileSync(file, bytes);
    fs.writeFileSync(path.join(w.maildir, 'cur', '1763800000.M1P2.test:2,S'), complaintMail(41, { messageId: null }));

    const reconcile = async (): Promise<ReconcileReport> => JSON.parse((await w.cli(['reconcile', '--json'])).stdout) as ReconcileReport;
    const adminMails = (): Array<{ body_text: string }> => {
      const s = w.store();
      try {
        return s.store.listOutbox().filter((o) => o.kind === 'admin-notice') as unknown as Array<{ body_text: string }>;
      } finally {
        s.close();
      }
    };
    const first = await reconcile();
    expect(first).toMatchObject({ found: 1, raw: { mismatched: 1 } });
    expect(adminMails()).toHaveLength(1);
    expect(adminMails()[0].body_text).toContain(rel);
    // Hourly runs while nobody has restored the file yet: no second mail about it.
    for (let i = 0; i < 2; i++) {
      expect((await reconcile()).raw.mismatched).toBe(1);
      expect(adminMails()).toHaveLength(1);
    }
  });
});
