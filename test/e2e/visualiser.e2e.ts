/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// Browser end-to-end: the denoising visualiser in a real workbench. Open sample.py, open the panel
// from the command palette, run Infill Selection on a function body, and read the panel's cells from
// the webview's DOM while it refines: they must change between frames (masked cells turning into
// committed ones), end with no masked cell, and the step slider must replay an earlier step after the
// end. A screenshot of the panel mid-refinement goes to test-artifacts/ (and, with DI_UPDATE_MEDIA=1,
// to media/screenshot-visualiser.png for the README).
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import type { Browser, Frame, Page } from 'playwright-core';
import { env, launchBrowser } from '../runners/browser';
import {
  goToLine,
  isDirty,
  mergeSettings,
  openFile,
  openWorkbench,
  runCommand,
  statusText,
  waitForDirty,
} from './workbench';

const FILE = 'sample.py';
/** Body of word_counts in sample.py (1-based lines). */
const BODY = [2, 10];

/** Settings for this run (same knobs as infill.e2e.ts), merged into code-server's settings before the page opens. */
function writeUserSettings(): void {
  mergeSettings('User', {
    'diffusionInfill.preview.snapshotInterval': Number(process.env.DI_E2E_FRAME_MS ?? 40),
    'diffusionInfill.sampler.strategy': process.env.DI_E2E_STRATEGY ?? 'sequential',
  });
  const model = process.env.DI_E2E_MODEL || path.join(env('DI_EXTENSION_ROOT'), 'models', 'fixture');
  mergeSettings('Machine', { 'diffusionInfill.model.folder': model });
}

/** The webview frame that holds the visualiser (nested inside the workbench's webview host iframe). */
async function visualiserFrame(page: Page, timeoutMs = 60_000): Promise<Frame> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const frame of page.frames()) {
      const found = await frame.$('#di-visualiser').catch(() => null);
      if (found) {
        return frame;
      }
    }
    assert.ok(Date.now() < deadline, 'the visualiser webview did not appear');
    await page.waitForTimeout(100);
  }
}

interface CellsView {
  cells: string[];
  masked: number;
  committed: number;
  slider: boolean;
}

/** The cells as the user sees them: class list + text, one string per cell. */
function readCells(frame: Frame): Promise<CellsView> {
  return frame.evaluate(() => {
    const cells = [...document.querySelectorAll<HTMLElement>('#cells .cell')];
    const slider = document.getElementById('step') as HTMLInputElement | null;
    return {
      cells: cells.map((c) => `${c.className}|${c.textContent ?? ''}`),
      masked: cells.filter((c) => c.classList.contains('masked')).length,
      committed: cells.filter((c) => c.classList.contains('committed')).length,
      slider: !!slider && !slider.disabled,
    };
  });
}

describe('denoising visualiser (code-server + chromium)', function () {
  let browser: Browser;
  let page: Page;
  const artifacts = env('DI_ARTIFACTS');

  before(async () => {
    fs.mkdirSync(artifacts, { recursive: true });
    writeUserSettings();
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1400, height: 820 } });
    await openWorkbench(page);
    await openFile(page, FILE);
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') {
      await page
        .screenshot({ path: path.join(artifacts, 'e2e-failure-visualiser.png') })
        .catch(() => undefined);
    }
  });

  after(async () => {
    await browser?.close();
  });

  it('opened during a real infill, its cells change between frames and the slider replays after the end', async () => {
    await runCommand(page, 'Diffusion Infill: Show Denoising Visualiser');
    const frame = await visualiserFrame(page);
    // Back to the editor (the panel opened beside it without taking focus; click to be sure).
    await page.click('.editor-instance .monaco-editor .view-lines >> nth=0');
    await goToLine(page, BODY[0]);
    await page.keyboard.press('Home');
    await page.keyboard.press('Home');
    for (let i = BODY[0]; i <= BODY[1]; i++) {
      await page.keyboard.press('Shift+ArrowDown');
    }
    await runCommand(page, 'Diffusion Infill: Infill Selection');

    const frames: CellsView[] = [];
    let photographed = false;
    let photographedHalf = false;
    const deadline = Date.now() + 120_000;
    for (;;) {
      const view = await readCells(frame);
      const last = frames.at(-1);
      if (view.cells.length > 0 && (!last || last.cells.join('\n') !== view.cells.join('\n'))) {
        frames.push(view);
        // Mid-refinement: once a few cells are committed, and again (once) when about half are.
        const half = view.committed >= view.cells.length / 2;
        if (view.masked > 0 && ((!photographed && view.committed >= 3) || (half && !photographedHalf))) {
          photographed = true;
          photographedHalf = half;
          await page.screenshot({ path: path.join(artifacts, 'visualiser-refining.png') });
        }
      }
      const status = await statusText(page);
      assert.ok(!/error/i.test(status), `status bar shows an error: ${status}`);
      if (/Tab accept/.test(status) && view.slider) {
        break;
      }
      assert.ok(Date.now() < deadline, `no end after 120 s: ${status}`);
      await page.waitForTimeout(15);
    }
    const withMasks = frames.filter((f) => f.masked > 0);
    assert.ok(
      withMasks.length >= 2,
      `at least two different frames with masked cells, saw ${frames.length} frames`,
    );
    assert.ok(
      withMasks[0].masked > withMasks.at(-1)!.masked,
      `masked cells go down between frames: ${withMasks.map((f) => f.masked).join(',')}`,
    );
    const final = frames.at(-1)!;
    assert.strictEqual(final.masked, 0, 'no masked cell at the end');
    assert.ok(final.committed > 0);
    // Every committed cell shows the step it was committed at.
    const steps = await frame.evaluate(() =>
      [...document.querySelectorAll<HTMLElement>('#cells .cell.committed sub')].map((s) =>
        Number(s.textContent),
      ),
    );
    assert.ok(
      steps.length === final.committed && steps.every((s) => Number.isInteger(s) && s >= 1),
      `${steps}`,
    );
    await page.screenshot({ path: path.join(artifacts, 'visualiser-final.png') });

    // Replay: step 1 of a sequential run has exactly one committed token (plus nothing else).
    await frame.evaluate(() => {
      const slider = document.getElementById('step') as HTMLInputElement;
      slider.value = '1';
      slider.dispatchEvent(new Event('input'));
    });
    const replay = await readCells(frame);
    assert.notDeepStrictEqual(replay.cells, final.cells, 'the slider shows another state');
    assert.ok(replay.masked > 0, 'step 1 still has masked cells');
    assert.strictEqual(replay.cells.length, final.cells.length);
    const label = await frame.evaluate(() => document.getElementById('step-label')?.textContent ?? '');
    assert.match(label, /^1 \/ \d+$/);
    if (process.env.DI_UPDATE_MEDIA === '1' && photographed) {
      fs.copyFileSync(
        path.join(artifacts, 'visualiser-refining.png'),
        path.join(env('DI_EXTENSION_ROOT'), 'media', 'screenshot-visualiser.png'),
      );
    }

    // Leave the file as it was: Esc rejects the preview.
    await page.click('.editor-instance .monaco-editor .view-lines >> nth=0');
    await page.keyboard.press('Escape');
    if (await isDirty(page)) {
      await waitForDirty(page, false);
    }
  });
});
