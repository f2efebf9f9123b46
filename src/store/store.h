/*
 * e2ee internal: the client key store.
 *
 * One store holds everything one identity keeps between runs: its identity record, signed and
 * one-time prekeys, pairwise sessions, sender-key records (received and own), groups and
 * members, known users and their identity keys, the seen message ids of incoming messages, the
 * outgoing queue, the relay sequence numbers already acknowledged, the events the application
 * has not received yet, and a key/value meta table.
 *
 * It is SQLite behind this interface (only src/store/ includes sqlite3.h). e2ee__store_open()
 * with a path opens or creates a file (mode 0600, WAL, foreign keys, busy timeout, secure
 * delete, synchronous FULL); with NULL it opens a private in-memory database that runs the very
 * same code (for tests and for clients that want no persistence).
 *
 * Conventions:
 *  - Every function returns E2EE_OK or a negative enum e2ee_err:
 *      E2EE_ERR_ARG       NULL argument or a value the store refuses (device id 0, ...)
 *      E2EE_ERR_LENGTH    id empty or longer than its limit, record empty
 *      E2EE_ERR_TOO_LARGE blob over its limit
 *      E2EE_ERR_RANGE     integer over what the store can hold (epochs and sequences < 2^63)
 *      E2EE_ERR_NOT_FOUND no such item (also: the group of a group-scoped item does not exist)
 *      E2EE_ERR_EXISTS    the item exists already (insert-only operations)
 *      E2EE_ERR_CORRUPT   the file is not an e2ee store, is damaged, or fails its checks
 *      E2EE_ERR_VERSION   the file was written by a newer schema than this build knows
 *      E2EE_ERR_STATE     transaction calls out of order
 *      E2EE_ERR_NOMEM     out of memory
 *      E2EE_ERR_STORE     any other SQLite failure (disk full, I/O, busy past the timeout)
 *  - Ids (user, group, message, stream and meta key) are NUL-terminated strings of
 *    1..E2EE__STORE_ID_MAX bytes, compared byte for byte. Device ids are 1..UINT32_MAX.
 *  - Out-parameters are set to safe values (NULL, 0) on entry and filled only on success.
 *  - Blobs handed out are malloc'd copies owned by the caller; release them with
 *    e2ee__store_blob_free(), which wipes them first (records hold keys and plaintext). Blobs
 *    handed in are read during the call only. What SQLite keeps in its page cache is out of
 *    reach of the wipe; deleted rows are overwritten on disk (secure_delete).
 *  - Time values are whatever the caller passes (the store never reads the clock), seconds or
 *    milliseconds as the caller decides, as long as it is consistent.
 *  - A store is used by one thread at a time (the client serialises its calls). Distinct stores
 *    are independent.
 */
#ifndef E2EE_STORE_H
#define E2EE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "e2ee/error.h"

/* Limits, checked by every call before touching SQLite. */
#define E2EE__STORE_ID_MAX 128                    /* bytes of an id, without the NUL */
#define E2EE__STORE_RECORD_MAX (1024u * 1024u)    /* key, session and sender-key records */
#define E2EE__STORE_PAYLOAD_MAX (1024u * 1024u)   /* outgoing queue payload */
#define E2EE__STORE_META_MAX (64u * 1024u)        /* meta value */
#define E2EE__STORE_KEY_MAX 256                   /* a peer's public identity key */
#define E2EE__STORE_BUSY_TIMEOUT_MS 5000          /* wait for a lock held by another handle */
#define E2EE__STORE_OUTQ_LIST_MAX 4096            /* items one outq_list call hands out */
#define E2EE__STORE_EVENT_MAX (8u * 1024u * 1024u) /* a pending event record */
#define E2EE__STORE_EVENT_LIST_MAX 256           /* records one event_list call hands out */

/* Schema version this build writes (PRAGMA user_version); older files are migrated on open. */
#define E2EE__STORE_SCHEMA_VERSION 3

/* Meta keys starting with this prefix belong to the store itself and are refused by meta_*. */
#define E2EE__STORE_META_RESERVED "store."

struct e2ee__store;

/* ---- lifecycle and transactions ---- */

/*
 * Opens (creating when absent) the store at `path`, or a private in-memory store when path is
 * NULL, and brings its schema to E2EE__STORE_SCHEMA_VERSION. A new file is created with mode
 * 0600. Returns E2EE_OK and *out, or E2EE_ERR_CORRUPT (not an e2ee store / damaged),
 * E2EE_ERR_VERSION (newer schema), E2EE_ERR_STORE (cannot open), E2EE_ERR_NOMEM.
 */
E2EE_MUST_CHECK int e2ee__store_open(struct e2ee__store **out, const char *path);

/*
 * As e2ee__store_open(), but migrates at most up to schema version `max_version` (1..
 * E2EE__STORE_SCHEMA_VERSION). Only for tests that need a file written by an older build.
 */
E2EE_MUST_CHECK int e2ee__store_open_version(struct e2ee__store **out, const char *path,
                                             int max_version);

/* Closes the store, rolling back an open transaction. NULL is a no-op. */
void e2ee__store_close(struct e2ee__store *st);

/* Schema version of the open store. */
int e2ee__store_schema_version(const struct e2ee__store *st);

/* Last SQLite error text of this store (for logs; never holds data). Never NULL. */
const char *e2ee__store_errmsg(const struct e2ee__store *st);

/*
 * Transactions: begin takes the write lock at once (BEGIN IMMEDIATE). Every call between begin
 * and commit is one atomic change. begin inside a transaction and commit/rollback outside one
 * are E2EE_ERR_STATE. A commit that fails rolls the transaction back and returns the error.
 */
E2EE_MUST_CHECK int e2ee__store_begin(struct e2ee__store *st);
E2EE_MUST_CHECK int e2ee__store_commit(struct e2ee__store *st);
int e2ee__store_rollback(struct e2ee__store *st);
/* 1 when a transaction is open. */
int e2ee__store_in_transaction(const struct e2ee__store *st);

/* Wipes and frees a blob handed out by the store. NULL is a no-op. */
void e2ee__store_blob_free(uint8_t *blob, size_t len);

/* Frees an array of n strings handed out by the store. NULL is a no-op. */
void e2ee__store_strv_free(char **v, size_t n);

/* ---- identity (one record) ---- */

/* Stores the identity record. E2EE_ERR_EXISTS when one is stored already. */
E2EE_MUST_CHECK int e2ee__store_identity_put(struct e2ee__store *st, const uint8_t *rec,
                                             size_t len);
/* Hands out a copy of the identity record; E2EE_ERR_NOT_FOUND when there is none. */
E2EE_MUST_CHECK int e2ee__store_identity_get(struct e2ee__store *st, uint8_t **rec, size_t *len);

/* ---- signed prekeys (id -> private record) ---- */

/* Stores signed prekey `id` created at `created`. E2EE_ERR_EXISTS when the id is taken. */
E2EE_MUST_CHECK int e2ee__store_signed_prekey_put(struct e2ee__store *st, uint32_t id,
                                                  const uint8_t *rec, size_t len,
                                                  int64_t created);
E2EE_MUST_CHECK int e2ee__store_signed_prekey_get(struct e2ee__store *st, uint32_t id,
                                                  uint8_t **rec, size_t *len);
/* The most recently created signed prekey (ties: highest id). NOT_FOUND when there is none.
 * id_out and created_out may be NULL. */
E2EE_MUST_CHECK int e2ee__store_signed_prekey_latest(struct e2ee__store *st, uint32_t *id_out,
                                                     uint8_t **rec, size_t *len,
                                                     int64_t *created_out);
E2EE_MUST_CHECK int e2ee__store_signed_prekey_delete(struct e2ee__store *st, uint32_t id);
/* Deletes every signed prekey created before `before` except the latest one. */
E2EE_MUST_CHECK int e2ee__store_signed_prekey_prune(struct e2ee__store *st, int64_t before,
                                                    size_t *removed);

/* ---- one-time prekeys (id -> private record, deleted on use) ---- */

/*
 * Reserves `count` fresh one-time prekey ids: *first .. *first + count - 1. Ids are never
 * handed out twice by one store, even after their prekeys were used and deleted.
 * E2EE_ERR_RANGE when the 32-bit id space would be exhausted.
 */
E2EE_MUST_CHECK int e2ee__store_prekey_alloc_ids(struct e2ee__store *st, uint32_t count,
                                                 uint32_t *first);
/* Stores one-time prekey `id`. E2EE_ERR_EXISTS when the id is taken. */
E2EE_MUST_CHECK int e2ee__store_prekey_put(struct e2ee__store *st, uint32_t id,
                                           const uint8_t *rec, size_t len);
/* NOT_FOUND when the prekey was never stored or was used (deleted) already. */
E2EE_MUST_CHECK int e2ee__store_prekey_get(struct e2ee__store *st, uint32_t id, uint8_t **rec,
                                           size_t *len);
/* Deletes prekey `id` (on use). NOT_FOUND when absent. */
E2EE_MUST_CHECK int e2ee__store_prekey_delete(struct e2ee__store *st, uint32_t id);
E2EE_MUST_CHECK int e2ee__store_prekey_count(struct e2ee__store *st, size_t *count);

/* ---- pairwise sessions ((user, device) -> record) ---- */

/* Inserts or replaces the session record of (user, device). */
E2EE_MUST_CHECK int e2ee__store_session_put(struct e2ee__store *st, const char *user,
                                            uint32_t device, const uint8_t *rec, size_t len);
E2EE_MUST_CHECK int e2ee__store_session_get(struct e2ee__store *st, const char *user,
                                            uint32_t device, uint8_t **rec, size_t *len);
/* NOT_FOUND when absent. */
E2EE_MUST_CHECK int e2ee__store_session_delete(struct e2ee__store *st, const char *user,
                                               uint32_t device);
/* Deletes the sessions with every device of `user`; *removed (may be NULL) gets the count. */
E2EE_MUST_CHECK int e2ee__store_session_delete_user(struct e2ee__store *st, const char *user,
                                                    size_t *removed);

/* ---- received sender keys ((group, sender user, device) -> record) ---- */

/* Inserts or replaces. NOT_FOUND when the group is not stored. */
E2EE_MUST_CHECK int e2ee__store_sender_key_put(struct e2ee__store *st, const char *group,
                                               const char *user, uint32_t device,
                                               const uint8_t *rec, size_t len);
E2EE_MUST_CHECK int e2ee__store_sender_key_get(struct e2ee__store *st, const char *group,
                                               const char *user, uint32_t device,
                                               uint8_t **rec, size_t *len);
E2EE_MUST_CHECK int e2ee__store_sender_key_delete(struct e2ee__store *st, const char *group,
                                                  const char *user, uint32_t device);
/* Deletes the records of every device of `user` in `group` (may remove none). */
E2EE_MUST_CHECK int e2ee__store_sender_key_delete_user(struct e2ee__store *st,
                                                       const char *group, const char *user,
                                                       size_t *removed);

/* ---- own sender keys (group -> record + epoch) ---- */

/* Inserts or replaces the own sender key of `group` for `epoch` (< 2^63). NOT_FOUND when the
 * group is not stored. */
E2EE_MUST_CHECK int e2ee__store_own_sender_key_put(struct e2ee__store *st, const char *group,
                                                   uint64_t epoch, const uint8_t *rec,
                                                   size_t len);
/* epoch may be NULL. */
E2EE_MUST_CHECK int e2ee__store_own_sender_key_get(struct e2ee__store *st, const char *group,
                                                   uint64_t *epoch, uint8_t **rec, size_t *len);
E2EE_MUST_CHECK int e2ee__store_own_sender_key_delete(struct e2ee__store *st,
                                                      const char *group);

/* ---- groups and members ---- */

struct e2ee__store_group {
    char id[E2EE__STORE_ID_MAX + 1];
    char owner[E2EE__STORE_ID_MAX + 1];
    uint64_t epoch; /* < 2^63 */
    int joined;     /* 1 while this identity is a member */
};

/* Inserts or updates (id is the key). Updating keeps members and keys. */
E2EE_MUST_CHECK int e2ee__store_group_put(struct e2ee__store *st,
                                          const struct e2ee__store_group *g);
E2EE_MUST_CHECK int e2ee__store_group_get(struct e2ee__store *st, const char *id,
                                          struct e2ee__store_group *out);
/* Deletes the group with its members, sender keys, own sender key and distribution marks. */
E2EE_MUST_CHECK int e2ee__store_group_delete(struct e2ee__store *st, const char *id);
/* All groups, ordered by id; free *groups with free(). */
E2EE_MUST_CHECK int e2ee__store_group_list(struct e2ee__store *st,
                                           struct e2ee__store_group **groups, size_t *n);

/* EXISTS when already a member; NOT_FOUND when the group is not stored. */
E2EE_MUST_CHECK int e2ee__store_member_add(struct e2ee__store *st, const char *group,
                                           const char *user);
/* Also drops the member's distribution marks. NOT_FOUND when not a member. */
E2EE_MUST_CHECK int e2ee__store_member_remove(struct e2ee__store *st, const char *group,
                                              const char *user);
/* Replaces the member list with users[0..n) (duplicates are ignored) in one atomic step;
 * distribution marks of users no longer listed are dropped. */
E2EE_MUST_CHECK int e2ee__store_member_set(struct e2ee__store *st, const char *group,
                                           const char *const *users, size_t n);
/* 1 in *is_member when user is a member of group, 0 otherwise. */
E2EE_MUST_CHECK int e2ee__store_member_check(struct e2ee__store *st, const char *group,
                                             const char *user, int *is_member);
/* Members ordered by user id; free with e2ee__store_strv_free(). NOT_FOUND: no such group. */
E2EE_MUST_CHECK int e2ee__store_member_list(struct e2ee__store *st, const char *group,
                                            char ***users, size_t *n);

/*
 * Distribution of the own sender key: marks that (user, device) of `group` received the own
 * sender key `key_id`. member_lacking lists the members (ordered by user id) that have no mark
 * for key_id on device 1, i.e. who still need the distribution message.
 */
E2EE_MUST_CHECK int e2ee__store_distribution_mark(struct e2ee__store *st, const char *group,
                                                  const char *user, uint32_t device,
                                                  uint32_t key_id);
E2EE_MUST_CHECK int e2ee__store_member_lacking(struct e2ee__store *st, const char *group,
                                               uint32_t key_id, char ***users, size_t *n);

/* ---- known users and their identity keys ---- */

enum e2ee__store_peer_status {
    E2EE__STORE_PEER_NEW = 1,     /* first sight: the key is now trusted */
    E2EE__STORE_PEER_SAME = 2,    /* the trusted key */
    E2EE__STORE_PEER_CHANGED = 3, /* another key: recorded as pending, not trusted */
};

struct e2ee__store_peer {
    char user[E2EE__STORE_ID_MAX + 1];
    uint8_t trusted_key[E2EE__STORE_KEY_MAX];
    size_t trusted_len;
    uint8_t pending_key[E2EE__STORE_KEY_MAX]; /* the changed key awaiting a decision */
    size_t pending_len;                       /* 0 when none */
    int64_t first_seen;
    int changed; /* 1 while pending_key differs from trusted_key */
};

/*
 * Records that `user` presented identity key `key` at time `now`: on first sight the key
 * becomes trusted (NEW); the trusted key gives SAME (and clears a pending change); any other
 * key is kept as pending and the user marked changed (CHANGED). len 1..E2EE__STORE_KEY_MAX.
 */
E2EE_MUST_CHECK int e2ee__store_peer_observe(struct e2ee__store *st, const char *user,
                                             const uint8_t *key, size_t len, int64_t now,
                                             enum e2ee__store_peer_status *status);
/* Makes `key` the trusted key of `user` and clears the changed flag (creating the user with
 * first_seen = now when unknown). */
E2EE_MUST_CHECK int e2ee__store_peer_trust(struct e2ee__store *st, const char *user,
                                           const uint8_t *key, size_t len, int64_t now);
E2EE_MUST_CHECK int e2ee__store_peer_get(struct e2ee__store *st, const char *user,
                                         struct e2ee__store_peer *out);
E2EE_MUST_CHECK int e2ee__store_peer_delete(struct e2ee__store *st, const char *user);
/* Known user ids ordered by id; free with e2ee__store_strv_free(). */
E2EE_MUST_CHECK int e2ee__store_peer_list(struct e2ee__store *st, char ***users, size_t *n);

/* ---- seen message ids (dedup of incoming messages) ---- */

/* Records (sender, device, msg_id) as seen at `now`. E2EE_ERR_EXISTS when it was seen before
 * (a duplicate: drop the message). */
E2EE_MUST_CHECK int e2ee__store_seen_add(struct e2ee__store *st, const char *user,
                                         uint32_t device, const char *msg_id, int64_t now);
/* 1 in *seen when recorded. */
E2EE_MUST_CHECK int e2ee__store_seen_check(struct e2ee__store *st, const char *user,
                                           uint32_t device, const char *msg_id, int *seen);
/* Forgets ids seen before `before`, then the oldest ones beyond the newest `keep_max`.
 * *removed (may be NULL) gets the count. */
E2EE_MUST_CHECK int e2ee__store_seen_prune(struct e2ee__store *st, int64_t before,
                                           size_t keep_max, size_t *removed);
E2EE_MUST_CHECK int e2ee__store_seen_count(struct e2ee__store *st, size_t *count);

/* ---- outgoing queue (ordered; survives restarts; removed when the relay acks) ---- */

enum e2ee__store_out_state {
    E2EE__STORE_OUT_PENDING = 0,  /* waiting to be handed to the relay */
    E2EE__STORE_OUT_INFLIGHT = 1, /* handed to the relay on this connection; awaiting its ack */
};
#define E2EE__STORE_OUT_ANY UINT32_MAX /* state filter of outq_list: every state */

struct e2ee__store_outgoing {
    int64_t seq; /* queue order, increasing, never reused */
    char msg_id[E2EE__STORE_ID_MAX + 1];
    uint32_t kind; /* the client's message kind; opaque to the store */
    char target[E2EE__STORE_ID_MAX + 1]; /* recipient user id or group id */
    uint8_t *payload;                    /* owned; wiped by e2ee__store_outgoing_cleanup() */
    size_t payload_len;
    uint32_t state;
    int64_t created;
};

/* Appends a message in state PENDING. EXISTS when msg_id is queued already. seq may be NULL.
 * payload may be NULL when len is 0. */
E2EE_MUST_CHECK int e2ee__store_outq_add(struct e2ee__store *st, const char *msg_id,
                                         uint32_t kind, const char *target,
                                         const uint8_t *payload, size_t len, int64_t now,
                                         int64_t *seq);
E2EE_MUST_CHECK int e2ee__store_outq_get(struct e2ee__store *st, const char *msg_id,
                                         struct e2ee__store_outgoing *out);
/* Up to `max` (at most E2EE__STORE_OUTQ_LIST_MAX) queued messages in state `state` (or
 * E2EE__STORE_OUT_ANY), oldest first. Release with e2ee__store_outq_free(). */
E2EE_MUST_CHECK int e2ee__store_outq_list(struct e2ee__store *st, uint32_t state, size_t max,
                                          struct e2ee__store_outgoing **items, size_t *n);
E2EE_MUST_CHECK int e2ee__store_outq_set_state(struct e2ee__store *st, const char *msg_id,
                                               uint32_t state);
/* Moves every message in state `from` to `to` (e.g. INFLIGHT -> PENDING after a reconnect). */
E2EE_MUST_CHECK int e2ee__store_outq_set_state_all(struct e2ee__store *st, uint32_t from,
                                                   uint32_t to, size_t *changed);
/* Removes a message (acked by the relay, or abandoned). NOT_FOUND when absent. */
E2EE_MUST_CHECK int e2ee__store_outq_remove(struct e2ee__store *st, const char *msg_id);
E2EE_MUST_CHECK int e2ee__store_outq_count(struct e2ee__store *st, size_t *count);
/* Wipes and frees the payload of one item and zeroes it. NULL is a no-op. */
void e2ee__store_outgoing_cleanup(struct e2ee__store_outgoing *o);
/* Cleans up n items and frees the array. NULL is a no-op. */
void e2ee__store_outq_free(struct e2ee__store_outgoing *items, size_t n);

/* ---- relay sequence acknowledged, per stream ---- */

/* The last sequence acknowledged on `stream`; 0 when none was recorded. */
E2EE_MUST_CHECK int e2ee__store_cursor_get(struct e2ee__store *st, const char *stream,
                                           uint64_t *seq);
/* Records `seq` (< 2^63) for `stream` unless a higher one is recorded (cursors never move
 * back). */
E2EE_MUST_CHECK int e2ee__store_cursor_advance(struct e2ee__store *st, const char *stream,
                                               uint64_t seq);

/* ---- events the application has not received yet (ordered; survive restarts) ---- */

struct e2ee__store_event {
    int64_t seq;     /* order, increasing, never reused */
    uint8_t *record; /* owned; the client's encoding of the event (may hold plaintext) */
    size_t len;
};

/* Appends a record (1..E2EE__STORE_EVENT_MAX bytes); *seq gets its position. */
E2EE_MUST_CHECK int e2ee__store_event_add(struct e2ee__store *st, const uint8_t *rec,
                                          size_t len, int64_t *seq);
/* Up to `max` (at most E2EE__STORE_EVENT_LIST_MAX) records after position `after`, in order.
 * Release with e2ee__store_event_free(). */
E2EE_MUST_CHECK int e2ee__store_event_list(struct e2ee__store *st, int64_t after, size_t max,
                                           struct e2ee__store_event **items, size_t *n);
/* Deletes the record at `seq` (the application received the event). NOT_FOUND when absent.
 * Outside a transaction the deletion is committed at once without waiting for the disk: it
 * survives the process dying, but a power loss may undo it (the event then comes again). */
E2EE_MUST_CHECK int e2ee__store_event_delete(struct e2ee__store *st, int64_t seq);
E2EE_MUST_CHECK int e2ee__store_event_count(struct e2ee__store *st, size_t *count);
/* Wipes the records, frees them and the array. NULL is a no-op. */
void e2ee__store_event_free(struct e2ee__store_event *items, size_t n);

/* ---- key/value meta ---- */

/* Inserts or replaces. Keys starting with E2EE__STORE_META_RESERVED are E2EE_ERR_ARG.
 * val may be NULL when len is 0. */
E2EE_MUST_CHECK int e2ee__store_meta_put(struct e2ee__store *st, const char *key,
                                         const uint8_t *val, size_t len);
E2EE_MUST_CHECK int e2ee__store_meta_get(struct e2ee__store *st, const char *key,
                                         uint8_t **val, size_t *len);
E2EE_MUST_CHECK int e2ee__store_meta_delete(struct e2ee__store *st, const char *key);

#endif
