/*
 * e2ee tests: real libe2ee clients against a real e2ee-relay process (started with the
 * relaytest spawner). Each test client runs its own loop thread and records a copy of every
 * event it gets; the test waits for events with bounded waits (condition variable) and
 * counts them. Nothing is mocked: the clients talk to the relay over WebSockets on loopback.
 */
#ifndef E2EE_CLIENTTEST_H
#define E2EE_CLIENTTEST_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "e2ee/e2ee.h"
#include "relaytest.h"

#define CT_WAIT_MS 15000  /* default bound of a wait for an expected event */
#define CT_QUIET_MS 300   /* settle time before counting events that must not come */

/* A recorded event: strings copied, data copied (with a NUL). */
struct ct_event {
    enum e2ee_event_type type;
    int code;
    char *msg_id, *from, *to, *group, *user, *by, *owner, *text, *reason;
    uint8_t *data;
    size_t len;
    int state;
    uint64_t request_id;
    uint64_t epoch;
    char *members;  /* GROUP_JOIN: members joined by ',' in event order */
    size_t n_members;
    int accepted;
    int will_reconnect;
    int registered;
    size_t queued;
    char *old_fp, *new_fp;
    int64_t sent_at_ms;
};

struct ct_client {
    e2ee_client *c;
    char name[65];
    char store[512]; /* "" : in memory */
    struct e2ee_client_config cfg;
    char url[160];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct ct_event **ev;
    size_t n, cap;
    /* a hook the test may set: called on the loop thread after recording each event */
    void (*hook)(struct ct_client *cl, const struct e2ee_event *ev);
    void *hook_data;
    int hook_result; /* for the hook's own use */
    /* log lines containing log_watch (set by the test) are counted in log_hits */
    const char *log_watch;
    int log_hits;
};

/* What an event must have to match; NULL / 0 fields match anything. */
struct ct_match {
    enum e2ee_event_type type;
    const char *msg_id, *from, *to, *group, *user, *text, *by;
    int state; /* ack state */
    int code;  /* exact code, when has_code */
    int has_code;
};

/* Folder for stores of this test run (created on first use, under /tmp). */
const char *ct_tmpdir(void);

/* Options for a new test client. store: NULL = in memory, "" = <tmpdir>/<name>.db. */
struct ct_opts {
    const char *store;
    int ack_direct_off;
    int ack_group_off;
    int accept_identity; /* policy ACCEPT (default BLOCK) */
    uint32_t pending_timeout_s;
    int no_connect;      /* create and start the loop, but do not connect */
    int keepalive_s;     /* 0: the default; -1: no pings */
};

/* Creates a client for `name` on relay r, starts its loop thread, connects, waits for
 * CONNECT. Aborts the test (cmocka fail) on failure. */
struct ct_client *ct_client_new(const struct rt_relay *r, const char *name,
                                const struct ct_opts *o);
/* Stops the loop and frees the client (its store file stays), keeping the recorder. */
void ct_client_stop(struct ct_client *cl);
/* A new client from the same store and options (after ct_client_stop), connected. The
 * recorded events are kept; new ones are appended. url: another relay, or NULL. */
void ct_client_restart(struct ct_client *cl, const char *url);
/* Stops (if running) and frees everything. */
void ct_client_free(struct ct_client *cl);

/* Waits until an event matching m has been recorded (counting from the start), for at most
 * timeout_ms; returns it (valid until ct_client_free) or NULL. */
const struct ct_event *ct_wait(struct ct_client *cl, const struct ct_match *m, int timeout_ms);
/* Waits until at least n events match. Returns the number seen. */
size_t ct_wait_n(struct ct_client *cl, const struct ct_match *m, size_t n, int timeout_ms);
size_t ct_count(struct ct_client *cl, const struct ct_match *m);
/* The i-th matching event (0-based) or NULL. */
const struct ct_event *ct_nth(struct ct_client *cl, const struct ct_match *m, size_t i);
/* Number of events recorded so far (a mark for ct_count_since). */
size_t ct_mark(struct ct_client *cl);
size_t ct_count_since(struct ct_client *cl, const struct ct_match *m, size_t mark);
/* Waits until at least n events recorded after mark match. Returns the number seen. */
size_t ct_wait_n_since(struct ct_client *cl, const struct ct_match *m, size_t mark, size_t n,
                       int timeout_ms);
/* Prints the events recorded after mark (for failure messages). */
void ct_dump(struct ct_client *cl, size_t mark);

/* Shorthands (fail the test when the event does not come). */
void ct_expect(struct ct_client *cl, const struct ct_match *m);
/* Sends text and waits for it to arrive at `to_cl` (and SENT at the sender). */
void ct_direct_roundtrip(struct ct_client *from, struct ct_client *to_cl, const char *text);

/* Sleeps ms milliseconds times E2EE_TEST_TIME_SCALE (for settle times only; never asserted
 * as a duration). */
void ct_sleep_ms(int ms);

/* Searches a file (and its -wal beside it) for needle: 1 when found. */
int ct_file_contains(const char *path, const void *needle, size_t len);

#endif
