/*
 * e2ee relay tests: groups against the real relay. The lifecycle with its events and
 * epochs (create, join, leave, remove, delete), every rule (owner-only delete and remove,
 * members-only send and list, join of a deleted group...), group messages with pairwise
 * payloads, stale-epoch refusal, offline group delivery, group receipts, ownership passing
 * on, and a removed member receiving nothing more.
 */
#include <stdio.h>
#include <string.h>

#include "relaytest.h"
#include "testutil.h"

static struct rt_relay g_relay;

static int setup(void **state)
{
    (void)state;
    struct rt_relay_opts o = {.config = "user_events = groups\n"};
    return rt_relay_start(&g_relay, &o);
}

static int teardown(void **state)
{
    (void)state;
    int rc = rt_relay_stop(&g_relay);
    rt_relay_cleanup(&g_relay);
    return rc == 0 ? 0 : -1;
}

static struct rt_client *user(struct rt_ident *id, const char *uid)
{
    return rt_user(&g_relay, id, uid);
}

/* Takes the next delivery: a group event of that kind about `who`. Returns it. */
static E2ee__RelayDelivery *expect_event(struct rt_client *c, const char *stream,
                                         E2ee__RelayGroupEventKind kind, const char *gid,
                                         const char *who, uint64_t epoch)
{
    E2ee__RelayDelivery *d = rt_next_delivery(c, RT_TIMEOUT_MS);
    assert_non_null(d);
    assert_int_equal(d->item_case, E2EE__RELAY_DELIVERY__ITEM_GROUP_EVENT);
    assert_string_equal(d->group_id, stream);
    assert_int_equal(d->group_event->kind, kind);
    assert_string_equal(d->group_event->group_id, gid);
    assert_string_equal(d->group_event->user_id, who);
    assert_int_equal(d->group_event->epoch, epoch);
    return d;
}

static void ack_delivery(struct rt_client *c, E2ee__RelayDelivery *d)
{
    assert_int_equal(rt_ack(c, d->group_id, d->seq), 0);
    rt_free_delivery(d);
}

static void expect_message(struct rt_client *c, const char *gid, const char *from, uint64_t cmid,
                           uint64_t epoch, const char *pairwise)
{
    E2ee__RelayDelivery *d = rt_next_item(c, E2EE__RELAY_DELIVERY__ITEM_GROUP_MESSAGE,
                                          RT_TIMEOUT_MS);
    assert_non_null(d);
    assert_string_equal(d->group_id, gid);
    assert_string_equal(d->group_message->from, from);
    assert_int_equal(d->group_message->client_msg_id, cmid);
    assert_int_equal(d->group_message->epoch, epoch);
    if (pairwise) {
        assert_int_equal(d->pairwise.len, strlen(pairwise));
        assert_memory_equal(d->pairwise.data, pairwise, strlen(pairwise));
    } else {
        assert_int_equal(d->pairwise.len, 0);
    }
    ack_delivery(c, d);
}

static void lifecycle_and_events(void **state)
{
    (void)state;
    struct rt_ident a, b, c;
    struct rt_client *ca = user(&a, "alice"), *cb = user(&b, "bob"), *cc = user(&c, "carol");
    E2ee__RelayResult *res = NULL;
    E2ee__RelayDelivery *d;
    uint64_t epoch = 0;
    assert_non_null(ca);
    assert_non_null(cb);
    assert_non_null(cc);

    assert_int_equal(rt_create_group(ca, "g1", &epoch), 0);
    assert_int_equal(epoch, 1);
    d = expect_event(ca, "g1", E2EE__RELAY_GROUP_EVENT_KIND__RELAY_GROUP_CREATED, "g1", "alice",
                     1);
    assert_int_equal(d->group_event->n_members, 1);
    assert_string_equal(d->group_event->owner, "alice");
    ack_delivery(ca, d);

    assert_int_equal(rt_join_group(cb, "g1", &epoch), 0);
    assert_int_equal(epoch, 2);
    d = expect_event(cb, "g1", E2EE__RELAY_GROUP_EVENT_KIND__RELAY_GROUP_MEMBER_JOINED, "g1",
                     "bob", 2);
    assert_int_equal(d->group_event->n_members, 2); /* the joiner gets the member list */
    assert_string_equal(d->group_event->members[0], "alice");
    assert_string_equal(d->group_event->members[1], "bob");
    ack_delivery(cb, d);
    d = expect_event(ca, "g1", E2EE__RELAY_GROUP_EVENT_KIND__RELAY_GROUP_MEMBER_JOINED, "g1",
                     "bob", 2);
    assert_int_equal(d->group_event->n_members, 0); /* the others do not */
    ack_delivery(ca, d);

    assert_int_equal(rt_join_group(cc, "g1", &epoch), 0);
    assert_int_equal(epoch, 3);
    ack_delivery(cc, expect_event(cc, "g1", E2EE__RELAY_GROUP_EVENT_KIND__RELAY_GROUP_MEMBER_JOINED,
                                  "g1", "carol", 3));
    ack_delivery(ca, expect_event(ca, "g1", E2EE__RELAY_GROUP_EVENT_KIND__RELAY_GROUP_MEMBER_JOINED,
                                  "g1", "carol", 3));
    ack_delivery(cb, expect_event(cb, "g1", E2EE__RELAY_GROUP_EVENT_KIND__RELAY_GROUP_MEMBER_JOINED,
                                  "g1", "carol", 3));

    assert_int_equal(rt_list_members(cb, "g1", &res), 0);
    assert_int_equal(res->group->n_members, 3);
    assert_string_equal(res->group->owner, "alice");
    assert_string_equal(res->group->members[2], "carol");
    rt_free_result(res);
    E2ee__ClientFrame f = E2EE__CLIENT_FRAME__INIT;
    E2ee__RelayListGroups lg = E2EE__RELAY_LIST_GROUPS__INIT;
    f.body_case = E2EE__CLIENT_FRAME__BODY_LIST_GROUPS;
    f.list_groups = &lg;
    assert_int_equal(rt_request(cb, &f, &res), 0);
    assert_int_equal(res->groups->n_groups, 1);
    assert_string_equal(res->groups->groups[0]->group_id, "g1");
    assert_int_equal(res->groups->groups[0]->epoch, 3);
    assert_int_equal(res->groups->groups[0]->member_count, 3);
    rt_free_result(res);

    /* bob leaves: his notice comes in his inbox, the others' in the group log */
    assert_int_equal(rt_leave_group(cb, "g1"), 0);
    d = expect_event(cb, "", E2EE__RELAY_GROUP_EVENT_KIND__RELAY_GROUP_MEMBER_LEFT, "g1", "bob",
                     4);
    assert_false(d->group_event->removed);
    ack_delivery(cb, d);
    ack_delivery(ca, expect_event(ca, "g1", E2EE__RELAY_GROUP_EVENT_KIND__RELAY_GROUP_MEMBER_LEFT,
                                  "g1", "bob", 4));
    ack_delivery(cc, expect_event(cc, "g1", E2EE__RELAY_GROUP_EVENT_KIND__RELAY_GROUP_MEMBER_LEFT,
                                  "g1", "bob", 4));

    /* alice removes carol */
    assert_int_equal(rt_remove_member(ca, "g1", "carol"), 0);
    d = expect_event(cc, "", E2EE__RELAY_GROUP_EVENT_KIND__RELAY_GROUP_MEMBER_LEFT, "g1", "carol",
                     5);
    assert_true(d->group_event->removed);
    ack_delivery(cc, d);
    d = expect_event(ca, "g1", E2EE__RELAY_GROUP_EVENT_KIND__RELAY_GROUP_MEMBER_LEFT, "g1",
                     "carol", 5);
    assert_true(d->group_event->removed);
    ack_delivery(ca, d);

    /* alice deletes it */
    assert_int_equal(rt_delete_group(ca, "g1"), 0);
    ack_delivery(ca, expect_event(ca, "", E2EE__RELAY_GROUP_EVENT_KIND__RELAY_GROUP_DELETED, "g1",
                                  "alice", 6));
    assert_int_equal(rt_join_group(cb, "g1", NULL), E2EE_ERR_NO_SUCH_GROUP);
    assert_int_equal(rt_send_group(ca, "g1", 6, 1, "x", 1, 0, NULL, NULL, NULL),
                     E2EE_ERR_NO_SUCH_GROUP);
    /* the id can be used again; epochs never go back */
    assert_int_equal(rt_create_group(cb, "g1", &epoch), 0);
    assert_int_equal(epoch, 7);
    assert_int_equal(rt_delete_group(cb, "g1"), 0);
    rt_close(ca);
    rt_close(cb);
    rt_close(cc);
}

static void rules(void **state)
{
    (void)state;
    struct rt_ident o, m, x;
    struct rt_client *co = user(&o, "owner"), *cm = user(&m, "member"), *cx = user(&x, "outsider");
    assert_non_null(co);
    assert_non_null(cm);
    assert_non_null(cx);
    assert_int_equal(rt_create_group(co, "rules", NULL), 0);
    assert_int_equal(rt_create_group(cm, "rules", NULL), E2EE_ERR_EXISTS);
    assert_int_equal(rt_create_group(cm, "bad id!", NULL), E2EE_ERR_ARG);
    assert_int_equal(rt_join_group(cm, "rules", NULL), 0);
    assert_int_equal(rt_join_group(cm, "rules", NULL), E2EE_ERR_EXISTS);
    assert_int_equal(rt_join_group(cm, "never-made", NULL), E2EE_ERR_NO_SUCH_GROUP);
    /* owner-only */
    assert_int_equal(rt_delete_group(cm, "rules"), E2EE_ERR_NOT_OWNER);
    assert_int_equal(rt_remove_member(cm, "rules", "owner"), E2EE_ERR_NOT_OWNER);
    assert_int_equal(rt_remove_member(co, "rules", "owner"), E2EE_ERR_ARG);
    assert_int_equal(rt_remove_member(co, "rules", "outsider"), E2EE_ERR_NOT_MEMBER);
    /* members-only */
    assert_int_equal(rt_send_group(cx, "rules", 2, 1, "x", 1, 0, NULL, NULL, NULL),
                     E2EE_ERR_NOT_MEMBER);
    assert_int_equal(rt_list_members(cx, "rules", NULL), E2EE_ERR_NOT_MEMBER);
    assert_int_equal(rt_leave_group(cx, "rules"), E2EE_ERR_NOT_MEMBER);
    assert_int_equal(rt_ack(cx, "rules", 1), E2EE_ERR_NOT_MEMBER);
    /* bad sends */
    assert_int_equal(rt_send_group(cm, "rules", 2, 0, "x", 1, 0, NULL, NULL, NULL), E2EE_ERR_ARG);
    assert_int_equal(rt_send_group(cm, "rules", 2, 1, "", 0, 0, NULL, NULL, NULL), E2EE_ERR_ARG);
    /* nothing of the refusals changed the group */
    E2ee__RelayResult *res = NULL;
    assert_int_equal(rt_list_members(cm, "rules", &res), 0);
    assert_int_equal(res->group->n_members, 2);
    assert_int_equal(res->group->epoch, 2);
    rt_free_result(res);
    assert_int_equal(rt_delete_group(co, "rules"), 0);
    rt_close(co);
    rt_close(cm);
    rt_close(cx);
}

static void messages_pairwise_stale_epoch(void **state)
{
    (void)state;
    struct rt_ident a, b, c;
    struct rt_client *ca = user(&a, "m-alice"), *cb = user(&b, "m-bob"), *cc = user(&c, "m-carol");
    E2ee__RelayResult *res = NULL;
    uint64_t epoch = 0;
    assert_non_null(ca);
    assert_non_null(cb);
    assert_non_null(cc);
    assert_int_equal(rt_create_group(ca, "chat", NULL), 0);
    assert_int_equal(rt_join_group(cb, "chat", &epoch), 0);
    assert_int_equal(rt_send_group(ca, "chat", epoch, 1, "hi", 2, 0, NULL, NULL, &res), 0);
    assert_int_equal(res->sent->seq, 3);
    assert_string_equal(res->sent->group_id, "chat");
    rt_free_result(res);
    expect_message(cb, "chat", "m-alice", 1, 2, NULL);

    assert_int_equal(rt_join_group(cc, "chat", &epoch), 0);
    assert_int_equal(epoch, 3);
    /* a message for the old membership is refused with the current state */
    assert_int_equal(rt_send_group(ca, "chat", 2, 2, "old", 3, 0, NULL, NULL, &res),
                     E2EE_ERR_STALE_EPOCH);
    assert_int_equal(res->body_case, E2EE__RELAY_RESULT__BODY_GROUP);
    assert_int_equal(res->group->epoch, 3);
    assert_int_equal(res->group->n_members, 3);
    rt_free_result(res);
    /* rotated: the new key goes to each member with the message */
    const char *users[] = {"m-bob", "m-carol"};
    const char *payloads[] = {"skd-for-bob", "skd-for-carol"};
    assert_int_equal(rt_send_group(ca, "chat", 3, 2, "new", 3, 2, users, payloads, NULL), 0);
    expect_message(cb, "chat", "m-alice", 2, 3, "skd-for-bob");
    expect_message(cc, "chat", "m-alice", 2, 3, "skd-for-carol");
    assert_int_equal(rt_send_group(ca, "chat", 3, 3, "more", 4, 0, NULL, NULL, NULL), 0);
    expect_message(cb, "chat", "m-alice", 3, 3, NULL);
    expect_message(cc, "chat", "m-alice", 3, 3, NULL);
    /* a retry is recognised */
    assert_int_equal(rt_send_group(ca, "chat", 3, 3, "more", 4, 0, NULL, NULL, &res), 0);
    assert_true(res->sent->duplicate);
    rt_free_result(res);
    /* bad pairwise payloads */
    const char *outsider[] = {"nobody"};
    const char *self[] = {"m-alice"};
    const char *twice[] = {"m-bob", "m-bob"};
    const char *p1[] = {"x"}, *p2[] = {"x", "y"};
    assert_int_equal(rt_send_group(ca, "chat", 3, 4, "x", 1, 1, outsider, p1, NULL),
                     E2EE_ERR_NOT_MEMBER);
    assert_int_equal(rt_send_group(ca, "chat", 3, 4, "x", 1, 1, self, p1, NULL), E2EE_ERR_ARG);
    assert_int_equal(rt_send_group(ca, "chat", 3, 4, "x", 1, 2, twice, p2, NULL), E2EE_ERR_ARG);
    /* the sender never gets its own messages */
    assert_int_equal(rt_send_group(cb, "chat", 3, 9, "from bob", 8, 0, NULL, NULL, NULL), 0);
    expect_message(ca, "chat", "m-bob", 9, 3, NULL);
    expect_message(cc, "chat", "m-bob", 9, 3, NULL);
    assert_int_equal(rt_ping(cb), 0);
    rt_pump(50);
    assert_null(rt_next_item(cb, E2EE__RELAY_DELIVERY__ITEM_GROUP_MESSAGE, 0));
    assert_int_equal(rt_delete_group(ca, "chat"), 0);
    rt_close(ca);
    rt_close(cb);
    rt_close(cc);
}

static void pairwise_for_offline_member(void **state)
{
    (void)state;
    struct rt_ident a, b, c;
    struct rt_client *ca = user(&a, "po-alice"), *cb = user(&b, "po-bob"), *cc = user(&c, "po-carol");
    uint64_t epoch = 0;
    assert_non_null(ca);
    assert_non_null(cb);
    assert_non_null(cc);
    assert_int_equal(rt_create_group(ca, "po", NULL), 0);
    assert_int_equal(rt_join_group(cb, "po", NULL), 0);
    assert_int_equal(rt_join_group(cc, "po", &epoch), 0);
    rt_close(cc);
    const char *users[] = {"po-carol", "po-bob"};
    const char *payloads[] = {"skd-carol", "skd-bob"};
    assert_int_equal(rt_send_group(ca, "po", epoch, 1, "m1", 2, 2, users, payloads, NULL), 0);
    assert_int_equal(rt_send_group(ca, "po", epoch, 2, "m2", 2, 0, NULL, NULL, NULL), 0);
    expect_message(cb, "po", "po-alice", 1, epoch, "skd-bob");
    /* carol gets her payload from the store with the message, and only hers */
    cc = rt_connect_login(&g_relay, &c);
    assert_non_null(cc);
    expect_message(cc, "po", "po-alice", 1, epoch, "skd-carol");
    expect_message(cc, "po", "po-alice", 2, epoch, NULL);
    assert_int_equal(rt_delete_group(ca, "po"), 0);
    rt_close(ca);
    rt_close(cb);
    rt_close(cc);
}

static void offline_group_delivery(void **state)
{
    (void)state;
    struct rt_ident d, e;
    struct rt_client *cd = user(&d, "o-dave"), *ce = user(&e, "o-erin");
    uint64_t epoch = 0;
    assert_non_null(cd);
    assert_non_null(ce);
    assert_int_equal(rt_create_group(cd, "offline", NULL), 0);
    assert_int_equal(rt_join_group(ce, "offline", &epoch), 0);
    rt_close(ce);
    for (uint64_t i = 1; i <= 5; i++)
        assert_int_equal(rt_send_group(cd, "offline", epoch, i, "m", 1, 0, NULL, NULL, NULL), 0);
    ce = rt_connect_login(&g_relay, &e);
    assert_non_null(ce);
    /* her own join event first, then the messages in order */
    E2ee__RelayDelivery *dv = expect_event(
        ce, "offline", E2EE__RELAY_GROUP_EVENT_KIND__RELAY_GROUP_MEMBER_JOINED, "offline",
        "o-erin", 2);
    rt_free_delivery(dv);
    uint64_t third = 0;
    for (uint64_t i = 1; i <= 5; i++) {
        dv = rt_next_delivery(ce, RT_TIMEOUT_MS);
        assert_non_null(dv);
        assert_int_equal(dv->group_message->client_msg_id, i);
        if (i == 3)
            third = dv->seq;
        rt_free_delivery(dv);
    }
    assert_int_equal(rt_ack(ce, "offline", third), 0);
    rt_close(ce);
    ce = rt_connect_login(&g_relay, &e);
    assert_non_null(ce);
    for (uint64_t i = 4; i <= 5; i++) {
        dv = rt_next_delivery(ce, RT_TIMEOUT_MS);
        assert_non_null(dv);
        assert_int_equal(dv->group_message->client_msg_id, i);
        rt_free_delivery(dv);
    }
    assert_int_equal(rt_delete_group(cd, "offline"), 0);
    rt_close(cd);
    rt_close(ce);
}

static void group_receipts(void **state)
{
    (void)state;
    struct rt_ident f, g;
    rt_ident_new(&f, "r-frank");
    struct rt_client *cf = rt_connect(&g_relay), *cg = user(&g, "r-gina");
    uint64_t epoch = 0;
    assert_non_null(cf);
    assert_non_null(cg);
    assert_int_equal(rt_login_ex(cf, &f, NULL, 0, 1, NULL), 0); /* ack_group on */
    assert_int_equal(rt_create_group(cg, "receipts", NULL), 0);
    assert_int_equal(rt_join_group(cf, "receipts", &epoch), 0);
    assert_int_equal(rt_send_group(cg, "receipts", epoch, 41, "a", 1, 0, NULL, NULL, NULL), 0);
    assert_int_equal(rt_send_group(cg, "receipts", epoch, 42, "b", 1, 0, NULL, NULL, NULL), 0);
    rt_free_delivery(rt_next_item(cf, E2EE__RELAY_DELIVERY__ITEM_GROUP_MESSAGE, RT_TIMEOUT_MS));
    E2ee__RelayDelivery *last = rt_next_item(cf, E2EE__RELAY_DELIVERY__ITEM_GROUP_MESSAGE,
                                             RT_TIMEOUT_MS);
    assert_non_null(last);
    ack_delivery(cf, last);
    E2ee__RelayDelivery *r = rt_next_item(cg, E2EE__RELAY_DELIVERY__ITEM_RECEIPT, RT_TIMEOUT_MS);
    assert_non_null(r);
    assert_string_equal(r->group_id, ""); /* receipts come in the inbox */
    assert_string_equal(r->receipt->group_id, "receipts");
    assert_string_equal(r->receipt->recipient, "r-frank");
    assert_int_equal(r->receipt->n_client_msg_ids, 2);
    assert_int_equal(r->receipt->client_msg_ids[0], 41);
    assert_int_equal(r->receipt->client_msg_ids[1], 42);
    rt_free_delivery(r);
    assert_int_equal(rt_delete_group(cg, "receipts"), 0);
    rt_close(cf);
    rt_close(cg);
}

static void ownership_and_removal(void **state)
{
    (void)state;
    struct rt_ident a, b, c;
    struct rt_client *ca = user(&a, "w-alice"), *cb = user(&b, "w-bob"), *cc = user(&c, "w-carol");
    E2ee__RelayResult *res = NULL;
    uint64_t epoch = 0;
    assert_non_null(ca);
    assert_non_null(cb);
    assert_non_null(cc);
    assert_int_equal(rt_create_group(ca, "own", NULL), 0);
    assert_int_equal(rt_join_group(cb, "own", NULL), 0);
    assert_int_equal(rt_join_group(cc, "own", &epoch), 0);
    /* the owner leaves: the longest-standing member owns it now */
    assert_int_equal(rt_leave_group(ca, "own"), 0);
    assert_int_equal(rt_list_members(cb, "own", &res), 0);
    assert_string_equal(res->group->owner, "w-bob");
    epoch = res->group->epoch;
    rt_free_result(res);
    /* bob removes carol: she gets nothing sent after that */
    assert_int_equal(rt_remove_member(cb, "own", "w-carol"), 0);
    assert_int_equal(rt_send_group(cb, "own", epoch + 1, 1, "x", 1, 0, NULL, NULL, NULL), 0);
    assert_int_equal(rt_send_group(cc, "own", epoch + 1, 1, "x", 1, 0, NULL, NULL, NULL),
                     E2EE_ERR_NOT_MEMBER);
    assert_int_equal(rt_ping(cc), 0);
    rt_pump(50);
    assert_null(rt_next_item(cc, E2EE__RELAY_DELIVERY__ITEM_GROUP_MESSAGE, 0));
    /* the last member leaving deletes the group */
    assert_int_equal(rt_leave_group(cb, "own"), 0);
    assert_int_equal(rt_join_group(cc, "own", NULL), E2EE_ERR_NO_SUCH_GROUP);
    rt_close(ca);
    rt_close(cb);
    rt_close(cc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lifecycle_and_events),
        cmocka_unit_test(rules),
        cmocka_unit_test(messages_pairwise_stale_epoch),
        cmocka_unit_test(pairwise_for_offline_member),
        cmocka_unit_test(offline_group_delivery),
        cmocka_unit_test(group_receipts),
        cmocka_unit_test(ownership_and_removal),
    };
    return cmocka_run_group_tests_name("relay groups", tests, setup, teardown);
}
