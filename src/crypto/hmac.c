/* e2ee crypto: HMAC-SHA-256 (OpenSSL EVP_MAC). */
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "crypto/crypto_internal.h"

int e2ee__hmac_sha256(uint8_t out[E2EE_SHA256_LEN], const uint8_t *key, size_t keylen,
                      const uint8_t *msg, size_t len)
{
    if (!out)
        return E2EE_ERR_ARG;
    if ((!key && keylen) || (!msg && len)) {
        e2ee__wipe(out, E2EE_SHA256_LEN);
        return E2EE_ERR_ARG;
    }
    if (keylen > E2EE_HMAC_KEY_MAX || len > E2EE_CRYPTO_MAX_INPUT) {
        e2ee__wipe(out, E2EE_SHA256_LEN);
        return E2EE_ERR_LENGTH;
    }
    if (!E2EE_CRYPTO_READY())
        return E2EE_ERR_CRYPTO;
    static const uint8_t empty[1];
    OSSL_PARAM params[2] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA2-256", 0),
        OSSL_PARAM_construct_end(),
    };
    int rc = E2EE_ERR_CRYPTO;
    size_t outl = 0;
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(e2ee__algs.hmac); /* freeing it cleanses the key */
    if (!ctx)
        return E2EE_ERR_NOMEM;
    if (EVP_MAC_init(ctx, key ? key : empty, keylen, params) != 1)
        goto done;
    if (len && EVP_MAC_update(ctx, msg, len) != 1)
        goto done;
    if (EVP_MAC_final(ctx, out, &outl, E2EE_SHA256_LEN) != 1 || outl != E2EE_SHA256_LEN)
        goto done;
    rc = E2EE_OK;
done:
    EVP_MAC_CTX_free(ctx);
    if (rc != E2EE_OK)
        e2ee__wipe(out, E2EE_SHA256_LEN);
    return rc;
}
