// A small RGB canvas: filled rectangles, anti-aliased thick lines with clipping, bitmap text.
import { GLYPH_W, glyph } from './font';

export type RGB = readonly [number, number, number];

export interface Rect { x0: number; y0: number; x1: number; y1: number }

export class Canvas {
  readonly pixels: Uint8Array; // row-major RGB

  constructor(readonly width: number, readonly height: number, background: RGB = [255, 255, 255]) {
    this.pixels = new Uint8Array(width * height * 3);
    for (let i = 0; i < width * height; i++) this.pixels.set(background, i * 3);
  }

  /** Mixes `c` into pixel (x, y) with weight `a` in [0, 1]; pixels outside `clip` (or the canvas) are untouched. */
  blend(x: number, y: number, c: RGB, a: number, clip?: Rect): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height || a <= 0) return;
    if (clip && (x < clip.x0 || x > clip.x1 || y < clip.y0 || y > clip.y1)) return;
    const o = (y * this.width + x) * 3;
    const p = this.pixels;
    if (a >= 1) { p[o] = c[0]; p[o + 1] = c[1]; p[o + 2] = c[2]; return; }
    p[o] = Math.round(p[o] + (c[0] - p[o]) * a);
    p[o + 1] = Math.round(p[o + 1] + (c[1] - p[o + 1]) * a);
    p[o + 2] = Math.round(p[o + 2] + (c[2] - p[o + 2]) * a);
  }

  fillRect(x0: number, y0: number, x1: number, y1: number, c: RGB): void {
    for (let y = Math.max(0, y0); y <= Math.min(this.height - 1, y1); y++) {
      for (let x = Math.max(0, x0); x <= Math.min(this.width - 1, x1); x++) this.blend(x, y, c, 1);
    }
  }

  /**
   * A segment `width` pixels thick: each pixel's coverage falls off with its distance from the segment,
   * which anti-aliases without a separate pass. Pixel (x, y) is the unit square centred on (x, y).
   */
  line(ax: number, ay: number, bx: number, by: number, c: RGB, width = 1, clip?: Rect): void {
    const r = width / 2;
    const dx = bx - ax;
    const dy = by - ay;
    const len2 = dx * dx + dy * dy;
    let xMin = Math.floor(Math.min(ax, bx) - r - 1);
    let xMax = Math.ceil(Math.max(ax, bx) + r + 1);
    let yMin = Math.floor(Math.min(ay, by) - r - 1);
    let yMax = Math.ceil(Math.max(ay, by) + r + 1);
    const box = clip ?? { x0: 0, y0: 0, x1: this.width - 1, y1: this.height - 1 };
    xMin = Math.max(xMin, box.x0); yMin = Math.max(yMin, box.y0);
    xMax = Math.min(xMax, box.x1); yMax = Math.min(yMax, box.y1);
    for (let y = yMin; y <= yMax; y++) {
      for (let x = xMin; x <= xMax; x++) {
        const t = len2 === 0 ? 0 : Math.max(0, Math.min(1, ((x - ax) * dx + (y - ay) * dy) / len2));
        const ex = x - (ax + t * dx);
        const ey = y - (ay + t * dy);
        const d = Math.sqrt(ex * ex + ey * ey);
        const cover = Math.min(1, r + 0.5 - d);
        if (cover > 0) this.blend(x, y, c, cover, clip);
      }
    }
  }

  /** Draws `text` with its top-left corner at (x, y); `vertical` reads bottom-to-top with (x, y) the bottom-left. */
  text(text: string, x: number, y: number, c: RGB, scale = 1, vertical = false): void {
    let pen = 0;
    for (const ch of text) {
      const rows = glyph(ch);
      for (let gy = 0; gy < rows.length; gy++) {
        for (let gx = 0; gx < GLYPH_W; gx++) {
          if (!rows[gy][gx]) continue;
          for (let sy = 0; sy < scale; sy++) {
            for (let sx = 0; sx < scale; sx++) {
              const u = pen + gx * scale + sx; // along the text
              const v = gy * scale + sy; // across it, top to bottom
              if (vertical) this.blend(x + v, y - u, c, 1);
              else this.blend(x + u, y + v, c, 1);
            }
          }
        }
      }
      pen += (GLYPH_W + 1) * scale;
    }
  }
}
