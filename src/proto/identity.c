/* e2ee proto: long-term identity keys. */
#include "proto/identity.h"

#include <stdlib.h>
#include <string.h>

#include "pairwise.pb-c.h"
#include "proto/pwcodec.h"
#include "wire/wire.h"

/* Secret layout inside the guarded buffer. */
#define SK_SIGN_OFF 0                                   /* Ed25519 sk (seed || pk), 64 B */
#define SK_DH_OFF E2EE_ED25519_SK_LEN                   /* X25519 sk, 32 B */
#define SK_LEN (E2EE_ED25519_SK_LEN + E2EE_X25519_KEY_LEN)

struct e2ee__identity {
    e2ee__identity_pub pub;
    e2ee__secret *sk;
};

int e2ee__address_set(e2ee__address *out, const char *user_id, uint32_t device_id)
{
    if (!out)
        return E2EE_ERR_ARG;
    memset(out, 0, sizeof *out);
    if (!user_id)
        return E2EE_ERR_ARG;
    size_t n = strnlen(user_id, E2EE_ADDRESS_USER_ID_MAX + 1);
    if (n == 0 || n > E2EE_ADDRESS_USER_ID_MAX)
        return E2EE_ERR_LENGTH;
    memcpy(out->user_id, user_id, n);
    out->device_id = device_id;
    return E2EE_OK;
}

int e2ee__address_equal(const e2ee__address *a, const e2ee__address *b)
{
    if (!a || !b)
        return 0;
    return a->device_id == b->device_id &&
           strncmp(a->user_id, b->user_id, sizeof a->user_id) == 0;
}

/* Builds the message the signing key signs: label || dh_pk. */
static void dh_sig_msg(uint8_t *msg, const uint8_t dh_pk[E2EE_X25519_KEY_LEN])
{
    memcpy(msg, E2EE_IDENTITY_DH_LABEL, sizeof E2EE_IDENTITY_DH_LABEL - 1);
    memcpy(msg + sizeof E2EE_IDENTITY_DH_LABEL - 1, dh_pk, E2EE_X25519_KEY_LEN);
}
#define DH_SIG_MSG_LEN (sizeof E2EE_IDENTITY_DH_LABEL - 1 + E2EE_X25519_KEY_LEN)

/* Derives every key of an identity from its two secrets into a new object. */
static int identity_from_secrets(e2ee__identity **out, const uint8_t seed[32],
                                 const uint8_t dh_sk[32])
{
    uint8_t msg[DH_SIG_MSG_LEN];
    e2ee__identity *id = calloc(1, sizeof *id);
    int rc = id ? e2ee__secret_new(&id->sk, SK_LEN) : E2EE_ERR_NOMEM;
    if (rc != E2EE_OK)
        goto done;
    rc = e2ee__ed25519_seed_keypair(id->pub.sign_pk, id->sk->ptr + SK_SIGN_OFF, seed);
    if (rc != E2EE_OK)
        goto done;
    memcpy(id->sk->ptr + SK_DH_OFF, dh_sk, E2EE_X25519_KEY_LEN);
    rc = e2ee__x25519_public(id->pub.dh_pk, dh_sk);
    if (rc != E2EE_OK)
        goto done;
    dh_sig_msg(msg, id->pub.dh_pk);
    rc = e2ee__ed25519_sign(id->pub.dh_sig, msg, sizeof msg, id->sk->ptr + SK_SIGN_OFF);
done:
    if (rc != E2EE_OK) {
        e2ee__identity_free(id);
        id = NULL;
    }
    *out = id;
    return rc;
}

int e2ee__identity_generate(e2ee__identity **out, const e2ee__rng *rng)
{
    uint8_t seeds[E2EE_ED25519_SEED_LEN + E2EE_X25519_KEY_LEN];
    if (!out)
        return E2EE_ERR_ARG;
    *out = NULL;
    int rc = e2ee__rng_fill(rng, seeds, sizeof seeds);
    if (rc == E2EE_OK)
        rc = identity_from_secrets(out, seeds, seeds + E2EE_ED25519_SEED_LEN);
    e2ee__wipe(seeds, sizeof seeds);
    return rc;
}

void e2ee__identity_free(e2ee__identity *id)
{
    if (!id)
        return;
    e2ee__secret_free(id->sk);
    e2ee__wipe(id, sizeof *id);
    free(id);
}

const e2ee__identity_pub *e2ee__identity_public(const e2ee__identity *id)
{
    return id ? &id->pub : NULL;
}

const uint8_t *e2ee__identity_dh_secret(const e2ee__identity *id)
{
    return id ? id->sk->ptr + SK_DH_OFF : NULL;
}

int e2ee__identity_sign(const e2ee__identity *id, uint8_t sig[E2EE_ED25519_SIG_LEN],
                        const uint8_t *msg, size_t len)
{
    if (!id || !sig || (!msg && len))
        return E2EE_ERR_ARG;
    return e2ee__ed25519_sign(sig, msg, len, id->sk->ptr + SK_SIGN_OFF);
}

int e2ee__identity_serialize(const e2ee__identity *id, uint8_t **out, size_t *out_len)
{
    if (!out || !out_len)
        return E2EE_ERR_ARG;
    *out = NULL;
    *out_len = 0;
    if (!id)
        return E2EE_ERR_ARG;
    E2ee__IdentityKey pk = E2EE__IDENTITY_KEY__INIT;
    E2ee__IdentityRecord r = E2EE__IDENTITY_RECORD__INIT;
    e2ee__pwcodec_identity_to_msg(&pk, &id->pub);
    r.has_version = 1;
    r.version = E2EE_IDENTITY_RECORD_VERSION;
    r.has_sign_seed = 1;
    r.sign_seed.data = id->sk->ptr + SK_SIGN_OFF; /* the seed is the first 32 bytes */
    r.sign_seed.len = E2EE_ED25519_SEED_LEN;
    r.has_dh_private = 1;
    r.dh_private.data = id->sk->ptr + SK_DH_OFF;
    r.dh_private.len = E2EE_X25519_KEY_LEN;
    r.public_ = &pk;
    return e2ee__pwcodec_pack_record(&r.base, E2EE_IDENTITY_RECORD_LABEL,
                                     E2EE_IDENTITY_RECORD_MAX, out, out_len);
}

int e2ee__identity_deserialize(e2ee__identity **out, const uint8_t *buf, size_t len)
{
    ProtobufCMessage *msg = NULL;
    E2ee__IdentityRecord *r;
    e2ee__identity_pub stored;
    uint8_t seed[E2EE_ED25519_SEED_LEN], dh_sk[E2EE_X25519_KEY_LEN];
    if (!out)
        return E2EE_ERR_ARG;
    *out = NULL;
    if (!buf && len)
        return E2EE_ERR_ARG;
    int rc = e2ee__pwcodec_unpack_record(&e2ee__identity_record__descriptor,
                                         E2EE_IDENTITY_RECORD_LABEL, buf, len,
                                         E2EE_IDENTITY_RECORD_MAX, &msg);
    r = (E2ee__IdentityRecord *)msg;
    if (rc != E2EE_OK)
        goto done;
    if (!r->has_version || r->version != E2EE_IDENTITY_RECORD_VERSION) {
        rc = r->has_version ? E2EE_ERR_VERSION : E2EE_ERR_CORRUPT;
        goto done;
    }
    if (!e2ee__pwcodec_take(seed, sizeof seed, r->has_sign_seed, &r->sign_seed) ||
        !e2ee__pwcodec_take(dh_sk, sizeof dh_sk, r->has_dh_private, &r->dh_private) ||
        !e2ee__pwcodec_identity_from_msg(&stored, r->public_)) {
        rc = E2EE_ERR_CORRUPT;
        goto done;
    }
    rc = identity_from_secrets(out, seed, dh_sk);
    if (rc == E2EE_OK && !e2ee__identity_pub_equal(&stored, &(*out)->pub)) {
        e2ee__identity_free(*out);
        *out = NULL;
        rc = E2EE_ERR_CORRUPT;
    }
done:
    e2ee__wipe(seed, sizeof seed);
    e2ee__wipe(dh_sk, sizeof dh_sk);
    e2ee__wire_free(msg);
    return rc;
}

int e2ee__identity_pub_verify(const e2ee__identity_pub *pub)
{
    uint8_t msg[DH_SIG_MSG_LEN];
    if (!pub)
        return E2EE_ERR_ARG;
    dh_sig_msg(msg, pub->dh_pk);
    return e2ee__ed25519_verify(pub->dh_sig, msg, sizeof msg, pub->sign_pk);
}

int e2ee__identity_pub_equal(const e2ee__identity_pub *a, const e2ee__identity_pub *b)
{
    if (!a || !b)
        return 0;
    return e2ee__ct_equal(a, b, sizeof *a);
}

int e2ee__identity_pub_serialize(const e2ee__identity_pub *pub, uint8_t **out, size_t *out_len)
{
    if (!out || !out_len)
        return E2EE_ERR_ARG;
    *out = NULL;
    *out_len = 0;
    if (!pub)
        return E2EE_ERR_ARG;
    E2ee__IdentityKey m = E2EE__IDENTITY_KEY__INIT;
    e2ee__pwcodec_identity_to_msg(&m, pub);
    return e2ee__wire_pack(&m.base, E2EE_IDENTITY_KEY_MAX, out, out_len);
}

int e2ee__identity_pub_parse(e2ee__identity_pub *out, const uint8_t *buf, size_t len)
{
    ProtobufCMessage *msg = NULL;
    if (!out)
        return E2EE_ERR_ARG;
    memset(out, 0, sizeof *out);
    if (!buf && len)
        return E2EE_ERR_ARG;
    int rc = e2ee__wire_unpack(&e2ee__identity_key__descriptor, buf, len,
                               E2EE_IDENTITY_KEY_MAX, &msg);
    if (rc == E2EE_OK && !e2ee__pwcodec_identity_from_msg(out, (E2ee__IdentityKey *)msg))
        rc = E2EE_ERR_DECODE;
    e2ee__wire_free(msg);
    return rc;
}
