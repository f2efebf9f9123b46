/* e2ee crypto: state shared by the files of the crypto layer only. */
#ifndef E2EE_CRYPTO_INTERNAL_H
#define E2EE_CRYPTO_INTERNAL_H

#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "crypto/crypto.h"

struct e2ee__crypto_algs {
    EVP_CIPHER *aes256gcm;
    EVP_MD *sha256;
    EVP_MAC *hmac;
    EVP_KDF *hkdf;
};

/* Valid once e2ee__crypto_init() returned E2EE_OK. */
extern struct e2ee__crypto_algs e2ee__algs;

/* Returns the init status; used at the top of every entry point. */
#define E2EE_CRYPTO_READY() (e2ee__crypto_init() == E2EE_OK)

/*
 * Reusable OpenSSL contexts of the calling thread (thread.c). Each thread has its own, so no
 * context is ever shared; they are freed (and cleansed by OpenSSL) when the thread exits.
 * Between calls they hold no caller secret: every user re-keys them with the public
 * e2ee__crypto_scrub_key before returning (e2ee__crypto_thread_scrub_*).
 *
 *   hmac:      HMAC with SHA-256 set once; keyed per call with EVP_MAC_init.
 *   expand[E]: HKDF in EXPAND_ONLY mode with SHA-256 set once; key (the PRK) and info per
 *              call. expand[E2EE_EXPAND_NO_INFO] is only used for an empty info and is never
 *              given an info parameter: OpenSSL 3.0 crashes when a context that held a
 *              non-empty info is given an empty one (it keeps the old length with a NULL
 *              buffer), so an empty info must come from a context that never had one.
 */
#define E2EE_EXPAND_NO_INFO 0
#define E2EE_EXPAND_WITH_INFO 1
struct e2ee__crypto_thread {
    EVP_MAC_CTX *hmac;
    EVP_KDF_CTX *expand[2];
};

/* Public one-byte key that replaces a caller's key in a reused context after each call. */
extern const uint8_t e2ee__crypto_scrub_key[1];

/* Creates the thread-specific key (from e2ee__crypto_init). Returns E2EE_OK or an error. */
int e2ee__crypto_thread_setup(void);

/* This thread's contexts, created on first use; NULL when out of memory. */
struct e2ee__crypto_thread *e2ee__crypto_thread_get(void);

/*
 * Re-key one context of t with the scrub key, so that OpenSSL cleanses its copy of the
 * caller's key (the HMAC key, or the PRK and info); which is E2EE_EXPAND_*. When re-keying
 * fails the context is freed instead (freeing cleanses it) and the next call makes a new one.
 */
void e2ee__crypto_thread_scrub_hmac(struct e2ee__crypto_thread *t);
void e2ee__crypto_thread_scrub_expand(struct e2ee__crypto_thread *t, int which);

/* HMAC-SHA-256 with this thread's context; arguments already checked (key non-NULL). */
int e2ee__hmac_sha256_ctx(struct e2ee__crypto_thread *t, uint8_t out[E2EE_SHA256_LEN],
                          const uint8_t *key, size_t keylen, const uint8_t *msg, size_t len);

#endif
