/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// Browser end-to-end: Refine Selection in the installed VSIX. A function with one planted token is
// opened, its body selected and refined from the command palette; the preview is a diff drawn with
// decorations (removed runs struck through, added runs as inline text before them) while the file
// stays untouched, Tab writes exactly what the preview showed, one Ctrl+Z restores the file, and a
// second refinement rejected with Escape leaves it unchanged.
//
// The fixture model is too weak to judge code (every token scores about 1%), so, as in the in-host
// test (test/suite/refine.test.ts), the threshold comes from the scores the model computes for this
// body here, in the test process: just above the planted token's, which must be the lowest (asserted).
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import type { Browser, Page } from 'playwright-core';
import { InfillEngine } from '../../src/engine/engine';
import { scoreRegion } from '../../src/engine/score';
import { env, launchBrowser } from '../runners/browser';
import { HEAD, PLANTED_AT, PLANTED_BODY, TAIL } from '../suite/planted';
import {
  editorLines,
  focusEditor,
  isDirty,
  mergeSettings,
  openFile,
  openWorkbench,
  runCommand,
  selectWholeLines,
  statusText,
  struckSpans,
  waitForDirty,
  waitForStatus,
} from './workbench';

const FILE = 'refine_sample.py';
/** The body: lines 2..7 (1-based), whole lines. */
const BODY = [2, 7];
const FIXTURE = () => path.join(env('DI_EXTENSION_ROOT'), 'models', 'fixture');

/** Score groups of Refine Selection (`score.groups`, set to this so the scoring below matches it). */
const GROUPS = 4;

/**
 * The text the refinement preview shows, read from the DOM: per line, unstruck text as is, struck text
 * left out, and each added run (CSS ::before content of a decoration, ⏎ for a line break) put in.
 */
function readPreviewText(page: Page): Promise<string> {
  return page.evaluate(() => {
    const lines = [
      ...document.querySelectorAll<HTMLElement>('.editor-instance .monaco-editor .view-lines .view-line'),
    ].sort((a, b) => parseFloat(a.style.top || '0') - parseFloat(b.style.top || '0'));
    const cssContent = (el: Element, pseudo: '::before' | '::after'): string => {
      const c = getComputedStyle(el, pseudo).content;
      if (!c || c === 'none' || c === 'normal') {
        return '';
      }
      try {
        return JSON.parse(c) as string;
      } catch {
        return c.replace(/^"|"$/g, '');
      }
    };
    return lines
      .map((line) =>
        [...line.querySelectorAll<HTMLElement>('span')]
          .filter((s) => s.children.length === 0)
          .map((s) => {
            const struck = getComputedStyle(s).textDecorationLine.includes('line-through');
            const text = struck ? '' : (s.textContent ?? '');
            return cssContent(s, '::before') + text + cssContent(s, '::after');
          })
          .join(''),
      )
      .join('\n')
      .replace(/\u00a0/g, ' ')
      .replace(/⏎/g, '\n');
  });
}

/** Without any whitespace: the DOM cannot show a removed line break, so code is compared without it. */
function code(text: string): string {
  return text.replace(/\s+/g, '');
}

describe('Refine Selection (installed VSIX, code-server + chromium)', function () {
  let browser: Browser;
  let page: Page;
  const artifacts = env('DI_ARTIFACTS');
  const original = HEAD + PLANTED_BODY + TAIL;

  before(async () => {
    fs.mkdirSync(artifacts, { recursive: true });
    // The threshold from this model's own scores of the planted body (see the header).
    const engine = await InfillEngine.load({ modelDir: FIXTURE(), executionProvider: 'cpu', threads: 1 });
    let threshold: number;
    try {
      const scores = await scoreRegion(engine, {
        id: 0,
        prefix: HEAD,
        text: PLANTED_BODY,
        suffix: TAIL,
        languageId: 'python',
        groups: GROUPS,
      });
      const sorted = [...scores.tokens].sort((x, y) => x.prob - y.prob);
      const planted = sorted[0];
      assert.ok(
        planted.start <= PLANTED_AT && PLANTED_AT < planted.end && planted.text.includes(';'),
        `fixture premise: the planted ';' is the token scored lowest, got ${JSON.stringify(planted.text)}`,
      );
      threshold = (planted.prob + sorted[1].prob) / 2;
    } finally {
      await engine.dispose();
    }
    mergeSettings('User', {
      'diffusionInfill.refine.threshold': threshold,
      'diffusionInfill.score.groups': GROUPS,
    });
    mergeSettings('Machine', { 'diffusionInfill.model.folder': FIXTURE() });
    fs.writeFileSync(path.join(env('DI_WORKSPACE'), FILE), original);
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await openWorkbench(page);
    await openFile(page, FILE);
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') {
      await page.screenshot({ path: path.join(artifacts, 'e2e-failure-refine.png') }).catch(() => undefined);
    }
  });

  after(async () => {
    await browser?.close();
  });

  /** Refines the body from the palette; returns the preview text once the diff is shown. */
  async function refineBody(): Promise<string> {
    await focusEditor(page);
    await selectWholeLines(page, BODY[0], BODY[1]);
    await runCommand(page, 'Diffusion Infill: Refine Selection');
    await waitForStatus(page, /Tab accept/);
    for (let i = 0; i < 100 && (await struckSpans(page)) === 0; i++) {
      await page.waitForTimeout(50);
    }
    return readPreviewText(page);
  }

  it('the planted token is shown struck with its replacement; Tab writes what the preview showed; one undo restores', async () => {
    const shown = await refineBody();
    await page.screenshot({ path: path.join(artifacts, 'refine-preview.png') });
    assert.ok((await struckSpans(page)) > 0, 'the removed run is drawn struck through');
    assert.ok(!code(shown).includes(';True'), `the planted token is not in the preview: ${shown}`);
    assert.notStrictEqual(code(shown), code(original), 'the preview shows a change');
    assert.strictEqual(await isDirty(page), false, 'the file is untouched before Tab');

    await page.keyboard.press('Tab');
    await waitForDirty(page, true);
    let after = '';
    for (let i = 0; i < 100; i++) {
      after = (await editorLines(page)).join('\n');
      if (code(after) === code(shown)) {
        break;
      }
      await page.waitForTimeout(50);
    }
    assert.strictEqual(code(after), code(shown), `Tab wrote what the preview showed:\n${after}`);
    assert.strictEqual(await struckSpans(page), 0, 'no decoration left after Tab');
    assert.ok(after.startsWith(HEAD.trimEnd()) && after.trimEnd().endsWith(TAIL.trim()), after);

    await page.keyboard.press('Control+Z');
    await waitForDirty(page, false);
    assert.strictEqual(
      (await editorLines(page)).join('\n').trimEnd(),
      original.trimEnd(),
      'one undo restores',
    );
  });

  it('Escape rejects a shown refinement: the file stays as it was and not dirty', async () => {
    await refineBody();
    assert.ok((await struckSpans(page)) > 0, 'a refinement is shown');
    await page.keyboard.press('Escape');
    for (let i = 0; i < 100 && (await struckSpans(page)) > 0; i++) {
      await page.waitForTimeout(50);
    }
    assert.strictEqual(await struckSpans(page), 0, 'Escape removed the preview');
    assert.doesNotMatch(await statusText(page), /Tab accept/);
    assert.strictEqual(await isDirty(page), false);
    assert.strictEqual((await editorLines(page)).join('\n').trimEnd(), original.trimEnd());
  });
});
