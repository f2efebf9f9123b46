/*
 * e2ee relay tests: fan-out of group messages to 50 members over real connections. One
 * sender's messages reach each of the 49 others once and in order, sharing frames (batched
 * deliveries); a member offline during the sends gets them all at its next login.
 */
#include <stdio.h>
#include <string.h>

#include "relaytest.h"
#include "testutil.h"

enum { MEMBERS = 50, MESSAGES = 40 };

static void fan_out_to_50(void **state)
{
    (void)state;
    static struct rt_ident ids[MEMBERS];
    struct rt_client *c[MEMBERS];
    struct rt_relay r;
    char uid[32], text[32];
    uint64_t epoch = 0, last_req = 0;
    assert_int_equal(rt_relay_start(&r, NULL), 0);
    for (int i = 0; i < MEMBERS; i++) {
        snprintf(uid, sizeof uid, "member-%02d", i);
        rt_ident_new(&ids[i], uid);
        c[i] = rt_connect_login(&r, &ids[i]);
        assert_non_null(c[i]);
        if (i == 0)
            assert_int_equal(rt_create_group(c[0], "big", &epoch), 0);
        else
            assert_int_equal(rt_join_group(c[i], "big", &epoch), 0);
    }
    assert_int_equal(epoch, MEMBERS);
    /* the last member goes offline */
    rt_close(c[MEMBERS - 1]);
    c[MEMBERS - 1] = NULL;
    /* every join event is in (a ping's result comes after them); count frames from here */
    static uint64_t frames0[MEMBERS];
    for (int i = 0; i < MEMBERS - 1; i++) {
        assert_int_equal(rt_ping(c[i]), 0);
        frames0[i] = rt_delivery_frames(c[i]);
    }
    for (int m = 0; m < MESSAGES; m++) {
        E2ee__ClientFrame f = E2EE__CLIENT_FRAME__INIT;
        E2ee__RelaySendGroup s = E2EE__RELAY_SEND_GROUP__INIT;
        snprintf(text, sizeof text, "group-msg-%d", m);
        s.group_id = "big";
        s.epoch = epoch;
        s.client_msg_id = (uint64_t)m + 1;
        s.ciphertext.data = (uint8_t *)text;
        s.ciphertext.len = strlen(text);
        f.body_case = E2EE__CLIENT_FRAME__BODY_SEND_GROUP;
        f.send_group = &s;
        last_req = rt_send(c[0], &f);
    }
    E2ee__RelayResult *res = rt_wait_result(c[0], last_req, RT_TIMEOUT_MS);
    assert_non_null(res);
    assert_int_equal(res->code, 0);
    rt_free_result(res);
    uint64_t frames = 0, items = 0;
    for (int i = 1; i < MEMBERS - 1; i++) {
        uint64_t last_seq = 0;
        for (int m = 0; m < MESSAGES; m++) {
            E2ee__RelayDelivery *d = rt_next_item(c[i], E2EE__RELAY_DELIVERY__ITEM_GROUP_MESSAGE,
                                                  RT_TIMEOUT_MS);
            assert_non_null(d);
            snprintf(text, sizeof text, "group-msg-%d", m);
            assert_string_equal(d->group_message->from, "member-00");
            assert_int_equal(d->group_message->client_msg_id, (uint64_t)m + 1);
            assert_memory_equal(d->group_message->ciphertext.data, text, strlen(text));
            assert_true(d->seq > last_seq);
            last_seq = d->seq;
            rt_free_delivery(d);
        }
        assert_int_equal(rt_ack(c[i], "big", last_seq), 0);
        frames += rt_delivery_frames(c[i]) - frames0[i];
        items += MESSAGES;
    }
    assert_true(frames < items); /* deliveries were batched */
    /* nothing for the sender */
    assert_null(rt_next_item(c[0], E2EE__RELAY_DELIVERY__ITEM_GROUP_MESSAGE, 100));
    /* the offline member gets everything at login */
    c[MEMBERS - 1] = rt_connect_login(&r, &ids[MEMBERS - 1]);
    assert_non_null(c[MEMBERS - 1]);
    for (int m = 0; m < MESSAGES; m++) {
        E2ee__RelayDelivery *d = rt_next_item(c[MEMBERS - 1],
                                              E2EE__RELAY_DELIVERY__ITEM_GROUP_MESSAGE,
                                              RT_TIMEOUT_MS);
        assert_non_null(d);
        assert_int_equal(d->group_message->client_msg_id, (uint64_t)m + 1);
        rt_free_delivery(d);
    }
    for (int i = 0; i < MEMBERS; i++)
        rt_close(c[i]);
    assert_int_equal(rt_relay_stop(&r), 0);
    rt_relay_cleanup(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fan_out_to_50),
    };
    return cmocka_run_group_tests_name("relay fan-out", tests, NULL, NULL);
}
