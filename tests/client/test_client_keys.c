/*
 * Group keys between real clients through a real relay:
 *  - a member that left (or was removed), keeping a copy of every key it ever held, cannot
 *    open anything sent after; a joiner cannot open anything sent before it joined. The
 *    ciphertexts are captured by a raw relay client ("spy", a member that publishes valid
 *    keys and records what the relay delivers); a positive control shows that the kept keys
 *    do open what was sent while their holder was a member;
 *  - a sender whose view of the group is stale gets E2EE_ERR_STALE_EPOCH from the relay,
 *    rotates and resends on its own: the application only sees the message arrive;
 *  - a receiver that lost a sender's key asks for it, keeps the messages pending (across its
 *    own restart), and delivers them once the sender (offline meanwhile) resends the key;
 *  - a message whose key never comes is dropped after pending_timeout_s.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "proto/group_cipher.h"
#include "proto/sender_key_record.h"
#include "store/store.h"
/* proto/identity.h names its 255-byte address limit like the API's 64-byte user id limit */
#undef E2EE_USER_ID_MAX
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

static void copy_file(const char *from, const char *to)
{
    size_t n = 0;
    char *buf = tu_read_file(from, &n);
    FILE *f = fopen(to, "wb");
    assert_non_null(buf);
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, n, f), n);
    fclose(f);
    free(buf);
}

/* A store path beside the test's stores. */
static void tmp_path(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", ct_tmpdir(), name);
}

/* ---- the spy: a raw relay client in the group, recording the ciphertexts ---- */

struct captured {
    char from[65];
    uint64_t cmid;
    uint8_t *ct;
    size_t len;
};

struct spy {
    struct rt_ident id;
    struct rt_client *rc;
    struct captured msgs[64];
    size_t n;
};

/* Publishes a signed prekey that verifies, so members build sessions with the spy. */
static void spy_publish(struct spy *s)
{
    static const char label[] = "e2ee-signed-prekey-v1";
    E2ee__ClientFrame f = E2EE__CLIENT_FRAME__INIT;
    E2ee__RelayPublishKeys m = E2EE__RELAY_PUBLISH_KEYS__INIT;
    E2ee__RelaySignedPrekey spk = E2EE__RELAY_SIGNED_PREKEY__INIT;
    uint8_t pk[32], sk[32], sig[64], msg[sizeof label - 1 + 4 + 32];

    assert_int_equal(e2ee__x25519_keypair(pk, sk), E2EE_OK);
    memcpy(msg, label, sizeof label - 1);
    memcpy(msg + sizeof label - 1, "\0\0\0\1", 4);
    memcpy(msg + sizeof label - 1 + 4, pk, 32);
    assert_int_equal(e2ee__ed25519_sign(sig, msg, sizeof msg, s->id.sign_sk), E2EE_OK);
    spk.id = 1;
    spk.public_key = (ProtobufCBinaryData){32, pk};
    spk.signature = (ProtobufCBinaryData){64, sig};
    m.signed_prekey = &spk;
    f.body_case = E2EE__CLIENT_FRAME__BODY_PUBLISH_KEYS;
    f.publish_keys = &m;
    assert_int_equal(rt_request(s->rc, &f, NULL), 0);
}

static void spy_start(struct spy *s, const char *name, const char *group)
{
    memset(s, 0, sizeof *s);
    rt_ident_new(&s->id, name);
    s->rc = rt_connect_login(&g_relay, &s->id);
    assert_non_null(s->rc);
    spy_publish(s);
    assert_int_equal(rt_join_group(s->rc, group, NULL), 0);
}

/* Records the group messages delivered so far (waits up to ms for each next one). */
static void spy_collect(struct spy *s, int ms)
{
    E2ee__RelayDelivery *d;
    while ((d = rt_next_delivery(s->rc, ms)) != NULL) {
        if (d->item_case == E2EE__RELAY_DELIVERY__ITEM_GROUP_MESSAGE && s->n < 64) {
            struct captured *m = &s->msgs[s->n++];
            snprintf(m->from, sizeof m->from, "%s", d->group_message->from);
            m->cmid = d->group_message->client_msg_id;
            m->len = d->group_message->ciphertext.len;
            m->ct = malloc(m->len);
            assert_non_null(m->ct);
            memcpy(m->ct, d->group_message->ciphertext.data, m->len);
        }
        rt_free_delivery(d);
    }
}

static const struct captured *spy_find(struct spy *s, const char *msg_id_hex)
{
    char hex[17];
    for (size_t i = 0; i < s->n; i++) {
        snprintf(hex, sizeof hex, "%016llx", (unsigned long long)s->msgs[i].cmid);
        if (strcmp(hex, msg_id_hex) == 0)
            return &s->msgs[i];
    }
    return NULL;
}

static void spy_free(struct spy *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->msgs[i].ct);
    rt_close(s->rc);
}

/* Tries to open m with the record of (group, m->from) in the store at path; returns the
 * code. *found (may be NULL) says whether text was in the plaintext. */
static int open_with_kept_keys(const char *path, const char *group, const struct captured *m,
                               const char *text, int *found)
{
    struct e2ee__store *st = NULL;
    e2ee__sender_key_record *rec = NULL;
    uint8_t *blob = NULL, *pt = NULL;
    size_t len = 0, pt_len = 0;
    int rc;

    if (found)
        *found = 0;
    assert_int_equal(e2ee__store_open(&st, path), E2EE_OK);
    rc = e2ee__store_sender_key_get(st, group, m->from, 1, &blob, &len);
    if (rc == E2EE_OK)
        rc = e2ee__sender_key_record_deserialize(&rec, blob, len, NULL);
    if (rc == E2EE_OK)
        rc = e2ee__group_decrypt(rec, m->ct, m->len, 1, &pt, &pt_len);
    if (rc == E2EE_OK && found)
        *found = pt_len >= strlen(text) && memmem(pt, pt_len, text, strlen(text)) != NULL;
    e2ee__sender_key_buf_free(pt, pt_len);
    e2ee__sender_key_record_free(rec);
    e2ee__store_blob_free(blob, len);
    e2ee__store_close(st);
    return rc;
}

static void send_expect(struct ct_client *from, const char *group, const char *text,
                        struct ct_client **to, size_t n, char id[E2EE_MSG_ID_SIZE])
{
    assert_int_equal(e2ee_client_send_group(from->c, group, text, id), E2EE_OK);
    for (size_t i = 0; i < n; i++)
        ct_expect(to[i], &(struct ct_match){.type = E2EE_EVENT_GROUP_TEXT, .msg_id = id});
    ct_expect(from, &(struct ct_match){.type = E2EE_EVENT_GROUP_MESSAGE_ACK, .msg_id = id,
                                       .state = E2EE_ACK_SENT});
}

/* A leaver (left or removed) keeps every key: it opens nothing sent after. A joiner opens
 * nothing sent before. */
static void test_leaver_and_joiner(void **state)
{
    struct ct_client *a = ct_client_new(&g_relay, "l-alice", NULL);
    struct ct_client *b = ct_client_new(&g_relay, "l-bob", NULL);
    struct ct_client *c = ct_client_new(&g_relay, "l-carol", &(struct ct_opts){.store = ""});
    struct ct_client *e = ct_client_new(&g_relay, "l-erin", &(struct ct_opts){.store = ""});
    struct ct_client *d;
    struct spy spy;
    char carol_kept[400], erin_kept[400], dave_kept[400];
    char id_p[17], id_x1[17], id_x2[17], id_x3[17], id_m1[17], id_y[17], id_y2[17];
    int found = 0;
    (void)state;

    assert_int_equal(e2ee_client_create_group_wait(a->c, "l-room", CT_WAIT_MS), E2EE_OK);
    assert_int_equal(e2ee_client_join_group_wait(b->c, "l-room", CT_WAIT_MS), E2EE_OK);
    assert_int_equal(e2ee_client_join_group_wait(c->c, "l-room", CT_WAIT_MS), E2EE_OK);
    assert_int_equal(e2ee_client_join_group_wait(e->c, "l-room", CT_WAIT_MS), E2EE_OK);
    spy_start(&spy, "l-spy", "l-room");
    ct_expect(a, &(struct ct_match){.type = E2EE_EVENT_MEMBER_JOIN, .user = "l-spy"});
    ct_expect(b, &(struct ct_match){.type = E2EE_EVENT_MEMBER_JOIN, .user = "l-spy"});
    send_expect(a, "l-room", "m1 from alice", (struct ct_client *[]){b, c, e}, 3, id_m1);
    send_expect(b, "l-room", "m2 from bob", (struct ct_client *[]){a, c, e}, 3, id_y);

    /* carol and erin keep a copy of every key they hold; a message sent while they are
     * offline but members is the positive control */
    ct_client_stop(c);
    ct_client_stop(e);
    tmp_path(carol_kept, sizeof carol_kept, "carol-kept.db");
    tmp_path(erin_kept, sizeof erin_kept, "erin-kept.db");
    copy_file(c->store, carol_kept);
    copy_file(e->store, erin_kept);
    send_expect(a, "l-room", "p while carol is away", (struct ct_client *[]){b}, 1, id_p);
    ct_client_restart(c, NULL);
    ct_client_restart(e, NULL);
    ct_expect(c, &(struct ct_match){.type = E2EE_EVENT_GROUP_TEXT, .msg_id = id_p});

    /* carol leaves, erin is removed; alice and bob go on */
    assert_int_equal(e2ee_client_leave_group_wait(c->c, "l-room", CT_WAIT_MS), E2EE_OK);
    assert_int_equal(e2ee_client_remove_member_wait(a->c, "l-room", "l-erin", CT_WAIT_MS),
                     E2EE_OK);
    ct_expect(b, &(struct ct_match){.type = E2EE_EVENT_MEMBER_LEAVE, .user = "l-erin"});
    send_expect(a, "l-room", "x1 secret after they left", (struct ct_client *[]){b}, 1, id_x1);
    send_expect(b, "l-room", "x2 secret from bob", (struct ct_client *[]){a}, 1, id_x2);

    /* dave joins later: he reads what follows, nothing before */
    d = ct_client_new(&g_relay, "l-dave", &(struct ct_opts){.store = ""});
    assert_int_equal(e2ee_client_join_group_wait(d->c, "l-room", CT_WAIT_MS), E2EE_OK);
    ct_expect(a, &(struct ct_match){.type = E2EE_EVENT_MEMBER_JOIN, .user = "l-dave"});
    ct_expect(b, &(struct ct_match){.type = E2EE_EVENT_MEMBER_JOIN, .user = "l-dave"});
    send_expect(a, "l-room", "y1 for dave too", (struct ct_client *[]){b, d}, 1 + 1, id_y);
    send_expect(b, "l-room", "y2 from bob", (struct ct_client *[]){a, d}, 2, id_y2);
    ct_client_stop(d);
    tmp_path(dave_kept, sizeof dave_kept, "dave-kept.db");
    copy_file(d->store, dave_kept);
    send_expect(a, "l-room", "x3 while dave is away", (struct ct_client *[]){b}, 1, id_x3);
    spy_collect(&spy, 2000);

    /* positive controls: kept keys open what was sent while their holders were members */
    assert_int_equal(open_with_kept_keys(carol_kept, "l-room", spy_find(&spy, id_p),
                                         "p while carol", &found),
                     E2EE_OK);
    assert_true(found);
    assert_int_equal(open_with_kept_keys(erin_kept, "l-room", spy_find(&spy, id_p),
                                         "p while carol", &found),
                     E2EE_OK);
    assert_int_equal(open_with_kept_keys(dave_kept, "l-room", spy_find(&spy, id_x3),
                                         "x3 while dave", &found),
                     E2EE_OK);
    assert_true(found);
    /* after leaving or removal: nothing opens */
    const char *after[] = {id_x1, id_x2, id_y, id_y2, id_x3};
    for (size_t i = 0; i < sizeof after / sizeof after[0]; i++) {
        const struct captured *m = spy_find(&spy, after[i]);
        assert_non_null(m);
        /* the record of the sender is there, but not the key of anything sent since */
        assert_int_equal(open_with_kept_keys(carol_kept, "l-room", m, "", NULL),
                         E2EE_ERR_UNKNOWN_KEY);
        assert_int_equal(open_with_kept_keys(erin_kept, "l-room", m, "", NULL),
                         E2EE_ERR_UNKNOWN_KEY);
    }
    /* before joining: nothing opens */
    const char *before[] = {id_m1, id_p, id_x1, id_x2};
    for (size_t i = 0; i < sizeof before / sizeof before[0]; i++) {
        const struct captured *m = spy_find(&spy, before[i]);
        assert_non_null(m);
        assert_int_equal(open_with_kept_keys(dave_kept, "l-room", m, "", NULL),
                         E2EE_ERR_UNKNOWN_KEY);
    }
    /* and the clients themselves never showed them */
    assert_int_equal(ct_count(c, &(struct ct_match){.type = E2EE_EVENT_GROUP_TEXT,
                                                    .msg_id = id_x1}),
                     0);
    assert_int_equal(ct_count(d, &(struct ct_match){.type = E2EE_EVENT_GROUP_TEXT,
                                                    .msg_id = id_p}),
                     0);
    spy_free(&spy);
    ct_client_free(a);
    ct_client_free(b);
    ct_client_free(c);
    ct_client_free(d);
    ct_client_free(e);
}

/* Alice's view of the group is older than the relay's (her store is from before bob
 * joined, and the join event was acknowledged since): the relay refuses her message as
 * stale; she takes the group from the refusal, rotates, and the message arrives. */
static void test_stale_epoch_resend(void **state)
{
    struct ct_client *a = ct_client_new(&g_relay, "t-alice", &(struct ct_opts){.store = ""});
    struct ct_client *b = ct_client_new(&g_relay, "t-bob", NULL);
    char old[400], id[E2EE_MSG_ID_SIZE];
    const struct ct_event *ev;
    size_t mark;
    (void)state;

    assert_int_equal(e2ee_client_create_group_wait(a->c, "t-room", CT_WAIT_MS), E2EE_OK);
    ct_client_stop(a);
    tmp_path(old, sizeof old, "t-alice-old.db");
    copy_file(a->store, old);
    ct_client_restart(a, NULL);
    assert_int_equal(e2ee_client_join_group_wait(b->c, "t-room", CT_WAIT_MS), E2EE_OK);
    ct_expect(a, &(struct ct_match){.type = E2EE_EVENT_MEMBER_JOIN, .user = "t-bob"});
    /* frames leave in order: once this arrives, the ack of the join event reached the relay,
     * which will not deliver the event again */
    ct_direct_roundtrip(a, b, "sync");
    ct_client_stop(a);
    copy_file(old, a->store);
    a->log_watch = "stale epoch";
    ct_client_restart(a, NULL);
    mark = ct_mark(a);

    assert_int_equal(e2ee_client_send_group(a->c, "t-room", "sent on a stale epoch", id),
                     E2EE_OK);
    ev = ct_wait(b, &(struct ct_match){.type = E2EE_EVENT_GROUP_TEXT, .msg_id = id}, CT_WAIT_MS);
    assert_non_null(ev);
    assert_string_equal(ev->text, "sent on a stale epoch");
    ct_expect(a, &(struct ct_match){.type = E2EE_EVENT_GROUP_MESSAGE_ACK, .msg_id = id,
                                    .state = E2EE_ACK_SENT});
    /* the relay did refuse the first attempt */
    assert_int_equal(a->log_hits, 1);
    /* the application saw the membership it had missed, and no error */
    assert_int_equal(ct_count_since(a, &(struct ct_match){.type = E2EE_EVENT_MEMBER_JOIN,
                                                          .user = "t-bob"},
                                    mark),
                     1);
    assert_int_equal(ct_count(a, &(struct ct_match){.type = E2EE_EVENT_ERROR}), 0);
    assert_int_equal(ct_count(a, &(struct ct_match){.type = E2EE_EVENT_MESSAGE_ACK,
                                                    .state = E2EE_ACK_FAILED}),
                     0);
    assert_int_equal(ct_count(b, &(struct ct_match){.type = E2EE_EVENT_E2EE_ERROR}), 0);
    ct_client_free(a);
    ct_client_free(b);
}

static void drop_record(const char *path, const char *group, const char *sender)
{
    struct e2ee__store *st = NULL;
    assert_int_equal(e2ee__store_open(&st, path), E2EE_OK);
    assert_int_equal(e2ee__store_sender_key_delete(st, group, sender, 1), E2EE_OK);
    e2ee__store_close(st);
}

/* Bob lost alice's key. Her next messages wait at bob (also across his restart) while he
 * asks her for the key; she is offline, and answers once back; bob then shows them, in
 * order, once. */
static void test_unknown_key_request(void **state)
{
    struct ct_client *a = ct_client_new(&g_relay, "u-alice", &(struct ct_opts){.store = ""});
    struct ct_client *b = ct_client_new(&g_relay, "u-bob", &(struct ct_opts){.store = ""});
    char id1[E2EE_MSG_ID_SIZE], id2[E2EE_MSG_ID_SIZE], id3[E2EE_MSG_ID_SIZE];
    (void)state;

    assert_int_equal(e2ee_client_create_group_wait(a->c, "u-room", CT_WAIT_MS), E2EE_OK);
    assert_int_equal(e2ee_client_join_group_wait(b->c, "u-room", CT_WAIT_MS), E2EE_OK);
    ct_expect(a, &(struct ct_match){.type = E2EE_EVENT_MEMBER_JOIN, .user = "u-bob"});
    send_expect(a, "u-room", "one", (struct ct_client *[]){b}, 1, id1);
    ct_client_stop(b);
    drop_record(b->store, "u-room", "u-alice");
    assert_int_equal(e2ee_client_send_group(a->c, "u-room", "two", id2), E2EE_OK);
    assert_int_equal(e2ee_client_send_group(a->c, "u-room", "three", id3), E2EE_OK);
    ct_expect(a, &(struct ct_match){.type = E2EE_EVENT_GROUP_MESSAGE_ACK, .msg_id = id3,
                                    .state = E2EE_ACK_SENT});
    ct_client_stop(a);

    ct_client_restart(b, NULL);
    ct_expect(b, &(struct ct_match){.type = E2EE_EVENT_E2EE_ERROR, .msg_id = id2,
                                    .has_code = 1, .code = E2EE_ERR_UNKNOWN_KEY});
    ct_expect(b, &(struct ct_match){.type = E2EE_EVENT_E2EE_ERROR, .msg_id = id3,
                                    .has_code = 1, .code = E2EE_ERR_UNKNOWN_KEY});
    ct_sleep_ms(CT_QUIET_MS); /* the key request leaves for alice's inbox */
    ct_client_restart(b, NULL); /* the messages wait across a restart (the relay keeps them) */
    ct_client_restart(a, NULL);
    ct_expect(b, &(struct ct_match){.type = E2EE_EVENT_GROUP_TEXT, .msg_id = id2,
                                    .text = "two"});
    ct_expect(b, &(struct ct_match){.type = E2EE_EVENT_GROUP_TEXT, .msg_id = id3,
                                    .text = "three"});
    assert_string_equal(ct_nth(b, &(struct ct_match){.type = E2EE_EVENT_GROUP_TEXT}, 1)->text,
                        "two");
    ct_expect(a, &(struct ct_match){.type = E2EE_EVENT_GROUP_MESSAGE_ACK, .msg_id = id3,
                                    .state = E2EE_ACK_DELIVERED});
    send_expect(a, "u-room", "four", (struct ct_client *[]){b}, 1, id1);
    ct_sleep_ms(CT_QUIET_MS);
    assert_int_equal(ct_count(b, &(struct ct_match){.type = E2EE_EVENT_GROUP_TEXT}), 4);
    assert_int_equal(ct_count(b, &(struct ct_match){.type = E2EE_EVENT_E2EE_ERROR}), 2);
    ct_client_free(a);
    ct_client_free(b);
}

/* A key that never comes: the message is given up after pending_timeout_s, and the group
 * goes on. */
static void test_pending_timeout(void **state)
{
    struct ct_client *a = ct_client_new(&g_relay, "w-alice", &(struct ct_opts){.store = ""});
    struct ct_client *b =
        ct_client_new(&g_relay, "w-bob", &(struct ct_opts){.store = "", .pending_timeout_s = 1});
    char id[E2EE_MSG_ID_SIZE];
    (void)state;

    assert_int_equal(e2ee_client_create_group_wait(a->c, "w-room", CT_WAIT_MS), E2EE_OK);
    assert_int_equal(e2ee_client_join_group_wait(b->c, "w-room", CT_WAIT_MS), E2EE_OK);
    ct_expect(a, &(struct ct_match){.type = E2EE_EVENT_MEMBER_JOIN, .user = "w-bob"});
    send_expect(a, "w-room", "first", (struct ct_client *[]){b}, 1, id);
    ct_client_stop(b);
    drop_record(b->store, "w-room", "w-alice");
    assert_int_equal(e2ee_client_send_group(a->c, "w-room", "lost", id), E2EE_OK);
    ct_expect(a, &(struct ct_match){.type = E2EE_EVENT_GROUP_MESSAGE_ACK, .msg_id = id,
                                    .state = E2EE_ACK_SENT});
    ct_client_stop(a); /* nobody answers bob's request */
    ct_client_restart(b, NULL);
    ct_expect(b, &(struct ct_match){.type = E2EE_EVENT_E2EE_ERROR, .msg_id = id, .has_code = 1,
                                    .code = E2EE_ERR_UNKNOWN_KEY});
    ct_expect(b, &(struct ct_match){.type = E2EE_EVENT_E2EE_ERROR, .msg_id = id, .has_code = 1,
                                    .code = E2EE_ERR_TIMEOUT});
    assert_int_equal(ct_count(b, &(struct ct_match){.type = E2EE_EVENT_GROUP_TEXT, .msg_id = id}),
                     0);
    /* alice comes back: she resends her key on the request, her next message arrives */
    ct_client_restart(a, NULL);
    send_expect(a, "w-room", "later", (struct ct_client *[]){b}, 1, id);
    ct_client_free(a);
    ct_client_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leaver_and_joiner),
        cmocka_unit_test(test_stale_epoch_resend),
        cmocka_unit_test(test_unknown_key_request),
        cmocka_unit_test(test_pending_timeout),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
