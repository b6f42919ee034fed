/**
 * SVG to PNG without a browser: resvg (@resvg/resvg-js, pinned 2.6.2, a prebuilt native
 * module). Text is drawn with the system's fonts (loadSystemFonts; DejaVu Sans by default, the
 * Debian package fonts-dejavu-core, installed by .ci/run). Drawn at twice the SVG's size, so the
 * image stays sharp on a high-density screen when the mail shows it at the SVG's size.
 */
import { Resvg } from '@resvg/resvg-js';

export const PNG_SCALE = 2;

export interface Png {
  readonly bytes: Buffer;
  readonly width: number;
  readonly height: number;
}

export function svgToPng(svg: string): Png {
  const r = new Resvg(svg, {
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
    fitTo: { mode: 'zoom', value: PNG_SCALE },
    background: '#ffffff',
  });
  const img = r.render();
  return { bytes: img.asPng(), width: img.width, height: img.height };
}
