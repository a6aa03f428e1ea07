#!/usr/bin/env bash
# WebGPU against the CPU provider on the GPU machine, in one run (see BENCHMARKS.md "WebGPU"). That
# machine has Python + torch + onnx but no Node: bench/device/prepare.sh (run beforehand, here) puts a
# compressed Node, the runtime npm packages + out/, and Debian's Vulkan loader into .devcarry/.
#
#   device run:  command "bash bench/device/webgpu-bench.sh", carry [".devcarry"], timeout_s 570
#   smoke test on a machine without a GPU (lavapipe; the tiny Qwen2 checkpoint of models/export/tiny.py and
#   export_scale.py's qwen3-tiny shape in place of the two 0.5B-class exports):
#     DI_DEVICE_SMOKE=1 OUT=/tmp/out bash bench/device/webgpu-bench.sh
#
# Measures, each stage independent (a failing stage is logged and the next one runs), in this order (the most
# wanted first: a stage starts only while 60 s of the budget are left); estimated H200-host times in brackets:
#   1. unpack Node + runtime [~10 s]; the WebGPU probe: adapter name (Vulkan loader), shader-f16 [~2 s];
#   2. models/default: ms per step at L = 128/256/512/1024, webgpu [~15 s] and cpu [~10 s];
#   3. random-weight exports built HERE (bench/export_scale.py; 2 GB fp32 graphs cannot travel), fp32 and
#      --fp16-compute each: Qwen3-0.6B (dllm A2D layout) in the BACKGROUND [~60-90 s + ~80-110 s] while
#      Open-dCoder-0.5B (Qwen2) exports in the foreground [~60-90 s + ~60-90 s]; then ms per step at
#      L = 128/256/512/1024: Open-dCoder webgpu fp16, fp32 [~30 s each, while the Qwen3 export may still run:
#      the JSON says so]; wait for the Qwen3 export; Qwen3 webgpu fp16, fp32 [~35 s each]; cpu (nothing in
#      the background) Open-dCoder [~40 s], Qwen3 [~50 s];
#   4. a 64-token hole end to end in the engine process, webgpu: Open-dCoder [~40 s], the same with row
#      buckets (DI_ROW_BUCKETS=1) [~40 s], Qwen3 [~45 s] (the last is the first to be skipped on budget).
#   Estimates, not measurements (2-core figures in docs/byo-model.md: converts 121-208 s, ORT loads ~70 s):
#   ~480-560 s in all, so the tail of stage 4 may be skipped.
# Writes 4 files of the 8 the device returns: $OUT/log.txt (with the probe's verdict and every stage's
# status) and one JSON per model, each run's bench/speed.js JSON under its stage name (plus the probe,
# and export_scale.py's convert time / peak RSS / file sizes as "export-fp32"): default.json, odc.json,
# qwen3.json.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
OUT="${OUT:?OUT must name the folder for results}"
SMOKE="${DI_DEVICE_SMOKE:-0}"
CARRY="$ROOT/.devcarry"
WORK="${DI_DEVICE_WORK:-/tmp/di-webgpu}"
LOG="$OUT/log.txt"
mkdir -p "$OUT" "$WORK"
exec > >(tee -a "$LOG") 2>&1
T0=$(date +%s)
stage() { echo "=== [+$(($(date +%s) - T0))s] $*"; }
# Stages start only while this many seconds are left of the device call (timeout_s 570), so the files
# written so far always come back.
BUDGET_S="${DI_DEVICE_BUDGET_S:-540}"
run() { # name command...: runs a stage, logs its status, never stops the script
  local name="$1"
  shift
  if [ $(($(date +%s) - T0)) -gt $((BUDGET_S - 60)) ]; then
    echo "--- $name: SKIPPED (under 60 s of the ${BUDGET_S} s budget left)"
    return 0
  fi
  stage "$name: $*"
  LEFT=$((BUDGET_S - ($(date +%s) - T0)))
  local cmd=("$@")
  declare -F "$1" >/dev/null || cmd=(timeout "$LEFT" "$@") # functions apply $LEFT themselves
  if "${cmd[@]}"; then echo "--- $name: ok"; else echo "--- $name: FAILED (status $?)"; fi
}

# --- Node and the runtime packages ------------------------------------------------------------------
if [ "$SMOKE" = "1" ] && command -v node >/dev/null; then
  NODE="$(command -v node)"
else
  stage "unpacking Node and the runtime"
  xz -dc "$CARRY/node.xz" >"$WORK/node" && chmod +x "$WORK/node"
  xz -dc "$CARRY/runtime.tar.xz" | tar -xf - -C "$ROOT"
  NODE="$WORK/node"
fi
"$NODE" --version || exit 1
export PATH="$(dirname "$NODE"):$PATH"

# --- Vulkan loader: the driver's ICD is there, the loader may not be --------------------------------
if [ "$SMOKE" != "1" ]; then
  if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1'; then
    stage "Vulkan loader from .devcarry/gl into $WORK/vulkan"
    mkdir -p "$WORK/vulkan"
    for deb in "$CARRY"/gl/*.deb; do
      if command -v dpkg >/dev/null; then dpkg -x "$deb" "$WORK/vulkan"; else
        (cd "$WORK/vulkan" && ar x "$deb" data.tar.xz && tar -xf data.tar.xz && rm -f data.tar.xz)
      fi
    done
    export LD_LIBRARY_PATH="$WORK/vulkan/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  fi
  ICD=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ] && [ -f "$ICD" ]; then
    export VK_DRIVER_FILES="$ICD"
  fi
  export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
fi

PY="${DI_PYTHON:-python3}"
mkdir -p "$WORK/json"
fold() { # file stage json: the run's JSON under "stage" in $OUT/<file>.json (one file per model: 8 come back)
  [ -f "$3" ] || return 0
  "$PY" - "$OUT/$1.json" "$2" "$3" "${4:-}" <<'PY'
import json, os, sys
dst, name, src, note = sys.argv[1:]
doc = json.load(open(dst)) if os.path.exists(dst) else {}
doc[name] = json.load(open(src))
if note and isinstance(doc[name], dict):
    doc[name]["device_script_note"] = note
with open(dst + ".tmp", "w") as f:
    json.dump(doc, f, indent=1)
os.replace(dst + ".tmp", dst)
PY
}

stage "WebGPU probe"
"$NODE" -e "
const { probeWebGpu } = require('./out/src/engine/webgpuProbe.js');
const p = probeWebGpu();
console.log(JSON.stringify(p));
require('fs').writeFileSync('$WORK/json/probe.json', JSON.stringify(p));
if (!p.ok) process.exitCode = 1;
" || echo "--- probe: WebGPU unavailable (the webgpu runs below fall back to cpu and say so)"
fold default probe "$WORK/json/probe.json"

if [ "$SMOKE" = "1" ]; then
  LENGTHS=64,128
  RUNS=2
else
  LENGTHS=128,256,512,1024
  RUNS=5
fi
BG=""
bench() { # file stage speed.js-args...: one bench/speed.js run, its JSON folded into $OUT/<file>.json
  local file="$1" name="$2" note=""
  shift 2
  rm -f "$WORK/json/$name.json"
  [ -n "$BG" ] && kill -0 "$BG" 2>/dev/null && note="ran while the $Q3_SHAPE export was running in the background"
  timeout "${LEFT:-$BUDGET_S}" "$NODE" out/bench/speed.js --no-write --out "$WORK/json/$name.json" \
    --plot "$WORK/$name.png" "$@"
  local rc=$?
  fold "$file" "$name" "$WORK/json/$name.json" "$note"
  return $rc
}
speed() { # file stage model-dir extra-args...: ms per step at $LENGTHS
  local file="$1" name="$2" model="$3"
  shift 3
  bench "$file" "$name" --model "$model" --lengths "$LENGTHS" --no-child "$@"
}
hole() { # file stage model-dir: a 64-token hole in the engine process (guarded decoding), webgpu
  local file="$1" name="$2" model="$3"
  shift 3
  bench "$file" "$name" --model "$model" --ep webgpu --lengths 128 --runs 3 --loads 1 --hole 64 "$@"
}
# The same with the row count padded to powers of two (session.ts: keep it only if it helps here).
hole_buckets() { DI_ROW_BUCKETS=1 hole "$@"; }
with_fp16() { # model-dir fp16-dir: one folder, both graphs: the engine takes "onnx_fp16" on a shader-f16
  # adapter, "onnx" otherwise
  [ -f "$1/model.json" ] && [ -f "$2/model.onnx" ] || return 0
  "$PY" - "$1/model.json" "$2/model.onnx" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
m["onnx_fp16"] = sys.argv[2]
json.dump(m, open(sys.argv[1], "w"), indent=1)
PY
}

# --- 2. models/default -----------------------------------------------------------------------------
run default-webgpu speed default default-webgpu models/default --ep webgpu --runs "$RUNS"
run default-cpu speed default default-cpu models/default --ep cpu --runs "$RUNS"

# --- 3. random-weight exports built HERE (bench/export_scale.py; 2 GB fp32 graphs cannot travel) ------
# torch >= 2.9 makes the dynamo exporter the default; the converter relies on the TorchScript tracer.
mkdir -p "$WORK/py"
cat >"$WORK/py/sitecustomize.py" <<'PY'
import functools, inspect
try:
    import torch.onnx
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        torch.onnx.export = functools.partial(torch.onnx.export, dynamo=False)
except Exception:
    pass
PY
export PYTHONPATH="$WORK/py${PYTHONPATH:+:$PYTHONPATH}"
# Qwen3-0.6B (dllm A2D layout): both exports in the background, while the Open-dCoder ones run here and
# its WebGPU stages measure (the CPU stages wait until it is done). The smoke run takes the same path at
# models/export/tiny.py's qwen3-tiny sizes.
if [ "$SMOKE" = "1" ]; then Q3_SHAPE=qwen3-tiny; else Q3_SHAPE=qwen3-0.6b; fi
Q3="$WORK/q3/model"
Q316="$WORK/q316/model"
[ "$SMOKE" = "1" ] && rm -rf "$WORK/q3" "$WORK/q316"
(
  run q3-export-fp32 "$PY" bench/export_scale.py --shape "$Q3_SHAPE" --out "$WORK/q3" --fast-random &&
    [ -f "$Q3/model.json" ] &&
    run q3-export-fp16 "$PY" -m models.export.convert --checkpoint "$WORK/q3/checkpoint" --out "$Q316" \
      --name "$Q3_SHAPE-fp16" --fp16-compute
) > >(sed -u 's/^/  [qwen3 export] /') 2>&1 &
BG=$!

if [ "$SMOKE" = "1" ]; then
  # The same path on the tiny Qwen2-shape checkpoint (copied: the unit tests use the original folder).
  TINY="$ROOT/test-artifacts/exported"
  [ -f "$TINY/opendcoder-tiny/model.json" ] || "$PY" -m models.export.tiny --out "$TINY"
  rm -rf "$WORK/odc" "$WORK/odc16" && cp -r "$TINY/opendcoder-tiny" "$WORK/odc"
  run odc-export-fp16 "$PY" -m models.export.convert --checkpoint "$TINY/checkpoints/opendcoder-tiny" \
    --out "$WORK/odc16" --name opendcoder-tiny-fp16 --fp16-compute
  ODC="$WORK/odc"
  ODC16="$WORK/odc16"
else
  run odc-export-fp32 "$PY" bench/export_scale.py --shape open-dcoder-0.5b --out "$WORK/odc" --fast-random
  run odc-export-fp16 "$PY" -m models.export.convert --checkpoint "$WORK/odc/checkpoint" --out "$WORK/odc16/model" \
    --name open-dcoder-0.5b-fp16 --fp16-compute
  ODC="$WORK/odc/model"
  ODC16="$WORK/odc16/model"
  fold odc export-fp32 "$WORK/odc/result.json"
fi
with_fp16 "$ODC" "$ODC16"
HAVE_ODC=0
[ -f "$ODC/model.json" ] && HAVE_ODC=1
[ "$HAVE_ODC" = 1 ] || echo "--- no Open-dCoder export: its stages are skipped"
if [ "$HAVE_ODC" = 1 ]; then
  run odc-webgpu-fp16 speed odc odc-webgpu-fp16 "$ODC" --ep webgpu --runs "$RUNS"
  run odc-webgpu-fp32 speed odc odc-webgpu-fp32 "$ODC" --ep webgpu --fp32 --runs "$RUNS"
fi

# Bounded: every stage in the background runs under the same budget.
stage "waiting for the $Q3_SHAPE export (background)"
wait "$BG"
BG=""
fold qwen3 export-fp32 "$WORK/q3/result.json"
with_fp16 "$Q3" "$Q316"
HAVE_Q3=0
[ -f "$Q3/model.json" ] && HAVE_Q3=1
[ "$HAVE_Q3" = 1 ] || echo "--- no $Q3_SHAPE export: its stages are skipped"
if [ "$HAVE_Q3" = 1 ]; then
  run q3-webgpu-fp16 speed qwen3 q3-webgpu-fp16 "$Q3" --ep webgpu --runs "$RUNS"
  run q3-webgpu-fp32 speed qwen3 q3-webgpu-fp32 "$Q3" --ep webgpu --fp32 --runs "$RUNS"
fi
[ "$HAVE_ODC" = 1 ] && run odc-cpu speed odc odc-cpu "$ODC" --ep cpu --runs 2
[ "$HAVE_Q3" = 1 ] && run q3-cpu speed qwen3 q3-cpu "$Q3" --ep cpu --runs 2

# --- 4. a 64-token hole in the engine process, end to end --------------------------------------------
if [ "$HAVE_ODC" = 1 ]; then
  run odc-hole-webgpu hole odc odc-hole-webgpu "$ODC"
  run odc-hole-webgpu-buckets hole_buckets odc odc-hole-webgpu-buckets "$ODC"
fi
[ "$HAVE_Q3" = 1 ] && run q3-hole-webgpu hole qwen3 q3-hole-webgpu "$Q3"
stage "done; files in $OUT"
ls -l "$OUT"
