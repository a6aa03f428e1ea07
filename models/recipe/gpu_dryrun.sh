#!/usr/bin/env bash
# CPU dry run of the GPU training chain (issue 7): pack -> the exact GPU script with a tiny configuration and a
# 60-second budget -> chunked bf16 weights -> reassemble -> export -> load in onnxruntime-node -> infill.
# Needs the fixture data (bash models/build.sh --fixture) and a built CLI (node esbuild.js).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
DATA=${DATA:-build/data-small}
TOKENIZER=${TOKENIZER:-build/tok-small}
WORK=build/dryrun
rm -rf "$WORK" && mkdir -p "$WORK"

$PY -m models.recipe.transport pack --data "$DATA" --out "$WORK/corpus.tar.xz"
PY=$PY DEVICE=cpu PACK="$WORK/corpus.tar.xz" OUT="$WORK/out" BUDGET=${BUDGET:-60} SIZES="2x64" BATCH=8 WORKERS=1 \
  PROBE_STEPS=4 VOCAB=$($PY -c "import json;print(len(json.load(open('$TOKENIZER/tokenizer.json'))['model']['vocab']))") \
  TARGET_TOKENS=1 bash models/recipe/gpu_train.sh

tar -xf "$WORK/out/meta.tar" -C "$WORK/out"
for variant in structured uniform; do
  $PY -m models.recipe.transport join --index "$WORK/out/$variant-weights-index.json" --out "$WORK/$variant.pt"
  $PY -m models.recipe.export --checkpoint "$WORK/$variant.pt" --tokenizer-dir "$TOKENIZER" \
      --out "$WORK/model-$variant" --name "dryrun-$variant" --training-log "$WORK/out/$variant-log.jsonl"
done
[ -f dist/cli.js ] || node esbuild.js
printf 'def add(a, b):\n    return a + b\n\n\nprint(add(1, 2))\n' > "$WORK/sample.py"
node dist/cli.js infill --model "$WORK/model-structured" --file "$WORK/sample.py" --start 2:1 --end 3:1
echo "dry run OK" >&2
