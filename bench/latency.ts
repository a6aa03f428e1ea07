// Latency benchmark: first-frame and final latency for holes of 16/64/128 tokens and forward passes per
// canvas token, per strategy, against one-token-per-step (sequential) decoding of the same model in the
// same run. Median of repeated runs. Prints a markdown table and the machine; records nothing.
//
//   node out/bench/latency.js --model models/default [--runs 5] [--holes 16,64,128]
//        [--strategies guarded,threshold,...] [--threads 2] [--ep cpu] [--file some.py] [--language python]
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { InfillEngine } from '../src/engine/engine';
import type { ExecutionProviderChoice, InfillRequest, StrategyName } from '../src/engine/protocol';
import { STRATEGIES } from '../src/engine/sampler/options';

/** Source the holes are cut from when no --file is given (plain Python, typical of the training data). */
const SAMPLE = `import os
import sys
from collections import defaultdict


class LineIndex:
    """Maps character offsets in a text to (line, column) pairs and back."""

    def __init__(self, text):
        self.text = text
        self.starts = [0]
        for i, ch in enumerate(text):
            if ch == "\\n":
                self.starts.append(i + 1)

    def position(self, offset):
        lo, hi = 0, len(self.starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.starts[mid] <= offset:
                lo = mid
            else:
                hi = mid - 1
        return lo, offset - self.starts[lo]

    def offset(self, line, column):
        if line < 0 or line >= len(self.starts):
            raise IndexError("line out of range: %d" % line)
        return self.starts[line] + column


def count_words(paths):
    counts = defaultdict(int)
    for path in paths:
        if not os.path.isfile(path):
            print("skipping", path, file=sys.stderr)
            continue
        with open(path, encoding="utf-8") as f:
            for line in f:
                for word in line.split():
                    counts[word.lower()] += 1
    return counts


def top_words(counts, n=10):
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return items[:n]


def main(argv):
    if len(argv) < 2:
        print("usage: words.py FILE...", file=sys.stderr)
        return 2
    counts = count_words(argv[1:])
    for word, count in top_words(counts):
        print("%6d %s" % (count, word))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
`;

interface Row {
  strategy: StrategyName;
  hole: number;
  firstFrameMs: number;
  ms: number;
  nfe: number;
  /** Batch rows (length search: the first pass has one row per candidate length). */
  nfeRows: number;
  tokens: number;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Splits the source so the hole holds `tokens` tokens starting at a line start near the middle. */
function holeRequest(
  engine: InfillEngine,
  source: string,
  tokens: number,
  language: string,
): Omit<InfillRequest, 'id'> {
  const ids = engine.tokenizer.encode(source);
  // Find a line start near the middle such that the hole fits inside the source.
  const lineStarts = [0];
  for (let i = 0; i < source.length; i++) {
    if (source[i] === '\n') {
      lineStarts.push(i + 1);
    }
  }
  const target = Math.max(0, Math.floor(source.length / 2) - tokens * 2);
  const start = lineStarts.reduce(
    (best, s) => (Math.abs(s - target) < Math.abs(best - target) ? s : best),
    0,
  );
  const prefix = source.slice(0, start);
  const prefixIds = engine.tokenizer.encode(prefix);
  const holeIds = ids.slice(prefixIds.length, prefixIds.length + tokens);
  const selection = engine.tokenizer.decode(holeIds);
  return {
    prefix,
    suffix: source.slice(start + selection.length),
    selectionText: selection,
    canvasTokens: tokens,
    languageId: language,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string', default: 'models/default' },
      runs: { type: 'string', default: '5' },
      holes: { type: 'string', default: '16,64,128' },
      strategies: { type: 'string', default: STRATEGIES.join(',') },
      threads: { type: 'string', default: '2' },
      ep: { type: 'string', default: 'cpu' },
      file: { type: 'string' },
      language: { type: 'string', default: 'python' },
    },
  });
  const runs = Number(values.runs);
  const holes = values.holes!.split(',').map(Number);
  const strategies = values.strategies!.split(',') as StrategyName[];
  if (!strategies.includes('sequential')) {
    strategies.push('sequential'); // the reference every row is compared with
  }
  const source = values.file ? fs.readFileSync(values.file, 'utf8') : SAMPLE;
  const engine = await InfillEngine.load({
    modelDir: path.resolve(values.model!),
    executionProvider: values.ep as ExecutionProviderChoice,
    threads: Number(values.threads),
  });
  const rows: Row[] = [];
  let id = 0;
  for (const hole of holes) {
    const request = holeRequest(engine, source, hole, values.language!);
    for (const strategy of strategies) {
      const run = () => engine.infill({ ...request, id: ++id, sampler: { strategy } });
      await run(); // warm-up: first-run allocations are not what a user waits for
      const results = [];
      for (let r = 0; r < runs; r++) {
        results.push(await run());
      }
      rows.push({
        strategy,
        hole,
        firstFrameMs: median(results.map((x) => x.firstFrameMs)),
        ms: median(results.map((x) => x.ms)),
        nfe: median(results.map((x) => x.nfe)),
        nfeRows: median(results.map((x) => x.nfeRows)),
        tokens: median(results.map((x) => x.tokens)),
      });
    }
  }
  await engine.dispose();

  const cpu = os.cpus();
  console.log(
    `Machine: ${cpu[0]?.model ?? 'unknown CPU'}, ${cpu.length} cores, ${os.platform()} ${os.arch()}, Node ${process.version}`,
  );
  console.log(
    `Model: ${engine.info.name} (${values.model}), provider ${engine.info.executionProvider}, ${values.threads} threads, median of ${runs} runs after 1 warm-up`,
  );
  console.log('');
  console.log(
    '| hole (tokens) | strategy | first frame ms | total ms | NFE | batch rows | NFE / token | ms / pass | speed-up vs sequential | completion tokens |',
  );
  console.log('|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const row of rows) {
    const seq = rows.find((r) => r.hole === row.hole && r.strategy === 'sequential')!;
    console.log(
      `| ${row.hole} | ${row.strategy} | ${row.firstFrameMs.toFixed(0)} | ${row.ms.toFixed(0)} | ${row.nfe} | ${row.nfeRows} | ${(row.nfe / row.hole).toFixed(3)} | ${(row.ms / row.nfe).toFixed(1)} | ${(seq.ms / row.ms).toFixed(1)}x | ${row.tokens} |`,
    );
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
