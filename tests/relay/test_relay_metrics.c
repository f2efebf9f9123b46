/*
 * e2ee relay tests: /metrics (Prometheus text) reflects the traffic (connections, logins,
 * frames, bytes, deliveries, queued messages, commits, refusals by reason), other paths
 * are 404, and the relay's log (at debug level) never holds a payload or a key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relaytest.h"
#include "testutil.h"

static void metrics_follow_traffic(void **state)
{
    (void)state;
    struct rt_relay r;
    struct rt_relay_opts o = {.metrics = 1};
    struct rt_ident a, b;
    char *body = NULL;
    assert_int_equal(rt_relay_start(&r, &o), 0);
    rt_ident_new(&a, "mx-alice");
    rt_ident_new(&b, "mx-bob");
    struct rt_client *ca = rt_connect_login(&r, &a), *cb = rt_connect_login(&r, &b);
    assert_non_null(ca);
    assert_non_null(cb);
    assert_int_equal(rt_send_direct(ca, "mx-bob", 1, "one", 3, NULL), 0);
    rt_free_delivery(rt_next_delivery(cb, RT_TIMEOUT_MS));
    rt_close(cb);
    assert_int_equal(rt_send_direct(ca, "mx-bob", 2, "two", 3, NULL), 0); /* stays queued */
    assert_int_equal(rt_send_direct(ca, "mx-nobody", 3, "x", 1, NULL), E2EE_ERR_NO_SUCH_USER);
    assert_int_equal(rt_create_group(ca, "mx-group", NULL), 0);

    assert_int_equal(rt_http_get(r.metrics_port, "/metrics", &body), 200);
    assert_non_null(body);
    assert_true(rt_metric(body, "e2ee_relay_connections") >= 1);
    assert_true(rt_metric(body, "e2ee_relay_authenticated_users") == 1);
    assert_true(rt_metric(body, "e2ee_relay_groups") == 1);
    assert_true(rt_metric(body, "e2ee_relay_logins_total") == 2);
    assert_true(rt_metric(body, "e2ee_relay_registrations_total") == 2);
    assert_true(rt_metric(body, "e2ee_relay_frames_in_total") >= 6);
    assert_true(rt_metric(body, "e2ee_relay_frames_out_total") >= 6);
    assert_true(rt_metric(body, "e2ee_relay_bytes_in_total") > 0);
    assert_true(rt_metric(body, "e2ee_relay_bytes_out_total") > 0);
    assert_true(rt_metric(body, "e2ee_relay_deliveries_total") >= 2);
    assert_true(rt_metric(body, "e2ee_relay_direct_messages_total") == 2);
    assert_true(rt_metric(body, "e2ee_relay_queued_messages") >= 2);
    assert_true(rt_metric(body, "e2ee_relay_queued_inbox_items") == 2);
    assert_true(rt_metric(body, "e2ee_relay_store_commits_total") >= 1);
    assert_true(rt_metric(body, "e2ee_relay_store_commit_seconds_count") >= 1);
    assert_non_null(strstr(body, "e2ee_relay_store_commit_seconds_bucket{le=\"+Inf\"}"));
    assert_non_null(strstr(body, "e2ee_relay_refusals_total{reason=\"E2EE_ERR_NO_SUCH_USER\"} 1"));
    assert_non_null(strstr(body, "# TYPE e2ee_relay_deliveries_total counter"));
    free(body);
    body = NULL;
    assert_int_equal(rt_http_get(r.metrics_port, "/other", &body), 404);
    free(body);
    /* the WebSocket port serves no plain HTTP */
    body = NULL;
    assert_int_equal(rt_http_get(r.port, "/metrics", &body), 404);
    free(body);
    rt_close(ca);
    assert_int_equal(rt_relay_stop(&r), 0);
    rt_relay_cleanup(&r);
}

/* 1 if needle (n bytes) occurs in hay (h bytes). */
static int contains(const char *hay, size_t h, const void *needle, size_t n)
{
    for (size_t i = 0; n && i + n <= h; i++) {
        if (memcmp(hay + i, needle, n) == 0)
            return 1;
    }
    return 0;
}

static void hex(const uint8_t *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", in[i]);
}

static void logs_hold_no_secrets(void **state)
{
    (void)state;
    struct rt_relay r;
    struct rt_relay_opts o = {.log_to_file = 1, .log_level = "debug"};
    struct rt_ident a, b;
    static const char marker[] = "PAYLOAD-MARKER-0123456789";
    char khex[65];
    size_t len = 0;
    assert_int_equal(rt_relay_start(&r, &o), 0);
    rt_ident_new(&a, "log-alice");
    rt_ident_new(&b, "log-bob");
    struct rt_client *ca = rt_connect_login(&r, &a), *cb = rt_connect_login(&r, &b);
    assert_non_null(ca);
    assert_non_null(cb);
    assert_int_equal(rt_publish(ca, 1, 1, 2, NULL), 0);
    assert_int_equal(rt_fetch_bundle(cb, "log-alice", NULL), 0);
    assert_int_equal(rt_send_direct(ca, "log-bob", 1, marker, sizeof marker - 1, NULL), 0);
    assert_int_equal(rt_create_group(ca, "log-group", NULL), 0);
    uint64_t epoch = 0;
    assert_int_equal(rt_join_group(cb, "log-group", &epoch), 0);
    const char *users[] = {"log-bob"};
    const char *payloads[] = {"PAIRWISE-MARKER-987"};
    assert_int_equal(rt_send_group(ca, "log-group", epoch, 2, marker, sizeof marker - 1, 1, users,
                                   payloads, NULL), 0);
    rt_send_raw(cb, "\x0a\xff\xff", 3, 1); /* a bad frame is logged too */
    rt_wait_close(cb, RT_TIMEOUT_MS, NULL, NULL, 0);
    rt_close(ca);
    rt_close(cb);
    assert_int_equal(rt_relay_stop(&r), 0);
    char *log = tu_read_file(r.log, &len);
    assert_non_null(log);
    assert_true(len > 0);
    assert_non_null(strstr(log, "login")); /* it did log the events */
    assert_false(contains(log, len, marker, sizeof marker - 1));
    assert_false(contains(log, len, "PAIRWISE-MARKER", 15));
    assert_false(contains(log, len, a.sign_pk, 32));
    assert_false(contains(log, len, a.dh_pk, 32));
    hex(a.sign_pk, 32, khex);
    assert_false(contains(log, len, khex, 64));
    hex(a.dh_pk, 32, khex);
    assert_false(contains(log, len, khex, 64));
    free(log);
    rt_relay_cleanup(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(metrics_follow_traffic),
        cmocka_unit_test(logs_hold_no_secrets),
    };
    return cmocka_run_group_tests_name("relay metrics and logs", tests, NULL, NULL);
}
