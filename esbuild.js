// Bundles the extension host entry, the engine child process and the CLI.
// vscode is provided by the host; onnxruntime-node ships its native binary in node_modules.
//   node esbuild.js                         development: dist/, source maps, not minified
//   node esbuild.js --production --outdir=D  what the VSIX ships (scripts/package.mjs): minified, no
//                                           source maps, no CLI; D/meta.json lists the bundled inputs
//                                           (the packaging script derives the third-party notices from it)
const esbuild = require('esbuild');
const fs = require('fs');
const path = require('path');

const production = process.argv.includes('--production');
const outdirArg = process.argv.find((a) => a.startsWith('--outdir='));
const outdir = outdirArg ? outdirArg.slice('--outdir='.length) : 'dist';

async function main() {
  const common = {
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    sourcemap: !production,
    minify: production,
    external: ['vscode', 'onnxruntime-node'],
    logLevel: 'warning',
    metafile: production,
  };
  const entryPoints = {
    extension: 'src/extension.ts',
    engineProcess: 'src/engine/process/main.ts',
  };
  if (!production) {
    // The CLI is for this repository (scripts, eval, benchmarks); the extension never runs it.
    entryPoints.cli = 'src/cli.ts';
  }
  const result = await esbuild.build({ ...common, entryPoints, outdir });
  if (production) {
    fs.writeFileSync(path.join(outdir, 'meta.json'), JSON.stringify(result.metafile));
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
