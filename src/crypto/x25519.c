/* e2ee crypto: X25519 key agreement (libsodium). */
#include <sodium.h>

#include "crypto/crypto_internal.h"

int e2ee__x25519_keypair(uint8_t pk[E2EE_X25519_KEY_LEN], uint8_t sk[E2EE_X25519_KEY_LEN])
{
    if (!pk || !sk)
        return E2EE_ERR_ARG;
    if (!E2EE_CRYPTO_READY())
        return E2EE_ERR_CRYPTO;
    randombytes_buf(sk, E2EE_X25519_KEY_LEN);
    if (crypto_scalarmult_base(pk, sk) != 0) {
        sodium_memzero(sk, E2EE_X25519_KEY_LEN);
        return E2EE_ERR_CRYPTO;
    }
    return E2EE_OK;
}

int e2ee__x25519_public(uint8_t pk[E2EE_X25519_KEY_LEN], const uint8_t sk[E2EE_X25519_KEY_LEN])
{
    if (!pk || !sk)
        return E2EE_ERR_ARG;
    if (!E2EE_CRYPTO_READY())
        return E2EE_ERR_CRYPTO;
    if (crypto_scalarmult_base(pk, sk) != 0)
        return E2EE_ERR_CRYPTO;
    return E2EE_OK;
}

int e2ee__x25519(uint8_t shared[E2EE_X25519_KEY_LEN], const uint8_t sk[E2EE_X25519_KEY_LEN],
                 const uint8_t pk[E2EE_X25519_KEY_LEN])
{
    if (!shared)
        return E2EE_ERR_ARG;
    if (!sk || !pk) {
        sodium_memzero(shared, E2EE_X25519_KEY_LEN);
        return E2EE_ERR_ARG;
    }
    if (!E2EE_CRYPTO_READY()) {
        sodium_memzero(shared, E2EE_X25519_KEY_LEN);
        return E2EE_ERR_CRYPTO;
    }
    /* libsodium returns -1 exactly when the result is all zero (a low-order point). */
    if (crypto_scalarmult(shared, sk, pk) != 0) {
        sodium_memzero(shared, E2EE_X25519_KEY_LEN);
        return E2EE_ERR_WEAK_KEY;
    }
    return E2EE_OK;
}
