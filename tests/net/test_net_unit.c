/* Pure parts of the transport: relay URL parsing, backoff delays, the frame queue. */
#include <stdlib.h>
#include <string.h>

#include "net/backoff.h"
#include "net/queue.h"
#include "net/url.h"
#include "testutil.h"

static void expect_url(const char *s, int tls, const char *host, int port, const char *hh,
                       const char *path)
{
    struct e2ee__net_url u;
    assert_int_equal(e2ee__net_url_parse(s, &u), E2EE_OK);
    assert_int_equal(u.tls, tls);
    assert_string_equal(u.host, host);
    assert_int_equal(u.port, port);
    assert_string_equal(u.host_header, hh);
    assert_string_equal(u.path, path);
}

static void test_url_valid(void **state)
{
    (void)state;
    expect_url("ws://relay.example.org", 0, "relay.example.org", 80, "relay.example.org", "/");
    expect_url("wss://relay.example.org/", 1, "relay.example.org", 443, "relay.example.org",
               "/");
    expect_url("WSS://h:8443/e2ee/v1?x=1", 1, "h", 8443, "h:8443", "/e2ee/v1?x=1");
    expect_url("ws://127.0.0.1:8765", 0, "127.0.0.1", 8765, "127.0.0.1:8765", "/");
    expect_url("ws://[::1]:9000/p", 0, "::1", 9000, "[::1]:9000", "/p");
    expect_url("wss://[fe80::1]", 1, "fe80::1", 443, "[fe80::1]", "/");
    expect_url("ws://h?q", 0, "h", 80, "h", "/?q");
    expect_url("ws://h:80/", 0, "h", 80, "h", "/");
    expect_url("ws://h:65535", 0, "h", 65535, "h:65535", "/");
}

static void test_url_invalid(void **state)
{
    (void)state;
    struct e2ee__net_url u;
    const char *bad[] = {
        "http://h/",     "h:80",          "ws:/h",        "ws://",         "ws:///p",
        "ws://:80/",     "ws://h:/",      "ws://h:0/",    "ws://h:65536/", "ws://h:12x/",
        "ws://u@h/",     "ws://h/p#frag", "ws://h/a b",   "ws://[::1/",    "ws://[]/",
        "ws://[::g]/",   "ws://h\x01/",   "ws://h/\x7f",  "wss://h h/",    "ws://h:99999999999/",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = e2ee__net_url_parse(bad[i], &u);
        if (rc != E2EE_ERR_ARG)
            fail_msg("accepted or misreported \"%s\": %d", bad[i], rc);
        assert_int_equal(u.port, 0);
    }
    assert_int_equal(e2ee__net_url_parse(NULL, &u), E2EE_ERR_ARG);

    /* length limits */
    char *longurl = malloc(E2EE__NET_URL_MAX + 2);
    assert_non_null(longurl);
    memcpy(longurl, "ws://h/", 7);
    memset(longurl + 7, 'a', E2EE__NET_URL_MAX - 7);
    longurl[E2EE__NET_URL_MAX] = '\0';
    assert_int_equal(e2ee__net_url_parse(longurl, &u), E2EE_OK);
    longurl[E2EE__NET_URL_MAX] = 'a';
    longurl[E2EE__NET_URL_MAX + 1] = '\0';
    assert_int_equal(e2ee__net_url_parse(longurl, &u), E2EE_ERR_LENGTH);
    memcpy(longurl, "ws://", 5);
    memset(longurl + 5, 'h', E2EE__NET_HOST_MAX + 1);
    longurl[5 + E2EE__NET_HOST_MAX + 1] = '\0';
    assert_int_equal(e2ee__net_url_parse(longurl, &u), E2EE_ERR_LENGTH);
    longurl[5 + E2EE__NET_HOST_MAX] = '\0';
    assert_int_equal(e2ee__net_url_parse(longurl, &u), E2EE_OK);
    free(longurl);
}

static void test_backoff_bounds_and_growth(void **state)
{
    (void)state;
    struct e2ee__backoff b;
    e2ee__backoff_init(&b, 100, 3000, 1);
    assert_int_equal(e2ee__backoff_base(&b, 0), 100);
    assert_int_equal(e2ee__backoff_base(&b, 1), 100);
    assert_int_equal(e2ee__backoff_base(&b, 2), 200);
    assert_int_equal(e2ee__backoff_base(&b, 5), 1600);
    assert_int_equal(e2ee__backoff_base(&b, 6), 3000);
    assert_int_equal(e2ee__backoff_base(&b, 1000), 3000);
    assert_int_equal(e2ee__backoff_base(&b, UINT32_MAX), 3000);

    /* every delay in [base/2, base]; both ends and the spread are reached */
    for (unsigned n = 1; n <= 8; n++) {
        uint32_t base = e2ee__backoff_base(&b, n), lo = UINT32_MAX, hi = 0;
        for (int i = 0; i < 2000; i++) {
            uint32_t d = e2ee__backoff_next(&b, n);
            assert_true(d >= base / 2 && d <= base);
            lo = d < lo ? d : lo;
            hi = d > hi ? d : hi;
        }
        assert_true(lo <= base / 2 + base / 20);
        assert_true(hi >= base - base / 20);
    }

    /* limits of the arithmetic */
    e2ee__backoff_init(&b, UINT32_MAX, UINT32_MAX, 9);
    assert_true(e2ee__backoff_next(&b, 40) >= UINT32_MAX / 2);
    e2ee__backoff_init(&b, 1, 1, 9);
    for (int i = 0; i < 100; i++)
        assert_true(e2ee__backoff_next(&b, 3) <= 1);
}

static void test_backoff_deterministic(void **state)
{
    (void)state;
    struct e2ee__backoff a, b, c;
    int differ = 0;
    e2ee__backoff_init(&a, 50, 5000, 77);
    e2ee__backoff_init(&b, 50, 5000, 77);
    e2ee__backoff_init(&c, 50, 5000, 78);
    for (unsigned n = 1; n <= 20; n++) {
        uint32_t x = e2ee__backoff_next(&a, n);
        assert_int_equal(x, e2ee__backoff_next(&b, n));
        differ |= x != e2ee__backoff_next(&c, n);
    }
    assert_true(differ);
}

static struct e2ee__net_frame *frame(const char *s, unsigned flags)
{
    struct e2ee__net_frame *f = e2ee__net_frame_new((const uint8_t *)s, strlen(s), flags);
    assert_non_null(f);
    return f;
}

static void expect_pop(struct e2ee__net_queue *q, int held, const char *want)
{
    struct e2ee__net_frame *f = e2ee__net_queue_pop(q, held);
    if (!want) {
        assert_null(f);
        return;
    }
    assert_non_null(f);
    assert_int_equal(f->len, strlen(want));
    assert_memory_equal(e2ee__net_frame_data(f), want, f->len);
    e2ee__net_frame_free(f);
}

static void test_queue_order_hold_volatile(void **state)
{
    (void)state;
    struct e2ee__net_queue q;
    memset(&q, 0, sizeof q);

    e2ee__net_queue_push(&q, frame("n1", 0));
    e2ee__net_queue_push(&q, frame("p1", E2EE__NET_SEND_PRIORITY));
    e2ee__net_queue_push(&q, frame("v1", E2EE__NET_SEND_VOLATILE));
    e2ee__net_queue_push(&q, frame("n2", 0));
    e2ee__net_queue_push(&q, frame("pv", E2EE__NET_SEND_PRIORITY | E2EE__NET_SEND_VOLATILE));
    e2ee__net_queue_push(&q, frame("p2", E2EE__NET_SEND_PRIORITY));
    assert_int_equal(q.frames, 6);
    assert_int_equal(q.bytes, 12);

    /* held: only priority frames come out, in order */
    assert_true(e2ee__net_queue_ready(&q, 1));
    expect_pop(&q, 1, "p1");
    e2ee__net_queue_push_front(&q, frame("p0", E2EE__NET_SEND_PRIORITY));
    expect_pop(&q, 1, "p0");

    /* the connection ends: volatile frames go, the others stay in order */
    assert_int_equal(e2ee__net_queue_drop_volatile(&q), 2);
    assert_int_equal(q.frames, 3);
    e2ee__net_queue_push(&q, frame("p3", E2EE__NET_SEND_PRIORITY));
    e2ee__net_queue_push(&q, frame("n3", 0));
    expect_pop(&q, 1, "p2");
    expect_pop(&q, 1, "p3");
    expect_pop(&q, 1, NULL);
    assert_false(e2ee__net_queue_ready(&q, 1));
    assert_true(e2ee__net_queue_ready(&q, 0));
    e2ee__net_queue_push_front(&q, frame("n0", 0));
    expect_pop(&q, 0, "n0");
    expect_pop(&q, 0, "n1");
    expect_pop(&q, 0, "n2");
    expect_pop(&q, 0, "n3");
    expect_pop(&q, 0, NULL);
    assert_int_equal(q.frames, 0);
    assert_int_equal(q.bytes, 0);

    /* a dropped tail leaves a working list */
    e2ee__net_queue_push(&q, frame("a", 0));
    e2ee__net_queue_push(&q, frame("b", E2EE__NET_SEND_VOLATILE));
    assert_int_equal(e2ee__net_queue_drop_volatile(&q), 1);
    e2ee__net_queue_push(&q, frame("c", 0));
    expect_pop(&q, 0, "a");
    expect_pop(&q, 0, "c");
    e2ee__net_queue_push(&q, frame("d", 0));
    e2ee__net_queue_push(&q, frame("", E2EE__NET_SEND_PRIORITY));
    e2ee__net_queue_clear(&q);
    assert_int_equal(q.frames, 0);
    expect_pop(&q, 0, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_valid),
        cmocka_unit_test(test_url_invalid),
        cmocka_unit_test(test_backoff_bounds_and_growth),
        cmocka_unit_test(test_backoff_deterministic),
        cmocka_unit_test(test_queue_order_hold_volatile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
