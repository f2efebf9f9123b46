/*
 * e2ee internal: the skipped message-key cache of one receiver-side sender key state.
 *
 * When a message arrives ahead of the chain, the receiver derives the seeds of the
 * iterations it jumps over and keeps them here, so that those messages can still be opened
 * when they arrive late. Keys are looked up by iteration in O(1) expected time: an
 * open-addressing table (linear probing, multiplicative hash, load <= 1/2, backward-shift
 * deletion, so no tombstones) sized to its content, freed when it becomes empty.
 *
 * Retention policy (enforced by the caller, sender_key_record.c / group_cipher.c, through
 * e2ee__skcache_evict_below): a seed is kept only while its iteration is at most
 * E2EE_SENDER_KEY_MAX_SKIPPED behind the newest iteration received, so the cache never holds
 * more than E2EE_SENDER_KEY_MAX_SKIPPED entries. Every removed seed is wiped.
 */
#ifndef E2EE_PROTO_SENDER_KEY_CACHE_H
#define E2EE_PROTO_SENDER_KEY_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "proto/sender_key.h"

#define E2EE__SKCACHE_MIN_CAP 16
/* Largest table: power of two with room for E2EE_SENDER_KEY_MAX_SKIPPED at load <= 1/2. */
#define E2EE__SKCACHE_MAX_CAP 4096
/* Bytes per entry in the serialised form: u32 big-endian iteration || seed. */
#define E2EE__SKCACHE_ENTRY_WIRE_LEN (4 + E2EE_SENDER_KEY_SEED_LEN)

typedef struct e2ee__skcache_slot {
    uint32_t iteration; /* UINT32_MAX marks an empty slot (no message uses that iteration) */
    uint8_t seed[E2EE_SENDER_KEY_SEED_LEN];
} e2ee__skcache_slot;

typedef struct e2ee__skcache {
    e2ee__skcache_slot *slots; /* NULL while empty */
    uint32_t cap;              /* 0 or a power of two in [MIN_CAP, MAX_CAP] */
    uint32_t count;
    uint32_t low;              /* no entry has an iteration below this */
} e2ee__skcache;

/* An empty cache. */
void e2ee__skcache_init(e2ee__skcache *c);

/* Wipes every seed and frees the table; the cache is empty afterwards. NULL is a no-op. */
void e2ee__skcache_clear(e2ee__skcache *c);

/*
 * Makes room for `n` entries in total, so that the next puts up to n entries cannot fail.
 * n <= E2EE_SENDER_KEY_MAX_SKIPPED. Returns E2EE_OK, E2EE_ERR_ARG, E2EE_ERR_RANGE, E2EE_ERR_NOMEM
 * (then the cache is unchanged).
 */
E2EE_MUST_CHECK int e2ee__skcache_reserve(e2ee__skcache *c, uint32_t n);

/*
 * Adds the seed of `iteration` (< UINT32_MAX, not present yet). Grows the table when needed.
 * Returns E2EE_OK, E2EE_ERR_ARG, E2EE_ERR_EXISTS (already present), E2EE_ERR_LIMIT (the
 * cache already holds E2EE_SENDER_KEY_MAX_SKIPPED entries) or E2EE_ERR_NOMEM.
 */
E2EE_MUST_CHECK int e2ee__skcache_put(e2ee__skcache *c, uint32_t iteration,
                                      const uint8_t seed[E2EE_SENDER_KEY_SEED_LEN]);

/* The seed of `iteration`, or NULL. The pointer is valid until the next change. */
const uint8_t *e2ee__skcache_find(const e2ee__skcache *c, uint32_t iteration);

/* Removes (and wipes) the entry of `iteration`; no-op when absent. */
void e2ee__skcache_remove(e2ee__skcache *c, uint32_t iteration);

/*
 * Adds an entry after a successful e2ee__skcache_reserve() made room for it: never allocates
 * and cannot fail. The caller guarantees that `iteration` (< UINT32_MAX) is not present;
 * a call that breaks these rules is ignored rather than overflowing the table.
 */
void e2ee__skcache_put_reserved(e2ee__skcache *c, uint32_t iteration,
                                const uint8_t seed[E2EE_SENDER_KEY_SEED_LEN]);

/*
 * Removes (and wipes) every entry whose iteration is below `min_iteration`. Never allocates
 * and never frees the table (so room reserved beforehand stays); e2ee__skcache_trim() does.
 */
void e2ee__skcache_evict_below(e2ee__skcache *c, uint32_t min_iteration);

/* Frees the table when the cache is empty. */
void e2ee__skcache_trim(e2ee__skcache *c);

/*
 * Writes every entry in ascending iteration order as count x (u32 BE iteration || seed)
 * into out, which has room for count * E2EE__SKCACHE_ENTRY_WIRE_LEN bytes.
 * Returns E2EE_OK, E2EE_ERR_ARG or E2EE_ERR_NOMEM.
 */
E2EE_MUST_CHECK int e2ee__skcache_export(const e2ee__skcache *c, uint8_t *out);

#endif
