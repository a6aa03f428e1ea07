/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// Browser end-to-end on the installed VSIX (test/runners/code-server.sh e2e installs the linux-x64
// VSIX and a test-only second inline-completion provider; no smoke-test driver, so notification
// toasts show as they do for a user): Diagnose Device's message, the missing-model message with its
// buttons, an infill with the model bundled in the VSIX, Tab with another inline provider active, and
// Tab/Esc with the suggest widget open or in a snippet.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import type { Browser, Page } from 'playwright-core';
import { env, launchBrowser } from '../runners/browser';
import {
  clearNotifications,
  editorLines,
  expectBuffer,
  focusEditor,
  ghostText,
  goToLine,
  isDirty,
  mergeSettings,
  normalise,
  openFile,
  openWorkbench,
  outputPanelText,
  runCommand,
  selectWholeLines,
  showFinalPreview,
  statusText,
  struckSpans,
  waitForDirty,
  waitForStatus,
  waitForToast,
} from './workbench';

const FILE = 'sample.py';
/** Last line (1-based) of the body of word_counts in sample.py. */
const BODY_END = 10;
const OTHER = 'OTHER_PROVIDER_TEXT';
const MODEL_SETTING = 'diffusionInfill.model.folder';
const FIXTURE = () => path.join(env('DI_EXTENSION_ROOT'), 'models', 'fixture');

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Shows the extension's log in the Output panel and waits for a line matching `pattern`. */
async function waitForLog(page: Page, pattern: RegExp, timeout = 30_000): Promise<string> {
  await runCommand(page, 'Diffusion Infill: Show Log');
  const deadline = Date.now() + timeout;
  for (;;) {
    const text = await outputPanelText(page);
    // The latest matching line: earlier tests leave lines of their own.
    const line = text
      .split('\n')
      .reverse()
      .find((l) => pattern.test(l));
    if (line) {
      return line;
    }
    if (Date.now() > deadline) {
      throw new Error(`no log line matching ${pattern}; Output panel shows:\n${text}`);
    }
    await page.waitForTimeout(200);
  }
}

describe('installed VSIX (code-server, no smoke-test driver)', function () {
  let browser: Browser;
  let page: Page;
  const artifacts = env('DI_ARTIFACTS');
  const sourceLines = fs.readFileSync(path.join(env('DI_WORKSPACE'), FILE), 'utf8').split('\n');

  const SUGGEST = '.editor-instance .suggest-widget.visible';

  /** Runs Infill Selection on the body of word_counts, waits for the final frame, accepts with Tab. */
  async function infillAndAccept(): Promise<string> {
    const final = await showFinalPreview(page, 2, BODY_END);
    // A whole-line region: drawn from the end of its last line, the region's final line break first.
    assert.ok(
      final.startsWith('\n'),
      `the preview starts below the region's last line: ${JSON.stringify(final)}`,
    );
    await page.keyboard.press('Tab');
    const prefix = sourceLines.slice(0, 1).join('\n') + '\n';
    const suffix = sourceLines.slice(BODY_END).join('\n');
    await expectBuffer(page, prefix + final.slice(1) + '\n' + suffix, 'buffer after Tab');
    await waitForDirty(page, true);
    return final;
  }

  before(async () => {
    fs.mkdirSync(artifacts, { recursive: true });
    mergeSettings('User', {
      // Log lines unwrapped in the Output panel, so that a path is one line of the DOM.
      '[Log]': { 'editor.wordWrap': 'off' },
      'diffusionInfill.preview.snapshotInterval': 40,
      'diffusionInfill.sampler.strategy': 'sequential',
      // One Tab accepts even when the tiny model is unsure (the unsure flow: test/suite/decoding.test.ts).
      'diffusionInfill.sampler.unsureBelow': 0,
    });
    mergeSettings('Machine', { [MODEL_SETTING]: FIXTURE() });
    // A user snippet with two tab stops, for the snippet-mode test.
    const snippets = path.join(env('DI_USER_DATA'), 'User', 'snippets');
    fs.mkdirSync(snippets, { recursive: true });
    fs.writeFileSync(
      path.join(snippets, 'python.json'),
      JSON.stringify({ pair: { prefix: 'dipair', body: 'pair(${1:aaa}, ${2:bbb})' } }),
    );
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await openWorkbench(page);
    await openFile(page, FILE);
  });

  beforeEach(async () => {
    await focusEditor(page);
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
    await clearNotifications(page).catch(() => undefined);
  });

  after(async () => {
    // Leave the profile as the next test file expects it: the fixture model, sample.py not dirty
    // (the next window would open it with this buffer's changes), no user snippet.
    mergeSettings('Machine', { [MODEL_SETTING]: FIXTURE() });
    fs.rmSync(path.join(env('DI_USER_DATA'), 'User', 'snippets', 'python.json'), { force: true });
    if (page && (await isDirty(page).catch(() => false))) {
      await page.keyboard.press('Escape');
      await runCommand(page, 'File: Revert File').catch(() => undefined);
      await waitForDirty(page, false).catch(() => undefined);
    }
    await browser?.close();
  });

  it('Diagnose Device: the installed extension answers with a notification the user sees', async () => {
    // What the workbench runs is the VSIX installed by --install-extension (its extensions.json entry).
    const vsix = path.basename(env('DI_E2E_VSIX_FILE'));
    const registry = JSON.parse(
      fs.readFileSync(path.join(env('DI_EXTENSIONS_DIR'), 'extensions.json'), 'utf8'),
    );
    const entry = (registry as { identifier: { id: string } }[]).find(
      (e) => e.identifier.id === 'diffusion-infill.diffusion-infill',
    );
    assert.ok(entry, `diffusion-infill is installed: ${JSON.stringify(registry)}`);
    assert.match(JSON.stringify(entry), /"source":"vsix"/, `${vsix}: ${JSON.stringify(entry)}`);
    const bin = path.join(
      env('DI_EXTENSIONS_DIR'),
      (entry as unknown as { relativeLocation: string }).relativeLocation,
      'dist/node_modules/onnxruntime-node/bin/napi-v6',
    );
    assert.deepStrictEqual(fs.readdirSync(bin), ['linux'], 'only linux binaries installed');
    assert.deepStrictEqual(fs.readdirSync(path.join(bin, 'linux')), ['x64']);
    await runCommand(page, 'Diffusion Infill: Diagnose Device');
    const toast = await waitForToast(page, /Diffusion Infill: available execution providers: .*cpu/);
    // Diagnose Device loads the configured model to time it on every provider (auto picks the CPU here:
    // this machine has no GPU, and a software Vulkan adapter is never chosen by auto).
    assert.match(toast.message, /in use: cpu/);
    assert.ok(toast.buttons.includes('Show Log'), JSON.stringify(toast));
    // The toast is cut short; the whole report, the model folder and where its value came from included,
    // is in the extension's log channel (the one behind the toast's Show Log button).
    await waitForLog(page, /Diagnose Device: model folder: \S*models\/fixture \(from /);
  });

  it('a missing model folder: the user sees "no model found" with Select Model and Show Log', async () => {
    const missing = '/nonexistent/di-e2e-model';
    mergeSettings('Machine', { [MODEL_SETTING]: missing });
    await waitForLog(page, new RegExp(`model folder ${escape(missing)}`));
    await focusEditor(page);
    await selectWholeLines(page, 2, BODY_END);
    await runCommand(page, 'Diffusion Infill: Infill Selection');
    const toast = await waitForToast(
      page,
      new RegExp(`Diffusion Infill: no model found: model folder not found: ${escape(missing)}`),
    );
    assert.ok(toast.buttons.includes('Select Model'), JSON.stringify(toast));
    assert.ok(toast.buttons.includes('Show Log'), JSON.stringify(toast));
    assert.match(await statusText(page), /error/i);
    assert.strictEqual(await isDirty(page), false);
  });

  it('no folder set: the model bundled in the VSIX (models/default) infills, Tab accepts', async () => {
    mergeSettings('Machine', { [MODEL_SETTING]: undefined });
    const extensions = env('DI_EXTENSIONS_DIR');
    const line = await waitForLog(page, new RegExp(`model folder ${escape(extensions)}\\S*models/default`));
    const folder = /model folder (\S+)/.exec(line)?.[1] ?? '';
    assert.ok(
      folder.startsWith(extensions) && folder.endsWith(path.join('models', 'default')),
      `bundled model folder ${folder} lies in the installed extension under ${extensions}`,
    );
    assert.deepStrictEqual(fs.readdirSync(folder).sort(), ['model.json', 'model.onnx', 'tokenizer.json']);
    await infillAndAccept();
    await waitForLog(page, /model di-default-4x128 loaded on cpu/);
    await focusEditor(page);
    await page.keyboard.press('Control+Z');
    await waitForDirty(page, false);
  });

  it('with a second inline-completion provider: Tab takes its suggestion without a preview, the infill with one', async () => {
    mergeSettings('Machine', { [MODEL_SETTING]: FIXTURE() });
    await waitForLog(page, new RegExp(`model folder ${escape(FIXTURE())}`));
    await runCommand(page, 'E2E Other Inline Provider: Enable');
    try {
      // No preview of ours: typing triggers the other provider's ghost text and Tab accepts it.
      await focusEditor(page);
      await goToLine(page, 12); // the empty line between the two functions
      await page.keyboard.press('End');
      await page.keyboard.type('x');
      await page.waitForFunction(
        (other) =>
          [...document.querySelectorAll('.editor-instance .ghost-text-decoration')].some((e) =>
            (e.textContent ?? '').includes(other),
          ),
        OTHER,
        { timeout: 20_000 },
      );
      await page.keyboard.press('Tab');
      // Buffer text only: the provider may show its suggestion again at the new cursor.
      let accepted = false;
      for (let i = 0; i < 200 && !accepted; i++) {
        accepted = (await editorLines(page)).some((l) => l.trim() === `x${OTHER}`);
        if (!accepted) {
          await page.waitForTimeout(50);
        }
      }
      assert.ok(accepted, `Tab accepted the other provider's text: ${(await editorLines(page)).join('\n')}`);
      await runCommand(page, 'File: Revert File');
      await waitForDirty(page, false);

      // With our preview shown (the other provider still answering): Tab accepts the infill.
      const final = await infillAndAccept();
      assert.ok(!final.includes(OTHER), `the preview shows the infill, not the other provider: ${final}`);
      assert.ok(!(await editorLines(page)).some((l) => l.includes(OTHER)), 'no text of the other provider');
    } finally {
      await runCommand(page, 'E2E Other Inline Provider: Disable');
    }
  });

  it('the suggest widget over a preview keeps Esc and Tab: Esc closes it first, Tab accepts the suggestion', async () => {
    mergeSettings('Machine', { [MODEL_SETTING]: FIXTURE() });
    await waitForLog(page, new RegExp(`model folder ${escape(FIXTURE())}`));
    await focusEditor(page);
    const before = normalise(await editorLines(page));

    // Esc: the first closes the suggest widget and the preview stays; the second rejects it.
    await showFinalPreview(page, 2, BODY_END);
    await page.keyboard.press('Control+Space');
    await page.waitForSelector(SUGGEST, { timeout: 20_000 });
    await page.keyboard.press('Escape');
    await page.waitForSelector(SUGGEST, { state: 'detached', timeout: 10_000 }).catch(async () => {
      await page.waitForSelector(SUGGEST, { state: 'hidden', timeout: 1 });
    });
    assert.match(
      await statusText(page),
      /Tab accept/,
      'the preview survives the Esc that closed the suggest widget',
    );
    assert.ok((await struckSpans(page)) > 0, 'the region is still marked');
    await page.keyboard.press('Escape');
    for (let i = 0; i < 100 && ((await ghostText(page)) !== '' || (await struckSpans(page)) > 0); i++) {
      await page.waitForTimeout(50);
    }
    assert.strictEqual(await ghostText(page), '', 'the second Esc removed the ghost text');
    assert.strictEqual(await struckSpans(page), 0, 'the second Esc rejected the preview');
    assert.deepStrictEqual(normalise(await editorLines(page)), before);

    // Tab with the suggest widget open inserts the focused suggestion; the region is not replaced.
    // Lines 2-9: the cursor is parked at the end of line 9, after "))", where every word is suggested.
    const last = BODY_END - 1;
    await showFinalPreview(page, 2, last);
    await page.keyboard.press('Control+Space');
    await page.waitForSelector(SUGGEST, { timeout: 20_000 });
    await page.keyboard.press('Tab');
    await waitForDirty(page, true);
    let after = normalise(await editorLines(page));
    for (let i = 0; i < 100 && after[last - 1] === before[last - 1]; i++) {
      await page.waitForTimeout(50); // the dirty marker can be drawn before the line itself
      after = normalise(await editorLines(page));
    }
    assert.deepStrictEqual(after.slice(0, last - 1), before.slice(0, last - 1), 'lines 1-8 are untouched');
    assert.ok(
      after[last - 1].startsWith(before[last - 1]) && after[last - 1] !== before[last - 1],
      `the suggestion went in at the cursor (the end of line 9): ${after[last - 1]}`,
    );
    assert.deepStrictEqual(after.slice(last), before.slice(last), 'the lines after the region are untouched');
    // The edit cancels the preview; VS Code drops its own ghost text first, our decoration a frame later.
    for (let i = 0; i < 100 && (await struckSpans(page)) > 0; i++) {
      await page.waitForTimeout(50);
    }
    assert.strictEqual(await struckSpans(page), 0, 'the edit ended the preview');
  });

  it('in a snippet with a next tab stop, Tab goes to that tab stop, not to accept', async () => {
    // The previous test may have left the fixture set (no change, no log line): go through the bundled
    // model so that the line this waits for is a fresh one at the bottom of the Output panel.
    mergeSettings('Machine', { [MODEL_SETTING]: undefined });
    await waitForLog(page, /model folder \S*models\/default \(bundled\)/);
    mergeSettings('Machine', { [MODEL_SETTING]: FIXTURE() });
    await waitForLog(page, new RegExp(`model folder ${escape(FIXTURE())}`));
    await focusEditor(page);
    await goToLine(page, 12); // the empty line between the two functions
    await page.keyboard.type('dipair');
    await page.keyboard.press('Control+Space');
    await page.waitForSelector(`${SUGGEST} .monaco-list-row:has-text("dipair")`, { timeout: 20_000 });
    await page.keyboard.press('Enter'); // inserts pair(aaa, bbb) with "aaa" selected, snippet mode on
    await page.waitForSelector(SUGGEST, { state: 'hidden', timeout: 10_000 }).catch(() => undefined);
    // The keybinding keeps the focus in the editor (the palette would not end the snippet either way).
    await page.keyboard.press('Control+Alt+Enter');
    // The preview is ready: a completion (Tab accept) or, as the fixture model often answers for a
    // 3-character placeholder, an empty one (nothing to accept). Either way our Tab binding is armed in
    // the editor, so what Tab does next tells whose binding ran: the snippet's moves to "bbb".
    await waitForStatus(page, /Tab accept|nothing to accept/);
    assert.ok((await struckSpans(page)) > 0, 'the placeholder is marked as to be replaced');
    await page.keyboard.press('Tab');
    // The snippet moved to its next tab stop: "bbb" is selected and the placeholder is not replaced
    // (accept would have put the infill, or nothing for an empty result, in place of "aaa").
    const selected = async () =>
      page.evaluate(() =>
        [...document.querySelectorAll<HTMLElement>('.statusbar-item')].some((e) =>
          /\(3 selected\)/.test(e.textContent ?? ''),
        ),
      );
    for (let i = 0; i < 100 && !(await selected()); i++) {
      await page.waitForTimeout(50);
    }
    assert.ok(await selected(), 'the next tab stop "bbb" is selected');
    assert.strictEqual(
      normalise(await editorLines(page))[11],
      'pair(aaa, bbb)',
      'the placeholder is unchanged',
    );
    // Esc leaves snippet mode first (built in), the next one rejects the preview if it is still shown.
    await page.keyboard.press('Escape');
    await page.keyboard.press('Escape');
    for (let i = 0; i < 100 && (await struckSpans(page)) > 0; i++) {
      await page.waitForTimeout(50);
    }
    assert.strictEqual(await struckSpans(page), 0, 'no preview left');
    assert.doesNotMatch(await statusText(page), /Tab accept/);
  });
});
