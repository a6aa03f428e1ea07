// The candidate completions of one finished preview: which one is shown (Alt+] / Alt+[ cycle them),
// how sure the model is of it, and what Tab does with it. Tab never silently destroys code: when the
// shown completion is unsure, or empty over a selection (it would delete the selection), the first Tab
// only arms the action and says so in the status bar; a second Tab applies it, Esc keeps the code.
import type { InfillCandidate, InfillResult } from '../engine/protocol';

/** What Tab does now. */
export type TabAction =
  | 'accept' // a sure completion: Tab inserts it
  | 'confirm-unsure' // unsure: the first Tab arms, the second inserts the guess
  | 'confirm-remove' // empty over a selection: the first Tab arms, the second removes the selection
  | 'apply'; // armed: this Tab applies

export class CandidateList {
  private shown = 0;
  private armed = false;

  constructor(
    readonly items: readonly InfillCandidate[],
    /** Whether accepting replaces existing text (a non-empty selection). */
    readonly replacesText: boolean,
  ) {
    if (items.length === 0) {
      throw new Error('a candidate list needs at least one candidate');
    }
  }

  /** The result's candidates, or the result itself as the only one (an engine without candidates). */
  static fromResult(result: InfillResult, replacesText: boolean): CandidateList {
    const items: InfillCandidate[] =
      result.candidates && result.candidates.length > 0
        ? result.candidates
        : [
            {
              completion: result.completion,
              confidence: result.confidence ?? 1,
              unsure: result.unsure ?? false,
              canvasLength: result.canvasLength,
              tokens: result.tokens,
            },
          ];
    return new CandidateList(items, replacesText);
  }

  get index(): number {
    return this.shown;
  }

  get count(): number {
    return this.items.length;
  }

  get current(): InfillCandidate {
    return this.items[this.shown];
  }

  /** Shows the next (+1) or previous (-1) candidate, wrapping around; disarms Tab. */
  cycle(delta: number): InfillCandidate {
    const n = this.items.length;
    this.shown = (((this.shown + delta) % n) + n) % n;
    this.armed = false;
    return this.current;
  }

  tabAction(): TabAction {
    const c = this.current;
    if (this.armed) {
      return 'apply';
    }
    if (c.completion.length === 0 && this.replacesText) {
      return 'confirm-remove';
    }
    return c.unsure ? 'confirm-unsure' : 'accept';
  }

  /**
   * Tab pressed: returns true when the completion should be applied now, false when this Tab only
   * armed it (the next Tab applies).
   */
  pressTab(): boolean {
    const action = this.tabAction();
    if (action === 'accept' || action === 'apply') {
      return true;
    }
    this.armed = true;
    return false;
  }

  /** The status bar's words for the shown candidate and for what Tab will do. */
  describe(): { label: string; tab: string } {
    const c = this.current;
    const percent = `${Math.round(c.confidence * 100)}%`;
    const position = this.count > 1 ? `${this.shown + 1}/${this.count} · ` : '';
    const label = `${position}${c.unsure ? `unsure ${percent}` : percent}`;
    switch (this.tabAction()) {
      case 'accept':
        return { label, tab: 'Tab accept' };
      case 'confirm-unsure':
        return { label, tab: 'Tab twice inserts the guess' };
      case 'confirm-remove':
        return { label, tab: 'empty: Tab twice removes the selection' };
      case 'apply':
        return {
          label,
          tab:
            c.completion.length === 0 && this.replacesText
              ? 'Tab again removes the selection'
              : 'Tab again inserts',
        };
    }
  }
}
