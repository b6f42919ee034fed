/**
 * Proves the test mail stack works: private Dovecot (IMAP) and an in-process SMTP receiver.
 * Run: npx jest --preset ts-jest test/support/harness.test.ts
 */
import { ImapFlow } from 'imapflow';
import nodemailer, { type Transporter } from 'nodemailer';
import { dovecotAvailable, startDovecot, type DovecotServer } from './dovecot';
import { startSmtpReceiver, type SmtpReceiver } from './smtp';

jest.setTimeout(20_000);

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** resolves `promise`, or `fallback` after ms; the timer is cleared so jest can exit promptly */
async function within<T>(promise: Promise<T>, ms: number, fallback: () => T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<T>((resolve, reject) => {
    timer = setTimeout(() => {
      try {
        resolve(fallback());
      } catch (e) {
        reject(e);
      }
    }, ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function waitUntil(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

let seq = 0;
function mail(subject: string, extraHeaders = ''): string {
  seq += 1;
  return [
    'From: Kund <kund@example.se>',
    'To: Klagomal <klagomal@example.com>',
    `Subject: ${subject}`,
    `Message-ID: <harness-${seq}-${Date.now()}@example.se>`,
    'Date: Mon, 03 Mar 2025 10:00:00 +0100',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    ...(extraHeaders ? [extraHeaders] : []),
    '',
    `Body of ${subject}.`,
    '',
  ].join('\r\n');
}

const d = dovecotAvailable();
if (!d.ok) {
  // eslint-disable-next-line no-console
  console.log(`Skipping Dovecot harness tests: ${d.reason}`);
}

(d.ok ? describe : describe.skip)('Dovecot harness', () => {
  let server: DovecotServer;
  const appended: Array<{ uid: number; messageId: string }> = [];

  beforeAll(async () => {
    server = await startDovecot({ folders: ['Klagomål'] });
  });

  afterAll(async () => {
    if (server) await server.cleanup();
  });

  test('folders: INBOX, Sent (\\Sent), Processed and extra folders, all subscribed', async () => {
    const c = new ImapFlow(server.clientOptions());
    c.on('error', () => undefined);
    await c.connect();
    try {
      const boxes = await c.list();
      const byPath = new Map(boxes.map((b) => [b.path, b]));
      expect([...byPath.keys()].sort()).toEqual(['INBOX', 'Klagomål', 'Processed', 'Sent']);
      expect(byPath.get('Sent')?.specialUse).toBe('\\Sent');
      for (const b of boxes) expect(b.subscribed).toBe(true);
    } finally {
      await c.logout();
    }
  });

  test('append 3 mails, list UIDs and flags', async () => {
    const raws = [mail('Första'), mail('Andra'), mail('Tredje')];
    const flags = [['\\Seen'], [], ['\\Flagged', '$Klagomal']];
    for (let i = 0; i < raws.length; i += 1) {
      const uid = await server.append(raws[i] as string, 'INBOX', flags[i]);
      expect(uid).toBe(i + 1);
      const mid = /Message-ID: (<[^>]+>)/.exec(raws[i] as string)?.[1] ?? '';
      appended.push({ uid: uid ?? -1, messageId: mid });
    }
    const listed = await server.list('INBOX');
    expect(listed).toEqual([
      { uid: 1, flags: ['\\Seen'], messageId: appended[0]?.messageId },
      { uid: 2, flags: [], messageId: appended[1]?.messageId },
      { uid: 3, flags: ['$Klagomal', '\\Flagged'], messageId: appended[2]?.messageId },
    ]);
    const st = await server.status('INBOX');
    expect(st.messages).toBe(3);
    expect(st.uidNext).toBe(4);
    expect(typeof st.uidValidity).toBe('bigint');
  });

  test('IDLE notification arrives within 2 s', async () => {
    const watcher = new ImapFlow(server.clientOptions({ autoIdleDelay: 100 }));
    watcher.on('error', () => undefined);
    await watcher.connect();
    try {
      await watcher.mailboxOpen('INBOX');
      await waitUntil(() => watcher.idling, 2000, 'imapflow to enter IDLE');
      const exists = new Promise<number>((resolve) => watcher.once('exists', () => resolve(Date.now())));
      const t0 = Date.now();
      await server.append(mail('IDLE probe'));
      const tAppended = Date.now();
      const tNotified = await within(exists, 2000, () => -1);
      expect(tNotified).toBeGreaterThan(0);
      // eslint-disable-next-line no-console
      console.log(`IDLE: EXISTS ${tNotified - tAppended} ms after APPEND completed ` + `(${tNotified - t0} ms incl. connect+login of the appending client)`);
    } finally {
      await watcher.logout().catch(() => watcher.close());
    }
  });

  test('restart keeps data and UIDVALIDITY, disconnects clients, keeps the port', async () => {
    const before = await server.status('INBOX');
    const listBefore = await server.list('INBOX');
    const port = server.port;

    const client = new ImapFlow(server.clientOptions({ disableAutoIdle: true }));
    client.on('error', () => undefined);
    await client.connect();
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));

    const t0 = Date.now();
    await server.restart();
    const restartMs = Date.now() - t0;
    await within(closed, 2000, () => {
      throw new Error('client not disconnected by stop');
    });

    expect(server.port).toBe(port);
    expect(server.running).toBe(true);
    const after = await server.status('INBOX');
    expect(after).toEqual(before);
    expect(await server.list('INBOX')).toEqual(listBefore);
    // eslint-disable-next-line no-console
    console.log(`restart took ${restartMs} ms`);
  });

  test('resetUidValidity changes UIDVALIDITY and renumbers from 1, keeping mails and flags', async () => {
    const before = await server.status('INBOX');
    const listBefore = await server.list('INBOX');
    await server.resetUidValidity('INBOX');
    const after = await server.status('INBOX');
    expect(after.uidValidity).not.toBe(before.uidValidity);
    expect(after.messages).toBe(before.messages);
    const listAfter = await server.list('INBOX');
    expect(listAfter.map((m) => m.uid)).toEqual(listBefore.map((_m, i) => i + 1));
    const flagsById = (l: typeof listBefore): Map<string | undefined, string[]> => new Map(l.map((m) => [m.messageId, m.flags]));
    expect(flagsById(listAfter)).toEqual(flagsById(listBefore));
  });

  test('deliverToMaildir: 100 mails visible via status(), also in a UTF-8 named folder', async () => {
    const before = await server.status('INBOX');
    const raws = Array.from({ length: 100 }, (_v, i) => mail(`Bulk ${i}`));
    const t0 = Date.now();
    server.deliverToMaildir(raws);
    const writeMs = Date.now() - t0;
    const after = await server.status('INBOX');
    expect(after.messages).toBe(before.messages + 100);
    expect(after.uidValidity).toBe(before.uidValidity);
    expect(after.uidNext).toBe(before.uidNext + 100);

    server.deliverToMaildir([mail('Till mappen'), Buffer.from(mail('Till mappen 2'))], 'Klagomål');
    expect((await server.status('Klagomål')).messages).toBe(2);
    const listed = await server.list('Klagomål');
    expect(listed.map((m) => m.flags)).toEqual([[], []]);

    await server.appendMany([mail('Many 1'), mail('Many 2'), mail('Many 3')], 'Processed');
    expect((await server.status('Processed')).messages).toBe(3);
    // eslint-disable-next-line no-console
    console.log(`deliverToMaildir: 100 files written in ${writeMs} ms`);
  });

  test('logTail shows the Dovecot log', () => {
    expect(server.logTail()).toMatch(/Dovecot v2\.3/);
  });
});

describe('SMTP receiver', () => {
  let rx: SmtpReceiver;
  let transport: Transporter;

  beforeAll(async () => {
    rx = await startSmtpReceiver();
    transport = nodemailer.createTransport({
      host: rx.host,
      port: rx.port,
      secure: false,
      ignoreTLS: true,
      pool: true,
      maxConnections: 2,
    });
  });

  afterAll(async () => {
    transport?.close();
    if (rx) await rx.close();
  });

  test('receives 2 mails via a pooled nodemailer transport', async () => {
    await Promise.all([
      transport.sendMail({
        from: 'klagomal@example.com',
        to: ['kund@example.se', 'kopia@example.se'],
        subject: 'Bekräftelse: ärende KL-2025-0001',
        text: 'Vi har tagit emot ert klagomål.',
        messageId: '<ack-1@example.com>',
        headers: { 'X-Klagomal-Case': 'KL-2025-0001' },
      }),
      transport.sendMail({
        from: 'klagomal@example.com',
        to: 'annan@example.se',
        subject: 'Plain subject',
        text: 'Hej',
      }),
    ]);
    const got = await rx.waitFor(2, 3000);
    expect(got).toHaveLength(2);
    const ack = got.find((m) => m.messageId === '<ack-1@example.com>');
    expect(ack).toBeDefined();
    expect(ack?.subject).toBe('Bekräftelse: ärende KL-2025-0001');
    expect(ack?.from).toBe('klagomal@example.com');
    expect(ack?.to).toEqual(['kund@example.se', 'kopia@example.se']);
    expect(ack?.headers.get('x-klagomal-case')).toBe('KL-2025-0001');
    expect(ack?.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(ack?.raw.toString('utf8')).toContain('\r\n\r\n');
    expect(got.find((m) => m.subject === 'Plain subject')?.to).toEqual(['annan@example.se']);
  });

  test('rejectNext: 451 at DATA and 550 at RCPT surface as nodemailer responseCode', async () => {
    rx.rejectNext(1, 451, 'Try again later');
    await expect(transport.sendMail({ from: 'klagomal@example.com', to: 'kund@example.se', subject: 'temp fail', text: 'x' })).rejects.toMatchObject({
      responseCode: 451,
    });

    rx.rejectNext(1, 550, 'No such user', 'rcpt');
    await expect(transport.sendMail({ from: 'klagomal@example.com', to: 'nobody@example.se', subject: 'perm fail', text: 'x' })).rejects.toMatchObject({
      responseCode: 550,
    });

    rx.rejectNext(1, 550, 'Content rejected');
    await expect(transport.sendMail({ from: 'klagomal@example.com', to: 'kund@example.se', subject: 'perm fail data', text: 'x' })).rejects.toMatchObject({
      responseCode: 550,
    });

    expect(rx.rejectedCount).toBe(3);
    expect(rx.messages).toHaveLength(2);
    // the pool is still usable after rejections
    await transport.sendMail({ from: 'klagomal@example.com', to: 'kund@example.se', subject: 'after', text: 'ok' });
    expect((await rx.waitFor(3, 2000)).map((m) => m.subject)).toContain('after');
  });

  test('waitFor times out with a clear message', async () => {
    const t0 = Date.now();
    await expect(rx.waitFor(10, 200)).rejects.toThrow(/timed out after 200 ms waiting for 10 message\(s\); received 3/);
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});
