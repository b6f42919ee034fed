/**
 * A final answer, a request for information and a delay notice go to the customer with a copy
 * (Cc) to the customer's representative (src/reply/transport.ts, mailOptions). nodemailer fails
 * a send only when every recipient is refused: a refused customer with an accepted Cc came back
 * as a success and was recorded as sent (and the final answer's milestone met). Held here on
 * the main thread's SMTP transport and on the transport thread (the compiled worker: `npm test`
 * builds dist/ first), against a real SMTP receiver that refuses at RCPT TO.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase } from '../../src/store/db';
import { Store } from '../../src/store/store';
import type { OutboxRow } from '../../src/store/store';
import { parseConfig } from '../../src/config/load';
import { OutboxSender } from '../../src/reply/outbox-sender';
import { createTransport, Transport } from '../../src/reply/transport';
import { silentLogger } from '../../src/util/log';
import { startSmtpReceiver } from '../support/smtp';

// The thread's errors are the compiled SendError: the sender that classifies them is the compiled one too.
const compiled = (file: string): unknown => require(path.join(__dirname, '..', '..', 'dist', 'src', 'reply', file)); // eslint-disable-line @typescript-eslint/no-require-imports
const { threadedTransport } = compiled('transport-thread.js') as typeof import('../../src/reply/transport-thread');
const { OutboxSender: CompiledSender } = compiled('outbox-sender.js') as typeof import('../../src/reply/outbox-sender');

const CUSTOMER = 'kund@example.com';
const REPRESENTATIVE = 'ombud@advokat.se';

/** A store, a sender on the main thread's SMTP transport or on the transport thread, and a real SMTP receiver. */
async function senderWorld(threaded: boolean) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-cc-'));
  const db = openDatabase(path.join(dir, 'klagomal.db'));
  const store = new Store(db);
  const smtp = await startSmtpReceiver();
  const config = parseConfig(
    {
      firm: { name: 'Testfinans AB', complaintsAddress: 'klagomal@testfinans.se' },
      sources: [{ type: 'maildir', path: 'maildir' }],
      deadlines: { escalation: { enabled: false } },
      transport: { type: 'smtp', host: '127.0.0.1', port: smtp.port, tls: 'none', maxConnections: 1 },
    },
    path.join(dir, 'config.json'),
  );
  const transport: Transport = threaded ? threadedTransport(config.transport)! : createTransport(config.transport);
  const metBySending: number[] = [];
  // The sender's clock: now, moved on by `later` (a retry comes due without waiting).
  let offsetMs = 0;
  const later = (ms: number): void => {
    offsetMs += ms;
  };
  const sender = new (threaded ? CompiledSender : OutboxSender)(
    store,
    transport,
    config,
    () => new Date(Date.now() + offsetMs),
    silentLogger,
    (row: OutboxRow) => metBySending.push(row.id),
  );
  let n = 0;
  /** A mail to `toAddress`, with a copy to the representative when `kind` is a final answer. */
  const enqueue = (toAddress = CUSTOMER, kind: 'final-answer' | 'acknowledgement' | 'officer-new-case' = 'final-answer'): number => {
    n++;
    const at = new Date().toISOString();
    return store.enqueue({
      caseId: null,
      kind,
      idempotencyKey: `cc:${n}`,
      template: kind,
      language: 'sv',
      templateVersion: 'v1',
      fromAddress: 'klagomal@testfinans.se',
      fromName: 'Testfinans AB',
      toAddress,
      subject: 'Svar på ditt klagomål',
      messageId: `answer-${n}@testfinans.se`,
      inReplyTo: null,
      references: [],
      headers: kind === 'final-answer' ? { 'Auto-Submitted': 'auto-generated', Cc: REPRESENTATIVE } : { 'Auto-Submitted': 'auto-replied' },
      bodyText: 'Vårt svar.',
      bodyHtml: null,
      dateHeader: at,
      createdAt: at,
    })!;
  };
  const cleanup = async (): Promise<void> => {
    transport.close();
    await smtp.close();
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  return { db, store, smtp, sender, metBySending, enqueue, later, cleanup, label: threaded ? 'thread' : 'main thread' };
}

describe('a mail with a copy to the representative', () => {
  test('customerRefusedAtRcptWhileCcAcceptedRecordedAsSent', async () => {
    for (const threaded of [false, true]) {
      const { db, store, smtp, sender, metBySending, enqueue: finalAnswer, cleanup, label } = await senderWorld(threaded);
      try {
        // The customer's address refused for good (550), the representative's copy accepted.
        const refused = finalAnswer();
        smtp.rejectNext(1, 550, '5.1.1 <kund@example.com>: Recipient address rejected: no such user', 'rcpt');
        expect({ label, result: await sender.sendDue() }).toEqual({ label, result: { sent: 0, retried: 0, failed: 1 } });
        expect(store.outboxRow(refused)).toMatchObject({ status: 'failed', sent_at: null, last_error: expect.stringMatching(/^550 5\.1\.1/) });

        // Greylisted (451): tried again later, not sent.
        const greylisted = finalAnswer();
        smtp.rejectNext(1, 451, '4.7.1 <kund@example.com>: greylisted, try again later', 'rcpt');
        expect({ label, result: await sender.sendDue() }).toEqual({ label, result: { sent: 0, retried: 1, failed: 0 } });
        expect(store.outboxRow(greylisted)).toMatchObject({ status: 'queued', sent_at: null, last_error: expect.stringMatching(/^451 4\.7\.1/) });

        // Only the representative's copy refused: the customer has the mail, so it is sent, and
        // the refusal is on record with the attempt and the mail-sent event.
        smtp.refuseRecipient(REPRESENTATIVE, 550, '5.1.1 <ombud@advokat.se>: no such user');
        const copyRefused = finalAnswer('kund2@example.com');
        expect({ label, result: await sender.sendDue() }).toEqual({ label, result: { sent: 1, retried: 0, failed: 0 } });
        const sent = store.outboxRow(copyRefused)!;
        expect(sent.status).toBe('sent');
        expect(sent.transport_response).toMatch(/; copy refused: ombud@advokat\.se: 550 5\.1\.1/);
        expect(store.outboxAttempts(copyRefused)).toEqual([
          expect.objectContaining({ outcome: 'sent', response: expect.stringMatching(/copy refused: ombud@advokat\.se: 550/) }),
        ]);
        const event = db.prepare("SELECT detail FROM events WHERE outbox_id = ? AND type = 'mail-sent'").get(copyRefused) as { detail: string };
        expect(JSON.parse(event.detail).copyRefused).toEqual([expect.stringMatching(/^ombud@advokat\.se: 550 5\.1\.1/)]);

        // Only the mail the customer received met its milestone.
        expect({ label, met: metBySending }).toEqual({ label, met: [copyRefused] });
        // What the receiver took: the first two only for the representative, the third only for the customer.
        await smtp.waitFor(3);
        expect(smtp.messages.map((m) => m.to)).toEqual([[REPRESENTATIVE], [REPRESENTATIVE], ['kund2@example.com']]);
      } finally {
        await cleanup();
      }
    }
  });

  test('customerRefusedForGoodAtSendStillGetsAutomaticMail: the address is marked failing, as after a permanent bounce', async () => {
    for (const threaded of [false, true]) {
      const { db, store, smtp, sender, enqueue, cleanup, label } = await senderWorld(threaded);
      try {
        const failing = (address: string): string | null => store.addressFailingUntil(address, new Date().toISOString() as never);
        const failingEvents = (id: number): number =>
          (db.prepare("SELECT COUNT(*) AS n FROM events WHERE outbox_id = ? AND type = 'address-failing'").get(id) as { n: number }).n;
        // A mail to the customer alone, refused at RCPT TO for good.
        const alone = enqueue('ensam@example.com', 'acknowledgement');
        smtp.rejectNext(1, 550, '5.1.1 <ensam@example.com>: Recipient address rejected: no such user', 'rcpt');
        expect({ label, result: await sender.sendDue() }).toEqual({ label, result: { sent: 0, retried: 0, failed: 1 } });
        expect({ label, failing: failing('ensam@example.com') !== null, events: failingEvents(alone) }).toEqual({ label, failing: true, events: 1 });
        // The customer refused while the copy was taken.
        const withCopy = enqueue(CUSTOMER);
        smtp.rejectNext(1, 550, '5.1.1 <kund@example.com>: no such user', 'rcpt');
        expect({ label, result: await sender.sendDue() }).toEqual({ label, result: { sent: 0, retried: 0, failed: 1 } });
        expect({ label, failing: failing(CUSTOMER) !== null, events: failingEvents(withCopy) }).toEqual({ label, failing: true, events: 1 });
        // Greylisted (451), or the mail itself refused (552 at DATA): the address is not at fault.
        const grey = enqueue('grey@example.com', 'acknowledgement');
        smtp.rejectNext(1, 451, '4.7.1 greylisted', 'rcpt');
        const big = enqueue('stor@example.com', 'acknowledgement');
        smtp.rejectNext(1, 552, '5.3.4 message too big', 'data');
        expect({ label, result: await sender.sendDue() }).toEqual({ label, result: { sent: 0, retried: 1, failed: 1 } });
        expect({ label, grey: failing('grey@example.com'), big: failing('stor@example.com'), events: failingEvents(grey) + failingEvents(big) }).toEqual({
          label,
          grey: null,
          big: null,
          events: 0,
        });
        // A null MX (5.1.10) says the address cannot take mail either.
        const nullMx = enqueue('nullmx@example.com', 'acknowledgement');
        smtp.rejectNext(1, 550, '5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup', 'rcpt');
        expect({ label, result: await sender.sendDue() }).toEqual({ label, result: { sent: 0, retried: 0, failed: 1 } });
        expect({ label, failing: failing('nullmx@example.com') !== null, events: failingEvents(nullMx) }).toEqual({ label, failing: true, events: 1 });
      } finally {
        await cleanup();
      }
    }
  });

  test("policyRefusalAtRcptMarkedTheCustomerFailing: only a refusal of the address itself (5.1.x) marks it, and only a customer's", async () => {
    for (const threaded of [false, true]) {
      const { db, store, smtp, sender, enqueue, cleanup, label } = await senderWorld(threaded);
      try {
        const failing = (address: string): string | null => store.addressFailingUntil(address, new Date().toISOString() as never);
        const failingEvents = (): number => (db.prepare("SELECT COUNT(*) AS n FROM events WHERE type = 'address-failing'").get() as { n: number }).n;
        // Refusals at RCPT TO that say nothing about the customer's address: the server's policy
        // about us (relay, sender, client host, authentication), a full mailbox, no enhanced code.
        const refusals: Array<[number, string]> = [
          [553, '5.7.1 <klagomal@testfinans.se>: Sender address rejected: not owned by user'],
          [554, '5.7.1 <unknown[192.0.2.1]>: Client host rejected: Access denied'],
          [550, '5.7.54 SMTP; Unable to relay recipient in non-accepted domain'],
          [530, '5.7.0 Authentication required'],
          [552, '5.2.2 <c@example.com>: mailbox full'],
          [550, 'Requested action not taken: mailbox unavailable'],
        ];
        const addresses = refusals.map((_, i) => `policy${i}@example.com`);
        for (const [i, [code, message]] of refusals.entries()) {
          enqueue(addresses[i], 'acknowledgement');
          smtp.rejectNext(1, code, message, 'rcpt');
          expect({ label, code, message, result: await sender.sendDue() }).toEqual({ label, code, message, result: { sent: 0, retried: 0, failed: 1 } });
        }
        // The customer refused by policy while the representative's copy was taken.
        const withCopy = enqueue(CUSTOMER);
        smtp.rejectNext(1, 550, '5.7.1 <kund@example.com>: Relay access denied', 'rcpt');
        expect({ label, result: await sender.sendDue() }).toEqual({ label, result: { sent: 0, retried: 0, failed: 1 } });
        expect(store.outboxRow(withCopy)).toMatchObject({ status: 'failed', last_error: expect.stringMatching(/^550 5\.7\.1/) });
        // An officer's notification refused as no such user: staff, not a customer.
        enqueue('olle@testfinans.se', 'officer-new-case');
        smtp.rejectNext(1, 550, '5.1.1 <olle@testfinans.se>: Recipient address rejected: User unknown', 'rcpt');
        expect({ label, result: await sender.sendDue() }).toEqual({ label, result: { sent: 0, retried: 0, failed: 1 } });
        // Both refused: the customer by policy, the copy as no such user. The customer's own reply counts.
        smtp.refuseRecipient(REPRESENTATIVE, 550, '5.1.1 <ombud@advokat.se>: Recipient address rejected: User unknown');
        const both = enqueue('kund3@example.com');
        smtp.rejectNext(1, 554, '5.7.1 <kund3@example.com>: Relay access denied', 'rcpt');
        expect({ label, result: await sender.sendDue() }).toEqual({ label, result: { sent: 0, retried: 0, failed: 1 } });

        const marked = [...addresses, CUSTOMER, 'olle@testfinans.se', 'kund3@example.com'].filter((a) => failing(a) !== null);
        expect({ label, marked, events: failingEvents() }).toEqual({ label, marked: [], events: 0 });
        // The failure of the mail refused to both is told in the customer's own reply.
        expect(store.outboxRow(both)).toMatchObject({ status: 'failed', last_error: expect.stringMatching(/^554 5\.7\.1/) });
      } finally {
        await cleanup();
      }
    }
  });

  test('representativeGotACopyAtEveryRetry: once the copy is taken, later attempts go to the customer alone', async () => {
    for (const threaded of [false, true]) {
      const { db, store, smtp, sender, enqueue: finalAnswer, later, cleanup, label } = await senderWorld(threaded);
      try {
        const id = finalAnswer();
        // The next attempt, an hour on (past any retry delay of outbox.retryMaxSeconds).
        const pass = (): Promise<unknown> => {
          later(3_600_000);
          return sender.sendDue();
        };
        // The customer's mailbox is full (452) twice, while the representative's copy is taken.
        smtp.rejectNext(1, 452, '4.2.2 <kund@example.com>: mailbox full', 'rcpt');
        expect({ label, result: await sender.sendDue() }).toEqual({ label, result: { sent: 0, retried: 1, failed: 0 } });
        smtp.rejectNext(1, 452, '4.2.2 <kund@example.com>: mailbox full', 'rcpt');
        expect({ label, result: await pass() }).toEqual({ label, result: { sent: 0, retried: 1, failed: 0 } });
        // Then the customer's server takes it.
        expect({ label, result: await pass() }).toEqual({ label, result: { sent: 1, retried: 0, failed: 0 } });
        const got = await smtp.waitFor(2);
        // One copy for the representative, then the mail for the customer alone: the same
        // message (Message-ID, Cc header, bytes), only the envelope without the copy.
        expect({ label, to: got.map((m) => m.to) }).toEqual({ label, to: [[REPRESENTATIVE], [CUSTOMER]] });
        expect(got[1].headers.get('cc')).toBe(REPRESENTATIVE);
        expect(got[1].messageId).toBe(got[0].messageId);
        expect(got[1].raw.equals(got[0].raw)).toBe(true);
        // The copy taken is on record with the mail and with the attempt that took it.
        expect(store.outboxRow(id)).toMatchObject({ status: 'sent', attempts: 3, copies_accepted: JSON.stringify([REPRESENTATIVE]) });
        const retries = db.prepare("SELECT detail FROM events WHERE outbox_id = ? AND type = 'mail-send-retry' ORDER BY id").all(id) as Array<{
          detail: string;
        }>;
        expect(retries.map((r) => JSON.parse(r.detail).copyAccepted)).toEqual([[REPRESENTATIVE], undefined]);
      } finally {
        await cleanup();
      }
    }
  });
});
