/**
 * Memory kept flat over a long backlog or import (issue 16).
 *
 * The heap that stays alive is flat (45–60 MB after each full collection), but V8 lets garbage
 * pile up between full collections (the parsed mails of a batch live long enough to be
 * promoted, then die), so a service filing 50,000 mails, or an import of 60,000, grew past
 * 400 MB. Capping the heap (`--max-old-space-size`) bounds that too, but stops the process on
 * one large piece of work that needs more (a monthly pack over a big register, a huge mail).
 * Instead, after each unit of work (a filing batch, a round of the sender), when the process's
 * RSS is past RSS_HIGH, one full collection is asked for: at most once every MIN_INTERVAL_MS,
 * so a process that is large because of live data does not collect over and over; sooner when
 * the heap has grown by GARBAGE_HIGH since the last one, which live data that stays cannot do.
 * Over the 50,000 backlog the main thread's heap grew by up to ~100 MB of garbage within one
 * interval; the peak RSS was 257–261 MB with the interval alone, 231–238 MB with this.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

/** Past this resident size a full collection is worth its ~10–40 ms. */
export const RSS_HIGH = 200 * 1024 * 1024;
export const MIN_INTERVAL_MS = 3_000;
/** Heap grown by this much since the last collection: garbage, collected without waiting out the interval ... */
export const GARBAGE_HIGH = 32 * 1024 * 1024;
/** ... but never more often than this (a collection's cost bounded to a few % of the time). */
export const GARBAGE_INTERVAL_MS = 500;

let collect: (() => void) | null | undefined;
let last = 0;
/** The heap in use just after the last collection: what was alive then. */
let liveAfterLast = 0;

const heapInUse = (): number => v8.getHeapStatistics().used_heap_size;

/** Ask for a full collection when the RSS is high and none was asked for lately. True when one ran. */
export function relieveMemory(now: number = Date.now(), rss: () => number = process.memoryUsage.rss, heapUsed: () => number = heapInUse): boolean {
  const since = now - last;
  if (since < GARBAGE_INTERVAL_MS || rss() < RSS_HIGH) return false;
  if (since < MIN_INTERVAL_MS && heapUsed() - liveAfterLast < GARBAGE_HIGH) return false;
  if (collect === undefined) {
    try {
      // gc() is offered to contexts made after the flag is set: a new context hands it over.
      v8.setFlagsFromString('--expose-gc');
      collect = vm.runInNewContext('gc') as () => void;
    } catch {
      collect = null; // not offered by this runtime: V8 collects on its own schedule
    }
  }
  if (!collect) return false;
  last = now;
  collect();
  liveAfterLast = heapUsed();
  return true;
}
