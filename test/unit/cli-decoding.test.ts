// The CLI reports the decoding (issue 12): NFE per call and per batch row, the lengths tried, the
// candidates, and an honest "unsure" in --json; the new sampler flags are validated.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import type { InfillResult } from '../../src/engine/protocol';
import { cli, FIXTURE_DIR, fixtureSkip, tempDir } from './helpers';

const SOURCE = 'def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return a * b\n';

/** `infill` on line 2's body of SOURCE with the fixture model and `flags`. */
function infill(...flags: string[]): ReturnType<typeof cli> {
  const file = path.join(tempDir('cli-decoding'), 'a.py');
  fs.writeFileSync(file, SOURCE);
  return cli('infill', '--model', FIXTURE_DIR, '--file', file, '--start', '2:5', '--end', '2:17', ...flags);
}

function infillJson(...flags: string[]): InfillResult {
  const r = infill('--json', ...flags);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as InfillResult;
}

describe('cli decoding report', { skip: fixtureSkip() }, () => {
  it('--json: lengths tried in one batched pass, NFE per call and per row, candidates, confidence', () => {
    const r = infillJson('--length-candidates', '4', '--candidates', '2', '--unsure-below', '0');
    assert.ok(r.lengths.length >= 2, JSON.stringify(r.lengths));
    assert.ok(r.lengths.every((l) => Number.isInteger(l.tokens) && Number.isFinite(l.score)));
    // Pass 1 has one row per length, every later pass up to 2 (the candidates).
    assert.ok(r.nfeRows >= r.nfe - 1 + r.lengths.length, `${r.nfeRows} rows, ${r.nfe} passes`);
    assert.ok(r.nfeRows <= r.lengths.length + 2 * (r.nfe - 1), `${r.nfeRows} rows, ${r.nfe} passes`);
    assert.ok(r.candidates.length >= 1 && r.candidates.length <= 2);
    assert.equal(r.candidates[0].completion, r.completion);
    assert.equal(r.unsure, false);
    assert.ok(r.confidence > 0 && r.confidence <= 1);
  });

  it('--unsure-below 1 marks the completion (and every candidate) unsure; --length-candidates 1 is one row per pass', () => {
    const r = infillJson('--unsure-below', '1', '--length-candidates', '1');
    assert.equal(r.unsure, true);
    assert.ok(r.candidates.every((c) => c.unsure));
    assert.equal(r.lengths.length, 1);
    assert.equal(r.nfeRows, r.nfe);
  });

  it('rejects bad values of the new flags', () => {
    for (const [flag, value, message] of [
      ['--end-rule', 'sometimes', /--end-rule must be one of evidence, rightmost, anywhere/],
      ['--length-rule', 'vibes', /--length-rule must be one of mean-logprob, end-evidence/],
      ['--length-candidates', '0', /lengthCandidates must be an integer within \[1, 8\]/],
      ['--candidates', '99', /candidates must be an integer within \[1, 8\]/],
      ['--unsure-below', '2', /unsureBelow must be within \[0, 1\]/],
    ] as const) {
      const r = infill(flag, value);
      assert.equal(r.code, 2, `${flag} ${value}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
  });
});
