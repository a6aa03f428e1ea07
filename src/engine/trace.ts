// Per-position canvas state for the denoising visualiser, read from CanvasState after each step (the
// sampler itself is not touched). Built only for requests with `trace: true`, so a closed visualiser
// costs the loop nothing. Commits and re-masks are found by comparing each step's canvas with the
// previous one; the re-mask counter catches a position re-masked and refilled between two steps.
import type { SnapshotTrace, TraceEvent } from './protocol';
import type { CanvasState } from './sampler/canvas';

export interface PieceSource {
  piece(id: number): string;
}

export class CanvasTracer {
  private readonly tokens: (number | null)[];
  private readonly remasks: number[];
  private readonly commitSteps: (number | null)[];
  private pending: TraceEvent[] = [];

  constructor(
    readonly state: CanvasState,
    private readonly pieces: PieceSource,
    /** Step at which tracing starts (a visualiser opened mid-request); earlier commits are dated to it. */
    readonly from = 0,
    /**
     * Step the positions already committed are dated to: `from`, unless the tracer takes over from
     * another one at a later step (the length search switched the lead canvas after its first pass).
     */
    observedAt = from,
  ) {
    this.tokens = new Array<number | null>(state.length).fill(null);
    this.remasks = new Array<number>(state.length).fill(0);
    this.commitSteps = new Array<number | null>(state.length).fill(null);
    // Positions already committed (kept by Refine Selection, or committed before the visualiser opened)
    // are dated to the step tracing starts at.
    this.observe(observedAt);
  }

  /** Records what changed since the last call; `step` is the step just finished. */
  observe(step: number): void {
    const s = this.state;
    for (let i = 0; i < s.length; i++) {
      const token = s.isMasked(i) ? null : s.token(i);
      const remasks = s.remaskCount(i);
      if (remasks > this.remasks[i] && this.tokens[i] !== null) {
        this.pending.push({ step, index: i, kind: 'remask' });
        this.tokens[i] = null;
        this.commitSteps[i] = null;
      }
      this.remasks[i] = remasks;
      if (token !== this.tokens[i]) {
        if (token === null) {
          this.pending.push({ step, index: i, kind: 'remask' });
          this.commitSteps[i] = null;
        } else {
          this.pending.push({
            step,
            index: i,
            kind: 'commit',
            piece: this.pieces.piece(token),
            confidence: finite(s.confidence(i)),
            end: s.isEnd(token),
          });
          this.commitSteps[i] = step;
        }
        this.tokens[i] = token;
      }
    }
  }

  /** The current state plus the events since the previous take(). */
  take(): SnapshotTrace {
    const s = this.state;
    const events = this.pending;
    this.pending = [];
    return {
      pieces: this.tokens.map((t) => (t === null ? null : this.pieces.piece(t))),
      confidence: this.tokens.map((t, i) => (t === null ? null : finite(s.confidence(i)))),
      commitStep: [...this.commitSteps],
      remasks: [...this.remasks],
      ends: this.tokens.map((t) => t !== null && s.isEnd(t)),
      events,
      ...(this.from > 0 ? { tracedFrom: this.from } : {}),
    };
  }
}

/** Kept tokens have no commit confidence (NaN); JSON would turn NaN into null anyway. */
function finite(x: number): number {
  return Number.isFinite(x) ? x : 1;
}
