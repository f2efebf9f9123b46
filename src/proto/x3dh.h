/*
 * e2ee internal (proto layer): X3DH key agreement (docs/PROTOCOL.md 1.4).
 *
 *   DH1 = X25519(IK_A, SPK_B)   DH2 = X25519(EK_A, IK_B)   DH3 = X25519(EK_A, SPK_B)
 *   DH4 = X25519(EK_A, OPK_B)   (only when the bundle carried a one-time prekey)
 *   SK  = HKDF-SHA-256(ikm  = 0xFF * 32 || DH1 || DH2 || DH3 [|| DH4],
 *                      salt = 32 zero bytes,
 *                      info = "e2ee-x3dh-v1" || binding(A) || binding(B), L = 32)
 *
 * where A is the initiator, B the responder, IK the identities' X25519 keys and binding()
 * the identity binding of pwcodec.h (user id, device id, both identity public keys).
 * Both functions wipe every intermediate value; sk is zeroed on failure.
 */
#ifndef E2EE_PROTO_X3DH_H
#define E2EE_PROTO_X3DH_H

#include <stdint.h>

#include "proto/identity.h"
#include "proto/prekey.h"
#include "proto/rng.h"

#define E2EE_X3DH_LABEL "e2ee-x3dh-v1"
#define E2EE_X3DH_SK_LEN 32

/*
 * Initiator side. Verifies the bundle (E2EE_ERR_AUTH on a bad identity or signed-prekey
 * signature), draws the ephemeral secret (32 bytes) from rng, and outputs SK and the
 * ephemeral public key (the "base key" of the pre-key message). E2EE_ERR_WEAK_KEY when a
 * bundle key is low-order.
 */
E2EE_MUST_CHECK int e2ee__x3dh_initiator(uint8_t sk[E2EE_X3DH_SK_LEN],
                                         uint8_t base_pk[E2EE_X25519_KEY_LEN],
                                         const e2ee__identity *local,
                                         const e2ee__address *local_addr,
                                         const e2ee__prekey_bundle *bundle,
                                         const e2ee__rng *rng);

/*
 * Responder side, from our identity and prekeys (opk NULL when the pre-key message names
 * none) and the initiator's identity, address and base key. The caller has verified the
 * initiator identity's signature. E2EE_ERR_WEAK_KEY when a peer key is low-order.
 */
E2EE_MUST_CHECK int e2ee__x3dh_responder(uint8_t sk[E2EE_X3DH_SK_LEN],
                                         const e2ee__identity *local,
                                         const e2ee__address *local_addr,
                                         const e2ee__signed_prekey *spk,
                                         const e2ee__one_time_prekey *opk,
                                         const e2ee__identity_pub *remote,
                                         const e2ee__address *remote_addr,
                                         const uint8_t base_pk[E2EE_X25519_KEY_LEN]);

#endif
