/**
 * Issue 14, "deadlines that stay true": a breach stays breached whatever is extended after it;
 * a PSD2 holding reply after business day 15 is refused and the breach recorded; PSD2's own 15
 * and 35 days are stored beside the firm's promise and measured apart; the regime follows the
 * case (#category gains PSD2, never loses it; #regime psd2|none with a reason).
 *
 * Received Monday 2026-03-02 09:00: the firm's promise (14 calendar days) is due 2026-03-16,
 * PSD2's 15 business days 2026-03-23, PSD2's 35 business days 2026-04-22 (Easter in between).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../../src/config/load';
import { parseMail } from '../../src/parse/parse';
import { parseCommandMail, runOfficerCommands, CommandOutcome } from '../../src/officers/commands';
import type { FilingContext } from '../../src/cases/filing';
import { processMail } from '../../src/pipeline/processor';
import { calendarsFor } from '../../src/deadlines/deadlines';
import { storeArrivals, sha256 } from '../../src/ingest/intake';
import { TemplateSet } from '../../src/reply/templates';
import { openDatabase } from '../../src/store/db';
import { Store } from '../../src/store/store';
import { readCaseFacts } from '../../src/report/facts';
import { registerRow } from '../../src/report/register';
import { computeStatistics, readReportInput } from '../../src/report/statistics';
import { parsePeriod } from '../../src/report/period';
import { toInstant } from '../../src/util/clock';
import { silentLogger } from '../../src/util/log';

const TEMPLATES = TemplateSet.load(path.join(__dirname, '..', '..', 'templates'));
const COMPLAINTS = 'klagomal@exempelfinans.se';
const OLLE = 'olle@exempelfinans.se';
const RECEIVED = new Date('2026-03-02T09:00:00+01:00');
const at = (iso: string): Date => new Date(iso);

interface World {
  store: Store;
  ctx: FilingContext;
  close(): void;
}

function makeWorld(): World {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-deadlines-true-'));
  const config = parseConfig(
    {
      firm: { name: 'Exempelfinans AB', complaintsAddress: COMPLAINTS, staffDomains: ['exempelfinans.se'] },
      sources: [{ type: 'maildir', path: 'maildir' }],
      dataDir: './data',
      officers: [
        { name: 'Maja Chef', address: 'maja@exempelfinans.se', role: 'manager' },
        { name: 'Olle Handläggare', address: OLLE },
      ],
      deadlines: { escalation: { enabled: false } },
    },
    path.join(dir, 'config.json'),
  );
  const db = openDatabase(path.join(dir, 'data', 'klagomal.db'));
  const store = new Store(db);
  const calendars = calendarsFor(config.deadlines);
  const ctx: FilingContext = { store, config, templates: TEMPLATES, calendar: calendars.firm, calendars, log: silentLogger };
  return {
    store,
    ctx,
    close() {
      db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

let seq = 0;
async function fileComplaint(w: World, subject: string, body: string): Promise<number> {
  const raw = Buffer.from(
    [
      'From: Karin Kund <karin@example.com>',
      `To: ${COMPLAINTS}`,
      `Subject: ${subject}`,
      'Date: Mon, 02 Mar 2026 09:00:00 +0100',
      `Message-ID: <k${++seq}@example.com>`,
      'Content-Type: text/plain; charset=utf-8',
      '',
      body,
      '',
    ].join('\r\n'),
  );
  const [stored] = storeArrivals(
    w.store,
    w.ctx.config.dataDir,
    'klagomal',
    [{ raw, receivedAt: RECEIVED, mailbox: null, locator: null, sourceKey: null }],
    toInstant(RECEIVED),
  );
  const parsed = await parseMail(raw, { dataDir: w.ctx.config.dataDir });
  const r = w.store.tx(() => processMail(w.ctx, w.store.inbound(stored.id)!, parsed, RECEIVED));
  expect(r.kind).toBe('complaint');
  return r.caseId!;
}

const PAYMENT = ['Felaktig kortbetalning', 'Hej, en betalning med mitt kort drogs två gånger den 1 mars 2026. Jag vill ha pengarna tillbaka.'] as const;
const FEE = ['Felaktig avgift', 'Hej, ni tog ut en avgift på 250 kr som jag inte känner igen. Jag vill ha den tillbaka.'] as const;

function command(w: World, caseId: number, text: string, now: Date): CommandOutcome {
  const bytes = Buffer.from(`From: ${OLLE}\r\nSubject: command ${++seq}\r\n\r\n${text}`);
  const { id } = w.store.tx(() =>
    w.store.storeInbound(
      {
        source: 'test',
        mailbox: null,
        locator: null,
        sourceKey: null,
        uidvalidity: null,
        uid: null,
        receivedAt: toInstant(now),
        sha256: sha256(bytes),
        size: bytes.length,
        raw: { bytes },
      },
      toInstant(now),
    ),
  );
  return w.store.tx(() =>
    runOfficerCommands(
      w.ctx,
      w.store.caseById(caseId)!,
      { address: OLLE, name: null },
      parseCommandMail(text),
      { id, messageId: `cmd-${id}@exempelfinans.se` },
      now,
    ),
  );
}

function rowOf(w: World, caseId: number, now: Date) {
  const facts = readCaseFacts(w.store, '2026-01-01T00:00:00.000Z', '2027-01-01T00:00:00.000Z').find((f) => f.c.id === caseId)!;
  return registerRow(facts, now);
}

const REASONS =
  'Vi har gått igenom kortbetalningen och kontrollerat transaktionerna hos kortutgivaren. Dubbeldragningen var ett fel hos oss och pengarna betalas tillbaka inom tre bankdagar.';

describe('deadlines that stay true', () => {
  let w: World;
  beforeEach(() => {
    w = makeWorld();
  });
  afterEach(() => w.close());

  test('psd2FifteenDaysIsStoredBesideThePromise: every policy deadline kept, the regime on the case', async () => {
    const id = await fileComplaint(w, ...PAYMENT);
    const c = w.store.caseById(id)!;
    expect(c).toMatchObject({ category: 'payments', regime: 'psd2' });
    const rows = w.store.policyDeadlinesOfCase(id).map((p) => [p.policy, p.milestone, p.regime, p.due_at]);
    expect(rows).toEqual(
      expect.arrayContaining([
        ['promise-24h-14d', 'finalAnswer', null, '2026-03-16T22:59:59.000Z'],
        ['psd2', 'finalAnswer', 'psd2', '2026-03-23T22:59:59.000Z'],
        ['psd2', 'finalAnswerMax', 'psd2', '2026-04-22T21:59:59.000Z'],
      ]),
    );
    // The effective deadline is the earliest: the firm's promise.
    expect(w.store.deadline(id, 'finalAnswer')).toMatchObject({ due_at: '2026-03-16T22:59:59.000Z', policy: 'promise-24h-14d' });
    const fee = await fileComplaint(w, ...FEE);
    expect(w.store.caseById(fee)!.regime).toBe('none');
  });

  test('lateHoldingReplyDoesNotEraseABreach: a holding reply after the promise is late, and stays late after the answer', async () => {
    const id = await fileComplaint(w, ...PAYMENT);
    // 2026-03-18: after the promise (03-16), before PSD2's day 15 (03-23): allowed, but late.
    const out = command(w, id, '#holding 2026-04-10 Vi väntar på underlag från kortutgivaren', at('2026-03-18T10:00:00+01:00'));
    expect(out.errors).toEqual([]);
    expect(out.done[0].result).toMatch(/recorded as LATE/);
    const d = w.store.deadline(id, 'finalAnswer')!;
    expect(d.due_at).toBe('2026-04-10T21:59:59.000Z');
    expect(d.breached_at).not.toBeNull();
    const breach = w.store.eventsOfCase(id).find((e) => e.type === 'deadline-breached')!;
    expect(JSON.parse(breach.detail)).toMatchObject({ milestone: 'finalAnswer', dueAt: '2026-03-16T22:59:59.000Z', recordedBy: 'extended after its deadline' });
    const extended = w.store.eventsOfCase(id).find((e) => e.type === 'deadline-extended')!;
    expect(JSON.parse(extended.detail)).toMatchObject({ holdingReply: true, late: true });

    // Answered before the new date: still late in the register, with why.
    expect(command(w, id, `#final\n${REASONS}`, at('2026-03-30T10:00:00+02:00')).errors).toEqual([]);
    w.store.markDeadlineMet(id, 'finalAnswer', '2026-03-30T08:00:00.000Z');
    const row = rowOf(w, id, at('2026-04-01T10:00:00+02:00'));
    const final = row.deadlines.find((x) => x.milestone === 'finalAnswer')!;
    expect(final).toMatchObject({ result: 'late', breachCause: 'extended-after-deadline' });
    // PSD2 measured apart: answered 03-30, after day 15 (03-23), within day 35.
    const psd2 = (m: string) => row.policyDeadlines.find((p) => p.regime === 'psd2' && p.milestone === m)!;
    expect(psd2('finalAnswer').result).toBe('late');
    expect(psd2('finalAnswerMax').result).toBe('in-time');
    expect(row.regime).toBe('psd2');
  });

  test('holdingReplyAfterPsd2Day15IsRefusedAndTheBreachRecorded', async () => {
    const id = await fileComplaint(w, ...PAYMENT);
    const out = command(w, id, '#holding 2026-04-10 Vi väntar på underlag från kortutgivaren', at('2026-03-25T10:00:00+01:00'));
    expect(out.errors).toHaveLength(1);
    expect(out.errors[0].problem).toMatch(/^PSD2: a holding reply must reach the customer within 15 business days of receipt, by 2026-03-23T23:59:59\+01:00/);
    // Nothing moved, nothing sent, but the breach is on record.
    const d = w.store.deadline(id, 'finalAnswer')!;
    expect(d.due_at).toBe('2026-03-16T22:59:59.000Z');
    expect(d.breached_at).not.toBeNull();
    expect(w.store.outboxOfCase(id).filter((o) => o.kind === 'delay-notice')).toEqual([]);
    const breach = w.store.eventsOfCase(id).find((e) => e.type === 'deadline-breached')!;
    expect(JSON.parse(breach.detail)).toMatchObject({ milestone: 'finalAnswer', policy: 'psd2', recordedBy: 'a holding reply after PSD2 business day 15' });
  });

  test('extensionOfTheFirmsPromiseAfterItsDeadlineIsAllowedButRecordedLate', async () => {
    const id = await fileComplaint(w, ...FEE);
    const out = command(w, id, '#extend 2026-03-31 Vi väntar på underlag från handläggaren', at('2026-03-18T10:00:00+01:00'));
    expect(out.errors).toEqual([]);
    expect(out.done[0].result).toMatch(/recorded as LATE/);
    const row = rowOf(w, id, at('2026-03-20T10:00:00+01:00'));
    expect(row.deadlines.find((x) => x.milestone === 'finalAnswer')).toMatchObject({ result: 'overdue', breachCause: 'extended-after-deadline' });
    // An extension in time is not late.
    const other = await fileComplaint(w, ...FEE);
    const inTime = command(w, other, '#extend 2026-03-31 Vi väntar på underlag från handläggaren', at('2026-03-10T10:00:00+01:00'));
    expect(inTime.done[0].result).not.toMatch(/LATE/);
    expect(rowOf(w, other, at('2026-03-20T10:00:00+01:00')).deadlines.find((x) => x.milestone === 'finalAnswer')!.result).toBe('open');
  });

  test('regimeFollowsTheCase: #category gains PSD2, never loses it; #regime none with a reason takes it away', async () => {
    const id = await fileComplaint(w, ...FEE);
    const when = at('2026-03-04T10:00:00+01:00');
    expect(command(w, id, '#category payments', when).errors).toEqual([]);
    expect(w.store.caseById(id)!.regime).toBe('psd2');
    expect(w.store.policyDeadlinesOfCase(id).some((p) => p.regime === 'psd2' && p.milestone === 'finalAnswer')).toBe(true);
    expect(command(w, id, '#category fees', when).errors).toEqual([]);
    expect(w.store.caseById(id)!.regime).toBe('psd2'); // statutory protection is not lost by recategorising

    expect(command(w, id, '#regime none', when).errors[0].problem).toMatch(/needs the reason/);
    expect(command(w, id, '#regime none klagomålet gäller ett lån, inte en betaltjänst', when).errors).toEqual([]);
    expect(w.store.caseById(id)!.regime).toBe('none');
    expect(
      w.store
        .policyDeadlinesOfCase(id)
        .filter((p) => p.regime === 'psd2')
        .every((p) => p.not_applicable === 'regime none'),
    ).toBe(true);
    expect(command(w, id, '#holding 2026-03-20 Vi väntar på underlag', when).errors[0].problem).toMatch(/holding reply is for payment-service complaints/);
    const changes = w.store
      .eventsOfCase(id)
      .filter((e) => e.type === 'regime-changed')
      .map((e) => JSON.parse(e.detail) as Record<string, unknown>);
    expect(changes.map((d) => [d.from, d.to])).toEqual([
      ['none', 'psd2'],
      ['psd2', 'none'],
    ]);
    expect(rowOf(w, id, when).regime).toBe('none');

    expect(command(w, id, '#regime psd2 kunden betalade med kort, det är en betaltjänst', when).errors).toEqual([]);
    expect(w.store.caseById(id)!.regime).toBe('psd2');
    expect(command(w, id, '#holding 2026-03-20 Vi väntar på underlag', when).errors).toEqual([]);
  });

  test('statisticsMeasureEachRuleApart', async () => {
    const a = await fileComplaint(w, ...PAYMENT);
    command(w, a, `#final\n${REASONS}`, at('2026-03-20T10:00:00+01:00'));
    w.store.markDeadlineMet(a, 'finalAnswer', '2026-03-20T09:00:00.000Z'); // after the promise (03-16), within PSD2 15 (03-23)
    const now = at('2026-05-01T10:00:00+02:00');
    const s = computeStatistics(readReportInput(w.store, parsePeriod('2026-03-01', '2026-03-31'), now));
    const rule = (label: RegExp) => s.byRule.find((r) => label.test(r.label));
    expect(rule(/^PSD2 15 business days/)).toMatchObject({ inTime: 1, late: 0, percentInTime: 100 });
    expect(rule(/^PSD2 35 business days/)).toMatchObject({ inTime: 1, late: 0 });
    expect(rule(/^firm's promise: finalAnswer/)).toMatchObject({ inTime: 0, late: 1, percentInTime: 0 });
  });
});

// Found by a review: with the firm's PSD2 policy shortened to 10 business days, "PSD2 day 15"
// was the firm's day 10, and a holding reply on day 14 was refused as after day 15.
describe('a firm that shortens PSD2', () => {
  test('psd2DayFifteenIsTheStatutesWhenTheFirmShortensIt', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-psd2-short-'));
    const config = parseConfig(
      {
        firm: { name: 'Exempelfinans AB', complaintsAddress: COMPLAINTS, staffDomains: ['exempelfinans.se'] },
        sources: [{ type: 'maildir', path: 'maildir' }],
        dataDir: './data',
        officers: [
          { name: 'Maja Chef', address: 'maja@exempelfinans.se', role: 'manager' },
          { name: 'Olle Handläggare', address: OLLE },
        ],
        deadlines: {
          escalation: { enabled: false },
          custom: { 'psd2-firm': { preset: 'psd2', finalAnswer: { unit: 'businessDays', amount: 10 } } },
          byCategory: { payments: ['psd2-firm'], fraud: ['psd2-firm'] },
        },
      },
      path.join(dir, 'config.json'),
    );
    const db = openDatabase(path.join(dir, 'data', 'klagomal.db'));
    const store = new Store(db);
    const calendars = calendarsFor(config.deadlines);
    const w: World = {
      store,
      ctx: { store, config, templates: TEMPLATES, calendar: calendars.firm, calendars, log: silentLogger },
      close() {
        db.close();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
    try {
      const id = await fileComplaint(w, ...PAYMENT);
      const rows = w.store.policyDeadlinesOfCase(id).map((p) => [p.policy, p.milestone, p.statutory, p.due_at]);
      // The statute's 15 and 35 business days, and the firm's own 10 beside them.
      expect(rows).toEqual(
        expect.arrayContaining([
          ['psd2', 'finalAnswer', 1, '2026-03-23T22:59:59.000Z'],
          ['psd2', 'finalAnswerMax', 1, '2026-04-22T21:59:59.000Z'],
          ['psd2-firm', 'finalAnswer', 0, '2026-03-16T22:59:59.000Z'],
        ]),
      );
      // Business day 14 (2026-03-20): a holding reply is still in time for PSD2.
      const out = command(w, id, '#holding 2026-04-10 Vi väntar på underlag från kortutgivaren', at('2026-03-20T10:00:00+01:00'));
      expect(out.errors).toEqual([]);
    } finally {
      w.close();
    }
  });
});
