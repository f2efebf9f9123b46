/*
 * e2ee crypto: the per-thread reusable OpenSSL HMAC context (HMAC and HKDF use it).
 *
 * Why: creating an EVP_MAC_CTX and passing the digest by name costs more than the HMAC of a
 * short message itself (the provider fetches SHA-256 by name on every init), and the group
 * layer runs a chain step and an HKDF-Expand per message. A context per thread, with the
 * digest set once, removes that cost; see bench_crypto for figures.
 *
 * Safety: a context never crosses threads (pthread key, freed at thread exit), and after every
 * call it is re-keyed with a public one-byte key, which makes OpenSSL cleanse its copy of the
 * caller's key, so no secret outlives the call. AES-GCM and SHA-256 keep no context between
 * calls (aead.c, hash.c say why).
 */
#include <openssl/core_names.h>
#include <pthread.h>
#include <stdlib.h>

#include "crypto/crypto_internal.h"

const uint8_t e2ee__crypto_scrub_key[1] = {0};

static pthread_key_t g_key;

/* pthread destructor: runs at thread exit with the thread's non-NULL value. */
static void thread_exit(void *p)
{
    struct e2ee__crypto_thread *t = p;
    EVP_MAC_CTX_free(t->hmac);
    free(t);
}

int e2ee__crypto_thread_setup(void)
{
    return pthread_key_create(&g_key, thread_exit) == 0 ? E2EE_OK : E2EE_ERR_CRYPTO;
}

static EVP_MAC_CTX *new_hmac(void)
{
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA2-256", 0),
        OSSL_PARAM_construct_end(),
    };
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(e2ee__algs.hmac);
    if (ctx && EVP_MAC_CTX_set_params(ctx, params) != 1) {
        EVP_MAC_CTX_free(ctx);
        ctx = NULL;
    }
    return ctx;
}

struct e2ee__crypto_thread *e2ee__crypto_thread_get(void)
{
    struct e2ee__crypto_thread *t = pthread_getspecific(g_key);
    if (!t) {
        t = calloc(1, sizeof *t);
        if (!t)
            return NULL;
        if (pthread_setspecific(g_key, t) != 0) {
            free(t);
            return NULL;
        }
    }
    /* a new context starts scrubbed, so the context is always in the same resting state */
    if (!t->hmac && (t->hmac = new_hmac()) != NULL)
        e2ee__crypto_thread_scrub_hmac(t);
    return t->hmac ? t : NULL;
}

void e2ee__crypto_thread_scrub_hmac(struct e2ee__crypto_thread *t)
{
    if (t->hmac && EVP_MAC_init(t->hmac, e2ee__crypto_scrub_key,
                                sizeof e2ee__crypto_scrub_key, NULL) != 1) {
        EVP_MAC_CTX_free(t->hmac);
        t->hmac = NULL;
    }
}

/* 1 when ctx (held by this thread) and fresh, both scrubbed the same way, give one HMAC. */
static int same_hmac(EVP_MAC_CTX *held, EVP_MAC_CTX *fresh)
{
    uint8_t a[E2EE_SHA256_LEN], b[E2EE_SHA256_LEN];
    size_t n = 0;
    /* a NULL key keeps the key the context holds */
    int same = EVP_MAC_init(held, NULL, 0, NULL) == 1 &&
               EVP_MAC_final(held, a, &n, sizeof a) == 1 &&
               EVP_MAC_init(fresh, NULL, 0, NULL) == 1 &&
               EVP_MAC_final(fresh, b, &n, sizeof b) == 1 && e2ee__ct_equal(a, b, sizeof a);
    e2ee__wipe(a, sizeof a);
    return same;
}

/*
 * Test hook: recomputes an HMAC with whatever key this thread's context now holds and
 * compares it with the same computed in a fresh context that holds only the scrub key.
 * Leaves the context scrubbed.
 */
int e2ee__crypto_thread_scrubbed(void)
{
    if (!E2EE_CRYPTO_READY())
        return 0;
    struct e2ee__crypto_thread *t = pthread_getspecific(g_key), fresh = {NULL};
    if (!t)
        return 1; /* this thread never kept a context */
    int same = 0;
    fresh.hmac = new_hmac();
    if (!fresh.hmac)
        goto done;
    e2ee__crypto_thread_scrub_hmac(&fresh);
    if (t->hmac && !same_hmac(t->hmac, fresh.hmac))
        goto done;
    same = 1;
done:
    e2ee__crypto_thread_scrub_hmac(t);
    EVP_MAC_CTX_free(fresh.hmac);
    return same;
}
