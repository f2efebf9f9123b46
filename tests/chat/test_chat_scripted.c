/*
 * e2ee-chat in scripted mode (stdin and stdout are pipes), against a real e2ee-relay: a
 * group chat between two instances, the exit that waits for the relay's acks, /wait
 * semantics and its timeout, escaping of what peers send, command errors, option errors,
 * an unreachable relay, and a file store that keeps the identity across runs.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "chatproc.h"
#include "relaytest.h"
#include "testutil.h"

static struct rt_relay g_relay;

static int setup(void **state)
{
    (void)state;
    return rt_relay_start(&g_relay, NULL);
}

static int teardown(void **state)
{
    (void)state;
    rt_relay_cleanup(&g_relay);
    return 0;
}

static struct chatproc *start_connected(const char *name, const char *const *args)
{
    struct chatproc *p = cp_start(g_relay.url, name, args);
    char pat[256];
    snprintf(pat, sizeof pat, "connected %s*", g_relay.url);
    cp_expect(p, pat, CP_WAIT_MS);
    return p;
}

/* The id of a "sending ID to ..." line. */
static void sent_id(const char *line, char id[17])
{
    assert_int_equal(sscanf(line, "sending %16s to", id), 1);
    assert_int_equal(strlen(id), 16);
}

static void expectf(struct chatproc *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void expectf(struct chatproc *p, const char *fmt, ...)
{
    char pat[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pat, sizeof pat, fmt, ap);
    va_end(ap);
    cp_expect(p, pat, CP_WAIT_MS);
}

/* Two instances through a whole group conversation, then both exit 0 at end of input. */
static void test_group_chat(void **state)
{
    struct chatproc *a = start_connected("gc-alice", NULL);
    struct chatproc *b = start_connected("gc-bob", NULL);
    char id[17];
    (void)state;

    cp_say(a, "/create gc-team");
    cp_expect(a, "created gc-team", CP_WAIT_MS);
    cp_expect(a, "joined gc-team members gc-alice owner gc-alice epoch *", CP_WAIT_MS);
    cp_say(b, "/join gc-team");
    cp_expect(b, "joined gc-team members gc-alice,gc-bob owner gc-alice epoch *", CP_WAIT_MS);
    cp_expect(a, "member-joined gc-team gc-bob epoch *", CP_WAIT_MS);

    cp_say(a, "/g gc-team hello team, from alice");
    sent_id(cp_expect(a, "sending * to group gc-team", CP_WAIT_MS), id);
    cp_expect(b, "group gc-team gc-alice: hello team, from alice", CP_WAIT_MS);
    expectf(a, "ack %s sent", id);
    expectf(a, "ack %s delivered gc-bob", id);

    cp_say(b, "/g gc-team hi alice");
    sent_id(cp_expect(b, "sending * to group gc-team", CP_WAIT_MS), id);
    cp_expect(a, "group gc-team gc-bob: hi alice", CP_WAIT_MS);
    expectf(b, "ack %s delivered gc-alice", id);

    /* plain lines go to the conversation chosen by /g GROUP */
    cp_say(b, "/g gc-team");
    cp_say(b, "a plain line");
    cp_expect(a, "group gc-team gc-bob: a plain line", CP_WAIT_MS);

    cp_say(a, "/members gc-team");
    cp_expect(a, "members gc-team gc-alice,gc-bob", CP_WAIT_MS);
    cp_say(b, "/groups");
    cp_expect(b, "groups gc-team", CP_WAIT_MS);
    cp_say(b, "/users");
    cp_expect(b, "users gc-alice*", CP_WAIT_MS);

    cp_say(b, "/leave gc-team");
    cp_expect(b, "left gc-team epoch *", CP_WAIT_MS);
    cp_expect(a, "member-left gc-team gc-bob epoch *", CP_WAIT_MS);
    cp_say(b, "/groups");
    cp_expect(b, "groups", CP_WAIT_MS);
    cp_say(a, "/g gc-team after bob left");
    cp_expect(a, "ack * sent", CP_WAIT_MS);
    cp_say(b, "/sleep 500");
    assert_int_equal(cp_count(b, "*after bob left*", 300), 0);

    /* back in, then removed by the owner, then in again until the owner deletes the group */
    cp_say(b, "/join gc-team");
    cp_expect(b, "joined gc-team members gc-alice,gc-bob owner gc-alice epoch *", CP_WAIT_MS);
    cp_expect(a, "member-joined gc-team gc-bob epoch *", CP_WAIT_MS);
    cp_say(b, "/remove gc-team gc-alice");
    cp_expect(b, "error E2EE_ERR_NOT_OWNER*", CP_WAIT_MS);
    cp_say(a, "/remove gc-team gc-bob");
    cp_expect(b, "removed gc-team by gc-alice epoch *", CP_WAIT_MS);
    cp_expect(a, "member-removed gc-team gc-bob by gc-alice epoch *", CP_WAIT_MS);
    cp_say(b, "/join gc-team");
    cp_expect(a, "member-joined gc-team gc-bob epoch *", CP_WAIT_MS);
    cp_say(b, "/delete gc-team");
    cp_expect(b, "error E2EE_ERR_NOT_OWNER*", CP_WAIT_MS);
    cp_say(a, "/delete gc-team");
    cp_expect(a, "deleted gc-team by gc-alice", CP_WAIT_MS);
    cp_expect(b, "deleted gc-team by gc-alice", CP_WAIT_MS);
    cp_say(a, "/groups");
    cp_expect(a, "groups", CP_WAIT_MS);

    cp_close_input(a);
    cp_close_input(b);
    assert_int_equal(cp_wait_exit(a, CP_WAIT_MS), 0);
    assert_int_equal(cp_wait_exit(b, CP_WAIT_MS), 0);
    assert_int_equal(cp_count(a, "e2ee-error*", 0) + cp_count(b, "e2ee-error*", 0), 0);
    cp_free(a);
    cp_free(b);
}

/* Input that ends right after three sends: the process still prints the relay's ack of each
 * before it exits 0. */
static void test_exit_waits_for_acks(void **state)
{
    struct chatproc *b = start_connected("ew-bob", NULL);
    struct chatproc *a = cp_start(g_relay.url, "ew-alice", NULL);
    char id[3][17];
    (void)state;

    cp_say(a, "/msg ew-bob one");
    cp_say(a, "/msg ew-bob two");
    cp_say(a, "/msg ew-bob three");
    cp_close_input(a);
    assert_int_equal(cp_wait_exit(a, CP_WAIT_MS), 0);
    for (int i = 0; i < 3; i++) {
        sent_id(cp_expect(a, "sending * to ew-bob", 0), id[i]);
        expectf(a, "ack %s sent", id[i]);
    }
    cp_expect(b, "direct ew-alice: one", CP_WAIT_MS);
    cp_expect(b, "direct ew-alice: two", CP_WAIT_MS);
    cp_expect(b, "direct ew-alice: three", CP_WAIT_MS);
    cp_free(a);
    cp_free(b);
}

/* /wait counts events printed before it, consumes each line once, and times out with
 * "wait-timeout PATTERN" and exit status 1. */
static void test_wait(void **state)
{
    struct chatproc *b = start_connected("wt-bob", NULL);
    struct chatproc *a = start_connected("wt-alice", NULL);
    (void)state;

    cp_say(b, "/msg wt-alice first");
    cp_expect(a, "direct wt-bob: first", CP_WAIT_MS);
    cp_say(a, "/wait direct wt-bob: f*");  /* already printed: returns at once */
    cp_say(a, "/echo after-first");
    cp_expect(a, "echo after-first", CP_WAIT_MS);

    cp_say(a, "/wait direct wt-bob: second");  /* blocks until it comes */
    cp_say(a, "/echo after-second");
    assert_int_equal(cp_count(a, "echo after-second", 300), 0);
    cp_say(b, "/msg wt-alice second");
    cp_expect(a, "direct wt-bob: second", CP_WAIT_MS);
    cp_expect(a, "echo after-second", CP_WAIT_MS);

    cp_say(a, "/timeout 1");
    cp_say(a, "/wait direct wt-bob: first");  /* consumed above: times out */
    cp_say(a, "/echo never");
    cp_expect(a, "wait-timeout direct wt-bob: first", CP_WAIT_MS);
    assert_int_equal(cp_wait_exit(a, CP_WAIT_MS), 1);
    assert_int_equal(cp_count(a, "echo never", 0), 0);
    cp_close_input(b);
    assert_int_equal(cp_wait_exit(b, CP_WAIT_MS), 0);
    cp_free(a);
    cp_free(b);
}

/* What a peer sends cannot break the line or drive the terminal: controls, bidi overrides
 * and backslashes come out escaped. */
static void test_escaping(void **state)
{
    struct chatproc *b = start_connected("es-bob", NULL);
    struct chatproc *a = start_connected("es-alice", NULL);
    (void)state;

    cp_say(b, "/msg es-alice \x1b[31mred\ttab \xe2\x80\xae rtl \\ back \x07 caf\xc3\xa9");
    cp_expect(a, "direct es-bob: \\\\x1b[[]31mred\\\\ttab \\\\u{202e} rtl \\\\\\\\ back "
                 "\\\\x07 caf\xc3\xa9",
              CP_WAIT_MS);
    cp_close_input(a);
    cp_close_input(b);
    assert_int_equal(cp_wait_exit(a, CP_WAIT_MS), 0);
    assert_int_equal(cp_wait_exit(b, CP_WAIT_MS), 0);
    cp_free(a);
    cp_free(b);
}

/* Mistakes are reported on one "error ..." line each and the session goes on. */
static void test_command_errors(void **state)
{
    struct chatproc *a = start_connected("ce-alice", NULL);
    (void)state;

    cp_say(a, "/frobnicate");
    cp_expect(a, "error unknown-command /frobnicate", CP_WAIT_MS);
    cp_say(a, "/msg");
    cp_expect(a, "error usage: /msg USER \\[TEXT\\]", CP_WAIT_MS);
    cp_say(a, "/remove only-one-word");
    cp_expect(a, "error usage: /remove GROUP USER", CP_WAIT_MS);
    cp_say(a, "/g nosuchgroup hello");
    cp_expect(a, "error E2EE_ERR_NOT_MEMBER: /g nosuchgroup: *", CP_WAIT_MS);
    cp_say(a, "/members nosuchgroup");
    cp_expect(a, "error E2EE_ERR_NO_SUCH_GROUP: /members: *", CP_WAIT_MS);
    cp_say(a, "/join ce-nosuchgroup");
    cp_expect(a, "error E2EE_ERR_NO_SUCH_GROUP*", CP_WAIT_MS);
    cp_say(a, "/msg ce-alice to myself");
    cp_expect(a, "error E2EE_ERR_ARG: /msg ce-alice: *", CP_WAIT_MS);
    cp_say(a, "not a command");
    cp_expect(a, "error usage: no conversation*", CP_WAIT_MS);
    cp_say(a, "/fp ce-nobody");
    cp_expect(a, "error E2EE_ERR_NO_SUCH_USER: /fp: *", CP_WAIT_MS);
    cp_say(a, "/fp");
    cp_expect(a, "fingerprint ce-alice ????????????????????????????????????????????????????????"
                 "????????",
              CP_WAIT_MS);
    cp_say(a, "/help");
    cp_expect(a, "help /msg *", CP_WAIT_MS);
    cp_say(a, "# a comment line is ignored");
    cp_say(a, "/quit");
    cp_say(a, "/echo not run after /quit");
    assert_int_equal(cp_wait_exit(a, CP_WAIT_MS), 0);
    assert_int_equal(cp_count(a, "echo not run*", 0), 0);
    cp_free(a);
}

/* Bad options: exit status 2 with a usage message, before any connection. */
static void test_bad_options(void **state)
{
    static const char *const zero[] = {"--timeout", "0", NULL};
    static const char *const level[] = {"--log-level", "loud", NULL};
    static const char *const both[] = {"--store", "/tmp/x.e2ee", "--memory", NULL};
    const char *const *cases[] = {zero, level, both};
    (void)state;
    for (size_t i = 0; i < 3; i++) {
        struct chatproc *p = cp_start(g_relay.url, "bo-alice", cases[i]);
        assert_int_equal(cp_wait_exit(p, CP_WAIT_MS), 2);
        cp_free(p);
    }
    struct chatproc *p = cp_start(g_relay.url, "bad id with spaces", NULL);
    assert_int_equal(cp_wait_exit(p, CP_WAIT_MS), 1);
    cp_free(p);
}

/* Nothing listens: the disconnect events say so, and at the end of input the unconfirmed
 * message makes it exit 1 after the timeout. */
static void test_unreachable_relay(void **state)
{
    struct chatproc *p = cp_start("ws://127.0.0.1:1", "ur-alice", NULL);
    (void)state;
    cp_expect(p, "disconnected E2EE_ERR_CONNECT retry * ms*", CP_WAIT_MS);
    cp_say(p, "/timeout 1");
    cp_say(p, "/msg ur-bob hello");
    cp_expect(p, "sending * to ur-bob", CP_WAIT_MS);
    cp_close_input(p);
    assert_int_equal(cp_wait_exit(p, CP_WAIT_MS), 1);
    cp_expect(p, "exit-timeout 1 unconfirmed", 0);
    cp_free(p);
}

/* A file store keeps the identity: the second run logs in without registering and shows
 * the same fingerprint. */
static void test_store_restart(void **state)
{
    char path[256], pat[512], fp1[200];
    const char *args[] = {"--store", path, NULL};
    struct chatproc *p;
    (void)state;
    snprintf(path, sizeof path, "/tmp/e2ee-chattest-%d-sr.e2ee", (int)getpid());
    p = cp_start(g_relay.url, "sr-alice", args);
    snprintf(pat, sizeof pat, "connected %s registered", g_relay.url);
    cp_expect(p, pat, CP_WAIT_MS);
    cp_say(p, "/fp");
    snprintf(fp1, sizeof fp1, "%s", cp_expect(p, "fingerprint sr-alice *", CP_WAIT_MS));
    cp_close_input(p);
    assert_int_equal(cp_wait_exit(p, CP_WAIT_MS), 0);
    cp_free(p);

    p = cp_start(g_relay.url, "sr-alice", args);
    snprintf(pat, sizeof pat, "connected %s", g_relay.url);
    cp_expect(p, pat, CP_WAIT_MS);
    cp_say(p, "/fp");
    cp_expect(p, fp1, CP_WAIT_MS);
    cp_close_input(p);
    assert_int_equal(cp_wait_exit(p, CP_WAIT_MS), 0);
    cp_free(p);
    unlink(path);
    snprintf(pat, sizeof pat, "%s-wal", path);
    unlink(pat);
    snprintf(pat, sizeof pat, "%s-shm", path);
    unlink(pat);
}

/* SIGTERM while waiting for input: it leaves at once with status 1. */
static void test_signal(void **state)
{
    struct chatproc *p = start_connected("sg-alice", NULL);
    (void)state;
    cp_say(p, "/wait never*");
    assert_int_equal(kill(p->pid, SIGTERM), 0);
    assert_int_equal(cp_wait_exit(p, 5000), 1);
    assert_int_equal(cp_count(p, "wait-timeout*", 0), 0);
    cp_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group_chat),
        cmocka_unit_test(test_exit_waits_for_acks),
        cmocka_unit_test(test_wait),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_command_errors),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_unreachable_relay),
        cmocka_unit_test(test_store_restart),
        cmocka_unit_test(test_signal),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
