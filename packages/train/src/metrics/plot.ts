// Line plots rendered to PNG without dependencies: nice-number axes, grid, bitmap-font labels, a colour legend.
import { Canvas, type RGB, type Rect } from './raster';
import { GLYPH_H, textWidth } from './font';
import { encodePng } from './png';

export interface Series {
  name: string;
  points: [number, number][];
  /** Defaults to the next palette colour. */
  color?: RGB;
}

export interface PlotOptions {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  width?: number;
  height?: number;
  /** Logarithmic y axis; points with y <= 0 are left out. */
  logY?: boolean;
  /** Line thickness in pixels (default 2). */
  lineWidth?: number;
}

/** Line colours, chosen to stay distinguishable from each other and from the grey grid. */
export const PALETTE: RGB[] = [[31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189], [140, 86, 75]];

const BLACK: RGB = [0, 0, 0];
const GRID: RGB = [225, 225, 225];

export interface Axis {
  /** Axis bounds in plot space (log10 of the value on a log axis). */
  lo: number;
  hi: number;
  /** Tick positions in plot space and their labels. */
  ticks: { at: number; label: string }[];
  log: boolean;
}

/** 1, 2 or 5 times a power of ten, near `x`. */
function niceStep(x: number): number {
  const e = Math.floor(Math.log10(x));
  const f = x / 10 ** e;
  return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * 10 ** e;
}

/** `v` with no more digits than its tick spacing needs: 2000, 0.25, 3e-4, 1.5e5. */
export function formatTick(v: number, step: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e-3 && a < 1e5 && step >= 1e-3) {
    const decimals = Math.max(0, Math.ceil(-Math.log10(step) - 1e-9));
    return v.toFixed(decimals);
  }
  const [m, e] = v.toExponential(3).split('e');
  return `${m.replace(/\.?0+$/, '')}e${Number(e)}`;
}

/** Evenly spaced ticks at nice numbers, with axis bounds widened to the outer ticks. */
export function linearAxis(min: number, max: number, target = 6): Axis {
  if (min === max) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1;
    min -= pad;
    max += pad;
  }
  const step = niceStep((max - min) / Math.max(1, target - 1));
  const lo = Math.floor(min / step + 1e-9) * step;
  const hi = Math.ceil(max / step - 1e-9) * step;
  const ticks: Axis['ticks'] = [];
  for (let i = 0; lo + i * step <= hi + step * 1e-6; i++) {
    const v = Number((lo + i * step).toPrecision(12)); // drop float noise such as 0.30000000000000004
    ticks.push({ at: v, label: formatTick(v, step) });
  }
  return { lo, hi, ticks, log: false };
}

/** Ticks at decades when the data spans one or more, else at nice numbers placed on the log scale. */
export function logAxis(min: number, max: number, target = 6): Axis {
  let lo = Math.log10(min);
  let hi = Math.log10(max);
  if (hi - lo >= 1) {
    lo = Math.floor(lo + 1e-9);
    hi = Math.ceil(hi - 1e-9);
    const every = Math.ceil((hi - lo) / (target + 2));
    const ticks: Axis['ticks'] = [];
    for (let d = lo; d <= hi; d += every) ticks.push({ at: d, label: formatTick(10 ** d, 10 ** d) });
    return { lo, hi, ticks, log: true };
  }
  const lin = linearAxis(min, max, target);
  const ticks = lin.ticks.filter((t) => t.at > 0).map((t) => ({ at: Math.log10(t.at), label: t.label }));
  if (lin.lo > 0) lo = Math.log10(lin.lo);
  hi = Math.log10(lin.hi);
  if (lo === hi) { lo -= 0.5; hi += 0.5; }
  return { lo, hi, ticks, log: true };
}

export interface RenderedPlot {
  canvas: Canvas;
  /** The data area inside the axes, in pixels (inclusive). */
  area: Rect;
  x: Axis;
  y: Axis;
  /** Where each legend entry's colour swatch was drawn. */
  legend: { name: string; color: RGB; box: Rect }[];
}

/** Draws the plot and returns the canvas with its geometry (tests use it to check where the curves landed). */
export function renderPlot(series: Series[], opts: PlotOptions = {}): RenderedPlot {
  const width = opts.width ?? 640;
  const height = opts.height ?? 400;
  const logY = opts.logY ?? false;
  const colored = series.map((s, i) => ({
    ...s,
    color: s.color ?? PALETTE[i % PALETTE.length],
    points: s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!logY || y > 0)),
  }));
  const all = colored.flatMap((s) => s.points);
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);
  const [xMin, xMax] = xs.length ? [Math.min(...xs), Math.max(...xs)] : [0, 1];
  const [yMin, yMax] = ys.length ? [Math.min(...ys), Math.max(...ys)] : logY ? [1, 10] : [0, 1];
  const yAxis = logY ? logAxis(yMin, yMax, Math.max(3, Math.floor(height / 70))) : linearAxis(yMin, yMax, Math.max(3, Math.floor(height / 70)));

  // Margins follow from what is drawn in them: title on top, y labels left, x labels below, legend right.
  const pad = 8;
  const top = opts.title ? pad + GLYPH_H * 2 + pad : pad + 4;
  const yLabelW = Math.max(0, ...yAxis.ticks.map((t) => textWidth(t.label)));
  const left = pad + (opts.yLabel ? GLYPH_H + pad : 0) + yLabelW + 8;
  const bottom = 8 + GLYPH_H + (opts.xLabel ? pad + GLYPH_H : 0) + pad;
  const legendW = colored.length ? 12 + 20 + 6 + Math.max(...colored.map((s) => textWidth(s.name))) + pad : pad;
  const area: Rect = { x0: left, y0: top, x1: width - legendW - 1, y1: height - bottom - 1 };
  if (area.x1 - area.x0 < 20 || area.y1 - area.y0 < 20) throw new Error(`plotLines: ${width}x${height} is too small for the labels`);
  const xAxis = linearAxis(xMin, xMax, Math.max(3, Math.floor((area.x1 - area.x0) / 90)));

  const px = (x: number) => area.x0 + ((x - xAxis.lo) / (xAxis.hi - xAxis.lo)) * (area.x1 - area.x0);
  const py = (y: number) => area.y1 - (((logY ? Math.log10(y) : y) - yAxis.lo) / (yAxis.hi - yAxis.lo)) * (area.y1 - area.y0);
  const pyAxis = (at: number) => area.y1 - ((at - yAxis.lo) / (yAxis.hi - yAxis.lo)) * (area.y1 - area.y0);

  const c = new Canvas(width, height);
  for (const t of xAxis.ticks) {
    const x = Math.round(px(t.at));
    c.fillRect(x, area.y0, x, area.y1, GRID);
    c.fillRect(x, area.y1, x, area.y1 + 4, BLACK);
    c.text(t.label, Math.round(x - textWidth(t.label) / 2), area.y1 + 8, BLACK);
  }
  for (const t of yAxis.ticks) {
    const y = Math.round(pyAxis(t.at));
    c.fillRect(area.x0, y, area.x1, y, GRID);
    c.fillRect(area.x0 - 4, y, area.x0, y, BLACK);
    c.text(t.label, area.x0 - 8 - textWidth(t.label), y - (GLYPH_H >> 1), BLACK);
  }
  c.fillRect(area.x0, area.y0, area.x1, area.y0, BLACK);
  c.fillRect(area.x0, area.y1, area.x1, area.y1, BLACK);
  c.fillRect(area.x0, area.y0, area.x0, area.y1, BLACK);
  c.fillRect(area.x1, area.y0, area.x1, area.y1, BLACK);
  if (opts.title) c.text(opts.title, Math.round((area.x0 + area.x1 - textWidth(opts.title, 2)) / 2), pad, BLACK, 2);
  if (opts.xLabel) c.text(opts.xLabel, Math.round((area.x0 + area.x1 - textWidth(opts.xLabel)) / 2), height - pad - GLYPH_H, BLACK);
  if (opts.yLabel) c.text(opts.yLabel, pad, Math.round((area.y0 + area.y1 + textWidth(opts.yLabel)) / 2), BLACK, 1, true);

  // Curves stay inside the frame so they never paint over tick labels.
  const inner: Rect = { x0: area.x0 + 1, y0: area.y0 + 1, x1: area.x1 - 1, y1: area.y1 - 1 };
  const lw = opts.lineWidth ?? 2;
  for (const s of colored) {
    const pts = s.points.map(([x, y]) => [px(x), py(y)] as const);
    if (pts.length === 1) c.line(pts[0][0], pts[0][1], pts[0][0], pts[0][1], s.color, lw + 2, inner);
    for (let i = 1; i < pts.length; i++) c.line(pts[i - 1][0], pts[i - 1][1], pts[i][0], pts[i][1], s.color, lw, inner);
  }

  const legend: RenderedPlot['legend'] = [];
  const lx = area.x1 + 12;
  colored.forEach((s, i) => {
    const y = area.y0 + 4 + i * (GLYPH_H + 8);
    const box: Rect = { x0: lx, y0: y + 2, x1: lx + 19, y1: y + 4 };
    c.fillRect(box.x0, box.y0, box.x1, box.y1, s.color);
    c.text(s.name, lx + 26, y, BLACK);
    legend.push({ name: s.name, color: s.color, box });
  });
  return { canvas: c, area, x: xAxis, y: yAxis, legend };
}

/** Renders `series` as a line chart and returns the PNG file contents. */
export function plotLines(series: Series[], opts: PlotOptions = {}): Buffer {
  const { canvas } = renderPlot(series, opts);
  return encodePng(canvas.width, canvas.height, canvas.pixels);
}
