/**
 * The status report (src/ops/status.ts) and what the sources record for it
 * (src/ingest/source-status.ts), on a real database with a stepped clock, and `klagomal status`
 * itself (src/cli/status.ts) in-process. A status that stays green while a mailbox is down, or
 * red for ever after one bounce, is a monitoring check nobody can use.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Config } from '../../src/config/config';
import { loadConfig } from '../../src/config/load';
import Database from 'better-sqlite3';
import { openDatabase, DB } from '../../src/store/db';
import { MIGRATIONS } from '../../src/store/migrations';
import { Store } from '../../src/store/store';
import { SourceStatusRecorder, describeError, POLLED_WRITE_MS } from '../../src/ingest/source-status';
import { gatherStatus, FAILED_MAIL_ATTENTION_DAYS, StatusReport } from '../../src/ops/status';
import { main } from '../../src/cli';
import { toInstant } from '../../src/util/clock';
import { silentLogger } from '../../src/util/log';
import { packageRoot } from '../../src/util/package-root';

const T0 = new Date('2026-11-23T09:00:00.000Z');
const min = (n: number): Date => new Date(T0.getTime() + n * 60_000);

interface World {
  dir: string;
  configFile: string;
  config: Config;
  db: DB;
  store: Store;
  now: Date;
  clock: () => Date;
  recorder(source: string, mailbox: string): SourceStatusRecorder;
  report(at?: Date, opts?: { checkTemplateFiles?: boolean }): StatusReport;
  close(): void;
}

function makeWorld(extra: Record<string, unknown> = {}): World {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-status-'));
  const configFile = path.join(dir, 'config.json');
  fs.writeFileSync(
    configFile,
    JSON.stringify({
      firm: { name: 'Testfinans AB', complaintsAddress: 'klagomal@testfinans.se' },
      dataDir: './data',
      templates: path.join(packageRoot(), 'templates'),
      sources: [
        { type: 'imap', name: 'klagomal', host: 'imap.testfinans.se', user: 'klagomal', passwordEnv: 'IMAP_PW', sentFolder: 'Skickat', pollSeconds: 60 },
        { type: 'maildir', name: 'kundtjanst', path: './data/kundtjanst', pollSeconds: 5 },
      ],
      transport: { type: 'pickup', path: './data/pickup' },
      status: { sourceDownMinutes: 15 },
      deadlines: { escalation: { enabled: false } },
      ...extra,
    }),
  );
  const config = loadConfig(configFile);
  const db = openDatabase(config.database);
  const store = new Store(db);
  const w: World = {
    dir,
    configFile,
    config,
    db,
    store,
    now: T0,
    clock: () => w.now,
    recorder: (source, mailbox) => new SourceStatusRecorder(store, source, mailbox, () => w.now, silentLogger),
    report: (at = w.now, opts = {}) => gatherStatus(config, store, at, opts),
    close() {
      if (db.open) db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return w;
}

/** All three watched folders live and scanned at `w.now`. */
function allLive(w: World): { inbox: SourceStatusRecorder; sent: SourceStatusRecorder; maildir: SourceStatusRecorder } {
  const inbox = w.recorder('klagomal', 'INBOX');
  const sent = w.recorder('klagomal', 'Skickat');
  const maildir = w.recorder('kundtjanst', w.config.sources[1].type === 'maildir' ? w.config.sources[1].path : '');
  for (const r of [inbox, sent, maildir]) {
    r.connected();
    r.polled({ folderMessages: 0, waiting: 0 });
  }
  return { inbox, sent, maildir };
}

function source(r: StatusReport, name: string, mailbox?: string) {
  const s = r.sources.find((x) => x.name === name && (mailbox === undefined || x.mailbox === mailbox));
  if (!s) throw new Error(`no source ${name} ${mailbox ?? ''}`);
  return s;
}

let seq = 0;
function storeMail(w: World, at: Date): number {
  const bytes = Buffer.from(`Message-ID: <m${++seq}@example.com>\r\n\r\nhej ${seq}`);
  return w.store.tx(
    () =>
      w.store.storeInbound(
        {
          source: 'kundtjanst',
          mailbox: null,
          locator: null,
          sourceKey: `test:${seq}`,
          uidvalidity: null,
          uid: null,
          receivedAt: toInstant(at),
          sha256: `sha-${seq}`,
          size: bytes.length,
          raw: { bytes },
        },
        toInstant(at),
      ).id,
  );
}

function queueMail(w: World, caseId: number | null, to: string, at: Date): number {
  const n = ++seq;
  return w.store.enqueue({
    caseId,
    kind: 'acknowledgement',
    idempotencyKey: `ack:${n}`,
    template: 'acknowledgement',
    language: 'sv',
    templateVersion: 'v1',
    fromAddress: 'klagomal@testfinans.se',
    fromName: 'Testfinans AB Klagomål',
    toAddress: to,
    subject: 'Vi har tagit emot ditt klagomål',
    messageId: `<ack-${n}@testfinans.se>`,
    inReplyTo: null,
    references: [],
    headers: {},
    bodyText: 'Tack',
    bodyHtml: null,
    dateHeader: toInstant(at),
    createdAt: toInstant(at),
  })!;
}

function attempt(w: World, id: number, outcome: 'sent' | 'retry' | 'failed', response: string, at: Date): void {
  const row = w.store.claimOutbox(id, toInstant(at), toInstant(new Date(at.getTime() + 60_000)))!;
  expect(row).not.toBeNull();
  w.store.finishOutboxAttempt(id, row.attempts, outcome, response, toInstant(at), outcome === 'retry' ? toInstant(new Date(at.getTime() + 600_000)) : null);
}

function openCase(w: World, number: string, customer: string, due: Array<[string, Date]>): number {
  const id = w.store.insertCase({
    number,
    category: null,
    contactOfficer: null,
    personnummer: null,
    subjectKey: null,
    customerAddress: customer,
    customerName: 'Karin Kund',
    subject: 'Avgift',
    language: 'sv',
    receivedAt: toInstant(T0),
    filedAt: toInstant(T0),
    fields: {},
    refersToCaseId: null,
  });
  for (const [milestone, at] of due)
    w.store.setDeadline({
      caseId: id,
      milestone,
      dueAt: toInstant(at),
      rule: {},
      computedFrom: toInstant(T0),
      policy: 'test',
      source: 'test',
      configVersion: 'c',
      calendarVersion: 'k',
      nextEscalationAt: null,
    });
  return id;
}

describe('source status and the report', () => {
  let w: World;
  beforeEach(() => {
    w = makeWorld();
  });
  afterEach(() => w.close());

  test('neverWatchedSourceNeedsAPerson', () => {
    const r = w.report();
    expect(r.ok).toBe(false);
    expect(r.sources.map((s) => [s.name, s.mailbox, s.role, s.state])).toEqual([
      ['klagomal', 'INBOX', 'inbox', 'never-seen'],
      ['klagomal', 'Skickat', 'sent', 'never-seen'],
      ['kundtjanst', path.join(w.dir, 'data', 'kundtjanst'), 'inbox', 'never-seen'],
    ]);
    expect(r.needsAttention).toHaveLength(3);
    expect(r.needsAttention[0]).toMatch(/source klagomal \(INBOX\): never watched/);
    expect(r.service.running).toBe(false);
  });

  test('allConnectedIsGreen', () => {
    allLive(w);
    w.store.tx(() => w.store.setCursor('klagomal', 'INBOX', '1700000000', 42, toInstant(T0)));
    w.now = min(1);
    const r = w.report();
    expect(r.needsAttention).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.service).toEqual({ running: true, lastHeartbeatAt: toInstant(T0) });
    const inbox = source(r, 'klagomal', 'INBOX');
    expect(inbox).toMatchObject({ state: 'connected', connected: true, since: toInstant(T0), lastPollAt: toInstant(T0), downSince: null, waiting: 0 });
    expect(inbox.cursor).toEqual({ uidvalidity: '1700000000', lastUid: 42 });
    expect(source(r, 'kundtjanst').cursor).toBeNull();
  });

  test('failingSourceTurnsRedOnlyAfterSourceDownMinutes', () => {
    const { inbox, sent, maildir } = allLive(w);
    // imapflow's refused login: "Command failed", the server's words on the error.
    const err = Object.assign(new Error('Command failed'), {
      authenticationFailed: true,
      serverResponseCode: 'AUTHENTICATIONFAILED',
      responseText: 'Authentication failed.',
    });
    const why = 'login refused (check the user and the password variable): Command failed: AUTHENTICATIONFAILED Authentication failed.';
    const reports: StatusReport[] = [];
    for (let m = 1; m <= 17; m++) {
      w.now = min(m);
      inbox.failed(err); // retried with backoff, failing every time
      sent.polled({ folderMessages: 0, waiting: null });
      maildir.polled({ folderMessages: null, waiting: 0 });
      reports[m] = w.report();
    }
    const s = source(reports[10], 'klagomal', 'INBOX');
    expect(s).toMatchObject({ state: 'reconnecting', connected: false, downSince: toInstant(min(1)), failingSince: toInstant(min(1)), lastError: why });
    expect(reports[15].needsAttention).toEqual([]); // 14 minutes down: not yet
    expect(reports[16].needsAttention).toEqual([`source klagomal (INBOX): down for 15 min since 2026-11-23T09:01:00Z (${why}; retrying)`]);
    expect(reports[17].ok).toBe(false);
  });

  test('oneBrokenFolderDoesNotMakeTheOthersLookDown', () => {
    const { inbox, sent, maildir } = allLive(w);
    for (let m = 1; m <= 20; m++) {
      w.now = min(m);
      inbox.failed('connect ECONNREFUSED 10.0.0.1:993');
      sent.polled({ folderMessages: 3, waiting: null });
      maildir.polled({ folderMessages: null, waiting: 0 });
      w.now = new Date(w.now.getTime() + POLLED_WRITE_MS); // past the write throttle
      sent.polled({ folderMessages: 3, waiting: null });
      maildir.polled({ folderMessages: null, waiting: 0 });
    }
    const r = w.report();
    expect(source(r, 'klagomal', 'Skickat').state).toBe('connected');
    expect(source(r, 'klagomal', 'Skickat').folderMessages).toBe(3);
    expect(source(r, 'kundtjanst').state).toBe('connected');
    expect(r.needsAttention).toEqual([expect.stringMatching(/^source klagomal \(INBOX\): down for 19 min since 2026-11-23T09:01:00Z .*ECONNREFUSED/)]);
    expect(r.service.running).toBe(true);
  });

  test('recoveryClearsTheErrorAndStartsANewConnectedSince', () => {
    const { inbox } = allLive(w);
    w.now = min(1);
    inbox.failed('Connection closed');
    w.now = min(2);
    inbox.connected();
    inbox.polled({ folderMessages: 5, waiting: 5 });
    const s = source(w.report(), 'klagomal', 'INBOX');
    expect(s).toMatchObject({ state: 'connected', since: toInstant(min(2)), lastError: null, failingSince: null, waiting: 5, folderMessages: 5 });
  });

  test('killedServiceIsReportedFromItsStaleHeartbeat', () => {
    allLive(w);
    // 2 minutes without a word: within three poll intervals of the IMAP source (180 s), fine.
    expect(w.report(min(2)).needsAttention).toEqual([]);
    // The Maildir (poll 5 s) is stale after 180 s; the IMAP folders (poll 60 s) too.
    const r = w.report(min(4));
    expect(source(r, 'kundtjanst').state).toBe('not-running');
    expect(source(r, 'klagomal', 'INBOX').state).toBe('not-running');
    expect(r.service.running).toBe(false);
    expect(r.needsAttention).toEqual(['service not running: no heartbeat since 2026-11-23T09:00:00Z and it did not stop cleanly (killed or crashed?)']);
    // Long enough, and each folder is down too, counted from the last heartbeat.
    const later = w.report(min(16));
    expect(later.needsAttention).toHaveLength(4);
    expect(later.needsAttention[0]).toBe('source klagomal (INBOX): down for 16 min since 2026-11-23T09:00:00Z (no service is watching it)');
  });

  test('cleanStopIsNotACrashButStillCountsAsDown', () => {
    const { inbox, sent, maildir } = allLive(w);
    w.now = min(1);
    for (const r of [inbox, sent, maildir]) r.stopped();
    const soon = w.report(min(5));
    expect(soon.sources.map((s) => s.state)).toEqual(['stopped', 'stopped', 'stopped']);
    expect(soon.needsAttention).toEqual([]);
    const r = w.report(min(17));
    expect(r.needsAttention).toHaveLength(3);
    expect(r.needsAttention[2]).toMatch(/^source kundtjanst \(.*kundtjanst\): down for 16 min since 2026-11-23T09:01:00Z \(the service stopped\)$/);
    // A restart: connected again since the restart, not since the first start.
    w.now = min(20);
    inbox.connected();
    expect(source(w.report(), 'klagomal', 'INBOX')).toMatchObject({ state: 'connected', since: toInstant(min(20)), stoppedAt: null });
  });

  test('oneOffScanBesideALiveServiceChangesNoConnectionState', () => {
    const { inbox } = allLive(w);
    const oneOff = w.recorder('klagomal', 'INBOX');
    w.now = min(1);
    oneOff.failedOnce(new Error('connect ETIMEDOUT'));
    let s = source(w.report(), 'klagomal', 'INBOX');
    expect(s).toMatchObject({ state: 'connected', connected: true, since: toInstant(T0), lastError: 'connect ETIMEDOUT', heartbeatAt: toInstant(T0) });
    w.now = min(2);
    inbox.polled({ folderMessages: 1, waiting: 1 });
    s = source(w.report(), 'klagomal', 'INBOX');
    expect(s).toMatchObject({ state: 'connected', lastError: null, failingSince: null, lastPollAt: toInstant(min(2)) });
  });

  test('cronInstallWithOnlyOneOffScansIsGreenWhilePollsAreRecent', () => {
    const once = [w.recorder('klagomal', 'INBOX'), w.recorder('klagomal', 'Skickat'), w.recorder('kundtjanst', path.join(w.dir, 'data', 'kundtjanst'))];
    for (let m = 0; m <= 30; m += 5) {
      w.now = min(m);
      for (const r of once) r.polledOnce({ folderMessages: 0, waiting: 0 });
    }
    const r = w.report(min(32));
    expect(r.sources.map((s) => s.state)).toEqual(['stopped', 'stopped', 'stopped']);
    expect(r.sources.map((s) => s.downSince)).toEqual(Array(3).fill(toInstant(min(30))));
    expect(r.needsAttention).toEqual([]);
    // The cron job stops running: red once the last poll is older than sourceDownMinutes.
    expect(w.report(min(46)).needsAttention).toHaveLength(3);
  });

  test('unchangedScansAreNotWrittenOnEveryIdleNotice', () => {
    const inbox = w.recorder('klagomal', 'INBOX');
    inbox.connected();
    const writes = (): number => (w.db.prepare('SELECT total_changes() AS n').get() as { n: number }).n;
    inbox.polled({ folderMessages: 0, waiting: 0 });
    const before = writes();
    for (let i = 1; i <= 50; i++) {
      w.now = new Date(T0.getTime() + i * 100); // 50 scans in 5 s
      inbox.polled({ folderMessages: 0, waiting: 0 });
    }
    expect(writes()).toBe(before);
    inbox.polled({ folderMessages: 1, waiting: 1 }); // something changed: written at once
    expect(writes()).toBe(before + 1);
    w.now = new Date(T0.getTime() + 5000 + POLLED_WRITE_MS);
    inbox.polled({ folderMessages: 1, waiting: 1 }); // unchanged, but the heartbeat is due
    expect(writes()).toBe(before + 2);
    expect(source(w.report(), 'klagomal', 'INBOX').lastPollAt).toBe(toInstant(w.now));
  });

  test('storedErrorsCarryNoCustomerAddress', () => {
    expect(describeError(new Error('550 5.1.1 <anna.svensson@gmail.com>: Recipient address rejected'))).toBe(
      '550 5.1.1 <…@gmail.com>: Recipient address rejected',
    );
  });
});

describe('outbox, quarantine, cases, templates', () => {
  let w: World;
  beforeEach(() => {
    w = makeWorld();
    allLive(w);
  });
  afterEach(() => w.close());

  test('retryingAndFailedMailAreCountedAndFailedNeedsAPersonForAWeek', () => {
    const caseId = openCase(w, 'KLG-2026-000007', 'karin.kund@example.com', []);
    queueMail(w, caseId, 'a@example.com', T0); // queued, never tried
    const retrying = queueMail(w, caseId, 'b@example.com', T0);
    attempt(w, retrying, 'retry', '421 4.7.0 <b.kund@example.com> try again later', T0);
    const sent = queueMail(w, caseId, 'c@example.com', T0);
    attempt(w, sent, 'sent', '250 OK', T0);
    const failed = queueMail(w, caseId, 'karin.kund@example.com', T0);
    attempt(w, failed, 'failed', '550 5.1.1 <karin.kund@example.com>: no such user', T0);
    const r = w.report(min(1));
    expect(r.outbox).toMatchObject({ queued: 1, retrying: 1, sending: 0, sent: 1, failed: 1, failedRecently: 1 });
    expect(r.outbox.retryingMails).toEqual([
      {
        id: retrying,
        case: 'KLG-2026-000007',
        kind: 'acknowledgement',
        attempts: 1,
        at: toInstant(new Date(T0.getTime() + 600_000)),
        lastError: '421 4.7.0 <…@example.com> try again later',
      },
    ]);
    expect(r.outbox.failedMails).toEqual([
      { id: failed, case: 'KLG-2026-000007', kind: 'acknowledgement', attempts: 1, at: toInstant(T0), lastError: '550 5.1.1 <…@example.com>: no such user' },
    ]);
    expect(r.needsAttention).toEqual([expect.stringMatching(new RegExp(`^1 outgoing mail\\(s\\) failed in the last 7 days \\(#${failed} KLG-2026-000007;`))]);
    // No customer address or name anywhere in the report.
    const text = JSON.stringify(r);
    expect(text).not.toMatch(/karin|b\.kund|Karin Kund/);
    // A week later the failure is history: counted, no longer a reason (the check can go green).
    const later = w.report(new Date(T0.getTime() + (FAILED_MAIL_ATTENTION_DAYS * 24 + 1) * 3600_000));
    expect(later.outbox).toMatchObject({ failed: 1, failedRecently: 0, failedMails: [] });
    expect(later.needsAttention.filter((x) => x.includes('outgoing'))).toEqual([]);
  });

  test('quarantineNotEmptyNeedsAPersonAndReleasedDoesNot', () => {
    const id = storeMail(w, T0);
    w.store.tx(() => w.store.quarantine(id, 'parse', 'boom', toInstant(T0)));
    let r = w.report(min(1));
    expect(r.quarantine).toEqual({ count: 1, oldestAt: toInstant(T0) });
    expect(r.needsAttention).toEqual([expect.stringMatching(/^1 mail\(s\) in quarantine since 2026-11-23T09:00:00Z/)]);
    w.store.tx(() => w.store.releaseQuarantine(id, toInstant(min(1))));
    r = w.report(min(2));
    expect(r.quarantine.count).toBe(0);
    expect(r.needsAttention).toEqual([]);
  });

  test('storedMailNotFiledForLongIsAStuckProcessor', () => {
    storeMail(w, T0);
    expect(w.report(min(1)).inbound).toEqual({ pending: 1, oldestPendingAt: toInstant(T0) });
    expect(w.report(min(1)).needsAttention).toEqual([]);
    const { inbox, sent, maildir } = allLive(w);
    w.now = min(16);
    for (const r of [inbox, sent, maildir]) r.polled({ folderMessages: 0, waiting: 0 });
    expect(w.report().needsAttention).toEqual(['1 stored mail(s) not filed, the oldest for 16 min (is the service running? see its log)']);
  });

  test('nearestDeadlinesAreCaseNumbersOnlyAndOverdueIsNotAnOperatorAlarm', () => {
    openCase(w, 'KLG-2026-000001', 'a@example.com', [
      ['acknowledgement', min(-60)],
      ['finalAnswer', min(14 * 24 * 60)],
    ]);
    openCase(w, 'KLG-2026-000002', 'b@example.com', [['acknowledgement', min(600)]]);
    openCase(w, 'KLG-2026-000003', 'c@example.com', [['finalAnswerMax', min(5)]]); // a cap, not a target
    for (let i = 4; i <= 9; i++) openCase(w, `KLG-2026-00000${i}`, `x${i}@example.com`, [['finalAnswer', min(3000 + i)]]);
    const r = w.report(min(1));
    expect(r.cases.open).toBe(9);
    expect(r.cases.byStatus).toEqual({ new: 9 });
    expect(r.cases.deadlinesOverdue).toBe(1);
    expect(r.cases.deadlinesDueWithin24h).toBe(1);
    expect(r.cases.nearestDeadlines).toEqual([
      { case: 'KLG-2026-000001', milestone: 'acknowledgement', dueAt: toInstant(min(-60)), overdue: true },
      { case: 'KLG-2026-000002', milestone: 'acknowledgement', dueAt: toInstant(min(600)), overdue: false },
      { case: 'KLG-2026-000004', milestone: 'finalAnswer', dueAt: toInstant(min(3004)), overdue: false },
      { case: 'KLG-2026-000005', milestone: 'finalAnswer', dueAt: toInstant(min(3005)), overdue: false },
      { case: 'KLG-2026-000006', milestone: 'finalAnswer', dueAt: toInstant(min(3006)), overdue: false },
    ]);
    expect(r.needsAttention).toEqual([]);
  });

  test('templateSetInUseAndBrokenFilesOnDisk', () => {
    w.store.tx(() => w.store.saveTemplateSet('set-abc', new Map([['sv/x.hbs', 'x']]), toInstant(T0)));
    let r = w.report(min(1), { checkTemplateFiles: true });
    expect(r.templates.inUse).toBe('set-abc');
    expect(r.templates.checkedAt).toBe(toInstant(T0));
    expect(r.templates.files?.problems).toBe(0);
    expect(r.templates.files?.version).toMatch(/\S/);
    expect(r.needsAttention).toEqual([]);
    // Files that do not pass: the last good set stays in use, and a person must fix them.
    const broken = makeWorld({ templates: './no-templates-here' });
    try {
      allLive(broken);
      broken.store.tx(() => broken.store.saveTemplateSet('set-abc', new Map(), toInstant(T0)));
      r = broken.report(min(1), { checkTemplateFiles: true });
      expect(r.templates.files!.problems).toBeGreaterThan(0);
      expect(r.needsAttention).toEqual([
        expect.stringMatching(/^the template files in .*no-templates-here have \d+ problem\(s\).*the last good set set-abc stays in use$/),
      ]);
    } finally {
      broken.close();
    }
  });

  test('reconciliationThatFoundMissedMailIsSaidLoudlyUntilTheNextCleanRun', () => {
    expect(w.report().reconcile).toBeNull();
    const run = (at: Date, found: number, mismatched: number): void => {
      const result = {
        ok: found + mismatched === 0,
        found,
        filedNow: found,
        errors: 0,
        raw: { checked: 40, missing: 0, mismatched, damaged: [] },
        folders: [],
      };
      w.db
        .prepare('INSERT INTO reconcile_runs (started_at, finished_at, trigger, result) VALUES (?, ?, ?, ?)')
        .run(toInstant(at), toInstant(new Date(at.getTime() + 5000)), 'schedule', JSON.stringify(result));
    };
    run(min(1), 2, 1);
    let r = w.report(min(2));
    expect(r.reconcile).toEqual({
      startedAt: toInstant(min(1)),
      finishedAt: toInstant(new Date(min(1).getTime() + 5000)),
      trigger: 'schedule',
      ok: false,
      found: 2,
      filedNow: 2,
      rawChecked: 40,
      rawMissing: 0,
      rawMismatched: 1,
      errors: 0,
    });
    expect(r.needsAttention).toEqual([
      "reconciliation at 2026-11-23T09:01:05Z found 2 mail(s) on the server that had never been filed (filed now: 2; see 'klagomal reconcile --json')",
      "reconciliation at 2026-11-23T09:01:05Z: 0 stored raw mail(s) missing and 1 not matching their sha256 (see 'klagomal reconcile --json')",
    ]);
    run(min(60), 0, 0);
    r = w.report(min(61));
    expect(r.reconcile?.ok).toBe(true);
    expect(r.needsAttention.filter((x) => x.includes('reconcil'))).toEqual([]);
  });

  test('databaseSizeIncludesTheWal', () => {
    const r = w.report();
    expect(r.database.path).toBe(w.config.database);
    expect(r.database.bytes).toBe(fs.statSync(w.config.database).size);
    expect(r.database.walBytes).toBe(fs.statSync(`${w.config.database}-wal`).size);
    expect(r.database.walBytes).toBeGreaterThan(0);
    expect(r.database.schemaVersion).toBeGreaterThanOrEqual(7);
  });
});

describe('klagomal status', () => {
  let w: World;
  beforeEach(() => {
    w = makeWorld();
  });
  afterEach(() => w.close());

  async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const code = await main(['status', ...args, '--config', w.configFile], { out: (t) => (out += t + '\n'), err: (t) => (err += t + '\n') });
    return { code, out, err };
  }

  test('exitZeroWhenNothingNeedsAPerson', async () => {
    const now = new Date();
    w.now = now;
    allLive(w);
    const { code, out } = await run([]);
    expect(code).toBe(0);
    expect(out).toMatch(/^klagomal status at .*: OK, nothing needs attention/);
    expect(out).toMatch(/^Service {5}running/m);
    expect(out).toMatch(/klagomal +imap +INBOX +connected since/);
    expect(out).toMatch(/klagomal +imap +Skickat \(sent\) +connected since/);
    expect(out).not.toMatch(/Needs attention/);
    const json = await run(['--json']);
    expect(json.code).toBe(0);
    const report = JSON.parse(json.out) as StatusReport;
    expect(report.ok).toBe(true);
    expect(report.sources).toHaveLength(3);
  });

  test('exitOneWithTheReasonsWhenSomethingDoes', async () => {
    w.now = new Date(Date.now() - 20 * 60_000);
    const { inbox } = allLive(w);
    inbox.failed('connect ECONNREFUSED 127.0.0.1:1');
    for (const r of [w.recorder('klagomal', 'Skickat'), w.recorder('kundtjanst', path.join(w.dir, 'data', 'kundtjanst'))]) {
      w.now = new Date();
      r.connected();
    }
    w.now = new Date();
    inbox.failed('connect ECONNREFUSED 127.0.0.1:1'); // still failing, 20 minutes on
    const text = await run([]);
    expect(text.code).toBe(1);
    expect(text.out).toMatch(/1 thing\(s\) need attention/);
    expect(text.out).toMatch(/klagomal +imap +INBOX +DOWN since/);
    expect(text.out).toMatch(/Needs attention:\n {2}- source klagomal \(INBOX\): down for 20 min since .* \(connect ECONNREFUSED 127\.0\.0\.1:1; retrying\)/);
    const json = await run(['--json']);
    expect(json.code).toBe(1);
    const report = JSON.parse(json.out) as StatusReport;
    expect(report.ok).toBe(false);
    expect(report.needsAttention).toHaveLength(1);
    expect(source(report, 'klagomal', 'INBOX')).toMatchObject({ state: 'reconnecting', connected: false, lastError: 'connect ECONNREFUSED 127.0.0.1:1' });
  });

  test('usageErrorsExitTwo', async () => {
    expect((await run(['extra'])).code).toBe(2);
    expect((await run(['--bogus'])).code).toBe(2);
  });

  test('missingDatabaseIsAFailureNotACrash', async () => {
    w.db.close();
    fs.rmSync(w.config.database);
    const { code, err } = await run([]);
    expect(code).toBe(1);
    expect(err).toMatch(/does not exist: klagomal has not run with this config/);
    expect(fs.existsSync(w.config.database)).toBe(false); // status never creates it
  });

  test('readsWithoutWritingAndMigratesAnOlderDatabase', async () => {
    w.db.close();
    // A database of an install from before migration 7 (schema 6): status migrates it, as
    // start would, and reports instead of failing on the columns it lacks.
    fs.rmSync(w.config.database);
    for (const f of ['-wal', '-shm']) fs.rmSync(w.config.database + f, { force: true });
    const old = new Database(w.config.database);
    old.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
    for (const m of MIGRATIONS.filter((x) => x.version <= 6)) {
      old.exec(m.sql);
      old.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(m.version, m.name, toInstant(T0));
    }
    old.close();
    const migrated = await run(['--json']);
    expect(migrated.err).toBe('');
    expect(migrated.code).toBe(1); // nothing watched yet
    expect((JSON.parse(migrated.out) as StatusReport).needsAttention[0]).toMatch(/never watched/);
    const db = openDatabase(w.config.database, { readonly: true });
    expect((db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number }).v).toBe(MIGRATIONS[MIGRATIONS.length - 1].version);
    db.close();
    // At the current schema it is opened read-only: a database file it may not write is fine.
    const store = new Store(openDatabase(w.config.database));
    w.now = new Date();
    for (const [name, mailbox] of [
      ['klagomal', 'INBOX'],
      ['klagomal', 'Skickat'],
      ['kundtjanst', path.join(w.dir, 'data', 'kundtjanst')],
    ])
      new SourceStatusRecorder(store, name, mailbox, () => w.now, silentLogger).connected();
    store.db.close();
    const before = fs.readFileSync(w.config.database);
    fs.chmodSync(w.config.database, 0o400);
    try {
      if (process.getuid?.() !== 0) expect((await run(['--json'])).code).toBe(0);
    } finally {
      fs.chmodSync(w.config.database, 0o600);
    }
    expect(fs.readFileSync(w.config.database).equals(before)).toBe(true);
  });
});
