/*
 * e2ee crypto: per-thread reusable OpenSSL contexts for HMAC and HKDF-Expand.
 *
 * Why: creating an EVP_MAC_CTX and passing the digest by name costs more than the HMAC of a
 * short message itself (the provider fetches SHA-256 by name on every init), and the group
 * layer runs two HMACs and one HKDF per message. A context per thread, with the digest set
 * once, removes that cost; see bench_crypto and the crypto part of the report for figures.
 *
 * Safety: a context never crosses threads (pthread key, freed at thread exit), and after every
 * call it is re-keyed with a public one-byte key, which makes OpenSSL cleanse its copy of the
 * caller's key, so no secret outlives the call. AES-GCM and SHA-256 keep a context per call:
 * re-keying a reused AES-GCM context to cleanse it costs as much as a new one.
 */
#include <openssl/core_names.h>
#include <pthread.h>
#include <stdlib.h>

#include "crypto/crypto_internal.h"

const uint8_t e2ee__crypto_scrub_key[1] = {0};

static pthread_key_t g_key;

static void free_contexts(struct e2ee__crypto_thread *t)
{
    EVP_MAC_CTX_free(t->hmac);
    EVP_KDF_CTX_free(t->expand[0]);
    EVP_KDF_CTX_free(t->expand[1]);
    t->hmac = NULL;
    t->expand[0] = t->expand[1] = NULL;
}

/* pthread destructor: runs at thread exit with the thread's non-NULL value. */
static void thread_exit(void *p)
{
    struct e2ee__crypto_thread *t = p;
    free_contexts(t);
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

static EVP_KDF_CTX *new_expand(void)
{
    int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA2-256", 0),
        OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
        OSSL_PARAM_construct_end(),
    };
    EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(e2ee__algs.hkdf);
    if (ctx && EVP_KDF_CTX_set_params(ctx, params) != 1) {
        EVP_KDF_CTX_free(ctx);
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
    /* new contexts start scrubbed, so every context is always in the same resting state */
    if (!t->hmac && (t->hmac = new_hmac()) != NULL)
        e2ee__crypto_thread_scrub_hmac(t);
    for (int i = 0; i < 2; i++) {
        if (!t->expand[i] && (t->expand[i] = new_expand()) != NULL)
            e2ee__crypto_thread_scrub_expand(t, i);
    }
    return t->hmac && t->expand[0] && t->expand[1] ? t : NULL;
}

void e2ee__crypto_thread_scrub_hmac(struct e2ee__crypto_thread *t)
{
    if (t->hmac && EVP_MAC_init(t->hmac, e2ee__crypto_scrub_key,
                                sizeof e2ee__crypto_scrub_key, NULL) != 1) {
        EVP_MAC_CTX_free(t->hmac);
        t->hmac = NULL;
    }
}

void e2ee__crypto_thread_scrub_expand(struct e2ee__crypto_thread *t, int which)
{
    /* the context that takes info gets a one-byte one: never an empty info (see header) */
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)e2ee__crypto_scrub_key,
                                          sizeof e2ee__crypto_scrub_key),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)e2ee__crypto_scrub_key,
                                          sizeof e2ee__crypto_scrub_key),
        OSSL_PARAM_construct_end(),
    };
    if (which == E2EE_EXPAND_NO_INFO)
        params[1] = OSSL_PARAM_construct_end();
    EVP_KDF_CTX **ctx = &t->expand[which];
    if (*ctx && EVP_KDF_CTX_set_params(*ctx, params) != 1) {
        EVP_KDF_CTX_free(*ctx);
        *ctx = NULL;
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

static int same_expand(EVP_KDF_CTX *held, EVP_KDF_CTX *fresh)
{
    uint8_t a[E2EE_SHA256_LEN], b[E2EE_SHA256_LEN];
    /* no parameters: derives with the key and info the context holds */
    int same = EVP_KDF_derive(held, a, sizeof a, NULL) == 1 &&
               EVP_KDF_derive(fresh, b, sizeof b, NULL) == 1 && e2ee__ct_equal(a, b, sizeof a);
    e2ee__wipe(a, sizeof a);
    return same;
}

/*
 * Test hook: recomputes an HMAC and an HKDF-Expand with whatever key each context of this
 * thread now holds and compares them with the same computed in fresh contexts that hold only
 * the scrub key. Leaves the contexts scrubbed.
 */
int e2ee__crypto_thread_scrubbed(void)
{
    if (!E2EE_CRYPTO_READY())
        return 0;
    struct e2ee__crypto_thread *t = pthread_getspecific(g_key), fresh = {NULL, {NULL, NULL}};
    if (!t)
        return 1; /* this thread never kept a context */
    int same = 0;
    fresh.hmac = new_hmac();
    fresh.expand[0] = new_expand();
    fresh.expand[1] = new_expand();
    if (!fresh.hmac || !fresh.expand[0] || !fresh.expand[1])
        goto done;
    e2ee__crypto_thread_scrub_hmac(&fresh);
    if (t->hmac && !same_hmac(t->hmac, fresh.hmac))
        goto done;
    for (int i = 0; i < 2; i++) {
        e2ee__crypto_thread_scrub_expand(&fresh, i);
        if (t->expand[i] && !same_expand(t->expand[i], fresh.expand[i]))
            goto done;
    }
    same = 1;
done:
    e2ee__crypto_thread_scrub_hmac(t);
    e2ee__crypto_thread_scrub_expand(t, E2EE_EXPAND_NO_INFO);
    e2ee__crypto_thread_scrub_expand(t, E2EE_EXPAND_WITH_INFO);
    free_contexts(&fresh);
    return same;
}
