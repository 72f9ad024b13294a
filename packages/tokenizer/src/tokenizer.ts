// The byte-level BPE tokenizer: added/special tokens, regex pre-tokenization, rank-ordered merges, exact decode.
import { BYTE_TO_CHAR, CHAR_TO_BYTE, toByteLevel } from './byte-level';
import { compilePattern, GPT2_PATTERN, splitText } from './pretokenize';

/** Ids are capped so a hostile file cannot make us allocate huge id tables. */
export const MAX_ID = 1 << 24;

export interface AddedToken {
  id: number;
  content: string;
  /** Special tokens are skipped by `decode(..., {skipSpecialTokens: true})`. */
  special: boolean;
}

export interface TokenizerSpec {
  /** Byte-level token string -> id; must contain all 256 byte chars. */
  vocab: Map<string, number>;
  /** Merge rules in rank order (rank 0 is applied first). */
  merges: [string, string][];
  /** Tokens matched verbatim in the text before pre-tokenization. */
  addedTokens?: AddedToken[];
  /** Split regex in HF (Oniguruma) syntax; GPT-2's by default. */
  pattern?: string;
  /** Prepend a space to each text segment that does not start with one (HF ByteLevel `add_prefix_space`). */
  addPrefixSpace?: boolean;
  /** A piece that is already a vocab token is emitted whole without merging (HF BPE `ignore_merges`, Llama-3). */
  ignoreMerges?: boolean;
  /** Unicode normalization applied before splitting (Qwen uses NFC). */
  normalizer?: 'NFC' | null;
  bosToken?: string | null;
  eosToken?: string | null;
  padToken?: string | null;
  /** tokenizer_config.json `add_bos_token` / `add_eos_token`: what `encode(text, { addSpecialTokens: true })` adds. */
  addBosToken?: boolean;
  addEosToken?: boolean;
}

const utf8Decoder = new TextDecoder('utf-8');
const utf8Encoder = new TextEncoder();
const CACHE_LIMIT = 1 << 16;

export class Tokenizer {
  readonly vocab: ReadonlyMap<string, number>;
  readonly merges: readonly [string, string][];
  readonly addedTokens: readonly AddedToken[];
  readonly pattern: string;
  readonly addPrefixSpace: boolean;
  readonly ignoreMerges: boolean;
  readonly normalizer: 'NFC' | null;
  readonly bosToken: string | null;
  readonly eosToken: string | null;
  readonly padToken: string | null;
  readonly addBosToken: boolean;
  readonly addEosToken: boolean;

  private readonly idToToken: (string | undefined)[] = [];
  private readonly addedById = new Map<number, AddedToken>();
  private readonly addedByContent = new Map<string, number>();
  private readonly addedRe: RegExp | null;
  private readonly splitRe: RegExp;
  private readonly byteIds = new Int32Array(256);
  /** (left id * MAX_ID + right id) -> rank; mergeResult[rank] is the merged id. */
  private readonly mergeRank = new Map<number, number>();
  private readonly mergeResult: Int32Array;
  private readonly cache = new Map<string, number[]>();

  constructor(spec: TokenizerSpec) {
    this.vocab = spec.vocab;
    this.merges = spec.merges;
    this.addedTokens = spec.addedTokens ?? [];
    this.pattern = spec.pattern ?? GPT2_PATTERN;
    this.addPrefixSpace = spec.addPrefixSpace ?? false;
    this.ignoreMerges = spec.ignoreMerges ?? false;
    this.normalizer = spec.normalizer ?? null;
    this.bosToken = spec.bosToken ?? null;
    this.eosToken = spec.eosToken ?? null;
    this.padToken = spec.padToken ?? null;
    this.addBosToken = spec.addBosToken ?? false;
    this.addEosToken = spec.addEosToken ?? false;
    if (this.addBosToken && this.bosToken === null) throw new Error('tokenizer: add_bos_token is set but there is no bos_token');
    if (this.addEosToken && this.eosToken === null) throw new Error('tokenizer: add_eos_token is set but there is no eos_token');

    for (const [tok, id] of spec.vocab) {
      if (!Number.isInteger(id) || id < 0 || id >= MAX_ID) throw new Error(`tokenizer: vocab id ${id} of ${JSON.stringify(tok)} is not an integer in [0, ${MAX_ID})`);
      if (this.idToToken[id] !== undefined) throw new Error(`tokenizer: vocab id ${id} is used by both ${JSON.stringify(this.idToToken[id])} and ${JSON.stringify(tok)}`);
      this.idToToken[id] = tok;
    }
    for (let b = 0; b < 256; b++) {
      const id = spec.vocab.get(BYTE_TO_CHAR[b]);
      if (id === undefined) throw new Error(`tokenizer: vocab lacks the byte-level token for byte ${b} (${JSON.stringify(BYTE_TO_CHAR[b])})`);
      this.byteIds[b] = id;
    }
    this.mergeResult = new Int32Array(spec.merges.length);
    spec.merges.forEach(([a, b], rank) => {
      const ia = spec.vocab.get(a);
      const ib = spec.vocab.get(b);
      const ir = spec.vocab.get(a + b);
      if (ia === undefined || ib === undefined || ir === undefined) {
        const missing = ia === undefined ? a : ib === undefined ? b : a + b;
        throw new Error(`tokenizer: merge ${rank} (${JSON.stringify(a)} ${JSON.stringify(b)}) refers to unknown token ${JSON.stringify(missing)}`);
      }
      const key = ia * MAX_ID + ib;
      // A repeated merge keeps its first (best) rank, as HF does.
      if (!this.mergeRank.has(key)) this.mergeRank.set(key, rank);
      this.mergeResult[rank] = ir;
    });
    for (const t of this.addedTokens) {
      if (!Number.isInteger(t.id) || t.id < 0 || t.id >= MAX_ID) throw new Error(`tokenizer: added token id ${t.id} is not an integer in [0, ${MAX_ID})`);
      if (t.content.length === 0) throw new Error(`tokenizer: added token ${t.id} has empty content`);
      const vid = spec.vocab.get(t.content);
      if (vid !== undefined && vid !== t.id) throw new Error(`tokenizer: added token ${JSON.stringify(t.content)} has id ${t.id} but the vocab gives it ${vid}`);
      if (this.idToToken[t.id] !== undefined && this.idToToken[t.id] !== t.content) {
        throw new Error(`tokenizer: added token ${JSON.stringify(t.content)} reuses id ${t.id} of ${JSON.stringify(this.idToToken[t.id])}`);
      }
      this.idToToken[t.id] = t.content;
      this.addedById.set(t.id, t);
      this.addedByContent.set(t.content, t.id);
    }
    // Longest first, so at any position the longest added token wins (HF's leftmost-longest matching).
    const contents = [...this.addedByContent.keys()].sort((a, b) => b.length - a.length);
    this.addedRe = contents.length ? new RegExp(contents.map(escapeRegExp).join('|'), 'gu') : null;
    this.splitRe = compilePattern(this.pattern);
    for (const t of [this.bosToken, this.eosToken, this.padToken]) {
      if (t !== null && this.tokenToId(t) === undefined) throw new Error(`tokenizer: bos/eos/pad token ${JSON.stringify(t)} is not in the vocabulary`);
    }
  }

  /** Number of ids in use (largest id + 1). */
  get vocabSize(): number {
    return this.idToToken.length;
  }

  tokenToId(token: string): number | undefined {
    return this.addedByContent.get(token) ?? this.vocab.get(token);
  }

  idToTokenString(id: number): string | undefined {
    return this.idToToken[id];
  }

  /** Text -> ids; with `addSpecialTokens`, BOS/EOS are added as the config's add_bos_token/add_eos_token say. */
  encode(text: string, opts: { addSpecialTokens?: boolean } = {}): number[] {
    const ids = this.encodeText(text);
    if (!opts.addSpecialTokens) return ids;
    if (this.addBosToken) ids.unshift(this.tokenToId(this.bosToken!)!);
    if (this.addEosToken) ids.push(this.tokenToId(this.eosToken!)!);
    return ids;
  }

  /** Added tokens are matched first; the text between them is normalized, split and BPE-merged. */
  private encodeText(text: string): number[] {
    const ids: number[] = [];
    for (const seg of this.splitAdded(text)) {
      if (typeof seg === 'number') {
        ids.push(seg);
        continue;
      }
      let s = this.normalizer === 'NFC' ? seg.normalize('NFC') : seg;
      if (this.addPrefixSpace && !s.startsWith(' ')) s = ' ' + s;
      for (const piece of splitText(s, this.splitRe)) for (const id of this.bpe(piece)) ids.push(id);
    }
    return ids;
  }

  /** Ids -> text. Bytes of consecutive tokens are joined before UTF-8 decoding, so split characters reassemble. */
  decode(ids: readonly number[], opts: { skipSpecialTokens?: boolean } = {}): string {
    const bytes: number[] = [];
    for (const id of ids) {
      const added = this.addedById.get(id);
      if (added) {
        if (!(added.special && opts.skipSpecialTokens)) for (const b of utf8Encoder.encode(added.content)) bytes.push(b);
        continue;
      }
      const tok = this.idToToken[id];
      if (tok === undefined) throw new Error(`tokenizer: decode got unknown id ${id}`);
      for (const ch of tok) {
        const b = CHAR_TO_BYTE.get(ch.charCodeAt(0));
        if (b !== undefined && ch.length === 1) bytes.push(b);
        else for (const x of utf8Encoder.encode(ch)) bytes.push(x);
      }
    }
    return utf8Decoder.decode(new Uint8Array(bytes));
  }

  /** Splits text into plain segments and added-token ids, in order. */
  private splitAdded(text: string): (string | number)[] {
    if (!this.addedRe) return text ? [text] : [];
    const out: (string | number)[] = [];
    let last = 0;
    this.addedRe.lastIndex = 0;
    for (const m of text.matchAll(this.addedRe)) {
      if (m.index! > last) out.push(text.slice(last, m.index));
      out.push(this.addedByContent.get(m[0])!);
      last = m.index! + m[0].length;
    }
    if (last < text.length) out.push(text.slice(last));
    return out;
  }

  /** BPE over one pre-tokenized piece: repeatedly merge the lowest-rank adjacent pair (leftmost first). */
  private bpe(piece: string): number[] {
    const hit = this.cache.get(piece);
    if (hit) return hit;
    if (this.ignoreMerges) {
      const whole = this.vocab.get(toByteLevel(piece));
      if (whole !== undefined) return [whole];
    }
    let ids: number[] = Array.from(utf8Encoder.encode(piece), (b) => this.byteIds[b]);
    while (ids.length > 1) {
      let best = -1;
      for (let i = 0; i + 1 < ids.length; i++) {
        const r = this.mergeRank.get(ids[i] * MAX_ID + ids[i + 1]);
        if (r !== undefined && (best < 0 || r < best)) best = r;
      }
      if (best < 0) break;
      const [a, b] = [this.vocab.get(this.merges[best][0])!, this.vocab.get(this.merges[best][1])!];
      const next: number[] = [];
      for (let i = 0; i < ids.length; i++) {
        if (i + 1 < ids.length && ids[i] === a && ids[i + 1] === b) {
          next.push(this.mergeResult[best]);
          i++;
        } else next.push(ids[i]);
      }
      ids = next;
    }
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(piece, ids);
    return ids;
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
