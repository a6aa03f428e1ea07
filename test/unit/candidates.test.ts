// The preview's candidate list (src/vscode/candidates.ts, no vscode import): cycling, scores in the
// status words, and Tab never silently destroying code on an unsure or empty completion.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { InfillCandidate } from '../../src/engine/protocol';
import { CandidateList } from '../../src/vscode/candidates';

const cand = (completion: string, confidence: number, unsure = confidence < 0.5): InfillCandidate => ({
  completion,
  confidence,
  unsure,
  canvasLength: 10,
  tokens: completion.length,
});

describe('candidate list', () => {
  it('cycles both ways, wrapping, with position and score in the label', () => {
    const list = new CandidateList([cand('a + b', 0.91), cand('a - b', 0.8), cand('b', 0.62)], true);
    assert.equal(list.describe().label, '1/3 · 91%');
    assert.equal(list.cycle(1).completion, 'a - b');
    assert.equal(list.describe().label, '2/3 · 80%');
    assert.equal(list.cycle(1).completion, 'b');
    assert.equal(list.cycle(1).completion, 'a + b');
    assert.equal(list.cycle(-1).completion, 'b');
    assert.equal(list.index, 2);
  });

  it('a sure completion: one Tab accepts', () => {
    const list = new CandidateList([cand('x', 0.9)], true);
    assert.equal(list.tabAction(), 'accept');
    assert.equal(list.describe().tab, 'Tab accept');
    assert.equal(list.pressTab(), true);
  });

  it('unsure: the first Tab arms (and says so), the second inserts', () => {
    const list = new CandidateList([cand(',,,', 0.05)], true);
    assert.equal(list.describe().label, 'unsure 5%');
    assert.equal(list.describe().tab, 'Tab twice inserts the guess');
    assert.equal(list.pressTab(), false);
    assert.equal(list.describe().tab, 'Tab again inserts');
    assert.equal(list.pressTab(), true);
  });

  it('empty: no number of Tabs accepts it (nothing to accept); cycling to a real candidate does', () => {
    const list = new CandidateList([cand('', 0.95), cand('y', 0.9)], true);
    assert.equal(list.tabAction(), 'nothing');
    assert.equal(list.describe().tab, 'empty result — nothing to accept');
    assert.equal(list.pressTab(), false);
    assert.equal(list.pressTab(), false, 'a second Tab does not delete the selection either');
    assert.equal(list.tabAction(), 'nothing');
    list.cycle(1);
    assert.equal(list.tabAction(), 'accept');
    assert.equal(list.pressTab(), true);
  });

  it('empty at a cursor: nothing to accept either', () => {
    const list = new CandidateList([cand('', 0.95)], false);
    assert.equal(list.tabAction(), 'nothing');
    assert.equal(list.pressTab(), false);
  });

  it('refuses an empty list', () => {
    assert.throws(() => new CandidateList([], false));
  });
});
