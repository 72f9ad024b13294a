// stellar-train under `mpirun -np N`: joining the MPI world, the native threads each rank may use, and
// the checks a data-parallel run makes before it starts. Outside mpirun: a world of 1, MPI untouched.
import os from 'node:os';
import { ConfigError } from '@stellar/config';
import type { Module } from '@stellar/nn';
import { Generator } from '@stellar/tensor';
import { SINGLE_PROCESS, initDistributed, mpi, type DistributedContext, type LossFn } from '@stellar/train';
import type { RunConfig } from './schema';

/** Joins the MPI world when mpirun started this process (every rank must call it). */
export function startDistributed(env: NodeJS.ProcessEnv = process.env): DistributedContext {
  if (!mpi.launchedByMpirun(env)) return SINGLE_PROCESS;
  // Ranks often wait for rank 0 alone (data preparation, evaluation, checkpoints): yield the core then
  // instead of spinning on it. Open MPI reads this when MPI_Init runs, so it must be set before.
  if (env.OMPI_MCA_mpi_yield_when_idle === undefined) env.OMPI_MCA_mpi_yield_when_idle = '1';
  return initDistributed();
}

/** This rank's number from the launcher's variables, before MPI is initialized (for messages). */
export function launcherRank(env: NodeJS.ProcessEnv = process.env): { rank: number; size: number } | null {
  if (!mpi.launchedByMpirun(env)) return null;
  const rank = Number(env.OMPI_COMM_WORLD_RANK ?? env.PMIX_RANK ?? env.PMI_RANK ?? 0);
  const size = Number(env.OMPI_COMM_WORLD_SIZE ?? env.PMI_SIZE ?? 1);
  return { rank, size };
}

/**
 * Native threads per rank: max(1, floor(T / L)), where T is `threads` when > 0, else STELLAR_NUM_THREADS,
 * else the machine's cores, and L is the number of ranks on this machine (OMPI_COMM_WORLD_LOCAL_SIZE),
 * so that N ranks together use the budget one process would. A world of 1 keeps T (null = the
 * addon's default, which already reads STELLAR_NUM_THREADS).
 */
export function threadsPerRank(threads: number, ctx: DistributedContext, env: NodeJS.ProcessEnv = process.env, cores = os.cpus().length): number | null {
  const fromEnv = Math.floor(Number(env.STELLAR_NUM_THREADS));
  if (ctx.worldSize === 1) return threads > 0 ? threads : null;
  const budget = threads > 0 ? threads : fromEnv > 0 ? fromEnv : cores;
  const local = Math.floor(Number(env.OMPI_COMM_WORLD_LOCAL_SIZE ?? env.MPI_LOCALNRANKS)) || ctx.worldSize;
  return Math.max(1, Math.floor(budget / local));
}

/** The global batches a stage splits over the ranks: each must be divisible by the world size. */
export function checkGlobalBatches(cfg: RunConfig, ctx: DistributedContext): void {
  if (ctx.worldSize === 1) return;
  const keys: [string, number][] = cfg.stage === 'pipeline'
    ? [['train.batch_size', cfg.train.batch_size], ['sft_train.batch_size', cfg.sft_train.batch_size]]
    : cfg.stage === 'tokenizer' ? [] : [['train.batch_size', cfg.train.batch_size]];
  for (const [key, b] of keys) {
    if (b % ctx.worldSize !== 0) {
      throw new ConfigError(`${key}=${b} is the global batch (sequences per micro-batch over all ranks) and must be divisible by the ${ctx.worldSize} ranks; e.g. ${key}=${Math.max(1, Math.round(b / ctx.worldSize)) * ctx.worldSize}`);
    }
  }
}

/** Philox blocks between two ranks' stretches of a generator's stream (2^48 blocks = 2^50 values). */
const RANK_STRIDE = 1n << 48n;
const MASK64 = (1n << 64n) - 1n;

function shift(gens: Generator[], by: bigint): void {
  for (const g of gens) { const s = g.getState(); g.setState({ ...s, offset: ((BigInt(s.offset) + by) & MASK64).toString() }); }
}

/**
 * Dropout and router noise draw from generators that every rank holds in the same state (rank 0's after
 * a resume too), so the ranks would draw the same masks for their different rows. Rank r's training
 * micro-batches draw from its own stretch of the stream, r·2^48 blocks ahead, and the generators are
 * moved back afterwards: the ranks draw the same amounts, so their states stay equal and rank 0's
 * checkpoint stays right for every rank. Rank 0 and a world of 1 draw as before.
 */
export function perRankRandomness(lossFn: LossFn, model: Module, ctx: DistributedContext): LossFn {
  if (ctx.rank === 0) return lossFn;
  const gens: Generator[] = [];
  for (const [, sub] of model.namedModules()) {
    const g = (sub as unknown as { generator?: unknown }).generator;
    if (g instanceof Generator && !gens.includes(g)) gens.push(g);
  }
  const by = BigInt(ctx.rank) * RANK_STRIDE;
  return (m, b, training) => {
    if (!training) return lossFn(m, b, training);
    shift(gens, by);
    try { return lossFn(m, b, training); } finally { shift(gens, -by); }
  };
}
