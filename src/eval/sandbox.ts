// Execution scoring: a Python program runs in its own process with a time limit, in a fresh temporary
// folder as working directory, with an emptied environment, without network (a new network namespace
// through `unshare -n` when the platform allows it), with address-space and file-size limits (prlimit)
// and with its output capped. This keeps honest mistakes of generated code (infinite loops, huge
// prints, stray files, downloads) from harming the run; it is not a security boundary against code
// written to escape (same as the human-eval harness's own guard).
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export type ExecStatus = 'passed' | 'failed' | 'timeout' | 'output-limit' | 'error';

export interface ExecResult {
  status: ExecStatus;
  passed: boolean;
  exitCode: number | null;
  signal: string | null;
  ms: number;
  /** First bytes of stdout / stderr (capped). */
  stdout: string;
  stderr: string;
  /** Output beyond the cap was dropped. */
  truncated: boolean;
}

export interface SandboxOptions {
  /** Python interpreter (default: see defaultPython). */
  python?: string;
  /** Wall-clock limit; the process group is killed after it (default 10 s). */
  timeoutMs?: number;
  /** Bytes of stdout and of stderr kept for the report (default 4 KiB each). */
  keepBytes?: number;
  /** Total output after which the program is killed as 'output-limit' (default 1 MiB). */
  maxOutputBytes?: number;
  /** Address-space limit in bytes through prlimit (default 2 GiB; 0 = none). */
  memoryBytes?: number;
}

/** How the sandbox isolates the network; decided once per process. */
export interface SandboxInfo {
  network: 'unshare -n' | 'unshare -rn' | 'none';
  prlimit: boolean;
  python: string;
  /** Why there is no network isolation (when network is 'none'). */
  note?: string;
}

const DEFAULTS = {
  timeoutMs: 10_000,
  keepBytes: 4096,
  maxOutputBytes: 1 << 20,
  memoryBytes: 2 * 1024 ** 3,
};

/** $DI_PYTHON, else Debian's /usr/bin/python3 when present, else python3 on PATH. */
export function defaultPython(): string {
  if (process.env.DI_PYTHON) {
    return process.env.DI_PYTHON;
  }
  return fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}

function works(command: string, args: string[]): boolean {
  try {
    const r = spawnSync(command, args, { stdio: 'ignore', timeout: 5000 });
    return r.status === 0;
  } catch {
    return false;
  }
}

let cachedInfo: SandboxInfo | undefined;

/** Probes unshare (root: -n; otherwise an unprivileged user namespace: -rn) and prlimit once. */
export function sandboxInfo(python = defaultPython()): SandboxInfo {
  if (cachedInfo && cachedInfo.python === python) {
    return cachedInfo;
  }
  let network: SandboxInfo['network'] = 'none';
  let note: string | undefined;
  if (process.platform !== 'linux') {
    note = `no network isolation on ${process.platform} (unshare is Linux-only)`;
  } else if (works('unshare', ['-n', 'true'])) {
    network = 'unshare -n';
  } else if (works('unshare', ['-rn', 'true'])) {
    network = 'unshare -rn';
  } else {
    note =
      'no network isolation: unshare -n needs root or unprivileged user namespaces, neither is available';
  }
  const prlimit = process.platform === 'linux' && works('prlimit', ['--as=1073741824', 'true']);
  cachedInfo = { network, prlimit, python, note };
  return cachedInfo;
}

/** The command line that runs `script` under the sandbox (exported for tests and the report). */
export function sandboxCommand(info: SandboxInfo, script: string, memoryBytes: number): string[] {
  const cmd: string[] = [];
  if (info.network !== 'none') {
    cmd.push('unshare', info.network === 'unshare -n' ? '-n' : '-rn', '--');
  }
  if (info.prlimit && memoryBytes > 0) {
    cmd.push('prlimit', `--as=${memoryBytes}`, `--fsize=${64 * 1024 * 1024}`, '--');
  }
  // -I: isolated mode (no PYTHON* variables, no user site-packages, script folder not on sys.path);
  // -B: no .pyc files.
  cmd.push(info.python, '-I', '-B', script);
  return cmd;
}

/** Runs a Python program in the sandbox and reports whether it exited 0 within the limits. */
export async function runPython(program: string, options: SandboxOptions = {}): Promise<ExecResult> {
  const timeoutMs = options.timeoutMs ?? DEFAULTS.timeoutMs;
  const keepBytes = options.keepBytes ?? DEFAULTS.keepBytes;
  const maxOutputBytes = options.maxOutputBytes ?? DEFAULTS.maxOutputBytes;
  const memoryBytes = options.memoryBytes ?? DEFAULTS.memoryBytes;
  const info = sandboxInfo(options.python ?? defaultPython());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'di-exec-'));
  const script = path.join(dir, 'program.py');
  fs.writeFileSync(script, program);
  const [command, ...args] = sandboxCommand(info, script, memoryBytes);
  const t0 = performance.now();
  try {
    return await new Promise<ExecResult>((resolve) => {
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let kept = { out: 0, err: 0 };
      let total = 0;
      let truncated = false;
      let reason: ExecStatus | undefined;
      const child = spawn(command, args, {
        cwd: dir,
        env: { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: dir, TMPDIR: dir, LANG: 'C.UTF-8' },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true, // own process group: the kill reaches grandchildren too
      });
      const killGroup = () => {
        try {
          if (child.pid !== undefined) {
            process.kill(-child.pid, 'SIGKILL');
          }
        } catch {
          // already gone
        }
      };
      const timer = setTimeout(() => {
        reason ??= 'timeout';
        killGroup();
      }, timeoutMs);
      const collect = (chunks: Buffer[], which: 'out' | 'err') => (chunk: Buffer) => {
        total += chunk.length;
        const room = keepBytes - kept[which];
        if (room > 0) {
          chunks.push(chunk.subarray(0, room));
          kept = { ...kept, [which]: kept[which] + Math.min(room, chunk.length) };
        }
        if (chunk.length > room) {
          truncated = true;
        }
        if (total > maxOutputBytes) {
          reason ??= 'output-limit';
          killGroup();
        }
      };
      child.stdout.on('data', collect(out, 'out'));
      child.stderr.on('data', collect(err, 'err'));
      const finish = (exitCode: number | null, signal: string | null, spawnError?: Error) => {
        clearTimeout(timer);
        killGroup(); // leftovers of a program that exited while its children still ran
        const status: ExecStatus = spawnError ? 'error' : (reason ?? (exitCode === 0 ? 'passed' : 'failed'));
        resolve({
          status,
          passed: status === 'passed',
          exitCode,
          signal,
          ms: Math.round(performance.now() - t0),
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: spawnError
            ? `cannot run ${command}: ${spawnError.message}`
            : Buffer.concat(err).toString('utf8'),
          truncated,
        });
      };
      child.on('error', (e) => finish(null, null, e));
      child.on('close', (code, signal) => finish(code, signal));
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
