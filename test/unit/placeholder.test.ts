// The placeholder glyph must read as "still masked" wherever it lands. Tried as a new user would, the
// old default ░ (LIGHT SHADE) was sometimes invisible mid-line: it is a sparse stipple with about the ink
// of one letter, and VS Code draws ghost text dimmed and syntax-highlighted, so a single ░ inside a word,
// a comment or a string (in the token's colour, at ghost-text opacity) read as a space. A run of them
// stayed visible, which is why it was only "sometimes". Measured in a real Chromium with the editor's
// font stack: the default glyph must have at least twice the solid ink (pixels at >= 50% coverage) of
// every lowercase letter, so one masked cell stands out from the text around it in any token colour.
// Needs Chromium (as the browser e2e does); without it the test is skipped, and counted as skipped.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((p) =>
  fs.existsSync(p),
);
/** VS Code's default editor font stack on Linux, at its default size. */
const FONT = '14px "Droid Sans Mono", "monospace", monospace';

function defaultPlaceholder(): string {
  const root = path.resolve(__dirname, '..', '..', '..');
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
    contributes: { configuration: { properties?: Record<string, { default?: unknown }> }[] };
  };
  for (const section of pkg.contributes.configuration) {
    const p = section.properties?.['diffusionInfill.preview.placeholder'];
    if (p) {
      return String(p.default);
    }
  }
  throw new Error('diffusionInfill.preview.placeholder not in package.json');
}

describe('placeholder glyph', () => {
  it(
    'the default placeholder has at least twice the solid ink of any letter',
    { skip: !CHROMIUM },
    async () => {
      const { chromium } = await import('playwright-core');
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
      });
      try {
        const page = await browser.newPage();
        const glyph = defaultPlaceholder();
        const letters = 'abcdefghijklmnopqrstuvwxyz';
        const solid = await page.evaluate(
          ({ chars, font }) => {
            const canvas = document.createElement('canvas');
            canvas.width = 48;
            canvas.height = 48;
            const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
            const out: Record<string, number> = {};
            for (const ch of chars) {
              ctx.clearRect(0, 0, 48, 48);
              ctx.font = font;
              ctx.textBaseline = 'top';
              ctx.fillStyle = '#000';
              ctx.fillText(ch, 4, 4);
              const width = Math.ceil(ctx.measureText(ch).width);
              const data = ctx.getImageData(4, 4, width, 19).data;
              let n = 0;
              for (let i = 3; i < data.length; i += 4) {
                n += data[i] >= 128 ? 1 : 0;
              }
              out[ch] = n / (data.length / 4);
            }
            return out;
          },
          { chars: [glyph, ...letters], font: FONT },
        );
        const densest = Math.max(...[...letters].map((c) => solid[c]));
        assert.ok(
          solid[glyph] >= 2 * densest,
          `placeholder ${glyph}: solid ink ${solid[glyph].toFixed(3)}, densest letter ${densest.toFixed(3)}`,
        );
      } finally {
        await browser.close();
      }
    },
  );
});
