/*
 * e2ee internal: helpers shared by every protobuf-c codec of the wire layer.
 *
 * Decoding untrusted bytes goes through e2ee__wire_unpack(): it refuses input over the
 * caller's size limit before parsing, and it parses with an allocator that caps the total
 * memory a single message may claim (so no input can make the decoder allocate more than a
 * fixed multiple of its own size) and wipes every block it frees (decoded records hold keys).
 */
#ifndef E2EE_WIRE_H
#define E2EE_WIRE_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "e2ee/error.h"

/* Memory one decoded message may use: this many times its encoded size, plus the slack. */
#define E2EE_WIRE_ALLOC_FACTOR 16
#define E2EE_WIRE_ALLOC_SLACK 65536

/*
 * Decodes `len` bytes at `buf` as a message of descriptor `desc`.
 * Returns E2EE_OK and sets *out (free with e2ee__wire_free) or:
 * E2EE_ERR_ARG (NULL arguments), E2EE_ERR_TOO_LARGE (len > max_len or the allocation cap
 * was hit), E2EE_ERR_DECODE (malformed). *out is NULL on failure.
 */
E2EE_MUST_CHECK int e2ee__wire_unpack(const ProtobufCMessageDescriptor *desc, const uint8_t *buf,
                                      size_t len, size_t max_len, ProtobufCMessage **out);

/* Frees a message from e2ee__wire_unpack(), wiping all of its memory. NULL is a no-op. */
void e2ee__wire_free(ProtobufCMessage *msg);

/*
 * Encodes msg into a new malloc'd buffer (*out, *out_len). Returns E2EE_OK, E2EE_ERR_NOMEM
 * or E2EE_ERR_TOO_LARGE (packed size over max_len). Caller frees *out (wiping it first
 * when it holds secrets: e2ee__wire_buf_free()).
 */
E2EE_MUST_CHECK int e2ee__wire_pack(const ProtobufCMessage *msg, size_t max_len, uint8_t **out,
                                    size_t *out_len);

/* Wipes and frees a buffer from e2ee__wire_pack(). NULL is a no-op. */
void e2ee__wire_buf_free(uint8_t *buf, size_t len);

#endif
