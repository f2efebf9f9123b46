/*
 * The per-thread reusable contexts of the crypto layer (HMAC, HKDF-Expand): threads running
 * at once get the same results as one thread, never see each other's keys, rest scrubbed
 * after every call, and release their contexts when they exit (the sanitizer build's leak
 * check covers that for the many short-lived threads started here).
 */
#include <pthread.h>
#include <string.h>

#include "crypto/crypto.h"
#include "vectors.h"

#define N_THREADS 8
#define N_ROUNDS 200
#define N_SHORT_LIVED 64
#define N_KEYS 4

struct expected {
    uint8_t key[N_KEYS][32];
    uint8_t hmac[N_KEYS][32];
    uint8_t hkdf[N_KEYS][76];
    uint8_t hkdf_noinfo[N_KEYS][32];
    uint8_t tag[N_KEYS][16];
    uint8_t expand[N_KEYS][76];
};

static struct expected g_exp;
static const uint8_t k_msg[64] = "message authenticated by every thread with every key";
static const uint8_t k_info[16] = "e2ee-threads-v1";

/* One round of every reused-context operation with key k; 0 when all match g_exp. */
static int round_ok(int k)
{
    uint8_t mac[32], okm[76], okm2[32], sealed[16];
    static const uint8_t nonce[12];
    if (e2ee__hmac_sha256(mac, g_exp.key[k], 32, k_msg, sizeof k_msg) != E2EE_OK ||
        memcmp(mac, g_exp.hmac[k], 32) != 0)
        return 0;
    if (e2ee__hkdf_sha256(okm, 76, g_exp.key[k], 32, k_msg, 32, k_info, sizeof k_info) != 0 ||
        memcmp(okm, g_exp.hkdf[k], 76) != 0)
        return 0;
    if (e2ee__hkdf_sha256(okm2, 32, g_exp.key[k], 32, NULL, 0, NULL, 0) != E2EE_OK ||
        memcmp(okm2, g_exp.hkdf_noinfo[k], 32) != 0)
        return 0;
    if (e2ee__aead_seal(sealed, g_exp.key[k], nonce, k_msg, sizeof k_msg, NULL, 0) != 0 ||
        memcmp(sealed, g_exp.tag[k], 16) != 0)
        return 0;
    /* the same HMAC twice under one key, and HKDF-Expand from the HMAC as PRK */
    uint8_t two[2][32];
    const uint8_t *msgs[2] = {k_msg, k_msg};
    size_t lens[2] = {sizeof k_msg, sizeof k_msg};
    if (e2ee__hmac_sha256_many(two, g_exp.key[k], 32, msgs, lens, 2) != E2EE_OK ||
        memcmp(two[0], g_exp.hmac[k], 32) != 0 || memcmp(two[1], g_exp.hmac[k], 32) != 0)
        return 0;
    if (e2ee__hkdf_sha256_expand(okm, 76, g_exp.hmac[k], 32, k_info, sizeof k_info) != 0 ||
        memcmp(okm, g_exp.expand[k], 76) != 0)
        return 0;
    return 1;
}

static void compute_expected(void)
{
    for (int k = 0; k < N_KEYS; k++) {
        static const uint8_t nonce[12];
        assert_int_equal(e2ee__random_bytes(g_exp.key[k], 32), E2EE_OK);
        assert_int_equal(e2ee__hmac_sha256(g_exp.hmac[k], g_exp.key[k], 32, k_msg,
                                           sizeof k_msg),
                         E2EE_OK);
        assert_int_equal(e2ee__hkdf_sha256(g_exp.hkdf[k], 76, g_exp.key[k], 32, k_msg, 32,
                                           k_info, sizeof k_info),
                         E2EE_OK);
        assert_int_equal(e2ee__hkdf_sha256(g_exp.hkdf_noinfo[k], 32, g_exp.key[k], 32, NULL, 0,
                                           NULL, 0),
                         E2EE_OK);
        assert_int_equal(e2ee__aead_seal(g_exp.tag[k], g_exp.key[k], nonce, k_msg,
                                         sizeof k_msg, NULL, 0),
                         E2EE_OK);
        assert_int_equal(e2ee__hkdf_sha256_expand(g_exp.expand[k], 76, g_exp.hmac[k], 32,
                                                  k_info, sizeof k_info),
                         E2EE_OK);
    }
}

struct worker {
    pthread_t tid;
    int index, rounds, good, scrubbed;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    for (int r = 0; r < w->rounds; r++)
        w->good += round_ok((w->index + r) % N_KEYS);
    w->scrubbed = e2ee__crypto_thread_scrubbed();
    return NULL;
}

static void run_workers(struct worker *w, int n, int rounds)
{
    for (int i = 0; i < n; i++) {
        w[i].index = i;
        w[i].rounds = rounds;
        w[i].good = w[i].scrubbed = 0;
        assert_int_equal(pthread_create(&w[i].tid, NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < n; i++)
        assert_int_equal(pthread_join(w[i].tid, NULL), 0);
    for (int i = 0; i < n; i++) {
        assert_int_equal(w[i].good, rounds);
        assert_true(w[i].scrubbed);
    }
}

static void test_concurrent_threads_agree(void **state)
{
    (void)state;
    compute_expected();
    struct worker w[N_THREADS];
    run_workers(w, N_THREADS, N_ROUNDS);
    printf("%d threads x %d rounds of HMAC (single and many), HKDF (with and without info), "
           "HKDF-Expand, AES-GCM: all "
           "matched the single-thread results\n", N_THREADS, N_ROUNDS);
}

/* Many short-lived threads: each makes its contexts, uses them once and exits. */
static void test_short_lived_threads(void **state)
{
    (void)state;
    compute_expected();
    for (int i = 0; i < N_SHORT_LIVED / N_THREADS; i++) {
        struct worker w[N_THREADS];
        run_workers(w, N_THREADS, 1);
    }
    /* the main thread keeps working afterwards, with its own contexts */
    assert_true(round_ok(0));
    assert_true(e2ee__crypto_thread_scrubbed());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_threads_agree),
        cmocka_unit_test(test_short_lived_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
