/*
 * bench_pairwise: speed of the pairwise layer against the crypto it cannot avoid.
 *
 *   x3dh_setup          one complete session set-up: the initiator verifies the bundle and
 *                       runs X3DH, encrypts a 32-byte first (pre-key) message, and the
 *                       responder accepts it (X3DH + first ratchet step + decrypt).
 *   ratchet_encrypt/N   encrypt of N bytes on an established session (one sending chain).
 *   ratchet_decrypt/N   decrypt of N bytes, in order, on an established session.
 *
 * Each figure is also given as a ratio to its "crypto floor": the same sequence of
 * crypto-layer calls the operation makes (signatures, X25519, HKDF, HMAC, AES-GCM of the
 * same size), timed in this program. A ratio of 0.90 means the protocol code (encoding,
 * state handling, copies) costs 10% on top of the cryptography.
 *
 * Each operation and its floor are run alternately 5 times for E2EE_BENCH_SECONDS / 2 each
 * and the best of each is kept (the machine may be shared; interference only slows).
 * Output: a table, then key=value lines.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchutil.h"
#include "crypto/crypto.h"
#include "proto/identity.h"
#include "proto/prekey.h"
#include "proto/session.h"
#include "wire/wire.h"

#define DECRYPT_BATCH 512

static void check(int rc, const char *what)
{
    if (rc != E2EE_OK) {
        fprintf(stderr, "bench_pairwise: %s failed: %s\n", what, e2ee_errname(rc));
        exit(1);
    }
}

struct party {
    e2ee__identity *id;
    e2ee__address addr;
    e2ee__signed_prekey spk;
    e2ee__one_time_prekey opk;
    e2ee__prekey_source src;
};

static int src_spk(void *ctx, uint32_t id, e2ee__signed_prekey *out)
{
    (void)id;
    *out = ((struct party *)ctx)->spk;
    return E2EE_OK;
}

static int src_opk(void *ctx, uint32_t id, e2ee__one_time_prekey *out)
{
    (void)id;
    *out = ((struct party *)ctx)->opk;
    return E2EE_OK;
}

static void party_init(struct party *p, const char *user, const e2ee__rng *rng)
{
    check(e2ee__identity_generate(&p->id, rng), "identity");
    check(e2ee__address_set(&p->addr, user, E2EE_DEVICE_ID_DEFAULT), "address");
    check(e2ee__signed_prekey_generate(&p->spk, p->id, 1, 0, rng), "signed prekey");
    check(e2ee__one_time_prekeys_generate(&p->opk, 1, 100, rng), "one-time prekey");
    p->src.signed_prekey = src_spk;
    p->src.one_time_prekey = src_opk;
    p->src.ctx = p;
}

struct ctx {
    e2ee__rng rng;
    struct party a, b;
    e2ee__prekey_bundle bundle;
    e2ee__session_record *ra, *rb; /* established session */
    uint8_t pt[1024];
    size_t size;
    /* floor material */
    uint8_t x_sk[32], x_pk[32], rk[32], ck[32], key[32], nonce[12], ct[1024 + 16];
    uint8_t key0[32], nonce0[12], ct0[1024 + 16]; /* a genuine ciphertext of c->size bytes */
    uint8_t ad[E2EE_RATCHET_AD_MAX];
    size_t adlen;
};

/* ---- operations ---- */

static void op_setup(void *arg, unsigned batch)
{
    struct ctx *c = arg;
    e2ee__session_decrypt_result res;
    for (unsigned i = 0; i < batch; i++) {
        e2ee__session_record *ra = NULL, *rb = NULL;
        uint8_t *msg = NULL;
        size_t len = 0;
        check(e2ee__session_record_new(&ra), "record");
        check(e2ee__session_record_new(&rb), "record");
        check(e2ee__session_initiate(ra, c->a.id, &c->a.addr, &c->bundle, &c->rng), "initiate");
        check(e2ee__session_encrypt(ra, &c->rng, c->pt, 32, &msg, &len), "encrypt");
        check(e2ee__session_decrypt(rb, c->b.id, &c->b.addr, &c->a.addr, NULL, &c->b.src, msg,
                                    len, &res),
              "accept");
        e2ee__session_decrypt_result_cleanup(&res);
        free(msg);
        e2ee__session_record_free(ra);
        e2ee__session_record_free(rb);
    }
}

static void op_encrypt(void *arg, unsigned batch)
{
    struct ctx *c = arg;
    for (unsigned i = 0; i < batch; i++) {
        uint8_t *msg = NULL;
        size_t len = 0;
        check(e2ee__session_encrypt(c->ra, &c->rng, c->pt, c->size, &msg, &len), "encrypt");
        free(msg);
    }
}

/* A fresh established session in c->ra / c->rb: one message each way. */
static void establish(struct ctx *c)
{
    uint8_t *msg = NULL;
    size_t len = 0;
    e2ee__session_decrypt_result res;
    e2ee__session_record_free(c->ra);
    e2ee__session_record_free(c->rb);
    check(e2ee__session_record_new(&c->ra), "record");
    check(e2ee__session_record_new(&c->rb), "record");
    check(e2ee__session_initiate(c->ra, c->a.id, &c->a.addr, &c->bundle, &c->rng), "initiate");
    check(e2ee__session_encrypt(c->ra, &c->rng, c->pt, 16, &msg, &len), "encrypt");
    check(e2ee__session_decrypt(c->rb, c->b.id, &c->b.addr, &c->a.addr, NULL, &c->b.src, msg,
                                len, &res),
          "accept");
    e2ee__session_decrypt_result_cleanup(&res);
    free(msg);
    check(e2ee__session_encrypt(c->rb, &c->rng, c->pt, 16, &msg, &len), "encrypt");
    check(e2ee__session_decrypt(c->ra, c->a.id, &c->a.addr, &c->b.addr, NULL, NULL, msg, len,
                                &res),
          "decrypt");
    e2ee__session_decrypt_result_cleanup(&res);
    free(msg);
}

/* Decrypt rate: messages are made untimed in batches, then decrypted timed. */
static double rate_decrypt(struct ctx *c, double seconds)
{
    uint8_t *msg[DECRYPT_BATCH];
    size_t len[DECRYPT_BATCH];
    uint64_t spent = 0, ops = 0;
    e2ee__session_decrypt_result res;
    establish(c);
    while ((double)spent < seconds * 1e9) {
        for (int i = 0; i < DECRYPT_BATCH; i++)
            check(e2ee__session_encrypt(c->ra, &c->rng, c->pt, c->size, &msg[i], &len[i]),
                  "encrypt");
        uint64_t t0 = bu_now_ns();
        for (int i = 0; i < DECRYPT_BATCH; i++) {
            check(e2ee__session_decrypt(c->rb, c->b.id, &c->b.addr, &c->a.addr, NULL, NULL,
                                        msg[i], len[i], &res),
                  "decrypt");
            e2ee__session_decrypt_result_cleanup(&res);
        }
        spent += bu_now_ns() - t0;
        ops += DECRYPT_BATCH;
        for (int i = 0; i < DECRYPT_BATCH; i++)
            free(msg[i]);
    }
    return (double)ops * 1e9 / (double)spent;
}

/* ---- crypto floors: the calls each operation makes ---- */

/* KDF_CK + message keys: 2 HMAC + HKDF (44 bytes). */
static void floor_message_keys(struct ctx *c)
{
    static const uint8_t one = 1, two = 2;
    static const uint8_t zero[32];
    uint8_t mk[32], okm[44];
    check(e2ee__hmac_sha256(mk, c->ck, 32, &one, 1), "hmac");
    check(e2ee__hmac_sha256(c->ck, c->ck, 32, &two, 1), "hmac");
    check(e2ee__hkdf_sha256(okm, 44, mk, 32, zero, 32, (const uint8_t *)"e2ee-ratchet-msg-v1",
                            19),
          "hkdf");
    memcpy(c->key, okm, 32);
    memcpy(c->nonce, okm + 32, 12);
}

static void floor_encrypt(void *arg, unsigned batch)
{
    struct ctx *c = arg;
    for (unsigned i = 0; i < batch; i++) {
        floor_message_keys(c);
        check(e2ee__aead_seal(c->ct, c->key, c->nonce, c->ad, c->adlen, c->pt, c->size), "seal");
    }
}

static void floor_decrypt(void *arg, unsigned batch)
{
    struct ctx *c = arg;
    uint8_t out[1024];
    for (unsigned i = 0; i < batch; i++) {
        floor_message_keys(c); /* the derivation a decrypt makes (its key is not used) */
        check(e2ee__aead_open(out, c->key0, c->nonce0, c->ad, c->adlen, c->ct0, c->size + 16),
              "open");
    }
}

static void floor_seal_only(void *arg, unsigned batch)
{
    struct ctx *c = arg;
    for (unsigned i = 0; i < batch; i++)
        check(e2ee__aead_seal(c->ct, c->key, c->nonce, c->ad, c->adlen, c->pt, c->size), "seal");
}

/* One set-up: 3 signature checks, 2 X25519 base multiplications, 10 X25519, 3 HKDF of the
 * root and X3DH kind, 2 message-key derivations, a 32-byte seal and open. */
static void floor_setup(void *arg, unsigned batch)
{
    struct ctx *c = arg;
    const e2ee__identity_pub *bp = &c->bundle.identity;
    uint8_t msg[64], spk_msg[57], dh[32], okm[64], ikm[160], info[700];
    static const uint8_t zero[32];
    memset(info, 0x5a, sizeof info);
    memset(ikm, 0xff, 32);
    memcpy(spk_msg, "e2ee-signed-prekey-v1", 21);
    spk_msg[21] = spk_msg[22] = spk_msg[23] = 0;
    spk_msg[24] = (uint8_t)c->bundle.spk_id;
    memcpy(spk_msg + 25, c->bundle.spk_pk, 32);
    for (unsigned i = 0; i < batch; i++) {
        memcpy(msg, "e2ee-identity-dh-v1", 19);
        memcpy(msg + 19, bp->dh_pk, 32);
        check(e2ee__ed25519_verify(bp->dh_sig, msg, 51, bp->sign_pk), "verify"); /* bundle */
        check(e2ee__ed25519_verify(c->bundle.spk_sig, spk_msg, sizeof spk_msg, bp->sign_pk),
              "verify");                                                        /* spk */
        check(e2ee__ed25519_verify(bp->dh_sig, msg, 51, bp->sign_pk), "verify"); /* responder */
        check(e2ee__x25519_public(c->x_pk, c->x_sk), "x25519 base");            /* ephemeral */
        check(e2ee__x25519_public(c->x_pk, c->x_sk), "x25519 base");            /* ratchet */
        for (int k = 0; k < 10; k++)
            check(e2ee__x25519(dh, c->x_sk, bp->dh_pk), "x25519");
        memcpy(ikm + 32, dh, 32);
        check(e2ee__hkdf_sha256(okm, 32, ikm, 160, zero, 32, info, 300), "hkdf"); /* X3DH A */
        check(e2ee__hkdf_sha256(okm, 32, ikm, 160, zero, 32, info, 300), "hkdf"); /* X3DH B */
        check(e2ee__hkdf_sha256(okm, 64, dh, 32, c->rk, 32,
                                (const uint8_t *)"e2ee-ratchet-root-v1", 20),
              "hkdf");                                                           /* A step */
        check(e2ee__hkdf_sha256(okm, 64, dh, 32, c->rk, 32,
                                (const uint8_t *)"e2ee-ratchet-root-v1", 20),
              "hkdf");                                                           /* B step */
        floor_message_keys(c);
        check(e2ee__aead_seal(c->ct, c->key, c->nonce, c->ad, c->adlen, c->pt, 32), "seal");
        floor_message_keys(c);
        check(e2ee__aead_open(okm, c->key0, c->nonce0, c->ad, c->adlen, c->ct0, 48), "open");
    }
}

static void op_hmac(void *arg, unsigned batch)
{
    struct ctx *c = arg;
    static const uint8_t one = 1;
    uint8_t out[32];
    for (unsigned i = 0; i < batch; i++)
        check(e2ee__hmac_sha256(out, c->ck, 32, &one, 1), "hmac");
}

static void op_hkdf(void *arg, unsigned batch)
{
    struct ctx *c = arg;
    uint8_t okm[44];
    for (unsigned i = 0; i < batch; i++)
        check(e2ee__hkdf_sha256(okm, 44, c->ck, 32, c->rk, 32,
                                (const uint8_t *)"e2ee-ratchet-msg-v1", 19),
              "hkdf");
}

/* ---- main ---- */

#define BEST_OF 5

typedef double (*measure_fn)(struct ctx *c, void (*fn)(void *, unsigned), unsigned batch,
                             double secs);

static double measure_rate(struct ctx *c, void (*fn)(void *, unsigned), unsigned batch,
                           double secs)
{
    return bu_rate(fn, c, batch, secs);
}

static double measure_decrypt(struct ctx *c, void (*fn)(void *, unsigned), unsigned batch,
                              double secs)
{
    (void)fn;
    (void)batch;
    return rate_decrypt(c, secs);
}

/*
 * The operation and its floor, measured alternately BEST_OF times each, keeping the best
 * of each: the machine may be shared, interference only slows a run, and alternating keeps
 * both figures under the same conditions.
 */
static void measure_pair(struct ctx *c, measure_fn op, void (*op_fn)(void *, unsigned),
                         void (*floor_fn)(void *, unsigned), unsigned batch, double secs,
                         double *op_rate, double *floor_rate)
{
    *op_rate = *floor_rate = 0;
    for (int i = 0; i < BEST_OF; i++) {
        double r = op(c, op_fn, batch, secs / 2);
        *op_rate = r > *op_rate ? r : *op_rate;
        r = bu_rate(floor_fn, c, batch, secs / 2);
        *floor_rate = r > *floor_rate ? r : *floor_rate;
    }
}

static double best_rate(void (*fn)(void *, unsigned), void *arg, unsigned batch, double secs)
{
    double best = 0;
    for (int i = 0; i < BEST_OF; i++) {
        double r = bu_rate(fn, arg, batch, secs / 2);
        best = r > best ? r : best;
    }
    return best;
}

struct row {
    const char *key;
    double ops, floor;
};

static void print_rows(const struct row *r, size_t n)
{
    printf("%-26s %14s %14s %8s\n", "operation", "ops/s", "floor ops/s", "ratio");
    for (size_t i = 0; i < n; i++)
        printf("%-26s %14.0f %14.0f %8.3f\n", r[i].key, r[i].ops, r[i].floor,
               r[i].ops / r[i].floor);
    for (size_t i = 0; i < n; i++) {
        printf("%s_ops=%.0f\n", r[i].key, r[i].ops);
        printf("%s_floor_ops=%.0f\n", r[i].key, r[i].floor);
        printf("%s_floor_ratio=%.3f\n", r[i].key, r[i].ops / r[i].floor);
    }
}

int main(void)
{
    static struct ctx c;
    double secs = bu_seconds();
    struct row rows[5];
    size_t n = 0;

    check(e2ee__crypto_init(), "crypto init");
    bu_print_machine("bench_pairwise");
    c.rng = e2ee__rng_system();
    party_init(&c.a, "alice", &c.rng);
    party_init(&c.b, "bob", &c.rng);
    check(e2ee__prekey_bundle_make(&c.bundle, &c.b.addr, e2ee__identity_public(c.b.id),
                                   &c.b.spk, &c.b.opk),
          "bundle");
    check(e2ee__random_bytes(c.pt, sizeof c.pt), "random");
    check(e2ee__random_bytes(c.x_sk, 32), "random");
    check(e2ee__random_bytes(c.rk, 32), "random");
    check(e2ee__random_bytes(c.ck, 32), "random");
    c.adlen = 19 + 2 * (1 + 5 + 4 + 64) + 40; /* label, bindings of short user ids, header */
    memset(c.ad, 0x33, c.adlen);
    check(e2ee__random_bytes(c.key0, 32), "random");
    check(e2ee__random_bytes(c.nonce0, 12), "random");
    c.size = 32;
    check(e2ee__aead_seal(c.ct0, c.key0, c.nonce0, c.ad, c.adlen, c.pt, c.size), "seal");

    rows[n].key = "x3dh_setup";
    measure_pair(&c, measure_rate, op_setup, floor_setup, 20, secs, &rows[n].ops,
                 &rows[n].floor);
    n++;

    static const size_t sizes[2] = {256, 1024};
    static const char *enc_keys[2] = {"ratchet_encrypt_256B", "ratchet_encrypt_1KiB"};
    static const char *dec_keys[2] = {"ratchet_decrypt_256B", "ratchet_decrypt_1KiB"};
    double seal_only[2];
    for (int s = 0; s < 2; s++) {
        c.size = sizes[s];
        rows[n].key = enc_keys[s];
        establish(&c);
        measure_pair(&c, measure_rate, op_encrypt, floor_encrypt, 256, secs, &rows[n].ops,
                     &rows[n].floor);
        n++;
        rows[n].key = dec_keys[s];
        check(e2ee__aead_seal(c.ct0, c.key0, c.nonce0, c.ad, c.adlen, c.pt, c.size), "seal");
        measure_pair(&c, measure_decrypt, NULL, floor_decrypt, 256, secs, &rows[n].ops,
                     &rows[n].floor);
        n++;
        seal_only[s] = best_rate(floor_seal_only, &c, 256, secs);
    }
    print_rows(rows, n);
    printf("aead_seal_256B_ops=%.0f\naead_seal_1KiB_ops=%.0f\n", seal_only[0], seal_only[1]);
    printf("ratchet_encrypt_256B_seal_ratio=%.3f\n", rows[1].ops / seal_only[0]);
    /* the two calls that dominate every floor above */
    printf("hmac_sha256_32B_ops=%.0f\n", best_rate(op_hmac, &c, 256, secs));
    printf("hkdf_sha256_44B_ops=%.0f\n", best_rate(op_hkdf, &c, 256, secs));
    e2ee__session_record_free(c.ra);
    e2ee__session_record_free(c.rb);
    e2ee__identity_free(c.a.id);
    e2ee__identity_free(c.b.id);
    return 0;
}
