/**
 * A monthly pack that fails for good (the managers' server refuses it) must not keep the month's
 * register, with customers' names and addresses, in the database for ever (GDPR art. 5(1)(e)):
 * retention drops the content of a failed mail's files after FAILED_MAIL_FILES_DAYS, and
 * `outbox retry` then refuses to send the mail without them.
 */
import { reportCommand } from '../../src/cli/report';
import { outboxCommand } from '../../src/cli/outbox';
import { FAILED_MAIL_FILES_DAYS, runRetention } from '../../src/retention/retention';
import { toInstant } from '../../src/util/clock';
import { buildScenario, makeReportWorld, ReportWorld } from '../support/report-fixture';

const quiet = { out: () => undefined, err: () => undefined };
const QUEUED = new Date('2026-04-01T07:30:00Z');

describe('files of a mail that failed for good', () => {
  let w: ReportWorld;
  let packId: number;

  beforeAll(async () => {
    w = makeReportWorld();
    await buildScenario(w);
    expect(await reportCommand.run({ config: w.configFile, month: '2026-03', send: true, now: QUEUED.toISOString() }, ['monthly'], quiet)).toBe(0);
    packId = w.store.listOutbox().find((o) => o.kind === 'monthly-pack')!.id;
    // The managers' server refused it for good.
    const at = toInstant(QUEUED);
    const row = w.store.claimOutbox(packId, at, toInstant(new Date(QUEUED.getTime() + 60_000)))!;
    expect(w.store.finishOutboxAttempt(packId, row.attempts, 'failed', '550 5.7.1 message refused', at, null)).toBe(true);
  }, 60_000);

  afterAll(() => w?.close());

  test('failedMonthlyPackKeepsItsFilesForRetryWithinTheDays', async () => {
    const r = await runRetention(
      { store: w.store, config: w.config },
      { now: new Date(QUEUED.getTime() + (FAILED_MAIL_FILES_DAYS - 1) * 86_400_000), trigger: 'command' },
    );
    expect(r.outboxFilesBlanked).toBe(0);
    expect(w.store.outboxAttachments(packId).every((f) => f.content !== null)).toBe(true);
  });

  test('failedMonthlyPackLosesItsRegisterToRetentionAfterTheDays', async () => {
    const now = new Date(QUEUED.getTime() + (FAILED_MAIL_FILES_DAYS + 1) * 86_400_000);
    const files = w.store.outboxAttachments(packId);
    expect(files.some((f) => f.filename.endsWith('.csv'))).toBe(true);
    // A dry run counts and changes nothing.
    const dry = await runRetention({ store: w.store, config: w.config }, { now, trigger: 'command', dryRun: true });
    expect(dry.outboxFilesBlanked).toBe(files.length);
    expect(w.store.outboxAttachments(packId).every((f) => f.content !== null)).toBe(true);

    const r = await runRetention({ store: w.store, config: w.config }, { now, trigger: 'command' });
    expect(r.outboxFilesBlanked).toBe(files.length);
    const after = w.store.outboxAttachments(packId);
    expect(after.map((f) => f.content)).toEqual(files.map(() => null));
    // The record of what was sent stays: names, sizes, hashes.
    expect(after.map((f) => [f.filename, f.size, f.sha256])).toEqual(files.map((f) => [f.filename, f.size, f.sha256]));
    // Run again: nothing more.
    expect((await runRetention({ store: w.store, config: w.config }, { now, trigger: 'command' })).outboxFilesBlanked).toBe(0);
  });

  test('outboxRetryRefusesAMailWhoseFilesRetentionRemoved', async () => {
    await expect(outboxCommand.run({ config: w.configFile }, ['retry', String(packId)], quiet)).rejects.toThrow(
      /lost its attached files to retention .* klagomal report monthly --month YYYY-MM --send/,
    );
    expect(w.store.outboxRow(packId)!.status).toBe('failed');
  });
});
