// Linear layer y = x W^T (+ b) with PyTorch's weight layout (out, in), so HF weights load unchanged.
import { Tensor, Generator, randn, zeros, matmul, matmulW8, transpose, add, type Int8Weight } from '@stellar/tensor';
import { Module, Parameter } from '../module';

export interface LinearOptions { bias?: boolean; std?: number; generator?: Generator }

/**
 * Something added to a Linear's output in place (LoRA, see ../lora). It lives inside the layer so the
 * models' typed `qProj: Linear` fields and `qProj.forward(x)` calls keep working unchanged, and its
 * modules are registered as children of the layer so their parameters are named `<layer>.lora_A.weight`.
 */
export interface LinearAdapter {
  /** Child modules to register under the layer, by name. */
  readonly children: ReadonlyArray<readonly [string, Module]>;
  /** False while the adapter is folded into the weight (merged): the layer then skips it. */
  readonly active: boolean;
  /** x (..., in), y = the base output (..., out) -> a new tensor (..., out) */
  forward(x: Tensor, y: Tensor, training: boolean): Tensor;
}

export class Linear extends Module {
  readonly weight: Parameter;   // (out, in)
  readonly bias: Parameter | null;   // (out)

  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: LinearOptions = {}) {
    super();
    this.weight = this.registerParameter('weight', new Parameter(randn([outFeatures, inFeatures], { generator: opts.generator, std: opts.std ?? 0.02 })));
    this.bias = opts.bias ? this.registerParameter('bias', new Parameter(zeros([outFeatures]))) : null;
  }

  private _adapter: LinearAdapter | null = null;
  get adapter(): LinearAdapter | null { return this._adapter; }

  private _int8: Int8Weight | null = null;
  /** The int8 copy of the weight that forward uses instead of `weight` (see ../quantize), or null. */
  get int8(): Int8Weight | null { return this._int8; }
  /** Sets (or with null drops) the int8 weight; `weight` keeps the float values it was made from. */
  setInt8(w: Int8Weight | null): void {
    if (w && (w.q.shape[0] !== this.outFeatures || w.q.shape[1] !== this.inFeatures)) throw new Error('Linear: int8 weight shape differs from (out, in)');
    this._int8 = w;
  }

  /** Attaches (or with null detaches) an adapter; the previous adapter's children are unregistered. */
  setAdapter(a: LinearAdapter | null): void {
    if (a && this._int8) throw new Error('Linear: an int8-quantized layer takes no adapter (dequantizeModel first)');
    if (this._adapter) for (const [n] of this._adapter.children) this.deleteModule(n);
    this._adapter = a;
    if (a) for (const [n, m] of a.children) this.registerModule(n, m);
  }

  /** x (..., in) -> (..., out) */
  forward(x: Tensor): Tensor {
    const y = this.baseForward(x);
    if (!this._adapter?.active) return y;
    try { return this._adapter.forward(x, y, this.training); } finally { y.dispose(); }
  }

  /** x W^T (+ b) without any adapter. x (..., in) -> (..., out) */
  baseForward(x: Tensor): Tensor {
    if (this._int8) {
      const y = matmulW8(x, this._int8);
      if (!this.bias) return y;
      try { return add(y, this.bias.data); } finally { y.dispose(); }
    }
    const wt = transpose(this.weight.data);   // (in, out) view, no copy
    try {
      const y = matmul(x, wt);
      if (!this.bias) return y;
      try { return add(y, this.bias.data); } finally { y.dispose(); }
    } finally { wt.dispose(); }
  }
}
