// A strict JSON parser for safetensors headers: unlike JSON.parse it refuses duplicate keys, keeps
// the source text of numbers (so "2.0" or "1e3" can be told apart from an integer) and bounds nesting.

/** A JSON number, kept as written; `value` is the nearest double. */
export class JsonNumber {
  constructor(readonly text: string) {}
  get value(): number { return Number(this.text); }
}

/** Objects are Maps, so keys like "__proto__" are plain data. */
export type JsonObject = Map<string, JsonValue>;
export type JsonValue = null | boolean | string | JsonNumber | JsonValue[] | JsonObject;

/** `kind: 'duplicate'` carries the repeated key and the nesting depth of its object (1 = top level). */
export class JsonError extends Error {
  constructor(message: string, readonly kind: 'syntax' | 'duplicate' | 'depth', readonly key?: string, readonly depth?: number) {
    super(message);
  }
}

// Real headers nest three deep ({name: {shape: [..]}}); anything far deeper is an attack on the stack.
const MAX_DEPTH = 64;
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

/** Parses one JSON value filling the whole text (surrounding whitespace allowed). */
export function parseJsonStrict(text: string): JsonValue {
  let i = 0;

  const fail = (what: string): never => {
    const near = i < text.length ? `${JSON.stringify(text.slice(i, i + 12))}` : 'end of text';
    throw new JsonError(`${what} at offset ${i} (near ${near})`, 'syntax');
  };
  const skipWs = (): void => {
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else return;
    }
  };
  const expect = (ch: string): void => {
    if (text[i] !== ch) fail(`expected '${ch}'`);
    i++;
  };

  const parseString = (): string => {
    expect('"');
    let out = '';
    let start = i;
    for (;;) {
      if (i >= text.length) fail('unterminated string');
      const c = text.charCodeAt(i);
      if (c === 0x22) { out += text.slice(start, i); i++; return out; }
      if (c < 0x20) fail('control character in string');
      if (c !== 0x5c) { i++; continue; }
      out += text.slice(start, i);
      const e = text[i + 1];
      if (e === 'u') {
        const hex = text.slice(i + 2, i + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail('bad \\u escape');
        out += String.fromCharCode(parseInt(hex, 16));
        i += 6;
      } else {
        const r = e === undefined ? undefined : ESCAPES[e];
        if (r === undefined || !Object.prototype.hasOwnProperty.call(ESCAPES, e)) fail('bad escape');
        out += r;
        i += 2;
      }
      start = i;
    }
  };

  const parseValue = (depth: number): JsonValue => {
    if (depth > MAX_DEPTH) throw new JsonError(`nesting deeper than ${MAX_DEPTH} levels`, 'depth');
    skipWs();
    const c = text[i];
    if (c === '{') {
      i++;
      const obj: JsonObject = new Map();
      skipWs();
      if (text[i] === '}') { i++; return obj; }
      for (;;) {
        skipWs();
        if (text[i] !== '"') fail('expected a string key');
        const key = parseString();
        if (obj.has(key)) throw new JsonError(`duplicate key ${JSON.stringify(key)}`, 'duplicate', key, depth + 1);
        skipWs();
        expect(':');
        obj.set(key, parseValue(depth + 1));
        skipWs();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === '}') { i++; return obj; }
        fail("expected ',' or '}'");
      }
    }
    if (c === '[') {
      i++;
      const arr: JsonValue[] = [];
      skipWs();
      if (text[i] === ']') { i++; return arr; }
      for (;;) {
        arr.push(parseValue(depth + 1));
        skipWs();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === ']') { i++; return arr; }
        fail("expected ',' or ']'");
      }
    }
    if (c === '"') return parseString();
    if (text.startsWith('true', i)) { i += 4; return true; }
    if (text.startsWith('false', i)) { i += 5; return false; }
    if (text.startsWith('null', i)) { i += 4; return null; }
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (m && m[0].length > 0) { i += m[0].length; return new JsonNumber(m[0]); }
    return fail('unexpected character');
  };

  const v = parseValue(0);
  skipWs();
  if (i !== text.length) fail('unexpected text after the JSON value');
  return v;
}

/** The integer a number token denotes, if it is written as a plain non-negative integer that a
 * double holds exactly (≤ 2^53 − 1); otherwise null. "2.0", "1e3", "-0" are not accepted, matching
 * the reference implementation's `usize` fields. */
export function exactUint(v: JsonValue): number | null {
  if (!(v instanceof JsonNumber) || !/^(?:0|[1-9][0-9]*)$/.test(v.text)) return null;
  if (v.text.length > 16) return null;
  const n = Number(v.text);
  return Number.isSafeInteger(n) ? n : null;
}

/** A short description of a JSON value for error messages. */
export function describeJson(v: JsonValue): string {
  if (v === null) return 'null';
  if (v instanceof JsonNumber) return v.text.length > 24 ? `${v.text.slice(0, 24)}…` : v.text;
  if (v instanceof Map) return 'an object';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  return String(v);
}
