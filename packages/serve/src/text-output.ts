// A request's output text as it streams: UTF-8 safe deltas (through the tokenizer's StreamDecoder) and
// stop strings matched on the text. Text that could still turn into a stop string is held back, so a
// partial stop string never reaches the stream; the output is cut before the first stop string.
import { StreamDecoder, type Tokenizer } from '@stellar/tokenizer';

export class TextOutput {
  /** Everything emitted so far. */
  text = '';
  /** Decoded but held back: a suffix that is a prefix of some stop string. */
  private held = '';
  private readonly decoder: StreamDecoder | null;

  constructor(tok: Tokenizer | null, private readonly stops: readonly string[], skipSpecialTokens: boolean) {
    this.decoder = tok ? new StreamDecoder(tok, { skipSpecialTokens }) : null;
  }

  /** Adds one token; `stopped` when a stop string completed (the text is then final, cut before it). */
  push(id: number): { delta: string; stopped: boolean } {
    if (!this.decoder) return { delta: '', stopped: false };
    // A match cannot start in emitted text: that text was never a prefix of a stop string's start.
    const pending = this.held + this.decoder.push(id);
    let cut = -1;
    for (const s of this.stops) {
      const i = pending.indexOf(s);
      if (i >= 0 && (cut < 0 || i < cut)) cut = i;
    }
    if (cut >= 0) {
      this.held = '';
      return { delta: this.emit(pending.slice(0, cut)), stopped: true };
    }
    const keep = this.heldSuffix(pending);
    this.held = pending.slice(pending.length - keep);
    return { delta: this.emit(pending.slice(0, pending.length - keep)), stopped: false };
  }

  /** Ends the output without a stop string: the held text and any unfinished character come out. */
  finish(): string {
    if (!this.decoder) return '';
    const rest = this.held + this.decoder.flush();
    this.held = '';
    return this.emit(rest);
  }

  private emit(s: string): string {
    this.text += s;
    return s;
  }

  /** Length of the longest suffix of `s` that is a proper prefix of a stop string. */
  private heldSuffix(s: string): number {
    let best = 0;
    for (const stop of this.stops) {
      for (let n = Math.min(stop.length - 1, s.length); n > best; n--) {
        if (s.endsWith(stop.slice(0, n))) { best = n; break; }
      }
    }
    return best;
  }
}
