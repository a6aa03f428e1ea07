// The converter runner behind "Diffusion Infill: Convert Model…" (src/vscode/convertProcess.ts): the python3 +
// torch check, progress lines, cancellation leaving nothing behind, and one message per failure kind. Uses
// Debian's python3 with torch (override with DI_PYTHON) on tiny checkpoints written by models/export/tiny.py;
// skips what needs it when it is missing.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { InfillEngine } from '../../src/engine/engine';
import {
  checkPython,
  defaultOutput,
  FAILURE_TEXT,
  parseLine,
  progressText,
  runConversion,
  type Progress,
} from '../../src/vscode/convertProcess';
import { REPO_ROOT, tempDir } from './helpers';

const PYTHON = process.env.DI_PYTHON ?? '/usr/bin/python3';
let noPython: string | false = false;

/** A tiny checkpoint folder named `name` (models/export/tiny.py writer `writer`), optionally edited. */
function checkpoint(name: string, writer = 'write_qwen3'): string {
  const dir = path.join(tempDir('convert-'), name);
  const r = spawnSync(
    PYTHON,
    ['-c', `import sys; from models.export import tiny; tiny.${writer}(sys.argv[1])`, dir],
    {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    },
  );
  assert.equal(r.status, 0, r.stderr);
  return dir;
}

/** An executable standing in for python3. */
function fakePython(script: string): string {
  const file = path.join(tempDir('fake-python-'), 'python3');
  fs.writeFileSync(file, `#!/bin/sh\n${script}\n`, { mode: 0o755 });
  return file;
}

function siblings(dir: string): string[] {
  return fs.readdirSync(path.dirname(dir)).sort();
}

before(async () => {
  noPython = (await checkPython(PYTHON)).ok ? false : `${PYTHON} with torch + onnx is not available`;
});

describe('Convert Model: python check', () => {
  it('names a missing interpreter', async () => {
    const r = await checkPython('/nonexistent/python3');
    assert.equal(r.ok, false);
    assert.match(
      r.message ?? '',
      /Python "\/nonexistent\/python3" not found.*diffusionInfill\.convert\.python/,
    );
  });

  it('names exactly the missing modules and the pip command', async () => {
    const py = fakePython(`echo '{"torch": null, "numpy": "1.26", "onnx": null}'`);
    const r = await checkPython(py);
    assert.equal(r.ok, false);
    assert.match(r.message ?? '', /missing the Python modules torch, onnx, which the converter needs/);
    assert.ok(r.message?.includes(`${py} -m pip install torch onnx`));
    assert.ok(r.message?.includes('download.pytorch.org/whl/cpu'));
  });

  it('accepts a python with torch, numpy and onnx', async (t) => {
    if (noPython) return t.skip(noPython);
    const r = await checkPython(PYTHON);
    assert.equal(r.ok, true);
    assert.ok(r.versions?.torch);
  });
});

describe('Convert Model: progress lines', () => {
  it('parses @@progress and @@error and formats the ETA', () => {
    assert.deepEqual(parseLine('@@progress {"done": 3, "total": 10, "bytes": 5, "eta_s": 12.5}'), {
      progress: { done: 3, total: 10, bytes: 5, etaS: 12.5 },
    });
    assert.deepEqual(parseLine('@@error {"kind": "arch", "message": "m"}'), {
      error: { kind: 'arch', message: 'm' },
    });
    assert.equal(parseLine('tracing positions_topk graph ...'), undefined);
    assert.equal(parseLine('@@progress {broken'), undefined);
    assert.equal(progressText({ done: 3, total: 10, bytes: 0, etaS: 12.4 }), '3/10 tensors, about 12 s left');
    assert.equal(
      progressText({ done: 3, total: 10, bytes: 0, etaS: 600 }),
      '3/10 tensors, about 10 min left',
    );
    assert.equal(
      defaultOutput('/m/Qwen3-0.6B-diffusion-mdlm', 'int4'),
      '/m/Qwen3-0.6B-diffusion-mdlm-onnx-int4',
    );
  });
});

describe('Convert Model: running the converter', () => {
  it('converts a tiny Qwen3 A2D checkpoint with progress, and the engine loads the result', async (t) => {
    if (noPython) return t.skip(noPython);
    const ckpt = checkpoint('Qwen3-tiny-diffusion-mdlm');
    const out = defaultOutput(ckpt, 'int4');
    const seen: Progress[] = [];
    const outcome = await runConversion({
      python: PYTHON,
      exporterRoot: REPO_ROOT,
      checkpoint: ckpt,
      out,
      dtype: 'int4',
      onProgress: (p) => seen.push(p),
    });
    assert.deepEqual(outcome, { kind: 'ok', out });
    assert.ok(seen.length > 5);
    assert.deepEqual(
      seen.map((p) => p.done),
      Array.from({ length: seen.length }, (_, i) => i + 1),
    );
    assert.equal(seen.at(-1)?.done, seen.at(-1)?.total);
    assert.deepEqual(siblings(out), ['Qwen3-tiny-diffusion-mdlm', 'Qwen3-tiny-diffusion-mdlm-onnx-int4']);
    const manifest = JSON.parse(fs.readFileSync(path.join(out, 'model.json'), 'utf8')) as {
      export: { dtype: string };
    };
    assert.equal(manifest.export.dtype, 'int4');
    const engine = await InfillEngine.load({ modelDir: out, executionProvider: 'cpu', threads: 1 });
    try {
      const r = await engine.infill({ id: 1, prefix: 'a = ', suffix: '\n', canvasTokens: 4 });
      assert.ok(r.canvasLength >= 4);
    } finally {
      await engine.dispose();
    }
  });

  it('a cancelled conversion leaves no output and no partial folder', async (t) => {
    if (noPython) return t.skip(noPython);
    const ckpt = checkpoint('to-cancel');
    const out = defaultOutput(ckpt, 'fp32');
    const abort = new AbortController();
    let sawPartial = false;
    const outcome = await runConversion({
      python: PYTHON,
      exporterRoot: REPO_ROOT,
      checkpoint: ckpt,
      out,
      dtype: 'fp32',
      signal: abort.signal,
      onLog: (line) => {
        if (line.startsWith('tracing') && !abort.signal.aborted) {
          sawPartial = siblings(out).some((e) => e.startsWith('.to-cancel-onnx-fp32.partial-'));
          abort.abort();
        }
      },
    });
    assert.deepEqual(outcome, { kind: 'cancelled' });
    assert.ok(sawPartial, 'the converter was writing into its temporary folder when cancelled');
    assert.deepEqual(siblings(out), ['to-cancel']);
  });

  it('each failure kind ends in its own message', async (t) => {
    if (noPython) return t.skip(noPython);
    const run = async (ckpt: string) =>
      runConversion({
        python: PYTHON,
        exporterRoot: REPO_ROOT,
        checkpoint: ckpt,
        out: `${ckpt}-out`,
        dtype: 'fp16',
      });
    const expect = async (ckpt: string, reason: string, detail: RegExp) => {
      const o = await run(ckpt);
      assert.equal(o.kind, 'failed');
      if (o.kind !== 'failed') return;
      assert.equal(o.reason, reason, o.message);
      assert.ok(o.message.startsWith(FAILURE_TEXT[reason]), o.message);
      assert.match(o.message, detail);
      assert.deepEqual(siblings(ckpt), [path.basename(ckpt)], 'nothing written');
    };
    await expect(checkpoint('Qwen3-0.6B-diffusion-bd3lm-v0.1'), 'block', /bd3lm/);
    const unknown = checkpoint('unknown-arch');
    const cfgFile = path.join(unknown, 'config.json');
    fs.writeFileSync(cfgFile, fs.readFileSync(cfgFile, 'utf8').replace('"a2d-qwen3"', '"mamba"'));
    await expect(unknown, 'arch', /model_type 'mamba'/);
    const shard = checkpoint('missing-shard', 'write_dream');
    fs.rmSync(path.join(shard, 'model-00002-of-00002.safetensors'));
    await expect(shard, 'shard', /model-00002-of-00002\.safetensors, which is missing/);
    const pickle = checkpoint('pickle-only');
    fs.rmSync(path.join(pickle, 'model.safetensors'));
    fs.writeFileSync(path.join(pickle, 'pytorch_model.bin'), 'not opened');
    await expect(pickle, 'pickle', /never opened/);
  });

  it('a converter killed by the system (the OOM killer) is reported as out of memory', async () => {
    const py = fakePython('kill -9 $$');
    const o = await runConversion({
      python: py,
      exporterRoot: REPO_ROOT,
      checkpoint: '/x',
      out: path.join(tempDir('oom-'), 'o'),
      dtype: 'int4',
    });
    assert.equal(o.kind, 'failed');
    assert.ok(
      o.kind === 'failed' && o.reason === 'oom' && o.message.startsWith(FAILURE_TEXT.oom),
      JSON.stringify(o),
    );
  });

  it('out of disk reported by the converter keeps its own message', async () => {
    const py = fakePython(
      `echo '@@error {"kind": "disk", "message": "out of disk space writing the model"}'; exit 2`,
    );
    const o = await runConversion({
      python: py,
      exporterRoot: REPO_ROOT,
      checkpoint: '/x',
      out: path.join(tempDir('disk-'), 'o'),
      dtype: 'int4',
    });
    assert.ok(
      o.kind === 'failed' && o.reason === 'disk' && o.message.startsWith(FAILURE_TEXT.disk),
      JSON.stringify(o),
    );
  });
});
