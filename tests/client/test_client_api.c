/*
 * The client API's contract apart from the message flows: configuration and argument
 * checks, stores of another user or damaged, the loop family (thread, caller's loop with
 * poll, blocking calls that drive the loop themselves), calls from inside a callback, API
 * calls from many threads at once, and timeouts when no relay answers.
 */
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clienttest.h"
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

static void nop_cb(const struct e2ee_event *ev, void *user)
{
    (void)ev;
    (void)user;
}

static void base_config(struct e2ee_client_config *cfg, const char *user)
{
    e2ee_client_config_init(cfg);
    cfg->user_id = user;
    cfg->relay_url = g_relay.url;
    cfg->event_cb = nop_cb;
}

static int try_new(const struct e2ee_client_config *cfg)
{
    e2ee_client *c = (e2ee_client *)&c; /* must be reset to NULL on failure */
    int rc = e2ee_client_new(&c, cfg);
    if (rc != E2EE_OK)
        assert_null(c);
    e2ee_client_free(c);
    return rc;
}

static void test_config(void **state)
{
    struct e2ee_client_config cfg;
    char path[400], longid[80];
    FILE *f;
    (void)state;

    e2ee_client_config_init(&cfg);
    assert_int_equal(cfg.ack_direct, 1);
    assert_int_equal(cfg.ack_group, 1);
    assert_int_equal(cfg.reconnect_min_ms, 500);
    assert_int_equal(cfg.reconnect_max_ms, 30000);
    assert_int_equal(cfg.keepalive_s, 30);
    assert_int_equal(cfg.transition_window_s, 60);
    assert_int_equal(cfg.transition_window_keys, 3);
    assert_int_equal(cfg.identity_policy, E2EE_IDENTITY_BLOCK);
    assert_null(cfg.store_path);
    e2ee_client_config_init(NULL);

    assert_int_equal(e2ee_client_new(NULL, &cfg), E2EE_ERR_ARG);
    assert_int_equal(try_new(NULL), E2EE_ERR_ARG);
    base_config(&cfg, "cfg-ok");
    assert_int_equal(try_new(&cfg), E2EE_OK);
    cfg.user_id = NULL;
    assert_int_equal(try_new(&cfg), E2EE_ERR_ARG);
    cfg.user_id = "";
    assert_int_equal(try_new(&cfg), E2EE_ERR_LENGTH);
    memset(longid, 'a', 65);
    longid[65] = '\0';
    cfg.user_id = longid;
    assert_int_equal(try_new(&cfg), E2EE_ERR_LENGTH);
    cfg.user_id = "has space";
    assert_int_equal(try_new(&cfg), E2EE_ERR_ARG);
    base_config(&cfg, "cfg-ok");
    cfg.relay_url = NULL;
    assert_int_equal(try_new(&cfg), E2EE_ERR_ARG);
    cfg.relay_url = "http://example.org/";
    assert_int_equal(try_new(&cfg), E2EE_ERR_ARG);
    base_config(&cfg, "cfg-ok");
    cfg.event_cb = NULL;
    assert_int_equal(try_new(&cfg), E2EE_ERR_ARG);
    base_config(&cfg, "cfg-ok");
    cfg.reconnect_min_ms = 1000;
    cfg.reconnect_max_ms = 999;
    assert_int_equal(try_new(&cfg), E2EE_ERR_ARG);
    base_config(&cfg, "cfg-ok");
    cfg.pending_timeout_s = 0;
    assert_int_equal(try_new(&cfg), E2EE_ERR_RANGE);
    base_config(&cfg, "cfg-ok");
    cfg.transition_window_keys = 17;
    assert_int_equal(try_new(&cfg), E2EE_ERR_RANGE);
    base_config(&cfg, "cfg-ok");
    cfg.transition_window_s = 8 * 24 * 3600;
    assert_int_equal(try_new(&cfg), E2EE_ERR_RANGE);
    base_config(&cfg, "cfg-ok");
    cfg.keepalive_s = 32768;
    assert_int_equal(try_new(&cfg), E2EE_ERR_RANGE);
    cfg.keepalive_s = 32767;
    assert_int_equal(try_new(&cfg), E2EE_OK);
    cfg.keepalive_s = 0;
    assert_int_equal(try_new(&cfg), E2EE_OK);

    /* a store belongs to one user */
    snprintf(path, sizeof path, "%s/cfg-owner.db", ct_tmpdir());
    base_config(&cfg, "cfg-owner");
    cfg.store_path = path;
    assert_int_equal(try_new(&cfg), E2EE_OK);
    assert_int_equal(try_new(&cfg), E2EE_OK); /* opened again: the same identity */
    cfg.user_id = "cfg-intruder";
    assert_int_equal(try_new(&cfg), E2EE_ERR_STATE);
    /* not a store */
    snprintf(path, sizeof path, "%s/cfg-garbage.db", ct_tmpdir());
    f = fopen(path, "wb");
    assert_non_null(f);
    for (int i = 0; i < 4096; i++)
        fputc(i * 7 & 0xff, f);
    fclose(f);
    cfg.user_id = "cfg-garbage";
    assert_int_equal(try_new(&cfg), E2EE_ERR_CORRUPT);

    assert_string_equal(e2ee_event_name(E2EE_EVENT_GROUP_JOIN), "E2EE_EVENT_GROUP_JOIN");
    assert_string_equal(e2ee_event_name((enum e2ee_event_type)99), "E2EE_EVENT_UNKNOWN");
    assert_string_equal(e2ee_errname(E2EE_ERR_IN_CALLBACK), "E2EE_ERR_IN_CALLBACK");
}

/* Argument checks of every call (no relay needed: none of these leaves the client). */
static void test_arguments(void **state)
{
    struct e2ee_client_config cfg;
    e2ee_client *c = NULL;
    char id[E2EE_MSG_ID_SIZE], fp[E2EE_FINGERPRINT_SIZE], sn[E2EE_SAFETY_NUMBER_SIZE];
    char *big = malloc(E2EE_BINARY_MAX + 2);
    char **list = NULL;
    size_t n = 7;
    (void)state;

    assert_non_null(big);
    base_config(&cfg, "args");
    assert_int_equal(e2ee_client_new(&c, &cfg), E2EE_OK);
    assert_string_equal(e2ee_client_user_id(c), "args");
    assert_null(e2ee_client_user_id(NULL));
    assert_int_equal(e2ee_client_is_connected(c), 0);
    assert_int_equal(e2ee_client_is_connected(NULL), 0);

    strcpy(id, "unchanged");
    assert_int_equal(e2ee_client_send_direct(NULL, "bob", "x", id), E2EE_ERR_ARG);
    assert_int_equal(e2ee_client_send_direct(c, NULL, "x", id), E2EE_ERR_ARG);
    assert_string_equal(id, "");
    assert_int_equal(e2ee_client_send_direct(c, "args", "to myself", id), E2EE_ERR_ARG);
    assert_int_equal(e2ee_client_send_direct(c, "bob", NULL, id), E2EE_ERR_ARG);
    assert_int_equal(e2ee_client_send_direct(c, "bob", "", id), E2EE_ERR_LENGTH);
    assert_int_equal(e2ee_client_send_direct(c, "bob", "\xc0\xaf", id), E2EE_ERR_ARG);
    assert_int_equal(e2ee_client_send_direct(c, "bob", "\xed\xa0\x80", id), E2EE_ERR_ARG);
    memset(big, 'a', E2EE_TEXT_MAX + 1);
    big[E2EE_TEXT_MAX + 1] = '\0';
    assert_int_equal(e2ee_client_send_direct(c, "bob", big, id), E2EE_ERR_LENGTH);
    big[E2EE_TEXT_MAX] = '\0';
    assert_int_equal(e2ee_client_send_direct(c, "bob", big, id), E2EE_OK); /* just fits */
    assert_int_equal(e2ee_client_send_direct_binary(c, "bob", NULL, 1, id), E2EE_ERR_ARG);
    assert_int_equal(e2ee_client_send_direct_binary(c, "bob", big, E2EE_BINARY_MAX + 1, id),
                     E2EE_ERR_LENGTH);
    assert_int_equal(e2ee_client_send_direct_binary(c, "bad/id", big, 1, id), E2EE_ERR_ARG);
    assert_int_equal(e2ee_client_send_group(c, "g", "x", id), E2EE_ERR_NOT_MEMBER);
    assert_int_equal(e2ee_client_send_group_binary(c, "g", NULL, 0, id), E2EE_ERR_NOT_MEMBER);
    assert_int_equal(e2ee_client_send_group(c, "g", "", id), E2EE_ERR_LENGTH);

    assert_int_equal(e2ee_client_list_groups(c, &list, &n), E2EE_OK);
    assert_int_equal(n, 0);
    e2ee_strv_free(list, n);
    assert_int_equal(e2ee_client_list_groups(c, NULL, &n), E2EE_ERR_ARG);
    assert_int_equal(e2ee_client_list_members(c, "g", &list, &n), E2EE_ERR_NO_SUCH_GROUP);
    assert_null(list);
    assert_int_equal(n, 0);
    assert_int_equal(e2ee_client_list_known_users(c, &list, &n), E2EE_OK);
    assert_int_equal(n, 0);
    e2ee_strv_free(list, n);
    e2ee_strv_free(NULL, 3);

    assert_int_equal(e2ee_client_fingerprint(c, NULL, fp), E2EE_OK);
    assert_int_equal(strlen(fp), 64);
    assert_int_equal(e2ee_client_fingerprint(c, "args", sn), E2EE_OK);
    assert_string_equal(fp, sn);
    assert_int_equal(e2ee_client_fingerprint(c, "nobody", fp), E2EE_ERR_NO_SUCH_USER);
    assert_int_equal(e2ee_client_fingerprint(c, NULL, NULL), E2EE_ERR_ARG);
    assert_int_equal(e2ee_client_safety_number(c, "args", sn), E2EE_ERR_ARG);
    assert_int_equal(e2ee_client_safety_number(c, "nobody", sn), E2EE_ERR_NO_SUCH_USER);
    assert_int_equal(e2ee_client_trust_peer(c, "nobody", "00"), E2EE_ERR_NO_SUCH_USER);
    assert_int_equal(e2ee_client_trust_peer(c, "nobody", NULL), E2EE_ERR_ARG);

    /* the loop family without a thread */
    assert_int_equal(e2ee_client_loop_stop(c), E2EE_ERR_STATE);
    assert_int_equal(e2ee_client_loop(c, 0), E2EE_OK);
    assert_int_equal(e2ee_client_loop(NULL, 0), E2EE_ERR_ARG);
    assert_int_equal(e2ee_client_loop_break(NULL), E2EE_ERR_ARG);
    assert_true(e2ee_client_wake_fd(c) >= 0);
    assert_int_equal(e2ee_client_socket(c), -1);
    assert_int_equal(e2ee_client_socket(NULL), -1);
    assert_int_equal(e2ee_client_loop_start(c), E2EE_OK);
    assert_int_equal(e2ee_client_loop_start(c), E2EE_ERR_STATE);
    assert_int_equal(e2ee_client_loop(c, 0), E2EE_ERR_STATE);
    assert_int_equal(e2ee_client_loop_forever(c), E2EE_ERR_STATE);
    assert_int_equal(e2ee_client_loop_stop(c), E2EE_OK);
    assert_int_equal(e2ee_client_connect(NULL), E2EE_ERR_ARG);
    assert_int_equal(e2ee_client_disconnect(NULL), E2EE_ERR_ARG);
    e2ee_client_free(c);
    e2ee_client_free(NULL);
    free(big);
}

/* Inside a callback: blocking calls and the loop family refuse with IN_CALLBACK; ordinary
 * calls work. */
static void in_callback_hook(struct ct_client *cl, const struct e2ee_event *ev)
{
    int ok = 1;
    if (ev->type != E2EE_EVENT_DIRECT_TEXT || cl->hook_result)
        return;
    ok &= e2ee_client_create_group_wait(cl->c, "cb-room", 1000) == E2EE_ERR_IN_CALLBACK;
    ok &= e2ee_client_join_group_wait(cl->c, "cb-room", 1000) == E2EE_ERR_IN_CALLBACK;
    ok &= e2ee_client_leave_group_wait(cl->c, "cb-room", 1000) == E2EE_ERR_IN_CALLBACK;
    ok &= e2ee_client_delete_group_wait(cl->c, "cb-room", 1000) == E2EE_ERR_IN_CALLBACK;
    ok &= e2ee_client_remove_member_wait(cl->c, "cb-room", "x", 1000) == E2EE_ERR_IN_CALLBACK;
    ok &= e2ee_client_loop(cl->c, 0) == E2EE_ERR_IN_CALLBACK;
    ok &= e2ee_client_loop_forever(cl->c) == E2EE_ERR_IN_CALLBACK;
    ok &= e2ee_client_loop_start(cl->c) == E2EE_ERR_IN_CALLBACK;
    ok &= e2ee_client_loop_stop(cl->c) == E2EE_ERR_IN_CALLBACK;
    /* asynchronous calls are fine: reply and create a group from the callback */
    ok &= e2ee_client_send_direct(cl->c, ev->direct.from, "reply from a callback", NULL) ==
          E2EE_OK;
    ok &= e2ee_client_create_group(cl->c, "cb-room", NULL) == E2EE_OK;
    cl->hook_result = ok ? 1 : -1;
}

static void test_in_callback(void **state)
{
    struct ct_client *a = ct_client_new(&g_relay, "cb-alice", NULL);
    struct ct_client *b = ct_client_new(&g_relay, "cb-bob", NULL);
    (void)state;

    b->hook = in_callback_hook;
    ct_direct_roundtrip(a, b, "call back");
    ct_expect(a, &(struct ct_match){.type = E2EE_EVENT_DIRECT_TEXT,
                                    .text = "reply from a callback"});
    ct_expect(b, &(struct ct_match){.type = E2EE_EVENT_GROUP_CREATED, .group = "cb-room"});
    assert_int_equal(b->hook_result, 1);
    ct_client_free(a);
    ct_client_free(b);
}

/* Blocking calls with no thread running the loop: the call runs it. */
static void record_cb(const struct e2ee_event *ev, void *user)
{
    int *seen = user;
    if (ev->type == E2EE_EVENT_GROUP_JOIN)
        (*seen)++;
}

static void test_blocking_drives_loop(void **state)
{
    struct e2ee_client_config cfg;
    e2ee_client *c = NULL;
    int seen = 0;
    char **list = NULL;
    size_t n = 0;
    (void)state;

    base_config(&cfg, "drive-alice");
    cfg.event_cb = record_cb;
    cfg.user_data = &seen;
    assert_int_equal(e2ee_client_new(&c, &cfg), E2EE_OK);
    assert_int_equal(e2ee_client_connect(c), E2EE_OK);
    assert_int_equal(e2ee_client_create_group_wait(c, "drive-room", CT_WAIT_MS), E2EE_OK);
    assert_int_equal(seen, 1); /* delivered on this thread, before the call returned */
    assert_int_equal(e2ee_client_list_members(c, "drive-room", &list, &n), E2EE_OK);
    assert_int_equal(n, 1);
    assert_string_equal(list[0], "drive-alice");
    e2ee_strv_free(list, n);
    assert_int_equal(e2ee_client_is_connected(c), 1);
    assert_int_equal(e2ee_client_delete_group_wait(c, "drive-room", CT_WAIT_MS), E2EE_OK);
    e2ee_client_free(c);
}

/* No relay answers: blocking calls time out; the attempts are reported and retried. */
static void test_timeout_without_relay(void **state)
{
    struct ct_client *a;
    struct rt_relay gone;
    const struct ct_event *e;
    (void)state;

    assert_int_equal(rt_relay_start(&gone, NULL), 0);
    rt_relay_kill(&gone);
    a = ct_client_new(&gone, "to-alice", &(struct ct_opts){.no_connect = 1});
    assert_int_equal(e2ee_client_connect(a->c), E2EE_OK);
    assert_int_equal(e2ee_client_create_group_wait(a->c, "to-room", 300), E2EE_ERR_TIMEOUT);
    e = ct_wait(a, &(struct ct_match){.type = E2EE_EVENT_DISCONNECT}, CT_WAIT_MS);
    assert_non_null(e);
    assert_int_equal(e->code, E2EE_ERR_CONNECT);
    assert_int_equal(e->will_reconnect, 1);
    assert_true(ct_wait_n(a, &(struct ct_match){.type = E2EE_EVENT_DISCONNECT}, 2, CT_WAIT_MS) >=
                2);
    /* a send still works offline: it waits in the queue */
    assert_int_equal(e2ee_client_send_direct(a->c, "nobody", "later", NULL), E2EE_OK);
    assert_int_equal(e2ee_client_disconnect(a->c), E2EE_OK);
    ct_client_free(a);
    rt_relay_cleanup(&gone);
}

/* The application's own loop: poll() on the client's socket and wake fd, as the header
 * describes; a message goes out and its reply comes in. */
static void test_callers_loop(void **state)
{
    struct ct_client *b = ct_client_new(&g_relay, "poll-bob", NULL);
    struct e2ee_client_config cfg;
    e2ee_client *c = NULL;
    int seen = 0;
    (void)state;

    base_config(&cfg, "poll-alice");
    cfg.event_cb = record_cb; /* counts nothing here; the reply is checked at bob */
    cfg.user_data = &seen;
    assert_int_equal(e2ee_client_new(&c, &cfg), E2EE_OK);
    assert_int_equal(e2ee_client_connect(c), E2EE_OK);
    assert_int_equal(e2ee_client_send_direct(c, "poll-bob", "from a poll loop", NULL), E2EE_OK);
    for (int round = 0; round < 2000 && ct_count(b, &(struct ct_match){
                                                       .type = E2EE_EVENT_DIRECT_TEXT}) == 0;
         round++) {
        struct pollfd p[2] = {{.fd = e2ee_client_socket(c), .events = POLLIN},
                              {.fd = e2ee_client_wake_fd(c), .events = POLLIN}};
        int t = e2ee_client_timeout_ms(c);
        if (e2ee_client_want_write(c))
            p[0].events |= POLLOUT;
        assert_true(t >= 0 && t <= 1000);
        (void)poll(p, 2, t);
        assert_int_equal(e2ee_client_loop(c, 0), E2EE_OK);
    }
    ct_expect(b, &(struct ct_match){.type = E2EE_EVENT_DIRECT_TEXT, .from = "poll-alice",
                                    .text = "from a poll loop"});
    e2ee_client_free(c);
    ct_client_free(b);
}

#define THREADS 8
#define PER_THREAD 25

struct sender_arg {
    e2ee_client *c;
    int index;
    int failures;
};

static void *sender_main(void *p)
{
    struct sender_arg *s = p;
    char text[64];
    for (int i = 0; i < PER_THREAD; i++) {
        snprintf(text, sizeof text, "t%d-%03d", s->index, i);
        if (e2ee_client_send_direct(s->c, "mt-bob", text, NULL) != E2EE_OK)
            s->failures++;
    }
    return NULL;
}

/* Eight threads send at once: every message arrives once, each thread's in its order. */
static void test_threads(void **state)
{
    struct ct_client *a = ct_client_new(&g_relay, "mt-alice", NULL);
    struct ct_client *b = ct_client_new(&g_relay, "mt-bob", NULL);
    pthread_t t[THREADS];
    struct sender_arg args[THREADS];
    int next[THREADS] = {0};
    (void)state;

    for (int i = 0; i < THREADS; i++) {
        args[i] = (struct sender_arg){a->c, i, 0};
        assert_int_equal(pthread_create(&t[i], NULL, sender_main, &args[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(args[i].failures, 0);
    }
    assert_int_equal(ct_wait_n(b, &(struct ct_match){.type = E2EE_EVENT_DIRECT_TEXT},
                               THREADS * PER_THREAD, CT_WAIT_MS),
                     THREADS * PER_THREAD);
    for (size_t k = 0; k < THREADS * PER_THREAD; k++) {
        const struct ct_event *e = ct_nth(b, &(struct ct_match){.type = E2EE_EVENT_DIRECT_TEXT}, k);
        int th = 0, seq = 0;
        assert_int_equal(sscanf(e->text, "t%d-%d", &th, &seq), 2);
        assert_true(th >= 0 && th < THREADS);
        assert_int_equal(seq, next[th]);
        next[th]++;
    }
    assert_int_equal(ct_wait_n(a, &(struct ct_match){.type = E2EE_EVENT_MESSAGE_ACK,
                                                     .state = E2EE_ACK_DELIVERED},
                               THREADS * PER_THREAD, CT_WAIT_MS),
                     THREADS * PER_THREAD);
    ct_client_free(a);
    ct_client_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_arguments),
        cmocka_unit_test(test_in_callback),
        cmocka_unit_test(test_blocking_drives_loop),
        cmocka_unit_test(test_timeout_without_relay),
        cmocka_unit_test(test_callers_loop),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
