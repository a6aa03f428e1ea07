// What the preview shows, in the real extension host: the frames handed to VS Code's inline provider
// and the text Tab writes. The model's side is a recorded engine reply (snapshots and a result with
// gaps of blank lines, as the bundled model produces on some regions): the real engine cannot be made
// to produce a given gap on demand. Everything after the engine (controller, frame pump, provider,
// accept) is the real extension.
import * as assert from 'assert';
import * as vscode from 'vscode';
import type { InfillRequest, InfillResult, Snapshot } from '../../src/engine/protocol';
import type { TestHooks } from '../../src/extension';
import {
  api,
  closeAllEditors,
  fixtureModel,
  openFile,
  recordedResult,
  recordedSnapshot,
  resetSettings,
  setSetting,
  sleep,
  startSession,
  waitFor,
  waitForState,
} from './helpers';

const LINES = [
  'def f(n):',
  '    a = n',
  '    b = a',
  '    return b',
  '',
  '',
  'def g(n):',
  '    return n',
  '',
];
const SOURCE = LINES.join('\n');

describe('preview render: what the ghost text shows is what Tab writes', function () {
  let a: TestHooks;
  let realInfill: TestHooks['engine']['infill'];

  before(async () => {
    a = await api();
    await setSetting('model.folder', fixtureModel());
    await setSetting('preview.snapshotInterval', 0);
    realInfill = a.engine.infill;
  });

  afterEach(async () => {
    a.engine.infill = realInfill;
    a.controller.cancel('test cleanup');
    await closeAllEditors();
  });

  after(async () => {
    await resetSettings(['model.folder', 'preview.snapshotInterval']);
  });

  it('gaps of blank lines are closed in every frame and in what Tab writes', async () => {
    const frames = ['▓▓▓▓\n\n\n\n\n▓▓▓\n\n\n\n', '    a = ▓\n\n\n\n    ▓ b\n\n\n'];
    const completion = '    a = 1\n\n\n\n\n    return a\n\n\n\n';
    a.engine.infill = (
      _request: Omit<InfillRequest, 'id'>,
      onSnapshot: (s: Snapshot) => void,
      signal: AbortSignal,
    ) =>
      new Promise<InfillResult>((resolve, reject) => {
        signal.addEventListener('abort', () =>
          reject(Object.assign(new Error('aborted'), { name: 'AbortError' })),
        );
        void (async () => {
          onSnapshot(recordedSnapshot(1, frames[0], 7));
          await sleep(400);
          onSnapshot(recordedSnapshot(2, frames[1], 2));
          await sleep(400);
          resolve(recordedResult(completion));
        })();
      });
    const editor = await openFile(SOURCE);
    // Lines 2-4 (the body), whole lines: the region has no blank line and ends with one line break.
    editor.selection = new vscode.Selection(1, 0, 4, 0);
    const shownBefore = a.renderer.shown.length;
    const s = await startSession(a, 'diffusionInfill.infillSelection');
    await waitForState(s, ['ready']);
    const preview = '    a = 1\n\n    return a\n';
    // Drawn from the end of the region's last line, the line break first (PreviewSession.lineEndAnchor).
    const ghost = '\n    a = 1\n\n    return a';
    await waitFor('the final frame provided to VS Code', () => a.renderer.provided.at(-1) === ghost);
    const shown = a.renderer.shown.slice(shownBefore);
    for (const f of shown) {
      assert.ok(!/\n[ \t]*\n[ \t]*\n/.test(f), `no frame has two blank lines in a row: ${JSON.stringify(f)}`);
    }
    assert.ok(shown.includes('\n▓▓▓▓\n\n▓▓▓'), `the first frame, gaps closed: ${JSON.stringify(shown)}`);
    assert.strictEqual(a.controller.shownCompletion(s), preview);

    assert.strictEqual(await vscode.commands.executeCommand('diffusionInfill.accept'), true);
    await waitForState(s, ['accepted']);
    const expected = [LINES[0], '    a = 1', '', '    return a', ...LINES.slice(4)].join('\n');
    assert.strictEqual(editor.document.getText(), expected, 'Tab wrote exactly the final preview');
  });
});
