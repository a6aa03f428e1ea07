// In-host flows with the real model: Infill Selection (snapshots, accept, undo), reject, typing and
// other cancellations, empty selection, Generate from Prompt, status bar states.
import * as assert from 'assert';
import * as fs from 'fs';
import * as vscode from 'vscode';
import type { TestHooks } from '../../src/extension';
import {
  api,
  closeAllEditors,
  fixtureModel,
  openFile,
  outcomeLine,
  resetSettings,
  setSetting,
  sleep,
  startSession,
  waitFor,
  waitForState,
} from './helpers';
import { FIBONACCI } from './fibonacci';

/** Selects the body of fibonacci (lines 2-5, whole lines). */
function selectBody(editor: vscode.TextEditor): vscode.Range {
  const range = new vscode.Range(1, 0, 5, 0);
  editor.selection = new vscode.Selection(range.start, range.end);
  return range;
}

const TOUCHED = [
  'model.folder',
  'sampler.strategy',
  'preview.snapshotInterval',
  'context.defaultLength',
  'model.threads',
  'preview.placeholder',
  'sampler.unsureBelow',
];

describe('Infill Selection and Generate from Prompt', function () {
  let a: TestHooks;

  before(async () => {
    a = await api();
    await setSetting('model.folder', fixtureModel());
    await setSetting('sampler.strategy', 'threshold'); // no remasking: masks only go down
    await setSetting('preview.snapshotInterval', 0);
    await setSetting('sampler.unsureBelow', 0); // one Tab accepts (the unsure flow: decoding.test.ts)
  });

  afterEach(async () => {
    a.controller.cancel('test cleanup');
    await closeAllEditors();
  });

  after(async () => {
    await resetSettings(TOUCHED);
  });

  it('shows loading, then step k/N, then done, then idle in the status bar', async () => {
    // A new threads value forces a reload, so the loading state is visible.
    await setSetting('model.threads', 1);
    const editor = await openFile(FIBONACCI);
    selectBody(editor);
    const from = a.statusBar.history.length;
    const s = await startSession(a, 'diffusionInfill.infillSelection');
    await waitForState(s, ['ready']);
    const kinds = a.statusBar.history.slice(from).map((h) => h.kind);
    assert.ok(kinds.includes('loading'), `loading state shown: ${kinds.join(',')}`);
    assert.ok(kinds.indexOf('loading') < kinds.indexOf('step'), `loading before step: ${kinds.join(',')}`);
    assert.strictEqual(kinds.at(-1), 'done', `done after the last step: ${kinds.join(',')}`);
    const steps = a.statusBar.history.slice(from).filter((h) => h.kind === 'step');
    assert.ok(steps.length > 0);
    await vscode.commands.executeCommand('diffusionInfill.reject');
    assert.strictEqual(a.statusBar.state.kind, 'idle');
    assert.match(a.statusBar.text, /Diffusion/);
  });

  it('selection -> snapshots with fewer masks each step -> accept = prefix + completion + suffix, one undo restores', async () => {
    const editor = await openFile(FIBONACCI);
    const range = selectBody(editor);
    const document = editor.document;
    const prefix = document.getText(new vscode.Range(new vscode.Position(0, 0), range.start));
    const suffix = document.getText(
      new vscode.Range(range.end, document.lineAt(document.lineCount - 1).range.end),
    );
    const shownBefore = a.renderer.shown.length;

    const s = await startSession(a, 'diffusionInfill.infillSelection');
    assert.strictEqual(s.spec.kind, 'selection');
    assert.strictEqual(s.spec.request.selectionText, document.getText(range));
    assert.ok(
      editor.selection.isEmpty &&
        editor.selection.active.isEqual(document.lineAt(range.end.line - 1).range.end),
      "cursor parked at the end of the region's last line (a whole-line region)",
    );
    const stepText = await waitFor(
      'a step in the status bar',
      () => /step \d+\/\d+/.test(a.statusBar.text) && a.statusBar.text,
    );
    assert.match(stepText, /step \d+\/\d+ · \d+ ms/);
    await waitForState(s, ['ready']);

    // Snapshots arrive in order, masks never increase, the last one is complete.
    assert.ok(s.snapshots.length >= 2, `several snapshots (${s.snapshots.length})`);
    for (let i = 1; i < s.snapshots.length; i++) {
      assert.ok(s.snapshots[i].step > s.snapshots[i - 1].step, 'steps increase');
      assert.ok(s.snapshots[i].masksLeft <= s.snapshots[i - 1].masksLeft, 'masks do not increase');
    }
    assert.ok(
      s.snapshots[0].masksLeft > s.snapshots.at(-1)!.masksLeft,
      'fewer masks at the end than at the start',
    );
    assert.strictEqual(s.snapshots.at(-1)!.masksLeft, 0);
    // The preview showed masked positions as the placeholder glyph, then the completion.
    const completion = a.controller.shownCompletion(s); // what the preview shows and Tab writes
    assert.ok(
      completion.endsWith('\n'),
      `the region's final line break is shown: ${JSON.stringify(completion)}`,
    );
    // Drawn from the end of the region's last line: the line break first (PreviewSession.lineEndAnchor).
    const ghost = '\n' + completion.slice(0, -1);
    const frames = await waitFor('the final frame', () => {
      const f = a.renderer.shown.slice(shownBefore);
      return f.at(-1) === ghost && f;
    });
    assert.ok(
      frames.some((f) => f.includes('▓')),
      'an early frame shows masked positions',
    );
    assert.ok(a.renderer.provided.length > 0, 'VS Code asked the inline provider for the ghost text');
    assert.strictEqual(document.getText(), FIBONACCI, 'the document is untouched before accept');
    assert.strictEqual(document.isDirty, false);

    assert.strictEqual(await vscode.commands.executeCommand('diffusionInfill.accept'), true);
    assert.strictEqual(s.state, 'accepted');
    // The region ends with a line break (whole lines): the shown completion ends with it too (shownText).
    assert.strictEqual(document.getText(), prefix + completion + suffix);
    assert.match(outcomeLine(a, s.id) ?? '', /accepted/);
    assert.strictEqual(a.statusBar.state.kind, 'idle');

    await vscode.commands.executeCommand('undo');
    assert.strictEqual(document.getText(), FIBONACCI, 'one undo restores the original exactly');
  });

  it('reject leaves the document byte-identical and not dirty (after the result and mid-refinement)', async () => {
    const editor = await openFile(FIBONACCI);
    selectBody(editor);
    const file = editor.document.uri.fsPath;
    const bytes = fs.readFileSync(file);

    const s1 = await startSession(a, 'diffusionInfill.infillSelection');
    await waitForState(s1, ['ready']);
    await vscode.commands.executeCommand('diffusionInfill.reject');
    assert.strictEqual(s1.state, 'rejected');
    assert.match(outcomeLine(a, s1.id) ?? '', /rejected/);

    selectBody(editor);
    const s2 = await startSession(a, 'diffusionInfill.infillSelection');
    await vscode.commands.executeCommand('diffusionInfill.reject');
    assert.strictEqual(s2.state, 'rejected');
    await sleep(300); // a late result must not apply anything

    assert.strictEqual(editor.document.getText(), FIBONACCI);
    assert.strictEqual(editor.document.isDirty, false);
    assert.ok(fs.readFileSync(file).equals(bytes), 'file on disk unchanged');
    assert.strictEqual(a.renderer.current, undefined, 'no ghost text left');
  });

  it('typing in the document during an infill cancels it and nothing is applied', async () => {
    const editor = await openFile(FIBONACCI);
    const range = selectBody(editor);
    const s = await startSession(a, 'diffusionInfill.infillSelection');
    assert.strictEqual(s.state, 'running');
    // The character lands where the cursor was parked: the end of the region's last line.
    const parked = editor.document.offsetAt(editor.document.lineAt(range.end.line - 1).range.end);
    await vscode.commands.executeCommand('type', { text: 'x' });
    assert.strictEqual(s.state, 'cancelled');
    assert.match(s.reason ?? '', /edited/);
    await sleep(300);
    const expected = FIBONACCI.slice(0, parked) + 'x' + FIBONACCI.slice(parked);
    assert.strictEqual(editor.document.getText(), expected, 'only the typed character is in the document');
    assert.match(outcomeLine(a, s.id) ?? '', /cancelled: the document was edited/);
    assert.strictEqual(
      await vscode.commands.executeCommand('diffusionInfill.accept'),
      false,
      'nothing left to accept',
    );
  });

  it('a new request, switching editors or moving the cursor cancels the preview', async () => {
    const editor = await openFile(FIBONACCI);
    selectBody(editor);
    const s1 = await startSession(a, 'diffusionInfill.infillSelection');
    selectBody(editor);
    const s2 = await startSession(a, 'diffusionInfill.infillSelection');
    assert.strictEqual(s1.state, 'cancelled');
    assert.match(s1.reason ?? '', /superseded/);
    await waitForState(s2, ['ready']);

    await openFile('x = 1\n');
    await waitForState(s2, ['cancelled'], 5000);
    assert.match(s2.reason ?? '', /another editor/);

    const third = await vscode.window.showTextDocument(editor.document);
    selectBody(third);
    const s3 = await startSession(a, 'diffusionInfill.infillSelection');
    await waitForState(s3, ['ready']);
    await vscode.commands.executeCommand('cursorUp');
    await waitForState(s3, ['cancelled'], 5000);
    assert.match(s3.reason ?? '', /cursor moved/);
    assert.strictEqual(third.document.getText(), FIBONACCI);
  });

  it('empty selection: infill at the cursor with the default length', async () => {
    await setSetting('context.defaultLength', 12);
    try {
      const editor = await openFile(FIBONACCI);
      const at = new vscode.Position(5, 0);
      editor.selection = new vscode.Selection(at, at);
      const s = await startSession(a, 'diffusionInfill.infillSelection');
      assert.strictEqual(s.spec.kind, 'cursor');
      assert.strictEqual(s.spec.request.selectionText, undefined);
      assert.strictEqual(s.spec.request.defaultCanvasTokens, 12);
      await waitForState(s, ['ready']);
      assert.strictEqual(s.result!.lengths[0].tokens, 12, 'the default length is the first one tried');
      const completion = a.controller.shownCompletion(s); // what the preview shows and Tab writes
      await vscode.commands.executeCommand('diffusionInfill.accept');
      const offset = editor.document.offsetAt(at);
      assert.strictEqual(
        editor.document.getText(),
        FIBONACCI.slice(0, offset) + completion + FIBONACCI.slice(offset),
      );
    } finally {
      await setSetting('context.defaultLength', undefined);
    }
  });

  it('Generate from Prompt: the prompt reaches the model as a comment, accept inserts at the cursor', async () => {
    const editor = await openFile(FIBONACCI);
    const at = new vscode.Position(9, 0); // the empty last line
    editor.selection = new vscode.Selection(at, at);
    const prompt = 'return the sum of a list of numbers';
    a.ui.answerNextInputBox(prompt);
    const s = await startSession(a, 'diffusionInfill.generateFromPrompt');
    assert.strictEqual(s.spec.kind, 'prompt');
    assert.ok(
      s.spec.request.prefix.endsWith(`\n# ${prompt}\n`),
      `prompt comment ends the prefix: ${JSON.stringify(s.spec.request.prefix.slice(-60))}`,
    );
    assert.strictEqual(editor.document.getText(), FIBONACCI, 'the prompt is not written into the document');
    await waitForState(s, ['ready']);
    const completion = a.controller.shownCompletion(s); // what the preview shows and Tab writes
    await vscode.commands.executeCommand('diffusionInfill.accept');
    const offset = editor.document.offsetAt(at);
    assert.strictEqual(
      editor.document.getText(),
      FIBONACCI.slice(0, offset) + completion + FIBONACCI.slice(offset),
    );
    assert.ok(!editor.document.getText().includes(prompt));
  });

  it('Generate from Prompt: the comment follows the language and the indentation of the cursor line', async () => {
    const cases: [string, string, string][] = [
      ['ts', 'function f() {\n  \n}\n', '  // sort the list\n  '],
      ['css', 'a {\n  \n}\n', '  /* sort the list */\n  '],
      ['sql', 'SELECT\n  \n', '  -- sort the list\n  '],
    ];
    for (const [ext, text, tail] of cases) {
      const editor = await openFile(text, ext);
      const at = new vscode.Position(1, 2);
      editor.selection = new vscode.Selection(at, at);
      a.ui.answerNextInputBox('sort the list');
      const s = await startSession(a, 'diffusionInfill.generateFromPrompt');
      assert.ok(
        s.spec.request.prefix.endsWith(tail),
        `${ext}: ${JSON.stringify(s.spec.request.prefix)} ends with ${JSON.stringify(tail)}`,
      );
      await vscode.commands.executeCommand('diffusionInfill.reject');
      assert.strictEqual(editor.document.getText(), text);
    }
  });

  it('Generate from Prompt: an empty or dismissed input box starts nothing and says so in the log', async () => {
    await openFile(FIBONACCI);
    const before = a.controller.current;
    a.ui.answerNextInputBox(undefined);
    await vscode.commands.executeCommand('diffusionInfill.generateFromPrompt');
    assert.strictEqual(a.controller.current, before);
    assert.match(a.log.entries.at(-1)?.message ?? '', /cancelled: no prompt given/);
  });

  it('Tab pressed before the result accepts as soon as it arrives', async () => {
    const editor = await openFile(FIBONACCI);
    const range = selectBody(editor);
    const s = await startSession(a, 'diffusionInfill.infillSelection');
    assert.strictEqual(await vscode.commands.executeCommand('diffusionInfill.accept'), true);
    if ((await waitForState(s, ['accepted', 'ready'])) === 'ready') {
      // The early Tab met an empty completion: it is refused, never applied (hardening.test.ts pins the
      // message), and the preview stays for Esc.
      assert.strictEqual(s.result!.completion, '');
      assert.strictEqual(editor.document.getText(), FIBONACCI);
      assert.strictEqual(s.acceptWhenReady, false, 'the early Tab was answered');
      return;
    }
    const text = editor.document.getText();
    assert.strictEqual(
      text,
      FIBONACCI.slice(0, editor.document.offsetAt(range.start)) +
        a.controller.shownCompletion(s) +
        FIBONACCI.slice(FIBONACCI.indexOf('\n\ndef is_even')),
    );
  });
});
