/* e2ee crypto: HMAC-SHA-256 (OpenSSL EVP_MAC, with this thread's reusable context). */
#include <openssl/evp.h>

#include "crypto/crypto_internal.h"

/*
 * n HMACs under one key: the key schedule is computed once, then reused for every message.
 * Leaves the key in the context: every caller scrubs it (run, or hkdf.c after its Expand).
 */
static int compute(struct e2ee__crypto_thread *t, uint8_t (*out)[E2EE_SHA256_LEN],
                   const uint8_t *key, size_t keylen, const uint8_t *const *msgs,
                   const size_t *lens, size_t n)
{
    int rc = E2EE_ERR_CRYPTO;
    size_t outl = 0;
    /* key is never NULL here: EVP_MAC_init with a NULL key keeps the key the context holds,
     * which is how messages after the first reuse it */
    if (EVP_MAC_init(t->hmac, key, keylen, NULL) != 1)
        goto done;
    for (size_t i = 0; i < n; i++) {
        if (i && EVP_MAC_init(t->hmac, NULL, 0, NULL) != 1)
            goto done;
        if (lens[i] && EVP_MAC_update(t->hmac, msgs[i], lens[i]) != 1)
            goto done;
        if (EVP_MAC_final(t->hmac, out[i], &outl, E2EE_SHA256_LEN) != 1 ||
            outl != E2EE_SHA256_LEN)
            goto done;
    }
    rc = E2EE_OK;
done:
    if (rc != E2EE_OK)
        e2ee__wipe(out, n * E2EE_SHA256_LEN);
    return rc;
}

static int run(struct e2ee__crypto_thread *t, uint8_t (*out)[E2EE_SHA256_LEN],
               const uint8_t *key, size_t keylen, const uint8_t *const *msgs,
               const size_t *lens, size_t n)
{
    int rc = compute(t, out, key, keylen, msgs, lens, n);
    e2ee__crypto_thread_scrub_hmac(t);
    return rc;
}

int e2ee__hmac_sha256_keep(struct e2ee__crypto_thread *t, uint8_t out[E2EE_SHA256_LEN],
                           const uint8_t *key, size_t keylen, const uint8_t *msg, size_t len)
{
    return compute(t, (uint8_t(*)[E2EE_SHA256_LEN])out, key, keylen, &msg, &len, 1);
}

/* E2EE_OK when key and the n messages are usable, else the error to return. */
static int check(const uint8_t *key, size_t keylen, const uint8_t *const *msgs,
                 const size_t *lens, size_t n)
{
    if ((!key && keylen) || !msgs || !lens)
        return E2EE_ERR_ARG;
    int rc = keylen > E2EE_HMAC_KEY_MAX ? E2EE_ERR_LENGTH : E2EE_OK;
    for (size_t i = 0; i < n; i++) {
        if (!msgs[i] && lens[i])
            return E2EE_ERR_ARG;
        if (lens[i] > E2EE_CRYPTO_MAX_INPUT)
            rc = E2EE_ERR_LENGTH;
    }
    return rc;
}

int e2ee__hmac_sha256_many(uint8_t (*out)[E2EE_SHA256_LEN], const uint8_t *key, size_t keylen,
                           const uint8_t *const *msgs, const size_t *lens, size_t n)
{
    static const uint8_t empty[1];
    struct e2ee__crypto_thread *t = NULL;
    if (!out)
        return E2EE_ERR_ARG;
    if (n == 0 || n > E2EE_HMAC_MANY_MAX)
        return E2EE_ERR_RANGE; /* out's size cannot be trusted: leave it alone */
    int rc = check(key, keylen, msgs, lens, n);
    if (rc == E2EE_OK && !E2EE_CRYPTO_READY())
        rc = E2EE_ERR_CRYPTO;
    if (rc == E2EE_OK && !(t = e2ee__crypto_thread_get()))
        rc = E2EE_ERR_NOMEM;
    if (rc == E2EE_OK)
        rc = run(t, out, key ? key : empty, keylen, msgs, lens, n);
    if (rc != E2EE_OK)
        e2ee__wipe(out, n * E2EE_SHA256_LEN);
    return rc;
}

int e2ee__hmac_sha256(uint8_t out[E2EE_SHA256_LEN], const uint8_t *key, size_t keylen,
                      const uint8_t *msg, size_t len)
{
    return e2ee__hmac_sha256_many((uint8_t(*)[E2EE_SHA256_LEN])out, key, keylen, &msg, &len, 1);
}
