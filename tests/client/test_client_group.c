/*
 * Groups between real clients through a real relay: the lifecycle (create, join, leave,
 * remove, delete) with its events on every member, group messages text and binary, acks
 * with ack_group on and off, refusals, a member offline during the traffic, and a group
 * of 20 clients.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static void send_group_and_expect(struct ct_client *from, const char *group, const char *text,
                                  struct ct_client **to, size_t n)
{
    char id[E2EE_MSG_ID_SIZE];
    assert_int_equal(e2ee_client_send_group(from->c, group, text, id), E2EE_OK);
    for (size_t i = 0; i < n; i++)
        ct_expect(to[i], &(struct ct_match){.type = E2EE_EVENT_GROUP_TEXT, .msg_id = id,
                                            .group = group, .from = from->name, .text = text});
    ct_expect(from, &(struct ct_match){.type = E2EE_EVENT_GROUP_MESSAGE_ACK, .msg_id = id,
                                       .state = E2EE_ACK_SENT, .group = group});
}

/* Create, join, messages both ways, acks, list calls. */
static void test_lifecycle_and_messages(void **state)
{
    struct ct_client *a = ct_client_new(&g_relay, "g-alice", NULL);
    struct ct_client *b = ct_client_new(&g_relay, "g-bob", NULL);
    struct ct_client *c = ct_client_new(&g_relay, "g-carol", NULL);
    const uint8_t bin[] = {1, 0, 2, 0, 3};
    char id[E2EE_MSG_ID_SIZE];
    uint64_t req = 0;
    const struct ct_event *e;
    char **list = NULL;
    size_t n = 0;
    (void)state;

    /* asynchronous create: CREATED then JOIN, both with the request id */
    assert_int_equal(e2ee_client_create_group(a->c, "g-room", &req), E2EE_OK);
    assert_true(req != 0);
    e = ct_wait(a, &(struct ct_match){.type = E2EE_EVENT_GROUP_CREATED, .group = "g-room"},
                CT_WAIT_MS);
    assert_non_null(e);
    assert_int_equal(e->request_id, req);
    assert_string_equal(e->owner, "g-alice");
    assert_string_equal(e->by, "g-alice");
    e = ct_wait(a, &(struct ct_match){.type = E2EE_EVENT_GROUP_JOIN, .group = "g-room"},
                CT_WAIT_MS);
    assert_non_null(e);
    assert_int_equal(e->request_id, req);
    assert_string_equal(e->members, "g-alice");

    /* blocking join: returns once the state shows it */
    assert_int_equal(e2ee_client_join_group_wait(b->c, "g-room", CT_WAIT_MS), E2EE_OK);
    e = ct_wait(b, &(struct ct_match){.type = E2EE_EVENT_GROUP_JOIN, .group = "g-room"}, 0);
    assert_non_null(e);
    assert_string_equal(e->members, "g-alice,g-bob");
    assert_string_equal(e->owner, "g-alice");
    assert_true(e->request_id != 0);
    assert_int_equal(e2ee_client_list_members(b->c, "g-room", &list, &n), E2EE_OK);
    assert_int_equal(n, 2);
    e2ee_strv_free(list, n);
    ct_expect(a, &(struct ct_match){.type = E2EE_EVENT_MEMBER_JOIN, .group = "g-room",
                                    .user = "g-bob"});

    send_group_and_expect(a, "g-room", "hello group", (struct ct_client *[]){b}, 1);
    ct_expect(a, &(struct ct_match){.type = E2EE_EVENT_GROUP_MESSAGE_ACK,
                                    .state = E2EE_ACK_DELIVERED, .to = "g-bob",
                                    .group = "g-room"});
    assert_int_equal(e2ee_client_send_group_binary(b->c, "g-room", bin, sizeof bin, id),
                     E2EE_OK);
    e = ct_wait(a, &(struct ct_match){.type = E2EE_EVENT_GROUP_BINARY, .msg_id = id}, CT_WAIT_MS);
    assert_non_null(e);
    assert_string_equal(e->from, "g-bob");
    assert_int_equal(e->len, sizeof bin);
    assert_memory_equal(e->data, bin, sizeof bin);

    /* a third member: new epoch, everybody rotates, all read each other */
    assert_int_equal(e2ee_client_join_group_wait(c->c, "g-room", CT_WAIT_MS), E2EE_OK);
    ct_expect(a, &(struct ct_match){.type = E2EE_EVENT_MEMBER_JOIN, .user = "g-carol"});
    ct_expect(b, &(struct ct_match){.type = E2EE_EVENT_MEMBER_JOIN, .user = "g-carol"});
    send_group_and_expect(a, "g-room", "three of us", (struct ct_client *[]){b, c}, 2);
    send_group_and_expect(c, "g-room", "carol here", (struct ct_client *[]){a, b}, 2);
    send_group_and_expect(b, "g-room", "bob here", (struct ct_client *[]){a, c}, 2);
    /* carol never saw what came before her */
    assert_int_equal(ct_count(c, &(struct ct_match){.type = E2EE_EVENT_GROUP_TEXT,
                                                    .text = "hello group"}),
                     0);

    assert_int_equal(e2ee_client_list_groups(c->c, &list, &n), E2EE_OK);
    assert_int_equal(n, 1);
    assert_string_equal(list[0], "g-room");
    e2ee_strv_free(list, n);

    /* remove carol: she gets GROUP_LEAVE naming the owner, the others MEMBER_LEAVE */
    assert_int_equal(e2ee_client_remove_member_wait(a->c, "g-room", "g-carol", CT_WAIT_MS),
                     E2EE_OK);
    e = ct_wait(c, &(struct ct_match){.type = E2EE_EVENT_GROUP_LEAVE, .group = "g-room"},
                CT_WAIT_MS);
    assert_non_null(e);
    assert_string_equal(e->by, "g-alice");
    ct_expect(b, &(struct ct_match){.type = E2EE_EVENT_MEMBER_LEAVE, .user = "g-carol",
                                    .by = "g-alice"});
    ct_expect(a, &(struct ct_match){.type = E2EE_EVENT_MEMBER_LEAVE, .user = "g-carol",
                                    .by = "g-alice"});
    assert_int_equal(e2ee_client_list_groups(c->c, &list, &n), E2EE_OK);
    assert_int_equal(n, 0);
    e2ee_strv_free(list, n);
    assert_int_equal(e2ee_client_send_group(c->c, "g-room", "let me in", NULL),
                     E2EE_ERR_NOT_MEMBER);
    send_group_and_expect(b, "g-room", "after carol", (struct ct_client *[]){a}, 1);

    /* bob leaves on his own: GROUP_LEAVE with no remover */
    assert_int_equal(e2ee_client_leave_group(b->c, "g-room", &req), E2EE_OK);
    e = ct_wait(b, &(struct ct_match){.type = E2EE_EVENT_GROUP_LEAVE, .group = "g-room"},
                CT_WAIT_MS);
    assert_non_null(e);
    assert_null(e->by);
    assert_int_equal(e->request_id, req);
    ct_expect(a, &(struct ct_match){.type = E2EE_EVENT_MEMBER_LEAVE, .user = "g-bob"});
    assert_null(ct_wait(a, &(struct ct_match){.type = E2EE_EVENT_MEMBER_LEAVE, .user = "g-bob"},
                        0)->by);

    /* delete: every member at that moment gets GROUP_DELETED */
    assert_int_equal(e2ee_client_join_group_wait(c->c, "g-room", CT_WAIT_MS), E2EE_OK);
    assert_int_equal(e2ee_client_delete_group_wait(a->c, "g-room", CT_WAIT_MS), E2EE_OK);
    e = ct_wait(c, &(struct ct_match){.type = E2EE_EVENT_GROUP_DELETED, .group = "g-room"},
                CT_WAIT_MS);
    assert_non_null(e);
    assert_string_equal(e->by, "g-alice");
    ct_expect(a, &(struct ct_match){.type = E2EE_EVENT_GROUP_DELETED, .group = "g-room"});
    assert_int_equal(ct_count(b, &(struct ct_match){.type = E2EE_EVENT_GROUP_DELETED}), 0);

    assert_int_equal(ct_count(a, &(struct ct_match){.type = E2EE_EVENT_E2EE_ERROR}), 0);
    assert_int_equal(ct_count(b, &(struct ct_match){.type = E2EE_EVENT_E2EE_ERROR}), 0);
    assert_int_equal(ct_count(c, &(struct ct_match){.type = E2EE_EVENT_E2EE_ERROR}), 0);
    ct_client_free(a);
    ct_client_free(b);
    ct_client_free(c);
}

/* The relay's refusals: blocking calls return them, asynchronous calls give ERROR events
 * with the request id. */
static void test_refusals(void **state)
{
    struct ct_client *a = ct_client_new(&g_relay, "r-alice", NULL);
    struct ct_client *b = ct_client_new(&g_relay, "r-bob", NULL);
    uint64_t req = 0;
    const struct ct_event *e;
    (void)state;

    assert_int_equal(e2ee_client_join_group_wait(a->c, "r-none", CT_WAIT_MS),
                     E2EE_ERR_NO_SUCH_GROUP);
    assert_int_equal(e2ee_client_create_group_wait(a->c, "r-room", CT_WAIT_MS), E2EE_OK);
    assert_int_equal(e2ee_client_create_group(b->c, "r-room", &req), E2EE_OK);
    e = ct_wait(b, &(struct ct_match){.type = E2EE_EVENT_ERROR, .has_code = 1,
                                      .code = E2EE_ERR_EXISTS},
                CT_WAIT_MS);
    assert_non_null(e);
    assert_int_equal(e->request_id, req);
    assert_string_equal(e->group, "r-room");
    assert_int_equal(e2ee_client_join_group_wait(b->c, "r-room", CT_WAIT_MS), E2EE_OK);
    assert_int_equal(e2ee_client_delete_group_wait(b->c, "r-room", CT_WAIT_MS),
                     E2EE_ERR_NOT_OWNER);
    assert_int_equal(e2ee_client_remove_member_wait(b->c, "r-room", "r-alice", CT_WAIT_MS),
                     E2EE_ERR_NOT_OWNER);
    assert_int_equal(e2ee_client_join_group_wait(b->c, "r-room", CT_WAIT_MS), E2EE_ERR_EXISTS);
    assert_int_equal(e2ee_client_leave_group_wait(a->c, "r-other", CT_WAIT_MS),
                     E2EE_ERR_NO_SUCH_GROUP);
    assert_int_equal(e2ee_client_send_group(a->c, "r-other", "x", NULL), E2EE_ERR_NOT_MEMBER);
    /* arguments */
    assert_int_equal(e2ee_client_create_group(a->c, "bad id", NULL), E2EE_ERR_ARG);
    assert_int_equal(e2ee_client_create_group(a->c, "", NULL), E2EE_ERR_LENGTH);
    assert_int_equal(e2ee_client_remove_member(a->c, "r-room", NULL, NULL), E2EE_ERR_ARG);
    assert_int_equal(e2ee_client_join_group_wait(NULL, "r-room", 10), E2EE_ERR_ARG);
    ct_client_free(a);
    ct_client_free(b);
}

/* ack_group off on one member: only the other member's DELIVERED comes. */
static void test_ack_group_off(void **state)
{
    struct ct_client *a = ct_client_new(&g_relay, "q-alice", NULL);
    struct ct_client *b = ct_client_new(&g_relay, "q-bob", NULL);
    struct ct_client *c = ct_client_new(&g_relay, "q-carol", &(struct ct_opts){.ack_group_off = 1});
    char id[E2EE_MSG_ID_SIZE];
    (void)state;

    assert_int_equal(e2ee_client_create_group_wait(a->c, "q-room", CT_WAIT_MS), E2EE_OK);
    assert_int_equal(e2ee_client_join_group_wait(b->c, "q-room", CT_WAIT_MS), E2EE_OK);
    assert_int_equal(e2ee_client_join_group_wait(c->c, "q-room", CT_WAIT_MS), E2EE_OK);
    ct_expect(a, &(struct ct_match){.type = E2EE_EVENT_MEMBER_JOIN, .user = "q-carol"});
    assert_int_equal(e2ee_client_send_group(a->c, "q-room", "ack me", id), E2EE_OK);
    ct_expect(b, &(struct ct_match){.type = E2EE_EVENT_GROUP_TEXT, .msg_id = id});
    ct_expect(c, &(struct ct_match){.type = E2EE_EVENT_GROUP_TEXT, .msg_id = id});
    ct_expect(a, &(struct ct_match){.type = E2EE_EVENT_GROUP_MESSAGE_ACK, .msg_id = id,
                                    .state = E2EE_ACK_DELIVERED, .to = "q-bob"});
    /* carol's reply, sent after she acked the message, comes after any receipt of hers */
    send_group_and_expect(c, "q-room", "carol replies", (struct ct_client *[]){a}, 1);
    assert_int_equal(ct_count(a, &(struct ct_match){.type = E2EE_EVENT_GROUP_MESSAGE_ACK,
                                                    .msg_id = id, .state = E2EE_ACK_DELIVERED}),
                     1);
    ct_client_free(a);
    ct_client_free(b);
    ct_client_free(c);
}

#define OFF_N 15

/* A member offline while the others talk (and the membership changes) gets everything in
 * order on reconnect, once, and can read it. */
static void test_member_offline(void **state)
{
    struct ct_client *a = ct_client_new(&g_relay, "f-alice", NULL);
    struct ct_client *b = ct_client_new(&g_relay, "f-bob", &(struct ct_opts){.store = ""});
    struct ct_client *c = ct_client_new(&g_relay, "f-carol", NULL);
    char text[64];
    (void)state;

    assert_int_equal(e2ee_client_create_group_wait(a->c, "f-room", CT_WAIT_MS), E2EE_OK);
    assert_int_equal(e2ee_client_join_group_wait(b->c, "f-room", CT_WAIT_MS), E2EE_OK);
    send_group_and_expect(a, "f-room", "before", (struct ct_client *[]){b}, 1);
    ct_client_stop(b); /* offline, and restarted from its store below */
    for (int i = 0; i < OFF_N; i++) {
        snprintf(text, sizeof text, "while away %02d", i);
        assert_int_equal(e2ee_client_send_group(a->c, "f-room", text, NULL), E2EE_OK);
        if (i == OFF_N / 2)
            assert_int_equal(e2ee_client_join_group_wait(c->c, "f-room", CT_WAIT_MS), E2EE_OK);
    }
    assert_int_equal(ct_wait_n(a, &(struct ct_match){.type = E2EE_EVENT_GROUP_MESSAGE_ACK,
                                                     .state = E2EE_ACK_SENT},
                               OFF_N + 1, CT_WAIT_MS),
                     OFF_N + 1);
    ct_client_restart(b, NULL);
    assert_int_equal(ct_wait_n(b, &(struct ct_match){.type = E2EE_EVENT_GROUP_TEXT}, OFF_N + 1,
                               CT_WAIT_MS),
                     OFF_N + 1);
    for (int i = 0; i < OFF_N; i++) {
        const struct ct_event *e =
            ct_nth(b, &(struct ct_match){.type = E2EE_EVENT_GROUP_TEXT}, (size_t)i + 1);
        snprintf(text, sizeof text, "while away %02d", i);
        assert_string_equal(e->text, text);
    }
    ct_expect(b, &(struct ct_match){.type = E2EE_EVENT_MEMBER_JOIN, .user = "f-carol"});
    /* and after the restart bob talks in the group again (its keys came from the store) */
    send_group_and_expect(b, "f-room", "back again", (struct ct_client *[]){a, c}, 2);
    ct_sleep_ms(CT_QUIET_MS);
    assert_int_equal(ct_count(b, &(struct ct_match){.type = E2EE_EVENT_GROUP_TEXT}), OFF_N + 1);
    assert_int_equal(ct_count(b, &(struct ct_match){.type = E2EE_EVENT_E2EE_ERROR}), 0);
    ct_client_free(a);
    ct_client_free(b);
    ct_client_free(c);
}

#define BIG_N 20

/* Twenty clients in one group: each sends once, every other member gets each message. */
static void test_twenty_members(void **state)
{
    struct ct_client *cl[BIG_N];
    char name[32], text[64];
    (void)state;

    for (int i = 0; i < BIG_N; i++) {
        snprintf(name, sizeof name, "m%02d", i);
        cl[i] = ct_client_new(&g_relay, name, NULL);
    }
    assert_int_equal(e2ee_client_create_group_wait(cl[0]->c, "big", CT_WAIT_MS), E2EE_OK);
    for (int i = 1; i < BIG_N; i++)
        assert_int_equal(e2ee_client_join_group_wait(cl[i]->c, "big", CT_WAIT_MS), E2EE_OK);
    for (int i = 0; i < BIG_N; i++)
        assert_int_equal(ct_wait_n(cl[i], &(struct ct_match){.type = E2EE_EVENT_MEMBER_JOIN},
                                   (size_t)(BIG_N - 1 - i), CT_WAIT_MS),
                         BIG_N - 1 - i);
    for (int i = 0; i < BIG_N; i++) {
        snprintf(text, sizeof text, "hello from m%02d", i);
        assert_int_equal(e2ee_client_send_group(cl[i]->c, "big", text, NULL), E2EE_OK);
    }
    for (int i = 0; i < BIG_N; i++)
        assert_int_equal(ct_wait_n(cl[i], &(struct ct_match){.type = E2EE_EVENT_GROUP_TEXT},
                                   BIG_N - 1, CT_WAIT_MS),
                         BIG_N - 1);
    for (int i = 0; i < BIG_N; i++) {
        assert_int_equal(ct_count(cl[i], &(struct ct_match){.type = E2EE_EVENT_E2EE_ERROR}), 0);
        assert_int_equal(ct_wait_n(cl[i], &(struct ct_match){.type = E2EE_EVENT_GROUP_MESSAGE_ACK,
                                                             .state = E2EE_ACK_DELIVERED},
                                   BIG_N - 1, CT_WAIT_MS),
                         BIG_N - 1);
    }
    for (int i = 0; i < BIG_N; i++)
        ct_client_free(cl[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lifecycle_and_messages),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_ack_group_off),
        cmocka_unit_test(test_member_offline),
        cmocka_unit_test(test_twenty_members),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
