#!/usr/bin/env bash
# The GPU run (issue 10), one device call of at most ~9.5 minutes; the CPU dry run (gpu_dryrun.sh, and
# test/python/test_recipe.py GpuScriptDryRunTest) runs exactly this script with DEVICE=cpu and tiny sizes.
#
# From the repository root, with the JS/TS text pack carried (build/pack/jsts.tar.xz):
#   OUT=$OUT bash models/recipe/gpu_train.sh
# 0. environment: versions of python/torch/numpy/tokenizers, the device; stops if DEVICE=cuda has no GPU, or if
#    `tokenizers` is missing there (the ids must equal the engine's);
# 1. smoke: the whole chain at tiny size on the device (data build on 300 pack files + a sliver of site-packages,
#    tokenizers == bpe.py parity, a few training steps on the torch data path, a probe, chunk -> join -> resume):
#    a version break stops the call here, in seconds, with set -e;
# 2. data: the Python half from this machine's site-packages + the JS/TS half from the pack, tokenised with
#    tokenizer.json (gpu_data.py) -> build/gpu-data (kept: a rerun on a warm machine skips this step);
# 3. probe: tokens/s, data-wait share and GPU utilisation of every candidate size (SIZES: measured on the 2-core CPU
#    at <= ~40 ms per step, L=256; models/recipe/shape_probe.py); keeps the largest whose two models (trained side by
#    side) each reach TARGET_TOKENS in the time left, else the fastest;
# 4. train: the structure-aware model and its uniform twin side by side, same size, same token budget (equal
#    compute), bf16, fused attention, corruption on the device; RESUME=<folder with an earlier call's returned
#    files> continues both from those weights (fresh optimiser: its state does not fit in what comes back);
# 5. return: each model as bf16 chunks of <= 15 MiB, and meta.tar (logs, chunk indexes, corpus manifest of the
#    Python half, data summary, probe results, environment): at most 8 files, at most 64 MiB.
set -euo pipefail
cd "$(dirname "$0")/../.."
T0=$(date +%s)
elapsed() { echo $(( $(date +%s) - T0 )); }
say() { echo "[gpu_train $(elapsed)s] $*" >&2; }

PY=${PY:-python3}
DEVICE=${DEVICE:-cuda}
OUT=${OUT:-build/gpu-out}
JSTS_PACK=${JSTS_PACK:-build/pack/jsts.tar.xz}
SITE=${SITE:-$($PY -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')}
STDLIB=${STDLIB-$($PY -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')}   # empty: none
PY_SCALE=${PY_SCALE:-1}
TOKENIZER=${TOKENIZER:-models/default/tokenizer.json}
SIZES=${SIZES:-"4x256 4x192"}
BATCH=${BATCH:-256}
SEQ=${SEQ:-256}
LR=${LR:-1.5e-3}
WARMUP=${WARMUP:-300}
PROBE_STEPS=${PROBE_STEPS:-20}
TARGET_TOKENS=${TARGET_TOKENS:-400000000}
DEADLINE=${DEADLINE:-560}             # seconds for the whole call (the device allows 600 per command)
RESERVE=${RESERVE:-60}                # seconds kept for the trainers' start (data to the GPU), final validation, chunks, tar
MAX_TRAIN=${MAX_TRAIN:-330}           # cap on the training phase
WORKERS=${WORKERS:-$(( $(nproc) > 1 ? $(nproc) - 1 : 1 ))}
SMOKE=${SMOKE:-1}
RESUME=${RESUME:-}                    # folder with an earlier call's returned files: continue from those weights
CONTINUE=${CONTINUE:-0}               # 1: the machine is still warm from an earlier call of this session: continue
                                      # from build/gpu-runs/*/checkpoint.pt, optimiser state included
REBUILD=${REBUILD:-0}
MAX_CHUNK_MIB=${MAX_CHUNK_MIB:-15}
COMPILE=${COMPILE:-0}
VAL_WINDOWS=${VAL_WINDOWS:-128}
VAL_EVERY=${VAL_EVERY:-500}
# HumanEval-Infilling folder for the decontamination of the Python half: the GPU machine has no /work/shared, so
# the CPU side copies the single-line file into the carried (ignored, never committed) build/pack/bench.
BENCH=${BENCH:-build/pack/bench}
DATA=${DATA:-build/gpu-data}
RUNS=${RUNS:-build/gpu-runs}
VOCAB=$($PY -c "import json,sys; print(len(json.load(open(sys.argv[1]))['model']['vocab']))" "$TOKENIZER")

mkdir -p "$OUT" "$RUNS"
META=$RUNS/meta
rm -rf "$META" && mkdir -p "$META"

# 0. environment
req=()
[ "$DEVICE" = cuda ] && req=(--require-tokenizers)
$PY - "$DEVICE" > "$META/env.json" <<'PYCHECK'
import json, sys, platform
import numpy, torch
info = {"python": platform.python_version(), "torch": torch.__version__, "numpy": numpy.__version__,
        "cuda": torch.cuda.is_available(), "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
        "compile": hasattr(torch, "compile")}
try:
    import tokenizers
    info["tokenizers"] = tokenizers.__version__
except ImportError:
    info["tokenizers"] = None
print(json.dumps(info))
print(json.dumps(info), file=sys.stderr)
if sys.argv[1] == "cuda" and not info["cuda"]:
    sys.exit("error: DEVICE=cuda but torch sees no GPU")
if sys.argv[1] == "cuda" and info["tokenizers"] is None:
    sys.exit("error: the tokenizers package is missing: the ids would not be checked against the engine's")
PYCHECK
[ -f "$JSTS_PACK" ] || { echo "error: JS/TS pack $JSTS_PACK missing (CPU side: transport.py pack-text)" >&2; exit 2; }
bench=()
if [ -f "$BENCH/HumanEval-SingleLineInfilling.jsonl.gz" ]; then
  bench=(--bench "$BENCH")
elif [ "$DEVICE" = cuda ]; then
  echo "error: $BENCH/HumanEval-SingleLineInfilling.jsonl.gz missing: the Python half could not be decontaminated" >&2
  exit 2
else
  echo "note: no HumanEval data in $BENCH; corpus.py's default path is used (decontamination skipped if absent)" >&2
fi

common=(--device "$DEVICE" --vocab-size "$VOCAB" --seq-len "$SEQ" --data-path torch --log-every 50)
if [ "$DEVICE" = cpu ]; then
  # One thread each: two multi-threaded torch processes on 2 cores stall (docs: shared/docs/training.md).
  export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
  common+=(--no-bf16 --threads 1)
fi
[ "$COMPILE" = 1 ] && common+=(--compile)
heads() { local h=$1; echo $(( h / 64 > 0 ? h / 64 : 1 )); }

# 1. smoke: every stage at tiny size, on the device.
if [ "$SMOKE" = 1 ]; then
  S=$RUNS/smoke
  rm -rf "$S"
  $PY -m models.recipe.gpu_data --jsts-pack "$JSTS_PACK" --jsts-limit 300 --python-root "$SITE" \
      --python-scale 0.0005 --tokenizer "$TOKENIZER" --out "$S/data" --workers 2 --parity-sample 50 \
      "${req[@]}" "${bench[@]}" 2> "$S.data.log" || { cat "$S.data.log" >&2; exit 1; }
  tiny=(--data "$S/data" --layers 2 --hidden 64 --heads 1 --batch 8 --warmup 2 --val-windows 4 --val-every 4)
  $PY -m models.recipe.train "${common[@]}" "${tiny[@]}" --out "$S/probe" --tokens 1e9 --probe-steps 4 >&2
  $PY -m models.recipe.train "${common[@]}" "${tiny[@]}" --out "$S/run" --tokens $((8 * SEQ * 6)) >&2
  $PY -m models.recipe.transport chunk --checkpoint "$S/run/final.pt" --out "$S/chunks" --max-mib 1 --prefix t-
  $PY -m models.recipe.transport join --index "$S/chunks/t-weights-index.json" --out "$S/joined.pt"
  $PY -m models.recipe.train "${common[@]}" "${tiny[@]}" --out "$S/resumed" --tokens $((8 * SEQ * 8)) \
      --resume-from "$S/joined.pt" >&2
  say "smoke OK"
fi

# 2. data
if [ "$REBUILD" = 1 ] || ! [ -f "$DATA/summary.json" ] || ! [ -f "$DATA/train.npz" ]; then
  rm -rf "$DATA"
  stdlib=()
  [ -n "$STDLIB" ] && stdlib=(--python-stdlib "$STDLIB")
  $PY -m models.recipe.gpu_data --jsts-pack "$JSTS_PACK" --python-root "$SITE" --python-scale "$PY_SCALE" "${stdlib[@]}" \
      --tokenizer "$TOKENIZER" --out "$DATA" --manifest-out "$DATA/corpus-manifest-python.json" \
      --workers "$WORKERS" "${req[@]}" "${bench[@]}"
fi
cp "$DATA/summary.json" "$META/data-summary.json"
cp "$DATA/corpus-manifest-python.json" "$META/" 2>/dev/null || true
say "data: $($PY -c "import json; s=json.load(open('$DATA/summary.json')); print(s['train']['tokens'], 'train tokens,', s['val']['tokens'], 'val tokens')")"

# 3. probe (or the size of the run being resumed)
prev_tokens=0
if [ "$CONTINUE" = 1 ]; then
  [ -f "$RUNS/structured/checkpoint.pt" ] && [ -f "$RUNS/uniform/checkpoint.pt" ] \
    || { echo "error: CONTINUE=1 but $RUNS/{structured,uniform}/checkpoint.pt are missing" >&2; exit 2; }
  read -r layers hidden prev_tokens < <($PY -c "import torch; c=torch.load('$RUNS/structured/checkpoint.pt', map_location='cpu'); print(c['config']['layers'], c['config']['hidden'], c['tokens'])")
  SIZES="${layers}x${hidden}"
elif [ -n "$RESUME" ]; then
  mkdir -p "$RUNS/resume"
  tar -xf "$RESUME/meta.tar" -C "$RUNS/resume"
  cp "$RESUME"/*-weights-*.bin "$RUNS/resume/"
  for v in structured uniform; do
    $PY -m models.recipe.transport join --index "$RUNS/resume/$v-weights-index.json" --out "$RUNS/resume/$v.pt"
  done
  read -r layers hidden prev_tokens < <($PY -c "import json; c=json.load(open('$RUNS/resume/structured-weights-index.json')); print(c['config']['layers'], c['config']['hidden'], c['tokens'])")
  SIZES="${layers}x${hidden}"
fi
: > "$META/probe.jsonl"
best="" best_tps=0 fastest="" fastest_tps=0
left=$(( DEADLINE - $(elapsed) - RESERVE - 8 * $(echo $SIZES | wc -w) ))  # training seconds after the probes
[ "$left" -gt "$MAX_TRAIN" ] && left=$MAX_TRAIN
for size in $SIZES; do
  l=${size%x*} h=${size#*x}
  line=$($PY -m models.recipe.train "${common[@]}" --data "$DATA" --out "$RUNS/probe-$size" --layers "$l" --hidden "$h" \
         --heads "$(heads "$h")" --batch "$BATCH" --tokens 1e12 --probe-steps "$PROBE_STEPS" --val-every 1000000 \
         --val-windows 4 | tail -n 1)
  echo "{\"size\": \"$size\", \"probe\": $line}" >> "$META/probe.jsonl"
  tps=$($PY -c "import json,sys; print(int(json.loads(sys.argv[1])['probe_tokens_per_s']))" "$line")
  say "probe $size: $line"
  if [ "$tps" -gt "$fastest_tps" ]; then fastest=$size fastest_tps=$tps; fi
  # Two models share the device: each gets about half.
  if [ -z "$best" ] && [ $(( tps / 2 * left )) -ge "$TARGET_TOKENS" ]; then best=$size best_tps=$tps; fi
done
[ -n "$best" ] || { best=$fastest; best_tps=$fastest_tps; }
layers=${best%x*} hidden=${best#*x}
budget=$(( DEADLINE - $(elapsed) - RESERVE ))
[ "$budget" -gt "$MAX_TRAIN" ] && budget=$MAX_TRAIN
[ "$budget" -ge 2 ] || { echo "error: no time left to train ($budget s)" >&2; exit 1; }
# 90% of the measured rate, so the cosine schedule completes inside the time budget.
tokens=$(( best_tps / 2 * budget * 9 / 10 ))
tokens=$(( tokens + prev_tokens ))
echo "{\"chosen\": \"$best\", \"tokens_per_s_alone\": $best_tps, \"train_budget_s\": $budget, \"token_budget\": $tokens}" >> "$META/probe.jsonl"
say "chosen $best: $best_tps tokens/s alone; $budget s; token budget $tokens per model"

# 4. train both side by side (CONTINUE=1 keeps the runs: train.py resumes from their checkpoint.pt)
[ "$CONTINUE" = 1 ] || rm -rf "$RUNS/structured" "$RUNS/uniform"
pids=()
for variant in structured uniform; do
  extra=()
  [ "$variant" = uniform ] && extra=(--uniform-only)
  [ -n "$RESUME" ] && extra+=(--resume-from "$RUNS/resume/$variant.pt")
  $PY -m models.recipe.train "${common[@]}" --data "$DATA" --out "$RUNS/$variant" --layers "$layers" \
      --hidden "$hidden" --heads "$(heads "$hidden")" --batch "$BATCH" --lr "$LR" --warmup "$WARMUP" \
      --tokens "$tokens" --call-budget "$budget" --val-every "$VAL_EVERY" --val-windows "$VAL_WINDOWS" --ckpt-minutes 3 \
      "${extra[@]}" > "$RUNS/$variant.stderr" 2>&1 &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
for variant in structured uniform; do tail -n 2 "$RUNS/$variant.stderr" >&2; done
[ "$status" = 0 ] || { echo "error: training failed (see above)" >&2; exit 1; }

# Equal compute is the point of the twin: record whether one run stopped short (the call budget hit it first).
$PY - "$RUNS" <<'PYEQ' | tee "$META/equal-compute.json" >&2
import json, sys
steps = {v: [json.loads(l) for l in open(f"{sys.argv[1]}/{v}/log.jsonl")][-1].get("step") for v in ("structured", "uniform")}
print(json.dumps({"steps": steps, "equal": len(set(steps.values())) == 1}))
PYEQ

# 5. return
for variant in structured uniform; do
  $PY -m models.recipe.transport chunk --checkpoint "$RUNS/$variant/final.pt" --out "$OUT" \
      --max-mib "$MAX_CHUNK_MIB" --prefix "$variant-"
  mv "$OUT/$variant-weights-index.json" "$META/"
  cp "$RUNS/$variant/log.jsonl" "$META/$variant-log.jsonl"
done
echo "{\"elapsed_s\": $(elapsed)}" > "$META/timing.json"
tar -cf "$OUT/meta.tar" -C "$META" .
ls -la "$OUT" >&2
count=$(find "$OUT" -maxdepth 1 -type f | wc -l)
bytes=$(find "$OUT" -maxdepth 1 -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}')
say "returned $count files, $bytes bytes"
[ "$count" -le 8 ] || { echo "error: $count files in $OUT; only 8 come back" >&2; exit 1; }
[ "$bytes" -le $(( 64 * 1024 * 1024 )) ] || { echo "error: $bytes bytes in $OUT; only 64 MiB come back" >&2; exit 1; }
