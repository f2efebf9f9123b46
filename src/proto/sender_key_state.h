/*
 * e2ee internal: one sender key as a receiver holds it, and the way its chain advances.
 *
 * A state knows the chain head (`iteration`: the iteration whose seed `chain_key` yields
 * next), the first iteration it ever held (`base_iteration`, from the distribution message),
 * the signing public key and the skipped-key cache. Opening a message is two-phase:
 * e2ee__sender_key_state_prepare() derives the message seed without changing anything the
 * state means (it may only reserve cache memory), the caller authenticates and decrypts,
 * and only then e2ee__sender_key_state_commit() applies the change. Abandoned preparations
 * are wiped with e2ee__sender_key_advance_wipe().
 *
 * Rules for an incoming iteration j (head = iteration, base = base_iteration):
 *  - j >= head: accepted when j - head <= E2EE_SENDER_KEY_MAX_JUMP, else
 *    E2EE_ERR_TOO_FAR_AHEAD. The seeds of head..j-1 that lie within
 *    E2EE_SENDER_KEY_MAX_SKIPPED of j (j - k <= MAX_SKIPPED) are cached; older skipped ones
 *    are derived over and dropped. On commit the head becomes j + 1 and cached seeds more
 *    than MAX_SKIPPED behind j are evicted.
 *  - j < head: opened from the cache when there; otherwise E2EE_ERR_TOO_OLD when j < base or
 *    j lies more than MAX_SKIPPED behind the newest iteration received (head - 1), else
 *    E2EE_ERR_DUPLICATE (already opened).
 */
#ifndef E2EE_PROTO_SENDER_KEY_STATE_H
#define E2EE_PROTO_SENDER_KEY_STATE_H

#include <stdint.h>

#include "proto/sender_key.h"
#include "proto/sender_key_cache.h"

typedef struct e2ee__sender_key_state {
    uint32_t key_id;
    uint32_t iteration;      /* chain head */
    uint64_t epoch;
    uint32_t base_iteration; /* first iteration held */
    uint64_t retired_at_ms;  /* when a newer key replaced it; 0 while current */
    uint8_t chain_key[E2EE_SENDER_KEY_CHAIN_LEN];
    uint8_t signing_pk[E2EE_ED25519_PK_LEN];
    e2ee__skcache skipped;
} e2ee__sender_key_state;

/* A prepared, not yet committed, advance of one state to open iteration `iteration`. */
typedef struct e2ee__sender_key_advance {
    uint32_t iteration;
    int from_cache;                               /* seed came from the cache */
    uint8_t seed[E2EE_SENDER_KEY_SEED_LEN];       /* seed of `iteration` */
    uint8_t next_chain_key[E2EE_SENDER_KEY_CHAIN_LEN]; /* chain key of iteration + 1 */
    uint32_t n_skipped;
    e2ee__skcache_slot *skipped;                  /* seeds to cache on commit */
} e2ee__sender_key_advance;

/*
 * New state at `iteration` (also its base) with chain key ck and signing key pk. *out is
 * the caller's (e2ee__sender_key_state_free). Returns E2EE_OK, E2EE_ERR_ARG (NULL, key_id 0,
 * iteration E2EE_SENDER_KEY_ITERATION_END) or E2EE_ERR_NOMEM.
 */
E2EE_MUST_CHECK int e2ee__sender_key_state_new(e2ee__sender_key_state **out, uint32_t key_id,
                                               uint64_t epoch, uint32_t iteration,
                                               const uint8_t ck[E2EE_SENDER_KEY_CHAIN_LEN],
                                               const uint8_t pk[E2EE_ED25519_PK_LEN]);

/* Wipes (chain key, cached seeds) and frees. NULL is a no-op. */
void e2ee__sender_key_state_free(e2ee__sender_key_state *s);

/*
 * Prepares opening iteration j (see the rules above) into *a (zeroed first). On E2EE_OK the
 * caller must call _commit or _advance_wipe. Errors: E2EE_ERR_ARG, E2EE_ERR_TOO_FAR_AHEAD,
 * E2EE_ERR_DUPLICATE, E2EE_ERR_TOO_OLD, E2EE_ERR_NOMEM, E2EE_ERR_CRYPTO; *a is wiped then.
 * Cost: one HMAC per skipped iteration plus one per cached seed (at most
 * MAX_JUMP + MAX_SKIPPED + 2 HMACs).
 */
E2EE_MUST_CHECK int e2ee__sender_key_state_prepare(e2ee__sender_key_state *s, uint32_t j,
                                                   e2ee__sender_key_advance *a);

/* Applies a prepared advance (never fails, never allocates) and wipes *a. */
void e2ee__sender_key_state_commit(e2ee__sender_key_state *s, e2ee__sender_key_advance *a);

/* Wipes and frees what a preparation holds. NULL is a no-op. */
void e2ee__sender_key_advance_wipe(e2ee__sender_key_advance *a);

#endif
