#!/usr/bin/env bash
# Starts a local Redis for Sluice, no Docker.
#
#   bash scripts/redis-up.sh        -> stdout: REDIS_URL=redis://127.0.0.1:56379
#
# Installs the Debian `redis-server` package when `redis-server` is not on PATH, but never uses
# the Debian service: this is a separate daemon on 127.0.0.1:${SLUICE_REDIS_PORT:-56379} with
# its data, log and pid file in ${SLUICE_HOME:-~/.cache/sluice}/state/redis-<port>/, per user:
# every clone of the same user reuses the same server. Idempotent.
set -euo pipefail
# shellcheck source=scripts/services-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/services-common.sh"

TAG=redis
DIR="$(service_dir redis)"
PIDFILE="$DIR/redis.pid"
LOGFILE="$DIR/redis.log"
START_TIMEOUT="${SLUICE_REDIS_START_TIMEOUT:-20}"
URL="redis://127.0.0.1:$REDIS_PORT"

# ping: true when the server on REDIS_PORT answers PING with +PONG (bash only, no redis-cli).
ping() {
  local reply=""
  (
    exec 3<>"/dev/tcp/127.0.0.1/$REDIS_PORT" || exit 1
    printf 'PING\r\n' >&3
    IFS= read -r -t 2 reply <&3 || exit 1
    [[ "$reply" == "+PONG"* ]]
  ) 2>/dev/null
}

main() {
  local t0 pid deadline
  t0="$(now_ms)"
  if pid="$(pid_from_file "$PIDFILE")" && pid_cmdline_matches "$pid" redis-server && ping; then
    log "$TAG" "already running (pid $pid) on 127.0.0.1:$REDIS_PORT"
    echo "REDIS_URL=$URL"
    return 0
  fi
  if port_open "$REDIS_PORT"; then
    port_busy "$TAG" "$REDIS_PORT" SLUICE_REDIS_PORT
  fi
  command -v redis-server >/dev/null 2>&1 || apt_ensure "$TAG" redis-server
  command -v redis-server >/dev/null 2>&1 || die "$TAG" "redis-server still not on PATH after installing it"
  mkdir -p "$DIR"
  rm -f "$PIDFILE"
  log "$TAG" "starting on 127.0.0.1:$REDIS_PORT"
  # Settings on the command line (no config file). Snapshots use the built-in defaults, in $DIR.
  # shellcheck disable=SC2094 # redis writes its log after startup; we only append early errors
  # fd 9 is the start lock (services-common.sh with_lock): the daemon must not inherit it.
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$DIR" \
    --pidfile "$PIDFILE" --logfile "$LOGFILE" --loglevel warning \
    </dev/null >/dev/null 2>>"$LOGFILE" 9>&- ||
    die "$TAG" "redis-server failed to start (log: $LOGFILE)"
  deadline=$(($(now_ms) + START_TIMEOUT * 1000))
  until ping; do
    if (($(now_ms) > deadline)); then
      echo "---- last lines of $LOGFILE ----" >&2
      tail -n 20 "$LOGFILE" >&2 || true
      die "$TAG" "no PONG from 127.0.0.1:$REDIS_PORT after ${START_TIMEOUT}s (log: $LOGFILE)"
    fi
    sleep 0.05
  done
  log "$TAG" "ready on 127.0.0.1:$REDIS_PORT (pid $(head -n1 "$PIDFILE" 2>/dev/null)) after $(($(now_ms) - t0)) ms"
  echo "REDIS_URL=$URL"
}

with_lock redis main
