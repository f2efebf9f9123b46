/*
 * The table: each row is an action on the real clients (every method of the API), and the
 * exact events every client must get from it (every event type of the API). After a row
 * the test waits for each expected event, lets things settle, and checks that no client got
 * anything else.
 *
 * Clients: alice, bob, carol, dave (libe2ee, policy BLOCK) and "mallory": first a raw relay
 * client (another implementation: it publishes valid keys, sends a malformed message, and
 * deletes its account), then a libe2ee client that registers the same name with a new
 * identity key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#undef E2EE_USER_ID_MAX
#include "clienttest.h"
#include "testutil.h"

enum { A, B, C, D, M, N_CLIENTS };
static const char *const k_names[N_CLIENTS] = {"t-alice", "t-bob", "t-carol", "t-dave",
                                               "t-mallory"};

static struct rt_relay g_relay;
static struct ct_client *g_cl[N_CLIENTS];
static struct rt_ident g_raw_id;
static struct rt_client *g_raw;
static char g_fp[E2EE_FINGERPRINT_SIZE];

static int setup(void **state)
{
    (void)state;
    return rt_relay_start(&g_relay, NULL);
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < N_CLIENTS; i++)
        ct_client_free(g_cl[i]);
    rt_close(g_raw);
    rt_relay_cleanup(&g_relay);
    return 0;
}

/* ---- actions ---- */

static void connect_client(int i)
{
    g_cl[i] = ct_client_new(&g_relay, k_names[i], &(struct ct_opts){.no_connect = 1});
    assert_int_equal(e2ee_client_connect(g_cl[i]->c), E2EE_OK);
}
static void act_connect_alice(void) { connect_client(A); }
static void act_connect_bob(void) { connect_client(B); }
static void act_connect_carol(void) { connect_client(C); }
static void act_connect_dave(void) { connect_client(D); }

static void act_direct_text(void)
{
    assert_int_equal(e2ee_client_send_direct(g_cl[A]->c, "t-bob", "table text", NULL), E2EE_OK);
}

static void act_direct_binary(void)
{
    const uint8_t b[] = {0, 1, 2, 3};
    assert_int_equal(e2ee_client_send_direct_binary(g_cl[B]->c, "t-alice", b, sizeof b, NULL),
                     E2EE_OK);
}

static void act_direct_nobody(void)
{
    assert_int_equal(e2ee_client_send_direct(g_cl[A]->c, "t-nobody", "lost", NULL), E2EE_OK);
}

static void act_create(void)
{
    uint64_t req = 0;
    assert_int_equal(e2ee_client_create_group(g_cl[A]->c, "t-room", &req), E2EE_OK);
    assert_true(req != 0);
}

static void act_join_bob_wait(void)
{
    assert_int_equal(e2ee_client_join_group_wait(g_cl[B]->c, "t-room", CT_WAIT_MS), E2EE_OK);
}

static void act_join_carol(void)
{
    assert_int_equal(e2ee_client_join_group(g_cl[C]->c, "t-room", NULL), E2EE_OK);
}

static void act_join_dave(void)
{
    assert_int_equal(e2ee_client_join_group(g_cl[D]->c, "t-room", NULL), E2EE_OK);
}

static void act_group_text(void)
{
    assert_int_equal(e2ee_client_send_group(g_cl[A]->c, "t-room", "table group", NULL), E2EE_OK);
}

static void act_group_binary(void)
{
    const uint8_t b[] = {9, 0, 9};
    assert_int_equal(e2ee_client_send_group_binary(g_cl[C]->c, "t-room", b, sizeof b, NULL),
                     E2EE_OK);
}

static void act_remove_dave(void)
{
    assert_int_equal(e2ee_client_remove_member(g_cl[A]->c, "t-room", "t-dave", NULL), E2EE_OK);
}

static void act_leave_carol_wait(void)
{
    assert_int_equal(e2ee_client_leave_group_wait(g_cl[C]->c, "t-room", CT_WAIT_MS), E2EE_OK);
}

static void act_group_text_bob(void)
{
    assert_int_equal(e2ee_client_send_group(g_cl[B]->c, "t-room", "two of us", NULL), E2EE_OK);
}

static void act_create_taken(void)
{
    assert_int_equal(e2ee_client_create_group(g_cl[B]->c, "t-room", NULL), E2EE_OK);
}

static void act_delete_not_owner(void)
{
    assert_int_equal(e2ee_client_delete_group_wait(g_cl[B]->c, "t-room", CT_WAIT_MS),
                     E2EE_ERR_NOT_OWNER);
}

static void act_lists(void)
{
    char **list = NULL;
    size_t n = 0;
    char sa[E2EE_SAFETY_NUMBER_SIZE], sb[E2EE_SAFETY_NUMBER_SIZE];
    assert_int_equal(e2ee_client_list_groups(g_cl[B]->c, &list, &n), E2EE_OK);
    assert_int_equal(n, 1);
    assert_string_equal(list[0], "t-room");
    e2ee_strv_free(list, n);
    assert_int_equal(e2ee_client_list_members(g_cl[A]->c, "t-room", &list, &n), E2EE_OK);
    assert_int_equal(n, 2);
    assert_string_equal(list[0], "t-alice");
    assert_string_equal(list[1], "t-bob");
    e2ee_strv_free(list, n);
    assert_int_equal(e2ee_client_list_known_users(g_cl[A]->c, &list, &n), E2EE_OK);
    assert_int_equal(n, 2); /* bob and carol: the peers whose keys it has seen */
    assert_string_equal(list[0], "t-bob");
    e2ee_strv_free(list, n);
    assert_int_equal(e2ee_client_safety_number(g_cl[A]->c, "t-bob", sa), E2EE_OK);
    assert_int_equal(e2ee_client_safety_number(g_cl[B]->c, "t-alice", sb), E2EE_OK);
    assert_string_equal(sa, sb);
}

static void act_delete(void)
{
    assert_int_equal(e2ee_client_delete_group(g_cl[A]->c, "t-room", NULL), E2EE_OK);
}

static void act_disconnect_dave(void)
{
    assert_int_equal(e2ee_client_disconnect(g_cl[D]->c), E2EE_OK);
}

static void act_direct_to_offline(void)
{
    assert_int_equal(e2ee_client_send_direct(g_cl[A]->c, "t-dave", "while you were out", NULL),
                     E2EE_OK);
}

static void act_reconnect_dave(void)
{
    assert_int_equal(e2ee_client_connect(g_cl[D]->c), E2EE_OK);
}

/* Publishes a signed prekey that verifies (what any correct client does). */
static void raw_publish(void)
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
    assert_int_equal(e2ee__ed25519_sign(sig, msg, sizeof msg, g_raw_id.sign_sk), E2EE_OK);
    spk.id = 1;
    spk.public_key = (ProtobufCBinaryData){32, pk};
    spk.signature = (ProtobufCBinaryData){64, sig};
    m.signed_prekey = &spk;
    f.body_case = E2EE__CLIENT_FRAME__BODY_PUBLISH_KEYS;
    f.publish_keys = &m;
    assert_int_equal(rt_request(g_raw, &f, NULL), 0);
}

static void act_raw_register(void)
{
    rt_ident_new(&g_raw_id, "t-mallory");
    g_raw = rt_connect_login(&g_relay, &g_raw_id);
    assert_non_null(g_raw);
    raw_publish();
}

static void act_direct_to_raw(void)
{
    assert_int_equal(e2ee_client_send_direct(g_cl[A]->c, "t-mallory", "hi mallory", NULL),
                     E2EE_OK);
}

static void act_raw_malformed(void)
{
    static const uint8_t junk[] = {0x08, 0x01, 0x12, 0x03, 0xff, 0xff, 0xff};
    assert_int_equal(rt_send_direct(g_raw, "t-bob", 0x1234, junk, sizeof junk, NULL), 0);
}

static void act_raw_delete_account(void)
{
    E2ee__ClientFrame f = E2EE__CLIENT_FRAME__INIT;
    E2ee__RelayDeleteAccount m = E2EE__RELAY_DELETE_ACCOUNT__INIT;
    m.user_id = "t-mallory";
    f.body_case = E2EE__CLIENT_FRAME__BODY_DELETE_ACCOUNT;
    f.delete_account = &m;
    assert_int_equal(rt_request(g_raw, &f, NULL), 0);
}

static void act_new_mallory(void)
{
    connect_client(M);
}

static void act_new_mallory_writes(void)
{
    assert_int_equal(e2ee_client_send_direct(g_cl[M]->c, "t-alice", "it is me", NULL), E2EE_OK);
}

static void act_trust_and_reply(void)
{
    const struct ct_event *e = ct_wait(
        g_cl[A], &(struct ct_match){.type = E2EE_EVENT_PEER_IDENTITY_CHANGED}, CT_WAIT_MS);
    assert_non_null(e);
    snprintf(g_fp, sizeof g_fp, "%s", e->new_fp);
    assert_int_equal(e2ee_client_send_direct(g_cl[A]->c, "t-mallory", "no", NULL),
                     E2EE_ERR_UNTRUSTED_IDENTITY);
    assert_int_equal(e2ee_client_trust_peer(g_cl[A]->c, "t-mallory", g_fp), E2EE_OK);
    assert_int_equal(e2ee_client_send_direct(g_cl[A]->c, "t-mallory", "welcome", NULL), E2EE_OK);
}

/* ---- the table ---- */

#define ROW_MAX 16

struct expect {
    int who; /* -1 ends the list */
    struct ct_match m;
};

struct row {
    const char *name;
    void (*act)(void);
    struct expect ev[ROW_MAX];
};

#define EV(w, ...) {w, {__VA_ARGS__}}
#define END {-1, {0}}
#define SENT .state = E2EE_ACK_SENT
#define DELIV .state = E2EE_ACK_DELIVERED

static const struct row k_rows[] = {
    {"alice connects", act_connect_alice, {EV(A, .type = E2EE_EVENT_CONNECT), END}},
    {"bob connects (alice hears of the new user)", act_connect_bob,
     {EV(B, .type = E2EE_EVENT_CONNECT),
      EV(A, .type = E2EE_EVENT_USER_CREATED, .user = "t-bob"), END}},
    {"carol connects", act_connect_carol,
     {EV(C, .type = E2EE_EVENT_CONNECT),
      EV(A, .type = E2EE_EVENT_USER_CREATED, .user = "t-carol"),
      EV(B, .type = E2EE_EVENT_USER_CREATED, .user = "t-carol"), END}},
    {"dave connects", act_connect_dave,
     {EV(D, .type = E2EE_EVENT_CONNECT),
      EV(A, .type = E2EE_EVENT_USER_CREATED, .user = "t-dave"),
      EV(B, .type = E2EE_EVENT_USER_CREATED, .user = "t-dave"),
      EV(C, .type = E2EE_EVENT_USER_CREATED, .user = "t-dave"), END}},
    {"send_direct", act_direct_text,
     {EV(B, .type = E2EE_EVENT_DIRECT_TEXT, .from = "t-alice", .text = "table text"),
      EV(A, .type = E2EE_EVENT_MESSAGE_ACK, SENT, .to = "t-bob"),
      EV(A, .type = E2EE_EVENT_MESSAGE_ACK, DELIV, .to = "t-bob"), END}},
    {"send_direct_binary", act_direct_binary,
     {EV(A, .type = E2EE_EVENT_DIRECT_BINARY, .from = "t-bob"),
      EV(B, .type = E2EE_EVENT_MESSAGE_ACK, SENT, .to = "t-alice"),
      EV(B, .type = E2EE_EVENT_MESSAGE_ACK, DELIV, .to = "t-alice"), END}},
    {"send_direct to an unknown user", act_direct_nobody,
     {EV(A, .type = E2EE_EVENT_MESSAGE_ACK, .state = E2EE_ACK_FAILED, .to = "t-nobody",
         .has_code = 1, .code = E2EE_ERR_NO_SUCH_USER),
      END}},
    {"create_group", act_create,
     {EV(A, .type = E2EE_EVENT_GROUP_CREATED, .group = "t-room", .by = "t-alice"),
      EV(A, .type = E2EE_EVENT_GROUP_JOIN, .group = "t-room"), END}},
    {"join_group_wait", act_join_bob_wait,
     {EV(B, .type = E2EE_EVENT_GROUP_JOIN, .group = "t-room"),
      EV(A, .type = E2EE_EVENT_MEMBER_JOIN, .group = "t-room", .user = "t-bob"), END}},
    {"join_group", act_join_carol,
     {EV(C, .type = E2EE_EVENT_GROUP_JOIN, .group = "t-room"),
      EV(A, .type = E2EE_EVENT_MEMBER_JOIN, .user = "t-carol"),
      EV(B, .type = E2EE_EVENT_MEMBER_JOIN, .user = "t-carol"), END}},
    {"send_group", act_group_text,
     {EV(B, .type = E2EE_EVENT_GROUP_TEXT, .from = "t-alice", .text = "table group"),
      EV(C, .type = E2EE_EVENT_GROUP_TEXT, .from = "t-alice", .text = "table group"),
      EV(A, .type = E2EE_EVENT_GROUP_MESSAGE_ACK, SENT, .group = "t-room"),
      EV(A, .type = E2EE_EVENT_GROUP_MESSAGE_ACK, DELIV, .to = "t-bob"),
      EV(A, .type = E2EE_EVENT_GROUP_MESSAGE_ACK, DELIV, .to = "t-carol"), END}},
    {"send_group_binary", act_group_binary,
     {EV(A, .type = E2EE_EVENT_GROUP_BINARY, .from = "t-carol"),
      EV(B, .type = E2EE_EVENT_GROUP_BINARY, .from = "t-carol"),
      EV(C, .type = E2EE_EVENT_GROUP_MESSAGE_ACK, SENT),
      EV(C, .type = E2EE_EVENT_GROUP_MESSAGE_ACK, DELIV, .to = "t-alice"),
      EV(C, .type = E2EE_EVENT_GROUP_MESSAGE_ACK, DELIV, .to = "t-bob"), END}},
    {"dave joins", act_join_dave,
     {EV(D, .type = E2EE_EVENT_GROUP_JOIN, .group = "t-room"),
      EV(A, .type = E2EE_EVENT_MEMBER_JOIN, .user = "t-dave"),
      EV(B, .type = E2EE_EVENT_MEMBER_JOIN, .user = "t-dave"),
      EV(C, .type = E2EE_EVENT_MEMBER_JOIN, .user = "t-dave"), END}},
    {"remove_member", act_remove_dave,
     {EV(D, .type = E2EE_EVENT_GROUP_LEAVE, .group = "t-room", .by = "t-alice"),
      EV(A, .type = E2EE_EVENT_MEMBER_LEAVE, .user = "t-dave", .by = "t-alice"),
      EV(B, .type = E2EE_EVENT_MEMBER_LEAVE, .user = "t-dave", .by = "t-alice"),
      EV(C, .type = E2EE_EVENT_MEMBER_LEAVE, .user = "t-dave", .by = "t-alice"), END}},
    {"leave_group_wait", act_leave_carol_wait,
     {EV(C, .type = E2EE_EVENT_GROUP_LEAVE, .group = "t-room"),
      EV(A, .type = E2EE_EVENT_MEMBER_LEAVE, .user = "t-carol"),
      EV(B, .type = E2EE_EVENT_MEMBER_LEAVE, .user = "t-carol"), END}},
    {"send_group after the changes", act_group_text_bob,
     {EV(A, .type = E2EE_EVENT_GROUP_TEXT, .from = "t-bob", .text = "two of us"),
      EV(B, .type = E2EE_EVENT_GROUP_MESSAGE_ACK, SENT),
      EV(B, .type = E2EE_EVENT_GROUP_MESSAGE_ACK, DELIV, .to = "t-alice"), END}},
    {"create_group refused", act_create_taken,
     {EV(B, .type = E2EE_EVENT_ERROR, .group = "t-room", .has_code = 1, .code = E2EE_ERR_EXISTS),
      END}},
    {"delete_group_wait refused", act_delete_not_owner,
     {EV(B, .type = E2EE_EVENT_ERROR, .has_code = 1, .code = E2EE_ERR_NOT_OWNER), END}},
    {"list_groups, list_members, list_known_users, safety_number", act_lists, {END}},
    {"delete_group", act_delete,
     {EV(A, .type = E2EE_EVENT_GROUP_DELETED, .group = "t-room", .by = "t-alice"),
      EV(B, .type = E2EE_EVENT_GROUP_DELETED, .group = "t-room", .by = "t-alice"), END}},
    {"disconnect", act_disconnect_dave,
     {EV(D, .type = E2EE_EVENT_DISCONNECT, .has_code = 1, .code = E2EE_OK), END}},
    {"send_direct to an offline user", act_direct_to_offline,
     {EV(A, .type = E2EE_EVENT_MESSAGE_ACK, SENT, .to = "t-dave"), END}},
    {"connect again: the message waited", act_reconnect_dave,
     {EV(D, .type = E2EE_EVENT_CONNECT),
      EV(D, .type = E2EE_EVENT_DIRECT_TEXT, .text = "while you were out"),
      EV(A, .type = E2EE_EVENT_MESSAGE_ACK, DELIV, .to = "t-dave"), END}},
    {"another implementation registers", act_raw_register,
     {EV(A, .type = E2EE_EVENT_USER_CREATED, .user = "t-mallory"),
      EV(B, .type = E2EE_EVENT_USER_CREATED, .user = "t-mallory"),
      EV(C, .type = E2EE_EVENT_USER_CREATED, .user = "t-mallory"),
      EV(D, .type = E2EE_EVENT_USER_CREATED, .user = "t-mallory"), END}},
    {"send_direct to it (it never acks)", act_direct_to_raw,
     {EV(A, .type = E2EE_EVENT_MESSAGE_ACK, SENT, .to = "t-mallory"), END}},
    {"a malformed message", act_raw_malformed,
     {EV(B, .type = E2EE_EVENT_E2EE_ERROR, .from = "t-mallory", .has_code = 1,
         .code = E2EE_ERR_DECODE),
      END}},
    {"it deletes its account", act_raw_delete_account,
     {EV(A, .type = E2EE_EVENT_USER_DELETED, .user = "t-mallory"),
      EV(B, .type = E2EE_EVENT_USER_DELETED, .user = "t-mallory"),
      EV(C, .type = E2EE_EVENT_USER_DELETED, .user = "t-mallory"),
      EV(D, .type = E2EE_EVENT_USER_DELETED, .user = "t-mallory"), END}},
    {"the name registered again, another key", act_new_mallory,
     {EV(M, .type = E2EE_EVENT_CONNECT),
      EV(A, .type = E2EE_EVENT_USER_CREATED, .user = "t-mallory"),
      EV(B, .type = E2EE_EVENT_USER_CREATED, .user = "t-mallory"),
      EV(C, .type = E2EE_EVENT_USER_CREATED, .user = "t-mallory"),
      EV(D, .type = E2EE_EVENT_USER_CREATED, .user = "t-mallory"), END}},
    {"it writes to alice: identity changed, blocked", act_new_mallory_writes,
     {EV(A, .type = E2EE_EVENT_PEER_IDENTITY_CHANGED, .user = "t-mallory"),
      EV(A, .type = E2EE_EVENT_E2EE_ERROR, .from = "t-mallory", .has_code = 1,
         .code = E2EE_ERR_UNTRUSTED_IDENTITY),
      EV(M, .type = E2EE_EVENT_MESSAGE_ACK, SENT, .to = "t-alice"),
      EV(M, .type = E2EE_EVENT_MESSAGE_ACK, DELIV, .to = "t-alice"), END}},
    {"trust_peer, then a reply", act_trust_and_reply,
     {EV(M, .type = E2EE_EVENT_DIRECT_TEXT, .from = "t-alice", .text = "welcome"),
      EV(A, .type = E2EE_EVENT_MESSAGE_ACK, SENT, .to = "t-mallory"),
      EV(A, .type = E2EE_EVENT_MESSAGE_ACK, DELIV, .to = "t-mallory"), END}},
};

static size_t expected_for(const struct row *r, int who)
{
    size_t n = 0;
    for (size_t k = 0; k < ROW_MAX && r->ev[k].who >= 0; k++)
        n += r->ev[k].who == who;
    return n;
}

/* How many expectations of the row up to index k (inclusive) are the same as k's. */
static size_t same_before(const struct row *r, size_t k)
{
    size_t n = 0;
    for (size_t j = 0; j <= k; j++)
        n += r->ev[j].who == r->ev[k].who && memcmp(&r->ev[j].m, &r->ev[k].m, sizeof r->ev[k].m) == 0;
    return n;
}

static void run_row(const struct row *r)
{
    size_t mark[N_CLIENTS];
    for (int i = 0; i < N_CLIENTS; i++)
        mark[i] = g_cl[i] ? ct_mark(g_cl[i]) : 0;
    r->act();
    for (size_t k = 0; k < ROW_MAX && r->ev[k].who >= 0; k++) {
        struct ct_client *cl = g_cl[r->ev[k].who];
        size_t want = same_before(r, k);
        size_t from = mark[r->ev[k].who];
        if (!cl || ct_wait_n_since(cl, &r->ev[k].m, from, want, CT_WAIT_MS) < want) {
            fprintf(stderr, "row \"%s\": %s did not get %s\n", r->name,
                    k_names[r->ev[k].who], e2ee_event_name(r->ev[k].m.type));
            if (cl)
                ct_dump(cl, from);
            fail();
        }
    }
    ct_sleep_ms(CT_QUIET_MS);
    for (int i = 0; i < N_CLIENTS; i++) {
        size_t got, want = expected_for(r, i);
        if (!g_cl[i])
            continue;
        got = ct_mark(g_cl[i]) - mark[i];
        if (got != want) {
            fprintf(stderr, "row \"%s\": %s got %zu events, expected %zu\n", r->name,
                    k_names[i], got, want);
            ct_dump(g_cl[i], mark[i]);
            fail();
        }
    }
}

static void test_table(void **state)
{
    int covered[E2EE_EVENT_PEER_IDENTITY_CHANGED + 1] = {0};
    (void)state;
    for (size_t i = 0; i < sizeof k_rows / sizeof k_rows[0]; i++) {
        run_row(&k_rows[i]);
        for (size_t k = 0; k < ROW_MAX && k_rows[i].ev[k].who >= 0; k++)
            covered[k_rows[i].ev[k].m.type] = 1;
    }
    /* the table names every event type of the API */
    for (int t = E2EE_EVENT_CONNECT; t <= E2EE_EVENT_PEER_IDENTITY_CHANGED; t++) {
        if (!covered[t])
            fprintf(stderr, "event %s not in the table\n", e2ee_event_name(t));
        assert_true(covered[t]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
