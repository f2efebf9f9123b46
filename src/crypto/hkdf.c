/*
 * e2ee crypto: HKDF-SHA-256, RFC 5869.
 *
 * Extract is PRK = HMAC-SHA-256(salt, IKM) (RFC 5869 2.2), computed with OpenSSL's HMAC;
 * Expand is OpenSSL's HKDF (EVP_KDF "HKDF", mode EXPAND_ONLY) keyed with the PRK. The salt
 * does not go to OpenSSL's HKDF because OpenSSL 3.0 frees its copy of the salt without
 * cleansing it (providers/implementations/kdfs/hkdf.c), and callers pass secrets as salt
 * (a root key); the HMAC key and the HKDF key are both cleansed by OpenSSL. An empty salt
 * is the empty HMAC key, which HMAC pads with zeros: the HashLen zero bytes of RFC 5869.
 */
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "crypto/crypto_internal.h"

static const uint8_t k_empty[1];

static int derive(struct e2ee__crypto_thread *t, uint8_t *out, size_t outlen,
                  const uint8_t *ikm, size_t ikmlen, const uint8_t *salt, size_t saltlen,
                  const uint8_t *info, size_t infolen)
{
    /* a non-empty info always replaces the last one; an empty info goes to the context
     * that never takes one (OpenSSL 3.0 cannot reset a context's info to empty) */
    int which = infolen ? E2EE_EXPAND_WITH_INFO : E2EE_EXPAND_NO_INFO;
    uint8_t prk[E2EE_SHA256_LEN];
    int rc = e2ee__hmac_sha256_ctx(t, prk, salt ? salt : k_empty, saltlen,
                                   ikm ? ikm : k_empty, ikmlen);
    if (rc != E2EE_OK)
        goto done;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, prk, sizeof prk),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, infolen),
        OSSL_PARAM_construct_end(),
    };
    if (!infolen)
        params[1] = OSSL_PARAM_construct_end();
    if (EVP_KDF_derive(t->expand[which], out, outlen, params) != 1)
        rc = E2EE_ERR_CRYPTO;
done:
    e2ee__crypto_thread_scrub_expand(t, which);
    e2ee__wipe(prk, sizeof prk);
    return rc;
}

int e2ee__hkdf_sha256(uint8_t *out, size_t outlen, const uint8_t *ikm, size_t ikmlen,
                      const uint8_t *salt, size_t saltlen, const uint8_t *info, size_t infolen)
{
    struct e2ee__crypto_thread *t = NULL;
    int rc;
    if (!out)
        return E2EE_ERR_ARG;
    if ((!ikm && ikmlen) || (!salt && saltlen) || (!info && infolen))
        rc = E2EE_ERR_ARG;
    else if (outlen == 0 || outlen > E2EE_HKDF_MAX_OUT || ikmlen > E2EE_CRYPTO_MAX_INPUT ||
             saltlen > E2EE_CRYPTO_MAX_INPUT || infolen > E2EE_HKDF_INFO_MAX)
        rc = E2EE_ERR_LENGTH;
    else if (!E2EE_CRYPTO_READY())
        rc = E2EE_ERR_CRYPTO;
    else if (!(t = e2ee__crypto_thread_get()))
        rc = E2EE_ERR_NOMEM;
    else
        rc = derive(t, out, outlen, ikm, ikmlen, salt, saltlen, info, infolen);
    if (rc != E2EE_OK)
        e2ee__wipe(out, outlen <= E2EE_CRYPTO_MAX_INPUT ? outlen : 0);
    return rc;
}
