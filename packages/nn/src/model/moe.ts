// Mixtral-style sparse mixture-of-experts feed-forward (top-k router, SwiGLU experts, optional
// capacity limit and shared expert) plus the router losses (HF load balancing, z-loss). Parameter
// names are the on-disk layout transformers' save_pretrained writes for MixtralForCausalLM.
import {
  Tensor, Generator, add, concat, contiguous, div, gather, indexAdd, indexSelect, logsumexp, matmul, mul, narrow,
  rand, randn, reshape, softmax, square, sum, swiglu, tidy, topk, zeros,
} from '@stellar/tensor';
import { Module, ModuleList } from '../module';
import { Linear } from '../layers/linear';
import type { ModelConfig } from '../config';

/** A SwiGLU MLP down(silu(gate(x)) * up(x)) whose three Linear layers are named as given. */
export class SwiGLUExpert extends Module {
  readonly gate: Linear;   // (F, C)
  readonly up: Linear;     // (F, C)
  readonly down: Linear;   // (C, F)

  constructor(hidden: number, inter: number, std: number, g: Generator, names: [gate: string, up: string, down: string]) {
    super();
    this.gate = this.registerModule(names[0], new Linear(hidden, inter, { std, generator: g }));
    this.up = this.registerModule(names[1], new Linear(hidden, inter, { std, generator: g }));
    this.down = this.registerModule(names[2], new Linear(inter, hidden, { std, generator: g }));
  }

  /** x (M, C) -> (M, C) */
  forward(x: Tensor): Tensor {
    return tidy(() => this.down.forward(swiglu(this.gate.forward(x), this.up.forward(x))));   // (M, F) inside
  }
}

/** What one router saw: its clean logits and the experts it actually chose. */
export interface RouterOutput {
  routerLogits: Tensor;   // (N, E) before any noise; N = B * T rows
  topkIndices?: Tensor;   // (N, k) int32 chosen experts; when absent, top-k of the logits (as HF recomputes)
}

export interface MoeOutput extends Required<RouterOutput> {
  y: Tensor;         // (B, T, C)
  auxLoss: Tensor;   // scalar load-balancing loss of this layer alone
  zLoss: Tensor;     // scalar router z-loss of this layer alone
}

export interface MoeForwardOptions {
  /** Source of the training-time router noise (default: the global generator). */
  generator?: Generator;
  /** (B, T) 1 for real tokens, 0 for padding: padding rows are left out of this layer's aux loss. */
  attentionMask?: Tensor | null;
}

/**
 * Sparse MoE block. Tokens are routed host-side: the (N, k) top-k indices are read back, each expert
 * gets the list of its tokens, and runs ONE gather -> gate/up/down GEMM chain over them. The routed
 * outputs are scaled by their routing weight (gathered with autograd, so the router gets a gradient)
 * and index-added back into the token rows.
 *
 * Noise (training only): `routerJitterNoise` multiplies the block input by uniform(1 - j, 1 + j)
 * as HF Mixtral does (HF scales the hidden states in place, so the experts see the jittered input
 * too; we match that). `routerNoiseStd` adds Gaussian noise to the router logits for the top-k
 * SELECTION only; the weights of the chosen experts come from the clean softmax, renormalised. That
 * keeps the noise an exploration device (which experts are tried) without putting a random scale
 * on the outputs, and keeps the returned router logits and z-loss noise-free.
 *
 * Capacity (`moeCapacityFactor` > 0): each expert takes at most ceil(factor * N * k / E)
 * assignments, filled in token order (row-major over (B, T), each token's choices best first). Token
 * order, not routing weight, decides because then no token's routing depends on later tokens of its
 * own sequence, which a causal LM needs. A dropped assignment contributes nothing (the surviving
 * weights are not renormalised); a token that loses all its experts passes through the residual.
 */
export class MoeBlock extends Module {
  readonly gate: Linear;                        // router (E, C)
  readonly experts: ModuleList<SwiGLUExpert>;   // experts.N.{w1, w3, w2}
  readonly sharedExpert: SwiGLUExpert | null;   // shared_expert.{gate,up,down}_proj
  readonly numExperts: number;
  readonly topK: number;
  /** Assignments dropped by the capacity limit in the last forward pass. */
  lastDropped = 0;

  constructor(readonly config: ModelConfig, g: Generator) {
    super();
    const c = config, std = c.initializerRange;
    if (!(c.numLocalExperts > 0)) throw new Error('MoeBlock: numLocalExperts must be > 0');
    if (c.numExpertsPerTok > c.numLocalExperts) throw new Error(`MoeBlock: numExpertsPerTok ${c.numExpertsPerTok} > numLocalExperts ${c.numLocalExperts}`);
    this.numExperts = c.numLocalExperts;
    this.topK = c.numExpertsPerTok;
    this.gate = this.registerModule('gate', new Linear(c.hiddenSize, c.numLocalExperts, { std, generator: g }));
    this.experts = this.registerModule('experts', new ModuleList<SwiGLUExpert>());
    for (let e = 0; e < c.numLocalExperts; e++) this.experts.push(new SwiGLUExpert(c.hiddenSize, c.intermediateSize, std, g, ['w1', 'w3', 'w2']));
    this.sharedExpert = c.sharedExpertIntermediateSize > 0
      ? this.registerModule('shared_expert', new SwiGLUExpert(c.hiddenSize, c.sharedExpertIntermediateSize, std, g, ['gate_proj', 'up_proj', 'down_proj']))
      : null;
  }

  /** Capacity per expert for N tokens (Infinity when unlimited). */
  capacity(n: number): number {
    const f = this.config.moeCapacityFactor;
    return f > 0 ? Math.ceil((f * n * this.topK) / this.numExperts) : Infinity;
  }

  /** x (B, T, C) -> y (B, T, C), router logits (B*T, E), chosen experts (B*T, k), aux and z losses. */
  forward(x: Tensor, opts: MoeForwardOptions = {}): MoeOutput {
    if (x.ndim !== 3) throw new Error(`MoeBlock: x must be (B, T, C), got [${x.shape.join(', ')}]`);
    const [B, T, C] = x.shape;
    const N = B * T, E = this.numExperts, k = this.topK;
    const { routerJitterNoise: jitter, routerNoiseStd: noiseStd } = this.config;
    const generator = opts.generator;
    return tidy(() => {
      let xf = reshape(x, [N, C]);                                    // (N, C)
      if (this.training && jitter > 0) xf = mul(xf, rand([N, C], { low: 1 - jitter, high: 1 + jitter, generator, device: x.device }));
      const routerLogits = this.gate.forward(xf);                     // (N, E)
      const probs = softmax(routerLogits, -1);                        // (N, E)
      const chooseBy = this.training && noiseStd > 0
        ? add(routerLogits, randn([N, E], { std: noiseStd, generator, device: x.device }))
        : probs;
      const topkIndices = topk(chooseBy, k).indices;                  // (N, k) int32
      const top = gather(probs, -1, topkIndices);                     // (N, k)
      const weights = div(top, sum(top, -1, true));                   // (N, k), rows sum to 1

      const { tokens, slots, dropped } = routeTokens(topkIndices.data() as Int32Array, N, k, E, this.capacity(N));
      this.lastDropped = dropped;
      const outs: Tensor[] = [], allTokens: number[] = [], allSlots: number[] = [];
      for (let e = 0; e < E; e++) {
        if (tokens[e].length === 0) continue;
        const ids = Tensor.fromArray(Int32Array.from(tokens[e]), [tokens[e].length], { dtype: 'int32', device: x.device });
        outs.push(this.experts.items[e].forward(indexSelect(xf, 0, ids)));   // (m_e, C)
        allTokens.push(...tokens[e]);
        allSlots.push(...slots[e]);
      }
      let y = zeros([N, C], { device: x.device });                    // (N, C)
      if (outs.length) {
        const M = allTokens.length;
        const slotIds = Tensor.fromArray(Int32Array.from(allSlots), [M], { dtype: 'int32', device: x.device });
        const w = reshape(indexSelect(reshape(weights, [N * k]), 0, slotIds), [M, 1]);   // (M, 1)
        const routed = mul(outs.length === 1 ? outs[0] : concat(outs, 0), w);              // (M, C)
        y = indexAdd(y, 0, Tensor.fromArray(Int32Array.from(allTokens), [M], { dtype: 'int32', device: x.device }), routed);
      }
      if (this.sharedExpert) y = add(y, this.sharedExpert.forward(xf));
      const layer = { routerLogits, topkIndices };
      return {
        y: reshape(y, [B, T, C]),
        routerLogits,
        topkIndices,
        auxLoss: loadBalancingLoss([layer], E, k, opts.attentionMask ?? null),
        zLoss: routerZLoss([routerLogits]),
      };
    });
  }
}

/**
 * Per-expert token lists from the (N, k) top-k indices: tokens[e] are the rows expert e processes,
 * slots[e] the matching flat (N * k) positions of their routing weights. With a finite capacity, an
 * expert accepts assignments in token order until full; the rest are counted as dropped.
 */
export function routeTokens(idx: Int32Array, n: number, k: number, numExperts: number, capacity = Infinity):
  { tokens: number[][]; slots: number[][]; dropped: number } {
  const tokens: number[][] = Array.from({ length: numExperts }, () => []);
  const slots: number[][] = Array.from({ length: numExperts }, () => []);
  let dropped = 0;
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < k; j++) {
      const e = idx[r * k + j];
      if (tokens[e].length >= capacity) { dropped++; continue; }
      tokens[e].push(r);
      slots[e].push(r * k + j);
    }
  }
  return { tokens, slots, dropped };
}

/**
 * HF transformers' `load_balancing_loss_func` (Switch Transformer eq. 4-6 as Mixtral uses it), over
 * one or more layers: with c_e the number of top-k assignments to expert e and P_e the summed router
 * probability, both pooled over all layers and rows, and R the pooled row count,
 *   loss = E * sum_e (c_e / R) * (P_e / R).
 * The pooling is over layers first (not a mean of per-layer losses) and c_e / R sums to k, exactly
 * as HF computes it. Only P carries a gradient. attentionMask (B, T) weights rows (padding = 0).
 */
export function loadBalancingLoss(layers: RouterOutput[], numExperts: number, topK: number, attentionMask: Tensor | null = null): Tensor {
  if (layers.length === 0) throw new Error('loadBalancingLoss: no router outputs');
  return tidy(() => {
    const n = layers[0].routerLogits.shape[0];
    const mask = attentionMask ? attentionMask.toFloat64() : null;   // (B*T)
    if (mask && mask.length !== n) throw new Error(`loadBalancingLoss: attention mask has ${mask.length} entries for ${n} router rows`);
    const counts = new Float64Array(numExperts);
    let rows = 0;
    let probSum: Tensor | null = null;                               // (E)
    const maskT = mask ? Tensor.fromArray(Float32Array.from(mask), [1, n], { device: layers[0].routerLogits.device }) : null;
    for (const l of layers) {
      const probs = softmax(l.routerLogits, -1);                     // (N, E)
      const chosen = (l.topkIndices ?? topk(probs, topK).indices).data() as Int32Array;
      for (let i = 0; i < chosen.length; i++) counts[chosen[i]] += mask ? mask[Math.floor(i / topK)] : 1;
      rows += mask ? mask.reduce((s, v) => s + v, 0) : n;
      const p = maskT ? reshape(matmul(maskT, probs), [numExperts]) : sum(probs, 0);
      probSum = probSum ? add(probSum, p) : p;
    }
    const f = Tensor.fromArray(Float32Array.from(counts, (c) => (c / rows) * (numExperts / rows)), [numExperts], { device: probSum!.device });
    return sum(mul(probSum!, f));
  });
}

/** Router z-loss (ST-MoE): mean over all rows of all given layers of logsumexp(router logits)^2. */
export function routerZLoss(routerLogits: Tensor[]): Tensor {
  if (routerLogits.length === 0) throw new Error('routerZLoss: no router logits');
  return tidy(() => {
    let total: Tensor | null = null;
    let rows = 0;
    for (const l of routerLogits) {
      const s = sum(square(logsumexp(l, -1)));
      total = total ? add(total, s) : s;
      rows += l.shape[0];
    }
    return div(total!, rows);
  });
}

/**
 * Renames transformers 5's in-memory MoE tensors to the on-disk layout Stellar uses (and
 * save_pretrained writes): `X.mlp.gate.weight` -> `X.block_sparse_moe.gate.weight`,
 * `X.mlp.experts.gate_up_proj` (E, 2F, C) -> `X.block_sparse_moe.experts.e.w1.weight` (rows [0, F))
 * and `.w3.weight` (rows [F, 2F)), `X.mlp.experts.down_proj` (E, C, F) -> `...experts.e.w2.weight`.
 * Other names pass through unchanged (the same tensor objects); new tensors are the caller's.
 */
export function mixtralFusedToLegacy(sd: Map<string, Tensor>): Map<string, Tensor> {
  return tidy(() => fusedToLegacy(sd));   // the narrow/reshape views in between are released
}

function fusedToLegacy(sd: Map<string, Tensor>): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [name, t] of sd) {
    const m = /^(.*)\.mlp\.(gate\.weight|experts\.gate_up_proj|experts\.down_proj)$/.exec(name);
    if (!m) { out.set(name, t); continue; }
    const pre = `${m[1]}.block_sparse_moe.`;
    if (m[2] === 'gate.weight') { out.set(pre + 'gate.weight', t); continue; }
    if (t.ndim !== 3) throw new Error(`${name}: expected a 3-D fused expert tensor, got [${t.shape.join(', ')}]`);
    const [E, R] = t.shape;
    if (m[2] === 'experts.gate_up_proj' && R % 2 !== 0) throw new Error(`${name}: gate_up_proj rows ${R} are not even`);
    for (let e = 0; e < E; e++) {
      const rows = reshape(narrow(t, 0, e, 1), t.shape.slice(1));   // (R, in)
      if (m[2] === 'experts.down_proj') out.set(`${pre}experts.${e}.w2.weight`, contiguous(rows));
      else {
        out.set(`${pre}experts.${e}.w1.weight`, contiguous(narrow(rows, 0, 0, R / 2)));
        out.set(`${pre}experts.${e}.w3.weight`, contiguous(narrow(rows, 0, R / 2, R / 2)));
      }
    }
  }
  return out;
}
