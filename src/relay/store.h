/*
 * e2ee relay: the durable store, behind an interface (a table of operations) so that a
 * PostgreSQL back end can follow the SQLite one (store_sqlite.c) without touching the rest
 * of the relay. Only store*.c files know the database.
 *
 * What it keeps: users (TOFU-bound identity keys, signed prekey, inbox counters), one-time
 * prekeys, each user's inbox (an ordered sequence of items, deleted by cumulative acks),
 * groups (owner, epoch, head of the log; deleted groups stay as tombstones so epochs and
 * sequence numbers never go back), members with their cursor into the group log, the group
 * log (messages and membership events, stored once), pairwise payloads attached to a log
 * entry for one member, and the sender message ids seen recently (idempotent sends).
 *
 * Transactions: the relay opens one transaction per batch (group commit: begin ... commit)
 * and a savepoint per request inside it, so a failed request undoes only its own writes.
 * Reads outside a transaction see committed data only.
 *
 * Every operation returns E2EE_OK or a negative e2ee_err: E2EE_ERR_NOT_FOUND,
 * E2EE_ERR_QUEUE_FULL, E2EE_ERR_LIMIT where documented, E2EE_ERR_STORE on a database failure.
 * Strings are ids (see ids.h); blobs are opaque. Single-threaded: one caller thread.
 */
#ifndef E2EE_RELAY_STORE_H
#define E2EE_RELAY_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "e2ee/error.h"
#include "relay/ids.h"

#define E2EE_RSTORE_SCHEMA_VERSION 2 /* see store_schema.c */

enum e2ee__rs_sync {
    E2EE_RS_SYNC_FULL = 0,   /* fsync at every commit: survives power loss */
    E2EE_RS_SYNC_NORMAL = 1, /* WAL without fsync at commit: survives a process crash */
};

/* Kinds of stored items. Inbox: DIRECT, RECEIPT, EVENT. Group log: GROUP_MESSAGE, EVENT. */
enum e2ee__rs_kind {
    E2EE_RS_DIRECT = 1,        /* data = ciphertext */
    E2EE_RS_RECEIPT = 2,       /* data = encoded RelayReceipt */
    E2EE_RS_EVENT = 3,         /* data = encoded RelayGroupEvent; extra = its member list */
    E2EE_RS_GROUP_MESSAGE = 4, /* data = ciphertext */
};

struct e2ee__rs_user {
    char uid[E2EE_RELAY_ID_BUF];
    uint32_t device;
    uint8_t sign_pk[E2EE_RELAY_KEY_LEN];
    uint8_t dh_pk[E2EE_RELAY_KEY_LEN];
    uint8_t dh_sig[E2EE_RELAY_SIG_LEN];
    int has_spk;
    uint32_t spk_id;
    uint8_t spk_pk[E2EE_RELAY_KEY_LEN];
    uint8_t spk_sig[E2EE_RELAY_SIG_LEN];
    uint64_t inbox_head;   /* last seq assigned in the inbox */
    uint64_t inbox_acked;  /* everything up to here was acked (and deleted) */
    uint64_t queued_msgs;  /* inbox items stored, not acked */
    uint64_t queued_bytes; /* their data bytes */
    int64_t created_ms;
};

/* One stored item, as written and as read back. Pointers are valid during a callback only. */
struct e2ee__rs_item {
    uint64_t seq;
    int kind;                     /* enum e2ee__rs_kind */
    const char *peer;             /* sender (DIRECT, GROUP_MESSAGE), "" otherwise */
    uint32_t peer_device;
    uint64_t cmid;                /* sender's client message id (DIRECT, GROUP_MESSAGE) */
    uint64_t epoch;               /* GROUP_MESSAGE and EVENT in a group log */
    int64_t at_ms;                /* when stored */
    const uint8_t *data;
    size_t len;
    const uint8_t *extra;         /* EVENT: encoded member list for the joiner; may be NULL */
    size_t extra_len;
    const uint8_t *pairwise;      /* read only: the reader's pairwise payload, may be NULL */
    size_t pairwise_len;
};

struct e2ee__rs_group {
    char gid[E2EE_RELAY_ID_BUF];
    char owner[E2EE_RELAY_ID_BUF];
    uint64_t epoch;
    uint64_t head; /* last seq assigned in the log */
    int deleted;   /* tombstone */
    int64_t created_ms;
};

struct e2ee__rs_member {
    char gid[E2EE_RELAY_ID_BUF];
    char uid[E2EE_RELAY_ID_BUF];
    uint64_t cursor;     /* acked up to here */
    uint64_t joined_seq; /* seq of its join (or create) entry: the order of members */
};

/* Limits checked atomically by inbox_append; NULL means "store whatever". */
struct e2ee__rs_limits {
    uint64_t max_msgs;
    uint64_t max_bytes;
};

typedef int (*e2ee__rs_item_cb)(void *arg, const struct e2ee__rs_item *it);
typedef int (*e2ee__rs_str_cb)(void *arg, const char *s);
typedef int (*e2ee__rs_group_cb)(void *arg, const struct e2ee__rs_group *g);
typedef int (*e2ee__rs_member_cb)(void *arg, const struct e2ee__rs_member *m);

struct e2ee__rstore;

struct e2ee__rstore_ops {
    void (*close)(struct e2ee__rstore *st);

    /* Transactions: one outer transaction, savepoints nested in it. */
    int (*begin)(struct e2ee__rstore *st);
    int (*commit)(struct e2ee__rstore *st);
    int (*rollback)(struct e2ee__rstore *st);
    int (*savepoint)(struct e2ee__rstore *st);
    int (*release)(struct e2ee__rstore *st);
    int (*rollback_to)(struct e2ee__rstore *st); /* undo to the savepoint and release it */

    /* Small named settings (relay id). get: E2EE_ERR_NOT_FOUND when unset. */
    int (*meta_get)(struct e2ee__rstore *st, const char *key, char *out, size_t cap);
    int (*meta_set)(struct e2ee__rstore *st, const char *key, const char *value);

    /* Users. user_create: E2EE_ERR_EXISTS when taken. user_delete removes the user, its
     * prekeys, inbox, memberships and sent ids (the caller updates its groups first). */
    int (*user_get)(struct e2ee__rstore *st, const char *uid, struct e2ee__rs_user *out);
    int (*user_create)(struct e2ee__rstore *st, const struct e2ee__rs_user *u);
    int (*user_delete)(struct e2ee__rstore *st, const char *uid);
    int (*user_list)(struct e2ee__rstore *st, const char *after, uint32_t limit,
                     e2ee__rs_str_cb cb, void *arg);

    /* Prekeys. otpk_add stores n keys (ids already stored are replaced) and refuses with
     * E2EE_ERR_LIMIT when the total would exceed max; otpk_take consumes the lowest id
     * (E2EE_ERR_NOT_FOUND when none is left). */
    int (*spk_set)(struct e2ee__rstore *st, const char *uid, uint32_t id,
                   const uint8_t pk[E2EE_RELAY_KEY_LEN], const uint8_t sig[E2EE_RELAY_SIG_LEN]);
    int (*otpk_add)(struct e2ee__rstore *st, const char *uid, size_t n, const uint32_t *ids,
                    const uint8_t (*pks)[E2EE_RELAY_KEY_LEN], uint32_t max);
    int (*otpk_clear)(struct e2ee__rstore *st, const char *uid);
    int (*otpk_count)(struct e2ee__rstore *st, const char *uid, uint32_t *n);
    int (*otpk_take)(struct e2ee__rstore *st, const char *uid, uint32_t *id,
                     uint8_t pk[E2EE_RELAY_KEY_LEN]);

    /* Inbox. append assigns the next seq (*seq): E2EE_ERR_NOT_FOUND (no such user),
     * E2EE_ERR_QUEUE_FULL (lim given and the item would exceed it). read: items after
     * `after`, at most max, in order. scan: DIRECT items in (after, upto], data not read.
     * ack: deletes items up to upto, sets inbox_acked, updates the counters. */
    int (*inbox_append)(struct e2ee__rstore *st, const char *uid, const struct e2ee__rs_item *it,
                        const struct e2ee__rs_limits *lim, uint64_t *seq);
    int (*inbox_read)(struct e2ee__rstore *st, const char *uid, uint64_t after, uint32_t max,
                      e2ee__rs_item_cb cb, void *arg);
    int (*inbox_scan)(struct e2ee__rstore *st, const char *uid, uint64_t after, uint64_t upto,
                      e2ee__rs_item_cb cb, void *arg);
    int (*inbox_ack)(struct e2ee__rstore *st, const char *uid, uint64_t upto);

    /* Sender message ids (idempotent sends). get: E2EE_ERR_NOT_FOUND when unseen; gid is
     * "" for a direct message. prune forgets ids stored before before_ms. */
    int (*sent_get)(struct e2ee__rstore *st, const char *sender, uint64_t cmid,
                    char gid[E2EE_RELAY_ID_BUF], char to[E2EE_RELAY_ID_BUF], uint64_t *seq);
    int (*sent_put)(struct e2ee__rstore *st, const char *sender, uint64_t cmid, const char *gid,
                    const char *to, uint64_t seq, int64_t at_ms);
    int (*sent_prune)(struct e2ee__rstore *st, int64_t before_ms);

    /* Groups. get includes tombstones (E2EE_ERR_NOT_FOUND if never created). put inserts
     * or updates the row. remove marks the tombstone (keeping epoch and head) and drops
     * the log, the pairwise payloads and the members. load calls gcb for every live group
     * and mcb for each of its members in join order. */
    int (*group_get)(struct e2ee__rstore *st, const char *gid, struct e2ee__rs_group *out);
    int (*group_put)(struct e2ee__rstore *st, const struct e2ee__rs_group *g);
    int (*group_remove)(struct e2ee__rstore *st, const struct e2ee__rs_group *g);
    int (*group_load)(struct e2ee__rstore *st, e2ee__rs_group_cb gcb, e2ee__rs_member_cb mcb,
                      void *arg);

    /* Members. remove also drops the member's pairwise payloads. set_cursor drops the
     * member's pairwise payloads up to the cursor. groups_of lists a user's group ids. */
    int (*member_add)(struct e2ee__rstore *st, const struct e2ee__rs_member *m);
    int (*member_remove)(struct e2ee__rstore *st, const char *gid, const char *uid);
    int (*member_set_cursor)(struct e2ee__rstore *st, const char *gid, const char *uid,
                             uint64_t cursor);
    int (*groups_of)(struct e2ee__rstore *st, const char *uid, e2ee__rs_str_cb cb, void *arg);

    /* Group log. append stores it->seq (the caller assigns head + 1). pairwise attaches a
     * payload for one member to entry seq. read: entries after `after`, at most max, with
     * the reader's pairwise payload. scan: GROUP_MESSAGE entries in (after, upto] not sent
     * by `exclude`, data not read (len is set). gc drops entries and payloads up to upto. */
    int (*glog_append)(struct e2ee__rstore *st, const char *gid, const struct e2ee__rs_item *it);
    int (*glog_pairwise)(struct e2ee__rstore *st, const char *gid, uint64_t seq, const char *uid,
                         const uint8_t *data, size_t len);
    int (*glog_read)(struct e2ee__rstore *st, const char *gid, uint64_t after, uint32_t max,
                     const char *reader, e2ee__rs_item_cb cb, void *arg);
    int (*glog_scan)(struct e2ee__rstore *st, const char *gid, uint64_t after, uint64_t upto,
                     const char *exclude, e2ee__rs_item_cb cb, void *arg);
    int (*glog_gc)(struct e2ee__rstore *st, const char *gid, uint64_t upto);

    /* Totals for metrics: inbox items and group log entries stored. */
    int (*counts)(struct e2ee__rstore *st, uint64_t *inbox_items, uint64_t *glog_items);
};

struct e2ee__rstore {
    const struct e2ee__rstore_ops *ops;
};

/*
 * Opens (creating or migrating) the SQLite store at path, in WAL mode with the given sync
 * mode, and takes an exclusive lock on it (a second relay on the same file fails here).
 * Errors: E2EE_ERR_STORE (cannot open, locked, I/O), E2EE_ERR_VERSION (the file's schema is
 * newer than this program), E2EE_ERR_CORRUPT (not an e2ee relay store).
 * On failure *out is NULL and errmsg (if not NULL) holds a reason.
 */
E2EE_MUST_CHECK int e2ee__rstore_sqlite_open(const char *path, enum e2ee__rs_sync sync,
                                             struct e2ee__rstore **out, char *errmsg,
                                             size_t errcap);

#endif
