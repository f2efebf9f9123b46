/* e2ee crypto: AES-256-GCM with a 96-bit nonce and a 128-bit tag (OpenSSL EVP). */
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <string.h>

#include "crypto/crypto_internal.h"

/* EVP takes int lengths; keep every length well inside that. */
static int len_ok(size_t n) { return n <= E2EE_CRYPTO_MAX_INPUT; }

/*
 * One context per call: the context holds the AES key schedule, and freeing it cleanses it,
 * so no key material outlives the call. The cipher object itself is fetched once.
 */
static int gcm(int enc, uint8_t *out, const uint8_t *key, const uint8_t *nonce,
               const uint8_t *ad, size_t adlen, const uint8_t *in, size_t inlen, uint8_t *tag)
{
    int rc = E2EE_ERR_CRYPTO, n = 0;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!ctx)
        return E2EE_ERR_NOMEM;
    if (EVP_CipherInit_ex2(ctx, e2ee__algs.aes256gcm, key, nonce, enc, NULL) != 1)
        goto done;
    if (adlen && EVP_CipherUpdate(ctx, NULL, &n, ad, (int)adlen) != 1)
        goto done;
    if (inlen && EVP_CipherUpdate(ctx, out, &n, in, (int)inlen) != 1)
        goto done;
    if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, E2EE_AEAD_TAG_LEN, tag) != 1)
        goto done;
    if (EVP_CipherFinal_ex(ctx, out + n, &n) != 1) {
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

int e2ee__aead_seal(uint8_t *out, const uint8_t key[E2EE_AEAD_KEY_LEN],
                    const uint8_t nonce[E2EE_AEAD_NONCE_LEN], const uint8_t *ad, size_t adlen,
                    const uint8_t *pt, size_t ptlen)
{
    if (!out || !key || !nonce || (!ad && adlen) || (!pt && ptlen))
        return E2EE_ERR_ARG;
    if (!len_ok(adlen) || !len_ok(ptlen))
        return E2EE_ERR_LENGTH;
    if (!E2EE_CRYPTO_READY())
        return E2EE_ERR_CRYPTO;
    int rc = gcm(1, out, key, nonce, ad, adlen, pt, ptlen, out + ptlen);
    if (rc != E2EE_OK)
        sodium_memzero(out, ptlen + E2EE_AEAD_TAG_LEN);
    return rc;
}

int e2ee__aead_open(uint8_t *out, const uint8_t key[E2EE_AEAD_KEY_LEN],
                    const uint8_t nonce[E2EE_AEAD_NONCE_LEN], const uint8_t *ad, size_t adlen,
                    const uint8_t *ct, size_t ctlen)
{
    if (!out || !key || !nonce || !ct || (!ad && adlen))
        return E2EE_ERR_ARG;
    if (ctlen < E2EE_AEAD_TAG_LEN || !len_ok(ctlen) || !len_ok(adlen))
        return E2EE_ERR_LENGTH;
    if (!E2EE_CRYPTO_READY())
        return E2EE_ERR_CRYPTO;
    size_t ptlen = ctlen - E2EE_AEAD_TAG_LEN;
    uint8_t tag[E2EE_AEAD_TAG_LEN];
    memcpy(tag, ct + ptlen, sizeof tag); /* out may alias ct */
    int rc = gcm(0, out, key, nonce, ad, adlen, ct, ptlen, tag);
    if (rc != E2EE_OK)
        sodium_memzero(out, ptlen);
    return rc;
}
