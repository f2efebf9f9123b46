/* e2ee relay: string-keyed hash map (see map.h). */
#include "relay/map.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAP_MIN 16

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h ^ (h >> 29);
}

void e2ee__rmap_init(struct e2ee__rmap *m)
{
    memset(m, 0, sizeof *m);
}

void e2ee__rmap_cleanup(struct e2ee__rmap *m)
{
    free(m->slots);
    memset(m, 0, sizeof *m);
}

static size_t find(const struct e2ee__rmap *m, const char *key, int *found)
{
    size_t mask = m->cap - 1, i = (size_t)hash_str(key) & mask;
    while (m->slots[i].key) {
        if (strcmp(m->slots[i].key, key) == 0) {
            *found = 1;
            return i;
        }
        i = (i + 1) & mask;
    }
    *found = 0;
    return i;
}

void *e2ee__rmap_get(const struct e2ee__rmap *m, const char *key)
{
    int found = 0;
    if (!m->cap || !key)
        return NULL;
    size_t i = find(m, key, &found);
    return found ? m->slots[i].value : NULL;
}

static int resize(struct e2ee__rmap *m, size_t ncap)
{
    struct e2ee__rmap old = *m;
    struct e2ee__rmap_slot *ns = calloc(ncap, sizeof *ns);
    if (!ns)
        return -1;
    m->slots = ns;
    m->cap = ncap;
    for (size_t i = 0; i < old.cap; i++) {
        if (old.slots[i].key) {
            int found = 0;
            size_t j = find(m, old.slots[i].key, &found);
            m->slots[j] = old.slots[i];
        }
    }
    free(old.slots);
    return 0;
}

int e2ee__rmap_put(struct e2ee__rmap *m, const char *key, void *value)
{
    int found = 0;
    if (!key)
        return -1;
    /* load factor at most 1/2 */
    if ((m->count + 1) * 2 > m->cap &&
        resize(m, m->cap ? m->cap * 2 : MAP_MIN) != 0)
        return -1;
    size_t i = find(m, key, &found);
    if (!found)
        m->count++;
    m->slots[i].key = key;
    m->slots[i].value = value;
    return 0;
}

void *e2ee__rmap_del(struct e2ee__rmap *m, const char *key)
{
    int found = 0;
    if (!m->cap || !key)
        return NULL;
    size_t mask = m->cap - 1, i = find(m, key, &found);
    if (!found)
        return NULL;
    void *value = m->slots[i].value;
    m->slots[i].key = NULL;
    m->slots[i].value = NULL;
    m->count--;
    /* backward shift: move later entries of the cluster into the hole when allowed */
    for (size_t j = (i + 1) & mask; m->slots[j].key; j = (j + 1) & mask) {
        size_t home = (size_t)hash_str(m->slots[j].key) & mask;
        /* j may move to i when home is not cyclically in (i, j] */
        int in_range = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!in_range) {
            m->slots[i] = m->slots[j];
            m->slots[j].key = NULL;
            m->slots[j].value = NULL;
            i = j;
        }
    }
    return value;
}

void *e2ee__rmap_next(const struct e2ee__rmap *m, size_t *pos)
{
    while (*pos < m->cap) {
        size_t i = (*pos)++;
        if (m->slots[i].key)
            return m->slots[i].value;
    }
    return NULL;
}
