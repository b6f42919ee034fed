/**
 * Issue 14 (§4 C): "the statistics labels in Swedish and English (today English only)". The HTML
 * page speaks the language asked for; its figures are the same in both.
 */
import { renderHtml } from '../../src/report/html';
import { LABELS } from '../../src/report/labels';
import { BREACH_CAUSES } from '../../src/report/register';
import { computeStatistics, readReportInput, AGE_BUCKETS } from '../../src/report/statistics';
import { makePeriod } from '../../src/report/period';
import { parseIsoDate } from '../../src/util/stockholm-time';
import { buildScenario, makeReportWorld, NOW, ReportWorld } from '../support/report-fixture';

let w: ReportWorld;
let html: { sv: string; en: string };
beforeAll(async () => {
  w = makeReportWorld();
  await buildScenario(w);
  const stats = computeStatistics(readReportInput(w.store, makePeriod(parseIsoDate('2026-03-02')!, parseIsoDate('2026-03-15')!), NOW));
  html = { sv: renderHtml(stats, { firmName: 'Exempelfinans AB', lang: 'sv' }), en: renderHtml(stats, { firmName: 'Exempelfinans AB' }) };
});
afterAll(() => w.close());

const text = (h: string): string => h.replace(/<style>[\s\S]*?<\/style>/, '').replace(/<[^>]+>/g, ' ');
const stats = (h: string): string[] => [...h.matchAll(/data-stat="([^"]*)" data-value="([^"]*)"/g)].map((m) => `${m[1]}=${m[2]}`);

test('statisticsLabelsWereEnglishOnly', () => {
  expect(html.sv).toContain('<html lang="sv">');
  const sv = text(html.sv);
  for (const word of [
    'Inkomna',
    'Avslutade under perioden',
    'Tidsfrister hållna',
    'Missade tidsfrister',
    'Utfall',
    'Kategorier',
    'Kunder och utfall',
    'Grundorsaker och åtgärder',
    'bankdagar',
  ])
    expect(sv).toContain(word);
  // No English heading or key figure left on the Swedish page.
  for (const word of [
    'Received per week',
    'Deadlines met in time',
    'Outcome mix',
    'Missed deadlines',
    'Customers and outcomes',
    'cases received',
    'business days',
  ])
    expect(sv).not.toContain(word);
  expect(html.en).toContain('<html lang="en">');
  expect(text(html.en)).toContain('Deadlines met in time');
});

test('theFiguresAreTheSameInBothLanguages', () => {
  expect(stats(html.sv)).toEqual(stats(html.en));
  expect(stats(html.sv).length).toBeGreaterThan(20);
});

test('everyCauseAndAgeBucketHasItsSwedishWords', () => {
  for (const cause of Object.keys(BREACH_CAUSES)) expect(LABELS.sv.breachCause[cause as keyof typeof BREACH_CAUSES]).toBeTruthy();
  for (const b of AGE_BUCKETS) expect(LABELS.sv.ageBucket[b.label]).toBeTruthy();
  expect(Object.keys(LABELS.sv.breachCause).sort()).toEqual(Object.keys(LABELS.en.breachCause).sort());
});
