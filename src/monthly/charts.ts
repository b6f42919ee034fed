/**
 * The monthly pack's charts as SVG, written by hand for resvg (src/monthly/png.ts) to draw as
 * PNG: Outlook does not show inline SVG in mail, so the mail carries PNG images (cid:).
 *
 * Everything is in the SVG itself (no CSS classes, no HTML legend): the legend is drawn under the
 * bars, the font named explicitly (DejaVu Sans, which CI installs; resvg falls back to any
 * system sans-serif). Every label is escaped (`esc`): a category or a rule's name is data.
 * Each bar carries what it shows (`data-series`, `data-key`, `data-value`) like the HTML
 * report's charts, for tests and for a reader of the source.
 */
import { esc, fmtInt, niceScale } from '../report/svg';

export const FONT = 'DejaVu Sans, Arial, Helvetica, sans-serif';
export const BACKGROUND = '#ffffff';
const INK = '#4a5560';
const GRID = '#e3e6ea';

const num = (x: number): string => String(Math.round(x * 100) / 100);

/** A label cut to `max` characters (an ellipsis at the end), before escaping. */
function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export interface BarChartSpec {
  readonly id: string;
  readonly title: string;
  /** The x axis, one group per key (a label of null: none shown under it). */
  readonly keys: ReadonlyArray<{ key: string; label: string | null; strong?: boolean }>;
  readonly series: ReadonlyArray<{ name: string; label: string; color: string }>;
  readonly value: (key: string, series: string) => number;
  /** stacked: one bar per key, the series on top of each other; grouped: side by side. */
  readonly mode: 'stacked' | 'grouped';
  /** A fixed top of the axis (100 for percentages); else a round number above the highest bar. */
  readonly top?: number;
  readonly unit?: string;
  readonly width?: number;
  readonly height?: number;
  readonly empty: string;
}

export const CHART_WIDTH = 640;
export const CHART_HEIGHT = 300;

/** Bars (stacked or grouped) with a y grid, x labels and the legend, as one SVG document. */
export function barChart(spec: BarChartSpec): string {
  const W = spec.width ?? CHART_WIDTH;
  const H = spec.height ?? CHART_HEIGHT;
  const legendRows = Math.ceil(spec.series.length / 4);
  const m = { left: 44, right: 10, top: 30, bottom: 28 + legendRows * 18 };
  const plotW = W - m.left - m.right;
  const plotH = H - m.top - m.bottom;
  const totals = spec.keys.map((k) =>
    spec.mode === 'stacked'
      ? spec.series.reduce((n, s) => n + Math.max(0, spec.value(k.key, s.name)), 0)
      : Math.max(0, ...spec.series.map((s) => spec.value(k.key, s.name))),
  );
  const { top, step } = spec.top ? { top: spec.top, step: spec.top / 4 } : niceScale(Math.max(0, ...totals));
  const y = (v: number): number => m.top + plotH - (v / top) * plotH;
  const band = spec.keys.length ? plotW / spec.keys.length : plotW;
  const groupW = Math.max(2, Math.min(60, band * 0.72));
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" data-chart="${esc(spec.id)}" font-family="${esc(FONT)}">`,
  );
  out.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="${BACKGROUND}"/>`);
  out.push(`<text x="${m.left}" y="18" font-size="13" font-weight="bold" fill="#1d2329">${esc(cut(spec.title, 80))}</text>`);
  for (let v = 0; v <= top + 1e-9; v += step) {
    out.push(`<line x1="${m.left}" x2="${W - m.right}" y1="${num(y(v))}" y2="${num(y(v))}" stroke="${GRID}" stroke-width="1"/>`);
    const tick = Number.isInteger(v) ? fmtInt(v) : num(v);
    out.push(`<text x="${m.left - 5}" y="${num(y(v) + 4)}" font-size="11" fill="${INK}" text-anchor="end">${esc(`${tick}${spec.unit ?? ''}`)}</text>`);
  }
  spec.keys.forEach((k, i) => {
    const x0 = m.left + i * band + (band - groupW) / 2;
    let base = 0;
    spec.series.forEach((s, j) => {
      const v = Math.max(0, spec.value(k.key, s.name));
      if (v <= 0) return;
      const barW = spec.mode === 'stacked' ? groupW : groupW / spec.series.length;
      const x = spec.mode === 'stacked' ? x0 : x0 + j * barW;
      const from = spec.mode === 'stacked' ? base : 0;
      const y0 = y(from);
      const y1 = y(Math.min(top, from + v));
      out.push(
        `<rect data-series="${esc(s.name)}" data-key="${esc(k.key)}" data-value="${v}" x="${num(x)}" y="${num(y1)}" width="${num(Math.max(1, barW - (spec.mode === 'grouped' ? 1 : 0)))}" height="${num(Math.max(0, y0 - y1))}" fill="${esc(s.color)}"/>`,
      );
      base += v;
    });
    if (k.label !== null) {
      out.push(
        `<text x="${num(m.left + i * band + band / 2)}" y="${m.top + plotH + 15}" font-size="10" fill="${k.strong ? '#1d2329' : INK}"${k.strong ? ' font-weight="bold"' : ''} text-anchor="middle">${esc(cut(k.label, Math.max(4, Math.floor(band / 6))))}</text>`,
      );
    }
  });
  out.push(`<line x1="${m.left}" x2="${W - m.right}" y1="${num(y(0))}" y2="${num(y(0))}" stroke="#8a949e" stroke-width="1"/>`);
  if (totals.every((t) => t === 0))
    out.push(`<text x="${num(m.left + plotW / 2)}" y="${num(m.top + plotH / 2)}" font-size="14" fill="${INK}" text-anchor="middle">${esc(spec.empty)}</text>`);
  // The legend: four per row under the axis labels.
  const colW = (W - m.left - m.right) / 4;
  spec.series.forEach((s, i) => {
    const lx = m.left + (i % 4) * colW;
    const ly = H - legendRows * 18 + Math.floor(i / 4) * 18 + 2;
    out.push(`<rect x="${num(lx)}" y="${ly}" width="10" height="10" fill="${esc(s.color)}"/>`);
    out.push(`<text x="${num(lx + 14)}" y="${ly + 9}" font-size="11" fill="${INK}">${esc(cut(s.label, Math.floor(colW / 7)))}</text>`);
  });
  out.push('</svg>');
  return out.join('');
}

export interface HBarSpec {
  readonly id: string;
  readonly title: string;
  /** One bar per row: its label, its value (of `top`), its colour. */
  readonly rows: ReadonlyArray<{ key: string; label: string; value: number | null; color: string; note: string }>;
  readonly top: number;
  readonly unit: string;
  readonly empty: string;
  readonly width?: number;
}

/** Horizontal bars (one per rule: % met in time), the label on the left, the value at the bar's end. */
export function hbarChart(spec: HBarSpec): string {
  const W = spec.width ?? CHART_WIDTH;
  const rowH = 26;
  const H = Math.max(90, 40 + spec.rows.length * rowH + 10);
  const labelW = 250;
  const m = { left: labelW + 10, right: 60, top: 32 };
  const plotW = W - m.left - m.right;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" data-chart="${esc(spec.id)}" font-family="${esc(FONT)}">`,
  );
  out.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="${BACKGROUND}"/>`);
  out.push(`<text x="10" y="18" font-size="13" font-weight="bold" fill="#1d2329">${esc(cut(spec.title, 80))}</text>`);
  spec.rows.forEach((r, i) => {
    const yy = m.top + i * rowH;
    out.push(`<text x="10" y="${yy + 15}" font-size="11" fill="${INK}">${esc(cut(r.label, 40))}</text>`);
    out.push(`<rect x="${m.left}" y="${yy + 4}" width="${num(plotW)}" height="${rowH - 10}" fill="#f0f2f4"/>`);
    if (r.value !== null && r.value > 0) {
      const w = (Math.min(r.value, spec.top) / spec.top) * plotW;
      out.push(
        `<rect data-key="${esc(r.key)}" data-value="${r.value}" x="${m.left}" y="${yy + 4}" width="${num(w)}" height="${rowH - 10}" fill="${esc(r.color)}"/>`,
      );
    }
    out.push(`<text x="${num(m.left + plotW + 6)}" y="${yy + 15}" font-size="11" fill="#1d2329">${esc(r.note)}</text>`);
  });
  if (spec.rows.length === 0) out.push(`<text x="${W / 2}" y="${m.top + 25}" font-size="14" fill="${INK}" text-anchor="middle">${esc(spec.empty)}</text>`);
  out.push('</svg>');
  return out.join('');
}
