// One LoRA adapter on one Linear: y = base(x) + scaling * (dropout(x) A^T) B^T, with merge/unmerge
// of scaling * B A into the base weight. Attached through Linear.setAdapter (see layers/linear.ts).
import { Tensor, Generator, rand, zeros, matmul, transpose, add, mul, dropout, addInPlace, noGrad, tidy } from '@stellar/tensor';
import { Module, Parameter } from '../module';
import type { Linear, LinearAdapter } from '../layers/linear';

/** Holds one LoRA matrix as `weight`, so names come out as PEFT's `lora_A.weight` / `lora_B.weight`. */
export class LoraMatrix extends Module {
  readonly weight: Parameter;
  constructor(t: Tensor) {
    super();
    this.weight = this.registerParameter('weight', new Parameter(t));
  }
}

export interface LoraLayerOptions { r: number; scaling: number; dropout: number; initGenerator: Generator; dropoutGenerator: Generator }

export class LoraAdapter implements LinearAdapter {
  readonly loraA: LoraMatrix;   // weight (r, in)
  readonly loraB: LoraMatrix;   // weight (out, r)
  readonly children: ReadonlyArray<readonly [string, Module]>;
  readonly scaling: number;
  readonly dropout: number;
  private readonly generator: Generator;   // dropout masks
  private _merged = false;

  /** A ~ uniform(-1/sqrt(in), 1/sqrt(in)) (PyTorch's kaiming_uniform(a=sqrt(5)), as PEFT), B = 0. */
  constructor(readonly base: Linear, o: LoraLayerOptions) {
    const w = base.weight.data;
    const bound = 1 / Math.sqrt(base.inFeatures);
    this.loraA = new LoraMatrix(rand([o.r, base.inFeatures], { low: -bound, high: bound, generator: o.initGenerator, device: w.device }));
    this.loraB = new LoraMatrix(zeros([base.outFeatures, o.r], { device: w.device }));
    this.children = [['lora_A', this.loraA], ['lora_B', this.loraB]];
    this.scaling = o.scaling;
    this.dropout = o.dropout;
    this.generator = o.dropoutGenerator;
  }

  get merged(): boolean { return this._merged; }
  get active(): boolean { return !this._merged; }

  /** x (..., in), y (..., out) -> y + scaling * (dropout(x) A^T) B^T (..., out) */
  forward(x: Tensor, y: Tensor, training: boolean): Tensor {
    return tidy(() => {
      const h = dropout(x, this.dropout, training, { generator: this.generator });   // (..., in)
      const a = matmul(h, transpose(this.loraA.weight.data));                         // (..., r)
      const b = matmul(a, transpose(this.loraB.weight.data));                         // (..., out)
      return add(y, mul(b, this.scaling));
    });
  }

  /** scaling * B A (out, in), outside autograd. */
  deltaWeight(): Tensor {
    return noGrad(() => tidy(() => mul(matmul(this.loraB.weight.data, this.loraA.weight.data), this.scaling)));
  }

  /** W += scaling * B A; the layer then skips the adapter. */
  merge(): void {
    if (this._merged) throw new Error('LoRA: adapter is already merged');
    this.addDelta(1);
    this._merged = true;
  }

  /** W -= scaling * B A, the exact inverse of merge() up to float rounding. */
  unmerge(): void {
    if (!this._merged) throw new Error('LoRA: adapter is not merged');
    this.addDelta(-1);
    this._merged = false;
  }

  private addDelta(sign: 1 | -1): void {
    noGrad(() => tidy(() => {
      const d = this.deltaWeight();   // (out, in)
      addInPlace(this.base.weight.data, sign === 1 ? d : mul(d, -1));
    }));
  }

  dispose(): void {
    this.loraA.dispose();
    this.loraB.dispose();
  }
}
