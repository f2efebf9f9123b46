/*
 * e2ee tests: 10,000 connect/disconnect cycles against the real relay over loopback, one
 * connection at a time (bounded), mixing the ways a connection can go: TCP closed or reset
 * before the handshake, after it, after the challenge, and after a login. Every 1,000
 * cycles two bystanders exchange a message. At the end no connection is left behind (the
 * relay's connections gauge is back to the bystanders), the relay stops cleanly and its
 * store passes PRAGMA integrity_check.
 */
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "rawws.h"
#include "relaytest.h"
#include "testutil.h"

#define CYCLES 10000
#define CHECK_EVERY 1000
#define LOGIN_EVERY 10
#define USERS 5

static struct rt_relay g_relay;
static struct rt_ident g_alice, g_bob, g_users[USERS];
static struct rt_client *g_a, *g_b;

static int g_passed;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long relay_rss_kb(pid_t pid)
{
    char path[64], line[256];
    long kb = -1;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f)) {
        if (sscanf(line, "VmRSS: %ld", &kb) == 1)
            break;
    }
    if (f)
        fclose(f);
    return kb;
}

static void round_trip(uint64_t cmid)
{
    assert_int_equal(rt_send_direct(g_a, g_bob.uid, cmid, "churn", 5, NULL), 0);
    E2ee__RelayDelivery *d = rt_next_item(g_b, E2EE__RELAY_DELIVERY__ITEM_DIRECT, RT_TIMEOUT_MS);
    assert_non_null(d);
    assert_int_equal(d->direct->client_msg_id, cmid);
    assert_int_equal(rt_ack(g_b, "", d->seq), 0);
    rt_free_delivery(d);
    E2ee__RelayEvent *e;
    while ((e = rt_next_event(g_a, 0)) != NULL)
        rt_free_event(e);
    while ((e = rt_next_event(g_b, 0)) != NULL)
        rt_free_event(e);
}

static void one_cycle(unsigned i)
{
    struct rw *c = rw_tcp(g_relay.port);
    assert_non_null(c);
    int rst = (i / 2) % 2;
    switch (i % 4) {
    case 0: /* TCP only */
        break;
    case 1: /* WebSocket handshake */
        assert_int_equal(rw_handshake(c, "e2ee.v1", NULL), 101);
        break;
    default: /* challenge read, sometimes a login */
        assert_int_equal(rw_handshake(c, "e2ee.v1", NULL), 101);
        assert_non_null(rw_challenge(c, RT_TIMEOUT_MS));
        if (i % LOGIN_EVERY == LOGIN_EVERY - 1) {
            int rc = rw_login(c, &g_users[(i / LOGIN_EVERY) % USERS]);
            if (rc != 0)
                fprintf(stderr, "churn: cycle %u: login failed (%d), close %d \"%s\"\n", i, rc,
                        rw_close_code(c), rw_close_reason(c));
            assert_int_equal(rc, 0);
        }
        break;
    }
    rw_close(c, rst);
}

static void churn(void **state)
{
    (void)state;
    long rss0 = relay_rss_kb(g_relay.pid);
    int64_t t0 = now_ms();
    for (unsigned i = 0; i < CYCLES; i++) {
        one_cycle(i);
        if (i % CHECK_EVERY == CHECK_EVERY - 1) {
            int status;
            assert_int_equal(waitpid(g_relay.pid, &status, WNOHANG), 0);
            round_trip(i + 1);
        }
    }
    int64_t t1 = now_ms();
    /* every churned connection is gone: only the two bystanders remain */
    char *body = NULL;
    double conns = -1;
    int64_t deadline = now_ms() + 20000;
    do {
        rt_pump(50);
        free(body);
        body = NULL;
        assert_int_equal(rt_http_get(g_relay.metrics_port, "/metrics", &body), 200);
        conns = rt_metric(body, "e2ee_relay_connections");
    } while (conns != 2 && now_ms() < deadline);
    assert_true(conns == 2);
    /* three cycles in four became WebSocket connections (the relay counts those) */
    assert_true(rt_metric(body, "e2ee_relay_connections_total") >= 3 * CYCLES / 4);
    free(body);
    long rss1 = relay_rss_kb(g_relay.pid);
    printf("churn: %d connect/disconnect cycles in %lld ms; relay RSS %ld -> %ld KiB\n", CYCLES,
           (long long)(t1 - t0), rss0, rss1);
    round_trip(CYCLES + 1);
    rt_close(g_a);
    rt_close(g_b);
    g_a = g_b = NULL;
    assert_int_equal(rt_relay_stop(&g_relay), 0);
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open_v2(g_relay.store, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    sqlite3_close(db);
    g_passed = 1;
}

static int setup(void **state)
{
    (void)state;
    char uid[32];
    struct rt_relay_opts o = {.config = "max_connections = 100\n", .metrics = 1,
                              .log_to_file = 1};
    if (rt_relay_start(&g_relay, &o) != 0)
        return -1;
    rt_ident_new(&g_alice, "churn-alice");
    rt_ident_new(&g_bob, "churn-bob");
    for (int i = 0; i < USERS; i++) {
        snprintf(uid, sizeof uid, "churn-user-%d", i);
        rt_ident_new(&g_users[i], uid);
    }
    g_a = rt_connect_login(&g_relay, &g_alice);
    g_b = rt_connect_login(&g_relay, &g_bob);
    return g_a && g_b ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    rt_close(g_a);
    rt_close(g_b);
    if (!g_passed) {
        /* keep the relay's log for the post-mortem */
        rt_relay_kill(&g_relay);
        fprintf(stderr, "churn: failed; the relay's log is %s\n", g_relay.log);
        return 0;
    }
    rt_relay_cleanup(&g_relay);
    return 0;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(churn),
    };
    return cmocka_run_group_tests_name("hostile churn", tests, setup, teardown);
}
