// Speed and scale of the engine on this machine: milliseconds per forward step against window length
// (128/256/512/1024 tokens, 64 requested rows), first-frame and final latency of a 64-token hole in the
// real engine child process (forked exactly as the extension forks it), that process's peak RSS (VmHWM)
// and model load time. Median of repeated runs; machine and load average stated.
//
//   npm run compile && node esbuild.js
//   node out/bench/speed.js --model models/default [--model models/fixture] [--runs 7] [--lengths 128,256,512,1024]
//        [--hole 64] [--threads N] [--ep cpu|webgpu|cuda|auto] [--fp32] [--no-child] [--no-write]
// --ep picks the execution provider (default cpu); the adapter and precision in use are printed and
// recorded. --fp32 ignores a model's fp16 graph (model.json "onnx_fp16"); --no-child skips the
// engine-process hole run.
// With --no-write nothing is written (use --out for the JSON elsewhere).
// Writes bench/results/speed.json, bench/results/speed-window.png (bench/plot.py) and the
// "## Speed and scale" section of BENCHMARKS.md.
import { fork, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { InfillEngine } from '../src/engine/engine';
import type {
  ExecutionProviderChoice,
  FromEngine,
  InfillRequest,
  ModelInfo,
  ToEngine,
} from '../src/engine/protocol';
import { fixed, machineInfo, machineLine, markdownTable, writeSection } from '../src/eval/report';
import { median, quantile } from '../src/eval/metrics';
import { repoRoot } from '../src/eval/paths';

/** Deterministic, varied Python source of at least `minChars` characters (the windows' tokens). */
export function sampleSource(minChars: number): string {
  const parts: string[] = ['import os\nimport sys\nfrom collections import defaultdict\n\n'];
  for (let i = 0; parts.join('').length < minChars; i++) {
    parts.push(
      `def process_${i}(items, limit=${i + 3}):\n` +
        `    """Group the first ${i + 3} items by key and count them (variant ${i})."""\n` +
        `    counts = defaultdict(int)\n` +
        `    for index, item in enumerate(items):\n` +
        `        if index >= limit:\n` +
        `            break\n` +
        `        key = item.get("key_${i % 7}", "default")\n` +
        `        counts[key] += ${(i % 5) + 1}\n` +
        `    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))\n\n\n`,
    );
  }
  return parts.join('');
}

interface WindowRow {
  length: number;
  ms_median: number | null;
  ms_p90: number | null;
  runs: number;
  note?: string;
}

/** How the engine is loaded for a run: provider and the GPU knobs. */
export interface BenchDevice {
  ep: ExecutionProviderChoice;
  forceFp32: boolean;
}

async function windowSweep(
  modelDir: string,
  lengths: readonly number[],
  rows: number,
  runs: number,
  threads: number,
  device: BenchDevice,
): Promise<{ info: ModelInfo; window: WindowRow[] }> {
  const engine = await InfillEngine.load({
    modelDir,
    executionProvider: device.ep,
    threads,
    forceFp32: device.forceFp32,
  });
  const i = engine.info;
  process.stderr.write(
    `  provider ${i.executionProvider}${i.adapter ? ` on ${i.adapter}` : ''}, ${i.precision ?? 'fp32'}` +
      `${i.providerNote ? ` (${i.providerNote})` : ''}${i.fallbackReason ? ` [fallback: ${i.fallbackReason}]` : ''}\n`,
  );
  try {
    const maxLength = engine.manifest.maxLength;
    const mask = engine.manifest.specialTokens.mask;
    const source = engine.tokenizer.encode(sampleSource(12 * Math.max(...lengths)));
    const out: WindowRow[] = [];
    for (const length of lengths) {
      if (length > maxLength) {
        out.push({ length, ms_median: null, ms_p90: null, runs: 0, note: `over max_length ${maxLength}` });
        continue;
      }
      const canvas = Math.min(rows, length - 2);
      const before = Math.floor((length - canvas) / 2);
      const ids = [
        ...source.slice(0, before),
        ...new Array<number>(canvas).fill(mask),
        ...source.slice(before + canvas, length),
      ];
      const positions = Array.from({ length: canvas }, (_, i) => before + i);
      const times: number[] = [];
      for (let r = 0; r < runs + 2; r++) {
        const t0 = performance.now();
        await engine.predict(ids, positions);
        if (r >= 2) {
          times.push(performance.now() - t0); // two warm-up passes per length
        }
      }
      out.push({
        length,
        ms_median: Math.round(median(times) * 10) / 10,
        ms_p90: Math.round(quantile(times, 0.9) * 10) / 10,
        runs,
      });
      process.stderr.write(`  window ${length}: ${median(times).toFixed(1)} ms/step\n`);
    }
    return { info: engine.info, window: out };
  } finally {
    await engine.dispose();
  }
}

function procStatus(pid: number): { hwm_mib?: number; rss_mib?: number } {
  try {
    const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (field: string) => {
      const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
      return m ? Math.round((Number(m[1]) / 1024) * 10) / 10 : undefined;
    };
    return { hwm_mib: kib('VmHWM'), rss_mib: kib('VmRSS') };
  } catch {
    return {};
  }
}

interface ChildResult {
  spawn_to_ready_ms: number;
  load_ms_first: number;
  load_ms_median: number;
  engine_load_ms_median: number;
  first_frame_ms_median: number;
  final_ms_median: number;
  final_ms_p90: number;
  engine_first_frame_ms_median: number;
  nfe_median: number;
  canvas_tokens: number;
  rss_after_load_mib?: number;
  peak_rss_mib?: number;
  engine_entry: string;
  /** Provider (and adapter, precision) the engine process loaded the model on. */
  provider?: string;
}

/** Forks the engine child process and drives it through the protocol the extension uses. */
async function childRun(
  entry: string,
  modelDir: string,
  hole: number,
  runs: number,
  loads: number,
  threads: number,
  ep: ExecutionProviderChoice,
): Promise<ChildResult> {
  const t0 = performance.now();
  const child = fork(entry, [], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const waiters: ((m: FromEngine) => boolean)[] = [];
  child.on('message', (m: FromEngine) => {
    for (let i = 0; i < waiters.length; i++) {
      if (waiters[i](m)) {
        waiters.splice(i, 1);
        return;
      }
    }
  });
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`engine process exited (${code}): ${stderr.slice(-500)}`))),
  );
  const wait = <T>(pick: (m: FromEngine) => T | undefined): Promise<T> =>
    Promise.race([
      new Promise<T>((resolve, reject) =>
        waiters.push((m) => {
          if (m.type === 'error') {
            reject(new Error(`${m.code}: ${m.message}`));
            return true;
          }
          const v = pick(m);
          if (v !== undefined) {
            resolve(v);
            return true;
          }
          return false;
        }),
      ),
      exited,
    ]);
  const send = (m: ToEngine) => child.send(m);
  try {
    await wait((m) => (m.type === 'ready' ? true : undefined));
    const spawnToReady = performance.now() - t0;
    const loadWall: number[] = [];
    const engineLoad: number[] = [];
    let rssAfterLoad: number | undefined;
    let provider: string | undefined;
    for (let i = 0; i < loads; i++) {
      const l0 = performance.now();
      const requestId = 1000 + i;
      send({ type: 'load', requestId, options: { modelDir, executionProvider: ep, threads } });
      const info = await wait((m) => (m.type === 'loaded' && m.requestId === requestId ? m.info : undefined));
      loadWall.push(performance.now() - l0);
      engineLoad.push(info.loadMs);
      provider = [info.executionProvider, info.adapter, info.precision].filter((x) => x).join(', ');
      if (i === 0) {
        rssAfterLoad = procStatus(child.pid!).rss_mib;
      }
    }
    const source = sampleSource(6000);
    const cut = source.indexOf('\ndef process_3(') + 1;
    const first: number[] = [];
    const final: number[] = [];
    const engineFirst: number[] = [];
    const nfe: number[] = [];
    for (let r = 0; r < runs + 1; r++) {
      const request: InfillRequest = {
        id: r + 1,
        prefix: source.slice(0, cut),
        suffix: source.slice(cut),
        canvasTokens: hole,
        languageId: 'python',
        snapshotIntervalMs: 0,
      };
      const s0 = performance.now();
      let firstAt: number | undefined;
      const gotFirst = wait((m) =>
        m.type === 'snapshot' && m.snapshot.requestId === r + 1 ? true : undefined,
      ).then(() => (firstAt = performance.now() - s0));
      send({ type: 'infill', request });
      const result = await wait((m) =>
        m.type === 'result' && m.result.requestId === r + 1 ? m.result : undefined,
      );
      const end = performance.now() - s0;
      await gotFirst;
      if (r === 0) {
        continue; // warm-up
      }
      first.push(firstAt ?? end);
      final.push(end);
      engineFirst.push(result.firstFrameMs);
      nfe.push(result.nfe);
    }
    const status = procStatus(child.pid!);
    send({ type: 'dispose' });
    const r1 = (v: number) => Math.round(v * 10) / 10;
    return {
      spawn_to_ready_ms: r1(spawnToReady),
      load_ms_first: r1(loadWall[0]),
      load_ms_median: r1(median(loadWall)),
      engine_load_ms_median: r1(median(engineLoad)),
      first_frame_ms_median: r1(median(first)),
      final_ms_median: r1(median(final)),
      final_ms_p90: r1(quantile(final, 0.9)),
      engine_first_frame_ms_median: r1(median(engineFirst)),
      nfe_median: median(nfe),
      canvas_tokens: hole,
      rss_after_load_mib: rssAfterLoad,
      peak_rss_mib: status.hwm_mib,
      engine_entry: entry,
      provider,
    };
  } finally {
    setTimeout(() => child.kill('SIGKILL'), 2000).unref();
  }
}

async function main(): Promise<number> {
  const root = repoRoot();
  const { values } = parseArgs({
    options: {
      model: { type: 'string', multiple: true },
      runs: { type: 'string' },
      loads: { type: 'string' },
      lengths: { type: 'string' },
      hole: { type: 'string' },
      threads: { type: 'string' },
      out: { type: 'string' },
      plot: { type: 'string' },
      'benchmarks-md': { type: 'string' },
      'no-write': { type: 'boolean' },
      ep: { type: 'string' },
      fp32: { type: 'boolean' },
      'no-child': { type: 'boolean' },
    },
  });
  const device: BenchDevice = {
    ep: (values.ep ?? 'cpu') as ExecutionProviderChoice,
    forceFp32: values.fp32 === true,
  };
  const modelDirs = (values.model ?? ['models/default']).map((m) => path.resolve(root, m));
  const runs = Number(values.runs ?? 7);
  const loads = Number(values.loads ?? 3);
  const lengths = (values.lengths ?? '128,256,512,1024').split(',').map(Number);
  const hole = Number(values.hole ?? 64);
  const threads = Number(values.threads ?? 0);
  const outJson = path.resolve(root, values.out ?? 'bench/results/speed.json');
  const plotFile = path.resolve(root, values.plot ?? 'bench/results/speed-window.png');
  const benchmarksMd = path.resolve(root, values['benchmarks-md'] ?? 'BENCHMARKS.md');
  const entry = [
    path.join(root, 'dist', 'engineProcess.js'),
    path.join(root, 'out', 'src', 'engine', 'process', 'main.js'),
  ].find((f) => fs.existsSync(f));
  if (!entry) {
    throw new Error(
      'no engine process entry: run `node esbuild.js` (dist/engineProcess.js) or `npm run compile`',
    );
  }
  const machine = machineInfo();
  process.stderr.write(`machine: ${machineLine(machine)}\n`);
  const results = [];
  for (const dir of modelDirs) {
    process.stderr.write(`${path.relative(root, dir)}: window sweep (in-process)\n`);
    const sweep = await windowSweep(dir, lengths, hole, runs, threads, device);
    let child: ChildResult | undefined;
    if (!values['no-child']) {
      process.stderr.write(`${path.relative(root, dir)}: engine process (${path.relative(root, entry)})\n`);
      child = await childRun(entry, dir, hole, runs, loads, threads, device.ep);
    }
    results.push({
      model: { name: sweep.info.name, dir: path.relative(root, dir), max_length: sweep.info.maxLength },
      provider: {
        name: sweep.info.executionProvider,
        adapter: sweep.info.adapter,
        precision: sweep.info.precision,
        note: sweep.info.providerNote ?? sweep.info.fallbackReason,
      },
      window: sweep.window,
      child: child && { ...child, engine_entry: path.relative(root, child.engine_entry) },
    });
  }
  const benchMaxRss = Math.round((process.resourceUsage().maxRSS / 1024) * 10) / 10;
  const command = `node out/bench/speed.js ${process.argv.slice(2).join(' ')}`.trim();
  const doc = {
    created: new Date().toISOString(),
    command,
    machine,
    runs,
    threads,
    bench_process_peak_rss_mib: benchMaxRss,
    cuda: 'pending: no GPU in this session',
    results,
  };
  fs.mkdirSync(path.dirname(outJson), { recursive: true });
  fs.writeFileSync(outJson, JSON.stringify(doc, null, 1) + '\n');

  const md = renderSpeed(doc, path.relative(root, plotFile));
  process.stdout.write(md);
  if (results.length > 0) {
    // The plot shows the first model (the default one).
    const first = path.join(path.dirname(outJson), '.speed-first.json');
    fs.writeFileSync(first, JSON.stringify({ ...doc, ...results[0] }));
    const p = spawnSync('/usr/bin/python3', [path.join(root, 'bench', 'plot.py'), 'speed', first, plotFile], {
      encoding: 'utf8',
    });
    fs.rmSync(first, { force: true });
    process.stderr.write(p.status === 0 ? `plot -> ${plotFile}\n` : `plot failed: ${p.stderr}\n`);
  }
  if (!values['no-write']) {
    writeSection(benchmarksMd, 'Speed and scale', md);
    process.stderr.write(`results -> ${outJson}; section "Speed and scale" -> ${benchmarksMd}\n`);
  }
  return 0;
}

type SpeedDoc = {
  command: string;
  machine: ReturnType<typeof machineInfo>;
  runs: number;
  threads: number;
  bench_process_peak_rss_mib: number;
  results: {
    model: { name: string; dir: string; max_length: number };
    provider?: { name: string; adapter?: string; precision?: string; note?: string };
    window: WindowRow[];
    child?: ChildResult;
  }[];
};

/** "CPU execution provider" or "webgpu execution provider on <adapter> (fp16)", from the first result. */
function providerLine(doc: SpeedDoc): string {
  const p = doc.results[0]?.provider;
  if (!p || p.name === 'cpu') {
    return 'CPU execution provider';
  }
  return `${p.name} execution provider${p.adapter ? ` on ${p.adapter}` : ''} (${p.precision ?? 'fp32'})`;
}

export function renderSpeed(doc: SpeedDoc, plotPath: string): string {
  const lengths = [...new Set(doc.results.flatMap((r) => r.window.map((w) => w.length)))];
  const windowRows = doc.results.map((r) => {
    const base = r.window.find((w) => w.ms_median !== null)?.ms_median ?? NaN;
    return [
      `${r.model.name} (\`${r.model.dir}\`)`,
      ...lengths.map((len) => {
        const w = r.window.find((x) => x.length === len);
        return w && w.ms_median !== null
          ? `${fixed(w.ms_median, 1)} (${fixed(w.ms_median / base, 1)}x)`
          : (w?.note ?? '-');
      }),
    ];
  });
  const holeRows = doc.results
    .flatMap((r) => (r.child ? [{ ...r, child: r.child }] : []))
    .map((r) => [
      r.model.name,
      fixed(r.child.first_frame_ms_median, 0),
      fixed(r.child.final_ms_median, 0),
      fixed(r.child.final_ms_p90, 0),
      String(r.child.nfe_median),
      fixed(r.child.peak_rss_mib, 0),
      fixed(r.child.rss_after_load_mib, 0),
      fixed(r.child.load_ms_median, 0),
      fixed(r.child.load_ms_first, 0),
      fixed(r.child.spawn_to_ready_ms, 0),
    ]);
  return (
    `Machine: ${machineLine(doc.machine)} (shared with other jobs while measured: see the load average). ` +
    `${providerLine(doc)}, onnxruntime intra-op threads ${doc.threads || 'default'}. Median of ${doc.runs} runs after warm-up.\n` +
    `Command: \`${doc.command}\` (results in \`bench/results/speed.json\`).\n\n` +
    `**Milliseconds per forward step against window length** (one pass over the whole window, 64 canvas rows ` +
    `projected to top-k; in brackets: relative to the shortest window):\n\n` +
    markdownTable(['model', ...lengths.map((l) => `L=${l}`)], windowRows) +
    `\n![ms per step vs window length](${plotPath})\n\n` +
    `**A 64-token hole in the engine child process** (forked as the extension forks it; guarded decoding, canvas = 64 tokens, ` +
    `first frame = request sent to the first snapshot received, final = to the result; peak RSS = VmHWM of the engine process ` +
    `after ${doc.runs + 1} infills; load = \`load\` message to \`loaded\` (manifest, tokenizer, ONNX session, warm-up pass), ` +
    `median of repeated loads, and the first load; start = fork to the process's \`ready\`):\n\n` +
    markdownTable(
      [
        'model',
        'first frame ms',
        'final ms p50',
        'final ms p90',
        'NFE',
        'peak RSS MiB',
        'RSS after load MiB',
        'load ms',
        'first load ms',
        'start ms',
      ],
      holeRows,
    ) +
    `\nCUDA execution provider: pending (no GPU in this session; rerun the command above with a GPU build and record the card).\n`
  );
}

if (require.main === module) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
