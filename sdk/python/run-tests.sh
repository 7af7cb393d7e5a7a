#!/usr/bin/env bash
# Runs the Python SDK's tests (unit, shared vectors, end to end) from any directory:
#   bash sdk/python/run-tests.sh [pytest args...]
# Installs pytest only when it is missing. Exits non-zero on any failure, and when no test ran.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# The end-to-end tests start `node server.ts`: on the Node that runs Sluice.
# shellcheck source=scripts/with-node.sh
source scripts/with-node.sh
use_supported_node
if ! python3 -c 'import pytest' 2>/dev/null; then
  python3 -m pip install --quiet pytest
fi
rc=0
python3 -m pytest sdk/python/tests -q "$@" || rc=$?
if ((rc == 5)); then
  echo "run-tests.sh: pytest collected no test" >&2
  exit 1
fi
exit "$rc"
