// The word diff Refine Selection previews: applying it gives the new text, unchanged words are kept
// as equal runs, a changed identifier is one removal plus one insertion at the same place.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyDiff, wordDiff } from '../../src/vscode/textDiff';

describe('refine preview word diff', () => {
  it('identical texts: one equal run', () => {
    const ops = wordDiff('return a + b\n', 'return a + b\n');
    assert.deepEqual(
      ops.map((o) => o.kind),
      ['equal'],
    );
  });

  it('a changed identifier: removal and insertion at its offset, the rest equal', () => {
    const before = '    return zebra\n';
    const after = '    return False\n';
    const ops = wordDiff(before, after);
    assert.equal(applyDiff(before, ops), after);
    const removed = ops.filter((o) => o.kind === 'removed');
    const added = ops.filter((o) => o.kind === 'added');
    assert.deepEqual(
      removed.map((o) => before.slice(o.oldStart, o.oldEnd)),
      ['zebra'],
    );
    assert.deepEqual(
      added.map((o) => [o.text, o.oldStart]),
      [['False', before.indexOf('zebra')]],
    );
  });

  it('insertions, deletions and newlines round-trip', () => {
    const cases: [string, string][] = [
      ['', 'x = 1\n'],
      ['x = 1\n', ''],
      ['for i in range(n):\n    s += i\n', 'for i in range(2, n):\n    s += i * i\n'],
      ['a(b, c)', 'a(c)'],
      ['if (x) { y(); }', 'if (x) {\n  y();\n}'],
    ];
    for (const [a, b] of cases) {
      const ops = wordDiff(a, b);
      assert.equal(applyDiff(a, ops), b, JSON.stringify([a, b]));
      // Removed and equal runs tile the old text in order.
      const tiles = ops.filter((o) => o.kind !== 'added');
      let at = 0;
      for (const t of tiles) {
        assert.equal(t.oldStart, at);
        at = t.oldEnd;
      }
      assert.equal(at, a.length);
    }
  });
});
