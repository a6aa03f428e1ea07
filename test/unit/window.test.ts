// Window building: budgets respected, cuts at line boundaries, canvas sizing, fitting max_length.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadManifest } from '../../src/engine/manifest';
import {
  buildWindow,
  canvasLength,
  prefixWindow,
  splitTrailingWhitespace,
  stripMovedWhitespace,
  suffixWindow,
  type WindowModel,
} from '../../src/engine/window';
import { CodeTokenizer } from '../../src/engine/tokenizer';
import { writeTestModel } from './helpers';

const manifest = loadManifest(writeTestModel());
const tokenizer = CodeTokenizer.forManifest(manifest);
const MASK = manifest.specialTokens.mask;
const BOS = manifest.specialTokens.bos!;
const model = (maxLength = 4096, leadingContext = 0): WindowModel => ({
  maxLength,
  maskId: MASK,
  leadTokenId: BOS,
  leadingContext,
});

const lines = (n: number, tag: string) =>
  Array.from({ length: n }, (_, i) => `${tag}_${i} = compute(${i}, "${tag}")\n`).join('');

describe('request window', () => {
  it('short context is kept whole, canvas of masks in between', () => {
    const w = buildWindow(tokenizer, { prefix: 'a = 1\n', suffix: '\nb = 2\n', canvasTokens: 5 }, model());
    assert.equal(w.canvasLength, 5);
    assert.deepEqual(w.inputIds.slice(w.canvasStart, w.canvasStart + 5), [MASK, MASK, MASK, MASK, MASK]);
    assert.equal(tokenizer.decode(w.inputIds.slice(0, w.canvasStart)), 'a = 1\n');
    assert.equal(tokenizer.decode(w.inputIds.slice(w.canvasStart + 5)), '\nb = 2\n');
    assert.deepEqual(w.notes, []);
  });

  it('prefix window: within budget, starts at a line start, ends at the hole', () => {
    const text = lines(100, 'p') + 'x = ';
    const w = prefixWindow(tokenizer, text, 60);
    assert.ok(w.ids.length <= 60 && w.ids.length > 30, `${w.ids.length}`);
    assert.ok(text.endsWith(w.text));
    assert.equal(text[text.length - w.text.length - 1], '\n', 'cut right after a newline');
    assert.equal(tokenizer.decode(w.ids), w.text);
    assert.ok(w.cut);
  });

  it('suffix window: within budget, ends at a line end, starts at the hole', () => {
    const text = ')\n' + lines(100, 's');
    const w = suffixWindow(tokenizer, text, 50);
    assert.ok(w.ids.length <= 50 && w.ids.length > 20, `${w.ids.length}`);
    assert.ok(text.startsWith(w.text));
    assert.ok(w.text.endsWith('\n'));
  });

  it('a single line longer than the budget is cut inside the line, next to the hole', () => {
    const long = 'y = ' + 'abc + '.repeat(200);
    const w = prefixWindow(tokenizer, long, 40);
    assert.ok(w.ids.length <= 40 && w.ids.length > 0);
    assert.ok(long.endsWith(w.text));
  });

  it('canvas = ceil(selection tokens * (1 + slack)) + slackMin; canvasTokens overrides; default without selection', () => {
    assert.equal(canvasLength({ prefix: '', suffix: '' }, 0), 32);
    assert.equal(canvasLength({ prefix: '', suffix: '', defaultCanvasTokens: 9 }, 0), 9);
    assert.equal(canvasLength({ prefix: '', suffix: '' }, 20), 25 + 4);
    assert.equal(canvasLength({ prefix: '', suffix: '', canvasSlack: 0.5, canvasSlackMin: 0 }, 20), 30);
    assert.equal(canvasLength({ prefix: '', suffix: '', canvasTokens: 7 }, 20), 7);
    const sel = 'return a + b';
    const w = buildWindow(tokenizer, { prefix: 'x', suffix: 'y', selectionText: sel }, model());
    assert.equal(w.selectionTokens, tokenizer.encode(sel).length);
    assert.equal(w.canvasLength, Math.ceil(w.selectionTokens * 1.25) + 4);
  });

  it('the default budgets are 192 prefix and 96 suffix tokens', () => {
    const w = buildWindow(
      tokenizer,
      { prefix: lines(400, 'p'), suffix: lines(400, 's'), canvasTokens: 8 },
      model(),
    );
    const suffixTokens = w.inputIds.length - w.canvasStart - 8;
    assert.ok(w.canvasStart <= 192 && w.canvasStart > 150, `${w.canvasStart}`);
    assert.ok(suffixTokens <= 96 && suffixTokens > 60, `${suffixTokens}`);
    assert.ok(w.notes.some((n) => n.includes('prefix windowed')));
  });

  it('everything fits max_length: context shrinks first, then the canvas is clipped, with notes', () => {
    const request = { prefix: lines(100, 'p'), suffix: lines(100, 's'), canvasTokens: 100 };
    const w = buildWindow(tokenizer, request, model(200));
    assert.ok(w.inputIds.length <= 200);
    assert.equal(w.canvasLength, 100);
    assert.ok(w.notes.some((n) => n.includes('context shortened')));
    const clipped = buildWindow(tokenizer, { ...request, canvasTokens: 400 }, model(200));
    assert.ok(clipped.inputIds.length <= 200);
    assert.ok(clipped.canvasLength < 400 && clipped.canvasLength > 0);
    assert.ok(clipped.notes.some((n) => n.includes('canvas clipped from 400')));
  });

  it('a shifted model gets bos before the canvas when the prefix is empty', () => {
    const w = buildWindow(tokenizer, { prefix: '', suffix: 'z', canvasTokens: 3 }, model(4096, 1));
    assert.equal(w.inputIds[0], BOS);
    assert.equal(w.canvasStart, 1);
    const unshifted = buildWindow(tokenizer, { prefix: '', suffix: 'z', canvasTokens: 3 }, model(4096, 0));
    assert.equal(unshifted.canvasStart, 0);
    const withPrefix = buildWindow(tokenizer, { prefix: 'q', suffix: '', canvasTokens: 3 }, model(4096, 1));
    assert.notEqual(withPrefix.inputIds[0], BOS);
  });

  it('a huge document is windowed without tokenizing all of it', () => {
    const huge = lines(60_000, 'h'); // ~2 MB
    const t0 = performance.now();
    const w = buildWindow(tokenizer, { prefix: huge, suffix: huge, canvasTokens: 8 }, model());
    const ms = performance.now() - t0;
    assert.ok(w.inputIds.length <= 192 + 96 + 8);
    assert.ok(ms < 1000, `windowing took ${ms.toFixed(0)} ms`);
  });

  it('trailing indentation moves into the canvas and comes off the completion again', () => {
    assert.deepEqual(splitTrailingWhitespace('def f():\n    '), { text: 'def f():\n', whitespace: '    ' });
    assert.deepEqual(splitTrailingWhitespace('x = '), { text: 'x =', whitespace: ' ' });
    assert.deepEqual(splitTrailingWhitespace('x\n'), { text: 'x\n', whitespace: '' });
    const w = buildWindow(
      tokenizer,
      { prefix: 'def f():\n    ', suffix: '\n', selectionText: 'return 1' },
      model(),
    );
    assert.equal(tokenizer.decode(w.inputIds.slice(0, w.canvasStart)), 'def f():\n');
    assert.equal(w.movedWhitespace, '    ');
    const sized = Math.ceil(tokenizer.encode('return 1').length * 1.25) + 4;
    assert.equal(w.canvasLength, sized + tokenizer.encode('    ').length, 'room for the whitespace');
    const explicit = buildWindow(
      tokenizer,
      { prefix: 'def f():\n    ', suffix: '\n', canvasTokens: 6 },
      model(),
    );
    assert.equal(explicit.canvasLength, 6, 'an explicit canvas is taken as given');
    assert.equal(stripMovedWhitespace('    return 1', '    '), 'return 1');
    assert.equal(stripMovedWhitespace('  return 1', '    '), 'return 1');
    assert.equal(stripMovedWhitespace('      return 1', '    '), '  return 1');
    assert.equal(stripMovedWhitespace('\n    x', '    '), '\n    x');
    assert.equal(stripMovedWhitespace(' x', ''), ' x');
  });

  it('rejects nonsense sizes as bad-request', () => {
    assert.throws(
      () => buildWindow(tokenizer, { prefix: '', suffix: '', canvasTokens: 0 }, model()),
      /canvasTokens/,
    );
    assert.throws(
      () => buildWindow(tokenizer, { prefix: '', suffix: '', prefixBudget: -1 }, model()),
      /prefixBudget/,
    );
  });
});
