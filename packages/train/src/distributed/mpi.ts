// Thin typed calls into the addon's MPI kernels (csrc/mpi/mpi.cc): init, collectives, finalize.
// Outside mpirun the kernels act as a world of size 1 and never load MPI.
import { Tensor, kernelArgs } from '@stellar/tensor';

export interface MpiState {
  /** The process was started by mpirun (OMPI_COMM_WORLD_SIZE / PMI_SIZE / PMIX_RANK set). */
  launched: boolean;
  /** libmpi.so (Open MPI) could be loaded. */
  available: boolean;
  /** MPI_Init_thread has run and MPI_Finalize has not. */
  initialized: boolean;
  rank: number;
  worldSize: number;
}

function state(kernelName: string): MpiState {
  const out = Tensor.empty([5], { dtype: 'int32' });
  try {
    kernelArgs.begin().tensor(out).run('mpi', kernelName);
    const s = out.data() as Int32Array;
    return { launched: s[0] === 1, available: s[1] === 1, initialized: s[2] === 1, rank: s[3], worldSize: s[4] };
  } finally {
    out.dispose();
  }
}

/** Whether mpirun (Open MPI, or a PMI launcher) started this process; the addon checks the same variables. */
export function launchedByMpirun(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.OMPI_COMM_WORLD_SIZE || env.PMI_SIZE || env.PMIX_RANK);
}

/** Whether this addon build has the MPI kernels (an older build of @stellar/native may not). */
export function mpiCompiled(): boolean {
  try { state('state'); return true; } catch { return false; }
}

/** Whether Open MPI's libmpi.so can be loaded here (does not initialize MPI). */
export function mpiAvailable(): boolean {
  try { return state('state').available; } catch { return false; }
}

/** Initializes MPI once when started by mpirun; otherwise reports a world of size 1 without touching MPI. */
export function mpiInit(): MpiState { return state('init'); }

/** Current state without initializing anything. */
export function mpiState(): MpiState { return state('state'); }

/** In place: each float32 tensor becomes `scale` × its sum over ranks (one bucketed collective for all). */
export function allreduceSumTensors(tensors: Tensor[], scale = 1): void {
  if (tensors.length === 0) return;
  const a = kernelArgs.begin().num(scale).num(tensors.length);
  for (const t of tensors) {
    if (t.dtype !== 'float32') throw new Error(`allreduceSum: float32 tensors only, got ${t.dtype}`);
    if (t.device !== 'cpu') throw new Error(`allreduceSum: CPU tensors only, got ${t.device}`);
    if (!t.isContiguous) throw new Error('allreduceSum: tensors must be contiguous');
    a.tensor(t);
  }
  a.run('mpi', 'allreduce_f32');
}

/** In place: a Float32Array becomes its elementwise sum over ranks. */
export function allreduceSum(buf: Float32Array): void {
  if (buf.length === 0) return;
  const t = Tensor.fromArray(buf, [buf.length]);
  try {
    allreduceSumTensors([t]);
    buf.set(t.data() as Float32Array);
  } finally {
    t.dispose();
  }
}

/** Elementwise float64 sum over ranks (loss sums, token counts), returned as a new array. */
export function allreduceSumF64(values: readonly number[] | Float64Array): Float64Array {
  const f = Float64Array.from(values);
  if (f.length === 0) return f;
  // The tensor library has no float64 dtype: an int64 tensor carries the float64 bit patterns.
  const t = Tensor.fromArray(new BigInt64Array(f.buffer), [f.length], { dtype: 'int64' });
  try {
    kernelArgs.begin().tensor(t).run('mpi', 'allreduce_f64');
    const bits = t.data() as BigInt64Array;
    return new Float64Array(bits.buffer, bits.byteOffset, bits.length);
  } finally {
    t.dispose();
  }
}

/** In place: every rank's tensors receive rank `root`'s bytes (any dtype; contiguous CPU tensors). */
export function broadcastTensors(tensors: Tensor[], root = 0): void {
  if (tensors.length === 0) return;
  const a = kernelArgs.begin().num(root).num(tensors.length);
  for (const t of tensors) {
    if (t.device !== 'cpu' || !t.isContiguous) throw new Error('broadcast: contiguous CPU tensors only');
    a.tensor(t);
  }
  a.run('mpi', 'broadcast');
}

/** In place: every rank's buffer receives rank `root`'s contents. */
export function broadcast(buf: Float32Array, root = 0): void {
  if (buf.length === 0) return;
  const t = Tensor.fromArray(buf, [buf.length]);
  try {
    broadcastTensors([t], root);
    buf.set(t.data() as Float32Array);
  } finally {
    t.dispose();
  }
}

/**
 * Rank `root`'s value (anything JSON can carry: a run directory, a status) on every rank; the other
 * ranks' `value` is ignored. Every rank must call it. Outside MPI it returns `value` unchanged.
 */
export function broadcastJson<T>(value: T | undefined, root = 0): T {
  const s = mpiState();
  if (!s.initialized || s.worldSize === 1) return value as T;
  const bytes = s.rank === root ? new TextEncoder().encode(JSON.stringify(value ?? null)) : new Uint8Array(0);
  // no uint8 dtype: the length, then the bytes packed into int32 words
  const len = Tensor.fromArray(Int32Array.of(bytes.length), [1], { dtype: 'int32' });
  let n: number;
  try {
    broadcastTensors([len], root);
    n = (len.data() as Int32Array)[0];
  } finally {
    len.dispose();
  }
  const words = new Int32Array(Math.ceil(n / 4));
  new Uint8Array(words.buffer).set(bytes);
  const t = Tensor.fromArray(words, [words.length], { dtype: 'int32' });
  try {
    broadcastTensors([t], root);
    const got = t.data() as Int32Array;
    return JSON.parse(new TextDecoder().decode(new Uint8Array(got.buffer, got.byteOffset, n))) as T;
  } finally {
    t.dispose();
  }
}

export function barrier(): void { kernelArgs.begin().run('mpi', 'barrier'); }

/** MPI_Finalize if we initialized MPI (idempotent); later collectives act as a world of size 1. */
export function finalize(): void { kernelArgs.begin().run('mpi', 'finalize'); }
