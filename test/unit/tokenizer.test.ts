// The tokenizer round-trips code exactly (whitespace, newlines, unicode) and adds no special tokens.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { loadManifest } from '../../src/engine/manifest';
import { CodeTokenizer } from '../../src/engine/tokenizer';
import { FIXTURE_DIR, fixtureSkip, writeTestModel } from './helpers';

const SAMPLES = [
  'def f(x):\n    return x + 1\n',
  "  const a = { b: [1, 2] } ;\n\t\tif (a) { return 'x' }\r\n",
  'x = "héllo wörld ☃ 日本語 🙂"  \n\n\n',
  "print( 'a' , b ) ; don't , isn't . ?\n",
  '    \n  \t ',
  'a  b   c    d\n',
];

function roundTrips(tokenizer: CodeTokenizer): void {
  for (const text of SAMPLES) {
    const ids = tokenizer.encode(text);
    assert.equal(tokenizer.decode(ids), text, JSON.stringify(text));
  }
}

describe('tokenizer', () => {
  it('test tokenizer: exact round trip and no special tokens added', () => {
    const manifest = loadManifest(writeTestModel());
    const tokenizer = CodeTokenizer.forManifest(manifest);
    roundTrips(tokenizer);
    const ids = tokenizer.encode('x');
    assert.equal(ids.length, 1);
    assert.ok(!Object.values(manifest.specialTokens).includes(ids[0]));
    assert.deepEqual(tokenizer.encode(''), []);
  });

  it(
    'fixture tokenizer: exact round trip of code and of the fixture manifest file itself',
    { skip: fixtureSkip() },
    () => {
      const manifest = loadManifest(FIXTURE_DIR);
      const tokenizer = CodeTokenizer.forManifest(manifest);
      roundTrips(tokenizer);
      const self = fs.readFileSync(
        path.join(__dirname, '..', '..', '..', 'src', 'engine', 'window.ts'),
        'utf8',
      );
      assert.equal(tokenizer.decode(tokenizer.encode(self)), self);
      const special = manifest.specialTokens;
      assert.equal(tokenizer.decode([special.mask]).length > 0, true);
    },
  );
});
