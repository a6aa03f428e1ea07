// What an accept writes (src/vscode/acceptText.ts, pure: no vscode import): the document's own line
// endings, the region's final newline kept, nothing added to an empty result, LF for the model, and
// VS Code's own ghost-text insertion told apart from a keystroke.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  isGhostTextInsertion,
  shownText,
  textToInsert,
  tidyBlankLines,
  toLf,
} from '../../src/vscode/acceptText';

describe('accept text', () => {
  it('converts every line break of the completion to the document EOL', () => {
    assert.equal(textToInsert('a', 'x = 1\ny = 2\nz', '\r\n'), 'x = 1\r\ny = 2\r\nz');
    assert.equal(textToInsert('a', 'x = 1\ny = 2', '\n'), 'x = 1\ny = 2');
    assert.equal(textToInsert('a', 'x\r\ny', '\r\n'), 'x\r\ny', 'no doubled CR');
  });

  it("keeps the region's final newline (LF and CRLF regions)", () => {
    assert.equal(textToInsert('    return a\n', '    return b', '\n'), '    return b\n');
    assert.equal(textToInsert('    return a\r\n', '    return b', '\r\n'), '    return b\r\n');
    assert.equal(textToInsert('    return a\n', '    return b\n', '\n'), '    return b\n', 'not doubled');
    assert.equal(textToInsert('return a', 'return b', '\n'), 'return b', 'mid-line region: nothing added');
  });

  it("the preview shows the region's final newline, so it is what Tab writes", () => {
    for (const region of ['    return a\n', '    return a\r\n', 'return a']) {
      for (const completion of ['    return b', '    return b\n', '    a = 1\n\n\n\n    return a', '']) {
        const shown = shownText(completion, region);
        assert.equal(textToInsert(region, shown, '\n'), shown, JSON.stringify({ region, completion }));
      }
    }
    assert.equal(shownText('    return b', '    return a\n'), '    return b\n');
    assert.equal(shownText('▓▓\n\n\n\n▓', 'x\ny\n'), '▓▓\n\n▓\n', 'gaps closed, then the line break');
    assert.equal(shownText('return b', 'return a'), 'return b', 'mid-line region: nothing added');
    assert.equal(shownText('', 'value\n'), '');
  });

  it('an empty completion stays empty (an accept of it would only delete)', () => {
    assert.equal(textToInsert('value\n', '', '\n'), '');
  });

  it('the model gets LF', () => {
    assert.equal(toLf('a\r\nb\r\n'), 'a\nb\n');
    assert.equal(toLf('a\nb'), 'a\nb');
  });

  it('VS Code inserting the ghost text is told from typing', () => {
    assert.equal(isGhostTextInsertion('    return b', '    return b\n', '\n'), true);
    assert.equal(isGhostTextInsertion('x\r\ny', 'x\ny', '\r\n'), true, 'inserted in CRLF');
    assert.equal(isGhostTextInsertion('    ', '    return b', '\n'), true, 'accept word');
    assert.equal(isGhostTextInsertion(' ', '    return b', '\n'), false, 'one keystroke is typing');
    assert.equal(
      isGhostTextInsertion('\n    ', '\n    return b', '\n'),
      false,
      'Enter with auto-indent is typing',
    );
    assert.equal(isGhostTextInsertion('\r\n\t', '\n\treturn b', '\r\n'), false, 'Enter in CRLF');
    assert.equal(
      isGhostTextInsertion('\n    return', '\n    return b', '\n'),
      true,
      'accept word after the line break',
    );
    assert.equal(isGhostTextInsertion('xy', '    return b', '\n'), false, 'not the ghost text');
    assert.equal(isGhostTextInsertion('ab', '', '\n'), false, 'nothing shown');
  });

  // Tried as a new user would: multi-line ghost text spread over large gaps of blank lines and pushed
  // the closing `}` far down. The preview (every frame) and what Tab writes are the same tidied text.
  describe('blank-line gaps (preview and accept)', () => {
    it('closes a gap of blank lines to one blank line', () => {
      assert.equal(tidyBlankLines('a = 1\n\n\n\n\nb = 2', 'x'), 'a = 1\n\nb = 2');
      assert.equal(
        tidyBlankLines('a = 1\n  \n\t\n\nb = 2', 'x'),
        'a = 1\n  \nb = 2',
        'whitespace-only lines',
      );
      assert.equal(tidyBlankLines('a\n\nb\n\nc', 'x'), 'a\n\nb\n\nc', 'single blank lines stay');
      assert.equal(tidyBlankLines('\n\n\n\nreturn a', ''), '\n\nreturn a', 'leading gap');
    });

    it('adds no blank lines at the end beyond what the region ended with', () => {
      assert.equal(tidyBlankLines('    return b\n\n\n\n', '    return a\n'), '    return b\n');
      assert.equal(tidyBlankLines('    return b\n\n\n', '    return a\n\n'), '    return b\n\n');
      assert.equal(
        tidyBlankLines('x = 1\n\n\n    ', '  y\n    '),
        'x = 1\n    ',
        "the suffix's indentation stays",
      );
      assert.equal(tidyBlankLines('foo()\n\n', ''), 'foo()\n', 'an insertion keeps its line break');
      assert.equal(tidyBlankLines('\n\n\n', ''), '\n');
    });

    it("keeps the region's own gaps (a region with two blank lines between functions)", () => {
      const region = 'def f():\n    pass\n\n\ndef g():\n    pass\n';
      assert.equal(
        tidyBlankLines('def f():\n    return 1\n\n\ndef g():\n    return 2\n', region),
        'def f():\n    return 1\n\n\ndef g():\n    return 2\n',
      );
      assert.equal(tidyBlankLines('a\n\n\n\n\nb', region), 'a\n\n\nb');
      assert.equal(tidyBlankLines('a\n\n\n\nb', 'p\r\n\r\n\r\nq'), 'a\n\n\nb', 'CRLF region');
    });

    it('never touches a line with a placeholder or code, nor text without gaps', () => {
      assert.equal(tidyBlankLines('░░\n\n\n░\n\n\n', 'x'), '░░\n\n░\n');
      assert.equal(tidyBlankLines('if (x) {\n  ░ y;\n}', 'x'), 'if (x) {\n  ░ y;\n}');
      assert.equal(tidyBlankLines('', 'x'), '');
    });

    it('what Tab writes is the final preview in the document EOL, and is told as our ghost text', () => {
      const region = 'function f() {\n  return 1;\n}\n';
      const completion = 'function f() {\n\n\n\n  return 2;\n\n\n}\n\n\n';
      const preview = tidyBlankLines(completion, region);
      assert.equal(preview, 'function f() {\n\n  return 2;\n\n}\n');
      assert.equal(textToInsert(region, preview, '\n'), preview);
      assert.equal(textToInsert(region, preview, '\r\n'), preview.replace(/\n/g, '\r\n'));
      assert.equal(isGhostTextInsertion(textToInsert('', preview, '\r\n'), preview, '\r\n'), true);
      assert.equal(
        isGhostTextInsertion(textToInsert('', completion, '\n'), preview, '\n'),
        false,
        'the raw text is not what was shown',
      );
    });
  });
});
