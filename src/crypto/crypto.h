/*
 * e2ee internal: the crypto layer. The only code in the project that touches libsodium or
 * OpenSSL (TLS in the transport code aside). Every other layer does its cryptography here.
 *
 * Curve operations, randomness, wiping and guarded memory come from libsodium; HMAC-SHA-256
 * and SHA-256 from OpenSSL 3 EVP with algorithms fetched once, and HKDF-SHA-256 is RFC 5869
 * written over that HMAC (hkdf.c says why). AES-256-GCM comes from libsodium's AES-NI
 * implementation on CPUs that have AES-NI and PCLMUL (faster per call, see aead.c), else
 * from OpenSSL 3 EVP; both are the same standard cipher and give the same bytes.
 *
 * Conventions: every function checks its arguments and returns E2EE_OK or a negative
 * enum e2ee_err; none aborts on bad input. Errors: E2EE_ERR_ARG for a NULL pointer (a NULL
 * buffer is allowed only with length 0), E2EE_ERR_LENGTH for a length over its limit,
 * E2EE_ERR_RANGE for a count out of its range, E2EE_ERR_AUTH for a bad tag or signature,
 * E2EE_ERR_WEAK_KEY for a low-order X25519 point, E2EE_ERR_NOMEM, and E2EE_ERR_CRYPTO when
 * the underlying library fails.
 *
 * Outputs on failure: every output buffer is wiped over the length the arguments give it,
 * whatever the error, with two exceptions where nothing is written: a NULL output (then
 * E2EE_ERR_ARG), and an output length over E2EE_CRYPTO_MAX_INPUT (then E2EE_ERR_LENGTH: a
 * length that large cannot be trusted to describe the buffer).
 *
 * Threads: all functions are thread-safe once e2ee__crypto_init() has returned E2EE_OK
 * (every function calls it on first use). HMAC and HKDF reuse one OpenSSL HMAC context per
 * thread (never shared between threads, freed when the thread exits); between calls it holds
 * no caller key (see e2ee__crypto_thread_scrubbed). AES-GCM and SHA-256 keep no state between
 * calls (bench/bench_crypto.c measures every function).
 */
#ifndef E2EE_CRYPTO_H
#define E2EE_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "e2ee/error.h"

#define E2EE_X25519_KEY_LEN 32
#define E2EE_ED25519_PK_LEN 32
#define E2EE_ED25519_SK_LEN 64  /* libsodium layout: seed || public key */
#define E2EE_ED25519_SEED_LEN 32
#define E2EE_ED25519_SIG_LEN 64
#define E2EE_AEAD_KEY_LEN 32
#define E2EE_AEAD_NONCE_LEN 12
#define E2EE_AEAD_TAG_LEN 16
#define E2EE_SHA256_LEN 32
#define E2EE_HMAC_KEY_MAX 4096          /* longest HMAC key accepted */
#define E2EE_HMAC_MANY_MAX 16           /* most messages of one e2ee__hmac_sha256_many call */
#define E2EE_HKDF_MAX_OUT (255 * 32)     /* RFC 5869 limit for SHA-256 */
#define E2EE_HKDF_INFO_MAX 1024          /* longest HKDF info (OpenSSL 3.0 HKDF's, kept) */
#define E2EE_CRYPTO_MAX_INPUT ((size_t)1 << 30) /* longest single input (1 GiB) */

/* Initialises libsodium and fetches the OpenSSL algorithms. Idempotent, thread-safe. */
E2EE_MUST_CHECK int e2ee__crypto_init(void);

/* ---- randomness and memory (libsodium) ---- */

/* Fills buf with len bytes from the CSPRNG. len may be 0. */
E2EE_MUST_CHECK int e2ee__random_bytes(uint8_t *buf, size_t len);

/* Uniform random 32-bit value. */
uint32_t e2ee__random_u32(void);

/* Wipes len bytes at p (never optimised away). NULL with len 0 is allowed. */
void e2ee__wipe(void *p, size_t len);

/* Constant-time equality of two len-byte buffers: 1 if equal, 0 otherwise (also 0 on NULL). */
int e2ee__ct_equal(const void *a, const void *b, size_t len);

/* 1 if every byte of p[0..len) is zero, in constant time. */
int e2ee__is_zero(const void *p, size_t len);

/*
 * Secret buffer for long-term secrets: guarded memory (libsodium sodium_malloc: guard pages,
 * canary, locked against swapping where allowed). Free always wipes. Ownership: the caller
 * owns what _new returns and releases it with _free (NULL is a no-op).
 */
typedef struct e2ee__secret {
    uint8_t *ptr;
    size_t len;
} e2ee__secret;

E2EE_MUST_CHECK int e2ee__secret_new(e2ee__secret **out, size_t len);
void e2ee__secret_free(e2ee__secret *s);

/* ---- X25519 (libsodium) ---- */

/* New random key pair. */
E2EE_MUST_CHECK int e2ee__x25519_keypair(uint8_t pk[E2EE_X25519_KEY_LEN],
                                         uint8_t sk[E2EE_X25519_KEY_LEN]);

/* Public key of a secret key. */
E2EE_MUST_CHECK int e2ee__x25519_public(uint8_t pk[E2EE_X25519_KEY_LEN],
                                        const uint8_t sk[E2EE_X25519_KEY_LEN]);

/* Shared secret = X25519(sk, pk). An all-zero result (low-order pk) is E2EE_ERR_WEAK_KEY and
 * leaves `shared` zeroed. */
E2EE_MUST_CHECK int e2ee__x25519(uint8_t shared[E2EE_X25519_KEY_LEN],
                                 const uint8_t sk[E2EE_X25519_KEY_LEN],
                                 const uint8_t pk[E2EE_X25519_KEY_LEN]);

/* ---- Ed25519 (libsodium) ---- */

E2EE_MUST_CHECK int e2ee__ed25519_keypair(uint8_t pk[E2EE_ED25519_PK_LEN],
                                          uint8_t sk[E2EE_ED25519_SK_LEN]);
E2EE_MUST_CHECK int e2ee__ed25519_seed_keypair(uint8_t pk[E2EE_ED25519_PK_LEN],
                                               uint8_t sk[E2EE_ED25519_SK_LEN],
                                               const uint8_t seed[E2EE_ED25519_SEED_LEN]);
/* Detached signature over msg (msg may be NULL when len is 0). */
E2EE_MUST_CHECK int e2ee__ed25519_sign(uint8_t sig[E2EE_ED25519_SIG_LEN], const uint8_t *msg,
                                       size_t len, const uint8_t sk[E2EE_ED25519_SK_LEN]);
/* E2EE_OK if sig is a valid signature of msg by pk, else E2EE_ERR_AUTH. */
E2EE_MUST_CHECK int e2ee__ed25519_verify(const uint8_t sig[E2EE_ED25519_SIG_LEN],
                                         const uint8_t *msg, size_t len,
                                         const uint8_t pk[E2EE_ED25519_PK_LEN]);

/* ---- AES-256-GCM (OpenSSL EVP), 96-bit nonce, 128-bit tag ---- */

/*
 * Seals pt into out, which receives ptlen + E2EE_AEAD_TAG_LEN bytes (ciphertext || tag).
 * out may equal pt (in place; no other overlap). ad may be NULL when adlen is 0; pt may be
 * NULL when ptlen is 0. ptlen and adlen at most E2EE_CRYPTO_MAX_INPUT (else E2EE_ERR_LENGTH).
 * On failure out is wiped (ptlen + 16 bytes; in place, that wipes the plaintext too).
 */
E2EE_MUST_CHECK int e2ee__aead_seal(uint8_t *out, const uint8_t key[E2EE_AEAD_KEY_LEN],
                                    const uint8_t nonce[E2EE_AEAD_NONCE_LEN],
                                    const uint8_t *ad, size_t adlen,
                                    const uint8_t *pt, size_t ptlen);

/*
 * Opens ct (ciphertext || tag) into out (ctlen - 16 bytes). ctlen < E2EE_AEAD_TAG_LEN is
 * E2EE_ERR_LENGTH (no output). E2EE_ERR_AUTH when the tag does not verify (wrong key, nonce,
 * ad, ciphertext or tag); then out is wiped, so no unauthenticated byte reaches the caller.
 * out may equal ct (in place; no other overlap).
 */
E2EE_MUST_CHECK int e2ee__aead_open(uint8_t *out, const uint8_t key[E2EE_AEAD_KEY_LEN],
                                    const uint8_t nonce[E2EE_AEAD_NONCE_LEN],
                                    const uint8_t *ad, size_t adlen,
                                    const uint8_t *ct, size_t ctlen);

/* ---- hashes and KDFs (OpenSSL EVP) ---- */

E2EE_MUST_CHECK int e2ee__sha256(uint8_t out[E2EE_SHA256_LEN], const uint8_t *in, size_t len);

/* SHA-256 over the concatenation of n parts (parts[i] may be NULL when lens[i] is 0). */
E2EE_MUST_CHECK int e2ee__sha256_parts(uint8_t out[E2EE_SHA256_LEN], const uint8_t *const *parts,
                                       const size_t *lens, size_t n);

/* HMAC-SHA-256. keylen 0..E2EE_HMAC_KEY_MAX (key may be NULL when keylen is 0; a longer key
 * is E2EE_ERR_LENGTH); len at most E2EE_CRYPTO_MAX_INPUT. */
E2EE_MUST_CHECK int e2ee__hmac_sha256(uint8_t out[E2EE_SHA256_LEN], const uint8_t *key,
                                      size_t keylen, const uint8_t *msg, size_t len);

/*
 * n HMAC-SHA-256 under one key: out[i] = HMAC(key, msgs[i]) for i < n, the same values as n
 * calls of e2ee__hmac_sha256 at a lower cost (the key schedule is computed once). n is
 * 1..E2EE_HMAC_MANY_MAX (else E2EE_ERR_RANGE, nothing written); msgs[i] may be NULL when
 * lens[i] is 0; key and lengths as for e2ee__hmac_sha256. On failure all n outputs are wiped.
 * Made for chain steps that derive several values from one chain key.
 */
E2EE_MUST_CHECK int e2ee__hmac_sha256_many(uint8_t (*out)[E2EE_SHA256_LEN], const uint8_t *key,
                                           size_t keylen, const uint8_t *const *msgs,
                                           const size_t *lens, size_t n);

/*
 * HKDF-SHA-256 (RFC 5869) extract-and-expand. ikm, salt and info may each be empty (NULL with
 * length 0); an empty salt is RFC 5869's HashLen zero bytes. outlen 1..E2EE_HKDF_MAX_OUT and
 * infolen at most E2EE_HKDF_INFO_MAX, else E2EE_ERR_LENGTH with out wiped (unless outlen is
 * over E2EE_CRYPTO_MAX_INPUT, see the conventions above). The salt may be secret: it is used
 * only as an HMAC key, which OpenSSL cleanses (see hkdf.c).
 */
E2EE_MUST_CHECK int e2ee__hkdf_sha256(uint8_t *out, size_t outlen,
                                      const uint8_t *ikm, size_t ikmlen,
                                      const uint8_t *salt, size_t saltlen,
                                      const uint8_t *info, size_t infolen);

/*
 * HKDF-Expand alone (RFC 5869 2.3): out = HKDF-Expand(prk, info, outlen), for a key that is
 * already uniformly random (RFC 5869 3.3), such as an HMAC-SHA-256 output; it skips the
 * Extract step (one HMAC) of e2ee__hkdf_sha256 and gives different output from it.
 * prklen E2EE_SHA256_LEN..E2EE_HMAC_KEY_MAX; outlen and info as for e2ee__hkdf_sha256.
 */
E2EE_MUST_CHECK int e2ee__hkdf_sha256_expand(uint8_t *out, size_t outlen,
                                             const uint8_t *prk, size_t prklen,
                                             const uint8_t *info, size_t infolen);

/* ---- test hook ---- */

/*
 * 1 when the reusable HMAC context of the calling thread (HMAC, HKDF) holds no caller key:
 * recomputes with what it holds and compares with a context keyed only with the public scrub
 * key. For tests of the "no secret outlives the call" rule; not for production code.
 */
int e2ee__crypto_thread_scrubbed(void);

#endif
