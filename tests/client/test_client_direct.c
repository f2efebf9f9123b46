/*
 * Direct messages between real clients through a real relay: text and binary, acks sent
 * then delivered (with the recipient's ack_direct on and off), a recipient offline during
 * the traffic, a sender queueing while offline, and clients restarted from their stores.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/session.h"
#include "store/store.h"
#include "clienttest.h"
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
    rt_relay_cleanup(&g_relay);
    return 0;
}

/* Text and binary both ways; SENT then DELIVERED for each; the recipient's event carries
 * the sender's id and message id. */
static void test_text_and_binary(void **state)
{
    struct ct_client *a = ct_client_new(&g_relay, "d-alice", NULL);
    struct ct_client *b = ct_client_new(&g_relay, "d-bob", NULL);
    const uint8_t bin[] = {0x00, 0x01, 0xff, 0x00, 0x7f, 0x80};
    char id1[E2EE_MSG_ID_SIZE], id2[E2EE_MSG_ID_SIZE], id3[E2EE_MSG_ID_SIZE];
    const struct ct_event *e;
    (void)state;

    assert_int_equal(e2ee_client_send_direct(a->c, "d-bob", "hello bob", id1), E2EE_OK);
    assert_int_equal(strlen(id1), E2EE_MSG_ID_SIZE - 1);
    e = ct_wait(b, &(struct ct_match){.type = E2EE_EVENT_DIRECT_TEXT, .msg_id = id1}, CT_WAIT_MS);
    assert_non_null(e);
    assert_string_equal(e->from, "d-alice");
    assert_string_equal(e->text, "hello bob");
    assert_int_equal(e->len, 9);
    assert_true(e->sent_at_ms > 0);
    ct_expect(a, &(struct ct_match){.type = E2EE_EVENT_MESSAGE_ACK, .msg_id = id1,
                                    .state = E2EE_ACK_SENT, .to = "d-bob"});
    ct_expect(a, &(struct ct_match){.type = E2EE_EVENT_MESSAGE_ACK, .msg_id = id1,
                                    .state = E2EE_ACK_DELIVERED, .to = "d-bob"});

    assert_int_equal(e2ee_client_send_direct_binary(a->c, "d-bob", bin, sizeof bin, id2),
                     E2EE_OK);
    e = ct_wait(b, &(struct ct_match){.type = E2EE_EVENT_DIRECT_BINARY, .msg_id = id2},
                CT_WAIT_MS);
    assert_non_null(e);
    assert_int_equal(e->len, sizeof bin);
    assert_memory_equal(e->data, bin, sizeof bin);
    ct_expect(a, &(struct ct_match){.type = E2EE_EVENT_MESSAGE_ACK, .msg_id = id2,
                                    .state = E2EE_ACK_DELIVERED});

    /* the reply travels on the session bob accepted */
    assert_int_equal(e2ee_client_send_direct_binary(b->c, "d-alice", NULL, 0, id3), E2EE_OK);
    e = ct_wait(a, &(struct ct_match){.type = E2EE_EVENT_DIRECT_BINARY, .msg_id = id3},
                CT_WAIT_MS);
    assert_non_null(e);
    assert_int_equal(e->len, 0);
    ct_direct_roundtrip(b, a, "hi alice \xc3\xa9\xe2\x82\xac");
    ct_direct_roundtrip(a, b, "third");

    /* each message once */
    assert_int_equal(ct_count(b, &(struct ct_match){.type = E2EE_EVENT_DIRECT_TEXT}), 2);
    assert_int_equal(ct_count(b, &(struct ct_match){.type = E2EE_EVENT_E2EE_ERROR}), 0);
    assert_int_equal(ct_count(a, &(struct ct_match){.type = E2EE_EVENT_E2EE_ERROR}), 0);
    ct_client_free(a);
    ct_client_free(b);
}

/* A recipient with ack_direct off: SENT, never DELIVERED. The receipt of a message would
 * reach the sender before a reply the recipient sends after receiving it (one inbox, in
 * order), so once the reply is in, the absence is established. */
static void test_ack_direct_off(void **state)
{
    struct ct_client *a = ct_client_new(&g_relay, "k-alice", NULL);
    struct ct_client *c = ct_client_new(&g_relay, "k-carol", &(struct ct_opts){.ack_direct_off = 1});
    char id[E2EE_MSG_ID_SIZE];
    (void)state;

    assert_int_equal(e2ee_client_send_direct(a->c, "k-carol", "no receipt please", id), E2EE_OK);
    ct_expect(c, &(struct ct_match){.type = E2EE_EVENT_DIRECT_TEXT, .msg_id = id});
    ct_expect(a, &(struct ct_match){.type = E2EE_EVENT_MESSAGE_ACK, .msg_id = id,
                                    .state = E2EE_ACK_SENT});
    ct_direct_roundtrip(c, a, "reply after receiving");
    assert_int_equal(ct_count(a, &(struct ct_match){.type = E2EE_EVENT_MESSAGE_ACK, .msg_id = id,
                                                    .state = E2EE_ACK_DELIVERED}),
                     0);
    /* the other way round alice has ack_direct on: carol gets DELIVERED */
    ct_expect(c, &(struct ct_match){.type = E2EE_EVENT_MESSAGE_ACK,
                                    .state = E2EE_ACK_DELIVERED, .to = "k-alice"});
    ct_client_free(a);
    ct_client_free(c);
}

#define OFFLINE_N 20

/* The recipient is offline during the traffic: everything arrives, in order, once. */
static void test_recipient_offline(void **state)
{
    struct ct_client *a = ct_client_new(&g_relay, "o-alice", NULL);
    struct ct_client *b = ct_client_new(&g_relay, "o-bob", NULL);
    char text[64];
    (void)state;

    ct_direct_roundtrip(a, b, "before");
    assert_int_equal(e2ee_client_disconnect(b->c), E2EE_OK);
    ct_expect(b, &(struct ct_match){.type = E2EE_EVENT_DISCONNECT, .has_code = 1,
                                    .code = E2EE_OK});
    for (int i = 0; i < OFFLINE_N; i++) {
        snprintf(text, sizeof text, "offline %02d", i);
        assert_int_equal(e2ee_client_send_direct(a->c, "o-bob", text, NULL), E2EE_OK);
    }
    assert_int_equal(ct_wait_n(a, &(struct ct_match){.type = E2EE_EVENT_MESSAGE_ACK,
                                                     .state = E2EE_ACK_SENT},
                               OFFLINE_N + 1, CT_WAIT_MS),
                     OFFLINE_N + 1);
    assert_int_equal(e2ee_client_connect(b->c), E2EE_OK);
    assert_int_equal(ct_wait_n(b, &(struct ct_match){.type = E2EE_EVENT_DIRECT_TEXT},
                               OFFLINE_N + 1, CT_WAIT_MS),
                     OFFLINE_N + 1);
    for (int i = 0; i < OFFLINE_N; i++) {
        const struct ct_event *e =
            ct_nth(b, &(struct ct_match){.type = E2EE_EVENT_DIRECT_TEXT}, (size_t)i + 1);
        snprintf(text, sizeof text, "offline %02d", i);
        assert_string_equal(e->text, text);
    }
    /* delivered receipts follow bob's acks */
    assert_int_equal(ct_wait_n(a, &(struct ct_match){.type = E2EE_EVENT_MESSAGE_ACK,
                                                     .state = E2EE_ACK_DELIVERED},
                               OFFLINE_N + 1, CT_WAIT_MS),
                     OFFLINE_N + 1);
    ct_sleep_ms(CT_QUIET_MS);
    assert_int_equal(ct_count(b, &(struct ct_match){.type = E2EE_EVENT_DIRECT_TEXT}),
                     OFFLINE_N + 1);
    ct_client_free(a);
    ct_client_free(b);
}

/* The sender is offline: sends are stored, and go out on connect in order, none twice. A
 * client freed with messages queued sends them after its restart. */
static void test_sender_offline_and_restart(void **state)
{
    struct ct_client *a = ct_client_new(&g_relay, "s-alice", &(struct ct_opts){.store = ""});
    struct ct_client *b = ct_client_new(&g_relay, "s-bob", &(struct ct_opts){.store = ""});
    char text[64];
    const struct ct_event *e;
    (void)state;

    ct_direct_roundtrip(a, b, "hello before");
    ct_direct_roundtrip(b, a, "hello back");
    assert_int_equal(e2ee_client_disconnect(a->c), E2EE_OK);
    ct_expect(a, &(struct ct_match){.type = E2EE_EVENT_DISCONNECT});
    for (int i = 0; i < 10; i++) {
        snprintf(text, sizeof text, "queued %d", i);
        assert_int_equal(e2ee_client_send_direct(a->c, "s-bob", text, NULL), E2EE_OK);
    }
    /* freed while offline: the queue is in the store */
    ct_client_restart(a, NULL);
    e = ct_nth(a, &(struct ct_match){.type = E2EE_EVENT_CONNECT}, 1);
    assert_non_null(e);
    assert_int_equal(e->queued, 10);
    assert_int_equal(e->registered, 0);
    assert_int_equal(ct_wait_n(b, &(struct ct_match){.type = E2EE_EVENT_DIRECT_TEXT}, 11,
                               CT_WAIT_MS),
                     11);
    for (int i = 0; i < 10; i++) {
        e = ct_nth(b, &(struct ct_match){.type = E2EE_EVENT_DIRECT_TEXT}, (size_t)i + 1);
        snprintf(text, sizeof text, "queued %d", i);
        assert_string_equal(e->text, text);
    }
    /* both restarted: the sessions continue (no new X3DH) */
    ct_client_restart(b, NULL);
    ct_direct_roundtrip(a, b, "after both restarts");
    ct_direct_roundtrip(b, a, "and back");
    ct_sleep_ms(CT_QUIET_MS);
    assert_int_equal(ct_count(b, &(struct ct_match){.type = E2EE_EVENT_DIRECT_TEXT}), 12);
    assert_int_equal(ct_count(b, &(struct ct_match){.type = E2EE_EVENT_E2EE_ERROR}), 0);
    ct_client_stop(a);
    ct_client_stop(b);
    {
        struct e2ee__store *st = NULL;
        e2ee__session_record *rec = NULL;
        uint8_t *buf = NULL;
        size_t len = 0;
        assert_int_equal(e2ee__store_open(&st, a->store), E2EE_OK);
        assert_int_equal(e2ee__store_session_get(st, "s-bob", 1, &buf, &len), E2EE_OK);
        assert_int_equal(e2ee__session_record_deserialize(&rec, buf, len), E2EE_OK);
        assert_int_equal(e2ee__session_record_state_count(rec), 1);
        e2ee__session_record_free(rec);
        e2ee__store_blob_free(buf, len);
        e2ee__store_close(st);
    }
    ct_client_free(a);
    ct_client_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_and_binary),
        cmocka_unit_test(test_ack_direct_off),
        cmocka_unit_test(test_recipient_offline),
        cmocka_unit_test(test_sender_offline_and_restart),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
