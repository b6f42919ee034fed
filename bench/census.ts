/**
 * The work census (issue 16: "count statements and events per mail"): every SQL statement the
 * service runs to take in, file and acknowledge a backlog of complaints, then a backlog of
 * follow-ups to them, counted per mail with the events and outgoing mails it leaves. Counts, unlike
 * times, do not move with the load of a shared machine: a change that takes work out of the
 * pipeline shows here exactly, even where the backlog's times cannot tell it from noise.
 *
 * In this process (Maildir in, the pickup folder out, one `run --once` pass per backlog); the
 * time column is of this process and only a guide.
 */
import Database from 'better-sqlite3';
import { makeWorld, complaintMail, deliverToMaildir } from '../test/support/world';
import { loadConfig } from '../src/config/load';
import { Service } from '../src/service';
import { silentLogger } from '../src/util/log';

interface Tally {
  n: number;
  us: number;
}

/** Counts every run/get/all/iterate of every statement prepared from now on, by its SQL text. */
function countStatements(): { tally: Map<string, Tally>; stop: () => void } {
  const tally = new Map<string, Tally>();
  const proto = Database.prototype as unknown as { prepare: (sql: string) => Database.Statement };
  const prepare = proto.prepare;
  proto.prepare = function (this: Database.Database, sql: string): Database.Statement {
    const statement = prepare.call(this, sql);
    const key = sql.replace(/\s+/g, ' ').trim();
    for (const method of ['run', 'get', 'all', 'iterate'] as const) {
      const original = statement[method] as (...args: unknown[]) => unknown;
      (statement as unknown as Record<string, unknown>)[method] = function (this: unknown, ...args: unknown[]): unknown {
        const t0 = process.hrtime.bigint();
        try {
          return original.apply(this, args);
        } finally {
          const t = tally.get(key) ?? { n: 0, us: 0 };
          t.n++;
          t.us += Number(process.hrtime.bigint() - t0) / 1e3;
          tally.set(key, t);
        }
      };
    }
    return statement;
  };
  return { tally, stop: () => (proto.prepare = prepare) };
}

function summary(tally: Map<string, Tally>, mails: number, label: string, counts: { events: number; outbox: number }): void {
  const all = [...tally.values()];
  const n = all.reduce((s, t) => s + t.n, 0);
  const us = all.reduce((s, t) => s + t.us, 0);
  const verb = (v: string): number => [...tally].filter(([sql]) => sql.toUpperCase().startsWith(v)).reduce((s, [, t]) => s + t.n, 0);
  console.log(
    `census: per ${label}: ${(n / mails).toFixed(1)} SQL statements (SELECT ${(verb('SELECT') / mails).toFixed(1)}, INSERT ${(verb('INSERT') / mails).toFixed(1)}, ` +
      `UPDATE ${(verb('UPDATE') / mails).toFixed(1)}, PRAGMA ${(verb('PRAGMA') / mails).toFixed(1)}), ${(counts.events / mails).toFixed(1)} events, ${(counts.outbox / mails).toFixed(1)} outgoing mails; ` +
      `${(us / mails).toFixed(0)} µs in SQLite calls (BEGIN and COMMIT not counted); the statements with the most time:`,
  );
  const top = [...tally].sort((a, b) => b[1].us - a[1].us).slice(0, Number(process.env.BENCH_CENSUS_TOP ?? 6));
  for (const [sql, t] of top)
    console.log(`census:   ${(t.n / mails).toFixed(1).padStart(5)} × ${(t.us / t.n).toFixed(0).padStart(3)} µs  ${sql.slice(0, 110)}`);
}

/** N complaints, then N follow-ups to them, each backlog filed and acknowledged in one pass. */
export async function censusBench(mails: number): Promise<void> {
  const world = makeWorld({ processing: { batchSize: 100 } });
  const counter = countStatements();
  let service: Service | null = null;
  try {
    service = new Service(loadConfig(world.configFile), silentLogger);
    const rows = (sql: string): number => (service!.db.prepare(sql).get() as { n: number }).n;
    const pass = async (label: string, make: (i: number) => string): Promise<void> => {
      const before = { events: rows('SELECT COUNT(*) AS n FROM events'), outbox: rows('SELECT COUNT(*) AS n FROM outbox') };
      for (let i = 0; i < mails; i++) deliverToMaildir(world.maildir, make(i));
      counter.tally.clear();
      const once = await service!.runOnce();
      const tally = new Map(counter.tally);
      if (once.filed !== mails) throw new Error(`census: ${once.filed} of ${mails} ${label}s filed`);
      summary(tally, mails, label, {
        events: rows('SELECT COUNT(*) AS n FROM events') - before.events,
        outbox: rows('SELECT COUNT(*) AS n FROM outbox') - before.outbox,
      });
    };
    await pass('complaint', (i) => complaintMail(i, { messageId: `census-${i}@example.com` }));
    await pass('follow-up', (i) =>
      complaintMail(i, {
        messageId: `census-followup-${i}@example.com`,
        subject: `Re: Klagomål nummer ${i} om avgift`,
        headers: [`In-Reply-To: <census-${i}@example.com>`, `References: <census-${i}@example.com>`],
        body: `Hej igen, jag har fortfarande inte fått tillbaka de 60 kronorna. Ärende ${i}.`,
      }),
    );
  } finally {
    counter.stop();
    service?.close();
    world.cleanup();
  }
}

// Run alone: node dist/bench/census.js [mails]
if (require.main === module) void censusBench(Number(process.argv[2] ?? 1000)).catch((err) => ((process.exitCode = 1), console.error(err)));
