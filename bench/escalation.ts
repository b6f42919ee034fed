/**
 * Escalation pass over a large register (issue #3): 1,000,000 cases of which 10,000 are open,
 * one pass must use an index, not a scan (target under 200 ms). Printed, not asserted.
 * Built with SQL directly (a recursive CTE), so the setup takes seconds, not minutes.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase } from '../src/store/db';
import { Store } from '../src/store/store';
import { parseConfig } from '../src/config/load';
import { TemplateSet } from '../src/reply/templates';
import { BusinessCalendar } from '../src/deadlines/calendar';
import { EscalationPass } from '../src/escalation/escalation-pass';
import { silentLogger } from '../src/util/log';
import { packageRoot } from '../src/util/package-root';

export async function escalationBench(cases = 1_000_000, open = 10_000, dueNow = 100): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-bench-esc-'));
  try {
    const db = openDatabase(path.join(dir, 'klagomal.db'));
    const store = new Store(db);
    const now = new Date('2026-06-10T10:00:00+02:00');
    const t0 = Date.now();
    const every = Math.floor(cases / open);
    db.exec('PRAGMA synchronous = OFF');
    db.transaction(() => {
      db.prepare(
        `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
         INSERT INTO cases (id, number, status, customer_address, customer_name, subject, language, received_at, filed_at, fields, updated_at, category, contact_officer)
         SELECT i, 'KLG-2025-' || printf('%07d', i), CASE WHEN i % ? = 0 THEN 'new' ELSE 'closed' END, 'kund' || i || '@example.com', 'Kund ' || i,
                'Klagomål ' || i, 'sv', '2026-05-01T08:00:00.000Z', '2026-05-01T08:00:01.000Z', '{}', '2026-05-01T08:00:01.000Z', 'fees', 'olle@f.se'
         FROM n`,
      ).run(cases, every);
      // One final-answer deadline per case: met for closed cases; open ones due over the next 30
      // days, with `dueNow` of them having an escalation step due at this moment.
      db.prepare(
        `INSERT INTO deadlines (case_id, milestone, due_at, rule, computed_from, policy, source, config_version, calendar_version, met_at, next_escalation_at)
         SELECT id, 'finalAnswer',
                CASE WHEN status != 'closed' AND (id / ?) <= ? THEN '2026-06-11T21:59:59.000Z'
                     ELSE strftime('%Y-%m-%dT%H:%M:%fZ', '2026-06-10T08:00:00Z', '+' || ((id / ?) % 30 + 3) || ' days') END,
                '{"unit":"calendarDays","amount":14}', received_at, 'promise-24h-14d', 'bench', 'bench', 'bench',
                CASE WHEN status = 'closed' THEN '2026-05-10T08:00:00.000Z' END,
                CASE WHEN status = 'closed' THEN NULL
                     WHEN (id / ?) <= ? THEN '2026-06-10T07:00:00.000Z'
                     ELSE strftime('%Y-%m-%dT%H:%M:%fZ', '2026-06-10T08:00:00Z', '+' || ((id / ?) % 30 + 1) || ' days') END
         FROM cases`,
      ).run(every, dueNow, every, every, dueNow, every);
    })();
    db.exec('PRAGMA synchronous = FULL');
    db.exec('ANALYZE');
    const built = (Date.now() - t0) / 1000;

    const config = parseConfig(
      {
        firm: { name: 'Bench AB', complaintsAddress: 'klagomal@f.se' },
        sources: [{ type: 'maildir', path: 'm' }],
        templates: path.join(packageRoot(), 'templates'),
        officers: [
          { name: 'Karin', address: 'karin@f.se', role: 'manager' },
          { name: 'Olle', address: 'olle@f.se', role: 'officer' },
        ],
        deadlines: { escalation: { digestTime: null } },
      },
      path.join(dir, 'config.json'),
    );
    const pass = new EscalationPass(store, config, TemplateSet.load(config.templates), new BusinessCalendar(), silentLogger);
    const plan = db
      .prepare(
        `EXPLAIN QUERY PLAN SELECT d.*, c.number FROM deadlines d INDEXED BY deadlines_escalation JOIN cases c ON c.id = d.case_id
         WHERE d.met_at IS NULL AND d.next_escalation_at IS NOT NULL AND d.next_escalation_at <= ? AND c.status != 'closed' ORDER BY d.next_escalation_at LIMIT 500`,
      )
      .all(now.toISOString()) as Array<{ detail: string }>;

    const t1 = process.hrtime.bigint();
    const r = pass.run(now);
    const ms = Number(process.hrtime.bigint() - t1) / 1e6;
    const t2 = process.hrtime.bigint();
    const again = pass.run(now);
    const idleMs = Number(process.hrtime.bigint() - t2) / 1e6;
    console.log(
      `escalation: ${cases.toLocaleString('en')} cases, ${open.toLocaleString('en')} open (built in ${built.toFixed(1)} s): ` +
        `one pass acting on ${dueNow} due deadlines (${r.escalated} levels, ${r.notices} notices queued) ${ms.toFixed(0)} ms; the next pass, nothing due, ${idleMs.toFixed(1)} ms ` +
        `(target < 200 ms; plan: ${plan.map((p) => p.detail).join(' / ')}; second pass escalated ${again.escalated})`,
    );
    db.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  escalationBench().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
