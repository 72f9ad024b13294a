// Learning-rate schedules as multipliers of the peak lr, by 0-based step: linear warmup then cosine
// decay, warmup–stable–decay (WSD), and constant (with optional warmup).
export type ScheduleName = 'cosine' | 'wsd' | 'constant';

export interface ScheduleOptions {
  name: ScheduleName;
  /** Steps in the whole run. */
  totalSteps: number;
  /** Linear warmup from ~0 to 1 over these steps (step 0 gets 1/warmup, as most trainers do). */
  warmupSteps?: number;
  /** Floor of the decay as a fraction of the peak (cosine and WSD end there). */
  minLrRatio?: number;
  /** WSD: fraction of the run spent in the final decay (default 0.2); the decay is linear. */
  decayFraction?: number;
}

/** lr multiplier in [minLrRatio, 1] for a 0-based step. */
export function lrMultiplier(step: number, o: ScheduleOptions): number {
  const warm = o.warmupSteps ?? 0, total = o.totalSteps, floor = o.minLrRatio ?? 0;
  if (!(total > 0)) throw new Error(`schedule: totalSteps must be > 0, got ${total}`);
  if (warm < 0 || warm > total) throw new Error(`schedule: warmupSteps must be in [0, totalSteps], got ${warm}`);
  if (step < warm) return (step + 1) / warm;
  switch (o.name) {
    case 'constant': return 1;
    case 'cosine': {
      const span = Math.max(1, total - warm);
      const t = Math.min(1, (step - warm) / span);
      return floor + (1 - floor) * 0.5 * (1 + Math.cos(Math.PI * t));
    }
    case 'wsd': {
      const frac = o.decayFraction ?? 0.2;
      if (!(frac >= 0 && frac <= 1)) throw new Error(`schedule: decayFraction must be in [0, 1], got ${frac}`);
      const decayStart = Math.max(warm, Math.round(total * (1 - frac)));
      if (step < decayStart) return 1;
      const t = Math.min(1, (step - decayStart + 1) / Math.max(1, total - decayStart));
      return 1 - (1 - floor) * t;
    }
    default: throw new Error(`schedule: unknown schedule ${JSON.stringify(o.name)}; allowed: cosine, wsd, constant`);
  }
}
