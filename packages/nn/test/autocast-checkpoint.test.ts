// Gradient checkpointing under autocast('bfloat16'): the recomputation in backward (which runs outside
// the caller's autocast scope) uses the forward's bf16 mode, so loss and gradients equal those of the
// same model without checkpointing, and differ from the fp32 ones by about bf16 precision.
import { Tensor, autocast, tidy } from '@stellar/tensor';
import { StellarForCausalLM, makeConfig } from '../src';

const cfg = makeConfig({ vocabSize: 40, hiddenSize: 32, intermediateSize: 40, numHiddenLayers: 3, numAttentionHeads: 4, numKeyValueHeads: 2, initializerRange: 0.2 });
const ids = () => Tensor.fromArray([1, 5, 9, 2, 7, 3, 8, 4, 6, 11, 12, 13, 14, 15], [2, 7], { dtype: 'int32' });

function lossAndGrads(model: StellarForCausalLM, mode: 'bfloat16' | null): [number, Map<string, Float64Array>] {
  model.zeroGrad();
  // forward under the mode, backward outside it (as the trainer does)
  const l = tidy(() => { const { loss } = autocast(mode, () => model.forward(ids(), { labels: ids() })); loss!.backward(); return loss!.item(); });
  return [l, new Map([...model.namedParameters()].map(([n, p]) => [n, p.grad!.toFloat64()]))];
}

/** max |g - h| over max |g| of one parameter's gradient. */
function relDiff(g: Float64Array, h: Float64Array): number {
  let d = 0, s = 0;
  for (let i = 0; i < g.length; i++) { d = Math.max(d, Math.abs(g[i] - h[i])); s = Math.max(s, Math.abs(g[i])); }
  return d / (s || 1);
}

test('checkpointed bf16 backward recomputes in bf16 and matches the non-checkpointed bf16 model', () => {
  const plain = new StellarForCausalLM(cfg, { seed: 4 }).train();
  const ckpt = new StellarForCausalLM(cfg, { seed: 4 }).train().gradientCheckpointingEnable();
  const [l16, g16] = lossAndGrads(plain, 'bfloat16');
  const [c16, h16] = lossAndGrads(ckpt, 'bfloat16');
  const [l32, g32] = lossAndGrads(plain, null);
  expect(Math.abs(l16 - c16)).toBeLessThan(1e-6);
  let worstSame = 0, worstFp32 = 0;
  for (const [n, g] of g16) {
    worstSame = Math.max(worstSame, relDiff(g, h16.get(n)!));
    worstFp32 = Math.max(worstFp32, relDiff(g, g32.get(n)!));
  }
  // a recompute in fp32 would mix fp32 activations into bf16 gradients: differences of the size below
  expect(worstSame).toBeLessThan(1e-5);
  expect(worstFp32).toBeGreaterThan(1e-3);
  expect(Math.abs(l16 - l32)).toBeGreaterThan(1e-6);
  plain.dispose(); ckpt.dispose();
});
