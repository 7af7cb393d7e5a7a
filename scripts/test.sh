#!/usr/bin/env bash
# `npm test`: the whole suite on the Node that runs Sluice (scripts/with-node.sh), then the
# TypeScript SDK's own tests once more on the machine's Node when that one is older (the SDK
# supports the Node versions its package.json names, down to 20), then the Python SDK's tests.
#   bash scripts/test.sh [vitest args...]     (with arguments: only vitest, with them)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/ensure-deps.sh
# shellcheck source=scripts/with-node.sh
source scripts/with-node.sh
use_supported_node
echo "[test] vitest on Node $(node --version)" >&2
vitest run "$@"
(($# == 0)) || exit 0
if [[ -n "${SLUICE_SYSTEM_NODE:-}" && "$(command -v node)" != "$SLUICE_SYSTEM_NODE" ]]; then
  echo "[test] the TypeScript SDK's tests on the machine's Node $("$SLUICE_SYSTEM_NODE" --version)" >&2
  "$SLUICE_SYSTEM_NODE" node_modules/vitest/vitest.mjs run --config sdk/typescript/vitest.config.ts
fi
bash sdk/python/run-tests.sh
