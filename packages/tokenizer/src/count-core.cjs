// Word counting for the BPE trainer in plain JS with no imports: the main thread bundles it, count-worker.cjs loads it in workers.
'use strict';

/**
 * Adds the pre-tokenized pieces of each text to `table` (piece -> count). Special tokens (matched by
 * `specialRe`) are cut out first; every `splitRe` match is a piece, and so is any unmatched gap
 * (HF's "Isolated" behaviour, the same rule as `splitText` in pretokenize.ts).
 */
function countTexts(table, texts, splitRe, specialRe, maxWords) {
  let pruned = 0;
  for (const text of texts) {
    if (specialRe === null) pruned += countSegment(table, text, splitRe, maxWords);
    else for (const seg of text.split(specialRe)) pruned += countSegment(table, seg, splitRe, maxWords);
  }
  return pruned;
}

function countSegment(table, text, splitRe, maxWords) {
  let pruned = 0;
  let last = 0;
  splitRe.lastIndex = 0;
  for (let m = splitRe.exec(text); m !== null; m = splitRe.exec(text)) {
    const piece = m[0];
    if (piece.length === 0) {
      // An empty match would loop forever; step past it (one code point) like String.matchAll does.
      splitRe.lastIndex += text.codePointAt(m.index) > 0xffff ? 2 : 1;
      continue;
    }
    if (m.index > last) pruned += add(table, text.slice(last, m.index), maxWords);
    pruned += add(table, piece, maxWords);
    last = m.index + piece.length;
  }
  if (last < text.length) pruned += add(table, text.slice(last), maxWords);
  return pruned;
}

function add(table, piece, maxWords) {
  const c = table.get(piece);
  if (c !== undefined) {
    table.set(piece, c + 1);
    return 0;
  }
  table.set(piece, 1);
  return table.size > maxWords ? prune(table, maxWords) : 0;
}

/**
 * Drops the rarest entries (count 1 first, then 2, ...) until the table holds 3/4 of `maxWords`,
 * leaving room so pruning does not run on every new piece. Among equal counts the oldest entries go
 * first. Returns how many entries were dropped.
 */
function prune(table, maxWords) {
  const target = Math.floor(maxWords * 0.75);
  const before = table.size;
  if (before <= target) return 0;
  // t = the count of the last entry to drop when entries are ordered by count.
  const counts = new Float64Array(before);
  let i = 0;
  for (const c of table.values()) counts[i++] = c;
  counts.sort();
  const t = counts[before - target - 1];
  for (const [k, c] of table) if (c < t) table.delete(k);
  for (const [k, c] of table) {
    if (table.size <= target) break;
    if (c === t) table.delete(k);
  }
  return before - table.size;
}

/** Adds `from` into `into`, pruning `into` to `maxWords` entries if it grows past that. */
function mergeTables(into, from, maxWords) {
  for (const [k, c] of from) into.set(k, (into.get(k) || 0) + c);
  return into.size > maxWords ? prune(into, maxWords) : 0;
}

module.exports = { countTexts, mergeTables, prune };
