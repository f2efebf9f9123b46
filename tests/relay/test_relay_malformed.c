/*
 * e2ee relay tests: malformed frames against the real relay. Each bad frame is refused
 * (unknown request types with a result, undecodable or oversized frames and text frames
 * with a WebSocket close code and reason) while two other clients keep exchanging messages
 * through the same relay.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relaytest.h"
#include "testutil.h"

static struct rt_relay g_relay;
static struct rt_ident g_a, g_b;
static struct rt_client *g_ca, *g_cb;
static uint64_t g_cmid = 1;

static int setup(void **state)
{
    (void)state;
    struct rt_relay_opts o = {.config = "max_frame_size = 8192\n"};
    if (rt_relay_start(&g_relay, &o) != 0)
        return -1;
    rt_ident_new(&g_a, "bystander-a");
    rt_ident_new(&g_b, "bystander-b");
    g_ca = rt_connect_login(&g_relay, &g_a);
    g_cb = rt_connect_login(&g_relay, &g_b);
    return g_ca && g_cb ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    rt_close(g_ca);
    rt_close(g_cb);
    int rc = rt_relay_stop(&g_relay);
    rt_relay_cleanup(&g_relay);
    return rc == 0 ? 0 : -1;
}

/* The bystanders still talk. */
static void others_carry_on(void)
{
    uint64_t id = g_cmid++;
    assert_int_equal(rt_send_direct(g_ca, "bystander-b", id, "still here", 10, NULL), 0);
    E2ee__RelayDelivery *d = rt_next_delivery(g_cb, RT_TIMEOUT_MS);
    assert_non_null(d);
    assert_int_equal(d->direct->client_msg_id, id);
    assert_int_equal(rt_ack(g_cb, "", d->seq), 0);
    rt_free_delivery(d);
}

/* A logged-in victim connection. */
static struct rt_client *victim(const char *uid)
{
    struct rt_ident id;
    rt_ident_new(&id, uid);
    struct rt_client *c = rt_connect_login(&g_relay, &id);
    assert_non_null(c);
    return c;
}

static void expect_close(struct rt_client *c, int want, const char *reason_part)
{
    int code = 0;
    char reason[128];
    assert_int_equal(rt_wait_close(c, RT_TIMEOUT_MS, &code, reason, sizeof reason), 0);
    assert_int_equal(code, want);
    assert_non_null(strstr(reason, reason_part));
    rt_close(c);
}

static uint8_t *valid_send(size_t ct_len, size_t *len)
{
    E2ee__ClientFrame f = E2EE__CLIENT_FRAME__INIT;
    E2ee__RelaySendDirect m = E2EE__RELAY_SEND_DIRECT__INIT;
    uint8_t *ct = calloc(1, ct_len);
    m.to = "bystander-b";
    m.client_msg_id = 999999;
    m.ciphertext.data = ct;
    m.ciphertext.len = ct_len;
    f.request_id = 5;
    f.body_case = E2EE__CLIENT_FRAME__BODY_SEND_DIRECT;
    f.send_direct = &m;
    *len = e2ee__client_frame__get_packed_size(&f);
    uint8_t *buf = malloc(*len);
    e2ee__client_frame__pack(&f, buf);
    free(ct);
    return buf;
}

static void truncated_frame(void **state)
{
    (void)state;
    struct rt_client *v = victim("v-trunc");
    size_t len = 0;
    uint8_t *buf = valid_send(100, &len);
    rt_send_raw(v, buf, len / 2, 1); /* cut inside the ciphertext */
    free(buf);
    expect_close(v, 1007, "E2EE_ERR_DECODE");
    others_carry_on();
}

static void garbage_frame(void **state)
{
    (void)state;
    struct rt_client *v = victim("v-garbage");
    uint8_t junk[64];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)(0xff - i * 7);
    rt_send_raw(v, junk, sizeof junk, 1);
    expect_close(v, 1007, "E2EE_ERR_DECODE");
    /* a length prefix claiming far more than the frame holds */
    v = victim("v-garbage2");
    const uint8_t huge[] = {0x42, 0xff, 0xff, 0xff, 0xff, 0x07, 0x01, 0x02};
    rt_send_raw(v, huge, sizeof huge, 1);
    expect_close(v, 1007, "E2EE_ERR_DECODE");
    others_carry_on();
}

static void oversized_frame(void **state)
{
    (void)state;
    struct rt_client *v = victim("v-big");
    size_t len = 0;
    uint8_t *buf = valid_send(8000, &len); /* just under 8192 with the header: accepted */
    assert_true(len <= 8192);
    rt_send_raw(v, buf, len, 1);
    free(buf);
    E2ee__RelayResult *r = rt_wait_result(v, 5, RT_TIMEOUT_MS);
    assert_non_null(r);
    assert_int_equal(r->code, 0);
    rt_free_result(r);
    rt_free_delivery(rt_next_delivery(g_cb, RT_TIMEOUT_MS));
    buf = valid_send(9000, &len);
    rt_send_raw(v, buf, len, 1);
    free(buf);
    expect_close(v, 1009, "E2EE_ERR_TOO_LARGE");
    others_carry_on();
}

static void unknown_type(void **state)
{
    (void)state;
    struct rt_client *v = victim("v-unknown");
    /* request_id = 7 and a field number no version uses (99, length-delimited, 1 byte) */
    const uint8_t frame[] = {0x08, 0x07, 0x9a, 0x06, 0x01, 0x00};
    rt_send_raw(v, frame, sizeof frame, 1);
    E2ee__RelayResult *r = rt_wait_result(v, 7, RT_TIMEOUT_MS);
    assert_non_null(r);
    assert_int_equal(r->code, E2EE_ERR_NOT_SUPPORTED);
    rt_free_result(r);
    /* an empty frame is an empty ClientFrame: no request type either */
    rt_send_raw(v, "", 0, 1);
    r = rt_wait_result(v, 0, RT_TIMEOUT_MS);
    assert_non_null(r);
    assert_int_equal(r->code, E2EE_ERR_NOT_SUPPORTED);
    rt_free_result(r);
    assert_int_equal(rt_ping(v), 0); /* still usable */
    rt_close(v);
    others_carry_on();
}

static void text_frame(void **state)
{
    (void)state;
    struct rt_client *v = victim("v-text");
    rt_send_raw(v, "{\"hello\":1}", 11, 0);
    expect_close(v, 1003, "binary");
    others_carry_on();
}

static void malformed_before_login(void **state)
{
    (void)state;
    struct rt_client *v = rt_connect(&g_relay);
    assert_non_null(v);
    assert_int_equal(rt_send_direct(v, "bystander-b", 1, "x", 1, NULL), E2EE_ERR_UNAUTHENTICATED);
    rt_send_raw(v, "\xff\xff\xff", 3, 1);
    expect_close(v, 1007, "E2EE_ERR_DECODE");
    others_carry_on();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(truncated_frame),
        cmocka_unit_test(garbage_frame),
        cmocka_unit_test(oversized_frame),
        cmocka_unit_test(unknown_type),
        cmocka_unit_test(text_frame),
        cmocka_unit_test(malformed_before_login),
    };
    return cmocka_run_group_tests_name("relay malformed frames", tests, setup, teardown);
}
