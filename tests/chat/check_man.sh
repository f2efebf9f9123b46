#!/bin/sh
# The man pages: groff finds no warning in them, and they document every option of
# e2ee-chat and e2ee-relay (from --help) and every command of e2ee-chat (from /help).
# Usage: check_man.sh SOURCE_DIR BIN_DIR        Exit 77 (skipped) without groff.
set -u
src=${1:?usage: check_man.sh SOURCE_DIR BIN_DIR}
bin=${2:?usage: check_man.sh SOURCE_DIR BIN_DIR}
command -v groff > /dev/null 2>&1 || { echo "groff is not installed: skipped"; exit 77; }
fail=0
bad() { echo "check_man: $*"; fail=1; }

render() { LC_ALL=C groff -man -Tascii -P-c -P-b -P-u "$1" 2> /dev/null; }

for page in e2ee-chat e2ee-relay; do
  f=$src/docs/man/$page.1
  [ -f "$f" ] || { bad "$f is missing"; continue; }
  warn=$(LC_ALL=C groff -man -ww -z "$f" 2>&1)
  [ -z "$warn" ] || bad "$page.1: groff warnings: $warn"
  text=$(render "$f")
  opts=$("$bin/$page" --help 2>&1 | grep -o -E -- '--[a-z][a-z-]*' | sort -u)
  [ -n "$opts" ] || bad "$page --help printed no option"
  for o in $opts; do
    printf '%s\n' "$text" | grep -q -F -- "$o" || bad "$page.1 does not document $o"
  done
done

# /help of a scripted e2ee-chat that never connects (nothing listens on port 1)
cmds=$(printf '/help\n' | "$bin/e2ee-chat" --relay ws://127.0.0.1:1 --user man-check \
         --memory --timeout 1 2> /dev/null | sed -n 's/^help \(\/[a-z]*\) .*/\1/p')
[ -n "$cmds" ] || bad "e2ee-chat printed no command for /help"
text=$(render "$src/docs/man/e2ee-chat.1")
for c in $cmds; do
  printf '%s\n' "$text" | grep -q -E -- "^ +$c( |$)" || bad "e2ee-chat.1 does not document $c"
done
[ $fail = 0 ] && echo "check_man: ok ($(echo $cmds | wc -w) commands)"
exit $fail
