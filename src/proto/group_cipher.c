/* e2ee proto: group message encryption and decryption with sender keys. */
#include "proto/group_cipher.h"

#include <stdlib.h>
#include <string.h>

#include "group.pb-c.h"
#include "wire/wire.h"

#define MIN_MSG_LEN (1 + E2EE_ED25519_SIG_LEN)

static uint8_t *put_be(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--)
        *p++ = (uint8_t)(v >> (8 * i));
    return p;
}

size_t e2ee__group_ad(uint8_t ad[E2EE_GROUP_AD_MAX], const e2ee__group_sender *who,
                      uint32_t key_id, uint32_t iteration, uint64_t epoch)
{
    if (!ad || !who)
        return 0;
    uint8_t *p = ad;
    *p++ = E2EE_SENDER_KEY_VERSION;
    *p++ = who->group_id_len;
    memcpy(p, who->group_id, who->group_id_len);
    p += who->group_id_len;
    *p++ = who->user_id_len;
    memcpy(p, who->user_id, who->user_id_len);
    p += who->user_id_len;
    p = put_be(p, who->device_id, 4);
    p = put_be(p, key_id, 4);
    p = put_be(p, iteration, 4);
    p = put_be(p, epoch, 8);
    return (size_t)(p - ad);
}

/* ---- encrypt ---- */

/* AES-GCM of pt under the keys of `seed` into a new ciphertext buffer (ptlen + 16). */
static int seal_payload(uint8_t **ct, const uint8_t *seed, const uint8_t *ad, size_t adlen,
                        const uint8_t *pt, size_t ptlen)
{
    uint8_t key[E2EE_AEAD_KEY_LEN], nonce[E2EE_AEAD_NONCE_LEN];
    *ct = malloc(ptlen + E2EE_AEAD_TAG_LEN);
    int rc = *ct ? e2ee__sender_message_keys(seed, key, nonce) : E2EE_ERR_NOMEM;
    if (rc == E2EE_OK)
        rc = e2ee__aead_seal(*ct, key, nonce, ad, adlen, pt, ptlen);
    e2ee__wipe(key, sizeof key);
    e2ee__wipe(nonce, sizeof nonce);
    if (rc != E2EE_OK) {
        free(*ct);
        *ct = NULL;
    }
    return rc;
}

/*
 * Frames and signs. The buffer is laid out as label || AD || message || signature so that the
 * signed bytes are contiguous; the message is then moved to the front.
 */
static int frame_and_sign(const e2ee__sender_key *sk, const uint8_t *ad, size_t adlen,
                          const E2ee__SenderKeyMessage *m, uint8_t **out, size_t *out_len)
{
    size_t body = e2ee__sender_key_message__get_packed_size(m);
    size_t head = E2EE_GROUP_SIG_LABEL_LEN + adlen;
    size_t msg_len = 1 + body + E2EE_ED25519_SIG_LEN;
    int rc = E2EE_ERR_NOMEM;
    uint8_t *buf = malloc(head + msg_len);
    if (!buf)
        goto done;
    memcpy(buf, E2EE_GROUP_LABEL_SIG, E2EE_GROUP_SIG_LABEL_LEN);
    memcpy(buf + E2EE_GROUP_SIG_LABEL_LEN, ad, adlen);
    buf[head] = E2EE_SENDER_KEY_VERSION;
    rc = E2EE_ERR_PROTOCOL; /* the encoder disagreeing with its own size */
    if (e2ee__sender_key_message__pack(m, buf + head + 1) == body)
        rc = e2ee__ed25519_sign(buf + head + 1 + body, buf, head + 1 + body, sk->signing_sk);
done:
    if (rc == E2EE_OK) {
        memmove(buf, buf + head, msg_len);
        *out = buf;
        *out_len = msg_len;
    } else {
        free(buf); /* public bytes only: ciphertext, header, AD */
    }
    return rc;
}

int e2ee__group_encrypt(e2ee__sender_key *sk, const uint8_t *pt, size_t ptlen, uint8_t **out,
                        size_t *out_len)
{
    if (!out || !out_len)
        return E2EE_ERR_ARG;
    *out = NULL;
    *out_len = 0;
    if (!sk || (!pt && ptlen))
        return E2EE_ERR_ARG;
    if (ptlen > E2EE_GROUP_PLAINTEXT_MAX)
        return E2EE_ERR_TOO_LARGE;
    if (sk->iteration == E2EE_SENDER_KEY_ITERATION_END)
        return E2EE_ERR_LIMIT;
    uint8_t seed[E2EE_SENDER_KEY_SEED_LEN], next[E2EE_SENDER_KEY_CHAIN_LEN];
    uint8_t ad[E2EE_GROUP_AD_MAX];
    uint8_t *ct = NULL;
    size_t adlen = e2ee__group_ad(ad, &sk->who, sk->key_id, sk->iteration, sk->epoch);
    int rc = e2ee__sender_chain_step(sk->chain_key, seed, next);
    if (rc == E2EE_OK)
        rc = seal_payload(&ct, seed, ad, adlen, pt, ptlen);
    if (rc == E2EE_OK) {
        E2ee__SenderKeyMessage m = E2EE__SENDER_KEY_MESSAGE__INIT;
        m.key_id = sk->key_id;
        m.iteration = sk->iteration;
        m.epoch = sk->epoch;
        m.ciphertext = (ProtobufCBinaryData){ptlen + E2EE_AEAD_TAG_LEN, ct};
        rc = frame_and_sign(sk, ad, adlen, &m, out, out_len);
    }
    if (rc == E2EE_OK) { /* commit: this iteration is used up */
        memcpy(sk->chain_key, next, sizeof next);
        sk->iteration++;
    }
    free(ct);
    e2ee__wipe(seed, sizeof seed);
    e2ee__wipe(next, sizeof next);
    return rc;
}

/* ---- decode ---- */

/* Framing and field checks shared by decrypt and peek; *m is the caller's on success. */
static int parse_message(const uint8_t *msg, size_t len, E2ee__SenderKeyMessage **m)
{
    *m = NULL;
    if (len > E2EE_GROUP_MSG_MAX)
        return E2EE_ERR_TOO_LARGE;
    if (len < MIN_MSG_LEN)
        return E2EE_ERR_DECODE;
    if (msg[0] != E2EE_SENDER_KEY_VERSION)
        return E2EE_ERR_VERSION;
    ProtobufCMessage *pm = NULL;
    int rc = e2ee__wire_unpack(&e2ee__sender_key_message__descriptor, msg + 1,
                               len - MIN_MSG_LEN, E2EE_GROUP_MSG_MAX, &pm);
    if (rc != E2EE_OK)
        goto done;
    const E2ee__SenderKeyMessage *sm = (const E2ee__SenderKeyMessage *)pm;
    if (sm->base.n_unknown_fields || sm->key_id == 0 ||
        sm->iteration == E2EE_SENDER_KEY_ITERATION_END ||
        sm->ciphertext.len < E2EE_AEAD_TAG_LEN ||
        sm->ciphertext.len > E2EE_GROUP_PLAINTEXT_MAX + E2EE_AEAD_TAG_LEN)
        rc = E2EE_ERR_DECODE;
done:
    if (rc == E2EE_OK)
        *m = (E2ee__SenderKeyMessage *)pm;
    else
        e2ee__wire_free(pm);
    return rc;
}

int e2ee__group_message_peek(const uint8_t *msg, size_t len, e2ee__group_message_header *h)
{
    if (!h)
        return E2EE_ERR_ARG;
    memset(h, 0, sizeof *h);
    if (!msg)
        return E2EE_ERR_ARG;
    E2ee__SenderKeyMessage *m;
    int rc = parse_message(msg, len, &m);
    if (rc != E2EE_OK)
        return rc;
    h->key_id = m->key_id;
    h->iteration = m->iteration;
    h->epoch = m->epoch;
    e2ee__wire_free(&m->base);
    return E2EE_OK;
}

/* ---- decrypt ---- */

/* Checks the signature over label || AD || message without its signature. */
static int verify_message(const e2ee__sender_key_state *s, const uint8_t *ad, size_t adlen,
                          const uint8_t *msg, size_t len)
{
    size_t signed_len = len - E2EE_ED25519_SIG_LEN;
    size_t total = E2EE_GROUP_SIG_LABEL_LEN + adlen + signed_len;
    uint8_t *buf = malloc(total);
    if (!buf)
        return E2EE_ERR_NOMEM;
    memcpy(buf, E2EE_GROUP_LABEL_SIG, E2EE_GROUP_SIG_LABEL_LEN);
    memcpy(buf + E2EE_GROUP_SIG_LABEL_LEN, ad, adlen);
    memcpy(buf + E2EE_GROUP_SIG_LABEL_LEN + adlen, msg, signed_len);
    int rc = e2ee__ed25519_verify(msg + signed_len, buf, total, s->signing_pk);
    free(buf);
    return rc;
}

/* Opens the ciphertext with the seed of a prepared advance into a new plaintext buffer. */
static int open_payload(const e2ee__sender_key_advance *a, const uint8_t *ad, size_t adlen,
                        const ProtobufCBinaryData *ct, uint8_t **pt, size_t *pt_len)
{
    uint8_t key[E2EE_AEAD_KEY_LEN], nonce[E2EE_AEAD_NONCE_LEN];
    size_t n = ct->len - E2EE_AEAD_TAG_LEN;
    uint8_t *buf = malloc(n ? n : 1);
    int rc = buf ? e2ee__sender_message_keys(a->seed, key, nonce) : E2EE_ERR_NOMEM;
    if (rc == E2EE_OK)
        rc = e2ee__aead_open(buf, key, nonce, ad, adlen, ct->data, ct->len);
    e2ee__wipe(key, sizeof key);
    e2ee__wipe(nonce, sizeof nonce);
    if (rc != E2EE_OK) {
        e2ee__sender_key_buf_free(buf, n);
        return rc;
    }
    *pt = buf;
    *pt_len = n;
    return E2EE_OK;
}

int e2ee__group_decrypt(e2ee__sender_key_record *r, const uint8_t *msg, size_t len,
                        uint64_t now_ms, uint8_t **pt, size_t *pt_len)
{
    if (!pt || !pt_len)
        return E2EE_ERR_ARG;
    *pt = NULL;
    *pt_len = 0;
    if (!r || !msg)
        return E2EE_ERR_ARG;
    e2ee__sender_key_record_expire(r, now_ms);
    E2ee__SenderKeyMessage *m = NULL;
    e2ee__sender_key_state *s = NULL;
    e2ee__sender_key_advance a = {0};
    uint8_t ad[E2EE_GROUP_AD_MAX];
    size_t adlen = 0;
    int rc = parse_message(msg, len, &m);
    if (rc == E2EE_OK)
        rc = e2ee__sender_key_record_lookup(r, m->key_id, &s);
    if (rc == E2EE_OK) {
        adlen = e2ee__group_ad(ad, &r->sender, m->key_id, m->iteration, m->epoch);
        rc = verify_message(s, ad, adlen, msg, len);
    }
    /* from here on the message is the sender's own words: the checks below are semantic */
    if (rc == E2EE_OK && m->epoch != s->epoch)
        rc = E2EE_ERR_WRONG_EPOCH;
    if (rc == E2EE_OK)
        rc = e2ee__sender_key_state_prepare(s, m->iteration, &a);
    if (rc == E2EE_OK) {
        rc = open_payload(&a, ad, adlen, &m->ciphertext, pt, pt_len);
        if (rc == E2EE_OK)
            e2ee__sender_key_state_commit(s, &a);
        else
            e2ee__sender_key_advance_wipe(&a);
    }
    e2ee__wire_free(m ? &m->base : NULL);
    return rc;
}
