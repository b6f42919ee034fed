/**
 * Hand-written SVG charts for the HTML report: stacked bars and a donut. No chart library, no
 * script, no external resource; every text that goes into the markup is escaped.
 *
 * Each mark carries what it shows as data attributes (`data-series`, `data-key`, `data-value`),
 * so a test (or a curious reader of the source) can check a chart against the numbers: one
 * `rect.bar` per non-zero cell of a bar chart, one `path.slice` per non-zero part of a donut.
 */

/** Escape text for HTML and XML content and for attribute values (either quote). */
export function esc(text: string | number): string {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Colour-blind-safe categorical colours (Okabe-Ito, then greys). */
export const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#000000', '#7f7f7f', '#bcbcbc'];

/** Numbers with four digits or more are written in groups of three. */
export function fmtInt(n: number): string {
  return Math.round(n)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, '\u00a0');
}

const num = (x: number): string => String(Math.round(x * 100) / 100);

/** A round upper bound for an axis and its tick step. */
export function niceScale(max: number): { top: number; step: number } {
  if (max <= 0) return { top: 1, step: 1 };
  if (max <= 5) return { top: max, step: 1 };
  const raw = max / 4;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * mag).find((s) => s >= raw && Number.isInteger(s)) ?? Math.ceil(raw);
  return { top: Math.ceil(max / step) * step, step };
}

export interface StackedBarsSpec {
  /** Identifies the chart (data-chart) for tests and styles. */
  readonly id: string;
  readonly title: string;
  /** The x axis: one stack per key, with its label (null = no label at this position). */
  readonly keys: ReadonlyArray<{ key: string; label: string | null; tooltip: string }>;
  /** Stack order (bottom first) with the colour of each. */
  readonly series: ReadonlyArray<{ name: string; label: string; color: string }>;
  readonly value: (key: string, series: string) => number;
  readonly width?: number;
  readonly height?: number;
}

/** Stacked bars: one rect.bar per non-zero (key, series) cell. */
export function stackedBars(spec: StackedBarsSpec): string {
  const W = spec.width ?? 560;
  const H = spec.height ?? 250;
  const m = { left: 34, right: 8, top: 10, bottom: 26 };
  const plotW = W - m.left - m.right;
  const plotH = H - m.top - m.bottom;
  const totals = spec.keys.map((k) => spec.series.reduce((n, s) => n + spec.value(k.key, s.name), 0));
  const { top, step } = niceScale(Math.max(0, ...totals));
  const y = (v: number): number => m.top + plotH - (v / top) * plotH;
  const band = spec.keys.length ? plotW / spec.keys.length : plotW;
  const barW = Math.max(1, Math.min(48, band * 0.72));
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="${esc(spec.id)}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(spec.title)}">`,
  );
  out.push(`<title>${esc(spec.title)}</title>`);
  for (let v = 0; v <= top + 1e-9; v += step) {
    out.push(`<line class="grid" x1="${m.left}" x2="${W - m.right}" y1="${num(y(v))}" y2="${num(y(v))}"/>`);
    out.push(`<text class="tick" x="${m.left - 5}" y="${num(y(v) + 4)}" text-anchor="end">${esc(fmtInt(v))}</text>`);
  }
  spec.keys.forEach((k, i) => {
    const x = m.left + i * band + (band - barW) / 2;
    let base = 0;
    for (const s of spec.series) {
      const v = spec.value(k.key, s.name);
      if (v <= 0) continue;
      const y0 = y(base);
      const y1 = y(base + v);
      out.push(
        `<rect class="bar" data-series="${esc(s.name)}" data-key="${esc(k.key)}" data-value="${v}" x="${num(x)}" y="${num(y1)}" width="${num(barW)}" height="${num(y0 - y1)}" fill="${esc(s.color)}"><title>${esc(`${k.tooltip} · ${s.label}: ${v}`)}</title></rect>`,
      );
      base += v;
    }
    if (k.label !== null) {
      out.push(`<text class="xlabel" x="${num(m.left + i * band + band / 2)}" y="${H - 8}" text-anchor="middle">${esc(k.label)}</text>`);
    }
  });
  out.push(`<line class="axis" x1="${m.left}" x2="${W - m.right}" y1="${num(y(0))}" y2="${num(y(0))}"/>`);
  if (totals.every((t) => t === 0))
    out.push(`<text class="empty" x="${num(m.left + plotW / 2)}" y="${num(m.top + plotH / 2)}" text-anchor="middle">no data in this period</text>`);
  out.push('</svg>');
  return out.join('');
}

export interface DonutSpec {
  readonly id: string;
  readonly title: string;
  readonly parts: ReadonlyArray<{ name: string; label: string; color: string; value: number }>;
  readonly size?: number;
}

/** A donut: one path.slice per non-zero part, the total in the middle. */
export function donut(spec: DonutSpec): string {
  const S = spec.size ?? 250;
  const cx = S / 2;
  const cy = S / 2;
  const R = S / 2 - 8;
  const r = R * 0.58;
  const total = spec.parts.reduce((n, p) => n + Math.max(0, p.value), 0);
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="${esc(spec.id)}" viewBox="0 0 ${S} ${S}" role="img" aria-label="${esc(spec.title)}">`,
  );
  out.push(`<title>${esc(spec.title)}</title>`);
  out.push(`<circle class="ring" cx="${cx}" cy="${cy}" r="${num((R + r) / 2)}" stroke-width="${num(R - r)}"/>`);
  const pt = (radius: number, a: number): string => `${num(cx + radius * Math.sin(a))} ${num(cy - radius * Math.cos(a))}`;
  // An arc of a whole turn cannot be drawn by one SVG arc command: a part of 100 % is two halves.
  const arc = (a0: number, a1: number): string => {
    const large = a1 - a0 > Math.PI ? 1 : 0;
    return `M ${pt(R, a0)} A ${num(R)} ${num(R)} 0 ${large} 1 ${pt(R, a1)} L ${pt(r, a1)} A ${num(r)} ${num(r)} 0 ${large} 0 ${pt(r, a0)} Z`;
  };
  let a = 0;
  for (const p of spec.parts) {
    if (p.value <= 0) continue;
    const sweep = (p.value / total) * 2 * Math.PI;
    const d = sweep >= 2 * Math.PI - 1e-9 ? `${arc(0, Math.PI)} ${arc(Math.PI, 2 * Math.PI)}` : arc(a, a + sweep);
    const pct = Math.round((100 * p.value) / total);
    out.push(
      `<path class="slice" data-key="${esc(p.name)}" data-value="${p.value}" d="${d}" fill="${esc(p.color)}"><title>${esc(`${p.label}: ${p.value} (${pct} %)`)}</title></path>`,
    );
    a += sweep;
  }
  out.push(`<text class="total" x="${cx}" y="${cy + 2}" text-anchor="middle">${esc(fmtInt(total))}</text>`);
  out.push(`<text class="total-label" x="${cx}" y="${cy + 20}" text-anchor="middle">cases</text>`);
  out.push('</svg>');
  return out.join('');
}
