/*
 * e2ee relay: the login handshake (docs/PROTOCOL.md 3.3).
 *
 * The relay opens every connection with a challenge: a fresh 32-byte nonce and its relay
 * id. The client answers with its user id, device id, identity keys and an Ed25519
 * signature, by its identity signing key, over
 *
 *   "e2ee-relay-login-v1" || u16(len relay_id) || relay_id || u16(32) || nonce
 *                         || u16(len user_id) || user_id || u32(device_id)      (big-endian)
 *
 * Each nonce serves one login attempt: an answer made for another connection's challenge
 * (a replay) does not verify. First sight of a user id registers it with that identity key
 * (TOFU); later logins must prove the same key. A second login of the same user replaces
 * the first connection, which is closed with code 4001.
 */
#include <string.h>

#include "crypto/crypto.h"
#include "relay/log.h"
#include "relay/relay.h"

#define LOGIN_MSG_MAX 256

static size_t put_u16(uint8_t *p, size_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    return 2;
}

size_t e2ee__relay_login_message(uint8_t *out, size_t cap, const char *relay_id,
                                 const uint8_t nonce[E2EE_RELAY_NONCE_LEN], const char *uid,
                                 uint32_t device)
{
    const size_t label = sizeof E2EE_RELAY_LOGIN_LABEL - 1;
    size_t rl = strlen(relay_id), ul = strlen(uid);
    size_t need = label + 2 + rl + 2 + E2EE_RELAY_NONCE_LEN + 2 + ul + 4;
    size_t n = 0;
    if (rl > 0xffff || ul > 0xffff || need > cap)
        return 0;
    memcpy(out, E2EE_RELAY_LOGIN_LABEL, label);
    n = label;
    n += put_u16(out + n, rl);
    memcpy(out + n, relay_id, rl);
    n += rl;
    n += put_u16(out + n, E2EE_RELAY_NONCE_LEN);
    memcpy(out + n, nonce, E2EE_RELAY_NONCE_LEN);
    n += E2EE_RELAY_NONCE_LEN;
    n += put_u16(out + n, ul);
    memcpy(out + n, uid, ul);
    n += ul;
    out[n++] = (uint8_t)(device >> 24);
    out[n++] = (uint8_t)(device >> 16);
    out[n++] = (uint8_t)(device >> 8);
    out[n++] = (uint8_t)device;
    return n;
}

void e2ee__relay_send_challenge(struct e2ee__rsession *s)
{
    struct e2ee__relay *r = s->relay;
    const struct e2ee__relay_config *c = &r->cfg;
    E2ee__ServerFrame f = E2EE__SERVER_FRAME__INIT;
    E2ee__RelayChallenge ch = E2EE__RELAY_CHALLENGE__INIT;
    E2ee__RelayLimits lim = E2EE__RELAY_LIMITS__INIT;
    if (e2ee__random_bytes(s->nonce, sizeof s->nonce) != E2EE_OK) {
        e2ee__rsession_close(s, E2EE_RCLOSE_INTERNAL, "E2EE_ERR_CRYPTO: no randomness", 0);
        return;
    }
    s->nonce_valid = 1;
    lim.max_frame_size = c->max_frame_size;
    lim.max_server_frame_size = r->server_frame_max;
    lim.max_group_size = c->max_group_size;
    lim.max_groups_per_user = c->max_groups_per_user;
    lim.max_queue_msgs = (uint32_t)(c->max_queue_msgs > UINT32_MAX ? UINT32_MAX
                                                                   : c->max_queue_msgs);
    lim.max_queue_bytes = c->max_queue_bytes;
    lim.max_requests_per_sec = c->max_requests_per_sec;
    lim.max_prekeys = c->max_prekeys;
    lim.list_users_page = c->list_users_page;
    /* a fetch counts one request per bundle: never more than the rate lets through */
    lim.max_bundles_per_fetch = c->max_bundles_per_fetch < c->max_requests_per_sec
                                    ? c->max_bundles_per_fetch
                                    : c->max_requests_per_sec;
    ch.version = E2EE_RELAY_PROTOCOL_VERSION;
    ch.relay_id = r->relay_id;
    ch.nonce.data = s->nonce;
    ch.nonce.len = sizeof s->nonce;
    ch.limits = &lim;
    f.body_case = E2EE__SERVER_FRAME__BODY_CHALLENGE;
    f.challenge = &ch;
    struct e2ee__rblob *b = e2ee__renc_frame(&f);
    if (!b) {
        e2ee__rsession_close(s, E2EE_RCLOSE_INTERNAL, "E2EE_ERR_NOMEM: relay out of memory", 1);
        return;
    }
    e2ee__rsession_emit(s, b);
    e2ee__rblob_unref(b);
}

/* Field checks. Returns E2EE_OK or an error with its text. */
static int check_login(const E2ee__RelayLogin *m, const char **why)
{
    const E2ee__RelayIdentity *id = m->identity;
    if (!e2ee__relay_id_valid(m->user_id)) {
        *why = "user_id must be 1..64 characters of A-Z a-z 0-9 . _ - @ +";
        return E2EE_ERR_ARG;
    }
    if (m->device_id != E2EE_RELAY_DEVICE_ID) {
        *why = "device_id must be 1 (one device per user in this version)";
        return E2EE_ERR_NOT_SUPPORTED;
    }
    if (!id || id->sign_key.len != E2EE_RELAY_KEY_LEN || id->dh_key.len != E2EE_RELAY_KEY_LEN ||
        id->dh_signature.len != E2EE_RELAY_SIG_LEN) {
        *why = "identity needs sign_key (32 bytes), dh_key (32) and dh_signature (64)";
        return E2EE_ERR_LENGTH;
    }
    if (m->proof.len != E2EE_RELAY_SIG_LEN) {
        *why = "proof must be a 64-byte Ed25519 signature";
        return E2EE_ERR_LENGTH;
    }
    return E2EE_OK;
}

static int verify_proof(struct e2ee__rsession *s, const E2ee__RelayLogin *m,
                        const uint8_t nonce[E2EE_RELAY_NONCE_LEN])
{
    uint8_t msg[LOGIN_MSG_MAX];
    size_t n = e2ee__relay_login_message(msg, sizeof msg, s->relay->relay_id, nonce, m->user_id,
                                         m->device_id);
    if (!n)
        return E2EE_ERR_LOGIN_REFUSED;
    int rc = e2ee__ed25519_verify(m->proof.data, msg, n, m->identity->sign_key.data);
    return rc == E2EE_OK ? E2EE_OK : E2EE_ERR_LOGIN_REFUSED;
}

static int token_ok(const struct e2ee__relay *r, const char *given)
{
    const char *want = r->cfg.registration_token;
    size_t wl = strlen(want), gl = strlen(given ? given : "");
    if (!wl)
        return 1;
    return gl == wl && e2ee__ct_equal(want, given, wl);
}

/* Finds or registers the user. *registered is set on first sight. */
static int bind_identity(struct e2ee__rsession *s, const E2ee__RelayLogin *m,
                         struct e2ee__rs_user *u, int *registered, const char **why)
{
    struct e2ee__relay *r = s->relay;
    const E2ee__RelayIdentity *id = m->identity;
    *registered = 0;
    int rc = r->store->ops->user_get(r->store, m->user_id, u);
    if (rc == E2EE_OK) {
        int same = e2ee__ct_equal(u->sign_pk, id->sign_key.data, E2EE_RELAY_KEY_LEN) &
                   e2ee__ct_equal(u->dh_pk, id->dh_key.data, E2EE_RELAY_KEY_LEN);
        *why = "this user id is registered with another identity key";
        return same ? E2EE_OK : E2EE_ERR_LOGIN_REFUSED;
    }
    if (rc != E2EE_ERR_NOT_FOUND) {
        *why = "store failure; retry later";
        return E2EE_ERR_STORE;
    }
    if (!token_ok(r, m->registration_token)) {
        *why = "registering a new user needs the relay's registration token";
        return E2EE_ERR_REGISTRATION;
    }
    memset(u, 0, sizeof *u);
    snprintf(u->uid, sizeof u->uid, "%s", m->user_id);
    u->device = m->device_id;
    memcpy(u->sign_pk, id->sign_key.data, E2EE_RELAY_KEY_LEN);
    memcpy(u->dh_pk, id->dh_key.data, E2EE_RELAY_KEY_LEN);
    memcpy(u->dh_sig, id->dh_signature.data, E2EE_RELAY_SIG_LEN);
    u->created_ms = e2ee__relay_now_ms();
    rc = e2ee__relay_req_begin(r);
    if (rc == E2EE_OK) {
        rc = r->store->ops->user_create(r->store, u);
        int rc2 = e2ee__relay_req_end(r, rc == E2EE_OK);
        rc = rc != E2EE_OK ? rc : rc2;
    }
    *why = "store failure; retry later";
    if (rc == E2EE_OK)
        *registered = 1;
    return rc == E2EE_ERR_EXISTS ? E2EE_ERR_STORE : rc;
}

static void refuse(struct e2ee__rsession *s, uint64_t req, int code, const char *why,
                   const char *uid)
{
    RLOG_INFO("login refused conn=%llu user=%s code=%s", (unsigned long long)s->conn_id,
              e2ee__relay_id_valid(uid) ? uid : "(invalid)", e2ee_errname(code));
    e2ee__relay_result(s, req, code, why, NULL);
    if (++s->login_failures >= E2EE_RELAY_LOGIN_ATTEMPTS) {
        e2ee__rsession_close_after_drain(s, E2EE_RCLOSE_POLICY,
                                         "E2EE_ERR_LOGIN_REFUSED: too many attempts");
        return;
    }
    e2ee__relay_send_challenge(s); /* a fresh nonce for the next attempt */
}

/* The connection becomes the user's: replaces an older one, joins its groups. */
static int take_over(struct e2ee__rsession *s, const E2ee__RelayLogin *m,
                     const struct e2ee__rs_user *u)
{
    struct e2ee__relay *r = s->relay;
    struct e2ee__rsession *old = e2ee__rmap_get(&r->users, m->user_id);
    if (old) {
        RLOG_INFO("login replaces conn=%llu user=%s", (unsigned long long)old->conn_id,
                  m->user_id);
        e2ee__rsession_close(old, E2EE_RCLOSE_REPLACED,
                             "E2EE_ERR_REPLACED: replaced by a newer login of this user", 0);
    }
    snprintf(s->uid, sizeof s->uid, "%s", m->user_id);
    s->device = E2EE_RELAY_DEVICE_ID;
    s->ack_direct = m->ack_direct;
    s->ack_group = m->ack_group;
    s->inbox_acked = u->inbox_acked;
    s->inbox_sent = u->inbox_acked;
    s->inbox_live = 0;
    if (e2ee__rmap_put(&r->users, s->uid, s) != 0)
        return E2EE_ERR_NOMEM;
    s->registered_users_entry = 1;
    r->n_authed++;
    s->state = E2EE_RSESSION_AUTHED;
    return e2ee__relay_groups_attach(s);
}

static void login_ok(struct e2ee__rsession *s, uint64_t req, const struct e2ee__rs_user *u,
                     int registered)
{
    struct e2ee__relay *r = s->relay;
    E2ee__RelayResult res = E2EE__RELAY_RESULT__INIT;
    E2ee__RelayLoginOk ok = E2EE__RELAY_LOGIN_OK__INIT;
    uint32_t otpk = 0;
    if (r->store->ops->otpk_count(r->store, s->uid, &otpk) != E2EE_OK)
        otpk = 0;
    ok.user_id = s->uid;
    ok.device_id = s->device;
    ok.registered = registered;
    ok.one_time_prekeys = otpk;
    ok.has_signed_prekey = u->has_spk;
    ok.inbox_pending = u->queued_msgs;
    ok.time_ms = (uint64_t)e2ee__relay_now_ms();
    res.body_case = E2EE__RELAY_RESULT__BODY_LOGIN;
    res.login = &ok;
    e2ee__relay_result(s, req, E2EE_OK, registered ? "registered and logged in" : "logged in",
                       &res);
}

void e2ee__relay_login(struct e2ee__rsession *s, uint64_t req, const E2ee__RelayLogin *m)
{
    struct e2ee__relay *r = s->relay;
    struct e2ee__rs_user u;
    uint8_t nonce[E2EE_RELAY_NONCE_LEN];
    const char *why = NULL;
    int registered = 0;
    int rc;
    if (!s->nonce_valid) {
        e2ee__relay_result(s, req, E2EE_ERR_UNEXPECTED, "no challenge outstanding", NULL);
        return;
    }
    /* the nonce is spent by this attempt, whatever its outcome */
    memcpy(nonce, s->nonce, sizeof nonce);
    e2ee__wipe(s->nonce, sizeof s->nonce);
    s->nonce_valid = 0;
    rc = check_login(m, &why);
    if (rc == E2EE_OK) {
        rc = verify_proof(s, m, nonce);
        why = "login proof does not verify (wrong key, or an answer to another challenge)";
    }
    if (rc == E2EE_OK)
        rc = bind_identity(s, m, &u, &registered, &why);
    e2ee__wipe(nonce, sizeof nonce);
    if (rc != E2EE_OK) {
        refuse(s, req, rc, why, m->user_id);
        return;
    }
    rc = take_over(s, m, &u);
    if (rc != E2EE_OK) {
        e2ee__relay_result(s, req, rc, "relay failure during login; reconnect", NULL);
        e2ee__rsession_close(s, E2EE_RCLOSE_INTERNAL, "E2EE_ERR_STORE: login failed", 0);
        return;
    }
    r->metrics.logins_total++;
    if (registered)
        r->metrics.registrations_total++;
    RLOG_INFO("login conn=%llu user=%s registered=%d", (unsigned long long)s->conn_id, s->uid,
              registered);
    login_ok(s, req, &u, registered);
    e2ee__rsession_want_catchup(s);
    if (registered)
        e2ee__relay_user_event(r, s->uid, 1);
}
