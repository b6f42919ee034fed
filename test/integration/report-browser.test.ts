/**
 * The HTML report in a real browser: headless Chromium (Debian package `chromium`) opens the
 * file written by `klagomal report --format html`, and the test asks the rendered page, through
 * the DevTools protocol, what it shows:
 *  - the three charts are there, with one bar (one donut slice) per non-zero number of the JSON
 *    report of the same period, every bar drawn with a size proportional to its number and
 *    inside its chart;
 *  - every key figure on the page is the JSON report's number, as written on the page;
 *  - the page fits one 1920×1080 screen;
 *  - nothing was loaded but the file itself, nothing was blocked, nothing was logged as an
 *    error; a category full of markup is shown as text, not run.
 *
 * The DevTools protocol runs over a pipe (--remote-debugging-pipe: Chromium reads commands on
 * fd 3 and writes answers on fd 4, NUL-separated JSON), so no port, no WebSocket library and
 * no network are needed. Chromium starts with --headless --no-sandbox --disable-gpu and a fresh
 * --user-data-dir in a temporary folder. Without Chromium the test is skipped, saying so.
 * KLAGOMAL_REPORT_SCREENSHOT=FILE keeps a screenshot of the page.
 */
import fs from 'node:fs';
import path from 'node:path';
import { reportCommand } from '../../src/cli/report';
import type { Statistics } from '../../src/report/statistics';
import { buildScenario, makeReportWorld, ReportWorld } from '../support/report-fixture';
import { Browser, findChromium } from '../support/chromium';

const CHROMIUM = findChromium();
if (!CHROMIUM) console.warn('HTML report browser test skipped: no Chromium found (set CHROMIUM_BIN, or on Debian: apt-get install -y chromium)');
const describeBrowser = CHROMIUM ? describe : describe.skip;

/** What the rendered page says about itself (evaluated in the page). */
interface PageFacts {
  charts: Record<
    string,
    {
      box: { width: number; height: number };
      bars: Array<{ series: string; key: string; value: number; width: number; height: number; inside: boolean }>;
      slices: Array<{ key: string; value: number; width: number; height: number; length: number }>;
    }
  >;
  /** visible: drawn with a size, inside its card (a long name must not push a number out). */
  stats: Record<string, { value: string; text: string; visible: boolean }>;
  scrollWidth: number;
  scrollHeight: number;
  innerWidth: number;
  innerHeight: number;
  images: number;
  scripts: number;
  bodyText: string;
}

const FACTS = `(() => {
  const inside = (b, r) => b.left >= r.left - 0.5 && b.right <= r.right + 0.5 && b.top >= r.top - 0.5 && b.bottom <= r.bottom + 0.5;
  const charts = {};
  for (const svg of document.querySelectorAll('svg[data-chart]')) {
    const r = svg.getBoundingClientRect();
    charts[svg.dataset.chart] = {
      box: { width: r.width, height: r.height },
      bars: [...svg.querySelectorAll('rect.bar')].map((b) => {
        const bb = b.getBoundingClientRect();
        return { series: b.dataset.series, key: b.dataset.key, value: Number(b.dataset.value), width: bb.width, height: bb.height, inside: inside(bb, r) };
      }),
      slices: [...svg.querySelectorAll('path.slice')].map((p) => {
        const bb = p.getBoundingClientRect();
        return { key: p.dataset.key, value: Number(p.dataset.value), width: bb.width, height: bb.height, length: p.getTotalLength() };
      }),
    };
  }
  const stats = {};
  for (const el of document.querySelectorAll('[data-stat]')) {
    const r = el.getBoundingClientRect();
    const card = el.closest('.card, .kpi').getBoundingClientRect();
    stats[el.dataset.stat] = { value: el.dataset.value, text: el.textContent, visible: r.width > 0 && r.height > 0 && inside(r, card) };
  }
  return {
    charts, stats,
    scrollWidth: document.documentElement.scrollWidth, scrollHeight: document.documentElement.scrollHeight,
    innerWidth: window.innerWidth, innerHeight: window.innerHeight,
    images: document.images.length, scripts: document.scripts.length, bodyText: document.body.innerText,
  };
})()`;

// ---- the test -------------------------------------------------------------------------------

const EVIL = `<img src="https://tracker.example/x.png" onerror="document.title='pwned'">`;
const WIDTH = 1920;
const HEIGHT = 1080;

describeBrowser('the HTML report in headless Chromium', () => {
  let w: ReportWorld;
  let stats: Statistics;
  let facts: PageFacts;
  let cdp: Browser;
  let htmlFile: string;
  let elapsedMs = 0;

  beforeAll(async () => {
    w = makeReportWorld();
    const cases = await buildScenario(w);
    // A category no config allows (ids are [a-z0-9-]), put straight into the database.
    w.store.db.prepare('UPDATE cases SET category = ? WHERE id = ?').run(EVIL, cases.G.id);
    const args = { config: w.configFile, from: '2026-02-01', to: '2026-03-31', now: '2026-03-20T11:00:00Z' };
    const quiet = { out: () => undefined, err: () => undefined };
    const jsonFile = path.join(w.dir, 'report.json');
    htmlFile = path.join(w.dir, 'report.html');
    expect(await reportCommand.run({ ...args, format: 'json', out: jsonFile }, [], quiet)).toBe(0);
    expect(await reportCommand.run({ ...args, format: 'html', out: htmlFile }, [], quiet)).toBe(0);
    stats = (JSON.parse(fs.readFileSync(jsonFile, 'utf8')) as { statistics: Statistics }).statistics;

    const started = Date.now();
    cdp = Browser.launch(CHROMIUM!, WIDTH, HEIGHT);
    const { targetId } = (await cdp.send('Target.createTarget', { url: 'about:blank' })) as { targetId: string };
    const { sessionId } = (await cdp.send('Target.attachToTarget', { targetId, flatten: true })) as { sessionId: string };
    for (const domain of ['Page', 'Network', 'Runtime', 'Log']) await cdp.send(`${domain}.enable`, {}, sessionId);
    await cdp.send('Emulation.setDeviceMetricsOverride', { width: WIDTH, height: HEIGHT, deviceScaleFactor: 1, mobile: false }, sessionId);
    await cdp.send('Page.navigate', { url: `file://${htmlFile}` }, sessionId);
    await cdp.waitFor('Page.loadEventFired');
    const evaluated = (await cdp.send('Runtime.evaluate', { expression: FACTS, returnByValue: true }, sessionId)) as {
      result: { value: PageFacts };
      exceptionDetails?: unknown;
    };
    if (evaluated.exceptionDetails) throw new Error(`the page check threw: ${JSON.stringify(evaluated.exceptionDetails)}`);
    facts = evaluated.result.value;
    if (process.env.KLAGOMAL_REPORT_SCREENSHOT) {
      const shot = (await cdp.send('Page.captureScreenshot', { format: 'png' }, sessionId)) as { data: string };
      fs.writeFileSync(process.env.KLAGOMAL_REPORT_SCREENSHOT, Buffer.from(shot.data, 'base64'));
    }
    elapsedMs = Date.now() - started;
  }, 60_000);

  afterAll(async () => {
    await cdp?.close();
    w?.close();
    if (elapsedMs) console.log(`report-browser: Chromium started, rendered and inspected the report in ${elapsedMs} ms`);
  });

  test('volume per week by category: one bar per non-zero week and category, sized by its number', () => {
    const chart = facts.charts['weekly-by-category'];
    expect(chart).toBeDefined();
    expect(chart.box.width).toBeGreaterThan(300);
    const expected = stats.charts.weeklyByCategory.map((c) => ({ series: c.category, key: c.week, value: c.count }));
    expect(expected.length).toBeGreaterThanOrEqual(5);
    expect(chart.bars.map((b) => ({ series: b.series, key: b.key, value: b.value }))).toEqual(expected);
    // The markup in a category is a series name like any other: text, never an element.
    expect(chart.bars.some((b) => b.series === EVIL)).toBe(true);
    for (const b of chart.bars) {
      expect(b.inside).toBe(true);
      expect(b.width).toBeGreaterThan(2);
      // Heights are proportional to the numbers: one scale for the whole chart.
      expect(b.height / b.value).toBeCloseTo(chart.bars[0].height / chart.bars[0].value, 0);
    }
  });

  test('deadline compliance per month: in time, late, open for every month with deadlines', () => {
    const chart = facts.charts['compliance-by-month'];
    const expected = stats.charts.complianceByMonth.flatMap((m) =>
      (['inTime', 'late', 'open'] as const).filter((k) => m[k] > 0).map((k) => ({ series: k, key: m.month, value: m[k] })),
    );
    expect(stats.charts.complianceByMonth.map((m) => m.month)).toEqual(['2026-02', '2026-03']);
    expect(chart.bars.map((b) => ({ series: b.series, key: b.key, value: b.value }))).toEqual(expected);
    for (const b of chart.bars) {
      expect(b.inside).toBe(true);
      expect(b.height / b.value).toBeCloseTo(chart.bars[0].height / chart.bars[0].value, 0);
    }
  });

  test('outcome mix: one visible slice per outcome with cases', () => {
    const chart = facts.charts['outcome-mix'];
    expect(chart.slices.map((s) => ({ key: s.key, value: s.value }))).toEqual(
      stats.charts.outcomeMix.filter((o) => o.count > 0).map((o) => ({ key: o.outcome, value: o.count })),
    );
    expect(chart.slices.reduce((n, s) => n + s.value, 0)).toBe(stats.received);
    for (const s of chart.slices) {
      expect(s.width).toBeGreaterThan(5);
      expect(s.length).toBeGreaterThan(20);
    }
  });

  test('the figures shown are the JSON report’s', () => {
    const nb = (t: string): string => t.replace(/[\u00a0\u202f]/g, ' ');
    const dec = (x: number | null, unit: string): string => (x === null ? '–' : `${x.toFixed(1)} ${unit}`);
    const pct = (x: number | null): string => (x === null ? '–' : `${Math.round(x)} %`);
    const expected: Record<string, [number | null, string]> = {
      received: [stats.received, String(stats.received)],
      closed: [stats.closed, String(stats.closed)],
      backlog: [stats.backlog.total, String(stats.backlog.total)],
      'ack-median': [stats.timeToAcknowledgementHours.median, dec(stats.timeToAcknowledgementHours.median, 'h')],
      'ack-p90': [stats.timeToAcknowledgementHours.p90, dec(stats.timeToAcknowledgementHours.p90, 'h')],
      'ack-count': [stats.timeToAcknowledgementHours.count, String(stats.timeToAcknowledgementHours.count)],
      'final-median': [stats.timeToFinalAnswerDays.median, dec(stats.timeToFinalAnswerDays.median, 'd')],
      'final-p90': [stats.timeToFinalAnswerDays.p90, dec(stats.timeToFinalAnswerDays.p90, 'd')],
      'final-count': [stats.timeToFinalAnswerDays.count, String(stats.timeToFinalAnswerDays.count)],
      'in-time-percent': [stats.deadlinesOverall.percentInTime, pct(stats.deadlinesOverall.percentInTime)],
      'late-count': [stats.deadlinesOverall.late, String(stats.deadlinesOverall.late)],
      'open-count': [stats.deadlinesOverall.open, String(stats.deadlinesOverall.open)],
      breaches: [stats.breaches.length, String(stats.breaches.length)],
      'delay-notices': [stats.delayNotices, String(stats.delayNotices)],
      'holding-replies': [stats.holdingReplies, String(stats.holdingReplies)],
      'compensation-total': [stats.compensation.totalPaidSek, `${stats.compensation.totalPaidSek} kr`],
      'compensation-cases': [stats.compensation.casesPaid, String(stats.compensation.casesPaid)],
      'repeat-complainants': [stats.repeatComplainants.count, String(stats.repeatComplainants.count)],
    };
    for (const b of stats.backlog.byAge) expected[`backlog:${b.bucket}`] = [b.count, String(b.count)];
    for (const o of stats.byOutcome) expected[`outcome:${o.outcome}`] = [o.count, String(o.count)];
    for (const c of stats.byCustomerType) expected[`customer-type:${c.customerType}`] = [c.count, String(c.count)];
    for (const c of stats.breachesByCause) expected[`cause:${c.cause}`] = [c.count, String(c.count)];
    for (const d of stats.deadlines) expected[`deadline:${d.milestone}:${d.policy}:in-time`] = [d.percentInTimeOfDecided, pct(d.percentInTimeOfDecided)];
    for (const r of stats.byRule) expected[`rule:${r.regime ?? 'promise'}:${r.policy}:${r.milestone}`] = [r.percentInTime, pct(r.percentInTime)];
    for (const c of stats.categoryTrend) expected[`category:${c.category}`] = [c.count, String(c.count)];
    // The register of record's figures (issue 14): channels, products, reopened, ARN and court, root causes.
    for (const c of stats.byChannel) expected[`channel:${c.channel}`] = [c.count, String(c.count)];
    for (const p of stats.byProduct) expected[`product:${p.product}`] = [p.count, String(p.count)];
    expected.reopened = [stats.reopened.cases, String(stats.reopened.cases)];
    expected.arn = [stats.arn.referred, String(stats.arn.referred)];
    for (const x of stats.arn.byState) expected[`arn:${x.state}`] = [x.count, String(x.count)];
    expected.court = [stats.court.referred, String(stats.court.referred)];
    for (const x of stats.court.byState) expected[`court:${x.state}`] = [x.count, String(x.count)];
    for (const c of stats.rootCauses) expected[`root-cause:${c.code}`] = [c.count, String(c.count)];

    const shown = Object.fromEntries(Object.entries(facts.stats).map(([k, v]) => [k, [v.value === '' ? null : Number(v.value), nb(v.text)]]));
    expect(shown).toEqual(expected);
    for (const [key, v] of Object.entries(facts.stats)) expect([key, v.visible]).toEqual([key, true]);
    // The numbers the fixture's scenario gives (hand-computed in test/unit/report.test.ts, plus P1 and P2 in February and G in March).
    expect(stats.received).toBe(9);
  });

  test('it fits one 1920×1080 screen', () => {
    expect([facts.innerWidth, facts.innerHeight]).toEqual([WIDTH, HEIGHT]);
    expect(facts.scrollWidth).toBeLessThanOrEqual(WIDTH);
    expect(facts.scrollHeight).toBeLessThanOrEqual(HEIGHT);
  });

  test('nothing loaded but the file, nothing run, nothing logged; markup from the data is text', () => {
    const requested = cdp.events.filter((e) => e.method === 'Network.requestWillBeSent').map((e) => (e.params.request as { url: string }).url);
    expect(requested).toEqual([`file://${htmlFile}`]);
    const logged = cdp.events
      .filter((e) => e.method === 'Log.entryAdded' || e.method === 'Runtime.consoleAPICalled' || e.method === 'Runtime.exceptionThrown')
      .map((e) => JSON.stringify(e.params));
    expect(logged).toEqual([]);
    expect(facts.images).toBe(0);
    expect(facts.scripts).toBe(0);
    expect(facts.bodyText).toContain(EVIL);
    expect(facts.bodyText).not.toMatch(/kund-[a-z]@example\.com/);
  });
});
