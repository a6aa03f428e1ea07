// Parse-error detection for late remasking: tree-sitter ERROR/MISSING ranges and the tokens they touch.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tokensInRanges } from '../../src/engine/sampler/spans';
import { SyntaxChecker } from '../../src/engine/syntax';

describe('syntax checker', () => {
  for (const [language, good, bad] of [
    ['python', 'def f(x):\n    return x + 1\n', 'def f(x):\n    return x +\n'],
    ['typescript', 'const a: number = f(1);\n', 'const a: number = f(1;\n'],
    ['javascript', 'function g() { return [1, 2]; }\n', 'function g() { return [1, 2; }\n'],
  ] as const) {
    it(`${language}: clean code has no error ranges, broken code has one near the break`, async () => {
      const checker = await SyntaxChecker.forLanguage(language);
      assert.ok(checker, `grammar for ${language}`);
      assert.deepEqual(checker.errorRanges(good), []);
      const ranges = checker.errorRanges(bad);
      assert.ok(ranges.length > 0, `${language}: no error found in ${JSON.stringify(bad)}`);
    });
  }

  it('offsets are UTF-16 code units (non-ASCII before the error)', async () => {
    const checker = (await SyntaxChecker.forLanguage('python'))!;
    const text = 's = "é☃🙂"\nx = (1 +\n';
    const ranges = checker.errorRanges(text);
    assert.ok(ranges.length > 0);
    assert.ok(
      ranges.every((r) => r.start >= text.indexOf('x') - 1 && r.end <= text.length + 1),
      JSON.stringify(ranges),
    );
  });

  it('unknown languages have no checker', async () => {
    assert.equal(await SyntaxChecker.forLanguage('cobol'), undefined);
  });

  it('tokens touching error ranges, including zero-width MISSING ranges', () => {
    const spans = [
      { start: 0, end: 3 },
      { start: 3, end: 5 },
      { start: 5, end: 9 },
    ];
    assert.deepEqual(tokensInRanges(spans, [{ start: 4, end: 6 }]), [1, 2]);
    assert.deepEqual(tokensInRanges(spans, [{ start: 5, end: 5 }]), [1, 2]);
    assert.deepEqual(tokensInRanges(spans, [{ start: 9, end: 9 }]), [2]);
    assert.deepEqual(tokensInRanges(spans, [{ start: 20, end: 30 }]), []);
  });
});
