// Encodes a chunk of documents into one flat token array (each document followed by EOS): the unit of work of pretokenization.
import type { Tokenizer } from '@stellar/tokenizer';

export interface EncodedChunk {
  /** All documents' tokens back to back, EOS included. */
  tokens: Uint32Array;
  /** Token count of each document (EOS included). */
  lengths: Uint32Array;
}

export function encodeChunk(tok: Tokenizer, texts: readonly string[], eosId: number): EncodedChunk {
  const parts: number[][] = [];
  let total = 0;
  for (const t of texts) {
    // Special tokens of the tokenizer's post-processor (BOS) are not added: documents are separated by EOS only.
    const ids = tok.encode(t, { addSpecialTokens: false });
    ids.push(eosId);
    parts.push(ids);
    total += ids.length;
  }
  const tokens = new Uint32Array(total);
  const lengths = new Uint32Array(parts.length);
  let off = 0;
  parts.forEach((p, i) => {
    tokens.set(p, off);
    off += p.length;
    lengths[i] = p.length;
  });
  return { tokens, lengths };
}
