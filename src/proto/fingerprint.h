/*
 * e2ee internal (proto layer): identity fingerprints and safety numbers
 * (docs/PROTOCOL.md 1.9).
 *
 *   fingerprint(id) = SHA-256("e2ee-fingerprint-v1" || sign_pk || dh_pk)
 *   digits(fp)      = for i in 0..5: u40be(fp[5i .. 5i+5)) mod 100000 as 5 decimal digits
 *   safety number   = digits(lower fingerprint) || digits(higher fingerprint), the two
 *                     fingerprints ordered bytewise; shown as 12 groups of 5 digits
 *                     separated by single spaces.
 *
 * Deterministic, and identical on both sides whatever the order of the arguments.
 */
#ifndef E2EE_PROTO_FINGERPRINT_H
#define E2EE_PROTO_FINGERPRINT_H

#include <stdint.h>

#include "proto/identity.h"

#define E2EE_FINGERPRINT_LABEL "e2ee-fingerprint-v1"
#define E2EE_FINGERPRINT_LEN 32
#define E2EE_FINGERPRINT_GROUPS 6        /* digit groups per fingerprint */
#define E2EE_FINGERPRINT_GROUP_BYTES 5   /* fingerprint bytes behind one group */
#define E2EE_SAFETY_NUMBER_GROUP_DIGITS 5
#define E2EE_SAFETY_NUMBER_GROUPS (2 * E2EE_FINGERPRINT_GROUPS)
/* Text length with the terminating NUL: 60 digits, 11 spaces, NUL. */
#define E2EE_SAFETY_NUMBER_LEN (E2EE_SAFETY_NUMBER_GROUPS * 6)

/* SHA-256 fingerprint of a public identity. E2EE_OK or E2EE_ERR_ARG / crypto error. */
E2EE_MUST_CHECK int e2ee__fingerprint(uint8_t out[E2EE_FINGERPRINT_LEN],
                                      const e2ee__identity_pub *id);

/*
 * Writes the safety number of identities a and b (in either order) into out as
 * NUL-terminated text "12345 67890 ..." (E2EE_SAFETY_NUMBER_LEN bytes with the NUL).
 * out is set to "" on failure.
 */
E2EE_MUST_CHECK int e2ee__safety_number(char out[E2EE_SAFETY_NUMBER_LEN],
                                        const e2ee__identity_pub *a,
                                        const e2ee__identity_pub *b);

#endif
