// The reward-model and DPO losses as Trainer LossFns over PairSource batches (chosen rows, then
// rejected rows, in one forward), logging what TRL's RewardTrainer and DPOTrainer log.
import { Tensor, noGrad, slice, squeeze, tidy } from '@stellar/tensor';
import type { Module, StellarForCausalLM, StellarForSequenceClassification } from '@stellar/nn';
import { batchTensors } from '../trainer/lm-loss';
import { countTargets, type Batch, type LossFn, type StepLoss } from '../trainer/types';
import { bradleyTerryLoss, dpoPairLoss, type DpoLossType } from './preference-loss';
import { collatePairs, isPairBatch, type PairBatch, type PreferencePair } from './pairs';
import { pairLogprobs } from './reference';

function asPairs(b: Batch, who: string): PairBatch {
  if (!isPairBatch(b)) throw new Error(`${who}: expected a pair batch (PairSource / collatePairs), got a plain batch of ${b.batchSize} rows`);
  return b;
}

export interface RewardLossOptions {
  /** TRL's center_rewards_coefficient (default off). */
  centerCoef?: number;
}

/**
 * Bradley–Terry loss of a reward model (StellarForSequenceClassification, one label) on pair batches;
 * per-pair margins from the batch are subtracted when present. Metrics: accuracy, margin, mean_reward.
 * The Trainer weighs micro-batches by response tokens; with gradAccum 1 that changes nothing.
 */
export function rewardLoss(o: RewardLossOptions = {}): LossFn {
  return (model: Module, batch: Batch): StepLoss => {
    const b = asPairs(batch, 'rewardLoss');
    const rm = model as StellarForSequenceClassification;
    const t = batchTensors(b);
    const P = b.pairs;
    const { loss, stats } = tidy(() => {
      const scores = squeeze(rm.forward(t.ids, { attentionMask: t.mask, positionIds: t.positions }).scores, -1);   // (2P)
      const margin = b.margins ? Tensor.fromArray(Float32Array.from(b.margins), [P]) : undefined;
      return bradleyTerryLoss(slice(scores, 0, 0, P), slice(scores, 0, P, 2 * P), { margin, centerCoef: o.centerCoef });
    });
    return { loss, tokens: countTargets(b), metrics: { accuracy: stats.accuracy, margin: stats.margin, mean_reward: (stats.chosen + stats.rejected) / 2 } };
  };
}

export interface DpoLossOptions {
  beta?: number;             // 0.1
  lossType?: DpoLossType;    // 'sigmoid'
  labelSmoothing?: number;   // 0 (cDPO when > 0)
  /**
   * Reference model for batches without precomputed log-probs (run under noGrad each step). Prefer
   * precomputeReferenceLogps once per dataset: the reference can then be freed.
   */
  reference?: StellarForCausalLM;
}

/**
 * DPO on pair batches: the policy's response log-prob sums (one forward over 2P rows) against the
 * batch's precomputed reference sums (or `reference`). Metrics as TRL: chosen/rejected implicit
 * rewards beta * (logp - ref_logp), their margin and accuracy, and the policy's log-prob margin.
 */
export function dpoLoss(o: DpoLossOptions = {}): LossFn {
  o.reference?.eval();
  return (model: Module, batch: Batch): StepLoss => {
    const b = asPairs(batch, 'dpoLoss');
    const policy = model as StellarForCausalLM;
    const P = b.pairs;
    return tidy(() => {
      const lp = pairLogprobs(policy, b);
      let refC: Tensor, refR: Tensor;
      if (b.refChosen && b.refRejected) {
        refC = Tensor.fromArray(Float32Array.from(b.refChosen), [P]);
        refR = Tensor.fromArray(Float32Array.from(b.refRejected), [P]);
      } else if (o.reference) {
        const r = noGrad(() => pairLogprobs(o.reference!, b));
        refC = r.chosen; refR = r.rejected;
      } else throw new Error('dpoLoss: the batch has no reference log-probs (precomputeReferenceLogps) and no reference model was given');
      const r = dpoPairLoss(lp.chosen, lp.rejected, refC, refR, { beta: o.beta, lossType: o.lossType, labelSmoothing: o.labelSmoothing, chosenTokens: lp.chosenTokens, rejectedTokens: lp.rejectedTokens });
      const pc = lp.chosen.toFloat64(), pr = lp.rejected.toFloat64();
      let lm = 0;
      for (let i = 0; i < P; i++) lm += (pc[i] - pr[i]) / P;
      return {
        loss: r.loss, tokens: countTargets(b),
        metrics: { 'rewards/chosen': r.stats.chosen, 'rewards/rejected': r.stats.rejected, 'rewards/margins': r.stats.margin, 'rewards/accuracies': r.stats.accuracy, 'logps/margin': lm },
      };
    });
  };
}

/** A reward model's scores of each pair's chosen and rejected answer (eval mode, noGrad): for held-out pairwise accuracy. */
export function scoreRewardPairs(rm: StellarForSequenceClassification, pairs: readonly PreferencePair[], opts: { batchPairs?: number; padTokenId?: number } = {}): { chosen: Float64Array; rejected: Float64Array; accuracy: number } {
  const bp = opts.batchPairs ?? 8;
  const chosen = new Float64Array(pairs.length), rejected = new Float64Array(pairs.length);
  const was = rm.training;
  rm.eval();
  try {
    for (let i = 0; i < pairs.length; i += bp) {
      const b = collatePairs(pairs.slice(i, i + bp), opts.padTokenId ?? 0);
      const s = noGrad(() => tidy(() => {
        const t = batchTensors(b);
        return squeeze(rm.forward(t.ids, { attentionMask: t.mask }).scores, -1).toFloat64();   // (2P)
      }));
      chosen.set(s.subarray(0, b.pairs), i);
      rejected.set(s.subarray(b.pairs), i);
    }
  } finally { rm.train(was); }
  let acc = 0;
  for (let i = 0; i < pairs.length; i++) acc += chosen[i] > rejected[i] ? 1 : 0;
  return { chosen, rejected, accuracy: pairs.length ? acc / pairs.length : 0 };
}
