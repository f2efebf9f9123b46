/*
 * e2ee crypto: HKDF-SHA-256, RFC 5869, over OpenSSL's HMAC-SHA-256 (this thread's context).
 *
 * Extract is PRK = HMAC-SHA-256(salt, IKM) (RFC 5869 2.2); Expand is T(i) = HMAC-SHA-256(PRK,
 * T(i-1) || info || i) for i = 1..N, output the first L bytes of T(1) || ... || T(N)
 * (RFC 5869 2.3). Both are the RFC's definitions written over OpenSSL's HMAC, not a new
 * primitive; RFC 5869 and Wycheproof vectors check them (tests/crypto).
 *
 * Why not OpenSSL's EVP_KDF "HKDF": in OpenSSL 3.0 every derive allocates and keys a new
 * HMAC context inside the provider, and parses its parameters, which cost more than the
 * hashing for the short outputs used here (a group message's key and nonce: 1,430 ns through
 * EVP_KDF against 1,100 ns here, scrub included). OpenSSL 3.0's HKDF also freed its copy of
 * the salt without cleansing it. One HMAC context keyed once with the PRK computes every
 * block; after the call it is re-keyed with the public scrub key (thread.c), so neither salt,
 * PRK nor info outlives the call. An empty salt is the empty HMAC key, which HMAC pads with
 * zeros: the HashLen zero bytes of RFC 5869.
 */
#include <openssl/evp.h>
#include <string.h>

#include "crypto/crypto_internal.h"

static const uint8_t k_empty[1];

/* HKDF-Expand with this thread's context, which it leaves scrubbed; arguments checked. */
static int expand(struct e2ee__crypto_thread *t, uint8_t *out, size_t outlen,
                  const uint8_t *prk, size_t prklen, const uint8_t *info, size_t infolen)
{
    uint8_t block[E2EE_SHA256_LEN];
    int rc = E2EE_ERR_CRYPTO;
    size_t got = 0, n = 0;
    /* keyed once; EVP_MAC_init with a NULL key restarts with the key it holds */
    if (EVP_MAC_init(t->hmac, prk, prklen, NULL) != 1)
        goto done;
    /* outlen <= 255 * HashLen, so the counter stays within 1..255 (RFC 5869 2.3) */
    for (unsigned i = 1; got < outlen; i++) {
        uint8_t counter = (uint8_t)i;
        if (i > 1 && (EVP_MAC_init(t->hmac, NULL, 0, NULL) != 1 ||
                      EVP_MAC_update(t->hmac, block, sizeof block) != 1))
            goto done;
        if (infolen && EVP_MAC_update(t->hmac, info, infolen) != 1)
            goto done;
        if (EVP_MAC_update(t->hmac, &counter, 1) != 1 ||
            EVP_MAC_final(t->hmac, block, &n, sizeof block) != 1 || n != sizeof block)
            goto done;
        size_t take = outlen - got < sizeof block ? outlen - got : sizeof block;
        memcpy(out + got, block, take);
        got += take;
    }
    rc = E2EE_OK;
done:
    e2ee__crypto_thread_scrub_hmac(t);
    e2ee__wipe(block, sizeof block);
    return rc;
}

static int extract_expand(struct e2ee__crypto_thread *t, uint8_t *out, size_t outlen,
                          const uint8_t *ikm, size_t ikmlen, const uint8_t *salt,
                          size_t saltlen, const uint8_t *info, size_t infolen)
{
    uint8_t prk[E2EE_SHA256_LEN];
    /* the context keeps the salt until expand re-keys it with the PRK, then scrubs it */
    int rc = e2ee__hmac_sha256_keep(t, prk, salt ? salt : k_empty, saltlen,
                                    ikm ? ikm : k_empty, ikmlen);
    if (rc == E2EE_OK)
        rc = expand(t, out, outlen, prk, sizeof prk, info, infolen);
    else
        e2ee__crypto_thread_scrub_hmac(t);
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
