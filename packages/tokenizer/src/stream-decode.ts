// Incremental decoding for streaming: ids arrive one at a time and text comes out only as whole
// characters, so a UTF-8 character whose bytes span several tokens is emitted once, complete. The
// concatenated output equals `tok.decode(allIds)`.
import { CHAR_TO_BYTE } from './byte-level';
import type { Tokenizer } from './tokenizer';

const utf8 = new TextEncoder();

export class StreamDecoder {
  private readonly decoder = new TextDecoder('utf-8');
  private readonly added: Map<number, { content: string; special: boolean }>;

  constructor(private readonly tok: Tokenizer, private readonly opts: { skipSpecialTokens?: boolean } = {}) {
    this.added = new Map(tok.addedTokens.map((t) => [t.id, t]));
  }

  /** Text completed by `id` (often '' while a character's bytes are still arriving). */
  push(id: number): string {
    return this.decoder.decode(this.bytesOf(id), { stream: true });
  }

  /** Text completed by several ids. */
  pushAll(ids: readonly number[]): string {
    let s = '';
    for (const id of ids) s += this.push(id);
    return s;
  }

  /** Ends the stream: bytes of an unfinished character come out as U+FFFD, as decode() would give them. */
  flush(): string {
    return this.decoder.decode();
  }

  /** The bytes `decode` joins for one id. */
  private bytesOf(id: number): Uint8Array {
    const added = this.added.get(id);
    if (added) return added.special && this.opts.skipSpecialTokens ? new Uint8Array(0) : utf8.encode(added.content);
    const tok = this.tok.idToTokenString(id);
    if (tok === undefined) throw new Error(`tokenizer: decode got unknown id ${id}`);
    const out: number[] = [];
    for (const ch of tok) {
      const b = CHAR_TO_BYTE.get(ch.charCodeAt(0));
      if (b !== undefined && ch.length === 1) out.push(b);
      else for (const x of utf8.encode(ch)) out.push(x);
    }
    return Uint8Array.from(out);
  }
}
