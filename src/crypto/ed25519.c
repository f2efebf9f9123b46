/* e2ee crypto: Ed25519 signatures (libsodium). */
#include <sodium.h>

#include "crypto/crypto_internal.h"

/* libsodium wants a readable pointer even for an empty message. */
static const uint8_t k_empty[1];

int e2ee__ed25519_keypair(uint8_t pk[E2EE_ED25519_PK_LEN], uint8_t sk[E2EE_ED25519_SK_LEN])
{
    int rc = E2EE_ERR_ARG;
    if (!pk || !sk)
        goto done;
    rc = E2EE_ERR_CRYPTO;
    if (!E2EE_CRYPTO_READY() || crypto_sign_keypair(pk, sk) != 0)
        goto done;
    rc = E2EE_OK;
done:
    if (rc != E2EE_OK) {
        e2ee__wipe(pk, pk ? E2EE_ED25519_PK_LEN : 0);
        e2ee__wipe(sk, sk ? E2EE_ED25519_SK_LEN : 0);
    }
    return rc;
}

int e2ee__ed25519_seed_keypair(uint8_t pk[E2EE_ED25519_PK_LEN], uint8_t sk[E2EE_ED25519_SK_LEN],
                               const uint8_t seed[E2EE_ED25519_SEED_LEN])
{
    int rc = E2EE_ERR_ARG;
    if (!pk || !sk || !seed)
        goto done;
    rc = E2EE_ERR_CRYPTO;
    if (!E2EE_CRYPTO_READY() || crypto_sign_seed_keypair(pk, sk, seed) != 0)
        goto done;
    rc = E2EE_OK;
done:
    if (rc != E2EE_OK) {
        e2ee__wipe(pk, pk ? E2EE_ED25519_PK_LEN : 0);
        e2ee__wipe(sk, sk ? E2EE_ED25519_SK_LEN : 0);
    }
    return rc;
}

int e2ee__ed25519_sign(uint8_t sig[E2EE_ED25519_SIG_LEN], const uint8_t *msg, size_t len,
                       const uint8_t sk[E2EE_ED25519_SK_LEN])
{
    int rc;
    if (!sig)
        return E2EE_ERR_ARG;
    if (!sk || (!msg && len))
        rc = E2EE_ERR_ARG;
    else if (len > E2EE_CRYPTO_MAX_INPUT)
        rc = E2EE_ERR_LENGTH;
    else if (!E2EE_CRYPTO_READY())
        rc = E2EE_ERR_CRYPTO;
    else if (crypto_sign_detached(sig, NULL, msg ? msg : k_empty, len, sk) != 0)
        rc = E2EE_ERR_CRYPTO;
    else
        rc = E2EE_OK;
    if (rc != E2EE_OK)
        e2ee__wipe(sig, E2EE_ED25519_SIG_LEN);
    return rc;
}

int e2ee__ed25519_verify(const uint8_t sig[E2EE_ED25519_SIG_LEN], const uint8_t *msg,
                         size_t len, const uint8_t pk[E2EE_ED25519_PK_LEN])
{
    if (!sig || !pk || (!msg && len))
        return E2EE_ERR_ARG;
    if (len > E2EE_CRYPTO_MAX_INPUT)
        return E2EE_ERR_LENGTH;
    if (!E2EE_CRYPTO_READY())
        return E2EE_ERR_CRYPTO;
    /* libsodium rejects non-canonical S, small-order R and A, and non-canonical encodings. */
    if (crypto_sign_verify_detached(sig, msg ? msg : k_empty, len, pk) != 0)
        return E2EE_ERR_AUTH;
    return E2EE_OK;
}
