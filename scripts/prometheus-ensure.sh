#!/usr/bin/env bash
# Installs Debian's `prometheus` package (prometheus and promtool) when either binary is missing.
# Nothing is started: test/prometheus.e2e.test.ts runs its own Prometheus on a free port.
#
#   bash scripts/prometheus-ensure.sh   -> stdout: PROMETHEUS=/usr/bin/prometheus
set -euo pipefail
# shellcheck source=scripts/services-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/services-common.sh"

mapfile -t missing < <(missing_packages prometheus)
apt_ensure prometheus "${missing[@]}"
if [[ -n "$(missing_packages prometheus)" ]]; then
  die prometheus "prometheus installed but prometheus or promtool is not on PATH"
fi
echo "PROMETHEUS=$(command -v prometheus)"
