#!/usr/bin/env bash
# WebGPU against the CPU provider on the GPU machine, in one run (see BENCHMARKS.md "WebGPU"). That
# machine has Python + torch + onnx but no Node: bench/device/prepare.sh (run beforehand, here) puts a
# compressed Node, the runtime npm packages + out/, and Debian's Vulkan loader into .devcarry/.
#
#   device run:  command "bash bench/device/webgpu-bench.sh", carry [".devcarry"], timeout_s 570
#   smoke test on a machine without a GPU (lavapipe, tiny shapes, no Open-dCoder export):
#     DI_DEVICE_SMOKE=1 OUT=/tmp/out bash bench/device/webgpu-bench.sh
#
# Measures, each stage independent (a failing stage is logged and the next one runs):
#   1. the WebGPU probe: adapter name (Vulkan loader), shader-f16;
#   2. models/default: ms per step at L = 128/256/512/1024, webgpu and cpu;
#   3. random-weight Open-dCoder-0.5B (Qwen2) exports built HERE (bench/export_scale.py; 2 GB fp32 cannot
#      travel): fp32 and --fp16-compute, ms per step at L = 128/256/512/1024 on webgpu (fp32, fp16) and cpu;
#   4. a 64-token hole end to end in the engine process (webgpu, cpu) on the same export.
# Writes $OUT/log.txt (with the probe's verdict) and one JSON per run (7: the device returns 8 files).
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

stage "WebGPU probe"
"$NODE" -e "
const { probeWebGpu } = require('./out/src/engine/webgpuProbe.js');
const p = probeWebGpu();
console.log(JSON.stringify(p));
if (!p.ok) process.exitCode = 1;
" || echo "--- probe: WebGPU unavailable (the webgpu runs below fall back to cpu and say so)"

if [ "$SMOKE" = "1" ]; then
  LENGTHS=64,128
  RUNS=2
else
  LENGTHS=128,256,512,1024
  RUNS=5
fi
speed() { # name model-dir extra-args...
  local name="$1" model="$2"
  shift 2
  timeout "${LEFT:-$BUDGET_S}" "$NODE" out/bench/speed.js --model "$model" --lengths "$LENGTHS" --no-write --no-child \
    --out "$OUT/$name.json" --plot "$WORK/$name.png" "$@"
}

# --- 2. models/default -----------------------------------------------------------------------------
run default-webgpu speed default-webgpu models/default --ep webgpu --runs "$RUNS"
run default-cpu speed default-cpu models/default --ep cpu --runs "$RUNS"

# --- 3. Open-dCoder-0.5B shape, random weights, exported here ------------------------------------------
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
PY="${DI_PYTHON:-python3}"
if [ "$SMOKE" = "1" ]; then
  # The same path on the tiny Qwen2-shape checkpoint (copied: the unit tests use the original folder).
  TINY="$ROOT/test-artifacts/exported"
  [ -f "$TINY/opendcoder-tiny/model.json" ] || "$PY" -m models.export.tiny --out "$TINY"
  rm -rf "$WORK/odc" "$WORK/odc16" && cp -r "$TINY/opendcoder-tiny" "$WORK/odc"
  run export-fp16 "$PY" -m models.export.convert --checkpoint "$TINY/checkpoints/opendcoder-tiny" \
    --out "$WORK/odc16" --name opendcoder-tiny-fp16 --fp16-compute
  ODC="$WORK/odc"
  ODC16="$WORK/odc16"
else
  run export-fp32 "$PY" bench/export_scale.py --shape open-dcoder-0.5b --out "$WORK/odc" --fast-random
  run export-fp16 "$PY" -m models.export.convert --checkpoint "$WORK/odc/checkpoint" --out "$WORK/odc16/model" \
    --name open-dcoder-0.5b-fp16 --fp16-compute
  ODC="$WORK/odc/model"
  ODC16="$WORK/odc16/model"
fi
if [ -f "$ODC/model.json" ] && [ -f "$ODC16/model.onnx" ]; then
  # One folder, both graphs: the engine takes "onnx_fp16" on a shader-f16 adapter, "onnx" otherwise.
  "$PY" - "$ODC/model.json" "$ODC16/model.onnx" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
m["onnx_fp16"] = sys.argv[2]
json.dump(m, open(sys.argv[1], "w"), indent=1)
PY
fi
if [ -f "$ODC/model.json" ]; then
  run odc-webgpu-fp16 speed odc-webgpu-fp16 "$ODC" --ep webgpu --runs "$RUNS"
  run odc-webgpu-fp32 speed odc-webgpu-fp32 "$ODC" --ep webgpu --fp32 --runs "$RUNS"
  run odc-cpu speed odc-cpu "$ODC" --ep cpu --runs 2
  # --- 4. a 64-token hole in the engine process (guarded decoding) -----------------------------------
  run odc-hole-webgpu "$NODE" out/bench/speed.js --model "$ODC" --ep webgpu --lengths 128 --runs 3 --loads 1 \
    --hole 64 --no-write --out "$OUT/odc-hole-webgpu.json" --plot "$WORK/hole.png"
  # The same with the row count padded to powers of two (session.ts: keep it only if it helps here).
  run odc-hole-webgpu-buckets env DI_ROW_BUCKETS=1 "$NODE" out/bench/speed.js --model "$ODC" --ep webgpu --lengths 128 \
    --runs 3 --loads 1 --hole 64 --no-write --out "$OUT/odc-hole-webgpu-buckets.json" --plot "$WORK/hole.png"
else
  echo "--- no Open-dCoder export: stages 3 and 4 skipped"
fi
stage "done; files in $OUT"
ls -l "$OUT"
