/*
 * e2ee client: pairwise sessions with peers (docs/PROTOCOL.md part 1), built on demand.
 *
 * A message to a peer without a session waits while the client fetches the peer's bundle
 * from the relay (one fetch per peer at a time; the bundles of many peers in one
 * RelayFetchBundles when the relay announces max_bundles_per_fetch); the bundle's identity
 * goes through the identity policy (peers.c), then X3DH starts the session. Every record
 * change is saved in the pass's transaction, together with what caused it (the one-time
 * prekey a pre-key message used is deleted in the same transaction).
 */
#include <stdlib.h>
#include <string.h>

#include "client/client_internal.h"
#include "wire/wire.h"

static int load_record(struct e2ee_client *c, const char *user, e2ee__session_record **rec)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = e2ee__store_session_get(c->st, user, E2EE__CLIENT_DEVICE, &buf, &len);
    if (rc == E2EE_OK)
        rc = e2ee__session_record_deserialize(rec, buf, len);
    else if (rc == E2EE_ERR_NOT_FOUND)
        rc = e2ee__session_record_new(rec);
    e2ee__store_blob_free(buf, len);
    return rc;
}

static int save_record(struct e2ee_client *c, const char *user, const e2ee__session_record *rec)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = e2ee__session_record_serialize(rec, &buf, &len);
    if (rc == E2EE_OK)
        rc = e2ee__store_session_put(c->st, user, E2EE__CLIENT_DEVICE, buf, len);
    e2ee__wire_buf_free(buf, len);
    return rc;
}

int e2ee__pairwise_has_session(struct e2ee_client *c, const char *user, int *has)
{
    e2ee__session_record *rec = NULL;
    int rc = load_record(c, user, &rec);
    *has = rc == E2EE_OK && e2ee__session_record_has_session(rec);
    e2ee__session_record_free(rec);
    return rc;
}

int e2ee__pairwise_encrypt(struct e2ee_client *c, const char *user, const uint8_t *pt,
                           size_t len, uint8_t **msg, size_t *msg_len)
{
    e2ee__session_record *rec = NULL;
    int rc = load_record(c, user, &rec);

    *msg = NULL;
    *msg_len = 0;
    if (rc == E2EE_OK)
        rc = e2ee__session_encrypt(rec, &c->rng, pt, len, msg, msg_len);
    if (rc == E2EE_OK)
        rc = save_record(c, user, rec);
    if (rc != E2EE_OK) {
        free(*msg);
        *msg = NULL;
        *msg_len = 0;
    }
    e2ee__session_record_free(rec);
    return rc;
}

/* A pre-key message names its sender's identity: check it against what we trust. When that
 * cannot drop sessions (*late set), the check waits for the decryption, whose X3DH verifies
 * the identity anyway (one Ed25519 verification less per new session). *verified: the
 * identity is known good (the trusted key, or verified here), so the X3DH need not verify
 * it again (crossing first messages: both sides start a session, each learns the other's
 * key from a bundle first). */
static int check_sender(struct e2ee_client *c, const char *user, const uint8_t *msg,
                        size_t len, e2ee__identity_pub *sender, int *late, int *verified)
{
    e2ee__pairwise_message_info info;
    int rc = e2ee__pairwise_message_peek(msg, len, &info);
    *late = 0;
    *verified = 0;
    if (rc == E2EE_OK && info.is_prekey) {
        *sender = info.sender_identity;
        rc = e2ee__peer_settled(c, user, &info.sender_identity, late, verified);
        if (rc == E2EE_OK && !*late) {
            rc = e2ee__identity_pub_verify(&info.sender_identity);
            if (rc == E2EE_OK)
                rc = e2ee__peer_observe(c, user, &info.sender_identity);
            *verified = rc == E2EE_OK;
        }
    }
    return rc;
}

int e2ee__pairwise_decrypt(struct e2ee_client *c, const char *user, const uint8_t *msg,
                           size_t len, e2ee__session_decrypt_result *res)
{
    e2ee__session_record *rec = NULL;
    e2ee__prekey_source src;
    e2ee__address remote;
    e2ee__identity_pub sender;
    int late = 0, verified = 0;
    int rc = e2ee__peer_blocked(c, user) ? E2EE_ERR_UNTRUSTED_IDENTITY : E2EE_OK;

    memset(res, 0, sizeof *res);
    memset(&sender, 0, sizeof sender);
    if (rc == E2EE_OK)
        rc = check_sender(c, user, msg, len, &sender, &late, &verified);
    if (rc == E2EE_OK)
        rc = e2ee__address_set(&remote, user, E2EE__CLIENT_DEVICE);
    if (rc == E2EE_OK)
        rc = load_record(c, user, &rec);
    e2ee__keys_source(c, &src);
    if (rc == E2EE_OK)
        rc = e2ee__session_decrypt(rec, c->id, &c->addr, &remote, verified ? &sender : NULL,
                                   &src, msg, len, res);
    if (rc == E2EE_OK && late) /* the decryption verified the sender's identity */
        rc = e2ee__peer_observe(c, user, &sender);
    if (rc == E2EE_OK && res->used_one_time_prekey) {
        rc = e2ee__store_prekey_delete(c->st, res->one_time_prekey_id);
        if (rc == E2EE_ERR_NOT_FOUND)
            rc = E2EE_OK;
    }
    if (rc == E2EE_OK)
        rc = save_record(c, user, rec);
    if (rc != E2EE_OK)
        e2ee__session_decrypt_result_cleanup(res);
    e2ee__session_record_free(rec);
    return rc;
}

/* ---- bundles ---- */

/* The fetch for user (or, user NULL, with request id req); *at its index. */
static struct e2ee__fetch *find_fetch(struct e2ee_client *c, const char *user, uint64_t req,
                                      size_t *at)
{
    struct e2ee__fetch *found = NULL;
    for (size_t i = 0; i < c->fetches.n && !found; i++) {
        struct e2ee__fetch *f = c->fetches.v[i];
        if ((user && strcmp(f->user, user) == 0) || (!user && f->req_id == req)) {
            found = f;
            if (at)
                *at = i;
        }
    }
    return found;
}

int e2ee__pairwise_fetching(struct e2ee_client *c, const char *user)
{
    return find_fetch(c, user, 0, NULL) != NULL;
}

int e2ee__pairwise_fetch(struct e2ee_client *c, const char *user)
{
    E2ee__ClientFrame f = E2EE__CLIENT_FRAME__INIT;
    E2ee__RelayFetchBundle fb = E2EE__RELAY_FETCH_BUNDLE__INIT;
    struct e2ee__fetch *fe = NULL;
    int rc = E2EE_OK;

    if (find_fetch(c, user, 0, NULL))
        goto done;
    fe = calloc(1, sizeof *fe);
    if (!fe) {
        rc = E2EE_ERR_NOMEM;
        goto done;
    }
    e2ee__client_copy_id(fe->user, user);
    fe->req_id = e2ee__client_req_id(c);
    fb.user_id = fe->user;
    fb.device_id = E2EE__CLIENT_DEVICE;
    f.request_id = fe->req_id;
    f.body_case = E2EE__CLIENT_FRAME__BODY_FETCH_BUNDLE;
    f.fetch_bundle = &fb;
    /* counted in the pacing, never held back by it: the messages behind it wait already */
    (void)e2ee__client_token(c, e2ee__client_mono_ms());
    rc = e2ee__client_frame(c, &f, 0);
    if (rc == E2EE_OK)
        rc = e2ee__vec_push(&c->fetches, fe);
    e2ee__client_log(c, E2EE_LOG_DEBUG, "fetching the bundle of %s", user);
    if (rc == E2EE_OK)
        fe = NULL;
done:
    free(fe);
    return rc;
}

/* Forgets the fetches of request req (its frame could not be queued). */
static void drop_fetches(struct e2ee_client *c, uint64_t req)
{
    size_t at = 0;
    struct e2ee__fetch *fe;
    while ((fe = find_fetch(c, NULL, req, &at)) != NULL)
        free(e2ee__vec_take(&c->fetches, at));
}

/* One RelayFetchBundles for users[0..n), none of them being fetched, no one twice. */
static int fetch_batch(struct e2ee_client *c, char *const *users, size_t n)
{
    E2ee__ClientFrame f = E2EE__CLIENT_FRAME__INIT;
    E2ee__RelayFetchBundles fb = E2EE__RELAY_FETCH_BUNDLES__INIT;
    E2ee__RelayFetchBundle *items = calloc(n, sizeof *items);
    E2ee__RelayFetchBundle **ptrs = calloc(n, sizeof *ptrs);
    uint64_t req = e2ee__client_req_id(c), now = e2ee__client_mono_ms();
    int rc = items && ptrs ? E2EE_OK : E2EE_ERR_NOMEM;

    for (size_t i = 0; rc == E2EE_OK && i < n; i++) {
        struct e2ee__fetch *fe = calloc(1, sizeof *fe);
        rc = fe ? e2ee__vec_push(&c->fetches, fe) : E2EE_ERR_NOMEM;
        if (rc != E2EE_OK) {
            free(fe);
            break;
        }
        e2ee__client_copy_id(fe->user, users[i]);
        fe->req_id = req;
        fe->batch = 1;
        e2ee__relay_fetch_bundle__init(&items[i]);
        items[i].user_id = fe->user;
        items[i].device_id = E2EE__CLIENT_DEVICE;
        ptrs[i] = &items[i];
        (void)e2ee__client_token(c, now); /* one request per bundle, as the relay counts */
    }
    fb.n_items = n;
    fb.items = ptrs;
    f.request_id = req;
    f.body_case = E2EE__CLIENT_FRAME__BODY_FETCH_BUNDLES;
    f.fetch_bundles = &fb;
    if (rc == E2EE_OK)
        rc = e2ee__client_frame(c, &f, 0);
    if (rc == E2EE_OK)
        e2ee__client_log(c, E2EE_LOG_DEBUG, "fetching %zu bundles", n);
    else
        drop_fetches(c, req);
    free(items);
    free(ptrs);
    return rc;
}

int e2ee__pairwise_fetch_many(struct e2ee_client *c, char *const *users, size_t n)
{
    char **missing = calloc(n ? n : 1, sizeof *missing);
    size_t m = 0, max = c->bundles_max;
    int rc = missing ? E2EE_OK : E2EE_ERR_NOMEM;

    for (size_t i = 0; rc == E2EE_OK && i < n; i++)
        if (!find_fetch(c, users[i], 0, NULL))
            missing[m++] = users[i];
    for (size_t i = 0; rc == E2EE_OK && max < 2 && i < m; i++)
        rc = e2ee__pairwise_fetch(c, missing[i]);
    for (size_t i = 0; rc == E2EE_OK && max >= 2 && i < m; i += max)
        rc = fetch_batch(c, missing + i, m - i < max ? m - i : max);
    free(missing);
    return rc;
}

const struct e2ee__peer_fail *e2ee__pairwise_failed(struct e2ee_client *c, const char *user,
                                                    uint64_t now)
{
    const struct e2ee__peer_fail *found = NULL;
    for (size_t i = 0; i < c->fails.n && !found; i++) {
        struct e2ee__peer_fail *pf = c->fails.v[i];
        if (pf->until_ms <= now) {
            free(e2ee__vec_take(&c->fails, i));
            i--;
        } else if (strcmp(pf->user, user) == 0) {
            found = pf;
        }
    }
    return found;
}

static void set_fail(struct e2ee_client *c, const char *user, int code, int permanent,
                     uint64_t ms)
{
    struct e2ee__peer_fail *pf = NULL;
    for (size_t i = 0; i < c->fails.n && !pf; i++) {
        if (strcmp(((struct e2ee__peer_fail *)c->fails.v[i])->user, user) == 0)
            pf = c->fails.v[i];
    }
    if (!pf) {
        pf = calloc(1, sizeof *pf);
        if (pf && e2ee__vec_push(&c->fails, pf) == E2EE_OK) {
            e2ee__client_copy_id(pf->user, user);
        } else {
            free(pf);
            pf = NULL; /* out of memory: the peer is asked again, nothing else is lost */
        }
    }
    if (pf) {
        pf->code = code;
        pf->permanent = permanent;
        pf->until_ms = e2ee__client_mono_ms() + ms;
    }
}

static int copy_key(uint8_t *dst, size_t n, ProtobufCBinaryData b)
{
    int ok = b.len == n && b.data;
    if (ok)
        memcpy(dst, b.data, n);
    return ok;
}

/* RelayBundle -> e2ee__prekey_bundle, every length checked. */
static int bundle_from_relay(const E2ee__RelayBundle *rb, const char *user,
                             e2ee__prekey_bundle *b)
{
    int ok = rb && rb->user_id && strcmp(rb->user_id, user) == 0 &&
             (rb->device_id == 0 || rb->device_id == E2EE__CLIENT_DEVICE) && rb->identity &&
             rb->signed_prekey;
    memset(b, 0, sizeof *b);
    ok = ok && e2ee__address_set(&b->address, user, E2EE__CLIENT_DEVICE) == E2EE_OK;
    ok = ok && copy_key(b->identity.sign_pk, 32, rb->identity->sign_key) &&
         copy_key(b->identity.dh_pk, 32, rb->identity->dh_key) &&
         copy_key(b->identity.dh_sig, 64, rb->identity->dh_signature);
    ok = ok && copy_key(b->spk_pk, 32, rb->signed_prekey->public_key) &&
         copy_key(b->spk_sig, 64, rb->signed_prekey->signature);
    if (ok)
        b->spk_id = rb->signed_prekey->id;
    if (ok && rb->one_time_prekey) {
        b->has_opk = 1;
        b->opk_id = rb->one_time_prekey->id;
        ok = copy_key(b->opk_pk, 32, rb->one_time_prekey->public_key);
    }
    return ok ? E2EE_OK : E2EE_ERR_DECODE;
}

/* The bundle's identity against what we trust: *peer_code E2EE_ERR_UNTRUSTED_IDENTITY when
 * blocked, rc for store failures. */
static int observe_bundle(struct e2ee_client *c, const char *user, const e2ee__prekey_bundle *b,
                          int *peer_code)
{
    int rc = e2ee__peer_observe(c, user, &b->identity);
    if (rc == E2EE_ERR_UNTRUSTED_IDENTITY) {
        *peer_code = rc;
        rc = E2EE_OK;
    }
    return rc;
}

/* Starts a session from a fetched bundle. Errors other than store failures are the peer's:
 * returned in *peer_code with rc OK. When observing the identity cannot drop sessions (first
 * sight, or the trusted key), the X3DH's own verification of the bundle comes first and the
 * identity is observed after it; otherwise the bundle is verified and observed first. */
static int install_bundle(struct e2ee_client *c, const char *user, const E2ee__RelayBundle *rb,
                          int *peer_code)
{
    e2ee__prekey_bundle b;
    e2ee__session_record *rec = NULL;
    int rc = E2EE_OK, settled = 0;

    *peer_code = bundle_from_relay(rb, user, &b);
    if (*peer_code == E2EE_OK)
        rc = e2ee__peer_settled(c, user, &b.identity, &settled, NULL);
    if (rc == E2EE_OK && *peer_code == E2EE_OK && !settled)
        *peer_code = e2ee__prekey_bundle_verify(&b);
    if (rc == E2EE_OK && *peer_code == E2EE_OK && !settled)
        rc = observe_bundle(c, user, &b, peer_code);
    if (rc == E2EE_OK && *peer_code == E2EE_OK)
        rc = load_record(c, user, &rec);
    if (rc == E2EE_OK && *peer_code == E2EE_OK)
        *peer_code = e2ee__session_initiate(rec, c->id, &c->addr, &b, &c->rng);
    if (rc == E2EE_OK && *peer_code == E2EE_OK && settled) /* verified by the X3DH */
        rc = observe_bundle(c, user, &b, peer_code);
    if (rc == E2EE_OK && *peer_code == E2EE_OK)
        rc = save_record(c, user, rec);
    e2ee__session_record_free(rec);
    return rc;
}

/* The answer for user in r: the bundle (NULL when none) and the code, from a single fetch's
 * result or from user's item of a RelayBundleList. */
static const E2ee__RelayBundle *answer_for(const E2ee__RelayResult *r, const char *user,
                                           int *code)
{
    const E2ee__RelayBundle *b = NULL;
    *code = r->code;
    if (r->code == E2EE_OK && r->body_case == E2EE__RELAY_RESULT__BODY_BUNDLE) {
        b = r->bundle;
    } else if (r->code == E2EE_OK && r->body_case == E2EE__RELAY_RESULT__BODY_BUNDLES) {
        *code = E2EE_ERR_DECODE; /* unless the list has an item for user */
        for (size_t i = 0; r->bundles && i < r->bundles->n_items; i++) {
            const E2ee__RelayBundleItem *it = r->bundles->items[i];
            if (it && it->user_id && strcmp(it->user_id, user) == 0) {
                *code = it->code;
                b = it->code == E2EE_OK ? it->bundle : NULL;
                break;
            }
        }
    }
    return b;
}

/* Installs the bundle of one answered fetch, or remembers why there is none. */
static int on_fetch_answer(struct e2ee_client *c, const struct e2ee__fetch *fe,
                           const E2ee__RelayResult *r)
{
    int code = E2EE_OK, rc = E2EE_OK;
    const E2ee__RelayBundle *b = answer_for(r, fe->user, &code);

    if (fe->batch && code == E2EE_ERR_NOT_SUPPORTED) {
        c->bundles_max = 0; /* a relay without RelayFetchBundles: one fetch per peer */
        return E2EE_OK;
    }
    if (code == E2EE_OK)
        rc = install_bundle(c, fe->user, b, &code);
    if (code == E2EE_ERR_NOT_FOUND || code == E2EE_ERR_RATE_LIMITED ||
        code == E2EE_ERR_STORE || code == E2EE_ERR_UNAVAILABLE || code == E2EE_ERR_NOMEM)
        set_fail(c, fe->user, code, 0, E2EE__CLIENT_BUNDLE_WAIT_MS);
    else if (code != E2EE_OK)
        set_fail(c, fe->user, code, 1, E2EE__CLIENT_BUNDLE_FAIL_MS);
    if (code != E2EE_OK)
        e2ee__client_log(c, E2EE_LOG_WARNING, "no session with %s: %s", fe->user,
                         e2ee_errname(code));
    return rc;
}

int e2ee__pairwise_on_result(struct e2ee_client *c, const E2ee__RelayResult *r, int *handled)
{
    size_t at = 0;
    struct e2ee__fetch *fe = r->request_id ? find_fetch(c, NULL, r->request_id, &at) : NULL;
    int rc = E2EE_OK;

    *handled = fe != NULL;
    while (fe && rc == E2EE_OK) {
        e2ee__vec_take(&c->fetches, at);
        rc = on_fetch_answer(c, fe, r);
        free(fe);
        fe = find_fetch(c, NULL, r->request_id, &at);
    }
    if (*handled)
        c->pump_dirty = 1;
    return rc;
}

void e2ee__pairwise_reset(struct e2ee_client *c)
{
    e2ee__vec_clear(&c->fetches, NULL);
}
