// StellarForCausalLM's variants (XPos, DeepNorm, LayerScale, parallel residual, gated attention, RoPE
// scaling) equal the PyTorch references in test/fixtures/variants, one describe per fixture file
// (written by tools/fixtures/make_variant_golden.py): logits, loss, every gradient by name, and the
// losses of 10 AdamW steps. Also DeepNorm's and LayerScale's initialisation, checked from the spec.
import fs from 'node:fs';
import path from 'node:path';
import { readSafetensorsHeader } from '@stellar/tensor';
import { StellarForCausalLM, fromHfConfig, makeConfig, type ModelConfig } from '../src';
import { FIXTURES, loadGolden, withPrefix } from './util/fixture';
import { expectAdamwFollows, expectForwardBackwardMatch } from './util/golden-run';

const DIR = path.join(FIXTURES, 'variants');
const FILES = fs.readdirSync(DIR).filter((f) => f.endsWith('.safetensors')).sort();

test('variant fixtures are present', () => {
  expect(FILES.length).toBeGreaterThan(0);
});

describe.each(FILES)('%s', (file) => {
  const golden = loadGolden(path.join('variants', file));
  const t = (n: string) => golden.tensors.get(n)!;
  // the fixture config holds OUR ModelConfig field names (unknown ones are rejected by makeConfig)
  const config = () => makeConfig(golden.config as Partial<ModelConfig>);

  function loadedModel(): StellarForCausalLM {
    const model = new StellarForCausalLM(config());
    model.loadStateDict(withPrefix(golden.tensors, 'param'));   // strict: names and shapes must match exactly
    return model;
  }

  test('fixture is the tiny GQA model; an HF-made one reads the same from its config.json', () => {
    const meta = readSafetensorsHeader(path.join(DIR, file)).metadata;
    expect(meta.case).toBe(path.basename(file, '.safetensors'));
    expect(config()).toMatchObject({ vocabSize: 64, hiddenSize: 32, numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 2 });
    // transformers' own rope_parameters (linear / dynamic) must map onto our ropeScaling
    if (meta.hf_config) expect(fromHfConfig(JSON.parse(meta.hf_config))).toEqual(config());
  });

  test('logits, loss and every gradient match the reference', () => {
    const model = loadedModel();
    expectForwardBackwardMatch(model, golden, model.forward(t('input_ids'), { labels: t('labels') }));
    model.dispose();
  });

  test('10 AdamW steps follow torch.optim.AdamW', () => {
    const model = loadedModel();
    expectAdamwFollows(model, golden);
    model.dispose();
  });
});

/** Population std of a tensor's values. */
function std(x: Float64Array): number {
  let mean = 0;
  for (const v of x) mean += v;
  mean /= x.length;
  let ss = 0;
  for (const v of x) ss += (v - mean) ** 2;
  return Math.sqrt(ss / x.length);
}

describe('initialisation', () => {
  // wide enough that a sample std is within ~1.5% of the true one (4096+ values per matrix)
  const base = { vocabSize: 64, hiddenSize: 64, intermediateSize: 128, numAttentionHeads: 4, numKeyValueHeads: 4, initializerRange: 0.02 };

  test.each([2, 4])('DeepNorm with %i layers scales v/o/gate/up/down by (8N) ** -0.25, not q/k', (N) => {
    const model = new StellarForCausalLM(makeConfig({ ...base, numHiddenLayers: N, deepNorm: true } as Partial<ModelConfig>), { seed: 7 });
    const beta = (8 * N) ** -0.25;
    const p = new Map(model.namedParameters());
    const off: string[] = [];
    for (let i = 0; i < N; i++) {
      const want: [string, number][] = [
        ['self_attn.q_proj', 0.02], ['self_attn.k_proj', 0.02], ['self_attn.v_proj', 0.02 * beta], ['self_attn.o_proj', 0.02 * beta],
        ['mlp.gate_proj', 0.02 * beta], ['mlp.up_proj', 0.02 * beta], ['mlp.down_proj', 0.02 * beta],
      ];
      for (const [m, s] of want) {
        const name = `model.layers.${i}.${m}.weight`;
        const w = p.get(name);
        if (!w) { off.push(`${name} missing`); continue; }
        const got = std(w.data.toFloat64());
        // beta is 0.5 (N = 2) or 0.42 (N = 4): 6% separates the two and the unscaled 0.02 by far
        if (!(Math.abs(got / s - 1) < 0.06)) off.push(`${name}: std ${got}, want ${s}`);
      }
    }
    expect(off).toEqual([]);
    model.dispose();
  });

  test('LayerScale parameters start at layerScaleInit', () => {
    const model = new StellarForCausalLM(makeConfig({ ...base, numHiddenLayers: 2, layerScaleInit: 0.25 } as Partial<ModelConfig>));
    const p = new Map(model.namedParameters());
    for (const name of ['model.layers.0.attn_layer_scale', 'model.layers.0.mlp_layer_scale', 'model.layers.1.attn_layer_scale', 'model.layers.1.mlp_layer_scale']) {
      const w = p.get(name);
      expect(w?.shape).toEqual([64]);
      expect([...new Set(w!.data.toFloat64())]).toEqual([0.25]);
    }
    model.dispose();
  });
});
