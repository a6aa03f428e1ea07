#!/usr/bin/env node
// Headless CLI over the same engine modules the editor uses (in-process: no child process needed).
//   diffusion-infill infill --model DIR --file F --start LINE:COL --end LINE:COL [--json] [flags]
//   diffusion-infill batch  --model DIR --in tasks.jsonl --out results.jsonl [flags]
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { runBatchFile } from './engine/batch';
import { runEval } from './eval/cli';
import { InfillEngine } from './engine/engine';
import { EngineError } from './engine/errors';
import {
  batchSettingsFromFlags,
  ENGINE_FLAGS,
  ENGINE_FLAGS_HELP,
  FlagError,
  loadOptionsFromFlags,
  type FlagValues,
} from './engine/flags';
import { languageForFile, parsePosition, splitAt } from './engine/region';

const USAGE = `Usage:
  diffusion-infill infill --model DIR --file F --start LINE:COL --end LINE:COL [options]
      Fill the region [start, end) of file F (1-based line and column; an empty region inserts) and
      print the completion. --json prints the whole result; --trace prints every refinement step
      to stderr; --language ID overrides the language guessed from the file extension.
  diffusion-infill batch --model DIR --in tasks.jsonl --out results.jsonl [options]
      Each input line {task_id, prefix, suffix, canvas_tokens?, selection?, language?} gives an
      output line {task_id, completion, nfe, nfe_rows, confidence, unsure, ms, steps, tokens} (plus
      "error" if the task failed). --json on infill adds candidates, lengths and unsure.
  diffusion-infill eval humaneval|tasks|make-heldout [options]
      Evaluation (HumanEval-Infilling pass@1, held-out exact match); see eval --help.
  diffusion-infill --help

${ENGINE_FLAGS_HELP}
`;

const CLI_FLAGS = {
  ...ENGINE_FLAGS,
  file: { type: 'string' },
  start: { type: 'string' },
  end: { type: 'string' },
  language: { type: 'string' },
  json: { type: 'boolean' },
  trace: { type: 'boolean' },
  in: { type: 'string' },
  out: { type: 'string' },
  quiet: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'eval') {
    return runEval(argv.slice(1)); // evaluation commands: src/eval/cli.ts (eval --help)
  }
  const { values, positionals } = parseArgs({
    args: argv,
    options: CLI_FLAGS,
    allowPositionals: true,
    strict: true,
  });
  const command = positionals[0];
  if (values.help || command === undefined || command === 'help') {
    process.stdout.write(USAGE);
    return command === undefined && !values.help ? 2 : 0;
  }
  if (command === 'infill') {
    return infillCommand(values);
  }
  if (command === 'batch') {
    return batchCommand(values);
  }
  throw new FlagError(`unknown command ${JSON.stringify(command)} (infill, batch)`);
}

function required(values: FlagValues, flag: string): string {
  const v = values[flag];
  if (typeof v !== 'string') {
    throw new FlagError(`--${flag} is required`);
  }
  return v;
}

async function infillCommand(values: FlagValues): Promise<number> {
  const loadOptions = loadOptionsFromFlags(values);
  const file = required(values, 'file');
  const region = splitAt(
    fs.readFileSync(file, 'utf8'),
    parsePosition(required(values, 'start'), '--start'),
    parsePosition(required(values, 'end'), '--end'),
  );
  const settings = batchSettingsFromFlags(values);
  const engine = await InfillEngine.load(loadOptions);
  try {
    if (engine.info.fallbackReason) {
      process.stderr.write(
        `note: running on ${engine.info.executionProvider}: ${engine.info.fallbackReason}\n`,
      );
    } else if (engine.info.adapter || engine.info.providerNote) {
      const on = engine.info.adapter ? ` on ${engine.info.adapter}` : '';
      process.stderr.write(
        `note: running on ${engine.info.executionProvider}${on}${engine.info.providerNote ? `: ${engine.info.providerNote}` : ''}\n`,
      );
    }
    const canvasTokens = values['canvas-tokens'] === undefined ? undefined : Number(values['canvas-tokens']);
    const result = await engine.infill(
      {
        ...settings,
        id: 1,
        prefix: region.prefix,
        suffix: region.suffix,
        selectionText: region.selection,
        canvasTokens,
        languageId: (values.language as string | undefined) ?? languageForFile(file),
      },
      {
        onSnapshot: values.trace
          ? (s) =>
              process.stderr.write(
                `--- step ${s.step} (${s.masksLeft} masked, ${s.elapsedMs} ms)\n${s.text}\n`,
              )
          : undefined,
      },
    );
    if (values.json) {
      process.stdout.write(JSON.stringify({ ...result, model: engine.info }, null, 2) + '\n');
    } else {
      process.stdout.write(result.completion);
      if (!result.completion.endsWith('\n')) {
        process.stdout.write('\n');
      }
      process.stderr.write(
        `${result.tokens} tokens, ${result.nfe} forward passes (${result.nfeRows} batch rows), ${result.steps} steps, ${result.ms} ms (first frame ${result.firstFrameMs} ms), confidence ${Math.round(result.confidence * 100)}%${result.unsure ? ' (unsure: a guess, not an answer)' : ''}\n`,
      );
    }
    return 0;
  } finally {
    await engine.dispose();
  }
}

async function batchCommand(values: FlagValues): Promise<number> {
  const loadOptions = loadOptionsFromFlags(values);
  const inFile = required(values, 'in');
  const outFile = required(values, 'out');
  const settings = batchSettingsFromFlags(values);
  const engine = await InfillEngine.load(loadOptions);
  try {
    const summary = await runBatchFile(engine, inFile, outFile, settings, (r) => {
      if (!values.quiet) {
        process.stderr.write(
          r.error
            ? `${r.task_id}: ERROR ${r.error}\n`
            : `${r.task_id}: ${r.tokens} tokens, ${r.nfe} NFE, ${r.ms} ms\n`,
        );
      }
    });
    process.stderr.write(
      `${summary.tasks} tasks (${summary.failed} failed), ${summary.nfe} forward passes, ${summary.tokens} tokens, ${summary.ms} ms -> ${outFile}\n`,
    );
    return summary.failed > 0 ? 1 : 0;
  } finally {
    await engine.dispose();
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof EngineError) {
      process.stderr.write(`error (${err.code}): ${err.message}\n`);
    } else if (
      err instanceof FlagError ||
      (err instanceof Error && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS'))
    ) {
      process.stderr.write(`${(err as Error).message}\n\n${USAGE}`);
    } else {
      process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    }
    process.exitCode = 2;
  },
);
