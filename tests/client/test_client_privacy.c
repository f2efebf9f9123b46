/*
 * The relay never sees a plaintext: after direct and group traffic (text and binary, some of
 * it still stored for an offline member), the relay's database file (with its WAL) and its
 * debug log contain none of the messages. The same search finds the user and group ids in
 * the database, so a miss means absence, not a broken search.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clienttest.h"
#include "testutil.h"

#define N_TEXTS 6

static struct rt_relay g_relay;

static int setup(void **state)
{
    struct rt_relay_opts o = {.log_to_file = 1, .log_level = "debug"};
    (void)state;
    return rt_relay_start(&g_relay, &o);
}

static int teardown(void **state)
{
    (void)state;
    rt_relay_cleanup(&g_relay);
    return 0;
}

static void test_relay_sees_no_plaintext(void **state)
{
    struct ct_client *a = ct_client_new(&g_relay, "p-alice", NULL);
    struct ct_client *b = ct_client_new(&g_relay, "p-bob", NULL);
    struct ct_client *d = ct_client_new(&g_relay, "p-dave", &(struct ct_opts){.store = ""});
    char texts[N_TEXTS][80];
    uint8_t bin[2][512];
    (void)state;

    for (int i = 0; i < N_TEXTS; i++)
        snprintf(texts[i], sizeof texts[i], "secret-marker-%d-%08x", i, (unsigned)rand());
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i < sizeof bin[k]; i++)
            bin[k][i] = (uint8_t)(rand() >> 3);
    }
    assert_int_equal(e2ee_client_create_group_wait(a->c, "p-room", CT_WAIT_MS), E2EE_OK);
    assert_int_equal(e2ee_client_join_group_wait(b->c, "p-room", CT_WAIT_MS), E2EE_OK);
    assert_int_equal(e2ee_client_join_group_wait(d->c, "p-room", CT_WAIT_MS), E2EE_OK);
    ct_expect(a, &(struct ct_match){.type = E2EE_EVENT_MEMBER_JOIN, .user = "p-dave"});
    ct_expect(b, &(struct ct_match){.type = E2EE_EVENT_MEMBER_JOIN, .user = "p-dave"});

    /* delivered traffic */
    ct_direct_roundtrip(a, b, texts[0]);
    ct_direct_roundtrip(b, a, texts[1]);
    assert_int_equal(e2ee_client_send_group(a->c, "p-room", texts[2], NULL), E2EE_OK);
    ct_expect(b, &(struct ct_match){.type = E2EE_EVENT_GROUP_TEXT, .text = texts[2]});
    assert_int_equal(e2ee_client_send_direct_binary(a->c, "p-bob", bin[0], sizeof bin[0], NULL),
                     E2EE_OK);
    ct_expect(b, &(struct ct_match){.type = E2EE_EVENT_DIRECT_BINARY});
    /* stored traffic: dave is away */
    ct_expect(d, &(struct ct_match){.type = E2EE_EVENT_GROUP_TEXT, .text = texts[2]});
    ct_client_stop(d);
    assert_int_equal(e2ee_client_send_group(b->c, "p-room", texts[3], NULL), E2EE_OK);
    assert_int_equal(e2ee_client_send_group_binary(a->c, "p-room", bin[1], sizeof bin[1], NULL),
                     E2EE_OK);
    assert_int_equal(e2ee_client_send_direct(a->c, "p-dave", texts[4], NULL), E2EE_OK);
    assert_int_equal(e2ee_client_send_direct(b->c, "p-dave", texts[5], NULL), E2EE_OK);
    ct_expect(a, &(struct ct_match){.type = E2EE_EVENT_GROUP_TEXT, .text = texts[3]});
    assert_int_equal(ct_wait_n(a, &(struct ct_match){.type = E2EE_EVENT_MESSAGE_ACK,
                                                     .state = E2EE_ACK_SENT, .to = "p-dave"},
                               1, CT_WAIT_MS),
                     1);
    assert_int_equal(ct_wait_n(b, &(struct ct_match){.type = E2EE_EVENT_MESSAGE_ACK,
                                                     .state = E2EE_ACK_SENT, .to = "p-dave"},
                               1, CT_WAIT_MS),
                     1);
    ct_client_free(a);
    ct_client_free(b);
    assert_int_equal(rt_relay_stop(&g_relay), 0);

    /* the search works on these files */
    assert_true(ct_file_contains(g_relay.store, "p-dave", 6));
    assert_true(ct_file_contains(g_relay.store, "p-room", 6));
    assert_true(ct_file_contains(g_relay.log, "p-alice", 7));
    /* and finds no message */
    for (int i = 0; i < N_TEXTS; i++) {
        assert_false(ct_file_contains(g_relay.store, texts[i], strlen(texts[i])));
        assert_false(ct_file_contains(g_relay.log, texts[i], strlen(texts[i])));
    }
    for (int k = 0; k < 2; k++) {
        /* any 32-byte window of the binary messages */
        for (size_t off = 0; off + 32 <= sizeof bin[k]; off += 96) {
            assert_false(ct_file_contains(g_relay.store, bin[k] + off, 32));
            assert_false(ct_file_contains(g_relay.log, bin[k] + off, 32));
        }
    }
    /* what was stored for dave was real: he gets it all at his next login */
    assert_int_equal(rt_relay_restart(&g_relay), 0);
    ct_client_restart(d, g_relay.url);
    ct_expect(d, &(struct ct_match){.type = E2EE_EVENT_GROUP_TEXT, .text = texts[3]});
    ct_expect(d, &(struct ct_match){.type = E2EE_EVENT_GROUP_BINARY, .from = "p-alice"});
    ct_expect(d, &(struct ct_match){.type = E2EE_EVENT_DIRECT_TEXT, .text = texts[4]});
    ct_expect(d, &(struct ct_match){.type = E2EE_EVENT_DIRECT_TEXT, .text = texts[5]});
    assert_memory_equal(
        ct_wait(d, &(struct ct_match){.type = E2EE_EVENT_GROUP_BINARY}, 0)->data, bin[1],
        sizeof bin[1]);
    ct_client_free(d);
}

int main(void)
{
    srand((unsigned)getpid());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_relay_sees_no_plaintext),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
