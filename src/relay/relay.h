/*
 * e2ee relay: the relay's state and the functions its modules share.
 *
 * Threading: everything runs on the one libwebsockets service thread (the signal handler
 * only sets a flag and calls lws_cancel_service). Ownership: the relay owns its sessions
 * (freed when lws closes their connection), its groups and members (the group cache), the
 * store and the lws context.
 *
 * Write path and group commit: a request's writes go into the store's open transaction (one
 * savepoint per request); what it produces for clients (results, deliveries) is queued as
 * pending on each connection. A zero-delay timer commits the transaction at the start of the
 * next service-loop iteration, so all requests read in one iteration share one commit; only
 * then do the pending outputs become ready to write. Nothing is acked before it is durable.
 *
 * Delivery: each stream (a user's inbox, a group's log) is read from the store after
 * commit ("catch-up") until the connection has everything, then it is "live" and new items
 * go straight to the connection's queue. Deliveries queued together leave in one frame.
 */
#ifndef E2EE_RELAY_RELAY_H
#define E2EE_RELAY_RELAY_H

#include <libwebsockets.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "e2ee.pb-c.h"
#include "relay/config.h"
#include "relay/glog_index.h"
#include "relay/ids.h"
#include "relay/map.h"
#include "relay/metrics.h"
#include "relay/outq.h"
#include "relay/store.h"

#define E2EE_RELAY_CATCHUP_PAGE 256        /* stored items read per store query */
#define E2EE_RELAY_BATCH_TARGET E2EE_RCFG_BATCH_TARGET /* bytes of deliveries per frame */
#define E2EE_RELAY_COMMIT_BATCH_MAX 8192   /* requests per transaction before a commit */
#define E2EE_RELAY_RECEIPT_IDS_MAX 4096    /* message ids per receipt item */
#define E2EE_RELAY_LOGIN_ATTEMPTS 5        /* failed logins before the connection closes */
#define E2EE_RELAY_CLOSE_GRACE_S 5         /* seconds a closing connection may take */
#define E2EE_RELAY_STOP_GRACE_MS 3000      /* shutdown: wait this long for clients to go */
#define E2EE_RELAY_HOUSEKEEPING_US 500000  /* period of timeouts and log trimming */
#define E2EE_RELAY_PRUNE_PERIOD_S 60       /* period of forgetting old client message ids */
#define E2EE_RELAY_TEXT_MAX 200            /* result text, bytes */

/* WebSocket close codes (RFC 6455 and the application range). */
#define E2EE_RCLOSE_NORMAL 1000        /* account deleted */
#define E2EE_RCLOSE_GOING_AWAY 1001    /* relay shutting down */
#define E2EE_RCLOSE_UNSUPPORTED 1003   /* a text frame */
#define E2EE_RCLOSE_INVALID 1007       /* a frame that does not parse */
#define E2EE_RCLOSE_POLICY 1008        /* login timeout, too many failed logins, not reading */
#define E2EE_RCLOSE_TOO_BIG 1009       /* a frame over max_frame_size */
#define E2EE_RCLOSE_INTERNAL 1011      /* store failure */
#define E2EE_RCLOSE_TRY_LATER 4013     /* max_connections reached (1013 is not accepted by lws) */
#define E2EE_RCLOSE_REPLACED 4001      /* a newer login of the same user */

struct e2ee__rlink {
    struct e2ee__rlink *prev, *next;
};

void e2ee__rlist_init(struct e2ee__rlink *head);
int e2ee__rlist_linked(const struct e2ee__rlink *l);
void e2ee__rlist_add(struct e2ee__rlink *head, struct e2ee__rlink *l); /* no-op if linked */
void e2ee__rlist_del(struct e2ee__rlink *l);                          /* no-op if unlinked */
#define E2EE_RLIST_ENTRY(ptr, type, member) \
    ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

struct e2ee__relay;
struct e2ee__rsession;
struct e2ee__rgroup;

/* A member of a group (group cache). */
struct e2ee__rmember {
    char uid[E2EE_RELAY_ID_BUF];
    uint32_t mid;           /* member id, unique in its group (senders in the log index) */
    struct e2ee__rgroup *g;
    uint64_t cursor;        /* acked up to here */
    uint64_t stored_cursor; /* the cursor as the store has it (at most `cursor`) */
    struct e2ee__rlink cdirty; /* in relay->dirty_cursors while cursor != stored_cursor */
    uint64_t joined_seq;
    uint64_t pw_max;        /* highest seq with a pairwise payload stored for it; 0: none */
    uint64_t backlog_msgs;  /* messages by others in (cursor, head] */
    uint64_t backlog_bytes;
    struct e2ee__rsub *sub; /* the member's connection, NULL when offline */
};

struct e2ee__rgroup {
    char gid[E2EE_RELAY_ID_BUF];
    char owner[E2EE_RELAY_ID_BUF];
    uint64_t epoch;
    uint64_t head;          /* last seq of the log */
    int64_t created_ms;
    struct e2ee__rmember **members; /* join order */
    size_t n, cap;
    uint64_t gc_upto;       /* log trimmed up to here */
    struct e2ee__rlink gc;  /* in relay->gc_groups when a cursor moved */
    uint32_t next_mid;
    struct e2ee__rglog_index idx; /* the log's messages (acks count them from here) */
};

/* A connected member's position in a group's log. */
struct e2ee__rsub {
    struct e2ee__rgroup *g;
    struct e2ee__rmember *m;
    struct e2ee__rsession *s;
    uint64_t sent; /* highest seq queued to the connection */
    int live;      /* sent == g->head and new entries go straight to the queue */
};

enum e2ee__rsession_state {
    E2EE_RSESSION_CHALLENGED = 0, /* waiting for a login */
    E2EE_RSESSION_AUTHED = 1,
    E2EE_RSESSION_DRAINING = 2,   /* ignores requests; closes once its queue is written */
    E2EE_RSESSION_CLOSING = 3,
};

struct e2ee__rsession {
    struct e2ee__relay *relay;
    struct lws *wsi;
    uint64_t conn_id;       /* for log lines */
    int state;
    int64_t connected_ms;
    uint8_t nonce[E2EE_RELAY_NONCE_LEN];
    int nonce_valid;        /* single use: cleared by every login attempt */
    unsigned login_failures;
    char uid[E2EE_RELAY_ID_BUF];
    uint32_t device;
    int ack_direct, ack_group;
    int registered_users_entry; /* this session is relay->users[uid] */
    uint64_t inbox_acked;   /* the client acked the inbox up to here */
    uint64_t inbox_sent;    /* highest inbox seq queued */
    int inbox_live;
    struct e2ee__rmap subs; /* gid -> struct e2ee__rsub */
    uint8_t *rx;            /* incoming message being assembled */
    size_t rx_len, rx_cap;
    struct e2ee__outq q;
    double tokens;          /* rate limit bucket */
    int64_t tokens_us;
    int close_code;
    char close_reason[124];
    int kill;               /* close without a close frame (pipe choked) */
    struct e2ee__rlink all, dirty, catchup;
};

struct e2ee__relay {
    struct e2ee__relay_config cfg;
    struct e2ee__rstore *store;
    struct lws_context *ctx;
    struct lws_vhost *vhost;
    struct lws_vhost *metrics_vhost;
    lws_retry_bo_t idle_policy; /* WebSocket pings and idle hang-up */
    int listen_port, metrics_port;
    char relay_id[E2EE_RELAY_ID_BUF];
    uint32_t server_frame_max;
    struct e2ee__rmap users;  /* uid -> authenticated session */
    struct e2ee__rmap groups; /* gid -> struct e2ee__rgroup */
    struct e2ee__rlink sessions, dirty, catchup, gc_groups;
    struct e2ee__rlink dirty_cursors; /* members whose cursor moved without a store write */
    size_t n_sessions, n_authed;
    uint64_t next_conn_id;
    /* the open transaction (group commit) */
    int txn_open;
    size_t txn_requests;
    int64_t txn_start_us;
    int flush_scheduled;
    lws_sorted_usec_list_t sul_flush;
    lws_sorted_usec_list_t sul_housekeeping;
    int64_t last_prune_ms;
    /* writer scratch: LWS_PRE + one frame */
    uint8_t *wbuf;
    size_t wcap;
    struct e2ee__rmetrics metrics;
    volatile sig_atomic_t *stop_flag;
    int stopping;
    int64_t stop_deadline_ms;
    int done;
};

/* ---- clock ---- */
int64_t e2ee__relay_now_ms(void);
int64_t e2ee__relay_now_us(void);

/* ---- server.c: lws set-up and the loop ---- */
/* Sets r up without libwebsockets: state, store, relay id and the group cache. 0 or -1
 * (logged). Enough to drive e2ee__relay_dispatch() in-process on sessions made with a NULL
 * wsi (fuzzing): such a session never calls lws, and its owner takes the blobs of its queue
 * (e2ee__outq_*) after e2ee__relay_flush(). e2ee__relay_cleanup() undoes it. */
int e2ee__relay_open(struct e2ee__relay *r, const struct e2ee__relay_config *cfg);
/* e2ee__relay_open(), then the context and vhosts. 0 or -1 (logged). */
int e2ee__relay_init(struct e2ee__relay *r, const struct e2ee__relay_config *cfg,
                     volatile sig_atomic_t *stop_flag);
/* Prints the listening line(s) on stdout and serves until stopped. Returns the exit code. */
int e2ee__relay_run(struct e2ee__relay *r);
void e2ee__relay_cleanup(struct e2ee__relay *r);
/* Called from a signal handler: asks the loop to stop. */
void e2ee__relay_signal_stop(struct e2ee__relay *r);

/* ---- txn.c: transactions and group commit ---- */
/* Opens the batch transaction if none is open and schedules its commit. */
E2EE_MUST_CHECK int e2ee__relay_txn(struct e2ee__relay *r);
/* Savepoint around one request's writes. req_end(ok) releases or undoes them. */
E2EE_MUST_CHECK int e2ee__relay_req_begin(struct e2ee__relay *r);
E2EE_MUST_CHECK int e2ee__relay_req_end(struct e2ee__relay *r, int ok);
/* Commits now (if open), releases pending outputs, then runs catch-up. */
void e2ee__relay_flush(struct e2ee__relay *r);
/* Schedules a flush at the start of the next loop iteration. */
void e2ee__relay_schedule_flush(struct e2ee__relay *r);

/* ---- session.c: connections ---- */
/* New session of connection wsi (NULL: in-process, see e2ee__relay_open). */
struct e2ee__rsession *e2ee__rsession_new(struct e2ee__relay *r, struct lws *wsi);
void e2ee__rsession_free(struct e2ee__rsession *s);
/* Queues blob b (adds a reference) for s: pending inside a transaction, else ready. */
void e2ee__rsession_emit(struct e2ee__rsession *s, struct e2ee__rblob *b);
/* Starts closing s with a WebSocket close code and reason (logged). Drops its queue and
 * detaches it from its user and groups. kill: the pipe is choked, close without a frame. */
void e2ee__rsession_close(struct e2ee__rsession *s, int code, const char *reason, int kill);
/* Lets s write what it has queued, then closes it with code and reason. */
void e2ee__rsession_close_after_drain(struct e2ee__rsession *s, int code, const char *reason);
/* Detaches s from relay->users and its subscriptions (idempotent). */
void e2ee__rsession_detach(struct e2ee__rsession *s);
/* LWS_CALLBACK_SERVER_WRITEABLE: writes one frame. Returns -1 to close the connection. */
int e2ee__rsession_writable(struct e2ee__rsession *s);
/* Builds the next frame to write (results first, then a batch of deliveries up to the batch
 * target) in the relay's write buffer and sets *frame to it. Returns its length, 0 when out
 * of memory; *kind and *count say which lane and how many blobs to pop once it is written.
 * The buffer is valid until the next call. The lws writer and the fuzz harness share it. */
size_t e2ee__rsession_build_frame(struct e2ee__rsession *s, enum e2ee__rblob_kind *kind,
                                  size_t *count, const uint8_t **frame);
/* Asks for a catch-up read of s's streams after the next commit. */
void e2ee__rsession_want_catchup(struct e2ee__rsession *s);
/* Reads stored items for s's streams that are not live, within its unsent-bytes budget. */
void e2ee__rsession_catchup(struct e2ee__rsession *s);
/* Called after a commit for sessions with pending outputs. */
void e2ee__rsession_released(struct e2ee__rsession *s);

/* ---- dispatch.c: requests ---- */
/* Handles one complete incoming message. Returns -1 when the connection must close (the
 * close reason is set). */
int e2ee__relay_dispatch(struct e2ee__rsession *s, const uint8_t *buf, size_t len);
/* Takes n tokens of the connection's max_requests_per_sec bucket: 1, or 0 (none taken) when
 * fewer are saved up. */
int e2ee__relay_rate_take(struct e2ee__rsession *s, double n);
/* Queues a RelayResult; res (may be NULL) carries the body. Counts refusals. */
void e2ee__relay_result(struct e2ee__rsession *s, uint64_t request_id, int code,
                        const char *text, E2ee__RelayResult *res);
/* Result with a formatted text. */
void e2ee__relay_resultf(struct e2ee__rsession *s, uint64_t request_id, int code,
                         const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* ---- encode.c: frames and deliveries ---- */
struct e2ee__rblob *e2ee__renc_frame(const E2ee__ServerFrame *f);
/* Delivery of a stored item for `reader` (stream gid "" = inbox). */
struct e2ee__rblob *e2ee__renc_item(const char *gid, const struct e2ee__rs_item *it,
                                    const char *reader);
/* Appends a length-delimited field header to out (at most 20 bytes); returns its length. */
size_t e2ee__renc_ld_header(uint8_t *out, unsigned field, size_t len);
/* Same blob with a RelayDelivery.pairwise field appended. */
struct e2ee__rblob *e2ee__renc_with_pairwise(const struct e2ee__rblob *base, const uint8_t *p,
                                             size_t plen);
/* Packs a protobuf message into a malloc'd buffer. NULL when out of memory. */
uint8_t *e2ee__renc_pack(const ProtobufCMessage *m, size_t *len);

/* ---- auth.c ---- */
void e2ee__relay_send_challenge(struct e2ee__rsession *s);
void e2ee__relay_login(struct e2ee__rsession *s, uint64_t req, const E2ee__RelayLogin *m);
/* Builds the login message of docs/PROTOCOL.md 3.3 into out (cap bytes); returns its
 * length or 0 when it does not fit. */
size_t e2ee__relay_login_message(uint8_t *out, size_t cap, const char *relay_id,
                                 const uint8_t nonce[E2EE_RELAY_NONCE_LEN], const char *uid,
                                 uint32_t device);

/* ---- directory.c ---- */
void e2ee__relay_publish_keys(struct e2ee__rsession *s, uint64_t req,
                              const E2ee__RelayPublishKeys *m);
void e2ee__relay_fetch_bundle(struct e2ee__rsession *s, uint64_t req,
                              const E2ee__RelayFetchBundle *m);
/* RelayFetchBundles: one RelayBundleItem per item, in request order. */
void e2ee__relay_fetch_bundles(struct e2ee__rsession *s, uint64_t req,
                               const E2ee__RelayFetchBundles *m);
void e2ee__relay_list_users(struct e2ee__rsession *s, uint64_t req,
                            const E2ee__RelayListUsers *m);
void e2ee__relay_delete_account(struct e2ee__rsession *s, uint64_t req,
                                const E2ee__RelayDeleteAccount *m);
/* Live user created/deleted event, to everyone or to those sharing a group with uid. */
void e2ee__relay_user_event(struct e2ee__relay *r, const char *uid, int created);

/* ---- inbox.c: direct messages, receipts, inbox acks ---- */
void e2ee__relay_send_direct(struct e2ee__rsession *s, uint64_t req,
                             const E2ee__RelaySendDirect *m);
/* Acks the inbox up to seq; returns an e2ee_err (text in err). */
int e2ee__relay_inbox_ack(struct e2ee__rsession *s, uint64_t seq, char *err, size_t cap);
/* Appends an item to uid's inbox without limits (events, receipts) and marks its online
 * session for catch-up. NOT_FOUND when uid does not exist. */
E2EE_MUST_CHECK int e2ee__relay_inbox_put_event(struct e2ee__relay *r, const char *uid,
                                                struct e2ee__rs_item *it);
/* Marks uid's online session (if any) for an inbox catch-up. */
void e2ee__relay_inbox_touched(struct e2ee__relay *r, const char *uid);
/* Checks what every send needs (client_msg_id != 0, ciphertext not empty); answers and
 * returns -1 when it fails. */
int e2ee__relay_send_check(struct e2ee__rsession *s, uint64_t req, uint64_t cmid,
                           const ProtobufCBinaryData *ct);
/* Store scan callback collecting (sender, client message id) pairs into a struct acked. */
struct e2ee__racked {
    char **senders;
    uint64_t *ids;
    size_t n, cap;
    int failed;
};
int e2ee__relay_acked_collect(void *arg, const struct e2ee__rs_item *it);
void e2ee__relay_acked_free(struct e2ee__racked *a);
/* Appends receipts for the given sender message ids (grouped by sender) to each sender. */
int e2ee__relay_receipts(struct e2ee__relay *r, const char *recipient, const char *gid,
                         size_t n, const char *const *senders, const uint64_t *cmids);

/* ---- groups.c: the group cache and membership ---- */
int e2ee__relay_groups_load(struct e2ee__relay *r);
void e2ee__relay_groups_free(struct e2ee__relay *r);
struct e2ee__rgroup *e2ee__relay_group(struct e2ee__relay *r, const char *gid);
/* Lowest cursor of g's members (the log below it can go). */
uint64_t e2ee__rgroup_min_cursor(const struct e2ee__rgroup *g);
struct e2ee__rmember *e2ee__rgroup_member(struct e2ee__rgroup *g, const char *uid);
/* Attaches s to each of its groups (after login). */
int e2ee__relay_groups_attach(struct e2ee__rsession *s);
void e2ee__relay_create_group(struct e2ee__rsession *s, uint64_t req,
                              const E2ee__RelayCreateGroup *m);
void e2ee__relay_join_group(struct e2ee__rsession *s, uint64_t req,
                            const E2ee__RelayJoinGroup *m);
void e2ee__relay_leave_group(struct e2ee__rsession *s, uint64_t req,
                             const E2ee__RelayLeaveGroup *m);
void e2ee__relay_delete_group(struct e2ee__rsession *s, uint64_t req,
                              const E2ee__RelayDeleteGroup *m);
void e2ee__relay_remove_member(struct e2ee__rsession *s, uint64_t req,
                               const E2ee__RelayRemoveMember *m);
void e2ee__relay_list_members(struct e2ee__rsession *s, uint64_t req,
                              const E2ee__RelayListMembers *m);
void e2ee__relay_list_groups(struct e2ee__rsession *s, uint64_t req);
/* Result carrying g's GroupInfo with its members. */
void e2ee__relay_group_info_result(struct e2ee__rsession *s, uint64_t req, int code,
                                   const char *text, const struct e2ee__rgroup *g);
/* Account deletion: uid leaves every group (ownership passes on; a last member's group is
 * deleted). Each change is its own savepoint. */
int e2ee__relay_groups_drop_user(struct e2ee__relay *r, const char *uid);

/* ---- group_log.c: group messages, group acks, log trimming ---- */
void e2ee__relay_send_group(struct e2ee__rsession *s, uint64_t req,
                            const E2ee__RelaySendGroup *m);
/* durable: the ack asked for a result, so the cursor is committed before it; otherwise the
 * cursor may move in memory only and reach the store within E2EE_RELAY_HOUSEKEEPING_US
 * (docs/PROTOCOL.md 3.11: an ack without a result may be lost). */
int e2ee__relay_group_ack(struct e2ee__rsession *s, const char *gid, uint64_t seq, int durable,
                          char *err, size_t cap);
/* Writes the cursors that moved in memory only (into the batch transaction). */
void e2ee__relay_cursors_persist(struct e2ee__relay *r);
/* Moves m's cursor in memory; the store follows with e2ee__relay_cursors_persist. */
void e2ee__rmember_cursor_moved(struct e2ee__relay *r, struct e2ee__rmember *m, uint64_t cursor);
/* Trims the logs of groups whose cursors moved. */
void e2ee__relay_groups_gc(struct e2ee__relay *r);
/* Marks every connected member of g not live and due for catch-up. */
void e2ee__relay_group_touched(struct e2ee__relay *r, struct e2ee__rgroup *g);

#endif
