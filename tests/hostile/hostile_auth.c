/*
 * e2ee tests, hostile rows: everything before and around login. Requests before login are
 * refused (E2EE_ERR_UNAUTHENTICATED) and the connection stays; login proofs that are
 * forged, replayed from another connection or reused after a refusal do not verify;
 * nobody logs in as a user registered with another key.
 */
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "hostile.h"

static int code_of(struct rw *c, E2ee__ClientFrame *f)
{
    return rw_request_code(c, f);
}

/* A request of type `kind` before login. */
static void before_login(int kind)
{
    struct rw *c = h_raw_open();
    assert_int_equal(code_of(c, h_frame(kind, "h-group", H_VICTIM)), E2EE_ERR_UNAUTHENTICATED);
    h_expect_usable(c);
    rw_close(c, 0);
}

static void ping_before_login(int arg)
{
    (void)arg;
    struct rw *c = h_raw_open();
    h_expect_usable(c);
    rw_close(c, 0);
}

/* Sends a login frame and checks its result code; a refusal brings a new challenge. */
static void login_code(struct rw *c, E2ee__ClientFrame *f, int want)
{
    const uint8_t *old = rw_challenge(c, RT_TIMEOUT_MS)->nonce.data;
    uint8_t old_nonce[32];
    memcpy(old_nonce, old, 32);
    assert_int_equal(code_of(c, f), want);
    rt_free_frame(f);
    if (want == 0 || want == E2EE_ERR_UNEXPECTED)
        return;
    rw_forget_challenge(c);
    const E2ee__RelayChallenge *ch = rw_challenge(c, RT_TIMEOUT_MS);
    assert_non_null(ch);
    assert_int_equal(ch->nonce.len, 32);
    assert_memory_not_equal(ch->nonce.data, old_nonce, 32);
}

static void forged_proof(int arg)
{
    (void)arg;
    struct rt_ident id;
    h_ident(&id, "auth");
    struct rw *c = h_raw_open();
    E2ee__ClientFrame *f = rw_login_frame(c, &id, NULL, NULL, NULL);
    f->login->proof.data[0] ^= 1;
    login_code(c, f, E2EE_ERR_LOGIN_REFUSED);
    rw_close(c, 0);
}

static void proof_for_other_relay(int arg)
{
    (void)arg;
    struct rt_ident id;
    h_ident(&id, "auth");
    struct rw *c = h_raw_open();
    login_code(c, rw_login_frame(c, &id, NULL, "relay-elsewhere", NULL), E2EE_ERR_LOGIN_REFUSED);
    rw_close(c, 0);
}

/* A login made for connection 1's challenge, replayed on connection 2: refused. */
static void replay_other_connection(int arg)
{
    (void)arg;
    struct rt_ident id;
    h_ident(&id, "auth");
    struct rw *c1 = h_raw_open(), *c2 = h_raw_open(), *c3 = h_raw_open();
    E2ee__ClientFrame *f = rw_login_frame(c1, &id, NULL, NULL, NULL);
    assert_int_equal(code_of(c2, f), E2EE_ERR_LOGIN_REFUSED);
    f->request_id = 0;
    assert_int_equal(code_of(c1, f), 0); /* its own connection: fine */
    f->request_id = 0;
    assert_int_equal(code_of(c3, f), E2EE_ERR_LOGIN_REFUSED);
    rt_free_frame(f);
    rw_close(c1, 0);
    rw_close(c2, 0);
    rw_close(c3, 0);
}

/* A refused attempt spends the nonce: the right proof for it no longer works. */
static void nonce_spent_by_refusal(int arg)
{
    (void)arg;
    struct rt_ident id;
    h_ident(&id, "auth");
    struct rw *c = h_raw_open();
    E2ee__ClientFrame *good = rw_login_frame(c, &id, NULL, NULL, NULL);
    E2ee__ClientFrame *bad = rw_login_frame(c, &id, NULL, NULL, NULL);
    bad->login->proof.data[5] ^= 0x40;
    login_code(c, bad, E2EE_ERR_LOGIN_REFUSED);
    assert_int_equal(code_of(c, good), E2EE_ERR_LOGIN_REFUSED);
    rt_free_frame(good);
    rw_forget_challenge(c);
    login_code(c, rw_login_frame(c, &id, NULL, NULL, NULL), 0);
    rw_close(c, 0);
}

static void login_twice(int arg)
{
    (void)arg;
    struct rt_ident id;
    struct rw *c = h_raw_user(&id, "auth");
    login_code(c, rw_login_frame(c, &id, NULL, NULL, NULL), E2EE_ERR_UNEXPECTED);
    h_expect_usable(c);
    rw_close(c, 0);
}

static void too_many_failures(int arg)
{
    (void)arg;
    struct rt_ident id;
    h_ident(&id, "auth");
    struct rw *c = h_raw_open();
    for (int i = 0; i < 4; i++) {
        E2ee__ClientFrame *f = rw_login_frame(c, &id, NULL, NULL, NULL);
        f->login->proof.data[1] ^= 2;
        login_code(c, f, E2EE_ERR_LOGIN_REFUSED);
    }
    E2ee__ClientFrame *f = rw_login_frame(c, &id, NULL, NULL, NULL);
    f->login->proof.data[1] ^= 2;
    assert_int_equal(code_of(c, f), E2EE_ERR_LOGIN_REFUSED);
    rt_free_frame(f);
    h_expect_end(c, 1008);
}

/* Mallory claims the victim's user id with her own key. */
static void impersonate_with_own_key(int arg)
{
    (void)arg;
    struct rt_ident mallory;
    h_ident(&mallory, "mallory");
    struct rw *c = h_raw_open();
    login_code(c, rw_login_frame(c, &mallory, H_VICTIM, NULL, NULL), E2EE_ERR_LOGIN_REFUSED);
    rw_close(c, 0);
    assert_int_equal(rt_ping(g_h.cv), 0); /* the victim's session is untouched */
}

/* Mallory presents the victim's public keys but can only sign with her own key. */
static void impersonate_with_victims_keys(int arg)
{
    (void)arg;
    struct rt_ident mallory;
    h_ident(&mallory, "mallory");
    memcpy(mallory.sign_pk, g_h.victim.sign_pk, 32);
    memcpy(mallory.dh_pk, g_h.victim.dh_pk, 32);
    memcpy(mallory.dh_sig, g_h.victim.dh_sig, 64);
    struct rw *c = h_raw_open();
    login_code(c, rw_login_frame(c, &mallory, H_VICTIM, NULL, NULL), E2EE_ERR_LOGIN_REFUSED);
    rw_close(c, 0);
    assert_int_equal(rt_ping(g_h.cv), 0);
}

static void device_two(int arg)
{
    (void)arg;
    struct rt_ident id;
    h_ident(&id, "auth");
    struct rw *c = h_raw_open();
    E2ee__ClientFrame *f = rw_login_frame(c, &id, NULL, NULL, NULL);
    f->login->device_id = 2;
    login_code(c, f, E2EE_ERR_NOT_SUPPORTED);
    rw_close(c, 0);
}

static void bad_user_id(int arg)
{
    static const char *const ids[] = {"a b", "", "x\x01y",
                                      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
    struct rt_ident id;
    h_ident(&id, "auth");
    struct rw *c = h_raw_open();
    login_code(c, rw_login_frame(c, &id, ids[arg], NULL, NULL), E2EE_ERR_ARG);
    rw_close(c, 0);
}

static void missing_or_short_fields(int arg)
{
    struct rt_ident id;
    h_ident(&id, "auth");
    struct rw *c = h_raw_open();
    E2ee__ClientFrame *f = rw_login_frame(c, &id, NULL, NULL, NULL);
    E2ee__RelayIdentity *ident = f->login->identity;
    switch (arg) {
    case 0: f->login->identity = NULL; break;
    case 1: f->login->proof.len = 10; break;
    case 2: ident->sign_key.len = 31; break;
    default: ident->dh_signature.len = 0; break;
    }
    login_code(c, f, E2EE_ERR_LENGTH);
    if (arg == 0)
        free(ident); /* rt_free_frame frees the identity it finds */
    rw_close(c, 0);
}

/* A proof over device 2 presented for device 1. */
static void proof_for_other_device(int arg)
{
    (void)arg;
    struct rt_ident id;
    uint8_t msg[512];
    h_ident(&id, "auth");
    struct rw *c = h_raw_open();
    const E2ee__RelayChallenge *ch = rw_challenge(c, RT_TIMEOUT_MS);
    E2ee__ClientFrame *f = rw_login_frame(c, &id, NULL, NULL, NULL);
    size_t n = rt_login_message(msg, sizeof msg, ch->relay_id, ch->nonce.data, 32, id.uid, 2);
    assert_true(n > 0);
    assert_int_equal(e2ee__ed25519_sign(f->login->proof.data, msg, n, id.sign_sk), 0);
    login_code(c, f, E2EE_ERR_LOGIN_REFUSED);
    rw_close(c, 0);
}

/* A second login of the same user replaces the first connection (4001). */
static void second_login_replaces(int arg)
{
    (void)arg;
    struct rt_ident id;
    struct rt_client *first = h_user(&id, "auth");
    struct rt_client *second = rt_connect_login(&g_h.relay, &id);
    assert_non_null(second);
    h_expect_rt_close(first, 4001, "E2EE_ERR_REPLACED");
    assert_int_equal(rt_ping(second), 0);
    rt_close(second);
}

/* Requests queued behind a login that fails are refused one by one, not run. */
static void requests_behind_failed_login(int arg)
{
    (void)arg;
    struct rt_ident id;
    h_ident(&id, "auth");
    struct rw *c = h_raw_open();
    E2ee__ClientFrame *f = rw_login_frame(c, &id, NULL, NULL, NULL);
    f->login->proof.data[9] ^= 1;
    uint64_t login = rw_send_client_frame(c, f, 0);
    rt_free_frame(f);
    uint64_t send = rw_send_client_frame(
        c, h_frame(E2EE__CLIENT_FRAME__BODY_SEND_DIRECT, NULL, H_VICTIM), 0);
    E2ee__RelayResult *r = rw_wait_result(c, login, RT_TIMEOUT_MS);
    assert_non_null(r);
    assert_int_equal(r->code, E2EE_ERR_LOGIN_REFUSED);
    rt_free_result(r);
    r = rw_wait_result(c, send, RT_TIMEOUT_MS);
    assert_non_null(r);
    assert_int_equal(r->code, E2EE_ERR_UNAUTHENTICATED);
    rt_free_result(r);
    rw_close(c, 0);
}

const struct h_row k_rows_auth[] = {
    {"pre-auth: publish keys", before_login, E2EE__CLIENT_FRAME__BODY_PUBLISH_KEYS},
    {"pre-auth: fetch a bundle", before_login, E2EE__CLIENT_FRAME__BODY_FETCH_BUNDLE},
    {"pre-auth: list users", before_login, E2EE__CLIENT_FRAME__BODY_LIST_USERS},
    {"pre-auth: delete an account", before_login, E2EE__CLIENT_FRAME__BODY_DELETE_ACCOUNT},
    {"pre-auth: send a direct message", before_login, E2EE__CLIENT_FRAME__BODY_SEND_DIRECT},
    {"pre-auth: ack", before_login, E2EE__CLIENT_FRAME__BODY_ACK},
    {"pre-auth: create a group", before_login, E2EE__CLIENT_FRAME__BODY_CREATE_GROUP},
    {"pre-auth: join a group", before_login, E2EE__CLIENT_FRAME__BODY_JOIN_GROUP},
    {"pre-auth: leave a group", before_login, E2EE__CLIENT_FRAME__BODY_LEAVE_GROUP},
    {"pre-auth: delete a group", before_login, E2EE__CLIENT_FRAME__BODY_DELETE_GROUP},
    {"pre-auth: remove a member", before_login, E2EE__CLIENT_FRAME__BODY_REMOVE_MEMBER},
    {"pre-auth: list members", before_login, E2EE__CLIENT_FRAME__BODY_LIST_MEMBERS},
    {"pre-auth: list groups", before_login, E2EE__CLIENT_FRAME__BODY_LIST_GROUPS},
    {"pre-auth: send a group message", before_login, E2EE__CLIENT_FRAME__BODY_SEND_GROUP},
    {"pre-auth: ping (allowed)", ping_before_login, 0},
    {"login: forged proof", forged_proof, 0},
    {"login: proof made for another relay id", proof_for_other_relay, 0},
    {"login: replayed on another connection", replay_other_connection, 0},
    {"login: proof for a nonce spent by a refusal", nonce_spent_by_refusal, 0},
    {"login: twice on one connection", login_twice, 0},
    {"login: five failures close the connection", too_many_failures, 0},
    {"login: victim's id with mallory's key", impersonate_with_own_key, 0},
    {"login: victim's public keys, mallory's signature", impersonate_with_victims_keys, 0},
    {"login: device id 2", device_two, 0},
    {"login: user id with a space", bad_user_id, 0},
    {"login: empty user id", bad_user_id, 1},
    {"login: user id with a control character", bad_user_id, 2},
    {"login: user id of 65 characters", bad_user_id, 3},
    {"login: no identity", missing_or_short_fields, 0},
    {"login: proof of 10 bytes", missing_or_short_fields, 1},
    {"login: signing key of 31 bytes", missing_or_short_fields, 2},
    {"login: no DH signature", missing_or_short_fields, 3},
    {"login: proof over another device id", proof_for_other_device, 0},
    {"login: a second login replaces the first connection", second_login_replaces, 0},
    {"login: requests queued behind a failing login", requests_behind_failed_login, 0},
    {NULL, NULL, 0},
};
