// The mutable state of one infill's canvas: which positions are committed, to what, with what certainty,
// and how often each was re-masked (the bound that makes late remasking terminate).
export interface EndTokens {
  mask: number;
  /** Tokens that end the completion: the manifest's end, pad and eos. */
  ends: ReadonlySet<number>;
}

export class CanvasState {
  /** Confidence each position had when committed (NaN while masked). */
  private readonly commitConfidence: number[];
  private readonly remaskCounts: number[];

  constructor(
    /** The whole window; canvas positions are [start, start + length). Mutated in place. */
    readonly inputIds: number[],
    readonly start: number,
    readonly length: number,
    private readonly special: EndTokens,
  ) {
    this.commitConfidence = new Array<number>(length).fill(NaN);
    this.remaskCounts = new Array<number>(length).fill(0);
  }

  /** An independent copy (a candidate that continues from the same first pass). */
  clone(): CanvasState {
    const copy = new CanvasState([...this.inputIds], this.start, this.length, this.special);
    copy.commitConfidence.splice(0, this.length, ...this.commitConfidence);
    copy.remaskCounts.splice(0, this.length, ...this.remaskCounts);
    return copy;
  }

  token(index: number): number {
    return this.inputIds[this.start + index];
  }

  isMasked(index: number): boolean {
    return this.token(index) === this.special.mask;
  }

  isEnd(token: number): boolean {
    return this.special.ends.has(token);
  }

  confidence(index: number): number {
    return this.commitConfidence[index];
  }

  remaskCount(index: number): number {
    return this.remaskCounts[index];
  }

  maskedIndices(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.length; i++) {
      if (this.isMasked(i)) {
        out.push(i);
      }
    }
    return out;
  }

  get masksLeft(): number {
    let n = 0;
    for (let i = 0; i < this.length; i++) {
      if (this.isMasked(i)) {
        n++;
      }
    }
    return n;
  }

  commit(index: number, token: number, confidence: number): void {
    this.inputIds[this.start + index] = token;
    this.commitConfidence[index] = confidence;
  }

  remask(index: number): void {
    this.inputIds[this.start + index] = this.special.mask;
    this.commitConfidence[index] = NaN;
    this.remaskCounts[index]++;
  }

  /** Canvas index of the first committed end token, or the canvas length if none. */
  firstEnd(): number {
    for (let i = 0; i < this.length; i++) {
      if (this.isEnd(this.token(i))) {
        return i;
      }
    }
    return this.length;
  }

  /**
   * Positions after a committed end token can never reach the completion (it is trimmed at the first
   * end), so they are filled with end instead of spending forward passes on them.
   */
  fillAfterFirstEnd(): void {
    const first = this.firstEnd();
    for (let i = first + 1; i < this.length; i++) {
      if (this.isMasked(i)) {
        this.commit(i, this.token(first), 1);
      }
    }
  }

  /** Canvas tokens before the first end (may contain masks). */
  completionTokens(): number[] {
    const end = this.firstEnd();
    return this.inputIds.slice(this.start, this.start + end);
  }
}
