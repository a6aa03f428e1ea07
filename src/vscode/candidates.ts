// The candidate completions of one finished preview: which one is shown (Alt+] / Alt+[ cycle them),
// how sure the model is of it, and what Tab does with it. Tab never silently destroys code: an empty
// completion is never accepted (the controller says so; to delete the selection the user presses
// Delete), and when the shown completion is unsure the first Tab only arms the action and says so in
// the status bar; a second Tab applies it, Esc keeps the code.
import type { InfillCandidate, InfillResult } from '../engine/protocol';

/** What Tab does now. */
export type TabAction =
  | 'accept' // a sure completion: Tab inserts it
  | 'confirm-unsure' // unsure: the first Tab arms, the second inserts the guess
  | 'nothing' // empty: nothing to accept (Tab is refused, Esc dismisses)
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
    if (c.completion.length === 0) {
      return 'nothing';
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
    if (action === 'nothing') {
      return false; // never armed: an empty completion is not accepted by any number of Tabs
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
      case 'nothing':
        return { label, tab: 'empty result — nothing to accept' };
      case 'apply':
        return { label, tab: 'Tab again inserts' };
    }
  }
}
