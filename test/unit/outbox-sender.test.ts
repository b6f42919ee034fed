/**
 * The outbox sender's order of commits (src/reply/outbox-sender.ts), seen from a second
 * connection to the database file, as a process started after a crash would see it: each
 * mail's claim and attempt row are committed before its bytes go to the transport, and a
 * mail's result is committed before the same worker hands the next mail over. Since issue 16 a
 * result and the next claim share one commit; these tests hold the rules that must survive it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase, DB } from '../../src/store/db';
import { Store } from '../../src/store/store';
import type { NewOutbox, OutboxRow } from '../../src/store/store';
import { parseConfig } from '../../src/config/load';
import type { Config } from '../../src/config/config';
import { OutboxSender } from '../../src/reply/outbox-sender';
import { badAddressReply, SendError, Transport } from '../../src/reply/transport';
import { silentLogger } from '../../src/util/log';

let dir: string;
let db: DB;
let store: Store;
let observer: DB;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-sender-'));
  db = openDatabase(path.join(dir, 'klagomal.db'));
  store = new Store(db);
  observer = openDatabase(path.join(dir, 'klagomal.db'), { readonly: true });
});
afterEach(() => {
  observer.close();
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function config(): Config {
  return parseConfig(
    {
      firm: { name: 'Testfinans AB', complaintsAddress: 'klagomal@testfinans.se' },
      sources: [{ type: 'maildir', path: 'maildir' }],
      deadlines: { escalation: { enabled: false } },
    },
    path.join(dir, 'config.json'),
  );
}

const NOW = new Date('2026-11-19T09:00:00Z');

function queue(n: number): number[] {
  const ids: number[] = [];
  for (let i = 0; i < n; i++) {
    const o: NewOutbox = {
      caseId: null,
      kind: 'acknowledgement',
      idempotencyKey: `test:${i}`,
      template: 'acknowledgement',
      language: 'sv',
      templateVersion: 'v1',
      fromAddress: 'klagomal@testfinans.se',
      fromName: 'Testfinans AB',
      toAddress: `kund${i}@example.com`,
      subject: `Kvittens ${i}`,
      messageId: `ack-${i}@testfinans.se`,
      inReplyTo: null,
      references: [],
      headers: {},
      bodyText: 'Tack.',
      bodyHtml: null,
      dateHeader: NOW.toISOString(),
      createdAt: NOW.toISOString(),
    };
    ids.push(store.enqueue(o)!);
  }
  return ids;
}

/** What another process sees now: each mail's status, attempts and attempt rows. */
function seen(id: number): { status: string; attempts: number; attemptRows: number; finished: number } {
  const row = observer.prepare('SELECT status, attempts FROM outbox WHERE id = ?').get(id) as { status: string; attempts: number };
  const a = observer.prepare('SELECT COUNT(*) AS n, COUNT(finished_at) AS f FROM outbox_attempts WHERE outbox_id = ?').get(id) as { n: number; f: number };
  return { ...row, attemptRows: a.n, finished: a.f };
}

/** A transport that records what a second connection saw at the moment each mail was handed to it. */
function watchingTransport(ids: number[], fail: (row: OutboxRow) => SendError | null = () => null): Transport & { log: string[] } {
  const log: string[] = [];
  return {
    name: 'watching',
    log,
    async verify() {},
    close() {},
    async send(row: OutboxRow) {
      const mine = seen(row.id);
      log.push(`send ${row.id}: ${mine.status} attempts ${mine.attempts} rows ${mine.attemptRows}`);
      // Every mail handed over before this one (one worker: in order) has its result on disk.
      for (const id of ids.filter((x) => x < row.id)) {
        const s = seen(id);
        if (s.status === 'sending' || s.finished !== s.attemptRows) log.push(`  ${id} not recorded: ${s.status}`);
      }
      await new Promise((r) => setImmediate(r));
      const err = fail(row);
      if (err) throw err;
      return { response: '250 2.0.0 OK' };
    },
  };
}

/**
 * The watching transport, with sends that report in groups of three at the same moment (the
 * last group when the last mail is out), as they do when the main thread was busy filing.
 */
function reportingInThrees(ids: number[]): Transport & { log: string[] } {
  const inner = watchingTransport(ids);
  const waiting: Array<() => void> = [];
  return {
    ...inner,
    async send(row: OutboxRow) {
      const r = await inner.send(row);
      await new Promise<void>((resolve) => {
        waiting.push(resolve);
        if (waiting.length === 3 || row.id === ids[ids.length - 1]) for (const go of waiting.splice(0)) go();
      });
      return r;
    },
  };
}

describe('outbox sender commits', () => {
  test('mailSentBeforeItsClaimIsCommitted', async () => {
    const ids = queue(6);
    const transport = watchingTransport(ids);
    const sender = new OutboxSender(store, transport, config(), () => NOW, silentLogger, undefined, 1);
    const r = await sender.sendDue();
    expect(r).toEqual({ sent: 6, retried: 0, failed: 0 });
    // Each mail was 'sending', attempt 1, with its attempt row, in a committed state, before it went out; nothing unrecorded before it.
    expect(transport.log).toEqual(ids.map((id) => `send ${id}: sending attempts 1 rows 1`));
    for (const id of ids) expect(seen(id)).toEqual({ status: 'sent', attempts: 1, attemptRows: 1, finished: 1 });
  });

  test('failedResultLostWhenTheNextClaimSharesItsCommit', async () => {
    // A temporary failure, then a permanent one, then a success: each result is committed with
    // the claim of the next mail, and each event names its own mail.
    const ids = queue(3);
    const transport = watchingTransport(ids, (row) =>
      row.id === ids[0] ? new SendError('451 4.3.0 try later', true, 451) : row.id === ids[1] ? new SendError('550 5.1.1 no such user', false, 550) : null,
    );
    const sender = new OutboxSender(store, transport, config(), () => NOW, silentLogger, undefined, 1);
    expect(await sender.sendDue()).toEqual({ sent: 1, retried: 1, failed: 1 });
    expect(transport.log).toEqual(ids.map((id) => `send ${id}: sending attempts 1 rows 1`));
    expect(seen(ids[0])).toMatchObject({ status: 'queued', attempts: 1, finished: 1 });
    expect(seen(ids[1])).toMatchObject({ status: 'failed', attempts: 1, finished: 1 });
    expect(seen(ids[2])).toMatchObject({ status: 'sent', attempts: 1, finished: 1 });
    const events = observer.prepare('SELECT outbox_id, type FROM events WHERE outbox_id IS NOT NULL ORDER BY id').all();
    expect(events).toEqual([
      { outbox_id: ids[0], type: 'mail-send-retry' },
      { outbox_id: ids[1], type: 'mail-send-failed' },
      { outbox_id: ids[2], type: 'mail-sent' },
    ]);
  });

  test('stoppedSenderClaimsAnotherMail', async () => {
    // A stop while a mail is out: its result is recorded, and no further mail is claimed (it would sit 'sending' until its lease ran out).
    const ids = queue(4);
    const stop = new AbortController();
    const transport = watchingTransport(ids);
    const send = transport.send.bind(transport);
    transport.send = async (row) => {
      if (row.id === ids[1]) stop.abort();
      return send(row);
    };
    const sender = new OutboxSender(store, transport, config(), () => NOW, silentLogger, undefined, 1);
    expect(await sender.sendDue(stop.signal)).toEqual({ sent: 2, retried: 0, failed: 0 });
    expect(ids.map((id) => seen(id).status)).toEqual(['sent', 'sent', 'queued', 'queued']);
    expect(seen(ids[2]).attemptRows).toBe(0);
  });

  test('resultsThatComeBackTogetherEachCommittedAlone', async () => {
    // Three connections whose sends all report at the same moment (as they do when the main
    // thread was busy filing): their results, and the next claims, share one commit.
    const ids = queue(6);
    const transport = reportingInThrees(ids);
    const commits = jest.spyOn(store, 'txRelaxed');
    const sender = new OutboxSender(store, transport, config(), () => NOW, silentLogger, undefined, 3);
    expect(await sender.sendDue()).toEqual({ sent: 6, retried: 0, failed: 0 });
    // The three first claims; three results with the next three claims; the last three results.
    expect(commits).toHaveBeenCalledTimes(3);
    // Each claim was still on disk before its mail went out (three workers: the mails before
    // it may be out too, so only each mail's own state counts here).
    expect(transport.log.filter((l) => l.startsWith('send'))).toEqual(ids.map((id) => `send ${id}: sending attempts 1 rows 1`));
    for (const id of ids) expect(seen(id)).toEqual({ status: 'sent', attempts: 1, attemptRows: 1, finished: 1 });
  });

  test('resultThatCannotBeRecordedUndoesOthersInItsCommit', async () => {
    // Recording one mail's result throws (here: the milestone hook); the results committed with
    // it stand, and the one that failed stays 'sending' until its lease, without its event.
    const ids = queue(3);
    const transport = reportingInThrees(ids);
    const afterSent = (row: OutboxRow): void => {
      if (row.id === ids[1]) throw new Error('disk I/O error');
    };
    const sender = new OutboxSender(store, transport, config(), () => NOW, silentLogger, afterSent, 3);
    await expect(sender.sendDue()).rejects.toThrow('disk I/O error');
    expect(ids.map((id) => seen(id).status)).toEqual(['sent', 'sending', 'sent']);
    const sent = observer.prepare("SELECT outbox_id FROM events WHERE type = 'mail-sent' ORDER BY outbox_id").all();
    expect(sent).toEqual([{ outbox_id: ids[0] }, { outbox_id: ids[2] }]);
  });

  test('mailWaitingInTheTransportQueueLeasedForOneSendOnly', async () => {
    // A transport that queues is handed four mails per connection at once; the lease of each
    // covers the wait for the three before it, so that no other sender takes it meanwhile.
    const ids = queue(2);
    const inner = watchingTransport(ids);
    const leases: number[] = [];
    const transport: Transport = {
      ...inner,
      queues: true,
      async send(row: OutboxRow) {
        const { next_attempt_at } = observer.prepare('SELECT next_attempt_at FROM outbox WHERE id = ?').get(row.id) as { next_attempt_at: string };
        leases.push((new Date(next_attempt_at).getTime() - NOW.getTime()) / 1000);
        return inner.send(row);
      },
    };
    const sender = new OutboxSender(store, transport, config(), () => NOW, silentLogger, undefined, 1);
    expect(await sender.sendDue()).toEqual({ sent: 2, retried: 0, failed: 0 });
    expect(leases).toEqual([4 * 120, 4 * 120]); // outbox.sendTimeoutSeconds 120 by default
  });

  test('groupRolledBackByTheDiskCommitsItsLaterResultsAlone', async () => {
    // SQLite rolls back the whole transaction (a full disk, an I/O error) while the second of
    // three results that came back together is recorded: none of them is on disk, and the third
    // must not be recorded in a transaction of its own after the group's was gone.
    const ids = queue(3);
    const transport = reportingInThrees(ids);
    const afterSent = (row: OutboxRow): void => {
      if (row.id === ids[1]) db.exec('ROLLBACK'); // what SQLite does itself on SQLITE_FULL
    };
    const sender = new OutboxSender(store, transport, config(), () => NOW, silentLogger, afterSent, 3);
    // Not `rejects.toThrow()`: better-sqlite3's error class comes from the realm that first loaded
    // the native module, which in a jest worker that ran other files is not this file's `Error`.
    const failure = await sender.sendDue().then(
      () => 'resolved',
      (err: unknown) => String(err),
    );
    expect(failure).toMatch(/savepoint/); // the group's savepoint went with the transaction
    expect(ids.map((id) => seen(id).status)).toEqual(['sending', 'sending', 'sending']);
    expect(observer.prepare("SELECT COUNT(*) AS n FROM events WHERE type = 'mail-sent'").get()).toEqual({ n: 0 });
  });

  test('mailInDoubtRecordedAsRetriedAndSentAgainSoon', async () => {
    // The transport's thread died while a mail was out: whether the server took it is unknown.
    // Nothing is recorded; it stays claimed until its lease runs out, as after a crash.
    const ids = queue(2);
    const transport = watchingTransport(ids, (row) =>
      row.id === ids[0] ? new SendError('the transport thread stopped: exit code 1', true, undefined, true) : null,
    );
    const sender = new OutboxSender(store, transport, config(), () => NOW, silentLogger, undefined, 1);
    expect(await sender.sendDue()).toEqual({ sent: 1, retried: 1, failed: 0 });
    expect(seen(ids[0])).toEqual({ status: 'sending', attempts: 1, attemptRows: 1, finished: 0 });
    expect(seen(ids[1])).toEqual({ status: 'sent', attempts: 1, attemptRows: 1, finished: 1 });
    expect(observer.prepare('SELECT type FROM events WHERE outbox_id = ?').all(ids[0])).toEqual([]);
  });

  test('mailAlwaysInDoubtNeverGivenUp', async () => {
    // A mail that kills the transport's thread every time it is sent: each send ends in doubt.
    // It backs off like a failing mail and, past outbox.giveUpAfterHours, is reported failed.
    const [id] = queue(1);
    const transport = watchingTransport([id], () => new SendError('the transport thread stopped: exit code 1', true, undefined, true));
    const cfg = config();
    let now = NOW;
    const sender = new OutboxSender(store, transport, cfg, () => now, silentLogger, undefined, 1);
    let sends = 0;
    for (let minutes = 0; minutes <= 240 * 60; minutes += 15) {
      now = new Date(NOW.getTime() + minutes * 60_000);
      const r = await sender.sendDue();
      sends += r.retried + r.failed;
    }
    const row = store.outboxRow(id)!;
    expect(row.status).toBe('failed');
    expect(row.last_error).toMatch(
      new RegExp(`^gave up after ${row.attempts} attempts over 12\\d hours, ${row.attempts} of them in doubt .*the transport thread stopped`),
    );
    // Backed off up to outbox.retryMaxSeconds (an hour): about one send an hour, not one per lease.
    expect(row.attempts).toBe(sends);
    expect(sends).toBeLessThan(cfg.outbox.giveUpAfterHours + 20);
    const failed = observer.prepare("SELECT at, detail FROM events WHERE outbox_id = ? AND type = 'mail-send-failed'").all(id) as Array<{
      at: string;
      detail: string;
    }>;
    expect(failed).toHaveLength(1);
    expect(Date.parse(failed[0].at) - NOW.getTime()).toBeLessThan((cfg.outbox.giveUpAfterHours + 1) * 3_600_000);
    expect(JSON.parse(failed[0].detail).error).toBe(row.last_error);
  });
});

describe("which refusals at RCPT TO say the customer's address is bad", () => {
  test('senderRefusalAtRcptMarkedEveryCustomerFailing: Postfix refuses our sender at RCPT TO (smtpd_delay_reject)', () => {
    expect(badAddressReply(550, '550 5.1.0 <klagomal@testfinans.se>: Sender address rejected: User unknown in local recipient table')).toBe(false);
    expect(badAddressReply(553, '553 5.1.8 <klagomal@testfinans.se>: Sender address rejected: Domain not found')).toBe(false);
    expect(badAddressReply(550, "550 5.1.7 Bad sender's mailbox address syntax")).toBe(false);
    expect(badAddressReply(550, '550 5.1.1 <kund@example.com>: Recipient address rejected: User unknown in virtual mailbox table')).toBe(true);
    expect(badAddressReply(550, '550-5.1.1 The email account that you tried to reach does not exist.')).toBe(true);
    expect(badAddressReply(556, '556 5.1.10 Recipient address kund@example.com has null MX')).toBe(true);
    expect(badAddressReply(550, '550 5.7.1 Relaying denied')).toBe(false);
  });
});
