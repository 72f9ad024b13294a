// Offset bookkeeping for Encoding: split positions, UTF-8 byte -> UTF-16 char spans, and the NFC alignment back to the
// original text (HF's NormalizedString alignments, reproduced for the cases byte-level BPE meets).

/** Each piece `splitText` would produce, with its start index (same Isolated semantics). */
export function splitWithStarts(text: string, re: RegExp): [string, number][] {
  const out: [string, number][] = [];
  let last = 0;
  re.lastIndex = 0;
  for (const m of text.matchAll(re)) {
    if (m[0].length === 0) continue;
    if (m.index! > last) out.push([text.slice(last, m.index), last]);
    out.push([m[0], m.index!]);
    last = m.index! + m[0].length;
  }
  if (last < text.length) out.push([text.slice(last), last]);
  return out;
}

/**
 * For each UTF-8 byte of `s` (as TextEncoder writes it; a lone surrogate is the 3 bytes of U+FFFD), the [start, end)
 * UTF-16 span of the character it belongs to: a token made of some of a character's bytes spans that whole character.
 */
export function byteCharSpans(s: string): { start: Int32Array; end: Int32Array } {
  let nBytes = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.codePointAt(i)!;
    nBytes += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
    if (c > 0xffff) i++;
  }
  const start = new Int32Array(nBytes);
  const end = new Int32Array(nBytes);
  let b = 0;
  for (let i = 0; i < s.length; ) {
    const c = s.codePointAt(i)!;
    const units = c > 0xffff ? 2 : 1;
    const n = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
    for (let k = 0; k < n; k++, b++) {
      start[b] = i;
      end[b] = i + units;
    }
    i += units;
  }
  return { start, end };
}

/** Characters that NFC may fold into the character before them: combining marks and conjoining Hangul vowels/finals. */
const CLUSTER = /[^\p{M}\u1160-\u11ff][\p{M}\u1160-\u11ff]*|[\p{M}\u1160-\u11ff]+/gsu;

/**
 * NFC of `orig` plus, for each UTF-16 unit of the result, the [start, end) span in `orig` it came from. As in HF, a
 * composed character maps to the first character it was composed from (the folded marks map to nothing); `null`
 * maps means the text was already NFC (identity).
 */
export function nfcWithAlignment(orig: string): { text: string; start: Int32Array | null; end: Int32Array | null } {
  const text = orig.normalize('NFC');
  if (text === orig) return { text, start: null, end: null };
  const start = new Int32Array(text.length);
  const end = new Int32Array(text.length);
  let j = 0;
  let ok = true;
  for (const m of orig.matchAll(CLUSTER)) {
    const src = [...m[0]];
    const srcStarts: number[] = [];
    let p = m.index!;
    for (const ch of src) {
      srcStarts.push(p);
      p += ch.length;
    }
    const out = [...m[0].normalize('NFC')];
    out.forEach((ch, i) => {
      const k = Math.min(i, src.length - 1);
      for (let u = 0; u < ch.length; u++, j++) {
        if (j >= text.length || text[j] !== ch[u]) ok = false;
        if (j < text.length) {
          start[j] = srcStarts[k];
          end[j] = srcStarts[k] + src[k].length;
        }
      }
    });
  }
  // Composition across our cluster boundaries is not expected; if it happens, every unit spans the whole text.
  if (!ok || j !== text.length) {
    start.fill(0);
    end.fill(orig.length);
  }
  return { text, start, end };
}
