/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// Browser end-to-end: a real user's path through code-server in chromium. Open sample.py, select
// the body of fibonacci, run "Infill Selection" from the command palette, watch the ghost text
// refine in the DOM (at least two different intermediate frames), Tab, read the buffer back; then a
// second run rejected with Escape leaves the buffer unchanged. Screenshots go to test-artifacts/.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import type { Browser, Page } from 'playwright-core';
import { env, launchBrowser } from '../runners/browser';
import {
  editorLines,
  expectBuffer,
  ghostText,
  goToLine,
  isDirty,
  mergeSettings,
  normalise,
  openFile,
  openWorkbench,
  recordGhostText,
  runCommand,
  PLACEHOLDER,
  selectWholeLines,
  showFinalPreview,
  statusText,
  struckSpans,
  waitForDirty,
} from './workbench';

const FILE = 'sample.py';
/** Last line (1-based) of the body of word_counts in sample.py. */
const BODY_END = 10;

/** Settings for this run, merged into the code-server settings before the page opens. */
function writeUserSettings(): void {
  mergeSettings('User', {
    'diffusionInfill.preview.snapshotInterval': Number(process.env.DI_E2E_FRAME_MS ?? 40),
    // One token per step: enough steps for the refinement to be visible even with the tiny fixture model.
    'diffusionInfill.sampler.strategy': process.env.DI_E2E_STRATEGY ?? 'sequential',
    // 48 tokens at the cursor: the fixture model fills Generate from Prompt's hole with text (with 32 it
    // answers nothing), so the prompt test checks a real insertion, not an accepted empty result.
    'diffusionInfill.context.defaultLength': Number(process.env.DI_E2E_DEFAULT_LENGTH ?? 48),
    // One Tab accepts even when the tiny model is unsure (the unsure flow: test/suite/decoding.test.ts).
    'diffusionInfill.sampler.unsureBelow': 0,
  });
  // The small fixture model by default (fast, stable); DI_E2E_MODEL=<folder> runs another one.
  // The model folder is machine-scoped: in a remote window (code-server) it lives in the machine's settings.
  const model = process.env.DI_E2E_MODEL || path.join(env('DI_EXTENSION_ROOT'), 'models', 'fixture');
  mergeSettings('Machine', { 'diffusionInfill.model.folder': model });
}

/** Waits until the preview is done (status bar); returns the distinct ghost texts rendered meanwhile. */
async function watchRefinement(page: Page, frames: () => Promise<string[]>, shot: string): Promise<string[]> {
  let photographed = false;
  const deadline = Date.now() + 120_000;
  for (;;) {
    const status = await statusText(page);
    assert.ok(!/error/i.test(status), `status bar shows an error: ${status}`);
    assert.ok(!/nothing to accept/.test(status), `the model returned an empty result: ${status}`);
    if (!photographed && (await ghostText(page)).includes(PLACEHOLDER)) {
      photographed = true;
      await page.screenshot({ path: shot });
    }
    if (/Tab accept/.test(status)) {
      // The final frame follows within one frame interval (plus the refresh).
      for (let i = 0; i < 100 && (await ghostText(page)).includes(PLACEHOLDER); i++) {
        await page.waitForTimeout(50);
      }
      await page.waitForTimeout(100);
      return frames();
    }
    assert.ok(Date.now() < deadline, `preview not done after 120 s; status "${status}"`);
    await page.waitForTimeout(10);
  }
}

describe('browser end-to-end (code-server + chromium)', function () {
  let browser: Browser;
  let page: Page;
  const artifacts = env('DI_ARTIFACTS');
  const source = fs.readFileSync(path.join(env('DI_WORKSPACE'), FILE), 'utf8');
  const sourceLines = source.split('\n');

  before(async () => {
    fs.mkdirSync(artifacts, { recursive: true });
    writeUserSettings();
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await openWorkbench(page);
    await openFile(page, FILE);
  });

  beforeEach(async () => {
    // Start every test from the file as saved, with no preview (a failed test must not cascade).
    await page.keyboard.press('Escape');
    if (await isDirty(page)) {
      await runCommand(page, 'File: Revert File');
      await waitForDirty(page, false);
    }
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') {
      const name = this.currentTest.title.replace(/[^a-z0-9]+/gi, '-').slice(0, 60);
      await page.screenshot({ path: path.join(artifacts, `e2e-failure-${name}.png`) }).catch(() => undefined);
    }
  });

  after(async () => {
    await browser?.close();
  });

  it('Infill Selection from the palette refines ghost text, Tab accepts into the buffer', async () => {
    assert.match(sourceLines[0], /^def word_counts/, 'sample.py starts with word_counts');
    const recorded = await recordGhostText(page);
    await selectWholeLines(page, 2, BODY_END); // the body of word_counts
    await runCommand(page, 'Diffusion Infill: Infill Selection');
    const frames = await watchRefinement(page, recorded, path.join(artifacts, 'refinement-intermediate.png'));
    const intermediate = frames.filter((f) => f.includes(PLACEHOLDER));
    assert.ok(
      intermediate.length >= 2,
      `at least two different intermediate frames, saw ${JSON.stringify(frames)}`,
    );
    const final = frames.at(-1) ?? '';
    assert.ok(
      final && !final.includes(PLACEHOLDER),
      `a final frame without masks: ${JSON.stringify(frames)}`,
    );
    console.log(
      `      ${frames.length} frames, ${intermediate.length} with masked positions; final:\n${final}`,
    );
    assert.ok((await struckSpans(page)) > 0, 'the selected region is drawn struck through');
    await page.screenshot({ path: path.join(artifacts, 'refinement-final-preview.png') });
    if (process.env.DI_UPDATE_MEDIA === '1') {
      // Refresh the README screenshot from this run.
      fs.copyFileSync(
        path.join(artifacts, 'refinement-intermediate.png'),
        path.join(env('DI_EXTENSION_ROOT'), 'media', 'screenshot-refinement.png'),
      );
    }

    // A whole-line region: the preview is drawn from the end of line 10, its final line break first,
    // so that line 11 stays on its own line as it will after Tab.
    assert.ok(final.startsWith('\n'), `the preview starts below line 10: ${JSON.stringify(final)}`);
    await page.keyboard.press('Tab');
    // Buffer = lines before the selection + the completion with the region's final line break + lines
    // after it (read back from the DOM): exactly what the preview showed.
    const prefix = sourceLines.slice(0, 1).join('\n') + '\n';
    const suffix = sourceLines.slice(BODY_END).join('\n');
    await expectBuffer(page, prefix + final.slice(1) + '\n' + suffix, 'buffer after Tab');
    await page.screenshot({ path: path.join(artifacts, 'refinement-accepted.png') });
    assert.strictEqual(await ghostText(page), '', 'no ghost text left after accept');
    assert.strictEqual(await struckSpans(page), 0, 'no strikethrough left after accept');
    await waitForDirty(page, true); // the accepted edit is an unsaved change
    await page.keyboard.press('Control+Z');
    await waitForDirty(page, false);
    assert.deepStrictEqual(
      normalise(await editorLines(page)),
      normalise(sourceLines),
      'one undo restores the file',
    );
  });

  it('a whole-line region ending on a blank line: the preview is drawn below it and Tab writes what it showed', async () => {
    // Lines 2-11: the body of word_counts and the blank line after it. The cursor is parked on that
    // blank line (column 1) and the ghost text starts with its line break.
    const final = await showFinalPreview(page, 2, BODY_END + 1);
    await page.screenshot({ path: path.join(artifacts, 'preview-after-blank-line.png') });
    assert.ok(
      final.startsWith('\n') && final.length > 1,
      `a preview below line 11: ${JSON.stringify(final)}`,
    );
    await page.keyboard.press('Tab');
    await expectBuffer(
      page,
      sourceLines[0] + '\n' + final.slice(1) + '\n' + sourceLines.slice(BODY_END + 1).join('\n'),
      'buffer after Tab',
    );
    await page.keyboard.press('Control+Z');
    await waitForDirty(page, false);
  });

  it('a second run rejected with Escape leaves the buffer unchanged', async () => {
    const before = await editorLines(page);
    await selectWholeLines(page, 14, 19); // the body of is_prime
    await runCommand(page, 'Diffusion Infill: Infill Selection');
    // Any ghost text (a whole-line region's preview starts on the next line, in a view zone).
    for (let i = 0; i < 2400 && (await ghostText(page)) === ''; i++) {
      await page.waitForTimeout(50);
    }
    assert.notStrictEqual(await ghostText(page), '', 'a preview is shown');
    await page.keyboard.press('Escape');
    for (let i = 0; i < 200 && (await ghostText(page)) !== ''; i++) {
      await page.waitForTimeout(50);
    }
    await page.waitForTimeout(500); // a late frame must not come back
    assert.strictEqual(await ghostText(page), '');
    assert.strictEqual(await struckSpans(page), 0, 'the region marker is gone after Esc');
    assert.deepStrictEqual(await editorLines(page), before);
    assert.strictEqual(await isDirty(page), false);
    assert.match(await statusText(page), /Diffusion/);
  });

  it('Generate from Prompt through the real input box inserts at the cursor on Tab, the prompt stays out of the file', async () => {
    const before = await editorLines(page);
    const recorded = await recordGhostText(page);
    await goToLine(page, 12); // the empty line between the two functions
    await page.keyboard.press('F1');
    await page.waitForSelector('.quick-input-widget:visible input');
    await page.keyboard.type('Diffusion Infill: Generate from Prompt');
    await page.waitForSelector('.quick-input-list .monaco-list-row:has-text("Generate from Prompt")');
    await page.keyboard.press('Enter');
    await page.waitForSelector('.quick-input-widget:visible:has-text("Describe the code")');
    const prompt = 'count the vowels in a string';
    await page.keyboard.type(prompt);
    await page.keyboard.press('Enter');
    await page.waitForSelector('.quick-input-widget', { state: 'hidden' });
    for (let i = 0; !/Tab accept|nothing to accept/.test(await statusText(page)); i++) {
      assert.ok(i < 6000, `no result: ${await statusText(page)}`);
      assert.ok(!/error/i.test(await statusText(page)), await statusText(page));
      await page.waitForTimeout(20);
    }
    assert.match(await statusText(page), /Tab accept/, 'a non-empty result to accept');
    await page.waitForTimeout(300);
    const frames = await recorded();
    const final = (await ghostText(page)) || '';
    assert.ok(final.length > 0, `the preview shows the generated text: ${JSON.stringify(frames)}`);
    assert.ok(!final.includes(PLACEHOLDER), `final frame: ${JSON.stringify(frames)}`);
    await page.keyboard.press('Tab');
    await page.waitForTimeout(300);
    const lines = normalise(await editorLines(page));
    // As above, the DOM cannot show whether the completion ended with a newline: allow both.
    const candidates = [final, final + '\n'].map((c) =>
      JSON.stringify(
        normalise([...before.slice(0, 11), ...(c + before[11]).split('\n'), ...before.slice(12)]),
      ),
    );
    assert.ok(candidates.includes(JSON.stringify(lines)), `buffer after Tab:\n${lines.join('\n')}`);
    assert.ok(!lines.some((l) => l.includes(prompt)), 'the prompt comment is not in the file');
    await page.keyboard.press('Control+Z');
    await waitForDirty(page, false);
    assert.deepStrictEqual(normalise(await editorLines(page)), normalise(before));
  });
});
