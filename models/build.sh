#!/usr/bin/env bash
# Rebuilds the shipped models from nothing: corpus -> tokenizer -> syntax spans -> packed data -> training of the
# structure-aware and the uniform model side by side (equal compute) -> ONNX export -> training plot.
#
#   bash models/build.sh              models/default (structure-aware) and models/uniform (ablation): ~1.5-2 h on 2 cores
#   bash models/build.sh --fixture    models/fixture (the small test model): a few minutes
#
# Installs what it needs from Debian (python3-torch, python3-onnx, ...) and npm (web-tree-sitter) when missing.
# Environment overrides: STOP_STEP, TOKENS, TIME_BUDGET, LAYERS, HIDDEN, HEADS, BATCH.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
MODE=${1:-default}

die() { echo "models/build.sh: error: $*" >&2; exit 1; }

ensure_debian() {
  if ! [ -x "$PY" ] || ! "$PY" -c "import torch, onnx, numpy, regex, matplotlib" 2>/dev/null; then
    [ "$(id -u)" = 0 ] || die "missing Debian packages; run as root or: apt-get install python3-torch python3-onnx python3-numpy python3-regex python3-matplotlib libopenblas0-pthread"
    echo "+ apt-get install python3-torch python3-onnx python3-numpy python3-regex python3-matplotlib libopenblas0-pthread" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch python3-onnx \
      python3-numpy python3-regex python3-matplotlib libopenblas0-pthread >/dev/null \
      || die "apt-get install failed (see above)"
  fi
  # Without OpenBLAS, Debian's torch falls back to the reference BLAS (about 30x slower).
  dpkg -s libopenblas0-pthread >/dev/null 2>&1 || echo "warning: libopenblas0-pthread not installed; training will be slow" >&2
}

ensure_node() {
  command -v node >/dev/null || die "node is not installed"
  [ -d node_modules/web-tree-sitter ] || ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund \
    || die "npm ci failed"
}

train_pair() {  # $1 data $2 runs-dir, then train.py arguments
  local data=$1 runs=$2; shift 2
  mkdir -p "$runs"
  for variant in structured uniform; do
    local extra=()
    [ "$variant" = uniform ] && extra=(--uniform-only)
    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 "$PY" -m models.recipe.train --data "$data" --out "$runs/$variant" \
      --threads 1 --no-bf16 "$@" "${extra[@]}" > "$runs/$variant.stderr" 2>&1 &
  done
  wait -n || die "training failed: see $runs/*.stderr"
  wait -n || die "training failed: see $runs/*.stderr"
}

ensure_debian
ensure_node

if [ "$MODE" = --fixture ]; then
  "$PY" -m models.recipe.corpus --out build/corpus-small --manifest build/corpus-small/manifest.json --scale 0.05
  "$PY" -m models.recipe.bpe --corpus build/corpus-small/files.jsonl --out build/tok-small --vocab-size 2048 \
    --sample-bytes 2000000
  node models/recipe/spans.mjs build/corpus-small/files.jsonl build/corpus-small/spans.jsonl
  "$PY" -m models.recipe.pack --corpus build/corpus-small --tokenizer build/tok-small/tokenizer.json --out build/data-small
  OPENBLAS_NUM_THREADS=1 "$PY" -m models.recipe.train --data build/data-small --out build/runs/fixture \
    --vocab-size 2048 --layers 2 --hidden 64 --heads 2 --batch 8 --lr 3e-3 --warmup 30 --tokens 400000 \
    --log-every 20 --val-every 100 --val-windows 16 --threads 2 --no-bf16
  "$PY" -m models.recipe.export --checkpoint build/runs/fixture/final.pt --tokenizer-dir build/tok-small \
    --out models/fixture --name di-fixture-2x64 --training-log build/runs/fixture/log.jsonl \
    --extra-training '{"note":"test fixture: tiny corpus sample (scale 0.05), 2048-token BPE, 400k tokens; not a useful model"}'
  echo "models/fixture rebuilt" >&2
  exit 0
fi
[ "$MODE" = default ] || die "unknown argument $MODE (expected nothing or --fixture)"

"$PY" -m models.recipe.corpus
"$PY" -m models.recipe.bpe
node models/recipe/spans.mjs build/corpus/files.jsonl build/corpus/spans.jsonl
"$PY" -m models.recipe.pack
# The shipped models: both trained with this exact configuration to the same token budget (equal compute).
stop=()
[ -n "${STOP_STEP:-}" ] && stop=(--stop-step "$STOP_STEP")
train_pair build/data build/runs --layers "${LAYERS:-4}" --hidden "${HIDDEN:-128}" --heads "${HEADS:-4}" \
  --vocab-size 8192 --batch "${BATCH:-8}" --lr 2e-3 --warmup 100 --tokens "${TOKENS:-4e6}" \
  --time-budget "${TIME_BUDGET:-100000}" "${stop[@]}" --log-every 10 --val-every 200 --ckpt-minutes 4
for pair in "structured default" "uniform uniform"; do
  set -- $pair
  "$PY" -m models.recipe.export --checkpoint "build/runs/$1/final.pt" --tokenizer-dir build/tokenizer \
    --out "models/$2" --name "di-$2-4x128" --training-log "build/runs/$1/log.jsonl"
done
"$PY" -m models.recipe.plot --runs build/runs/structured build/runs/uniform --out models/default/training.png
echo "models/default and models/uniform rebuilt" >&2
