/*
 * e2ee relay tests: direct messages against the real relay. Live delivery, order per
 * sender and batching, offline delivery at the next login, cumulative acks (nothing acked
 * comes back), idempotent resends, delivered receipts, and the refusals.
 */
#include <stdio.h>
#include <string.h>

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
    int rc = rt_relay_stop(&g_relay);
    rt_relay_cleanup(&g_relay);
    return rc == 0 ? 0 : -1;
}

static struct rt_client *user(struct rt_ident *id, const char *uid)
{
    return rt_user(&g_relay, id, uid);
}

static void expect_direct(struct rt_client *c, const char *from, uint64_t cmid,
                          const char *text, uint64_t *seq)
{
    E2ee__RelayDelivery *d = rt_next_delivery(c, RT_TIMEOUT_MS);
    assert_non_null(d);
    assert_int_equal(d->item_case, E2EE__RELAY_DELIVERY__ITEM_DIRECT);
    assert_string_equal(d->group_id, "");
    assert_string_equal(d->direct->from, from);
    assert_int_equal(d->direct->from_device, 1);
    assert_int_equal(d->direct->client_msg_id, cmid);
    assert_int_equal(d->direct->ciphertext.len, strlen(text));
    assert_memory_equal(d->direct->ciphertext.data, text, strlen(text));
    assert_true(d->time_ms > 0);
    if (seq)
        *seq = d->seq;
    rt_free_delivery(d);
}

static void live_delivery(void **state)
{
    (void)state;
    struct rt_ident a, b;
    struct rt_client *ca = user(&a, "d-alice"), *cb = user(&b, "d-bob");
    uint64_t seq = 0, got = 0;
    assert_non_null(ca);
    assert_non_null(cb);
    assert_int_equal(rt_send_direct(ca, "d-bob", 11, "hello", 5, &seq), 0);
    assert_int_equal(seq, 1);
    expect_direct(cb, "d-alice", 11, "hello", &got);
    assert_int_equal(got, 1);
    assert_int_equal(rt_ack(cb, "", 1), 0);
    /* the sender gets no receipt: bob did not ask for acks */
    assert_int_equal(rt_ping(ca), 0);
    assert_int_equal(rt_pending_deliveries(ca), 0);
    rt_close(ca);
    rt_close(cb);
}

static void order_and_batching(void **state)
{
    (void)state;
    enum { N = 200 };
    struct rt_ident a, b;
    struct rt_client *ca = user(&a, "o-alice"), *cb = user(&b, "o-bob");
    uint64_t reqs[N];
    char text[32];
    assert_non_null(ca);
    assert_non_null(cb);
    /* pipelined: all frames out, then the results */
    for (int i = 0; i < N; i++) {
        E2ee__ClientFrame f = E2EE__CLIENT_FRAME__INIT;
        E2ee__RelaySendDirect m = E2EE__RELAY_SEND_DIRECT__INIT;
        snprintf(text, sizeof text, "msg-%d", i);
        m.to = "o-bob";
        m.client_msg_id = 1000 + (uint64_t)i;
        m.ciphertext.data = (uint8_t *)text;
        m.ciphertext.len = strlen(text);
        f.body_case = E2EE__CLIENT_FRAME__BODY_SEND_DIRECT;
        f.send_direct = &m;
        reqs[i] = rt_send(ca, &f);
    }
    for (int i = 0; i < N; i++) {
        E2ee__RelayResult *r = rt_wait_result(ca, reqs[i], RT_TIMEOUT_MS);
        assert_non_null(r);
        assert_int_equal(r->code, 0);
        assert_int_equal(r->sent->seq, (uint64_t)i + 1);
        rt_free_result(r);
    }
    uint64_t seq = 0;
    for (int i = 0; i < N; i++) {
        snprintf(text, sizeof text, "msg-%d", i);
        expect_direct(cb, "o-alice", 1000 + (uint64_t)i, text, &seq);
        assert_int_equal(seq, (uint64_t)i + 1);
    }
    /* deliveries share frames */
    assert_true(rt_delivery_frames(cb) < N);
    assert_int_equal(rt_ack(cb, "", N), 0);
    rt_close(ca);
    rt_close(cb);
}

static void offline_delivery_and_acks(void **state)
{
    (void)state;
    struct rt_ident a, c;
    struct rt_client *ca = user(&a, "f-alice");
    struct rt_client *cc = user(&c, "f-carol");
    E2ee__RelayResult *res = NULL;
    char text[16];
    assert_non_null(ca);
    assert_non_null(cc);
    rt_close(cc); /* carol goes offline */
    for (int i = 1; i <= 5; i++) {
        snprintf(text, sizeof text, "m%d", i);
        assert_int_equal(rt_send_direct(ca, "f-carol", (uint64_t)i, text, strlen(text), NULL), 0);
    }
    cc = rt_connect(&g_relay);
    assert_non_null(cc);
    assert_int_equal(rt_login_ex(cc, &c, NULL, 0, 0, &res), 0);
    assert_int_equal(res->login->inbox_pending, 5);
    rt_free_result(res);
    for (int i = 1; i <= 5; i++) {
        snprintf(text, sizeof text, "m%d", i);
        expect_direct(cc, "f-alice", (uint64_t)i, text, NULL);
    }
    assert_int_equal(rt_ack(cc, "", 3), 0);
    rt_close(cc);
    /* reconnect: only what was not acked comes again */
    cc = rt_connect_login(&g_relay, &c);
    assert_non_null(cc);
    expect_direct(cc, "f-alice", 4, "m4", NULL);
    expect_direct(cc, "f-alice", 5, "m5", NULL);
    assert_int_equal(rt_ack(cc, "", 5), 0);
    rt_close(cc);
    cc = rt_connect_login(&g_relay, &c);
    assert_non_null(cc);
    assert_int_equal(rt_ping(cc), 0);
    rt_pump(100);
    assert_int_equal(rt_pending_deliveries(cc), 0);
    rt_close(cc);
    rt_close(ca);
}

static void idempotent_resend(void **state)
{
    (void)state;
    struct rt_ident a, b;
    struct rt_client *ca = user(&a, "i-alice"), *cb = user(&b, "i-bob");
    E2ee__RelayResult *res = NULL;
    uint64_t seq1 = 0;
    assert_non_null(ca);
    assert_non_null(cb);
    assert_int_equal(rt_send_direct(ca, "i-bob", 77, "once", 4, &seq1), 0);
    /* the same client message id again (a retry after a reconnect) */
    E2ee__ClientFrame f = E2EE__CLIENT_FRAME__INIT;
    E2ee__RelaySendDirect m = E2EE__RELAY_SEND_DIRECT__INIT;
    m.to = "i-bob";
    m.client_msg_id = 77;
    m.ciphertext.data = (uint8_t *)"once";
    m.ciphertext.len = 4;
    f.body_case = E2EE__CLIENT_FRAME__BODY_SEND_DIRECT;
    f.send_direct = &m;
    assert_int_equal(rt_request(ca, &f, &res), 0);
    assert_true(res->sent->duplicate);
    assert_int_equal(res->sent->seq, seq1);
    rt_free_result(res);
    /* after a reconnect too */
    rt_close(ca);
    ca = rt_connect_login(&g_relay, &a);
    assert_non_null(ca);
    f.request_id = 0;
    assert_int_equal(rt_request(ca, &f, &res), 0);
    assert_true(res->sent->duplicate);
    rt_free_result(res);
    /* the same id for another recipient is a client error */
    assert_int_equal(rt_send_direct(ca, "i-alice", 77, "x", 1, NULL), E2EE_ERR_EXISTS);
    expect_direct(cb, "i-alice", 77, "once", NULL);
    assert_int_equal(rt_ping(cb), 0);
    rt_pump(50);
    assert_int_equal(rt_pending_deliveries(cb), 0);
    rt_close(ca);
    rt_close(cb);
}

static void delivered_receipts(void **state)
{
    (void)state;
    struct rt_ident a, d;
    struct rt_client *ca = user(&a, "r-alice");
    rt_ident_new(&d, "r-dave");
    struct rt_client *cd = rt_connect(&g_relay);
    uint64_t seq = 0;
    assert_non_null(ca);
    assert_non_null(cd);
    assert_int_equal(rt_login_ex(cd, &d, NULL, 1, 0, NULL), 0); /* ack_direct on */
    assert_int_equal(rt_send_direct(ca, "r-dave", 5, "a", 1, NULL), 0);
    assert_int_equal(rt_send_direct(ca, "r-dave", 6, "b", 1, NULL), 0);
    assert_int_equal(rt_send_direct(ca, "r-dave", 7, "c", 1, &seq), 0);
    for (int i = 0; i < 3; i++)
        rt_free_delivery(rt_next_delivery(cd, RT_TIMEOUT_MS));
    assert_int_equal(rt_ack(cd, "", seq), 0);
    E2ee__RelayDelivery *r = rt_next_delivery(ca, RT_TIMEOUT_MS);
    assert_non_null(r);
    assert_int_equal(r->item_case, E2EE__RELAY_DELIVERY__ITEM_RECEIPT);
    assert_int_equal(r->receipt->state, E2EE__RELAY_RECEIPT_STATE__RELAY_RECEIPT_DELIVERED);
    assert_string_equal(r->receipt->recipient, "r-dave");
    assert_string_equal(r->receipt->group_id, "");
    assert_int_equal(r->receipt->n_client_msg_ids, 3);
    assert_int_equal(r->receipt->client_msg_ids[0], 5);
    assert_int_equal(r->receipt->client_msg_ids[2], 7);
    uint64_t rseq = r->seq;
    rt_free_delivery(r);
    assert_int_equal(rt_ack(ca, "", rseq), 0);

    /* the sender offline: the receipt waits for its next login */
    rt_close(ca);
    ca = rt_connect_login(&g_relay, &a);
    assert_non_null(ca);
    assert_int_equal(rt_send_direct(ca, "r-dave", 8, "d", 1, &seq), 0);
    rt_close(ca);
    rt_free_delivery(rt_next_delivery(cd, RT_TIMEOUT_MS));
    assert_int_equal(rt_ack(cd, "", seq), 0);
    ca = rt_connect_login(&g_relay, &a);
    assert_non_null(ca);
    r = rt_next_delivery(ca, RT_TIMEOUT_MS);
    assert_non_null(r);
    assert_int_equal(r->item_case, E2EE__RELAY_DELIVERY__ITEM_RECEIPT);
    assert_int_equal(r->receipt->n_client_msg_ids, 1);
    assert_int_equal(r->receipt->client_msg_ids[0], 8);
    rt_free_delivery(r);
    rt_close(ca);
    rt_close(cd);
}

static void refusals(void **state)
{
    (void)state;
    struct rt_ident a;
    struct rt_client *ca = user(&a, "x-alice");
    assert_non_null(ca);
    assert_int_equal(rt_send_direct(ca, "nobody-here", 1, "x", 1, NULL), E2EE_ERR_NO_SUCH_USER);
    assert_int_equal(rt_send_direct(ca, "bad id", 1, "x", 1, NULL), E2EE_ERR_ARG);
    assert_int_equal(rt_send_direct(ca, "x-alice", 0, "x", 1, NULL), E2EE_ERR_ARG);
    assert_int_equal(rt_send_direct(ca, "x-alice", 1, "", 0, NULL), E2EE_ERR_ARG);
    /* acking what was never delivered */
    assert_int_equal(rt_ack(ca, "", 5), E2EE_ERR_RANGE);
    assert_int_equal(rt_ack(ca, "no-such-group", 1), E2EE_ERR_NOT_MEMBER);
    /* to oneself works, and the connection is fine after all the refusals */
    assert_int_equal(rt_send_direct(ca, "x-alice", 2, "me", 2, NULL), 0);
    expect_direct(ca, "x-alice", 2, "me", NULL);
    rt_close(ca);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(live_delivery),
        cmocka_unit_test(order_and_batching),
        cmocka_unit_test(offline_delivery_and_acks),
        cmocka_unit_test(idempotent_resend),
        cmocka_unit_test(delivered_receipts),
        cmocka_unit_test(refusals),
    };
    return cmocka_run_group_tests_name("relay direct", tests, setup, teardown);
}
