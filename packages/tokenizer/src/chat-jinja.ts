// Compiles chat templates with @huggingface/jinja, correcting where its output differs from Python Jinja (what transformers renders).
import { Template } from '@huggingface/jinja';

/**
 * `str.strip/lstrip/rstrip(chars)`: @huggingface/jinja 0.5.11 ignores `chars` and strips whitespace, so Qwen3's
 * `content.lstrip('\n')` would also eat leading spaces. Such calls are rewritten to these functions.
 */
const STRIP = { strip: '__stellar_strip', lstrip: '__stellar_lstrip', rstrip: '__stellar_rstrip' } as const;
type StripName = keyof typeof STRIP;

/** The functions the rewritten calls use; render with these in scope (after the caller's variables, so they win). */
export const JINJA_FIXES: Record<string, (s: unknown, chars?: unknown) => string> = {
  [STRIP.strip]: (s, chars) => stripChars('strip', s, chars, true, true),
  [STRIP.lstrip]: (s, chars) => stripChars('lstrip', s, chars, true, false),
  [STRIP.rstrip]: (s, chars) => stripChars('rstrip', s, chars, false, true),
};

interface Node {
  type?: string;
  [k: string]: unknown;
}

/** Parses `source` and rewrites the calls @huggingface/jinja would render differently from Python. */
export function compileChatTemplate(source: string): Template {
  const template = new Template(source);
  rewrite(template.parsed as unknown as Node);
  return template;
}

function rewrite(node: unknown): void {
  if (Array.isArray(node)) {
    for (const x of node) rewrite(x);
    return;
  }
  if (typeof node !== 'object' || node === null) return;
  for (const v of Object.values(node)) rewrite(v);
  const n = node as Node;
  const callee = n.callee as Node | undefined;
  const args = n.args as Node[] | undefined;
  if (n.type !== 'CallExpression' || callee?.type !== 'MemberExpression' || callee.computed || !Array.isArray(args)) return;
  const prop = callee.property as Node;
  const name = prop.type === 'Identifier' ? (prop.value as string) : '';
  // Only the one-positional-argument form differs; without `chars` the library already strips whitespace.
  if (!Object.hasOwn(STRIP, name) || args.length !== 1 || args[0].type === 'KeywordArgumentExpression') return;
  n.callee = { type: 'Identifier', value: STRIP[name as StripName] };
  n.args = [callee.object, args[0]];
}

/** Python's str.strip family: `chars` is a set of characters; null strips whitespace. */
function stripChars(name: string, s: unknown, chars: unknown, left: boolean, right: boolean): string {
  if (typeof s !== 'string') throw new Error(`${name}() needs a string, got ${s === null ? 'none' : typeof s}`);
  if (chars === null || chars === undefined) return left && right ? s.trim() : left ? s.trimStart() : s.trimEnd();
  if (typeof chars !== 'string') throw new Error(`${name}() chars must be a string, got ${typeof chars}`);
  const set = new Set(Array.from(chars));
  const cps = Array.from(s);
  let a = 0;
  let b = cps.length;
  while (left && a < b && set.has(cps[a])) a++;
  while (right && b > a && set.has(cps[b - 1])) b--;
  return cps.slice(a, b).join('');
}
