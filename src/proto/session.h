/*
 * e2ee internal (proto layer): pairwise sessions: the session record a client persists per
 * peer device, and the cipher it calls to start, encrypt and decrypt.
 *
 * A session record holds the current session state and up to E2EE_SESSION_MAX_PREVIOUS
 * previous ones (newest first). A new state comes from e2ee__session_initiate (we are the
 * initiator: X3DH from the peer's bundle) or from a pre-key message we accept (we are the
 * responder). Decryption tries the current state, then the previous ones in order; the state
 * that decrypts becomes current. This is how both peers initiating at the same time
 * converge: each ends up on the state the other one sends with.
 *
 * Messages (PairwiseMessage, docs/PROTOCOL.md 1.7): an initiator's state sends pre-key
 * messages (X3DH data + ratchet message) until it decrypts a first message from the peer,
 * then plain ratchet messages.
 *
 * Transactions: every function that changes a record changes it only when it returns
 * E2EE_OK; on any error the record is exactly as before (its serialization is byte-for-byte
 * the same). The caller saves the record after each successful call, in the same store
 * transaction as what the call implies (the message's acceptance, marking a one-time
 * prekey used).
 *
 * Ownership and threads: the caller owns a record (e2ee__session_record_new/_deserialize,
 * released with e2ee__session_record_free, which wipes it). A record is not thread-safe: one
 * caller at a time. Identities and prekeys passed in are only read.
 */
#ifndef E2EE_PROTO_SESSION_H
#define E2EE_PROTO_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "proto/identity.h"
#include "proto/prekey.h"
#include "proto/ratchet.h"
#include "proto/rng.h"

#define E2EE_SESSION_RECORD_VERSION 1
#define E2EE_SESSION_RECORD_LABEL "e2ee-session-record-v1"
#define E2EE_SESSION_MAX_PREVIOUS 4          /* previous states kept besides the current */
#define E2EE_SESSION_MAX_STATES (1 + E2EE_SESSION_MAX_PREVIOUS)
#define E2EE_SESSION_RECORD_MAX (2u << 20)   /* longest serialized record accepted */
#define E2EE_PAIRWISE_MESSAGE_VERSION 1
#define E2EE_PAIRWISE_MESSAGE_MAX (E2EE_RATCHET_MAX_PLAINTEXT + 4096)

typedef struct e2ee__session_record e2ee__session_record;

/* What a successful decrypt produced. Release with e2ee__session_decrypt_result_cleanup. */
typedef struct e2ee__session_decrypt_result {
    uint8_t *plaintext;          /* malloc'd; the cleanup wipes and frees it */
    size_t plaintext_len;
    int prekey_message;          /* the message was a pre-key message */
    int new_session;             /* it created a new session state (we are the responder) */
    int used_one_time_prekey;    /* X3DH used one-time prekey one_time_prekey_id: the caller */
    uint32_t one_time_prekey_id; /* must mark it used when it saves the record */
    e2ee__identity_pub remote_identity; /* the peer identity of the state that decrypted */
} e2ee__session_decrypt_result;

/* What a pairwise message says about itself before any decryption (not authenticated). */
typedef struct e2ee__pairwise_message_info {
    int is_prekey;
    e2ee__identity_pub sender_identity; /* pre-key messages only */
    uint8_t base_key[E2EE_X25519_KEY_LEN];
    uint32_t signed_prekey_id;
    int has_one_time_prekey;
    uint32_t one_time_prekey_id;
} e2ee__pairwise_message_info;

/* New empty record (no session). E2EE_OK, E2EE_ERR_ARG, E2EE_ERR_NOMEM. */
E2EE_MUST_CHECK int e2ee__session_record_new(e2ee__session_record **out);

/* Wipes and frees a record. NULL is a no-op. */
void e2ee__session_record_free(e2ee__session_record *rec);

/*
 * Serializes the whole record (SessionRecord, version 1) into a new buffer. It holds
 * secrets: release it with e2ee__wire_buf_free(*out, *out_len). An empty record serializes
 * too. E2EE_OK, E2EE_ERR_ARG, E2EE_ERR_NOMEM, E2EE_ERR_TOO_LARGE.
 */
E2EE_MUST_CHECK int e2ee__session_record_serialize(const e2ee__session_record *rec,
                                                   uint8_t **out, size_t *out_len);

/*
 * Parses a serialized record and checks every field, count, limit and invariant.
 * E2EE_OK with *out owned by the caller; E2EE_ERR_VERSION (unknown record version);
 * E2EE_ERR_CORRUPT (anything else wrong, including over E2EE_SESSION_RECORD_MAX bytes);
 * E2EE_ERR_ARG; E2EE_ERR_NOMEM. *out is NULL on failure.
 */
E2EE_MUST_CHECK int e2ee__session_record_deserialize(e2ee__session_record **out,
                                                     const uint8_t *buf, size_t len);

/* Number of session states in the record (0 when empty). */
size_t e2ee__session_record_state_count(const e2ee__session_record *rec);

/* 1 when the record has a current state to encrypt with, else 0. */
int e2ee__session_record_has_session(const e2ee__session_record *rec);

/* 1 when the current state still sends pre-key messages (no reply decrypted yet). */
int e2ee__session_record_is_pending(const e2ee__session_record *rec);

/* The current state's peer identity. E2EE_OK or E2EE_ERR_NO_SESSION / E2EE_ERR_ARG. */
E2EE_MUST_CHECK int e2ee__session_record_remote_identity(const e2ee__session_record *rec,
                                                         e2ee__identity_pub *out);

/*
 * Starts a session as initiator from the peer's bundle (fetched from the relay): verifies
 * both bundle signatures (E2EE_ERR_AUTH), runs X3DH (32 bytes from rng) and makes the new
 * state current (the oldest previous state is dropped past E2EE_SESSION_MAX_PREVIOUS). The
 * peer address is the bundle's. The caller checks the bundle's identity against what it
 * trusts before calling. E2EE_ERR_WEAK_KEY on a low-order bundle key; E2EE_ERR_NOMEM.
 */
E2EE_MUST_CHECK int e2ee__session_initiate(e2ee__session_record *rec,
                                           const e2ee__identity *local,
                                           const e2ee__address *local_addr,
                                           const e2ee__prekey_bundle *bundle,
                                           const e2ee__rng *rng);

/*
 * Encrypts pt (at most E2EE_RATCHET_MAX_PLAINTEXT bytes) with the current state into a new
 * PairwiseMessage buffer *out (free with free(); it holds no secret): a pre-key message
 * while the state is pending, a ratchet message afterwards. rng gives 32 bytes when a DH
 * ratchet step is due. E2EE_OK; E2EE_ERR_NO_SESSION; E2EE_ERR_TOO_LARGE; E2EE_ERR_LIMIT
 * (2^32 - 1 messages on one chain); E2EE_ERR_NOMEM; E2EE_ERR_ARG.
 */
E2EE_MUST_CHECK int e2ee__session_encrypt(e2ee__session_record *rec, const e2ee__rng *rng,
                                          const uint8_t *pt, size_t ptlen, uint8_t **out,
                                          size_t *out_len);

/*
 * Decrypts a PairwiseMessage from peer remote_addr. States are tried only when they belong
 * to remote_addr. A pre-key message is first matched to an existing responder state by its
 * base key; otherwise X3DH runs as responder with the keys that `prekeys` returns (prekeys
 * may be NULL when the caller expects no pre-key message: E2EE_ERR_UNKNOWN_KEY then).
 * expected_remote (may be NULL): an identity the caller verified (e2ee__identity_pub_verify)
 * or took from a key it verified before. When given, a pre-key message from another identity
 * is refused with E2EE_ERR_UNTRUSTED_IDENTITY before anything else is done, and one from
 * exactly this identity is not verified again (one Ed25519 verification less).
 *
 * On E2EE_OK, *res holds the plaintext and what happened (see the struct). Errors:
 *   E2EE_ERR_DECODE / E2EE_ERR_VERSION / E2EE_ERR_TOO_LARGE: malformed message;
 *   E2EE_ERR_AUTH: no state authenticates it, or the sender identity's signature is bad;
 *   E2EE_ERR_DUPLICATE, E2EE_ERR_REPLAY, E2EE_ERR_TOO_FAR_AHEAD: see e2ee__ratchet_decrypt
 *     (when several states reject a message, DUPLICATE or REPLAY from any state wins, since
 *     they recognise its ratchet key; otherwise the current state's error is returned);
 *   E2EE_ERR_REPLAY also when the one-time prekey it names was already used (as the
 *     prekey source reports);
 *   E2EE_ERR_UNKNOWN_KEY: unknown signed or one-time prekey id;
 *   E2EE_ERR_NO_SESSION: a ratchet message and no state for remote_addr;
 *   E2EE_ERR_UNTRUSTED_IDENTITY, E2EE_ERR_WEAK_KEY, E2EE_ERR_NOMEM, E2EE_ERR_ARG,
 *   or an error the prekey source returned.
 * On every error the record is unchanged and *res is empty.
 */
E2EE_MUST_CHECK int e2ee__session_decrypt(e2ee__session_record *rec,
                                          const e2ee__identity *local,
                                          const e2ee__address *local_addr,
                                          const e2ee__address *remote_addr,
                                          const e2ee__identity_pub *expected_remote,
                                          const e2ee__prekey_source *prekeys,
                                          const uint8_t *msg, size_t len,
                                          e2ee__session_decrypt_result *res);

/* Wipes and frees the plaintext and zeroes *res. NULL is a no-op. */
void e2ee__session_decrypt_result_cleanup(e2ee__session_decrypt_result *res);

/*
 * Parses a PairwiseMessage far enough to say what it is (no key is used, nothing is
 * verified): lets a caller look up the sender's identity or prekeys before decrypting.
 * E2EE_OK, E2EE_ERR_DECODE, E2EE_ERR_VERSION, E2EE_ERR_TOO_LARGE, E2EE_ERR_ARG.
 */
E2EE_MUST_CHECK int e2ee__pairwise_message_peek(const uint8_t *msg, size_t len,
                                                e2ee__pairwise_message_info *info);

#endif
