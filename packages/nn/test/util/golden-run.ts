// Runs a model against a golden fixture (see fixture.ts): gradient comparison by name and the
// 10-step AdamW replay of torch.optim.AdamW. Shared by the golden tests so each keeps only its checks.
import { adamwStep, contiguous, tidy, zerosLike, type Tensor } from '@stellar/tensor';
import type { StellarForCausalLM } from '../../src';
import { type Golden, maxDiff, withPrefix } from './fixture';

/**
 * Compares every parameter gradient of `model` (after backward) with the fixture's grad.<name>.
 * Returns the names on each side (to be compared exactly by the caller) and one line per gradient off
 * by more than `tol * max(1, max |ref|)`; a gradient that is zero in the reference is reported too,
 * since the comparison would then be vacuous.
 */
export function gradientMismatches(model: StellarForCausalLM, golden: Golden, tol: number): { ours: string[]; ref: string[]; bad: string[] } {
  const grads = withPrefix(golden.tensors, 'grad');
  const ours = [...model.namedParameters()];
  const bad: string[] = [];
  for (const [name, p] of ours) {
    const ref = grads.get(name);
    if (!ref) continue;   // a missing name shows in the name lists
    if (!p.grad) { bad.push(`${name}: no gradient`); continue; }
    const d = maxDiff(p.grad, ref);
    if (!(d.abs < tol * Math.max(1, d.scale))) bad.push(`${name}: max abs diff ${d.abs} (max |ref| ${d.scale})`);
    if (!(d.scale > 0)) bad.push(`${name}: reference gradient is all zero`);
  }
  return { ours: ours.map(([n]) => n).sort(), ref: [...grads.keys()].sort(), bad };
}

/** The loss before each of the fixture's AdamW steps, on its input_ids/labels, with its hyper-parameters. */
export function adamwLosses(model: StellarForCausalLM, golden: Golden): number[] {
  const { lr, betas, weight_decay: wd, eps, steps } = golden.adamw;
  const params = model.parameters().map((p) => p.data);
  const m = params.map((p) => zerosLike(p)), v = params.map((p) => zerosLike(p));
  const ids = golden.tensors.get('input_ids')!, labels = golden.tensors.get('labels')!;
  const losses: number[] = [];
  for (let step = 1; step <= steps; step++) {
    losses.push(tidy(() => {
      model.zeroGrad();
      const { loss } = model.forward(ids, { labels });
      loss!.backward();
      const grads = params.map((p) => (p.grad!.isContiguous ? p.grad! : contiguous(p.grad!)));
      // torch's default param group decays every parameter, norms, scales and embeddings included
      adamwStep(params, grads, m, v, { lr, beta1: betas[0], beta2: betas[1], eps, weightDecay: wd, step });
      return loss!.item();
    }));
  }
  for (const t of [...m, ...v]) t.dispose();
  return losses;
}

/**
 * The checks every golden test makes: logits within 1e-5 (x max(1, |ref|), and not vacuous), `loss`
 * within 1e-6 relative of the fixture's, then backward and every gradient by name (gradientMismatches).
 */
export function expectForwardBackwardMatch(model: StellarForCausalLM, golden: Golden, out: { logits: Tensor; loss: Tensor | null }): void {
  const dl = maxDiff(out.logits, golden.tensors.get('logits')!);
  expect(dl.scale).toBeGreaterThan(0.1);   // the check is not vacuous
  expect(dl.abs).toBeLessThan(1e-5 * Math.max(1, dl.scale));
  const l = out.loss!.item(), ref = golden.tensors.get('loss')!.item();
  expect(Math.abs(l - ref) / ref).toBeLessThan(1e-6);
  out.loss!.backward();
  const g = gradientMismatches(model, golden, 1e-5);
  expect(g.ours).toEqual(g.ref);
  expect(g.bad).toEqual([]);
}

/** The fixture's AdamW run: every loss within 1e-4 relative of torch's, and the run actually trains. */
export function expectAdamwFollows(model: StellarForCausalLM, golden: Golden): void {
  const ref = golden.tensors.get('adamw_losses')!.toFloat64();
  expect(ref.length).toBe(golden.adamw.steps);
  const off = adamwLosses(model, golden).map((l, i) => ({ step: i + 1, ours: l, torch: ref[i], rel: Math.abs(l - ref[i]) / Math.abs(ref[i]) }))
    .filter((s) => !(s.rel < 1e-4));
  expect(off).toEqual([]);
  expect(ref[ref.length - 1]).toBeLessThan(ref[0] - 0.5);
}
