// In-host Refine Selection with the real fixture model: a planted token is re-masked and the region
// previewed as a diff (document untouched), Tab applies one edit that one undo reverts, Esc leaves
// the file byte-identical, a clean region is left alone (with a message), an edit cancels.
//
// The fixture model is far too weak to tell good code from bad on its own (every token scores about
// 1%), so the tests take the threshold from the scores the model actually computes: the planted token
// is checked to be the one the fixture scores lowest (a premise of this fixture, asserted below), and
// the threshold is put just above it. What is tested is the mechanics, not the model's judgement.
import * as assert from 'assert';
import * as vscode from 'vscode';
import type { TestHooks } from '../../src/extension';
import type { RefineSession } from '../../src/vscode/refine';
import {
  api,
  closeAllEditors,
  fixtureModel,
  openFile,
  outcomeLine,
  resetSettings,
  setSetting,
  waitFor,
} from './helpers';
import { CLEAN_BODY, HEAD, PLANTED_AT, PLANTED_BODY, TAIL } from './planted';

const TOUCHED = ['model.folder', 'refine.threshold', 'preview.snapshotInterval', 'sampler.strategy'];
/** The body: lines 2..7 (0-based 1..7), whole lines. */
const BODY_RANGE = new vscode.Range(1, 0, 7, 0);

function waitForRefine(s: RefineSession): Promise<string> {
  return waitFor(`refine #${s.id} to finish (now ${s.state})`, () =>
    s.state !== 'running' ? s.state : undefined,
  );
}

describe('Refine Selection', function () {
  let a: TestHooks;

  before(async () => {
    a = await api();
    await setSetting('model.folder', fixtureModel());
    await setSetting('preview.snapshotInterval', 0);
    await setSetting('sampler.strategy', 'threshold');
  });

  afterEach(async () => {
    a.refine.cancel('test cleanup');
    await closeAllEditors();
  });

  after(async () => {
    await resetSettings(TOUCHED);
  });

  /** Scores the body as Refine Selection will (same text around it) and returns them, lowest first. */
  async function bodyScores(body: string) {
    const result = await a.engine.score({
      prefix: HEAD,
      text: body,
      suffix: TAIL,
      languageId: 'python',
      groups: 4,
    });
    return [...result.tokens].sort((x, y) => x.prob - y.prob);
  }

  async function refine(body: string): Promise<{ editor: vscode.TextEditor; s: RefineSession }> {
    const editor = await openFile(HEAD + body + TAIL);
    editor.selection = new vscode.Selection(BODY_RANGE.start, BODY_RANGE.end);
    assert.strictEqual(editor.document.getText(BODY_RANGE), body);
    const s = (await vscode.commands.executeCommand('diffusionInfill.refineSelection')) as RefineSession;
    assert.ok(s, 'Refine Selection started a session');
    await waitForRefine(s);
    return { editor, s };
  }

  it('a planted token is re-masked and the region previewed as a diff; Tab applies one edit, one undo restores', async () => {
    const sorted = await bodyScores(PLANTED_BODY);
    const planted = sorted[0];
    assert.ok(
      planted.start <= PLANTED_AT && PLANTED_AT < planted.end && planted.text.includes(';'),
      `fixture premise: the planted ';' is the token scored lowest, got ${JSON.stringify(planted.text)} at ${planted.start}`,
    );
    await setSetting('refine.threshold', (planted.prob + sorted[1].prob) / 2);

    const { editor, s } = await refine(PLANTED_BODY);
    const document = editor.document;
    assert.strictEqual(s.state, 'ready', `refine state ${s.state}: ${s.reason ?? ''}`);
    const r = s.result!;
    assert.strictEqual(r.doubtful.length, 1, 'exactly the planted token is below the threshold');
    const doubtful = r.scores.tokens[r.doubtful[0]];
    assert.strictEqual(doubtful.start, planted.start);
    assert.ok(r.remasked.includes(r.doubtful[0]));
    assert.strictEqual(r.scorePasses, 4, 'scoring costs G = 4 passes');
    assert.ok(r.denoisePasses >= 1);
    assert.ok(r.changed && r.text !== PLANTED_BODY);
    // The planted token is not among the model's top-k there, so it cannot come back.
    assert.strictEqual(doubtful.exact, false);
    // Preview: a diff of the region, the document untouched until accept.
    const removed = s.diff.filter((op) => op.kind === 'removed');
    assert.ok(removed.length >= 1, 'something is shown as removed');
    assert.ok(
      removed.some((op) => op.oldStart <= PLANTED_AT && PLANTED_AT < op.oldEnd),
      'the planted token is in a removed run',
    );
    assert.strictEqual(document.getText(), HEAD + PLANTED_BODY + TAIL, 'document untouched before accept');
    assert.strictEqual(document.isDirty, false);

    await vscode.commands.executeCommand('diffusionInfill.acceptRefinement');
    assert.strictEqual(s.state, 'accepted');
    assert.strictEqual(document.getText(), HEAD + r.text + TAIL, 'accept = head + refined body + tail');
    assert.match(outcomeLine(a, s.id) ?? '', /accepted/);
    await vscode.commands.executeCommand('undo');
    assert.strictEqual(document.getText(), HEAD + PLANTED_BODY + TAIL, 'one undo restores the original');
  });

  it('a clean region is left alone when nothing scores below the threshold: told so, nothing shown', async () => {
    const sorted = await bodyScores(CLEAN_BODY);
    // The threshold at the lowest score actually computed: no token is strictly below it.
    await setSetting('refine.threshold', sorted[0].prob);
    const messages = a.ui.messages.length;
    const { editor, s } = await refine(CLEAN_BODY);
    assert.strictEqual(s.state, 'unchanged', `refine state ${s.state}`);
    assert.deepStrictEqual(s.result!.doubtful, []);
    assert.strictEqual(s.result!.denoisePasses, 0, 'no denoising when nothing is doubtful');
    assert.strictEqual(s.result!.passes, 4);
    assert.strictEqual(s.diff.length, 0);
    assert.ok(
      a.ui.messages.slice(messages).some((m) => /nothing doubtful/.test(m.message)),
      'the user is told that nothing was doubtful',
    );
    assert.ok(
      a.log.entries.some((e) => e.message.startsWith(`request #${s.id} unchanged: `)),
      'the outcome line says unchanged',
    );
    assert.strictEqual(editor.document.getText(), HEAD + CLEAN_BODY + TAIL);
    assert.strictEqual(editor.document.isDirty, false);
    assert.strictEqual(await vscode.commands.executeCommand('diffusionInfill.acceptRefinement'), false);
  });

  it('Esc rejects: the file stays byte-identical and not dirty', async () => {
    const sorted = await bodyScores(PLANTED_BODY);
    await setSetting('refine.threshold', (sorted[0].prob + sorted[1].prob) / 2);
    const { editor, s } = await refine(PLANTED_BODY);
    assert.strictEqual(s.state, 'ready');
    await vscode.commands.executeCommand('diffusionInfill.rejectRefinement');
    assert.strictEqual(s.state, 'rejected');
    assert.strictEqual(editor.document.getText(), HEAD + PLANTED_BODY + TAIL);
    assert.strictEqual(editor.document.isDirty, false);
    assert.strictEqual(await vscode.commands.executeCommand('diffusionInfill.acceptRefinement'), false);
  });

  it('typing in the document cancels a ready refinement; an empty selection is refused', async () => {
    await setSetting('refine.threshold', 1);
    const { editor, s } = await refine(PLANTED_BODY);
    assert.strictEqual(s.state, 'ready');
    editor.selection = new vscode.Selection(0, 0, 0, 0);
    await vscode.commands.executeCommand('type', { text: '#' });
    assert.strictEqual(s.state, 'cancelled');
    assert.match(s.reason ?? '', /edited/);
    assert.strictEqual(
      editor.document.getText(),
      '#' + HEAD + PLANTED_BODY + TAIL,
      'only the typed character',
    );

    const before = a.ui.messages.length;
    const none = await vscode.commands.executeCommand('diffusionInfill.refineSelection');
    assert.strictEqual(none, undefined);
    assert.ok(a.ui.messages.slice(before).some((m) => /needs a selection/.test(m.message)));
  });
});
