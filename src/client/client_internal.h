/*
 * e2ee internal: the client object shared by the files of src/client/.
 *
 * Threads and locks (see also include/e2ee/client.h):
 *  - c->mu guards the store and every field marked "mu" below. API calls take it for the
 *    few statements they need; the loop thread holds it for one whole processing pass
 *    (client_process in loop.c), which runs inside one store transaction.
 *  - Fields marked "loop" belong to the loop thread: it touches them only while it holds mu
 *    inside a pass, or (inbound) inside the transport's callback.
 *  - Events are collected during a pass (c->events) and delivered after the lock is released
 *    and the transaction committed; frames (c->frames) are handed to the transport after the
 *    commit, so nothing leaves before the state it depends on is durable. With a file store,
 *    the events about stored state are stored in the same transaction and deleted once their
 *    callback returned (events.c), so a process that dies in between loses none of them.
 *
 * Layering: this folder may include every lower layer and the generated headers, never
 * libwebsockets, SQLite, libsodium or OpenSSL (tests/check_layers.sh).
 */
#ifndef E2EE_CLIENT_INTERNAL_H
#define E2EE_CLIENT_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "client.pb-c.h"
#include "e2ee.pb-c.h"
#include "net/net.h"
#include "proto/fingerprint.h"
#include "proto/group_cipher.h"
#include "proto/identity.h"
#include "proto/prekey.h"
#include "proto/rng.h"
#include "proto/sender_key.h"
#include "proto/sender_key_distribution.h"
#include "proto/sender_key_record.h"
#include "proto/session.h"
#include "store/store.h"
#include "e2ee/client.h"

/* ---- limits and tunables ---- */

#define E2EE__CLIENT_DEVICE 1                   /* the only device id in use */
#define E2EE__CLIENT_ID_BUF (E2EE_USER_ID_MAX + 1)
#define E2EE__CLIENT_PREKEY_BATCH 100           /* one-time prekeys made and published at once */
#define E2EE__CLIENT_PREKEY_LOW 20              /* publish a batch when the relay holds fewer */
#define E2EE__CLIENT_SPK_ROTATE_S (7 * 86400)   /* signed prekey lifetime */
#define E2EE__CLIENT_SPK_KEEP_S (30 * 86400)    /* old signed prekeys kept for late messages */
#define E2EE__CLIENT_OUTQ_MAX 10000             /* messages waiting in the outgoing queue */
#define E2EE__CLIENT_INFLIGHT_MAX 256           /* sends awaiting the relay's answer */
#define E2EE__CLIENT_PUMP_BATCH 64              /* messages prepared per pass */
#define E2EE__CLIENT_PENDING_MAX 256            /* group messages waiting for a sender key */
#define E2EE__CLIENT_PENDING_SEQS_MAX 512       /* remembered seqs per group (meta value) */
#define E2EE__CLIENT_DIST_REQUEST_GAP_MS 10000  /* one key request per (group, sender) */
#define E2EE__CLIENT_DIST_RESEND_GAP_MS 5000    /* one key resend per (group, requester) */
#define E2EE__CLIENT_RATE_ENTRIES 256           /* rate-limit entries remembered */
#define E2EE__CLIENT_RETRY_MIN_MS 500           /* transient refusal: first retry delay */
#define E2EE__CLIENT_RETRY_MAX_MS 30000
#define E2EE__CLIENT_BUNDLE_FAIL_MS 30000       /* a peer whose bundle failed is skipped */
#define E2EE__CLIENT_BUNDLE_WAIT_MS 2000        /* ... or retried after this (no keys yet) */
#define E2EE__CLIENT_BUNDLES_MAX 256            /* bundles asked in one RelayFetchBundles */
#define E2EE__CLIENT_SEEN_KEEP_S (30 * 86400)   /* seen message ids kept for dedup */
#define E2EE__CLIENT_SEEN_MAX 100000
#define E2EE__CLIENT_SEEN_PRUNE_MS (24u * 3600 * 1000) /* pruned at login and this often */
#define E2EE__CLIENT_LOG_LINE_MAX 512
#define E2EE__CLIENT_WAIT_SLICE_MS 50           /* blocking calls re-check this often */
#define E2EE__CLIENT_FOREVER_WAIT_MS 1000       /* longest wait of a loop_forever iteration */
#define E2EE__CLIENT_DRIVER_IDLE_MS 1000        /* a loop called this recently is "running" */
#define E2EE__CLIENT_NET_FRAME_MAX (4u * 1024 * 1024) /* largest frame the transport takes */
#define E2EE__CLIENT_FRAME_DEFAULT (1024u * 1024)     /* relay frame limit until the challenge */
#define E2EE__CLIENT_FRAME_SLACK 256            /* frame bytes besides the payload fields */
#define E2EE__CLIENT_ENVELOPE_MAX (E2EE_BINARY_MAX + 1024)
#define E2EE__CLIENT_TEXT_REASON_MAX 160        /* relay texts kept for events */
#define E2EE__CLIENT_LOGIN_RETRY_MS 1000        /* transient login refusal: answer again after */
#define E2EE__CLIENT_PENDING_TIMEOUT_S_DEFAULT 300
#define E2EE__CLIENT_PENDING_TIMEOUT_S_MAX 86400
#define E2EE__CLIENT_RECONNECT_MAX_LIMIT_MS (24u * 3600 * 1000)
#define E2EE__CLIENT_RATE_DEFAULT 1000          /* relay requests per second until told */
#define E2EE__CLIENT_RATE_SHARE_PCT 75          /* share of it the queue may use (acks...) */
#define E2EE__CLIENT_REPLAY_BATCH 64            /* stored events loaded per pass at a start */

/* Message ids: application messages have the top bit clear, the client's own control
 * messages (key resends and requests) have it set, so receipts for them are recognised. */
#define E2EE__CLIENT_ID_CONTROL (UINT64_C(1) << 63)

/* Meta keys (store meta table). */
#define E2EE__CLIENT_META_USER "client.user_id"
#define E2EE__CLIENT_META_PREKEYS_PENDING "client.prekeys.unpublished" /* u32 first, count */
#define E2EE__CLIENT_META_PREKEYS_MAX "client.prekeys.max_id"         /* u32 */
#define E2EE__CLIENT_META_DIST_PREFIX "client.dist."    /* + group: own base distribution */
#define E2EE__CLIENT_META_PENDING_PREFIX "client.pend." /* + group: waiting seqs */

/* Kinds of outgoing queue items (store outq kind column). */
enum e2ee__client_out_kind {
    E2EE__OUT_DIRECT_TEXT = 1,
    E2EE__OUT_DIRECT_BINARY = 2,
    E2EE__OUT_GROUP_TEXT = 3,
    E2EE__OUT_GROUP_BINARY = 4,
    E2EE__OUT_DIST_RESEND = 5,  /* payload: group id; our key for it, to `target` */
    E2EE__OUT_DIST_REQUEST = 6, /* payload: u32be key id || group id; asks `target` */
};

/* ---- small containers ---- */

/* A growable array of owned pointers. */
struct e2ee__vec {
    void **v;
    size_t n;
    size_t cap;
};

int e2ee__vec_push(struct e2ee__vec *vec, void *p);
/* Removes element i (keeps order) and returns it. */
void *e2ee__vec_take(struct e2ee__vec *vec, size_t i);
/* Frees every element with fn (may be NULL: free()) and the array. */
void e2ee__vec_clear(struct e2ee__vec *vec, void (*fn)(void *));

/* ---- loop-thread records ---- */

/* One transport event, copied out of the transport callback. */
struct e2ee__inbound {
    enum e2ee__net_event_type type;
    uint8_t *data; /* FRAME */
    size_t len;
    int err;
    uint16_t close_code;
    int local;
    uint32_t delay_ms;
    char reason[E2EE__NET_REASON_MAX + 1];
};

/* A send the relay has not answered yet (on this connection). */
struct e2ee__inflight {
    uint64_t req_id;
    uint64_t msg_id;
    uint32_t kind;
    char target[E2EE__CLIENT_ID_BUF];
    uint64_t epoch;   /* group sends */
    uint32_t key_id;  /* group sends: the own key used */
    char **dist;      /* group sends: members given our key in this frame */
    size_t n_dist;
};

/* A bundle fetch in flight. */
struct e2ee__fetch {
    uint64_t req_id;             /* shared by the users of one RelayFetchBundles */
    char user[E2EE__CLIENT_ID_BUF];
    int batch;                   /* asked with RelayFetchBundles */
};

/* A peer whose bundle could not be used, until until_ms (monotonic). */
struct e2ee__peer_fail {
    char user[E2EE__CLIENT_ID_BUF];
    int code;
    int permanent; /* 1: fail direct messages; 0: let them wait */
    uint64_t until_ms;
};

/* A target (user or group) not sent to before until_ms after a transient refusal. */
struct e2ee__retry {
    char target[E2EE__CLIENT_ID_BUF];
    uint64_t until_ms;
    uint32_t delay_ms;
};

/* A group message waiting for its sender's key. */
struct e2ee__pending {
    char group[E2EE__CLIENT_ID_BUF];
    char from[E2EE__CLIENT_ID_BUF];
    uint64_t seq;
    uint64_t cmid;
    uint64_t epoch;
    int64_t time_ms;
    uint64_t since_ms; /* monotonic */
    uint8_t *ct;
    size_t ct_len;
};

/* Rate limit: the last time something was done for (a, b). */
struct e2ee__rate {
    char a[E2EE__CLIENT_ID_BUF];
    char b[E2EE__CLIENT_ID_BUF];
    uint64_t at_ms;
};

/* The highest seq of a stream to acknowledge at the end of the pass. */
struct e2ee__ack {
    char stream[E2EE__CLIENT_ID_BUF]; /* "" inbox */
    uint64_t seq;
};

/* A frame to hand to the transport after the commit. */
struct e2ee__frame_out {
    uint8_t *buf;
    size_t len;
    unsigned flags;
};

/* An event being collected, with the memory its pointers use. */
struct e2ee__event_item {
    struct e2ee_event ev;
    struct e2ee__vec owned;  /* plain allocations */
    uint8_t *data;           /* message data: wiped when freed */
    size_t data_len;
    int64_t stored;          /* its row in the store's pending events, or 0 */
};

/* ---- group calls (mu) ---- */

enum e2ee__call_kind {
    E2EE__CALL_CREATE = 1,
    E2EE__CALL_JOIN,
    E2EE__CALL_LEAVE,
    E2EE__CALL_DELETE,
    E2EE__CALL_REMOVE,
};

enum e2ee__call_state {
    E2EE__CALL_QUEUED = 0, /* waits for a login */
    E2EE__CALL_SENT,       /* sent on this connection */
    E2EE__CALL_FINISHING,  /* answered (code), and the event seen or not coming; the events
                            * of the pass are being delivered */
    E2EE__CALL_DONE,       /* ... and delivered: a blocking caller may return */
};

struct e2ee__call {
    uint64_t req_id;
    enum e2ee__call_kind kind;
    char group[E2EE__CLIENT_ID_BUF];
    char user[E2EE__CLIENT_ID_BUF];
    enum e2ee__call_state state;
    int answered;   /* the relay answered OK */
    int event_seen; /* the membership event it causes was processed */
    int code;       /* final result */
    int waiter;     /* a blocking call waits for it: it frees the call */
};

/* ---- the client ---- */

enum e2ee__conn_state {
    E2EE__CONN_DOWN = 0,  /* no WebSocket */
    E2EE__CONN_OPEN,      /* WebSocket open, no login answered yet */
    E2EE__CONN_UP,        /* logged in */
};

struct e2ee_client {
    /* configuration: set by e2ee_client_new, read-only afterwards */
    char user_id[E2EE__CLIENT_ID_BUF];
    char *relay_url;
    char *token;
    int ack_direct;
    int ack_group;
    uint32_t reconnect_min_ms;
    e2ee__sender_key_window window;
    uint64_t pending_timeout_ms;
    enum e2ee_identity_policy policy;
    e2ee_event_cb event_cb;
    void *user_data;
    e2ee_log_cb log_cb;
    void *log_user_data;
    enum e2ee_log_level log_level;
    e2ee__address addr;
    e2ee__identity *id; /* read-only once created */
    e2ee__rng rng;
    struct e2ee__net *net;

    pthread_mutex_t mu;
    pthread_cond_t cv;       /* signalled when a call completes */
    struct e2ee__store *st;  /* mu */
    uint64_t next_req;       /* mu: request ids, also those handed to the application */
    int pump_dirty;          /* mu: the outgoing queue may have work */
    struct e2ee__vec calls;  /* mu: struct e2ee__call */
    atomic_int logged_in;

    /* loop ownership (mu) */
    int in_loop;
    pthread_t loop_owner;
    int thread_running;
    pthread_t thread;
    atomic_int break_loop;
    uint64_t last_loop_ms;
    pthread_t last_loop_thread;
    int last_loop_valid;

    /* loop thread */
    struct e2ee__vec inbound;   /* struct e2ee__inbound, filled by the transport callback */
    struct e2ee__vec events;    /* struct e2ee__event_item */
    struct e2ee__vec frames;    /* struct e2ee__frame_out */
    struct e2ee__vec inflight;  /* struct e2ee__inflight */
    struct e2ee__vec fetches;   /* struct e2ee__fetch */
    struct e2ee__vec fails;     /* struct e2ee__peer_fail */
    struct e2ee__vec retries;   /* struct e2ee__retry */
    struct e2ee__vec pending;   /* struct e2ee__pending */
    struct e2ee__vec rl_req;    /* struct e2ee__rate: (group, sender) keys asked for */
    struct e2ee__vec rl_resend; /* struct e2ee__rate: (group, requester) keys resent */
    struct e2ee__vec acks;      /* struct e2ee__ack */
    enum e2ee__conn_state conn;
    uint64_t login_req;
    int login_error;            /* refusal that ended the connection, or 0 */
    char login_text[E2EE__CLIENT_TEXT_REASON_MAX];
    uint64_t login_retry_at;    /* monotonic ms; 0: none */
    uint8_t nonce[32];          /* the latest challenge's nonce, until answered */
    int have_nonce;
    char relay_id[E2EE__CLIENT_ID_BUF];
    char cursor_prefix[20];     /* cursors are per relay: 16 hex of SHA-256(relay id) + "/" */
    size_t max_frame;           /* the relay's max_frame_size */
    size_t bundles_max;         /* bundles per RelayFetchBundles (0: one per request) */
    uint32_t rate;              /* sends per second the queue may use (relay's limit share) */
    uint64_t tokens_milli;      /* token bucket of sends, in thousandths */
    uint64_t tokens_at;         /* monotonic ms of the last refill */
    int pump_paced;             /* the queue waits for tokens (timer) */
    uint64_t seen_pruned_at;    /* monotonic ms of the last pruning of seen ids */
    uint64_t publish_req;       /* prekey publication in flight, or 0 */
    int txn;                    /* a store transaction is open */
    size_t events_at_txn;       /* events collected before the transaction began */
    int reconnect_needed;       /* a pass failed: drop the connection to get a redelivery */
    int connect_pending;        /* CONNECT waits for the login's key publication */
    int connect_registered;
    int recycling;              /* closing on purpose to reconnect at once (down_code why) */
    int down_code;
    int keep_events;            /* file store: events are stored until delivered (events.c) */
    int replay;                 /* stored events of an earlier run remain to be delivered */
    int64_t replay_after;       /* ... after this row */
    struct e2ee__vec undone;    /* mu: int64_t rows delivered but not yet deleted */
};

/* ---- util.c ---- */

uint64_t e2ee__client_mono_ms(void);
int64_t e2ee__client_wall_ms(void);
/* 1 when s is a valid relay id: 1..E2EE_USER_ID_MAX of [A-Za-z0-9._@+-]. */
int e2ee__client_id_valid(const char *s);
/* E2EE_OK, E2EE_ERR_ARG (NULL or a bad character), E2EE_ERR_LENGTH. */
int e2ee__client_id_check(const char *s);
/* 1 when buf[0..len) is well-formed UTF-8 without NUL bytes. */
int e2ee__client_utf8_valid(const uint8_t *buf, size_t len);
/* A fresh random message id (top bit set when control). */
int e2ee__client_msg_id_new(uint64_t *id, int control);
void e2ee__client_msg_id_hex(uint64_t id, char out[E2EE_MSG_ID_SIZE]);
int e2ee__client_msg_id_parse(const char *hex, uint64_t *id);
/* Lowercase hex of len bytes into out (2 * len + 1 bytes). */
void e2ee__client_hex(const uint8_t *in, size_t len, char *out);
void e2ee__client_put_u32(uint8_t *p, uint32_t v);
uint32_t e2ee__client_get_u32(const uint8_t *p);
/* Copies src into dst[E2EE__CLIENT_ID_BUF] (truncating; ids are checked before). */
void e2ee__client_copy_id(char *dst, const char *src);

/* ---- log.c ---- */

void e2ee__client_log(struct e2ee_client *c, enum e2ee_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- events.c ---- */

/* New event of `type` appended to c->events; NULL when out of memory (then logged). */
struct e2ee__event_item *e2ee__event_add(struct e2ee_client *c, enum e2ee_event_type type);
/* Copies s into memory owned by the item; NULL stays NULL (and on out of memory: ""). */
const char *e2ee__event_str(struct e2ee__event_item *it, const char *s);
/* Copies message data (+ a NUL) into the item; wiped when the item is freed. */
int e2ee__event_data(struct e2ee__event_item *it, const uint8_t *data, size_t len);
void e2ee__event_item_free(void *p);
/* Drops events collected after index `keep` (a rolled-back pass). */
void e2ee__events_truncate(struct e2ee_client *c, size_t keep);
/* Shorthands for the common events. */
void e2ee__event_error(struct e2ee_client *c, int code, const char *text, uint64_t req,
                       const char *group);
void e2ee__event_e2ee_error(struct e2ee_client *c, int code, const char *text, uint64_t cmid,
                            const char *from, const char *group);
void e2ee__event_ack(struct e2ee_client *c, int group_kind, uint64_t msg_id, const char *to,
                     const char *group, enum e2ee_ack_state state, int code);
/* Delivers the events of `list` (taken out of the client) in order, then frees them; the
 * stored ones are deleted from the store as soon as their callback returned. Called on the
 * loop thread without the lock. */
void e2ee__events_dispatch(struct e2ee_client *c, struct e2ee__vec *list);
/* Stores the events of the pass that are about stored state and not stored yet, in the
 * pass's transaction (opened when needed). mu held; nothing to do for a memory store. */
int e2ee__events_persist(struct e2ee_client *c);
/* Appends the next batch of events stored by an earlier run to c->events (c->replay is
 * cleared after the last one). mu held, at the start of a pass. */
int e2ee__events_replay(struct e2ee_client *c);
/* Deletes the rows whose deletion after delivery failed (in the pass's transaction). */
int e2ee__events_undone_flush(struct e2ee_client *c);

/* ---- event_record.c ---- */

/* 1 for the events about stored state (kept until delivered): all but CONNECT, DISCONNECT
 * and ERROR. */
int e2ee__event_durable(enum e2ee_event_type type);
/* The stored form of ev (free with e2ee__wire_buf_free: it may hold plaintext). */
int e2ee__event_record_pack(const struct e2ee_event *ev, uint8_t **out, size_t *len);
/* A new event item from a stored form (request ids are 0). E2EE_ERR_CORRUPT when damaged. */
E2EE_MUST_CHECK int e2ee__event_record_unpack(const uint8_t *buf, size_t len,
                                              struct e2ee__event_item **out);

/* ---- frames.c ---- */

/* A new request id (mu held). */
uint64_t e2ee__client_req_id(struct e2ee_client *c);
/* Packs f and queues it for after the commit. VOLATILE is always added: every request
 * belongs to its connection (the state it needs is rebuilt after a reconnect). */
int e2ee__client_frame(struct e2ee_client *c, const E2ee__ClientFrame *f, unsigned flags);
/* Pacing of the frames sent to the relay (a bucket at a share of the relay's rate): 1 when
 * a frame may go now (and takes its token), 0 when it must wait. */
int e2ee__client_token(struct e2ee_client *c, uint64_t now);
/* When the next token is there (monotonic ms). */
uint64_t e2ee__client_token_timer(struct e2ee_client *c);
/* Hands the queued frames to the transport (after the commit). */
void e2ee__client_frames_flush(struct e2ee_client *c);
/* Queues an acknowledgement of stream up to seq (merged per stream, sent after the pass). */
int e2ee__client_ack_later(struct e2ee_client *c, const char *stream, uint64_t seq);
/* Builds the ack frame from c->acks (pending group messages hold their stream back). */
int e2ee__client_acks_flush(struct e2ee_client *c);

/* ---- loop.c ---- */

/* Opens the pass's store transaction unless open. */
int e2ee__client_txn(struct e2ee_client *c);
/* Wakes the loop (any thread). */
void e2ee__client_wake(struct e2ee_client *c);
/* 1 when the calling thread is the loop thread inside a pass or a callback. */
int e2ee__client_on_loop_thread(struct e2ee_client *c);
/* 1 when a thread other than the caller runs the loop (or did very recently). mu held. */
int e2ee__client_driven_elsewhere(struct e2ee_client *c);
/* The transport callback (copies into c->inbound). */
void e2ee__client_net_cb(const struct e2ee__net_event *ev, void *user);
/* Frees what c->inbound holds. */
void e2ee__client_inbound_clear(struct e2ee_client *c);

/* ---- login.c ---- */

void e2ee__login_on_open(struct e2ee_client *c);
int e2ee__login_on_challenge(struct e2ee_client *c, const E2ee__RelayChallenge *ch);
int e2ee__login_on_result(struct e2ee_client *c, const E2ee__RelayResult *r);
/* CONNECT_FAILED and DISCONNECTED; retry: the RETRY_SCHEDULED that followed, or NULL. */
void e2ee__login_on_down(struct e2ee_client *c, const struct e2ee__inbound *in,
                         const struct e2ee__inbound *retry);
/* Timers: a transient login refusal is answered again. */
int e2ee__login_timers(struct e2ee_client *c, uint64_t now);
/* Decides in the transport callback whether the transport may reconnect on its own. */
void e2ee__login_net_cb(struct e2ee_client *c, const struct e2ee__net_event *ev);

/* Forgets seen message ids past their time or count (in the pass's transaction). */
int e2ee__login_prune(struct e2ee_client *c);
/* The CONNECT event (once the keys the relay lacked are published). */
void e2ee__login_connect_event(struct e2ee_client *c);

/* ---- keys.c ---- */

/* Loads the identity or creates it (with prekeys); checks the store's user id. mu held. */
int e2ee__keys_open(struct e2ee_client *c);
/* After a login: publishes what the relay lacks. */
int e2ee__keys_after_login(struct e2ee_client *c, const E2ee__RelayLoginOk *ok);
int e2ee__keys_on_low(struct e2ee_client *c);
int e2ee__keys_on_result(struct e2ee_client *c, const E2ee__RelayResult *r);
/* Prekey source over the store for e2ee__session_decrypt. */
void e2ee__keys_source(struct e2ee_client *c, e2ee__prekey_source *src);

/* ---- peers.c ---- */

/* Peer trust state of an identity presented now. E2EE_OK when it may be used (first sight,
 * the trusted key, or a change accepted by the policy), E2EE_ERR_UNTRUSTED_IDENTITY when
 * blocked; events and session clean-up as the policy says. */
int e2ee__peer_observe(struct e2ee_client *c, const char *user, const e2ee__identity_pub *pub);
/* 1 when messages with user are blocked (identity changed, policy BLOCK, not trusted). */
int e2ee__peer_blocked(struct e2ee_client *c, const char *user);
/* *settled = 1 when observing pub cannot drop sessions (user unknown, or pub its trusted
 * key): the key may then be verified by the X3DH that needs it and observed after.
 * *trusted (may be NULL) = 1 when pub is the trusted key (verified when first seen). */
int e2ee__peer_settled(struct e2ee_client *c, const char *user, const e2ee__identity_pub *pub,
                       int *settled, int *trusted);

/* ---- envelope.c ---- */

struct e2ee__envelope {
    E2ee__ClientEnvelopeKind kind;
    uint64_t msg_id;
    const uint8_t *body;
    size_t body_len;
    const char *group;
    uint32_t key_id;
};

int e2ee__envelope_pack(const struct e2ee__envelope *e, uint8_t **out, size_t *len);
/* Decodes and checks an envelope; *out is freed with e2ee__wire_free (it wipes). */
E2EE_MUST_CHECK int e2ee__envelope_unpack(const uint8_t *buf, size_t len,
                                          E2ee__ClientEnvelope **out);

/* ---- pairwise.c ---- */

/* Encrypts pt for user's session: E2EE_ERR_NO_SESSION when there is none. The record is
 * saved. *msg is freed with free(). */
int e2ee__pairwise_encrypt(struct e2ee_client *c, const char *user, const uint8_t *pt,
                           size_t len, uint8_t **msg, size_t *msg_len);
/* Decrypts a pairwise message from user (identity checks, prekey use, record saved). */
E2EE_MUST_CHECK int e2ee__pairwise_decrypt(struct e2ee_client *c, const char *user,
                                           const uint8_t *msg, size_t len,
                                           e2ee__session_decrypt_result *res);
int e2ee__pairwise_has_session(struct e2ee_client *c, const char *user, int *has);
/* Asks the relay for user's bundle unless a fetch is in flight. */
int e2ee__pairwise_fetch(struct e2ee_client *c, const char *user);
/* Fetches the bundles of users[0..n) not being fetched already: RelayFetchBundles of at most
 * bundles_max users each, or one RelayFetchBundle per user. */
int e2ee__pairwise_fetch_many(struct e2ee_client *c, char *const *users, size_t n);
/* 1 while a fetch of user's bundle is in flight. */
int e2ee__pairwise_fetching(struct e2ee_client *c, const char *user);
/* The failure record of user's bundle while active, or NULL. */
const struct e2ee__peer_fail *e2ee__pairwise_failed(struct e2ee_client *c, const char *user,
                                                    uint64_t now);
/* *handled = 1 when r answered one of our bundle fetches (then processed). */
int e2ee__pairwise_on_result(struct e2ee_client *c, const E2ee__RelayResult *r, int *handled);
void e2ee__pairwise_reset(struct e2ee_client *c);

/* ---- outbox.c ---- */

/* Prepares and sends what the queue holds (logged in, mu held, in the transaction). */
int e2ee__outbox_pump(struct e2ee_client *c, uint64_t now);
int e2ee__outbox_on_result(struct e2ee_client *c, const E2ee__RelayResult *r);
/* Queues a control message (key resend or request) to user. */
int e2ee__outbox_control(struct e2ee_client *c, uint32_t kind, const char *user,
                         const uint8_t *payload, size_t len);
void e2ee__outbox_reset(struct e2ee_client *c);
/* Earliest retry deadline (monotonic ms) or 0. */
uint64_t e2ee__outbox_next_timer(struct e2ee_client *c);
/* Schedules a retry of target after a transient refusal. */
void e2ee__outbox_retry_later(struct e2ee_client *c, const char *target, uint64_t now);

/* ---- group_send.c ---- */

enum e2ee__prep {
    E2EE__PREP_READY = 0, /* the frame is queued */
    E2EE__PREP_WAIT,      /* waits for something (a bundle, a result): keep the target's order */
    E2EE__PREP_FAIL,      /* will not be sent: code says why */
};

/* Builds the send_group frame of queue item o (rotation, distributions, encryption). */
int e2ee__group_prepare(struct e2ee_client *c, const struct e2ee__store_outgoing *o,
                        uint64_t msg_id, uint64_t now, struct e2ee__inflight *fl,
                        enum e2ee__prep *prep, int *code);
/* The relay stored a group message: members in fl->dist now hold our key. */
int e2ee__group_on_sent(struct e2ee_client *c, const struct e2ee__inflight *fl);
/* The own key's base distribution for group (meta), for resends. */
int e2ee__group_own_distribution(struct e2ee_client *c, const char *group, uint8_t **dist,
                                 size_t *len);

/* ---- deliveries.c ---- */

int e2ee__deliveries_handle(struct e2ee_client *c, const E2ee__RelayDeliveries *d);
/* The store's name of a stream's cursor on the current relay (buf: E2EE__STORE_ID_MAX + 1). */
void e2ee__deliveries_cursor_name(struct e2ee_client *c, const char *stream, char *buf);
/* Records (from, msg_id) as seen; *first = 0 when it was seen before (drop it). */
int e2ee__deliveries_first_sight(struct e2ee_client *c, const char *from, uint64_t msg_id,
                                 int *first);

/* ---- group_recv.c ---- */

int e2ee__group_recv_message(struct e2ee_client *c, const E2ee__RelayDelivery *d,
                             int retry_pending);
/* Installs a distribution from `from` (authenticated pairwise peer); retries pending. */
int e2ee__group_recv_distribution(struct e2ee_client *c, const char *from,
                                  const uint8_t *dist, size_t len);
int e2ee__group_recv_request(struct e2ee_client *c, const char *from,
                             const E2ee__ClientEnvelope *env);
/* 1 when seq of group is remembered as waiting for a key (store meta). */
int e2ee__pending_seq_held(struct e2ee_client *c, const char *group, uint64_t seq, int *held);
/* Lowest seq of group still waiting, or 0. */
uint64_t e2ee__pending_lowest(struct e2ee_client *c, const char *group);
int e2ee__pending_timers(struct e2ee_client *c, uint64_t now);
uint64_t e2ee__pending_next_timer(struct e2ee_client *c);
/* Forgets everything waiting in group (left, removed, deleted). */
int e2ee__pending_drop_group(struct e2ee_client *c, const char *group);
/* Frees the waiting messages held in memory (e2ee_client_free). */
void e2ee__pending_clear(struct e2ee_client *c);

/* ---- membership.c ---- */

int e2ee__membership_event(struct e2ee_client *c, const E2ee__RelayGroupEvent *ev,
                           int in_inbox);
/* Applies a group's state as the relay gave it (a stale-epoch refusal). */
int e2ee__membership_sync(struct e2ee_client *c, const E2ee__RelayGroupInfo *info);
/* Deletes everything of a group this client no longer belongs to. */
int e2ee__membership_forget(struct e2ee_client *c, const char *group);

/* ---- calls.c ---- */

/* Sends the queued calls (logged in). */
int e2ee__calls_send(struct e2ee_client *c);
/* 1 when the result was a call's (handled). */
int e2ee__calls_on_result(struct e2ee_client *c, const E2ee__RelayResult *r);
/* The request id of the oldest sent call matching a membership event (0: none); marks it. */
uint64_t e2ee__calls_match(struct e2ee_client *c, enum e2ee__call_kind kind, const char *group,
                           const char *user);
/* The connection ended: calls in flight end as E2EE_ERR_CLOSED. */
void e2ee__calls_on_down(struct e2ee_client *c);
/* After a pass's events were delivered: finished calls become done (mu held). */
void e2ee__calls_release(struct e2ee_client *c);

#endif
