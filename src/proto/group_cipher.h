/*
 * e2ee internal: group messages: sealing with the sender's own sender key, opening with the
 * receiver's record of that sender (docs/PROTOCOL.md, part 2).
 *
 * Message = version byte (0x01) || SenderKeyMessage (key_id, iteration, epoch, ciphertext)
 *           || Ed25519 signature (64 bytes)
 * AD      = version || u8 len || group id || u8 len || user id || u32 device id
 *           || u32 key id || u32 iteration || u64 epoch           (big-endian)
 * signed  = "e2ee-group-sig-v1" || AD || every message byte before the signature
 *
 * One chain step, one HKDF-Expand, one AES-256-GCM and one signature per message, whatever the
 * size of the group: the relay fans the same bytes out to every member.
 */
#ifndef E2EE_PROTO_GROUP_CIPHER_H
#define E2EE_PROTO_GROUP_CIPHER_H

#include <stddef.h>
#include <stdint.h>

#include "proto/sender_key.h"
#include "proto/sender_key_record.h"

#define E2EE_GROUP_SIG_LABEL_LEN (sizeof E2EE_GROUP_LABEL_SIG - 1)
#define E2EE_GROUP_AD_MAX (1 + 1 + E2EE_GROUP_ID_MAX + 1 + E2EE_GROUP_USER_ID_MAX + 4 + 4 + 4 + 8)
/*
 * Most bytes a message adds to its plaintext: version 1, key_id 1+4, iteration 1+5,
 * epoch 1+10, ciphertext tag 1 and length 3 (up to 2^21), GCM tag 16, signature 64.
 */
#define E2EE_GROUP_MSG_OVERHEAD_MAX (1 + 5 + 6 + 11 + 4 + E2EE_AEAD_TAG_LEN + E2EE_ED25519_SIG_LEN)
#define E2EE_GROUP_MSG_MAX (E2EE_GROUP_PLAINTEXT_MAX + E2EE_GROUP_MSG_OVERHEAD_MAX)

/*
 * Writes the associated data of a message into ad and returns its length (0 on NULL
 * arguments). Used by the cipher; exposed for tests and independent checks.
 */
size_t e2ee__group_ad(uint8_t ad[E2EE_GROUP_AD_MAX], const e2ee__group_sender *who,
                      uint32_t key_id, uint32_t iteration, uint64_t epoch);

/*
 * Encrypts pt (ptlen <= E2EE_GROUP_PLAINTEXT_MAX; pt may be NULL when ptlen is 0) as the
 * next message of sk and advances sk by one iteration. *out is malloc'd (free with
 * e2ee__sender_key_buf_free). The caller must store the advanced sk before the message
 * leaves (PROTOCOL.md: an iteration must never be used twice).
 * Returns E2EE_OK, E2EE_ERR_ARG, E2EE_ERR_TOO_LARGE, E2EE_ERR_LIMIT (iterations spent:
 * rotate), E2EE_ERR_NOMEM, E2EE_ERR_CRYPTO; on error sk is unchanged and *out NULL.
 */
E2EE_MUST_CHECK int e2ee__group_encrypt(e2ee__sender_key *sk, const uint8_t *pt, size_t ptlen,
                                        uint8_t **out, size_t *out_len);

/*
 * Decrypts a group message from the sender of record r at now_ms. Order: window expiry,
 * decode, key lookup, signature, epoch, iteration, derivation, AES-GCM; the record changes
 * only when the message authenticates and decrypts (window expiry aside). *pt is malloc'd
 * (free with e2ee__sender_key_buf_free); *pt and *pt_len are NULL/0 on error.
 * Returns E2EE_OK or:
 *   E2EE_ERR_ARG            NULL arguments
 *   E2EE_ERR_TOO_LARGE      longer than E2EE_GROUP_MSG_MAX
 *   E2EE_ERR_DECODE         malformed (bad framing, unknown field, bad length or value)
 *   E2EE_ERR_VERSION        version byte other than 1
 *   E2EE_ERR_UNKNOWN_KEY    no state with that key id (distribution not received yet)
 *   E2EE_ERR_KEY_EXPIRED    key id wiped by the transition window
 *   E2EE_ERR_AUTH           bad signature or bad tag (never says which)
 *   E2EE_ERR_WRONG_EPOCH    signed epoch differs from the epoch of its key
 *   E2EE_ERR_TOO_FAR_AHEAD  iteration more than E2EE_SENDER_KEY_MAX_JUMP past the chain
 *   E2EE_ERR_DUPLICATE      iteration already decrypted
 *   E2EE_ERR_TOO_OLD        iteration before the key's distribution or more than
 *                           E2EE_SENDER_KEY_MAX_SKIPPED behind the newest one received
 *   E2EE_ERR_NOMEM, E2EE_ERR_CRYPTO
 */
E2EE_MUST_CHECK int e2ee__group_decrypt(e2ee__sender_key_record *r, const uint8_t *msg,
                                        size_t len, uint64_t now_ms, uint8_t **pt,
                                        size_t *pt_len);

/* Unauthenticated header of a message (for routing and diagnostics only). */
typedef struct e2ee__group_message_header {
    uint32_t key_id;
    uint32_t iteration;
    uint64_t epoch;
} e2ee__group_message_header;

/*
 * Decodes the header without verifying anything. Returns E2EE_OK, E2EE_ERR_ARG,
 * E2EE_ERR_TOO_LARGE, E2EE_ERR_DECODE or E2EE_ERR_VERSION; *h is zeroed on failure.
 */
E2EE_MUST_CHECK int e2ee__group_message_peek(const uint8_t *msg, size_t len,
                                             e2ee__group_message_header *h);

#endif
