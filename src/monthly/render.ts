/**
 * The monthly pack as a mail: HTML made for mail clients (tables and inline styles, which
 * Outlook's Word engine and Gmail keep; no <style> block, no SVG, no script), its charts as PNG
 * images referenced as `cid:` (RFC 2392), a plain-text part with the key figures, and the month's
 * register as CSV (src/report/csv.ts, the same file as `klagomal report --format csv`).
 *
 * Every text from the data (categories, products, rule names, case numbers, corrective actions
 * written by officers, ARN references) is escaped (`esc`); no customer's name or address is in
 * the HTML (repeat complainants are counts), only in the attached register.
 *
 * Each number shown carries where it comes from: `data-stat` is its path in the month's
 * `klagomal report --format json` statistics (a JSON list: a name, or {field: value} picking an
 * element of a list), `data-month` the month of that report (the pack's month, or one of the
 * twelve before), `data-avg` a path averaged over the twelve months before; `data-value` the
 * number, `data-format` how it is written. The test reads them back and checks each against the
 * report.
 */
import { esc, fmtInt, PALETTE } from '../report/svg';
import { LABELS, ReportLanguage } from '../report/labels';
import { registerCsv } from '../report/csv';
import { UNCATEGORISED } from '../report/statistics';
import type { Statistics } from '../report/statistics';
import { barChart, CHART_WIDTH, hbarChart } from './charts';
import { PNG_SCALE, svgToPng } from './png';
import { PACK_WORDS } from './words';
import type { MonthlyPack } from './pack';

export type PathStep = string | Readonly<Record<string, string>>;
export type Fmt = 'int' | 'pct' | 'dec1' | 'sek';

export const FORMAT: Readonly<Record<Fmt, (n: number | null) => string>> = {
  int: (n) => (n === null ? '–' : fmtInt(n)),
  pct: (n) => (n === null ? '–' : `${Math.round(n)}\u00a0%`),
  dec1: (n) => (n === null ? '–' : n.toFixed(1)),
  sek: (n) => (n === null ? '–' : `${fmtInt(n)}\u00a0kr`),
};

/** The value at `path` in a statistics object (undefined when a list has no such element). */
export function statAt(s: Statistics, path: readonly PathStep[]): unknown {
  let cur: unknown = s;
  for (const step of path) {
    if (cur === undefined || cur === null) return undefined;
    if (typeof step === 'string') cur = (cur as Record<string, unknown>)[step];
    else cur = (cur as Array<Record<string, unknown>>).find((el) => Object.entries(step).every(([k, v]) => el[k] === v));
  }
  return cur;
}

/** The mean of a number over statistics (a missing element counts 0), one decimal. */
export function averageAt(list: readonly Statistics[], path: readonly PathStep[]): number {
  if (list.length === 0) return 0;
  const sum = list.reduce((n, s) => n + (Number(statAt(s, path) ?? 0) || 0), 0);
  return Math.round((sum / list.length) * 10) / 10;
}

export interface PackImage {
  readonly id: string;
  readonly cid: string;
  readonly filename: string;
  readonly title: string;
  readonly svg: string;
  readonly png: Buffer;
  /** The size the HTML shows it at (the PNG is PNG_SCALE times larger). */
  readonly width: number;
  readonly height: number;
}

export interface RenderedPack {
  readonly subject: string;
  readonly html: string;
  readonly text: string;
  readonly images: readonly PackImage[];
  readonly csv: { readonly filename: string; readonly content: Buffer };
}

const TD = 'padding:3px 6px;border-bottom:1px solid #eef0f2;font-size:13px;';
const TH = `${TD}text-align:left;color:#4a5560;font-weight:600;`;
const NUM = 'text-align:right;white-space:nowrap;';
const H2 = 'font-size:15px;margin:22px 0 6px 0;color:#1d2329;';

function table(head: readonly string[], rows: readonly (readonly string[])[], numFrom = 1): string {
  const th = head.map((h, i) => `<th style="${TH}${i >= numFrom ? NUM : ''}">${esc(h)}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((c, i) => `<td style="${TD}${i >= numFrom ? NUM : ''}">${c}</td>`).join('')}</tr>`).join('');
  return `<table role="presentation" cellpadding="0" cellspacing="0" border="0" width="100%" style="border-collapse:collapse;">${head.length ? `<tr>${th}</tr>` : ''}${body}</table>`;
}

const CATEGORY_LIMIT = 6;

/** Render the pack's mail. `generatedAt`: the instant written in the footer. */
export function renderPack(pack: MonthlyPack, opts: { firmName: string; lang: ReportLanguage; generatedAt: Date }): RenderedPack {
  const W = PACK_WORDS[opts.lang];
  const L = LABELS[opts.lang];
  const s = pack.statistics;
  const month = pack.month;
  const before = pack.history.slice(0, -1).map((h) => h.statistics);

  const stat = (path: readonly PathStep[], fmt: Fmt, m: string = month): string => {
    const source = m === month ? s : pack.history.find((h) => h.month === m)?.statistics;
    const raw = source ? statAt(source, path) : undefined;
    const value = typeof raw === 'number' ? raw : raw === null ? null : 0;
    return `<span data-stat="${esc(JSON.stringify(path))}" data-month="${esc(m)}" data-value="${value ?? ''}" data-format="${fmt}">${esc(FORMAT[fmt](value))}</span>`;
  };
  const avg = (path: readonly PathStep[]): string => {
    const value = averageAt(before, path);
    return `<span data-avg="${esc(JSON.stringify(path))}" data-value="${value}" data-format="dec1">${esc(FORMAT.dec1(value))}</span>`;
  };

  // ---- charts ----
  const images: PackImage[] = [];
  const image = (id: string, title: string, svg: string): string => {
    const png = svgToPng(svg);
    const cid = `${id}.${month}@klagomal`;
    images.push({ id, cid, filename: `${id}-${month}.png`, title, svg, png: png.bytes, width: png.width / PNG_SCALE, height: png.height / PNG_SCALE });
    return `<img src="cid:${esc(cid)}" width="${png.width / PNG_SCALE}" height="${png.height / PNG_SCALE}" alt="${esc(title)}" style="display:block;border:0;max-width:100%;height:auto;">`;
  };
  // The categories of the thirteen months, the most frequent first; beyond six: "other".
  const totals = new Map<string, number>();
  for (const h of pack.history) for (const c of h.statistics.byCategory) totals.set(c.category, (totals.get(c.category) ?? 0) + c.count);
  const ranked = [...totals.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([c]) => c);
  const shownCats = ranked.slice(0, CATEGORY_LIMIT);
  const OTHER = '\u0000other';
  const catColor = (c: string, i: number): string => (c === UNCATEGORISED ? '#bcbcbc' : PALETTE[i % PALETTE.length]);
  const catSeries = [
    ...shownCats.map((c, i) => ({ name: c, label: c, color: catColor(c, i) })),
    ...(ranked.length > CATEGORY_LIMIT ? [{ name: OTHER, label: W.charts.other, color: '#7f7f7f' }] : []),
  ];
  const historyOf = new Map(pack.history.map((h) => [h.month as string, h.statistics]));
  const countIn = (st: Statistics | undefined, cat: string): number =>
    !st
      ? 0
      : cat === OTHER
        ? st.byCategory.filter((c) => !shownCats.includes(c.category)).reduce((n, c) => n + c.count, 0)
        : (st.byCategory.find((c) => c.category === cat)?.count ?? 0);
  const receivedChart = image(
    'received-by-month',
    W.charts.receivedByMonth,
    barChart({
      id: 'received-by-month',
      title: W.charts.receivedByMonth,
      keys: pack.history.map((h) => ({ key: h.month, label: h.month.slice(2), strong: h.month === month })),
      series: catSeries,
      value: (m, c) => countIn(historyOf.get(m), c),
      mode: 'stacked',
      empty: W.charts.empty,
    }),
  );
  const monthCats = [...new Set([...s.byCategory.map((c) => c.category), ...ranked])].slice(0, 8);
  const categoryChart = image(
    'category-vs-average',
    W.charts.categoryVsAverage,
    barChart({
      id: 'category-vs-average',
      title: W.charts.categoryVsAverage,
      keys: monthCats.map((c) => ({ key: c, label: c })),
      series: [
        { name: 'month', label: W.monthName(month), color: PALETTE[0] },
        { name: 'average', label: W.avgBefore, color: '#bcbcbc' },
      ],
      value: (c, series) => (series === 'month' ? countIn(s, c) : averageAt(before, ['byCategory', { category: c }, 'count'])),
      mode: 'grouped',
      empty: W.charts.empty,
    }),
  );
  const COMPLIANCE = [
    { name: 'inTime', label: L.compliance.inTime, color: '#2e7d32' },
    { name: 'late', label: L.compliance.late, color: '#c62828' },
    { name: 'open', label: L.compliance.open, color: '#9e9e9e' },
  ];
  const inTimeChart = image(
    'in-time-by-month',
    W.charts.inTimeByMonth,
    barChart({
      id: 'in-time-by-month',
      title: W.charts.inTimeByMonth,
      keys: pack.history.map((h) => ({ key: h.month, label: h.month.slice(2), strong: h.month === month })),
      series: COMPLIANCE,
      value: (m, k) => historyOf.get(m)?.deadlinesOverall[k as 'inTime' | 'late' | 'open'] ?? 0,
      mode: 'stacked',
      empty: W.charts.empty,
    }),
  );
  const rulesSvg = hbarChart({
    id: 'rules',
    title: W.charts.rules,
    rows: s.byRule.map((r) => ({
      key: `${r.regime ?? 'promise'}:${r.policy}:${r.milestone}`,
      label: L.rule(r),
      value: r.percentInTime,
      color: r.percentInTime !== null && r.percentInTime < 100 ? '#c62828' : '#2e7d32',
      note: FORMAT.pct(r.percentInTime).replace('\u00a0', ' '),
    })),
    top: 100,
    unit: '%',
    empty: W.charts.empty,
  });
  const rulesChart = image('rules', W.charts.rules, rulesSvg);

  // ---- tables ----
  const kv = (label: string, cells: readonly string[]): string[] => [esc(label), ...cells];
  const keyRows = [
    kv(W.received, [stat(['received'], 'int'), avg(['received'])]),
    kv(W.closed, [stat(['closed'], 'int'), avg(['closed'])]),
    kv(W.openAtEnd, [stat(['backlog', 'total'], 'int'), avg(['backlog', 'total'])]),
    kv(W.ackMedian, [stat(['timeToAcknowledgementHours', 'median'], 'dec1'), '']),
    kv(W.finalMedian, [stat(['timeToFinalAnswerDays', 'median'], 'dec1'), '']),
    kv(W.inTime, [stat(['deadlinesOverall', 'percentInTime'], 'pct'), '']),
    kv(W.breaches, [stat(['breaches', 'length'], 'int'), avg(['breaches', 'length'])]),
    kv(W.compensationPaid, [stat(['compensation', 'totalPaidSek'], 'sek'), '']),
    kv(W.compensationCases, [stat(['compensation', 'casesPaid'], 'int'), avg(['compensation', 'casesPaid'])]),
    kv(W.compensationAsked, [stat(['compensation', 'casesAsked'], 'int'), avg(['compensation', 'casesAsked'])]),
    kv(W.reopened, [stat(['reopened', 'cases'], 'int'), avg(['reopened', 'cases'])]),
  ];
  const countTable = (list: ReadonlyArray<{ key: string; label: string }>, field: string, listName: string): string =>
    list.length === 0
      ? `<p style="font-size:13px;color:#4a5560;">${esc(W.noneRecorded)}</p>`
      : table(
          [W.cols.what, W.thisMonth, W.avgBefore],
          list.map((x) => kv(x.label, [stat([listName, { [field]: x.key }, 'count'], 'int'), avg([listName, { [field]: x.key }, 'count'])])),
        );
  const categoryTable = countTable(
    s.byCategory.map((c) => ({ key: c.category, label: c.category })),
    'category',
    'byCategory',
  );
  const productTable = countTable(
    s.byProduct.map((p) => ({ key: p.product, label: p.product })),
    'product',
    'byProduct',
  );
  const channelTable = countTable(
    s.byChannel.map((c) => ({ key: c.channel, label: L.channels[c.channel] ?? c.channel })),
    'channel',
    'byChannel',
  );
  const outcomeTable = countTable(
    s.byOutcome.map((o) => ({ key: o.outcome, label: L.outcome[o.outcome] ?? o.outcome })),
    'outcome',
    'byOutcome',
  );
  const timesTable = table(
    [W.cols.what, W.cols.median, W.cols.p90, W.cols.count],
    [
      kv(W.timeToAck, [
        stat(['timeToAcknowledgementHours', 'median'], 'dec1'),
        stat(['timeToAcknowledgementHours', 'p90'], 'dec1'),
        stat(['timeToAcknowledgementHours', 'count'], 'int'),
      ]),
      kv(W.timeToFinal, [
        stat(['timeToFinalAnswerDays', 'median'], 'dec1'),
        stat(['timeToFinalAnswerDays', 'p90'], 'dec1'),
        stat(['timeToFinalAnswerDays', 'count'], 'int'),
      ]),
    ],
  );
  const rulesTable = s.byRule.length
    ? table(
        [W.cols.what, W.cols.counted, W.cols.inTime, W.cols.late, W.cols.open, '%'],
        s.byRule.map((r) => {
          const at = (f: string): readonly PathStep[] => ['byRule', { label: r.label }, f];
          return kv(L.rule(r), [
            stat(at('counted'), 'int'),
            stat(at('inTime'), 'int'),
            stat(at('late'), 'int'),
            stat(at('open'), 'int'),
            stat(at('percentInTime'), 'pct'),
          ]);
        }),
      )
    : '';
  const deadlineTable = table(
    [W.cols.milestone, W.cols.counted, W.cols.inTime, W.cols.metLate, W.cols.overdue, W.cols.open, '%'],
    s.deadlines.map((d) => {
      const at = (f: string): readonly PathStep[] => ['deadlines', { milestone: d.milestone, policy: d.policy }, f];
      return [
        `${esc(L.milestone[d.milestone] ?? d.milestone)} <span style="color:#6a7480;">${esc(d.policy)}</span>`,
        stat(at('total'), 'int'),
        stat(at('inTime'), 'int'),
        stat(at('metLate'), 'int'),
        stat(at('overdue'), 'int'),
        stat(at('open'), 'int'),
        stat(at('percentInTimeOfDecided'), 'pct'),
      ];
    }),
  );
  const causeTable = s.breachesByCause.length
    ? table(
        [W.cols.cause, W.cols.count],
        s.breachesByCause.map((c) => [esc(L.breachCause[c.cause] ?? c.label), stat(['breachesByCause', { cause: c.cause }, 'count'], 'int')]),
      )
    : `<p style="font-size:13px;color:#4a5560;">${esc(W.noneRecorded)}</p>`;
  const BREACHES_SHOWN = 20;
  const breachList = s.breaches.length
    ? table(
        [W.cols.caseNumber, W.cols.milestone, W.cols.due, W.cols.met, W.cols.cause],
        [
          ...s.breaches
            .slice(0, BREACHES_SHOWN)
            .map((b) => [
              esc(b.caseNumber),
              `${esc(L.milestone[b.milestone] ?? b.milestone)} <span style="color:#6a7480;">${esc(b.policy ?? '')}</span>`,
              esc(b.dueAt.slice(0, 16).replace('T', ' ')),
              esc(b.metAt ? b.metAt.slice(0, 16).replace('T', ' ') : '–'),
              esc(L.breachCause[b.cause] ?? b.cause),
            ]),
          ...(s.breaches.length > BREACHES_SHOWN ? [[esc(W.moreBreaches(s.breaches.length - BREACHES_SHOWN)), '', '', '', '']] : []),
        ],
        9,
      )
    : '';
  // Root causes with their corrective actions (the EU guidelines' internal follow-up): the counts
  // from the statistics, the actions' own words from the register, escaped.
  const actionsOf = new Map<string, string[]>();
  for (const r of pack.register) {
    for (const c of r.rootCauses) {
      const list = actionsOf.get(c.code) ?? [];
      for (const a of r.actions)
        list.push(`${esc(r.caseNumber)}: ${esc(a.text)} (${esc(a.state === 'done' ? W.cols.done.toLowerCase() : W.cols.planned.toLowerCase())})`);
      actionsOf.set(c.code, list);
    }
  }
  const rootTable = s.rootCauses.length
    ? table(
        [W.cols.cause, W.cols.count, W.cols.planned, W.cols.done, W.cols.actions],
        s.rootCauses.map((c) => [
          esc(c.code),
          stat(['rootCauses', { code: c.code }, 'count'], 'int'),
          stat(['rootCauses', { code: c.code }, 'actionsPlanned'], 'int'),
          stat(['rootCauses', { code: c.code }, 'actionsDone'], 'int'),
          `<span style="white-space:normal;text-align:left;">${(actionsOf.get(c.code) ?? []).slice(0, 5).join('<br>')}</span>`,
        ]),
      )
    : `<p style="font-size:13px;color:#4a5560;">${esc(W.noneRecorded)}</p>`;
  const arnCases = pack.register.filter((r) => r.arn.length > 0);
  const arnTable = s.arn.referred
    ? table(
        [W.cols.what, W.cols.count],
        [
          kv(W.arnReferred, [stat(['arn', 'referred'], 'int')]),
          ...s.arn.byState.map((x) => kv(`ARN: ${W.arnState[x.state] ?? x.state}`, [stat(['arn', 'byState', { state: x.state }, 'count'], 'int')])),
        ],
      ) +
      table(
        [W.cols.caseNumber, W.cols.reference, W.cols.state],
        arnCases.map((r) => {
          const last = r.arn[r.arn.length - 1];
          return [esc(r.caseNumber), esc(last.reference), `${esc(W.arnState[last.state] ?? last.state)} ${esc(last.on)}`];
        }),
        9,
      )
    : `<p style="font-size:13px;color:#4a5560;">${esc(W.noneRecorded)}</p>`;
  const repeat = s.repeatComplainants;
  const repeatText = W.repeat(
    stat(['repeatComplainants', 'count'], 'int'),
    stat(['repeatComplainants', 'withSeveralInPeriod'], 'int'),
    stat(['repeatComplainants', 'casesInPeriod'], 'int'),
  );
  const draftTable = pack.drafts.length
    ? table(
        [W.cols.caseNumber, W.cols.author, W.cols.drafted, W.cols.decided, W.cols.waited],
        pack.drafts.map((d) => [
          esc(d.caseNumber),
          esc(d.author),
          esc(d.draftedAt.slice(0, 16).replace('T', ' ')),
          esc(d.decidedAt ? `${W.draftState[d.state] ?? d.state} ${d.decidedAt.slice(0, 16).replace('T', ' ')}` : W.stillWaiting),
          `<span data-draft="${esc(d.caseNumber)}" data-value="${d.waitedHours}">${esc(FORMAT.dec1(d.waitedHours))}</span>`,
        ]),
        4,
      )
    : `<p style="font-size:13px;color:#4a5560;">${esc(W.noneRecorded)}</p>`;

  const csvName = `klagomal-register-${month}.csv`;
  const title = W.title(month);
  const first = pack.history[0].statistics.period.from;
  const prevTo = pack.history[pack.history.length - 2]?.statistics.period.to ?? s.period.from;
  const html = `<!DOCTYPE html>
<html lang="${opts.lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} · ${esc(opts.firmName)}</title>
</head>
<body style="margin:0;padding:0;background:#f4f5f7;">
<table role="presentation" cellpadding="0" cellspacing="0" border="0" width="100%" style="background:#f4f5f7;"><tr><td align="center" style="padding:16px 8px;">
<table role="presentation" cellpadding="0" cellspacing="0" border="0" width="${CHART_WIDTH + 40}" style="background:#ffffff;font-family:Arial,Helvetica,sans-serif;color:#1d2329;"><tr><td style="padding:20px;">
<h1 style="font-size:20px;margin:0 0 6px 0;">${esc(title)}</h1>
<p style="font-size:13px;color:#4a5560;margin:0 0 12px 0;">${esc(W.intro(opts.firmName, s.period.from, s.period.to, first, prevTo))}</p>
<h2 style="${H2}">${esc(W.keyFigures)}</h2>
${table([W.cols.what, W.thisMonth, W.avgBefore], keyRows)}
<h2 style="${H2}">${esc(W.sections.received)}</h2>
${receivedChart}
<h2 style="${H2}">${esc(W.sections.byCategory)}</h2>
${categoryChart}
${categoryTable}
<h2 style="${H2}">${esc(W.sections.byProduct)}</h2>
${productTable}
<h2 style="${H2}">${esc(W.sections.byChannel)}</h2>
${channelTable}
<h2 style="${H2}">${esc(W.sections.outcomes)}</h2>
${outcomeTable}
<h2 style="${H2}">${esc(W.sections.times)}</h2>
${timesTable}
${inTimeChart}
${rulesChart}
${rulesTable}
${deadlineTable}
<h2 style="${H2}">${esc(W.sections.breaches)}</h2>
${causeTable}
${breachList}
<h2 style="${H2}">${esc(W.sections.rootCauses)}</h2>
${rootTable}
<h2 style="${H2}">${esc(W.sections.repeat)}</h2>
<p style="font-size:13px;">${repeatText}</p>
<h2 style="${H2}">${esc(W.sections.arn)}</h2>
${arnTable}
<h2 style="${H2}">${esc(W.sections.drafts)}</h2>
${draftTable}
<p style="font-size:12px;color:#4a5560;margin-top:20px;">${esc(W.attached(csvName))}</p>
<p style="font-size:11px;color:#6a7480;">${esc(W.footer(opts.generatedAt.toISOString().slice(0, 16).replace('T', ' ')))}</p>
</td></tr></table>
</td></tr></table>
</body>
</html>
`;
  const nb = (t: string): string => t.replace(/\u00a0/g, ' ');
  const text = [
    title,
    W.intro(opts.firmName, s.period.from, s.period.to, first, prevTo),
    '',
    `${W.received}: ${s.received}`,
    `${W.closed}: ${s.closed}`,
    `${W.openAtEnd}: ${s.backlog.total}`,
    `${W.ackMedian}: ${nb(FORMAT.dec1(s.timeToAcknowledgementHours.median))}`,
    `${W.finalMedian}: ${nb(FORMAT.dec1(s.timeToFinalAnswerDays.median))}`,
    `${W.inTime}: ${nb(FORMAT.pct(s.deadlinesOverall.percentInTime))}`,
    `${W.breaches}: ${s.breaches.length}`,
    `${W.compensationPaid}: ${nb(FORMAT.sek(s.compensation.totalPaidSek))}`,
    `${W.sections.repeat}: ${repeat.count}`,
    `${W.arnReferred}: ${s.arn.referred}`,
    '',
    W.attached(csvName),
  ].join('\n');
  return {
    subject: W.subject(opts.firmName, month),
    html,
    text,
    images,
    csv: { filename: csvName, content: Buffer.from(registerCsv(pack.register), 'utf8') },
  };
}
