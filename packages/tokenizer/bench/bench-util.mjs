// The monorepo's shared bench helpers (stats, Markdown tables, writing <repo>/.bench/<name>.md), kept in
// packages/tensor/bench so every package's benches format and report alike. Not a benchmark itself.
export * from '../../tensor/bench/bench-util.mjs';
