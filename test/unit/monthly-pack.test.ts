/**
 * The monthly management pack (issue 15): its numbers are `klagomal report`'s for the same month
 * (and, for the twelve months before, each month's own report), its mail carries the charts as
 * inline PNG images and the register CSV, and the scheduled pass sends it once, on the first
 * Swedish business day of the month.
 *
 * The month is March 2026 of the report fixture (test/support/report-fixture.ts), with cases
 * added in earlier months so that the twelve before are not empty, a root cause with its
 * corrective actions, and an ARN referral.
 */
import fs from 'node:fs';
import path from 'node:path';
import { simpleParser, ParsedMail } from 'mailparser';
import { reportCommand } from '../../src/cli/report';
import type { Statistics } from '../../src/report/statistics';
import { averageAt, FORMAT, Fmt, PathStep, renderPack, statAt } from '../../src/monthly/render';
import { decideMonthlyPack, firstBusinessDay, runMonthlyPass } from '../../src/monthly/schedule';
import { monthBefore, Month, monthPeriod, parseMonth, readMonthlyPack } from '../../src/monthly/pack';
import { BusinessCalendar } from '../../src/deadlines/calendar';
import { isoDate } from '../../src/util/stockholm-time';
import { silentLogger } from '../../src/util/log';
import { parseConfig } from '../../src/config/load';
import { checkChartDrawing } from '../../src/monthly/png';
import { preflight } from '../../src/ops/preflight';
import { buildScenario, cet, FEES_PLAIN, INTEREST, makeReportWorld, MAJA, ReportWorld, PAYMENTS } from '../support/report-fixture';

const quiet = { out: () => undefined, err: () => undefined };
const MONTH = '2026-03' as Month;
const NOW_ISO = '2026-04-01T07:30:00Z';

/** `klagomal report --format json` of one month, in process (as the report's own tests run it). */
async function reportJson(w: ReportWorld, month: Month, now: string): Promise<Statistics> {
  const p = monthPeriod(month);
  const file = path.join(w.dir, `report-${month}.json`);
  expect(await reportCommand.run({ config: w.configFile, from: isoDate(p.from), to: isoDate(p.to), format: 'json', out: file, now }, [], quiet)).toBe(0);
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as { statistics: Statistics }).statistics;
}

/** Every annotated number in the pack's HTML: data-stat (with data-month) or data-avg, its value and text. */
function annotated(html: string): Array<{ kind: 'stat' | 'avg'; path: PathStep[]; month: string | null; value: string; format: Fmt; text: string }> {
  const unescape = (t: string): string =>
    t
      .replace(/&quot;/g, '"')
      .replace(/&#39;/g, "'")
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&amp;/g, '&');
  const out = [];
  const re = /<span data-(stat|avg)="([^"]*)"(?: data-month="([^"]*)")? data-value="([^"]*)" data-format="([a-z0-9]+)">([^<]*)<\/span>/g;
  for (const m of html.matchAll(re)) {
    out.push({
      kind: m[1] as 'stat' | 'avg',
      path: JSON.parse(unescape(m[2])) as PathStep[],
      month: m[3] ?? null,
      value: m[4],
      format: m[5] as Fmt,
      text: unescape(m[6]),
    });
  }
  return out;
}

describe('the monthly management pack', () => {
  let w: ReportWorld;
  let c: Awaited<ReturnType<typeof buildScenario>>;
  let mail: ParsedMail;
  let html: string;
  const reports = new Map<string, Statistics>();

  beforeAll(async () => {
    w = makeReportWorld();
    c = await buildScenario(w);
    // The twelve months before: cases in October 2025 and January 2026 as well as February.
    await w.complaint({ from: 'kund-h@example.com', body: FEES_PLAIN, receivedAt: cet('2025-10-14T10:00:00') });
    await w.complaint({ from: 'kund-i@example.com', body: PAYMENTS, receivedAt: cet('2026-01-12T10:00:00') });
    await w.complaint({ from: 'kund-j@example.com', body: INTEREST, receivedAt: cet('2026-01-20T10:00:00') });
    // The register of record on March's cases: a root cause with its actions, an ARN referral.
    w.command(c.A.id, '#cause information <b>avgiften</b> syns inte\n#action planned skriv om <script>avgiftssidan</script>', cet('2026-03-11T08:00:00'));
    w.command(c.A.id, '#action done 1', cet('2026-03-12T08:00:00'));
    w.command(c.F.id, '#arn 2026-01234 received 2026-03-12', cet('2026-03-12T10:00:00'));

    for (let n = 12; n >= 0; n--) {
      const m = monthBefore(MONTH, n);
      reports.set(m, await reportJson(w, m, NOW_ISO));
    }
    const eml = path.join(w.dir, 'pack.eml');
    expect(await reportCommand.run({ config: w.configFile, month: MONTH, out: eml, now: NOW_ISO }, ['monthly'], quiet)).toBe(0);
    expect(fs.statSync(eml).mode & 0o777).toBe(0o600);
    // keepCidLinks: the HTML as sent, with its cid: references (mailparser would inline them).
    mail = await simpleParser(fs.readFileSync(eml), { keepCidLinks: true });
    html = typeof mail.html === 'string' ? mail.html : '';
  }, 60_000);

  afterAll(() => w?.close());

  test('monthlyPackNumbersEqualTheReportForTheSameMonth', () => {
    const month = reports.get(MONTH)!;
    const before = [...reports.entries()].filter(([m]) => m !== MONTH).map(([, s]) => s);
    expect(before).toHaveLength(12);
    const numbers = annotated(html);
    for (const n of numbers) {
      const where = `${n.kind} ${n.month ?? ''} ${JSON.stringify(n.path)}`;
      let expected: number | null;
      if (n.kind === 'avg') expected = averageAt(before, n.path);
      else {
        const raw = statAt(reports.get(n.month!)!, n.path);
        expect([where, raw === undefined]).toEqual([where, false]);
        expected = raw as number | null;
      }
      expect([where, n.value]).toEqual([where, expected === null ? '' : String(expected)]);
      expect([where, n.text]).toEqual([where, FORMAT[n.format](expected)]);
    }
    // Every part of the month the issue names is there, each list whole.
    const shown = new Set(numbers.filter((n) => n.kind === 'stat').map((n) => JSON.stringify(n.path)));
    const must: PathStep[][] = [
      ['received'],
      ['closed'],
      ['backlog', 'total'],
      ['timeToAcknowledgementHours', 'median'],
      ['timeToFinalAnswerDays', 'median'],
      ['deadlinesOverall', 'percentInTime'],
      ['breaches', 'length'],
      ['compensation', 'totalPaidSek'],
      ['compensation', 'casesPaid'],
      ['repeatComplainants', 'count'],
      ['arn', 'referred'],
      ...month.byCategory.map((c) => ['byCategory', { category: c.category }, 'count']),
      ...month.byProduct.map((c) => ['byProduct', { product: c.product }, 'count']),
      ...month.byChannel.map((c) => ['byChannel', { channel: c.channel }, 'count']),
      ...month.byOutcome.map((c) => ['byOutcome', { outcome: c.outcome }, 'count']),
      ...month.byRule.map((r) => ['byRule', { label: r.label }, 'percentInTime']),
      ...month.deadlines.map((d) => ['deadlines', { milestone: d.milestone, policy: d.policy }, 'percentInTimeOfDecided']),
      ...month.breachesByCause.map((c) => ['breachesByCause', { cause: c.cause }, 'count']),
      ...month.rootCauses.map((c) => ['rootCauses', { code: c.code }, 'actionsDone']),
      ...month.arn.byState.map((x) => ['arn', 'byState', { state: x.state }, 'count']),
    ];
    for (const p of must) expect([JSON.stringify(p), shown.has(JSON.stringify(p))]).toEqual([JSON.stringify(p), true]);
    // The scenario's March, as the report's own tests count it (7 received in March, G after the 15th included).
    expect(month.received).toBe(7);
    expect(month.rootCauses).toEqual([{ code: 'information', count: 1, actionsPlanned: 0, actionsDone: 1 }]);
    expect(month.arn.referred).toBe(1);
    expect(numbers.filter((n) => n.kind === 'avg').length).toBeGreaterThan(5);
  });

  test('monthlyPackCarriesItsChartsInlineAndTheMonthsRegisterAttached', async () => {
    const cids = [...html.matchAll(/<img src="cid:([^"]+)" width="(\d+)" height="(\d+)"/g)].map((m) => ({
      cid: m[1],
      width: Number(m[2]),
      height: Number(m[3]),
    }));
    expect(cids.length).toBe(4);
    for (const ref of cids) {
      const part = mail.attachments.find((a) => a.cid === ref.cid);
      expect(part?.contentType).toBe('image/png');
      // A PNG (its signature), drawn at twice the size the HTML shows it (IHDR width and height).
      const png = part!.content;
      expect(png.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
      expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([ref.width * 2, ref.height * 2]);
    }
    const csv = mail.attachments.find((a) => a.filename === 'klagomal-register-2026-03.csv');
    expect(csv?.contentType).toBe('text/csv');
    const p = monthPeriod(MONTH);
    const reportCsv = path.join(w.dir, 'register.csv');
    expect(
      await reportCommand.run({ config: w.configFile, from: isoDate(p.from), to: isoDate(p.to), format: 'csv', out: reportCsv, now: NOW_ISO }, [], quiet),
    ).toBe(0);
    expect(csv!.content.equals(fs.readFileSync(reportCsv))).toBe(true);
    // The officers' words are data: escaped, never markup.
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;avgiftssidan&lt;/script&gt;');
    // No customer's address in the HTML (only in the attached register).
    expect(html).not.toMatch(/kund-[a-z]@example\.com/);
    expect(mail.headers.get('auto-submitted')).toBe('auto-generated');
    expect(mail.subject).toMatch(/^Klagomål mars 2026/);
  });

  test('monthlyPackNamesTheArnStatesInWordsNotCodes', () => {
    // F was recorded `#arn 2026-01234 received`: the pack says what that means, in the pack's language.
    expect(html).toContain('2026-01234');
    expect(html).toMatch(/ARN: mottaget av ARN/);
    expect(html).toMatch(/<td[^>]*>mottaget av ARN 2026-03-12<\/td>/);
    expect(html).not.toMatch(/ARN received/);
  });

  test('monthlyPackListsTheFinalAnswersThatWaitedLongestForApproval', () => {
    const draft = (caseId: number, at: string, decided: string | null): void => {
      const id = w.store.insertDraft({
        caseId,
        author: 'olle@exempelfinans.se',
        inboundId: null,
        outcome: 'rejected',
        words: 50,
        mail: {} as never,
        approvers: [MAJA],
        at: new Date(at).toISOString(),
      });
      if (decided) w.store.setDraftState(id, 'pending', 'approved', { by: MAJA, at: new Date(decided).toISOString() });
    };
    draft(c.B.id, '2026-03-10T10:00:00+01:00', '2026-03-12T10:00:00+01:00'); // 48 h
    draft(c.C.id, '2026-03-30T10:00:00+02:00', null); // waiting at the end of March: 38 h
    draft(c.D.id, '2026-02-20T10:00:00+01:00', '2026-02-25T10:00:00+01:00'); // all in February: not March's
    draft(c.G.id, '2026-02-27T10:00:00+01:00', '2026-03-02T10:00:00+01:00'); // from February into March: 72 h
    const pack = readMonthlyPack(w.store, MONTH, new Date(NOW_ISO), null);
    expect(pack.drafts.map((d) => [d.caseNumber, d.state, Math.round(d.waitedHours)])).toEqual([
      [c.G.number, 'approved', 72],
      [c.B.number, 'approved', 48],
      [c.C.number, 'pending', 38],
    ]);
    expect(pack.draftsWaiting).toBe(3);
    const { html: shown } = renderPack(pack, { firmName: 'Exempelfinans AB', lang: 'en', generatedAt: new Date(NOW_ISO) });
    expect([...shown.matchAll(/data-draft="([^"]+)" data-value="([^"]+)">([^<]+)</g)].map((m) => [m[1], m[3]])).toEqual([
      [c.G.number, '72.0'],
      [c.B.number, '48.0'],
      [c.C.number, '38.0'],
    ]);
  });

  test('monthlyPackShowsMarkupInACategoryAsTextInItsHtmlAndCharts', async () => {
    // A category no config allows (ids are [a-z0-9-]), put straight into the database, as the HTML report's browser test does.
    const evil = `<img src="https://tracker.example/x.png" onerror="alert(1)">&amp;`;
    const x = makeReportWorld();
    try {
      const cases = await buildScenario(x);
      x.store.db.prepare('UPDATE cases SET category = ? WHERE id = ?').run(evil, cases.A.id);
      const pack = readMonthlyPack(x.store, MONTH, new Date(NOW_ISO), null);
      expect(pack.statistics.byCategory.map((b) => b.category)).toContain(evil);
      const r = renderPack(pack, { firmName: 'Exempelfinans <AB>', lang: 'sv', generatedAt: new Date(NOW_ISO) });
      expect(r.html).not.toContain('<img src="https://tracker');
      expect(r.html).not.toContain('Exempelfinans <AB>');
      expect(r.html).toContain('&lt;img src=&quot;https://tracker.example/x.png&quot; onerror=&quot;alert(1)&quot;&gt;&amp;amp;');
      // In the SVG of each chart the name is text too; resvg drew every chart (an unescaped one would not parse).
      for (const i of r.images) {
        expect(i.svg).not.toContain('<img');
        expect(i.png.subarray(1, 4).toString('ascii')).toBe('PNG');
      }
      expect(r.images.find((i) => i.id === 'received-by-month')!.svg).toContain('&lt;img src=&quot;https://tracker');
    } finally {
      x.close();
    }
  });

  test('monthlyPackIsSentOnceOnTheFirstBusinessDay', () => {
    const cal = new BusinessCalendar();
    const claimed = new Set<string>();
    const decide = (iso: string) => decideMonthlyPack(new Date(iso), cal, (m) => claimed.has(m));
    // May 2026: the 1st is a public holiday (Friday), the 2nd and 3rd a weekend: Monday the 4th.
    expect(isoDate(firstBusinessDay({ y: 2026, m: 5, d: 20 }, cal))).toBe('2026-05-04');
    expect(decide('2026-05-01T08:00:00+02:00')).toEqual({ send: false, why: 'before-first-business-day', month: '2026-04' });
    expect(decide('2026-05-04T06:59:00+02:00')).toEqual({ send: false, why: 'before-send-time', month: '2026-04' });
    expect(decide('2026-05-04T07:00:00+02:00')).toEqual({ send: true, month: '2026-04', day: '2026-05-04', late: false });
    claimed.add('2026-04');
    expect(decide('2026-05-04T15:00:00+02:00')).toEqual({ send: false, why: 'already-sent', month: '2026-04' });
    // A service that was down on the day sends at its next pass in the month, marked late.
    expect(decide('2026-06-03T09:00:00+02:00')).toEqual({ send: true, month: '2026-05', day: '2026-06-01', late: true });
    // January 2027: New Year's Day (Friday), a weekend: Monday the 4th; the pack is December's.
    expect(decide('2027-01-04T07:05:00+01:00')).toEqual({ send: true, month: '2026-12', day: '2027-01-04', late: false });
    // The firm's own closed days count (deadlines.extraClosedDates).
    expect(isoDate(firstBusinessDay({ y: 2026, m: 6, d: 1 }, new BusinessCalendar(['2026-06-01'])))).toBe('2026-06-02');
  });

  test('monthlyPackIsQueuedOnceToEveryManagerWhateverTheRestarts', () => {
    const deps = { store: w.store, config: w.config, calendar: new BusinessCalendar(), log: silentLogger };
    const packs = (): number => w.store.listOutbox().filter((o) => o.kind === 'monthly-pack').length;
    const before = packs();
    // April 1st before the working day begins: not yet.
    expect(runMonthlyPass(deps, new Date('2026-04-01T06:30:00+02:00')).queued).toBe(0);
    // April 1st 2026 (Wednesday) is the first business day: March's pack, to the one manager.
    expect(runMonthlyPass(deps, new Date('2026-04-01T07:10:00+02:00'))).toEqual({ month: '2026-03', queued: 1 });
    // A restart the same day, the next hourly tick, the next day: nothing more.
    expect(runMonthlyPass(deps, new Date('2026-04-01T07:10:30+02:00')).queued).toBe(0);
    expect(runMonthlyPass(deps, new Date('2026-04-02T08:07:00+02:00')).queued).toBe(0);
    expect(packs()).toBe(before + 1);
    const row = w.store
      .listOutbox()
      .filter((o) => o.kind === 'monthly-pack')
      .pop()!;
    expect(row.to_address).toBe(MAJA);
    const files = w.store.outboxAttachments(row.id);
    expect(files.map((f) => [f.content_type, f.cid !== null])).toEqual([
      ['image/png', true],
      ['image/png', true],
      ['image/png', true],
      ['image/png', true],
      ['text/csv; charset=utf-8', false],
    ]);
    // A month with nothing to report (a new install: nothing received, nothing open) is claimed without a mail.
    const empty = makeReportWorld();
    try {
      expect(runMonthlyPass({ ...deps, store: empty.store, config: empty.config }, new Date('2026-04-01T09:00:00+02:00')).queued).toBe(0);
      expect(empty.store.monthlyPackClaimed('2026-03')).toBe(true);
      expect(empty.store.listOutbox()).toEqual([]);
    } finally {
      empty.close();
    }
  });

  test('reportsMonthlyWithoutAManagerIsAConfigErrorNamingTheKeyAndTheFile', () => {
    const base = {
      firm: { name: 'X AB', complaintsAddress: 'klagomal@x.se', staffDomains: ['x.se'] },
      sources: [{ type: 'maildir', name: 'k', path: './m' }],
      deadlines: { escalation: { enabled: false } },
      officers: [{ name: 'Olle', address: 'olle@x.se' }],
    };
    expect(() => parseConfig({ ...base, reports: { monthly: true } }, '/etc/klagomal/config.json')).toThrow(
      /\/etc\/klagomal\/config\.json: reports\.monthly: the monthly pack goes to the managers/,
    );
    expect(() => parseConfig({ ...base, reports: { monthly: 'yes' } }, '/etc/klagomal/config.json')).toThrow(/reports\.monthly: expected true or false/);
    expect(parseConfig(base, '/c.json').reports.monthly).toBe(false);
    const withManager = { ...base, officers: [{ name: 'Maja', address: 'maja@x.se', role: 'manager' }] };
    expect(parseConfig(withManager, '/c.json').reports.monthly).toBe(true);
    expect(parseConfig({ ...withManager, reports: { monthly: false } }, '/c.json').reports.monthly).toBe(false);
  });

  test('reportMonthlySendQueuesThePackToEveryManager', async () => {
    // The same data folder, a config with a second manager.
    const raw = JSON.parse(fs.readFileSync(w.configFile, 'utf8')) as { officers: unknown[] };
    // Karin reads English: our mail to an officer is in their first language.
    raw.officers.push({ name: 'Karin Chef', address: 'karin@exempelfinans.se', role: 'manager', languages: ['en', 'sv'] });
    const two = path.join(w.dir, 'two-managers.json');
    fs.writeFileSync(two, JSON.stringify(raw));
    const said: string[] = [];
    const io = { out: (t: string) => void said.push(t), err: () => undefined };
    const before = w.store.listOutbox().filter((o) => o.kind === 'monthly-pack').length;
    expect(await reportCommand.run({ config: two, month: '2026-02', send: true, now: NOW_ISO }, ['monthly'], io)).toBe(0);
    // Asked again: queued again (an on-demand pack is not the scheduled one).
    expect(await reportCommand.run({ config: two, month: '2026-02', send: true, now: '2026-04-01T07:31:00Z' }, ['monthly'], io)).toBe(0);
    const queued = w.store
      .listOutbox()
      .filter((o) => o.kind === 'monthly-pack')
      .slice(before);
    expect(queued.map((o) => o.to_address)).toEqual([MAJA, 'karin@exempelfinans.se', MAJA, 'karin@exempelfinans.se']);
    expect(queued.map((o) => [o.language, o.subject.replace(/ 2026.*/, '')])).toEqual([
      ['sv', 'Klagomål februari'],
      ['en', 'Complaints February'],
      ['sv', 'Klagomål februari'],
      ['en', 'Complaints February'],
    ]);
    expect(queued[1].body_html).toContain('<html lang="en">');
    expect(said[0]).toMatch(/^monthly pack of 2026-02 queued to 2 managers/);
    for (const o of queued) expect(w.store.outboxAttachments(o.id)).toHaveLength(5);
    expect(w.store.monthlyPackClaimed('2026-02')).toBe(false);
  });

  test('chartsWithoutAFontAreSeenByCheck', async () => {
    // resvg draws no text at all without a font, silently: check draws a word and counts its pixels.
    expect(checkChartDrawing()).toMatchObject({ ok: true });
    expect(checkChartDrawing({ systemFonts: false })).toEqual({
      ok: false,
      detail: 'the charts would have no text: no font found on this system',
      fix: expect.stringContaining('apt-get install fonts-dejavu-core'),
    });
    const checks = await preflight(w.config, silentLogger, { env: process.env });
    expect(checks.find((r) => r.check === 'monthly pack charts')).toMatchObject({ ok: true, fatal: false });
  });

  test('reportMonthlyRefusesABadMonthAndAskesForSendOrOut', async () => {
    await expect(reportCommand.run({ config: w.configFile, month: '2026-13', send: true }, ['monthly'], quiet)).rejects.toThrow(
      /--month '2026-13' is not a month; write YYYY-MM/,
    );
    await expect(reportCommand.run({ config: w.configFile, month: '2026-03' }, ['monthly'], quiet)).rejects.toThrow(/either --send .* or --out FILE/);
    expect(parseMonth(' 2026-11 ')).toBe('2026-11');
    expect(monthBefore('2026-01' as Month)).toBe('2025-12');
  });
});
