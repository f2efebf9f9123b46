/*
 * e2ee tests, hostile rows: a logged-in user (mallory) asks for what is not hers: other
 * people's accounts, groups she does not own or belong to, pairwise payloads for others,
 * and every bound the relay keeps. Each refusal has its documented code, nothing changes,
 * and the connection stays usable.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostile.h"

static char g_gid[72];

/* A fresh group id. */
static const char *gid_new(const char *tag)
{
    static unsigned n;
    snprintf(g_gid, sizeof g_gid, "hg-%s-%u", tag, ++n);
    return g_gid;
}

static int req(struct rt_client *c, int kind, const char *gid, const char *uid)
{
    return rt_request(c, h_frame(kind, gid, uid), NULL);
}

/* owner creates a group that `member` (may be NULL) joins; returns the epoch. */
static uint64_t group(struct rt_client *owner, struct rt_client *member, const char *gid)
{
    uint64_t epoch = 0;
    assert_int_equal(rt_create_group(owner, gid, &epoch), 0);
    if (member)
        assert_int_equal(rt_join_group(member, gid, &epoch), 0);
    return epoch;
}

static void delete_other_account(int arg)
{
    (void)arg;
    struct rt_ident m;
    struct rt_client *c = h_user(&m, "mallory");
    assert_int_equal(req(c, E2EE__CLIENT_FRAME__BODY_DELETE_ACCOUNT, NULL, H_VICTIM),
                     E2EE_ERR_ARG);
    assert_int_equal(rt_ping(g_h.cv), 0);
    rt_close(c);
}

/* The relay names the sender itself: a message to the victim says it is from mallory. */
static void sender_not_spoofable(int arg)
{
    (void)arg;
    struct rt_ident m;
    struct rt_client *c = h_user(&m, "mallory");
    assert_int_equal(rt_send_direct(c, H_VICTIM, 777, "from whom?", 10, NULL), 0);
    E2ee__RelayDelivery *d = rt_next_item(g_h.cv, E2EE__RELAY_DELIVERY__ITEM_DIRECT, RT_TIMEOUT_MS);
    assert_non_null(d);
    assert_string_equal(d->direct->from, m.uid);
    assert_int_equal(d->direct->client_msg_id, 777);
    assert_int_equal(rt_ack(g_h.cv, "", d->seq), 0);
    rt_free_delivery(d);
    rt_close(c);
}

/* The same client message id twice: stored and delivered once. */
static void resend_stored_once(int arg)
{
    (void)arg;
    struct rt_ident m;
    struct rt_client *c = h_user(&m, "mallory");
    uint64_t s1 = 0, s2 = 0;
    assert_int_equal(rt_send_direct(c, H_VICTIM, 778, "twice", 5, &s1), 0);
    assert_int_equal(rt_send_direct(c, H_VICTIM, 778, "twice", 5, &s2), 0);
    assert_int_equal(s1, s2);
    E2ee__RelayDelivery *d = rt_next_item(g_h.cv, E2EE__RELAY_DELIVERY__ITEM_DIRECT, RT_TIMEOUT_MS);
    assert_non_null(d);
    assert_int_equal(rt_ack(g_h.cv, "", d->seq), 0);
    rt_free_delivery(d);
    d = rt_next_item(g_h.cv, E2EE__RELAY_DELIVERY__ITEM_DIRECT, 300);
    assert_null(d);
    rt_close(c);
}

static void ack_beyond(int arg)
{
    struct rt_ident m;
    struct rt_client *c = h_user(&m, "mallory");
    assert_int_equal(rt_ack(c, "", arg ? UINT64_MAX : 5), E2EE_ERR_RANGE);
    rt_close(c);
}

static void ack_foreign_group(int arg)
{
    (void)arg;
    struct rt_ident o, m;
    struct rt_client *owner = h_user(&o, "owner"), *c = h_user(&m, "mallory");
    const char *gid = gid_new("ackf");
    group(owner, NULL, gid);
    assert_int_equal(rt_ack(c, gid, 1), E2EE_ERR_NOT_MEMBER);
    assert_int_equal(rt_delete_group(owner, gid), 0);
    rt_close(owner);
    rt_close(c);
}

static void join_twice(int arg)
{
    (void)arg;
    struct rt_ident o, m;
    struct rt_client *owner = h_user(&o, "owner"), *c = h_user(&m, "mallory");
    const char *gid = gid_new("j2");
    group(owner, c, gid);
    assert_int_equal(rt_join_group(c, gid, NULL), E2EE_ERR_EXISTS);
    assert_int_equal(rt_delete_group(owner, gid), 0);
    rt_close(owner);
    rt_close(c);
}

/* Owner-only operations by a member. */
static void not_owner(int arg)
{
    struct rt_ident o, m, x;
    struct rt_client *owner = h_user(&o, "owner"), *c = h_user(&m, "mallory");
    struct rt_client *other = h_user(&x, "member");
    const char *gid = gid_new("own");
    char g[72];
    snprintf(g, sizeof g, "%s", gid);
    group(owner, c, g);
    assert_int_equal(rt_join_group(other, g, NULL), 0);
    if (arg == 0)
        assert_int_equal(rt_delete_group(c, g), E2EE_ERR_NOT_OWNER);
    else
        assert_int_equal(rt_remove_member(c, g, x.uid), E2EE_ERR_NOT_OWNER);
    E2ee__RelayResult *res = NULL;
    assert_int_equal(rt_list_members(other, g, &res), 0);
    assert_int_equal(res->group->member_count, 3); /* nothing changed */
    rt_free_result(res);
    assert_int_equal(rt_delete_group(owner, g), 0);
    rt_close(owner);
    rt_close(c);
    rt_close(other);
}

static void owner_removes_self(int arg)
{
    (void)arg;
    struct rt_ident o;
    struct rt_client *owner = h_user(&o, "owner");
    const char *gid = gid_new("self");
    group(owner, NULL, gid);
    assert_int_equal(rt_remove_member(owner, gid, o.uid), E2EE_ERR_ARG);
    assert_int_equal(rt_delete_group(owner, gid), 0);
    rt_close(owner);
}

static void remove_non_member(int arg)
{
    (void)arg;
    struct rt_ident o;
    struct rt_client *owner = h_user(&o, "owner");
    const char *gid = gid_new("rnm");
    group(owner, NULL, gid);
    assert_int_equal(rt_remove_member(owner, gid, H_VICTIM), E2EE_ERR_NOT_MEMBER);
    assert_int_equal(rt_delete_group(owner, gid), 0);
    rt_close(owner);
}

/* Group requests by an outsider: send, list members, leave. */
static void outsider(int arg)
{
    struct rt_ident o, m;
    struct rt_client *owner = h_user(&o, "owner"), *c = h_user(&m, "mallory");
    const char *gid = gid_new("out");
    uint64_t epoch = group(owner, NULL, gid);
    switch (arg) {
    case 0:
        assert_int_equal(rt_send_group(c, gid, epoch, 1, "x", 1, 0, NULL, NULL, NULL),
                         E2EE_ERR_NOT_MEMBER);
        break;
    case 1:
        assert_int_equal(rt_list_members(c, gid, NULL), E2EE_ERR_NOT_MEMBER);
        break;
    default:
        assert_int_equal(rt_leave_group(c, gid), E2EE_ERR_NOT_MEMBER);
        break;
    }
    assert_int_equal(rt_delete_group(owner, gid), 0);
    rt_close(owner);
    rt_close(c);
}

/* A message for an epoch that is not the group's: refused with the current group info. */
static void wrong_epoch(int arg)
{
    struct rt_ident o, m;
    struct rt_client *owner = h_user(&o, "owner"), *c = h_user(&m, "mallory");
    const char *gid = gid_new("ep");
    uint64_t epoch = group(owner, c, gid);
    E2ee__RelayResult *res = NULL;
    uint64_t bad = arg ? epoch + 5 : epoch - 1;
    assert_int_equal(rt_send_group(c, gid, bad, 1, "x", 1, 0, NULL, NULL, &res),
                     E2EE_ERR_STALE_EPOCH);
    assert_int_equal(res->body_case, E2EE__RELAY_RESULT__BODY_GROUP);
    assert_int_equal(res->group->epoch, epoch);
    rt_free_result(res);
    assert_int_equal(rt_delete_group(owner, gid), 0);
    rt_close(owner);
    rt_close(c);
}

/* Pairwise payloads addressed wrongly. */
static void bad_pairwise(int arg)
{
    struct rt_ident o, m;
    struct rt_client *owner = h_user(&o, "owner"), *c = h_user(&m, "mallory");
    const char *gid = gid_new("pw");
    uint64_t epoch = group(owner, c, gid);
    const char *users[3];
    const char *payloads[3] = {"p1", "p2", "p3"};
    size_t n = 1;
    int want = E2EE_ERR_ARG;
    switch (arg) {
    case 0: users[0] = H_VICTIM; want = E2EE_ERR_NOT_MEMBER; break;
    case 1: users[0] = m.uid; break;
    case 2: users[0] = users[1] = o.uid; n = 2; break;
    default: users[0] = o.uid; users[1] = H_VICTIM; users[2] = "h-x"; n = 3; break;
    }
    assert_int_equal(rt_send_group(c, gid, epoch, 1, "x", 1, n, users, payloads, NULL), want);
    assert_int_equal(rt_delete_group(owner, gid), 0);
    rt_close(owner);
    rt_close(c);
}

static void create_existing(int arg)
{
    (void)arg;
    struct rt_ident o, m;
    struct rt_client *owner = h_user(&o, "owner"), *c = h_user(&m, "mallory");
    const char *gid = gid_new("ex");
    group(owner, NULL, gid);
    assert_int_equal(rt_create_group(c, gid, NULL), E2EE_ERR_EXISTS);
    assert_int_equal(rt_delete_group(owner, gid), 0);
    rt_close(owner);
    rt_close(c);
}

/* Groups that do not exist (never made, or deleted). */
static void no_such_group(int arg)
{
    struct rt_ident m;
    struct rt_client *c = h_user(&m, "mallory");
    const char *gid = gid_new("none");
    if (arg >= 2) { /* a deleted one */
        group(c, NULL, gid);
        assert_int_equal(rt_delete_group(c, gid), 0);
    }
    switch (arg) {
    case 0: assert_int_equal(rt_join_group(c, gid, NULL), E2EE_ERR_NO_SUCH_GROUP); break;
    case 1: assert_int_equal(rt_delete_group(c, gid), E2EE_ERR_NO_SUCH_GROUP); break;
    case 2: assert_int_equal(rt_join_group(c, gid, NULL), E2EE_ERR_NO_SUCH_GROUP); break;
    default:
        assert_int_equal(rt_send_group(c, gid, 3, 1, "x", 1, 0, NULL, NULL, NULL),
                         E2EE_ERR_NO_SUCH_GROUP);
        break;
    }
    rt_close(c);
}

static void bad_group_id(int arg)
{
    struct rt_ident m;
    struct rt_client *c = h_user(&m, "mallory");
    const char *gid = arg ? "ggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggg"
                          : "a/b";
    assert_int_equal(rt_create_group(c, gid, NULL), E2EE_ERR_ARG);
    rt_close(c);
}

static void bad_fetch(int arg)
{
    struct rt_ident m;
    struct rt_client *c = h_user(&m, "mallory");
    E2ee__ClientFrame *f = h_frame(E2EE__CLIENT_FRAME__BODY_FETCH_BUNDLE, NULL,
                                   arg == 0 ? "h-nobody-at-all" : arg == 1 ? "no way" : H_VICTIM);
    if (arg == 2)
        f->fetch_bundle->device_id = 9;
    assert_int_equal(rt_request(c, f, NULL), arg == 0 ? E2EE_ERR_NO_SUCH_USER : E2EE_ERR_ARG);
    rt_close(c);
}

static void bad_publish(int arg)
{
    struct rt_ident m;
    struct rt_client *c = h_user(&m, "mallory");
    E2ee__ClientFrame *f = h_frame(E2EE__CLIENT_FRAME__BODY_PUBLISH_KEYS, NULL, NULL);
    E2ee__RelayOneTimePrekey keys[H_MAX_PREKEYS + 1], *kp[H_MAX_PREKEYS + 1];
    uint8_t pub[32];
    int want = E2EE_ERR_ARG;
    memset(pub, 9, sizeof pub);
    for (int i = 0; i <= H_MAX_PREKEYS; i++) {
        e2ee__relay_one_time_prekey__init(&keys[i]);
        keys[i].id = 100 + (uint32_t)i;
        keys[i].public_key.data = pub;
        keys[i].public_key.len = 32;
        kp[i] = &keys[i];
    }
    f->publish_keys->one_time_prekeys = kp;
    switch (arg) {
    case 0: f->publish_keys->n_one_time_prekeys = H_MAX_PREKEYS + 1; want = E2EE_ERR_LIMIT; break;
    case 1: keys[1].id = keys[0].id; f->publish_keys->n_one_time_prekeys = 2; break;
    case 4:
        keys[H_MAX_PREKEYS - 1].id = keys[0].id; /* the last repeats the first */
        f->publish_keys->n_one_time_prekeys = H_MAX_PREKEYS;
        break;
    case 2:
        keys[0].public_key.len = 31;
        f->publish_keys->n_one_time_prekeys = 1;
        want = E2EE_ERR_LENGTH;
        break;
    default:
        f->publish_keys->signed_prekey = NULL;
        f->publish_keys->n_one_time_prekeys = 0;
        break;
    }
    assert_int_equal(rt_request(c, f, NULL), want);
    rt_close(c);
}

static void bad_direct(int arg)
{
    struct rt_ident m;
    struct rt_client *c = h_user(&m, "mallory");
    E2ee__ClientFrame *f = h_frame(E2EE__CLIENT_FRAME__BODY_SEND_DIRECT, NULL,
                                   arg == 0 ? "h-nobody-at-all" : H_VICTIM);
    int want = E2EE_ERR_ARG;
    switch (arg) {
    case 0: want = E2EE_ERR_NO_SUCH_USER; break;
    case 1: f->send_direct->ciphertext.len = 0; break;
    case 2: f->send_direct->client_msg_id = 0; break;
    default: f->send_direct->to_device = 7; break;
    }
    assert_int_equal(rt_request(c, f, NULL), want);
    rt_close(c);
}

/* A client message id used for one recipient, then for another. */
static void cmid_reuse(int arg)
{
    (void)arg;
    struct rt_ident m;
    struct rt_client *c = h_user(&m, "mallory");
    assert_int_equal(rt_send_direct(c, m.uid, 55, "a", 1, NULL), 0);
    assert_int_equal(rt_send_direct(c, H_VICTIM, 55, "b", 1, NULL), E2EE_ERR_EXISTS);
    rt_close(c);
}

static void list_users(int arg)
{
    struct rt_ident m;
    struct rt_client *c = h_user(&m, "mallory");
    E2ee__ClientFrame *f = h_frame(E2EE__CLIENT_FRAME__BODY_LIST_USERS, NULL, NULL);
    E2ee__RelayResult *res = NULL;
    if (arg == 0) {
        f->list_users->after = "not an id";
        assert_int_equal(rt_request(c, f, NULL), E2EE_ERR_ARG);
    } else {
        f->list_users->limit = 1000000;
        assert_int_equal(rt_request(c, f, &res), 0);
        assert_true(res->users->n_user_ids <= 5); /* list_users_page */
        assert_true(res->users->more);
        rt_free_result(res);
    }
    rt_close(c);
}

static void too_many_groups(int arg)
{
    (void)arg;
    struct rt_ident m;
    struct rt_client *c = h_user(&m, "mallory");
    char g[H_MAX_GROUPS_PER_USER + 1][72];
    for (int i = 0; i <= H_MAX_GROUPS_PER_USER; i++)
        snprintf(g[i], sizeof g[i], "%s", gid_new("many"));
    for (int i = 0; i < H_MAX_GROUPS_PER_USER; i++)
        assert_int_equal(rt_create_group(c, g[i], NULL), 0);
    assert_int_equal(rt_create_group(c, g[H_MAX_GROUPS_PER_USER], NULL), E2EE_ERR_LIMIT);
    for (int i = 0; i < H_MAX_GROUPS_PER_USER; i++)
        assert_int_equal(rt_delete_group(c, g[i]), 0);
    rt_close(c);
}

static void group_full(int arg)
{
    (void)arg;
    struct rt_ident ids[H_MAX_GROUP_SIZE + 1];
    struct rt_client *c[H_MAX_GROUP_SIZE + 1];
    const char *gid = gid_new("full");
    char g[72];
    snprintf(g, sizeof g, "%s", gid);
    for (int i = 0; i <= H_MAX_GROUP_SIZE; i++)
        c[i] = h_user(&ids[i], "member");
    group(c[0], NULL, g);
    for (int i = 1; i < H_MAX_GROUP_SIZE; i++)
        assert_int_equal(rt_join_group(c[i], g, NULL), 0);
    assert_int_equal(rt_join_group(c[H_MAX_GROUP_SIZE], g, NULL), E2EE_ERR_LIMIT);
    assert_int_equal(rt_delete_group(c[0], g), 0);
    for (int i = 0; i <= H_MAX_GROUP_SIZE; i++)
        rt_close(c[i]);
}

/* An offline user's inbox, or an offline member's share of a group log, fills up. */
static void queue_full(int arg)
{
    struct rt_ident o, m;
    struct rt_client *target = h_user(&o, "offline"), *c = h_user(&m, "mallory");
    const char *gid = gid_new("qf");
    char g[72];
    uint64_t epoch = 0;
    snprintf(g, sizeof g, "%s", gid);
    if (arg)
        epoch = group(c, target, g);
    rt_close(target);
    for (uint64_t i = 1; i <= H_MAX_QUEUE_MSGS; i++) {
        int rc = arg ? rt_send_group(c, g, epoch, i, "q", 1, 0, NULL, NULL, NULL)
                     : rt_send_direct(c, o.uid, i, "q", 1, NULL);
        assert_int_equal(rc, 0);
    }
    int rc = arg ? rt_send_group(c, g, epoch, 999, "q", 1, 0, NULL, NULL, NULL)
                 : rt_send_direct(c, o.uid, 999, "q", 1, NULL);
    assert_int_equal(rc, E2EE_ERR_QUEUE_FULL);
    if (arg)
        assert_int_equal(rt_delete_group(c, g), 0);
    rt_close(c);
}

/* A removed member can no longer send, ack, or read what follows. */
static void removed_member(int arg)
{
    struct rt_ident o, m;
    struct rt_client *owner = h_user(&o, "owner"), *c = h_user(&m, "mallory");
    const char *gid = gid_new("rm");
    char g[72];
    snprintf(g, sizeof g, "%s", gid);
    uint64_t epoch = group(owner, c, g);
    assert_int_equal(rt_remove_member(owner, g, m.uid), 0);
    epoch++;
    switch (arg) {
    case 0:
        assert_int_equal(rt_send_group(c, g, epoch, 1, "x", 1, 0, NULL, NULL, NULL),
                         E2EE_ERR_NOT_MEMBER);
        break;
    case 1:
        assert_int_equal(rt_ack(c, g, 1), E2EE_ERR_NOT_MEMBER);
        break;
    default: {
        assert_int_equal(rt_send_group(owner, g, epoch, 1, "secret", 6, 0, NULL, NULL, NULL), 0);
        E2ee__RelayDelivery *d =
            rt_next_item(c, E2EE__RELAY_DELIVERY__ITEM_GROUP_MESSAGE, 500);
        assert_null(d);
        break;
    }
    }
    assert_int_equal(rt_delete_group(owner, g), 0);
    rt_close(owner);
    rt_close(c);
}

/* An owner who left no longer owns: ownership passed to the next member. */
static void former_owner(int arg)
{
    (void)arg;
    struct rt_ident o, m;
    struct rt_client *owner = h_user(&o, "owner"), *c = h_user(&m, "member");
    const char *gid = gid_new("fo");
    char g[72];
    snprintf(g, sizeof g, "%s", gid);
    group(owner, c, g);
    assert_int_equal(rt_leave_group(owner, g), 0);
    assert_int_equal(rt_delete_group(owner, g), E2EE_ERR_NOT_OWNER);
    assert_int_equal(rt_delete_group(c, g), 0);
    rt_close(owner);
    rt_close(c);
}

const struct h_row k_rows_rights[] = {
    {"rights: delete another user's account", delete_other_account, 0},
    {"rights: the sender of a message cannot be spoofed", sender_not_spoofable, 0},
    {"rights: a resent message is stored once", resend_stored_once, 0},
    {"rights: ack beyond what was delivered", ack_beyond, 0},
    {"rights: ack up to 2^64 - 1", ack_beyond, 1},
    {"rights: ack a group one is not in", ack_foreign_group, 0},
    {"rights: join a group twice", join_twice, 0},
    {"rights: a member deletes the group", not_owner, 0},
    {"rights: a member removes another member", not_owner, 1},
    {"rights: the owner removes itself", owner_removes_self, 0},
    {"rights: remove a non-member", remove_non_member, 0},
    {"rights: send to a group one is not in", outsider, 0},
    {"rights: list members of a group one is not in", outsider, 1},
    {"rights: leave a group one is not in", outsider, 2},
    {"rights: send for a past epoch", wrong_epoch, 0},
    {"rights: send for a future epoch", wrong_epoch, 1},
    {"rights: pairwise payload for a non-member", bad_pairwise, 0},
    {"rights: pairwise payload for oneself", bad_pairwise, 1},
    {"rights: two pairwise payloads for one member", bad_pairwise, 2},
    {"rights: more pairwise payloads than members", bad_pairwise, 3},
    {"rights: create a group that exists", create_existing, 0},
    {"rights: join a group never created", no_such_group, 0},
    {"rights: delete a group never created", no_such_group, 1},
    {"rights: join a deleted group", no_such_group, 2},
    {"rights: send to a deleted group", no_such_group, 3},
    {"rights: group id with a slash", bad_group_id, 0},
    {"rights: group id of 65 characters", bad_group_id, 1},
    {"rights: bundle of an unknown user", bad_fetch, 0},
    {"rights: bundle for an invalid user id", bad_fetch, 1},
    {"rights: bundle for device 9", bad_fetch, 2},
    {"rights: publish more prekeys than max_prekeys", bad_publish, 0},
    {"rights: publish a prekey id twice", bad_publish, 1},
    {"rights: publish a 31-byte prekey", bad_publish, 2},
    {"rights: publish nothing", bad_publish, 3},
    {"rights: publish ids where the last repeats the first", bad_publish, 4},
    {"rights: message to an unknown user", bad_direct, 0},
    {"rights: message with an empty ciphertext", bad_direct, 1},
    {"rights: message with client_msg_id 0", bad_direct, 2},
    {"rights: message to device 7", bad_direct, 3},
    {"rights: client_msg_id reused for another recipient", cmid_reuse, 0},
    {"rights: list users after an invalid id", list_users, 0},
    {"rights: list a million users at once", list_users, 1},
    {"rights: more groups than max_groups_per_user", too_many_groups, 0},
    {"rights: join a full group", group_full, 0},
    {"rights: fill an offline user's inbox", queue_full, 0},
    {"rights: fill an offline member's group backlog", queue_full, 1},
    {"rights: a removed member sends", removed_member, 0},
    {"rights: a removed member acks", removed_member, 1},
    {"rights: a removed member reads what follows", removed_member, 2},
    {"rights: a former owner deletes the group", former_owner, 0},
    {NULL, NULL, 0},
};
