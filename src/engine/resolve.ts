// Finds files shipped inside npm packages at run time. The engine runs from out/ (tsc), dist/ (esbuild
// bundle) or a VSIX; require.resolve works in the first, and the walk up from __dirname covers bundles
// whose node_modules sits next to the bundle's folder.
import * as fs from 'node:fs';
import * as path from 'node:path';

export function resolvePackageFile(pkg: string, file: string): string | undefined {
  try {
    const manifest = require.resolve(`${pkg}/package.json`);
    const candidate = path.join(path.dirname(manifest), file);
    if (fs.existsSync(candidate)) {
      return candidate;
    }
  } catch {
    // Not resolvable this way (exports map or bundled): fall through to the walk.
  }
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', pkg, file);
    if (fs.existsSync(candidate)) {
      return candidate;
    }
    if (path.dirname(dir) === dir) {
      return undefined;
    }
  }
}
