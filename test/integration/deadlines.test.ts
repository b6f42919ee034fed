/**
 * Deadlines and escalation through the real binary. The clock is stepped with
 * `klagomal escalate --now ISO`; every call is a new process, so each step is also a restart.
 */
import fs from 'node:fs';
import path from 'node:path';
import { makeWorld, World, complaintMail } from '../support/world';

const OFFICERS = [
  { name: 'Karin Klagomålsansvarig', address: 'karin@testfinans.se', role: 'manager' },
  { name: 'Olle Handläggare', address: 'olle@testfinans.se', role: 'officer' },
];

function world(deadlines: Record<string, unknown>): World {
  return makeWorld({ officers: OFFICERS, deadlines: { escalation: { digestTime: null }, ...deadlines } });
}

/** File one complaint received at `receivedAt` (the file time is the received time for `ingest`). */
async function fileComplaint(w: World, receivedAt: string, opts: Parameters<typeof complaintMail>[1] = {}, n: number | string = 1): Promise<string> {
  const file = path.join(w.dir, `mail-${n}.eml`);
  fs.writeFileSync(file, complaintMail(n, opts));
  const t = new Date(receivedAt);
  fs.utimesSync(file, t, t);
  const r = await w.cli(['ingest', '--json', file]);
  const line = JSON.parse(r.stdout.trim().split('\n')[0]) as { caseId: string; kind: string };
  expect(line.kind).toBe('complaint');
  return line.caseId;
}

interface Pass {
  escalated: number;
  skipped: number;
  breaches: number;
  notices: number;
  digest: boolean;
  actions: Array<{ case: string; milestone: string; level: string; late: boolean; to: string[] }>;
}

async function escalate(w: World, now: string, extra: string[] = []): Promise<Pass> {
  const r = await w.cli(['escalate', '--now', now, '--json', ...extra]);
  expect(r.stderr).not.toMatch(/"level":"error"/);
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as Pass;
}

function notices(w: World): Array<{ kind: string; to: string; subject: string; text: string }> {
  const { store, close } = w.store();
  try {
    return (
      store
        .listOutbox()
        // The notices of the deadline machinery (not the acknowledgement, nor the contact person's new-case mail).
        .filter((o) => o.kind !== 'acknowledgement' && o.kind !== 'officer-new-case')
        .map((o) => ({ kind: o.kind, to: o.to_address, subject: o.subject, text: o.body_text }))
    );
  } finally {
    close();
  }
}

describe('deadlines and escalation', () => {
  let w: World;
  afterEach(() => w?.cleanup());

  test('eachWarningIsSentOnceAsTheClockStepsAcrossTheCaseLife', async () => {
    // PSD2 only: final answer 15 business days after Wed 2025-12-17 = Thu 2026-01-15 23:59:59.
    w = world({ policies: ['psd2'] });
    const number = await fileComplaint(w, '2025-12-17T10:00:00+01:00');
    const shown = JSON.parse((await w.cli(['case', 'show', number, '--json'])).stdout) as {
      deadlines: Array<{ milestone: string; dueAt: string; policy: string }>;
      contactOfficer: string;
    };
    expect(shown.deadlines.map((d) => [d.milestone, d.dueAt, d.policy])).toEqual([
      ['finalAnswer', '2026-01-15T23:59:59+01:00', 'psd2'],
      ['finalAnswerMax', '2026-02-12T23:59:59+01:00', 'psd2'],
    ]);
    expect(shown.contactOfficer).toBe('olle@testfinans.se');

    expect((await escalate(w, '2026-01-12T12:00:00+01:00')).escalated).toBe(0);
    // 2 business days before Thu 15 Jan: Tue 13 Jan, from 00:00.
    const two = await escalate(w, '2026-01-13T00:05:00+01:00');
    expect(two.actions).toEqual([{ case: number, milestone: 'finalAnswer', level: 'warn-2bd', late: false, to: ['olle@testfinans.se'] }]);
    expect((await escalate(w, '2026-01-13T00:06:00+01:00')).escalated).toBe(0);
    const one = await escalate(w, '2026-01-14T00:05:00+01:00');
    expect(one.actions.map((a) => [a.level, a.to.join(',')]).sort()).toEqual([
      ['manager-1bd', 'karin@testfinans.se'],
      ['warn-1bd', 'olle@testfinans.se'],
    ]);
    expect((await escalate(w, '2026-01-15T23:00:00+01:00')).escalated).toBe(0);
    const breach = await escalate(w, '2026-01-16T00:05:00+01:00');
    expect(breach).toMatchObject({ breaches: 1, notices: 2 });
    expect(breach.actions[0]).toMatchObject({ level: 'breach', late: false });
    expect((await escalate(w, '2026-01-20T09:00:00+01:00')).escalated).toBe(0);

    const sent = notices(w);
    expect(sent.map((n) => `${n.kind}->${n.to}`).sort()).toEqual([
      'breach-notice->karin@testfinans.se',
      'breach-notice->olle@testfinans.se',
      'escalation-warning->karin@testfinans.se',
      'escalation-warning->olle@testfinans.se',
      'escalation-warning->olle@testfinans.se',
    ]);
    // The manager is told explicitly that the customer is owed a delay notice.
    const managerWarning = sent.find((n) => n.kind === 'escalation-warning' && n.to === 'karin@testfinans.se')!;
    expect(managerWarning.text).toContain('förseningsbesked');
    expect(managerWarning.text).toContain('15 januari 2026 kl. 23:59');
    const events = (JSON.parse((await w.cli(['case', 'show', number, '--json'])).stdout) as { events: Array<{ type: string }> }).events.map((e) => e.type);
    expect(events.filter((t) => t === 'deadline-breached')).toHaveLength(1);
    expect(events.filter((t) => t === 'deadline-escalated')).toHaveLength(4);
  });

  test('downtimeAcrossABreachProducesOneLateNoticeNotABurst', async () => {
    w = world({ policies: ['psd2'] });
    const number = await fileComplaint(w, '2025-12-17T10:00:00+01:00');
    // The service was down from before the first warning until two days after the breach.
    const pass = await escalate(w, '2026-01-18T10:00:00+01:00');
    expect(pass.actions).toEqual([{ case: number, milestone: 'finalAnswer', level: 'breach', late: true, to: ['olle@testfinans.se', 'karin@testfinans.se'] }]);
    expect(pass.skipped).toBe(3); // warn-2bd, warn-1bd, manager-1bd: superseded, never sent
    const sent = notices(w);
    expect(sent).toHaveLength(2);
    expect(sent.every((n) => n.kind === 'breach-notice' && /sent late|skickas sent/.test(n.text))).toBe(true);
    expect((await escalate(w, '2026-01-18T10:05:00+01:00')).escalated).toBe(0);
  });

  test('twoPassesAtOnceNeverSendAWarningTwice', async () => {
    w = world({ policies: ['psd2'] });
    await fileComplaint(w, '2025-12-17T10:00:00+01:00', {}, 1);
    await fileComplaint(w, '2025-12-18T10:00:00+01:00', {}, 2);
    const [a, b, c] = await Promise.all([
      escalate(w, '2026-01-14T00:05:00+01:00'),
      escalate(w, '2026-01-14T00:05:00+01:00'),
      escalate(w, '2026-01-14T00:05:00+01:00'),
    ]);
    const total = a.notices + b.notices + c.notices;
    const alone = notices(w).length;
    expect(total).toBe(alone);
    // Case 1: warn-1bd + manager-1bd (warn-2bd superseded); case 2 (due Fri 16 Jan): warn-2bd.
    expect(alone).toBe(3);
  });

  test('hourDeadlineWarnsFourHoursBeforeAndAnAcknowledgementSentMeetsIt', async () => {
    w = world({ policies: ['promise-24h-14d'] });
    const number = await fileComplaint(w, '2026-03-28T10:00:00+01:00');
    const shown = JSON.parse((await w.cli(['case', 'show', number, '--json'])).stdout) as { deadlines: Array<{ milestone: string; dueAt: string }> };
    // 24 elapsed hours across the change to summer time: 11:00 local the next day.
    expect(shown.deadlines[0]).toMatchObject({ milestone: 'acknowledgement', dueAt: '2026-03-29T11:00:00+02:00' });
    const warn = await escalate(w, '2026-03-29T07:01:00+02:00');
    expect(warn.actions).toEqual([{ case: number, milestone: 'acknowledgement', level: 'warn-4h', late: false, to: ['olle@testfinans.se'] }]);
    // Sending the acknowledgement meets the milestone: no breach follows.
    expect((await w.cli(['run', '--once'])).code).toBe(0);
    const after = await escalate(w, '2026-03-29T12:00:00+02:00');
    expect(after.actions.filter((a) => a.milestone === 'acknowledgement')).toEqual([]);
  });

  test('extensionMovesTheDeadlineWithAReasonAndTellsTheCustomerButNeverPastPsd2Day35', async () => {
    w = world({ policies: ['promise-24h-14d'], byCategory: { payments: ['psd2'] } });
    // Received yesterday (extensions are checked against the real clock: a new date must lie ahead).
    const received = new Date(Date.now() - 24 * 3600_000);
    const day35 = (await w.cli(['calendar', 'due', '--from', received.toISOString(), '--unit', 'businessDays', '--amount', '35', '--statutory'])).stdout.trim();
    const day14 = (await w.cli(['calendar', 'due', '--from', received.toISOString(), '--unit', 'calendarDays', '--amount', '14'])).stdout.trim();
    // A payment-service complaint (autogiro): PSD2 applies beside the firm's promise.
    const number = await fileComplaint(w, received.toISOString(), {
      subject: 'Klagomål: avgift för dubbel dragning',
      body: 'Ni har dragit pengar via autogiro två gånger för samma faktura den 1 december.',
    });
    const shown = JSON.parse((await w.cli(['case', 'show', number, '--json'])).stdout) as {
      category: string;
      deadlines: Array<{ milestone: string; dueAt: string; policy: string }>;
      events: Array<{ type: string; actor: string; detail: Record<string, unknown> }>;
    };
    expect(shown.category).toBe('payments');
    // The earliest rule wins: 14 calendar days beats PSD2's 15 business days.
    expect(shown.deadlines.find((d) => d.milestone === 'finalAnswer')).toMatchObject({ dueAt: day14, policy: 'promise-24h-14d' });
    expect(shown.deadlines.find((d) => d.milestone === 'finalAnswerMax')).toMatchObject({ dueAt: day35, policy: 'psd2' });

    const lastDay = day35.slice(0, 10);
    const dayAfter = new Date(Date.parse(`${lastDay}T12:00:00Z`) + 24 * 3600_000).toISOString().slice(0, 10);
    const tooLate = await w.cli(['case', 'extend', number, '--to', dayAfter, '--reason', 'Vi väntar på underlag från banken', '--holding-reply']);
    expect(tooLate.code).toBe(1);
    expect(tooLate.stderr).toContain(`may be moved to ${day35} at the latest`);

    const ok = await w.cli(['case', 'extend', number, '--to', lastDay, '--reason', 'Vi väntar på underlag från banken', '--holding-reply']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/delay notice queued/);
    const after = JSON.parse((await w.cli(['case', 'show', number, '--json'])).stdout) as typeof shown;
    expect(after.deadlines.find((d) => d.milestone === 'finalAnswer')?.dueAt).toBe(day35);
    const ev = after.events.find((e) => e.type === 'deadline-extended')!;
    expect(ev).toMatchObject({ actor: 'operator', detail: { milestone: 'finalAnswer', reason: 'Vi väntar på underlag från banken', holdingReply: true } });
    expect(new Date(ev.detail.from as string).getTime()).toBe(new Date(day14).getTime());
    expect(new Date(ev.detail.to as string).getTime()).toBe(new Date(day35).getTime());
    const notice = notices(w).find((n) => n.kind === 'delay-notice')!;
    expect(notice.to).toBe('kund1@example.com');
    expect(notice.text).toContain('Anledningen är: Vi väntar på underlag från banken');
    expect(notice.text).toContain('35 bankdagar');
    // A shortening is refused too.
    const shorter = await w.cli(['case', 'extend', number, '--to', day14.slice(0, 10), '--reason', 'Ändrade planer']);
    expect(shorter.code).toBe(1);
    expect(shorter.stderr).toMatch(/not later than the current deadline/);
  });

  test('delayNoticeIsInEnglishForAnEnglishComplaintAndTheManagerIsNoLongerToldOneIsOwed', async () => {
    w = world({ policies: ['promise-24h-14d'] });
    const received = new Date(Date.now() - 24 * 3600_000);
    const number = await fileComplaint(w, received.toISOString(), {
      subject: 'Complaint about my loan',
      body: 'Hello, I am writing to complain about the interest you charge on my loan. I would like this corrected, thank you.',
    });
    const iso = new Date(Date.now() + 30 * 24 * 3600_000).toISOString().slice(0, 10);
    const ok = await w.cli(['case', 'extend', number, '--to', iso, '--reason', 'We are waiting for documents from your bank']);
    expect(ok.code).toBe(0);
    const notice = notices(w).find((n) => n.kind === 'delay-notice')!;
    expect(notice.subject).toBe(`[${number}] Our answer to your complaint will be delayed`);
    expect(notice.text).toContain('The reason is: We are waiting for documents from your bank');
    const longDate = new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Stockholm', day: 'numeric', month: 'long', year: 'numeric' }).format(
      new Date(`${iso}T12:00:00Z`),
    );
    expect(notice.text).toContain(longDate);
    // On the last day, the manager's notices about this deadline no longer ask for a delay notice.
    const pass = await escalate(w, `${iso}T12:00:00+01:00`);
    expect(pass.actions.some((a) => a.milestone === 'finalAnswer')).toBe(true);
    const managerNotes = notices(w).filter((n) => n.to === 'karin@testfinans.se' && n.kind === 'escalation-warning');
    expect(managerNotes.length).toBeGreaterThan(0);
    for (const n of managerNotes) expect(n.text).not.toContain('förseningsbesked');
  });

  test('dailyDigestGoesToTheManagerOncePerDay', async () => {
    w = makeWorld({ officers: OFFICERS, deadlines: { policies: ['psd2'], escalation: { digestTime: '07:30' } } });
    await fileComplaint(w, '2025-12-17T10:00:00+01:00');
    expect((await escalate(w, '2026-01-13T07:00:00+01:00')).digest).toBe(false);
    expect((await escalate(w, '2026-01-13T07:31:00+01:00')).digest).toBe(true);
    expect((await escalate(w, '2026-01-13T12:00:00+01:00')).digest).toBe(false);
    expect((await escalate(w, '2026-01-14T09:00:00+01:00')).digest).toBe(true);
    const digests = notices(w).filter((n) => n.kind === 'manager-digest');
    expect(digests).toHaveLength(2);
    expect(digests.every((d) => d.to === 'karin@testfinans.se')).toBe(true);
    expect(digests[1].subject).toMatch(/^Klagomål 14 januari 2026: 0 överskridna, 0 förfaller i dag, 1 i morgon/);
    expect(digests[1].text).toContain('(skickad sent)');
  });

  test('casesByDeadlineAndMissedDeadlines', async () => {
    w = world({ policies: ['psd2'] });
    const early = await fileComplaint(w, '2025-12-01T10:00:00+01:00', {}, 1);
    const late = await fileComplaint(w, '2025-12-17T10:00:00+01:00', {}, 2);
    const due = JSON.parse((await w.cli(['cases', '--due-before', '2026-01-01', '--json'])).stdout) as Array<{ number: string }>;
    expect(due.map((c) => c.number)).toEqual([early]);
    const breached = JSON.parse((await w.cli(['cases', '--breached', '--now', '2026-01-16T08:00:00+01:00', '--json'])).stdout) as Array<{
      number: string;
      breached: string[];
    }>;
    expect(breached.map((c) => [c.number, c.breached])).toEqual([
      [early, ['finalAnswer']],
      [late, ['finalAnswer']],
    ]);
    const metEarly = await w.cli(['case', 'met', early, 'finalAnswer', '--note', 'answered by letter']);
    expect(metEarly.code).toBe(0);
    const notYet = JSON.parse((await w.cli(['cases', '--breached', '--now', '2025-12-20T08:00:00+01:00', '--json'])).stdout) as unknown[];
    expect(notYet).toEqual([]);
  });
});

describe('the service and its schedule', () => {
  test('startCatchesUpOnABreachAtOnceAndStillStopsCleanly', async () => {
    const w = world({ policies: ['psd2'], escalation: { schedule: '*/5 * * * *', digestTime: null } });
    try {
      // A complaint received two months ago, never answered: its deadline passed while the
      // service was down. The catch-up pass at start must report the breach, late, at once.
      const number = await fileComplaint(w, new Date(Date.now() - 60 * 24 * 3600_000).toISOString());
      const child = w.start();
      const files = (): string[] => (fs.existsSync(w.pickup) ? fs.readdirSync(w.pickup).filter((f) => f.endsWith('.eml')) : []);
      const deadline = Date.now() + 15_000;
      while (files().filter((f) => f.includes('breach-notice')).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      const breachFiles = files().filter((f) => f.includes('breach-notice'));
      expect(breachFiles).toHaveLength(2); // contact person and manager
      const text = fs.readFileSync(path.join(w.pickup, breachFiles[0]), 'utf8');
      expect(text).toContain(number);
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      w.cleanup();
    }
  });
});

describe('calendar command', () => {
  test('dueInstantsFromStdinMatchTheWorkedExamples', async () => {
    const w = makeWorld();
    try {
      const input = [
        '2025-12-17T10:00:00+01:00\tbusinessDays\t15',
        '2025-12-17T10:00:00+01:00\tbusinessDays\t35',
        '2026-06-18T10:00:00+02:00\tbusinessDays\t3',
        '2026-03-27T10:00:00+01:00\tbusinessDays\t15',
        '2026-03-28T10:00:00+01:00\thours\t24',
        '2026-10-24T10:00:00+02:00\thours\t24',
        '2026-11-21T23:30:00+01:00\tcalendarDays\t14',
      ].join('\n');
      const r = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
        const { spawn } = require('node:child_process') as typeof import('node:child_process');
        const child = spawn(process.execPath, [path.join(__dirname, '..', '..', 'bin', 'klagomal.js'), 'calendar', 'due', '--stdin', '--config', w.configFile]);
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d));
        child.on('close', (code: number | null) => resolve({ code, stdout: out }));
        child.stdin.end(input);
      });
      expect(r.code).toBe(0);
      expect(r.stdout.trim().split('\n')).toEqual([
        '2026-01-15T23:59:59+01:00',
        '2026-02-12T23:59:59+01:00',
        '2026-06-24T23:59:59+02:00',
        '2026-04-21T23:59:59+02:00',
        '2026-03-29T11:00:00+02:00',
        '2026-10-25T09:00:00+01:00',
        '2026-12-05T23:59:59+01:00',
      ]);
      const holidays = JSON.parse((await w.cli(['calendar', 'holidays', '2027', '--json'])).stdout) as Array<{ date: string; name: string }>;
      expect(holidays.find((h) => h.name === 'påskdagen')?.date).toBe('2027-03-28');
      expect(holidays.find((h) => h.name === 'midsommarafton')?.date).toBe('2027-06-25');
    } finally {
      w.cleanup();
    }
  });
});
