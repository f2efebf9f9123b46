/*
 * e2ee tests: a relay spawner and a raw-frame WebSocket client (libwebsockets), for tests
 * that drive the real e2ee-relay process over real sockets on loopback.
 *
 * Spawner: rt_relay_start() runs build/bin/e2ee-relay on 127.0.0.1:0 with a store in a
 * fresh temporary folder and reads its "listening on" line to learn the port. The relay can
 * be stopped (SIGTERM), killed (SIGKILL) and restarted on the same store.
 *
 * Client: every client shares one lws context serviced by the calling thread whenever a
 * function waits; frames received by any client are decoded and queued on that client
 * (results, deliveries one by one, events, challenges) until the test takes them. Every
 * wait is bounded by a timeout; nothing here blocks forever. Not thread-safe: one thread.
 *
 * Login proofs are built here from docs/PROTOCOL.md 3.3, independently of the relay code.
 */
#ifndef E2EE_RELAYTEST_H
#define E2EE_RELAYTEST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "e2ee.pb-c.h"
#include "e2ee/error.h"

#define RT_TIMEOUT_MS 10000 /* default wait for a frame */
/* ms times E2EE_TEST_TIME_SCALE (1..100, default 1): every bounded wait of this harness and
 * of tests/client's goes through it, for slow runs such as `make valgrind`. */
int64_t rt_scaled_ms(int64_t ms);

/* ---- the relay process ---- */

struct rt_relay_opts {
    const char *config;   /* extra config file lines ("key = value\n..."), may be NULL */
    int tls;              /* serve wss:// with a self-signed certificate made here */
    int metrics;          /* serve /metrics on a free port */
    const char *extra_arg;/* one extra command-line argument pair "--flag value", may be NULL */
    int log_to_file;      /* the relay's stderr goes to <dir>/relay.log (see rt_relay.log) */
    const char *log_level;/* overrides the default (warn, or $E2EE_RELAY_TEST_LOG) */
};

struct rt_relay {
    pid_t pid;
    int port;
    int metrics_port;
    int tls;
    char dir[256];   /* temporary folder: store, config, certificate */
    char store[320];
    char conf[320];
    char cert[320];
    char key[320];
    char log[320];   /* the relay's log when opts.log_to_file */
    char url[160];   /* from the listening line: ws://127.0.0.1:PORT or wss://... */
    struct rt_relay_opts opts;
    char config_text[8192];
};

/* Starts a relay with a new store. 0 on success, -1 (message on stderr). */
int rt_relay_start(struct rt_relay *r, const struct rt_relay_opts *o);
/* Starts the relay again on the same store and options (after stop or kill). New port. */
int rt_relay_restart(struct rt_relay *r);
/* SIGTERM and wait (bounded). Returns the exit status, or -1 (killed, signalled, timeout). */
int rt_relay_stop(struct rt_relay *r);
/* SIGKILL and wait. */
void rt_relay_kill(struct rt_relay *r);
/* Stops (if running) and removes the temporary folder. */
void rt_relay_cleanup(struct rt_relay *r);
/* Runs the relay binary with args (NULL-terminated, after argv[0]) and waits (bounded);
 * returns its exit status, or -1. stderr text goes to err (may be NULL). */
int rt_relay_run_args(const char *const *args, char *err, size_t errcap);

/* ---- identities ---- */

struct rt_ident {
    char uid[65];
    uint8_t sign_pk[32], sign_sk[64];
    uint8_t dh_pk[32], dh_sk[32];
    uint8_t dh_sig[64];
};

void rt_ident_new(struct rt_ident *id, const char *uid);

/* The login message of docs/PROTOCOL.md 3.3; returns its length. */
size_t rt_login_message(uint8_t *out, size_t cap, const char *relay_id, const uint8_t *nonce,
                        size_t nonce_len, const char *uid, uint32_t device);

/* ---- clients ---- */

struct rt_client;

/* Connects with subprotocol e2ee.v1 and waits for the challenge. NULL on failure. */
struct rt_client *rt_connect(const struct rt_relay *r);
/* subprotocol NULL: none sent. wait_challenge 0: returns once connected (or failed). */
struct rt_client *rt_connect_ex(const struct rt_relay *r, const char *subprotocol,
                                int wait_challenge);
/* Closes (if open) and frees. NULL is a no-op. */
void rt_close(struct rt_client *c);
int rt_is_closed(const struct rt_client *c);
/* Waits until the relay closes c; 0 and the close code/reason, or -1 on timeout. */
int rt_wait_close(struct rt_client *c, int timeout_ms, int *code, char *reason, size_t cap);

/* Services every client for about ms milliseconds. */
void rt_pump(int ms);

/* Sends a frame (request_id 0 is replaced by a fresh id); returns the request id. */
uint64_t rt_send(struct rt_client *c, E2ee__ClientFrame *f);
/* Queues raw bytes as one WebSocket message (binary or text). */
void rt_send_raw(struct rt_client *c, const void *buf, size_t len, int binary);
/* Writes every queued message in one writable callback (so they leave back to back). */
void rt_set_burst(struct rt_client *c, int on);
/* Stops / resumes reading from the socket (the relay's writes back up). */
void rt_pause_reading(struct rt_client *c, int paused);

/* Waits for the result of request req. Caller frees with rt_free_result. NULL on timeout. */
E2ee__RelayResult *rt_wait_result(struct rt_client *c, uint64_t req, int timeout_ms);
void rt_free_result(E2ee__RelayResult *r);
/* Sends f and waits for its result; returns the code (or 1 on timeout). *out (optional)
 * receives the result, to free with rt_free_result. */
int rt_request(struct rt_client *c, E2ee__ClientFrame *f, E2ee__RelayResult **out);

/* Next delivery / event / challenge received, in arrival order. NULL on timeout. */
E2ee__RelayDelivery *rt_next_delivery(struct rt_client *c, int timeout_ms);
void rt_free_delivery(E2ee__RelayDelivery *d);
E2ee__RelayEvent *rt_next_event(struct rt_client *c, int timeout_ms);
void rt_free_event(E2ee__RelayEvent *e);
E2ee__RelayChallenge *rt_next_challenge(struct rt_client *c, int timeout_ms);
void rt_free_challenge(E2ee__RelayChallenge *ch);
/* Counts of what is queued (not yet taken). */
size_t rt_pending_deliveries(const struct rt_client *c);
size_t rt_pending_events(const struct rt_client *c);
/* ServerFrames of kind deliveries received so far (to observe batching). */
uint64_t rt_delivery_frames(const struct rt_client *c);
/* The latest challenge received (owned by c), or NULL. */
const E2ee__RelayChallenge *rt_challenge(const struct rt_client *c);

/* ---- requests ---- */

/* Builds the Login frame for the latest challenge. uid NULL: id->uid. */
E2ee__ClientFrame *rt_login_frame(struct rt_client *c, const struct rt_ident *id,
                                  const char *uid, const char *token, int ack_direct,
                                  int ack_group);
void rt_free_frame(E2ee__ClientFrame *f);
/* Logs in; returns the result code. */
int rt_login(struct rt_client *c, const struct rt_ident *id);
int rt_login_ex(struct rt_client *c, const struct rt_ident *id, const char *token,
                int ack_direct, int ack_group, E2ee__RelayResult **out);
/* Connects and logs in; NULL on failure. */
struct rt_client *rt_connect_login(const struct rt_relay *r, const struct rt_ident *id);
/* A new identity for uid (rt_ident_new), connected and logged in; NULL on failure. */
struct rt_client *rt_user(const struct rt_relay *r, struct rt_ident *id, const char *uid);

int rt_ping(struct rt_client *c);
/* Direct message; *seq (optional) receives the stored seq. Returns the code. */
int rt_send_direct(struct rt_client *c, const char *to, uint64_t cmid, const void *ct,
                   size_t len, uint64_t *seq);
/* Group message with optional pairwise payloads (n of them; users/payloads arrays). */
int rt_send_group(struct rt_client *c, const char *gid, uint64_t epoch, uint64_t cmid,
                  const void *ct, size_t len, size_t n, const char *const *users,
                  const char *const *payloads, E2ee__RelayResult **out);
/* Cumulative ack of one stream (gid "" = inbox); waits for the result. Returns the code. */
int rt_ack(struct rt_client *c, const char *gid, uint64_t seq);
/* Group requests; *epoch (optional) receives the group's epoch from the result. */
int rt_create_group(struct rt_client *c, const char *gid, uint64_t *epoch);
int rt_join_group(struct rt_client *c, const char *gid, uint64_t *epoch);
int rt_leave_group(struct rt_client *c, const char *gid);
int rt_delete_group(struct rt_client *c, const char *gid);
int rt_remove_member(struct rt_client *c, const char *gid, const char *uid);
int rt_list_members(struct rt_client *c, const char *gid, E2ee__RelayResult **out);
/* Publishes a signed prekey (id spk_id) and n one-time prekeys with ids first..first+n-1. */
int rt_publish(struct rt_client *c, uint32_t spk_id, uint32_t first, size_t n,
               E2ee__RelayResult **out);
int rt_fetch_bundle(struct rt_client *c, const char *uid, E2ee__RelayResult **out);

/* Waits for the next delivery that is not a receipt or group event of another kind...:
 * the next delivery of the given item case. Others are dropped. NULL on timeout. */
E2ee__RelayDelivery *rt_next_item(struct rt_client *c, E2ee__RelayDelivery__ItemCase kind,
                                  int timeout_ms);

/* ---- HTTP ---- */

/* GET http://127.0.0.1:port/path; returns the status and a malloc'd body (or -1). */
int rt_http_get(int port, const char *path, char **body);
/* Value of a metric line "name value" in a Prometheus text, or -1. */
double rt_metric(const char *text, const char *name);

#endif
