/*
 * e2ee internal: sender key distribution messages.
 *
 * A sender hands its current sender key (group, its user/device, epoch, key id, iteration,
 * chain key at that iteration, signing public key) to each member over the pairwise sessions,
 * ahead of the first group message that needs it. The bytes are secret (they hold the chain
 * key): they only ever travel inside a pairwise-encrypted message. Format: version byte ||
 * SenderKeyDistribution (PROTOCOL.md). The receiver decodes it, finds or creates the record of
 * (group, sender) - the sender being the authenticated peer of the pairwise session - and
 * installs it (e2ee__sender_key_record_install or e2ee__sender_key_distribution_process).
 */
#ifndef E2EE_PROTO_SENDER_KEY_DISTRIBUTION_H
#define E2EE_PROTO_SENDER_KEY_DISTRIBUTION_H

#include <stddef.h>
#include <stdint.h>

#include "proto/sender_key.h"

/* Largest distribution blob (ids of 64 bytes give about 230). */
#define E2EE_SENDER_KEY_DISTRIBUTION_MAX 512

struct e2ee__sender_key_record;

/* A decoded distribution message. Holds a chain key: wipe with _distribution_wipe. */
typedef struct e2ee__sender_key_distribution {
    e2ee__group_sender sender; /* group, user, device */
    uint64_t epoch;
    uint32_t key_id;    /* never 0 */
    uint32_t iteration; /* < E2EE_SENDER_KEY_ITERATION_END */
    uint8_t chain_key[E2EE_SENDER_KEY_CHAIN_LEN];
    uint8_t signing_pk[E2EE_ED25519_PK_LEN];
} e2ee__sender_key_distribution;

/*
 * Encodes the distribution of sk at its current iteration (receivers can open messages from
 * that iteration on, never earlier ones). *out is malloc'd; free with
 * e2ee__sender_key_buf_free (it wipes). Returns E2EE_OK, E2EE_ERR_ARG, E2EE_ERR_LIMIT (the key
 * is spent: rotate), E2EE_ERR_NOMEM.
 */
E2EE_MUST_CHECK int e2ee__sender_key_distribution_create(const e2ee__sender_key *sk,
                                                         uint8_t **out, size_t *out_len);

/*
 * Decodes and checks every field. Returns E2EE_OK, E2EE_ERR_ARG, E2EE_ERR_TOO_LARGE,
 * E2EE_ERR_VERSION or E2EE_ERR_DECODE (malformed, unknown field, bad length or value).
 * *d is zeroed on failure.
 */
E2EE_MUST_CHECK int e2ee__sender_key_distribution_decode(e2ee__sender_key_distribution *d,
                                                         const uint8_t *buf, size_t len);

/* Wipes a decoded distribution. */
void e2ee__sender_key_distribution_wipe(e2ee__sender_key_distribution *d);

/*
 * Decodes buf and installs it into r at now_ms (see e2ee__sender_key_record_install).
 * Returns the codes of both; on any error r is unchanged except for window expiry.
 */
E2EE_MUST_CHECK int e2ee__sender_key_distribution_process(struct e2ee__sender_key_record *r,
                                                          const uint8_t *buf, size_t len,
                                                          uint64_t now_ms);

#endif
