/*
 * e2ee internal: the receiver's record of one (group, sender): the sender's current sender
 * key, its previous ones inside the transition window, and the ids of keys wiped by it.
 *
 * Transition window. When a distribution message installs a new key id, the current state
 * becomes the newest previous state, stamped retired_at_ms = now_ms. A previous state stays
 * usable while BOTH hold:
 *   - now_ms - retired_at_ms < window.max_age_ms (a clock that went backwards counts as 0),
 *   - it is among the window.max_previous newest previous states.
 * Every call that takes now_ms first wipes the states outside the window (expiry depends on
 * time and count only, never on the message, so it happens whatever the call's outcome).
 * A wiped key id is remembered (the newest E2EE_SENDER_KEY_EXPIRED_IDS_MAX of them) so that
 * its messages get E2EE_ERR_KEY_EXPIRED rather than E2EE_ERR_UNKNOWN_KEY, and so that a late
 * copy of its distribution message cannot bring it back. The current state never expires.
 *
 * Ownership: the caller owns the record (_new/_deserialize, _free) and serialises all calls
 * on one record; distinct records are independent.
 */
#ifndef E2EE_PROTO_SENDER_KEY_RECORD_H
#define E2EE_PROTO_SENDER_KEY_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "proto/sender_key.h"
#include "proto/sender_key_distribution.h"
#include "proto/sender_key_state.h"

#define E2EE_SENDER_KEY_WINDOW_MS_DEFAULT 60000u  /* 60 s */
#define E2EE_SENDER_KEY_WINDOW_MS_MAX (7ull * 24 * 3600 * 1000) /* one week */
#define E2EE_SENDER_KEY_WINDOW_STATES_DEFAULT 3u  /* previous states kept at most */
#define E2EE_SENDER_KEY_WINDOW_STATES_MAX 16u
#define E2EE_SENDER_KEY_RECORD_STATES_MAX (1 + E2EE_SENDER_KEY_WINDOW_STATES_MAX)
#define E2EE_SENDER_KEY_EXPIRED_IDS_MAX 16u
/* Largest record blob: 17 full states of 2,000 cached seeds is about 1.23 MB. */
#define E2EE_SENDER_KEY_RECORD_MAX (2u << 20)

typedef struct e2ee__sender_key_window {
    uint64_t max_age_ms;   /* 0..E2EE_SENDER_KEY_WINDOW_MS_MAX; 0 = no transition window */
    uint32_t max_previous; /* 0..E2EE_SENDER_KEY_WINDOW_STATES_MAX */
} e2ee__sender_key_window;

/* The defaults: 60 s and 3 previous states. */
e2ee__sender_key_window e2ee__sender_key_window_default(void);

typedef struct e2ee__sender_key_record {
    e2ee__group_sender sender;      /* the group and the sending user/device */
    e2ee__sender_key_window window; /* policy; not serialised */
    uint32_t n_states;
    e2ee__sender_key_state *states[E2EE_SENDER_KEY_RECORD_STATES_MAX]; /* [0] current */
    uint32_t n_expired;
    uint32_t expired[E2EE_SENDER_KEY_EXPIRED_IDS_MAX]; /* wiped key ids, newest first */
} e2ee__sender_key_record;

/*
 * New empty record for messages of (group_id, user_id, device_id). window NULL means the
 * defaults. Returns E2EE_OK (*out is the caller's), E2EE_ERR_ARG, E2EE_ERR_LENGTH (ids),
 * E2EE_ERR_RANGE (window values over their maxima) or E2EE_ERR_NOMEM.
 */
E2EE_MUST_CHECK int e2ee__sender_key_record_new(e2ee__sender_key_record **out,
                                                const char *group_id, const char *user_id,
                                                uint32_t device_id,
                                                const e2ee__sender_key_window *window);

/* Wipes every state and frees. NULL is a no-op. */
void e2ee__sender_key_record_free(e2ee__sender_key_record *r);

/* Changes the window policy (applied at the next call taking now_ms). Errors as _new. */
E2EE_MUST_CHECK int e2ee__sender_key_record_set_window(e2ee__sender_key_record *r,
                                                       const e2ee__sender_key_window *window);

/* Wipes the previous states outside the window at now_ms; returns how many were wiped. */
uint32_t e2ee__sender_key_record_expire(e2ee__sender_key_record *r, uint64_t now_ms);

/*
 * Installs a decoded distribution message at now_ms (after expiring by the window):
 *  - same key id, epoch and signing key as a state already held: nothing changes (E2EE_OK;
 *    processing a distribution twice is harmless and never rewinds a chain);
 *  - a new key id: becomes the current state; the former current one enters the window.
 * Errors (the record is unchanged): E2EE_ERR_ARG; E2EE_ERR_PROTOCOL (the message names
 * another group or sender than the record); E2EE_ERR_KEY_EXPIRED (that key id was wiped
 * by the window); E2EE_ERR_EXISTS (the key id is held with another epoch or signing key);
 * E2EE_ERR_WRONG_EPOCH (epoch older than the current state's); E2EE_ERR_NOMEM.
 */
E2EE_MUST_CHECK int e2ee__sender_key_record_install(e2ee__sender_key_record *r,
                                                    const e2ee__sender_key_distribution *d,
                                                    uint64_t now_ms);

/*
 * Finds the state of key_id. Returns E2EE_OK (*out points into the record, valid until the
 * next change), E2EE_ERR_ARG, E2EE_ERR_KEY_EXPIRED (wiped by the window) or
 * E2EE_ERR_UNKNOWN_KEY. Does not expire: callers do that first.
 */
E2EE_MUST_CHECK int e2ee__sender_key_record_lookup(e2ee__sender_key_record *r, uint32_t key_id,
                                                   e2ee__sender_key_state **out);

/* Key id of the current state, 0 when the record holds none. */
uint32_t e2ee__sender_key_record_current_id(const e2ee__sender_key_record *r);

/*
 * Serialises the record (version byte || SenderKeyRecord || check, see PROTOCOL.md) for the
 * caller's store. It holds chain keys and seeds: keep it encrypted at rest. *out is malloc'd;
 * free with e2ee__sender_key_buf_free. Returns E2EE_OK, E2EE_ERR_ARG, E2EE_ERR_NOMEM,
 * E2EE_ERR_CRYPTO.
 */
E2EE_MUST_CHECK int e2ee__sender_key_record_serialize(const e2ee__sender_key_record *r,
                                                      uint8_t **out, size_t *out_len);

/*
 * Parses a record blob, checking every field (lengths, ranges, orderings, uniqueness) before
 * trusting it; window NULL means the defaults (the policy is not stored). Returns E2EE_OK
 * (*out is the caller's), E2EE_ERR_ARG, E2EE_ERR_RANGE (window), E2EE_ERR_TOO_LARGE (over
 * E2EE_SENDER_KEY_RECORD_MAX), E2EE_ERR_VERSION, E2EE_ERR_CORRUPT (anything else wrong) or
 * E2EE_ERR_NOMEM.
 */
E2EE_MUST_CHECK int e2ee__sender_key_record_deserialize(e2ee__sender_key_record **out,
                                                        const uint8_t *buf, size_t len,
                                                        const e2ee__sender_key_window *window);

#endif
