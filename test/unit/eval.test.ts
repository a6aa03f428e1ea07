// The evaluation harness's parts: metrics, the per-task cache and its settings hash, canvas length
// policies, deterministic subsets, held-out task construction, report sections, the evaluation loop
// (with a stand-in engine), the sandbox limits and the eval CLI commands (tasks, make-heldout).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { renderSpeed } from '../../bench/speed';
import { ResultCache, settingsHash, stableStringify } from '../../src/eval/cache';
import { lengthPolicyFromFlags } from '../../src/eval/cli';
import { evaluate, summarize, type RunTaskFn, type TaskRecord } from '../../src/eval/evaluate';
import { createHash } from 'node:crypto';
import { seededRandom } from '../../src/engine/sampler/prng';
import {
  HELDOUT_DEFAULTS,
  makeHeldout,
  prng,
  readHeldoutFiles,
  type CorpusFile,
} from '../../src/eval/heldout';
import { checkProgram, spread } from '../../src/eval/humaneval-data';
import { sizedTask } from '../../src/eval/length';
import {
  editSimilarity,
  exactMatch,
  levenshtein,
  median,
  normalizeWhitespace,
  quantile,
} from '../../src/eval/metrics';
import { markdownTable, writeSection } from '../../src/eval/report';
import { runPython } from '../../src/eval/sandbox';
import { parseReferenceTask, readReferenceTasks } from '../../src/eval/tasks';
import { CLI_ENTRY, FIXTURE_DIR, fixtureSkip, tempDir } from './helpers';

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI_ENTRY, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('eval metrics', () => {
  it('exact match ignores whitespace differences only', () => {
    assert.equal(normalizeWhitespace('  a\n\tb  c \n'), 'a b c');
    assert.ok(exactMatch('    return a + b\n', 'return a + b'));
    assert.ok(exactMatch('x =  1\n', 'x = 1'));
    assert.ok(!exactMatch('return a+b', 'return a + b'), 'spaces inside tokens matter');
    assert.ok(!exactMatch('return a - b', 'return a + b'));
  });

  it('levenshtein and edit similarity', () => {
    assert.equal(levenshtein('kitten', 'sitting'), 3);
    assert.equal(levenshtein('', 'abc'), 3);
    assert.equal(levenshtein('abc', 'abc'), 0);
    assert.equal(levenshtein('flaw', 'lawn'), 2);
    assert.equal(editSimilarity('', ''), 1);
    assert.equal(editSimilarity('abc', ''), 0);
    assert.equal(editSimilarity('kitten', 'sitting'), 1 - 3 / 7);
  });

  it('quantiles interpolate', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([1, 2, 3, 4]), 2.5);
    assert.equal(quantile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9), 9.1);
    assert.ok(Number.isNaN(median([])));
  });
});

describe('eval cache and settings hash', () => {
  it('the hash ignores key order and undefined fields, and changes with any value', () => {
    assert.equal(
      stableStringify({ b: 1, a: { d: 2, c: [1, { f: 1, e: 2 }] } }),
      '{"a":{"c":[1,{"e":2,"f":1}],"d":2},"b":1}',
    );
    assert.equal(settingsHash({ a: 1, b: 2 }), settingsHash({ b: 2, a: 1, c: undefined }));
    assert.notEqual(settingsHash({ a: 1, b: 2 }), settingsHash({ a: 1, b: 3 }));
  });

  it('records persist per hash and task, and a cut-off last line is ignored', () => {
    const file = path.join(tempDir('cache'), 'sub', 'c.jsonl');
    const cache = new ResultCache(file);
    cache.put('h1', { task_id: 't1', completion: 'x' } as TaskRecord);
    cache.put('h2', { task_id: 't1', completion: 'y' } as TaskRecord);
    fs.appendFileSync(file, '{"key":"h1:t2","task_id":"t2","compl');
    const again = new ResultCache(file);
    assert.equal(again.get<TaskRecord>('h1', 't1')?.completion, 'x');
    assert.equal(again.get<TaskRecord>('h2', 't1')?.completion, 'y');
    assert.equal(again.get('h1', 't2'), undefined);
    assert.deepEqual(Object.keys(again.get('h1', 't1') ?? {}).sort(), ['completion', 'task_id']);
  });
});

describe('eval task construction', () => {
  const enc = {
    encode: (text: string) =>
      text
        .split(/\s+/)
        .filter((w) => w.length > 0)
        .map(() => 1),
  };
  const base = { task_id: 't', prefix: 'p', suffix: 's', language: 'python' };

  it('length policies: selection, oracle, fixed', () => {
    assert.deepEqual(sizedTask(base, 'a b c', { mode: 'selection', fixedTokens: 32 }, enc), {
      ...base,
      selection: 'a b c',
    });
    assert.deepEqual(sizedTask(base, 'a b c', { mode: 'oracle', fixedTokens: 32 }, enc), {
      ...base,
      canvas_tokens: 3,
    });
    assert.deepEqual(sizedTask(base, 'a b c', { mode: 'fixed', fixedTokens: 16 }, enc), {
      ...base,
      canvas_tokens: 16,
    });
    assert.equal(sizedTask(base, '', { mode: 'oracle', fixedTokens: 16 }, enc).canvas_tokens, 1);
  });

  it('spread picks evenly spaced items, deterministically', () => {
    const items = Array.from({ length: 10 }, (_, i) => i);
    assert.deepEqual(spread(items, 5), [0, 2, 4, 6, 8]);
    assert.deepEqual(spread(items, 3), [0, 3, 6]);
    assert.deepEqual(spread(items, undefined), items);
    assert.deepEqual(spread(items, 50), items);
  });

  it('the HumanEval check program is prompt + completion + suffix + test + check(entry_point)', () => {
    const program = checkProgram(
      {
        task_id: 'x',
        entry_point: 'f',
        prompt: 'def f():\n',
        suffix: '    return y\n',
        canonical_solution: '',
        test: 'def check(c):\n    assert c() == 1\n',
      },
      '    y = 1\n',
    );
    assert.equal(
      program,
      'def f():\n    y = 1\n    return y\n\ndef check(c):\n    assert c() == 1\n\n\ncheck(f)\n',
    );
  });

  it('reference tasks are validated with the line number', () => {
    assert.deepEqual(parseReferenceTask('{"task_id":3,"prefix":"a","suffix":"b","reference":"c"}', 'f:1'), {
      task_id: '3',
      prefix: 'a',
      suffix: 'b',
      reference: 'c',
    });
    assert.throws(
      () => parseReferenceTask('{"task_id":"a","prefix":"a","suffix":"b"}', 'f:7'),
      /f:7: "reference"/,
    );
    assert.throws(() => parseReferenceTask('nope', 'f:2'), /f:2: not JSON/);
    const file = path.join(tempDir('tasks'), 't.jsonl');
    const line = JSON.stringify({ task_id: 'a', prefix: '', suffix: '', reference: 'x' });
    fs.writeFileSync(file, `${line}\n\n${line}\n`);
    assert.throws(() => readReferenceTasks(file), /:3: duplicate task_id "a"/);
  });
});

describe('held-out tasks', () => {
  const text = (n: number) =>
    Array.from({ length: n }, (_, i) => (i % 7 === 3 ? '' : `    value_${i} = compute(${i}, "item")`)).join(
      '\n',
    ) + '\n';
  const files: CorpusFile[] = [
    { id: 'a', path: 'a.py', lang: 'python', text: text(40) },
    { id: 'b', path: 'b.ts', lang: 'typescript', text: text(30) },
    { id: 'c', path: 'c.js', lang: 'javascript', text: 'x\n' },
  ];

  it('holes are whole lines from the file, seeded and spread over files', () => {
    const tasks = makeHeldout(files, {
      n: 12,
      seed: 7,
      maxLines: 4,
      maxChars: 400,
      minChars: 8,
      languages: [],
      split: 'val',
    });
    assert.equal(tasks.length, 12);
    const again = makeHeldout(files, {
      n: 12,
      seed: 7,
      maxLines: 4,
      maxChars: 400,
      minChars: 8,
      languages: [],
      split: 'val',
    });
    assert.deepEqual(again, tasks, 'same seed, same tasks');
    const other = makeHeldout(files, {
      n: 12,
      seed: 8,
      maxLines: 4,
      maxChars: 400,
      minChars: 8,
      languages: [],
      split: 'val',
    });
    assert.notDeepEqual(other, tasks);
    assert.equal(new Set(tasks.map((t) => t.task_id)).size, 12, 'unique ids');
    for (const t of tasks) {
      const file = files.find((f) => f.id === t.source.file)!;
      assert.equal(t.prefix + t.reference + t.suffix, file.text, 'prefix + reference + suffix is the file');
      assert.ok(t.prefix.endsWith('\n'), 'hole starts at a line start');
      assert.ok(t.reference.endsWith('\n') || t.suffix === '', 'hole ends at a line end');
      assert.ok(t.source.lines >= 1 && t.source.lines <= 4);
      assert.equal(t.language, file.lang);
    }
    assert.ok(new Set(tasks.map((t) => t.source.file)).size === 2, 'both usable files are used');
  });

  it('only files of the held-out split are read', () => {
    const corpus = path.join(tempDir('corpus'), 'files.jsonl');
    fs.writeFileSync(
      corpus,
      [
        { id: 1, path: 'x.py', lang: 'python', split: 'train', text: 'a\nb\n' },
        { id: 2, path: 'y.py', lang: 'python', split: 'val', text: 'c\nd\n' },
        { id: 3, path: 'z.js', lang: 'javascript', split: 'val', text: 'e\nf\n' },
      ]
        .map((f) => JSON.stringify(f))
        .join('\n'),
    );
    assert.deepEqual(
      readHeldoutFiles(corpus).map((f) => f.id),
      ['2', '3'],
    );
    assert.deepEqual(
      readHeldoutFiles(corpus, 'val', ['javascript']).map((f) => f.id),
      ['3'],
    );
  });

  it('held-out sets and sampler draws are byte-identical to the generators before the PRNG was folded', () => {
    // The hash was computed with the two separate mulberry32 copies (commit 9ed01d4); the folded
    // src/engine/sampler/prng.ts must reproduce it exactly, or published held-out sets would change.
    const files: CorpusFile[] = [];
    for (let f = 0; f < 12; f++) {
      const lines: string[] = [];
      for (let l = 0; l < 40; l++) {
        lines.push(`    value_${f}_${l} = compute(${l}, ${f}) + ${l * f}  # line ${l}`);
      }
      files.push({
        id: String(f),
        path: `f${f}.py`,
        lang: 'python',
        text: `def fn_${f}():\n` + lines.join('\n') + '\n',
      });
    }
    const out = [1, 1234, 99].map((seed) =>
      JSON.stringify(makeHeldout(files, { ...HELDOUT_DEFAULTS, n: 25, seed })),
    );
    const r = seededRandom(42);
    out.push(JSON.stringify(Array.from({ length: 5 }, () => r())));
    assert.equal(
      createHash('sha256').update(out.join('\n')).digest('hex'),
      'd119853676cc117ef71aeaa0dfdacfced8686f337783d848d930b65f684e373e',
    );
  });

  it('the PRNG is deterministic and uniform-ish', () => {
    const r = prng(42);
    const xs = Array.from({ length: 1000 }, () => r());
    assert.deepEqual(
      xs.slice(0, 3),
      (() => {
        const q = prng(42);
        return [q(), q(), q()];
      })(),
    );
    assert.ok(xs.every((x) => x >= 0 && x < 1));
    assert.ok(Math.abs(xs.reduce((s, x) => s + x, 0) / 1000 - 0.5) < 0.05);
  });
});

describe('evaluation loop', () => {
  const items = ['a', 'b', 'c'].map((id) => ({
    reference: `value_${id}\n`,
    task: { task_id: id, prefix: '', suffix: '' },
  }));

  it('scores, caches and skips cached tasks on a rerun', async () => {
    const calls: string[] = [];
    const run: RunTaskFn = async (task) => {
      calls.push(task.task_id);
      return {
        task_id: task.task_id,
        completion: task.task_id === 'b' ? 'wrong' : `value_${task.task_id}`,
        nfe: 4,
        ms: 10 * calls.length,
        steps: 4,
        tokens: 2,
      };
    };
    const cache = new ResultCache(path.join(tempDir('loop'), 'c.jsonl'));
    const scored: string[] = [];
    const records = await evaluate({
      items,
      run,
      hash: 'h',
      cache,
      label: 'test',
      progress: null,
      score: async (item, completion) => {
        scored.push(item.task.task_id);
        return {
          passed: completion.startsWith('value'),
          exec_status: completion.startsWith('value') ? 'passed' : 'failed',
        };
      },
    });
    assert.deepEqual(calls, ['a', 'b', 'c']);
    assert.deepEqual(scored, ['a', 'b', 'c']);
    assert.deepEqual(
      records.map((r) => [r.task_id, r.exact, r.passed]),
      [
        ['a', true, true],
        ['b', false, false],
        ['c', true, true],
      ],
    );
    const s = summarize(records);
    assert.equal(s.n, 3);
    assert.equal(s.pass_at_1, 0.6667);
    assert.equal(s.exact_match, 0.6667);
    assert.equal(s.nfe_per_token, 2);
    assert.deepEqual(s.exec_status, { passed: 2, failed: 1 });
    const again = await evaluate({
      items,
      run,
      hash: 'h',
      cache: new ResultCache(cache.file),
      label: 'test',
      progress: null,
    });
    assert.deepEqual(calls, ['a', 'b', 'c'], 'nothing ran again');
    assert.deepEqual(again, records);
    await evaluate({
      items: items.slice(0, 1),
      run,
      hash: 'other',
      cache,
      label: 'test',
      progress: null,
    });
    assert.deepEqual(calls, ['a', 'b', 'c', 'a'], 'other settings run again');
  });

  it('an engine error counts as a miss and is recorded', async () => {
    const run: RunTaskFn = async (task) => ({
      task_id: task.task_id,
      completion: '',
      nfe: 0,
      ms: 0,
      steps: 0,
      tokens: 0,
      error: 'too-long: x',
    });
    const records = await evaluate({
      items: items.slice(0, 1),
      run,
      hash: 'h',
      cache: new ResultCache(undefined),
      label: 't',
      progress: null,
    });
    assert.equal(records[0].error, 'too-long: x');
    assert.equal(records[0].exact, false);
    assert.equal(summarize(records).errors, 1);
  });
});

describe('report sections', () => {
  it('writeSection replaces its own section and keeps the others byte for byte', () => {
    const file = path.join(tempDir('bench'), 'BENCHMARKS.md');
    fs.writeFileSync(
      file,
      '# Benchmarks\n\nintro\n\n## Latency\n\nlead table\n\n## Evaluation\n\nold\n\n## Other\n\nkeep\n',
    );
    writeSection(file, 'Evaluation', 'new table');
    writeSection(file, 'Speed and scale', 'speed');
    assert.equal(
      fs.readFileSync(file, 'utf8'),
      '# Benchmarks\n\nintro\n\n## Latency\n\nlead table\n\n## Evaluation\n\nnew table\n\n## Other\n\nkeep\n\n## Speed and scale\n\nspeed\n',
    );
    const fresh = path.join(tempDir('bench'), 'B.md');
    writeSection(fresh, 'Ablations', 'x');
    assert.equal(fs.readFileSync(fresh, 'utf8'), '# Benchmarks\n\n## Ablations\n\nx\n');
  });

  it('markdown tables escape pipes', () => {
    assert.equal(markdownTable(['a', 'b'], [['x|y', '1']]), '| a | b |\n| --- | --- |\n| x\\|y | 1 |\n');
  });
});

describe('sandbox limits', () => {
  it('caps output, clears the environment and runs in a temp folder', async () => {
    const spam = await runPython('while True:\n    print("x" * 1000)\n', { maxOutputBytes: 100_000 });
    assert.equal(spam.status, 'output-limit');
    assert.ok(spam.stdout.length <= 4096 && spam.truncated);
    const env = await runPython('import os\nprint(sorted(os.environ))\nprint(os.getcwd())\n');
    assert.equal(env.status, 'passed');
    assert.match(env.stdout, /^\['HOME', 'LANG', 'PATH', 'TMPDIR'\]\n.*di-exec-/);
  });
});

describe('eval CLI', () => {
  it('help, unknown commands and missing arguments', () => {
    const help = cli('eval', '--help');
    assert.equal(help.code, 0);
    for (const flag of [
      'humaneval',
      'tasks',
      'make-heldout',
      '--subset',
      '--limit',
      '--length',
      '--cache',
      '--out-json',
      '--out-md',
      '--strategy',
    ]) {
      assert.ok(help.stdout.includes(flag), `eval help mentions ${flag}`);
    }
    assert.equal(cli('eval', 'bogus').code, 2);
    const missing = cli('eval', 'tasks');
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /task file/);
    assert.equal(cli('eval', 'humaneval', '--subset', 'nope', '--model', 'x').code, 2);
  });

  it('make-heldout then eval tasks with the fixture model', { skip: fixtureSkip() }, () => {
    const dir = tempDir('eval-cli');
    const corpus = path.join(dir, 'files.jsonl');
    const src = 'def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    total = a * b\n    return total\n';
    fs.writeFileSync(
      corpus,
      [
        { id: 'f1', path: 'm.py', lang: 'python', split: 'val', text: src },
        { id: 'f2', path: 't.py', lang: 'python', split: 'train', text: src },
      ]
        .map((f) => JSON.stringify(f))
        .join('\n') + '\n',
    );
    const heldout = path.join(dir, 'heldout.jsonl');
    const made = cli('eval', 'make-heldout', '--corpus', corpus, '--out', heldout, '--n', '3', '--seed', '1');
    assert.equal(made.code, 0, made.stderr);
    const tasks = readReferenceTasks(heldout);
    assert.equal(tasks.length, 3);
    assert.ok(tasks.every((t) => t.task_id.startsWith('f1:')));
    const json = path.join(dir, 'r.json');
    const out = path.join(dir, 'r.jsonl');
    const r = cli(
      'eval',
      'tasks',
      heldout,
      '--model',
      FIXTURE_DIR,
      '--threads',
      '1',
      '--no-cache',
      '--length',
      'oracle',
      '--out-json',
      json,
      '--out',
      out,
    );
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(fs.readFileSync(json, 'utf8')) as {
      summary: { n: number; edit_similarity: number };
      settings: { length: string };
    };
    assert.equal(report.summary.n, 3);
    assert.equal(report.settings.length, 'oracle');
    assert.ok(report.summary.edit_similarity >= 0 && report.summary.edit_similarity <= 1);
    const lines = fs
      .readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as TaskRecord);
    assert.equal(lines.length, 3);
    for (const l of lines) {
      assert.equal(typeof l.completion, 'string');
      assert.equal(typeof l.edit_sim, 'number');
      assert.ok(l.canvas_tokens! >= 1);
    }
  });
});

describe('eval flags and benchmark sections', () => {
  it('--canvas-tokens alone means a fixed canvas; --length picks the mode', () => {
    assert.deepEqual(lengthPolicyFromFlags({}), { mode: 'selection', fixedTokens: 32 });
    assert.deepEqual(lengthPolicyFromFlags({ 'canvas-tokens': '48' }), { mode: 'fixed', fixedTokens: 48 });
    assert.deepEqual(lengthPolicyFromFlags({ length: 'oracle' }), { mode: 'oracle', fixedTokens: 32 });
    assert.throws(() => lengthPolicyFromFlags({ length: 'huge' }), /--length/);
  });

  it('the speed section renders every model row and marks windows over max_length', () => {
    const md = renderSpeed(
      {
        command: 'node out/bench/speed.js',
        machine: { cpu: 'cpu', cores: 2, memory_gib: 1, os: 'os', node: 'v20', gpu: 'none' },
        runs: 3,
        threads: 0,
        bench_process_peak_rss_mib: 100,
        results: [
          {
            model: { name: 'm', dir: 'models/m', max_length: 512 },
            window: [
              { length: 128, ms_median: 2, ms_p90: 3, runs: 3 },
              { length: 1024, ms_median: null, ms_p90: null, runs: 0, note: 'over max_length 512' },
            ],
            child: {
              spawn_to_ready_ms: 1,
              load_ms_first: 2,
              load_ms_median: 3,
              engine_load_ms_median: 3,
              first_frame_ms_median: 4,
              final_ms_median: 5,
              final_ms_p90: 6,
              engine_first_frame_ms_median: 4,
              nfe_median: 7,
              canvas_tokens: 64,
              peak_rss_mib: 99,
              engine_entry: 'dist/engineProcess.js',
            },
          },
        ],
      },
      'bench/results/speed-window.png',
    );
    assert.match(md, /\| m \(`models\/m`\) \| 2\.0 \(1\.0x\) \| over max_length 512 \|/);
    assert.match(md, /\| m \| 4 \| 5 \| 6 \| 7 \| 99 \| - \| 3 \| 2 \| 1 \|/);
    assert.match(md, /CUDA execution provider: pending/);
  });
});
