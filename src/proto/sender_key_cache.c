/* e2ee proto: skipped message-key cache (open addressing, linear probing). */
#include "proto/sender_key_cache.h"

#include <stdlib.h>
#include <string.h>

#define EMPTY UINT32_MAX
#define FIB32 0x9E3779B1u /* 2^32 / golden ratio: spreads runs and strides of iterations */

static uint32_t home(const e2ee__skcache *c, uint32_t iteration)
{
    /* Fibonacci hashing: the top log2(cap) bits of the product */
    return (uint32_t)(iteration * FIB32) >> (32 - __builtin_ctz(c->cap));
}

void e2ee__skcache_init(e2ee__skcache *c)
{
    if (!c)
        return;
    c->slots = NULL;
    c->cap = 0;
    c->count = 0;
    c->low = EMPTY;
}

void e2ee__skcache_clear(e2ee__skcache *c)
{
    if (!c)
        return;
    if (c->slots) {
        e2ee__wipe(c->slots, (size_t)c->cap * sizeof *c->slots);
        free(c->slots);
    }
    e2ee__skcache_init(c);
}

static e2ee__skcache_slot *alloc_slots(uint32_t cap)
{
    e2ee__skcache_slot *s = malloc((size_t)cap * sizeof *s);
    if (s)
        for (uint32_t i = 0; i < cap; i++)
            s[i].iteration = EMPTY;
    return s;
}

/* Inserts into a table known to have room and not to hold `iteration`. */
static void insert_slot(e2ee__skcache *c, uint32_t iteration, const uint8_t *seed)
{
    uint32_t mask = c->cap - 1, i = home(c, iteration);
    while (c->slots[i].iteration != EMPTY)
        i = (i + 1) & mask;
    c->slots[i].iteration = iteration;
    memcpy(c->slots[i].seed, seed, E2EE_SENDER_KEY_SEED_LEN);
    c->count++;
    if (iteration < c->low)
        c->low = iteration;
}

static int rehash(e2ee__skcache *c, uint32_t new_cap)
{
    e2ee__skcache_slot *ns = alloc_slots(new_cap);
    if (!ns)
        return E2EE_ERR_NOMEM;
    e2ee__skcache old = *c;
    c->slots = ns;
    c->cap = new_cap;
    c->count = 0;
    c->low = EMPTY;
    for (uint32_t i = 0; i < old.cap; i++)
        if (old.slots[i].iteration != EMPTY)
            insert_slot(c, old.slots[i].iteration, old.slots[i].seed);
    e2ee__skcache_clear(&old);
    return E2EE_OK;
}

int e2ee__skcache_reserve(e2ee__skcache *c, uint32_t n)
{
    if (!c)
        return E2EE_ERR_ARG;
    if (n > E2EE_SENDER_KEY_MAX_SKIPPED)
        return E2EE_ERR_RANGE;
    uint32_t cap = E2EE__SKCACHE_MIN_CAP;
    while (cap < 2 * n) /* load factor at most 1/2 */
        cap *= 2;
    if (cap <= c->cap)
        return E2EE_OK;
    return rehash(c, cap);
}

static uint32_t find_index(const e2ee__skcache *c, uint32_t iteration)
{
    if (!c->slots || iteration == EMPTY)
        return EMPTY;
    uint32_t mask = c->cap - 1;
    for (uint32_t i = home(c, iteration);; i = (i + 1) & mask) {
        if (c->slots[i].iteration == iteration)
            return i;
        if (c->slots[i].iteration == EMPTY)
            return EMPTY; /* load <= 1/2 guarantees an empty slot ends every probe */
    }
}

int e2ee__skcache_put(e2ee__skcache *c, uint32_t iteration,
                      const uint8_t seed[E2EE_SENDER_KEY_SEED_LEN])
{
    if (!c || !seed || iteration == EMPTY)
        return E2EE_ERR_ARG;
    if (find_index(c, iteration) != EMPTY)
        return E2EE_ERR_EXISTS;
    if (c->count >= E2EE_SENDER_KEY_MAX_SKIPPED)
        return E2EE_ERR_LIMIT;
    int rc = e2ee__skcache_reserve(c, c->count + 1);
    if (rc == E2EE_OK)
        insert_slot(c, iteration, seed);
    return rc;
}

void e2ee__skcache_put_reserved(e2ee__skcache *c, uint32_t iteration,
                                const uint8_t seed[E2EE_SENDER_KEY_SEED_LEN])
{
    if (!c || !seed || iteration == EMPTY || 2 * (c->count + 1) > c->cap)
        return;
    if (find_index(c, iteration) == EMPTY)
        insert_slot(c, iteration, seed);
}

const uint8_t *e2ee__skcache_find(const e2ee__skcache *c, uint32_t iteration)
{
    if (!c)
        return NULL;
    uint32_t i = find_index(c, iteration);
    return i == EMPTY ? NULL : c->slots[i].seed;
}

/* Backward-shift deletion: pulls later members of the probe run into the hole so that every
 * entry stays reachable from its home slot without tombstones. */
static void delete_at(e2ee__skcache *c, uint32_t i)
{
    uint32_t mask = c->cap - 1, j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (c->slots[j].iteration == EMPTY)
            break;
        uint32_t k = home(c, c->slots[j].iteration);
        /* the entry at j may fill hole i unless its home lies cyclically in (i, j] */
        int stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (stays)
            continue;
        c->slots[i] = c->slots[j];
        i = j;
    }
    e2ee__wipe(c->slots[i].seed, sizeof c->slots[i].seed);
    c->slots[i].iteration = EMPTY;
    c->count--;
}

void e2ee__skcache_trim(e2ee__skcache *c)
{
    if (c && c->count == 0)
        e2ee__skcache_clear(c);
}

void e2ee__skcache_remove(e2ee__skcache *c, uint32_t iteration)
{
    if (!c)
        return;
    uint32_t i = find_index(c, iteration);
    if (i == EMPTY)
        return;
    delete_at(c, i);
    e2ee__skcache_trim(c);
}

void e2ee__skcache_evict_below(e2ee__skcache *c, uint32_t min_iteration)
{
    if (!c || !c->slots || c->low >= min_iteration)
        return;
    /*
     * One forward pass. A deletion at i only moves entries from later in the probe run into
     * i (re-examined here) or, when the run wraps, already-examined entries from the front,
     * so every entry is examined at least once. `low` becomes the exact minimum.
     */
    uint32_t low = EMPTY;
    for (uint32_t i = 0; i < c->cap; i++) {
        while (c->slots[i].iteration != EMPTY && c->slots[i].iteration < min_iteration)
            delete_at(c, i);
        if (c->slots[i].iteration < low)
            low = c->slots[i].iteration;
    }
    c->low = low;
}

static int by_key(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

int e2ee__skcache_export(const e2ee__skcache *c, uint8_t *out)
{
    if (!c || (!out && c->count))
        return E2EE_ERR_ARG;
    if (c->count == 0)
        return E2EE_OK;
    /* sort (iteration << 32 | slot index) keys: ascending iterations, no shared state */
    uint64_t *keys = malloc((size_t)c->count * sizeof *keys);
    if (!keys)
        return E2EE_ERR_NOMEM;
    uint32_t n = 0;
    for (uint32_t i = 0; i < c->cap; i++)
        if (c->slots[i].iteration != EMPTY)
            keys[n++] = (uint64_t)c->slots[i].iteration << 32 | i;
    qsort(keys, n, sizeof *keys, by_key);
    for (uint32_t k = 0; k < n; k++) {
        const e2ee__skcache_slot *s = &c->slots[(uint32_t)keys[k]];
        uint8_t *p = out + (size_t)k * E2EE__SKCACHE_ENTRY_WIRE_LEN;
        p[0] = (uint8_t)(s->iteration >> 24);
        p[1] = (uint8_t)(s->iteration >> 16);
        p[2] = (uint8_t)(s->iteration >> 8);
        p[3] = (uint8_t)s->iteration;
        memcpy(p + 4, s->seed, E2EE_SENDER_KEY_SEED_LEN);
    }
    free(keys);
    return E2EE_OK;
}
