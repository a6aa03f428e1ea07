// Bundles the extension host entry, the engine child process and the CLI.
// vscode is provided by the host; onnxruntime-node ships its native binary in node_modules.
const esbuild = require('esbuild');

const production = process.argv.includes('--production');

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
  };
  await esbuild.build({
    ...common,
    entryPoints: {
      extension: 'src/extension.ts',
      engineProcess: 'src/engine/process/main.ts',
      cli: 'src/cli.ts',
    },
    outdir: 'dist',
  });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
