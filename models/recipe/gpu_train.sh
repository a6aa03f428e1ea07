#!/usr/bin/env bash
# The GPU training run (issue 7), meant for the lent GPU machine; the CPU dry run (models/recipe/gpu_dryrun.sh)
# runs exactly this script with DEVICE=cpu and a tiny configuration.
#
# From the repository root, with the corpus pack present (build/pack/corpus.tar.xz, `carry` it):
#   OUT=$OUT BUDGET=420 bash models/recipe/gpu_train.sh
# 1. probes training throughput of each candidate size (SIZES, "layers x hidden") and keeps the largest whose
#    throughput reaches TARGET_TOKENS per model within BUDGET with both models side by side (else the fastest);
# 2. trains the structure-aware and the uniform model side by side, same config, same token budget (equal compute);
# 3. writes each model's weights as bf16 chunks of at most 15 MiB into OUT, and meta.tar with both logs and chunk
#    indexes (8 files at most: keep models under ~23M parameters, 3 chunks each).
set -euo pipefail
cd "$(dirname "$0")/../.."

PY=${PY:-python3}
DEVICE=${DEVICE:-cuda}
BUDGET=${BUDGET:-420}                 # seconds of training per model (both run at the same time)
PACK=${PACK:-build/pack/corpus.tar.xz}
OUT=${OUT:-build/gpu-out}
SIZES=${SIZES:-"8x384 6x384 4x256"}
BATCH=${BATCH:-128}
SEQ=${SEQ:-256}
LR=${LR:-1e-3}
WORKERS=${WORKERS:-6}
PROBE_STEPS=${PROBE_STEPS:-30}
TARGET_TOKENS=${TARGET_TOKENS:-300000000}
VOCAB=${VOCAB:-8192}
MAX_CHUNK_MIB=${MAX_CHUNK_MIB:-15}
RUNS=build/gpu-runs

[ -f "$PACK" ] || { echo "error: corpus pack $PACK missing (build it: $PY -m models.recipe.transport pack)" >&2; exit 2; }
$PY - <<PYCHECK
import sys, torch
print("torch", torch.__version__, "cuda", torch.cuda.is_available(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "-", file=sys.stderr)
if "$DEVICE" == "cuda" and not torch.cuda.is_available():
    sys.exit("error: DEVICE=cuda but torch sees no GPU")
PYCHECK
mkdir -p "$OUT" "$RUNS"
rm -rf "$RUNS"/probe-* "$RUNS"/structured "$RUNS"/uniform

common=(--data "$PACK" --device "$DEVICE" --vocab-size "$VOCAB" --batch "$BATCH" --seq-len "$SEQ" --lr "$LR"
        --workers "$WORKERS" --log-every 50 --val-windows 128)
[ "$DEVICE" = cpu ] && common+=(--no-bf16 --threads 2)

best="" best_tps=0 fastest="" fastest_tps=0
for size in $SIZES; do
  layers=${size%x*} hidden=${size#*x}
  tps=$($PY -m models.recipe.train "${common[@]}" --out "$RUNS/probe-$size" --layers "$layers" --hidden "$hidden" \
        --heads $((hidden / 64 > 0 ? hidden / 64 : 1)) --tokens 1e12 --probe-steps "$PROBE_STEPS" --val-every 1000000 \
        | $PY -c 'import json,sys; print(int(json.loads(sys.stdin.read().strip().splitlines()[-1])["probe_tokens_per_s"]))')
  echo "probe $size: $tps tokens/s" >&2
  if [ "$tps" -gt "$fastest_tps" ]; then fastest=$size fastest_tps=$tps; fi
  # Two models share the device: each gets about half.
  if [ -z "$best" ] && [ $((tps / 2 * BUDGET)) -ge "$TARGET_TOKENS" ]; then best=$size best_tps=$tps; fi
done
[ -n "$best" ] || { best=$fastest; best_tps=$fastest_tps; }
layers=${best%x*} hidden=${best#*x}
tokens=$((best_tps / 2 * BUDGET * 9 / 10))
echo "chosen $best: $best_tps tokens/s alone, token budget $tokens per model" >&2

for variant in structured uniform; do
  extra=()
  [ "$variant" = uniform ] && extra=(--uniform-only)
  $PY -m models.recipe.train "${common[@]}" --out "$RUNS/$variant" --layers "$layers" --hidden "$hidden" \
      --heads $((hidden / 64 > 0 ? hidden / 64 : 1)) --tokens "$tokens" --time-budget "$((BUDGET + 30))" \
      --val-every 500 --ckpt-minutes 3 "${extra[@]}" > "$RUNS/$variant.stderr" 2>&1 &
done
wait
for variant in structured uniform; do
  tail -n 1 "$RUNS/$variant.stderr" >&2
  $PY -m models.recipe.transport chunk --checkpoint "$RUNS/$variant/final.pt" --out "$OUT" \
      --max-mib "$MAX_CHUNK_MIB" --prefix "$variant-"
  cp "$RUNS/$variant/log.jsonl" "$OUT/$variant-log.jsonl"
done
# Small files travel as one tar so that weights + metadata stay within 8 files.
tar -cf "$OUT/meta.tar" -C "$OUT" structured-weights-index.json uniform-weights-index.json \
    structured-log.jsonl uniform-log.jsonl
rm -f "$OUT"/*-weights-index.json "$OUT"/*-log.jsonl
ls -la "$OUT" >&2
count=$(find "$OUT" -maxdepth 1 -type f | wc -l)
[ "$count" -le 8 ] || echo "warning: $count files in $OUT; only 8 come back from the GPU machine" >&2
