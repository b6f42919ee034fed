/**
 * `klagomal report`: the statistics of a period against values worked out by hand on a small
 * register (test/support/report-fixture.ts, where the scenario is laid out case by case), the
 * register rows of that register, the CSV's escaping and formula guard, and the HTML's escaping.
 */
import type { RegisterRow } from '../../src/report/register';
import { csvCell, CSV_HEADERS, registerCsv } from '../../src/report/csv';
import { makePeriod, parsePeriod, PeriodError, previousPeriod } from '../../src/report/period';
import { computeStatistics, isoWeek, maskAddress, median, percentile, readReportInput, ReportInput, Statistics } from '../../src/report/statistics';
import { renderHtml } from '../../src/report/html';
import { esc, niceScale } from '../../src/report/svg';
import { buildScenario, CaseKey, makeReportWorld, NOW, OLLE, PERIOD, ReportWorld } from '../support/report-fixture';
import type { CaseRow } from '../../src/store/store';

describe('report building blocks', () => {
  test('a period is Stockholm dates, inclusive, as UTC bounds; the previous one has the same length', () => {
    const p = parsePeriod('2026-03-02', '2026-03-15');
    expect(p).toMatchObject({ start: '2026-03-01T23:00:00.000Z', end: '2026-03-15T23:00:00.000Z', days: 14 });
    // Across the change to summer time (29 March 2026): midnight is 22:00 UTC from then on.
    expect(parsePeriod('2026-03-01', '2026-03-31')).toMatchObject({ start: '2026-02-28T23:00:00.000Z', end: '2026-03-31T22:00:00.000Z', days: 31 });
    const prev = previousPeriod(p);
    expect([prev.from, prev.to, prev.days]).toEqual([{ y: 2026, m: 2, d: 16 }, { y: 2026, m: 3, d: 1 }, 14]);
    expect(() => parsePeriod('2026-03-15', '2026-03-02')).toThrow(/--from 2026-03-15 is after --to 2026-03-02/);
    expect(() => parsePeriod('2026-02-30', '2026-03-02')).toThrow(PeriodError);
    expect(() => parsePeriod('1/3/2026', '2026-03-02')).toThrow(/--from '1\/3\/2026' is not a date; write YYYY-MM-DD/);
    expect(makePeriod({ y: 2026, m: 1, d: 1 }, { y: 2026, m: 1, d: 1 }).days).toBe(1);
  });

  test('median, nearest-rank p90', () => {
    expect(median([])).toBeNull();
    expect(median([5])).toBe(5);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(percentile([], 90)).toBeNull();
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90)).toBe(9);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 90)).toBe(10);
    expect(percentile([3, 1], 90)).toBe(3);
  });

  test('ISO weeks, including the week-year at the turn of the year', () => {
    expect(isoWeek({ y: 2026, m: 3, d: 2 })).toEqual({ week: '2026-W10', start: { y: 2026, m: 3, d: 2 } });
    expect(isoWeek({ y: 2026, m: 3, d: 15 })).toEqual({ week: '2026-W11', start: { y: 2026, m: 3, d: 9 } });
    expect(isoWeek({ y: 2027, m: 1, d: 1 }).week).toBe('2026-W53');
    expect(isoWeek({ y: 2024, m: 12, d: 30 }).week).toBe('2025-W01');
  });

  test('addresses are masked to their first letter and domain', () => {
    expect(maskAddress('anna.svensson@example.com')).toBe('a***@example.com');
    expect(maskAddress('nonsense')).toBe('***');
  });

  test('CSV cells: RFC 4180 quoting, and formulas kept as text', () => {
    expect(csvCell('plain')).toBe('plain');
    expect(csvCell('a, b')).toBe('"a, b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('two\r\nlines')).toBe('"two\r\nlines"');
    expect(csvCell('=HYPERLINK("http://evil.example","x")')).toBe('"\'=HYPERLINK(""http://evil.example"",""x"")"');
    for (const lead of ['+', '-', '@', '\t', '\r'])
      expect(csvCell(`${lead}1+1`).startsWith(`'${lead}`) || csvCell(`${lead}1+1`).startsWith(`"'${lead}`)).toBe(true);
    expect(csvCell(-12.5)).toBe('-12.5'); // our own numbers stay numbers
    expect(csvCell(null)).toBe('');
    expect(csvCell(true)).toBe('yes');
    expect(registerCsv([])).toBe(`\uFEFF${CSV_HEADERS.join(',')}\r\n`);
  });

  test('escaping for HTML and SVG; round axis scales', () => {
    expect(esc(`<img src=x onerror="alert('1')">&`)).toBe('&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&amp;');
    expect(niceScale(0)).toEqual({ top: 1, step: 1 });
    expect(niceScale(3)).toEqual({ top: 3, step: 1 });
    expect(niceScale(7)).toEqual({ top: 8, step: 2 });
    expect(niceScale(10)).toEqual({ top: 10, step: 5 });
    expect(niceScale(37)).toEqual({ top: 40, step: 10 });
  });
});

describe('statistics of a period, against hand-computed values', () => {
  let w: ReportWorld;
  let cases: Record<CaseKey, CaseRow>;
  let input: ReportInput;
  let s: Statistics;
  const row = (k: CaseKey): RegisterRow => input.rows.find((r) => r.caseNumber === cases[k].number)!;

  beforeAll(async () => {
    w = makeReportWorld();
    cases = await buildScenario(w);
    input = readReportInput(w.store, parsePeriod(PERIOD.from, PERIOD.to), NOW);
    s = computeStatistics(input);
  });
  afterAll(() => w.close());

  test('the cohort is the cases received in the period, in received order', () => {
    expect(input.rows.map((r) => r.caseNumber)).toEqual((['A', 'B', 'E', 'C', 'F', 'D'] as CaseKey[]).map((k) => cases[k].number));
    expect(s.received).toBe(6);
    expect(s.period).toEqual({ from: '2026-03-02', to: '2026-03-15', days: 14 });
    expect(s.previousPeriod).toEqual({ from: '2026-02-16', to: '2026-03-01' });
  });

  test('closed: A and F (11 March) and P2 (5 March, received before the period); E closed after it', () => {
    expect(s.closed).toBe(3);
  });

  test('backlog at the end of the period, by whole days since receipt', () => {
    // Open at 2026-03-16 00:00 Stockholm: P1 (23 days), B (12), E (10; closed only on 20 March), C (6), D (2).
    expect(s.backlog.asOf).toBe('2026-03-15T23:00:00.000Z');
    expect(s.backlog.total).toBe(5);
    expect(s.backlog.byAge).toEqual([
      { bucket: '0-7 days', count: 2 },
      { bucket: '8-14 days', count: 2 },
      { bucket: '15-30 days', count: 1 },
      { bucket: '31-60 days', count: 0 },
      { bucket: '61-90 days', count: 0 },
      { bucket: 'over 90 days', count: 0 },
    ]);
  });

  test('by category, outcome and customer type', () => {
    expect(s.byCategory).toEqual([
      { category: 'fees', count: 4 },
      { category: 'interest', count: 1 },
      { category: 'payments', count: 1 },
    ]);
    expect(s.byOutcome).toEqual([
      { outcome: 'upheld', count: 1 },
      { outcome: 'rejected', count: 1 },
      { outcome: 'withdrawn', count: 1 },
      { outcome: 'undecided', count: 3 },
    ]);
    // Nothing records a customer type on a case yet: every case counts as a consumer, and says so.
    expect(s.byCustomerType).toEqual([{ customerType: 'consumer', count: 6 }]);
    expect(s.customerTypeRecorded).toBe(0);
    expect(input.rows.every((r) => r.customerType === 'consumer' && r.customerTypeSource === 'default')).toBe(true);
  });

  test('time to acknowledgement (hours) and to the final answer (days)', () => {
    // Acknowledged after A 2, B 30, E 3, C 1, F 1 hours; D never: sorted 1 1 2 3 30.
    expect(s.timeToAcknowledgementHours).toEqual({ count: 5, median: 2, p90: 30 });
    // A: 8 days 1 hour (8.0417); E: 14 days 22 hours (14.9167). Median = their mean, p90 = the larger.
    expect(s.timeToFinalAnswerDays).toEqual({ count: 2, median: 11.48, p90: 14.92 });
  });

  test('share within each deadline', () => {
    expect(s.deadlines).toEqual([
      {
        milestone: 'acknowledgement',
        policy: 'promise-24h-14d',
        source: expect.stringContaining("firm's promise"),
        total: 6,
        inTime: 4, // A C E F
        metLate: 1, // B: 30 hours
        overdue: 1, // D: due 14 March 15:00, never met
        open: 0,
        closedWithout: 0,
        percentInTime: 66.7,
        percentLate: 33.3,
        percentOpen: 0,
        percentInTimeOfDecided: 66.7,
      },
      {
        milestone: 'finalAnswer',
        policy: 'promise-24h-14d', // C's 14 calendar days (23 March) come before PSD2's 15 business days (30 March)
        source: expect.stringContaining("firm's promise"),
        total: 6,
        inTime: 1, // A
        metLate: 1, // E: due 19 March 23:59:59, met 20 March 10:00
        overdue: 0,
        open: 3, // B (extended to 25 March), C (holding reply to 10 April), D (27 March)
        closedWithout: 1, // F: withdrawn and closed before its deadline
        percentInTime: 20,
        percentLate: 20,
        percentOpen: 60,
        percentInTimeOfDecided: 50,
      },
      {
        milestone: 'finalAnswerMax',
        policy: 'psd2',
        source: expect.stringContaining('PSD2'),
        total: 1,
        inTime: 0,
        metLate: 0,
        overdue: 0,
        open: 1,
        closedWithout: 0,
        percentInTime: 0,
        percentLate: 0,
        percentOpen: 100,
        percentInTimeOfDecided: null,
      },
    ]);
    // Without finalAnswerMax and F's moot final answer: 11 deadlines, 5 in time, 3 late, 3 open; 5 of 8 decided in time.
    expect(s.deadlinesOverall).toEqual({ counted: 11, inTime: 5, late: 3, open: 3, percentInTime: 62.5 });
    expect(s.charts.complianceByMonth).toEqual([{ month: '2026-03', inTime: 5, late: 3, open: 3 }]);
  });

  test('breaches with their cause', () => {
    expect(s.breaches.map((b) => [b.caseNumber, b.milestone, b.result, b.cause])).toEqual([
      [cases.B.number, 'acknowledgement', 'late', 'not-acknowledged'],
      [cases.D.number, 'acknowledgement', 'overdue', 'not-acknowledged'],
      [cases.E.number, 'finalAnswer', 'late', 'answered-late'],
    ]);
    expect(s.breaches[0]).toMatchObject({ dueAt: '2026-03-04T09:00:00.000Z', metAt: '2026-03-04T15:00:00.000Z', detail: 'acknowledged 0.3 days late' });
    // D: due 14 March 15:00, now 20 March 12:00: 5 days 21 hours.
    expect(s.breaches[1]).toMatchObject({ metAt: null, detail: 'not acknowledged, 5.9 days past the deadline' });
    expect(s.breaches[2]).toMatchObject({ dueAt: '2026-03-19T22:59:59.000Z', detail: 'met 0.4 days after the deadline' });
    expect(s.breachesByCause).toEqual([
      { cause: 'not-acknowledged', label: 'not acknowledged in time', count: 2 },
      { cause: 'answered-late', label: 'answered after the deadline', count: 1 },
    ]);
  });

  test('delay notices and holding replies, compensation', () => {
    expect(s.delayNotices).toBe(1); // B
    expect(s.holdingReplies).toBe(1); // C
    expect(s.compensation).toEqual({ totalPaidSek: 250, casesPaid: 1, casesAsked: 2 }); // asked: A and C ("betalar tillbaka", "vill ha tillbaka")
  });

  test('repeat complainants: a (A and C in the period) and d (P2 before it, D in it); addresses only masked', () => {
    expect(s.repeatComplainants).toEqual({
      count: 2,
      withSeveralInPeriod: 1,
      casesInPeriod: 3,
      customers: [
        { customer: 'k***@example.com', inPeriod: 2, upToEnd: 2 },
        { customer: 'k***@example.com', inPeriod: 1, upToEnd: 2 },
      ],
    });
    expect(JSON.stringify(s)).not.toMatch(/kund-[a-z]@/);
  });

  test('categories against the previous period (16 Feb - 1 Mar: P1 fees, P2 interest)', () => {
    expect(s.categoryTrend).toEqual([
      { category: 'fees', count: 4, previous: 1, change: 3, rising: true },
      { category: 'payments', count: 1, previous: 0, change: 1, rising: true },
      { category: 'interest', count: 1, previous: 1, change: 0, rising: false },
    ]);
    expect(s.risingCategories).toEqual(['fees', 'payments']);
  });

  test('chart data: weeks of the period, cases per week and category (non-zero cells), outcome mix', () => {
    expect(s.charts.weeks).toEqual([
      { week: '2026-W10', start: '2026-03-02' },
      { week: '2026-W11', start: '2026-03-09' },
    ]);
    expect(s.charts.weeklyByCategory).toEqual([
      { week: '2026-W10', category: 'fees', count: 3 }, // A B E
      { week: '2026-W11', category: 'fees', count: 1 }, // F
      { week: '2026-W11', category: 'interest', count: 1 }, // D
      { week: '2026-W11', category: 'payments', count: 1 }, // C
    ]);
    expect(s.charts.outcomeMix).toEqual(s.byOutcome);
  });

  test('register rows: deadlines with policy and result, delays with reasons, outcome, closing', () => {
    const a = row('A');
    expect(a).toMatchObject({
      status: 'closed',
      receivedAt: '2026-03-02T08:00:00.000Z',
      receivedLocal: '2026-03-02T09:00:00+01:00',
      channel: 'email',
      source: 'klagomal',
      mailbox: 'INBOX',
      category: 'fees',
      references: [{ type: 'invoice', value: '55512345' }],
      compensationAsked: true,
      amountsSek: [250],
      compensationPaidSek: 250,
      outcome: 'upheld',
      decidedBy: OLLE,
      decidedAt: '2026-03-10T09:30:00.000Z',
      closedAt: '2026-03-11T08:00:00.000Z',
      closedLocal: '2026-03-11T09:00:00+01:00',
    });
    expect(a.rawSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(a.deadlines.map((d) => [d.milestone, d.policy, d.rule, d.result])).toEqual([
      ['acknowledgement', 'promise-24h-14d', '24 hours', 'in-time'],
      ['finalAnswer', 'promise-24h-14d', '14 calendar days', 'in-time'],
    ]);

    const b = row('B');
    expect(b.delays).toEqual([
      {
        at: '2026-03-12T08:00:00.000Z',
        milestone: 'finalAnswer',
        kind: 'delay-notice',
        fromDue: '2026-03-17T22:59:59.000Z',
        toDue: '2026-03-25T22:59:59.000Z',
        toDueLocal: '2026-03-25T23:59:59+01:00',
        reason: 'Vi väntar på underlag från vår leverantör',
        by: `officer:${OLLE}`,
        notice: 'queued',
        noticeSentAt: null,
        noticeDetail: null,
      },
    ]);
    const bFinal = b.deadlines.find((d) => d.milestone === 'finalAnswer')!;
    expect([bFinal.originalDueAt, bFinal.dueAt, bFinal.result]).toEqual(['2026-03-17T22:59:59.000Z', '2026-03-25T22:59:59.000Z', 'open']);

    const c = row('C');
    expect(c.delays.map((d) => [d.kind, d.toDueLocal, d.reason])).toEqual([
      ['holding-reply', '2026-04-10T23:59:59+02:00', 'Banken har inte skickat underlaget för dragningen'],
    ]);
    expect(c.deadlines.map((d) => [d.milestone, d.policy])).toEqual([
      ['acknowledgement', 'promise-24h-14d'],
      ['finalAnswer', 'promise-24h-14d'],
      ['finalAnswerMax', 'psd2'],
    ]);

    const f = row('F');
    expect(f.deadlines.find((d) => d.milestone === 'finalAnswer')!.result).toBe('closed-without');
    expect(f).toMatchObject({ outcome: 'withdrawn', status: 'closed' });
    expect(row('E')).toMatchObject({ outcome: 'rejected', status: 'closed', closedAt: '2026-03-20T10:00:00.000Z' });
  });

  test('the HTML shows the numbers of the JSON, escapes every text and loads nothing', () => {
    // A category no config would allow, straight into the database: it must come out as text.
    const evil = `<img src=x onerror=alert(1)>"'&`;
    const html = renderHtml({ ...s, byCategory: [...s.byCategory, { category: evil, count: 1 }] }, { firmName: 'Ex & Co <AB>' });
    expect(html).not.toContain('<img');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;');
    expect(html).toContain('Ex &amp; Co &lt;AB&gt;');
    expect(html).not.toMatch(/<script|<link|@import|url\(|https?:\/\/(?!www\.w3\.org\/2000\/svg)/i);
    expect(html).toContain(`data-stat="received" data-value="6">6<`);
    expect(html).toContain(`data-stat="in-time-percent" data-value="62.5">63\u00a0%<`);
    expect(html).not.toMatch(/kund-[a-z]@/);
  });
});
