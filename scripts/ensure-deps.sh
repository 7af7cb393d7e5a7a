#!/usr/bin/env bash
# Installs the npm dependencies when they are missing or older than package-lock.json, so that
# `npm run stack` and `npm test` work on a fresh clone with nothing typed before them.
# `--force` installs anyway (CI does, from a clean tree). npm runs on the Node that runs Sluice
# (scripts/with-node.sh), so engines and optional packages are resolved for that Node.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/with-node.sh
source scripts/with-node.sh

stamp=node_modules/.package-lock.json
if [[ "${1:-}" != "--force" && -f "$stamp" && ! package-lock.json -nt "$stamp" ]]; then
  exit 0
fi
use_supported_node
echo "[deps] installing npm dependencies (npm ci, Node $(node --version))" >&2
if ! npm ci --no-audit --no-fund >&2; then
  # npm >= 11 refuses a lock file that lacks optional platform packages (chdb's darwin/arm64
  # libraries) even when the registry in use does not serve them. `npm install` accepts it; it
  # must not change the lock file, or package.json and the lock really are out of sync.
  echo "[deps] npm ci failed; retrying with npm install (package-lock.json must stay unchanged)" >&2
  lock_sum="$(sha256sum package-lock.json)"
  npm install --no-audit --no-fund >&2
  if [[ "$(sha256sum package-lock.json)" != "$lock_sum" ]]; then
    echo "[deps] npm install changed package-lock.json: it is out of sync with package.json" >&2
    git --no-pager diff --stat -- package-lock.json >&2 || true
    exit 1
  fi
fi
