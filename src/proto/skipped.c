/* e2ee proto: skipped-message-key store (hash table + arrival-order list). */
#include "proto/skipped.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"

#define GROW_MIN 16

/* FNV-1a over the first 8 bytes of the ratchet key and the number. Ratchet keys of stored
 * chains come from authenticated messages, so an attacker cannot choose them freely. */
static uint32_t bucket_of(const uint8_t pub[32], uint32_t n)
{
    uint32_t h = 2166136261u;
    for (int i = 0; i < 8; i++)
        h = (h ^ pub[i]) * 16777619u;
    for (int i = 0; i < 4; i++)
        h = (h ^ (uint8_t)(n >> (8 * i))) * 16777619u;
    return h & (E2EE_SKIPPED_BUCKETS - 1);
}

void e2ee__skipped_init(e2ee__skipped_keys *s)
{
    memset(s, 0, sizeof *s);
    s->head = s->tail = s->free_head = s->chain_first = E2EE_SKIPPED_NIL;
}

void e2ee__skipped_cleanup(e2ee__skipped_keys *s)
{
    if (!s)
        return;
    if (s->e) {
        e2ee__wipe(s->e, (size_t)s->cap * sizeof *s->e);
        free(s->e);
    }
    free(s->bucket);
    e2ee__skipped_init(s);
}

/* Grows the pool to new_cap entries; the old pool is wiped (it holds keys). */
static int grow(e2ee__skipped_keys *s, uint16_t new_cap)
{
    e2ee__skipped_entry *ne = calloc(new_cap, sizeof *ne);
    if (!ne)
        return E2EE_ERR_NOMEM;
    if (s->e) {
        memcpy(ne, s->e, (size_t)s->cap * sizeof *ne);
        e2ee__wipe(s->e, (size_t)s->cap * sizeof *s->e);
        free(s->e);
    }
    for (uint16_t i = new_cap; i-- > s->cap;) {
        ne[i].next = s->free_head;
        s->free_head = i;
    }
    s->e = ne;
    s->cap = new_cap;
    return E2EE_OK;
}

int e2ee__skipped_reserve(e2ee__skipped_keys *s, size_t extra)
{
    size_t want = (size_t)s->count + extra;
    if (want > E2EE_RATCHET_MAX_SKIP_TOTAL)
        want = E2EE_RATCHET_MAX_SKIP_TOTAL;
    if (want == 0 || want <= s->cap)
        return E2EE_OK;
    if (!s->bucket) {
        s->bucket = malloc(E2EE_SKIPPED_BUCKETS * sizeof *s->bucket);
        if (!s->bucket)
            return E2EE_ERR_NOMEM;
        memset(s->bucket, 0xFF, E2EE_SKIPPED_BUCKETS * sizeof *s->bucket);
    }
    size_t cap = s->cap ? s->cap : GROW_MIN;
    while (cap < want)
        cap *= 2;
    if (cap > E2EE_RATCHET_MAX_SKIP_TOTAL)
        cap = E2EE_RATCHET_MAX_SKIP_TOTAL;
    return grow(s, (uint16_t)cap);
}

uint16_t e2ee__skipped_find(const e2ee__skipped_keys *s, const uint8_t pub[32], uint32_t n)
{
    if (!s->bucket)
        return E2EE_SKIPPED_NIL;
    uint16_t i = s->bucket[bucket_of(pub, n)];
    while (i != E2EE_SKIPPED_NIL) {
        if (s->e[i].n == n && memcmp(s->e[i].pub, pub, 32) == 0)
            return i;
        i = s->e[i].hnext;
    }
    return E2EE_SKIPPED_NIL;
}

static void unlink_bucket(e2ee__skipped_keys *s, uint16_t idx)
{
    uint16_t *link = &s->bucket[bucket_of(s->e[idx].pub, s->e[idx].n)];
    while (*link != idx)
        link = &s->e[*link].hnext;
    *link = s->e[idx].hnext;
}

void e2ee__skipped_remove(e2ee__skipped_keys *s, uint16_t idx)
{
    e2ee__skipped_entry *x = &s->e[idx];
    unlink_bucket(s, idx);
    if (x->prev != E2EE_SKIPPED_NIL)
        s->e[x->prev].next = x->next;
    else
        s->head = x->next;
    if (x->next != E2EE_SKIPPED_NIL)
        s->e[x->next].prev = x->prev;
    else
        s->tail = x->prev;
    if (s->chain_count && memcmp(x->pub, s->chain_pub, 32) == 0) {
        /* the newest chain's keys are the list's last run: its next key is the new first */
        if (idx == s->chain_first)
            s->chain_first = x->next;
        s->chain_count--;
    }
    e2ee__wipe(x, sizeof *x);
    x->next = s->free_head;
    s->free_head = idx;
    s->count--;
}

void e2ee__skipped_push(e2ee__skipped_keys *s, const uint8_t pub[32], uint32_t n,
                        const uint8_t mk[32])
{
    uint16_t old = e2ee__skipped_find(s, pub, n);
    if (old != E2EE_SKIPPED_NIL)
        e2ee__skipped_remove(s, old);
    if (s->chain_count == 0 || memcmp(s->chain_pub, pub, 32) != 0) {
        memcpy(s->chain_pub, pub, 32);
        s->chain_count = 0;
        s->chain_first = E2EE_SKIPPED_NIL;
    } else if (s->chain_count >= E2EE_RATCHET_MAX_SKIP_PER_CHAIN) {
        e2ee__skipped_remove(s, s->chain_first);
    }
    if (s->count >= E2EE_RATCHET_MAX_SKIP_TOTAL)
        e2ee__skipped_remove(s, s->head);
    uint16_t idx = s->free_head;
    e2ee__skipped_entry *x = &s->e[idx];
    s->free_head = x->next;
    memcpy(x->pub, pub, 32);
    x->n = n;
    memcpy(x->mk, mk, 32);
    uint32_t b = bucket_of(pub, n);
    x->hnext = s->bucket[b];
    s->bucket[b] = idx;
    x->prev = s->tail;
    x->next = E2EE_SKIPPED_NIL;
    if (s->tail != E2EE_SKIPPED_NIL)
        s->e[s->tail].next = idx;
    else
        s->head = idx;
    s->tail = idx;
    if (s->chain_count == 0)
        s->chain_first = idx;
    s->chain_count++;
    s->count++;
}

void e2ee__skipped_drop_chain(e2ee__skipped_keys *s, const uint8_t pub[32])
{
    while (s->head != E2EE_SKIPPED_NIL && memcmp(s->e[s->head].pub, pub, 32) == 0)
        e2ee__skipped_remove(s, s->head);
}
