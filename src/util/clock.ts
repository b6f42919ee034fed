/**
 * Time, as the pipeline sees it. Every instant is stored as an ISO 8601 string in UTC
 * (`2026-11-21T09:30:00.000Z`), which sorts correctly as text in SQLite. Pure rules take
 * `now` as a parameter; only the edges (service loops, CLI) read the real clock.
 */
export type Instant = string;

export type Clock = () => Date;

export const systemClock: Clock = () => new Date();

export function toInstant(d: Date): Instant {
  return d.toISOString();
}

/** `d` plus whole years (negative: minus); 29 February falls back to 28 February. */
export function addYears(d: Date, years: number): Date {
  const r = new Date(d.getTime());
  const month = r.getUTCMonth();
  r.setUTCFullYear(r.getUTCFullYear() + years);
  if (r.getUTCMonth() !== month) r.setUTCDate(0); // rolled into March: the last day of February
  return r;
}

export function addSeconds(d: Date, seconds: number): Date {
  return new Date(d.getTime() + seconds * 1000);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
