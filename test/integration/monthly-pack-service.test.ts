/**
 * The scheduled monthly pack in the real service: `klagomal start` runs the pass when it starts
 * (and hourly), and a restart sends nothing twice. The register holds cases received in the
 * month before today, so there is something to report; whether the pack is due now is what
 * `decideMonthlyPack` says for the real clock (the first business day's rules are unit-tested
 * with a fake clock in test/unit/monthly-pack.test.ts): due, the manager gets it once across two
 * starts; not due yet (the first days of a month), nothing is sent or claimed.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { startService, waitFor } from '../support/world';
import { startSmtpReceiver, SmtpReceiver } from '../support/smtp';
import { FEES_PLAIN, makeReportWorld, MAJA, ReportWorld } from '../support/report-fixture';
import { BusinessCalendar } from '../../src/deadlines/calendar';
import { decideMonthlyPack } from '../../src/monthly/schedule';
import { monthBefore, monthOfInstant } from '../../src/monthly/pack';

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

describe('the monthly pack in klagomal start', () => {
  let w: ReportWorld;
  let smtp: SmtpReceiver;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    w = makeReportWorld();
    smtp = await startSmtpReceiver();
    const raw = JSON.parse(fs.readFileSync(w.configFile, 'utf8')) as Record<string, unknown>;
    raw.transport = { type: 'smtp', host: smtp.host, port: smtp.port, tls: 'none', maxConnections: 2 };
    fs.writeFileSync(w.configFile, JSON.stringify(raw, null, 2));
    // Two complaints in the month before today (the 10th and the 20th, noon in Stockholm).
    const last = monthBefore(monthOfInstant(new Date()));
    for (const day of ['10', '20']) await w.complaint({ from: `kund-${day}@example.com`, body: FEES_PLAIN, receivedAt: new Date(`${last}-${day}T11:00:00Z`) });
  });

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await smtp?.close();
    w?.close();
  });

  test('monthlyPackIsSentOnceAcrossARestartOfTheService', async () => {
    const now = new Date();
    const decision = decideMonthlyPack(now, new BusinessCalendar(), () => false);
    const packs = (): number => smtp.messages.filter((m) => m.headers.get('x-klagomal-report') === `monthly ${decision.month}`).length;

    const first = startService(w.configFile);
    children.push(first);
    await waitFor('started', () => /klagomal started/.test(first.output()), 30_000);
    if (decision.send) {
      await waitFor('the pack at the SMTP receiver', () => packs() === 1, 30_000);
      expect(first.output()).toMatch(new RegExp(`"month":"${decision.month}".*"msg":"monthly pack queued"`));
      expect(smtp.messages.find((m) => m.headers.get('x-klagomal-report'))?.to).toEqual([MAJA]);
    }
    await stop(first);

    // A restart the same day: the claim holds.
    const second = startService(w.configFile);
    children.push(second);
    await waitFor('started again', () => /klagomal started/.test(second.output()), 30_000);
    await new Promise((r) => setTimeout(r, 1500));
    await stop(second);
    expect(second.output()).not.toMatch(/monthly pack queued/);
    expect(second.output()).not.toMatch(/monthly pack pass failed/);
    expect(packs()).toBe(decision.send ? 1 : 0);
    expect(w.store.monthlyPackClaimed(decision.month)).toBe(decision.send);
  }, 90_000);
});
