#!/bin/sh
# e2ee-chat in a real terminal: alice runs interactively inside tmux (a real pseudo-terminal
# and a screen to read back), bob is a scripted e2ee-chat fed through a FIFO, both on a real
# e2ee-relay. Checks what alice's screen shows: the banner and prompt, an incoming message
# printed above a half-typed line that stays intact, the ack states of her message, history,
# the conversation prompt, escaping of terminal control sequences, /help, group events, a
# file announced, and a clean exit on Ctrl-D.
# Usage: test_chat_tty.sh BIN_DIR      Exit 77 (skipped) without tmux.
set -u
bin=${1:?usage: test_chat_tty.sh BIN_DIR}
command -v tmux > /dev/null 2>&1 || { echo "tmux is not installed: skipped"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/e2ee-chat-tty.XXXXXX") || exit 1
sock=e2ee-chat-test-$$
relay_pid=
bob_pid=
checks=0

cleanup() {
  tmux -L "$sock" kill-server > /dev/null 2>&1
  [ -n "$bob_pid" ] && kill "$bob_pid" 2> /dev/null
  [ -n "$relay_pid" ] && kill "$relay_pid" 2> /dev/null
  wait 2> /dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
trap '' PIPE

fail() {
  echo "FAIL: $*"
  echo "--- alice's screen:"
  tmux -L "$sock" capture-pane -p -t chat 2> /dev/null | sed 's/^/    |/'
  echo "--- bob printed:"
  sed 's/^/    /' "$tmp/bob.out" 2> /dev/null
  exit 1
}

screen() {
  tmux -L "$sock" capture-pane -p -t chat | sed 's/[[:space:]]*$//'
}

# the line the cursor is on (the prompt line)
cursor_line() {
  y=$(tmux -L "$sock" display-message -p -t chat '#{cursor_y}')
  screen | sed -n "$((y + 1))p"
}

# wait_screen EXTENDED_REGEX: until alice's screen shows a line matching it (20 s).
wait_screen() {
  i=0
  while [ $i -lt 200 ]; do
    screen | grep -q -E -- "$1" && { checks=$((checks + 1)); return 0; }
    sleep 0.1
    i=$((i + 1))
  done
  fail "the screen never showed: $1"
}

# wait_prompt TEXT: until the cursor line is exactly TEXT (20 s; trailing spaces ignored).
wait_prompt() {
  want=$(printf '%s' "$1" | sed 's/[[:space:]]*$//')
  i=0
  while [ $i -lt 200 ]; do
    [ "$(cursor_line)" = "$want" ] && { checks=$((checks + 1)); return 0; }
    sleep 0.1
    i=$((i + 1))
  done
  fail "the cursor line is \"$(cursor_line)\", not \"$1\""
}

# wait_bob FIXED_STRING: until bob printed a line equal to it (20 s).
wait_bob() {
  i=0
  while [ $i -lt 200 ]; do
    grep -q -x -F -- "$1" "$tmp/bob.out" && { checks=$((checks + 1)); return 0; }
    sleep 0.1
    i=$((i + 1))
  done
  fail "bob never printed: $1"
}

keys() { tmux -L "$sock" send-keys -t chat "$@"; }
type_text() { tmux -L "$sock" send-keys -t chat -l -- "$1"; }
bob() { printf '%s\n' "$1" >&4 || fail "bob's e2ee-chat is not running"; }

# ---- relay, bob, alice ----
"$bin/e2ee-relay" --listen 127.0.0.1:0 --store "$tmp/relay.db" --log-level warn \
    > "$tmp/relay.out" 2> "$tmp/relay.log" &
relay_pid=$!
url=
i=0
while [ -z "$url" ] && [ $i -lt 100 ]; do
  url=$(sed -n 's/^e2ee-relay listening on \(ws:\/\/[^ ]*\)$/\1/p' "$tmp/relay.out")
  [ -n "$url" ] || sleep 0.1
  i=$((i + 1))
done
[ -n "$url" ] || fail "the relay did not start: $(cat "$tmp/relay.log")"

mkfifo "$tmp/bob.in"
"$bin/e2ee-chat" --relay "$url" --user bob --memory < "$tmp/bob.in" > "$tmp/bob.out" \
    2> "$tmp/bob.err" &
bob_pid=$!
exec 4> "$tmp/bob.in"
bob "/wait connected *"

cat > "$tmp/alice.sh" << EOF
"$bin/e2ee-chat" --relay "$url" --user alice --store "$tmp/alice.e2ee"
echo "exit=\$?" > "$tmp/alice.status"
EOF
tmux -L "$sock" -f /dev/null new-session -d -s chat -x 120 -y 30 "sh $tmp/alice.sh" 4>&- ||
  fail "tmux could not start a session"

# ---- banner, prompt, connection ----
wait_screen "^e2ee-chat: alice on $url, store .*/alice.e2ee\. /help lists the commands"
wait_screen "^your fingerprint: [0-9a-f]{64}$"
wait_screen "^[0-9]{2}:[0-9]{2}:[0-9]{2} connected to $url \(new identity registered\)$"
wait_prompt "alice> "

# ---- an event arrives while alice is typing: printed above, her line intact ----
type_text "/msg bob hel"
wait_prompt "alice> /msg bob hel"
bob "/msg alice ping from bob"
wait_screen "^[0-9]{2}:[0-9]{2}:[0-9]{2} bob: ping from bob$"
wait_prompt "alice> /msg bob hel"
screen | grep -q -x "alice> /msg bob hel" || fail "the half-typed line was broken"
above=$(screen | grep -n -E ' bob: ping from bob$' | cut -d: -f1)
typed=$(screen | grep -n -x 'alice> /msg bob hel' | cut -d: -f1)
[ "$above" -lt "$typed" ] || fail "the event did not print above the prompt"
checks=$((checks + 1))

# ---- she finishes the line: bob gets it, her screen shows the ack states ----
type_text "lo"
keys Enter
wait_bob "direct alice: hello"
wait_screen "^[0-9:]{8} \(sent\) you -> bob: hello$"
wait_screen "^[0-9:]{8} \(delivered\) you -> bob: hello$"
wait_prompt "alice> "

# ---- history: Up brings the line back; Ctrl-U clears it ----
keys Up
wait_prompt "alice> /msg bob hello"
keys C-u
wait_prompt "alice> "

# ---- a conversation: /msg USER alone, then plain lines go to USER ----
type_text "/msg bob"
keys Enter
wait_screen "^plain text now goes to bob$"
wait_prompt "alice -> bob> "
type_text "just typing to bob"
keys Enter
wait_bob "direct alice: just typing to bob"

# ---- what bob sends cannot drive alice's terminal ----
bob "$(printf '/msg alice \033]0;owned\007 beep \033[2J')"
wait_screen '^[0-9:]{8} bob: \\x1b\]0;owned\\x07 beep \\x1b\[2J$'
wait_prompt "alice -> bob> "

# ---- /help, a group, /members ----
type_text "/help"
keys Enter
wait_screen "^  /members +GROUP +list the members of GROUP$"
type_text "/create tty-team"
keys Enter
wait_screen "^[0-9:]{8} #tty-team: you created the group$"
wait_screen "^[0-9:]{8} #tty-team: you joined; members: alice \(owner alice\)$"
bob "/join tty-team"
wait_screen "^[0-9:]{8} #tty-team: bob joined"
type_text "/members tty-team"
keys Enter
wait_screen "^members of #tty-team: alice, bob$"
type_text "/g tty-team hello team"
keys Enter
wait_bob "group tty-team alice: hello team"
wait_screen "^[0-9:]{8} \(delivered to bob\) you -> #tty-team: hello team$"

# ---- a file from bob: announced, not written without --download-dir ----
printf 'twelve bytes' > "$tmp/hello.txt"
bob "/sendfile alice $tmp/hello.txt"
wait_screen '^[0-9:]{8} bob: \[file hello\.txt, 12 bytes\] not saved \(start with --download-dir'

# ---- Ctrl-D on an empty line leaves, with status 0 ----
wait_prompt "alice -> bob> "
keys C-d
i=0
while [ ! -s "$tmp/alice.status" ] && [ $i -lt 100 ]; do
  sleep 0.1
  i=$((i + 1))
done
[ "$(cat "$tmp/alice.status" 2> /dev/null)" = "exit=0" ] ||
  fail "e2ee-chat did not exit 0 on Ctrl-D: $(cat "$tmp/alice.status" 2> /dev/null)"
checks=$((checks + 1))

exec 4>&-
wait "$bob_pid" || fail "bob's e2ee-chat exited non-zero"
bob_pid=
echo "test_chat_tty: $checks checks passed"
