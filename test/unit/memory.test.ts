/**
 * Issue 16: over a 50,000-mail backlog the service grew past 400 MB although its live heap stayed
 * at ~60 MB: V8 let each batch's garbage pile up between full collections. After each batch the
 * processor (and the sender after each round) asks for a full collection when the RSS is high.
 */
import { MIN_INTERVAL_MS, relieveMemory, RSS_HIGH } from '../../src/util/memory';

describe('memory kept flat between batches', () => {
  test('garbageOfABatchIsCollectedWhenTheProcessIsLarge', () => {
    const t = Date.now() + 1_000_000; // past any collection earlier in this process
    // A batch's worth of garbage: parsed mails that died after their commit.
    let batch: Array<{ text: string }> | null = Array.from({ length: 50_000 }, (_, i) => ({ text: `mail ${i} `.repeat(20) }));
    const before = process.memoryUsage().heapUsed;
    expect(batch.length).toBe(50_000);
    batch = null;
    expect(relieveMemory(t, () => RSS_HIGH + 1)).toBe(true);
    // The batch (~20 MB) is gone at once, not at V8's next full collection of its own.
    expect(process.memoryUsage().heapUsed).toBeLessThan(before - 10 * 1024 * 1024);
  });

  test('aSmallProcessOrARecentCollectionAsksForNone', () => {
    const t = Date.now() + 2_000_000;
    expect(relieveMemory(t, () => RSS_HIGH - 1)).toBe(false);
    expect(relieveMemory(t, () => RSS_HIGH + 1)).toBe(true);
    // A process large with live data is not collected over and over.
    expect(relieveMemory(t + MIN_INTERVAL_MS - 1, () => RSS_HIGH + 1)).toBe(false);
    expect(relieveMemory(t + MIN_INTERVAL_MS, () => RSS_HIGH + 1)).toBe(true);
  });
});
