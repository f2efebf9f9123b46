/* e2ee crypto: HKDF-SHA-256, RFC 5869 (OpenSSL EVP_KDF). */
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "crypto/crypto_internal.h"

int e2ee__hkdf_sha256(uint8_t *out, size_t outlen, const uint8_t *ikm, size_t ikmlen,
                      const uint8_t *salt, size_t saltlen, const uint8_t *info, size_t infolen)
{
    if (!out)
        return E2EE_ERR_ARG;
    int rc = E2EE_ERR_ARG;
    if ((!ikm && ikmlen) || (!salt && saltlen) || (!info && infolen))
        goto fail;
    rc = E2EE_ERR_LENGTH;
    if (outlen == 0 || outlen > E2EE_HKDF_MAX_OUT || ikmlen > E2EE_CRYPTO_MAX_INPUT ||
        saltlen > E2EE_CRYPTO_MAX_INPUT || infolen > E2EE_HKDF_INFO_MAX)
        goto fail;
    rc = E2EE_ERR_CRYPTO;
    if (!E2EE_CRYPTO_READY())
        goto fail;

    /*
     * An absent salt means HashLen zero bytes (RFC 5869 2.2); passing them explicitly gives
     * the same PRK.
     */
    static const uint8_t zeros[E2EE_SHA256_LEN];
    OSSL_PARAM params[5], *p = params;
    *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA2-256", 0);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)(ikmlen ? ikm : zeros),
                                             ikmlen);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
                                             (void *)(saltlen ? salt : zeros),
                                             saltlen ? saltlen : sizeof zeros);
    if (infolen)
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, infolen);
    *p = OSSL_PARAM_construct_end();

    EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(e2ee__algs.hkdf); /* freeing it cleanses its copies */
    if (!ctx) {
        rc = E2EE_ERR_NOMEM;
        goto fail;
    }
    int ok = EVP_KDF_derive(ctx, out, outlen, params);
    EVP_KDF_CTX_free(ctx);
    if (ok == 1)
        return E2EE_OK;
fail:
    e2ee__wipe(out, outlen <= E2EE_CRYPTO_MAX_INPUT ? outlen : 0);
    return rc;
}
