/*
 * e2ee: the client API. End-to-end encrypted direct and group messages through an e2ee-relay.
 *
 * One e2ee_client is one identity (one user id, one device) connected to one relay. It keeps
 * its keys, sessions, groups and unsent messages in a local store, builds pairwise sessions
 * and group sender keys on its own, and reports everything that happens as events.
 *
 * Typical use:
 *
 *     struct e2ee_client_config cfg;
 *     e2ee_client *c;
 *     char id[E2EE_MSG_ID_SIZE];
 *
 *     e2ee_client_config_init(&cfg);
 *     cfg.user_id = "alice";
 *     cfg.relay_url = "wss://relay.example.org:8765/";
 *     cfg.store_path = "alice.e2ee";
 *     cfg.event_cb = on_event;        // void on_event(const struct e2ee_event *, void *)
 *     cfg.user_data = app;
 *     if (e2ee_client_new(&c, &cfg) != E2EE_OK) ...
 *     e2ee_client_connect(c);
 *     e2ee_client_loop_start(c);      // or e2ee_client_loop_forever(c), or your own loop
 *     e2ee_client_send_direct(c, "bob", "hello", id);
 *     ...
 *     e2ee_client_loop_stop(c);
 *     e2ee_client_free(c);
 *
 * Return values: every function that can fail returns E2EE_OK (0) or a negative code of
 * enum e2ee_err (e2ee/error.h; e2ee_strerror() describes it). Besides the codes listed for
 * each function, any function may return E2EE_ERR_NOMEM, and any function that touches the
 * store may return E2EE_ERR_STORE.
 *
 * Threading:
 *  - Every function may be called from any thread, concurrently, except where its comment
 *    says otherwise (the loop family and e2ee_client_free()).
 *  - Events are delivered on the loop thread: the thread inside e2ee_client_loop(),
 *    e2ee_client_loop_forever(), or the thread started by e2ee_client_loop_start(). No
 *    internal lock is held while an event is delivered, so a callback may call any function
 *    of this API, except the loop family, e2ee_client_free() and the blocking "_wait" calls
 *    (they return E2EE_ERR_IN_CALLBACK instead of deadlocking).
 *  - Nothing happens on the network unless some thread runs the loop.
 *
 * Strings: ids and texts are NUL-terminated. Texts are UTF-8. User ids and group ids are 1 to
 * E2EE_USER_ID_MAX / E2EE_GROUP_ID_MAX characters from [A-Za-z0-9._@+-] (the relay's id
 * syntax), compared byte for byte. Ownership: the library copies what it needs from its
 * arguments before returning; pointers inside an event are valid only until the callback
 * returns (copy what you keep).
 */
#ifndef E2EE_CLIENT_H
#define E2EE_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "e2ee/error.h"
#include "e2ee/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- limits and sizes ---- */

#define E2EE_USER_ID_MAX 64          /* bytes of a user id, without the NUL */
#define E2EE_GROUP_ID_MAX 64         /* bytes of a group id, without the NUL */
#define E2EE_TEXT_MAX (64 * 1024)    /* bytes of a text message, without the NUL */
/* Bytes of a binary message: 960 KiB, so that a message, its encryption overhead and the
 * sender-key distributions that may travel with it fit in one frame of the relay's default
 * 1 MiB limit. */
#define E2EE_BINARY_MAX (960 * 1024)
/* A message id: 16 lowercase hexadecimal characters and the NUL. It is the 64-bit client
 * message id the relay uses to recognise a resend (random, unique per sender), so acks and
 * receipts map back to it without any table. */
#define E2EE_MSG_ID_SIZE 17
/* A fingerprint: 64 lowercase hexadecimal characters (SHA-256) and the NUL. */
#define E2EE_FINGERPRINT_SIZE 65
/* A safety number: groups of decimal digits separated by single spaces, and the NUL; the
 * buffer size that always suffices. */
#define E2EE_SAFETY_NUMBER_SIZE 128

/* ---- configuration ---- */

/* What happens when a known peer shows another identity key than the one trusted. */
enum e2ee_identity_policy {
    /* Refuse to send to or accept messages from the peer (E2EE_ERR_UNTRUSTED_IDENTITY)
     * until the application calls e2ee_client_trust_peer(). The safe default. */
    E2EE_IDENTITY_BLOCK = 0,
    /* Trust the new key at once and carry on. */
    E2EE_IDENTITY_ACCEPT = 1,
};
/* Either way an E2EE_EVENT_PEER_IDENTITY_CHANGED event reports the change. */

enum e2ee_log_level {
    E2EE_LOG_ERROR = 0,
    E2EE_LOG_WARNING = 1,
    E2EE_LOG_INFO = 2,
    E2EE_LOG_DEBUG = 3,
};

/*
 * Log callback: one line of text (no newline) at `level`. Called from any thread of the
 * library, possibly concurrently; it must not call back into this API. Log lines never
 * contain keys, plaintext or ciphertext.
 */
typedef void (*e2ee_log_cb)(enum e2ee_log_level level, const char *line, void *user_data);

struct e2ee_event;

/*
 * Event callback: see "Events" below. Called on the loop thread only, one event at a time,
 * never under an internal lock. `ev` and everything it points to are valid until it returns.
 */
typedef void (*e2ee_event_cb)(const struct e2ee_event *ev, void *user_data);

/*
 * Configuration of a client; e2ee_client_config_init() fills in the defaults. Strings are
 * copied by e2ee_client_new(): the struct and its strings may be released afterwards.
 */
struct e2ee_client_config {
    /* Required: this client's user id (1..E2EE_USER_ID_MAX bytes). A store belongs to one
     * user id; opening it with another is refused. */
    const char *user_id;
    /* Required: the relay, "ws://host[:port][/path]" or "wss://host[:port][/path]". */
    const char *relay_url;
    /* The key store file, created when absent (mode 0600). NULL keeps everything in memory:
     * identity, sessions and unsent messages are lost at e2ee_client_free(). Default NULL. */
    const char *store_path;
    /* wss: a PEM file of the certificate authorities to trust. NULL: the system's. */
    const char *tls_ca_file;
    /* wss, for tests only: accept a self-signed certificate and any host name. Default 0. */
    int tls_allow_self_signed;
    /* Registration token, when the relay requires one for new users. Default NULL. */
    const char *registration_token;

    /* 1: tell senders when their direct messages reached this client ("delivered" acks).
     * Default 1. */
    int ack_direct;
    /* 1: the same for group messages. Default 1. */
    int ack_group;

    /* Reconnect policy: after a lost connection or a failed attempt, retry after a delay that
     * starts near reconnect_min_ms and doubles up to reconnect_max_ms, with random jitter; it
     * starts over after a successful connection. Defaults 500 and 30000. 0 in
     * reconnect_min_ms: never reconnect on its own (e2ee_client_connect() again). */
    uint32_t reconnect_min_ms;
    uint32_t reconnect_max_ms;

    /* Keepalive: when the connection has been idle this many seconds, the client sends a
     * WebSocket ping; when no answer came within as long again, the connection counts as
     * lost (E2EE_EVENT_DISCONNECT, then the reconnect policy). Finds a dead relay or network
     * path that TCP alone would not report for minutes. The loop must run for the answer to
     * be read: a process that cannot call e2ee_client_loop() for longer than twice this is
     * disconnected. 0: no pings (the relay may still close a connection it finds dead after
     * its own idle_timeout). Default 30; at most 32767. */
    uint32_t keepalive_s;

    /* Transition window for group keys: after a member's sender key changes, messages under
     * its previous keys are still accepted for this long and for at most this many previous
     * keys per member, then the old keys are wiped. Defaults 60 s and 3. */
    uint32_t transition_window_s;
    uint32_t transition_window_keys;

    /* A group message whose sender key has not arrived (E2EE_ERR_UNKNOWN_KEY) waits this
     * long for it while the sender is asked to resend the key; then it is dropped with an
     * E2EE_EVENT_E2EE_ERROR (E2EE_ERR_TIMEOUT). While one waits, later messages of the group
     * are delivered, but the relay keeps them until the waiting one is resolved (acks are
     * cumulative), so they survive a restart too. Default 300 s; 1..86400. */
    uint32_t pending_timeout_s;

    /* Policy when a peer's identity key changes. Default E2EE_IDENTITY_BLOCK. */
    enum e2ee_identity_policy identity_policy;

    /* Events. event_cb is required. */
    e2ee_event_cb event_cb;
    void *user_data;

    /* Logging: lines at `log_level` and more severe go to log_cb. NULL (default): none. */
    e2ee_log_cb log_cb;
    void *log_user_data;
    enum e2ee_log_level log_level;
};

/* Fills *cfg with the defaults listed above (all pointers NULL). cfg NULL: nothing. */
E2EE_API void e2ee_client_config_init(struct e2ee_client_config *cfg);

/* ---- lifecycle ---- */

typedef struct e2ee_client e2ee_client;

/*
 * Creates a client from cfg: opens (or creates) the store, and on first use generates this
 * identity's keys (identity key pair, signed prekey, one-time prekeys). Does not connect.
 *
 * Returns E2EE_OK and *out (release with e2ee_client_free()), or:
 *   E2EE_ERR_ARG      out or cfg NULL, user_id or relay_url or event_cb missing, bad URL,
 *                     a user id character outside the id syntax,
 *                     reconnect_max_ms < reconnect_min_ms
 *   E2EE_ERR_RANGE    transition_window_s over one week, transition_window_keys over 16,
 *                     pending_timeout_s 0 or over 86400, reconnect_max_ms over one day,
 *                     keepalive_s over 32767
 *   E2EE_ERR_LENGTH   user_id empty or too long
 *   E2EE_ERR_STATE    the store belongs to another user id
 *   E2EE_ERR_CORRUPT  the store file is not an e2ee store or is damaged
 *   E2EE_ERR_VERSION  the store was written by a newer version of the library
 *   E2EE_ERR_STORE    the store cannot be opened or created
 *   E2EE_ERR_IO       the network layer could not be set up
 * *out is NULL on failure. Any thread.
 */
E2EE_API int e2ee_client_new(e2ee_client **out, const struct e2ee_client_config *cfg);

/*
 * Stops the loop thread if one runs, closes the connection (without events), closes the
 * store and frees the client; secrets in memory are wiped. Messages not yet acknowledged by
 * the relay stay in a file store and go out after the next e2ee_client_new() and connect.
 * NULL is a no-op. Not from a callback, and not while another thread is inside
 * e2ee_client_loop() or e2ee_client_loop_forever() (stop or break it first).
 */
E2EE_API void e2ee_client_free(e2ee_client *c);

/* This client's user id (owned by the client, valid until e2ee_client_free()). Any thread. */
E2EE_API const char *e2ee_client_user_id(const e2ee_client *c);

/* ---- connection ---- */

/*
 * Starts connecting to the relay and logging in, and keeps the connection up (reconnect
 * policy) until e2ee_client_disconnect(). Returns at once: E2EE_EVENT_CONNECT follows once
 * logged in and once the public keys the relay lacked are published (on the first login of
 * a new identity the client registers it and publishes its keys, so peers can reach it as
 * soon as the event comes); every attempt that fails (connection, TLS or login) gives an
 * E2EE_EVENT_DISCONNECT saying why and whether another attempt follows. After a refused
 * login, E2EE_ERR_REPLACED or a deleted account it does not retry on its own. Calling it
 * while connected or connecting does nothing. Returns E2EE_OK, E2EE_ERR_ARG (c NULL). Any
 * thread.
 */
E2EE_API int e2ee_client_connect(e2ee_client *c);

/*
 * Closes the connection and stops reconnecting. E2EE_EVENT_DISCONNECT follows if a
 * connection was open. Unsent messages stay queued. Returns E2EE_OK, E2EE_ERR_ARG. Any thread.
 */
E2EE_API int e2ee_client_disconnect(e2ee_client *c);

/* 1 when logged in to the relay now, 0 otherwise (also for c NULL). Any thread. */
E2EE_API int e2ee_client_is_connected(e2ee_client *c);

/* ---- loop family ---- */

/*
 * Runs one iteration of the client: waits up to timeout_ms (0: does not wait; negative:
 * treated as 0) for network activity, a timer or a request from another thread, handles
 * what is ready and delivers the resulting events, then returns.
 * Returns E2EE_OK, or E2EE_ERR_ARG, E2EE_ERR_STATE (another thread is in the loop, e.g. the
 * one of e2ee_client_loop_start()), E2EE_ERR_IN_CALLBACK (called from a callback),
 * E2EE_ERR_IO (the network layer failed).
 */
E2EE_API int e2ee_client_loop(e2ee_client *c, int timeout_ms);

/*
 * Runs iterations on the calling thread until e2ee_client_loop_break(). Returns E2EE_OK
 * then, or the first error of an iteration (codes as e2ee_client_loop()).
 */
E2EE_API int e2ee_client_loop_forever(e2ee_client *c);

/*
 * Makes e2ee_client_loop_forever() return after its current iteration. Any thread, callbacks
 * included. Returns E2EE_OK, E2EE_ERR_ARG.
 */
E2EE_API int e2ee_client_loop_break(e2ee_client *c);

/*
 * Starts a thread that runs e2ee_client_loop_forever(): events are then delivered on it.
 * Returns E2EE_OK, E2EE_ERR_ARG, E2EE_ERR_STATE (a loop thread already runs, or another
 * thread is in the loop), E2EE_ERR_IN_CALLBACK, E2EE_ERR_IO (no thread could be created).
 * Any thread but the loop thread.
 */
E2EE_API int e2ee_client_loop_start(e2ee_client *c);

/*
 * Stops the thread of e2ee_client_loop_start() (wakes it; never cancels it) and waits until
 * it has exited. Returns E2EE_OK, E2EE_ERR_ARG, E2EE_ERR_STATE (no loop thread runs),
 * E2EE_ERR_IN_CALLBACK (from a callback: the loop thread cannot wait for itself).
 */
E2EE_API int e2ee_client_loop_stop(e2ee_client *c);

/*
 * Plugging into the application's own event loop (poll, epoll, libuv, ...). Each round:
 *   1. wait until e2ee_client_socket() is readable (or writable, when
 *      e2ee_client_want_write() is 1), or e2ee_client_wake_fd() is readable, or
 *      e2ee_client_timeout_ms() milliseconds have passed;
 *   2. call e2ee_client_loop(c, 0).
 * Read the socket, want_write and the timeout again every round: the socket changes with
 * every connection and is -1 while there is none. These four functions are for the thread
 * that runs the loop; they return -1 / 0 / 0 for c NULL.
 */
/* The socket of the current connection or connection attempt, or -1. */
E2EE_API int e2ee_client_socket(e2ee_client *c);
/* A descriptor that becomes readable when another thread needs the loop to run (a send, a
 * group call, a disconnect...). Never -1 for a valid client; owned by the client. */
E2EE_API int e2ee_client_wake_fd(e2ee_client *c);
/* 1 when the socket should also be watched for writability. */
E2EE_API int e2ee_client_want_write(e2ee_client *c);
/* The longest wait, in milliseconds, before the next e2ee_client_loop(c, 0) (timers):
 * 0..1000; an idle connected client asks for one iteration a second. */
E2EE_API int e2ee_client_timeout_ms(e2ee_client *c);

/* ---- messages ---- */

/*
 * Sends `text` (1..E2EE_TEXT_MAX bytes of UTF-8) to user `to`, end-to-end encrypted.
 * The message is stored in the outgoing queue before the call returns, so it survives a
 * restart; it goes out as soon as the client is logged in (establishing a pairwise session
 * first if needed) and is retried after reconnects until the relay acknowledges it; the
 * recipient drops duplicates. Progress arrives as E2EE_EVENT_MESSAGE_ACK events (sent, then
 * delivered when the recipient has ack_direct on; failed on a permanent error).
 *
 * msg_id: if not NULL, receives the message id, which the acks and the recipient's event
 * carry. Returns E2EE_OK, or E2EE_ERR_ARG (NULL argument, `to` is this user, text not
 * UTF-8), E2EE_ERR_LENGTH (id or text length), E2EE_ERR_UNTRUSTED_IDENTITY (the peer's
 * identity changed and the policy blocks it), E2EE_ERR_QUEUE_FULL. Works while disconnected.
 * Any thread.
 */
E2EE_API int e2ee_client_send_direct(e2ee_client *c, const char *to, const char *text,
                                     char msg_id[E2EE_MSG_ID_SIZE]);

/*
 * As e2ee_client_send_direct(), for `len` bytes of binary data (0..E2EE_BINARY_MAX; data
 * may be NULL when len is 0). The recipient gets E2EE_EVENT_DIRECT_BINARY.
 */
E2EE_API int e2ee_client_send_direct_binary(e2ee_client *c, const char *to, const void *data,
                                            size_t len, char msg_id[E2EE_MSG_ID_SIZE]);

/*
 * Sends `text` to every other member of `group`: one encryption with this client's sender
 * key whatever the group size, the sender key distributed first (in the same frame) to the
 * members who lack it, and a new sender key whenever the membership changed. If the relay
 * refuses the message because the group epoch moved on, the client rotates its key and
 * sends again on its own. Stored and retried as a direct message; progress arrives as
 * E2EE_EVENT_GROUP_MESSAGE_ACK events. A member whose identity is blocked (policy), whose
 * keys cannot be fetched, or who does not fit in the frame with the others' keys gets no
 * key with the message: its client asks for it (and receives the message then).
 *
 * Returns E2EE_OK, or E2EE_ERR_ARG, E2EE_ERR_LENGTH, E2EE_ERR_NOT_MEMBER (this client is
 * not a member of the group, as far as it knows), E2EE_ERR_QUEUE_FULL. Any thread.
 */
E2EE_API int e2ee_client_send_group(e2ee_client *c, const char *group, const char *text,
                                    char msg_id[E2EE_MSG_ID_SIZE]);

/* As e2ee_client_send_group(), for binary data (0..E2EE_BINARY_MAX bytes). */
E2EE_API int e2ee_client_send_group_binary(e2ee_client *c, const char *group, const void *data,
                                           size_t len, char msg_id[E2EE_MSG_ID_SIZE]);

/* ---- groups ---- */

/*
 * Group calls, asynchronous form: the request is queued for the relay and the call returns
 * at once; *request_id (may be NULL) receives a nonzero id that the resulting event carries:
 * on success the event named for each call (with request_id set), on refusal an
 * E2EE_EVENT_ERROR with the relay's code (E2EE_ERR_EXISTS, E2EE_ERR_NO_SUCH_GROUP,
 * E2EE_ERR_NOT_OWNER, E2EE_ERR_FORBIDDEN, ...) and request_id set. Requests made while
 * disconnected wait for the next login; a request sent but not answered when the connection
 * ends gives an E2EE_EVENT_ERROR with E2EE_ERR_CLOSED (it may have taken effect: the
 * membership events, which follow after the reconnect, tell).
 * Each returns E2EE_OK, or E2EE_ERR_ARG (NULL argument), E2EE_ERR_LENGTH (id length).
 * Any thread.
 */

/* Creates `group` with this client as owner and only member.
 * Success: E2EE_EVENT_GROUP_CREATED, then E2EE_EVENT_GROUP_JOIN. */
E2EE_API int e2ee_client_create_group(e2ee_client *c, const char *group, uint64_t *request_id);
/* Joins an existing group. Success: E2EE_EVENT_GROUP_JOIN (with the member list); the other
 * members get E2EE_EVENT_MEMBER_JOIN. */
E2EE_API int e2ee_client_join_group(e2ee_client *c, const char *group, uint64_t *request_id);
/* Leaves a group. Success: E2EE_EVENT_GROUP_LEAVE; the others get E2EE_EVENT_MEMBER_LEAVE.
 * The client wipes its keys of the group. */
E2EE_API int e2ee_client_leave_group(e2ee_client *c, const char *group, uint64_t *request_id);
/* Deletes a group (owner only). Success: E2EE_EVENT_GROUP_DELETED on every member. */
E2EE_API int e2ee_client_delete_group(e2ee_client *c, const char *group, uint64_t *request_id);
/* Removes `user` from a group (owner only). Success: the removed user gets
 * E2EE_EVENT_GROUP_LEAVE (removed_by set), the others E2EE_EVENT_MEMBER_LEAVE. */
E2EE_API int e2ee_client_remove_member(e2ee_client *c, const char *group, const char *user,
                                       uint64_t *request_id);

/*
 * Group calls, blocking form: as above, then waits until the relay answered or timeout_ms
 * passed. The events of the asynchronous form are still delivered (on the loop thread), and
 * a successful call returns only after they were: the client's state (list_groups,
 * list_members, send_group) already shows the change. When no thread runs the loop, the
 * call runs it itself while it waits (events are then delivered on the calling thread); a
 * thread inside e2ee_client_loop_forever(), the thread of e2ee_client_loop_start(), or a
 * thread that called e2ee_client_loop() less than a second ago counts as running it.
 * Each returns E2EE_OK (the relay confirmed), or E2EE_ERR_ARG, E2EE_ERR_LENGTH, the relay's
 * refusal code, E2EE_ERR_TIMEOUT (no answer in time: the request may still succeed later),
 * E2EE_ERR_IN_CALLBACK (called from a callback; nothing was sent).
 * Any thread but the loop thread.
 */
E2EE_API int e2ee_client_create_group_wait(e2ee_client *c, const char *group, int timeout_ms);
E2EE_API int e2ee_client_join_group_wait(e2ee_client *c, const char *group, int timeout_ms);
E2EE_API int e2ee_client_leave_group_wait(e2ee_client *c, const char *group, int timeout_ms);
E2EE_API int e2ee_client_delete_group_wait(e2ee_client *c, const char *group, int timeout_ms);
E2EE_API int e2ee_client_remove_member_wait(e2ee_client *c, const char *group,
                                            const char *user, int timeout_ms);

/* ---- what the client knows (from its store; no round trip to the relay) ---- */

/*
 * Lists: each hands out a new array of *n new strings, sorted byte-wise; release it with
 * e2ee_strv_free(). On failure *list is NULL and *n is 0. Any thread.
 */
/* The groups this client is a member of. Returns E2EE_OK, E2EE_ERR_ARG. */
E2EE_API int e2ee_client_list_groups(e2ee_client *c, char ***list, size_t *n);
/* The members of `group` (this client included) as of the last membership event.
 * Returns E2EE_OK, E2EE_ERR_ARG, E2EE_ERR_LENGTH, E2EE_ERR_NO_SUCH_GROUP (not known here). */
E2EE_API int e2ee_client_list_members(e2ee_client *c, const char *group, char ***list,
                                      size_t *n);
/* The users whose identity keys this client has seen. Returns E2EE_OK, E2EE_ERR_ARG. */
E2EE_API int e2ee_client_list_known_users(e2ee_client *c, char ***list, size_t *n);

/* Frees a list handed out by the functions above. NULL is a no-op. */
E2EE_API void e2ee_strv_free(char **list, size_t n);

/* ---- identity verification ---- */

/*
 * The fingerprint of `user`'s identity key (NULL: this client's own), as 64 lowercase hex
 * characters, into out. Compare it over another channel to detect a man in the middle.
 * Returns E2EE_OK, E2EE_ERR_ARG, E2EE_ERR_LENGTH, E2EE_ERR_NO_SUCH_USER (no key of that user
 * known yet: send a message or join a common group first). Any thread.
 */
E2EE_API int e2ee_client_fingerprint(e2ee_client *c, const char *user,
                                     char out[E2EE_FINGERPRINT_SIZE]);

/*
 * The safety number of this client and `peer`: digits derived from both fingerprints in a
 * fixed order, so both users see the same number. Returns as e2ee_client_fingerprint(), and
 * E2EE_ERR_ARG when peer is this user. Any thread.
 */
E2EE_API int e2ee_client_safety_number(e2ee_client *c, const char *peer,
                                       char out[E2EE_SAFETY_NUMBER_SIZE]);

/*
 * Trusts the identity key `peer` presents now, after its identity changed (policy
 * E2EE_IDENTITY_BLOCK): messages to and from the peer flow again, over a new session.
 * fingerprint: the new fingerprint the user verified (as in the PEER_IDENTITY_CHANGED
 * event); the call fails with E2EE_ERR_STATE if the peer's key changed again meanwhile.
 * Returns E2EE_OK, E2EE_ERR_ARG, E2EE_ERR_NO_SUCH_USER, E2EE_ERR_STATE. Any thread.
 */
E2EE_API int e2ee_client_trust_peer(e2ee_client *c, const char *peer, const char *fingerprint);

/* ---- events ----
 * With a file store, every event about stored state (all but CONNECT, DISCONNECT and ERROR)
 * is kept in the store until its callback returned: a crash loses none, and only the event
 * whose callback was running when the process died comes again (docs/API.md, "Delivery"). */

enum e2ee_event_type {
    E2EE_EVENT_CONNECT = 1,            /* logged in to the relay                  .connect */
    E2EE_EVENT_DISCONNECT = 2,         /* connection lost or closed               .disconnect */
    E2EE_EVENT_ERROR = 3,              /* a request failed, or a client error     .error */
    E2EE_EVENT_E2EE_ERROR = 4,         /* a message could not be decrypted        .e2ee_error */
    E2EE_EVENT_DIRECT_TEXT = 5,        /* a direct text message                   .direct */
    E2EE_EVENT_DIRECT_BINARY = 6,      /* a direct binary message                 .direct */
    E2EE_EVENT_GROUP_TEXT = 7,         /* a group text message                    .group_msg */
    E2EE_EVENT_GROUP_BINARY = 8,       /* a group binary message                  .group_msg */
    E2EE_EVENT_MESSAGE_ACK = 9,        /* progress of a sent direct message       .ack */
    E2EE_EVENT_GROUP_MESSAGE_ACK = 10, /* progress of a sent group message        .ack */
    E2EE_EVENT_USER_CREATED = 11,      /* a user registered with the relay        .user */
    E2EE_EVENT_USER_DELETED = 12,      /* a user deleted their account            .user */
    E2EE_EVENT_GROUP_CREATED = 13,     /* this client created a group             .group */
    E2EE_EVENT_GROUP_DELETED = 14,     /* a group of this client was deleted      .group */
    E2EE_EVENT_GROUP_JOIN = 15,        /* this client joined a group              .group_join */
    E2EE_EVENT_GROUP_LEAVE = 16,       /* this client left or was removed         .group */
    E2EE_EVENT_MEMBER_JOIN = 17,       /* another user joined a group             .member */
    E2EE_EVENT_MEMBER_LEAVE = 18,      /* another user left or was removed        .member */
    E2EE_EVENT_PEER_IDENTITY_CHANGED = 19, /* a peer presented a new identity key .identity */
};

/* E2EE_EVENT_CONNECT */
struct e2ee_event_connect {
    const char *relay_url;  /* the relay logged in to */
    int registered;         /* 1 when this login registered the user (first login) */
    size_t queued;          /* messages waiting in the outgoing queue, now being sent (the
                             * client's own key requests and resends included) */
};

/* E2EE_EVENT_DISCONNECT */
struct e2ee_event_disconnect {
    int code;               /* why: E2EE_ERR_CLOSED (closed by the relay),
                             * E2EE_ERR_CONNECT / E2EE_ERR_TLS (connection or login attempt
                             * failed), E2EE_ERR_LOGIN_REFUSED, E2EE_ERR_REGISTRATION,
                             * E2EE_ERR_REPLACED (the same user logged in elsewhere),
                             * E2EE_ERR_UNAVAILABLE (relay shutting down),
                             * E2EE_OK (e2ee_client_disconnect()), or the client's own
                             * failure (E2EE_ERR_STORE, E2EE_ERR_NOMEM) after which it
                             * reconnects to have the relay deliver again */
    uint16_t close_code;    /* WebSocket close code; 1006 when none was exchanged; 0 when no
                             * connection was established */
    const char *reason;     /* text from the relay or the library; never NULL ("" if none) */
    int will_reconnect;     /* 1 when the reconnect policy will try again */
    uint32_t retry_ms;      /* if will_reconnect: delay before the next attempt */
};

/* E2EE_EVENT_ERROR: a request was refused, or something failed outside any message. */
struct e2ee_event_error {
    int code;               /* enum e2ee_err value */
    const char *text;       /* description; never NULL */
    uint64_t request_id;    /* the group call that failed; 0 when not about a request */
    const char *group;      /* the group concerned, or NULL */
};

/* E2EE_EVENT_E2EE_ERROR: an incoming message was dropped because it failed a check. */
struct e2ee_event_e2ee_error {
    int code;               /* E2EE_ERR_AUTH (tampered or forged), E2EE_ERR_REPLAY,
                             * E2EE_ERR_TOO_FAR_AHEAD, E2EE_ERR_UNKNOWN_KEY (asked the sender
                             * to resend its key; the message may still come as an event),
                             * E2EE_ERR_TIMEOUT (that key never came: the message is
                             * dropped), E2EE_ERR_KEY_EXPIRED, E2EE_ERR_WRONG_EPOCH,
                             * E2EE_ERR_DECODE, E2EE_ERR_VERSION, E2EE_ERR_TOO_LARGE,
                             * E2EE_ERR_PROTOCOL (an id or kind that does not match),
                             * E2EE_ERR_UNTRUSTED_IDENTITY (sender blocked by the policy),
                             * E2EE_ERR_LIMIT (too many messages waiting for keys), ... */
    const char *text;       /* description; never NULL */
    const char *msg_id;     /* the message concerned, or NULL when not known */
    const char *from;       /* its sender as the relay reported it, or NULL */
    const char *group;      /* its group, or NULL for a direct message */
};

/* E2EE_EVENT_DIRECT_TEXT and E2EE_EVENT_DIRECT_BINARY */
struct e2ee_event_direct {
    const char *msg_id;     /* the sender's message id */
    const char *from;       /* the sender (authenticated by its session) */
    const uint8_t *data;    /* the message; for TEXT, UTF-8 with a NUL at data[len] */
    size_t len;             /* bytes of data, without the NUL */
    int64_t sent_at_ms;     /* when the relay accepted it (ms since 1970, UTC) */
};

/* E2EE_EVENT_GROUP_TEXT and E2EE_EVENT_GROUP_BINARY */
struct e2ee_event_group_message {
    const char *msg_id;     /* the sender's message id */
    const char *group;      /* the group */
    const char *from;       /* the sender (authenticated by its sender-key signature) */
    const uint8_t *data;    /* the message; for TEXT, UTF-8 with a NUL at data[len] */
    size_t len;             /* bytes of data, without the NUL */
    int64_t sent_at_ms;     /* when the relay accepted it (ms since 1970, UTC) */
};

enum e2ee_ack_state {
    E2EE_ACK_SENT = 1,      /* the relay stored the message (it will deliver it) */
    E2EE_ACK_DELIVERED = 2, /* a recipient's client processed it (recipient's ack_* on):
                             * decrypted and delivered, or dropped with an E2EE_ERROR on its
                             * side (acknowledgements are cumulative) */
    E2EE_ACK_FAILED = 3,    /* it will not be delivered; `code` says why */
};

/* E2EE_EVENT_MESSAGE_ACK and E2EE_EVENT_GROUP_MESSAGE_ACK: about a message this client
 * sent. A group message gets one SENT and one DELIVERED per recipient that acks. */
struct e2ee_event_ack {
    const char *msg_id;     /* the id returned by the send call */
    const char *from;       /* the sender: this client's user id */
    const char *to;         /* direct: the recipient; group: the member who acked
                             * (DELIVERED) or NULL (SENT, FAILED) */
    const char *group;      /* the group, or NULL for a direct message */
    enum e2ee_ack_state state;
    int code;               /* FAILED: the reason (E2EE_ERR_NO_SUCH_USER, E2EE_ERR_NOT_MEMBER,
                             * E2EE_ERR_UNTRUSTED_IDENTITY, ...); otherwise E2EE_OK */
};

/* E2EE_EVENT_USER_CREATED and E2EE_EVENT_USER_DELETED */
struct e2ee_event_user {
    const char *user;       /* the user id */
};

/* E2EE_EVENT_GROUP_CREATED, E2EE_EVENT_GROUP_DELETED and E2EE_EVENT_GROUP_LEAVE */
struct e2ee_event_group {
    const char *group;      /* the group */
    const char *owner;      /* its owner */
    const char *by;         /* DELETED: who deleted it (the owner); LEAVE: who removed this
                             * client, or NULL when it left on its own; CREATED: this user */
    uint64_t epoch;         /* the group's epoch after the change */
    uint64_t request_id;    /* this client's request that caused it, or 0 */
};

/* E2EE_EVENT_GROUP_JOIN: this client is now a member. */
struct e2ee_event_group_join {
    const char *group;      /* the group */
    const char *owner;      /* its owner */
    const char *const *members; /* every member, this client included, sorted byte-wise */
    size_t n_members;
    uint64_t epoch;         /* the group's epoch after the join */
    uint64_t request_id;    /* this client's request that caused it, or 0 */
};

/* E2EE_EVENT_MEMBER_JOIN and E2EE_EVENT_MEMBER_LEAVE: another user's membership changed.
 * This client rotates its sender key before its next message to the group. */
struct e2ee_event_member {
    const char *group;      /* the group */
    const char *user;       /* the member who joined or left */
    const char *by;         /* LEAVE: the owner who removed the member, or NULL when the
                             * member left on its own; JOIN: NULL */
    uint64_t epoch;         /* the group's epoch after the change */
};

/* E2EE_EVENT_PEER_IDENTITY_CHANGED */
struct e2ee_event_identity {
    const char *user;       /* the peer */
    const char *old_fingerprint; /* the key trusted until now (hex, as e2ee_client_fingerprint) */
    const char *new_fingerprint; /* the key presented now */
    int accepted;           /* 1: trusted at once (E2EE_IDENTITY_ACCEPT); 0: blocked until
                             * e2ee_client_trust_peer() */
};

/* One event: `type` says which member of the union is valid (see the enum). */
struct e2ee_event {
    enum e2ee_event_type type;
    union {
        struct e2ee_event_connect connect;
        struct e2ee_event_disconnect disconnect;
        struct e2ee_event_error error;
        struct e2ee_event_e2ee_error e2ee_error;
        struct e2ee_event_direct direct;
        struct e2ee_event_group_message group_msg;
        struct e2ee_event_ack ack;
        struct e2ee_event_user user;
        struct e2ee_event_group group;
        struct e2ee_event_group_join group_join;
        struct e2ee_event_member member;
        struct e2ee_event_identity identity;
    };
};

/* A static name of an event type ("E2EE_EVENT_CONNECT"), or "E2EE_EVENT_UNKNOWN". */
E2EE_API const char *e2ee_event_name(enum e2ee_event_type type);

#ifdef __cplusplus
}
#endif
#endif
