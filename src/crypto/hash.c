/* e2ee crypto: SHA-256 (OpenSSL EVP). */
#include <openssl/evp.h>

#include "crypto/crypto_internal.h"

int e2ee__sha256_parts(uint8_t out[E2EE_SHA256_LEN], const uint8_t *const *parts,
                       const size_t *lens, size_t n)
{
    if (!out || (n && (!parts || !lens)))
        return E2EE_ERR_ARG;
    for (size_t i = 0; i < n; i++) {
        if (!parts[i] && lens[i])
            return E2EE_ERR_ARG;
        if (lens[i] > E2EE_CRYPTO_MAX_INPUT)
            return E2EE_ERR_LENGTH;
    }
    if (!E2EE_CRYPTO_READY())
        return E2EE_ERR_CRYPTO;
    int rc = E2EE_ERR_CRYPTO;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        return E2EE_ERR_NOMEM;
    if (EVP_DigestInit_ex2(ctx, e2ee__algs.sha256, NULL) != 1)
        goto done;
    for (size_t i = 0; i < n; i++) {
        if (lens[i] && EVP_DigestUpdate(ctx, parts[i], lens[i]) != 1)
            goto done;
    }
    if (EVP_DigestFinal_ex(ctx, out, NULL) != 1)
        goto done;
    rc = E2EE_OK;
done:
    EVP_MD_CTX_free(ctx);
    if (rc != E2EE_OK)
        e2ee__wipe(out, E2EE_SHA256_LEN);
    return rc;
}

int e2ee__sha256(uint8_t out[E2EE_SHA256_LEN], const uint8_t *in, size_t len)
{
    return e2ee__sha256_parts(out, &in, &len, 1);
}
