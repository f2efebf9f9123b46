/*
 * The relay goes away and comes back on the same address: clients report the disconnect,
 * reconnect on their own (backoff), and what was sent meanwhile arrives in order, once.
 * The relay killed (SIGKILL) in the middle of a burst: after its restart every message
 * arrives exactly once (the client resends what had no answer; the relay and the
 * recipient drop the duplicates).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clienttest.h"
#include "testutil.h"

static struct rt_relay g_relay;
static struct rt_relay g_slow; /* a relay with a low request rate */
static char g_listen[64];

static int setup(void **state)
{
    (void)state;
    if (rt_relay_start(&g_relay, NULL) != 0)
        return -1;
    /* restarts keep the address, so that the clients find the relay again */
    snprintf(g_listen, sizeof g_listen, "--listen 127.0.0.1:%d", g_relay.port);
    g_relay.opts.extra_arg = g_listen;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    rt_relay_cleanup(&g_slow);
    rt_relay_cleanup(&g_relay);
    return 0;
}

/* Texts prefix0, prefix1, ... arrived in that order, from the first-th message on. */
static void expect_texts_in_order(struct ct_client *cl, enum e2ee_event_type type,
                                  const char *prefix, int n, size_t first)
{
    char text[64];
    assert_int_equal(ct_wait_n(cl, &(struct ct_match){.type = type}, first + (size_t)n,
                               CT_WAIT_MS),
                     first + (size_t)n);
    for (int i = 0; i < n; i++) {
        snprintf(text, sizeof text, "%s%0*d", prefix, n > 100 ? 3 : 2, i);
        assert_string_equal(ct_nth(cl, &(struct ct_match){.type = type}, first + (size_t)i)->text,
                            text);
    }
}

static void test_relay_restart(void **state)
{
    struct ct_client *a = ct_client_new(&g_relay, "rs-alice", &(struct ct_opts){.store = ""});
    struct ct_client *b = ct_client_new(&g_relay, "rs-bob", &(struct ct_opts){.store = ""});
    const struct ct_event *e;
    char text[64];
    (void)state;

    assert_int_equal(e2ee_client_create_group_wait(a->c, "rs-room", CT_WAIT_MS), E2EE_OK);
    assert_int_equal(e2ee_client_join_group_wait(b->c, "rs-room", CT_WAIT_MS), E2EE_OK);
    ct_direct_roundtrip(a, b, "before");
    ct_expect(a, &(struct ct_match){.type = E2EE_EVENT_MEMBER_JOIN, .user = "rs-bob"});

    assert_int_equal(rt_relay_stop(&g_relay), 0);
    e = ct_wait(a, &(struct ct_match){.type = E2EE_EVENT_DISCONNECT}, CT_WAIT_MS);
    assert_non_null(e);
    assert_int_equal(e->code, E2EE_ERR_UNAVAILABLE);
    assert_int_equal(e->will_reconnect, 1);
    ct_expect(b, &(struct ct_match){.type = E2EE_EVENT_DISCONNECT});
    assert_int_equal(e2ee_client_is_connected(a->c), 0);
    for (int i = 0; i < 10; i++) {
        snprintf(text, sizeof text, "direct while down %02d", i);
        assert_int_equal(e2ee_client_send_direct(a->c, "rs-bob", text, NULL), E2EE_OK);
        snprintf(text, sizeof text, "group while down %02d", i);
        assert_int_equal(e2ee_client_send_group(a->c, "rs-room", text, NULL), E2EE_OK);
    }
    assert_int_equal(rt_relay_restart(&g_relay), 0);
    assert_int_equal(ct_wait_n(a, &(struct ct_match){.type = E2EE_EVENT_CONNECT}, 2, CT_WAIT_MS),
                     2);
    expect_texts_in_order(b, E2EE_EVENT_DIRECT_TEXT, "direct while down ", 10, 1);
    expect_texts_in_order(b, E2EE_EVENT_GROUP_TEXT, "group while down ", 10, 0);
    ct_client_free(a);
    ct_client_free(b);
}

#define BURST 40

static void test_relay_killed_mid_burst(void **state)
{
    struct ct_client *a = ct_client_new(&g_relay, "rk-alice", &(struct ct_opts){.store = ""});
    struct ct_client *b = ct_client_new(&g_relay, "rk-bob", &(struct ct_opts){.store = ""});
    char text[64];
    (void)state;

    ct_direct_roundtrip(a, b, "warm up");
    for (int i = 0; i < BURST; i++) {
        snprintf(text, sizeof text, "burst %02d", i);
        assert_int_equal(e2ee_client_send_direct(a->c, "rk-bob", text, NULL), E2EE_OK);
        if (i == BURST / 2)
            rt_relay_kill(&g_relay); /* some sent, some answered, some neither */
    }
    assert_int_equal(rt_relay_restart(&g_relay), 0);
    expect_texts_in_order(b, E2EE_EVENT_DIRECT_TEXT, "burst ", BURST, 1);
    assert_int_equal(ct_wait_n(a, &(struct ct_match){.type = E2EE_EVENT_MESSAGE_ACK,
                                                     .state = E2EE_ACK_DELIVERED},
                               BURST + 1, CT_WAIT_MS),
                     BURST + 1);
    ct_sleep_ms(CT_QUIET_MS);
    assert_int_equal(ct_count(b, &(struct ct_match){.type = E2EE_EVENT_DIRECT_TEXT}), BURST + 1);
    assert_int_equal(ct_count(b, &(struct ct_match){.type = E2EE_EVENT_E2EE_ERROR}), 0);
    ct_client_free(a);
    ct_client_free(b);
}

#define PACED_N 400

/* A burst larger than the relay's rate allows in a second: the client paces itself (the
 * rate comes in the relay's challenge) and is never refused for it. */
static void test_pacing(void **state)
{
    struct rt_relay_opts o = {.config = "max_requests_per_sec = 200\n"};
    struct ct_client *a, *b;
    char text[64];
    (void)state;

    assert_int_equal(rt_relay_start(&g_slow, &o), 0);
    a = ct_client_new(&g_slow, "pc-alice", NULL);
    b = ct_client_new(&g_slow, "pc-bob", NULL);
    a->log_watch = "E2EE_ERR_RATE_LIMITED";
    for (int i = 0; i < PACED_N; i++) {
        snprintf(text, sizeof text, "paced %03d", i);
        assert_int_equal(e2ee_client_send_direct(a->c, "pc-bob", text, NULL), E2EE_OK);
    }
    expect_texts_in_order(b, E2EE_EVENT_DIRECT_TEXT, "paced ", PACED_N, 0);
    assert_int_equal(a->log_hits, 0);
    ct_client_free(a);
    ct_client_free(b);
}

/* A relay that stops answering (SIGSTOP: TCP stays up, nothing is read) is found by the
 * keepalive: the client with pings disconnects and reconnects once the relay runs again;
 * the one without pings notices nothing. With the default (30 s, hang-up after 60 s) no
 * disconnect would come within the wait. */
static void test_keepalive(void **state)
{
    struct ct_client *a = ct_client_new(&g_relay, "ka-alice", &(struct ct_opts){.keepalive_s = 2});
    struct ct_client *b = ct_client_new(&g_relay, "ka-bob", &(struct ct_opts){.keepalive_s = -1});
    const struct ct_event *e;
    (void)state;

    ct_direct_roundtrip(a, b, "alive");
    assert_int_equal(kill(g_relay.pid, SIGSTOP), 0);
    e = ct_wait(a, &(struct ct_match){.type = E2EE_EVENT_DISCONNECT}, CT_WAIT_MS);
    assert_non_null(e);
    assert_int_equal(e->will_reconnect, 1);
    assert_int_equal(ct_count(b, &(struct ct_match){.type = E2EE_EVENT_DISCONNECT}), 0);
    assert_int_equal(e2ee_client_is_connected(b->c), 1);
    assert_int_equal(kill(g_relay.pid, SIGCONT), 0);
    assert_int_equal(ct_wait_n(a, &(struct ct_match){.type = E2EE_EVENT_CONNECT}, 2, CT_WAIT_MS),
                     2);
    ct_direct_roundtrip(a, b, "alive again");
    ct_direct_roundtrip(b, a, "and back");
    ct_client_free(a);
    ct_client_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_relay_restart),
        cmocka_unit_test(test_relay_killed_mid_burst),
        cmocka_unit_test(test_pacing),
        cmocka_unit_test(test_keepalive),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
