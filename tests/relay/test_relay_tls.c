/*
 * e2ee relay tests: the same flows over wss://, with a self-signed certificate made by the
 * test (openssl). Login, direct messages live and offline, a group with a message and a
 * stale-epoch refusal, a malformed frame closing only its own connection, and SIGTERM.
 */
#include <stdio.h>
#include <string.h>

#include "relaytest.h"
#include "testutil.h"

static void flows_over_tls(void **state)
{
    (void)state;
    struct rt_relay r;
    struct rt_relay_opts o = {.tls = 1};
    struct rt_ident a, b;
    uint64_t epoch = 0;
    int code = 0;
    assert_int_equal(rt_relay_start(&r, &o), 0);
    assert_int_equal(strncmp(r.url, "wss://127.0.0.1:", 16), 0);
    rt_ident_new(&a, "tls-alice");
    rt_ident_new(&b, "tls-bob");
    struct rt_client *ca = rt_connect_login(&r, &a), *cb = rt_connect_login(&r, &b);
    assert_non_null(ca);
    assert_non_null(cb);
    /* direct, live */
    assert_int_equal(rt_send_direct(ca, "tls-bob", 1, "over tls", 8, NULL), 0);
    E2ee__RelayDelivery *d = rt_next_delivery(cb, RT_TIMEOUT_MS);
    assert_non_null(d);
    assert_int_equal(d->direct->ciphertext.len, 8);
    assert_memory_equal(d->direct->ciphertext.data, "over tls", 8);
    assert_int_equal(rt_ack(cb, "", d->seq), 0);
    rt_free_delivery(d);
    /* group */
    assert_int_equal(rt_create_group(ca, "tls-group", NULL), 0);
    assert_int_equal(rt_join_group(cb, "tls-group", &epoch), 0);
    assert_int_equal(rt_send_group(ca, "tls-group", epoch - 1, 2, "g", 1, 0, NULL, NULL, NULL),
                     E2EE_ERR_STALE_EPOCH);
    assert_int_equal(rt_send_group(ca, "tls-group", epoch, 2, "g", 1, 0, NULL, NULL, NULL), 0);
    d = rt_next_item(cb, E2EE__RELAY_DELIVERY__ITEM_GROUP_MESSAGE, RT_TIMEOUT_MS);
    assert_non_null(d);
    assert_int_equal(d->group_message->client_msg_id, 2);
    assert_int_equal(rt_ack(cb, "tls-group", d->seq), 0);
    rt_free_delivery(d);
    /* offline, then at the next login */
    rt_close(cb);
    assert_int_equal(rt_send_direct(ca, "tls-bob", 3, "later", 5, NULL), 0);
    cb = rt_connect_login(&r, &b);
    assert_non_null(cb);
    d = rt_next_item(cb, E2EE__RELAY_DELIVERY__ITEM_DIRECT, RT_TIMEOUT_MS);
    assert_non_null(d);
    assert_int_equal(d->direct->client_msg_id, 3);
    rt_free_delivery(d);
    /* a malformed frame closes that connection only */
    rt_send_raw(cb, "\x0a\xff\xff\xff", 4, 1);
    assert_int_equal(rt_wait_close(cb, RT_TIMEOUT_MS, &code, NULL, 0), 0);
    assert_int_equal(code, 1007);
    rt_close(cb);
    assert_int_equal(rt_ping(ca), 0);
    /* orderly stop */
    assert_int_equal(rt_relay_stop(&r), 0);
    assert_int_equal(rt_wait_close(ca, RT_TIMEOUT_MS, &code, NULL, 0), 0);
    assert_int_equal(code, 1001);
    rt_close(ca);
    rt_relay_cleanup(&r);
}

static void plain_client_refused(void **state)
{
    (void)state;
    struct rt_relay r, plain;
    struct rt_relay_opts o = {.tls = 1};
    assert_int_equal(rt_relay_start(&r, &o), 0);
    plain = r;
    plain.tls = 0; /* ws:// to a wss:// port: no WebSocket comes up */
    struct rt_client *c = rt_connect_ex(&plain, "e2ee.v1", 0);
    assert_null(c);
    assert_int_equal(rt_relay_stop(&r), 0);
    rt_relay_cleanup(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(flows_over_tls),
        cmocka_unit_test(plain_client_refused),
    };
    return cmocka_run_group_tests_name("relay over TLS", tests, NULL, NULL);
}
