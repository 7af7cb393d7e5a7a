# Shared helpers for scripts/*-up.sh and scripts/services-down.sh. Source it; do not run it.
# shellcheck shell=bash disable=SC2034 # the variables below are used by the sourcing scripts
#
# Conventions: progress and errors go to stderr; the only thing an *-up.sh script writes to
# stdout is its connection line (KAFKA_BROKERS=..., DATABASE_URL=..., REDIS_URL=...), which
# scripts/services-up.sh collects.

#
# Where things live:
#   $SLUICE_CACHE (${SLUICE_HOME:-~/.cache/sluice})    per user: Node, the Kafka jars
#   $SLUICE_STATE ($SLUICE_CACHE/state)                per user: the services' pid files, data,
#       logs and locks, one directory per service and port (kafka-19092/, postgres-55432/,
#       redis-56379/), so every clone of the same user finds, reuses and stops the same running
#       services, and the locks serialise clones too. Another port is another instance.
#   $SLUICE_LOCAL ($SLUICE_ROOT/.sluice)               per clone: the tests' embedded ClickHouse,
#       the CI log. Older versions of these scripts kept the services' state there too
#       (services-down.sh still stops such services, see legacy_pid).

SLUICE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SLUICE_LOCAL="$SLUICE_ROOT/.sluice"
SLUICE_CACHE="${SLUICE_HOME:-$HOME/.cache/sluice}"
SLUICE_STATE="$SLUICE_CACHE/state"

KAFKA_PORT="${SLUICE_KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${SLUICE_KAFKA_CONTROLLER_PORT:-19093}"
PG_PORT="${SLUICE_PG_PORT:-55432}"
REDIS_PORT="${SLUICE_REDIS_PORT:-56379}"

# service_port <service>: the port it listens on.  service_port_var <service>: the variable
# that sets it.  service_dir <service>: its state directory (pid file, data, logs).
service_port() {
  case "$1" in
    kafka) echo "$KAFKA_PORT" ;;
    postgres) echo "$PG_PORT" ;;
    redis) echo "$REDIS_PORT" ;;
    *) return 1 ;;
  esac
}
service_port_var() {
  case "$1" in
    kafka) echo SLUICE_KAFKA_PORT ;;
    postgres) echo SLUICE_PG_PORT ;;
    redis) echo SLUICE_REDIS_PORT ;;
    *) return 1 ;;
  esac
}
service_dir() {
  printf '%s/%s-%s\n' "$SLUICE_STATE" "$1" "$(service_port "$1")"
}

# log <tag> <message...>
log() {
  local tag="$1"
  shift
  printf '[%s] %s\n' "$tag" "$*" >&2
}

# die <tag> <message...>
die() {
  local tag="$1"
  shift
  printf '[%s] ERROR: %s\n' "$tag" "$*" >&2
  exit 1
}

# Milliseconds since the epoch (for timing messages).
now_ms() {
  date +%s%3N
}

# port_open <port>: true if something accepts TCP connections on 127.0.0.1:<port>.
port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# pid_from_file <file>: prints the pid stored in <file> if that process is alive.
pid_from_file() {
  local file="$1" pid
  [[ -s "$file" ]] || return 1
  pid="$(head -n1 "$file" | tr -dc '0-9')"
  [[ -n "$pid" ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  printf '%s\n' "$pid"
}

# port_pid <port>: the pid listening on 127.0.0.1:<port>, when `ss` can tell (as root always; as
# another user only for its own processes).
port_pid() {
  command -v ss >/dev/null 2>&1 || return 1
  ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n1 | cut -d= -f2 | grep .
}

# legacy_pid <service>: the pid of a live <service> that an older version of these scripts
# started from this clone (state in $SLUICE_LOCAL), if there is one.
legacy_pid() {
  local pid
  case "$1" in
    kafka) pid="$(pid_from_file "$SLUICE_LOCAL/kafka/kafka.pid")" && pid_cmdline_matches "$pid" kafka.Kafka || return 1 ;;
    redis) pid="$(pid_from_file "$SLUICE_LOCAL/redis/redis.pid")" && pid_cmdline_matches "$pid" redis-server || return 1 ;;
    postgres)
      local hash file
      hash="$(printf '%s' "$SLUICE_ROOT" | cksum | cut -d' ' -f1)"
      for file in "$SLUICE_LOCAL/postgres/data/postmaster.pid" "/var/tmp/sluice-postgres-$hash/data/postmaster.pid"; do
        pid="$(pid_from_file "$file")" && pid_cmdline_matches "$pid" postgres && break
        pid=""
      done
      [[ -n "$pid" ]] || return 1
      ;;
    *) return 1 ;;
  esac
  printf '%s\n' "$pid"
}

# port_busy <tag> <port> <variable> [what]: dies saying who holds the port (when that can be
# told) and which variable picks another one. For a port in use that is not one of the Sluice
# services in $SLUICE_STATE: another user's, an unknown process, or one started by older scripts.
port_busy() {
  local tag="$1" port="$2" var="$3" what="${4:-127.0.0.1:$2}" pid who="" hint="" user cmd s lp
  if pid="$(port_pid "$port")"; then
    user="$(ps -o user= -p "$pid" 2>/dev/null | tr -d ' ')"
    cmd="$(tr '\0\n' '  ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
    cmd="${cmd%"${cmd##*[![:space:]]}"}" # trailing blanks (redis pads its title)
    # A JVM's command line is long: its program and its last argument (Kafka: its config file).
    ((${#cmd} <= 160)) || cmd="${cmd%% *} … ${cmd##* }"
    who=" (pid $pid${user:+, user $user}${cmd:+: $cmd})"
    for s in kafka postgres redis; do
      if lp="$(legacy_pid "$s")" && [[ "$lp" == "$pid" ]]; then
        hint=" It is a $s started by an older version of these scripts from this clone (state in $SLUICE_LOCAL): stop it once with scripts/services-down.sh, then start again."
      fi
    done
    if [[ -z "$hint" && "$cmd" == *"/.sluice/"* ]]; then
      hint=" It looks like a Sluice service started by an older version of these scripts from another clone: stop it with that clone's scripts/services-down.sh."
    elif [[ -z "$hint" && ("$cmd" == *"/sluice-postgres-"* || "$cmd" == *"/state/kafka-"*) ]]; then
      hint=" It looks like the Sluice services of another user or another SLUICE_HOME: stop them with scripts/services-down.sh as that user, with that SLUICE_HOME."
    fi
  fi
  die "$tag" "$what is in use by a process these scripts did not start$who: not by the Sluice $tag whose state is in $(service_dir "$tag" 2>/dev/null || echo "$SLUICE_STATE") (this user's, shared by all their clones).$hint Stop that process, or pick another port with $var=<port> (give the same variable to every command, e.g. $var=<port> npm test)."
}

# pid_cmdline_matches <pid> <substring>: guards against a recycled pid in a stale pid file.
pid_cmdline_matches() {
  local pid="$1" needle="$2"
  [[ -r "/proc/$pid/cmdline" ]] || return 0 # no procfs: trust the pid
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$needle"
}

# stop_pid <tag> <pid> <seconds> [signal]: sends <signal> (default TERM), waits up to <seconds>,
# then SIGKILLs. Returns once the process is gone.
stop_pid() {
  local tag="$1" pid="$2" timeout="$3" sig="${4:-TERM}" waited=0
  kill -0 "$pid" 2>/dev/null || return 0
  kill "-$sig" "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do
    if ((waited >= timeout * 10)); then
      log "$tag" "pid $pid still alive after ${timeout}s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
      break
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
}

# apt_ensure <tag> <package>...: installs the given Debian packages (one apt-get run). Callers
# check for the binaries first; this is only reached when something is missing.
apt_ensure() {
  local tag="$1"
  shift
  (($# > 0)) || return 0
  command -v apt-get >/dev/null 2>&1 || die "$tag" "missing $*, and apt-get is not available: install them yourself"
  local sudo=()
  if ((EUID != 0)); then
    command -v sudo >/dev/null 2>&1 || die "$tag" "missing $*: install them (apt-get install $*) or run as root"
    sudo=(sudo -n)
  fi
  log "$tag" "installing $* with apt-get"
  # Several *-up.sh scripts may run at once (services-up.sh starts them in parallel): serialise.
  mkdir -p "$SLUICE_STATE/locks"
  (
    if command -v flock >/dev/null 2>&1; then
      flock -w 600 9 || die "$tag" "timed out waiting for the apt lock"
    fi
    export DEBIAN_FRONTEND=noninteractive
    local aptlog="$SLUICE_STATE/apt.log" t0
    t0="$(now_ms)"
    # Another script may have installed them while we waited for the lock.
    local pkg todo=()
    for pkg in "$@"; do
      dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || todo+=("$pkg")
    done
    ((${#todo[@]} > 0)) || exit 0
    if ! { "${sudo[@]}" apt-get update -qq && "${sudo[@]}" apt-get install -y -qq \
      --no-install-recommends -o DPkg::Lock::Timeout=300 "${todo[@]}"; } >"$aptlog" 2>&1; then
      tail -n 30 "$aptlog" >&2
      die "$tag" "apt-get install ${todo[*]} failed (log: $aptlog)"
    fi
    log "$tag" "installed ${todo[*]} in $(($(now_ms) - t0)) ms (log: $aptlog)"
  ) 9>"$SLUICE_STATE/locks/apt.lock"
}

# postgres_bindir: prints the newest /usr/lib/postgresql/<v>/bin that has a postgres binary.
postgres_bindir() {
  local dir best=""
  for dir in /usr/lib/postgresql/*/bin; do
    [[ -x "$dir/postgres" && -x "$dir/initdb" && -x "$dir/pg_ctl" ]] || continue
    best="$dir" # glob order is lexical; 15 < 16 < 17 holds for two-digit majors
  done
  if [[ -z "$best" ]] && command -v pg_config >/dev/null 2>&1; then
    dir="$(pg_config --bindir 2>/dev/null || true)"
    [[ -x "$dir/postgres" && -x "$dir/initdb" ]] && best="$dir"
  fi
  [[ -n "$best" ]] || return 1
  printf '%s\n' "$best"
}

# Which Debian packages a service needs that are not installed yet (prints them, one a line).
missing_packages() {
  case "$1" in
    kafka)
      command -v java >/dev/null 2>&1 || echo openjdk-17-jre-headless
      # Maven is only needed while the broker jars are not cached yet.
      if [[ ! -f "$SLUICE_CACHE/kafka-3.9.1/libs/.complete" ]] && ! command -v mvn >/dev/null 2>&1; then
        echo maven
      fi
      ;;
    postgres) postgres_bindir >/dev/null || echo postgresql ;;
    redis) command -v redis-server >/dev/null 2>&1 || echo redis-server ;;
    # Not a service Sluice needs: test/prometheus.e2e.test.ts runs a real Prometheus (and promtool,
    # from the same package) against deploy/prometheus.
    prometheus) command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || echo prometheus ;;
  esac
}

# with_lock <service> <command...>: runs the command holding $SLUICE_STATE/locks/<service>-<port>.lock
# so that two concurrent `*-up.sh` runs (a pre-warm and a test run, or two clones) do not both
# start a server, and services-down.sh never stops one while it is starting.
with_lock() {
  local name="$1" lock
  shift
  lock="$SLUICE_STATE/locks/$name-$(service_port "$name").lock"
  mkdir -p "$SLUICE_STATE/locks"
  (
    if command -v flock >/dev/null 2>&1; then
      flock -w 600 9 || die "$name" "timed out waiting for $lock"
    fi
    "$@"
  ) 9>"$lock"
}

# pg_layout: sets PG_BASE, PG_DATA, PG_SOCK, PG_LOG and AS_PG (command prefix that runs a
# command as the cluster's OS user). Postgres refuses to run as root, so as root the cluster is
# owned by the `postgres` user, which must be able to reach the directory: a state directory
# under /root/.cache (mode 700) is not reachable, and then the cluster lives in /var/tmp instead,
# in a directory named after the state directory (so per user and port, the same for every clone).
pg_layout() {
  local hash
  PG_BASE="$(service_dir postgres)"
  hash="$(printf '%s' "$PG_BASE" | cksum | cut -d' ' -f1)"
  AS_PG=()
  if ((EUID == 0)); then
    id postgres >/dev/null 2>&1 || die postgres "the 'postgres' OS user does not exist (apt-get install postgresql creates it)"
    AS_PG=(runuser -u postgres --)
    mkdir -p "$SLUICE_STATE"
    if ! "${AS_PG[@]}" test -x "$SLUICE_STATE" 2>/dev/null; then
      PG_BASE="/var/tmp/sluice-postgres-$hash"
    fi
  fi
  PG_DATA="$PG_BASE/data"
  PG_LOG="$PG_BASE/postgres.log"
  PG_SOCK="$PG_BASE/run"
  # Unix socket paths are limited to 107 bytes.
  if ((${#PG_SOCK} + 20 > 107)); then
    PG_SOCK="/tmp/sluice-postgres-$hash"
  fi
}
