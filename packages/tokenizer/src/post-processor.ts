// HF tokenizer.json `post_processor`: TemplateProcessing (special tokens around one or two sequences), ByteLevel
// (offset trimming) and Sequence of those — parsed into plain data (so it crosses to worker threads) and applied.

/** One slot of a template: a sequence (A = first text, B = pair text) or a named special token, with its type id. */
export type TemplatePiece = { sequence: 'A' | 'B'; typeId: number } | { special: string; typeId: number };

export interface TemplateProcessor {
  type: 'TemplateProcessing';
  single: TemplatePiece[];
  pair: TemplatePiece[];
  /** Name -> the ids/tokens it expands to (usually one). */
  specialTokens: Record<string, { ids: number[]; tokens: string[] }>;
}
export interface ByteLevelProcessor {
  type: 'ByteLevel';
  /** Move offsets past leading/trailing spaces inside a token (GPT-2). */
  trimOffsets: boolean;
  /** Kept on the first token's leading space, which the pre-tokenizer added itself. */
  addPrefixSpace: boolean;
}
export interface SequenceProcessor {
  type: 'Sequence';
  processors: (TemplateProcessor | ByteLevelProcessor)[];
}
export type PostProcessor = TemplateProcessor | ByteLevelProcessor | SequenceProcessor;

/** One sequence of an encoding before padding; offsets are [start, end) UTF-16 indices into its own text. */
export interface PartEncoding {
  ids: number[];
  tokens: string[];
  offsets: [number, number][];
  specialTokensMask: number[];
  typeIds: number[];
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses a tokenizer.json `post_processor` (null stays null); any other type is refused by name. */
export function parsePostProcessor(p: unknown): PostProcessor | null {
  if (p === null || p === undefined) return null;
  if (!isObject(p)) throw new Error(`tokenizer.json: post_processor must be an object or null, got ${JSON.stringify(p)?.slice(0, 80)}`);
  if (p.type === 'Sequence') {
    if (!Array.isArray(p.processors)) throw new Error('tokenizer.json: post_processor Sequence needs a "processors" array');
    const processors = p.processors.map((q) => {
      const r = parsePostProcessor(q);
      if (r === null || r.type === 'Sequence') throw new Error('tokenizer.json: a post_processor Sequence may hold only TemplateProcessing and ByteLevel');
      return r;
    });
    if (processors.filter((q) => q.type === 'TemplateProcessing').length > 1) throw new Error('tokenizer.json: a post_processor Sequence with more than one TemplateProcessing is not supported');
    return { type: 'Sequence', processors };
  }
  if (p.type === 'ByteLevel') return { type: 'ByteLevel', trimOffsets: p.trim_offsets !== false, addPrefixSpace: p.add_prefix_space !== false };
  if (p.type === 'TemplateProcessing') return parseTemplate(p);
  throw new Error(`tokenizer.json: post_processor type ${JSON.stringify(p.type)} is not supported (TemplateProcessing, ByteLevel or a Sequence of them)`);
}

function parseTemplate(p: Json): TemplateProcessor {
  const specialTokens: TemplateProcessor['specialTokens'] = Object.create(null);
  if (!isObject(p.special_tokens)) throw new Error('tokenizer.json: TemplateProcessing needs a "special_tokens" object');
  for (const [name, v] of Object.entries(p.special_tokens)) {
    const ok = isObject(v) && Array.isArray(v.ids) && Array.isArray(v.tokens) && v.ids.length === v.tokens.length && v.ids.every((x) => Number.isInteger(x) && x >= 0) && v.tokens.every((x) => typeof x === 'string');
    if (!ok) throw new Error(`tokenizer.json: TemplateProcessing special token ${JSON.stringify(name)} needs equally long "ids" (integers) and "tokens" (strings)`);
    specialTokens[name] = { ids: [...(v.ids as number[])], tokens: [...(v.tokens as string[])] };
  }
  const pieces = (key: 'single' | 'pair'): TemplatePiece[] => {
    const raw = p[key];
    if (!Array.isArray(raw)) throw new Error(`tokenizer.json: TemplateProcessing needs a "${key}" array`);
    return raw.map((x): TemplatePiece => {
      if (isObject(x) && isObject(x.Sequence) && (x.Sequence.id === 'A' || x.Sequence.id === 'B')) return { sequence: x.Sequence.id, typeId: typeId(x.Sequence.type_id) };
      if (isObject(x) && isObject(x.SpecialToken) && typeof x.SpecialToken.id === 'string') {
        const name = x.SpecialToken.id;
        if (!(name in specialTokens)) throw new Error(`tokenizer.json: TemplateProcessing uses special token ${JSON.stringify(name)} missing from "special_tokens"`);
        return { special: name, typeId: typeId(x.SpecialToken.type_id) };
      }
      throw new Error(`tokenizer.json: TemplateProcessing ${key} piece ${JSON.stringify(x)?.slice(0, 80)} is not {Sequence} or {SpecialToken}`);
    });
  };
  return { type: 'TemplateProcessing', single: pieces('single'), pair: pieces('pair'), specialTokens };
}

function typeId(v: unknown): number {
  if (v === undefined) return 0;
  if (!Number.isInteger(v) || (v as number) < 0) throw new Error(`tokenizer.json: TemplateProcessing type_id must be a non-negative integer, got ${JSON.stringify(v)}`);
  return v as number;
}

/** The tokenizer.json form of a parsed post-processor. */
export function postProcessorToJson(p: PostProcessor): Json {
  if (p.type === 'Sequence') return { type: 'Sequence', processors: p.processors.map(postProcessorToJson) };
  if (p.type === 'ByteLevel') return { type: 'ByteLevel', add_prefix_space: p.addPrefixSpace, trim_offsets: p.trimOffsets, use_regex: true };
  const piece = (x: TemplatePiece) => ('sequence' in x ? { Sequence: { id: x.sequence, type_id: x.typeId } } : { SpecialToken: { id: x.special, type_id: x.typeId } });
  const specialTokens: Json = {};
  for (const [name, v] of Object.entries(p.specialTokens)) specialTokens[name] = { id: name, ids: v.ids, tokens: v.tokens };
  return { type: 'TemplateProcessing', single: p.single.map(piece), pair: p.pair.map(piece), special_tokens: specialTokens };
}

/** transformers' Llama layout for add_bos_token/add_eos_token: `[bos] $A [eos]` and `[bos] $A [eos] [bos]:1 $B:1 [eos]:1`. */
export function bosEosTemplate(bos: { token: string; id: number } | null, eos: { token: string; id: number } | null): TemplateProcessor {
  const specialTokens: TemplateProcessor['specialTokens'] = Object.create(null);
  const around = (seq: 'A' | 'B', t: number): TemplatePiece[] => [
    ...(bos ? [{ special: bos.token, typeId: t }] : []),
    { sequence: seq, typeId: t },
    ...(eos ? [{ special: eos.token, typeId: t }] : []),
  ];
  for (const s of [bos, eos]) if (s) specialTokens[s.token] = { ids: [s.id], tokens: [s.token] };
  return { type: 'TemplateProcessing', single: around('A', 0), pair: [...around('A', 0), ...around('B', 1)], specialTokens };
}

/** The template inside a post-processor, if any (it alone decides which special tokens are added). */
export function findTemplate(p: PostProcessor | null): TemplateProcessor | null {
  if (p === null || p.type === 'ByteLevel') return null;
  if (p.type === 'TemplateProcessing') return p;
  for (const q of p.processors) if (q.type === 'TemplateProcessing') return q;
  return null;
}

/** How many tokens the template adds around one sequence (or a pair): truncation reserves room for them. */
export function addedTokenCount(t: TemplateProcessor | null, isPair: boolean): number {
  if (!t) return 0;
  let n = 0;
  for (const x of isPair ? t.pair : t.single) if ('special' in x) n += t.specialTokens[x.special].ids.length;
  return n;
}

/** Applies `p` to the encoded sequence(s): offset trimming always, special tokens only when `addSpecialTokens`. */
export function applyPostProcessor(p: PostProcessor | null, a: PartEncoding, b: PartEncoding | null, addSpecialTokens: boolean): PartEncoding {
  const steps = p === null ? [] : p.type === 'Sequence' ? p.processors : [p];
  let merged: PartEncoding | null = null;
  for (const q of steps) {
    // Like HF's Sequence: each step sees what the previous one produced (one merged encoding after a template).
    if (q.type === 'ByteLevel') {
      if (q.trimOffsets) for (const e of merged ? [merged] : b ? [a, b] : [a]) trimOffsets(e, q.addPrefixSpace);
    } else merged = applyTemplate(q, a, b, addSpecialTokens);
  }
  return merged ?? concat(a, b);
}

/** Without special tokens a pair is simply A then B, B with type id 1 (as HF does). */
function concat(a: PartEncoding, b: PartEncoding | null): PartEncoding {
  if (!b) return a;
  return {
    ids: [...a.ids, ...b.ids],
    tokens: [...a.tokens, ...b.tokens],
    offsets: [...a.offsets, ...b.offsets],
    specialTokensMask: [...a.specialTokensMask, ...b.specialTokensMask],
    typeIds: [...a.typeIds, ...b.ids.map(() => 1)],
  };
}

function applyTemplate(t: TemplateProcessor, a: PartEncoding, b: PartEncoding | null, addSpecialTokens: boolean): PartEncoding {
  if (!addSpecialTokens) return concat(a, b);
  const out: PartEncoding = { ids: [], tokens: [], offsets: [], specialTokensMask: [], typeIds: [] };
  for (const x of b ? t.pair : t.single) {
    if ('special' in x) {
      const s = t.specialTokens[x.special];
      s.ids.forEach((id, i) => {
        out.ids.push(id);
        out.tokens.push(s.tokens[i]);
        out.offsets.push([0, 0]);
        out.specialTokensMask.push(1);
        out.typeIds.push(x.typeId);
      });
      continue;
    }
    const e = x.sequence === 'A' ? a : b;
    if (!e) continue;
    out.ids.push(...e.ids);
    out.tokens.push(...e.tokens);
    out.offsets.push(...e.offsets);
    out.specialTokensMask.push(...e.specialTokensMask);
    for (let i = 0; i < e.ids.length; i++) out.typeIds.push(x.typeId);
  }
  return out;
}

const SPACE_CHAR = '\u0120'; // byte-level stand-in for ' '
const WHITE_SPACE = /^\p{White_Space}$/u;
const isSpace = (c: string) => c === SPACE_CHAR || WHITE_SPACE.test(c);

/**
 * HF ByteLevel `trim_offsets`: a token's leading/trailing spaces are not part of its offsets. The first token keeps a
 * single leading space when the pre-tokenizer added one itself (`add_prefix_space`).
 */
function trimOffsets(e: PartEncoding, addPrefixSpace: boolean): void {
  e.tokens.forEach((tok, i) => {
    const chars = [...tok];
    let lead = 0;
    while (lead < chars.length && isSpace(chars[lead])) lead++;
    let trail = 0;
    while (trail < chars.length && isSpace(chars[chars.length - 1 - trail])) trail++;
    const o = e.offsets[i];
    if (lead > 0) {
      if ((i === 0 || o[0] === 0) && addPrefixSpace && lead === 1) lead = 0;
      o[0] = Math.min(o[0] + lead, o[1]);
    }
    if (trail > 0 && o[1] >= trail) o[1] = Math.max(o[1] - trail, o[0]);
  });
}
