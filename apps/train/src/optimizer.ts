// The run config's `train` group -> an optimizer over the model's trainable parameters.
import type { Module } from '@stellar/nn';
import { AdamW, Muon, SGD, type Optimizer } from '@stellar/train';
import type { RunConfig } from './schema';

export function makeOptimizer(t: RunConfig['train'], model: Module): Optimizer {
  const params = [...model.namedParameters()];
  switch (t.optimizer) {
    case 'adamw': return new AdamW(params, { lr: t.lr, beta1: t.beta1, beta2: t.beta2, weightDecay: t.weight_decay });
    case 'muon': return new Muon(params, { lr: t.lr, momentum: t.momentum, weightDecay: t.weight_decay,
      adamw: { lr: t.adamw_lr || t.lr, beta1: t.beta1, beta2: t.beta2, weightDecay: t.weight_decay } });
    case 'sgd': return new SGD(params, { lr: t.lr, momentum: t.momentum, weightDecay: t.weight_decay });
  }
}
