// The byte-level BPE tokenizer: added/special tokens, regex pre-tokenization, rank-ordered merges, exact decode.
import { BYTE_TO_CHAR, CHAR_TO_BYTE } from './byte-level';
import { applyChatTemplate, ChatEncoding, ChatMessage, ChatTemplateOptions, encodeChat } from './chat';
import { compilePattern, GPT2_PATTERN, splitText } from './pretokenize';
import { EncodeOptions, Encoding, padEncoding, truncateParts } from './encoding';
import { BatchEncodeOptions, BatchEncoding, disposeWorkers, encodeBatch, encodeBatchSync } from './batch';
import { byteCharSpans, nfcWithAlignment, splitWithStarts } from './offsets';
import { PairTable } from './pair-table';
import { mergePiece } from './bpe-merge';
import { addedTokenCount, applyPostProcessor, bosEosTemplate, findTemplate, PartEncoding, PostProcessor, TemplatePiece, TemplateProcessor } from './post-processor';

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
  /** tokenizer.json `post_processor`; its TemplateProcessing (if any) decides what `addSpecialTokens` adds, over the flags above. */
  postProcessor?: PostProcessor | null;
  /** tokenizer_config.json `chat_template` (Jinja); null means none (see chat.ts for the ChatML default). */
  chatTemplate?: string | null;
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
  readonly postProcessor: PostProcessor | null;
  /** The spec this tokenizer was built from (worker threads rebuild it from this). */
  readonly spec: TokenizerSpec;
  readonly chatTemplate: string | null;

  private readonly idToToken: (string | undefined)[] = [];
  private readonly addedById = new Map<number, AddedToken>();
  private readonly addedByContent = new Map<string, number>();
  private readonly addedRe: RegExp | null;
  private readonly splitRe: RegExp;
  private readonly byteIds = new Int32Array(256);
  /** (left id, right id) -> rank; mergeResult[rank] is the merged id. */
  private readonly mergeRank: PairTable;
  private readonly mergeResult: Int32Array;
  private readonly cache = new Map<string, number[]>();
  /** What encoding runs after BPE: the file's post-processor, plus a BOS/EOS template from the flags if it has none. */
  private readonly post: PostProcessor | null;
  private readonly template: TemplateProcessor | null;

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
    this.chatTemplate = spec.chatTemplate ?? null;
    if (this.addBosToken && this.bosToken === null) throw new Error('tokenizer: add_bos_token is set but there is no bos_token');
    if (this.addEosToken && this.eosToken === null) throw new Error('tokenizer: add_eos_token is set but there is no eos_token');
    this.spec = spec;
    this.postProcessor = spec.postProcessor ?? null;

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
    this.mergeRank = new PairTable(spec.merges.length);
    this.mergeResult = new Int32Array(spec.merges.length);
    for (let rank = 0; rank < spec.merges.length; rank++) {
      const [a, b] = spec.merges[rank];
      const ia = spec.vocab.get(a);
      const ib = spec.vocab.get(b);
      const ir = spec.vocab.get(a + b);
      if (ia === undefined || ib === undefined || ir === undefined) {
        const missing = ia === undefined ? a : ib === undefined ? b : a + b;
        throw new Error(`tokenizer: merge ${rank} (${JSON.stringify(a)} ${JSON.stringify(b)}) refers to unknown token ${JSON.stringify(missing)}`);
      }
      // A repeated merge keeps its first (best) rank, as HF does.
      this.mergeRank.setIfAbsent(ia, ib, rank);
      this.mergeResult[rank] = ir;
    }
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
    let template = findTemplate(this.postProcessor);
    for (const [name, t] of Object.entries(template?.specialTokens ?? {})) {
      for (const id of t.ids) if (this.idToToken[id] === undefined) throw new Error(`tokenizer: post_processor special token ${JSON.stringify(name)} uses id ${id}, which is not in the vocabulary`);
    }
    let post = this.postProcessor;
    if (!template && (this.addBosToken || this.addEosToken)) {
      const role = (on: boolean, t: string | null) => (on ? { token: t!, id: this.tokenToId(t!)! } : null);
      template = bosEosTemplate(role(this.addBosToken, this.bosToken), role(this.addEosToken, this.eosToken));
      post = post ? { type: 'Sequence', processors: [...(post.type === 'Sequence' ? post.processors : [post]), template] } : template;
    }
    this.template = template;
    this.post = post;
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

  /** Renders a conversation with this tokenizer's chat template; see `applyChatTemplate` in chat.ts. */
  applyChatTemplate(messages: readonly ChatMessage[], opts?: ChatTemplateOptions): string {
    return applyChatTemplate(this, messages, opts);
  }

  /** Ids of the rendered conversation plus the assistant (SFT loss) mask; see `encodeChat` in chat.ts. */
  encodeChat(messages: readonly ChatMessage[], opts?: ChatTemplateOptions): ChatEncoding {
    return encodeChat(this, messages, opts);
  }

  /**
   * Text -> ids. `addSpecialTokens` applies the post-processor's template (or add_bos_token/add_eos_token when the
   * file has none); `truncation` counts those special tokens in `maxLength`. Same ids as `encodeWithOffsets(...).ids`.
   */
  encode(text: string, opts: EncodeOptions = {}): number[] {
    if (opts.padding || opts.pair !== undefined) return this.encodeWithOffsets(text, opts).ids;
    let ids = this.encodeText(text);
    if (opts.truncation) {
      const max = this.truncationRoom(opts, false);
      if (ids.length > max) ids = opts.truncation.side === 'left' ? ids.slice(ids.length - max) : ids.slice(0, max);
    }
    return opts.addSpecialTokens && this.template ? templateIds(this.template, this.template.single, ids) : ids;
  }

  /** The HF-like Encoding of `text` (or of the pair `text`, `opts.pair`): ids, tokens, offsets, masks; truncated, post-processed, padded. */
  encodeWithOffsets(text: string, opts: EncodeOptions = {}): Encoding {
    const a = this.encodePart(text);
    const b = opts.pair !== undefined ? this.encodePart(opts.pair) : null;
    if (opts.truncation) truncateParts(a, b, this.truncationRoom(opts, b !== null), opts.truncation.side ?? 'right');
    const merged = applyPostProcessor(this.post, a, b, opts.addSpecialTokens === true);
    const enc: Encoding = { ...merged, attentionMask: merged.ids.map(() => 1) };
    const pad = opts.padding;
    if (pad && pad.length !== 'longest') {
      const padId = this.padIdFor(pad.padId);
      padEncoding(enc, pad.length, pad.side ?? 'right', padId, this.idToToken[padId] ?? '');
    }
    return enc;
  }

  /** Texts -> (B, T) Int32Array ids + Uint8Array mask, padded; big batches run on worker threads (see batch.ts). */
  encodeBatch(texts: readonly string[], opts: BatchEncodeOptions = {}): Promise<BatchEncoding> {
    return encodeBatch(this, texts, opts);
  }

  /** encodeBatch in the calling thread. */
  encodeBatchSync(texts: readonly string[], opts: BatchEncodeOptions = {}): BatchEncoding {
    return encodeBatchSync(this, texts, opts);
  }

  /** Stops this tokenizer's batch worker threads (idle workers never keep a process alive, but hold memory). */
  dispose(): Promise<void> {
    return disposeWorkers(this);
  }

  /** The pad id: explicit, else the pad token's (an error if the tokenizer has none). */
  padIdFor(padId?: number): number {
    if (padId !== undefined) return padId;
    if (this.padToken === null) throw new Error('tokenizer: padding needs a pad token (tokenizer_config.json pad_token) or an explicit padId');
    return this.tokenToId(this.padToken)!;
  }

  /** Ids left for the text(s) once the special tokens `addSpecialTokens` adds are counted. */
  private truncationRoom(opts: EncodeOptions, isPair: boolean): number {
    const { maxLength } = opts.truncation!;
    const added = opts.addSpecialTokens ? addedTokenCount(this.template, isPair) : 0;
    if (!Number.isInteger(maxLength) || maxLength < added) throw new Error(`tokenizer: truncation maxLength ${maxLength} must be an integer >= the ${added} special tokens added`);
    return maxLength - added;
  }

  /** One text as a PartEncoding: ids, byte-level tokens, offsets into `text` (UTF-16 units), no special tokens added. */
  private encodePart(text: string): PartEncoding {
    const e: PartEncoding = { ids: [], tokens: [], offsets: [], specialTokensMask: [], typeIds: [] };
    const push = (id: number, s: number, t: number) => {
      e.ids.push(id);
      e.tokens.push(this.idToToken[id]!);
      e.offsets.push([s, t]);
      e.specialTokensMask.push(0);
      e.typeIds.push(0);
    };
    for (const [seg, segStart] of this.splitAddedWithStarts(text)) {
      if (typeof seg === 'number') {
        push(seg, segStart, segStart + this.idToToken[seg]!.length);
        continue;
      }
      // Positions in the normalized segment map back to the original through `norm` (identity when already NFC).
      const norm = this.normalizer === 'NFC' ? nfcWithAlignment(seg) : { text: seg, start: null, end: null };
      const prefix = this.addPrefixSpace && !norm.text.startsWith(' ') ? 1 : 0;
      const s = prefix ? ' ' + norm.text : norm.text;
      // q indexes `s`; a prefix space added here spans the segment's first character, as HF aligns it.
      const origStart = (q: number) => segStart + (q < prefix ? 0 : norm.start ? norm.start[q - prefix] : q - prefix);
      const origEnd = (q: number) => {
        if (q < prefix) q = prefix + (norm.text.codePointAt(0)! > 0xffff ? 1 : 0);
        return segStart + (norm.end ? norm.end[q - prefix] : q - prefix + 1);
      };
      for (const [piece, pieceStart] of splitWithStarts(s, this.splitRe)) {
        const spans = byteCharSpans(piece);
        let byte = 0;
        for (const id of this.bpe(piece)) {
          const nb = this.idToToken[id]!.length; // one byte-level char per byte
          push(id, origStart(pieceStart + spans.start[byte]), origEnd(pieceStart + spans.end[byte + nb - 1] - 1));
          byte += nb;
        }
      }
    }
    return e;
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

  /** Like splitAdded, with each segment's start index in `text`. */
  private splitAddedWithStarts(text: string): [string | number, number][] {
    const out: [string | number, number][] = [];
    let pos = 0;
    for (const seg of this.splitAdded(text)) {
      out.push([seg, pos]);
      pos += typeof seg === 'number' ? this.idToToken[seg]!.length : seg.length;
    }
    return out;
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
    const bytes = utf8Bytes(piece);
    if (this.ignoreMerges) {
      let byteLevel = '';
      for (const b of bytes) byteLevel += BYTE_TO_CHAR[b];
      const whole = this.vocab.get(byteLevel);
      if (whole !== undefined) return this.remember(piece, [whole]);
    }
    const ids: number[] = new Array(bytes.length);
    for (let i = 0; i < bytes.length; i++) ids[i] = this.byteIds[bytes[i]];
    return this.remember(piece, mergePiece(ids, this.mergeRank, this.mergeResult));
  }

  private remember(piece: string, ids: number[]): number[] {
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(piece, ids);
    return ids;
  }
}

/** UTF-8 bytes of a (short) piece, as TextEncoder gives them (a lone surrogate becomes U+FFFD's), without its per-call cost. */
function utf8Bytes(s: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      out.push(c);
      continue;
    }
    if (c < 0x800) {
      out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const d = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
        out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
        continue;
      }
      c = 0xfffd;
    }
    out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return out;
}

/** The ids of a template layout around one sequence's ids (the ids-only twin of applyPostProcessor). */
function templateIds(t: TemplateProcessor, layout: TemplatePiece[], ids: number[]): number[] {
  const out: number[] = [];
  for (const x of layout) {
    if ('special' in x) out.push(...t.specialTokens[x.special].ids);
    else if (x.sequence === 'A') out.push(...ids);
  }
  return out;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
