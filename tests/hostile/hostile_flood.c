/*
 * e2ee tests, hostile rows: floods and connections that misbehave over time. Requests over
 * max_requests_per_sec are refused and the connection recovers; a reader that never drains
 * is hung up on once max_unsent_bytes pile up (what it missed stays stored); silent or
 * half-closed connections are reaped; connections over max_connections are turned away.
 */
#include <stdlib.h>
#include <string.h>

#include "hostile.h"

/* N ping requests in one write: some are answered OK, the rest RATE_LIMITED, all are
 * answered, and after a pause the connection works again. */
static void request_flood(int authenticated)
{
    enum { N = 3 * H_RATE };
    struct rt_ident id;
    struct rw *c = authenticated ? h_raw_user(&id, "flood") : h_raw_open();
    uint8_t *all = malloc((size_t)N * 32);
    size_t used = 0;
    int ok = 0, limited = 0;
    assert_non_null(all);
    for (int i = 0; i < N; i++) {
        E2ee__ClientFrame *f = h_frame(E2EE__CLIENT_FRAME__BODY_PING, NULL, NULL);
        f->request_id = 1000 + (uint64_t)i;
        size_t n = 0;
        uint8_t *b = h_pack(f, &n);
        struct rw_frame_spec s = {1, 0, RW_OP_BINARY, 1, RW_LEN_MINIMAL, n, b, n};
        used += rw_build(all + used, &s);
        free(b);
    }
    assert_int_equal(rw_write(c, all, used), 0);
    free(all);
    for (int i = 0; i < N; i++) {
        E2ee__RelayResult *r = rw_wait_result(c, 1000 + (uint64_t)i, RT_TIMEOUT_MS);
        assert_non_null(r);
        ok += r->code == 0;
        limited += r->code == E2EE_ERR_RATE_LIMITED;
        rt_free_result(r);
    }
    assert_int_equal(ok + limited, N);
    assert_true(limited >= N / 2);
    rt_pump(1100); /* the bucket refills */
    h_expect_usable(c);
    rw_close(c, 0);
}

/* A logged-in reader that never reads, with a receive buffer of a few KB, is sent far more
 * than max_unsent_bytes: the relay hangs up (1008), and everything stays stored. */
static void slow_reader(int arg)
{
    (void)arg;
    enum { SIZE = 60000, N = 40 };
    struct rt_ident slow, m;
    h_ident(&slow, "slow");
    struct rw *c = rw_tcp_rcvbuf(g_h.port, 4096);
    assert_non_null(c);
    assert_int_equal(rw_handshake(c, "e2ee.v1", NULL), 101);
    assert_int_equal(rw_login(c, &slow), 0);
    struct rt_client *sender = h_user(&m, "sender");
    uint8_t *blob = malloc(SIZE);
    assert_non_null(blob);
    memset(blob, 0x5c, SIZE);
    for (uint64_t i = 1; i <= N; i++)
        assert_int_equal(rt_send_direct(sender, slow.uid, i, blob, SIZE, NULL), 0);
    free(blob);
    h_expect_end(c, 0); /* not reading: the relay drops it without waiting for a close */
    /* nothing was lost: the same user, reading this time, gets all of it */
    struct rt_client *again = rt_connect_login(&g_h.relay, &slow);
    assert_non_null(again);
    uint64_t last = 0;
    for (int i = 1; i <= N; i++) {
        E2ee__RelayDelivery *d = rt_next_item(again, E2EE__RELAY_DELIVERY__ITEM_DIRECT,
                                              RT_TIMEOUT_MS);
        assert_non_null(d);
        assert_int_equal(d->direct->client_msg_id, (uint64_t)i);
        assert_int_equal(d->direct->ciphertext.len, SIZE);
        last = d->seq;
        rt_free_delivery(d);
    }
    assert_int_equal(rt_ack(again, "", last), 0);
    rt_close(again);
    rt_close(sender);
}

/* A client that floods requests and never reads the answers. */
static void flood_without_reading(int arg)
{
    (void)arg;
    enum { N = 150 };
    struct rt_ident id;
    struct rw *c = h_raw_user(&id, "noread");
    uint64_t last = 0;
    for (int i = 0; i < N; i++) {
        E2ee__ClientFrame *f = h_frame(E2EE__CLIENT_FRAME__BODY_LIST_GROUPS, NULL, NULL);
        last = rw_send_client_frame(c, f, 0);
        assert_true(last != 0);
    }
    /* the answers are small: the relay keeps them until read, and the client can still
     * read them all */
    E2ee__RelayResult *r = rw_wait_result(c, last, RT_TIMEOUT_MS);
    assert_non_null(r);
    rt_free_result(r);
    rw_close(c, 0);
}

/* 150 unauthenticated connections held open while the others are served. */
static void many_idle_connections(int arg)
{
    (void)arg;
    enum { N = 150 };
    struct rw *c[N];
    for (int i = 0; i < N; i++) {
        c[i] = rw_open(g_h.port);
        assert_non_null(c[i]);
    }
    assert_int_equal(rt_ping(g_h.cv), 0);
    for (int i = 0; i < N; i++)
        rw_close(c[i], i & 1);
}

/* Past max_connections, new connections are closed with 4013; once some go, others may
 * come again. */
static void over_max_connections(int arg)
{
    (void)arg;
    enum { N = H_MAX_CONNECTIONS + 20 };
    struct rw **c = calloc(N, sizeof *c);
    int refused = 0, accepted = 0;
    assert_non_null(c);
    for (int i = 0; i < N; i++) {
        c[i] = rw_open(g_h.port);
        assert_non_null(c[i]);
    }
    for (int i = 0; i < N; i++) {
        if (rw_challenge(c[i], 2000)) {
            accepted++;
            continue;
        }
        assert_int_equal(rw_wait_closed(c[i], H_CLOSE_WAIT_MS, NULL), 0);
        assert_int_equal(rw_close_code(c[i]), 4013);
        refused++;
    }
    assert_true(refused >= 20);
    assert_true(accepted <= H_MAX_CONNECTIONS);
    for (int i = 0; i < N; i++)
        rw_close(c[i], 0);
    free(c);
    rt_pump(200);
    struct rw *late = h_raw_open(); /* room again */
    rw_close(late, 0);
}

/* Logged in, then silent: answers no ping, so the relay hangs up after idle_timeout. */
static void silent_after_login(int arg)
{
    (void)arg;
    struct rt_ident id;
    struct rw *c = h_raw_user(&id, "silent");
    int64_t deadline = h_now_ms() + (H_IDLE_TIMEOUT_S + 2) * 1000;
    while (h_now_ms() < deadline)
        rt_pump(50); /* the bystanders answer their pings meanwhile */
    h_expect_end(c, 0);
}

/* Half-closed: the client stops sending (FIN); the relay ends the connection. */
static void half_close(int arg)
{
    struct rt_ident id;
    struct rw *c = arg ? h_raw_user(&id, "fin") : h_raw_open();
    rw_shutdown_write(c);
    h_expect_end(c, 0);
}

/* Reset in the middle of a frame. */
static void reset_mid_frame(int arg)
{
    (void)arg;
    struct rt_ident id;
    struct rw *c = h_raw_user(&id, "rst");
    static uint8_t payload[30000];
    memset(payload, 0x22, sizeof payload);
    struct rw_frame_spec s = {1, 0, RW_OP_BINARY, 1, RW_LEN_MINIMAL, sizeof payload, payload,
                              sizeof payload / 2};
    assert_int_equal(rw_send_spec(c, &s), 0);
    rw_close(c, 1);
}

/* A message sent, then the sender resets at once: it is stored and delivered all the same
 * (or was refused whole): the victim never sees a partial or corrupted copy. */
static void reset_after_send(int arg)
{
    (void)arg;
    struct rt_ident id;
    struct rw *c = h_raw_user(&id, "gone");
    E2ee__ClientFrame *f = h_frame(E2EE__CLIENT_FRAME__BODY_SEND_DIRECT, NULL, H_VICTIM);
    f->send_direct->client_msg_id = 4242;
    assert_true(rw_send_client_frame(c, f, 0) != 0);
    rw_close(c, 1);
    E2ee__RelayDelivery *d = rt_next_item(g_h.cv, E2EE__RELAY_DELIVERY__ITEM_DIRECT, 2000);
    if (d) {
        assert_string_equal(d->direct->from, id.uid);
        assert_int_equal(d->direct->client_msg_id, 4242);
        assert_int_equal(d->direct->ciphertext.len, 8);
        assert_int_equal(rt_ack(g_h.cv, "", d->seq), 0);
        rt_free_delivery(d);
    }
}

/* 50 groups created and deleted in a row by one user (tombstones pile up). */
static void group_churn(int arg)
{
    (void)arg;
    struct rt_ident id;
    struct rt_client *c = h_user(&id, "churn");
    char gid[72];
    snprintf(gid, sizeof gid, "%s-g", id.uid);
    for (int i = 0; i < 50; i++) {
        uint64_t epoch = 0;
        assert_int_equal(rt_create_group(c, gid, &epoch), 0);
        assert_int_equal(epoch, (uint64_t)(2 * i + 1)); /* a re-created group goes on */
        assert_int_equal(rt_delete_group(c, gid), 0);
    }
    rt_close(c);
}

/* An account deleted while its user holds a second request in flight. */
static void delete_account_mid_flight(int arg)
{
    (void)arg;
    struct rt_ident id;
    struct rw *c = h_raw_user(&id, "del");
    uint64_t del = rw_send_client_frame(
        c, h_frame(E2EE__CLIENT_FRAME__BODY_DELETE_ACCOUNT, NULL, id.uid), 0);
    (void)rw_send_client_frame(c, h_frame(E2EE__CLIENT_FRAME__BODY_SEND_DIRECT, NULL, H_VICTIM),
                               0);
    E2ee__RelayResult *r = rw_wait_result(c, del, RT_TIMEOUT_MS);
    assert_non_null(r);
    assert_int_equal(r->code, 0);
    rt_free_result(r);
    h_expect_end(c, 1000);
    /* what came after the deletion was not stored */
    E2ee__RelayDelivery *d = rt_next_item(g_h.cv, E2EE__RELAY_DELIVERY__ITEM_DIRECT, 300);
    assert_null(d);
}

const struct h_row k_rows_flood[] = {
    {"flood: 3x the request rate, logged in", request_flood, 1},
    {"flood: 3x the request rate, before login", request_flood, 0},
    {"flood: a reader that never drains", slow_reader, 0},
    {"flood: 150 requests without reading", flood_without_reading, 0},
    {"flood: 150 idle connections held open", many_idle_connections, 0},
    {"flood: max_connections + 20 connections", over_max_connections, 0},
    {"idle: silent after login (idle_timeout)", silent_after_login, 0},
    {"tcp: half-closed before login", half_close, 0},
    {"tcp: half-closed after login", half_close, 1},
    {"tcp: reset in the middle of a frame", reset_mid_frame, 0},
    {"tcp: reset right after a send", reset_after_send, 0},
    {"flood: 50 groups created and deleted", group_churn, 0},
    {"flood: a request behind an account deletion", delete_account_mid_flight, 0},
    {NULL, NULL, 0},
};
