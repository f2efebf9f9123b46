/*
 * e2ee relay tests for the paths the performance work changed, on the real relay:
 *  - a group's head survives a restart after the log was trimmed empty (messages no longer
 *    rewrite the group row; the store derives the head from the log, and trimming records
 *    it first), so sequence numbers are never reused;
 *  - each member's backlog (max_queue_msgs) is rebuilt from the in-memory log index at
 *    start, and acks shrink it by exactly the messages they cover (counted in memory);
 *  - pairwise payloads are deleted when their member acks them, also after a restart
 *    (the relay learns which members have payloads from the store);
 *  - an ack without a result (request id 0) moves the cursor in memory: it frees the
 *    member's queue at once, and its cursor reaches the store (here: at a clean stop).
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relaytest.h"
#include "testutil.h"

#define GC_WAIT_MS 1500 /* the relay trims logs every 0.5 s */

static struct rt_client *user(struct rt_relay *r, struct rt_ident *id, const char *uid)
{
    struct rt_client *c = rt_user(r, id, uid);
    assert_non_null(c);
    return c;
}

static long long sql_int(const char *path, const char *query)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    long long v = -1;
    if (sqlite3_open(path, &db) == SQLITE_OK &&
        sqlite3_prepare_v2(db, query, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

/* Takes deliveries of c until one of group gid with seq `seq` arrived; returns it. */
static E2ee__RelayDelivery *until_seq(struct rt_client *c, const char *gid, uint64_t seq)
{
    for (;;) {
        E2ee__RelayDelivery *d = rt_next_delivery(c, RT_TIMEOUT_MS);
        assert_non_null(d);
        if (strcmp(d->group_id, gid) == 0 && d->seq == seq)
            return d;
        assert_true(d->seq < seq || strcmp(d->group_id, gid) != 0);
        rt_free_delivery(d);
    }
}

static void skip_to(struct rt_client *c, const char *gid, uint64_t seq)
{
    rt_free_delivery(until_seq(c, gid, seq));
}

static uint64_t sent_seq(struct rt_client *c, const char *gid, uint64_t epoch, uint64_t cmid)
{
    E2ee__RelayResult *res = NULL;
    assert_int_equal(rt_send_group(c, gid, epoch, cmid, "m", 1, 0, NULL, NULL, &res), 0);
    assert_non_null(res);
    assert_int_equal(res->body_case, E2EE__RELAY_RESULT__BODY_SENT);
    uint64_t seq = res->sent->seq;
    rt_free_result(res);
    return seq;
}

static void head_survives_trim_and_restart(void **state)
{
    (void)state;
    struct rt_relay r;
    struct rt_ident a, b;
    uint64_t epoch = 0;
    assert_int_equal(rt_relay_start(&r, NULL), 0);
    struct rt_client *ca = user(&r, &a, "h-a"), *cb = user(&r, &b, "h-b");
    assert_int_equal(rt_create_group(ca, "h", NULL), 0);         /* seq 1 */
    assert_int_equal(rt_join_group(cb, "h", &epoch), 0);         /* seq 2 */
    skip_to(ca, "h", 2);
    assert_int_equal(rt_ack(ca, "h", 2), 0);
    for (uint64_t i = 1; i <= 3; i++)                            /* seqs 3..5 */
        assert_int_equal(sent_seq(ca, "h", epoch, i), 2 + i);
    skip_to(cb, "h", 5);
    assert_int_equal(rt_ack(cb, "h", 5), 0);
    rt_pump(GC_WAIT_MS);
    rt_close(ca);
    rt_close(cb);
    assert_int_equal(rt_relay_stop(&r), 0);
    /* every member acked everything: the log is empty, the head is in the group row */
    assert_int_equal(sql_int(r.store, "SELECT COUNT(*) FROM group_log WHERE gid='h'"), 0);
    assert_int_equal(sql_int(r.store, "SELECT head FROM groups WHERE gid='h'"), 5);
    assert_int_equal(rt_relay_restart(&r), 0);
    ca = rt_connect_login(&r, &a);
    assert_non_null(ca);
    assert_int_equal(sent_seq(ca, "h", epoch, 4), 6); /* not a reused seq */
    rt_close(ca);
    assert_int_equal(rt_relay_stop(&r), 0);
    rt_relay_cleanup(&r);
}

static void backlog_rebuilt_and_acked_exactly(void **state)
{
    (void)state;
    struct rt_relay r;
    struct rt_relay_opts o = {.config = "max_queue_msgs = 5\n"};
    struct rt_ident a, b;
    uint64_t epoch = 0, cmid = 0;
    assert_int_equal(rt_relay_start(&r, &o), 0);
    struct rt_client *ca = user(&r, &a, "q-a"), *cb = user(&r, &b, "q-b");
    assert_int_equal(rt_create_group(ca, "q", NULL), 0);         /* seq 1 */
    assert_int_equal(rt_join_group(cb, "q", &epoch), 0);         /* seq 2 */
    rt_close(cb);
    for (int i = 0; i < 5; i++)                                  /* seqs 3..7 */
        assert_int_equal(sent_seq(ca, "q", epoch, ++cmid), 3 + (uint64_t)i);
    assert_int_equal(rt_send_group(ca, "q", epoch, cmid + 1, "m", 1, 0, NULL, NULL, NULL),
                     E2EE_ERR_QUEUE_FULL);
    rt_close(ca);
    assert_int_equal(rt_relay_stop(&r), 0);
    assert_int_equal(rt_relay_restart(&r), 0);
    ca = rt_connect_login(&r, &a);
    assert_non_null(ca);
    /* the backlog was rebuilt at start */
    assert_int_equal(rt_send_group(ca, "q", epoch, cmid + 1, "m", 1, 0, NULL, NULL, NULL),
                     E2EE_ERR_QUEUE_FULL);
    cb = rt_connect_login(&r, &b);
    assert_non_null(cb);
    skip_to(cb, "q", 5);
    assert_int_equal(rt_ack(cb, "q", 5), 0); /* covers 3 messages (and the join event) */
    for (int i = 0; i < 3; i++)
        assert_int_equal(rt_send_group(ca, "q", epoch, ++cmid, "m", 1, 0, NULL, NULL, NULL), 0);
    assert_int_equal(rt_send_group(ca, "q", epoch, cmid + 1, "m", 1, 0, NULL, NULL, NULL),
                     E2EE_ERR_QUEUE_FULL);
    rt_close(ca);
    rt_close(cb);
    assert_int_equal(rt_relay_stop(&r), 0);
    rt_relay_cleanup(&r);
}

static void pairwise_dropped_on_ack(void **state)
{
    (void)state;
    struct rt_relay r;
    struct rt_ident a, b;
    uint64_t epoch = 0;
    const char *to[1] = {"p-b"}, *pw1[1] = {"pw-one"}, *pw2[1] = {"pw-two"};
    assert_int_equal(rt_relay_start(&r, NULL), 0);
    struct rt_client *ca = user(&r, &a, "p-a"), *cb = user(&r, &b, "p-b");
    assert_int_equal(rt_create_group(ca, "p", NULL), 0);         /* seq 1 */
    assert_int_equal(rt_join_group(cb, "p", &epoch), 0);         /* seq 2 */
    assert_int_equal(rt_send_group(ca, "p", epoch, 1, "m", 1, 1, to, pw1, NULL), 0); /* 3 */
    E2ee__RelayDelivery *d = until_seq(cb, "p", 3);
    assert_int_equal(d->pairwise.len, strlen("pw-one"));
    rt_free_delivery(d);
    assert_int_equal(rt_ack(cb, "p", 3), 0);
    assert_int_equal(rt_send_group(ca, "p", epoch, 2, "m", 1, 1, to, pw2, NULL), 0); /* 4 */
    skip_to(cb, "p", 4); /* delivered, not acked */
    rt_close(ca);
    rt_close(cb);
    assert_int_equal(rt_relay_stop(&r), 0);
    /* the acked payload is gone, the other one is kept */
    assert_int_equal(sql_int(r.store, "SELECT COUNT(*) FROM group_pairwise WHERE gid='p'"), 1);
    assert_int_equal(rt_relay_restart(&r), 0);
    cb = rt_connect_login(&r, &b);
    assert_non_null(cb);
    d = until_seq(cb, "p", 4);
    assert_int_equal(d->pairwise.len, strlen("pw-two"));
    assert_memory_equal(d->pairwise.data, "pw-two", strlen("pw-two"));
    rt_free_delivery(d);
    assert_int_equal(rt_ack(cb, "p", 4), 0);
    rt_close(cb);
    assert_int_equal(rt_relay_stop(&r), 0);
    assert_int_equal(sql_int(r.store, "SELECT COUNT(*) FROM group_pairwise WHERE gid='p'"), 0);
    rt_relay_cleanup(&r);
}

/* Sends ack{gid, seq} with request id 0: no result comes back. */
static void ack_no_result(struct rt_client *c, const char *gid, uint64_t seq)
{
    E2ee__ClientFrame f = E2EE__CLIENT_FRAME__INIT;
    E2ee__RelayAck ack = E2EE__RELAY_ACK__INIT;
    E2ee__RelayAckItem item = E2EE__RELAY_ACK_ITEM__INIT;
    E2ee__RelayAckItem *items[1] = {&item};
    uint8_t buf[256];
    item.group_id = (char *)gid;
    item.seq = seq;
    ack.items = items;
    ack.n_items = 1;
    f.request_id = 0;
    f.body_case = E2EE__CLIENT_FRAME__BODY_ACK;
    f.ack = &ack;
    size_t n = e2ee__client_frame__get_packed_size(&f);
    assert_true(n <= sizeof buf);
    assert_int_equal(e2ee__client_frame__pack(&f, buf), n);
    rt_send_raw(c, buf, n, 1);
}

static void resultless_ack(void **state)
{
    (void)state;
    struct rt_relay r;
    struct rt_relay_opts o = {.config = "max_queue_msgs = 3\n"};
    struct rt_ident a, b;
    uint64_t epoch = 0;
    assert_int_equal(rt_relay_start(&r, &o), 0);
    struct rt_client *ca = user(&r, &a, "n-a"), *cb = user(&r, &b, "n-b");
    assert_int_equal(rt_create_group(ca, "n", NULL), 0);         /* seq 1 */
    assert_int_equal(rt_join_group(cb, "n", &epoch), 0);         /* seq 2 */
    for (uint64_t i = 1; i <= 3; i++)                            /* seqs 3..5 */
        assert_int_equal(sent_seq(ca, "n", epoch, i), 2 + i);
    assert_int_equal(rt_send_group(ca, "n", epoch, 4, "m", 1, 0, NULL, NULL, NULL),
                     E2EE_ERR_QUEUE_FULL);
    skip_to(cb, "n", 5);
    ack_no_result(cb, "n", 5);
    assert_int_equal(rt_ping(cb), 0); /* frames of a connection are handled in order */
    assert_int_equal(rt_send_group(ca, "n", epoch, 4, "m", 1, 0, NULL, NULL, NULL), 0);
    rt_close(ca);
    rt_close(cb);
    assert_int_equal(rt_relay_stop(&r), 0);
    assert_int_equal(sql_int(r.store, "SELECT cursor FROM members WHERE gid='n' AND uid='n-b'"),
                     5);
    rt_relay_cleanup(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(head_survives_trim_and_restart),
        cmocka_unit_test(backlog_rebuilt_and_acked_exactly),
        cmocka_unit_test(pairwise_dropped_on_ack),
        cmocka_unit_test(resultless_ack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
