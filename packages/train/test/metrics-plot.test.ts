// PNG plots: the file decodes (CRCs, size), curves land where the data says, axes use nice ticks, savePlots.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { MetricsWriter, PALETTE, linearAxis, logAxis, formatTick, plotLines, renderPlot, savePlots, type RenderedPlot } from '../src/metrics';
import { decodePng, pixelsOf, type DecodedPng } from './metrics-png-decoder';

const BLUE = PALETTE[0];
const ORANGE = PALETTE[1];

function distToSegment(px: number, py: number, ax: number, ay: number, bx: number, by: number): number {
  const dx = bx - ax, dy = by - ay;
  const t = Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)));
  return Math.hypot(px - ax - t * dx, py - ay - t * dy);
}

/** Data point -> pixel from the plot's area and axis bounds only. */
function toPixel(p: RenderedPlot, x: number, y: number): [number, number] {
  const fy = p.y.log ? Math.log10(y) : y;
  return [
    p.area.x0 + ((x - p.x.lo) / (p.x.hi - p.x.lo)) * (p.area.x1 - p.area.x0),
    p.area.y1 - ((fy - p.y.lo) / (p.y.hi - p.y.lo)) * (p.area.y1 - p.area.y0),
  ];
}

const inArea = (p: RenderedPlot, [x, y]: [number, number]) => x >= p.area.x0 && x <= p.area.x1 && y >= p.area.y0 && y <= p.area.y1;

/** Every pixel of `color` inside the plot area lies on the polyline, and the polyline is covered end to end. */
function expectCurve(img: DecodedPng, p: RenderedPlot, color: readonly number[], pts: [number, number][]) {
  const px = pts.map(([x, y]) => toPixel(p, x, y));
  const colored = pixelsOf(img, color).filter((q) => inArea(p, q));
  expect(colored.length).toBeGreaterThan(50);
  for (const [x, y] of colored) {
    const d = Math.min(...px.slice(1).map((b, i) => distToSegment(x, y, px[i][0], px[i][1], b[0], b[1])));
    expect(d).toBeLessThanOrEqual(1.5);
  }
  for (let i = 1; i < px.length; i++) {
    for (let k = 0; k <= 20; k++) {
      const sx = px[i - 1][0] + ((px[i][0] - px[i - 1][0]) * k) / 20;
      const sy = px[i - 1][1] + ((px[i][1] - px[i - 1][1]) * k) / 20;
      expect(colored.some(([x, y]) => Math.hypot(x - sx, y - sy) <= 2)).toBe(true);
    }
  }
  return colored;
}

function quadrants(p: RenderedPlot, pix: [number, number][], margin = 6) {
  const mx = (p.area.x0 + p.area.x1) / 2, my = (p.area.y0 + p.area.y1) / 2;
  const q = { upperLeft: 0, upperRight: 0, lowerLeft: 0, lowerRight: 0 };
  for (const [x, y] of pix) {
    if (Math.abs(x - mx) < margin || Math.abs(y - my) < margin) continue;
    if (y < my) { if (x < mx) q.upperLeft++; else q.upperRight++; } else if (x < mx) q.lowerLeft++; else q.lowerRight++;
  }
  return q;
}

test('a rising line: valid PNG of the requested size, coloured pixels lower-left and upper-right only', () => {
  const series = [{ name: 'up', points: [[0, 0], [5, 5], [10, 10]] as [number, number][] }];
  const opts = { title: 'Rising', xLabel: 'step', yLabel: 'loss', width: 400, height: 300 };
  const png = plotLines(series, opts);
  const img = decodePng(png);
  expect([img.width, img.height]).toEqual([400, 300]);
  expect(img.chunks).toEqual(['IHDR', 'IDAT', 'IEND']);
  const r = renderPlot(series, opts);
  expect(Buffer.from(img.rgb).equals(Buffer.from(r.canvas.pixels))).toBe(true);
  const blue = expectCurve(img, r, BLUE, series[0].points);
  const q = quadrants(r, blue);
  expect(q.lowerLeft).toBeGreaterThan(20);
  expect(q.upperRight).toBeGreaterThan(20);
  expect(q.upperLeft).toBe(0);
  expect(q.lowerRight).toBe(0);
  // Outside the plot area the curve colour appears only in the legend swatch.
  const outside = pixelsOf(img, BLUE).filter((pt) => !inArea(r, pt));
  const box = r.legend[0].box;
  expect(outside.length).toBe((box.x1 - box.x0 + 1) * (box.y1 - box.y0 + 1));
  expect(outside.every(([x, y]) => x >= box.x0 && x <= box.x1 && y >= box.y0 && y <= box.y1)).toBe(true);
  // Title, tick labels and axis labels put dark text pixels above, below and left of the plot area.
  const black = pixelsOf(img, [0, 0, 0]);
  expect(black.some(([, y]) => y < r.area.y0 - 2)).toBe(true);
  expect(black.some(([, y]) => y > r.area.y1 + 6)).toBe(true);
  expect(black.some(([x]) => x < r.area.x0 - 6)).toBe(true);
});

test('two series, the second on a log axis: each colour follows its own data, legend has both colours', () => {
  const up: [number, number][] = [[0, 0.01], [10, 100]];
  const down: [number, number][] = Array.from({ length: 11 }, (_, i) => [i, 10 ** (2 - (4 * i) / 10)] as [number, number]);
  const series = [{ name: 'up', points: up }, { name: 'down', points: down }];
  const opts = { width: 500, height: 320, logY: true, title: 'log' };
  const img = decodePng(plotLines(series, opts));
  const r = renderPlot(series, opts);
  expect(r.y.ticks.map((t) => t.label)).toEqual(['0.01', '0.1', '1', '10', '100']);
  const q = quadrants(r, expectCurve(img, r, ORANGE, down));
  expect(q.upperLeft).toBeGreaterThan(20);
  expect(q.lowerRight).toBeGreaterThan(20);
  expect(q.lowerLeft + q.upperRight).toBe(0);
  expectCurve(img, r, BLUE, up);
  expect(r.legend.map((l) => l.name)).toEqual(['up', 'down']);
  for (const l of r.legend) {
    const inBox = pixelsOf(img, l.color).filter(([x, y]) => x >= l.box.x0 && x <= l.box.x1 && y >= l.box.y0 && y <= l.box.y1);
    expect(inBox.length).toBe((l.box.x1 - l.box.x0 + 1) * (l.box.y1 - l.box.y0 + 1));
  }
});

test('nice ticks and compact labels', () => {
  const labels = (a: ReturnType<typeof linearAxis>) => a.ticks.map((t) => t.label);
  expect(labels(linearAxis(0, 2000, 5))).toEqual(['0', '500', '1000', '1500', '2000']);
  expect(labels(linearAxis(3e-5, 3e-4, 5))).toEqual(['0', '5e-5', '1e-4', '1.5e-4', '2e-4', '2.5e-4', '3e-4']);
  expect(labels(linearAxis(2.1, 2.9, 5))).toEqual(['2.0', '2.2', '2.4', '2.6', '2.8', '3.0']);
  const flat = linearAxis(5, 5);
  expect(flat.lo).toBeLessThan(5);
  expect(flat.hi).toBeGreaterThan(5);
  const a = linearAxis(-3.7, 12.2, 6);
  expect(a.lo).toBeLessThanOrEqual(-3.7);
  expect(a.hi).toBeGreaterThanOrEqual(12.2);
  const steps = a.ticks.slice(1).map((t, i) => t.at - a.ticks[i].at);
  expect(new Set(steps.map((s) => s.toPrecision(6))).size).toBe(1);
  expect([1, 2, 5]).toContain(Number((steps[0] / 10 ** Math.floor(Math.log10(steps[0]))).toPrecision(6)));
  const short = logAxis(2, 9);
  expect(short.ticks.map((t) => t.label)).toEqual(['2', '3', '4', '5', '6', '7', '8', '9']);
  expect(short.ticks[0].at).toBeCloseTo(Math.log10(2), 12);
  expect(formatTick(150000, 50000)).toBe('1.5e5');
  expect(formatTick(-0.25, 0.05)).toBe('-0.25');
});

test('non-finite and (on a log axis) non-positive points are left out; an empty plot still renders', () => {
  const img = decodePng(plotLines([{ name: 'nan', points: [[0, 1], [1, NaN], [2, 3], [3, 0]] }], { logY: true, width: 300, height: 200 }));
  expect([img.width, img.height]).toEqual([300, 200]);
  expect(decodePng(plotLines([], { width: 200, height: 150 })).width).toBe(200);
  expect(() => plotLines([{ name: 'x', points: [[0, 1]] }], { width: 40, height: 30 })).toThrow(/too small/);
});

describe('savePlots', () => {
  let dir: string;
  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stellar-plots-')); });
  afterEach(() => { fs.rmSync(dir, { recursive: true, force: true }); });

  test('loss.png with train and eval curves, lr.png with the schedule', () => {
    const w = new MetricsWriter(path.join(dir, 'metrics.jsonl'));
    for (let step = 1; step <= 200; step++) {
      w.log(step, { loss: 2 + 8 * Math.exp(-step / 40), lr: 3e-4 * Math.min(1, step / 20) }, step);
      if (step % 20 === 0) w.log(step, { eval_loss: 2.3 + 8 * Math.exp(-step / 40) }, step);
    }
    w.close();
    const written = savePlots(dir);
    expect(written.map((p) => path.basename(p))).toEqual(['loss.png', 'lr.png']);
    const loss = decodePng(fs.readFileSync(path.join(dir, 'loss.png')));
    const lr = decodePng(fs.readFileSync(path.join(dir, 'lr.png')));
    expect(pixelsOf(loss, BLUE).length).toBeGreaterThan(100);
    expect(pixelsOf(loss, ORANGE).length).toBeGreaterThan(100);
    expect(pixelsOf(lr, BLUE).length).toBeGreaterThan(100);
    expect(pixelsOf(lr, ORANGE)).toHaveLength(0);
  });

  test('without eval or lr only the train loss is plotted', () => {
    const w = new MetricsWriter(path.join(dir, 'metrics.jsonl'));
    for (let step = 1; step <= 50; step++) w.log(step, { 'train/loss': 5 - step / 20 }, step);
    w.close();
    const out = path.join(dir, 'plots');
    expect(savePlots(out, path.join(dir, 'metrics.jsonl')).map((p) => path.relative(dir, p))).toEqual([path.join('plots', 'loss.png')]);
    const img = decodePng(fs.readFileSync(path.join(out, 'loss.png')));
    expect(pixelsOf(img, BLUE).length).toBeGreaterThan(100);
    expect(pixelsOf(img, ORANGE)).toHaveLength(0);
  });
});

// Optional cross-check with Pillow, when some Python has it.
function findPython(): string | null {
  const candidates = [process.env.STELLAR_PYTHON, path.join(__dirname, '..', '..', '..', '.venv-ref', 'bin', 'python'), 'python3'];
  for (const py of candidates) {
    if (py && spawnSync(py, ['-c', 'import PIL.Image'], { encoding: 'utf8' }).status === 0) return py;
  }
  return null;
}
const python = findPython();
(python ? test : test.skip)(python ? 'Pillow decodes the PNG to the same pixels'
  : 'SKIPPED: no Python with Pillow (set STELLAR_PYTHON) — Pillow decodes the PNG to the same pixels', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stellar-pil-'));
  try {
    const file = path.join(dir, 'p.png');
    const png = plotLines([{ name: 'a', points: [[0, 1], [3, 2], [6, 0]] }, { name: 'b', points: [[0, 0], [6, 2]] }], { title: 'PIL', width: 320, height: 200 });
    fs.writeFileSync(file, png);
    const code = 'import sys, hashlib, PIL.Image as I; im = I.open(sys.argv[1]); im.load(); '
      + 'print(im.size[0], im.size[1], im.mode, hashlib.sha256(im.convert("RGB").tobytes()).hexdigest())';
    const r = spawnSync(python!, ['-c', code, file], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr);
    const img = decodePng(png);
    const sha = crypto.createHash('sha256').update(img.rgb).digest('hex');
    expect(r.stdout.trim()).toBe(`320 200 RGB ${sha}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
