#!/usr/bin/env bash
# CPU dry run of the GPU run (issue 10): the exact gpu_train.sh with DEVICE=cpu and tiny sizes, on the dry-run
# fixture (dryrun_fixture.py: a small JS/TS pack annotated by spans.mjs, a fake site-packages and standard library),
# then what happens back on the CPU: join the returned chunks, export, load in onnxruntime-node, infill.
# test/python/test_recipe.py (GpuScriptDryRunTest) runs the same chain without the infill.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
WORK=build/dryrun
rm -rf "$WORK" && mkdir -p "$WORK"
$PY -m models.recipe.dryrun_fixture --out "$WORK/fixture"
PY=$PY DEVICE=cpu OUT="$WORK/out" RUNS="$WORK/runs" DATA="$WORK/data" JSTS_PACK="$WORK/fixture/jsts.tar.xz" \
  SITE="$WORK/fixture/site-packages" STDLIB="$WORK/fixture/stdlib" SIZES="2x64 1x32" BATCH=8 SEQ=64 PROBE_STEPS=4 \
  MAX_TRAIN=${MAX_TRAIN:-20} RESERVE=5 WORKERS=2 TARGET_TOKENS=1 VAL_WINDOWS=8 VAL_EVERY=20 \
  bash models/recipe/gpu_train.sh

mkdir -p "$WORK/back" && tar -xf "$WORK/out/meta.tar" -C "$WORK/back" && cp "$WORK"/out/*-weights-*.bin "$WORK/back/"
for variant in structured uniform; do
  $PY -m models.recipe.transport join --index "$WORK/back/$variant-weights-index.json" --out "$WORK/$variant.pt"
  $PY -m models.recipe.export --checkpoint "$WORK/$variant.pt" --tokenizer-dir models/default \
      --out "$WORK/model-$variant" --name "dryrun-$variant" --training-log "$WORK/back/$variant-log.jsonl"
done
[ -f dist/cli.js ] || node esbuild.js
printf 'def add(a, b):\n    return a + b\n\n\nprint(add(1, 2))\n' > "$WORK/sample.py"
node dist/cli.js infill --model "$WORK/model-structured" --file "$WORK/sample.py" --start 2:1 --end 3:1
echo "dry run OK" >&2
