/*
 * e2ee internal (proto layer): the session state and record structures shared by
 * session.c (the cipher) and session_codec.c (the record format). Not for other files.
 */
#ifndef E2EE_PROTO_SESSION_STATE_H
#define E2EE_PROTO_SESSION_STATE_H

#include "proto/ratchet.h"
#include "proto/session.h"

typedef struct e2ee__session_state {
    e2ee__ratchet r;
    int initiator;
    uint8_t base_key[E2EE_X25519_KEY_LEN]; /* X3DH ephemeral public key (ours or theirs) */
    int pending_prekey;                    /* initiator: no reply decrypted yet */
    uint32_t spk_id;                       /* X3DH inputs, repeated in pre-key messages */
    int has_opk;
    uint32_t opk_id;
} e2ee__session_state;

struct e2ee__session_record {
    size_t n;                                          /* states in use */
    e2ee__session_state *st[E2EE_SESSION_MAX_STATES];  /* current first */
};

/* New zeroed state (skipped-key store initialised), or NULL. */
e2ee__session_state *e2ee__session_state_new(void);

/* Wipes and frees a state. NULL is a no-op. */
void e2ee__session_state_free(e2ee__session_state *s);

E2EE_MUST_CHECK int e2ee__session_codec_pack(const struct e2ee__session_record *rec,
                                             uint8_t **out, size_t *out_len);
E2EE_MUST_CHECK int e2ee__session_codec_unpack(struct e2ee__session_record *rec,
                                               const uint8_t *buf, size_t len);

#endif
