/**
 * The monthly management pack over a large register (issue 15): BENCH_MONTHLY_PER_MONTH cases a
 * month (default 2,000) over the month and the twelve before, each with an acknowledgement and a
 * final-answer deadline, built with SQL directly. Measured: reading the thirteen reports,
 * rendering the mail with its four PNG charts (resvg), and the size of the mail's files; printed,
 * not asserted. The pass runs once a month, so the number to watch is that it stays in seconds
 * and does not hold the database for long (it reads in one transaction).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase } from '../src/store/db';
import { Store } from '../src/store/store';
import { parseConfig } from '../src/config/load';
import { packageRoot } from '../src/util/package-root';
import { readMonthlyPack, Month } from '../src/monthly/pack';
import { renderPack } from '../src/monthly/render';

export async function monthlyBench(perMonth = Number(process.env.BENCH_MONTHLY_PER_MONTH ?? 2000)): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-bench-monthly-'));
  try {
    const db = openDatabase(path.join(dir, 'klagomal.db'));
    const store = new Store(db);
    const total = perMonth * 13;
    const t0 = Date.now();
    db.exec('PRAGMA synchronous = OFF');
    db.transaction(() => {
      // Received evenly over 2025-11-01 .. 2026-11-30 (395 days); every fifth still open.
      db.prepare(
        `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
         INSERT INTO cases (id, number, status, customer_address, customer_name, subject, language, received_at, filed_at, fields, updated_at, category, contact_officer)
         SELECT i, 'KLG-2026-' || printf('%07d', i), CASE WHEN i % 5 = 0 THEN 'new' ELSE 'closed' END, 'kund' || (i % 9000) || '@example.com', 'Kund ' || i,
                'Klagomål ' || i, 'sv', strftime('%Y-%m-%dT%H:%M:%fZ', '2025-11-01T08:00:00Z', '+' || ((i * 395.0) / ?) || ' days'),
                strftime('%Y-%m-%dT%H:%M:%fZ', '2025-11-01T08:00:01Z', '+' || ((i * 395.0) / ?) || ' days'), '{}', '2026-05-01T08:00:01.000Z',
                CASE i % 4 WHEN 0 THEN 'fees' WHEN 1 THEN 'payments' WHEN 2 THEN 'interest' ELSE 'other' END, 'olle@f.se'
         FROM n`,
      ).run(total, total, total);
      for (const [milestone, days] of [
        ['acknowledgement', 1],
        ['finalAnswer', 14],
      ] as const) {
        db.prepare(
          `INSERT INTO deadlines (case_id, milestone, due_at, rule, computed_from, policy, source, config_version, calendar_version, met_at)
           SELECT id, ?, strftime('%Y-%m-%dT%H:%M:%fZ', received_at, '+${days} days'), '{}', received_at, 'promise-24h-14d', 'bench', 'bench', 'bench',
                  CASE WHEN status = 'closed' THEN strftime('%Y-%m-%dT%H:%M:%fZ', received_at, '+' || (id % ${days + 3}) || ' days') END
           FROM cases`,
        ).run(milestone);
      }
    })();
    db.exec('PRAGMA synchronous = FULL');
    db.exec('ANALYZE');
    const built = (Date.now() - t0) / 1000;
    const config = parseConfig(
      {
        firm: { name: 'Bench AB', complaintsAddress: 'klagomal@f.se' },
        sources: [{ type: 'maildir', path: 'm' }],
        templates: path.join(packageRoot(), 'templates'),
        officers: [{ name: 'Karin', address: 'karin@f.se', role: 'manager' }],
        deadlines: { escalation: { enabled: false } },
      },
      path.join(dir, 'config.json'),
    );
    const now = new Date('2026-12-01T07:00:00+01:00');
    const rss0 = process.memoryUsage().rss;
    const t1 = process.hrtime.bigint();
    const pack = db.transaction(() => readMonthlyPack(store, '2026-11' as Month, now, config.retention.closedCaseYears)).deferred();
    const t2 = process.hrtime.bigint();
    const r = renderPack(pack, { firmName: 'Bench AB', lang: 'sv', generatedAt: now });
    const t3 = process.hrtime.bigint();
    const ms = (a: bigint, b: bigint): string => (Number(b - a) / 1e6).toFixed(0);
    const pngBytes = r.images.reduce((n, i) => n + i.png.length, 0);
    console.log(
      `monthly pack: ${total} cases (${perMonth} a month, built in ${built.toFixed(1)} s); read 13 months ${ms(t1, t2)} ms, render with 4 PNG charts ${ms(t2, t3)} ms; ` +
        `${pack.statistics.received} cases in the month, HTML ${(r.html.length / 1024).toFixed(0)} KiB, PNG ${(pngBytes / 1024).toFixed(0)} KiB, CSV ${(r.csv.content.length / 1024).toFixed(0)} KiB; ` +
        `RSS +${((process.memoryUsage().rss - rss0) / 1048576).toFixed(0)} MB`,
    );
    db.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) void monthlyBench();
