#!/usr/bin/env bash
# Prepares what the GPU machine (the tool library's `device`, which has Python + torch + onnx but NO Node)
# needs for bench/device/webgpu-bench.sh, in .devcarry/ (git-ignored), and measures it against the
# 64 MiB that may travel (tracked files always travel too):
#   node.xz                 this machine's Node binary (xz -9e)
#   runtime.tar.xz          out/ (compiled engine + bench) and the runtime npm packages (onnxruntime-node's
#                           Linux x64 binding with libonnxruntime.so.1, onnxruntime-common, tokenizers,
#                           web-tree-sitter, three tree-sitter grammars)
#   gl/libvulkan1_*.deb     Debian's Vulkan loader (the GPU machine's driver ships only the ICD)
# Run from the repository root after `npx tsc -p .`:   bash bench/device/prepare.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
CARRY=.devcarry
LIMIT=$((64 * 1024 * 1024))
log() { echo "[prepare] $*" >&2; }

[ -f out/bench/speed.js ] || {
  log "out/bench/speed.js missing: run npx tsc -p . first"
  exit 1
}
mkdir -p "$CARRY/gl"
NODE_BIN="$(readlink -f "$(command -v node)")"
if [ ! -f "$CARRY/node.xz" ] || [ "$NODE_BIN" -nt "$CARRY/node.xz" ]; then
  log "compressing $NODE_BIN ($(node --version)) with xz -9e (a few minutes)"
  nice -n 10 xz -9e -T1 -c "$NODE_BIN" >"$CARRY/node.xz.tmp" && mv "$CARRY/node.xz.tmp" "$CARRY/node.xz"
fi

ORT=node_modules/onnxruntime-node
GRAMMARS=node_modules/@vscode/tree-sitter-wasm/wasm
files=(out "$ORT/package.json" "$ORT/dist" "$ORT/bin/napi-v6/linux/x64" node_modules/onnxruntime-common
  node_modules/@huggingface node_modules/web-tree-sitter node_modules/@vscode/tree-sitter-wasm/package.json)
for g in python typescript javascript; do
  files+=("$(ls "$GRAMMARS"/tree-sitter-"$g".wasm)")
done
log "packing runtime.tar.xz"
tar -cf - --exclude='*.map' "${files[@]}" | nice -n 10 xz -9 -T1 >"$CARRY/runtime.tar.xz"

if ! ls "$CARRY"/gl/libvulkan1_*.deb >/dev/null 2>&1; then
  log "apt-get download libvulkan1 (private lists, nothing installed)"
  A=$(mktemp -d)
  mkdir -p "$A/lists/partial" "$A/cache/archives/partial" "$A/parts"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main" >"$A/sources.list"
  O=(-o "Dir::Etc::SourceList=$A/sources.list" -o "Dir::Etc::SourceParts=$A/parts" -o "Dir::State::Lists=$A/lists"
    -o "Dir::Cache=$A/cache" -o APT::Architecture=amd64 -o APT::Sandbox::User=root)
  apt-get "${O[@]}" -qq update >&2
  (cd "$CARRY/gl" && apt-get "${O[@]}" -qq download libvulkan1 >&2)
  rm -rf "$A"
fi

tracked=$(git ls-files -z | xargs -0 stat -c %s 2>/dev/null | awk '{s+=$1} END {print s}')
untracked=$(git ls-files -z --others --exclude-standard | xargs -0 -r stat -c %s 2>/dev/null | awk '{s+=$1} END {print s+0}')
carry=$(du -cb "$CARRY" | tail -1 | cut -f1)
total=$((tracked + untracked + carry))
ls -l "$CARRY" "$CARRY/gl" >&2
printf '[prepare] tracked %.1f MB + untracked %.1f MB + %s %.1f MB = %.1f MB of %.1f MB (64 MiB)\n' \
  "$(echo "$tracked / 1000000" | bc -l)" "$(echo "$untracked / 1000000" | bc -l)" "$CARRY" \
  "$(echo "$carry / 1000000" | bc -l)" "$(echo "$total / 1000000" | bc -l)" "$(echo "$LIMIT / 1000000" | bc -l)" >&2
[ "$total" -le "$LIMIT" ] || {
  log "over the limit: the device run would be refused"
  exit 1
}
echo "$CARRY"
