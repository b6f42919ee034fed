/**
 * Issue 16: over a 50,000-mail backlog the service grew past 400 MB although its live heap stayed
 * at ~60 MB: V8 let each batch's garbage pile up between full collections. After each batch the
 * processor (and the sender after each round) asks for a full collection when the RSS is high.
 */
import { GARBAGE_HIGH, GARBAGE_INTERVAL_MS, MIN_INTERVAL_MS, relieveMemory, RSS_HIGH } from '../../src/util/memory';

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
    const live = 300 * 1024 * 1024;
    expect(
      relieveMemory(
        t,
        () => RSS_HIGH - 1,
        () => live,
      ),
    ).toBe(false);
    expect(
      relieveMemory(
        t,
        () => RSS_HIGH + 1,
        () => live,
      ),
    ).toBe(true);
    // A process large with live data is not collected over and over.
    expect(
      relieveMemory(
        t + MIN_INTERVAL_MS - 1,
        () => RSS_HIGH + 1,
        () => live,
      ),
    ).toBe(false);
    expect(
      relieveMemory(
        t + MIN_INTERVAL_MS,
        () => RSS_HIGH + 1,
        () => live,
      ),
    ).toBe(true);
  });

  test('heapGrewByAHundredMbOfGarbageWithinOneInterval', () => {
    // Before: one collection per 3 s whatever piled up meanwhile; over the 50,000 backlog the
    // heap grew by up to ~100 MB of garbage within one interval (peak RSS 257-261 MB; 231-238
    // MB with the collection after 32 MB of growth).
    const t = Date.now() + 3_000_000;
    let used = 60 * 1024 * 1024;
    const heap = (): number => used;
    expect(relieveMemory(t, () => RSS_HIGH + 1, heap)).toBe(true);
    used += GARBAGE_HIGH - 1; // grown, but less than the bound: the interval stands
    expect(relieveMemory(t + GARBAGE_INTERVAL_MS, () => RSS_HIGH + 1, heap)).toBe(false);
    used += 2; // past it: collected at once
    expect(relieveMemory(t + GARBAGE_INTERVAL_MS + 1, () => RSS_HIGH + 1, heap)).toBe(true);
    // Even a heap that keeps growing is collected at most every GARBAGE_INTERVAL_MS.
    used += 4 * GARBAGE_HIGH;
    expect(relieveMemory(t + 2 * GARBAGE_INTERVAL_MS, () => RSS_HIGH + 1, heap)).toBe(false);
    expect(relieveMemory(t + 2 * GARBAGE_INTERVAL_MS + 1, () => RSS_HIGH + 1, heap)).toBe(true);
  });
});
