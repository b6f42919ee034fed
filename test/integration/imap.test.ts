/**
 * The pipeline against a real Dovecot IMAP server and a real SMTP receiver on 127.0.0.1:
 * IDLE and polling, processed folder and flag-only modes, a server restart mid-run, a
 * UIDVALIDITY change, and SMTP temporary and permanent failures.
 */
import { dovecotAvailable, imapSourceOf, startDovecot, DovecotServer } from '../support/dovecot';
import { startSmtpReceiver, SmtpReceiver } from '../support/smtp';
import { makeWorld, World, complaintMail, mailWithAttachment, waitFor, waitForAsync } from '../support/world';

const available = dovecotAvailable();
if (!available.ok) console.warn(`Dovecot tests skipped: ${available.reason}`);
const describeImap = available.ok ? describe : describe.skip;

const PASSWORD_ENV = 'KLAGOMAL_TEST_IMAP_PASSWORD';

interface Setup {
  dovecot: DovecotServer;
  smtp: SmtpReceiver;
  world: World;
  env: NodeJS.ProcessEnv;
}

async function setup(source: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Promise<Setup> {
  const dovecot = await startDovecot();
  const smtp = await startSmtpReceiver();
  const world = makeWorld({
    sources: [imapSourceOf(dovecot, PASSWORD_ENV, { mailbox: 'INBOX', processedFolder: 'Processed', idle: true, pollSeconds: 60, ...source })],
    transport: { type: 'smtp', host: smtp.host, port: smtp.port, tls: 'none', maxConnections: 3 },
    outbox: { retryBaseSeconds: 1, retryMaxSeconds: 2, sendTimeoutSeconds: 5 },
    ...extra,
  });
  return { dovecot, smtp, world, env: { [PASSWORD_ENV]: dovecot.password } };
}

async function teardown(s: Setup | undefined): Promise<void> {
  if (!s) return;
  s.world.cleanup();
  await s.smtp.close();
  await s.dovecot.cleanup();
}

function caseCount(world: World): number {
  const { store, close } = world.store();
  try {
    return store.listCases({}).length;
  } finally {
    close();
  }
}

describeImap('IMAP source with SMTP transport', () => {
  let s: Setup | undefined;
  afterEach(async () => {
    await teardown(s);
    s = undefined;
  });

  test('idleNoticesNewMailAndTheAcknowledgementReachesSmtpWithinSeconds', async () => {
    s = await setup(); // pollSeconds 60: only IDLE can explain a fast pickup
    const child = s.world.start(s.env);
    await waitFor('imap connected', () => /imap connected/.test(child.output()), 15_000);
    await new Promise((r) => setTimeout(r, 500)); // let it enter IDLE
    const t0 = Date.now();
    await s.dovecot.append(complaintMail(1, { messageId: 'idle-1@example.com' }));
    const [ack] = await s.smtp.waitFor(1, 8000);
    const latency = Date.now() - t0;
    expect(latency).toBeLessThan(4000);

    expect(ack.to).toEqual(['kund1@example.com']);
    expect(ack.from).toBe('klagomal@testfinans.se');
    expect(ack.headers.get('auto-submitted')).toBe('auto-replied');
    expect(ack.headers.get('x-auto-response-suppress')).toBe('All');
    expect(ack.headers.get('in-reply-to')).toBe('<idle-1@example.com>');
    expect(ack.subject).toMatch(/^\[KLG-20\d\d-000001\] Vi har tagit emot ditt klagomål$/);
    expect(ack.messageId).toMatch(/^<klg-20\d\d-000001\.ack\.[A-Za-z0-9_-]+@testfinans\.se>$/);

    // Taken from INBOX only after it was stored: moved to Processed, and read.
    const processed = await waitForAsync('mail moved to Processed', async () => {
      const l = await s!.dovecot.list('Processed');
      return l.length === 1 ? l : null;
    });
    expect(processed[0].flags).toContain('\\Seen');
    expect(await s.dovecot.list('INBOX')).toHaveLength(0);
    expect(caseCount(s.world)).toBe(1);
    child.kill('SIGTERM');
  });

  test('pollingPathFilesMailWhenIdleIsOff', async () => {
    s = await setup({ idle: false, pollSeconds: 1 });
    const child = s.world.start(s.env);
    await waitFor('imap connected', () => /imap connected/.test(child.output()), 15_000);
    await s.dovecot.append(complaintMail(2));
    await s.dovecot.append(complaintMail(3));
    const acks = await s.smtp.waitFor(2, 8000);
    expect(new Set(acks.map((a) => a.to[0]))).toEqual(new Set(['kund2@example.com', 'kund3@example.com']));
    expect(caseCount(s.world)).toBe(2);
    child.kill('SIGTERM');
  });

  test('flagOnlyModeLeavesFiledMailSeenInTheInbox', async () => {
    s = await setup({ processedFolder: null });
    await s.dovecot.append(complaintMail(4));
    const r = await s.world.cli(['run', '--once', '--json'], s.env);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ filed: 1, sent: { sent: 1 } });
    const inbox = await s.dovecot.list('INBOX');
    expect(inbox).toHaveLength(1);
    expect(inbox[0].flags).toContain('\\Seen');
    // A second pass finds nothing new (the cursor, not the \Seen flag, is the truth).
    const again = await s.world.cli(['run', '--once', '--json'], s.env);
    expect(JSON.parse(again.stdout)).toMatchObject({ filed: 0, sent: { sent: 0 } });
    expect(s.smtp.messages).toHaveLength(1);
  });

  test('dovecotRestartMidRunLosesNothingAndFilesNothingTwice', async () => {
    s = await setup({ pollSeconds: 2 });
    const child = s.world.start(s.env);
    await waitFor('imap connected', () => /imap connected/.test(child.output()), 15_000);
    const first = Array.from({ length: 30 }, (_, i) => complaintMail(`a${i}`, { messageId: `restart-a${i}@example.com` }));
    const second = Array.from({ length: 30 }, (_, i) => complaintMail(`b${i}`, { messageId: `restart-b${i}@example.com` }));
    await s.dovecot.appendMany(first);
    await s.dovecot.restart(); // in the middle of fetching/filing the first batch
    await s.dovecot.appendMany(second);
    await s.smtp.waitFor(60, 45_000);
    await new Promise((r) => setTimeout(r, 1500)); // nothing more may arrive
    const recipients = s.smtp.messages.map((m) => m.to[0]);
    expect(recipients).toHaveLength(60);
    expect(new Set(recipients).size).toBe(60);
    expect(caseCount(s.world)).toBe(60);
    await waitForAsync('inbox emptied', async () => (await s!.dovecot.list('INBOX')).length === 0);
    const processed = await s.dovecot.list('Processed');
    expect(new Set(processed.map((m) => m.messageId)).size).toBe(60);
    expect(child.output()).toMatch(/imap reconnecting/);
    child.kill('SIGTERM');
  }, 90_000);

  test('uidValidityChangeRefetchesButFilesNothingTwice', async () => {
    s = await setup({ processedFolder: null });
    await s.dovecot.appendMany([complaintMail(5), complaintMail(6), complaintMail(7)]);
    expect((await s.world.cli(['run', '--once'], s.env)).code).toBe(0);
    const before = await s.dovecot.status('INBOX');
    await s.dovecot.resetUidValidity('INBOX');
    const after = await s.dovecot.status('INBOX');
    expect(after.uidValidity).not.toBe(before.uidValidity);
    const r = await s.world.cli(['run', '--once', '--json'], s.env);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/UIDVALIDITY changed/);
    expect(caseCount(s.world)).toBe(3);
    expect(s.smtp.messages).toHaveLength(3);
    const { store, close } = s.world.store();
    try {
      const kinds = store.db.prepare('SELECT kind, COUNT(*) AS n FROM inbound GROUP BY kind ORDER BY kind').all();
      expect(kinds).toEqual([
        { kind: 'complaint', n: 3 },
        { kind: 'duplicate', n: 3 },
      ]);
    } finally {
      close();
    }
  });

  test('sentFolderIsReadFromItsEndAlsoAfterAUidValidityChange', async () => {
    s = await setup({ processedFolder: null, sentFolder: 'Sent' });
    const sentMail = (id: string): string =>
      ['From: klagomal@testfinans.se', 'To: kund@example.com', `Subject: Re: ${id}`, `Message-ID: <${id}@testfinans.se>`, '', 'Hej!', ''].join('\r\n');
    await s.dovecot.append(sentMail('history-1'), 'Sent');
    expect((await s.world.cli(['run', '--once'], s.env)).code).toBe(0);
    await s.dovecot.append(sentMail('after-first-look'), 'Sent');
    expect((await s.world.cli(['run', '--once'], s.env)).code).toBe(0);
    await s.dovecot.resetUidValidity('Sent');
    const r = await s.world.cli(['run', '--once'], s.env);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/UIDVALIDITY changed/);
    await s.dovecot.append(sentMail('after-reset'), 'Sent');
    expect((await s.world.cli(['run', '--once'], s.env)).code).toBe(0);
    const { store, close } = s.world.store();
    try {
      // The history before the first look, and again after the renumbering, is never imported.
      const ids = (store.db.prepare("SELECT message_id FROM inbound WHERE mailbox = 'Sent' ORDER BY id").all() as Array<{ message_id: string }>).map(
        (x) => x.message_id,
      );
      expect(ids).toEqual(['after-first-look@testfinans.se', 'after-reset@testfinans.se']);
    } finally {
      close();
    }
  });

  test('temporarySmtpFailureIsRetriedAndPermanentFailureIsRecordedOnTheCase', async () => {
    s = await setup();
    s.smtp.rejectNext(1, 451, 'try again later');
    await s.dovecot.append(complaintMail('tmp', { from: 'Temp <temp@example.com>' }));
    const first = await s.world.cli(['run', '--once', '--json'], s.env);
    expect(JSON.parse(first.stdout)).toMatchObject({ filed: 1, sent: { sent: 0, retried: 1 } });
    let outbox = JSON.parse((await s.world.cli(['outbox', '--json'], s.env)).stdout) as Array<{ status: string; attempts: number; lastError: string }>;
    expect(outbox[0]).toMatchObject({ status: 'queued', attempts: 1 });
    expect(outbox[0].lastError).toMatch(/451/);
    await new Promise((r) => setTimeout(r, 2600)); // retryBaseSeconds 1, with jitter
    const second = await s.world.cli(['run', '--once', '--json'], s.env);
    expect(JSON.parse(second.stdout)).toMatchObject({ sent: { sent: 1 } });
    expect(s.smtp.messages).toHaveLength(1);

    s.smtp.rejectNext(1, 550, 'no such user');
    await s.dovecot.append(complaintMail('perm', { from: 'Perm <perm@example.com>' }));
    const third = await s.world.cli(['run', '--once', '--json'], s.env);
    expect(JSON.parse(third.stdout)).toMatchObject({ filed: 1, sent: { failed: 1 } });
    outbox = JSON.parse((await s.world.cli(['outbox', '--json', '--status', 'failed'], s.env)).stdout);
    expect(outbox).toHaveLength(1);
    expect(outbox[0].lastError).toMatch(/550/);
    const cases = JSON.parse((await s.world.cli(['cases', '--json'], s.env)).stdout) as Array<{ number: string; customer: { address: string } }>;
    const perm = cases.find((c) => c.customer.address === 'perm@example.com')!;
    const shown = JSON.parse((await s.world.cli(['case', 'show', perm.number, '--json'], s.env)).stdout) as {
      events: Array<{ type: string; detail: { error?: string } }>;
    };
    const failed = shown.events.find((e) => e.type === 'mail-send-failed');
    expect(failed?.detail.error).toMatch(/550/);
  });

  test('largeMailIsStreamedFromImapIntoAFileAndFiledBesideSmallOnes', async () => {
    s = await setup();
    const pdf = Buffer.alloc(3 * 1024 * 1024, 7);
    const big = mailWithAttachment({ attachment: pdf, filename: 'utdrag.pdf' });
    await s.dovecot.appendMany([complaintMail('small1'), big, complaintMail('small2')]);
    const r = await s.world.cli(['run', '--once', '--json'], s.env);
    expect(JSON.parse(r.stdout)).toMatchObject({ filed: 3, quarantined: 0, sent: { sent: 3 } });
    const { store, close } = s.world.store();
    try {
      const rows = store.db.prepare('SELECT r.path, r.size FROM inbound i JOIN raw_mail r ON r.sha256 = i.sha256 ORDER BY i.uid').all() as Array<{
        path: string | null;
        size: number;
      }>;
      expect(rows.map((x) => x.path !== null)).toEqual([false, true, false]);
      const att = store.db.prepare('SELECT size FROM attachments').all() as Array<{ size: number }>;
      expect(att).toEqual([{ size: pdf.length }]);
    } finally {
      close();
    }
  });

  test('wrongImapPasswordFailsTheRunWithAReason', async () => {
    s = await setup();
    const r = await s.world.cli(['run', '--once'], { [PASSWORD_ENV]: 'wrong' });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/source klagomal: FAILED/);
  });

  test('missingPasswordVariableIsAConfigErrorNamingIt', async () => {
    s = await setup();
    const r = await s.world.cli(['run', '--once'], { [PASSWORD_ENV]: '' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/sources\[0\]\.passwordEnv: names KLAGOMAL_TEST_IMAP_PASSWORD, which is not set/);
  });
});
