#!/usr/bin/env bash
# After the GPU run (issue 10), on this CPU: join the returned chunks, export both models, and measure them against
# the CPU-trained default and uniform models. Writes build/gpu-eval/ (reports) and build/gpu-models/ (ONNX folders);
# changes nothing under models/ (shipping the new default is a decision made from these numbers).
#
#   bash models/recipe/post_run.sh <files_at of the run>          # the folder the device tool copied $OUT into
#   STAGES="distance" bash models/recipe/post_run.sh --cpu-models # only the distance part, on models/default and
#                                                                 # models/uniform (tests this script; no GPU model)
# Stages (STAGES, default all): export distance humaneval heldout latency
#   distance   validation masked-token accuracy overall and by distance from the nearest context token
#              (eval_distance.py) on the JS/TS validation files (build/corpus-jsts; the Python half's validation
#              files exist only on the GPU machine)
#   humaneval  HumanEval-Infilling single-line and multi-line pass@1 on LIMIT tasks each (node dist/cli.js eval)
#   heldout    line-aligned holes from the validation files (eval make-heldout, then eval tasks)
#   latency    NFE per committed token and latency of 16/64/128-token holes per strategy (bench/latency.ts)
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
FROM=${1:?usage: post_run.sh <folder with meta.tar and *-weights-*.bin> | --cpu-models}
STAGES=${STAGES:-"export distance humaneval heldout latency"}
LIMIT=${LIMIT:-300}
VAL_FILES=${VAL_FILES:-build/corpus-jsts/files.jsonl}
TOKENIZER_DIR=${TOKENIZER_DIR:-models/default}
EVAL=build/gpu-eval
MODELS=build/gpu-models
mkdir -p "$EVAL" "$MODELS"
has() { [[ " $STAGES " == *" $1 "* ]]; }

if [ "$FROM" = --cpu-models ]; then
  candidates=(models/default models/uniform)
else
  candidates=("$MODELS/structured" "$MODELS/uniform" models/default models/uniform)
  if has export; then
    rm -rf build/gpu-out && mkdir -p build/gpu-out
    tar -xf "$FROM/meta.tar" -C build/gpu-out
    cp "$FROM"/*-weights-*.bin build/gpu-out/
    for v in structured uniform; do
      $PY -m models.recipe.transport join --index "build/gpu-out/$v-weights-index.json" --out "build/gpu-out/$v.pt"
      $PY -m models.recipe.export --checkpoint "build/gpu-out/$v.pt" --tokenizer-dir "$TOKENIZER_DIR" \
          --out "$MODELS/$v" --name "di-gpu-$v" --training-log "build/gpu-out/$v-log.jsonl"
    done
    $PY -m models.recipe.plot --runs build/gpu-out --out "$EVAL/training.png" 2>/dev/null \
      || echo "note: plot.py could not plot build/gpu-out (logs are in build/gpu-out/*-log.jsonl)" >&2
  fi
fi

if has distance; then
  [ -f "$VAL_FILES" ] || { echo "error: $VAL_FILES missing (models.recipe.corpus --preset jsts)" >&2; exit 2; }
  $PY -m models.recipe.eval_distance --files "$VAL_FILES" --models "${candidates[@]}" --n "${DIST_N:-400}" \
      --out "$EVAL/distance.json" > /dev/null
  $PY - "$EVAL/distance.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
names = list(next(iter(r["models"].values()))["holes_by_distance"])
print(f"{r['examples']} windows of {r['length']} tokens from {r['validation_files']} validation files")
print("| model | uniform 15% | holes | " + " | ".join(f"d={n}" for n in names) + " |")
print("|---" * (3 + len(names)) + "|")
for m, s in r["models"].items():
    cells = [s["uniform15"]["accuracy"], s["holes"]["accuracy"]] + [s["holes_by_distance"][n]["accuracy"] for n in names]
    print(f"| {m} | " + " | ".join("-" if c is None else f"{c:.3f}" for c in cells) + " |")
print("tokens per distance bucket:", {n: s["holes_by_distance"][n]["tokens"] for n in names})
PY
fi

if has humaneval || has heldout || has latency; then
  [ -f dist/cli.js ] || node esbuild.js
fi
for m in "${candidates[@]}"; do
  tag=$(echo "$m" | tr '/' '_')
  if has humaneval; then
    for subset in single-line multi-line; do
      node dist/cli.js eval humaneval --model "$m" --subset "$subset" --limit "$LIMIT" --quiet \
          --out-json "$EVAL/humaneval-$subset-$tag.json" --out-md "$EVAL/humaneval-$subset-$tag.md"
    done
  fi
  if has heldout; then
    [ -f "$EVAL/heldout.jsonl" ] || node dist/cli.js eval make-heldout --corpus "$VAL_FILES" --out "$EVAL/heldout.jsonl"
    node dist/cli.js eval tasks "$EVAL/heldout.jsonl" --model "$m" --quiet --out-json "$EVAL/heldout-$tag.json" \
        --out-md "$EVAL/heldout-$tag.md"
  fi
  if has latency; then
    [ -f out/bench/latency.js ] || npx tsc -p .
    node out/bench/latency.js --model "$m" --holes 16,64,128 > "$EVAL/latency-$tag.md"
  fi
done
ls -la "$EVAL" >&2
