/**
 * Backups and restores, the pure parts and the store (issue 18): the `backup` config section,
 * which mail is filed quietly after a restore (src/cases/after-restore.ts), the case numbers a
 * restore reserves (src/reconcile/after-restore.ts), and the online copy through the store.
 * The end-to-end behaviour, through the real binary against Dovecot and an SMTP receiver, is in
 * test/integration/backup.test.ts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, parseConfig } from '../../src/config/load';
import { caseNumbersIn, quietAfterRestore } from '../../src/cases/after-restore';
import { planGap } from '../../src/reconcile/after-restore';
import { blockSize, planHighWater } from '../../src/backup/high-water';
import { relogChildLine } from '../../src/backup/schedule';
import { createLogger } from '../../src/util/log';
import { openDatabase } from '../../src/store/db';
import { Store } from '../../src/store/store';

const FILE = path.join(path.sep, 'etc', 'klagomal', 'prod.json');

function minimal(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    firm: { name: 'Exempelfinans AB', complaintsAddress: 'klagomal@exempelfinans.se' },
    sources: [{ type: 'maildir', path: 'maildir' }],
    officers: [{ name: 'Karin', address: 'karin@exempelfinans.se', role: 'manager' }],
    dataDir: '/var/lib/klagomal',
    ...extra,
  };
}

function problems(json: unknown): Array<{ key: string; message: string }> {
  try {
    parseConfig(json, FILE);
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  return [];
}

describe('the backup section of the config', () => {
  test('backupDefaultsAreOffAndDocumented', () => {
    expect(parseConfig(minimal(), FILE).backup).toEqual({ dir: null, schedule: null, keep: 14, maxAgeHours: null });
    const c = parseConfig(minimal({ backup: { dir: '/srv/backup/klagomal', schedule: '15 2 * * *', keep: 30, maxAgeHours: 26 } }), FILE);
    expect(c.backup).toEqual({ dir: '/srv/backup/klagomal', schedule: '15 2 * * *', keep: 30, maxAgeHours: 26 });
  });

  test('backupDirRelativeToTheConfigFile', () => {
    expect(parseConfig(minimal({ backup: { dir: '../../srv/backup' } }), FILE).backup.dir).toBe(path.resolve('/etc/klagomal', '../../srv/backup'));
  });

  test('backupScheduleWithoutDirIsRefusedNamingTheKey', () => {
    expect(problems(minimal({ backup: { schedule: '15 2 * * *' } }))).toEqual([
      { key: 'backup.dir', message: expect.stringMatching(/required with backup.schedule/) },
    ]);
  });

  test('backupDirInsideTheDataFolderIsRefused', () => {
    const p = problems(minimal({ backup: { dir: '/var/lib/klagomal/backup' } }));
    expect(p).toEqual([{ key: 'backup.dir', message: expect.stringMatching(/inside dataDir .*lost with the data folder/) }]);
    // A sibling whose name starts like the data folder is not inside it.
    expect(problems(minimal({ backup: { dir: '/var/lib/klagomal-backup' } }))).toEqual([]);
  });

  test('badBackupValuesAreAllReportedAtOnce', () => {
    const p = problems(minimal({ backup: { dir: '/srv/b', schedule: 'every night', keep: 0, maxAgeHours: 'a day', keepp: 3 } }));
    expect(p.map((x) => x.key).sort()).toEqual(['backup.keep', 'backup.keepp', 'backup.maxAgeHours', 'backup.schedule']);
    expect(p.find((x) => x.key === 'backup.schedule')!.message).toMatch(/not a valid cron expression: "every night"/);
  });
});

describe('filing after a restore (src/cases/after-restore.ts)', () => {
  const marker = {
    manifest: 'manifest-2026-11-19T08-00-00-000Z.json',
    lastInboundId: 100,
    newestArrival: '2026-11-19T07:59:00.000Z',
    gap: [{ prefix: 'KLG', year: 2026, from: 51, to: 180 }],
  };
  const after = { id: 101, received_at: '2026-11-19T09:00:00.000Z' };

  test('noRestoreNothingIsQuiet', () => {
    expect(
      quietAfterRestore(null, { id: 1, received_at: '2020-01-01T00:00:00.000Z' }, 'moved to the processed folder Processed', ['KLG-2026-000060']),
    ).toBeNull();
  });

  test('mailStoredButNotFiledInTheBackupIsNotAcknowledgedAgain', () => {
    expect(quietAfterRestore(marker, { id: 100, received_at: '2026-11-19T07:59:00.000Z' }, null, [])).toMatch(/stored but not yet filed when the backup/);
  });

  test('mailTheLostInstallHadMovedOrFlaggedIsNotAcknowledgedAgain', () => {
    expect(quietAfterRestore(marker, after, 'moved to the processed folder Processed', [])).toMatch(
      /^moved to the processed folder Processed: the install before/,
    );
    expect(quietAfterRestore(marker, after, 'flagged \\Seen in INBOX', [])).toMatch(/flagged \\Seen/);
  });

  test('mailOlderThanTheBackupsNewestIsNotAcknowledgedAgain', () => {
    expect(quietAfterRestore(marker, { id: 102, received_at: '2026-11-19T07:00:00.000Z' }, null, [])).toMatch(/before the newest mail of the backup/);
  });

  test('replyNamingACaseNumberOfTheGapIsFiledQuietly', () => {
    expect(quietAfterRestore(marker, after, null, ['KLG-2026-000120'])).toMatch(/names KLG-2026-000120, a case number issued after the backup/);
    expect(quietAfterRestore(marker, after, null, ['KLG-2026-000050', 'KLG-2026-000181', 'KLG-2025-000120'])).toBeNull();
  });

  test('mailNobodyHadTakenIsLive', () => {
    expect(quietAfterRestore(marker, after, null, [])).toBeNull();
  });

  test('caseNumbersAreReadFromTagsAndOurMessageIds', () => {
    expect(caseNumbersIn('Re: [KLG-2026-000042] Avgift <klg-2026-000043.ack.x1@firma.se> KLG-2026-00441 XKLG-2026-000045', 'KLG')).toEqual([
      'KLG-2026-000042',
      'KLG-2026-000043',
    ]);
  });
});

describe('the case numbers a restore reserves (src/reconcile/after-restore.ts)', () => {
  test('everyMailAfterTheBackupMayHaveOpenedACase', () => {
    const gap = planGap([{ prefix: 'KLG', year: 2026, last: 50 }], 'KLG', 130, [], { from: 2026, to: 2026 });
    expect(gap).toEqual([{ prefix: 'KLG', year: 2026, from: 51, to: 180 }]);
  });

  test('aNumberNamedInTheMailboxAboveTheBoundIsReservedToo', () => {
    // A case whose own mail was deleted from the server; the customer's reply names it.
    const gap = planGap([{ prefix: 'KLG', year: 2026, last: 50 }], 'KLG', 3, ['KLG-2026-000200', 'KLG-2026-000010'], { from: 2026, to: 2026 });
    expect(gap).toEqual([{ prefix: 'KLG', year: 2026, from: 51, to: 200 }]);
  });

  test('aNewYearAfterTheBackupIsReservedFromOne', () => {
    const gap = planGap([{ prefix: 'KLG', year: 2026, last: 50 }], 'KLG', 4, [], { from: 2026, to: 2027 });
    expect(gap).toEqual([
      { prefix: 'KLG', year: 2026, from: 51, to: 54 },
      { prefix: 'KLG', year: 2027, from: 1, to: 4 },
    ]);
  });

  test('nothingAfterTheBackupReservesNothing', () => {
    expect(
      planGap(
        [
          { prefix: 'KLG', year: 2026, last: 50 },
          { prefix: 'OLD', year: 2026, last: 9 },
        ],
        'KLG',
        0,
        [],
        { from: 2026, to: 2026 },
      ),
    ).toEqual([]);
  });
});

describe('the case-number high-water mark on the backup disk (src/backup/high-water.ts)', () => {
  const seq = (last: number, year = 2026): { prefix: string; year: number; last: number } => ({ prefix: 'KLG', year, last });

  test('highWaterMarkIsReservedAheadBeforeTheFirstCase', () => {
    expect(planHighWater([], [], 'KLG', 2026, 1000)).toEqual([seq(1000)]);
  });

  test('highWaterMarkMovesWhileHalfABlockIsStillLeftSoABatchNeverPassesIt', () => {
    // 499 left of 1,000: a batch of up to 500 could pass it, so a new block is reserved now.
    expect(planHighWater([seq(501)], [seq(1000)], 'KLG', 2026, 1000)).toEqual([seq(1501)]);
    // 500 left: nothing is written (the file is not rewritten at every mail).
    expect(planHighWater([seq(500)], [seq(1000)], 'KLG', 2026, 1000)).toBeNull();
    // A block is twice the largest batch.
    expect(blockSize(50)).toBe(1000);
    expect(blockSize(1000)).toBe(2000);
  });

  test('highWaterMarkNeverGoesDownAndKeepsOtherYears', () => {
    // A restored database below the mark: the mark stays.
    expect(planHighWater([seq(3)], [seq(4000)], 'KLG', 2026, 1000)).toBeNull();
    // A sequence above the mark (an install without the file before): reserved past it, other years kept.
    expect(planHighWater([seq(5000), seq(7, 2025)], [seq(4000), seq(900, 2025)], 'KLG', 2026, 1000)).toEqual([seq(900, 2025), seq(6000)]);
  });

  test('aNewYearIsReservedBeforeItsFirstCaseIsOpened', () => {
    expect(planHighWater([seq(800, 2026)], [seq(1500, 2026)], 'KLG', 2027, 1000)).toEqual([seq(1500, 2026), seq(1000, 2027)]);
  });
});

describe('the log lines of the scheduled backup child (src/backup/schedule.ts)', () => {
  test('backupChildLinesAreLoggedAgainByTheServiceSoEveryStderrLineStaysJson', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'debug', pretty: false, write: (l) => lines.push(l) }).child({ stage: 'backup' });
    relogChildLine(log, JSON.stringify({ level: 'error', time: 't', pid: 7, stage: 'backup', msg: 'backup failed', dir: '/srv/b', counts: { cases: 3 } }), 42);
    relogChildLine(log, 'Error: something\n    at x (y.js:1:1)', 42);
    relogChildLine(log, '   ', 42);
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed).toEqual([
      expect.objectContaining({ level: 'error', msg: 'backup failed', stage: 'backup', dir: '/srv/b', counts: '{"cases":3}', childPid: 42 }),
      expect.objectContaining({ level: 'warn', msg: 'the backup process wrote a line that is not JSON', childPid: 42 }),
    ]);
    expect(parsed[0].pid).toBe(process.pid); // the service's line, not a copy of the child's
  });
});

describe('the online copy through the store', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-backup-unit-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('copyIsOneSelfContainedFileWithWhatTheLiveDatabaseHeld', async () => {
    const live = openDatabase(path.join(dir, 'live.db'));
    const store = new Store(live);
    store.tx(() => {
      store.nextCaseNumber('KLG', 2026);
      store.appendEvent({ at: '2026-11-19T08:00:00.000Z', actor: 'system', type: 'source-reset', detail: { n: 1 } });
    });
    const copyFile = path.join(dir, 'copy.db');
    await store.snapshotDatabaseTo(copyFile);
    // A write after the copy is not in it.
    store.tx(() => store.nextCaseNumber('KLG', 2026));
    live.close();
    const copyDb = openDatabase(copyFile);
    const copy = new Store(copyDb);
    copy.useRollbackJournal();
    expect(copy.caseNumberSequences()).toEqual([{ prefix: 'KLG', year: 2026, last: 1 }]);
    expect(copy.backupCounts()).toMatchObject({ cases: 0, events: 1 });
    expect([...copy.chainHeads()]).toEqual([{ caseId: null, caseNumber: null, lastEventId: 1, hash: expect.stringMatching(/^[0-9a-f]{64}$/) }]);
    expect(copy.integrityCheck()).toEqual(['ok']);
    copyDb.close();
    expect(fs.existsSync(`${copyFile}-wal`)).toBe(false);
  });
});
