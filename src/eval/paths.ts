// Where things are: the repository root (from the compiled or bundled file's location) and the
// benchmark data folder, which sits beside the repository as ../shared/benchmarks/humaneval-infilling.
import * as fs from 'node:fs';
import * as path from 'node:path';

const PACKAGE_NAME = 'diffusion-infill';

/**
 * The repository root: the nearest folder above `from` whose package.json is this package's
 * (works for src/ through ts-node, out/src/eval/ from tsc and dist/ from esbuild). Falls back to the
 * current directory.
 */
export function repoRoot(from: string = __dirname): string {
  let dir = path.resolve(from);
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg)) {
      try {
        if ((JSON.parse(fs.readFileSync(pkg, 'utf8')) as { name?: string }).name === PACKAGE_NAME) {
          return dir;
        }
      } catch {
        // not ours; keep looking
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) {
      return process.cwd();
    }
    dir = parent;
  }
}

/** Relative default of --data, resolved against the repository root. */
export const DEFAULT_HUMANEVAL_DIR = path.join('..', 'shared', 'benchmarks', 'humaneval-infilling');

/**
 * The HumanEval-Infilling folder: an explicit --data (relative to the current directory), else
 * $DI_HUMANEVAL_DIR, else ../shared/benchmarks/humaneval-infilling beside the repository, else
 * shared/benchmarks/humaneval-infilling inside it (a checkout that carries shared/) or beside the
 * nearest ancestor that has one.
 */
export function humanEvalDir(explicit?: string, root: string = repoRoot()): string {
  if (explicit) {
    return path.resolve(explicit);
  }
  if (process.env.DI_HUMANEVAL_DIR) {
    return path.resolve(process.env.DI_HUMANEVAL_DIR);
  }
  const beside = path.resolve(root, DEFAULT_HUMANEVAL_DIR);
  if (fs.existsSync(beside)) {
    return beside;
  }
  // A CI clone sits in a fresh folder of its own (e.g. <workspace>/ci/<run>/repo), so the shared folder
  // can be further up than the parent: look in shared/ inside the checkout, then beside each ancestor.
  let dir = path.resolve(root);
  for (;;) {
    const candidate = path.join(dir, 'shared', 'benchmarks', 'humaneval-infilling');
    if (fs.existsSync(candidate)) {
      return candidate;
    }
    const parent = path.dirname(dir);
    if (parent === dir) {
      return beside;
    }
    dir = parent;
  }
}

/** Default folder of the per-task result caches (build/ is not committed). */
export function defaultCacheDir(root: string = repoRoot()): string {
  return path.join(root, 'build', 'eval-cache');
}
