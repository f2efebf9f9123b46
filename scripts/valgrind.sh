#!/bin/sh
# `make valgrind`: runs the integration tests (ctest label "integration": the tests that talk
# to a real e2ee-relay) of a Debug build without sanitizers under valgrind memcheck, and every
# program they start too (--trace-children: e2ee-relay, e2ee-chat, the examples,
# e2ee-loadgen), shell and openssl helpers excepted.
# Usage: scripts/valgrind.sh BUILD_DIR [ctest -R regex]
# A test fails when it fails, or when memcheck reports an error in it or in any program it
# started: invalid reads or writes, uses of uninitialised values, bad frees, and definite or
# indirect leaks (--errors-for-leak-kinds). tests/valgrind.supp holds the third-party
# suppressions. E2EE_TEST_TIME_SCALE (default 20) stretches the bounded waits of the test
# harnesses (tests/relay/relaytest.c, tests/client/clienttest.c) and each test's ctest timeout.
# The hostile tests run natively and only the relays they start run under memcheck
# (E2EE_RELAY_WRAPPER, read by tests/relay/relaytest.c): the relay is what they attack, and a
# test client slowed down by valgrind would itself be taken for a slow reader and dropped.
# test_crash_relay runs smaller under memcheck (E2EE_CRASH_MESSAGES 2,000 instead of 50,000,
# the kills as many as natively): the paths are the same, the full count runs in `make test`
# and `make asan`, and at memcheck's speed it would take hours. test_crash_client is not run:
# it must kill its receiver inside a callback, which its timing cannot do at memcheck's speed
# (it runs under ASan and LeakSanitizer in `make asan`).
# Not run: test_chat_tty (a shell script driving tmux) and the soak smoke test (`make soak`
# checks the soak's memory by its RSS). Logs: BUILD_DIR/valgrind/<test>.<pid>.log.
set -eu

build=${1:?usage: scripts/valgrind.sh BUILD_DIR [REGEX]}
regex=${2:-.}
scale=${E2EE_TEST_TIME_SCALE:-20}
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$build" && pwd)
logs=$build/valgrind
supp=$src/tests/valgrind.supp

command -v valgrind >/dev/null || { echo "valgrind.sh: valgrind is not installed" >&2; exit 1; }
rm -rf "$logs"
mkdir -p "$logs"

# One line per test: name, timeout, working directory, then the command (tab-separated).
ctest --test-dir "$build" -L integration -LE soak -R "$regex" --show-only=json-v1 >"$logs/tests.json"
python3 - "$logs/tests.json" >"$logs/tests.tsv" <<'PY'
import json, sys
for t in json.load(open(sys.argv[1]))["tests"]:
    p = {x["name"]: x["value"] for x in t.get("properties", [])}
    print("\t".join([t["name"], str(int(float(p.get("TIMEOUT", 300)))),
                     p.get("WORKING_DIRECTORY", ".")] + t["command"]))
PY

relay_only="test_hostile test_hostile_churn"
not_run="test_crash_client"
vg_opts="--tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect
 --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --num-callers=40
 --suppressions=$supp"
vg_opts=$(echo $vg_opts)

failed=""
t_all=$(date +%s)
tab=$(printf '\t')
while IFS="$tab" read -r name timeout wd cmd; do
  exe=${cmd%%"$tab"*}
  case " $not_run " in
    *" $name "*) echo "valgrind: $name: skipped (see the header)"; continue ;;
  esac
  case "$exe" in
    "$build"/*) ;;
    *) echo "valgrind: $name: skipped (not a program of the build: $exe)"; continue ;;
  esac
  t0=$(date +%s)
  set +e
  (
    cd "$wd" || exit 1
    export E2EE_TEST_TIME_SCALE="$scale"
    export E2EE_CRASH_MESSAGES="${E2EE_CRASH_MESSAGES:-2000}"
    IFS="$tab"
    set -- $cmd          # the test's command: tab-separated words
    IFS=" "              # the options: space-separated words
    case " $relay_only " in
      *" $name "*)
        export E2EE_RELAY_WRAPPER="valgrind $vg_opts --log-file=$logs/$name.%p.log"
        exec timeout -k 30 $((timeout * scale)) "$@" ;;
      *)
        exec timeout -k 30 $((timeout * scale)) valgrind --trace-children=yes \
          '--trace-children-skip=*/sh,*/bash,*/dash,*/openssl,*/sqlite3,*/tmux' \
          $vg_opts "--log-file=$logs/$name.%p.log" "$@" ;;
    esac
  ) >"$logs/$name.out" 2>&1 </dev/null
  rc=$?
  set -e
  bad=$(grep -l 'ERROR SUMMARY: [1-9]' "$logs/$name".*.log 2>/dev/null || true)
  secs=$(( $(date +%s) - t0 ))
  if [ "$rc" -ne 0 ] || [ -n "$bad" ]; then
    failed="$failed $name"
    echo "valgrind: $name: FAILED (exit $rc, ${secs} s)"
    for f in $bad; do echo "  memcheck errors: $f"; done
    [ "$rc" -ne 0 ] && echo "  output: $logs/$name.out"
  else
    echo "valgrind: $name: ok (${secs} s)"
  fi
done <"$logs/tests.tsv"

echo "valgrind: $(( $(date +%s) - t_all )) s in all"
if [ -n "$failed" ]; then
  echo "valgrind: FAILED:$failed" >&2
  exit 1
fi
echo "valgrind: every integration test and every program it started ran clean"
