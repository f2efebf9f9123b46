/*
 * e2ee internal (proto layer): one Double Ratchet state (docs/PROTOCOL.md 1.5, 1.6).
 *
 *   KDF_RK(rk, dh) = HKDF-SHA-256(ikm = dh, salt = rk, info = "e2ee-ratchet-root-v1", L = 64)
 *                    -> new rk = bytes 0..31, chain key = bytes 32..63
 *   KDF_CK(ck)     -> message key seed mk = HMAC-SHA-256(ck, 0x01), next ck = HMAC(ck, 0x02)
 *   keys(mk)       = HKDF-SHA-256(ikm = mk, salt = 32 zero bytes, info = "e2ee-ratchet-msg-v1",
 *                    L = 44) -> AES-256-GCM key = bytes 0..31, nonce = bytes 32..43
 *   AD             = "e2ee-pairwise-ad-v1" || binding(sender) || binding(recipient) || header
 *   header         = ratchet public key (32) || u32be PN || u32be N
 *
 * The sending DH step is taken lazily: receiving a new ratchet key derives the receiving
 * chain only; the next encrypt draws a new ratchet key pair and derives the sending chain.
 * On the wire this is the Double Ratchet of the Signal specification.
 *
 * Transactions: encrypt and decrypt compute every change on local copies (and reserve
 * memory first) and commit only after the AEAD succeeded, so on any error the state is
 * exactly as before. Ownership: the caller owns the struct; e2ee__ratchet_cleanup wipes it
 * and frees its skipped-key store. Not thread-safe: one caller per state at a time.
 */
#ifndef E2EE_PROTO_RATCHET_H
#define E2EE_PROTO_RATCHET_H

#include <stddef.h>
#include <stdint.h>

#include "proto/identity.h"
#include "proto/rng.h"
#include "proto/skipped.h"

#define E2EE_RATCHET_ROOT_LABEL "e2ee-ratchet-root-v1"
#define E2EE_RATCHET_MSG_LABEL "e2ee-ratchet-msg-v1"
#define E2EE_RATCHET_AD_LABEL "e2ee-pairwise-ad-v1"
#define E2EE_RATCHET_HEADER_LEN 40
/* Previous receiving chains remembered (their ratchet keys and skipped keys). */
#define E2EE_RATCHET_MAX_RETIRED 32
/* Longest plaintext of one message. */
#define E2EE_RATCHET_MAX_PLAINTEXT (1u << 20)
/* Longest associated data: label, two bindings, header. */
#define E2EE_RATCHET_AD_MAX (sizeof E2EE_RATCHET_AD_LABEL - 1 + 2 * (1 + E2EE_ADDRESS_USER_ID_MAX + 68) \
                             + E2EE_RATCHET_HEADER_LEN)

typedef struct e2ee__ratchet_header {
    uint8_t pub[E2EE_X25519_KEY_LEN];
    uint32_t pn;
    uint32_t n;
} e2ee__ratchet_header;

typedef struct e2ee__ratchet {
    e2ee__address local_addr, remote_addr;
    e2ee__identity_pub local_id, remote_id;
    uint8_t root[32];
    int has_dhs;                    /* our ratchet key pair */
    uint8_t dhs_pk[32], dhs_sk[32];
    int has_cks;                    /* sending chain; 0: the next encrypt takes a DH step */
    uint8_t cks[32];
    uint32_t ns, pn;
    int has_dhr;                    /* the peer's current ratchet key */
    uint8_t dhr[32];
    int has_ckr;                    /* receiving chain of dhr */
    uint8_t ckr[32];
    uint32_t nr;
    uint32_t n_retired;             /* earlier receiving ratchet keys, oldest first */
    uint8_t retired[E2EE_RATCHET_MAX_RETIRED][32];
    e2ee__skipped_keys skipped;
} e2ee__ratchet;

/*
 * Initialises r for the initiator after X3DH: root key sk, the peer's ratchet key is its
 * signed prekey. The first encrypt takes the sending DH step.
 */
void e2ee__ratchet_init_initiator(e2ee__ratchet *r, const uint8_t sk[32],
                                  const uint8_t spk_pub[32], const e2ee__address *local_addr,
                                  const e2ee__identity_pub *local_id,
                                  const e2ee__address *remote_addr,
                                  const e2ee__identity_pub *remote_id);

/* Initialises r for the responder: root key sk, our ratchet key pair is the signed prekey. */
void e2ee__ratchet_init_responder(e2ee__ratchet *r, const uint8_t sk[32],
                                  const uint8_t spk_pub[32], const uint8_t spk_sk[32],
                                  const e2ee__address *local_addr,
                                  const e2ee__identity_pub *local_id,
                                  const e2ee__address *remote_addr,
                                  const e2ee__identity_pub *remote_id);

/* Wipes r and frees its skipped keys. NULL is a no-op. */
void e2ee__ratchet_cleanup(e2ee__ratchet *r);

/*
 * Encrypts pt (ptlen <= E2EE_RATCHET_MAX_PLAINTEXT) into ct (ptlen + 16 bytes: ciphertext ||
 * tag) and fills *h. rng is used only when a sending DH step is due (32 bytes).
 * E2EE_OK; E2EE_ERR_ARG; E2EE_ERR_TOO_LARGE; E2EE_ERR_STATE (no peer ratchet key yet: a
 * responder state cannot exist so, but a caller-built state can); E2EE_ERR_LIMIT (counter
 * exhausted); crypto/rng errors. On failure r is unchanged and ct wiped.
 */
E2EE_MUST_CHECK int e2ee__ratchet_encrypt(e2ee__ratchet *r, const e2ee__rng *rng,
                                          const uint8_t *pt, size_t ptlen,
                                          e2ee__ratchet_header *h, uint8_t *ct);

/*
 * Decrypts ct (ctlen >= 16) with header h into pt (ctlen - 16 bytes).
 * E2EE_OK: the state advanced (keys consumed, skipped keys stored).
 * E2EE_ERR_AUTH: the tag did not verify (forged or tampered header, ciphertext or tag).
 * E2EE_ERR_DUPLICATE: h names the current receiving chain at a number already consumed
 *   (decrypted before, or skipped and since evicted) and no skipped key is held for it.
 * E2EE_ERR_REPLAY: h names an earlier receiving chain of this state (a retired ratchet key)
 *   and no skipped key is held for (key, number).
 * E2EE_ERR_TOO_FAR_AHEAD: reaching N (or closing the previous chain at PN) would skip more
 *   than E2EE_RATCHET_MAX_SKIP_PER_CHAIN keys of one chain.
 * E2EE_ERR_WEAK_KEY: h's ratchet key is low-order.  E2EE_ERR_NOMEM, E2EE_ERR_ARG.
 * On every error r is exactly as before and pt is wiped.
 */
E2EE_MUST_CHECK int e2ee__ratchet_decrypt(e2ee__ratchet *r, const e2ee__ratchet_header *h,
                                          const uint8_t *ct, size_t ctlen, uint8_t *pt);

/* ---- the KDFs, exposed for known-answer tests ---- */

E2EE_MUST_CHECK int e2ee__ratchet_kdf_rk(uint8_t rk_out[32], uint8_t ck_out[32],
                                         const uint8_t rk[32], const uint8_t dh[32]);
E2EE_MUST_CHECK int e2ee__ratchet_kdf_ck(uint8_t mk_out[32], uint8_t ck_out[32],
                                         const uint8_t ck[32]);
E2EE_MUST_CHECK int e2ee__ratchet_message_keys(uint8_t key[E2EE_AEAD_KEY_LEN],
                                               uint8_t nonce[E2EE_AEAD_NONCE_LEN],
                                               const uint8_t mk[32]);

/* Writes the associated data of a message from sender to recipient with header h into out
 * (room for E2EE_RATCHET_AD_MAX bytes) and returns its length. */
size_t e2ee__ratchet_ad(uint8_t *out, const e2ee__address *sender_addr,
                        const e2ee__identity_pub *sender, const e2ee__address *recipient_addr,
                        const e2ee__identity_pub *recipient, const e2ee__ratchet_header *h);

#endif
