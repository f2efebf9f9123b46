/*
 * e2ee internal (proto layer): small encoding helpers shared by the pairwise files:
 * big-endian integers, exact-length field copies out of decoded protobuf messages, the
 * IdentityKey message, and the identity binding that associated data and KDF inputs use.
 */
#ifndef E2EE_PROTO_PWCODEC_H
#define E2EE_PROTO_PWCODEC_H

#include <stddef.h>
#include <stdint.h>

#include "pairwise.pb-c.h"
#include "proto/identity.h"

/*
 * Identity binding (docs/PROTOCOL.md 1.2):
 *   u8 len(user_id) || user_id || u32be device_id || sign_pk (32) || dh_pk (32)
 */
#define E2EE_PWCODEC_BINDING_MAX (1 + E2EE_ADDRESS_USER_ID_MAX + 4 + 32 + 32)

void e2ee__pwcodec_be32(uint8_t out[4], uint32_t v);

/* Copies a present field of exactly len bytes into out: 1 on success, 0 otherwise. */
int e2ee__pwcodec_take(uint8_t *out, size_t len, protobuf_c_boolean has,
                       const ProtobufCBinaryData *b);

/*
 * 1 when pk is the canonical encoding of an X25519 public key: u < 2^255 - 19, so also the
 * top bit clear. X25519 ignores the top bit and reduces u modulo p, so every key has other
 * encodings that give the same shared secrets; a received key is accepted only in its
 * canonical form, or bytes compared as keys (a pre-key message's base key, which marks a
 * repeated pre-key message) could name one key twice.
 */
int e2ee__pwcodec_x25519_canonical(const uint8_t pk[32]);

/* Fills m (already initialised) to point into pub. m borrows pub's memory. */
void e2ee__pwcodec_identity_to_msg(E2ee__IdentityKey *m, const e2ee__identity_pub *pub);

/* Copies a decoded IdentityKey into *out with every length checked: 1 on success, else 0. */
int e2ee__pwcodec_identity_from_msg(e2ee__identity_pub *out, const E2ee__IdentityKey *m);

/* Sets out->user_id from a decoded bytes field (1..E2EE_ADDRESS_USER_ID_MAX, no NUL): 1 or 0. */
int e2ee__pwcodec_user_id_from(e2ee__address *out, protobuf_c_boolean has,
                               const ProtobufCBinaryData *b);

/* Writes the identity binding of (addr, pub) at out; returns its length. out must have room
 * for E2EE_PWCODEC_BINDING_MAX bytes. */
size_t e2ee__pwcodec_binding(uint8_t *out, const e2ee__address *addr,
                             const e2ee__identity_pub *pub);

/*
 * Private records (identity, prekeys, session) end with a checksum field against storage
 * corruption (not an authenticator: whoever can write the store can recompute it):
 *   record = B || 0x7A 0x20 || SHA-256(label || B)
 * where B is the encoding of the record without its field 15 ("checksum"); 0x7A 0x20 is the
 * protobuf key and length of field 15 (bytes, 32 long), so the whole is a valid encoding.
 */
#define E2EE_PWCODEC_CHECKSUM_FIELD_LEN (2 + E2EE_SHA256_LEN)

/* Packs msg (without a checksum) and appends the checksum field. Total at most max_len.
 * The buffer holds secrets: free with e2ee__wire_buf_free. */
E2EE_MUST_CHECK int e2ee__pwcodec_pack_record(const ProtobufCMessage *msg, const char *label,
                                              size_t max_len, uint8_t **out, size_t *out_len);

/* Checks the trailing checksum field and decodes the rest. E2EE_OK, E2EE_ERR_CORRUPT (bad
 * length, checksum or encoding), E2EE_ERR_NOMEM. Free *out with e2ee__wire_free. */
E2EE_MUST_CHECK int e2ee__pwcodec_unpack_record(const ProtobufCMessageDescriptor *desc,
                                                const char *label, const uint8_t *buf,
                                                size_t len, size_t max_len,
                                                ProtobufCMessage **out);

#endif
