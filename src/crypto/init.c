/* e2ee crypto: one-time initialisation of libsodium and of the OpenSSL algorithm objects. */
#include "crypto/crypto_internal.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_init_rc = E2EE_ERR_CRYPTO;
struct e2ee__crypto_algs e2ee__algs;

/*
 * Algorithms are fetched once and kept for the life of the process: explicit fetching
 * avoids OpenSSL 3's per-call name lookup, and the objects hold no secrets.
 */
static void do_init(void)
{
    if (sodium_init() < 0)
        return;
    e2ee__algs.aes256gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    e2ee__algs.sha256 = EVP_MD_fetch(NULL, "SHA2-256", NULL);
    e2ee__algs.hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (!e2ee__algs.aes256gcm || !e2ee__algs.sha256 || !e2ee__algs.hmac)
        return;
    if (e2ee__crypto_thread_setup() != E2EE_OK)
        return;
    /* AES-256-GCM implementation (aead.c): libsodium's where the CPU allows it, unless the
     * environment asks for OpenSSL's (how the tests cover both) */
    const char *aead = secure_getenv("E2EE_CRYPTO_AEAD");
    e2ee__algs.aead_sodium = crypto_aead_aes256gcm_is_available() &&
                             !(aead && strcmp(aead, "openssl") == 0);
    g_init_rc = E2EE_OK;
}

int e2ee__crypto_init(void)
{
    if (pthread_once(&g_once, do_init) != 0)
        return E2EE_ERR_CRYPTO;
    return g_init_rc;
}
