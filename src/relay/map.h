/*
 * e2ee relay: a map from string keys to pointers (open addressing, linear probing,
 * backward-shift deletion). Keys are not copied: each key must stay valid and unchanged
 * while its entry is in the map (keys live in the values: a session's user id, a group's id).
 */
#ifndef E2EE_RELAY_MAP_H
#define E2EE_RELAY_MAP_H

#include <stddef.h>

struct e2ee__rmap_slot {
    const char *key;
    void *value;
};

struct e2ee__rmap {
    struct e2ee__rmap_slot *slots;
    size_t cap; /* power of two, or 0 */
    size_t count;
};

void e2ee__rmap_init(struct e2ee__rmap *m);
void e2ee__rmap_cleanup(struct e2ee__rmap *m);
void *e2ee__rmap_get(const struct e2ee__rmap *m, const char *key);
/* Inserts or replaces. 0, or -1 when out of memory. */
int e2ee__rmap_put(struct e2ee__rmap *m, const char *key, void *value);
/* Removes key; returns its value or NULL. */
void *e2ee__rmap_del(struct e2ee__rmap *m, const char *key);

/* Iteration: for (size_t i = 0; (v = e2ee__rmap_next(m, &i)); ) ... (no changes meanwhile). */
void *e2ee__rmap_next(const struct e2ee__rmap *m, size_t *pos);

#endif
