// Who this process is in a data-parallel run: rank, world size and whether it is the main rank
// (the one that writes checkpoints and logs). A plain `node` start is a world of size 1.
import { finalize, launchedByMpirun, mpiInit } from './mpi';

export interface DistributedContext {
  rank: number;
  worldSize: number;
  /** Rank 0: writes checkpoints, logs and metrics; the other ranks only compute. */
  isMain: boolean;
  /** True when collectives go through MPI (started by mpirun with more than one rank). */
  usesMpi: boolean;
}

/** A world of size 1 that never touches MPI (single-process runs and tests). */
export const SINGLE_PROCESS: DistributedContext = Object.freeze({ rank: 0, worldSize: 1, isMain: true, usesMpi: false });

let current: DistributedContext | null = null;
let finalizeAtExit = true;

/**
 * For a rank that fails on its own: exit without MPI_Finalize. Finalize waits for the ranks still
 * blocked in a collective (for this rank's gradients), so the job would hang; a rank that exits
 * without it makes mpirun stop every rank.
 */
export function skipFinalizeAtExit(): void { finalizeAtExit = false; }

/**
 * Initializes MPI when the process was started by mpirun (idempotent) and finalizes it at exit.
 * Without mpirun, returns a world of size 1 and MPI is never loaded.
 */
export function initDistributed(): DistributedContext {
  if (current) return current;
  // checked here too so that a single-process run works even with an addon built without the MPI kernels
  if (!launchedByMpirun()) return (current = SINGLE_PROCESS);
  const s = mpiInit();
  if (!s.initialized) return (current = SINGLE_PROCESS);
  // mpirun reports a rank that exits without MPI_Finalize as failed, so finalize on every normal exit.
  process.once('exit', () => { if (finalizeAtExit) finalize(); });
  current = Object.freeze({ rank: s.rank, worldSize: s.worldSize, isMain: s.rank === 0, usesMpi: s.worldSize > 1 });
  return current;
}
