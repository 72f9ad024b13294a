// End-of-run plots: loss.png (train, and eval when logged) and lr.png from a run's metrics.jsonl.
import fs from 'node:fs';
import path from 'node:path';
import { readMetrics, type MetricsRecord } from './jsonl';
import { plotLines, type Series } from './plot';

// Accepted metric names, first match wins, so runs logged with slash-style TensorBoard tags plot too.
const TRAIN_LOSS = ['loss', 'train/loss', 'train_loss'];
const EVAL_LOSS = ['eval_loss', 'eval/loss', 'val_loss'];
const LR = ['lr', 'train/lr', 'learning_rate'];

function column(records: MetricsRecord[], names: string[]): [number, number][] {
  const key = names.find((n) => records.some((r) => typeof r[n] === 'number'));
  if (!key) return [];
  return records.filter((r) => typeof r[key] === 'number').map((r) => [r.step, r[key]] as [number, number]);
}

/** Writes loss.png and lr.png into `runDir` (each only when its metric was logged); returns the paths written. */
export function savePlots(runDir: string, metricsJsonlPath = path.join(runDir, 'metrics.jsonl')): string[] {
  const records = readMetrics(metricsJsonlPath);
  const written: string[] = [];
  const loss: Series[] = [
    { name: 'train', points: column(records, TRAIN_LOSS) },
    { name: 'eval', points: column(records, EVAL_LOSS) },
  ].filter((s) => s.points.length > 0);
  fs.mkdirSync(runDir, { recursive: true });
  if (loss.length) {
    const p = path.join(runDir, 'loss.png');
    fs.writeFileSync(p, plotLines(loss, { title: 'Loss', xLabel: 'step', yLabel: 'loss' }));
    written.push(p);
  }
  const lr = column(records, LR);
  if (lr.length) {
    const p = path.join(runDir, 'lr.png');
    fs.writeFileSync(p, plotLines([{ name: 'lr', points: lr }], { title: 'Learning rate', xLabel: 'step', yLabel: 'lr' }));
    written.push(p);
  }
  return written;
}
