/**
 * The transport on its own thread (src/reply/transport-thread.ts, issue 16): what leaves is the
 * same mail the main thread would have composed, a refusal keeps its classification across
 * the thread, and a thread that dies fails its sends as temporary and is started again. The
 * worker is the compiled one (`npm test` builds dist/ first): run from the TypeScript sources,
 * klagomal sends on the main thread.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import type { OutboxAttachmentRow, OutboxRow } from '../../src/store/store';
import type { TransportConfig } from '../../src/config/config';
import { composeMime, pickupFileName } from '../../src/reply/transport';
import { startSmtpReceiver, SmtpReceiver } from '../support/smtp';
import { startSlowSmtpReceiver } from '../support/slow-smtp';
import { waitFor } from '../support/world';

type ThreadModule = typeof import('../../src/reply/transport-thread');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { threadedTransport } = require(path.join(__dirname, '..', '..', 'dist', 'src', 'reply', 'transport-thread.js')) as ThreadModule;

const NOW = '2026-11-19T09:00:00.000Z';

function row(id: number, extra: Partial<OutboxRow> = {}): OutboxRow {
  return {
    id,
    case_id: null,
    kind: 'officer-new-case',
    idempotency_key: `thread:${id}`,
    template: 'officer-new-case',
    language: 'sv',
    template_version: 'v1',
    from_address: 'klagomal@testfinans.se',
    from_name: 'Testfinans AB',
    to_address: `handlaggare${id}@testfinans.se`,
    subject: `Nytt klagomål KLG-2026-00000${id} – räntan`,
    message_id: `notify-${id}@testfinans.se`,
    in_reply_to: null,
    refs: '[]',
    headers: JSON.stringify({ 'Auto-Submitted': 'auto-generated' }),
    body_text: 'Ett nytt klagomål har kommit in.\nÅ Ä Ö',
    body_html: '<p>Ett nytt klagomål har kommit in.</p>',
    date_header: NOW,
    status: 'sending',
    attempts: 1,
    next_attempt_at: NOW,
    last_error: null,
    created_at: NOW,
    sent_at: null,
    transport_response: null,
    retry_from: null,
    attach_inbound_id: 7,
    copies_accepted: null,
    ...extra,
  };
}

const ORIGINAL = Buffer.from(
  'From: kund@example.com\r\nTo: klagomal@testfinans.se\r\nSubject: Klagomal\r\nMessage-ID: <k1@example.com>\r\n\r\nJag klagar.\r\n',
);
const FILES: OutboxAttachmentRow[] = [
  { outbox_id: 1, position: 0, filename: 'register.csv', content_type: 'text/csv', cid: null, size: 8, sha256: 'x', content: Buffer.from('a;b\r\n1;2\r\n') },
];

let smtp: SmtpReceiver | null = null;
let dir: string | null = null;
afterEach(async () => {
  await smtp?.close();
  smtp = null;
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  dir = null;
});

function smtpConfig(port: number): TransportConfig {
  return { type: 'smtp', host: '127.0.0.1', port, tls: 'none', tlsRejectUnauthorized: true, user: null, passwordEnv: null, auth: null, maxConnections: 2 };
}

describe('the transport thread', () => {
  test('mailComposedOnTheThreadDiffersFromTheMainThreads', async () => {
    smtp = await startSmtpReceiver();
    const transport = threadedTransport(smtpConfig(smtp.port));
    expect(transport).not.toBeNull();
    try {
      const r = await transport!.send(row(1), ORIGINAL, FILES);
      expect(r.response).toMatch(/^250/);
      const [got] = await smtp.waitFor(1);
      const [viaThread, here] = await Promise.all([simpleParser(got.raw), simpleParser(await composeMime(row(1), ORIGINAL, FILES))]);
      expect(viaThread.messageId).toBe('<notify-1@testfinans.se>');
      expect(viaThread.subject).toBe(here.subject);
      expect(viaThread.text).toBe(here.text);
      expect(viaThread.html).toBe(here.html);
      expect(viaThread.headers.get('auto-submitted')).toBe('auto-generated');
      expect(viaThread.attachments.map((a) => [a.filename, a.contentType, a.content.toString('base64')])).toEqual(
        here.attachments.map((a) => [a.filename, a.contentType, a.content.toString('base64')]),
      );
      // The original arrived whole (a Buffer crosses to the thread as a Uint8Array).
      expect(viaThread.attachments[0].content.equals(ORIGINAL)).toBe(true);
    } finally {
      transport!.close();
    }
  });

  test('refusalOnTheThreadLosesItsClassification', async () => {
    smtp = await startSmtpReceiver();
    const transport = threadedTransport(smtpConfig(smtp.port))!;
    try {
      smtp.rejectNext(1, 550, '5.1.1 no such user', 'rcpt');
      await expect(transport.send(row(2))).rejects.toMatchObject({ name: 'SendError', temporary: false, responseCode: 550 });
      smtp.rejectNext(1, 451, '4.3.0 try later');
      await expect(transport.send(row(3))).rejects.toMatchObject({ name: 'SendError', temporary: true, responseCode: 451 });
      // The thread goes on after refusals.
      await expect(transport.send(row(4))).resolves.toMatchObject({ response: expect.stringMatching(/^250/) });
    } finally {
      transport.close();
    }
    // Nothing listens here: a temporary error, as on the main thread.
    const closed = threadedTransport(smtpConfig(1))!;
    try {
      await expect(closed.send(row(5))).rejects.toMatchObject({ name: 'SendError', temporary: true });
    } finally {
      closed.close();
    }
  });

  test('pickupOnTheThreadWritesTheFileOfTheMainThread', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-thread-'));
    const transport = threadedTransport({ type: 'pickup', path: dir })!;
    try {
      await transport.verify();
      const r = await transport.send(row(6), ORIGINAL);
      const file = path.join(dir, pickupFileName(row(6)));
      expect(r.response).toBe(`written to ${file}`);
      const parsed = await simpleParser(fs.readFileSync(file));
      expect(parsed.messageId).toBe('<notify-6@testfinans.se>');
      expect(parsed.attachments[0].content.equals(ORIGINAL)).toBe(true);
    } finally {
      transport.close();
    }
  });

  test('oauth2TransportsRunOnTheThreadWithoutTheirTokenRecords', () => {
    // Their logins share the token cache and record token events in the store: main thread.
    const oauth = { provider: 'microsoft', tenantId: 't', clientId: 'c' } as never;
    expect(threadedTransport({ ...smtpConfig(25), user: 'klagomal@testfinans.se', auth: oauth } as TransportConfig)).toBeNull();
    expect(threadedTransport({ type: 'graph', user: 'klagomal@testfinans.se', auth: oauth, endpoint: 'http://127.0.0.1:1' } as never)).toBeNull();
  });

  test('threadThatDiedLeavesItsSendsWaitingForever', async () => {
    // A server that never answers the mail: the send is in flight when the thread ends.
    const slow = await startSlowSmtpReceiver({ delayMs: 60_000 });
    const transport = threadedTransport(smtpConfig(slow.port))!;
    try {
      const inFlight = transport.send(row(7));
      await waitFor('the mail on the wire', () => slow.dataStarted >= 1, 10_000, 20);
      expect(slow.dataStarted).toBe(1);
      // What an out-of-memory or native crash of the thread would do.
      await (transport as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
      // In doubt: the server may have taken it (the sender then records nothing; its lease decides).
      await expect(inFlight).rejects.toMatchObject({ name: 'SendError', inDoubt: true, message: expect.stringContaining('the transport thread stopped') });
      // The next send starts a new thread.
      slow.delayMs = 0;
      await expect(transport.send(row(8))).resolves.toMatchObject({ response: expect.stringMatching(/^250/) });
    } finally {
      transport.close();
      await slow.close();
    }
  });

  test('closeCutsOffTheSendInFlightAndLaterSendsHang', async () => {
    // A stop closes the transport while a send is out: it finishes first (the server's answer
    // is recorded, not lost to a cut connection), and a send after the close starts a new thread.
    const slow = await startSlowSmtpReceiver({ delayMs: 700 });
    const transport = threadedTransport(smtpConfig(slow.port))!;
    try {
      const inFlight = transport.send(row(9));
      await waitFor('the mail on the wire', () => slow.dataStarted >= 1, 10_000, 20);
      transport.close();
      await expect(inFlight).resolves.toMatchObject({ response: expect.stringMatching(/^250/) });
      slow.delayMs = 0;
      await expect(transport.send(row(10))).resolves.toMatchObject({ response: expect.stringMatching(/^250/) });
      expect(slow.messages.map((m) => m.messageId)).toEqual(['<notify-9@testfinans.se>', '<notify-10@testfinans.se>']);
    } finally {
      transport.close();
      await slow.close();
    }
  });
});
