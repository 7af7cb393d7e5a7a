#!/usr/bin/env bash
# Starts the local services Sluice needs (no Docker), in parallel, and prints how to reach them.
#
#   bash scripts/services-up.sh [kafka] [postgres] [redis]     (no argument: all three)
#
# stdout (only these lines, in this order, for the services asked for):
#   KAFKA_BROKERS=127.0.0.1:19092
#   DATABASE_URL=postgres://sluice:sluice@127.0.0.1:55432/sluice
#   REDIS_URL=redis://127.0.0.1:56379
# Progress goes to stderr. Idempotent: running services are left alone (a warm run takes well
# under a second). Ports: SLUICE_KAFKA_PORT, SLUICE_PG_PORT, SLUICE_REDIS_PORT.
# State (pid files, data, logs, locks) is per user, in ${SLUICE_HOME:-~/.cache/sluice}/state/,
# one directory per service and port: every clone of the same user reuses the same services.
# Stop everything with scripts/services-down.sh (from any clone, with the same ports).
set -euo pipefail
# shellcheck source=scripts/services-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/services-common.sh"

TAG=services
ALL=(kafka postgres redis)

usage() {
  echo "usage: $0 [kafka] [postgres] [redis]   (no argument: all)" >&2
  exit 2
}

wanted=()
for arg in "$@"; do
  case "$arg" in
    kafka | postgres | redis) [[ " ${wanted[*]} " == *" $arg "* ]] || wanted+=("$arg") ;;
    all) wanted=("${ALL[@]}") ;;
    -h | --help) usage ;;
    *) echo "$0: unknown service '$arg'" >&2 && usage ;;
  esac
done
((${#wanted[@]} > 0)) || wanted=("${ALL[@]}")

t0="$(now_ms)"

# Install whatever Debian packages are missing in one apt-get run, before the parallel starts.
mapfile -t packages < <(for s in "${wanted[@]}"; do missing_packages "$s"; done | sort -u)
((${#packages[@]} == 0)) || apt_ensure "$TAG" "${packages[@]}"

out="$(mktemp -d "${TMPDIR:-/tmp}/sluice-services.XXXXXX")"
trap 'rm -rf "$out"' EXIT

declare -A pids
for s in "${wanted[@]}"; do
  # stdout to a file rather than a pipe: nothing a daemon inherits can hold our caller's stdout.
  bash "$SLUICE_ROOT/scripts/$s-up.sh" >"$out/$s" </dev/null &
  pids[$s]=$!
done

failed=()
for s in "${wanted[@]}"; do
  wait "${pids[$s]}" || failed+=("$s")
done
if ((${#failed[@]} > 0)); then
  die "$TAG" "failed to start: ${failed[*]} (see the messages above)"
fi

for s in "${ALL[@]}"; do
  [[ -f "$out/$s" ]] && grep -E '^[A-Z_]+=' "$out/$s"
done
log "$TAG" "${wanted[*]} up in $(($(now_ms) - t0)) ms"
