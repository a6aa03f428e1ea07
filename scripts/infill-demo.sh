#!/usr/bin/env bash
# The main job in one command: install (npm, offline-safe), build, and infill a region of a real file with the
# shipped model, through the same engine the extension uses. Prints the hole, the completion and the timings.
#   bash scripts/infill-demo.sh [FILE START END]     (START/END as LINE:COL, 1-based; default: examples/fizzbuzz.py)
set -euo pipefail
cd "$(dirname "$0")/.."
FILE=${1:-examples/fizzbuzz.py}
START=${2:-6:1}
END=${3:-8:1}
MODEL=${MODEL:-models/default}

command -v node >/dev/null || { echo "error: Node.js 20+ is required" >&2; exit 1; }
if [ ! -d node_modules/onnxruntime-node ]; then
  echo "+ npm ci (ONNXRUNTIME_NODE_INSTALL=skip: CPU binaries only, nothing downloaded besides npm packages)" >&2
  ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund >&2
fi
[ -f dist/cli.js ] && [ dist/cli.js -nt package.json ] || { echo "+ node esbuild.js" >&2; node esbuild.js; }

echo "--- $FILE, region $START..$END (replaced by the infill):" >&2
node -e '
const fs = require("fs");
const [file, s, e] = process.argv.slice(1);
const [sl, sc] = s.split(":").map(Number), [el, ec] = e.split(":").map(Number);
const lines = fs.readFileSync(file, "utf8").split("\n");
const at = (l, c) => lines.slice(0, l - 1).join("\n").length + (l > 1 ? 1 : 0) + c - 1;
const text = lines.join("\n");
process.stderr.write(text.slice(at(sl, sc), at(el, ec)) + "\n");
' "$FILE" "$START" "$END"
echo "--- completion from $MODEL:" >&2
node dist/cli.js infill --model "$MODEL" --file "$FILE" --start "$START" --end "$END"
