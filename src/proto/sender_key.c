/* e2ee proto: sender keys: context, chain step, the sender's own key and its blob. */
#include "proto/sender_key.h"

#include <stdlib.h>
#include <string.h>

#include "group.pb-c.h"
#include "wire/wire.h"

static const uint8_t k_step_seed = 0x01; /* HMAC input for the message key seed */
static const uint8_t k_step_next = 0x02; /* HMAC input for the next chain key */

/* ---- context ---- */

int e2ee__group_sender_set_bytes(e2ee__group_sender *s, const uint8_t *group_id, size_t group_len,
                                 const uint8_t *user_id, size_t user_len, uint32_t device_id)
{
    if (!s)
        return E2EE_ERR_ARG;
    memset(s, 0, sizeof *s);
    if (!group_id || !user_id || device_id == 0)
        return E2EE_ERR_ARG;
    if (group_len == 0 || group_len > E2EE_GROUP_ID_MAX || user_len == 0 ||
        user_len > E2EE_GROUP_USER_ID_MAX)
        return E2EE_ERR_LENGTH;
    if (memchr(group_id, 0, group_len) || memchr(user_id, 0, user_len))
        return E2EE_ERR_DECODE;
    memcpy(s->group_id, group_id, group_len);
    memcpy(s->user_id, user_id, user_len);
    s->group_id_len = (uint8_t)group_len;
    s->user_id_len = (uint8_t)user_len;
    s->device_id = device_id;
    return E2EE_OK;
}

int e2ee__group_sender_set(e2ee__group_sender *s, const char *group_id, const char *user_id,
                           uint32_t device_id)
{
    if (!s)
        return E2EE_ERR_ARG;
    if (!group_id || !user_id) {
        memset(s, 0, sizeof *s);
        return E2EE_ERR_ARG;
    }
    /* strnlen stops one past the limit, so an over-long id is refused without reading on */
    return e2ee__group_sender_set_bytes(s, (const uint8_t *)group_id,
                                        strnlen(group_id, E2EE_GROUP_ID_MAX + 1),
                                        (const uint8_t *)user_id,
                                        strnlen(user_id, E2EE_GROUP_USER_ID_MAX + 1), device_id);
}

int e2ee__group_sender_equal(const e2ee__group_sender *a, const e2ee__group_sender *b)
{
    return a && b && a->device_id == b->device_id && a->group_id_len == b->group_id_len &&
           a->user_id_len == b->user_id_len &&
           memcmp(a->group_id, b->group_id, a->group_id_len) == 0 &&
           memcmp(a->user_id, b->user_id, a->user_id_len) == 0;
}

/* ---- chain ---- */

int e2ee__sender_chain_step(const uint8_t ck[E2EE_SENDER_KEY_CHAIN_LEN],
                            uint8_t seed[E2EE_SENDER_KEY_SEED_LEN],
                            uint8_t next[E2EE_SENDER_KEY_CHAIN_LEN])
{
    if (!ck || !next)
        return E2EE_ERR_ARG;
    /* one call, one HMAC key schedule for both values; without a seed only the next key */
    static const uint8_t *const msgs[2] = {&k_step_next, &k_step_seed};
    static const size_t lens[2] = {1, 1};
    uint8_t tmp[2][E2EE_SHA256_LEN];
    int rc = e2ee__hmac_sha256_many(tmp, ck, E2EE_SENDER_KEY_CHAIN_LEN, msgs, lens,
                                    seed ? 2 : 1);
    if (rc == E2EE_OK) {
        if (seed)
            memcpy(seed, tmp[1], E2EE_SENDER_KEY_SEED_LEN);
        memcpy(next, tmp[0], E2EE_SENDER_KEY_CHAIN_LEN); /* next may alias ck: written last */
    } else {
        if (seed)
            e2ee__wipe(seed, E2EE_SENDER_KEY_SEED_LEN);
        e2ee__wipe(next, E2EE_SENDER_KEY_CHAIN_LEN);
    }
    e2ee__wipe(tmp, sizeof tmp);
    return rc;
}

int e2ee__sender_message_keys(const uint8_t seed[E2EE_SENDER_KEY_SEED_LEN],
                              uint8_t key[E2EE_AEAD_KEY_LEN], uint8_t nonce[E2EE_AEAD_NONCE_LEN])
{
    if (!seed || !key || !nonce)
        return E2EE_ERR_ARG;
    uint8_t okm[E2EE_AEAD_KEY_LEN + E2EE_AEAD_NONCE_LEN];
    /* the seed, an HMAC-SHA-256 output under a secret chain key, is pseudorandom: it is the
     * PRK itself and the Extract step is skipped (RFC 5869 section 3.3; PROTOCOL.md 2.2) */
    int rc = e2ee__hkdf_sha256_expand(okm, sizeof okm, seed, E2EE_SENDER_KEY_SEED_LEN,
                                      (const uint8_t *)E2EE_GROUP_LABEL_KEYS,
                                      sizeof E2EE_GROUP_LABEL_KEYS - 1);
    if (rc == E2EE_OK) {
        memcpy(key, okm, E2EE_AEAD_KEY_LEN);
        memcpy(nonce, okm + E2EE_AEAD_KEY_LEN, E2EE_AEAD_NONCE_LEN);
    } else {
        e2ee__wipe(key, E2EE_AEAD_KEY_LEN);
        e2ee__wipe(nonce, E2EE_AEAD_NONCE_LEN);
    }
    e2ee__wipe(okm, sizeof okm);
    return rc;
}

/* ---- own key ---- */

/* Random non-zero key id different from `avoid` (0: nothing to avoid). */
static int draw_key_id(uint32_t *out, uint32_t avoid, const e2ee__rng *rng)
{
    *out = 0;
    for (int i = 0; i < E2EE_SENDER_KEY_KEYGEN_TRIES; i++) {
        uint8_t b[4];
        int rc = e2ee__rng_fill(rng, b, sizeof b);
        if (rc != E2EE_OK)
            return rc;
        uint32_t id = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
        if (id != 0 && id != avoid) {
            *out = id;
            return E2EE_OK;
        }
    }
    return E2EE_ERR_CRYPTO; /* a source that keeps giving the same value is broken */
}

/* Fresh key material for who/epoch into a new object. */
static int make_key(e2ee__sender_key **out, const e2ee__group_sender *who, uint64_t epoch,
                    uint32_t avoid_id, const e2ee__rng *rng)
{
    uint8_t seed[E2EE_ED25519_SEED_LEN];
    e2ee__sender_key *sk = calloc(1, sizeof *sk);
    int rc = E2EE_ERR_NOMEM;
    if (!sk)
        goto done;
    sk->who = *who;
    sk->epoch = epoch;
    rc = draw_key_id(&sk->key_id, avoid_id, rng);
    if (rc == E2EE_OK)
        rc = e2ee__rng_fill(rng, sk->chain_key, sizeof sk->chain_key);
    if (rc == E2EE_OK)
        rc = e2ee__rng_fill(rng, seed, sizeof seed);
    if (rc == E2EE_OK)
        rc = e2ee__ed25519_seed_keypair(sk->signing_pk, sk->signing_sk, seed);
done:
    e2ee__wipe(seed, sizeof seed);
    if (rc != E2EE_OK) {
        e2ee__sender_key_free(sk);
        sk = NULL;
    }
    *out = sk;
    return rc;
}

int e2ee__sender_key_new(e2ee__sender_key **out, const char *group_id, const char *user_id,
                         uint32_t device_id, uint64_t epoch, const e2ee__rng *rng)
{
    if (!out)
        return E2EE_ERR_ARG;
    *out = NULL;
    if (!rng)
        return E2EE_ERR_ARG;
    e2ee__group_sender who;
    int rc = e2ee__group_sender_set(&who, group_id, user_id, device_id);
    if (rc != E2EE_OK)
        return rc;
    return make_key(out, &who, epoch, 0, rng);
}

int e2ee__sender_key_rotate(e2ee__sender_key **out, const e2ee__sender_key *prev, uint64_t epoch,
                            const e2ee__rng *rng)
{
    if (!out)
        return E2EE_ERR_ARG;
    *out = NULL;
    if (!prev || !rng)
        return E2EE_ERR_ARG;
    if (epoch < prev->epoch)
        return E2EE_ERR_WRONG_EPOCH;
    return make_key(out, &prev->who, epoch, prev->key_id, rng);
}

void e2ee__sender_key_free(e2ee__sender_key *sk)
{
    if (!sk)
        return;
    e2ee__wipe(sk, sizeof *sk);
    free(sk);
}

void e2ee__sender_key_buf_free(uint8_t *buf, size_t len)
{
    e2ee__wire_buf_free(buf, len);
}

/* ---- stored-blob framing ---- */

static int blob_check(uint8_t out[E2EE_SHA256_LEN], const uint8_t *buf, size_t len,
                      const char *label)
{
    const uint8_t *parts[2] = {(const uint8_t *)label, buf};
    size_t lens[2] = {strlen(label), len};
    return e2ee__sha256_parts(out, parts, lens, 2);
}

int e2ee__sender_key_check_seal(uint8_t *buf, size_t len, const char *label)
{
    if (!buf || !label || len == 0)
        return E2EE_ERR_ARG;
    uint8_t h[E2EE_SHA256_LEN];
    int rc = blob_check(h, buf, len, label);
    if (rc == E2EE_OK)
        memcpy(buf + len, h, E2EE_SENDER_KEY_CHECK_LEN);
    return rc;
}

int e2ee__sender_key_check_open(const uint8_t *buf, size_t len, const char *label,
                                const uint8_t **body, size_t *body_len)
{
    if (!body || !body_len)
        return E2EE_ERR_ARG;
    *body = NULL;
    *body_len = 0;
    if (!buf || !label)
        return E2EE_ERR_ARG;
    if (len < 1 + E2EE_SENDER_KEY_CHECK_LEN)
        return E2EE_ERR_CORRUPT;
    size_t n = len - E2EE_SENDER_KEY_CHECK_LEN;
    uint8_t h[E2EE_SHA256_LEN];
    int rc = blob_check(h, buf, n, label);
    if (rc != E2EE_OK)
        return rc;
    if (!e2ee__ct_equal(h, buf + n, E2EE_SENDER_KEY_CHECK_LEN))
        return E2EE_ERR_CORRUPT;
    /* the version is covered by the check: a blob of another version with a valid check was
     * written by a newer release, not damaged */
    if (buf[0] != E2EE_SENDER_KEY_VERSION)
        return E2EE_ERR_VERSION;
    *body = buf + 1;
    *body_len = n - 1;
    return E2EE_OK;
}

/* ---- own key blob ---- */

int e2ee__sender_key_serialize(const e2ee__sender_key *sk, uint8_t **out, size_t *out_len)
{
    if (!out || !out_len)
        return E2EE_ERR_ARG;
    *out = NULL;
    *out_len = 0;
    if (!sk)
        return E2EE_ERR_ARG;
    E2ee__SenderKeyOwn m = E2EE__SENDER_KEY_OWN__INIT;
    m.group_id = (ProtobufCBinaryData){sk->who.group_id_len, (uint8_t *)sk->who.group_id};
    m.user_id = (ProtobufCBinaryData){sk->who.user_id_len, (uint8_t *)sk->who.user_id};
    m.device_id = sk->who.device_id;
    m.epoch = sk->epoch;
    m.key_id = sk->key_id;
    m.iteration = sk->iteration;
    m.chain_key = (ProtobufCBinaryData){sizeof sk->chain_key, (uint8_t *)sk->chain_key};
    /* libsodium's secret key is seed || public key: the seed is its first half */
    m.signing_seed = (ProtobufCBinaryData){E2EE_ED25519_SEED_LEN, (uint8_t *)sk->signing_sk};
    m.signing_public = (ProtobufCBinaryData){sizeof sk->signing_pk, (uint8_t *)sk->signing_pk};
    size_t body = e2ee__sender_key_own__get_packed_size(&m);
    size_t len = 1 + body + E2EE_SENDER_KEY_CHECK_LEN;
    uint8_t *buf = NULL;
    int rc = E2EE_ERR_TOO_LARGE; /* cannot happen with valid ids; keeps the bound honest */
    if (len > E2EE_SENDER_KEY_OWN_MAX)
        goto done;
    rc = E2EE_ERR_NOMEM;
    buf = malloc(len);
    if (!buf)
        goto done;
    buf[0] = E2EE_SENDER_KEY_VERSION;
    rc = E2EE_ERR_PROTOCOL; /* the encoder disagreeing with its own size */
    if (e2ee__sender_key_own__pack(&m, buf + 1) == body)
        rc = e2ee__sender_key_check_seal(buf, 1 + body, E2EE_SENDER_KEY_LABEL_OWN);
done:
    if (rc == E2EE_OK) {
        *out = buf;
        *out_len = len;
    } else {
        e2ee__sender_key_buf_free(buf, len);
    }
    return rc;
}

static int bytes_len_is(const ProtobufCBinaryData *b, size_t n)
{
    return b->len == n && (n == 0 || b->data);
}

/* Every field of a decoded own key checked, then copied into sk. */
static int own_from_msg(e2ee__sender_key *sk, const E2ee__SenderKeyOwn *m)
{
    if (m->base.n_unknown_fields || m->key_id == 0 ||
        m->iteration == E2EE_SENDER_KEY_ITERATION_END ||
        !bytes_len_is(&m->chain_key, E2EE_SENDER_KEY_CHAIN_LEN) ||
        !bytes_len_is(&m->signing_seed, E2EE_ED25519_SEED_LEN) ||
        !bytes_len_is(&m->signing_public, E2EE_ED25519_PK_LEN))
        return E2EE_ERR_CORRUPT;
    if (e2ee__group_sender_set_bytes(&sk->who, m->group_id.data, m->group_id.len,
                                     m->user_id.data, m->user_id.len, m->device_id) != E2EE_OK)
        return E2EE_ERR_CORRUPT;
    sk->epoch = m->epoch;
    sk->key_id = m->key_id;
    sk->iteration = m->iteration;
    memcpy(sk->chain_key, m->chain_key.data, sizeof sk->chain_key);
    int rc = e2ee__ed25519_seed_keypair(sk->signing_pk, sk->signing_sk, m->signing_seed.data);
    if (rc != E2EE_OK)
        return rc;
    if (!e2ee__ct_equal(sk->signing_pk, m->signing_public.data, sizeof sk->signing_pk))
        return E2EE_ERR_CORRUPT;
    return E2EE_OK;
}

int e2ee__sender_key_deserialize(e2ee__sender_key **out, const uint8_t *buf, size_t len)
{
    if (!out)
        return E2EE_ERR_ARG;
    *out = NULL;
    if (!buf)
        return E2EE_ERR_ARG;
    if (len > E2EE_SENDER_KEY_OWN_MAX)
        return E2EE_ERR_TOO_LARGE;
    const uint8_t *body;
    size_t body_len;
    ProtobufCMessage *pm = NULL;
    e2ee__sender_key *sk = NULL;
    int rc = e2ee__sender_key_check_open(buf, len, E2EE_SENDER_KEY_LABEL_OWN, &body, &body_len);
    if (rc != E2EE_OK)
        goto done;
    rc = e2ee__wire_unpack(&e2ee__sender_key_own__descriptor, body, body_len,
                           E2EE_SENDER_KEY_OWN_MAX, &pm);
    if (rc == E2EE_ERR_DECODE)
        rc = E2EE_ERR_CORRUPT;
    if (rc != E2EE_OK)
        goto done;
    rc = E2EE_ERR_NOMEM;
    sk = calloc(1, sizeof *sk);
    if (sk)
        rc = own_from_msg(sk, (const E2ee__SenderKeyOwn *)pm);
done:
    e2ee__wire_free(pm);
    if (rc != E2EE_OK) {
        e2ee__sender_key_free(sk);
        sk = NULL;
    }
    *out = sk;
    return rc;
}
