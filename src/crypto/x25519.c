/* e2ee crypto: X25519 key agreement (libsodium). */
#include <sodium.h>

#include "crypto/crypto_internal.h"

int e2ee__x25519_keypair(uint8_t pk[E2EE_X25519_KEY_LEN], uint8_t sk[E2EE_X25519_KEY_LEN])
{
    int rc = E2EE_ERR_ARG;
    if (!pk || !sk)
        goto done;
    rc = E2EE_ERR_CRYPTO;
    if (!E2EE_CRYPTO_READY())
        goto done;
    randombytes_buf(sk, E2EE_X25519_KEY_LEN);
    if (crypto_scalarmult_base(pk, sk) != 0)
        goto done;
    rc = E2EE_OK;
done:
    if (rc != E2EE_OK) {
        e2ee__wipe(pk, pk ? E2EE_X25519_KEY_LEN : 0);
        e2ee__wipe(sk, sk ? E2EE_X25519_KEY_LEN : 0);
    }
    return rc;
}

int e2ee__x25519_public(uint8_t pk[E2EE_X25519_KEY_LEN], const uint8_t sk[E2EE_X25519_KEY_LEN])
{
    int rc;
    if (!pk)
        return E2EE_ERR_ARG;
    if (!sk)
        rc = E2EE_ERR_ARG;
    else if (!E2EE_CRYPTO_READY() || crypto_scalarmult_base(pk, sk) != 0)
        rc = E2EE_ERR_CRYPTO;
    else
        rc = E2EE_OK;
    if (rc != E2EE_OK)
        e2ee__wipe(pk, E2EE_X25519_KEY_LEN);
    return rc;
}

int e2ee__x25519(uint8_t shared[E2EE_X25519_KEY_LEN], const uint8_t sk[E2EE_X25519_KEY_LEN],
                 const uint8_t pk[E2EE_X25519_KEY_LEN])
{
    int rc;
    if (!shared)
        return E2EE_ERR_ARG;
    if (!sk || !pk)
        rc = E2EE_ERR_ARG;
    else if (!E2EE_CRYPTO_READY())
        rc = E2EE_ERR_CRYPTO;
    /* libsodium returns -1 exactly when the result is all zero (a low-order point). */
    else if (crypto_scalarmult(shared, sk, pk) != 0)
        rc = E2EE_ERR_WEAK_KEY;
    else
        rc = E2EE_OK;
    if (rc != E2EE_OK)
        e2ee__wipe(shared, E2EE_X25519_KEY_LEN);
    return rc;
}
