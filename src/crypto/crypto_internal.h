/* e2ee crypto: state shared by the files of the crypto layer only. */
#ifndef E2EE_CRYPTO_INTERNAL_H
#define E2EE_CRYPTO_INTERNAL_H

#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "crypto/crypto.h"

struct e2ee__crypto_algs {
    EVP_CIPHER *aes256gcm;
    EVP_MD *sha256;
    EVP_MAC *hmac;
    EVP_KDF *hkdf;
};

/* Valid once e2ee__crypto_init() returned E2EE_OK. */
extern struct e2ee__crypto_algs e2ee__algs;

/* Returns the init status; used at the top of every entry point. */
#define E2EE_CRYPTO_READY() (e2ee__crypto_init() == E2EE_OK)

#endif
