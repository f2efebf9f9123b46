/* e2ee fuzzing: real pairwise sessions and sender keys, made once per process. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "wire/wire.h"

/* ---- records ---- */

e2ee__session_record *fz_record_load(const uint8_t *buf, size_t len)
{
    e2ee__session_record *rec = NULL;
    FZ_CHECK(e2ee__session_record_deserialize(&rec, buf, len) == E2EE_OK);
    return rec;
}

uint8_t *fz_record_save(const e2ee__session_record *rec, size_t *len)
{
    uint8_t *buf = NULL;
    FZ_CHECK(e2ee__session_record_serialize(rec, &buf, len) == E2EE_OK);
    return buf;
}

int fz_record_is(const e2ee__session_record *rec, const uint8_t *buf, size_t len)
{
    size_t n = 0;
    uint8_t *now = fz_record_save(rec, &n);
    int same = n == len && memcmp(now, buf, n) == 0;
    e2ee__wire_buf_free(now, n);
    return same;
}

e2ee__sender_key_record *fz_skr_load(const uint8_t *buf, size_t len)
{
    e2ee__sender_key_record *r = NULL;
    FZ_CHECK(e2ee__sender_key_record_deserialize(&r, buf, len, NULL) == E2EE_OK);
    return r;
}

uint8_t *fz_skr_save(const e2ee__sender_key_record *r, size_t *len)
{
    uint8_t *buf = NULL;
    FZ_CHECK(e2ee__sender_key_record_serialize(r, &buf, len) == E2EE_OK);
    return buf;
}

int fz_skr_is(const e2ee__sender_key_record *r, const uint8_t *buf, size_t len)
{
    size_t n = 0;
    uint8_t *now = fz_skr_save(r, &n);
    int same = n == len && memcmp(now, buf, n) == 0;
    e2ee__sender_key_buf_free(now, n);
    return same;
}

/* ---- parties ---- */

static void party_init(struct fz_party *p, const char *user, uint64_t seed)
{
    memset(p, 0, sizeof *p);
    fz_drbg_init(&p->drbg, seed);
    p->rng = fz_rng(&p->drbg);
    FZ_CHECK(e2ee__address_set(&p->addr, user, E2EE_DEVICE_ID_DEFAULT) == E2EE_OK);
    FZ_CHECK(e2ee__identity_generate(&p->id, &p->rng) == E2EE_OK);
    FZ_CHECK(e2ee__signed_prekey_generate(&p->spk, p->id, 1, 1000, &p->rng) == E2EE_OK);
    FZ_CHECK(e2ee__one_time_prekeys_generate(&p->opk, 1, 100, &p->rng) == E2EE_OK);
    p->keys.spk = &p->spk;
    p->keys.opk = &p->opk;
    e2ee__prekey_source_from_keys(&p->source, &p->keys);
}

static void bundle(const struct fz_party *p, int with_opk, e2ee__prekey_bundle *b)
{
    FZ_CHECK(e2ee__prekey_bundle_make(b, &p->addr, e2ee__identity_public(p->id), &p->spk,
                                      with_opk ? &p->opk : NULL) == E2EE_OK);
}

static void encrypt(e2ee__session_record *rec, struct fz_party *from, const char *text,
                    uint8_t **out, size_t *len)
{
    FZ_CHECK(e2ee__session_encrypt(rec, &from->rng, (const uint8_t *)text, strlen(text), out,
                                   len) == E2EE_OK);
}

static void decrypt(e2ee__session_record *rec, const struct fz_party *to,
                    const struct fz_party *from, const uint8_t *msg, size_t len)
{
    e2ee__session_decrypt_result res;
    FZ_CHECK(e2ee__session_decrypt(rec, to->id, &to->addr, &from->addr, NULL, &to->source, msg,
                                   len, &res) == E2EE_OK);
    e2ee__session_decrypt_result_cleanup(&res);
}

/* ---- the pairwise conversation ---- */

static struct fz_pairwise g_pw;

static void pairwise_make(struct fz_pairwise *f)
{
    e2ee__session_record *a = NULL, *b = NULL, *a2 = NULL;
    e2ee__prekey_bundle bu;
    char text[16];
    party_init(&f->alice, "alice", 1);
    party_init(&f->bob, "bob", 2);
    FZ_CHECK(e2ee__session_record_new(&a) == E2EE_OK);
    FZ_CHECK(e2ee__session_record_new(&b) == E2EE_OK);
    bundle(&f->bob, 1, &bu);
    FZ_CHECK(e2ee__session_initiate(a, f->alice.id, &f->alice.addr, &bu, &f->alice.rng) ==
             E2EE_OK);
    f->alice_initiated = fz_record_save(a, &f->alice_initiated_len);
    encrypt(a, &f->alice, "m0", &f->m[0], &f->m_len[0]);
    decrypt(b, &f->bob, &f->alice, f->m[0], f->m_len[0]);
    encrypt(b, &f->bob, "r0", &f->reply, &f->reply_len);
    decrypt(a, &f->alice, &f->bob, f->reply, f->reply_len);
    for (int i = 1; i < FZ_PW_MSGS; i++) {
        snprintf(text, sizeof text, "m%d", i);
        encrypt(a, &f->alice, text, &f->m[i], &f->m_len[i]);
    }
    /* bob holds m[1] and m[3]: the key of m[2] waits among the skipped ones */
    decrypt(b, &f->bob, &f->alice, f->m[1], f->m_len[1]);
    decrypt(b, &f->bob, &f->alice, f->m[3], f->m_len[3]);
    f->bob_established = fz_record_save(b, &f->bob_established_len);
    /* a second initiation from a bundle without a one-time prekey */
    FZ_CHECK(e2ee__session_record_new(&a2) == E2EE_OK);
    bundle(&f->bob, 0, &bu);
    FZ_CHECK(e2ee__session_initiate(a2, f->alice.id, &f->alice.addr, &bu, &f->alice.rng) ==
             E2EE_OK);
    encrypt(a2, &f->alice, "p0", &f->prekey_no_opk, &f->prekey_no_opk_len);
    e2ee__session_record_free(a);
    e2ee__session_record_free(b);
    e2ee__session_record_free(a2);
}

const struct fz_pairwise *fz_pairwise(void)
{
    static int made;
    if (!made) {
        fz_init();
        pairwise_make(&g_pw);
        made = 1;
    }
    return &g_pw;
}

/* ---- sender keys ---- */

static struct fz_group g_group;

static uint8_t *gencrypt(e2ee__sender_key *sk, size_t *len)
{
    char text[32];
    uint8_t *out = NULL;
    snprintf(text, sizeof text, "group message %u", sk->iteration);
    FZ_CHECK(e2ee__group_encrypt(sk, (const uint8_t *)text, strlen(text), &out, len) ==
             E2EE_OK);
    return out;
}

static void group_make(struct fz_group *f)
{
    static const uint32_t its[FZ_GROUP_MSGS] = {0, 1, 2, 3, 10, 40, 41, 500};
    struct fz_drbg d;
    e2ee__rng rng;
    e2ee__sender_key *prev = NULL, *own = NULL;
    e2ee__sender_key_record *r = NULL;
    uint8_t *pt = NULL;
    size_t ptlen = 0;
    fz_drbg_init(&d, 3);
    rng = fz_rng(&d);
    FZ_CHECK(e2ee__sender_key_new(&prev, FZ_GROUP_ID, "alice", 1, 1, &rng) == E2EE_OK);
    FZ_CHECK(e2ee__sender_key_distribution_create(prev, &f->dist_prev, &f->dist_prev_len) ==
             E2EE_OK);
    FZ_CHECK(e2ee__sender_key_record_new(&r, FZ_GROUP_ID, "alice", 1, NULL) == E2EE_OK);
    FZ_CHECK(e2ee__sender_key_distribution_process(r, f->dist_prev, f->dist_prev_len,
                                                   FZ_GROUP_NOW_MS - 1000) == E2EE_OK);
    while (prev->iteration < 3) {
        size_t n = 0;
        e2ee__sender_key_buf_free(gencrypt(prev, &n), n);
    }
    f->m_prev = gencrypt(prev, &f->m_prev_len);
    FZ_CHECK(e2ee__sender_key_rotate(&own, prev, 2, &rng) == E2EE_OK);
    FZ_CHECK(e2ee__sender_key_serialize(own, &f->own, &f->own_len) == E2EE_OK);
    FZ_CHECK(e2ee__sender_key_distribution_create(own, &f->dist, &f->dist_len) == E2EE_OK);
    FZ_CHECK(e2ee__sender_key_distribution_process(r, f->dist, f->dist_len,
                                                   FZ_GROUP_NOW_MS - 500) == E2EE_OK);
    for (int i = 0; i < FZ_GROUP_MSGS; i++) {
        while (own->iteration < its[i]) {
            size_t n = 0;
            e2ee__sender_key_buf_free(gencrypt(own, &n), n);
        }
        f->m[i] = gencrypt(own, &f->m_len[i]);
    }
    /* bob opened iteration 1: the seed of iteration 0 waits in the cache */
    FZ_CHECK(e2ee__group_decrypt(r, f->m[1], f->m_len[1], FZ_GROUP_NOW_MS, &pt, &ptlen) ==
             E2EE_OK);
    e2ee__sender_key_buf_free(pt, ptlen);
    f->record = fz_skr_save(r, &f->record_len);
    e2ee__sender_key_record_free(r);
    e2ee__sender_key_free(prev);
    e2ee__sender_key_free(own);
}

const struct fz_group *fz_group(void)
{
    static int made;
    if (!made) {
        fz_init();
        group_make(&g_group);
        made = 1;
    }
    return &g_group;
}
