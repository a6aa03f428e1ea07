// Runs the Python checkpoint converter (models/export/convert.py) for "Diffusion Infill: Convert Model…":
// checks that python3 has what the converter imports, spawns it with --progress-json, turns its
// `@@progress` / `@@error` lines into progress and one message per failure kind, and cancels it. No vscode
// import: the command (convert.ts) is a thin layer over this, and unit tests drive this directly.
import { execFile, spawn, type ExecFileException } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export type Dtype = 'fp32' | 'fp16' | 'int8' | 'int4';
export const DTYPES: readonly Dtype[] = ['int4', 'int8', 'fp16', 'fp32'];

/** Python modules the converter imports, and the pip name of each. */
const REQUIRED_MODULES: Record<string, string> = { torch: 'torch', numpy: 'numpy', onnx: 'onnx' };

export interface PythonCheck {
  ok: boolean;
  /** What is missing and how to get it, when not ok. */
  message?: string;
  versions?: Record<string, string>;
}

/**
 * Checks `python` runs and imports torch, numpy and onnx; the message names exactly what is missing.
 * Asynchronous: importing torch takes seconds, which must not block the extension host.
 */
export async function checkPython(python: string): Promise<PythonCheck> {
  const probe =
    'import importlib, json\nout = {}\n' +
    `for m in ${JSON.stringify(Object.keys(REQUIRED_MODULES))}:\n` +
    '    try:\n        out[m] = getattr(importlib.import_module(m), "__version__", "?")\n' +
    '    except Exception as e:\n        out[m] = None\n' +
    'print(json.dumps(out))';
  const r = await new Promise<{ error?: ExecFileException; stdout: string; stderr: string }>((resolve) =>
    execFile(python, ['-c', probe], { encoding: 'utf8', timeout: 120_000 }, (error, stdout, stderr) =>
      resolve({ error: error ?? undefined, stdout, stderr }),
    ),
  );
  if (r.error && (r.error.code === 'ENOENT' || r.error.code === 'EACCES' || !r.stdout)) {
    const why = r.error.code === 'ENOENT' ? 'not found' : `cannot run (${r.error.message.split('\n')[0]})`;
    return {
      ok: false,
      message:
        `Python "${python}" ${why}. Install Python 3.9+ (python.org, or your package manager: ` +
        '`sudo apt install python3 python3-pip`), or set "diffusionInfill.convert.python" to its path.',
    };
  }
  let versions: Record<string, string | null>;
  try {
    versions = JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as Record<string, string | null>;
  } catch {
    return {
      ok: false,
      message: `"${python}" did not run the module check: ${r.stderr.trim().split('\n').pop()}`,
    };
  }
  const missing = Object.keys(REQUIRED_MODULES).filter((m) => !versions[m]);
  if (missing.length > 0) {
    const pip = missing.map((m) => REQUIRED_MODULES[m]).join(' ');
    return {
      ok: false,
      message:
        `"${python}" is missing the Python module${missing.length > 1 ? 's' : ''} ${missing.join(', ')}, which the ` +
        `converter needs. Install with: ${python} -m pip install ${pip}` +
        (missing.includes('torch')
          ? ' (CPU-only torch: add --index-url https://download.pytorch.org/whl/cpu)'
          : ''),
    };
  }
  return { ok: true, versions: versions as Record<string, string> };
}

export interface Progress {
  done: number;
  total: number;
  bytes: number;
  etaS: number | null;
}

export type ConversionOutcome =
  { kind: 'ok'; out: string } | { kind: 'cancelled' } | { kind: 'failed'; reason: string; message: string };

/** One `@@progress` / `@@error` line, or undefined for ordinary log lines. */
export function parseLine(
  line: string,
): { progress: Progress } | { error: { kind: string; message: string } } | undefined {
  try {
    if (line.startsWith('@@progress ')) {
      const p = JSON.parse(line.slice('@@progress '.length)) as Record<string, number | null>;
      return {
        progress: { done: p.done ?? 0, total: p.total ?? 0, bytes: p.bytes ?? 0, etaS: p.eta_s ?? null },
      };
    }
    if (line.startsWith('@@error ')) {
      const e = JSON.parse(line.slice('@@error '.length)) as { kind: string; message: string };
      return { error: e };
    }
  } catch {
    return undefined; // a garbled line is logged like any other
  }
  return undefined;
}

/** The message shown for each failure kind the converter reports (its own text is appended). */
export const FAILURE_TEXT: Record<string, string> = {
  arch: 'Unknown architecture: this checkpoint is not one the converter supports.',
  block: 'Block-diffusion model: it cannot see the text after the hole, so it cannot infill.',
  shard: 'A weight shard is missing or truncated: download the checkpoint again.',
  pickle:
    'Only PyTorch pickle weights (.bin): they are never loaded, for safety; download the safetensors files.',
  vocab: 'The tokenizer does not match the model (vocabulary sizes differ).',
  config: 'config.json is broken or has impossible sizes.',
  oom: 'Out of memory while converting.',
  disk: 'Out of disk space while writing the model.',
  input: 'The checkpoint cannot be converted.',
  crash: 'The converter failed.',
};

/** "12/57 tensors, about 40 s left". */
export function progressText(p: Progress): string {
  const eta =
    p.etaS === null
      ? ''
      : p.etaS >= 90
        ? `, about ${Math.round(p.etaS / 60)} min left`
        : `, about ${Math.round(p.etaS)} s left`;
  return `${p.done}/${p.total} tensors${eta}`;
}

/** The default output folder: next to the checkpoint, named after it and the dtype. */
export function defaultOutput(checkpoint: string, dtype: Dtype): string {
  const dir = path.resolve(checkpoint);
  return path.join(path.dirname(dir), `${path.basename(dir)}-onnx-${dtype}`);
}

/** Removes `.NAME.partial-*` folders the converter left next to `out` (only after a hard kill). */
export function removePartials(out: string): void {
  const parent = path.dirname(path.resolve(out));
  const prefix = `.${path.basename(out)}.partial-`;
  if (!fs.existsSync(parent)) return;
  for (const entry of fs.readdirSync(parent)) {
    if (entry.startsWith(prefix)) {
      fs.rmSync(path.join(parent, entry), { recursive: true, force: true });
    }
  }
}

export interface ConversionOptions {
  python: string;
  /** Folder holding the `models` package (the extension's install folder, or the repository). */
  exporterRoot: string;
  checkpoint: string;
  out: string;
  dtype: Dtype;
  onProgress?: (p: Progress) => void;
  onLog?: (line: string) => void;
  signal?: AbortSignal;
}

/** Runs the converter to completion; never rejects (every failure is an outcome with its message). */
export function runConversion(o: ConversionOptions): Promise<ConversionOutcome> {
  return new Promise((resolve) => {
    const args = ['-m', 'models.export.convert', '--checkpoint', o.checkpoint, '--out', o.out];
    const child = spawn(o.python, args.concat(['--dtype', o.dtype, '--progress-json']), {
      cwd: o.exporterRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1' },
    });
    let reported: { kind: string; message: string } | undefined;
    let stderrTail = '';
    let cancelled = false;
    let buffer = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buffer += chunk;
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const line of lines) {
        const parsed = parseLine(line);
        if (parsed && 'progress' in parsed) o.onProgress?.(parsed.progress);
        else if (parsed && 'error' in parsed) reported = parsed.error;
        else if (line.trim()) o.onLog?.(line);
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderrTail = (stderrTail + chunk).slice(-4000);
      o.onLog?.(chunk.trimEnd());
    });
    const onAbort = (): void => {
      cancelled = true;
      child.kill('SIGTERM'); // the converter deletes its partial folder on SIGTERM
    };
    o.signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (err) => {
      o.signal?.removeEventListener('abort', onAbort);
      resolve({ kind: 'failed', reason: 'crash', message: `${FAILURE_TEXT.crash} ${err.message}` });
    });
    child.on('close', (code, signal) => {
      o.signal?.removeEventListener('abort', onAbort);
      if (cancelled) {
        removePartials(o.out);
        resolve({ kind: 'cancelled' });
        return;
      }
      if (code === 0) {
        resolve({ kind: 'ok', out: path.resolve(o.out) });
        return;
      }
      removePartials(o.out);
      if (reported) {
        const text = FAILURE_TEXT[reported.kind] ?? FAILURE_TEXT.input;
        resolve({ kind: 'failed', reason: reported.kind, message: `${text} ${reported.message}` });
      } else if (signal === 'SIGKILL' || /MemoryError|Cannot allocate memory/.test(stderrTail)) {
        // the kernel's OOM killer sends SIGKILL: no Python handler runs, so no @@error line
        resolve({
          kind: 'failed',
          reason: 'oom',
          message: `${FAILURE_TEXT.oom} The system stopped the converter (${signal ?? 'MemoryError'}); close other programs or use a machine with more RAM.`,
        });
      } else if (/No space left on device|ENOSPC/.test(stderrTail)) {
        resolve({
          kind: 'failed',
          reason: 'disk',
          message: `${FAILURE_TEXT.disk} Free space or pick another folder.`,
        });
      } else {
        const last = stderrTail.trim().split('\n').pop() ?? '';
        resolve({
          kind: 'failed',
          reason: 'crash',
          message: `${FAILURE_TEXT.crash} (exit ${code ?? signal}) ${last}`,
        });
      }
    });
  });
}
