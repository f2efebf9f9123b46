/*
 * e2ee relay tests: every configured limit is enforced by the real relay, with the result
 * code (or close code) the protocol documents, and the connection stays usable where the
 * protocol says so: max_group_size, max_groups_per_user, max_queue_msgs, max_queue_bytes
 * (direct and group), max_prekeys, max_requests_per_sec, max_connections,
 * max_unsent_bytes, dedup_window, ping_interval/idle_timeout. (max_frame_size: test_relay_malformed; login_timeout: test_relay_auth;
 * list_users_page and low_prekey_threshold: test_relay_directory.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relaytest.h"
#include "testutil.h"

static struct rt_relay g_relay;

static int setup(void **state)
{
    (void)state;
    struct rt_relay_opts o = {.config = "max_group_size = 3\n"
                                        "max_groups_per_user = 2\n"
                                        "max_queue_msgs = 5\n"
                                        "max_queue_bytes = 4096\n"
                                        "max_prekeys = 5\n"};
    return rt_relay_start(&g_relay, &o);
}

static int teardown(void **state)
{
    (void)state;
    int rc = rt_relay_stop(&g_relay);
    rt_relay_cleanup(&g_relay);
    return rc == 0 ? 0 : -1;
}

static struct rt_client *user(struct rt_relay *r, struct rt_ident *id, const char *uid)
{
    struct rt_client *c = rt_user(r, id, uid);
    assert_non_null(c);
    return c;
}

static void group_size(void **state)
{
    (void)state;
    struct rt_ident ids[4];
    struct rt_client *c[4];
    char uid[16];
    for (int i = 0; i < 4; i++) {
        snprintf(uid, sizeof uid, "gs-%d", i);
        c[i] = user(&g_relay, &ids[i], uid);
    }
    assert_int_equal(rt_create_group(c[0], "small", NULL), 0);
    assert_int_equal(rt_join_group(c[1], "small", NULL), 0);
    assert_int_equal(rt_join_group(c[2], "small", NULL), 0);
    assert_int_equal(rt_join_group(c[3], "small", NULL), E2EE_ERR_LIMIT);
    assert_int_equal(rt_leave_group(c[2], "small"), 0);
    assert_int_equal(rt_join_group(c[3], "small", NULL), 0); /* room again */
    assert_int_equal(rt_delete_group(c[0], "small"), 0);
    for (int i = 0; i < 4; i++)
        rt_close(c[i]);
}

static void groups_per_user(void **state)
{
    (void)state;
    struct rt_ident a, b;
    struct rt_client *ca = user(&g_relay, &a, "gpu-a"), *cb = user(&g_relay, &b, "gpu-b");
    assert_int_equal(rt_create_group(ca, "gpu-1", NULL), 0);
    assert_int_equal(rt_create_group(ca, "gpu-2", NULL), 0);
    assert_int_equal(rt_create_group(ca, "gpu-3", NULL), E2EE_ERR_LIMIT);
    assert_int_equal(rt_create_group(cb, "gpu-3", NULL), 0);
    assert_int_equal(rt_join_group(ca, "gpu-3", NULL), E2EE_ERR_LIMIT);
    assert_int_equal(rt_leave_group(ca, "gpu-1"), 0);
    assert_int_equal(rt_join_group(ca, "gpu-3", NULL), 0);
    rt_close(ca);
    rt_close(cb);
}

static void queue_msgs_direct(void **state)
{
    (void)state;
    struct rt_ident a, b;
    struct rt_client *ca = user(&g_relay, &a, "qm-a"), *cb = user(&g_relay, &b, "qm-b");
    rt_close(cb);
    for (uint64_t i = 1; i <= 5; i++)
        assert_int_equal(rt_send_direct(ca, "qm-b", i, "m", 1, NULL), 0);
    assert_int_equal(rt_send_direct(ca, "qm-b", 6, "m", 1, NULL), E2EE_ERR_QUEUE_FULL);
    /* the recipient drains its inbox: room again */
    cb = rt_connect_login(&g_relay, &b);
    assert_non_null(cb);
    uint64_t last = 0;
    for (int i = 0; i < 5; i++) {
        E2ee__RelayDelivery *d = rt_next_delivery(cb, RT_TIMEOUT_MS);
        assert_non_null(d);
        last = d->seq;
        rt_free_delivery(d);
    }
    assert_int_equal(rt_ack(cb, "", last), 0);
    assert_int_equal(rt_send_direct(ca, "qm-b", 6, "m", 1, NULL), 0);
    rt_close(ca);
    rt_close(cb);
}

static void queue_bytes_direct(void **state)
{
    (void)state;
    struct rt_ident a, b;
    static uint8_t blob[1500];
    struct rt_client *ca = user(&g_relay, &a, "qb-a"), *cb = user(&g_relay, &b, "qb-b");
    rt_close(cb);
    memset(blob, 0x5a, sizeof blob);
    assert_int_equal(rt_send_direct(ca, "qb-b", 1, blob, sizeof blob, NULL), 0);
    assert_int_equal(rt_send_direct(ca, "qb-b", 2, blob, sizeof blob, NULL), 0);
    assert_int_equal(rt_send_direct(ca, "qb-b", 3, blob, sizeof blob, NULL), E2EE_ERR_QUEUE_FULL);
    assert_int_equal(rt_send_direct(ca, "qb-b", 3, blob, 100, NULL), 0); /* a small one fits */
    rt_close(ca);
}

static void queue_group(void **state)
{
    (void)state;
    struct rt_ident a, b;
    uint64_t epoch = 0;
    struct rt_client *ca = user(&g_relay, &a, "qg-a"), *cb = user(&g_relay, &b, "qg-b");
    assert_int_equal(rt_create_group(ca, "qg", NULL), 0);
    assert_int_equal(rt_join_group(cb, "qg", &epoch), 0);
    rt_close(cb);
    for (uint64_t i = 1; i <= 5; i++)
        assert_int_equal(rt_send_group(ca, "qg", epoch, i, "m", 1, 0, NULL, NULL, NULL), 0);
    assert_int_equal(rt_send_group(ca, "qg", epoch, 6, "m", 1, 0, NULL, NULL, NULL),
                     E2EE_ERR_QUEUE_FULL);
    cb = rt_connect_login(&g_relay, &b);
    assert_non_null(cb);
    uint64_t last = 0;
    for (int i = 0; i < 5; i++) {
        E2ee__RelayDelivery *d = rt_next_item(cb, E2EE__RELAY_DELIVERY__ITEM_GROUP_MESSAGE,
                                              RT_TIMEOUT_MS);
        assert_non_null(d);
        last = d->seq;
        rt_free_delivery(d);
    }
    assert_int_equal(rt_ack(cb, "qg", last), 0);
    assert_int_equal(rt_send_group(ca, "qg", epoch, 6, "m", 1, 0, NULL, NULL, NULL), 0);
    assert_int_equal(rt_delete_group(ca, "qg"), 0);
    rt_close(ca);
    rt_close(cb);
}

static void prekeys(void **state)
{
    (void)state;
    struct rt_ident a;
    E2ee__RelayResult *res = NULL;
    struct rt_client *ca = user(&g_relay, &a, "pk-a");
    assert_int_equal(rt_publish(ca, 1, 1, 6, NULL), E2EE_ERR_LIMIT);
    assert_int_equal(rt_publish(ca, 1, 1, 3, NULL), 0);
    assert_int_equal(rt_publish(ca, 1, 10, 3, NULL), E2EE_ERR_LIMIT); /* 3 + 3 > 5 */
    assert_int_equal(rt_publish(ca, 1, 10, 2, &res), 0);
    assert_int_equal(res->prekeys->one_time_prekeys, 5);
    rt_free_result(res);
    rt_close(ca);
}

static void request_rate(void **state)
{
    (void)state;
    struct rt_relay r;
    struct rt_relay_opts o = {.config = "max_requests_per_sec = 5\n"};
    struct rt_ident a;
    enum { N = 60 };
    uint64_t reqs[N];
    int ok = 0, limited = 0;
    assert_int_equal(rt_relay_start(&r, &o), 0);
    rt_ident_new(&a, "rate");
    struct rt_client *c = rt_connect(&r);
    assert_non_null(c);
    rt_set_burst(c, 1);
    for (int i = 0; i < N; i++) {
        E2ee__ClientFrame f = E2EE__CLIENT_FRAME__INIT;
        E2ee__RelayPing p = E2EE__RELAY_PING__INIT;
        f.body_case = E2EE__CLIENT_FRAME__BODY_PING;
        f.ping = &p;
        reqs[i] = rt_send(c, &f);
    }
    for (int i = 0; i < N; i++) {
        E2ee__RelayResult *res = rt_wait_result(c, reqs[i], RT_TIMEOUT_MS);
        assert_non_null(res);
        ok += res->code == 0;
        limited += res->code == E2EE_ERR_RATE_LIMITED;
        rt_free_result(res);
    }
    assert_int_equal(ok + limited, N);
    assert_true(ok >= 5);
    assert_true(limited >= N / 2);
    assert_false(rt_is_closed(c));
    /* the bucket refills: the connection is usable again */
    rt_pump(1200);
    assert_int_equal(rt_login(c, &a), 0);
    rt_close(c);
    assert_int_equal(rt_relay_stop(&r), 0);
    rt_relay_cleanup(&r);
}

static void connections(void **state)
{
    (void)state;
    struct rt_relay r;
    struct rt_relay_opts o = {.config = "max_connections = 3\n"};
    struct rt_client *c[4];
    int code = 0;
    char reason[128];
    assert_int_equal(rt_relay_start(&r, &o), 0);
    for (int i = 0; i < 3; i++) {
        c[i] = rt_connect(&r);
        assert_non_null(c[i]);
    }
    c[3] = rt_connect_ex(&r, "e2ee.v1", 0);
    assert_non_null(c[3]);
    assert_int_equal(rt_wait_close(c[3], RT_TIMEOUT_MS, &code, reason, sizeof reason), 0);
    assert_int_equal(code, 4013);
    assert_non_null(strstr(reason, "max_connections"));
    rt_close(c[3]);
    /* one goes, another may come */
    rt_close(c[0]);
    rt_pump(100);
    c[0] = rt_connect(&r);
    assert_non_null(c[0]);
    for (int i = 0; i < 3; i++)
        assert_int_equal(rt_ping(c[i]), 0);
    for (int i = 0; i < 3; i++)
        rt_close(c[i]);
    assert_int_equal(rt_relay_stop(&r), 0);
    rt_relay_cleanup(&r);
}

static void unsent_bytes(void **state)
{
    (void)state;
    enum { N = 100, SIZE = 200000 };
    struct rt_relay r;
    struct rt_relay_opts o = {.config = "max_frame_size = 262144\n"
                                        "max_unsent_bytes = 600000\n"
                                        "max_queue_bytes = 1073741824\n"
                                        "store_sync = normal\n"};
    struct rt_ident a, b;
    uint8_t *blob = malloc(SIZE);
    assert_non_null(blob);
    memset(blob, 0x33, SIZE);
    assert_int_equal(rt_relay_start(&r, &o), 0);
    struct rt_client *ca = user(&r, &a, "slow-a"), *cb = user(&r, &b, "slow-b");
    rt_pause_reading(cb, 1); /* b never reads */
    int sent = 0;
    for (uint64_t i = 1; i <= N && !rt_is_closed(cb); i++) {
        assert_int_equal(rt_send_direct(ca, "slow-b", i, blob, SIZE, NULL), 0);
        sent++;
    }
    /* the relay gave up on b (its socket backed up past the limit) */
    rt_pause_reading(cb, 0);
    assert_int_equal(rt_wait_close(cb, RT_TIMEOUT_MS, NULL, NULL, 0), 0);
    assert_true(sent < N || rt_is_closed(cb));
    rt_close(cb);
    /* nothing was lost: a reading client gets every message */
    cb = rt_connect_login(&r, &b);
    assert_non_null(cb);
    for (int i = 1; i <= sent; i++) {
        E2ee__RelayDelivery *d = rt_next_delivery(cb, RT_TIMEOUT_MS);
        assert_non_null(d);
        assert_int_equal(d->direct->client_msg_id, (uint64_t)i);
        assert_int_equal(d->direct->ciphertext.len, SIZE);
        if (i % 10 == 0 || i == sent)
            assert_int_equal(rt_ack(cb, "", d->seq), 0);
        rt_free_delivery(d);
    }
    free(blob);
    rt_close(ca);
    rt_close(cb);
    assert_int_equal(rt_relay_stop(&r), 0);
    rt_relay_cleanup(&r);
}

static void dedup_window(void **state)
{
    (void)state;
    struct rt_relay r;
    struct rt_relay_opts o = {.config = "dedup_window = 1\n"};
    struct rt_ident a;
    E2ee__RelayResult *res = NULL;
    uint64_t seq1 = 0;
    assert_int_equal(rt_relay_start(&r, &o), 0);
    struct rt_client *c = user(&r, &a, "dd-a");
    assert_int_equal(rt_send_direct(c, "dd-a", 5, "x", 1, &seq1), 0);
    E2ee__ClientFrame f = E2EE__CLIENT_FRAME__INIT;
    E2ee__RelaySendDirect m = E2EE__RELAY_SEND_DIRECT__INIT;
    m.to = "dd-a";
    m.client_msg_id = 5;
    m.ciphertext.data = (uint8_t *)"x";
    m.ciphertext.len = 1;
    f.body_case = E2EE__CLIENT_FRAME__BODY_SEND_DIRECT;
    f.send_direct = &m;
    assert_int_equal(rt_request(c, &f, &res), 0);
    assert_true(res->sent->duplicate); /* within the window */
    rt_free_result(res);
    rt_pump(2600);
    f.request_id = 0;
    assert_int_equal(rt_request(c, &f, &res), 0);
    assert_false(res->sent->duplicate); /* forgotten after it: stored anew */
    assert_true(res->sent->seq > seq1);
    rt_free_result(res);
    rt_close(c);
    assert_int_equal(rt_relay_stop(&r), 0);
    rt_relay_cleanup(&r);
}

static void idle_timeout(void **state)
{
    (void)state;
    struct rt_relay r;
    struct rt_relay_opts o = {.config = "ping_interval = 1\nidle_timeout = 2\n"};
    struct rt_ident a, b;
    assert_int_equal(rt_relay_start(&r, &o), 0);
    struct rt_client *live = user(&r, &a, "idle-a"), *dead = user(&r, &b, "idle-b");
    rt_pause_reading(dead, 1); /* reads nothing, so answers no ping */
    rt_pump(3500);               /* past idle_timeout */
    rt_pause_reading(dead, 0);   /* now it can see that the relay hung up */
    assert_int_equal(rt_wait_close(dead, RT_TIMEOUT_MS, NULL, NULL, 0), 0);
    /* the client that answers pings (lws does it for us) is still there */
    assert_false(rt_is_closed(live));
    assert_int_equal(rt_ping(live), 0);
    rt_close(live);
    rt_close(dead);
    assert_int_equal(rt_relay_stop(&r), 0);
    rt_relay_cleanup(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(group_size),
        cmocka_unit_test(groups_per_user),
        cmocka_unit_test(queue_msgs_direct),
        cmocka_unit_test(queue_bytes_direct),
        cmocka_unit_test(queue_group),
        cmocka_unit_test(prekeys),
    };
    const struct CMUnitTest own[] = {
        cmocka_unit_test(request_rate),
        cmocka_unit_test(connections),
        cmocka_unit_test(unsent_bytes),
        cmocka_unit_test(dedup_window),
        cmocka_unit_test(idle_timeout),
    };
    int failed = cmocka_run_group_tests_name("relay limits", tests, setup, teardown);
    failed += cmocka_run_group_tests_name("relay limits (own relay)", own, NULL, NULL);
    return failed ? 1 : 0;
}
