/*
 * e2ee internal (proto layer): the skipped-message-key store of one Double Ratchet state.
 *
 * Holds the message keys of messages not yet received (out of order or lost), keyed by
 * (ratchet public key, message number) with O(1) lookup (a hash table of 4096 buckets over
 * a pool of at most E2EE_RATCHET_MAX_SKIP_TOTAL entries) and kept in arrival order on a
 * doubly linked list, so eviction is oldest-first in O(1).
 *
 * Limits (docs/PROTOCOL.md 1.6): at most E2EE_RATCHET_MAX_SKIP_PER_CHAIN keys of one chain
 * and E2EE_RATCHET_MAX_SKIP_TOTAL keys in all; pushing past either evicts the oldest key of
 * the chain or of the store. Keys are pushed only for the newest chain, so each chain's keys
 * form one run of the list and the runs are in chain order (the record parser checks this).
 *
 * Ownership: the store owns its memory; e2ee__skipped_cleanup wipes and frees it. Not
 * thread-safe (one state, one caller at a time).
 */
#ifndef E2EE_PROTO_SKIPPED_H
#define E2EE_PROTO_SKIPPED_H

#include <stddef.h>
#include <stdint.h>

#include "e2ee/error.h"

#define E2EE_RATCHET_MAX_SKIP_PER_CHAIN 1000
#define E2EE_RATCHET_MAX_SKIP_TOTAL 2000
#define E2EE_SKIPPED_NIL 0xFFFFu
#define E2EE_SKIPPED_BUCKETS 4096 /* power of two, at least twice the total cap */

typedef struct e2ee__skipped_entry {
    uint8_t pub[32];
    uint32_t n;
    uint8_t mk[32];
    uint16_t hnext; /* next in the bucket chain */
    uint16_t prev;  /* arrival order (older) */
    uint16_t next;  /* arrival order (newer); free-list link when unused */
} e2ee__skipped_entry;

typedef struct e2ee__skipped_keys {
    e2ee__skipped_entry *e;
    uint16_t *bucket;
    uint16_t cap, count;
    uint16_t head, tail;      /* oldest, newest */
    uint16_t free_head;
    uint16_t chain_first;     /* oldest key of the newest chain (the list's last run) */
    uint16_t chain_count;     /* keys held for the newest chain */
    uint8_t chain_pub[32];    /* that chain's ratchet key */
} e2ee__skipped_keys;

void e2ee__skipped_init(e2ee__skipped_keys *s);

/* Wipes and frees every key; the store is empty (and initialised) afterwards. */
void e2ee__skipped_cleanup(e2ee__skipped_keys *s);

/* Makes room so that `extra` pushes cannot fail. E2EE_OK or E2EE_ERR_NOMEM (store unchanged). */
E2EE_MUST_CHECK int e2ee__skipped_reserve(e2ee__skipped_keys *s, size_t extra);

/* Index of the key (pub, n) or E2EE_SKIPPED_NIL. */
uint16_t e2ee__skipped_find(const e2ee__skipped_keys *s, const uint8_t pub[32], uint32_t n);

/* Removes (and wipes) entry idx. */
void e2ee__skipped_remove(e2ee__skipped_keys *s, uint16_t idx);

/*
 * Appends (pub, n, mk) as the newest key; the caller reserved room. Evicts the chain's
 * oldest key at the per-chain cap and the store's oldest at the total cap.
 */
void e2ee__skipped_push(e2ee__skipped_keys *s, const uint8_t pub[32], uint32_t n,
                        const uint8_t mk[32]);

/* Removes the oldest run of keys when it belongs to chain pub (a chain being forgotten). */
void e2ee__skipped_drop_chain(e2ee__skipped_keys *s, const uint8_t pub[32]);

#endif
