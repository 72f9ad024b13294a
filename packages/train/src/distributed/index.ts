// Data parallelism over MPI: the rank context, gradient/weight synchronisation and data sharding.
export * from './context';
export * from './grad-sync';
export * from './sharded-source';
export * from './on-main';
/** The raw collectives (mpiInit, allreduceSum, allreduceSumF64, broadcast, barrier, finalize, ...). */
export * as mpi from './mpi';
export type { MpiState } from './mpi';
