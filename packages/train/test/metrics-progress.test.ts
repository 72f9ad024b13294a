// ProgressBar: exact line format, EMA-smoothed tokens/s and ETA, TTY redraw vs log-line modes, closed streams.
import { Writable } from 'node:stream';
import { ProgressBar, formatCount, formatDuration, type ProgressStream } from '../src/metrics';

function capture(extra: Partial<ProgressStream> = {}) {
  const chunks: string[] = [];
  return { chunks, stream: { write: (s: string) => { chunks.push(s); return true; }, ...extra } };
}
function clock() {
  const c = { t: 0, now: () => c.t };
  return c;
}

test('formatting helpers', () => {
  expect(formatDuration(62)).toBe('1:02');
  expect(formatDuration(16 * 60 + 20)).toBe('16:20');
  expect(formatDuration(3723)).toBe('1:02:03');
  expect(formatDuration(0)).toBe('0:00');
  expect(formatDuration(NaN)).toBe('?');
  expect(formatCount(5.5)).toBe('5.5');
  expect(formatCount(950)).toBe('950');
  expect(formatCount(1234)).toBe('1.23k');
  expect(formatCount(12345)).toBe('12.3k');
  expect(formatCount(4567890)).toBe('4.57M');
});

test('log mode: one plain line per crossed step interval, in the documented format', () => {
  const { chunks, stream } = capture();
  const c = clock();
  const bar = new ProgressBar({ total: 100, stream, tty: false, intervalSteps: 10, intervalSecs: 3600, now: c.now });
  for (let step = 1; step <= 100; step++) {
    c.t = step * 100; // 10 steps/s, 1000 tokens per step
    bar.update(step, { loss: 3.2144, lr: 3e-4, tokens: 1000 });
  }
  expect(chunks).toHaveLength(11); // the first update, then steps 10, 20, ..., 100
  expect(chunks.every((l) => l.endsWith('\n') && !l.includes('\r'))).toBe(true);
  expect(chunks[1]).toBe('step 10/100 [==>                 ] 10% | loss 3.214 | lr 3.0e-4 | 10.0k tok/s | elapsed 0:01 | ETA 0:09\n');
  expect(chunks[10]).toBe('step 100/100 [====================] 100% | loss 3.214 | lr 3.0e-4 | 10.0k tok/s | elapsed 0:10 | ETA 0:00\n');
  bar.finish();
  bar.finish(); // idempotent
  expect(chunks).toHaveLength(12);
  expect(chunks[11]).toBe(chunks[10]);
});

test('log mode: time interval', () => {
  const { chunks, stream } = capture();
  const c = clock();
  const bar = new ProgressBar({ total: 1000, stream, tty: false, intervalSecs: 30, now: c.now });
  for (let step = 1; step <= 100; step++) {
    c.t = step * 1000;
    bar.update(step, { loss: 1 });
  }
  expect(chunks.map((l) => l.split(' ')[1])).toEqual(['1/1000', '31/1000', '61/1000', '91/1000']);
});

test('tokens/s and ETA follow an EMA of the recent rate', () => {
  const c = clock();
  const alpha = 0.1;
  const bar = new ProgressBar({ total: 100, stream: capture().stream, tty: false, emaAlpha: alpha, now: c.now });
  for (let step = 1; step <= 20; step++) { c.t = step * 100; bar.update(step, { tokens: 1000 }); }
  expect(bar.render()).toContain('| 10.0k tok/s |');
  // The run slows to half speed: 200 ms per step.
  for (let step = 21; step <= 30; step++) { c.t = 2000 + (step - 20) * 200; bar.update(step, { tokens: 1000 }); }
  const tokPerSec = 5000 + 5000 * (1 - alpha) ** 10;
  const stepsPerSec = 5 + 5 * (1 - alpha) ** 10;
  expect(bar.render()).toContain(`| ${formatCount(tokPerSec)} tok/s |`);
  expect(formatCount(tokPerSec)).toBe('6.74k');
  expect(bar.render()).toContain(`| ETA ${formatDuration(70 / stepsPerSec)}`);
  expect(bar.render()).toMatch(/elapsed 0:04 \| ETA 0:10$/);
});

test('updates in the same clock tick count toward the next interval', () => {
  const c = clock();
  const bar = new ProgressBar({ total: 100, stream: capture().stream, tty: false, now: c.now });
  c.t = 1000;
  bar.update(1, { tokens: 500 });
  bar.update(2, { tokens: 500 }); // same millisecond: no rate sample yet
  expect(bar.render()).toContain('| 500 tok/s |');
  c.t = 2000;
  bar.update(3, { tokens: 500 });
  expect(bar.render()).toContain(`| ${formatCount(500 + 0.1 * (1000 - 500))} tok/s |`);
});

test('a resumed run measures its rate from its own start step', () => {
  const c = clock();
  const bar = new ProgressBar({ total: 100, stream: capture().stream, tty: false, startStep: 50, now: c.now });
  c.t = 1000;
  bar.update(60, { loss: 2, grad_norm: 0.5, tiny: 2e-5 });
  expect(bar.render()).toBe('step 60/100 [============>       ] 60% | loss 2.000 | grad_norm 0.500 | tiny 2.0e-5 | elapsed 0:01 | ETA 0:04');
});

test('terminal mode: throttled redraws of one line, log() above it, newline only at finish()', () => {
  const { chunks, stream } = capture({ isTTY: true, columns: 200 });
  const c = clock();
  const bar = new ProgressBar({ total: 50, stream, redrawMs: 100, now: c.now });
  for (let step = 1; step <= 50; step++) { c.t = step * 10; bar.update(step, { loss: 1.5 }); }
  expect(chunks).toHaveLength(5); // t = 10, 110, 210, 310, 410 ms
  expect(chunks.every((s) => s.startsWith('\r\x1b[2Kstep ') && !s.includes('\n'))).toBe(true);
  bar.log('eval loss 1.234');
  expect(chunks[5]).toBe('\r\x1b[2Keval loss 1.234\n');
  expect(chunks[6]).toMatch(/^step 50\/50 /); // the bar comes back under the message
  bar.finish();
  expect(chunks[7]).toMatch(/^\r\x1b\[2Kstep 50\/50 \[=+\] 100% \| loss 1\.500 \| elapsed 0:00 \| ETA 0:00\n$/);
});

test('terminal mode: a line wider than the terminal is cut so \\r can clear it', () => {
  const { chunks, stream } = capture({ isTTY: true, columns: 40 });
  const bar = new ProgressBar({ total: 10, stream, now: () => 0 });
  bar.update(1, { loss: 2, lr: 1e-3 });
  expect(chunks[0]).toBe('\r\x1b[2K' + bar.render().slice(0, 39));
  expect(bar.render().length).toBe(39);
});

test('never throws when the stream is gone', async () => {
  const throwing = { write: () => { throw new Error('EPIPE'); } };
  const a = new ProgressBar({ total: 10, stream: throwing, tty: true });
  expect(() => { a.update(1, { loss: 1 }); a.log('x'); a.finish(); }).not.toThrow();

  let writes = 0;
  const destroyed = new Writable({ write(_c, _e, cb) { writes++; cb(); } });
  destroyed.destroy();
  const b = new ProgressBar({ total: 10, stream: destroyed, tty: false });
  b.update(1);
  b.finish();
  expect(writes).toBe(0);

  // A pipe closed by the reader: the write fails asynchronously with an 'error' event.
  const broken = new Writable({ write(_c, _e, cb) { writes++; cb(new Error('EPIPE')); } });
  const d = new ProgressBar({ total: 10, stream: broken, tty: false, intervalSteps: 1 });
  d.update(1);
  await new Promise((r) => setImmediate(r));
  d.update(2);
  d.finish();
  expect(writes).toBe(1);
});

test('finish() stops listening for stream errors, so many bars do not pile up listeners', async () => {
  const s = new Writable({ write(_c, _e, cb) { cb(); } });
  for (let i = 0; i < 20; i++) {
    const bar = new ProgressBar({ total: 1, stream: s, tty: false });
    bar.update(1);
    bar.finish();
    await new Promise((r) => setImmediate(r));
  }
  expect(s.listenerCount('error')).toBe(0);
});

test('rejects a non-positive total', () => {
  expect(() => new ProgressBar({ total: 0 })).toThrow(/total/);
});

test('a bar made after the first step started rates that step from when the work started (no absurd first rate)', () => {
  const { chunks, stream } = capture();
  const c = clock();
  c.t = 500;   // the first step took 0.5 s; the logger creates the bar only when it reports
  const bar = new ProgressBar({ total: 10, stream, tty: false, intervalSteps: 1, intervalSecs: 3600, now: c.now, startedAt: 0 });
  bar.update(1, { tokens: 1000 });
  expect(chunks[0]).toBe('step 1/10 [==>                 ] 10% | 2.00k tok/s | elapsed 0:00 | ETA 0:04\n');
});
