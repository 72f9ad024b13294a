// What the pipeline's RLHF table reports for a policy on held-out task prompts besides task accuracy:
// the exact KL to the SFT model per response token on answers the policy samples (temperature 1,
// seeded), and the mean reward-model score of its greedy answers when a reward model exists.
import { Tensor, noGrad, tidy } from '@stellar/tensor';
import { generate, type StellarForCausalLM, type StellarForSequenceClassification } from '@stellar/nn';
import { layoutRollout, scoreRollout } from '@stellar/train';
import type { Tokenizer } from '@stellar/tokenizer';
import { heldOutPrompts } from '../evaluate';
import { stopIds } from './rollout-setup';

export interface PolicyDrift { klPerToken: number; rmScore: number | null; tokens: number }

/** Row-wise log-softmax of a (rows, V) slice of logits, in float64. */
function logSoftmaxRow(x: Float64Array, off: number, V: number, out: Float64Array): void {
  let m = -Infinity;
  for (let v = 0; v < V; v++) m = Math.max(m, x[off + v]);
  let s = 0;
  for (let v = 0; v < V; v++) s += Math.exp(x[off + v] - m);
  const lse = m + Math.log(s);
  for (let v = 0; v < V; v++) out[v] = x[off + v] - lse;
}

function logits(model: StellarForCausalLM, ids: Int32Array, attn: Uint8Array, B: number, T: number): Float64Array {
  model.eval();
  return noGrad(() => tidy(() => model.forward(Tensor.fromArray(ids, [B, T], { dtype: 'int32' }), { attentionMask: Tensor.fromArray(attn, [B, T], { dtype: 'int32' }) }).logits.toFloat64()));   // (B, T, V)
}

export function policyDrift(policy: StellarForCausalLM, sft: StellarForCausalLM, tok: Tokenizer, opts: { samples: number; maxNewTokens: number; seed: number; perTask: number; rewardModel?: StellarForSequenceClassification | null }): PolicyDrift {
  const prompts = heldOutPrompts(opts);
  const { eos, pad } = stopIds(tok);
  const V = policy.config.vocabSize;
  let kl = 0, n = 0, rm = 0;
  const lp = new Float64Array(V), lq = new Float64Array(V);
  for (let i = 0; i < prompts.length; i += 16) {
    const ids = prompts.slice(i, i + 16).map((p) => tok.encodeChat([{ role: 'user', content: p.prompt }], { addGenerationPrompt: true }).ids);
    const sampled = generate(policy, ids, { maxNewTokens: opts.maxNewTokens, temperature: 1, eosTokenId: eos, padTokenId: pad, seed: opts.seed * 7919 + i });
    const rb = layoutRollout(ids, sampled.tokens, pad);
    const B = rb.rows, T = rb.seqLen, W = T - 1;
    const a = logits(policy, rb.inputIds, rb.attentionMask, B, T), b = logits(sft, rb.inputIds, rb.attentionMask, B, T);
    for (let r = 0; r < B; r++) for (let j = 0; j < W; j++) {
      if (!rb.mask[r * W + j]) continue;
      // KL(policy || sft) of the next-token distributions at the position that predicts response token j+1
      const off = (r * T + j) * V;
      logSoftmaxRow(a, off, V, lp); logSoftmaxRow(b, off, V, lq);
      let k = 0;
      for (let v = 0; v < V; v++) k += Math.exp(lp[v]) * (lp[v] - lq[v]);
      kl += k; n++;
    }
    if (opts.rewardModel) {
      const greedy = generate(policy, ids, { maxNewTokens: opts.maxNewTokens, temperature: 0, eosTokenId: eos, padTokenId: pad });
      const g = layoutRollout(ids, greedy.tokens, pad);
      for (const s of scoreRollout(g, ids.map((x) => ({ ids: x })), opts.rewardModel, () => '')) rm += s;
    }
  }
  return { klPerToken: n ? kl / n : 0, rmScore: opts.rewardModel && prompts.length ? rm / prompts.length : null, tokens: n };
}
