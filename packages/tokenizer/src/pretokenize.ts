// Pre-tokenization: split text into pieces with a GPT-2 / GPT-4 / Qwen style regex before BPE runs on each piece.

/** GPT-2's pattern; what HF's `ByteLevel` pre-tokenizer applies when `use_regex` is true. */
export const GPT2_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
/** GPT-4 (cl100k) / Llama-3 pattern: case-insensitive contractions, numbers in runs of up to 3 digits. */
export const GPT4_PATTERN =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
/** Qwen2's pattern: the GPT-4 one with every digit its own piece. */
export const QWEN2_PATTERN =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

export type PatternName = 'gpt2' | 'gpt4' | 'qwen2';

/** A named split pattern; `individualDigits` makes every digit its own piece (as Qwen and Llama-1 do). */
export function splitPattern(name: PatternName, opts: { individualDigits?: boolean } = {}): string {
  const base = name === 'gpt2' ? GPT2_PATTERN : name === 'gpt4' ? GPT4_PATTERN : QWEN2_PATTERN;
  if (!opts.individualDigits) return base;
  return base.replace('\\p{N}{1,3}', '\\p{N}').replace(' ?\\p{N}+', '\\p{N}');
}

/** Oniguruma's `\s` (Unicode White_Space); JS's `\s` differs: it adds U+FEFF and lacks U+0085. */
const ONIG_SPACE = '\\t-\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';

/**
 * Translates a pattern written for HF's Rust/Oniguruma regexes into a JS Unicode regex. Handled: inline
 * case-insensitive groups over ASCII letters, `(?i:'s|'t)` -> `(?:'[sS]|'[tT])`, and `\s`/`\S` rewritten
 * to Oniguruma's whitespace set. Anything else JS rejects raises a clear error.
 */
export function compilePattern(pattern: string): RegExp {
  const js = translateSpaces(pattern).replace(/\(\?i:((?:[^()\\[\]]|\\.)*)\)/g, (_m, body: string) =>
    '(?:' + body.replace(/(\\.)|([A-Za-z])/g, (x, esc?: string, ch?: string) => esc ?? `[${ch!.toLowerCase()}${ch!.toUpperCase()}]`) + ')',
  );
  try {
    return new RegExp(js, 'gu');
  } catch (e) {
    throw new Error(`tokenizer: split pattern is not supported in JavaScript: ${JSON.stringify(pattern)} (${(e as Error).message})`);
  }
}

/** Rewrites `\s` (in or out of a class) and `\S` (outside a class) to Oniguruma's whitespace set. */
function translateSpaces(p: string): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === '\\' && i + 1 < p.length) {
      const n = p[++i];
      if (n === 's') out += inClass ? ONIG_SPACE : `[${ONIG_SPACE}]`;
      else if (n === 'S' && !inClass) out += `[^${ONIG_SPACE}]`;
      else out += c + n;
      continue;
    }
    if (c === '[') inClass = true;
    else if (c === ']') inClass = false;
    out += c;
  }
  return out;
}

/** Splits `text` into consecutive pieces: each regex match, plus any unmatched gap as its own piece (HF's "Isolated"). */
export function splitText(text: string, re: RegExp): string[] {
  const out: string[] = [];
  let last = 0;
  re.lastIndex = 0;
  for (const m of text.matchAll(re)) {
    if (m[0].length === 0) continue;
    if (m.index! > last) out.push(text.slice(last, m.index));
    out.push(m[0]);
    last = m.index! + m[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}
