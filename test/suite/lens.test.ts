// In-host confidence lens with the real fixture model: the planted token is underlined and its hover
// lists the model's alternatives with probabilities; a clean function is left alone when no token is
// below the threshold (taken from the computed scores, as in refine.test.ts); an edit clears the lens;
// it never runs while an infill is refining; the on-idle setting runs it when the cursor rests.
// Also the visualiser's switch: traces are requested only while its panel is open.
import * as assert from 'assert';
import * as vscode from 'vscode';
import type { TestHooks } from '../../src/extension';
import {
  api,
  closeAllEditors,
  fixtureModel,
  openFile,
  resetSettings,
  setSetting,
  sleep,
  startSession,
  waitFor,
  waitForState,
} from './helpers';
import { CLEAN_BODY, HEAD, PLANTED_AT, PLANTED_BODY, TAIL } from './planted';

const TOUCHED = [
  'model.folder',
  'lens.tokens',
  'lens.threshold',
  'lens.onIdle',
  'lens.idleDelay',
  'sampler.strategy',
  'preview.snapshotInterval',
  'context.defaultLength',
  'refine.threshold',
];

describe('Confidence lens', function () {
  let a: TestHooks;

  before(async () => {
    a = await api();
    await setSetting('model.folder', fixtureModel());
  });

  afterEach(async () => {
    a.lens.clear();
    a.controller.cancel('test cleanup');
    await closeAllEditors();
  });

  after(async () => {
    await resetSettings(TOUCHED);
  });

  /** Opens head + body + tail with the cursor on the planted token's line. */
  async function open(body: string): Promise<vscode.TextEditor> {
    const editor = await openFile(HEAD + body + TAIL);
    const p = editor.document.positionAt(HEAD.length + PLANTED_AT);
    editor.selection = new vscode.Selection(p, p);
    return editor;
  }

  it('underlines the least likely token of the function (the planted one); the hover gives alternatives', async () => {
    await setSetting('lens.tokens', 1);
    await setSetting('lens.threshold', 1);
    const editor = await open(PLANTED_BODY);
    const run = await vscode.commands.executeCommand<{ marks: { range: vscode.Range }[] } | undefined>(
      'diffusionInfill.confidenceLens',
    );
    assert.ok(run, 'the lens ran');
    const current = a.lens.current!;
    assert.strictEqual(current.result.passes, 4, 'G = 4 forward passes');
    assert.strictEqual(
      editor.document.getText(current.region),
      (HEAD + PLANTED_BODY).trimEnd(),
      'the scope is the enclosing function',
    );
    assert.strictEqual(current.marks.length, 1);
    const mark = current.marks[0];
    const plantedOffset = HEAD.length + PLANTED_AT;
    const offset = editor.document.offsetAt(mark.range.start);
    assert.ok(
      offset <= plantedOffset && plantedOffset < editor.document.offsetAt(mark.range.end),
      `fixture premise: the planted ';' is underlined, got ${JSON.stringify(editor.document.getText(mark.range))}`,
    );
    assert.strictEqual(editor.document.getText(mark.range), mark.score.text);

    const hovers = await vscode.commands.executeCommand<vscode.Hover[]>(
      'vscode.executeHoverProvider',
      editor.document.uri,
      mark.range.start.translate(0, 1),
    );
    const text = hovers
      .flatMap((h) => h.contents)
      .map((c) => (typeof c === 'string' ? c : (c as vscode.MarkdownString).value))
      .join('\n');
    assert.match(text, /confidence lens/);
    assert.match(text, /alternatives/);
    for (const alt of mark.score.alternatives.slice(0, 3)) {
      assert.ok(text.includes('%'), 'probabilities shown');
      assert.ok(alt.prob > 0);
    }
    assert.strictEqual(
      (text.match(/^- `/gm) ?? []).length,
      mark.score.alternatives.length,
      'one line per alternative',
    );
  });

  it('a clean function is left alone when no token is below the threshold; an edit clears the lens', async () => {
    await setSetting('lens.tokens', 5);
    await setSetting('lens.threshold', 1);
    const editor = await open(CLEAN_BODY);
    await vscode.commands.executeCommand('diffusionInfill.confidenceLens');
    const first = a.lens.current!;
    assert.strictEqual(first.marks.length, 5, 'with threshold 1 the five least likely are underlined');
    const lowest = Math.min(...first.result.tokens.map((t) => t.prob));
    // The threshold at the lowest score actually computed: nothing is strictly below it.
    await setSetting('lens.threshold', lowest);
    await vscode.commands.executeCommand('diffusionInfill.confidenceLens');
    assert.strictEqual(a.lens.current!.marks.length, 0, 'nothing underlined in the clean function');

    await setSetting('lens.threshold', 1);
    await vscode.commands.executeCommand('diffusionInfill.confidenceLens');
    assert.ok(a.lens.current && a.lens.current.marks.length > 0);
    await editor.edit((b) => b.insert(new vscode.Position(0, 0), '# '));
    assert.strictEqual(a.lens.current, undefined, 'an edit clears the lens');
  });

  it('never runs while an infill is refining', async () => {
    await setSetting('sampler.strategy', 'sequential');
    await setSetting('preview.snapshotInterval', 0);
    await setSetting('context.defaultLength', 96);
    const editor = await open(CLEAN_BODY);
    const end = editor.document.lineAt(editor.document.lineCount - 1).range.end;
    editor.selection = new vscode.Selection(end, end);
    // open() moved the cursor first: let that selection event arrive before the infill starts, or the
    // preview takes it for a cursor move it did not make and cancels (hardening.test.ts pins that rule).
    await sleep(300);
    const s = await startSession(a, 'diffusionInfill.infillSelection');
    await waitFor('the infill to be refining', () => s.snapshots.length > 0 || s.state !== 'running');
    assert.strictEqual(s.state, 'running', 'the infill is still refining (slow sequential run)');
    const runs = a.lens.runs.length;
    const skipped = a.lens.skipped.length;
    const result = await vscode.commands.executeCommand('diffusionInfill.confidenceLens');
    assert.strictEqual(result, undefined);
    assert.strictEqual(a.lens.runs.length, runs, 'no lens run');
    assert.match(a.lens.skipped.slice(skipped).join(';'), /infill is refining/);
    await vscode.commands.executeCommand('diffusionInfill.reject');
    await waitForState(s, ['rejected']);
    await resetSettings(['sampler.strategy', 'context.defaultLength']);
  });

  it('on idle: scores the function around the resting cursor by itself', async () => {
    await setSetting('lens.threshold', 1);
    await setSetting('lens.idleDelay', 200);
    await setSetting('lens.onIdle', true);
    const editor = await open(PLANTED_BODY);
    const runs = a.lens.runs.length;
    // Any cursor move starts the idle timer.
    editor.selection = new vscode.Selection(2, 4, 2, 4);
    const run = await waitFor(
      'an idle lens run',
      () => a.lens.runs.slice(runs).find((r) => r.trigger === 'idle'),
      20_000,
    );
    assert.strictEqual(run.uri, editor.document.uri.toString());
    assert.ok(run.marks.length > 0);
    await setSetting('lens.onIdle', false);
    await sleep(50);
  });
});

describe('Denoising visualiser switch', function () {
  let a: TestHooks;
  before(async () => {
    a = await api();
    await setSetting('model.folder', fixtureModel());
    await setSetting('preview.snapshotInterval', 0);
  });
  after(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await resetSettings(TOUCHED);
  });

  it('snapshots carry a per-token trace only while the panel is open; the panel gets the request', async () => {
    const editor = await openFile(HEAD + CLEAN_BODY + TAIL);
    editor.selection = new vscode.Selection(1, 0, 7, 0);
    const closed = await startSession(a, 'diffusionInfill.infillSelection');
    await waitForState(closed, ['ready']);
    assert.ok(
      closed.snapshots.every((s) => s.trace === undefined),
      'no trace with the panel closed',
    );
    await vscode.commands.executeCommand('diffusionInfill.reject');

    await vscode.commands.executeCommand('diffusionInfill.showVisualiser');
    assert.ok(a.visualiser.isOpen);
    assert.strictEqual(a.engine.trace, true);
    await waitFor('the webview to load', () => a.visualiser.sent.length > 0, 20_000);
    await vscode.window.showTextDocument(editor.document);
    editor.selection = new vscode.Selection(1, 0, 7, 0);
    const open = await startSession(a, 'diffusionInfill.infillSelection');
    await waitForState(open, ['ready']);
    assert.ok(open.snapshots.length > 0 && open.snapshots.every((s) => s.trace !== undefined), 'traced');
    const last = open.snapshots.at(-1)!.trace!;
    assert.strictEqual(last.pieces.length, open.snapshots.at(-1)!.canvasLength);
    await waitFor('the snapshots posted to the panel', () =>
      a.visualiser.sent.some((m) => m.type === 'snapshots' && m.id === open.id),
    );
    assert.ok(a.visualiser.sent.some((m) => m.type === 'request' && m.id === open.id));
    await vscode.commands.executeCommand('diffusionInfill.reject');
    a.visualiser.close();
    assert.strictEqual(a.engine.trace, false, 'closing the panel stops tracing');
  });

  it('follows a Refine Selection request too: its snapshots reach the panel with a trace', async () => {
    await setSetting('refine.threshold', 1);
    await vscode.commands.executeCommand('diffusionInfill.showVisualiser');
    await waitFor('the webview to load', () => a.visualiser.isOpen && a.visualiser.sent.length > 0, 20_000);
    const editor = await openFile(HEAD + PLANTED_BODY + TAIL);
    editor.selection = new vscode.Selection(1, 0, 7, 0);
    const s = (await vscode.commands.executeCommand('diffusionInfill.refineSelection')) as {
      id: number;
      state: string;
      snapshots: { trace?: unknown }[];
    };
    await waitFor('the refinement', () => s.state !== 'running');
    assert.strictEqual(s.state, 'ready');
    assert.ok(s.snapshots.length > 0 && s.snapshots.every((x) => x.trace !== undefined));
    await waitFor('the refine request in the panel', () =>
      a.visualiser.sent.some((m) => m.type === 'request' && m.id === s.id && m.kind === 'refine'),
    );
    await waitFor('its snapshots in the panel', () =>
      a.visualiser.sent.some((m) => m.type === 'snapshots' && m.id === s.id),
    );
    await vscode.commands.executeCommand('diffusionInfill.rejectRefinement');
    a.visualiser.close();
    await resetSettings(['refine.threshold']);
  });

  it('opened during a running preview, it traces that request from its next step on', async () => {
    await setSetting('sampler.strategy', 'sequential');
    await setSetting('context.defaultLength', 96);
    const editor = await openFile(HEAD + CLEAN_BODY + TAIL);
    const end = editor.document.lineAt(editor.document.lineCount - 1).range.end;
    editor.selection = new vscode.Selection(end, end);
    const s = await startSession(a, 'diffusionInfill.infillSelection');
    await waitFor('two snapshots', () => s.snapshots.length >= 2 || s.state !== 'running');
    assert.strictEqual(s.state, 'running');
    assert.ok(s.snapshots.every((x) => x.trace === undefined));
    await vscode.commands.executeCommand('diffusionInfill.showVisualiser');
    await waitForState(s, ['ready']);
    const traced = s.snapshots.filter((x) => x.trace);
    assert.ok(traced.length > 0, 'later snapshots carry a trace');
    assert.ok(
      traced.every((x) => (x.trace!.tracedFrom ?? 0) > 1),
      'dated from the step tracing started',
    );
    assert.strictEqual(traced.at(-1)!.trace!.pieces.filter((p) => p === null).length, 0);
    await vscode.commands.executeCommand('diffusionInfill.reject');
    a.visualiser.close();
    await resetSettings(['sampler.strategy', 'context.defaultLength']);
  });
});
