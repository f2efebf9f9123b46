/*
 * Fuzz target: a group conversation driven by the input, with structure-aware mutations that
 * are signed again with the sender's real signing key, so that they get past the signature
 * check and reach the epoch, chain and AES-GCM logic. Alice sends with her own sender key
 * (rotating it, or jumping ahead as if messages were lost); bob holds a record of her keys
 * that receives distributions and messages in any order while the clock moves.
 *
 * Invariants: a message decrypts to what alice encrypted, at most once; a refused message
 * leaves bob's record exactly as it was; and at the end a fresh key, distributed, decrypts a
 * fresh message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "fuzz.h"
#include "group.pb-c.h"

#define MAX_MSGS 16
#define MAX_KEYS 4
#define MAX_STEPS 48
#define TEXT_MAX 24
/* Chain steps alice may skip per input: past E2EE_SENDER_KEY_MAX_SKIPPED, so that cached
 * seeds get evicted, yet cheap (a far-ahead iteration is reached by mutating a header). */
#define JUMP_BUDGET 4000
#define SIG_LEN E2EE_ED25519_SIG_LEN

struct gmsg {
    uint8_t *buf;
    size_t len;
    int key;       /* index into keys[] of the key that sealed it */
    char text[TEXT_MAX];
    int delivered;
};

struct state {
    e2ee__sender_key *keys[MAX_KEYS + 1]; /* alice's keys, oldest first; the last is current */
    int n_keys;
    uint32_t jumped;
    struct gmsg msgs[MAX_MSGS + 1];
    size_t n_msgs;
    e2ee__sender_key_record *bob;
    uint64_t now;
    struct fz_drbg drbg;
    e2ee__rng rng;
};

static e2ee__sender_key *current(struct state *st)
{
    return st->keys[st->n_keys - 1];
}

static void seal(struct state *st, size_t cap)
{
    e2ee__sender_key *sk = current(st);
    struct gmsg *m;
    if (st->n_msgs >= cap)
        return;
    m = &st->msgs[st->n_msgs];
    snprintf(m->text, sizeof m->text, "k%d i%u", st->n_keys - 1, sk->iteration);
    if (e2ee__group_encrypt(sk, (const uint8_t *)m->text, strlen(m->text), &m->buf, &m->len) ==
        E2EE_OK) {
        m->key = st->n_keys - 1;
        st->n_msgs++;
    }
}

static int deliver(struct state *st, struct gmsg *orig, const uint8_t *msg, size_t len)
{
    uint8_t *pt = NULL, *snap;
    size_t ptlen = 0, snap_len = 0;
    (void)e2ee__sender_key_record_expire(st->bob, st->now);
    snap = fz_skr_save(st->bob, &snap_len);
    int rc = e2ee__group_decrypt(st->bob, msg, len, st->now, &pt, &ptlen);
    if (rc == E2EE_OK) {
        FZ_CHECK(orig && !orig->delivered);
        FZ_CHECK(ptlen == strlen(orig->text) && memcmp(pt, orig->text, ptlen) == 0);
        orig->delivered = 1;
        e2ee__sender_key_buf_free(pt, ptlen);
    } else {
        FZ_CHECK(pt == NULL && fz_skr_is(st->bob, snap, snap_len));
    }
    e2ee__sender_key_buf_free(snap, snap_len);
    return rc;
}

static int distribute(struct state *st, const e2ee__sender_key *sk)
{
    uint8_t *d = NULL;
    size_t dlen = 0;
    if (e2ee__sender_key_distribution_create(sk, &d, &dlen) != E2EE_OK)
        return E2EE_ERR_LIMIT;
    int rc = e2ee__sender_key_distribution_process(st->bob, d, dlen, st->now);
    e2ee__sender_key_buf_free(d, dlen);
    return rc;
}

/* ---- mutations, signed again ---- */

static void flip(ProtobufCBinaryData *b, uint32_t v)
{
    if (b->len)
        b->data[(v >> 3) % b->len] ^= (uint8_t)(1u << (v & 7));
}

/* version || SenderKeyMessage || signature, signed by sk (group_cipher.h). */
static uint8_t *assemble(const e2ee__sender_key *sk, uint8_t version,
                         const E2ee__SenderKeyMessage *m, size_t *len)
{
    uint8_t ad[E2EE_GROUP_AD_MAX];
    size_t body = e2ee__sender_key_message__get_packed_size(m);
    size_t adlen = e2ee__group_ad(ad, &sk->who, m->key_id, m->iteration, m->epoch);
    uint8_t *out = malloc(1 + body + SIG_LEN);
    uint8_t *signed_buf = malloc(E2EE_GROUP_SIG_LABEL_LEN + adlen + 1 + body);
    FZ_CHECK(out && signed_buf && adlen);
    out[0] = version;
    e2ee__sender_key_message__pack(m, out + 1);
    memcpy(signed_buf, E2EE_GROUP_LABEL_SIG, E2EE_GROUP_SIG_LABEL_LEN);
    memcpy(signed_buf + E2EE_GROUP_SIG_LABEL_LEN, ad, adlen);
    memcpy(signed_buf + E2EE_GROUP_SIG_LABEL_LEN + adlen, out, 1 + body);
    FZ_CHECK(e2ee__ed25519_sign(out + 1 + body, signed_buf,
                                E2EE_GROUP_SIG_LABEL_LEN + adlen + 1 + body,
                                sk->signing_sk) == E2EE_OK);
    free(signed_buf);
    *len = 1 + body + SIG_LEN;
    return out;
}

static uint8_t *mutate(const struct state *st, const struct gmsg *src, uint8_t kind, uint32_t v,
                       size_t *len)
{
    const e2ee__sender_key *sk = st->keys[src->key];
    uint8_t version = src->buf[0];
    E2ee__SenderKeyMessage *m =
        e2ee__sender_key_message__unpack(NULL, src->len - 1 - SIG_LEN, src->buf + 1);
    FZ_CHECK(m != NULL);
    size_t keep = m->ciphertext.len;
    switch (kind % 8) {
    case 0: m->key_id = v; break;
    case 1: m->iteration = v; break;
    case 2: m->epoch = v & 7; break;
    case 3: flip(&m->ciphertext, v); break;
    case 4: m->ciphertext.len = v % (m->ciphertext.len + 1); break;
    case 5: version = (uint8_t)v; break;
    case 6:
        /* the key id and iteration of another message */
        if (st->n_msgs) {
            const struct gmsg *o = &st->msgs[v % st->n_msgs];
            E2ee__SenderKeyMessage *om =
                e2ee__sender_key_message__unpack(NULL, o->len - 1 - SIG_LEN, o->buf + 1);
            FZ_CHECK(om != NULL);
            m->key_id = om->key_id;
            m->iteration = om->iteration;
            e2ee__sender_key_message__free_unpacked(om, NULL);
        }
        break;
    default:
        m->iteration += 1 + (v & 0xff);
        break;
    }
    uint8_t *out = assemble(sk, version, m, len);
    m->ciphertext.len = keep;
    e2ee__sender_key_message__free_unpacked(m, NULL);
    return out;
}

/* ---- alice's side ---- */

static void rotate(struct state *st, uint32_t v)
{
    e2ee__sender_key *next = NULL;
    if (st->n_keys == MAX_KEYS)
        return;
    if (e2ee__sender_key_rotate(&next, current(st), current(st)->epoch + (v & 1), &st->rng) ==
        E2EE_OK)
        st->keys[st->n_keys++] = next;
}

/* Alice's chain moves on by n iterations (messages lost on the way). */
static void jump(struct state *st, uint32_t n)
{
    e2ee__sender_key *sk = current(st);
    for (uint32_t i = 0; i < n && st->jumped < JUMP_BUDGET; i++, st->jumped++) {
        FZ_CHECK(e2ee__sender_chain_step(sk->chain_key, NULL, sk->chain_key) == E2EE_OK);
        sk->iteration++;
    }
}

static void reload(struct state *st)
{
    size_t n = 0;
    uint8_t *buf = fz_skr_save(st->bob, &n);
    e2ee__sender_key_record_free(st->bob);
    st->bob = fz_skr_load(buf, n);
    e2ee__sender_key_buf_free(buf, n);
}

static void step(struct fz_in *in, struct state *st)
{
    uint8_t op = fz_u8(in);
    switch (op % 8) {
    case 0:
        seal(st, MAX_MSGS);
        break;
    case 1: {
        uint8_t idx = fz_u8(in);
        if (st->n_msgs) {
            struct gmsg *m = &st->msgs[idx % st->n_msgs];
            (void)deliver(st, m, m->buf, m->len);
        }
        break;
    }
    case 2: {
        uint8_t idx = fz_u8(in), kind = fz_u8(in);
        uint32_t v = fz_u32(in);
        if (st->n_msgs) {
            struct gmsg *m = &st->msgs[idx % st->n_msgs];
            size_t len = 0;
            uint8_t *buf = mutate(st, m, kind, v, &len);
            (void)deliver(st, m, buf, len);
            free(buf);
        }
        break;
    }
    case 3: {
        uint8_t k = fz_u8(in);
        (void)distribute(st, st->keys[k % st->n_keys]);
        break;
    }
    case 4:
        rotate(st, fz_u8(in));
        break;
    case 5:
        st->now += (uint64_t)fz_u16(in) * 100;
        break;
    case 6:
        reload(st);
        break;
    default:
        jump(st, fz_u16(in));
        break;
    }
}

/* A fresh key, distributed, opens a fresh message whatever happened before. */
static void still_works(struct state *st)
{
    e2ee__sender_key *next = NULL;
    FZ_CHECK(e2ee__sender_key_rotate(&next, current(st), current(st)->epoch, &st->rng) ==
             E2EE_OK);
    st->keys[st->n_keys++] = next;
    FZ_CHECK(distribute(st, next) == E2EE_OK);
    size_t before = st->n_msgs;
    seal(st, MAX_MSGS + 1);
    FZ_CHECK(st->n_msgs == before + 1);
    struct gmsg *m = &st->msgs[before];
    FZ_CHECK(deliver(st, m, m->buf, m->len) == E2EE_OK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct fz_group *f = fz_group();
    struct fz_in in = {data, size};
    struct state st;
    memset(&st, 0, sizeof st);
    fz_drbg_init(&st.drbg, 21);
    st.rng = fz_rng(&st.drbg);
    st.now = FZ_GROUP_NOW_MS;
    FZ_CHECK(e2ee__sender_key_deserialize(&st.keys[0], f->own, f->own_len) == E2EE_OK);
    st.n_keys = 1;
    FZ_CHECK(e2ee__sender_key_record_new(&st.bob, FZ_GROUP_ID, "alice", 1, NULL) == E2EE_OK);
    for (int i = 0; i < MAX_STEPS && in.n; i++)
        step(&in, &st);
    still_works(&st);
    for (size_t i = 0; i < st.n_msgs; i++)
        e2ee__sender_key_buf_free(st.msgs[i].buf, st.msgs[i].len);
    for (int i = 0; i < st.n_keys; i++)
        e2ee__sender_key_free(st.keys[i]);
    e2ee__sender_key_record_free(st.bob);
    return 0;
}
