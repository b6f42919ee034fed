/**
 * Pure deadline rules: which policies apply, which deadline wins, the escalation levels of a
 * deadline and what a pass does at a given moment (src/deadlines/*.ts).
 */
import path from 'node:path';
import { parseConfig } from '../../src/config/load';
import type { EscalationConfig } from '../../src/config/config';
import { BusinessCalendar } from '../../src/deadlines/calendar';
import { calendarsFor, computeCaseDeadlines, policiesFor } from '../../src/deadlines/deadlines';
import { businessDaysBefore, decideEscalation, escalationLevels } from '../../src/deadlines/escalation';
import { formatStockholm } from '../../src/util/stockholm-time';

const CFG: EscalationConfig = {
  enabled: true,
  schedule: '*/5 * * * *',
  warnBusinessDays: [2, 1],
  warnHours: [4],
  managerBusinessDays: 1,
  digestTime: null,
  lateAfterMinutes: 15,
};
const CAL = new BusinessCalendar();
const at = (iso: string): Date => new Date(iso);
const local = (d: Date): string => formatStockholm(d);

function deadlines(extra: Record<string, unknown>) {
  return parseConfig(
    {
      firm: { name: 'F', complaintsAddress: 'k@f.se' },
      sources: [{ type: 'maildir', path: 'm' }],
      officers: [{ name: 'M', address: 'm@f.se', role: 'manager' }],
      deadlines: extra,
    },
    path.join('/etc', 'klagomal', 'c.json'),
  ).deadlines;
}

describe('policies and deadlines', () => {
  test('categoryPolicyNotAddedOrAddedTwice', () => {
    const cfg = deadlines({ policies: ['promise-24h-14d', 'psd2'], byCategory: { payments: ['psd2'] } });
    expect(policiesFor('payments', cfg).map((p) => p.name)).toEqual(['promise-24h-14d', 'psd2']);
    expect(policiesFor('fees', cfg).map((p) => p.name)).toEqual(['promise-24h-14d', 'psd2']);
    const narrow = deadlines({ policies: ['promise-24h-14d'] });
    expect(policiesFor(null, narrow).map((p) => p.name)).toEqual(['promise-24h-14d']);
    expect(policiesFor('payments', narrow).map((p) => p.name)).toEqual(['promise-24h-14d', 'psd2']);
  });

  test('laterDeadlineWinsWhereTheEarliestMust', () => {
    // Received Wed 2025-12-17: firm 14 calendar days = 31 Dec; PSD2 15 business days = 15 Jan.
    const cfg = deadlines({ policies: ['promise-24h-14d', 'confirmation-3bd'], byCategory: { payments: ['psd2'] } });
    const d = computeCaseDeadlines(at('2025-12-17T10:00:00+01:00'), 'payments', cfg, calendarsFor(cfg));
    expect(d.map((x) => [x.milestone, local(x.dueAt), x.policy])).toEqual([
      ['acknowledgement', '2025-12-18T10:00:00+01:00', 'promise-24h-14d'], // 24 h beats 3 business days (22 Dec)
      ['finalAnswer', '2025-12-31T23:59:59+01:00', 'promise-24h-14d'],
      ['finalAnswerMax', '2026-02-12T23:59:59+01:00', 'psd2'],
    ]);
  });

  test('firmClosureStretchesAStatutoryDeadline', () => {
    // The firm is closed 7-9 Jan 2026. Its own 3-business-day promise skips those days; PSD2's
    // 15 business days must not (a voluntary closure does not stretch a legal limit).
    const cfg = deadlines({ policies: ['confirmation-3bd', 'psd2'], extraClosedDates: ['2026-01-07', '2026-01-08', '2026-01-09'] });
    const d = computeCaseDeadlines(at('2026-01-05T10:00:00+01:00'), null, cfg, calendarsFor(cfg));
    const by = Object.fromEntries(d.map((x) => [x.milestone, local(x.dueAt)]));
    expect(by.acknowledgement).toBe('2026-01-14T23:59:59+01:00'); // Mon 5: Tue 6 is trettondedag jul; 7-9 closed; 12, 13, 14
    expect(by.finalAnswer).toBe('2026-01-27T23:59:59+01:00'); // 7, 8, 9, 12-16, 19-23, 26, 27: closures ignored
  });

  test('shortenedStatutoryPolicyNotUsed', () => {
    const cfg = deadlines({
      policies: ['promise-24h-14d'],
      byCategory: { payments: ['psd2-fast'] },
      custom: { 'psd2-fast': { preset: 'psd2', finalAnswer: { unit: 'businessDays', amount: 5 } } },
    });
    const d = computeCaseDeadlines(at('2026-03-02T10:00:00+01:00'), 'payments', cfg, calendarsFor(cfg));
    expect(d.find((x) => x.milestone === 'finalAnswer')).toMatchObject({ policy: 'psd2-fast' });
    expect(local(d.find((x) => x.milestone === 'finalAnswer')!.dueAt)).toBe('2026-03-09T23:59:59+01:00');
    // The 35-day limit of the preset stays statutory.
    expect(cfg.definitions['psd2-fast'].statutory.finalAnswerMax).toEqual({ unit: 'businessDays', amount: 35 });
  });
});

describe('escalation levels', () => {
  test('businessDaysBeforeCountsOverWeekendsAndHolidays', () => {
    expect(businessDaysBefore({ y: 2026, m: 1, d: 15 }, 2, CAL)).toEqual({ y: 2026, m: 1, d: 13 });
    // Before Wed 7 Jan 2026: Tue 6 is trettondedag jul, Mon 5 is a business day, then 2 Jan.
    expect(businessDaysBefore({ y: 2026, m: 1, d: 7 }, 1, CAL)).toEqual({ y: 2026, m: 1, d: 5 });
    expect(businessDaysBefore({ y: 2026, m: 1, d: 7 }, 2, CAL)).toEqual({ y: 2026, m: 1, d: 2 });
    // Before Mon 22 Jun 2026: Fri 19 is midsommarafton.
    expect(businessDaysBefore({ y: 2026, m: 6, d: 22 }, 1, CAL)).toEqual({ y: 2026, m: 6, d: 18 });
  });

  test('dayDeadlineLevelsAtTheWrongMoment', () => {
    const levels = escalationLevels(at('2026-01-15T23:59:59+01:00'), 'businessDays', CFG, CAL);
    expect(levels.map((l) => [l.level, local(l.at), l.to.join('+')])).toEqual([
      ['warn-2bd', '2026-01-13T00:00:00+01:00', 'contact'],
      ['warn-1bd', '2026-01-14T00:00:00+01:00', 'contact'],
      ['manager-1bd', '2026-01-14T00:00:00+01:00', 'manager'],
      ['breach', '2026-01-16T00:00:00+01:00', 'contact+manager'],
    ]);
  });

  test('hourDeadlineLevelsAtTheWrongMoment', () => {
    const levels = escalationLevels(at('2026-03-29T11:00:00+02:00'), 'hours', CFG, CAL);
    expect(levels.map((l) => [l.level, local(l.at)])).toEqual([
      ['warn-4h', '2026-03-29T07:00:00+02:00'],
      ['breach', '2026-03-29T11:00:01+02:00'],
    ]);
  });

  test('calendarDeadlineOnASundayWarnsOnTheBusinessDaysBefore', () => {
    const levels = escalationLevels(at('2026-12-06T23:59:59+01:00'), 'calendarDays', CFG, CAL);
    expect(levels.slice(0, 2).map((l) => local(l.at))).toEqual(['2026-12-03T00:00:00+01:00', '2026-12-04T00:00:00+01:00']);
  });
});

describe('what a pass does', () => {
  const levels = escalationLevels(at('2026-01-15T23:59:59+01:00'), 'businessDays', CFG, CAL);
  const none = new Set<string>();

  test.each<[string, string, Set<string>, string[], string[], boolean, string | null]>([
    ['before anything', '2026-01-12T12:00:00+01:00', none, [], [], false, '2026-01-13T00:00:00+01:00'],
    ['first warning on time', '2026-01-13T00:05:00+01:00', none, ['warn-2bd'], [], false, '2026-01-14T00:00:00+01:00'],
    ['first warning already done', '2026-01-13T09:00:00+01:00', new Set(['warn-2bd']), [], [], false, '2026-01-14T00:00:00+01:00'],
    ['two levels at one moment', '2026-01-14T00:01:00+01:00', new Set(['warn-2bd']), ['warn-1bd', 'manager-1bd'], [], false, '2026-01-16T00:00:00+01:00'],
    ['catch-up after downtime', '2026-01-14T10:00:00+01:00', none, ['warn-1bd', 'manager-1bd'], ['warn-2bd'], true, '2026-01-16T00:00:00+01:00'],
    ['down across the breach', '2026-01-18T10:00:00+01:00', none, ['breach'], ['warn-2bd', 'warn-1bd', 'manager-1bd'], true, null],
    ['all done', '2026-02-01T10:00:00+01:00', new Set(['warn-2bd', 'warn-1bd', 'manager-1bd', 'breach']), [], [], false, null],
  ])('passActsWrongly: %s', (_label, now, done, act, skip, late, next) => {
    const d = decideEscalation(levels, done, at(now), 15);
    expect(d.act.map((l) => l.level)).toEqual(act);
    expect(d.skip.map((l) => l.level)).toEqual(skip);
    expect(d.late).toBe(late);
    expect(d.next ? local(d.next) : null).toBe(next);
  });
});
