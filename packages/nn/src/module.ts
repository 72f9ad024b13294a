// Module and Parameter: a tree of named submodules and parameters with PyTorch/HF dotted names,
// train/eval mode, and a strict state-dict loader. Holds no math; layers build on it.
import { Tensor, noGrad, copyInto, keep } from '@stellar/tensor';

/** A trainable tensor owned by a module (a leaf that requires grad). */
export class Parameter {
  constructor(public data: Tensor) {
    keep(data);   // owned by the module, not by whatever tidy() scope built it
    if (!data.requiresGrad) data.requiresGrad_();
  }
  get shape(): number[] { return this.data.shape; }
  get grad(): Tensor | null { return this.data.grad; }
  get requiresGrad(): boolean { return this.data.requiresGrad; }
  /** Freezes (false) or unfreezes the parameter; freezing drops any stored gradient. */
  requiresGrad_(flag = true): this {
    this.data.requiresGrad = flag;
    if (!flag) this.data.zeroGrad();
    return this;
  }
}

export interface LoadStateDictOptions {
  /** Throw on missing, unexpected or mis-shaped names (default true). With false only shapes must match. */
  strict?: boolean;
}

export interface LoadStateDictResult { missing: string[]; unexpected: string[] }

export class StateDictError extends Error {
  constructor(readonly missing: string[], readonly unexpected: string[], readonly misshaped: string[]) {
    const parts: string[] = [];
    if (missing.length) parts.push(`missing: ${missing.join(', ')}`);
    if (unexpected.length) parts.push(`unexpected: ${unexpected.join(', ')}`);
    if (misshaped.length) parts.push(`wrong shape: ${misshaped.join('; ')}`);
    super(`loadStateDict: ${parts.join(' | ')}`);
    this.name = 'StateDictError';
  }
}

export abstract class Module {
  training = true;
  private readonly _params = new Map<string, Parameter>();
  private readonly _modules = new Map<string, Module>();

  protected registerParameter(name: string, p: Parameter): Parameter {
    if (this._params.has(name) || this._modules.has(name)) throw new Error(`${this.constructor.name}: "${name}" is already registered`);
    this._params.set(name, p);
    return p;
  }

  protected registerModule<M extends Module>(name: string, m: M): M {
    if (this._params.has(name) || this._modules.has(name)) throw new Error(`${this.constructor.name}: "${name}" is already registered`);
    this._modules.set(name, m);
    return m;
  }

  /** Detaches a child module (e.g. an adapter being removed) and returns it; its tensors are not freed. */
  protected deleteModule(name: string): Module {
    const m = this._modules.get(name);
    if (!m) throw new Error(`${this.constructor.name}: no child module "${name}"`);
    this._modules.delete(name);
    return m;
  }

  /** Every parameter once (a shared one under its first name), in registration order, with its dotted name. */
  *namedParameters(prefix = '', seen = new Set<Parameter>()): Generator<[string, Parameter]> {
    for (const [n, p] of this._params) {
      if (seen.has(p)) continue;
      seen.add(p);
      yield [prefix + n, p];
    }
    for (const [n, m] of this._modules) yield* m.namedParameters(`${prefix}${n}.`, seen);
  }

  parameters(): Parameter[] { return [...this.namedParameters()].map(([, p]) => p); }

  *namedModules(prefix = ''): Generator<[string, Module]> {
    yield [prefix, this];
    for (const [n, m] of this._modules) yield* m.namedModules(prefix ? `${prefix}.${n}` : n);
  }

  /** Parameter count, each tied tensor counted once. */
  numParameters(): number {
    let n = 0;
    for (const p of this.parameters()) n += p.data.size;
    return n;
  }

  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  eval(): this { return this.train(false); }

  /** Freezes or unfreezes every parameter (PyTorch's module.requires_grad_). */
  requiresGrad_(flag = true): this {
    for (const p of this.parameters()) p.requiresGrad_(flag);
    return this;
  }

  zeroGrad(): void { for (const p of this.parameters()) p.data.zeroGrad(); }

  /** name -> the parameter tensor itself (not a copy): tied weights appear once. */
  stateDict(): Map<string, Tensor> {
    const sd = new Map<string, Tensor>();
    for (const [n, p] of this.namedParameters()) sd.set(n, p.data);
    return sd;
  }

  /**
   * Copies tensors into the parameters by name. Every name of `sd` must be a parameter with the same
   * shape; with strict (default) every parameter must also be present. Errors list all offending
   * names at once. Shapes are checked before anything is copied, so a failed load changes nothing.
   */
  loadStateDict(sd: Map<string, Tensor> | Record<string, Tensor>, opts: LoadStateDictOptions = {}): LoadStateDictResult {
    const strict = opts.strict ?? true;
    const src = sd instanceof Map ? sd : new Map(Object.entries(sd));
    const own = new Map(this.namedParameters());
    const missing = [...own.keys()].filter((n) => !src.has(n));
    const unexpected = [...src.keys()].filter((n) => !own.has(n));
    const misshaped: string[] = [];
    for (const [n, t] of src) {
      const p = own.get(n);
      if (p && !t.shapeEquals(p.shape)) misshaped.push(`${n} is [${t.shape.join(', ')}], expected [${p.shape.join(', ')}]`);
    }
    if (misshaped.length || (strict && (missing.length || unexpected.length))) {
      throw new StateDictError(strict ? missing : [], strict ? unexpected : [], misshaped);
    }
    noGrad(() => {
      for (const [n, t] of src) {
        const p = own.get(n);
        if (p) copyInto(p.data, t);
      }
    });
    return { missing, unexpected };
  }

  /** Frees every parameter's native memory; the module is unusable afterwards. */
  dispose(): void {
    for (const p of this.parameters()) { p.data.zeroGrad(); p.data.dispose(); }
  }
}

/** Numbered children ("layers.0", "layers.1", ...) as torch.nn.ModuleList names them. */
export class ModuleList<M extends Module> extends Module {
  readonly items: M[] = [];
  constructor(items: M[] = []) {
    super();
    for (const m of items) this.push(m);
  }
  push(m: M): void { this.registerModule(String(this.items.length), m); this.items.push(m); }
  get length(): number { return this.items.length; }
  [Symbol.iterator](): Iterator<M> { return this.items[Symbol.iterator](); }
}
