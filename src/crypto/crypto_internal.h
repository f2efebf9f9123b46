/* e2ee crypto: state shared by the files of the crypto layer only. */
#ifndef E2EE_CRYPTO_INTERNAL_H
#define E2EE_CRYPTO_INTERNAL_H

#include <openssl/evp.h>

#include "crypto/crypto.h"

struct e2ee__crypto_algs {
    int aead_sodium; /* AES-256-GCM through libsodium (aead.c), else OpenSSL's aes256gcm */
    EVP_CIPHER *aes256gcm;
    EVP_MD *sha256;
    EVP_MAC *hmac;
};

/* Valid once e2ee__crypto_init() returned E2EE_OK. */
extern struct e2ee__crypto_algs e2ee__algs;

/* Returns the init status; used at the top of every entry point. */
#define E2EE_CRYPTO_READY() (e2ee__crypto_init() == E2EE_OK)

/*
 * Reusable OpenSSL context of the calling thread (thread.c). Each thread has its own, so no
 * context is ever shared; it is freed (and cleansed by OpenSSL) when the thread exits.
 * Between calls it holds no caller secret: every user re-keys it with the public
 * e2ee__crypto_scrub_key before returning (e2ee__crypto_thread_scrub_hmac).
 *
 *   hmac: HMAC with SHA-256 set once; keyed per call with EVP_MAC_init. HMAC (hmac.c) and
 *         both HKDF steps (hkdf.c) run on it.
 */
struct e2ee__crypto_thread {
    EVP_MAC_CTX *hmac;
};

/* Public one-byte key that replaces a caller's key in a reused context after each call. */
extern const uint8_t e2ee__crypto_scrub_key[1];

/* Creates the thread-specific key (from e2ee__crypto_init). Returns E2EE_OK or an error. */
int e2ee__crypto_thread_setup(void);

/* This thread's context, created on first use; NULL when out of memory. */
struct e2ee__crypto_thread *e2ee__crypto_thread_get(void);

/*
 * Re-keys the context of t with the scrub key, so that OpenSSL cleanses its copy of the
 * caller's key and the hash states derived from it. When re-keying fails the context is
 * freed instead (freeing cleanses it) and the next call makes a new one.
 */
void e2ee__crypto_thread_scrub_hmac(struct e2ee__crypto_thread *t);

/*
 * HMAC-SHA-256 with this thread's context; arguments already checked (key non-NULL). Leaves
 * the key in the context: the caller must re-key it (as HKDF-Expand does next) and scrub it
 * before returning. On failure out is wiped.
 */
int e2ee__hmac_sha256_keep(struct e2ee__crypto_thread *t, uint8_t out[E2EE_SHA256_LEN],
                           const uint8_t *key, size_t keylen, const uint8_t *msg, size_t len);

#endif
