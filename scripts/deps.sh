#!/bin/sh
# Installs the Debian 12 packages this project needs, skipping those already present.
# Usage: scripts/deps.sh [group...]   groups: build (default), test, demo, bench, fuzz,
#        valgrind
# Exits non-zero with a clear message when a package is missing and cannot be installed.
set -eu

build_pkgs="cmake make gcc pkg-config libsodium-dev libssl-dev libwebsockets-dev libsqlite3-dev
libprotobuf-c-dev protobuf-c-compiler libreadline-dev"
test_pkgs="libcmocka-dev libjansson-dev python3-cryptography-vectors openssl sqlite3 tmux
groff-base"
fuzz_pkgs="clang libclang-rt-14-dev"
valgrind_pkgs="valgrind python3"

want="$build_pkgs"
for g in "$@"; do
  case "$g" in
    build) ;;
    test|demo|bench) want="$want $test_pkgs" ;;
    fuzz) want="$want $test_pkgs $fuzz_pkgs" ;;
    valgrind) want="$want $test_pkgs $valgrind_pkgs" ;;
    *) echo "deps.sh: unknown group '$g'" >&2; exit 2 ;;
  esac
done

missing=""
for p in $want; do
  st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  case "$st" in
    *" installed") ;;
    *) missing="$missing $p" ;;
  esac
done
[ -z "$missing" ] && exit 0

echo "deps: installing missing Debian packages:$missing"
if [ "$(id -u)" != 0 ]; then
  echo "deps: not root; install them yourself: apt-get install$missing" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends $missing; then
  apt-get update -q || true
  if ! apt-get install -y --no-install-recommends $missing; then
    echo "deps: apt-get could not install:$missing" >&2
    exit 1
  fi
fi
