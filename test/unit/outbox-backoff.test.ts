/**
 * Backoff arithmetic: the outbox retry delay (src/reply/outbox-sender.ts) and the IMAP
 * reconnect delay and UID sets (src/ingest/imap.ts). A wrong delay is either a retry storm
 * against a struggling server or a mail that waits for hours for no reason. Jitter is tested
 * with a deterministic `random`.
 */
import { retryDelaySeconds } from '../../src/reply/outbox-sender';
import { reconnectDelayMs } from '../../src/ingest/imap';
import { uidSet } from '../../src/ingest/imap-listing';

const mid = () => 0.5; // no jitter: factor 1.0
const low = () => 0; // factor 0.8 (outbox) / 0.7 (IMAP)
const high = () => 0.999999; // just under 1.2 / 1.3

describe('retryDelaySeconds (base * 2^(n-1), capped, ±20 % jitter)', () => {
  test.each<[number, number]>([
    [0, 30], // a claim without a failure yet: the base
    [1, 30],
    [2, 60],
    [3, 120],
    [4, 240],
    [5, 480],
    [6, 960],
    [7, 1920],
    [8, 3600], // 3840 capped
    [30, 3600],
    [1000, 3600], // 2^999 is Infinity in floating point; the cap must still hold
  ])('retryDelayNotDoubling: after %i attempts', (attempts, expected) => {
    expect(retryDelaySeconds(attempts, 30, 3600, mid)).toBe(expected);
  });

  test('jitterOutsideTwentyPercent', () => {
    expect(retryDelaySeconds(3, 30, 3600, low)).toBe(96); // 120 * 0.8
    expect(retryDelaySeconds(3, 30, 3600, high)).toBe(144); // 120 * 1.2, rounded
    for (let i = 0; i <= 100; i++) {
      const r = i / 100.0001;
      const d = retryDelaySeconds(4, 30, 3600, () => r);
      expect(d).toBeGreaterThanOrEqual(Math.round(240 * 0.8));
      expect(d).toBeLessThanOrEqual(Math.round(240 * 1.2));
    }
  });

  test('jitterPushesDelayPastTheConfiguredMaximum', () => {
    // 3000 * 1.2 = 3600 > 3400: the configured longest delay must hold after jitter too.
    expect(retryDelaySeconds(7, 3000 / 64, 3400, high)).toBe(3400);
    for (let i = 0; i <= 20; i++) expect(retryDelaySeconds(8, 30, 3600, () => i / 20)).toBeLessThanOrEqual(3600);
  });

  test('jitterDoesNotSpreadRetries', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 10; i++) seen.add(retryDelaySeconds(5, 30, 3600, () => i / 10));
    expect(seen.size).toBe(10);
  });

  test('zeroOrNegativeDelay', () => {
    expect(retryDelaySeconds(1, 1, 1, low)).toBe(1); // 0.8 rounds to 1, never 0
    expect(retryDelaySeconds(-5, 1, 10, low)).toBe(1);
    for (let attempts = 0; attempts < 50; attempts++) expect(retryDelaySeconds(attempts, 1, 86400, low)).toBeGreaterThanOrEqual(1);
  });

  test('delayIsNotAWholeNumberOfSeconds', () => {
    for (let i = 0; i < 20; i++) expect(Number.isInteger(retryDelaySeconds(i, 30, 3600, () => (i * 0.37) % 1))).toBe(true);
  });

  test('defaultJitterOutOfRange', () => {
    const d = retryDelaySeconds(2, 30, 3600);
    expect(d).toBeGreaterThanOrEqual(48);
    expect(d).toBeLessThanOrEqual(72);
  });
});

describe('reconnectDelayMs (1 s doubling to 60 s, ±30 % jitter)', () => {
  test.each<[number, number]>([
    [0, 1000],
    [1, 1000],
    [2, 2000],
    [3, 4000],
    [4, 8000],
    [5, 16000],
    [6, 32000],
    [7, 60000], // 64 s capped
    [100, 60000],
    [5000, 60000],
  ])('reconnectStormOrEndlessWait: after %i failures', (failures, expected) => {
    expect(reconnectDelayMs(failures, mid)).toBe(expected);
  });

  test('jitterOutsideThirtyPercent', () => {
    expect(reconnectDelayMs(1, low)).toBe(700);
    expect(reconnectDelayMs(1, high)).toBe(1300);
    expect(reconnectDelayMs(100, low)).toBe(42000);
    expect(reconnectDelayMs(100, high)).toBe(78000);
  });

  test('manyClientsReconnectInLockstep', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 10; i++) seen.add(reconnectDelayMs(3, () => i / 10));
    expect(seen.size).toBe(10);
  });
});

describe('uidSet', () => {
  test.each<[string, number[], string]>([
    ['empty', [], ''],
    ['one', [5], '5'],
    ['a run', [1, 2, 3], '1:3'],
    ['runs and singles', [1, 2, 3, 5, 7, 8, 9], '1:3,5,7:9'],
    ['unsorted', [9, 1, 8, 3, 2, 7, 5], '1:3,5,7:9'],
    ['duplicates', [4, 4, 5, 5, 5], '4:5'],
    ['two apart', [1, 3], '1,3'],
    ['pair', [10, 11], '10:11'],
    ['large UIDs (32-bit)', [4294967294, 4294967295], '4294967294:4294967295'],
    ['numeric not lexical order', [10, 9, 100, 2], '2,9:10,100'],
  ])('wrongUidSetMarksOtherMail: %s', (_label, uids, expected) => {
    expect(uidSet(uids)).toBe(expected);
  });

  test('everyUidCoveredExactlyOnce', () => {
    const uids = [1, 2, 3, 10, 11, 13, 20, 21, 22, 23, 99];
    const expanded = uidSet(uids)
      .split(',')
      .flatMap((part) => {
        const [a, b] = part.split(':').map(Number);
        return b === undefined ? [a] : Array.from({ length: b - a + 1 }, (_, i) => a + i);
      });
    expect(expanded).toEqual(uids);
  });

  test('inputMutated', () => {
    const uids = [3, 1, 2];
    uidSet(uids);
    expect(uids).toEqual([3, 1, 2]);
  });
});
