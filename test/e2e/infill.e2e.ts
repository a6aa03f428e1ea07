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
  ghostText,
  goToLine,
  isDirty,
  openFile,
  openWorkbench,
  runCommand,
  statusText,
  waitForDirty,
} from './workbench';

const FILE = 'sample.py';
const PLACEHOLDER = '░';

/** Settings for this run, merged into the code-server settings before the page opens. */
function writeUserSettings(): void {
  const merge = (scope: 'User' | 'Machine', values: Record<string, unknown>) => {
    const file = path.join(env('DI_USER_DATA'), scope, 'settings.json');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const current = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {};
    fs.writeFileSync(file, JSON.stringify({ ...current, ...values }, null, 2));
  };
  // A readable frame rate makes the intermediate frames observable (and photographable).
  merge('User', { 'diffusionInfill.preview.snapshotInterval': Number(process.env.DI_E2E_FRAME_MS ?? 250) });
  if (process.env.DI_E2E_MODEL) {
    // The model folder is machine-scoped: in a remote window (code-server) it lives in the machine's settings.
    merge('Machine', { 'diffusionInfill.model.folder': process.env.DI_E2E_MODEL });
  }
}

/** Polls the ghost text until the preview is done; returns the distinct frames seen. */
async function watchRefinement(page: Page, shots: string, shotName: string): Promise<string[]> {
  const frames: string[] = [];
  let shot = false;
  const deadline = Date.now() + 120_000;
  for (;;) {
    const text = await ghostText(page);
    if (text && text !== frames.at(-1)) {
      frames.push(text);
      if (!shot && text.includes(PLACEHOLDER)) {
        shot = true;
        await page.screenshot({ path: path.join(shots, shotName) });
      }
    }
    const status = await statusText(page);
    if (/Tab accept/.test(status) && text && !text.includes(PLACEHOLDER)) {
      return frames;
    }
    assert.ok(!/error/i.test(status), `status bar shows an error: ${status}`);
    assert.ok(
      Date.now() < deadline,
      `preview not done after 120 s; status "${status}", frames ${frames.length}`,
    );
    await page.waitForTimeout(10);
  }
}

/** Selects lines first..last (1-based, whole lines) with the keyboard. */
async function selectLines(page: Page, first: number, last: number): Promise<void> {
  await goToLine(page, first);
  await page.keyboard.press('Home');
  await page.keyboard.press('Home'); // first Home goes to the indentation, the second to column 1
  for (let i = first; i <= last; i++) {
    await page.keyboard.press('Shift+ArrowDown');
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
    selectLinesCheck(sourceLines);
    await selectLines(page, 2, 5); // the body of fibonacci
    await runCommand(page, 'Diffusion Infill: Infill Selection');
    const frames = await watchRefinement(page, artifacts, 'refinement-intermediate.png');
    const intermediate = frames.filter((f) => f.includes(PLACEHOLDER));
    assert.ok(
      intermediate.length >= 2,
      `at least two different intermediate frames, saw ${JSON.stringify(frames)}`,
    );
    const final = frames.at(-1)!;
    console.log(
      `      ${frames.length} frames, ${intermediate.length} with masked positions; final:\n${final}`,
    );
    await page.screenshot({ path: path.join(artifacts, 'refinement-final-preview.png') });

    await page.keyboard.press('Tab');
    // Buffer = lines before the selection + the completion + lines after it (read back from the DOM).
    // The DOM cannot tell whether the ghost text ended with a newline (an empty last line), so allow both.
    const prefix = sourceLines.slice(0, 1).join('\n') + '\n';
    const suffix = sourceLines.slice(5).join('\n');
    const candidates = [final, final + '\n'].map((c) =>
      JSON.stringify(normalise((prefix + c + suffix).split('\n'))),
    );
    let lines: string[] = [];
    for (let i = 0; i < 200; i++) {
      lines = normalise(await editorLines(page));
      if (candidates.includes(JSON.stringify(lines))) {
        break;
      }
      await page.waitForTimeout(25);
    }
    await page.screenshot({ path: path.join(artifacts, 'refinement-accepted.png') });
    assert.ok(candidates.includes(JSON.stringify(lines)), `buffer after Tab:\n${lines.join('\n')}`);
    assert.strictEqual(await ghostText(page), '', 'no ghost text left after accept');
    await waitForDirty(page, true); // the accepted edit is an unsaved change
    await page.keyboard.press('Control+Z');
    await waitForDirty(page, false);
    assert.deepStrictEqual(
      normalise(await editorLines(page)),
      normalise(sourceLines),
      'one undo restores the file',
    );
  });

  it('a second run rejected with Escape leaves the buffer unchanged', async () => {
    const before = await editorLines(page);
    await selectLines(page, 9, 14); // the body of is_prime
    await runCommand(page, 'Diffusion Infill: Infill Selection');
    await page.waitForFunction(
      () => document.querySelectorAll('.editor-instance .ghost-text-decoration').length > 0,
      undefined,
      {
        timeout: 120_000,
      },
    );
    await page.keyboard.press('Escape');
    await page.waitForFunction(
      () => document.querySelectorAll('.editor-instance .ghost-text-decoration').length === 0,
    );
    await page.waitForTimeout(500); // a late frame must not come back
    assert.strictEqual(await ghostText(page), '');
    assert.deepStrictEqual(await editorLines(page), before);
    assert.strictEqual(await isDirty(page), false);
    assert.match(await statusText(page), /Diffusion/);
  });
});

function selectLinesCheck(lines: string[]): void {
  assert.match(lines[0], /^def fibonacci/, 'sample.py starts with fibonacci');
}

function normalise(lines: string[]): string[] {
  return lines.map((l) => l.replace(/\s+$/, ''));
}
