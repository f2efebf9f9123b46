/* e2ee crypto: Ed25519 signatures (libsodium). */
#include <sodium.h>

#include "crypto/crypto_internal.h"

int e2ee__ed25519_keypair(uint8_t pk[E2EE_ED25519_PK_LEN], uint8_t sk[E2EE_ED25519_SK_LEN])
{
    if (!pk || !sk)
        return E2EE_ERR_ARG;
    if (!E2EE_CRYPTO_READY())
        return E2EE_ERR_CRYPTO;
    if (crypto_sign_keypair(pk, sk) != 0) {
        sodium_memzero(sk, E2EE_ED25519_SK_LEN);
        return E2EE_ERR_CRYPTO;
    }
    return E2EE_OK;
}

int e2ee__ed25519_seed_keypair(uint8_t pk[E2EE_ED25519_PK_LEN], uint8_t sk[E2EE_ED25519_SK_LEN],
                               const uint8_t seed[E2EE_ED25519_SEED_LEN])
{
    if (!pk || !sk || !seed)
        return E2EE_ERR_ARG;
    if (!E2EE_CRYPTO_READY())
        return E2EE_ERR_CRYPTO;
    if (crypto_sign_seed_keypair(pk, sk, seed) != 0) {
        sodium_memzero(sk, E2EE_ED25519_SK_LEN);
        return E2EE_ERR_CRYPTO;
    }
    return E2EE_OK;
}

int e2ee__ed25519_sign(uint8_t sig[E2EE_ED25519_SIG_LEN], const uint8_t *msg, size_t len,
                       const uint8_t sk[E2EE_ED25519_SK_LEN])
{
    if (!sig)
        return E2EE_ERR_ARG;
    if (!sk || (!msg && len) || len > E2EE_CRYPTO_MAX_INPUT) {
        sodium_memzero(sig, E2EE_ED25519_SIG_LEN);
        return len > E2EE_CRYPTO_MAX_INPUT ? E2EE_ERR_LENGTH : E2EE_ERR_ARG;
    }
    if (!E2EE_CRYPTO_READY())
        return E2EE_ERR_CRYPTO;
    static const uint8_t empty[1];
    if (crypto_sign_detached(sig, NULL, msg ? msg : empty, len, sk) != 0) {
        sodium_memzero(sig, E2EE_ED25519_SIG_LEN);
        return E2EE_ERR_CRYPTO;
    }
    return E2EE_OK;
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
    static const uint8_t empty[1];
    /* libsodium rejects non-canonical S, small-order R and A, and non-canonical encodings. */
    if (crypto_sign_verify_detached(sig, msg ? msg : empty, len, pk) != 0)
        return E2EE_ERR_AUTH;
    return E2EE_OK;
}
