// "Diffusion Infill: Convert Model…": pick a downloaded Hugging Face checkpoint folder, check python3 + torch,
// run the converter (convertProcess.ts) with a cancellable progress notification, write the ONNX model next to
// the checkpoint or where the user picks, and offer to use it. The converter writes into a hidden temporary
// folder and renames it at the end, so a cancelled or failed run leaves nothing that Select Model could load.
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import {
  checkPython,
  defaultOutput,
  DTYPES,
  progressText,
  runConversion,
  type ConversionOutcome,
  type Dtype,
} from './convertProcess';
import type { Log } from './log';
import { SECTION } from './settings';
import type { Ui } from './ui';

const DTYPE_DETAIL: Record<Dtype, string> = {
  int4: 'smallest and fastest on CPU (about 1/4 of fp16 for the layers); some quality loss',
  int8: 'half of fp16; dynamic int8 matmuls on CPU',
  fp16: 'half of fp32, float32 compute; no quantisation loss to speak of',
  fp32: 'the reference; largest',
};

/** Arguments for scripted use (tests, other extensions); any one left out is asked for. */
export interface ConvertArgs {
  checkpoint?: string;
  out?: string;
  dtype?: Dtype;
  /** true: load the result without asking; false: never; undefined: ask. */
  use?: boolean;
}

export interface ConvertDeps {
  log: Log;
  ui: Ui;
  /** The extension's install folder: it holds the `models` package the converter runs from. */
  exporterRoot: string;
  /** Loads a model folder (the Select Model command). */
  useModel: (folder: string) => Promise<unknown>;
}

export function registerConvertCommand(d: ConvertDeps): vscode.Disposable {
  return vscode.commands.registerCommand('diffusionInfill.convertModel', (args?: ConvertArgs) =>
    convertModel(d, args ?? {}),
  );
}

export async function convertModel(
  d: ConvertDeps,
  args: ConvertArgs,
): Promise<ConversionOutcome | undefined> {
  const checkpoint =
    args.checkpoint ??
    (await pickFolder(
      'Convert this checkpoint',
      'select a downloaded Hugging Face checkpoint folder (config.json, tokenizer.json, *.safetensors)',
    ));
  if (!checkpoint) {
    d.log.info('Convert Model: no checkpoint picked');
    return undefined;
  }
  const python = vscode.workspace.getConfiguration(SECTION).get<string>('convert.python') || 'python3';
  const check = await checkPython(python);
  if (!check.ok) {
    d.log.error(`Convert Model: ${check.message}`);
    d.ui.error(check.message ?? 'python check failed');
    return { kind: 'failed', reason: 'python', message: check.message ?? '' };
  }
  d.log.info(
    `Convert Model: ${python} has ${Object.entries(check.versions ?? {})
      .map(([m, v]) => `${m} ${v}`)
      .join(', ')}`,
  );
  const dtype = args.dtype ?? (await pickDtype());
  if (!dtype) return undefined;
  const out = args.out ?? (await pickOutput(checkpoint, dtype));
  if (!out) return undefined;
  if (fs.existsSync(out) && args.out === undefined) {
    const answer = await vscode.window.showWarningMessage(
      `${out} exists. Replace it?`,
      { modal: true },
      'Replace',
    );
    if (answer !== 'Replace') return undefined;
  }
  d.log.info(`Convert Model: ${checkpoint} -> ${out} (${dtype})`);
  const outcome = await vscode.window.withProgress(
    {
      location: vscode.ProgressLocation.Notification,
      title: `Converting ${checkpoint} (${dtype})`,
      cancellable: true,
    },
    async (progress, token) => {
      const abort = new AbortController();
      token.onCancellationRequested(() => abort.abort());
      let last = 0;
      return runConversion({
        python,
        exporterRoot: d.exporterRoot,
        checkpoint,
        out,
        dtype,
        signal: abort.signal,
        onLog: (line) => d.log.debug(`convert: ${line}`),
        onProgress: (p) => {
          const pct = p.total ? (100 * p.done) / p.total : 0;
          progress.report({ message: progressText(p), increment: pct - last });
          last = pct;
        },
      });
    },
  );
  if (outcome.kind === 'cancelled') {
    d.log.info('Convert Model: cancelled; nothing was written');
    d.ui.info('conversion cancelled; nothing was written.');
    return outcome;
  }
  if (outcome.kind === 'failed') {
    d.log.error(`Convert Model: ${outcome.reason}: ${outcome.message}`);
    d.ui.error(outcome.message);
    return outcome;
  }
  d.log.info(`Convert Model: wrote ${outcome.out}`);
  if (args.use === true) {
    await d.useModel(outcome.out);
  } else if (args.use === undefined) {
    d.ui.info(`converted to ${outcome.out}.`, { 'Use This Model': () => void d.useModel(outcome.out) });
  } else {
    d.ui.info(`converted to ${outcome.out}.`);
  }
  return outcome;
}

async function pickFolder(openLabel: string, title: string): Promise<string | undefined> {
  const picked = await vscode.window.showOpenDialog({
    canSelectFolders: true,
    canSelectFiles: false,
    canSelectMany: false,
    openLabel,
    title: `Diffusion Infill: ${title}`,
  });
  return picked?.[0]?.fsPath;
}

async function pickDtype(): Promise<Dtype | undefined> {
  const item = await vscode.window.showQuickPick(
    DTYPES.map((t) => ({ label: t, detail: DTYPE_DETAIL[t] })),
    {
      title: 'Diffusion Infill: weight format',
      placeHolder: 'int4 for CPU; fp16 for a GPU with enough memory',
    },
  );
  return item?.label as Dtype | undefined;
}

async function pickOutput(checkpoint: string, dtype: Dtype): Promise<string | undefined> {
  const next = defaultOutput(checkpoint, dtype);
  const choice = await vscode.window.showQuickPick(
    [{ label: 'Next to the checkpoint', detail: next }, { label: 'Choose a folder…' }],
    {
      title: 'Diffusion Infill: where to write the model',
    },
  );
  if (!choice) return undefined;
  if (choice.detail) return next;
  const parent = await pickFolder('Write the model here', 'folder to write the converted model into');
  return parent ? defaultOutput(`${parent}/${checkpoint.split(/[\\/]/).pop()}`, dtype) : undefined;
}
