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

/* HKDF-Expand with this thread's context; arguments already checked. */
static int expand(struct e2ee__crypto_thread *t, uint8_t *out, size_t outlen,
                  const uint8_t *prk, size_t prklen, const uint8_t *info, size_t infolen)
{
    /* a non-empty info always replaces the last one; an empty info goes to the context
     * that never takes one (OpenSSL 3.0 cannot reset a context's info to empty) */
    int which = infolen ? E2EE_EXPAND_WITH_INFO : E2EE_EXPAND_NO_INFO;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)prk, prklen),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, infolen),
        OSSL_PARAM_construct_end(),
    };
    if (!infolen)
        params[1] = OSSL_PARAM_construct_end();
    int rc = EVP_KDF_derive(t->expand[which], out, outlen, params) == 1 ? E2EE_OK
                                                                         : E2EE_ERR_CRYPTO;
    e2ee__crypto_thread_scrub_expand(t, which);
    return rc;
}

static int extract_expand(struct e2ee__crypto_thread *t, uint8_t *out, size_t outlen,
                          const uint8_t *ikm, size_t ikmlen, const uint8_t *salt,
                          size_t saltlen, const uint8_t *info, size_t infolen)
{
    uint8_t prk[E2EE_SHA256_LEN];
    int rc = e2ee__hmac_sha256_ctx(t, prk, salt ? salt : k_empty, saltlen,
                                   ikm ? ikm : k_empty, ikmlen);
    if (rc == E2EE_OK)
        rc = expand(t, out, outlen, prk, sizeof prk, info, infolen);
    e2ee__wipe(prk, sizeof prk);
    return rc;
}

/* Checks shared by both entry points; E2EE_OK or the error to return. */
static int check_out_info(size_t outlen, const uint8_t *info, size_t infolen)
{
    if (!info && infolen)
        return E2EE_ERR_ARG;
    if (outlen == 0 || outlen > E2EE_HKDF_MAX_OUT || infolen > E2EE_HKDF_INFO_MAX)
        return E2EE_ERR_LENGTH;
    return E2EE_OK;
}

/* This thread's contexts once the library is ready, or the error to return. */
static int ready(struct e2ee__crypto_thread **t)
{
    if (!E2EE_CRYPTO_READY())
        return E2EE_ERR_CRYPTO;
    *t = e2ee__crypto_thread_get();
    return *t ? E2EE_OK : E2EE_ERR_NOMEM;
}

int e2ee__hkdf_sha256(uint8_t *out, size_t outlen, const uint8_t *ikm, size_t ikmlen,
                      const uint8_t *salt, size_t saltlen, const uint8_t *info, size_t infolen)
{
    struct e2ee__crypto_thread *t = NULL;
    if (!out)
        return E2EE_ERR_ARG;
    int rc = check_out_info(outlen, info, infolen);
    if (rc == E2EE_OK && ((!ikm && ikmlen) || (!salt && saltlen)))
        rc = E2EE_ERR_ARG;
    if (rc == E2EE_OK && (ikmlen > E2EE_CRYPTO_MAX_INPUT || saltlen > E2EE_CRYPTO_MAX_INPUT))
        rc = E2EE_ERR_LENGTH;
    if (rc == E2EE_OK)
        rc = ready(&t);
    if (rc == E2EE_OK)
        rc = extract_expand(t, out, outlen, ikm, ikmlen, salt, saltlen, info, infolen);
    if (rc != E2EE_OK)
        e2ee__wipe(out, outlen <= E2EE_CRYPTO_MAX_INPUT ? outlen : 0);
    return rc;
}

int e2ee__hkdf_sha256_expand(uint8_t *out, size_t outlen, const uint8_t *prk, size_t prklen,
                             const uint8_t *info, size_t infolen)
{
    struct e2ee__crypto_thread *t = NULL;
    if (!out)
        return E2EE_ERR_ARG;
    int rc = check_out_info(outlen, info, infolen);
    if (rc == E2EE_OK && !prk)
        rc = E2EE_ERR_ARG;
    if (rc == E2EE_OK && (prklen < E2EE_SHA256_LEN || prklen > E2EE_HMAC_KEY_MAX))
        rc = E2EE_ERR_LENGTH;
    if (rc == E2EE_OK)
        rc = ready(&t);
    if (rc == E2EE_OK)
        rc = expand(t, out, outlen, prk, prklen, info, infolen);
    if (rc != E2EE_OK)
        e2ee__wipe(out, outlen <= E2EE_CRYPTO_MAX_INPUT ? outlen : 0);
    return rc;
}
