/* e2ee crypto: HMAC-SHA-256 (OpenSSL EVP_MAC, with this thread's reusable context). */
#include <openssl/evp.h>

#include "crypto/crypto_internal.h"

int e2ee__hmac_sha256_ctx(struct e2ee__crypto_thread *t, uint8_t out[E2EE_SHA256_LEN],
                          const uint8_t *key, size_t keylen, const uint8_t *msg, size_t len)
{
    int rc = E2EE_ERR_CRYPTO;
    size_t outl = 0;
    /* key is never NULL here: EVP_MAC_init with a NULL key would keep the previous one */
    if (EVP_MAC_init(t->hmac, key, keylen, NULL) != 1)
        goto done;
    if (len && EVP_MAC_update(t->hmac, msg, len) != 1)
        goto done;
    if (EVP_MAC_final(t->hmac, out, &outl, E2EE_SHA256_LEN) != 1 || outl != E2EE_SHA256_LEN)
        goto done;
    rc = E2EE_OK;
done:
    e2ee__crypto_thread_scrub_hmac(t);
    if (rc != E2EE_OK)
        e2ee__wipe(out, E2EE_SHA256_LEN);
    return rc;
}

int e2ee__hmac_sha256(uint8_t out[E2EE_SHA256_LEN], const uint8_t *key, size_t keylen,
                      const uint8_t *msg, size_t len)
{
    static const uint8_t empty[1];
    struct e2ee__crypto_thread *t = NULL;
    int rc;
    if (!out)
        return E2EE_ERR_ARG;
    if ((!key && keylen) || (!msg && len))
        rc = E2EE_ERR_ARG;
    else if (keylen > E2EE_HMAC_KEY_MAX || len > E2EE_CRYPTO_MAX_INPUT)
        rc = E2EE_ERR_LENGTH;
    else if (!E2EE_CRYPTO_READY())
        rc = E2EE_ERR_CRYPTO;
    else if (!(t = e2ee__crypto_thread_get()))
        rc = E2EE_ERR_NOMEM;
    else
        rc = e2ee__hmac_sha256_ctx(t, out, key ? key : empty, keylen, msg, len);
    if (rc != E2EE_OK)
        e2ee__wipe(out, E2EE_SHA256_LEN);
    return rc;
}
