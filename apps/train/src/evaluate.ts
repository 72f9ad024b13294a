// Held-out task accuracy: greedy answers to the built-in task prompts that training never saw,
// scored by the tasks' rule-based checker, with a few sample answers to show.
import { StellarForCausalLM, generate } from '@stellar/nn';
import type { Tokenizer } from '@stellar/tokenizer';
import { builtinPrompts, isCorrect, type PromptSample, type TaskName } from '@stellar/data';

export interface TaskEval {
  accuracy: number;
  byTask: Record<string, { correct: number; total: number }>;
  samples: { prompt: string; answer: string; reference: string; correct: boolean }[];
}

/** A fixed, task-balanced selection of held-out task prompts: every k-th one. */
export function heldOutPrompts(opts: { samples: number; seed?: number; perTask?: number }): PromptSample[] {
  const { test } = builtinPrompts({ seed: opts.seed ?? 0, perTask: opts.perTask ?? 600 });
  const step = Math.max(1, Math.floor(test.length / Math.max(1, opts.samples)));
  return test.filter((_, i) => i % step === 0).slice(0, opts.samples);
}

export function evaluateTasks(model: StellarForCausalLM, tok: Tokenizer, opts: { samples: number; maxNewTokens: number; seed?: number; perTask?: number }): TaskEval {
  const chosen = heldOutPrompts(opts);
  const eos = tok.vocab.get('<|im_end|>') ?? (tok.eosToken ? tok.vocab.get(tok.eosToken) : undefined);
  const byTask: TaskEval['byTask'] = {};
  const samples: TaskEval['samples'] = [];
  let correct = 0;
  for (let i = 0; i < chosen.length; i += 16) {
    const group = chosen.slice(i, i + 16);
    const prompts = group.map((p) => tok.encodeChat([{ role: 'user', content: p.prompt }], { addGenerationPrompt: true }).ids);
    const res = generate(model, prompts, { maxNewTokens: opts.maxNewTokens, temperature: 0, eosTokenId: eos });
    group.forEach((p, j) => {
      const answer = tok.decode(res.tokens[j], { skipSpecialTokens: true }).trim();
      const ok = isCorrect(p.task as TaskName, answer, p.reference);
      const t = (byTask[p.task] ??= { correct: 0, total: 0 });
      t.total++;
      if (ok) { t.correct++; correct++; }
      if (samples.length < 8 && (i + j) % 3 === 0) samples.push({ prompt: p.prompt, answer, reference: p.reference, correct: ok });
    });
  }
  return { accuracy: chosen.length ? correct / chosen.length : 0, byTask, samples };
}
