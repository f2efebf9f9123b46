/*
 * e2ee fuzzing: the relay in-process. A real relay state (e2ee__relay_open) over a SQLite
 * store in memory, with connections that have no socket: frames go straight into
 * e2ee__relay_dispatch(), each followed by the group commit (e2ee__relay_flush) and by
 * what the writer would send, taken from the connection's queue and checked as a client
 * would decode it. Connections 0..FZ_RELAY_USERS-1 log in (as fz_relay_users[i], with a
 * real proof over their challenge); the last one stays unauthenticated.
 */
#ifndef E2EE_FUZZ_RELAY_H
#define E2EE_FUZZ_RELAY_H

#include <stddef.h>
#include <stdint.h>

#include "relay/relay.h"

#define FZ_RELAY_USERS 3
#define FZ_RELAY_CONNS (FZ_RELAY_USERS + 1)
#define FZ_RELAY_GROUPS 8 /* group streams tracked per connection for acks */

extern const char *const fz_relay_users[FZ_RELAY_USERS];

/* Called with every ServerFrame a connection receives (already checked). */
typedef void (*fz_relay_frame_cb)(void *user, int conn, const uint8_t *frame, size_t len);

struct fz_rconn {
    struct e2ee__rsession *s;     /* NULL while disconnected */
    uint64_t inbox_seen;          /* highest inbox seq delivered */
    char gid[FZ_RELAY_GROUPS][E2EE_RELAY_ID_BUF];
    uint64_t gseen[FZ_RELAY_GROUPS];
    size_t n_groups;
};

struct fz_relay {
    struct e2ee__relay r;
    struct fz_rconn c[FZ_RELAY_CONNS];
    fz_relay_frame_cb cb;
    void *user;
};

/* Opens the relay with every connection connected (users logged in). */
void fz_relay_open(struct fz_relay *h, fz_relay_frame_cb cb, void *user);
/* Drops connection i (as a disconnect would) and connects it again. */
void fz_relay_reconnect(struct fz_relay *h, int i);
/* Connection i sends one frame (connecting first when it was closed). */
void fz_relay_send(struct fz_relay *h, int i, const uint8_t *buf, size_t len);
/* Connection i acks everything delivered to it so far (inbox and groups). */
void fz_relay_ack_all(struct fz_relay *h, int i);
/* Runs the periodic work: log trimming, then a commit. */
void fz_relay_housekeeping(struct fz_relay *h);
/* Disconnects everyone and frees the relay. */
void fz_relay_close(struct fz_relay *h);

/* Packs a ClientFrame into a malloc'd buffer. */
uint8_t *fz_pack_client_frame(const E2ee__ClientFrame *f, size_t *len);

#endif
