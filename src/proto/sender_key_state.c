/* e2ee proto: receiver-side sender key state: chain advance, skipped keys, two-phase commit. */
#include "proto/sender_key_state.h"

#include <stdlib.h>
#include <string.h>

int e2ee__sender_key_state_new(e2ee__sender_key_state **out, uint32_t key_id, uint64_t epoch,
                               uint32_t iteration, const uint8_t ck[E2EE_SENDER_KEY_CHAIN_LEN],
                               const uint8_t pk[E2EE_ED25519_PK_LEN])
{
    if (!out)
        return E2EE_ERR_ARG;
    *out = NULL;
    if (!ck || !pk || key_id == 0 || iteration == E2EE_SENDER_KEY_ITERATION_END)
        return E2EE_ERR_ARG;
    e2ee__sender_key_state *s = calloc(1, sizeof *s);
    if (!s)
        return E2EE_ERR_NOMEM;
    s->key_id = key_id;
    s->epoch = epoch;
    s->iteration = iteration;
    s->base_iteration = iteration;
    memcpy(s->chain_key, ck, sizeof s->chain_key);
    memcpy(s->signing_pk, pk, sizeof s->signing_pk);
    e2ee__skcache_init(&s->skipped);
    *out = s;
    return E2EE_OK;
}

void e2ee__sender_key_state_free(e2ee__sender_key_state *s)
{
    if (!s)
        return;
    e2ee__skcache_clear(&s->skipped);
    e2ee__wipe(s, sizeof *s);
    free(s);
}

void e2ee__sender_key_advance_wipe(e2ee__sender_key_advance *a)
{
    if (!a)
        return;
    if (a->skipped) {
        e2ee__wipe(a->skipped, (size_t)a->n_skipped * sizeof *a->skipped);
        free(a->skipped);
    }
    e2ee__wipe(a, sizeof *a);
}

/* Lowest iteration still worth a cached seed once `newest` has been received. */
static uint32_t keep_from(uint32_t newest)
{
    return newest > E2EE_SENDER_KEY_MAX_SKIPPED ? newest - E2EE_SENDER_KEY_MAX_SKIPPED : 0;
}

/* j below the head: from the cache, or the reason it cannot be opened. */
static int prepare_past(const e2ee__sender_key_state *s, uint32_t j, e2ee__sender_key_advance *a)
{
    const uint8_t *seed = e2ee__skcache_find(&s->skipped, j);
    if (seed) {
        memcpy(a->seed, seed, sizeof a->seed);
        a->from_cache = 1;
        return E2EE_OK;
    }
    /* head >= 1 here; head - 1 is the newest iteration received */
    if (j < s->base_iteration || j < keep_from(s->iteration - 1))
        return E2EE_ERR_TOO_OLD;
    return E2EE_ERR_DUPLICATE;
}

/* j at or above the head: walk the chain on a copy, collecting the seeds worth keeping. */
static int prepare_ahead(e2ee__sender_key_state *s, uint32_t j, e2ee__sender_key_advance *a)
{
    uint32_t head = s->iteration;
    if (j - head > E2EE_SENDER_KEY_MAX_JUMP)
        return E2EE_ERR_TOO_FAR_AHEAD;
    uint32_t from = keep_from(j) > head ? keep_from(j) : head;
    uint32_t n = j - from; /* <= MAX_SKIPPED */
    uint32_t after = s->skipped.count + n;
    /* after eviction every kept seed lies in [j - MAX_SKIPPED, j): at most MAX_SKIPPED */
    int rc = e2ee__skcache_reserve(&s->skipped, after < E2EE_SENDER_KEY_MAX_SKIPPED
                                                    ? after
                                                    : E2EE_SENDER_KEY_MAX_SKIPPED);
    if (rc != E2EE_OK)
        return rc;
    if (n) {
        a->skipped = calloc(n, sizeof *a->skipped);
        if (!a->skipped)
            return E2EE_ERR_NOMEM;
        a->n_skipped = n;
    }
    uint8_t ck[E2EE_SENDER_KEY_CHAIN_LEN];
    memcpy(ck, s->chain_key, sizeof ck);
    for (uint32_t k = head; k < j && rc == E2EE_OK; k++) {
        uint8_t *seed = NULL;
        if (k >= from) {
            a->skipped[k - from].iteration = k;
            seed = a->skipped[k - from].seed;
        }
        rc = e2ee__sender_chain_step(ck, seed, ck);
    }
    if (rc == E2EE_OK)
        rc = e2ee__sender_chain_step(ck, a->seed, a->next_chain_key);
    e2ee__wipe(ck, sizeof ck);
    return rc;
}

int e2ee__sender_key_state_prepare(e2ee__sender_key_state *s, uint32_t j,
                                   e2ee__sender_key_advance *a)
{
    if (!a)
        return E2EE_ERR_ARG;
    memset(a, 0, sizeof *a);
    if (!s || j == E2EE_SENDER_KEY_ITERATION_END)
        return E2EE_ERR_ARG;
    a->iteration = j;
    int rc = j < s->iteration ? prepare_past(s, j, a) : prepare_ahead(s, j, a);
    if (rc != E2EE_OK)
        e2ee__sender_key_advance_wipe(a);
    return rc;
}

void e2ee__sender_key_state_commit(e2ee__sender_key_state *s, e2ee__sender_key_advance *a)
{
    if (!s || !a)
        return;
    if (a->from_cache) {
        e2ee__skcache_remove(&s->skipped, a->iteration);
    } else {
        memcpy(s->chain_key, a->next_chain_key, sizeof s->chain_key);
        s->iteration = a->iteration + 1;
        e2ee__skcache_evict_below(&s->skipped, keep_from(a->iteration));
        for (uint32_t i = 0; i < a->n_skipped; i++)
            e2ee__skcache_put_reserved(&s->skipped, a->skipped[i].iteration,
                                       a->skipped[i].seed);
        e2ee__skcache_trim(&s->skipped);
    }
    e2ee__sender_key_advance_wipe(a);
}
