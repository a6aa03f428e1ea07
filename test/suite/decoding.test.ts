// In-host decoding flows with the real (fixture) model and the default strategy (guarded): the
// length search and candidates reach the preview, Alt+] / Alt+[ cycle the candidates with their
// score in the status bar, Tab accepts the one shown, and an unsure result needs a second Tab.
import * as assert from 'assert';
import * as vscode from 'vscode';
import type { TestHooks } from '../../src/extension';
import type { PreviewSession } from '../../src/vscode/preview';
import {
  api,
  closeAllEditors,
  EXTENSION_ID,
  fixtureModel,
  openFile,
  resetSettings,
  setSetting,
  startSession,
  waitFor,
  waitForState,
} from './helpers';
import { FIBONACCI } from './fibonacci';

const BODY = new vscode.Range(1, 0, 5, 0);
/** A raw candidate as accepted on the whole-line region: its final newline kept when it has none. */
function keepFinalNewline(completion: string): string {
  return completion.length === 0 || completion.endsWith('\n') ? completion : completion + '\n';
}

const BEFORE = FIBONACCI.split('\n')[0] + '\n';
const AFTER = FIBONACCI.split('\n').slice(5).join('\n');

const TOUCHED = [
  'model.folder',
  'sampler.strategy',
  'sampler.candidates',
  'sampler.candidateTemperature',
  'sampler.unsureBelow',
  'preview.snapshotInterval',
];

async function infillBody(a: TestHooks): Promise<PreviewSession> {
  const editor = await openFile(FIBONACCI);
  editor.selection = new vscode.Selection(BODY.start, BODY.end);
  const s = await startSession(a, 'diffusionInfill.infillSelection');
  await waitForState(s, ['ready']);
  return s;
}

/**
 * The ghost text shows `text`, a completion of the whole-line BODY (an empty one shows none): drawn
 * from the end of the region's last line, the region's final line break first (lineEndAnchor).
 */
async function shows(a: TestHooks, text: string): Promise<void> {
  if (text.length > 0) {
    const ghost = '\n' + text.replace(/\n$/, '');
    await waitFor(`ghost text ${JSON.stringify(ghost)}`, () => a.renderer.current?.text === ghost);
  }
}

describe('Decoding in the editor: default strategy, candidates, unsure', function () {
  let a: TestHooks;

  before(async () => {
    a = await api();
    await setSetting('model.folder', fixtureModel());
    await setSetting('sampler.strategy', undefined); // the default
    // The default frame interval too: these tests look at results, not at every frame (and the
    // status bar's bounded history stays small for the suites after this one).
    await setSetting('preview.snapshotInterval', undefined);
  });

  afterEach(async () => {
    a.controller.cancel('test cleanup');
    await closeAllEditors();
    await resetSettings(['sampler.candidates', 'sampler.candidateTemperature', 'sampler.unsureBelow']);
  });

  after(async () => {
    await resetSettings(TOUCHED);
  });

  it('guarded (the default) end to end: length search, candidates, score in the status bar, Tab accepts', async () => {
    await setSetting('sampler.unsureBelow', 0); // nothing is unsure: one Tab accepts
    assert.strictEqual(a.settings().sampler.strategy, 'guarded');
    const s = await infillBody(a);
    const r = s.result!;
    assert.ok(r.candidates.length >= 1, 'candidates in the result');
    assert.strictEqual(r.candidates[0].completion, r.completion);
    assert.ok(r.lengths.length >= 2, `length search ran: ${JSON.stringify(r.lengths)}`);
    assert.ok(r.nfeRows > r.nfe, `first pass batched: ${r.nfeRows} rows in ${r.nfe} passes`);
    const list = a.controller.candidatesOf(s)!;
    assert.strictEqual(list.current.completion, r.completion);
    await shows(a, r.completion);
    if (r.completion.length === 0) {
      // Empty over a selection: Tab must not delete it (hardening.test.ts pins the message).
      assert.match(a.statusBar.text, /Diffusion: .*empty result — nothing to accept/);
      assert.strictEqual(await vscode.commands.executeCommand('diffusionInfill.accept'), false);
      assert.strictEqual(s.state, 'ready');
      assert.strictEqual(s.spec.editor.document.getText(), FIBONACCI);
      return;
    }
    assert.match(a.statusBar.text, /Diffusion: .*\d+%.* · Tab accept/);
    assert.strictEqual(await vscode.commands.executeCommand('diffusionInfill.accept'), true);
    await waitForState(s, ['accepted']);
    assert.strictEqual(s.spec.editor.document.getText(), BEFORE + a.controller.shownCompletion(s) + AFTER);
  });

  it('Alt+] / Alt+[ cycle the candidates (score shown); Tab accepts the one shown', async () => {
    await setSetting('sampler.unsureBelow', 0);
    await setSetting('sampler.candidates', 4);
    await setSetting('sampler.candidateTemperature', 1.5);
    const s = await infillBody(a);
    const list = a.controller.candidatesOf(s)!;
    assert.ok(list.count >= 2, `distinct candidates: ${JSON.stringify(s.result!.candidates)}`);
    await vscode.commands.executeCommand('diffusionInfill.nextCandidate');
    assert.strictEqual(list.index, 1);
    assert.match(a.statusBar.text, new RegExp(`2/${list.count} · \\d+%`));
    await shows(a, list.current.completion);
    await vscode.commands.executeCommand('diffusionInfill.previousCandidate');
    assert.strictEqual(list.index, 0);
    await vscode.commands.executeCommand('diffusionInfill.previousCandidate');
    assert.strictEqual(list.index, list.count - 1, 'wraps around');
    await vscode.commands.executeCommand('diffusionInfill.nextCandidate');
    await vscode.commands.executeCommand('diffusionInfill.nextCandidate');
    const shown = list.current.completion;
    assert.strictEqual(list.index, 1);
    assert.notStrictEqual(shown, s.result!.candidates[0].completion);
    await shows(a, shown);
    if (shown.length === 0) {
      // An empty candidate is never accepted, whatever was accepted before it.
      assert.strictEqual(await vscode.commands.executeCommand('diffusionInfill.accept'), false);
      assert.strictEqual(s.spec.editor.document.getText(), FIBONACCI);
      return;
    }
    assert.strictEqual(await vscode.commands.executeCommand('diffusionInfill.accept'), true);
    await waitForState(s, ['accepted']);
    assert.strictEqual(s.spec.editor.document.getText(), BEFORE + keepFinalNewline(shown) + AFTER);
  });

  it('unsure: the status bar says so, the first Tab leaves the code alone, the second inserts the guess', async () => {
    await setSetting('sampler.unsureBelow', 1); // below a confidence of 1: always unsure
    const s = await infillBody(a);
    assert.strictEqual(s.result!.unsure, true);
    assert.notStrictEqual(
      s.result!.completion,
      '',
      'the unsure flow needs a non-empty guess (empty: hardening.test.ts)',
    );
    assert.match(a.statusBar.text, /^\$\(question\) Diffusion: .*unsure \d+%.*Tab twice/);
    const document = s.spec.editor.document;
    assert.strictEqual(await vscode.commands.executeCommand('diffusionInfill.accept'), true);
    assert.strictEqual(s.state, 'ready', 'the first Tab only arms');
    assert.strictEqual(document.getText(), FIBONACCI, 'the code is untouched');
    assert.match(a.statusBar.text, /Tab again inserts/);
    await vscode.commands.executeCommand('diffusionInfill.accept');
    await waitForState(s, ['accepted']);
    assert.strictEqual(document.getText(), BEFORE + a.controller.shownCompletion(s) + AFTER);
  });

  it('Alt+] and Alt+[ are bound while a preview is shown', () => {
    const bindings = vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON.contributes.keybindings as {
      command: string;
      key: string;
      when: string;
    }[];
    for (const [command, key] of [
      ['diffusionInfill.nextCandidate', 'alt+]'],
      ['diffusionInfill.previousCandidate', 'alt+['],
    ]) {
      const b = bindings.find((k) => k.command === command);
      assert.ok(b, `${command} has a keybinding`);
      assert.strictEqual(b.key, key);
      assert.match(b.when, /diffusionInfill\.previewActive/);
    }
  });
});
