/*
 * e2ee internal (proto layer): long-term identity keys and peer addresses.
 *
 * An identity is an Ed25519 signing key pair plus an X25519 DH key pair whose public key is
 * signed by the signing key (signed message: "e2ee-identity-dh-v1" || dh_pk). The public
 * half (e2ee__identity_pub) is what peers and the relay see; the private half lives in
 * guarded memory inside the opaque e2ee__identity.
 *
 * Pure code: no I/O, no clock; randomness only through the e2ee__rng passed in. Functions
 * may be called from any thread; an e2ee__identity may be shared read-only between threads.
 */
#ifndef E2EE_PROTO_IDENTITY_H
#define E2EE_PROTO_IDENTITY_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"
#include "proto/rng.h"

#define E2EE_IDENTITY_DH_LABEL "e2ee-identity-dh-v1"
#define E2EE_IDENTITY_RECORD_VERSION 1
#define E2EE_IDENTITY_RECORD_LABEL "e2ee-identity-record-v1"
#define E2EE_IDENTITY_RECORD_MAX 512   /* longest serialized identity record accepted */
#define E2EE_IDENTITY_KEY_MAX 256      /* longest serialized public identity accepted */

/* Longest user id in bytes (ids are 1..E2EE_ADDRESS_USER_ID_MAX bytes without NUL). */
#define E2EE_ADDRESS_USER_ID_MAX 255
/* The only device id in use today (multi-device room: carried everywhere already). */
#define E2EE_DEVICE_ID_DEFAULT 1

/* Public identity key. Plain value type: copy freely. */
typedef struct e2ee__identity_pub {
    uint8_t sign_pk[E2EE_ED25519_PK_LEN];
    uint8_t dh_pk[E2EE_X25519_KEY_LEN];
    uint8_t dh_sig[E2EE_ED25519_SIG_LEN];
} e2ee__identity_pub;

/* Private identity (opaque; secrets in guarded memory). */
typedef struct e2ee__identity e2ee__identity;

/* A (user, device) pair. Plain value type; user_id is NUL-terminated. */
typedef struct e2ee__address {
    char user_id[E2EE_ADDRESS_USER_ID_MAX + 1];
    uint32_t device_id;
} e2ee__address;

/*
 * Sets *out to (user_id, device_id). E2EE_ERR_ARG on NULL, E2EE_ERR_LENGTH when user_id is
 * empty or longer than E2EE_ADDRESS_USER_ID_MAX bytes. *out is zeroed on failure.
 */
E2EE_MUST_CHECK int e2ee__address_set(e2ee__address *out, const char *user_id,
                                      uint32_t device_id);

/* 1 when both addresses name the same user and device, else 0. */
int e2ee__address_equal(const e2ee__address *a, const e2ee__address *b);

/*
 * Generates a new identity with randomness from rng (32 bytes Ed25519 seed, then 32 bytes
 * X25519 secret). On success *out is a new identity owned by the caller (free with
 * e2ee__identity_free). Returns E2EE_OK, E2EE_ERR_ARG, E2EE_ERR_NOMEM or the rng's error.
 */
E2EE_MUST_CHECK int e2ee__identity_generate(e2ee__identity **out, const e2ee__rng *rng);

/* Wipes and frees an identity. NULL is a no-op. */
void e2ee__identity_free(e2ee__identity *id);

/* The public half of id (never fails for a valid id). */
const e2ee__identity_pub *e2ee__identity_public(const e2ee__identity *id);

/* The X25519 secret key of id (32 bytes, read-only; valid while id lives). */
const uint8_t *e2ee__identity_dh_secret(const e2ee__identity *id);

/*
 * Signs msg (len bytes; NULL allowed when len is 0) with the identity's Ed25519 key. The
 * caller is responsible for domain separation (prefix its own "e2ee-...-v1" label).
 */
E2EE_MUST_CHECK int e2ee__identity_sign(const e2ee__identity *id,
                                        uint8_t sig[E2EE_ED25519_SIG_LEN], const uint8_t *msg,
                                        size_t len);

/*
 * Serializes the private identity (an IdentityRecord, version 1) into a new buffer. The
 * buffer holds secrets: release it with e2ee__wire_buf_free(*out, *out_len).
 */
E2EE_MUST_CHECK int e2ee__identity_serialize(const e2ee__identity *id, uint8_t **out,
                                             size_t *out_len);

/*
 * Parses an IdentityRecord. Recomputes both public keys from the secrets and checks them and
 * the DH signature against the stored public part. Returns E2EE_OK with *out owned by the
 * caller; E2EE_ERR_VERSION (unknown version), E2EE_ERR_CORRUPT (malformed or inconsistent),
 * E2EE_ERR_ARG, E2EE_ERR_NOMEM. *out is NULL on failure.
 */
E2EE_MUST_CHECK int e2ee__identity_deserialize(e2ee__identity **out, const uint8_t *buf,
                                               size_t len);

/* E2EE_OK if pub->dh_sig is the signing key's signature of the DH key, else E2EE_ERR_AUTH. */
E2EE_MUST_CHECK int e2ee__identity_pub_verify(const e2ee__identity_pub *pub);

/* 1 when both public identities are equal (all three fields), else 0. */
int e2ee__identity_pub_equal(const e2ee__identity_pub *a, const e2ee__identity_pub *b);

/* Serializes a public identity as an IdentityKey message (free with free()). */
E2EE_MUST_CHECK int e2ee__identity_pub_serialize(const e2ee__identity_pub *pub, uint8_t **out,
                                                 size_t *out_len);

/*
 * Parses an IdentityKey message into *out (lengths checked; the signature is not verified:
 * call e2ee__identity_pub_verify). E2EE_ERR_DECODE when malformed, E2EE_ERR_TOO_LARGE over
 * E2EE_IDENTITY_KEY_MAX bytes. *out is zeroed on failure.
 */
E2EE_MUST_CHECK int e2ee__identity_pub_parse(e2ee__identity_pub *out, const uint8_t *buf,
                                             size_t len);

#endif
