/**
 * SVG to PNG without a browser: resvg (@resvg/resvg-js, pinned 2.6.2, a prebuilt native
 * module). Text is drawn with the system's fonts (loadSystemFonts; DejaVu Sans by default, the
 * Debian package fonts-dejavu-core, installed by .ci/run). Drawn at twice the SVG's size, so the
 * image stays sharp on a high-density screen when the mail shows it at the SVG's size.
 *
 * The native module is loaded when a chart is first drawn, not when klagomal starts: every
 * command imports the CLI's report command, and none but the pack needs it (as pdf-lib is loaded
 * only when a form is made).
 */
import type { Resvg as ResvgClass } from '@resvg/resvg-js';

export const PNG_SCALE = 2;

export interface Png {
  readonly bytes: Buffer;
  readonly width: number;
  readonly height: number;
}

let resvg: typeof ResvgClass | null = null;

function Resvg(): typeof ResvgClass {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  resvg ??= (require('@resvg/resvg-js') as { Resvg: typeof ResvgClass }).Resvg;
  return resvg;
}

function render(svg: string, systemFonts = true): { bytes: Buffer; width: number; height: number; pixels: Buffer } {
  const R = Resvg();
  const img = new R(svg, {
    font: { loadSystemFonts: systemFonts, defaultFontFamily: 'DejaVu Sans' },
    fitTo: { mode: 'zoom', value: PNG_SCALE },
    background: '#ffffff',
  }).render();
  return { bytes: img.asPng(), width: img.width, height: img.height, pixels: img.pixels };
}

export function svgToPng(svg: string): Png {
  const { bytes, width, height } = render(svg);
  return { bytes, width, height };
}

/**
 * Can charts be drawn here, text included? resvg draws no text at all when the system has no
 * font (silently), so a word is drawn and its pixels counted. For `klagomal check` and `start`.
 * `systemFonts: false` draws as a machine without fonts would (the test of the failure).
 */
export function checkChartDrawing(opts: { systemFonts?: boolean } = {}): { ok: boolean; detail: string; fix?: string } {
  let out;
  try {
    out = render(
      '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="30"><text x="4" y="22" font-size="18" fill="#000000">Klagomål</text></svg>',
      opts.systemFonts ?? true,
    );
  } catch (err) {
    return {
      ok: false,
      detail: `the chart renderer (@resvg/resvg-js) cannot be loaded: ${(err as Error).message}`,
      fix: 'reinstall the dependencies for this machine (npm ci): @resvg/resvg-js needs its prebuilt binary for this platform (linux-x64-gnu and others)',
    };
  }
  let ink = 0;
  for (let i = 0; i < out.pixels.length; i += 4) if (out.pixels[i] < 128) ink++;
  if (ink < 20)
    return {
      ok: false,
      detail: 'the charts would have no text: no font found on this system',
      fix: "install a font for the monthly pack's charts: apt-get install fonts-dejavu-core (or any TrueType font under /usr/share/fonts)",
    };
  return { ok: true, detail: `charts drawn as PNG with resvg, text in the system's fonts (${ink} pixels of text in a test word)` };
}
