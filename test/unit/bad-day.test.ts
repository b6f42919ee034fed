/**
 * A bad day without a backup (issue 18), the parts that are pure or need only a database: a
 * source that connects but fails every scan, a service killed with -9, write errors classed as
 * the data folder's, commands run as the wrong user, config files that are not JSON or whose
 * shutdown grace outlives the unit, and the admin mailed twice about one damaged file.
 * The end-to-end halves (a real full disk, the real binary) are in test/integration/.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Config } from '../../src/config/config';
import { ConfigError, loadConfig, parseConfig } from '../../src/config/load';
import { UNIT_TIMEOUT_STOP_SEC } from '../../src/config/sections';
import { jsonErrorAt } from '../../src/config/json-error';
import { openDatabase, DB } from '../../src/store/db';
import { Store } from '../../src/store/store';
import { SourceStatusRecorder } from '../../src/ingest/source-status';
import { gatherStatus, StatusReport } from '../../src/ops/status';
import { SERVICE_STALE_SECONDS, ServiceHealth } from '../../src/ops/service-health';
import { storageFailure } from '../../src/util/storage-error';
import { ensureDataFolderOwner, WrongUser } from '../../src/cli/data-owner';
import { adminNotice } from '../../src/reconcile';
import type { ReconcileReport } from '../../src/reconcile/report';
import { SignalFanout, Wakeup } from '../../src/util/wakeup';
import { silentLogger } from '../../src/util/log';
import { packageRoot } from '../../src/util/package-root';
import { getEventListeners } from 'node:events';

const T0 = new Date('2026-11-23T09:00:00.000Z');
const at = (seconds: number): Date => new Date(T0.getTime() + seconds * 1000);

interface World {
  dir: string;
  config: Config;
  db: DB;
  store: Store;
  now: Date;
  report(at?: Date): StatusReport;
  close(): void;
}

function makeWorld(): World {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-badday-'));
  const configFile = path.join(dir, 'config.json');
  fs.writeFileSync(
    configFile,
    JSON.stringify({
      firm: { name: 'Testfinans AB', complaintsAddress: 'klagomal@testfinans.se' },
      dataDir: './data',
      templates: path.join(packageRoot(), 'templates'),
      sources: [{ type: 'imap', name: 'klagomal', host: 'imap.testfinans.se', user: 'klagomal', passwordEnv: 'IMAP_PW', pollSeconds: 5 }],
      transport: { type: 'pickup', path: './data/pickup' },
      status: { sourceDownMinutes: 15 },
      deadlines: { escalation: { enabled: false } },
    }),
  );
  const config = loadConfig(configFile);
  fs.mkdirSync(config.dataDir, { recursive: true });
  const db = openDatabase(config.database);
  const store = new Store(db);
  const w: World = {
    dir,
    config,
    db,
    store,
    now: T0,
    report: (when = w.now) => gatherStatus(config, store, when),
    close() {
      if (db.open) db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return w;
}

describe('status sees what waits', () => {
  let w: World;
  beforeEach(() => (w = makeWorld()));
  afterEach(() => w.close());

  test('aSourceThatConnectsButFailsEveryScanCountsAsDownFromItsFirstFailure', () => {
    const rec = new SourceStatusRecorder(w.store, 'klagomal', 'INBOX', () => w.now, silentLogger);
    rec.connected();
    rec.polled({ folderMessages: 0, waiting: 0 });
    // From minute 1 every scan fails (the data folder is full): the source reconnects after each
    // failure with backoff, and each reconnect used to start its down time again.
    for (let m = 1; m <= 20; m++) {
      w.now = at(m * 60);
      rec.connected();
      w.now = at(m * 60 + 1);
      rec.failed(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
    }
    // Connected again, the scan not yet done: still down since minute 1.
    w.now = at(20 * 60 + 30);
    rec.connected();
    const r = w.report();
    const s = r.sources[0];
    expect(s.downSince).toBe(at(60 + 1).toISOString());
    expect(s.downMinutes).toBeGreaterThanOrEqual(19);
    expect(r.ok).toBe(false);
    expect(r.needsAttention.join('\n')).toMatch(/source klagomal \(INBOX\): down for 19 min/);

    // A scan that completes ends it.
    rec.polled({ folderMessages: 1, waiting: 0 });
    const after = w.report();
    expect(after.sources[0].downSince).toBeNull();
  });

  test('aServiceKilledWithMinusNineIsSeenWithinAMinute', () => {
    // The service beats every 10 s; its Maildir or IDLE source writes only when it scans or
    // reconnects (IDLE: every poll interval, here 5 s, but a slow poll is minutes).
    const health = new ServiceHealth(w.store, () => w.now, silentLogger);
    health.start();
    const rec = new SourceStatusRecorder(w.store, 'klagomal', 'INBOX', () => w.now, silentLogger);
    rec.connected();
    rec.polled({ folderMessages: 0, waiting: 0 });
    // kill -9: nothing more is written. Within the heartbeat's window it may still look alive;
    const soon = w.report(at(SERVICE_STALE_SECONDS - 5));
    expect(soon.service.running).toBe(true);
    // a minute after the kill it is seen (before: three minutes, the sources' window).
    const later = w.report(at(60));
    expect(later.service.running).toBe(false);
    expect(later.ok).toBe(false);
    expect(later.needsAttention.join('\n')).toMatch(/service not running: no heartbeat since .* and it did not stop cleanly/);
    expect(later.sources[0].state).toBe('not-running');

    // A clean stop is not a death.
    w.now = at(5);
    health.stop();
    const stopped = w.report(at(120));
    expect(stopped.service.running).toBe(false);
    expect(stopped.needsAttention.join('\n')).not.toMatch(/service not running/);
  });

  test('aDataFolderThatCannotBeWrittenTurnsStatusRedAtOnce', () => {
    const rec = new SourceStatusRecorder(w.store, 'klagomal', 'INBOX', () => w.now, silentLogger, w.config.dataDir);
    rec.connected();
    const eacces = Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES', path: path.join(w.config.dataDir, 'raw', 'tmp', 'x') });
    rec.failed(eacces);
    const r = w.report(at(1));
    expect(r.ok).toBe(false);
    expect(r.needsAttention.join('\n')).toMatch(/source klagomal \(INBOX\): cannot write to the data folder since .*chown -R/);
    rec.polled({ folderMessages: 0, waiting: 0 });
    expect(w.report(at(2)).needsAttention).toEqual([]);
  });
});

describe('storage failures are the data folder’s, not the mail’s', () => {
  const data = '/var/lib/klagomal';
  test.each([
    ['ENOSPC', `${data}/attachments/tmp/1-ab`],
    ['EDQUOT', `${data}/raw/tmp/1-ab`],
    ['EACCES', `${data}/raw/ab/abc.eml`],
    ['EROFS', `${data}/klagomal.db-wal`],
  ])('%s under the data folder is a storage failure', (code, file) => {
    const err = new Error('write failed', { cause: Object.assign(new Error(code), { code, path: file }) });
    expect(storageFailure(err, data)?.code).toBe(code);
  });
  test('aFullDatabaseIsAStorageFailure', () => {
    expect(storageFailure(Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' }), data)?.fix).toMatch(/full: free space/);
  });
  test('anUnreadableMailInAMaildirIsThatMailsProblem', () => {
    expect(storageFailure(Object.assign(new Error('EACCES'), { code: 'EACCES', path: '/srv/mail/new/1.eml' }), data)).toBeNull();
  });
  test('aParseErrorIsNot', () => {
    expect(storageFailure(new Error('not a readable mail'), data)).toBeNull();
  });
});

describe('commands that write into the data folder run as its owner', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-owner-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('importAsAnotherUserIsRefusedWithTheExactSudoLine', () => {
    const config = {
      dataDir: dir,
      sources: [],
      transport: { type: 'pickup' },
      personnummer: { store: true, keyEnv: 'KLAGOMAL_PERSONNUMMER_KEY' },
    } as unknown as Config;
    const owner = fs.statSync(dir).uid;
    const me = owner + 4711;
    let refused: unknown;
    try {
      ensureDataFolderOwner(config, ['import', '/srv/gammal brevlåda.mbox', '--config', '/etc/klagomal/config.json'], false, {
        uid: me,
        execPath: '/usr/bin/node',
        script: '/opt/klagomal/bin/klagomal.js',
      });
    } catch (err) {
      refused = err;
    }
    expect(refused).toBeInstanceOf(WrongUser);
    const lines = (refused as WrongUser).lines;
    const ownerName = owner === 0 ? 'root' : `#${owner}`;
    expect(lines[0]).toContain(`the data folder ${dir} belongs to ${ownerName}`);
    expect(lines[0]).toContain('Nothing was changed');
    expect(lines[1]).toMatch(
      new RegExp(
        `^  sudo -u ${ownerName.replace('#', '\\\\?#')}( --preserve-env=KLAGOMAL_PERSONNUMMER_KEY)? /usr/bin/node /opt/klagomal/bin/klagomal\\.js import '/srv/gammal brevlåda\\.mbox' --config /etc/klagomal/config\\.json$`,
      ),
    );
    // The owner itself runs it.
    expect(() => ensureDataFolderOwner(config, ['import', 'x'], false, { uid: owner, execPath: 'node', script: 'k' })).not.toThrow();
  });
});

describe('config files that cannot be read', () => {
  test('invalidJsonNamesTheLineAndColumn', () => {
    expect(jsonErrorAt('{\n  "firm": {\n    "name": "X",\n  }\n}')).toEqual({ line: 4, column: 3, message: "a trailing comma before '}' (JSON allows none)" });
    expect(jsonErrorAt('{\n  "a": 1\n  "b": 2\n}')).toMatchObject({ line: 3, column: 3, message: expect.stringMatching(/expected ',' or '}'/) });
    expect(jsonErrorAt('{"a": "x\ny"}')).toMatchObject({ line: 1, column: 9 });
    expect(jsonErrorAt('{"a": 1} // note')).toMatchObject({ line: 1, column: 10 });
    expect(jsonErrorAt('{"a": [1, 2,]}')).toMatchObject({ line: 1, column: 13 });
    expect(jsonErrorAt('')).toMatchObject({ line: 1, column: 1, message: expect.stringMatching(/the end of the file/) });
    expect(jsonErrorAt('{"a": [1, {"b": null}], "c": -1.5e3, "d": "\\u00e5"}')).toBeNull();
  });

  test('invalidJsonConfigSaysFileLineAndColumnNotCorrectTheKeys', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-json-'));
    try {
      const file = path.join(dir, 'config.json');
      fs.writeFileSync(file, '{\n  "firm": { "name": "X" }\n  "dataDir": "./data"\n}\n');
      let e: ConfigError | undefined;
      try {
        loadConfig(file);
      } catch (err) {
        e = err as ConfigError;
      }
      expect(e).toBeInstanceOf(ConfigError);
      expect(e!.message).toContain(file);
      expect(e!.problems[0].message).toMatch(/^not valid JSON: line 3, column 3: expected ',' or '}'/);
      expect(e!.problems[0].fix).toContain(`${file}:3:3`);
      expect(e!.problems[0].fix).not.toMatch(/key/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('graceSecondsAboveTheUnitsTimeoutStopSecFailsTheCheck', () => {
    const minimal = (shutdown: unknown): unknown => ({
      firm: { name: 'X', complaintsAddress: 'klagomal@x.se' },
      sources: [{ type: 'maildir', name: 'm', path: './m' }],
      transport: { type: 'pickup', path: './p' },
      deadlines: { escalation: { enabled: false } },
      shutdown,
    });
    let e: ConfigError | undefined;
    try {
      parseConfig(minimal({ graceSeconds: 45 }), '/etc/klagomal/config.json');
    } catch (err) {
      e = err as ConfigError;
    }
    expect(e).toBeInstanceOf(ConfigError);
    expect(e!.problems).toEqual([
      { key: 'shutdown.graceSeconds', message: expect.stringMatching(/^45 is above the systemd unit's TimeoutStopSec \(30 s, deploy\/klagomal\.service\)/) },
    ]);
    expect(parseConfig(minimal({ graceSeconds: 25 }), '/x.json').shutdown.graceSeconds).toBe(25);
  });

  test('theCheckKnowsTheUnitsTimeoutStopSec', () => {
    const unit = fs.readFileSync(path.join(packageRoot(), 'deploy', 'klagomal.service'), 'utf8');
    expect(Number(/^TimeoutStopSec=(\d+)/m.exec(unit)?.[1])).toBe(UNIT_TIMEOUT_STOP_SEC);
  });
});

describe('the admin is told of each damage once', () => {
  const damage = (sha: string, problem: 'mismatch' | 'missing') => ({
    sha256: sha.repeat(32),
    storedAs: 'file' as const,
    path: `raw/${sha}/${sha}.eml`,
    problem,
    detail: problem === 'mismatch' ? 'cd'.repeat(32) : null,
    inboundIds: [1],
    cases: ['KLG-2026-000001'],
  });
  const report = (runId: number, found: number, damaged: ReturnType<typeof damage>[]): ReconcileReport =>
    ({
      runId,
      trigger: 'schedule',
      startedAt: T0.toISOString(),
      finishedAt: T0.toISOString(),
      folders: [],
      raw: {
        checked: 5,
        missing: damaged.filter((d) => d.problem === 'missing').length,
        mismatched: damaged.filter((d) => d.problem === 'mismatch').length,
        damaged,
      },
      found,
      filedNow: found,
      errors: 0,
      error: null,
      interrupted: false,
      adminNotified: false,
      ok: false,
    }) as unknown as ReconcileReport;

  test('adminMailedTwiceAboutOneDamagedRawFile', () => {
    const a = damage('ab', 'mismatch');
    // Run 1 found missed mail and the damage: one mail, listing both.
    const first = adminNotice(report(1, 1, [a]))!;
    expect(first.text).toContain('raw/ab/ab.eml: mismatch');
    const told = new Set(first.damageTold);
    // Run 2: the same damage only: nothing new to tell (before: a second mail, keyed by the damage).
    expect(adminNotice(report(2, 0, [a]), told)).toBeNull();
    // Run 3: another file damaged too: one mail about the new one, the first not listed again.
    const b = damage('ef', 'missing');
    const third = adminNotice(report(3, 0, [a, b]), told)!;
    expect(third.text).toContain('raw/ef/ef.eml: missing');
    expect(third.text).not.toContain('raw/ab/ab.eml');
    expect(third.text).toMatch(/1 of them were reported before/);
  });
});

describe('the service loops share one abort signal', () => {
  test('waitsDoNotPileListenersOnTheSharedSignal', async () => {
    // The service's loops with two mailboxes, their Sent folders and HTTP on: four IMAP loops
    // (a stop listener and a wait each), the processor, the sender, the template loop, HTTP and
    // two schedules, all waiting at once. On the shared signal they were 14 listeners, past
    // Node's limit of ten: a MaxListenersExceededWarning in plain text on stderr.
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      const c = new AbortController();
      const fan = new SignalFanout(c.signal);
      const waits: Array<Promise<void>> = [];
      for (let i = 0; i < 4; i++) {
        const own = fan.child();
        own.addEventListener('abort', () => undefined, { once: true });
        waits.push(new Wakeup().wait(60_000, own));
      }
      for (let i = 0; i < 8; i++) waits.push(new Wakeup().wait(60_000, fan.child()));
      // Many waits in a row on one loop's signal leave nothing behind.
      const loop = fan.child();
      const w = new Wakeup();
      for (let i = 0; i < 1000; i++) {
        const p = w.wait(1000, loop);
        w.notify();
        await p;
      }
      expect(getEventListeners(loop, 'abort')).toHaveLength(0);
      expect(getEventListeners(c.signal, 'abort').length).toBeLessThanOrEqual(1);
      await new Promise((r) => setImmediate(r));
      expect(warnings).not.toContain('MaxListenersExceededWarning');
      c.abort(); // the shared abort still ends every wait at once
      await Promise.all(waits);
      expect(fan.child().aborted).toBe(true);
    } finally {
      process.off('warning', onWarning);
    }
  });
});
