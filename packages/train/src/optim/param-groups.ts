// Which parameters get weight decay: matrices do; norms, biases, LayerScale vectors and embedding
// tables do not (the GPT-2/LLaMA recipe). Names are the model's dotted HF names.
import type { Parameter } from '@stellar/nn';

export interface NamedParam { name: string; param: Parameter }

/** Default rule: decay tensors with >= 2 dims except embeddings (`embed_tokens`, `wte`, `embeddings`). */
export function decays(name: string, param: Parameter): boolean {
  return param.shape.length >= 2 && !/(^|\.)(embed_tokens|wte|wpe|embeddings?)(\.|$)/.test(name);
}

/** Trainable parameters (requiresGrad) in model order, split by the decay rule. */
export function splitDecay(params: Iterable<[string, Parameter]>, rule = decays): { decay: NamedParam[]; noDecay: NamedParam[] } {
  const decay: NamedParam[] = [], noDecay: NamedParam[] = [];
  for (const [name, param] of params) {
    if (!param.data.requiresGrad) continue;
    (rule(name, param) ? decay : noDecay).push({ name, param });
  }
  return { decay, noDecay };
}
