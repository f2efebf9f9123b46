#!/bin/sh
# make demo: alice, bob and carol chat through a fresh e2ee-relay, each a scripted e2ee-chat
# (docs/man/e2ee-chat.1) fed through a FIFO. Every step is checked against the lines the
# clients print; at the end the relay's store and logs are searched for every plaintext.
# Exits 0 only if every expected line appeared and no plaintext was found.
#
# Usage: scripts/demo.sh [BUILD_DIR]      (E2EE_DEMO_KEEP=1 keeps the temporary folder)
set -u
build=${1:-build}
bin=$build/bin
wait_s=${E2EE_DEMO_WAIT:-20}   # longest wait for one expected line
checks=0
relay_pid=
url=

for p in "$bin/e2ee-relay" "$bin/e2ee-chat"; do
  [ -x "$p" ] || { echo "demo: $p is missing: run make build first" >&2; exit 1; }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/e2ee-demo.XXXXXX") || exit 1
: > "$tmp/plaintexts"

# ---- helpers -------------------------------------------------------------------------

cleanup() {
  for n in alice bob carol; do
    eval "pid=\${pid_$n:-}"
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
  done
  if [ -n "$relay_pid" ]; then
    kill "$relay_pid" 2>/dev/null
    wait "$relay_pid" 2>/dev/null
  fi
  if [ "${E2EE_DEMO_KEEP:-0}" = 1 ]; then
    echo "demo: files kept in $tmp"
  else
    rm -rf "$tmp"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
trap '' PIPE  # a client that died makes `say` fail instead of killing the script

fail() {
  echo
  echo "DEMO FAILED: $*"
  for n in alice bob carol; do
    [ -f "$tmp/$n.out" ] || continue
    echo "--- everything $n printed:"
    sed 's/^/    /' "$tmp/$n.out"
    [ -s "$tmp/$n.err" ] && { echo "--- $n stderr:"; sed 's/^/    /' "$tmp/$n.err"; }
  done
  echo "--- relay log (last 20 lines):"
  tail -n 20 "$tmp/relay.log" 2>/dev/null | sed 's/^/    /'
  exit 1
}

step() {
  echo
  echo "== $*"
}

note() {
  echo "   ($*)"
}

# start NAME FD: runs e2ee-chat for NAME with its commands coming from file descriptor FD.
start() {
  name=$1 fd=$2
  rm -f "$tmp/$name.in"
  mkfifo "$tmp/$name.in" || fail "mkfifo"
  "$bin/e2ee-chat" --relay "$url" --user "$name" --store "$tmp/$name.e2ee" \
      --timeout "$wait_s" < "$tmp/$name.in" >> "$tmp/$name.out" 2>> "$tmp/$name.err" \
      3>&- 4>&- 5>&- &  # without the others' FIFOs, or their input would never end
  eval "pid_$name=$!"
  eval "exec $fd>\"\$tmp/\$name.in\""
  eval "fd_$name=$fd"
  eval "used_$name=\${used_$name:- }"
  printf '%-6s  (starts e2ee-chat --user %s --store %s.e2ee)\n' "$name" "$name" "$name"
}

# stop NAME: closes NAME's input; e2ee-chat exits once the relay confirmed its messages.
stop() {
  name=$1
  eval "fd=\$fd_$name; pid=\$pid_$name"
  eval "exec $fd>&-"
  wait "$pid"
  st=$?
  eval "pid_$name="
  [ "$st" = 0 ] || fail "e2ee-chat of $name exited with status $st"
  printf '%-6s  (input closed: e2ee-chat exited 0 after the relay confirmed its messages)\n' \
    "$name"
}

# say NAME COMMAND: types COMMAND into NAME's e2ee-chat.
say() {
  name=$1
  shift
  eval "fd=\$fd_$name"
  printf '%-6s> %s\n' "$name" "$*"
  printf '%s\n' "$*" >&"$fd" || fail "$name's e2ee-chat is not running"
}

# see NAME GLOB: waits until NAME printed a line matching GLOB that no earlier `see`
# matched; the line is in $LINE.
see() {
  name=$1 pat=$2 dead=
  deadline=$(( $(date +%s) + wait_s ))
  while :; do
    n=0
    eval "used=\$used_$name"
    while IFS= read -r line; do
      n=$((n + 1))
      # shellcheck disable=SC2254 # the pattern is a glob on purpose
      case "$line" in $pat) ;; *) continue ;; esac
      case "$used" in *" $n "*) continue ;; esac
      eval "used_$name=\"\${used}$n \""
      LINE=$line
      checks=$((checks + 1))
      printf '  %-6s| %s\n' "$name" "$line"
      return 0
    done < "$tmp/$name.out"
    [ "$(date +%s)" -ge "$deadline" ] && fail "$name did not print a line matching: $pat"
    [ -n "${dead:-}" ] && fail "$name's e2ee-chat exited before printing: $pat"
    eval "pid=\$pid_$name"
    # one more pass over the output after the process is gone, then give up
    { [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; } && dead=1
    sleep 0.1
  done
}

# absent NAME GLOB: NAME printed no line matching GLOB.
absent() {
  while IFS= read -r line; do
    # shellcheck disable=SC2254
    case "$line" in $2) fail "$1 printed what it must not see: $line" ;; esac
  done < "$tmp/$1.out"
  checks=$((checks + 1))
  printf '  %-6s| (no line matching "%s")\n' "$1" "$2"
}

# send_direct FROM TO TEXT / send_group FROM GROUP TEXT: sends, remembers TEXT for the
# plaintext search, and leaves the message id in $ID.
send_direct() {
  printf '%s\n' "$3" >> "$tmp/plaintexts"
  say "$1" "/msg $2 $3"
  see "$1" "sending * to $2"
  ID=$(echo "$LINE" | cut -d' ' -f2)
}
send_group() {
  printf '%s\n' "$3" >> "$tmp/plaintexts"
  say "$1" "/g $2 $3"
  see "$1" "sending * to group $2"
  ID=$(echo "$LINE" | cut -d' ' -f2)
}

# ---- the relay ---------------------------------------------------------------------------

echo "e2ee demo: alice, bob and carol chat through a fresh relay; every line marked | is"
echo "checked. Files: $tmp"
"$bin/e2ee-relay" --listen 127.0.0.1:0 --store "$tmp/relay.db" --log-level debug \
    > "$tmp/relay.out" 2> "$tmp/relay.log" &
relay_pid=$!
i=0
while [ -z "$url" ] && [ $i -lt 100 ]; do
  url=$(sed -n 's/^e2ee-relay listening on \(ws:\/\/[^ ]*\)$/\1/p' "$tmp/relay.out")
  kill -0 "$relay_pid" 2>/dev/null || fail "the relay did not start: $(cat "$tmp/relay.log")"
  [ -n "$url" ] || sleep 0.1
  i=$((i + 1))
done
[ -n "$url" ] || fail "the relay did not print its listening line"
echo "relay   $url  (store relay.db, log at debug level: relay.log)"

# ---- the story -----------------------------------------------------------------------------

step "1. Register: each client makes its identity keys, registers and publishes its prekeys"
start alice 3
start bob 4
start carol 5
see alice "connected $url registered"
see bob "connected $url registered"
see carol "connected $url registered"

step "2. Direct messages (X3DH, Double Ratchet): sent = stored by the relay, delivered = decrypted"
send_direct alice bob "Hi Bob, the spare key is under the blue flowerpot."
see bob "direct alice: Hi Bob, the spare key is under the blue flowerpot."
see alice "ack $ID sent"
see alice "ack $ID delivered bob"
send_direct bob alice "Thanks Alice, I will water the tomatoes on Sunday."
see alice "direct bob: Thanks Alice, I will water the tomatoes on Sunday."
see bob "ack $ID delivered alice"
say alice "/fp bob"
see alice "safety-number bob *"
sn_alice=${LINE#safety-number bob }
say bob "/fp alice"
see bob "safety-number alice *"
sn_bob=${LINE#safety-number alice }
[ "$sn_alice" = "$sn_bob" ] || fail "alice and bob see different safety numbers"
checks=$((checks + 1))
note "both see the same safety number: compared in person, it proves no one sits in the middle"

step "3. alice creates the group 'garden' (she is its owner)"
say alice "/create garden"
see alice "created garden"
see alice "joined garden members alice owner alice epoch *"

step "4. bob and carol join: each gets the member list, the others a member-join event"
say bob "/join garden"
see bob "joined garden members alice,bob owner alice epoch *"
see alice "member-joined garden bob epoch *"
say carol "/join garden"
see carol "joined garden members alice,bob,carol owner alice epoch *"
see alice "member-joined garden carol epoch *"
see bob "member-joined garden carol epoch *"
say alice "/members garden"
see alice "members garden alice,bob,carol"

step "5. Group chat: one encryption per message (sender keys), signed, fanned out by the relay"
send_group alice garden "Seed swap at my place on Saturday at ten."
see bob "group garden alice: Seed swap at my place on Saturday at ten."
see carol "group garden alice: Seed swap at my place on Saturday at ten."
see alice "ack $ID sent"
see alice "ack $ID delivered bob"
see alice "ack $ID delivered carol"
send_group bob garden "I will bring the heirloom beans."
see alice "group garden bob: I will bring the heirloom beans."
see carol "group garden bob: I will bring the heirloom beans."
send_group carol garden "Count me in, I have pumpkin seeds."
see alice "group garden carol: Count me in, I have pumpkin seeds."
see bob "group garden carol: Count me in, I have pumpkin seeds."

step "6. carol leaves: the epoch moves on, alice and bob make new sender keys carol never gets"
say carol "/leave garden"
see carol "left garden epoch *"
see alice "member-left garden carol epoch *"
see bob "member-left garden carol epoch *"
send_group alice garden "Between us: the surprise party for carol is on Friday."
see bob "group garden alice: Between us: the surprise party for carol is on Friday."
see alice "ack $ID delivered bob"
send_group bob garden "Great, I will bake the carrot cake."
see alice "group garden bob: Great, I will bake the carrot cake."
sleep 1
absent carol "*surprise party*"
absent carol "*carrot cake*"
note "the relay no longer routes the group to carol, and the new keys reached only alice and bob"

step "7. bob goes offline; alice writes; bob comes back and catches up from the relay"
stop bob
send_group alice garden "Bob, the greenhouse door sticks: lift it a little."
see alice "ack $ID sent"
gid=$ID
send_direct alice bob "Also, the hose is in the shed."
see alice "ack $ID sent"
did=$ID
note "bob is offline: the relay keeps both ciphertexts until his client acknowledges them"
start bob 4
see bob "connected $url"
see bob "group garden alice: Bob, the greenhouse door sticks: lift it a little."
see bob "direct alice: Also, the hose is in the shed."
see alice "ack $gid delivered bob"
see alice "ack $did delivered bob"

step "8. alice deletes the group"
say alice "/delete garden"
see alice "deleted garden by alice"
see bob "deleted garden by alice"
say bob "/groups"
see bob "groups"

step "9. Everyone leaves"
stop alice
stop bob
stop carol

# ---- what the relay kept --------------------------------------------------------------------

step "10. Searching the relay's store and logs for every plaintext sent"
# once while the relay runs (its write-ahead log holds the latest pages), once after it stopped
mkdir "$tmp/running" && cp "$tmp"/relay.db* "$tmp/running/" || fail "cannot copy the store"
kill "$relay_pid"
wait "$relay_pid"
st=$?
relay_pid=
[ "$st" = 0 ] || fail "the relay exited with status $st"
files=""
for f in "$tmp"/running/relay.db* "$tmp"/relay.db* "$tmp"/relay.log "$tmp"/relay.out; do
  [ -f "$f" ] && files="$files $f"
done
for f in $files; do
  printf '   %-20s %8s bytes\n' "${f#"$tmp"/}" "$(wc -c < "$f")"
done
# the search works: the relay does know who talks to whom (metadata), so those are there
for id in alice garden; do
  grep -a -q -F "$id" "$tmp/relay.db" || fail "'$id' is not in relay.db: the search is broken"
done
echo "   found, as expected: the user ids and the group name (metadata the relay needs to route)"
n=0
while IFS= read -r text; do
  n=$((n + 1))
  # shellcheck disable=SC2086 # the file list splits on purpose
  if grep -a -l -F -- "$text" $files; then
    fail "plaintext found in the relay's files: $text"
  fi
done < "$tmp/plaintexts"
# every distinctive word too, not only whole sentences
for w in flowerpot tomatoes heirloom pumpkin surprise carrot greenhouse hose; do
  # shellcheck disable=SC2086
  if grep -a -l -i -F -- "$w" $files; then
    fail "the word '$w' of a message was found in the relay's files"
  fi
done
checks=$((checks + 1))
echo "   none of the $n plaintexts (nor their key words) is in the relay's store or logs"

echo
echo "demo passed: $checks checks"
