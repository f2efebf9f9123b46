/*
 * Misuse of the crypto layer: NULL pointers, wrong and over-limit lengths, tampered and
 * truncated ciphertexts, empty inputs, in-place operation, low-order X25519 points, and the
 * memory helpers. Each case checks the documented error code and that outputs are wiped
 * (bytes checked one by one), or, where the conventions say so, left untouched.
 */
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "vectors.h"

/* Byte that pre-fills outputs, so a wipe (all zero) is visible. */
#define FILL 0xa5
#define MSG_LEN 100

static const uint8_t k_key[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                  17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};
static const uint8_t k_nonce[12] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2};
static const uint8_t k_ad[20] = "associated data....";

static int all_fill(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != FILL)
            return 0;
    }
    return 1;
}

static void msg_bytes(uint8_t *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        m[i] = (uint8_t)(i * 7 + 3);
}

/* ---- AES-256-GCM ---- */

static void test_aead_null_and_length(void **state)
{
    (void)state;
    uint8_t pt[MSG_LEN], out[MSG_LEN + 16], ct[MSG_LEN + 16];
    msg_bytes(pt, sizeof pt);
    assert_int_equal(e2ee__aead_seal(ct, k_key, k_nonce, k_ad, sizeof k_ad, pt, sizeof pt), 0);

    assert_int_equal(e2ee__aead_seal(NULL, k_key, k_nonce, NULL, 0, pt, sizeof pt),
                     E2EE_ERR_ARG);
    struct {
        const uint8_t *key, *nonce, *ad, *pt;
        size_t adlen, ptlen;
    } bad[] = {
        {NULL, k_nonce, NULL, pt, 0, sizeof pt},       {k_key, NULL, NULL, pt, 0, sizeof pt},
        {k_key, k_nonce, NULL, pt, 5, sizeof pt},      {k_key, k_nonce, NULL, NULL, 0, 5},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(out, FILL, sizeof out);
        assert_int_equal(e2ee__aead_seal(out, bad[i].key, bad[i].nonce, bad[i].ad,
                                         bad[i].adlen, bad[i].pt, bad[i].ptlen),
                         E2EE_ERR_ARG);
        assert_true(vt_all_zero(out, bad[i].ptlen + 16));
        memset(out, FILL, sizeof out);
        assert_int_equal(e2ee__aead_open(out, bad[i].key, bad[i].nonce, bad[i].ad,
                                         bad[i].adlen, bad[i].pt ? ct : NULL, sizeof ct),
                         E2EE_ERR_ARG);
        assert_true(vt_all_zero(out, MSG_LEN));
        assert_int_equal(out[MSG_LEN], FILL); /* exactly ctlen - 16 bytes wiped */
    }
    assert_int_equal(e2ee__aead_open(NULL, k_key, k_nonce, NULL, 0, ct, sizeof ct),
                     E2EE_ERR_ARG);

    /* over-limit lengths: an output size that large is not trusted, nothing is written */
    memset(out, FILL, sizeof out);
    assert_int_equal(e2ee__aead_seal(out, k_key, k_nonce, NULL, 0, pt,
                                     E2EE_CRYPTO_MAX_INPUT + 1),
                     E2EE_ERR_LENGTH);
    assert_true(all_fill(out, sizeof out));
    assert_int_equal(e2ee__aead_open(out, k_key, k_nonce, NULL, 0, ct,
                                     E2EE_CRYPTO_MAX_INPUT + 17),
                     E2EE_ERR_LENGTH);
    assert_true(all_fill(out, sizeof out));
    /* an over-limit AD with a sane output: wiped */
    assert_int_equal(e2ee__aead_seal(out, k_key, k_nonce, k_ad, E2EE_CRYPTO_MAX_INPUT + 1, pt,
                                     sizeof pt),
                     E2EE_ERR_LENGTH);
    assert_true(vt_all_zero(out, sizeof out));
    memset(out, FILL, sizeof out);
    assert_int_equal(e2ee__aead_open(out, k_key, k_nonce, k_ad, E2EE_CRYPTO_MAX_INPUT + 1, ct,
                                     sizeof ct),
                     E2EE_ERR_LENGTH);
    assert_true(vt_all_zero(out, MSG_LEN));
}

static void test_aead_truncated(void **state)
{
    (void)state;
    uint8_t pt[MSG_LEN], ct[MSG_LEN + 16], out[MSG_LEN + 16];
    msg_bytes(pt, sizeof pt);
    assert_int_equal(e2ee__aead_seal(ct, k_key, k_nonce, k_ad, sizeof k_ad, pt, sizeof pt), 0);
    /* shorter than a tag: no output at all */
    for (size_t n = 0; n < 16; n++) {
        memset(out, FILL, sizeof out);
        assert_int_equal(e2ee__aead_open(out, k_key, k_nonce, k_ad, sizeof k_ad, ct, n),
                         E2EE_ERR_LENGTH);
        assert_true(all_fill(out, sizeof out));
    }
    /* cut anywhere from the end (or the tag alone): the tag no longer verifies */
    for (size_t n = 16; n < sizeof ct; n += 7) {
        memset(out, FILL, sizeof out);
        assert_int_equal(e2ee__aead_open(out, k_key, k_nonce, k_ad, sizeof k_ad, ct, n),
                         E2EE_ERR_AUTH);
        assert_true(vt_all_zero(out, n - 16));
        assert_int_equal(out[n - 16], FILL);
    }
}

/* Flips one bit of one input and checks open refuses it and wipes the output. */
static void test_aead_tampering(void **state)
{
    (void)state;
    uint8_t pt[MSG_LEN], ct[MSG_LEN + 16], out[MSG_LEN + 1];
    uint8_t key[32], nonce[12], ad[sizeof k_ad];
    msg_bytes(pt, sizeof pt);
    assert_int_equal(e2ee__aead_seal(ct, k_key, k_nonce, k_ad, sizeof k_ad, pt, sizeof pt), 0);
    unsigned refused = 0;
    for (int what = 0; what < 4; what++) {
        size_t n = what == 0 ? sizeof ct : what == 1 ? sizeof ad : what == 2 ? 12 : 32;
        for (size_t bit = 0; bit < n * 8; bit += 5) {
            memcpy(key, k_key, 32);
            memcpy(nonce, k_nonce, 12);
            memcpy(ad, k_ad, sizeof ad);
            uint8_t c2[sizeof ct];
            memcpy(c2, ct, sizeof ct);
            uint8_t *target = what == 0 ? c2 : what == 1 ? ad : what == 2 ? nonce : key;
            target[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            memset(out, FILL, sizeof out);
            assert_int_equal(e2ee__aead_open(out, key, nonce, ad, sizeof ad, c2, sizeof c2),
                             E2EE_ERR_AUTH);
            assert_true(vt_all_zero(out, MSG_LEN));
            assert_int_equal(out[MSG_LEN], FILL);
            refused++;
        }
    }
    /* ciphertext bits and tag bits were both covered (bits 0..799 and 800..927) */
    assert_true(refused > (sizeof ct * 8) / 5);
    /* dropping the AD, or adding AD that was not there, is tampering too */
    assert_int_equal(e2ee__aead_open(out, k_key, k_nonce, NULL, 0, ct, sizeof ct),
                     E2EE_ERR_AUTH);
    assert_int_equal(e2ee__aead_open(out, k_key, k_nonce, k_ad, sizeof k_ad, ct, sizeof ct),
                     E2EE_OK);
    assert_memory_equal(out, pt, sizeof pt);
}

static void test_aead_empty(void **state)
{
    (void)state;
    uint8_t tag[16], tag2[16], out[1] = {FILL};
    /* empty plaintext and empty AD: the output is the tag alone */
    assert_int_equal(e2ee__aead_seal(tag, k_key, k_nonce, NULL, 0, NULL, 0), E2EE_OK);
    assert_false(vt_all_zero(tag, 16));
    static const uint8_t nothing[1];
    assert_int_equal(e2ee__aead_seal(tag2, k_key, k_nonce, nothing, 0, nothing, 0), E2EE_OK);
    assert_memory_equal(tag, tag2, 16); /* NULL and non-NULL empty buffers agree */
    assert_int_equal(e2ee__aead_open(out, k_key, k_nonce, NULL, 0, tag, 16), E2EE_OK);
    assert_int_equal(out[0], FILL); /* zero bytes written */
    /* empty plaintext, non-empty AD (a pure MAC) and its tampering */
    assert_int_equal(e2ee__aead_seal(tag2, k_key, k_nonce, k_ad, sizeof k_ad, NULL, 0), 0);
    assert_memory_not_equal(tag, tag2, 16);
    assert_int_equal(e2ee__aead_open(out, k_key, k_nonce, k_ad, sizeof k_ad, tag2, 16), 0);
    tag2[15] ^= 0x80;
    assert_int_equal(e2ee__aead_open(out, k_key, k_nonce, k_ad, sizeof k_ad, tag2, 16),
                     E2EE_ERR_AUTH);
    assert_int_equal(out[0], FILL);
}

static void test_aead_in_place(void **state)
{
    (void)state;
    uint8_t pt[MSG_LEN], ref[MSG_LEN + 16], buf[MSG_LEN + 16];
    msg_bytes(pt, sizeof pt);
    assert_int_equal(e2ee__aead_seal(ref, k_key, k_nonce, k_ad, sizeof k_ad, pt, sizeof pt), 0);
    memcpy(buf, pt, sizeof pt);
    assert_int_equal(e2ee__aead_seal(buf, k_key, k_nonce, k_ad, sizeof k_ad, buf, sizeof pt),
                     E2EE_OK);
    assert_memory_equal(buf, ref, sizeof ref);
    assert_int_equal(e2ee__aead_open(buf, k_key, k_nonce, k_ad, sizeof k_ad, buf, sizeof buf),
                     E2EE_OK);
    assert_memory_equal(buf, pt, sizeof pt);
    /* a failed in-place open wipes the plaintext area and leaves the tag */
    memcpy(buf, ref, sizeof ref);
    buf[3] ^= 1;
    assert_int_equal(e2ee__aead_open(buf, k_key, k_nonce, k_ad, sizeof k_ad, buf, sizeof buf),
                     E2EE_ERR_AUTH);
    assert_true(vt_all_zero(buf, MSG_LEN));
    assert_memory_equal(buf + MSG_LEN, ref + MSG_LEN, 16);
}

/* ---- X25519 ---- */

/* u-coordinates of small order on Curve25519 or its twist (and p, p+1 aliases of 0, 1). */
static const char *const k_low_order[] = {
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
};

static void test_x25519_misuse(void **state)
{
    (void)state;
    uint8_t pk[32], sk[32], pk2[32], shared[32];
    assert_int_equal(e2ee__x25519_keypair(pk, sk), E2EE_OK);
    assert_int_equal(e2ee__x25519_public(pk2, sk), E2EE_OK);
    assert_memory_equal(pk, pk2, 32);
    assert_int_equal(e2ee__x25519_keypair(pk2, shared), E2EE_OK);
    assert_memory_not_equal(pk, pk2, 32); /* fresh randomness each time */

    assert_int_equal(e2ee__x25519_keypair(NULL, sk), E2EE_ERR_ARG);
    memset(pk2, FILL, 32);
    assert_int_equal(e2ee__x25519_keypair(pk2, NULL), E2EE_ERR_ARG);
    assert_true(vt_all_zero(pk2, 32));
    memset(pk2, FILL, 32);
    assert_int_equal(e2ee__x25519_public(pk2, NULL), E2EE_ERR_ARG);
    assert_true(vt_all_zero(pk2, 32));
    assert_int_equal(e2ee__x25519_public(NULL, sk), E2EE_ERR_ARG);
    assert_int_equal(e2ee__x25519(NULL, sk, pk), E2EE_ERR_ARG);
    memset(shared, FILL, 32);
    assert_int_equal(e2ee__x25519(shared, NULL, pk), E2EE_ERR_ARG);
    assert_true(vt_all_zero(shared, 32));
    memset(shared, FILL, 32);
    assert_int_equal(e2ee__x25519(shared, sk, NULL), E2EE_ERR_ARG);
    assert_true(vt_all_zero(shared, 32));

    for (size_t i = 0; i < sizeof k_low_order / sizeof k_low_order[0]; i++) {
        uint8_t lo[32];
        vt_hex_exact(k_low_order[i], lo, 32);
        for (int high = 0; high < 2; high++) { /* the top bit is ignored (RFC 7748) */
            lo[31] = (uint8_t)(high ? lo[31] | 0x80 : lo[31]);
            memset(shared, FILL, 32);
            assert_int_equal(e2ee__x25519(shared, sk, lo), E2EE_ERR_WEAK_KEY);
            assert_true(vt_all_zero(shared, 32));
        }
    }
}

/* ---- Ed25519 ---- */

static void test_ed25519_misuse(void **state)
{
    (void)state;
    uint8_t pk[32], sk[64], sig[64], sig2[64], msg[MSG_LEN], seed[32];
    msg_bytes(msg, sizeof msg);
    assert_int_equal(e2ee__ed25519_keypair(pk, sk), E2EE_OK);
    assert_int_equal(e2ee__ed25519_sign(sig, msg, sizeof msg, sk), E2EE_OK);
    assert_int_equal(e2ee__ed25519_verify(sig, msg, sizeof msg, pk), E2EE_OK);

    /* NULL arguments */
    assert_int_equal(e2ee__ed25519_keypair(NULL, sk), E2EE_ERR_ARG);
    memset(sig2, FILL, 64);
    assert_int_equal(e2ee__ed25519_keypair(sig2, NULL), E2EE_ERR_ARG);
    assert_true(vt_all_zero(sig2, 32));
    memset(sig2, FILL, 64);
    assert_int_equal(e2ee__ed25519_seed_keypair(pk, sig2, NULL), E2EE_ERR_ARG);
    assert_true(vt_all_zero(sig2, 64) && vt_all_zero(pk, 32));
    assert_int_equal(e2ee__ed25519_sign(NULL, msg, sizeof msg, sk), E2EE_ERR_ARG);
    memset(sig2, FILL, 64);
    assert_int_equal(e2ee__ed25519_sign(sig2, msg, sizeof msg, NULL), E2EE_ERR_ARG);
    assert_true(vt_all_zero(sig2, 64));
    memset(sig2, FILL, 64);
    assert_int_equal(e2ee__ed25519_sign(sig2, NULL, 5, sk), E2EE_ERR_ARG);
    assert_true(vt_all_zero(sig2, 64));
    memset(sig2, FILL, 64);
    assert_int_equal(e2ee__ed25519_sign(sig2, msg, E2EE_CRYPTO_MAX_INPUT + 1, sk),
                     E2EE_ERR_LENGTH);
    assert_true(vt_all_zero(sig2, 64));
    assert_int_equal(e2ee__ed25519_keypair(pk, sk), E2EE_OK); /* pk was wiped above */
    assert_int_equal(e2ee__ed25519_sign(sig, msg, sizeof msg, sk), E2EE_OK);
    assert_int_equal(e2ee__ed25519_verify(NULL, msg, sizeof msg, pk), E2EE_ERR_ARG);
    assert_int_equal(e2ee__ed25519_verify(sig, NULL, sizeof msg, pk), E2EE_ERR_ARG);
    assert_int_equal(e2ee__ed25519_verify(sig, msg, sizeof msg, NULL), E2EE_ERR_ARG);
    assert_int_equal(e2ee__ed25519_verify(sig, msg, E2EE_CRYPTO_MAX_INPUT + 1, pk),
                     E2EE_ERR_LENGTH);

    /* empty message: NULL and non-NULL agree (Ed25519 is deterministic) */
    assert_int_equal(e2ee__ed25519_sign(sig2, NULL, 0, sk), E2EE_OK);
    assert_int_equal(e2ee__ed25519_verify(sig2, msg, 0, pk), E2EE_OK);
    assert_int_equal(e2ee__ed25519_sign(sig, msg, 0, sk), E2EE_OK);
    assert_memory_equal(sig, sig2, 64);

    /* wrong key, truncated message, all-zero signature, non-canonical S (S + L) */
    assert_int_equal(e2ee__ed25519_sign(sig, msg, sizeof msg, sk), E2EE_OK);
    memcpy(seed, sk, 32);
    seed[0] ^= 1;
    uint8_t pk2[32], sk2[64];
    assert_int_equal(e2ee__ed25519_seed_keypair(pk2, sk2, seed), E2EE_OK);
    assert_int_equal(e2ee__ed25519_verify(sig, msg, sizeof msg, pk2), E2EE_ERR_AUTH);
    assert_int_equal(e2ee__ed25519_verify(sig, msg, sizeof msg - 1, pk), E2EE_ERR_AUTH);
    memset(sig2, 0, 64);
    assert_int_equal(e2ee__ed25519_verify(sig2, msg, sizeof msg, pk), E2EE_ERR_AUTH);
    static const uint8_t L[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58,
                                  0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
                                  0,    0,    0,    0,    0,    0,    0,    0,
                                  0,    0,    0,    0,    0,    0,    0,    0x10};
    memcpy(sig2, sig, 64);
    unsigned carry = 0;
    for (int i = 0; i < 32; i++) { /* S' = S + L, the same value mod L */
        unsigned v = sig2[32 + i] + L[i] + carry;
        sig2[32 + i] = (uint8_t)v;
        carry = v >> 8;
    }
    assert_int_equal(e2ee__ed25519_verify(sig2, msg, sizeof msg, pk), E2EE_ERR_AUTH);
    /* small-order public key (the identity point) */
    uint8_t ident[32] = {1};
    assert_int_equal(e2ee__ed25519_verify(sig, msg, sizeof msg, ident), E2EE_ERR_AUTH);
}

/* ---- HMAC-SHA-256 ---- */

static void test_hmac_misuse(void **state)
{
    (void)state;
    uint8_t out[32], ref[32], bigkey[E2EE_HMAC_KEY_MAX + 1], msg[MSG_LEN];
    msg_bytes(msg, sizeof msg);
    msg_bytes(bigkey, sizeof bigkey);
    assert_int_equal(e2ee__hmac_sha256(NULL, k_key, 32, msg, sizeof msg), E2EE_ERR_ARG);
    memset(out, FILL, 32);
    assert_int_equal(e2ee__hmac_sha256(out, NULL, 32, msg, sizeof msg), E2EE_ERR_ARG);
    assert_true(vt_all_zero(out, 32));
    memset(out, FILL, 32);
    assert_int_equal(e2ee__hmac_sha256(out, k_key, 32, NULL, 1), E2EE_ERR_ARG);
    assert_true(vt_all_zero(out, 32));
    memset(out, FILL, 32);
    assert_int_equal(e2ee__hmac_sha256(out, bigkey, E2EE_HMAC_KEY_MAX + 1, msg, sizeof msg),
                     E2EE_ERR_LENGTH);
    assert_true(vt_all_zero(out, 32));
    memset(out, FILL, 32);
    assert_int_equal(e2ee__hmac_sha256(out, k_key, 32, msg, E2EE_CRYPTO_MAX_INPUT + 1),
                     E2EE_ERR_LENGTH);
    assert_true(vt_all_zero(out, 32));

    /* a key longer than the block is hashed first (RFC 2104): HMAC(K) = HMAC(SHA-256(K)) */
    uint8_t hk[32];
    assert_int_equal(e2ee__sha256(hk, bigkey, E2EE_HMAC_KEY_MAX), E2EE_OK);
    assert_int_equal(e2ee__hmac_sha256(out, bigkey, E2EE_HMAC_KEY_MAX, msg, sizeof msg), 0);
    assert_int_equal(e2ee__hmac_sha256(ref, hk, 32, msg, sizeof msg), E2EE_OK);
    assert_memory_equal(out, ref, 32);
    /* an empty key is zero-padded: HMAC("") = HMAC(64 zero bytes); NULL and non-NULL agree */
    static const uint8_t zeros[64];
    assert_int_equal(e2ee__hmac_sha256(out, NULL, 0, msg, sizeof msg), E2EE_OK);
    assert_int_equal(e2ee__hmac_sha256(ref, zeros, sizeof zeros, msg, sizeof msg), E2EE_OK);
    assert_memory_equal(out, ref, 32);
    assert_int_equal(e2ee__hmac_sha256(ref, zeros, 0, msg, sizeof msg), E2EE_OK);
    assert_memory_equal(out, ref, 32);
    /* empty message */
    assert_int_equal(e2ee__hmac_sha256(out, k_key, 32, NULL, 0), E2EE_OK);
    assert_int_equal(e2ee__hmac_sha256(ref, k_key, 32, msg, 0), E2EE_OK);
    assert_memory_equal(out, ref, 32);
    /* the per-thread context never carries a key over: key A, then empty key, then A */
    uint8_t a1[32], e1[32], a2[32];
    assert_int_equal(e2ee__hmac_sha256(a1, k_key, 32, msg, 10), E2EE_OK);
    assert_int_equal(e2ee__hmac_sha256(e1, NULL, 0, msg, 10), E2EE_OK);
    assert_int_equal(e2ee__hmac_sha256(a2, k_key, 32, msg, 10), E2EE_OK);
    assert_memory_equal(a1, a2, 32);
    assert_memory_not_equal(a1, e1, 32);
    assert_true(e2ee__crypto_thread_scrubbed());
}

static void test_hmac_many(void **state)
{
    (void)state;
    uint8_t msg[MSG_LEN], out[E2EE_HMAC_MANY_MAX + 1][32], ref[32];
    const uint8_t *msgs[E2EE_HMAC_MANY_MAX + 1];
    size_t lens[E2EE_HMAC_MANY_MAX + 1];
    msg_bytes(msg, sizeof msg);
    for (size_t i = 0; i <= E2EE_HMAC_MANY_MAX; i++) {
        msgs[i] = i == 3 ? NULL : msg + i;
        lens[i] = i == 3 ? 0 : i + 1;
    }
    /* the same values as one call each, for every n (message 3 is empty and NULL) */
    for (size_t n = 1; n <= E2EE_HMAC_MANY_MAX; n += 5) {
        memset(out, FILL, sizeof out);
        assert_int_equal(e2ee__hmac_sha256_many(out, k_key, 32, msgs, lens, n), E2EE_OK);
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(e2ee__hmac_sha256(ref, k_key, 32, msgs[i], lens[i]), E2EE_OK);
            assert_memory_equal(out[i], ref, 32);
        }
        assert_true(all_fill(out[n], 32));
        assert_true(e2ee__crypto_thread_scrubbed());
    }
    /* counts out of range: nothing written */
    memset(out, FILL, sizeof out);
    assert_int_equal(e2ee__hmac_sha256_many(out, k_key, 32, msgs, lens, 0), E2EE_ERR_RANGE);
    assert_int_equal(e2ee__hmac_sha256_many(out, k_key, 32, msgs, lens,
                                            E2EE_HMAC_MANY_MAX + 1),
                     E2EE_ERR_RANGE);
    assert_true(all_fill(out[0], sizeof out));
    assert_int_equal(e2ee__hmac_sha256_many(NULL, k_key, 32, msgs, lens, 2), E2EE_ERR_ARG);
    /* bad arguments: every output wiped */
    struct {
        const uint8_t *key;
        size_t keylen;
        const uint8_t *const *m;
        const size_t *l;
        int rc;
    } bad[] = {
        {NULL, 32, msgs, lens, E2EE_ERR_ARG},
        {k_key, 32, NULL, lens, E2EE_ERR_ARG},
        {k_key, 32, msgs, NULL, E2EE_ERR_ARG},
        {k_key, E2EE_HMAC_KEY_MAX + 1, msgs, lens, E2EE_ERR_LENGTH},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(out, FILL, sizeof out);
        assert_int_equal(e2ee__hmac_sha256_many(out, bad[i].key, bad[i].keylen, bad[i].m,
                                                bad[i].l, 4),
                         bad[i].rc);
        assert_true(vt_all_zero(out[0], 4 * 32));
        assert_true(all_fill(out[4], 32));
    }
    lens[3] = 1; /* NULL message with a length */
    memset(out, FILL, sizeof out);
    assert_int_equal(e2ee__hmac_sha256_many(out, k_key, 32, msgs, lens, 4), E2EE_ERR_ARG);
    assert_true(vt_all_zero(out[0], 4 * 32));
    lens[3] = E2EE_CRYPTO_MAX_INPUT + 1;
    msgs[3] = msg;
    assert_int_equal(e2ee__hmac_sha256_many(out, k_key, 32, msgs, lens, 4), E2EE_ERR_LENGTH);
    assert_true(vt_all_zero(out[0], 4 * 32));
}

/* ---- HKDF-SHA-256 ---- */

/* HKDF by its definition (RFC 5869 2.2 and 2.3) over our HMAC, for up to 3 blocks. */
static void hkdf_reference(uint8_t *out, size_t outlen, const uint8_t *ikm, size_t ikmlen,
                           const uint8_t *salt, size_t saltlen, const uint8_t *info,
                           size_t infolen)
{
    uint8_t prk[32], t[32], buf[32 + 64 + 1];
    assert_true(outlen <= 96 && infolen <= 64);
    assert_int_equal(e2ee__hmac_sha256(prk, salt, saltlen, ikm, ikmlen), E2EE_OK);
    size_t tlen = 0, done = 0;
    for (uint8_t i = 1; done < outlen; i++) {
        memcpy(buf, t, tlen);
        if (infolen)
            memcpy(buf + tlen, info, infolen);
        buf[tlen + infolen] = i;
        assert_int_equal(e2ee__hmac_sha256(t, prk, 32, buf, tlen + infolen + 1), E2EE_OK);
        tlen = 32;
        size_t take = outlen - done < 32 ? outlen - done : 32;
        memcpy(out + done, t, take);
        done += take;
    }
}

static void test_hkdf_empty_inputs(void **state)
{
    (void)state;
    static const uint8_t ikm[32] = {7}, salt[13] = {5}, info[24] = "e2ee-test-info-v1";
    uint8_t out[76], ref[76];
    /* every combination of empty IKM, salt and info, at 32 and 76 bytes */
    for (int mask = 0; mask < 8; mask++) {
        const uint8_t *k = mask & 1 ? NULL : ikm, *s = mask & 2 ? NULL : salt;
        const uint8_t *in = mask & 4 ? NULL : info;
        size_t kl = k ? sizeof ikm : 0, sl = s ? sizeof salt : 0, il = in ? sizeof info : 0;
        for (size_t n = 32; n <= 76; n += 44) {
            memset(out, FILL, sizeof out);
            assert_int_equal(e2ee__hkdf_sha256(out, n, k, kl, s, sl, in, il), E2EE_OK);
            hkdf_reference(ref, n, k, kl, s, sl, in, il);
            assert_memory_equal(out, ref, n);
            if (n < sizeof out)
                assert_int_equal(out[n], FILL);
        }
    }
    /* an empty salt is HashLen zero bytes (RFC 5869 2.2) */
    static const uint8_t zeros[32];
    assert_int_equal(e2ee__hkdf_sha256(out, 42, ikm, 32, NULL, 0, info, 5), E2EE_OK);
    assert_int_equal(e2ee__hkdf_sha256(ref, 42, ikm, 32, zeros, 32, info, 5), E2EE_OK);
    assert_memory_equal(out, ref, 42);
    /* a shorter output is a prefix of a longer one */
    assert_int_equal(e2ee__hkdf_sha256(ref, 76, ikm, 32, salt, 13, info, 24), E2EE_OK);
    assert_int_equal(e2ee__hkdf_sha256(out, 32, ikm, 32, salt, 13, info, 24), E2EE_OK);
    assert_memory_equal(out, ref, 32);
}

/* The reused per-thread contexts never carry info or keys from one call to the next. */
static void test_hkdf_no_carry_over(void **state)
{
    (void)state;
    static const uint8_t ikm[32] = {1}, info[40] = "label";
    uint8_t with[3][42], without[3][42];
    for (int round = 0; round < 3; round++) {
        assert_int_equal(e2ee__hkdf_sha256(with[round], 42, ikm, 32, NULL, 0, info, 40), 0);
        assert_int_equal(e2ee__hkdf_sha256(without[round], 42, ikm, 32, NULL, 0, NULL, 0), 0);
        assert_true(e2ee__crypto_thread_scrubbed());
    }
    for (int round = 1; round < 3; round++) {
        assert_memory_equal(with[0], with[round], 42);
        assert_memory_equal(without[0], without[round], 42);
    }
    assert_memory_not_equal(with[0], without[0], 42);
}

static void test_hkdf_misuse(void **state)
{
    (void)state;
    static const uint8_t ikm[32] = {1}, salt[32] = {2};
    uint8_t info[E2EE_HKDF_INFO_MAX + 1];
    size_t big = E2EE_HKDF_MAX_OUT + 1;
    uint8_t *out = malloc(big + 1);
    assert_non_null(out);
    memset(info, 'i', sizeof info);

    assert_int_equal(e2ee__hkdf_sha256(NULL, 32, ikm, 32, salt, 32, info, 8), E2EE_ERR_ARG);
    const uint8_t *nulls[3][3] = {{NULL, salt, info}, {ikm, NULL, info}, {ikm, salt, NULL}};
    for (int i = 0; i < 3; i++) {
        memset(out, FILL, 33);
        assert_int_equal(e2ee__hkdf_sha256(out, 32, nulls[i][0], 32, nulls[i][1], 32,
                                           nulls[i][2], 8),
                         E2EE_ERR_ARG);
        assert_true(vt_all_zero(out, 32));
        assert_int_equal(out[32], FILL);
    }
    /* outlen 0: nothing to write, an error all the same */
    memset(out, FILL, 1);
    assert_int_equal(e2ee__hkdf_sha256(out, 0, ikm, 32, salt, 32, info, 8), E2EE_ERR_LENGTH);
    assert_int_equal(out[0], FILL);
    /* one byte over the RFC 5869 limit: refused, output wiped */
    memset(out, FILL, big + 1);
    assert_int_equal(e2ee__hkdf_sha256(out, big, ikm, 32, salt, 32, info, 8), E2EE_ERR_LENGTH);
    assert_true(vt_all_zero(out, big));
    assert_int_equal(out[big], FILL);
    /* the limit itself works */
    assert_int_equal(e2ee__hkdf_sha256(out, big - 1, ikm, 32, salt, 32, info, 8), E2EE_OK);
    assert_false(vt_all_zero(out + big - 33, 32));
    /* info over the OpenSSL 3.0 cap: refused; at the cap: works */
    memset(out, FILL, 33);
    assert_int_equal(e2ee__hkdf_sha256(out, 32, ikm, 32, salt, 32, info, sizeof info),
                     E2EE_ERR_LENGTH);
    assert_true(vt_all_zero(out, 32));
    assert_int_equal(e2ee__hkdf_sha256(out, 32, ikm, 32, salt, 32, info, sizeof info - 1), 0);
    assert_false(vt_all_zero(out, 32));
    /* an outlen too large to be a buffer size is not trusted: nothing written */
    memset(out, FILL, 33);
    assert_int_equal(e2ee__hkdf_sha256(out, (size_t)-1, ikm, 32, salt, 32, info, 8),
                     E2EE_ERR_LENGTH);
    assert_true(all_fill(out, 33));
    memset(out, FILL, 33);
    assert_int_equal(e2ee__hkdf_sha256(out, 32, ikm, E2EE_CRYPTO_MAX_INPUT + 1, salt, 32,
                                       info, 8),
                     E2EE_ERR_LENGTH);
    assert_true(vt_all_zero(out, 32));
    free(out);
}

static void test_hkdf_expand(void **state)
{
    (void)state;
    static const uint8_t ikm[32] = {3}, salt[32] = {4}, info[20] = "e2ee-expand-v1";
    uint8_t prk[64], out[77], ref[77];
    /* HKDF = Expand(Extract): Expand alone from HMAC(salt, IKM) gives the same bytes */
    assert_int_equal(e2ee__hmac_sha256(prk, salt, 32, ikm, 32), E2EE_OK);
    for (int withinfo = 0; withinfo < 2; withinfo++) {
        const uint8_t *in = withinfo ? info : NULL;
        size_t il = withinfo ? sizeof info : 0;
        assert_int_equal(e2ee__hkdf_sha256(ref, 76, ikm, 32, salt, 32, in, il), E2EE_OK);
        memset(out, FILL, sizeof out);
        assert_int_equal(e2ee__hkdf_sha256_expand(out, 76, prk, 32, in, il), E2EE_OK);
        assert_memory_equal(out, ref, 76);
        assert_int_equal(out[76], FILL);
        assert_true(e2ee__crypto_thread_scrubbed());
    }
    /* a longer PRK is allowed (at least HashLen, RFC 5869 2.3) and is a different key */
    memset(prk + 32, 0x33, 32);
    assert_int_equal(e2ee__hkdf_sha256_expand(out, 32, prk, 64, info, sizeof info), E2EE_OK);
    assert_memory_not_equal(out, ref, 32);
    /* misuse: every failure wipes the output */
    struct {
        const uint8_t *prk;
        size_t prklen, outlen;
        const uint8_t *info;
        size_t infolen;
        int rc;
    } bad[] = {
        {NULL, 32, 32, info, 4, E2EE_ERR_ARG},
        {prk, 32, 32, NULL, 4, E2EE_ERR_ARG},
        {prk, 31, 32, info, 4, E2EE_ERR_LENGTH},
        {prk, E2EE_HMAC_KEY_MAX + 1, 32, info, 4, E2EE_ERR_LENGTH},
        {prk, 32, 0, info, 4, E2EE_ERR_LENGTH},
        {prk, 32, 32, info, E2EE_HKDF_INFO_MAX + 1, E2EE_ERR_LENGTH},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(out, FILL, sizeof out);
        assert_int_equal(e2ee__hkdf_sha256_expand(out, bad[i].outlen, bad[i].prk, bad[i].prklen,
                                                  bad[i].info, bad[i].infolen),
                         bad[i].rc);
        assert_true(vt_all_zero(out, bad[i].outlen));
        assert_int_equal(out[bad[i].outlen], FILL);
    }
    assert_int_equal(e2ee__hkdf_sha256_expand(NULL, 32, prk, 32, info, 4), E2EE_ERR_ARG);
    uint8_t *big = malloc(E2EE_HKDF_MAX_OUT + 1);
    assert_non_null(big);
    memset(big, FILL, E2EE_HKDF_MAX_OUT + 1);
    assert_int_equal(e2ee__hkdf_sha256_expand(big, E2EE_HKDF_MAX_OUT + 1, prk, 32, info, 4),
                     E2EE_ERR_LENGTH);
    assert_true(vt_all_zero(big, E2EE_HKDF_MAX_OUT + 1));
    assert_int_equal(e2ee__hkdf_sha256_expand(big, E2EE_HKDF_MAX_OUT, prk, 32, info, 4), 0);
    free(big);
}

/* ---- SHA-256 ---- */

static void test_sha256_misuse(void **state)
{
    (void)state;
    uint8_t out[32], ref[32], msg[MSG_LEN];
    msg_bytes(msg, sizeof msg);
    assert_int_equal(e2ee__sha256(NULL, msg, sizeof msg), E2EE_ERR_ARG);
    memset(out, FILL, 32);
    assert_int_equal(e2ee__sha256(out, NULL, 3), E2EE_ERR_ARG);
    assert_true(vt_all_zero(out, 32));
    memset(out, FILL, 32);
    assert_int_equal(e2ee__sha256(out, msg, E2EE_CRYPTO_MAX_INPUT + 1), E2EE_ERR_LENGTH);
    assert_true(vt_all_zero(out, 32));
    memset(out, FILL, 32);
    assert_int_equal(e2ee__sha256_parts(out, NULL, NULL, 2), E2EE_ERR_ARG);
    assert_true(vt_all_zero(out, 32));
    const uint8_t *parts[3] = {msg, NULL, msg + 10};
    size_t lens[3] = {10, 4, sizeof msg - 10};
    memset(out, FILL, 32);
    assert_int_equal(e2ee__sha256_parts(out, parts, lens, 3), E2EE_ERR_ARG);
    assert_true(vt_all_zero(out, 32));
    lens[1] = 0; /* NULL part of length 0 is fine */
    assert_int_equal(e2ee__sha256_parts(out, parts, lens, 3), E2EE_OK);
    assert_int_equal(e2ee__sha256(ref, msg, sizeof msg), E2EE_OK);
    assert_memory_equal(out, ref, 32);
    /* zero parts and the empty message give the SHA-256 of "" */
    uint8_t empty[32];
    vt_hex_exact("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", empty, 32);
    assert_int_equal(e2ee__sha256_parts(out, NULL, NULL, 0), E2EE_OK);
    assert_memory_equal(out, empty, 32);
    assert_int_equal(e2ee__sha256(out, NULL, 0), E2EE_OK);
    assert_memory_equal(out, empty, 32);
}

/* ---- memory helpers ---- */

static void test_secret_buffer(void **state)
{
    (void)state;
    e2ee__secret *s = (e2ee__secret *)&s; /* must be reset to NULL on failure */
    assert_int_equal(e2ee__secret_new(NULL, 32), E2EE_ERR_ARG);
    assert_int_equal(e2ee__secret_new(&s, 0), E2EE_ERR_LENGTH);
    assert_null(s);
    s = (e2ee__secret *)&s;
    assert_int_equal(e2ee__secret_new(&s, E2EE_CRYPTO_MAX_INPUT + 1), E2EE_ERR_LENGTH);
    assert_null(s);
    assert_int_equal(e2ee__secret_new(&s, 100), E2EE_OK);
    assert_non_null(s);
    assert_non_null(s->ptr);
    assert_int_equal(s->len, 100);
    assert_true(vt_all_zero(s->ptr, 100));
    memset(s->ptr, 0x5a, s->len); /* writable over its whole length */
    e2ee__secret_free(s);
    e2ee__secret_free(NULL);
}

static void test_ct_equal_is_zero_wipe(void **state)
{
    (void)state;
    uint8_t a[64], b[64];
    msg_bytes(a, sizeof a);
    memcpy(b, a, sizeof b);
    assert_int_equal(e2ee__ct_equal(a, b, sizeof a), 1);
    for (size_t i = 0; i < sizeof a; i += 9) {
        b[i] ^= 0x01;
        assert_int_equal(e2ee__ct_equal(a, b, sizeof a), 0);
        assert_int_equal(e2ee__ct_equal(a, b, i), 1); /* equal before the difference */
        b[i] ^= 0x01;
    }
    b[63] ^= 0x80;
    assert_int_equal(e2ee__ct_equal(a, b, sizeof a), 0);
    assert_int_equal(e2ee__ct_equal(NULL, b, 4), 0);
    assert_int_equal(e2ee__ct_equal(a, NULL, 4), 0);
    assert_int_equal(e2ee__ct_equal(a, b, 0), 1);

    memset(a, 0, sizeof a);
    assert_int_equal(e2ee__is_zero(a, sizeof a), 1);
    a[63] = 1;
    assert_int_equal(e2ee__is_zero(a, sizeof a), 0);
    assert_int_equal(e2ee__is_zero(a, 63), 1);
    assert_int_equal(e2ee__is_zero(a, 0), 1);
    assert_int_equal(e2ee__is_zero(NULL, 4), 0);

    memset(a, FILL, sizeof a);
    e2ee__wipe(a, 10);
    assert_true(vt_all_zero(a, 10));
    assert_int_equal(a[10], FILL);
    e2ee__wipe(NULL, 0);
}

static void test_random(void **state)
{
    (void)state;
    uint8_t a[32], b[32];
    assert_int_equal(e2ee__random_bytes(NULL, 0), E2EE_OK);
    assert_int_equal(e2ee__random_bytes(NULL, 1), E2EE_ERR_ARG);
    assert_int_equal(e2ee__random_bytes(a, sizeof a), E2EE_OK);
    assert_int_equal(e2ee__random_bytes(b, sizeof b), E2EE_OK);
    assert_memory_not_equal(a, b, sizeof a);
    assert_false(vt_all_zero(a, sizeof a));
    uint32_t x = e2ee__random_u32(), y = e2ee__random_u32(), z = e2ee__random_u32();
    assert_false(x == y && y == z);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aead_null_and_length),
        cmocka_unit_test(test_aead_truncated),
        cmocka_unit_test(test_aead_tampering),
        cmocka_unit_test(test_aead_empty),
        cmocka_unit_test(test_aead_in_place),
        cmocka_unit_test(test_x25519_misuse),
        cmocka_unit_test(test_ed25519_misuse),
        cmocka_unit_test(test_hmac_misuse),
        cmocka_unit_test(test_hmac_many),
        cmocka_unit_test(test_hkdf_empty_inputs),
        cmocka_unit_test(test_hkdf_no_carry_over),
        cmocka_unit_test(test_hkdf_misuse),
        cmocka_unit_test(test_hkdf_expand),
        cmocka_unit_test(test_sha256_misuse),
        cmocka_unit_test(test_secret_buffer),
        cmocka_unit_test(test_ct_equal_is_zero_wipe),
        cmocka_unit_test(test_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
