// Knowledge distillation: the student matches the teacher's temperature-softened next-token
// distribution (KL(teacher || student) * T^2, Hinton et al.) mixed with the ordinary LM loss,
// both over the positions that carry a label.
import { Tensor, logSoftmax, softmax, mul, sub, sum, add, noGrad, tidy } from '@stellar/tensor';
import type { Module, StellarForCausalLM } from '@stellar/nn';
import { batchTensors, forwardInputs } from '../trainer/lm-loss';
import { countTargets, type Batch, type LossFn } from '../trainer/types';

export interface DistillOptions {
  teacher: StellarForCausalLM;
  /** Softening temperature (> 0); the KL term is scaled by T^2 so its gradients keep their size. */
  temperature?: number;   // 2
  /** Weight of the KL term; (1 - alpha) weighs the hard-label cross-entropy. */
  alpha?: number;         // 0.5
}

/**
 * Mean over target positions of KL(softmax(t/T) || softmax(s/T)) * T^2. student/teacher (B, T, V);
 * mask (B, T) float with 1 where the position predicts a label (the label at t + 1 is not -100).
 */
export function distillKl(student: Tensor, teacher: Tensor, mask: Tensor, temperature: number): Tensor {
  return tidy(() => {
    const lps = logSoftmax(mul(student, 1 / temperature));              // (B, T, V)
    const lpt = logSoftmax(mul(teacher, 1 / temperature));              // (B, T, V)
    const kl = sum(mul(softmax(mul(teacher, 1 / temperature)), sub(lpt, lps)), -1);   // (B, T)
    const n = Math.max(1, sum(mask).item());
    return mul(sum(mul(kl, mask)), (temperature * temperature) / n);
  });
}

/** (B, T) float mask: 1 at t when labels[t + 1] is not -100 (the model's shift), 0 at the last position. */
export function targetMask(b: Batch): Tensor {
  const m = new Float32Array(b.batchSize * b.seqLen);
  for (let r = 0; r < b.batchSize; r++) for (let t = 0; t + 1 < b.seqLen; t++) m[r * b.seqLen + t] = b.labels[r * b.seqLen + t + 1] !== -100 ? 1 : 0;
  return Tensor.fromArray(m, [b.batchSize, b.seqLen]);
}

export function distillLoss(o: DistillOptions): LossFn {
  const T = o.temperature ?? 2, alpha = o.alpha ?? 0.5;
  if (!(T > 0)) throw new Error(`distill: temperature must be > 0, got ${T}`);
  if (!(alpha >= 0 && alpha <= 1)) throw new Error(`distill: alpha must be in [0, 1], got ${alpha}`);
  o.teacher.eval();
  return (model: Module, b: Batch) => {
    const student = model as StellarForCausalLM;
    if (student.config.vocabSize !== o.teacher.config.vocabSize) throw new Error(`distill: student vocab ${student.config.vocabSize} != teacher vocab ${o.teacher.config.vocabSize}`);
    const t = batchTensors(b);
    const out = student.forward(t.ids, { ...forwardInputs(t), labels: t.labels });
    const tl = noGrad(() => o.teacher.forward(t.ids, forwardInputs(t)).logits);   // (B, T, V)
    const kl = distillKl(out.logits, tl, targetMask(b), T);
    const loss = add(mul(kl, alpha), mul(out.loss!, 1 - alpha));
    return { loss, tokens: countTargets(b), metrics: { kl: kl.item(), ce: out.lmLoss!.item() } };
  };
}
