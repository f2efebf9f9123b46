/*
 * e2ee internal: sender keys for group messages (docs/PROTOCOL.md, part 2).
 *
 * This header holds what every part of the group layer shares: the limits, the labels, the
 * (group, sender) context, the chain step and message-key derivation, and the sender's own
 * sender key (e2ee__sender_key). Receivers keep other members' keys in a
 * e2ee__sender_key_record (sender_key_record.h); messages are sealed and opened by
 * group_cipher.h; keys travel as distribution messages (sender_key_distribution.h).
 *
 * Everything here is pure: no I/O, no clock, randomness only through an e2ee__rng. None of
 * the objects is thread-safe: the caller serialises all calls on one object (any thread).
 *
 * How the client layer uses it:
 *   sending, at a new group epoch (first send or membership change):
 *     e2ee__sender_key_new() or e2ee__sender_key_rotate(prev, epoch)  -> own key
 *     e2ee__sender_key_serialize()                  -> store it
 *     e2ee__sender_key_distribution_create()        -> send to each member, pairwise
 *   sending a message:
 *     e2ee__group_encrypt(own key, text)            -> bytes for the relay
 *     e2ee__sender_key_serialize()                  -> store the advanced key BEFORE sending
 *   receiving a distribution from pairwise peer P:
 *     e2ee__sender_key_distribution_decode()        -> group id (and sender, must be P)
 *     record of (group, P): e2ee__sender_key_record_deserialize() from the store, or
 *     e2ee__sender_key_record_new(group, P)
 *     e2ee__sender_key_record_install(record, d, now_ms); serialise and store the record
 *   receiving a group message from sender S in group G (ids from the relay's frame):
 *     record of (G, S); e2ee__group_decrypt(record, bytes, now_ms) -> plaintext;
 *     on E2EE_OK serialise and store the record together with accepting the message.
 *   a member left: drop the record of (group, member); rotate the own key.
 */
#ifndef E2EE_PROTO_SENDER_KEY_H
#define E2EE_PROTO_SENDER_KEY_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"
#include "e2ee/error.h"
#include "proto/rng.h"

/* ---- limits ---- */

#define E2EE_GROUP_ID_MAX 64           /* group id: 1..64 bytes, no NUL */
#define E2EE_GROUP_USER_ID_MAX 64      /* user id: 1..64 bytes, no NUL */
#define E2EE_GROUP_PLAINTEXT_MAX (1u << 20) /* longest group message plaintext (1 MiB) */
#define E2EE_SENDER_KEY_CHAIN_LEN 32   /* chain key */
#define E2EE_SENDER_KEY_SEED_LEN 32    /* message key seed */
#define E2EE_SENDER_KEY_MAX_JUMP 25000 /* most iterations a receiver skips for one message */
#define E2EE_SENDER_KEY_MAX_SKIPPED 2000 /* skipped keys kept: iterations this far behind */
/* Iterations run 0..UINT32_MAX-1; a sender key at E2EE_SENDER_KEY_ITERATION_END is spent. */
#define E2EE_SENDER_KEY_ITERATION_END UINT32_MAX
#define E2EE_SENDER_KEY_KEYGEN_TRIES 16 /* random draws for a non-zero, unused key id */

/* Format version: the first byte of every group-layer blob (message, distribution, records). */
#define E2EE_SENDER_KEY_VERSION 1
#define E2EE_SENDER_KEY_CHECK_LEN 16   /* integrity check at the end of stored blobs */

/* ---- labels (ASCII, no NUL) ---- */
#define E2EE_GROUP_LABEL_KEYS "e2ee-group-msg-v1"          /* HKDF info: AES key and nonce */
#define E2EE_GROUP_LABEL_SIG "e2ee-group-sig-v1"           /* prefix of the signed bytes */
#define E2EE_SENDER_KEY_LABEL_RECORD "e2ee-sender-key-record-v1" /* record check */
#define E2EE_SENDER_KEY_LABEL_OWN "e2ee-sender-key-own-v1"       /* own-key check */

/* ---- the (group, sender) a sender key belongs to ---- */

typedef struct e2ee__group_sender {
    char group_id[E2EE_GROUP_ID_MAX + 1]; /* NUL-terminated */
    char user_id[E2EE_GROUP_USER_ID_MAX + 1];
    uint8_t group_id_len;
    uint8_t user_id_len;
    uint32_t device_id; /* never 0; always 1 until multi-device */
} e2ee__group_sender;

/*
 * Fills *s from C strings. Returns E2EE_OK, E2EE_ERR_ARG (NULL, device_id 0) or
 * E2EE_ERR_LENGTH (an id empty or longer than its limit). *s is zeroed on failure.
 */
E2EE_MUST_CHECK int e2ee__group_sender_set(e2ee__group_sender *s, const char *group_id,
                                           const char *user_id, uint32_t device_id);

/* Same from byte strings (decoded fields): also E2EE_ERR_DECODE when an id holds a NUL. */
E2EE_MUST_CHECK int e2ee__group_sender_set_bytes(e2ee__group_sender *s, const uint8_t *group_id,
                                                 size_t group_len, const uint8_t *user_id,
                                                 size_t user_len, uint32_t device_id);

/* 1 when both name the same group, user and device, else 0. */
int e2ee__group_sender_equal(const e2ee__group_sender *a, const e2ee__group_sender *b);

/* ---- chain ---- */

/*
 * One chain step: seed = HMAC-SHA-256(ck, 0x01) (skipped when seed is NULL) and
 * next = HMAC-SHA-256(ck, 0x02), in one e2ee__hmac_sha256_many call. next may alias ck.
 * On failure seed and next are wiped.
 */
E2EE_MUST_CHECK int e2ee__sender_chain_step(const uint8_t ck[E2EE_SENDER_KEY_CHAIN_LEN],
                                            uint8_t seed[E2EE_SENDER_KEY_SEED_LEN],
                                            uint8_t next[E2EE_SENDER_KEY_CHAIN_LEN]);

/*
 * AES-256-GCM key and nonce of one message: HKDF-Expand-SHA-256(PRK = seed,
 * info = E2EE_GROUP_LABEL_KEYS, 44 bytes) split as key = [0, 32), nonce = [32, 44). The seed,
 * an HMAC output, is used as the PRK directly (no Extract; PROTOCOL.md 2.2 says why).
 * On failure key and nonce are wiped.
 */
E2EE_MUST_CHECK int e2ee__sender_message_keys(const uint8_t seed[E2EE_SENDER_KEY_SEED_LEN],
                                              uint8_t key[E2EE_AEAD_KEY_LEN],
                                              uint8_t nonce[E2EE_AEAD_NONCE_LEN]);

/* ---- the sender's own sender key ---- */

/*
 * The sender's side of one sender key. Fields are read-only outside src/proto; the group
 * cipher advances `iteration` and `chain_key`. Owned by the caller: e2ee__sender_key_free().
 */
typedef struct e2ee__sender_key {
    e2ee__group_sender who; /* group and sending user/device */
    uint64_t epoch;         /* group epoch the key was created for */
    uint32_t key_id;        /* random, never 0 */
    uint32_t iteration;     /* next iteration to encrypt with */
    uint8_t chain_key[E2EE_SENDER_KEY_CHAIN_LEN]; /* chain key of `iteration` */
    uint8_t signing_pk[E2EE_ED25519_PK_LEN];
    uint8_t signing_sk[E2EE_ED25519_SK_LEN]; /* fresh for this sender key */
} e2ee__sender_key;

/*
 * Creates a new sender key for (group_id, epoch), sent by (user_id, device_id): random key
 * id (never 0), random chain key at iteration 0, fresh Ed25519 key pair from a random seed,
 * all from rng. On success *out is the caller's (free with e2ee__sender_key_free()).
 * Returns E2EE_OK, E2EE_ERR_ARG, E2EE_ERR_LENGTH (ids), E2EE_ERR_NOMEM, E2EE_ERR_CRYPTO (the
 * rng failed or kept returning key id 0) or the rng's error. *out is NULL on failure.
 */
E2EE_MUST_CHECK int e2ee__sender_key_new(e2ee__sender_key **out, const char *group_id,
                                         const char *user_id, uint32_t device_id,
                                         uint64_t epoch, const e2ee__rng *rng);

/*
 * Creates the successor of `prev` for a membership change: same group and sender, the given
 * epoch (>= prev's, else E2EE_ERR_WRONG_EPOCH), a key id different from prev's, fresh chain
 * and signing keys. prev is not modified (the caller frees it once the new key is stored).
 * Returns as e2ee__sender_key_new().
 */
E2EE_MUST_CHECK int e2ee__sender_key_rotate(e2ee__sender_key **out, const e2ee__sender_key *prev,
                                            uint64_t epoch, const e2ee__rng *rng);

/* Wipes and frees. NULL is a no-op. */
void e2ee__sender_key_free(e2ee__sender_key *sk);

/*
 * Serialises the own key for the caller's store (it holds the chain key and the signing
 * seed: keep it encrypted at rest). *out is malloc'd; free it with e2ee__sender_key_buf_free.
 * Returns E2EE_OK, E2EE_ERR_ARG, E2EE_ERR_NOMEM or E2EE_ERR_CRYPTO.
 */
E2EE_MUST_CHECK int e2ee__sender_key_serialize(const e2ee__sender_key *sk, uint8_t **out,
                                               size_t *out_len);

/*
 * Parses a blob from e2ee__sender_key_serialize(). Returns E2EE_OK (*out is the caller's),
 * E2EE_ERR_ARG, E2EE_ERR_VERSION (unknown format version), E2EE_ERR_CORRUPT (truncated,
 * failed check, malformed, or a field out of its range), E2EE_ERR_TOO_LARGE, E2EE_ERR_NOMEM.
 */
E2EE_MUST_CHECK int e2ee__sender_key_deserialize(e2ee__sender_key **out, const uint8_t *buf,
                                                 size_t len);

/* Largest own-key blob. */
#define E2EE_SENDER_KEY_OWN_MAX 512

/* Wipes and frees any buffer the group layer returned (blobs, messages, plaintexts). */
void e2ee__sender_key_buf_free(uint8_t *buf, size_t len);

/*
 * Stored-blob framing shared by the own key and the record: version byte || body || check,
 * check = SHA-256(label || version byte || body)[0, 16). A corruption check, not a MAC.
 * _seal appends the check to a buffer whose first len bytes are version || body (the buffer
 * has room for E2EE_SENDER_KEY_CHECK_LEN more). _open checks version and check and returns
 * the body. Both return E2EE_OK or an error (_open: E2EE_ERR_CORRUPT, E2EE_ERR_VERSION).
 */
E2EE_MUST_CHECK int e2ee__sender_key_check_seal(uint8_t *buf, size_t len, const char *label);
E2EE_MUST_CHECK int e2ee__sender_key_check_open(const uint8_t *buf, size_t len,
                                                const char *label, const uint8_t **body,
                                                size_t *body_len);

#endif
