// The CLI as a user runs it (node out/src/cli.js): infill a file region, batch JSONL, help, errors.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { splitAt, parsePosition, offsetAt } from '../../src/engine/region';
import { cli, FIXTURE_DIR, fixtureSkip, tempDir } from './helpers';

const SOURCE = 'def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return a * b\n';

describe('cli', () => {
  it('--help prints usage with every sampler flag', () => {
    const r = cli('--help');
    assert.equal(r.code, 0);
    for (const flag of [
      'infill',
      'batch',
      '--strategy',
      '--steps',
      '--threshold',
      '--entropy-bound',
      '--temperature',
      '--block-size',
      '--no-prior',
      '--no-guard',
      '--no-remask',
      '--seed',
      '--canvas-slack',
      '--prefix-budget',
      '--suffix-budget',
      '--ep',
      '--threads',
    ]) {
      assert.ok(r.stdout.includes(flag), `help mentions ${flag}`);
    }
  });

  it('unknown flags and missing arguments exit 2 with a message', () => {
    const r = cli('infill', '--bogus');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /bogus/);
    const m = cli('infill', '--file', 'x.py', '--start', '1:1', '--end', '1:1');
    assert.equal(m.code, 2);
    assert.match(m.stderr, /--model/);
  });

  it('a missing model folder is reported with its error code', () => {
    const file = path.join(tempDir('cli'), 'a.py');
    fs.writeFileSync(file, SOURCE);
    const r = cli(
      'infill',
      '--model',
      path.join(tempDir('cli'), 'none'),
      '--file',
      file,
      '--start',
      '2:1',
      '--end',
      '2:17',
    );
    assert.equal(r.code, 2);
    assert.match(r.stderr, /model-missing/);
  });

  it('region positions are 1-based LINE:COL', () => {
    const s = splitAt(SOURCE, parsePosition('2:5', '--start'), parsePosition('2:17', '--end'));
    assert.equal(s.selection, 'return a + b');
    assert.equal(s.prefix, 'def add(a, b):\n    ');
    assert.ok(s.suffix.startsWith('\n\n\ndef mul'));
    assert.equal(offsetAt('ab\r\ncd', { line: 1, column: 99 }), 2, 'clamped before \\r\\n');
    assert.throws(() => parsePosition('0:1', '--start'), /1-based/);
  });

  it('infill prints the completion; --json prints the result', { skip: fixtureSkip() }, () => {
    const file = path.join(tempDir('cli'), 'a.py');
    fs.writeFileSync(file, SOURCE);
    const args = [
      'infill',
      '--model',
      FIXTURE_DIR,
      '--file',
      file,
      '--start',
      '2:1',
      '--end',
      '2:17',
      '--ep',
      'cpu',
    ];
    const r = cli(...args, '--json', '--strategy', 'threshold', '--threshold', '0.8', '--threads', '1');
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout) as {
      completion: string;
      nfe: number;
      model: { executionProvider: string };
    };
    assert.equal(typeof result.completion, 'string');
    assert.ok(result.nfe >= 1);
    assert.equal(result.model.executionProvider, 'cpu');
    const plain = cli(...args, '--strategy', 'threshold', '--threshold', '0.8', '--threads', '1');
    assert.equal(plain.code, 0, plain.stderr);
    assert.equal(plain.stdout.replace(/\n$/, ''), result.completion.replace(/\n$/, ''));
    assert.match(plain.stderr, /forward passes/);
  });

  it('batch: tasks.jsonl -> results.jsonl in order, one line per task', { skip: fixtureSkip() }, () => {
    const dir = tempDir('batch');
    const tasks = [
      {
        task_id: 'a',
        prefix: 'def add(a, b):\n',
        suffix: '\n',
        selection: '    return a + b',
        language: 'python',
      },
      { task_id: 'b', prefix: 'x = [', suffix: ']\n', canvas_tokens: 6 },
      { task_id: 'c', prefix: '', suffix: '', canvas_tokens: 4 },
    ];
    fs.writeFileSync(path.join(dir, 'tasks.jsonl'), tasks.map((t) => JSON.stringify(t)).join('\n') + '\n\n');
    const out = path.join(dir, 'results.jsonl');
    const r = cli(
      'batch',
      '--model',
      FIXTURE_DIR,
      '--in',
      path.join(dir, 'tasks.jsonl'),
      '--out',
      out,
      '--ep',
      'cpu',
      '--strategy',
      'entropy-bounded',
    );
    assert.equal(r.code, 0, r.stderr);
    const results = fs
      .readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(
      results.map((x) => x.task_id),
      ['a', 'b', 'c'],
    );
    for (const x of results) {
      for (const key of ['completion', 'nfe', 'ms', 'steps', 'tokens']) {
        assert.ok(key in x, `${key} in result`);
      }
      assert.equal(x.error, undefined);
    }
    assert.ok((results[1].tokens as number) <= 6);
  });
});
