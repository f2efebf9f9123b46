/*
 * e2ee crash tests: what test_crash_relay and test_crash_client share.
 *
 *  - A tally: a hash table counting (kind, a, b, message id) tuples, so a test can tell how
 *    many times each recipient decrypted each message and each sender got each ack.
 *  - Test clients of the public API (include/e2ee/client.h), each with its own loop thread,
 *    whose events feed the tally and a few counters; clients are named "u<index>".
 *  - The delivery log of a receiver (crash_receiver.c and the test's own last incarnation
 *    of it): one line per step, fsync'd, so that a process killed at any moment leaves an
 *    exact record of which callbacks began and which returned.
 *  - A seeded random generator (seed printed; E2EE_CRASH_SEED overrides it).
 */
#ifndef E2EE_CRASHTEST_H
#define E2EE_CRASHTEST_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "e2ee/e2ee.h"

#define CR_NAME_MAX 16
#define CR_WAIT_MS 30000 /* bound of a wait for one expected step */

/* ---- random numbers ---- */

/* Seeds from $E2EE_CRASH_SEED or the clock, prints "seed: N" and returns it. */
uint64_t cr_seed(const char *test);
uint64_t cr_rand(void);
/* Uniform in [lo, hi]. */
uint64_t cr_between(uint64_t lo, uint64_t hi);
/* $name as a positive integer, or def. */
uint64_t cr_env_u64(const char *name, uint64_t def);

/* ---- time ---- */

uint64_t cr_now_ms(void);
void cr_sleep_ms(unsigned ms);

/* ---- the tally ---- */

enum cr_kind {
    CR_RECV = 1, /* a = recipient, b = sender: a message event */
    CR_SENT = 2, /* a = sender: an ack in state SENT */
};

/* Adds one to (kind, a, b, id) and returns the new count. Thread-safe. */
uint32_t cr_tally_add(enum cr_kind kind, uint32_t a, uint32_t b, uint64_t id);
uint32_t cr_tally_get(enum cr_kind kind, uint32_t a, uint32_t b, uint64_t id);
/* Sizes the table (call once, before any client starts). */
void cr_tally_init(size_t expected_entries);
void cr_tally_free(void);

/* ---- test clients ---- */

struct cr_client {
    e2ee_client *c;
    uint32_t idx;
    char name[CR_NAME_MAX];
    char url[160];
    char store[400];      /* "" : in memory */
    int log_fd;           /* >= 0: message events go to this delivery log too */
    atomic_int connected;
    atomic_uint recv;     /* message events */
    atomic_uint sent;     /* SENT acks */
    atomic_uint dups;     /* message events of a (sender, id) already counted */
    atomic_uint failed;   /* FAILED acks */
    atomic_uint errors;   /* E2EE_ERROR and ERROR events */
};

/* Global counters over every client (for progress). */
extern atomic_uint cr_total_recv, cr_total_sent, cr_total_errors;

/* "u<idx>"; parses it back (UINT32_MAX when not such a name). */
void cr_name(uint32_t idx, char out[CR_NAME_MAX]);
uint32_t cr_index(const char *name);
/* A message id of the API as its 64-bit value (0 when malformed). */
uint64_t cr_msg_id(const char *hex);

/* Creates client idx on url (store: NULL in memory, else a path), starts its loop thread and
 * connects; waits for CONNECT (bounded). Returns NULL (message printed) on failure. */
struct cr_client *cr_client_new(uint32_t idx, const char *url, const char *store);
/* Starts it again from its store (after cr_client_stop). 0, or -1. */
int cr_client_start(struct cr_client *cl);
void cr_client_stop(struct cr_client *cl);
void cr_client_free(struct cr_client *cl);
/* Waits until the client is logged in (bounded). 0, or -1. */
int cr_wait_connected(struct cr_client *cl, int timeout_ms);

/* ---- the delivery log ---- */

/*
 * Lines (each written with one write() and fsync'd):
 *   "start"                       a receiver incarnation begins
 *   "begin <msg_id> <from>"       a message callback begins
 *   "end <msg_id>"                ... returns (after delay_us of work)
 *   "x <code> <msg_id|->"         an E2EE_ERROR event
 *   "e <code>"                    an ERROR event
 *   "killed"                      written by the test after it SIGKILLed the receiver
 */
void cr_log_line(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Logs ev as above when it is a message or an error; message callbacks take delay_us. */
void cr_log_event(int fd, const struct e2ee_event *ev, unsigned delay_us);

#endif
