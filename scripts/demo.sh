#!/bin/sh
# make demo, interim version: the client library (include/e2ee/client.h) and e2ee-chat are
# not finished yet, so this runs the most complete end-to-end paths that exist today and
# says plainly what it does not cover.
set -eu
build=${1:-build}
echo "e2ee demo (interim): the alice/bob/carol chat demo needs the client library, which is"
echo "not finished yet. Running what exists end to end instead:"
echo " 1. pairwise sessions: X3DH + Double Ratchet conversations (1,000+ messages each way)"
echo " 2. group sender keys: groups of 3..50 members, rotation on join and leave"
echo " 3. the real e2ee-relay over real WebSockets: login, direct messages, groups, fan-out"
echo
ctest --test-dir "$build" -R 'test_pairwise_session|test_group_sim|test_relay_direct|test_relay_groups|test_relay_fanout' --output-on-failure
echo
echo "Not covered yet: the client library tying these together (issue: libe2ee client) and"
echo "the interactive e2ee-chat with its scripted alice/bob/carol demo."
