/**
 * The HTML report for management: one page that fits one screen (1920×1080; usable from
 * 1366×768 with a little scrolling), key figures on top, three charts (volume per week by
 * category, deadline compliance per month, outcome mix), and small tables below.
 *
 * Self-contained and inert: inline CSS and inline SVG only, no script, no font, image or
 * style sheet from anywhere, and a Content-Security-Policy that forbids loading anything, so
 * the file can be mailed and opened offline. Every text is escaped (svg.ts `esc`), and no
 * customer's name or address is shown: repeat complainants are a count.
 *
 * Numbers shown carry the JSON value they come from (`data-stat`, `data-value`): the browser
 * test compares them with `klagomal report --format json`.
 */
import { AGE_BUCKETS, INADMISSIBLE, Statistics, UNCATEGORISED, UNDECIDED } from './statistics';
import { donut, esc, fmtInt, PALETTE, stackedBars } from './svg';
import { isoDate, localDateOf } from '../util/stockholm-time';
import { LABELS, ReportLanguage } from './labels';

export interface HtmlOptions {
  readonly firmName: string;
  /** The language of the page's words (default English); figures and the firm's codes are the same in both. */
  readonly lang?: ReportLanguage;
}

const OUTCOME_COLORS: Readonly<Record<string, string>> = {
  upheld: '#2e7d32',
  'partly-upheld': '#f0a500',
  rejected: '#c62828',
  withdrawn: '#6d4c41',
  [UNDECIDED]: '#bdbdbd',
  [INADMISSIBLE]: '#90a4ae',
};
const COMPLIANCE = [
  { name: 'inTime', color: '#2e7d32' },
  { name: 'late', color: '#c62828' },
  { name: 'open', color: '#9e9e9e' },
] as const;

/** Display formats; the browser test reads them back. */
export const show = {
  int: (n: number): string => fmtInt(n),
  dec: (n: number | null, unit: string): string => (n === null ? '–' : `${n.toFixed(1)}\u00a0${unit}`),
  pct: (n: number | null): string => (n === null ? '–' : `${Math.round(n)}\u00a0%`),
  sek: (n: number): string => `${fmtInt(n)}\u00a0kr`,
};

const STYLE = `
*{box-sizing:border-box}
html{font:13px/1.35 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#1d2329;background:#f4f5f7}
body{margin:0;padding:14px 20px;max-width:1900px}
header{display:flex;align-items:baseline;gap:16px;flex-wrap:wrap;margin-bottom:10px}
h1{font-size:20px;margin:0}
figure{margin:0}
h2{font-size:13px;margin:0 0 6px;text-transform:uppercase;letter-spacing:.04em;color:#4a5560}
.period{color:#4a5560}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(140px,1fr));gap:8px;margin-bottom:10px}
.kpi{background:#fff;border-radius:6px;padding:8px 10px;box-shadow:0 1px 2px rgba(0,0,0,.08)}
.kpi .label{display:block;color:#4a5560;font-size:12px}
.kpi .value{display:block;font-size:24px;font-weight:600;font-variant-numeric:tabular-nums}
.kpi .sub{display:block;color:#4a5560;font-size:12px}
.kpi.alert .value{color:#c62828}
.row{display:grid;gap:10px;margin-bottom:10px}
.charts{grid-template-columns:1.35fr 1.1fr .8fr}
.tables{grid-template-columns:repeat(5,1fr)}
.card{background:#fff;border-radius:6px;padding:10px 12px;box-shadow:0 1px 2px rgba(0,0,0,.08);min-width:0}
svg.chart{display:block;width:100%;height:auto;max-height:300px}
svg .grid{stroke:#e3e6ea;stroke-width:1}
svg .axis{stroke:#8a949e;stroke-width:1}
svg text{font-size:11px;fill:#4a5560}
svg .empty{font-size:14px}
svg .ring{fill:none;stroke:#eef0f2}
svg .total{font-size:30px;font-weight:600;fill:#1d2329}
.legend{display:flex;flex-wrap:wrap;gap:4px 12px;margin-top:6px;font-size:12px}
.legend span{max-width:100%;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.legend span::before,i.sw{content:"";display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px;background:var(--c);vertical-align:-1px}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{text-align:left;padding:2px 4px;border-bottom:1px solid #eef0f2;white-space:nowrap}
td.n,th.n{text-align:right}
td:first-child,th:first-child{max-width:0;width:100%;overflow:hidden;text-overflow:ellipsis}
.rising{color:#c62828;font-weight:600}
.falling{color:#2e7d32}
.more{color:#4a5560;font-size:12px}
footer{color:#6a7480;font-size:11px}
`;

function kpi(label: string, stat: string, value: number | null, text: string, sub = '', alert = false): string {
  return `<div class="kpi${alert ? ' alert' : ''}"><span class="label">${esc(label)}</span><span class="value" data-stat="${esc(stat)}" data-value="${value ?? ''}">${esc(text)}</span>${sub ? `<span class="sub">${sub}</span>` : ''}</div>`;
}

function stat(stat: string, value: number | null, text: string): string {
  return `<span data-stat="${esc(stat)}" data-value="${value ?? ''}">${esc(text)}</span>`;
}

function legend(items: ReadonlyArray<{ label: string; color: string }>): string {
  return `<div class="legend">${items.map((i) => `<span style="--c:${esc(i.color)}" title="${esc(i.label)}">${esc(i.label)}</span>`).join('')}</div>`;
}

/** Rows of a small table, at most `max`; the rest summed up in one line. */
function limited<T>(items: readonly T[], max: number, row: (t: T) => string, cols: number, more: (n: number) => string): string {
  const shown = items.slice(0, max).map(row).join('');
  const rest = items.length - max;
  return rest > 0 ? `${shown}<tr><td class="more" colspan="${cols}">${esc(more(rest))}</td></tr>` : shown;
}

export function renderHtml(s: Statistics, opts: HtmlOptions): string {
  const lang = opts.lang ?? 'en';
  const L = LABELS[lang];
  const OUTCOME_LABELS = L.outcome;
  const compliance = COMPLIANCE.map((c) => ({ ...c, label: L.compliance[c.name] }));
  const categories = s.byCategory.map((c) => c.category);
  const color = (c: string): string => (c === UNCATEGORISED ? '#bcbcbc' : PALETTE[categories.indexOf(c) % PALETTE.length]);
  const weekLabelEvery = Math.max(1, Math.ceil(s.charts.weeks.length / 14));
  const weekly = new Map(s.charts.weeklyByCategory.map((c) => [`${c.week}\u0000${c.category}`, c.count]));
  const weeklyChart = stackedBars({
    id: 'weekly-by-category',
    title: L.charts.weeklyTitle,
    keys: s.charts.weeks.map((w, i) => ({ key: w.week, label: i % weekLabelEvery === 0 ? w.week.slice(5) : null, tooltip: L.weekFrom(w.week, w.start) })),
    series: categories.map((c) => ({ name: c, label: c, color: color(c) })),
    value: (week, category) => weekly.get(`${week}\u0000${category}`) ?? 0,
  });
  const months = new Map(s.charts.complianceByMonth.map((m) => [m.month, m]));
  const complianceChart = stackedBars({
    id: 'compliance-by-month',
    title: L.charts.complianceTitle,
    keys: s.charts.complianceByMonth.map((m) => ({ key: m.month, label: m.month, tooltip: m.month })),
    series: compliance.map((c) => ({ name: c.name, label: c.label, color: c.color })),
    value: (month, series) => months.get(month)?.[series as 'inTime' | 'late' | 'open'] ?? 0,
    width: 460,
  });
  const outcomeChart = donut({
    id: 'outcome-mix',
    title: L.charts.outcomesTitle,
    parts: s.charts.outcomeMix.map((o) => ({
      name: o.outcome,
      label: OUTCOME_LABELS[o.outcome] ?? o.outcome,
      color: OUTCOME_COLORS[o.outcome] ?? '#7f7f7f',
      value: o.count,
    })),
  });

  // The backlog is counted at the end of the period, or now while the period runs.
  const backlogWhen = s.backlog.asOf === s.generatedAt ? L.backlogNow(isoDate(localDateOf(new Date(s.backlog.asOf)))) : L.backlogAtEnd(s.period.to);
  const t = s.timeToAcknowledgementHours;
  const f = s.timeToFinalAnswerDays;
  const o = s.deadlinesOverall;
  const breaches = s.breaches.length;
  const kpis = [
    kpi(L.kpi.received, 'received', s.received, show.int(s.received)),
    kpi(L.kpi.closed, 'closed', s.closed, show.int(s.closed)),
    kpi(L.kpi.open, 'backlog', s.backlog.total, show.int(s.backlog.total), esc(backlogWhen)),
    kpi(
      L.kpi.ackMedian,
      'ack-median',
      t.median,
      show.dec(t.median, 'h'),
      `p90 ${stat('ack-p90', t.p90, show.dec(t.p90, 'h'))} · ${stat('ack-count', t.count, show.int(t.count))} ${L.cases(t.count)}`,
    ),
    kpi(
      L.kpi.finalMedian,
      'final-median',
      f.median,
      show.dec(f.median, 'd'),
      `p90 ${stat('final-p90', f.p90, show.dec(f.p90, 'd'))} · ${stat('final-count', f.count, show.int(f.count))} ${L.cases(f.count)}`,
    ),
    kpi(
      L.kpi.inTime,
      'in-time-percent',
      o.percentInTime,
      show.pct(o.percentInTime),
      `${stat('late-count', o.late, show.int(o.late))} ${L.late} · ${stat('open-count', o.open, show.int(o.open))} ${L.stillOpen}`,
    ),
    kpi(L.kpi.missed, 'breaches', breaches, show.int(breaches), '', breaches > 0),
    kpi(
      L.kpi.delayNotices,
      'delay-notices',
      s.delayNotices,
      show.int(s.delayNotices),
      `${stat('holding-replies', s.holdingReplies, show.int(s.holdingReplies))} ${L.holdingReplies(s.holdingReplies)}`,
    ),
    kpi(
      L.kpi.compensation,
      'compensation-total',
      s.compensation.totalPaidSek,
      show.sek(s.compensation.totalPaidSek),
      `${stat('compensation-cases', s.compensation.casesPaid, show.int(s.compensation.casesPaid))} ${L.cases(s.compensation.casesPaid)}`,
    ),
    kpi(L.kpi.repeat, 'repeat-complainants', s.repeatComplainants.count, show.int(s.repeatComplainants.count), esc(L.kpi.repeatSub)),
  ].join('');

  const backlogRows = s.backlog.byAge
    .map((b) => `<tr><td>${esc(L.ageBucket[b.bucket] ?? b.bucket)}</td><td class="n">${stat(`backlog:${b.bucket}`, b.count, show.int(b.count))}</td></tr>`)
    .join('');
  const categoryRows = limited(
    s.categoryTrend,
    9,
    (c) =>
      `<tr><td title="${esc(c.category)}"><i class="sw" style="--c:${esc(color(c.category))}"></i>${esc(c.category)}</td><td class="n">${stat(`category:${c.category}`, c.count, show.int(c.count))}</td><td class="n">${show.int(c.previous)}</td><td class="n ${c.rising ? 'rising' : c.change < 0 ? 'falling' : ''}">${c.change > 0 ? '▲ +' : c.change < 0 ? '▼ ' : ''}${esc(String(c.change))}</td></tr>`,
    4,
    L.more,
  );
  const ruleRows = s.byRule
    .map(
      (r) =>
        `<tr><td>${esc(L.rule(r))}</td><td class="n">${stat(`rule:${r.regime ?? 'promise'}:${r.policy}:${r.milestone}`, r.percentInTime, show.pct(r.percentInTime))}</td><td class="n">${show.int(r.late)}</td><td class="n">${show.int(r.open)}</td></tr>`,
    )
    .join('');
  const deadlineRows = limited(
    s.deadlines,
    8,
    (d) =>
      `<tr title="${esc(d.source ?? '')}"><td>${esc(L.milestone[d.milestone] ?? d.milestone)}<br><span class="more">${esc(d.policy)}</span></td><td class="n">${stat(`deadline:${d.milestone}:${d.policy}:in-time`, d.percentInTimeOfDecided, show.pct(d.percentInTimeOfDecided))}</td><td class="n">${show.int(d.metLate + d.overdue)}</td><td class="n">${show.int(d.open)}</td></tr>`,
    4,
    L.more,
  );
  const causeRows =
    s.breachesByCause.length === 0
      ? `<tr><td colspan="2">${esc(L.none)}</td></tr>`
      : limited(
          s.breachesByCause,
          6,
          (c) => `<tr><td>${esc(L.breachCause[c.cause] ?? c.label)}</td><td class="n">${stat(`cause:${c.cause}`, c.count, show.int(c.count))}</td></tr>`,
          2,
          L.more,
        );
  const otherRows = [
    ...s.byCustomerType.map(
      (c) =>
        `<tr><td>${esc(L.customerType[c.customerType] ?? c.customerType)}</td><td class="n">${stat(`customer-type:${c.customerType}`, c.count, show.int(c.count))}</td></tr>`,
    ),
    ...s.byOutcome.map(
      (x) => `<tr><td>${esc(OUTCOME_LABELS[x.outcome] ?? x.outcome)}</td><td class="n">${stat(`outcome:${x.outcome}`, x.count, show.int(x.count))}</td></tr>`,
    ),
  ].join('');
  const typeNote =
    s.customerTypeRecorded < s.received
      ? `<p class="more">${esc(L.noTypeRecorded(show.int(s.received - s.customerTypeRecorded), show.int(s.received)))}</p>`
      : '';

  // The register of record (REGULATION.md §4 C): channels, products, reopened, ARN and court,
  // root causes with their corrective actions. Rows appear only for what was recorded.
  const countRows = (label: string, list: ReadonlyArray<{ key: string; count: number }>, id: string, names: Readonly<Record<string, string>> = {}): string =>
    list.length
      ? `<tr><th colspan="2">${esc(label)}</th></tr>${list.map((x) => `<tr><td>${esc(names[x.key] ?? x.key)}</td><td class="n">${stat(`${id}:${x.key}`, x.count, show.int(x.count))}</td></tr>`).join('')}`
      : '';
  const followRows = [
    countRows(
      L.channel,
      s.byChannel.map((x) => ({ key: x.channel, count: x.count })),
      'channel',
      L.channels,
    ),
    countRows(
      L.product,
      s.byProduct.map((x) => ({ key: x.product, count: x.count })),
      'product',
    ),
    `<tr><td>${esc(L.reopened)}</td><td class="n">${stat('reopened', s.reopened.cases, show.int(s.reopened.cases))}</td></tr>`,
    `<tr><td>${esc(L.referredArn)}</td><td class="n">${stat('arn', s.arn.referred, show.int(s.arn.referred))}</td></tr>`,
    ...s.arn.byState.map((x) => `<tr><td>&nbsp;&nbsp;ARN ${esc(x.state)}</td><td class="n">${stat(`arn:${x.state}`, x.count, show.int(x.count))}</td></tr>`),
    `<tr><td>${esc(L.takenToCourt)}</td><td class="n">${stat('court', s.court.referred, show.int(s.court.referred))}</td></tr>`,
    ...s.court.byState.map(
      (x) => `<tr><td>&nbsp;&nbsp;${esc(L.court)} ${esc(x.state)}</td><td class="n">${stat(`court:${x.state}`, x.count, show.int(x.count))}</td></tr>`,
    ),
  ].join('');
  const causeTable = s.rootCauses.length
    ? `<table><tr><th>${esc(L.cols.rootCause)}</th><th class="n">${esc(L.cols.cases)}</th><th class="n">${esc(L.cols.actionsPlanned)}</th><th class="n">${esc(L.cols.done)}</th></tr>${s.rootCauses
        .map(
          (c) =>
            `<tr><td>${esc(c.code)}</td><td class="n">${stat(`root-cause:${c.code}`, c.count, show.int(c.count))}</td><td class="n">${show.int(c.actionsPlanned)}</td><td class="n">${show.int(c.actionsDone)}</td></tr>`,
        )
        .join('')}</table>`
    : `<p class="more">${esc(L.noRootCause)}</p>`;
  const filterNote = Object.keys(s.filters).length
    ? L.only(
        Object.entries(s.filters)
          .map(([k, v]) => `${k} ${v}`)
          .join(', '),
      )
    : '';

  const title = `${L.title} ${s.period.from} – ${s.period.to}`;
  return `<!DOCTYPE html>
<html lang="${lang}">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} · ${esc(opts.firmName)}</title>
<style>${STYLE}</style>
</head>
<body>
<header><h1>${esc(title)}</h1><span class="period">${esc(L.period({ firm: opts.firmName, from: s.period.from, to: s.period.to, days: s.period.days, filter: filterNote, prevFrom: s.previousPeriod.from, prevTo: s.previousPeriod.to, generated: s.generatedAt.slice(0, 16).replace('T', ' ') }))}</span></header>
<section class="kpis">${kpis}</section>
<section class="row charts">
<figure class="card" id="weekly"><h2>${esc(L.charts.weekly)}</h2>${weeklyChart}${legend(categories.map((c) => ({ label: c, color: color(c) })))}</figure>
<figure class="card" id="compliance"><h2>${esc(L.charts.compliance)}</h2>${complianceChart}${legend(compliance)}</figure>
<figure class="card" id="outcomes"><h2>${esc(L.charts.outcomes)}</h2>${outcomeChart}${legend(s.charts.outcomeMix.map((x) => ({ label: `${OUTCOME_LABELS[x.outcome] ?? x.outcome} ${x.count}`, color: OUTCOME_COLORS[x.outcome] ?? '#7f7f7f' })))}</figure>
</section>
<section class="row tables">
<div class="card"><h2>${esc(L.openByAge(backlogWhen))}</h2><table>${backlogRows}<tr><th>${esc(L.total)}</th><th class="n">${show.int(s.backlog.total)}</th></tr></table></div>
<div class="card"><h2>${esc(L.categories)}</h2><table><tr><th>${esc(L.cols.category)}</th><th class="n">${esc(L.cols.now)}</th><th class="n">${esc(L.cols.before)}</th><th class="n">${esc(L.cols.change)}</th></tr>${categoryRows}</table></div>
<div class="card"><h2>${esc(L.deadlines)}</h2><table><tr><th>${esc(L.cols.deadline)}</th><th class="n">${esc(L.cols.inTime)}</th><th class="n">${esc(L.cols.late)}</th><th class="n">${esc(L.cols.open)}</th></tr>${deadlineRows}</table>${ruleRows ? `<h2 style="margin-top:8px">${esc(L.byRule)}</h2><table><tr><th>${esc(L.cols.rule)}</th><th class="n">${esc(L.cols.inTime)}</th><th class="n">${esc(L.cols.late)}</th><th class="n">${esc(L.cols.open)}</th></tr>${ruleRows}</table>` : ''}</div>
<div class="card"><h2>${esc(L.missedByCause)}</h2><table>${causeRows}</table><h2 style="margin-top:8px">${esc(L.customersAndOutcomes)}</h2><table>${otherRows}</table>${typeNote}</div>
<div class="card" id="follow-up"><h2>${esc(L.followUp)}</h2><table>${followRows}</table><h2 style="margin-top:8px" id="root-causes">${esc(L.rootCauses)}</h2>${causeTable}</div>
</section>
<footer>${esc(L.footer(fmtInt(s.received), AGE_BUCKETS.map((b) => L.ageBucket[b.label] ?? b.label).join(', ')))}</footer>
</body>
</html>
`;
}
