/* e2ee proto: signed prekeys, one-time prekeys and prekey bundles. */
#include "proto/prekey.h"

#include <stdlib.h>
#include <string.h>

#include "pairwise.pb-c.h"
#include "proto/pwcodec.h"
#include "wire/wire.h"

#define SPK_MSG_LEN (sizeof E2EE_SIGNED_PREKEY_LABEL - 1 + 4 + E2EE_X25519_KEY_LEN)

static int fixed_spk(void *ctx, uint32_t id, e2ee__signed_prekey *out)
{
    const e2ee__prekey_keys *k = ctx;
    if (!k->spk || k->spk->id != id)
        return E2EE_ERR_UNKNOWN_KEY;
    *out = *k->spk;
    return E2EE_OK;
}

static int fixed_opk(void *ctx, uint32_t id, e2ee__one_time_prekey *out)
{
    const e2ee__prekey_keys *k = ctx;
    if (!k->opk || k->opk->id != id)
        return E2EE_ERR_UNKNOWN_KEY;
    *out = *k->opk;
    return E2EE_OK;
}

void e2ee__prekey_source_from_keys(e2ee__prekey_source *src, e2ee__prekey_keys *keys)
{
    if (!src)
        return;
    src->signed_prekey = fixed_spk;
    src->one_time_prekey = fixed_opk;
    src->ctx = keys;
}

void e2ee__signed_prekey_wipe(e2ee__signed_prekey *spk)
{
    e2ee__wipe(spk, spk ? sizeof *spk : 0);
}

void e2ee__one_time_prekey_wipe(e2ee__one_time_prekey *opk)
{
    e2ee__wipe(opk, opk ? sizeof *opk : 0);
}

/* label || u32be id || pk */
static void spk_msg(uint8_t msg[SPK_MSG_LEN], uint32_t id, const uint8_t pk[32])
{
    size_t off = sizeof E2EE_SIGNED_PREKEY_LABEL - 1;
    memcpy(msg, E2EE_SIGNED_PREKEY_LABEL, off);
    e2ee__pwcodec_be32(msg + off, id);
    memcpy(msg + off + 4, pk, E2EE_X25519_KEY_LEN);
}

/* A random X25519 pair from rng. */
static int x25519_from_rng(uint8_t pk[32], uint8_t sk[32], const e2ee__rng *rng)
{
    int rc = e2ee__rng_fill(rng, sk, E2EE_X25519_KEY_LEN);
    if (rc == E2EE_OK)
        rc = e2ee__x25519_public(pk, sk);
    return rc;
}

int e2ee__signed_prekey_generate(e2ee__signed_prekey *out, const e2ee__identity *owner,
                                 uint32_t id, uint64_t now, const e2ee__rng *rng)
{
    uint8_t msg[SPK_MSG_LEN];
    if (!out)
        return E2EE_ERR_ARG;
    memset(out, 0, sizeof *out);
    if (!owner || !rng)
        return E2EE_ERR_ARG;
    out->id = id;
    out->created_at = now;
    int rc = x25519_from_rng(out->pk, out->sk, rng);
    if (rc == E2EE_OK) {
        spk_msg(msg, id, out->pk);
        rc = e2ee__identity_sign(owner, out->sig, msg, sizeof msg);
    }
    if (rc != E2EE_OK)
        e2ee__signed_prekey_wipe(out);
    return rc;
}

int e2ee__signed_prekey_verify(const e2ee__identity_pub *owner, uint32_t id,
                               const uint8_t pk[E2EE_X25519_KEY_LEN],
                               const uint8_t sig[E2EE_ED25519_SIG_LEN])
{
    uint8_t msg[SPK_MSG_LEN];
    if (!owner || !pk || !sig)
        return E2EE_ERR_ARG;
    spk_msg(msg, id, pk);
    return e2ee__ed25519_verify(sig, msg, sizeof msg, owner->sign_pk);
}

int e2ee__one_time_prekeys_generate(e2ee__one_time_prekey *out, size_t count,
                                    uint32_t first_id, const e2ee__rng *rng)
{
    int rc = E2EE_OK;
    size_t i = 0;
    if (!out || !rng)
        return E2EE_ERR_ARG;
    if (count == 0 || count > E2EE_PREKEY_BATCH_MAX)
        return E2EE_ERR_RANGE;
    if ((uint64_t)first_id + count - 1 > UINT32_MAX)
        return E2EE_ERR_RANGE;
    for (i = 0; i < count && rc == E2EE_OK; i++) {
        out[i].id = first_id + (uint32_t)i;
        rc = x25519_from_rng(out[i].pk, out[i].sk, rng);
    }
    if (rc != E2EE_OK)
        e2ee__wipe(out, count * sizeof *out);
    return rc;
}

int e2ee__signed_prekey_serialize(const e2ee__signed_prekey *spk, uint8_t **out,
                                  size_t *out_len)
{
    if (!out || !out_len)
        return E2EE_ERR_ARG;
    *out = NULL;
    *out_len = 0;
    if (!spk)
        return E2EE_ERR_ARG;
    E2ee__SignedPreKeyRecord r = E2EE__SIGNED_PRE_KEY_RECORD__INIT;
    r.has_version = r.has_id = r.has_public_key = r.has_private_key = 1;
    r.has_signature = r.has_created_at = 1;
    r.version = E2EE_PREKEY_VERSION;
    r.id = spk->id;
    r.public_key = (ProtobufCBinaryData){sizeof spk->pk, (uint8_t *)spk->pk};
    r.private_key = (ProtobufCBinaryData){sizeof spk->sk, (uint8_t *)spk->sk};
    r.signature = (ProtobufCBinaryData){sizeof spk->sig, (uint8_t *)spk->sig};
    r.created_at = spk->created_at;
    return e2ee__pwcodec_pack_record(&r.base, E2EE_SIGNED_PREKEY_RECORD_LABEL,
                                     E2EE_PREKEY_RECORD_MAX, out, out_len);
}

int e2ee__one_time_prekey_serialize(const e2ee__one_time_prekey *opk, uint8_t **out,
                                    size_t *out_len)
{
    if (!out || !out_len)
        return E2EE_ERR_ARG;
    *out = NULL;
    *out_len = 0;
    if (!opk)
        return E2EE_ERR_ARG;
    E2ee__OneTimePreKeyRecord r = E2EE__ONE_TIME_PRE_KEY_RECORD__INIT;
    r.has_version = r.has_id = r.has_public_key = r.has_private_key = 1;
    r.version = E2EE_PREKEY_VERSION;
    r.id = opk->id;
    r.public_key = (ProtobufCBinaryData){sizeof opk->pk, (uint8_t *)opk->pk};
    r.private_key = (ProtobufCBinaryData){sizeof opk->sk, (uint8_t *)opk->sk};
    return e2ee__pwcodec_pack_record(&r.base, E2EE_ONE_TIME_PREKEY_RECORD_LABEL,
                                     E2EE_PREKEY_RECORD_MAX, out, out_len);
}

/* 1 when pk is the public key of sk. */
static int pair_matches(const uint8_t pk[32], const uint8_t sk[32])
{
    uint8_t calc[E2EE_X25519_KEY_LEN];
    int ok = e2ee__x25519_public(calc, sk) == E2EE_OK && e2ee__ct_equal(calc, pk, sizeof calc);
    e2ee__wipe(calc, sizeof calc);
    return ok;
}

/* Version check shared by the record parsers. */
static int record_version(protobuf_c_boolean has, uint32_t v)
{
    if (!has)
        return E2EE_ERR_CORRUPT;
    return v == E2EE_PREKEY_VERSION ? E2EE_OK : E2EE_ERR_VERSION;
}

int e2ee__signed_prekey_deserialize(e2ee__signed_prekey *out, const uint8_t *buf, size_t len)
{
    ProtobufCMessage *msg = NULL;
    if (!out)
        return E2EE_ERR_ARG;
    memset(out, 0, sizeof *out);
    if (!buf && len)
        return E2EE_ERR_ARG;
    int rc = e2ee__pwcodec_unpack_record(&e2ee__signed_pre_key_record__descriptor,
                                         E2EE_SIGNED_PREKEY_RECORD_LABEL, buf, len,
                                         E2EE_PREKEY_RECORD_MAX, &msg);
    const E2ee__SignedPreKeyRecord *r = (const E2ee__SignedPreKeyRecord *)msg;
    if (rc != E2EE_OK)
        goto done;
    rc = record_version(r->has_version, r->version);
    if (rc != E2EE_OK)
        goto done;
    if (!r->has_id || !r->has_created_at ||
        !e2ee__pwcodec_take(out->pk, sizeof out->pk, r->has_public_key, &r->public_key) ||
        !e2ee__pwcodec_take(out->sk, sizeof out->sk, r->has_private_key, &r->private_key) ||
        !e2ee__pwcodec_take(out->sig, sizeof out->sig, r->has_signature, &r->signature) ||
        !pair_matches(out->pk, out->sk)) {
        rc = E2EE_ERR_CORRUPT;
        goto done;
    }
    out->id = r->id;
    out->created_at = r->created_at;
done:
    if (rc != E2EE_OK)
        e2ee__signed_prekey_wipe(out);
    e2ee__wire_free(msg);
    return rc;
}

int e2ee__one_time_prekey_deserialize(e2ee__one_time_prekey *out, const uint8_t *buf,
                                      size_t len)
{
    ProtobufCMessage *msg = NULL;
    if (!out)
        return E2EE_ERR_ARG;
    memset(out, 0, sizeof *out);
    if (!buf && len)
        return E2EE_ERR_ARG;
    int rc = e2ee__pwcodec_unpack_record(&e2ee__one_time_pre_key_record__descriptor,
                                         E2EE_ONE_TIME_PREKEY_RECORD_LABEL, buf, len,
                                         E2EE_PREKEY_RECORD_MAX, &msg);
    const E2ee__OneTimePreKeyRecord *r = (const E2ee__OneTimePreKeyRecord *)msg;
    if (rc != E2EE_OK)
        goto done;
    rc = record_version(r->has_version, r->version);
    if (rc != E2EE_OK)
        goto done;
    if (!r->has_id ||
        !e2ee__pwcodec_take(out->pk, sizeof out->pk, r->has_public_key, &r->public_key) ||
        !e2ee__pwcodec_take(out->sk, sizeof out->sk, r->has_private_key, &r->private_key) ||
        !pair_matches(out->pk, out->sk)) {
        rc = E2EE_ERR_CORRUPT;
        goto done;
    }
    out->id = r->id;
done:
    if (rc != E2EE_OK)
        e2ee__one_time_prekey_wipe(out);
    e2ee__wire_free(msg);
    return rc;
}

int e2ee__prekey_upload_serialize(const e2ee__identity_pub *identity,
                                  const e2ee__signed_prekey *spk,
                                  const e2ee__one_time_prekey *opks, size_t n, uint8_t **out,
                                  size_t *out_len)
{
    E2ee__OneTimePreKeyPublic *items = NULL;
    E2ee__OneTimePreKeyPublic **ptrs = NULL;
    if (!out || !out_len)
        return E2EE_ERR_ARG;
    *out = NULL;
    *out_len = 0;
    if (!identity || !spk || (n && !opks))
        return E2EE_ERR_ARG;
    if (n > E2EE_PREKEY_BATCH_MAX)
        return E2EE_ERR_RANGE;
    E2ee__IdentityKey ik = E2EE__IDENTITY_KEY__INIT;
    E2ee__SignedPreKeyPublic sp = E2EE__SIGNED_PRE_KEY_PUBLIC__INIT;
    E2ee__PreKeyUpload up = E2EE__PRE_KEY_UPLOAD__INIT;
    int rc = E2EE_ERR_NOMEM;
    items = calloc(n ? n : 1, sizeof *items);
    ptrs = calloc(n ? n : 1, sizeof *ptrs);
    if (!items || !ptrs)
        goto done;
    for (size_t i = 0; i < n; i++) {
        E2ee__OneTimePreKeyPublic init = E2EE__ONE_TIME_PRE_KEY_PUBLIC__INIT;
        items[i] = init;
        items[i].has_id = items[i].has_public_key = 1;
        items[i].id = opks[i].id;
        items[i].public_key = (ProtobufCBinaryData){sizeof opks[i].pk, (uint8_t *)opks[i].pk};
        ptrs[i] = &items[i];
    }
    e2ee__pwcodec_identity_to_msg(&ik, identity);
    sp.has_id = sp.has_public_key = sp.has_signature = 1;
    sp.id = spk->id;
    sp.public_key = (ProtobufCBinaryData){sizeof spk->pk, (uint8_t *)spk->pk};
    sp.signature = (ProtobufCBinaryData){sizeof spk->sig, (uint8_t *)spk->sig};
    up.has_version = 1;
    up.version = E2EE_PREKEY_VERSION;
    up.identity = &ik;
    up.signed_prekey = &sp;
    up.n_one_time_prekeys = n;
    up.one_time_prekeys = ptrs;
    rc = e2ee__wire_pack(&up.base, E2EE_PREKEY_UPLOAD_MAX, out, out_len);
done:
    free(items);
    free(ptrs);
    return rc;
}

int e2ee__prekey_bundle_make(e2ee__prekey_bundle *out, const e2ee__address *addr,
                             const e2ee__identity_pub *identity, const e2ee__signed_prekey *spk,
                             const e2ee__one_time_prekey *opk)
{
    if (!out)
        return E2EE_ERR_ARG;
    memset(out, 0, sizeof *out);
    if (!addr || !identity || !spk)
        return E2EE_ERR_ARG;
    out->address = *addr;
    out->identity = *identity;
    out->spk_id = spk->id;
    memcpy(out->spk_pk, spk->pk, sizeof out->spk_pk);
    memcpy(out->spk_sig, spk->sig, sizeof out->spk_sig);
    if (opk) {
        out->has_opk = 1;
        out->opk_id = opk->id;
        memcpy(out->opk_pk, opk->pk, sizeof out->opk_pk);
    }
    return E2EE_OK;
}

int e2ee__prekey_bundle_serialize(const e2ee__prekey_bundle *b, uint8_t **out, size_t *out_len)
{
    if (!out || !out_len)
        return E2EE_ERR_ARG;
    *out = NULL;
    *out_len = 0;
    if (!b)
        return E2EE_ERR_ARG;
    E2ee__IdentityKey ik = E2EE__IDENTITY_KEY__INIT;
    E2ee__SignedPreKeyPublic sp = E2EE__SIGNED_PRE_KEY_PUBLIC__INIT;
    E2ee__OneTimePreKeyPublic op = E2EE__ONE_TIME_PRE_KEY_PUBLIC__INIT;
    E2ee__PreKeyBundle m = E2EE__PRE_KEY_BUNDLE__INIT;
    e2ee__pwcodec_identity_to_msg(&ik, &b->identity);
    sp.has_id = sp.has_public_key = sp.has_signature = 1;
    sp.id = b->spk_id;
    sp.public_key = (ProtobufCBinaryData){sizeof b->spk_pk, (uint8_t *)b->spk_pk};
    sp.signature = (ProtobufCBinaryData){sizeof b->spk_sig, (uint8_t *)b->spk_sig};
    m.has_version = m.has_user_id = m.has_device_id = 1;
    m.version = E2EE_PREKEY_VERSION;
    m.user_id = (ProtobufCBinaryData){strnlen(b->address.user_id, E2EE_ADDRESS_USER_ID_MAX),
                                      (uint8_t *)b->address.user_id};
    m.device_id = b->address.device_id;
    m.identity = &ik;
    m.signed_prekey = &sp;
    if (b->has_opk) {
        op.has_id = op.has_public_key = 1;
        op.id = b->opk_id;
        op.public_key = (ProtobufCBinaryData){sizeof b->opk_pk, (uint8_t *)b->opk_pk};
        m.one_time_prekey = &op;
    }
    return e2ee__wire_pack(&m.base, E2EE_PREKEY_BUNDLE_MAX, out, out_len);
}

/* Copies the checked fields of a decoded bundle into *out: 1 on success. */
static int bundle_fields(e2ee__prekey_bundle *out, const E2ee__PreKeyBundle *m)
{
    const E2ee__SignedPreKeyPublic *sp = m->signed_prekey;
    const E2ee__OneTimePreKeyPublic *op = m->one_time_prekey;
    if (!m->has_device_id || !sp || !sp->has_id ||
        !e2ee__pwcodec_user_id_from(&out->address, m->has_user_id, &m->user_id) ||
        !e2ee__pwcodec_identity_from_msg(&out->identity, m->identity) ||
        !e2ee__pwcodec_take(out->spk_pk, sizeof out->spk_pk, sp->has_public_key,
                            &sp->public_key) ||
        !e2ee__pwcodec_take(out->spk_sig, sizeof out->spk_sig, sp->has_signature,
                            &sp->signature))
        return 0;
    out->address.device_id = m->device_id;
    out->spk_id = sp->id;
    if (op) {
        if (!op->has_id ||
            !e2ee__pwcodec_take(out->opk_pk, sizeof out->opk_pk, op->has_public_key,
                                &op->public_key))
            return 0;
        out->has_opk = 1;
        out->opk_id = op->id;
    }
    return 1;
}

int e2ee__prekey_bundle_parse(e2ee__prekey_bundle *out, const uint8_t *buf, size_t len)
{
    ProtobufCMessage *msg = NULL;
    if (!out)
        return E2EE_ERR_ARG;
    memset(out, 0, sizeof *out);
    if (!buf && len)
        return E2EE_ERR_ARG;
    int rc = e2ee__wire_unpack(&e2ee__pre_key_bundle__descriptor, buf, len,
                               E2EE_PREKEY_BUNDLE_MAX, &msg);
    const E2ee__PreKeyBundle *m = (const E2ee__PreKeyBundle *)msg;
    if (rc != E2EE_OK)
        goto done;
    if (!m->has_version)
        rc = E2EE_ERR_DECODE;
    else if (m->version != E2EE_PREKEY_VERSION)
        rc = E2EE_ERR_VERSION;
    else if (!bundle_fields(out, m))
        rc = E2EE_ERR_DECODE;
done:
    if (rc != E2EE_OK)
        memset(out, 0, sizeof *out);
    e2ee__wire_free(msg);
    return rc;
}

int e2ee__prekey_bundle_verify(const e2ee__prekey_bundle *b)
{
    if (!b)
        return E2EE_ERR_ARG;
    int rc = e2ee__identity_pub_verify(&b->identity);
    if (rc == E2EE_OK)
        rc = e2ee__signed_prekey_verify(&b->identity, b->spk_id, b->spk_pk, b->spk_sig);
    return rc;
}
