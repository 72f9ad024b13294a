// Types for count-core.cjs (the word-counting code shared by the main thread and the counting workers).

/** Adds each text's pieces to `table`; returns how many entries pruning dropped (0 unless `maxWords` was hit). */
export function countTexts(table: Map<string, number>, texts: readonly string[], splitRe: RegExp, specialRe: RegExp | null, maxWords: number): number;
/** Adds `from` into `into`; returns how many entries pruning dropped. */
export function mergeTables(into: Map<string, number>, from: Map<string, number>, maxWords: number): number;
/** Drops the rarest entries (oldest first among equal counts) until the table holds 3/4 of `maxWords`; returns how many were dropped. */
export function prune(table: Map<string, number>, maxWords: number): number;
