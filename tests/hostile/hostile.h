/*
 * e2ee tests: the hostile-client suite's shared state and helpers. One real relay serves the
 * whole suite; three well-behaved clients (bystanders alice and bob, and victim, a target
 * for hostile requests) stay connected throughout. Each behaviour is a row of a table (a
 * name and a function that acts and asserts what the relay must do); after each row the
 * runner checks that the bystanders still exchange a message both ways.
 *
 * Rows live in hostile_<kind>.c files and are listed in their tables (k_rows_<kind>).
 */
#ifndef E2EE_HOSTILE_H
#define E2EE_HOSTILE_H

#include <stddef.h>
#include <stdint.h>

#include "rawws.h"
#include "relaytest.h"
#include "testutil.h"

#define H_VICTIM "h-victim"
#define H_MAX_FRAME 65536         /* the suite relay's max_frame_size */
#define H_RATE 200                /* its max_requests_per_sec */
#define H_LOGIN_TIMEOUT_S 5
#define H_IDLE_TIMEOUT_S 4
#define H_MAX_CONNECTIONS 200
#define H_MAX_GROUP_SIZE 4
#define H_MAX_GROUPS_PER_USER 3
#define H_MAX_QUEUE_MSGS 50
#define H_MAX_PREKEYS 10
#define H_CLOSE_WAIT_MS 15000     /* bound on waiting for the relay to end a connection */

struct h_row {
    const char *name;
    void (*fn)(int arg);
    int arg;
};

struct h_suite {
    struct rt_relay relay;
    int port;
    struct rt_ident victim;
    struct rt_client *cv;        /* the victim's connection (lws client) */
};

extern struct h_suite g_h;

/* Row tables, each ended by a row with a NULL name. */
extern const struct h_row k_rows_handshake[];
extern const struct h_row k_rows_framing[];
extern const struct h_row k_rows_protobuf[];
extern const struct h_row k_rows_auth[];
extern const struct h_row k_rows_rights[];
extern const struct h_row k_rows_flood[];

/* A fresh identity with a unique user id ("h-<tag>-<n>"). */
void h_ident(struct rt_ident *id, const char *tag);
/* A logged-in lws client for a fresh identity (asserts). */
struct rt_client *h_user(struct rt_ident *id, const char *tag);
/* A logged-in raw client for a fresh identity (asserts). */
struct rw *h_raw_user(struct rt_ident *id, const char *tag);
/* A raw client after the handshake, challenge read (asserts). */
struct rw *h_raw_open(void);

/* Asserts the relay ends c within H_CLOSE_WAIT_MS; with want_code != 0, with that close
 * code (0 accepts a dropped connection too: a protocol violation may end without a frame).
 * Frees c. */
void h_expect_end(struct rw *c, int want_code);
/* Asserts the relay ends the lws client c with close code want_code (reason containing
 * part when part is not NULL). Frees c. */
void h_expect_rt_close(struct rt_client *c, int want_code, const char *part);
/* Asserts a ping request on c still gets its OK result. */
void h_expect_usable(struct rw *c);

/* Keeps c open until the end of the suite, where the relay must have ended it. dribble:
 * one more byte of request goes out after each row (a slow-loris writer). */
void h_linger(struct rw *c, int dribble);

/* Packs f into a malloc'd buffer. */
uint8_t *h_pack(E2ee__ClientFrame *f, size_t *len);
/* Request frames of each type (fields filled with valid, harmless values). kind is an
 * E2EE__CLIENT_FRAME__BODY_* value; the frame lives until the next call. */
E2ee__ClientFrame *h_frame(int kind, const char *gid, const char *uid);

/* Milliseconds of the monotonic clock. */
int64_t h_now_ms(void);

#endif
