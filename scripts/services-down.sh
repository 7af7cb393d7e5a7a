#!/usr/bin/env bash
# shellcheck disable=SC2317 # the stop_* functions are called indirectly ("stop_$s")
# Stops the local services started by scripts/services-up.sh (or kafka-up.sh, postgres-up.sh,
# redis-up.sh) on the ports of this environment (SLUICE_KAFKA_PORT, SLUICE_PG_PORT,
# SLUICE_REDIS_PORT), for this user (SLUICE_HOME): those are shared by every clone of the user,
# so this stops them for all of them. Their data (in ${SLUICE_HOME:-~/.cache/sluice}/state/) is
# kept. Idempotent.
#
#   bash scripts/services-down.sh [kafka] [postgres] [redis]     (no argument: all three)
#
# It also stops a service an older version of these scripts started from this clone (state in
# .sluice/ of the clone) that still listens on the port.
#
# Kafka and Redis get SIGTERM, then SIGKILL if still alive after a grace period; Postgres is
# stopped with `pg_ctl stop -m fast` (its SIGTERM would wait for clients to disconnect), then
# SIGKILL as a last resort.
set -euo pipefail
# shellcheck source=scripts/services-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/services-common.sh"

ALL=(kafka postgres redis)

# stop_legacy <service> <signal>: stops what older scripts started from this clone, if it still
# listens on this environment's port.
stop_legacy() {
  local s="$1" sig="$2" pid
  pid="$(legacy_pid "$s")" || return 0
  [[ "$(port_pid "$(service_port "$s")" || true)" == "$pid" ]] || return 0
  log "$s" "stopping pid $pid, started by an older version of these scripts (state in $SLUICE_LOCAL/)"
  stop_pid "$s" "$pid" 30 "$sig"
}

stop_kafka() {
  stop_legacy kafka TERM
  local pidfile pid
  pidfile="$(service_dir kafka)/kafka.pid"
  if pid="$(pid_from_file "$pidfile")" && pid_cmdline_matches "$pid" kafka.Kafka; then
    log kafka "stopping (pid $pid)"
    # A controlled shutdown takes 1-3 s; the CDS archive (kafka-up.sh) is written at exit.
    stop_pid kafka "$pid" 60
    log kafka "stopped"
  else
    log kafka "not running"
  fi
  pid_from_file "$pidfile" >/dev/null || rm -f "$pidfile"
}

stop_postgres() {
  stop_legacy postgres INT # SIGINT = fast shutdown
  local bindir pid
  pg_layout
  if [[ ! -f "$PG_DATA/postmaster.pid" ]]; then
    log postgres "not running"
    return 0
  fi
  pid="$(head -n1 "$PG_DATA/postmaster.pid" | tr -dc '0-9')"
  if [[ -z "$pid" ]] || ! kill -0 "$pid" 2>/dev/null; then
    log postgres "not running (stale postmaster.pid)"
    return 0
  fi
  log postgres "stopping (pid $pid)"
  bindir="/usr/lib/postgresql/$(tr -dc '0-9' <"$PG_DATA/PG_VERSION")/bin"
  if [[ -x "$bindir/pg_ctl" ]] &&
    (cd / && "${AS_PG[@]}" "$bindir/pg_ctl" stop -D "$PG_DATA" -m fast -w -t 30 >/dev/null 2>&1); then
    log postgres "stopped"
    return 0
  fi
  log postgres "pg_ctl stop failed; signalling pid $pid"
  stop_pid postgres "$pid" 15 INT # SIGINT = fast shutdown
}

stop_redis() {
  stop_legacy redis TERM
  local pidfile pid
  pidfile="$(service_dir redis)/redis.pid"
  if pid="$(pid_from_file "$pidfile")" && pid_cmdline_matches "$pid" redis-server; then
    log redis "stopping (pid $pid)"
    stop_pid redis "$pid" 30 # SIGTERM: Redis saves its snapshot (if due) and exits
    log redis "stopped"
  else
    log redis "not running"
  fi
  pid_from_file "$pidfile" >/dev/null || rm -f "$pidfile"
}

wanted=()
for arg in "$@"; do
  case "$arg" in
    kafka | postgres | redis) wanted+=("$arg") ;;
    all) wanted=("${ALL[@]}") ;;
    *) echo "usage: $0 [kafka] [postgres] [redis]   (no argument: all)" >&2 && exit 2 ;;
  esac
done
((${#wanted[@]} > 0)) || wanted=("${ALL[@]}")

# Each stop holds the same lock as the matching *-up.sh, so it never races a start in progress
# (e.g. a test run's global setup starting Kafka while someone runs services:down).
pids=()
for s in "${wanted[@]}"; do
  with_lock "$s" "stop_$s" &
  pids+=($!)
done
rc=0
for p in "${pids[@]}"; do
  wait "$p" || rc=1
done
exit "$rc"
