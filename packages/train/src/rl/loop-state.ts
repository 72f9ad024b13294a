// The resumable state of an RL loop (PPO, GRPO): trainable weights and optimizer buffers as named
// tensors, plus the JSON-safe rest (iteration, seed, prompt cursor, KL controller, optimizer meta,
// the models' dropout generators).
// Checkpoint files are the app stage's business; this is what it saves and gives back.
import { Generator, type Tensor } from '@stellar/tensor';
import type { Module } from '@stellar/nn';
import type { Optimizer } from '../optim/optimizer';

export interface RlLoopState {
  /** `model.<prefix><param>` (the live parameters, not copies) and `optim.<buffer>`. */
  tensors: Map<string, Tensor>;
  meta: Record<string, unknown>;
}

/** Trainable modules with the name prefix their parameters (and optimizer buffers) carry. */
export type NamedModules = readonly (readonly [string, Module])[];

/** Generators the modules draw forward randomness from (dropout, router noise), in a stable order. */
function generatorsOf(modules: NamedModules): Generator[] {
  const out: Generator[] = [];
  for (const [, m] of modules) for (const [, sub] of m.namedModules()) {
    const g = (sub as unknown as { generator?: unknown }).generator;
    if (g instanceof Generator && !out.includes(g)) out.push(g);
  }
  return out;
}

export function captureState(modules: NamedModules, optimizer: Optimizer, meta: Record<string, unknown>): RlLoopState {
  const tensors = new Map<string, Tensor>();
  for (const [prefix, m] of modules) for (const [n, t] of m.stateDict()) tensors.set(`model.${prefix}${n}`, t);
  const os = optimizer.state();
  for (const [n, t] of os.tensors) tensors.set(`optim.${n}`, t);
  return { tensors, meta: { ...meta, optimizer: os.meta, generators: generatorsOf(modules).map((g) => g.getState()) } };
}

/** Copies weights and optimizer buffers back (names and shapes must match); returns the meta. */
export function applyState(s: RlLoopState, modules: NamedModules, optimizer: Optimizer): Record<string, unknown> {
  for (const [prefix, m] of modules) {
    const sd = new Map<string, Tensor>();
    for (const [k, t] of s.tensors) if (k.startsWith(`model.${prefix}`)) sd.set(k.slice(`model.${prefix}`.length), t);
    m.loadStateDict(sd);
  }
  const opt = new Map<string, Tensor>();
  for (const [k, t] of s.tensors) if (k.startsWith('optim.')) opt.set(k.slice(6), t);
  optimizer.loadState({ tensors: opt, meta: s.meta.optimizer as Record<string, unknown> });
  const gs = (s.meta.generators ?? []) as ReturnType<Generator['getState']>[];
  generatorsOf(modules).forEach((g, i) => { if (gs[i]) g.setState(gs[i]); });
  return s.meta;
}
