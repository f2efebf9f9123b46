/*
 * e2ee crypto: AES-256-GCM with a 96-bit nonce and a 128-bit tag.
 *
 * Two implementations of the same standard cipher, chosen once at init (init.c):
 *
 * - libsodium's (AES-NI and PCLMUL, the only kind it has) on a CPU that has both: the key
 *   schedule lives in a stack state that is wiped before returning. It costs about 270 ns
 *   for a 256-byte message against about 700 ns for OpenSSL 3.0's EVP, whose per-call
 *   context, parameter lookups (EVP_CIPHER_CTX_get_iv_length and friends go through
 *   OSSL_PARAM name matching) and cleansing cost more than the cipher itself; a group message
 *   runs one AES-GCM beside one signature, so this is a visible share of its cost. Its
 *   decrypt (libsodium 1.0.18) compares the tag before it writes any plaintext; either way
 *   the callers below wipe the output on failure.
 * - OpenSSL's EVP otherwise (CPUs without AES-NI, other architectures), or when the
 *   environment variable E2EE_CRYPTO_AEAD is "openssl" (tests/crypto runs the AES-GCM tests
 *   both ways).
 *
 * OpenSSL path: one context per call; the context holds the AES key schedule and GHASH key,
 * and freeing it cleanses them. A reused context would have to be re-keyed to cleanse it,
 * which costs as much as a new one (measured: 672 ns against 638 ns for a 256-byte seal).
 * EVP takes int lengths: callers keep every length within E2EE_CRYPTO_MAX_INPUT.
 */
#include <openssl/evp.h>
#include <sodium.h>
#include <string.h>

#include "crypto/crypto_internal.h"

/* libsodium wants readable pointers even for empty inputs. */
static const uint8_t k_empty[1];

static int gcm_sodium(int enc, uint8_t *out, const uint8_t *key, const uint8_t *nonce,
                      const uint8_t *ad, size_t adlen, const uint8_t *in, size_t inlen,
                      uint8_t *tag)
{
    crypto_aead_aes256gcm_state st;
    int rc = E2EE_ERR_CRYPTO;
    if (!ad)
        ad = k_empty;
    if (!in)
        in = k_empty;
    if (crypto_aead_aes256gcm_beforenm(&st, key) != 0)
        goto done;
    if (enc)
        rc = crypto_aead_aes256gcm_encrypt_detached_afternm(out, tag, NULL, in, inlen, ad,
                                                            adlen, NULL, nonce, &st) == 0
                 ? E2EE_OK
                 : E2EE_ERR_CRYPTO;
    else
        rc = crypto_aead_aes256gcm_decrypt_detached_afternm(out, NULL, in, inlen, tag, ad,
                                                            adlen, nonce, &st) == 0
                 ? E2EE_OK
                 : E2EE_ERR_AUTH;
done:
    sodium_memzero(&st, sizeof st);
    return rc;
}

static int gcm_openssl(int enc, uint8_t *out, const uint8_t *key, const uint8_t *nonce,
                       const uint8_t *ad, size_t adlen, const uint8_t *in, size_t inlen,
                       uint8_t *tag)
{
    int rc = E2EE_ERR_CRYPTO, n = 0, fin = 0;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!ctx) {
        rc = E2EE_ERR_NOMEM;
        goto done;
    }
    if (EVP_CipherInit_ex2(ctx, e2ee__algs.aes256gcm, key, nonce, enc, NULL) != 1)
        goto done;
    if (adlen && EVP_CipherUpdate(ctx, NULL, &n, ad, (int)adlen) != 1)
        goto done;
    n = 0;
    if (inlen && EVP_CipherUpdate(ctx, out, &n, in, (int)inlen) != 1)
        goto done;
    if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, E2EE_AEAD_TAG_LEN, tag) != 1)
        goto done;
    if (EVP_CipherFinal_ex(ctx, out + n, &fin) != 1) {
        rc = enc ? E2EE_ERR_CRYPTO : E2EE_ERR_AUTH;
        goto done;
    }
    if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, E2EE_AEAD_TAG_LEN, tag) != 1)
        goto done;
    rc = E2EE_OK;
done:
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

static int gcm(int enc, uint8_t *out, const uint8_t *key, const uint8_t *nonce,
               const uint8_t *ad, size_t adlen, const uint8_t *in, size_t inlen, uint8_t *tag)
{
    if (e2ee__algs.aead_sodium)
        return gcm_sodium(enc, out, key, nonce, ad, adlen, in, inlen, tag);
    return gcm_openssl(enc, out, key, nonce, ad, adlen, in, inlen, tag);
}

int e2ee__aead_seal(uint8_t *out, const uint8_t key[E2EE_AEAD_KEY_LEN],
                    const uint8_t nonce[E2EE_AEAD_NONCE_LEN], const uint8_t *ad, size_t adlen,
                    const uint8_t *pt, size_t ptlen)
{
    int rc;
    if (!out)
        return E2EE_ERR_ARG;
    if (ptlen > E2EE_CRYPTO_MAX_INPUT)
        return E2EE_ERR_LENGTH; /* out's size cannot be trusted: leave it alone */
    if (!key || !nonce || (!ad && adlen) || (!pt && ptlen))
        rc = E2EE_ERR_ARG;
    else if (adlen > E2EE_CRYPTO_MAX_INPUT)
        rc = E2EE_ERR_LENGTH;
    else if (!E2EE_CRYPTO_READY())
        rc = E2EE_ERR_CRYPTO;
    else
        rc = gcm(1, out, key, nonce, ad, adlen, pt, ptlen, out + ptlen);
    if (rc != E2EE_OK)
        e2ee__wipe(out, ptlen + E2EE_AEAD_TAG_LEN);
    return rc;
}

int e2ee__aead_open(uint8_t *out, const uint8_t key[E2EE_AEAD_KEY_LEN],
                    const uint8_t nonce[E2EE_AEAD_NONCE_LEN], const uint8_t *ad, size_t adlen,
                    const uint8_t *ct, size_t ctlen)
{
    uint8_t tag[E2EE_AEAD_TAG_LEN];
    int rc;
    if (!out)
        return E2EE_ERR_ARG;
    if (ctlen < E2EE_AEAD_TAG_LEN || ctlen - E2EE_AEAD_TAG_LEN > E2EE_CRYPTO_MAX_INPUT)
        return E2EE_ERR_LENGTH; /* no output, or out's size cannot be trusted */
    size_t ptlen = ctlen - E2EE_AEAD_TAG_LEN;
    if (!key || !nonce || !ct || (!ad && adlen)) {
        rc = E2EE_ERR_ARG;
    } else if (adlen > E2EE_CRYPTO_MAX_INPUT) {
        rc = E2EE_ERR_LENGTH;
    } else if (!E2EE_CRYPTO_READY()) {
        rc = E2EE_ERR_CRYPTO;
    } else {
        memcpy(tag, ct + ptlen, sizeof tag); /* out may alias ct */
        rc = gcm(0, out, key, nonce, ad, adlen, ct, ptlen, tag);
    }
    if (rc != E2EE_OK)
        e2ee__wipe(out, ptlen); /* unauthenticated plaintext never reaches the caller */
    return rc;
}
