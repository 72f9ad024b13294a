// applyLora: injects LoRA adapters into the Linear layers a pattern selects, freezes everything else,
// and returns the handle that lists, merges, unmerges and removes them.
import { Generator } from '@stellar/tensor';
import { Module, Parameter } from '../module';
import { Linear } from '../layers/linear';
import { LoraAdapter } from './layer';
import { resolveLoraOptions, loraScaling, matchesTarget, type LoraOptions, type ResolvedLoraOptions } from './config';

/**
 * The Linear layers of `model` selected by `targets`, by dotted path, in module order. Throws when a
 * selected module is not a Linear, when nothing matches, or when a layer already has an adapter.
 */
export function findLoraTargets(model: Module, targets: string[] | RegExp): Map<string, Linear> {
  const out = new Map<string, Linear>();
  for (const [path, m] of model.namedModules()) {
    if (!path || !matchesTarget(path, targets)) continue;
    if (!(m instanceof Linear)) throw new Error(`LoRA: target module ${path} is a ${m.constructor.name}; only Linear layers are supported`);
    if (m.adapter) throw new Error(`LoRA: ${path} already has an adapter (call removeLora() first)`);
    out.set(path, m);
  }
  if (out.size === 0) {
    const shown = targets instanceof RegExp ? String(targets) : JSON.stringify(targets);
    throw new Error(`LoRA: target modules ${shown} match no module of the model`);
  }
  return out;
}

export class LoraModel<M extends Module = Module> {
  /** Dotted module path -> its adapter, in module order. */
  readonly adapters: ReadonlyMap<string, LoraAdapter>;
  readonly scaling: number;
  private _merged = false;
  private _removed = false;
  // requiresGrad of every base parameter before injection, restored by removeLora()
  private readonly frozen: Map<Parameter, boolean>;

  constructor(readonly model: M, readonly options: ResolvedLoraOptions, adapters: Map<string, LoraAdapter>, frozen: Map<Parameter, boolean>) {
    this.adapters = adapters;
    this.scaling = loraScaling(options);
    this.frozen = frozen;
  }

  get merged(): boolean { return this._merged; }

  /** Adapter parameters with their model names (`<path>.lora_A.weight`, `<path>.lora_B.weight`). */
  namedLoraParameters(): [string, Parameter][] {
    this.assertLive();
    const out: [string, Parameter][] = [];
    for (const [path, a] of this.adapters) out.push([`${path}.lora_A.weight`, a.loraA.weight], [`${path}.lora_B.weight`, a.loraB.weight]);
    return out;
  }

  /** What an optimizer should update: only the adapters. */
  loraParameters(): Parameter[] { return this.namedLoraParameters().map(([, p]) => p); }

  /** Elements of every parameter of the model that requires grad (after applyLora: the adapters). */
  numTrainableParameters(): number {
    let n = 0;
    for (const p of this.model.parameters()) if (p.requiresGrad) n += p.data.size;
    return n;
  }

  /** W += (alpha / r) B A in every targeted layer; the adapters are then bypassed (no extra matmuls). */
  merge(): void {
    this.assertLive();
    if (this._merged) throw new Error('LoRA: already merged');
    for (const a of this.adapters.values()) a.merge();
    this._merged = true;
  }

  /** Subtracts what merge() added, giving back the base weights (up to float rounding). */
  unmerge(): void {
    this.assertLive();
    if (!this._merged) throw new Error('LoRA: not merged');
    for (const a of this.adapters.values()) a.unmerge();
    this._merged = false;
  }

  /**
   * Detaches and frees the adapters and restores each base parameter's requiresGrad. Merged weights
   * stay merged (PEFT's merge_and_unload); call unmerge() first to get the untouched base back.
   */
  removeLora(): M {
    this.assertLive();
    for (const a of this.adapters.values()) { a.base.setAdapter(null); a.dispose(); }
    for (const [p, flag] of this.frozen) p.requiresGrad_(flag);
    this._removed = true;
    return this.model;
  }

  private assertLive(): void {
    if (this._removed) throw new Error('LoRA: the adapters were removed');
  }
}

/** The generator a model draws its forward randomness from (and gradient checkpointing replays), if any. */
function forwardGenerator(model: Module): Generator | null {
  for (const [, m] of model.namedModules()) {
    const g = (m as unknown as { generator?: unknown }).generator;
    if (g instanceof Generator) return g;
  }
  return null;
}

/**
 * Adds a LoRA adapter to every Linear selected by `targetModules` and freezes every other parameter
 * (requiresGrad false: no gradient is computed or stored for them). A matrices are drawn from `seed`
 * in module order; B starts at zero, so the model's output is unchanged until training.
 */
export function applyLora<M extends Module>(model: M, opts: LoraOptions): LoraModel<M> {
  const o = resolveLoraOptions(opts);
  const targets = findLoraTargets(model, o.targetModules);
  const frozen = new Map<Parameter, boolean>();
  for (const p of model.parameters()) frozen.set(p, p.requiresGrad);
  const initGenerator = new Generator(o.seed);
  const dropoutGenerator = opts.dropoutGenerator ?? forwardGenerator(model) ?? new Generator(o.seed + 1);
  const scaling = loraScaling(o);
  const adapters = new Map<string, LoraAdapter>();
  for (const [path, lin] of targets) adapters.set(path, new LoraAdapter(lin, { r: o.r, scaling, dropout: o.dropout, initGenerator, dropoutGenerator }));
  for (const p of frozen.keys()) p.requiresGrad_(false);
  for (const a of adapters.values()) {
    a.base.setAdapter(a);
    a.loraA.training = a.loraB.training = a.base.training;   // new children follow the layer's mode
  }
  return new LoraModel(model, o, adapters, frozen);
}
