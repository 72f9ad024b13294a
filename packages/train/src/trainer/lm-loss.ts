// The causal-LM loss of pretraining and SFT for one batch: StellarForCausalLM's shifted cross-entropy
// (mean over labels that are not -100), with optional label smoothing and the MoE losses included.
import { Tensor } from '@stellar/tensor';
import type { Module, StellarForCausalLM } from '@stellar/nn';
import { countTargets, type Batch, type LossFn, type StepLoss } from './types';

/** Batch host arrays -> the model's tensor inputs. */
export function batchTensors(b: Batch): { ids: Tensor; labels: Tensor; mask?: Tensor; positions?: Tensor; segments?: Tensor } {
  const shape = [b.batchSize, b.seqLen];
  return {
    ids: Tensor.fromArray(b.inputIds, shape, { dtype: 'int32' }),
    labels: Tensor.fromArray(b.labels, shape, { dtype: 'int32' }),
    mask: b.attentionMask ? Tensor.fromArray(b.attentionMask, shape, { dtype: 'int32' }) : undefined,
    positions: b.positionIds ? Tensor.fromArray(b.positionIds, shape, { dtype: 'int32' }) : undefined,
    segments: b.segmentIds ? Tensor.fromArray(b.segmentIds, shape, { dtype: 'int32' }) : undefined,
  };
}

/** The forward options a batch carries besides ids and labels. */
export function forwardInputs(t: ReturnType<typeof batchTensors>): { attentionMask?: Tensor; positionIds?: Tensor; segmentIds?: Tensor } {
  return { attentionMask: t.mask, positionIds: t.positions, segmentIds: t.segments };
}

export function causalLmLoss(opts: { labelSmoothing?: number } = {}): LossFn {
  return (model: Module, b: Batch): StepLoss => {
    const m = model as StellarForCausalLM;
    const t = batchTensors(b);
    const out = m.forward(t.ids, { ...forwardInputs(t), labels: t.labels, labelSmoothing: opts.labelSmoothing });
    const metrics: Record<string, number> = {};
    if (out.auxLoss) metrics.aux_loss = out.auxLoss.item();
    if (out.zLoss) metrics.z_loss = out.zLoss.item();
    return { loss: out.loss!, tokens: countTargets(b), metrics };
  };
}
