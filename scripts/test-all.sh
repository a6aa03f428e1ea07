#!/usr/bin/env bash
# The single test command (`npm test`): lint, prettier check, compile + bundle, unit tests, python
# tests (when package.json defines test:python), the in-host VS Code suite and the browser
# end-to-end tests (both through test/runners/code-server.sh). Every stage runs even after a
# failure; each prints "<stage>: N passed, N failed, N skipped" and the last line sums them all:
#   N passed, N failed
# (the line CI reads), after a line with the skipped tests and the stages not run. Counting is
# honest: a test stage that ran zero tests fails, skipped tests are counted apart (never as passed),
# and a stage skipped with DI_SKIP_VSCODE=1 is listed as skipped in the summary.
# Exit status is non-zero when anything failed.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
LOGS="$(mktemp -d "${TMPDIR:-/tmp}/di-test-all.XXXXXX")"
trap 'rm -rf "$LOGS"' EXIT

TOTAL_PASSED=0
TOTAL_FAILED=0
TOTAL_SKIPPED=0
SUMMARY=()
SKIPPED_STAGES=()

record() { # stage passed failed [skipped]
  local skipped="${4:-0}"
  TOTAL_PASSED=$((TOTAL_PASSED + $2))
  TOTAL_FAILED=$((TOTAL_FAILED + $3))
  TOTAL_SKIPPED=$((TOTAL_SKIPPED + skipped))
  SUMMARY+=("$1: $2 passed, $3 failed, $skipped skipped")
  echo "$1: $2 passed, $3 failed, $skipped skipped"
}

skip_stage() { # stage reason
  SKIPPED_STAGES+=("$1 ($2)")
  SUMMARY+=("$1: SKIPPED, not run ($2)")
  echo "=== $1: SKIPPED, not run ($2)"
}

# A check without its own test count: 1 passed or 1 failed by exit status.
check() { # stage command...
  local stage="$1"
  shift
  echo "=== $stage: $*"
  if "$@"; then record "$stage" 1 0; else record "$stage" 0 1; fi
}

# Runs a test stage, tees its output, and takes counts from it with the given parser (which prints
# "passed failed skipped").
counted() { # stage parser command...
  local stage="$1" parser="$2"
  shift 2
  echo "=== $stage: $*"
  local log="$LOGS/$stage.log" rc passed failed skipped
  "$@" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  read -r passed failed skipped < <("$parser" "$log")
  if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
    echo "$stage: exited with status $rc without a failed test in its output (crash, timeout): counted as 1 failed"
    failed=1
  fi
  if [ "$rc" -eq 0 ] && [ "$passed" -eq 0 ] && [ "$failed" -eq 0 ]; then
    # A stage that passed nothing proves nothing (no tests found, all skipped, unparsable output).
    echo "$stage: ran zero tests ($skipped skipped): counted as 1 failed"
    failed=1
  fi
  record "$stage" "$passed" "$failed" "$skipped"
}

# node --test (TAP or spec reporter).
parse_node() {
  local p f s
  p="$(grep -aE '^(# |ℹ )pass [0-9]+' "$1" | tail -n 1 | grep -oE '[0-9]+$')"
  f="$(grep -aE '^(# |ℹ )fail [0-9]+' "$1" | tail -n 1 | grep -oE '[0-9]+$')"
  s="$(grep -aE '^(# |ℹ )skipped [0-9]+' "$1" | tail -n 1 | grep -oE '[0-9]+$')"
  echo "${p:-0} ${f:-0} ${s:-0}"
}

# pytest ("3 passed, 1 failed, 2 skipped, 2 errors in 1.2s") or unittest ("Ran 4 tests",
# "FAILED (failures=1, errors=1, skipped=1)" / "OK (skipped=1)": unittest counts skips in "Ran").
parse_python() {
  local line p f e s ran
  line="$(grep -aE '[0-9]+ (passed|failed|skipped|errors?)' "$1" | grep -aE ' in [0-9.]+s' | tail -n 1)"
  if [ -n "$line" ]; then
    p="$(echo "$line" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+')"
    f="$(echo "$line" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+')"
    e="$(echo "$line" | grep -oE '[0-9]+ errors?' | grep -oE '[0-9]+')"
    s="$(echo "$line" | grep -oE '[0-9]+ skipped' | grep -oE '[0-9]+')"
    echo "${p:-0} $((${f:-0} + ${e:-0})) ${s:-0}"
    return
  fi
  ran="$(grep -aoE '^Ran [0-9]+ tests?' "$1" | tail -n 1 | grep -oE '[0-9]+')"
  f="$(grep -aoE 'failures=[0-9]+' "$1" | tail -n 1 | grep -oE '[0-9]+')"
  e="$(grep -aoE 'errors=[0-9]+' "$1" | tail -n 1 | grep -oE '[0-9]+')"
  s="$(grep -aoE 'skipped=[0-9]+' "$1" | tail -n 1 | grep -oE '[0-9]+')"
  f=$((${f:-0} + ${e:-0}))
  echo "$((${ran:-0} - f - ${s:-0})) $f ${s:-0}"
}

# "<stage>: N passed, N failed" and "<stage>: N skipped" lines printed by the code-server runners.
parse_runner() {
  local p=0 f=0 s=0 line
  while IFS= read -r line; do
    p=$((p + $(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed.*/\1/')))
    f=$((f + $(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed.*/\2/')))
  done < <(grep -aE '^(in-host suite|e2e): [0-9]+ passed, [0-9]+ failed$' "$1")
  while IFS= read -r line; do
    s=$((s + $(echo "$line" | sed -E 's/.*: ([0-9]+) skipped.*/\1/')))
  done < <(grep -aE '^(in-host suite|e2e): [0-9]+ skipped$' "$1")
  echo "$p $f $s"
}

summary() {
  echo
  echo "=== summary ($(($(date +%s) - ${START:-$(date +%s)})) s)"
  local line
  for line in "${SUMMARY[@]}"; do
    echo "  $line"
  done
  echo "$TOTAL_SKIPPED tests skipped; ${#SKIPPED_STAGES[@]} stages not run${SKIPPED_STAGES[*]:+: ${SKIPPED_STAGES[*]}}"
  echo "$TOTAL_PASSED passed, $TOTAL_FAILED failed"
}

# Sourced (`source scripts/test-all.sh`, as test/unit/test-all.test.ts does with fake stages): only
# the counting functions above are defined, no stage runs.
if [ "${BASH_SOURCE[0]}" != "$0" ]; then
  return 0
fi

START=$(date +%s)
check lint npx eslint src test bench
check prettier npx prettier --check "src/**/*.ts" "test/**/*.ts" "bench/**/*.ts"
# Drop compiled files whose TypeScript source is gone (a stale test would still run); the rest of
# out/ stays, so other work using it in the same checkout is not disturbed.
if [ -d out ]; then
  find out -name '*.js' -print | while IFS= read -r js; do
    src="${js#out/}"
    [ -f "${src%.js}.ts" ] || rm -f "$js" "$js.map"
  done
fi
BUILD_OK=1
check compile npx tsc -p . || true
[ -f out/test/suite/index.js ] || BUILD_OK=0
check bundle node esbuild.js
[ -f dist/extension.js ] && [ -f dist/engineProcess.js ] || BUILD_OK=0

# The WebGPU unit tests need a Vulkan loader + driver at process start (test/runners/install-vulkan.sh).
VULKAN_ENV="${DI_VULKAN_DIR:-${DI_TOOLS_DIR:-$HOME/.cache/diffusion-infill-tools}/vulkan}/env.sh"
# shellcheck disable=SC1090
[ -f "$VULKAN_ENV" ] && . "$VULKAN_ENV"
if [ -d out/test/unit ]; then
  counted unit parse_node node --test --test-concurrency=1 out/test/unit/
else
  record unit 0 1
fi

if [ -n "$(node -p "require('./package.json').scripts?.['test:python'] ?? ''")" ]; then
  counted python parse_python npm run --silent test:python
else
  skip_stage python "package.json defines no test:python script"
fi

if [ "${DI_SKIP_VSCODE:-0}" = "1" ]; then
  skip_stage vscode "DI_SKIP_VSCODE=1: the in-host suite and the browser e2e tests"
elif [ "$BUILD_OK" -eq 1 ]; then
  counted vscode parse_runner bash test/runners/code-server.sh all
else
  echo "=== vscode: not run, the build failed"
  record vscode 0 1
fi

summary
[ "$TOTAL_FAILED" -eq 0 ]
