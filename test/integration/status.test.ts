/**
 * Two mailboxes on a real Dovecot, one of them failing login (issue 8): the other keeps being
 * served, and `klagomal status`, run as its own process beside the service, reports the failure
 * from what the service recorded, and turns red (exit 1) only once the mailbox has been down
 * longer than `status.sourceDownMinutes`.
 *
 * Both sources log in as the same Dovecot user (the harness has one); the second watches its
 * own folder with a password variable that holds a wrong password, which Dovecot refuses like
 * any other bad login.
 */
import { dovecotAvailable, imapSourceOf, startDovecot, DovecotServer } from '../support/dovecot';
import { startSmtpReceiver, SmtpReceiver } from '../support/smtp';
import { makeWorld, World, complaintMail, waitFor, waitForAsync } from '../support/world';
import type { StatusReport, SourceReport } from '../../src/ops/status';

const available = dovecotAvailable();
if (!available.ok) console.warn(`Dovecot tests skipped: ${available.reason}`);
const describeImap = available.ok ? describe : describe.skip;

const GOOD_ENV = 'KLAGOMAL_TEST_IMAP_PASSWORD';
const BAD_ENV = 'KLAGOMAL_TEST_KUNDTJANST_PASSWORD';

function source(r: StatusReport, name: string): SourceReport {
  const s = r.sources.find((x) => x.name === name);
  if (!s) throw new Error(`no source ${name} in ${JSON.stringify(r.sources)}`);
  return s;
}

async function status(world: World): Promise<{ code: number | null; report: StatusReport }> {
  const r = await world.cli(['status', '--json']);
  if (r.stderr) throw new Error(`klagomal status wrote to stderr: ${r.stderr}`);
  return { code: r.code, report: JSON.parse(r.stdout) as StatusReport };
}

describeImap('klagomal status with two mailboxes on Dovecot', () => {
  let dovecot: DovecotServer | undefined;
  let smtp: SmtpReceiver | undefined;
  let world: World | undefined;
  afterEach(async () => {
    world?.cleanup();
    await smtp?.close();
    await dovecot?.cleanup();
    world = undefined;
    smtp = undefined;
    dovecot = undefined;
  });

  test('failingLoginOnOneMailboxNeitherStopsTheOtherNorHidesFromStatus', async () => {
    dovecot = await startDovecot({ folders: ['Kundtjanst'] });
    smtp = await startSmtpReceiver();
    const watched = { idle: true, pollSeconds: 5, processedFolder: 'Processed' };
    world = makeWorld({
      sources: [
        imapSourceOf(dovecot, GOOD_ENV, { ...watched, name: 'klagomal', mailbox: 'INBOX' }),
        imapSourceOf(dovecot, BAD_ENV, { ...watched, name: 'kundtjanst', mailbox: 'Kundtjanst' }),
      ],
      transport: { type: 'smtp', host: smtp.host, port: smtp.port, tls: 'none' },
      personnummer: { store: false },
      status: { sourceDownMinutes: 1 },
    });
    const w = world;
    const child = w.start({ [GOOD_ENV]: dovecot.password, [BAD_ENV]: 'not-the-password' });
    const startedAt = Date.now();
    await waitFor('the good mailbox connected', () => /imap connected/.test(child.output()), 20_000);

    // The good mailbox is served: a complaint is filed and acknowledged.
    await dovecot.append(complaintMail(1, { messageId: 'status-1@example.com' }));
    const [ack] = await smtp.waitFor(1, 10_000);
    expect(ack.to).toEqual(['kund1@example.com']);

    // Status, from another process: the good one connected, the bad one down with its error.
    const first = await waitForAsync(
      'status showing both mailboxes',
      async () => {
        const s = await status(w);
        const good = source(s.report, 'klagomal');
        return good.lastPollAt && good.cursor?.lastUid === 1 && source(s.report, 'kundtjanst').lastError ? s : null;
      },
      15_000,
      300,
    );
    const good = source(first.report, 'klagomal');
    const bad = source(first.report, 'kundtjanst');
    expect(good).toMatchObject({ state: 'connected', connected: true, mailbox: 'INBOX', lastError: null, downSince: null, waiting: 0, folderMessages: 0 });
    expect(good.cursor).toEqual({ uidvalidity: expect.stringMatching(/^\d+$/), lastUid: 1 });
    expect(bad).toMatchObject({ state: 'reconnecting', connected: false, mailbox: 'Kundtjanst', cursor: null, lastPollAt: null });
    expect(bad.lastError).toMatch(/^login refused \(check the user and the password variable\): .*AUTHENTICATIONFAILED/);
    expect(Date.parse(bad.failingSince!)).toBeGreaterThanOrEqual(startedAt - 1000);
    expect(bad.downSince).toBe(bad.since);
    expect(first.report.service.running).toBe(true);
    // Down for less than status.sourceDownMinutes (1): not yet a reason to wake anyone.
    if (Date.now() - Date.parse(bad.failingSince!) < 50_000) {
      expect(first.report.needsAttention).toEqual([]);
      expect(first.code).toBe(0);
    }

    // A minute on, still failing (retried with backoff meanwhile): red, exit 1, with the reason.
    const red = await waitForAsync(
      'status exit 1',
      async () => {
        const s = await status(w);
        return s.code === 1 ? s : null;
      },
      90_000,
      2000,
    );
    expect(Date.now() - Date.parse(bad.failingSince!)).toBeGreaterThanOrEqual(60_000);
    expect(red.report.ok).toBe(false);
    expect(red.report.needsAttention).toEqual([
      expect.stringMatching(/^source kundtjanst \(Kundtjanst\): down for 1 min since \S+ \(login refused .*AUTHENTICATIONFAILED.*; retrying\)$/),
    ]);
    const badLater = source(red.report, 'kundtjanst');
    expect(badLater.failingSince).toBe(bad.failingSince); // the same run of failures, not restarted by each retry
    expect(Date.parse(badLater.heartbeatAt!)).toBeGreaterThan(Date.parse(bad.heartbeatAt!)); // it kept trying
    // A refused login is for a person (issue 18): an error with the server's reason, not a warning.
    expect(child.output()).toMatch(/"level":"error".*"reason":"AUTHENTICATIONFAILED".*"msg":"imap login refused/);

    // Meanwhile the good mailbox is still served.
    expect(source(red.report, 'klagomal').state).toBe('connected');
    await dovecot.append(complaintMail(2, { messageId: 'status-2@example.com' }));
    const acks = await smtp.waitFor(2, 10_000);
    expect(acks.map((a) => a.to[0]).sort()).toEqual(['kund1@example.com', 'kund2@example.com']);

    // The text form says the same for a person.
    const text = await w.cli(['status']);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/^ {2}klagomal +imap +INBOX +connected since/m);
    expect(text.stdout).toMatch(/^ {2}kundtjanst +imap +Kundtjanst +DOWN since .*, retrying; last poll never$/m);
    expect(text.stdout).toMatch(/error: login refused .*AUTHENTICATIONFAILED/);
    expect(text.stdout).toMatch(/Needs attention:\n {2}- source kundtjanst \(Kundtjanst\): down for \d+ min/);

    // A clean stop is recorded as such: not a crash.
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    const after = await status(w);
    expect(after.report.sources.map((s) => s.state)).toEqual(['stopped', 'stopped']);
    expect(after.report.needsAttention.some((r) => /service not running/.test(r))).toBe(false);
  }, 150_000);
});
