// The schema of every stellar-train run: what each config group (model, data, train, lora, distill,
// reward, dpo, rollout, ppo, grpo) may hold, with types, defaults and one line of documentation per key (shown by --help).
const int = (d: number, doc: string) => ({ format: 'nat', default: d, doc });
const pint = (d: number, doc: string) => ({ format: 'positive-int', default: d, doc });
const pnum = (d: number, doc: string) => ({ format: 'positive-number', default: d, doc });
const nnum = (d: number, doc: string) => ({ format: 'non-negative-number', default: d, doc });
const prob = (d: number, doc: string) => ({ format: 'probability', default: d, doc });
const bool = (d: boolean, doc: string) => ({ format: Boolean, default: d, doc });
const str = (d: string, doc: string) => ({ format: String, default: d, doc });
const list = (d: string[], doc: string) => ({ format: 'string-list', default: d, doc });

function trainGroup(d: { steps: number; lr: number; seq_len: number; warmup_steps: number; eval_every: number }) {
  return {
    steps: pint(d.steps, 'optimizer steps'),
    batch_size: pint(16, 'sequences per micro-batch, over all ranks under mpirun (each takes batch_size / N)'),
    seq_len: pint(d.seq_len, 'tokens per pretraining sequence / max SFT length'),
    grad_accum: pint(1, 'micro-batches per step'),
    optimizer: { format: ['adamw', 'muon', 'sgd'], default: 'adamw', doc: 'optimizer' },
    lr: pnum(d.lr, 'peak learning rate (Muon: of the matrices)'),
    adamw_lr: nnum(0, 'Muon only: lr of the AdamW part (0 = lr)'),
    weight_decay: nnum(0.1, 'decoupled weight decay (matrices only)'),
    beta1: prob(0.9, 'Adam beta1'),
    beta2: prob(0.95, 'Adam beta2'),
    momentum: prob(0.9, 'SGD / Muon momentum'),
    schedule: { format: ['cosine', 'wsd', 'constant'], default: 'cosine', doc: 'lr schedule' },
    warmup_steps: int(d.warmup_steps, 'linear warmup steps'),
    min_lr_ratio: prob(0.1, 'final lr as a fraction of the peak'),
    clip: nnum(1, 'global gradient-norm clip (0 = off)'),
    precision: { format: ['fp32', 'bf16'], default: 'fp32', doc: 'compute precision: bf16 = matmuls in bf16 (autocast), weights/grads/optimizer stay fp32' },
    label_smoothing: prob(0, 'label smoothing of the LM loss'),
    ema_decay: prob(0, 'weight EMA decay (0 = off)'),
    eval_every: int(d.eval_every, 'evaluate every N steps (0 = at the end)'),
    eval_batches: pint(8, 'validation batches per evaluation'),
    save_every: int(0, 'checkpoint every N steps (0 = at the end)'),
    keep_last: pint(2, 'checkpoints kept'),
    log_every: pint(10, 'log a line every N steps when not on a terminal'),
    tensorboard: bool(true, 'write TensorBoard event files'),
  };
}

export const schema = {
  stage: { format: ['pipeline', 'tokenizer', 'pretrain', 'sft', 'lora', 'distill', 'reward', 'dpo', 'ppo', 'grpo'], default: 'pretrain', doc: 'what to run' },
  rlhf: { format: ['ppo', 'dpo', 'grpo', 'none'], default: 'grpo', doc: 'pipeline only: the RLHF stage after SFT (ppo with rollout.reward=model also trains a reward model first)' },
  name: str('', 'run name (default: the stage)'),
  run_dir: str('runs', 'runs are written to <run_dir>/<stage>/<timestamp>/'),
  seed: int(0, 'seed of weights, data order and dropout'),
  threads: int(0, 'native threads (0 = STELLAR_NUM_THREADS or all cores); under mpirun split over the ranks of a machine'),
  init: str('', 'model directory to start from (HF layout); empty = fresh weights (pretrain) or the pipeline\'s previous stage'),
  tokenizer: str('', 'tokenizer directory; empty = train one (pipeline) or the one next to `init`'),
  resume: str('', '"latest" to resume the newest run of this stage, or a run directory'),
  model: {
    dim: pint(128, 'hidden size'),
    n_layers: pint(4, 'decoder layers'),
    n_heads: pint(4, 'query heads'),
    n_kv_heads: int(0, 'key/value heads (0 = n_heads; fewer = GQA)'),
    ffn_dim: pint(344, 'SwiGLU hidden size'),
    vocab_size: int(0, 'vocabulary (0 = the tokenizer\'s)'),
    max_seq_len: pint(512, 'max_position_embeddings'),
    rope_theta: pnum(10000, 'RoPE base'),
    norm_eps: pnum(1e-5, 'RMSNorm epsilon'),
    tie_embeddings: bool(true, 'share the embedding and output matrices'),
    init_std: pnum(0.02, 'std of the normal init'),
    hidden_dropout: prob(0, 'dropout on each residual branch'),
    drop_path: prob(0, 'stochastic depth (last layer)'),
    layer_scale_init: nnum(0, 'LayerScale init (0 = off)'),
    parallel_residual: bool(false, 'attention and MLP from one normed input'),
    attention_gate: bool(false, 'sigmoid-gated attention output'),
    num_experts: int(0, 'MoE experts per layer (0 = dense)'),
    experts_per_tok: pint(2, 'MoE top-k'),
    gradient_checkpointing: bool(false, 'recompute layers in backward'),
  },
  data: {
    pretrain: list(['builtin'], 'pretraining text: "builtin" (State of the Union + Moby-Dick) and/or files/globs'),
    format: { format: ['auto', 'text', 'jsonl'], default: 'auto', doc: 'input format of user files' },
    field: str('text', 'JSONL field holding the text'),
    val_fraction: prob(0.02, 'documents held out for validation'),
    sft: list(['builtin'], 'SFT conversations: "builtin" (generated tasks) and/or JSONL files'),
    sft_per_task: pint(600, 'built-in SFT items per task family'),
    system_prompt: str('', 'system prompt prepended to SFT conversations without one'),
    sft_pack: bool(false, 'pack several SFT conversations into each sequence of sft_train.seq_len tokens (segment ids keep them apart)'),
    on_bad_record: { format: ['skip', 'fail'], default: 'skip', doc: 'malformed records: skip (counted, first messages shown) or fail' },
    preferences: list(['builtin'], 'reward / dpo pairs: "builtin" (task answers vs plausible wrong ones) and/or JSONL {prompt, chosen, rejected[, margin]}'),
    prompts: list(['builtin'], 'ppo / grpo prompts: "builtin" (held-in task prompts with reference answers) and/or JSONL {prompt, reference?, task?}'),
    rl_per_task: pint(300, 'built-in preference pairs / RL prompts per task family'),
    tokenizer_vocab: pint(4096, 'vocabulary of a tokenizer trained by the pipeline'),
    tokenizer_pattern: { format: ['gpt2', 'gpt4', 'qwen2'], default: 'qwen2', doc: 'pre-tokenization regex (qwen2 = GPT-4 style with every digit its own token, which arithmetic needs)' },
  },
  train: trainGroup({ steps: 200, lr: 1e-3, seq_len: 128, warmup_steps: 20, eval_every: 100 }),
  /** The pipeline's SFT stage uses these instead of `train`. */
  sft_train: trainGroup({ steps: 300, lr: 5e-4, seq_len: 96, warmup_steps: 10, eval_every: 100 }),
  /** The pipeline's reward stage uses these instead of `train`. */
  rm_train: trainGroup({ steps: 150, lr: 1e-4, seq_len: 96, warmup_steps: 10, eval_every: 0 }),
  /** The pipeline's RLHF stage (dpo, ppo, grpo) uses these instead of `train`; for ppo / grpo steps = iterations, batch_size = prompts per iteration. */
  rl_train: trainGroup({ steps: 40, lr: 2e-5, seq_len: 96, warmup_steps: 0, eval_every: 0 }),
  lora: {
    r: pint(8, 'adapter rank'),
    alpha: pnum(16, 'scaling numerator (scale = alpha / r)'),
    dropout: prob(0.05, 'adapter input dropout'),
    targets: list(['q_proj', 'v_proj'], 'module names to adapt'),
    merge: bool(true, 'merge the adapters into final/ (the adapter files are saved too)'),
  },
  distill: {
    teacher: str('', 'teacher model directory (HF layout)'),
    temperature: pnum(2, 'softening temperature'),
    alpha: prob(0.5, 'weight of the KL term (1 - alpha for cross-entropy)'),
  },
  reward: {
    margin: nnum(0, 'margin m in -log sigmoid(r_chosen - r_rejected - m) for pairs without their own'),
    center_coef: nnum(0, 'reward-centering coefficient: + coef * mean((r_c + r_r)^2)'),
    eval_pairs: int(128, 'held-out pairs scored for pairwise accuracy (0 = skip)'),
  },
  dpo: {
    beta: pnum(0.1, 'strength of the implicit KL to the reference'),
    loss: { format: ['sigmoid', 'ipo'], default: 'sigmoid', doc: 'sigmoid = DPO, ipo = IPO' },
    label_smoothing: prob(0, 'conservative DPO: assumed probability that a pair is mislabelled (< 0.5)'),
  },
  rollout: {
    reward: { format: ['rule', 'model'], default: 'rule', doc: 'ppo / grpo scores: rule = 1 if the answer checks against the prompt\'s reference, model = rollout.reward_model' },
    reward_model: str('', 'reward model directory (a reward stage\'s final/) for rollout.reward=model'),
    temperature: pnum(0.7, 'sampling temperature (log-probs use the same)'),
    top_k: int(0, 'top-k sampling (0 = off)'),
    top_p: pnum(1, 'nucleus sampling, in (0, 1] (1 = off)'),
    max_new_tokens: pint(16, 'tokens generated per response'),
    max_prompt_len: pint(96, 'longer prompts are dropped'),
  },
  ppo: {
    critic: { format: ['shared', 'separate'], default: 'shared', doc: 'value head on the policy trunk, or a separate critic model initialised from init' },
    kl_estimator: { format: ['k1', 'k3'], default: 'k1', doc: 'per-token KL estimate in the reward' },
    kl_coef: nnum(0.05, 'KL penalty coefficient (initial value when adaptive)'),
    kl_target: nnum(0, 'adaptive KL controller target per sequence (0 = fixed coefficient)'),
    kl_horizon: pint(10000, 'adaptive KL controller horizon in samples'),
    gamma: nnum(1, 'discount, in [0, 1]'),
    lambda: nnum(0.95, 'GAE lambda, in [0, 1]'),
    whiten: bool(true, 'whiten advantages over the batch'),
    clip_range: pnum(0.2, 'policy ratio clip'),
    clip_range_value: pnum(0.2, 'value clip'),
    vf_coef: nnum(0.1, 'value loss weight'),
    epochs: pint(4, 'passes over each rollout batch'),
    minibatches: pint(2, 'minibatches per pass (must divide batch_size)'),
    target_kl: nnum(0, 'stop an iteration\'s updates once approx KL to the rollout policy exceeds this (0 = off)'),
  },
  grpo: {
    num_generations: pint(8, 'samples per prompt (>= 2)'),
    epsilon_low: pnum(0.2, 'lower ratio clip'),
    epsilon_high: nnum(0, 'upper ratio clip (0 = epsilon_low)'),
    beta: nnum(0.04, 'k3 KL coefficient (0 = no reference model)'),
    scale_rewards: bool(true, 'divide advantages by the group std (false = Dr. GRPO)'),
    aggregate: { format: ['sequence', 'token'], default: 'sequence', doc: 'loss averaging: per sequence, then over sequences; or over all tokens' },
    iterations: pint(1, 'passes over each rollout (mu)'),
    minibatches: pint(2, 'minibatches per pass (must divide batch_size * num_generations)'),
  },
  eval: {
    samples: int(64, 'held-out task prompts answered per evaluation (0 = skip)'),
    max_new_tokens: pint(24, 'tokens generated per answer'),
  },
};

export interface RunConfig {
  stage: 'pipeline' | 'tokenizer' | 'pretrain' | 'sft' | 'lora' | 'distill' | 'reward' | 'dpo' | 'ppo' | 'grpo';
  rlhf: 'ppo' | 'dpo' | 'grpo' | 'none';
  name: string; run_dir: string; seed: number; threads: number; init: string; tokenizer: string; resume: string;
  model: {
    dim: number; n_layers: number; n_heads: number; n_kv_heads: number; ffn_dim: number; vocab_size: number; max_seq_len: number;
    rope_theta: number; norm_eps: number; tie_embeddings: boolean; init_std: number; hidden_dropout: number; drop_path: number;
    layer_scale_init: number; parallel_residual: boolean; attention_gate: boolean; num_experts: number; experts_per_tok: number;
    gradient_checkpointing: boolean;
  };
  data: {
    pretrain: string[]; format: 'auto' | 'text' | 'jsonl'; field: string; val_fraction: number; sft: string[]; sft_per_task: number;
    system_prompt: string; sft_pack: boolean; preferences: string[]; prompts: string[]; rl_per_task: number; on_bad_record: 'skip' | 'fail'; tokenizer_vocab: number; tokenizer_pattern: 'gpt2' | 'gpt4' | 'qwen2';
  };
  train: {
    steps: number; batch_size: number; seq_len: number; grad_accum: number; optimizer: 'adamw' | 'muon' | 'sgd'; lr: number; adamw_lr: number;
    weight_decay: number; beta1: number; beta2: number; momentum: number; schedule: 'cosine' | 'wsd' | 'constant'; warmup_steps: number;
    min_lr_ratio: number; clip: number; precision: 'fp32' | 'bf16'; label_smoothing: number; ema_decay: number; eval_every: number; eval_batches: number;
    save_every: number; keep_last: number; log_every: number; tensorboard: boolean;
  };
  sft_train: RunConfig['train'];
  rm_train: RunConfig['train'];
  rl_train: RunConfig['train'];
  reward: { margin: number; center_coef: number; eval_pairs: number };
  dpo: { beta: number; loss: 'sigmoid' | 'ipo'; label_smoothing: number };
  rollout: { reward: 'rule' | 'model'; reward_model: string; temperature: number; top_k: number; top_p: number; max_new_tokens: number; max_prompt_len: number };
  ppo: {
    critic: 'shared' | 'separate'; kl_estimator: 'k1' | 'k3'; kl_coef: number; kl_target: number; kl_horizon: number; gamma: number; lambda: number;
    whiten: boolean; clip_range: number; clip_range_value: number; vf_coef: number; epochs: number; minibatches: number; target_kl: number;
  };
  grpo: { num_generations: number; epsilon_low: number; epsilon_high: number; beta: number; scale_rewards: boolean; aggregate: 'sequence' | 'token'; iterations: number; minibatches: number };
  lora: { r: number; alpha: number; dropout: number; targets: string[]; merge: boolean };
  distill: { teacher: string; temperature: number; alpha: number };
  eval: { samples: number; max_new_tokens: number };
}
