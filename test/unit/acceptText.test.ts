// What an accept writes (src/vscode/acceptText.ts, pure: no vscode import): the document's own line
// endings, the region's final newline kept, nothing added to an empty result, LF for the model, and
// VS Code's own ghost-text insertion told apart from a keystroke.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isGhostTextInsertion, textToInsert, toLf } from '../../src/vscode/acceptText';

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
    assert.equal(isGhostTextInsertion('xy', '    return b', '\n'), false, 'not the ghost text');
    assert.equal(isGhostTextInsertion('ab', '', '\n'), false, 'nothing shown');
  });
});
