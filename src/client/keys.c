/*
 * e2ee client: this identity's keys. Created at the first e2ee_client_new (identity, signed
 * prekey, one batch of one-time prekeys); published after a login when the relay lacks them;
 * one-time prekeys topped up when the relay says it runs low (or the login says so); the
 * signed prekey rotated weekly. A batch waits in the meta table ("unpublished") until the
 * relay confirmed it, so a lost answer only means publishing it again.
 */
#include <stdlib.h>
#include <string.h>

#include "client/client_internal.h"
#include "wire/wire.h"

static int meta_u32s(struct e2ee_client *c, const char *key, uint32_t *v, size_t n)
{
    uint8_t *val = NULL;
    size_t len = 0;
    int rc = e2ee__store_meta_get(c->st, key, &val, &len);
    if (rc == E2EE_OK && len != 4 * n)
        rc = E2EE_ERR_CORRUPT;
    for (size_t i = 0; rc == E2EE_OK && i < n; i++)
        v[i] = e2ee__client_get_u32(val + 4 * i);
    e2ee__store_blob_free(val, len);
    return rc;
}

static int put_meta_u32s(struct e2ee_client *c, const char *key, const uint32_t *v, size_t n)
{
    uint8_t buf[8];
    for (size_t i = 0; i < n && i < 2; i++)
        e2ee__client_put_u32(buf + 4 * i, v[i]);
    return e2ee__store_meta_put(c->st, key, buf, 4 * (n < 2 ? n : 2));
}

/* Makes a batch of one-time prekeys, stores the private halves and marks it unpublished. */
static int new_batch(struct e2ee_client *c)
{
    e2ee__one_time_prekey *keys = calloc(E2EE__CLIENT_PREKEY_BATCH, sizeof *keys);
    uint32_t first = 0, v[2];
    int rc = keys ? E2EE_OK : E2EE_ERR_NOMEM;

    if (rc == E2EE_OK)
        rc = e2ee__store_prekey_alloc_ids(c->st, E2EE__CLIENT_PREKEY_BATCH, &first);
    if (rc == E2EE_OK)
        rc = e2ee__one_time_prekeys_generate(keys, E2EE__CLIENT_PREKEY_BATCH, first, &c->rng);
    for (size_t i = 0; rc == E2EE_OK && i < E2EE__CLIENT_PREKEY_BATCH; i++) {
        uint8_t *rec = NULL;
        size_t len = 0;
        rc = e2ee__one_time_prekey_serialize(&keys[i], &rec, &len);
        if (rc == E2EE_OK)
            rc = e2ee__store_prekey_put(c->st, keys[i].id, rec, len);
        e2ee__wire_buf_free(rec, len);
    }
    v[0] = first;
    v[1] = E2EE__CLIENT_PREKEY_BATCH;
    if (rc == E2EE_OK)
        rc = put_meta_u32s(c, E2EE__CLIENT_META_PREKEYS_PENDING, v, 2);
    v[0] = first + E2EE__CLIENT_PREKEY_BATCH - 1;
    if (rc == E2EE_OK)
        rc = put_meta_u32s(c, E2EE__CLIENT_META_PREKEYS_MAX, v, 1);
    for (size_t i = 0; keys && i < E2EE__CLIENT_PREKEY_BATCH; i++)
        e2ee__one_time_prekey_wipe(&keys[i]);
    free(keys);
    return rc;
}

static int new_signed_prekey(struct e2ee_client *c, uint32_t id, int64_t now_s)
{
    e2ee__signed_prekey spk;
    uint8_t *rec = NULL;
    size_t len = 0;
    int rc = e2ee__signed_prekey_generate(&spk, c->id, id, (uint64_t)now_s, &c->rng);
    if (rc == E2EE_OK)
        rc = e2ee__signed_prekey_serialize(&spk, &rec, &len);
    if (rc == E2EE_OK)
        rc = e2ee__store_signed_prekey_put(c->st, id, rec, len, now_s);
    e2ee__wire_buf_free(rec, len);
    e2ee__signed_prekey_wipe(&spk);
    return rc;
}

static int create_identity(struct e2ee_client *c)
{
    uint8_t *rec = NULL;
    size_t len = 0;
    int rc = e2ee__identity_generate(&c->id, &c->rng);
    if (rc == E2EE_OK)
        rc = e2ee__identity_serialize(c->id, &rec, &len);
    if (rc == E2EE_OK)
        rc = e2ee__store_identity_put(c->st, rec, len);
    if (rc == E2EE_OK)
        rc = e2ee__store_meta_put(c->st, E2EE__CLIENT_META_USER, (const uint8_t *)c->user_id,
                                  strlen(c->user_id));
    if (rc == E2EE_OK)
        rc = new_signed_prekey(c, 1, e2ee__client_wall_ms() / 1000);
    if (rc == E2EE_OK)
        rc = new_batch(c);
    e2ee__wire_buf_free(rec, len);
    return rc;
}

static int load_identity(struct e2ee_client *c, const uint8_t *rec, size_t len)
{
    uint8_t *user = NULL;
    size_t ulen = 0;
    int rc = e2ee__store_meta_get(c->st, E2EE__CLIENT_META_USER, &user, &ulen);
    if (rc == E2EE_ERR_NOT_FOUND)
        rc = E2EE_ERR_CORRUPT; /* an identity without its user: not a client store */
    if (rc == E2EE_OK &&
        (ulen != strlen(c->user_id) || memcmp(user, c->user_id, ulen) != 0))
        rc = E2EE_ERR_STATE;
    if (rc == E2EE_OK)
        rc = e2ee__identity_deserialize(&c->id, rec, len);
    e2ee__store_blob_free(user, ulen);
    return rc;
}

int e2ee__keys_open(struct e2ee_client *c)
{
    uint8_t *rec = NULL;
    size_t len = 0;
    int rc = e2ee__store_begin(c->st);
    if (rc != E2EE_OK)
        goto done;
    rc = e2ee__store_identity_get(c->st, &rec, &len);
    if (rc == E2EE_ERR_NOT_FOUND)
        rc = create_identity(c);
    else if (rc == E2EE_OK)
        rc = load_identity(c, rec, len);
    if (rc == E2EE_OK)
        rc = e2ee__store_commit(c->st);
    else
        (void)e2ee__store_rollback(c->st);
done:
    e2ee__store_blob_free(rec, len);
    return rc;
}

/* ---- publishing ---- */

/* Public halves of the unpublished batch (used prekeys are skipped). */
static int batch_publics(struct e2ee_client *c, E2ee__RelayOneTimePrekey *keys,
                         uint8_t (*pubs)[32], size_t *n)
{
    uint32_t v[2] = {0, 0};
    int rc = meta_u32s(c, E2EE__CLIENT_META_PREKEYS_PENDING, v, 2);
    *n = 0;
    if (rc == E2EE_ERR_NOT_FOUND)
        rc = E2EE_OK;
    for (uint32_t i = 0; rc == E2EE_OK && i < v[1] && i < E2EE__CLIENT_PREKEY_BATCH; i++) {
        e2ee__one_time_prekey opk;
        uint8_t *rec = NULL;
        size_t len = 0;
        rc = e2ee__store_prekey_get(c->st, v[0] + i, &rec, &len);
        if (rc == E2EE_OK)
            rc = e2ee__one_time_prekey_deserialize(&opk, rec, len);
        if (rc == E2EE_OK) {
            e2ee__relay_one_time_prekey__init(&keys[*n]);
            keys[*n].id = opk.id;
            memcpy(pubs[*n], opk.pk, 32);
            keys[*n].public_key = (ProtobufCBinaryData){32, pubs[*n]};
            (*n)++;
        }
        e2ee__one_time_prekey_wipe(&opk);
        e2ee__store_blob_free(rec, len);
        if (rc == E2EE_ERR_NOT_FOUND)
            rc = E2EE_OK; /* used since */
    }
    return rc;
}

static int latest_spk(struct e2ee_client *c, e2ee__signed_prekey *spk)
{
    uint8_t *rec = NULL;
    size_t len = 0;
    int rc = e2ee__store_signed_prekey_latest(c->st, NULL, &rec, &len, NULL);
    if (rc == E2EE_OK)
        rc = e2ee__signed_prekey_deserialize(spk, rec, len);
    e2ee__store_blob_free(rec, len);
    return rc;
}

static int publish(struct e2ee_client *c, int with_spk, int replace)
{
    E2ee__ClientFrame f = E2EE__CLIENT_FRAME__INIT;
    E2ee__RelayPublishKeys pk = E2EE__RELAY_PUBLISH_KEYS__INIT;
    E2ee__RelaySignedPrekey rspk = E2EE__RELAY_SIGNED_PREKEY__INIT;
    E2ee__RelayOneTimePrekey keys[E2EE__CLIENT_PREKEY_BATCH], *ptrs[E2EE__CLIENT_PREKEY_BATCH];
    uint8_t pubs[E2EE__CLIENT_PREKEY_BATCH][32];
    e2ee__signed_prekey spk;
    size_t n = 0;
    int rc = batch_publics(c, keys, pubs, &n);

    memset(&spk, 0, sizeof spk);
    if (rc == E2EE_OK && with_spk)
        rc = latest_spk(c, &spk);
    if (rc != E2EE_OK || (!with_spk && n == 0))
        goto done;
    for (size_t i = 0; i < n; i++)
        ptrs[i] = &keys[i];
    rspk.id = spk.id;
    rspk.public_key = (ProtobufCBinaryData){sizeof spk.pk, spk.pk};
    rspk.signature = (ProtobufCBinaryData){sizeof spk.sig, spk.sig};
    pk.signed_prekey = with_spk ? &rspk : NULL;
    pk.one_time_prekeys = ptrs;
    pk.n_one_time_prekeys = n;
    pk.replace_one_time_prekeys = replace != 0;
    f.request_id = e2ee__client_req_id(c);
    f.body_case = E2EE__CLIENT_FRAME__BODY_PUBLISH_KEYS;
    f.publish_keys = &pk;
    rc = e2ee__client_frame(c, &f, 0);
    if (rc == E2EE_OK)
        c->publish_req = f.request_id;
    e2ee__client_log(c, E2EE_LOG_INFO, "publishing %s%zu one-time prekeys",
                     with_spk ? "the signed prekey and " : "", n);
done:
    e2ee__signed_prekey_wipe(&spk);
    return rc;
}

static int has_pending_batch(struct e2ee_client *c, int *has)
{
    uint32_t v[2];
    int rc = meta_u32s(c, E2EE__CLIENT_META_PREKEYS_PENDING, v, 2);
    *has = rc == E2EE_OK;
    return rc == E2EE_ERR_NOT_FOUND ? E2EE_OK : rc;
}

/* A signed prekey older than its lifetime is replaced; old ones are pruned after a while. */
static int rotate_spk(struct e2ee_client *c, int *rotated)
{
    int64_t now_s = e2ee__client_wall_ms() / 1000, created = 0;
    uint32_t id = 0;
    uint8_t *rec = NULL;
    size_t len = 0;
    int rc = e2ee__store_signed_prekey_latest(c->st, &id, &rec, &len, &created);

    *rotated = 0;
    if (rc == E2EE_OK && now_s - created > E2EE__CLIENT_SPK_ROTATE_S && id < UINT32_MAX) {
        rc = new_signed_prekey(c, id + 1, now_s);
        *rotated = rc == E2EE_OK;
    }
    if (rc == E2EE_OK)
        rc = e2ee__store_signed_prekey_prune(c->st, now_s - E2EE__CLIENT_SPK_KEEP_S, NULL);
    e2ee__store_blob_free(rec, len);
    return rc;
}

int e2ee__keys_after_login(struct e2ee_client *c, const E2ee__RelayLoginOk *ok)
{
    int full = !ok || ok->registered || !ok->has_signed_prekey;
    int low = ok && ok->one_time_prekeys < E2EE__CLIENT_PREKEY_LOW;
    int rotated = 0, pending = 0;
    int rc = rotate_spk(c, &rotated);

    if (rc == E2EE_OK)
        rc = has_pending_batch(c, &pending);
    if (rc == E2EE_OK && !pending && (full || low))
        rc = new_batch(c);
    if (rc == E2EE_OK && (full || rotated || pending || low))
        rc = publish(c, full || rotated, full);
    return rc;
}

int e2ee__keys_on_low(struct e2ee_client *c)
{
    int pending = 0;
    int rc = c->publish_req ? E2EE_OK : e2ee__client_txn(c);
    if (c->publish_req || rc != E2EE_OK)
        goto done;
    rc = has_pending_batch(c, &pending);
    if (rc == E2EE_OK && !pending)
        rc = new_batch(c);
    if (rc == E2EE_OK)
        rc = publish(c, 0, 0);
done:
    return rc;
}

int e2ee__keys_on_result(struct e2ee_client *c, const E2ee__RelayResult *r)
{
    int rc = E2EE_OK;
    c->publish_req = 0;
    if (c->connect_pending)
        e2ee__login_connect_event(c);
    if (r->code != E2EE_OK)
        e2ee__client_log(c, E2EE_LOG_WARNING, "prekeys not published: %s",
                         e2ee_errname(r->code));
    /* published, or refused for good (over the relay's limit): make a new batch next time */
    if (r->code == E2EE_OK || r->code == E2EE_ERR_LIMIT) {
        rc = e2ee__store_meta_delete(c->st, E2EE__CLIENT_META_PREKEYS_PENDING);
        if (rc == E2EE_ERR_NOT_FOUND)
            rc = E2EE_OK;
    }
    return rc;
}

/* ---- prekey source for responders ---- */

static int source_spk(void *ctx, uint32_t id, e2ee__signed_prekey *out)
{
    struct e2ee_client *c = ctx;
    uint8_t *rec = NULL;
    size_t len = 0;
    int rc = e2ee__store_signed_prekey_get(c->st, id, &rec, &len);
    if (rc == E2EE_OK)
        rc = e2ee__signed_prekey_deserialize(out, rec, len);
    else if (rc == E2EE_ERR_NOT_FOUND)
        rc = E2EE_ERR_UNKNOWN_KEY;
    e2ee__store_blob_free(rec, len);
    return rc;
}

static int source_opk(void *ctx, uint32_t id, e2ee__one_time_prekey *out)
{
    struct e2ee_client *c = ctx;
    uint8_t *rec = NULL;
    size_t len = 0;
    uint32_t max = 0;
    int rc = e2ee__store_prekey_get(c->st, id, &rec, &len);
    if (rc == E2EE_OK) {
        rc = e2ee__one_time_prekey_deserialize(out, rec, len);
    } else if (rc == E2EE_ERR_NOT_FOUND) {
        /* ids are allocated in order and never reused: a missing one we handed out was used */
        rc = meta_u32s(c, E2EE__CLIENT_META_PREKEYS_MAX, &max, 1);
        rc = rc == E2EE_OK && id <= max ? E2EE_ERR_REPLAY : E2EE_ERR_UNKNOWN_KEY;
    }
    e2ee__store_blob_free(rec, len);
    return rc;
}

void e2ee__keys_source(struct e2ee_client *c, e2ee__prekey_source *src)
{
    src->signed_prekey = source_spk;
    src->one_time_prekey = source_opk;
    src->ctx = c;
}
