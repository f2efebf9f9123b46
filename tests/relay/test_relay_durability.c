/*
 * e2ee relay tests: durability and the process. A relay killed with SIGKILL and restarted
 * loses nothing it acked and re-delivers nothing the client acked (direct and group
 * streams, and under load); many requests share one commit; SIGTERM closes clients with
 * "going away" and exits 0; the relay id survives restarts; a second relay cannot open a
 * store in use; the schema migrates forward and a newer schema is refused; bad
 * configurations exit with status 2.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "relaytest.h"
#include "testutil.h"

static void send_text(struct rt_client *c, const char *to, uint64_t cmid)
{
    char text[32];
    snprintf(text, sizeof text, "text-%llu", (unsigned long long)cmid);
    assert_int_equal(rt_send_direct(c, to, cmid, text, strlen(text), NULL), 0);
}

static void kill_restart_direct_and_group(void **state)
{
    (void)state;
    struct rt_relay r;
    struct rt_ident a, b;
    uint64_t epoch = 0;
    assert_int_equal(rt_relay_start(&r, NULL), 0);
    struct rt_client *ca = rt_user(&r, &a, "k-alice"), *cb = rt_user(&r, &b, "k-bob");
    assert_non_null(ca);
    assert_non_null(cb);
    assert_int_equal(rt_create_group(ca, "k-group", NULL), 0);
    assert_int_equal(rt_join_group(cb, "k-group", &epoch), 0);
    rt_close(cb);
    for (uint64_t i = 1; i <= 30; i++)
        send_text(ca, "k-bob", i);
    for (uint64_t i = 1; i <= 10; i++)
        assert_int_equal(rt_send_group(ca, "k-group", epoch, 100 + i, "g", 1, 0, NULL, NULL,
                                       NULL), 0);
    cb = rt_connect_login(&r, &b);
    assert_non_null(cb);
    uint64_t inbox_ack = 0, group_ack = 0;
    int direct = 0, group = 0;
    while (direct < 30 || group < 10) {
        E2ee__RelayDelivery *d = rt_next_delivery(cb, RT_TIMEOUT_MS);
        assert_non_null(d);
        if (d->item_case == E2EE__RELAY_DELIVERY__ITEM_DIRECT && ++direct == 12)
            inbox_ack = d->seq;
        if (d->item_case == E2EE__RELAY_DELIVERY__ITEM_GROUP_MESSAGE && ++group == 4)
            group_ack = d->seq;
        rt_free_delivery(d);
    }
    assert_int_equal(rt_ack(cb, "", inbox_ack), 0);
    assert_int_equal(rt_ack(cb, "k-group", group_ack), 0);

    rt_relay_kill(&r);
    rt_close(ca);
    rt_close(cb);
    assert_int_equal(rt_relay_restart(&r), 0);

    cb = rt_connect_login(&r, &b);
    assert_non_null(cb);
    uint64_t next_direct = 13;
    int group_left = 6;
    while (next_direct <= 30 || group_left) {
        E2ee__RelayDelivery *d = rt_next_delivery(cb, RT_TIMEOUT_MS);
        assert_non_null(d);
        if (d->item_case == E2EE__RELAY_DELIVERY__ITEM_DIRECT) {
            assert_true(d->seq > inbox_ack);
            assert_int_equal(d->direct->client_msg_id, next_direct); /* in order, none lost */
            next_direct++;
        } else if (d->item_case == E2EE__RELAY_DELIVERY__ITEM_GROUP_MESSAGE) {
            assert_true(d->seq > group_ack);
            assert_int_equal(d->group_message->client_msg_id, 100 + 4 + (6 - group_left) + 1);
            group_left--;
        }
        rt_free_delivery(d);
    }
    assert_int_equal(rt_ping(cb), 0);
    rt_pump(100);
    assert_int_equal(rt_pending_deliveries(cb), 0);
    /* the sender's retry after the crash is recognised */
    ca = rt_connect_login(&r, &a);
    assert_non_null(ca);
    E2ee__ClientFrame f = E2EE__CLIENT_FRAME__INIT;
    E2ee__RelaySendDirect m = E2EE__RELAY_SEND_DIRECT__INIT;
    E2ee__RelayResult *res = NULL;
    m.to = "k-bob";
    m.client_msg_id = 30;
    m.ciphertext.data = (uint8_t *)"text-30";
    m.ciphertext.len = 7;
    f.body_case = E2EE__CLIENT_FRAME__BODY_SEND_DIRECT;
    f.send_direct = &m;
    assert_int_equal(rt_request(ca, &f, &res), 0);
    assert_true(res->sent->duplicate);
    rt_free_result(res);
    rt_close(ca);
    rt_close(cb);
    assert_int_equal(rt_relay_stop(&r), 0);
    rt_relay_cleanup(&r);
}

static void kill_under_load(void **state)
{
    (void)state;
    enum { N = 400 };
    struct rt_relay r;
    struct rt_ident a, b;
    static uint64_t reqs[N];
    static int acked[N + 1], seen[N + 1];
    assert_int_equal(rt_relay_start(&r, NULL), 0);
    struct rt_client *ca = rt_user(&r, &a, "l-alice"), *cb = rt_user(&r, &b, "l-bob");
    assert_non_null(ca);
    assert_non_null(cb);
    rt_close(cb);
    memset(acked, 0, sizeof acked);
    memset(seen, 0, sizeof seen);
    for (int i = 0; i < N; i++) {
        E2ee__ClientFrame f = E2EE__CLIENT_FRAME__INIT;
        E2ee__RelaySendDirect m = E2EE__RELAY_SEND_DIRECT__INIT;
        m.to = "l-bob";
        m.client_msg_id = (uint64_t)i + 1;
        m.ciphertext.data = (uint8_t *)"payload";
        m.ciphertext.len = 7;
        f.body_case = E2EE__CLIENT_FRAME__BODY_SEND_DIRECT;
        f.send_direct = &m;
        reqs[i] = rt_send(ca, &f);
    }
    /* take results until half are in, then kill the relay mid-stream */
    int got = 0;
    for (int i = 0; i < N && got < N / 2; i++) {
        E2ee__RelayResult *res = rt_wait_result(ca, reqs[i], RT_TIMEOUT_MS);
        assert_non_null(res);
        assert_int_equal(res->code, 0);
        acked[i + 1] = 1;
        got++;
        rt_free_result(res);
    }
    rt_relay_kill(&r);
    /* results that arrived before the kill count as acked too */
    for (int i = got; i < N; i++) {
        E2ee__RelayResult *res = rt_wait_result(ca, reqs[i], 0);
        if (res && res->code == 0)
            acked[i + 1] = 1;
        rt_free_result(res);
    }
    rt_close(ca);
    assert_int_equal(rt_relay_restart(&r), 0);
    cb = rt_connect_login(&r, &b);
    assert_non_null(cb);
    uint64_t last = 0;
    for (;;) {
        E2ee__RelayDelivery *d = rt_next_delivery(cb, 1000);
        if (!d)
            break;
        uint64_t id = d->direct->client_msg_id;
        assert_true(id >= 1 && id <= N);
        assert_false(seen[id]); /* never twice */
        assert_true(id > last); /* in order */
        seen[id] = 1;
        last = id;
        rt_free_delivery(d);
    }
    for (int i = 1; i <= N; i++) {
        if (acked[i])
            assert_true(seen[i]); /* nothing acked is lost */
    }
    rt_close(cb);
    assert_int_equal(rt_relay_stop(&r), 0);
    rt_relay_cleanup(&r);
}

static void group_commit(void **state)
{
    (void)state;
    enum { N = 200 };
    struct rt_relay r;
    struct rt_relay_opts o = {.metrics = 1};
    struct rt_ident a, b;
    char *body = NULL;
    assert_int_equal(rt_relay_start(&r, &o), 0);
    struct rt_client *ca = rt_user(&r, &a, "c-alice"), *cb = rt_user(&r, &b, "c-bob");
    assert_non_null(ca);
    assert_non_null(cb);
    assert_int_equal(rt_http_get(r.metrics_port, "/metrics", &body), 200);
    double commits0 = rt_metric(body, "e2ee_relay_store_commits_total");
    free(body);
    rt_set_burst(ca, 1);
    uint64_t last = 0;
    for (int i = 0; i < N; i++) {
        E2ee__ClientFrame f = E2EE__CLIENT_FRAME__INIT;
        E2ee__RelaySendDirect m = E2EE__RELAY_SEND_DIRECT__INIT;
        m.to = "c-bob";
        m.client_msg_id = (uint64_t)i + 1;
        m.ciphertext.data = (uint8_t *)"x";
        m.ciphertext.len = 1;
        f.body_case = E2EE__CLIENT_FRAME__BODY_SEND_DIRECT;
        f.send_direct = &m;
        last = rt_send(ca, &f);
    }
    E2ee__RelayResult *res = rt_wait_result(ca, last, RT_TIMEOUT_MS);
    assert_non_null(res);
    assert_int_equal(res->code, 0);
    rt_free_result(res);
    assert_int_equal(rt_http_get(r.metrics_port, "/metrics", &body), 200);
    double commits = rt_metric(body, "e2ee_relay_store_commits_total") - commits0;
    double stored = rt_metric(body, "e2ee_relay_direct_messages_total");
    free(body);
    assert_true(stored == N);
    assert_true(commits >= 1);
    assert_true(commits < N / 4); /* many messages per commit */
    rt_close(ca);
    rt_close(cb);
    assert_int_equal(rt_relay_stop(&r), 0);
    rt_relay_cleanup(&r);
}

static void sigterm_going_away(void **state)
{
    (void)state;
    struct rt_relay r;
    struct rt_ident a;
    int code = 0;
    char reason[128];
    assert_int_equal(rt_relay_start(&r, NULL), 0);
    struct rt_client *ca = rt_user(&r, &a, "t-alice");
    struct rt_client *anon = rt_connect(&r);
    assert_non_null(ca);
    assert_non_null(anon);
    char relay_id[65];
    snprintf(relay_id, sizeof relay_id, "%s", rt_challenge(anon)->relay_id);
    assert_int_equal(rt_relay_stop(&r), 0); /* exit status 0 */
    assert_int_equal(rt_wait_close(ca, RT_TIMEOUT_MS, &code, reason, sizeof reason), 0);
    assert_int_equal(code, 1001);
    assert_non_null(strstr(reason, "shutting down"));
    assert_int_equal(rt_wait_close(anon, RT_TIMEOUT_MS, &code, NULL, 0), 0);
    assert_int_equal(code, 1001);
    rt_close(ca);
    rt_close(anon);
    /* same store, same relay id */
    assert_int_equal(rt_relay_restart(&r), 0);
    anon = rt_connect(&r);
    assert_non_null(anon);
    assert_string_equal(rt_challenge(anon)->relay_id, relay_id);
    rt_close(anon);
    assert_int_equal(rt_relay_stop(&r), 0);
    rt_relay_cleanup(&r);
}

static void store_in_use(void **state)
{
    (void)state;
    struct rt_relay r;
    char err[2048];
    assert_int_equal(rt_relay_start(&r, NULL), 0);
    const char *args[] = {"--listen", "127.0.0.1:0", "--store", r.store, NULL};
    assert_int_equal(rt_relay_run_args(args, err, sizeof err), 1);
    assert_non_null(strstr(err, "another relay"));
    assert_int_equal(rt_relay_stop(&r), 0);
    rt_relay_cleanup(&r);
}

static int sql(const char *path, const char *stmt)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open(path, &db);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, stmt, NULL, NULL, NULL);
    sqlite3_close(db);
    return rc;
}

static int sql_int(const char *path, const char *query)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    int v = -1;
    if (sqlite3_open(path, &db) == SQLITE_OK &&
        sqlite3_prepare_v2(db, query, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

static void schema_migrations(void **state)
{
    (void)state;
    struct rt_relay r;
    struct rt_ident a, b;
    char err[2048];
    assert_int_equal(rt_relay_start(&r, NULL), 0);
    struct rt_client *ca = rt_user(&r, &a, "m-alice"), *cb = rt_user(&r, &b, "m-bob");
    assert_non_null(ca);
    assert_non_null(cb);
    rt_close(cb);
    send_text(ca, "m-bob", 1);
    rt_close(ca);
    assert_int_equal(rt_relay_stop(&r), 0);
    assert_int_equal(sql_int(r.store, "PRAGMA user_version"), 2);
    /* back to version 1: the relay migrates it again, keeping the data */
    assert_int_equal(sql(r.store, "DROP INDEX sent_ids_by_time; PRAGMA user_version = 1;"), 0);
    assert_int_equal(rt_relay_restart(&r), 0);
    cb = rt_connect_login(&r, &b);
    assert_non_null(cb);
    E2ee__RelayDelivery *d = rt_next_delivery(cb, RT_TIMEOUT_MS);
    assert_non_null(d);
    assert_int_equal(d->direct->client_msg_id, 1);
    rt_free_delivery(d);
    rt_close(cb);
    assert_int_equal(rt_relay_stop(&r), 0);
    assert_int_equal(sql_int(r.store, "PRAGMA user_version"), 2);
    assert_int_equal(sql_int(r.store, "SELECT COUNT(*) FROM sqlite_schema WHERE "
                                      "name='sent_ids_by_time'"), 1);
    /* a newer schema than this relay knows is refused */
    assert_int_equal(sql(r.store, "PRAGMA user_version = 99;"), 0);
    const char *args[] = {"--listen", "127.0.0.1:0", "--store", r.store, NULL};
    assert_int_equal(rt_relay_run_args(args, err, sizeof err), 1);
    assert_non_null(strstr(err, "newer"));
    rt_relay_cleanup(&r);
}

static void config_errors(void **state)
{
    (void)state;
    char err[2048], path[128];
    snprintf(path, sizeof path, "/tmp/e2ee-relaytest-%d.conf", (int)getpid());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("# comment\nmax_group_size = 10\nno_such_key = 1\n", f);
    fclose(f);
    const char *a1[] = {"--config", path, NULL};
    assert_int_equal(rt_relay_run_args(a1, err, sizeof err), 2);
    assert_non_null(strstr(err, "no_such_key"));
    const char *a2[] = {"--set", "max_group_size=abc", NULL};
    assert_int_equal(rt_relay_run_args(a2, err, sizeof err), 2);
    const char *a3[] = {"--set", "max_frame_size=10", NULL}; /* below the bound */
    assert_int_equal(rt_relay_run_args(a3, err, sizeof err), 2);
    const char *a4[] = {"--tls-cert", "/nonexistent.pem", NULL}; /* key missing */
    assert_int_equal(rt_relay_run_args(a4, err, sizeof err), 2);
    const char *a7[] = {"--set", "max_unsent_bytes=65536", NULL}; /* under 2 frames */
    assert_int_equal(rt_relay_run_args(a7, err, sizeof err), 2);
    assert_non_null(strstr(err, "max_unsent_bytes"));
    const char *a5[] = {"--bogus", NULL};
    assert_int_equal(rt_relay_run_args(a5, err, sizeof err), 2);
    const char *a6[] = {"--help", NULL};
    assert_int_equal(rt_relay_run_args(a6, err, sizeof err), 0);
    remove(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kill_restart_direct_and_group),
        cmocka_unit_test(kill_under_load),
        cmocka_unit_test(group_commit),
        cmocka_unit_test(sigterm_going_away),
        cmocka_unit_test(store_in_use),
        cmocka_unit_test(schema_migrations),
        cmocka_unit_test(config_errors),
    };
    return cmocka_run_group_tests_name("relay durability", tests, NULL, NULL);
}
