/**
 * Graceful shutdown of `klagomal start` (the real binary), against an SMTP server that answers
 * slowly so that sends are in flight when the signal comes:
 *
 *  - SIGTERM while mail is still arriving, being filed and being acknowledged: exit 0 within
 *    `shutdown.graceSeconds`, nothing left half-sent; after `run --once` every mail is filed
 *    exactly once and every customer has exactly one acknowledgement.
 *  - A second signal exits at once.
 *  - Past the bound the service exits 1 and says what it abandoned; the abandoned sends are
 *    sent after their lease, once.
 *  - The data folder is 0700, the database and its -wal/-shm 0600.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { ChildProcess } from 'node:child_process';
import { complaintMail, deliverToMaildir, makeWorld, waitFor, World } from '../support/world';
import { SlowSmtpReceiver, startSlowSmtpReceiver } from '../support/slow-smtp';

jest.setTimeout(180_000);

// Whatever secrets the config asks for besides the transport's (none here): a personnummer key, should the store be on.
const ENV = { KLAGOMAL_PERSONNUMMER_KEY: crypto.randomBytes(32).toString('base64') };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function smtpWorld(smtp: SlowSmtpReceiver, extra: Record<string, unknown> = {}): World {
  return makeWorld({
    transport: { type: 'smtp', host: smtp.host, port: smtp.port, tls: 'none', maxConnections: 3 },
    ...extra,
  });
}

/** Counts straight from the database (read-only, beside a running service). */
function counts(world: World) {
  const db = new Database(path.join(world.dataDir, 'klagomal.db'), { readonly: true });
  try {
    const one = (sql: string): number => (db.prepare(sql).get() as { n: number }).n;
    return {
      inbound: one('SELECT COUNT(*) AS n FROM inbound'),
      distinctMessageIds: one('SELECT COUNT(DISTINCT message_id) AS n FROM inbound'),
      notFiled: one("SELECT COUNT(*) AS n FROM inbound WHERE state <> 'filed'"),
      complaints: one("SELECT COUNT(*) AS n FROM inbound WHERE kind = 'complaint'"),
      cases: one('SELECT COUNT(*) AS n FROM cases'),
      outbox: one('SELECT COUNT(*) AS n FROM outbox'),
      sent: one("SELECT COUNT(*) AS n FROM outbox WHERE status = 'sent'"),
      sending: one("SELECT COUNT(*) AS n FROM outbox WHERE status = 'sending'"),
    };
  } finally {
    db.close();
  }
}

/** Send `signal`; resolves with the exit code and how long the exit took. */
async function stop(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; ms: number }> {
  const t0 = Date.now();
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.kill(signal);
  const code = await exited;
  return { code, ms: Date.now() - t0 };
}

function started(child: ChildProcess & { output: () => string }): Promise<true> {
  return waitFor(
    'the service to start',
    () => child.output().includes('"msg":"klagomal started"') || (child.exitCode !== null && fail(child.output())),
    30_000,
  );
}

function fail(output: string): never {
  throw new Error(`the service exited early:\n${output}`);
}

function mode(file: string): string {
  return (fs.statSync(file).mode & 0o777).toString(8);
}

function newFiles(world: World): number {
  const dir = path.join(world.maildir, 'new');
  return fs.existsSync(dir) ? fs.readdirSync(dir).length : 0;
}

describe('graceful shutdown', () => {
  let smtp: SlowSmtpReceiver;
  let world: World;
  afterEach(async () => {
    world?.cleanup();
    await smtp?.close();
  });

  test('sigtermWithMailInFlightLosesNothing', async () => {
    const FIRST = 250;
    const GRACE = 10;
    smtp = await startSlowSmtpReceiver({ delayMs: 150 });
    world = smtpWorld(smtp, { shutdown: { graceSeconds: GRACE } });
    for (let i = 0; i < FIRST; i++) deliverToMaildir(world.maildir, complaintMail(i));
    const child = world.start(ENV);
    await started(child);

    // Private files, while the service runs (the -wal and -shm exist only then).
    expect(mode(world.dataDir)).toBe('700');
    const dbFile = path.join(world.dataDir, 'klagomal.db');
    expect(mode(dbFile)).toBe('600');
    for (const f of [`${dbFile}-wal`, `${dbFile}-shm`]) if (fs.existsSync(f)) expect(mode(f)).toBe('600');

    // More mail keeps arriving (200 a second) while the service files and acknowledges, until
    // a moment after the signal.
    let delivered = FIRST;
    let stopDelivering = false;
    const trickle = (async () => {
      while (!stopDelivering && delivered < 1000) {
        for (let k = 0; k < 5; k++) deliverToMaildir(world.maildir, complaintMail(delivered++));
        await sleep(25);
      }
    })();
    await waitFor('some acknowledgements sent', () => smtp.messages.length >= 10, 60_000, 20);
    // A burst just before the signal, so that mail is certainly waiting to be taken in and filed.
    for (let k = 0; k < 100; k++) deliverToMaildir(world.maildir, complaintMail(delivered++));
    const before = counts(world);
    const waitingAtSignal = newFiles(world);
    const receivedAtSignal = smtp.messages.length;
    const stopped = stop(child);
    await sleep(100);
    stopDelivering = true;
    await trickle;
    const { code, ms } = await stopped;
    const after = counts(world);
    console.log(
      `shutdown with mail in flight: exit ${code} after ${ms} ms (bound ${GRACE} s). At SIGTERM: ${waitingAtSignal} mails waiting in new/, ` +
        `${before.inbound} stored, ${before.inbound - before.notFiled} filed, ${receivedAtSignal} acknowledgements received. ` +
        `At exit: ${after.inbound} stored, ${after.inbound - after.notFiled} filed, ${after.sent} sent; ${delivered} delivered in all`,
    );
    expect(code).toBe(0);
    expect(ms).toBeLessThan(GRACE * 1000);
    expect(child.output()).toContain('"msg":"klagomal stopped cleanly"');
    // Work was in flight: mail waiting to be taken in and acknowledgements not yet sent.
    expect(waitingAtSignal + before.notFiled).toBeGreaterThan(0);
    expect(after.sent).toBeLessThan(delivered);
    // Every send that began reported back before the exit.
    expect(after.sending).toBe(0);

    // The next run takes up where the service stopped.
    smtp.delayMs = 0;
    const rerun = await world.cli(['run', '--once'], ENV);
    expect(rerun.stderr).not.toContain('"level":"error"');
    expect(rerun.code).toBe(0);
    const end = counts(world);
    expect(end).toEqual({
      inbound: delivered,
      distinctMessageIds: delivered,
      notFiled: 0,
      complaints: delivered,
      cases: delivered,
      outbox: delivered,
      sent: delivered,
      sending: 0,
    });
    expect(newFiles(world)).toBe(0);
    // Every customer got one acknowledgement: a graceful stop repeats nothing.
    const ids = smtp.messages.map((m) => m.messageId);
    expect(new Set(ids).size).toBe(delivered);
    expect(ids).toHaveLength(delivered);
    expect(new Set(smtp.messages.map((m) => m.to[0])).size).toBe(delivered);
  });

  test('secondSignalExitsAtOnce', async () => {
    smtp = await startSlowSmtpReceiver({ delayMs: 60_000 });
    world = smtpWorld(smtp, { shutdown: { graceSeconds: 30 } });
    for (let i = 0; i < 10; i++) deliverToMaildir(world.maildir, complaintMail(i));
    const child = world.start(ENV);
    await started(child);
    await waitFor('a send in flight', () => smtp.dataStarted >= 1, 30_000, 20);
    child.kill('SIGTERM');
    await waitFor('the first signal to be taken', () => child.output().includes('stopping: finishing work in flight'), 5000, 10);
    await sleep(300);
    expect(child.exitCode).toBeNull(); // still waiting for its sends
    const { code, ms } = await stop(child, 'SIGTERM');
    console.log(`second signal: exit ${code} after ${ms} ms`);
    expect(code).toBe(143);
    expect(ms).toBeLessThan(1500);
    expect(child.output()).toContain('second signal: exiting at once');
  });

  test('boundReachedExitsNonZeroAndTheSendsFollowOnce', async () => {
    const MAILS = 12;
    smtp = await startSlowSmtpReceiver({ delayMs: 60_000 });
    world = smtpWorld(smtp, { shutdown: { graceSeconds: 2 }, outbox: { sendTimeoutSeconds: 1 } });
    for (let i = 0; i < MAILS; i++) deliverToMaildir(world.maildir, complaintMail(i));
    const child = world.start(ENV);
    await started(child);
    await waitFor('three sends in flight', () => smtp.dataStarted >= 3, 30_000, 20);
    const { code, ms } = await stop(child);
    console.log(`shutdown past its bound: exit ${code} after ${ms} ms (bound 2 s)`);
    expect(code).toBe(1);
    expect(ms).toBeGreaterThanOrEqual(1900);
    expect(ms).toBeLessThan(4000);
    const line = child
      .output()
      .split('\n')
      .find((l) => l.includes('shutdown bound reached'));
    expect(line).toBeDefined();
    const logged = JSON.parse(line!) as { level: string; sendsInFlight: number; cases: string };
    expect(logged.level).toBe('error');
    // Three on the wire, and the rest claimed in the transport's queue (four per connection,
    // src/reply/outbox-sender.ts): all 12 are in flight, none was delivered.
    expect(logged.sendsInFlight).toBe(MAILS);
    expect(logged.cases.split(',')).toHaveLength(MAILS);
    expect(smtp.messages).toHaveLength(0); // the server never answered: nothing was delivered

    // After their lease (1 s per mail a connection is handed: 4 s) the abandoned sends go again, once each.
    smtp.delayMs = 0;
    await sleep(4200);
    const rerun = await world.cli(['run', '--once'], ENV);
    expect(rerun.code).toBe(0);
    expect(counts(world)).toMatchObject({ inbound: MAILS, cases: MAILS, sent: MAILS, sending: 0 });
    expect(new Set(smtp.messages.map((m) => m.messageId)).size).toBe(MAILS);
    expect(smtp.messages).toHaveLength(MAILS);
  });
});
