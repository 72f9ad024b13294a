// The shared bench helpers (timing, medians, machine description) live with @stellar/tensor's benches.
export * from '../../tensor/bench/bench-util.mjs';
