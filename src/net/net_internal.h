/*
 * e2ee internal: the transport object, shared by net.c (API, loop family) and conn.c (the
 * libwebsockets callback and the connection state machine). Only src/net/ includes it.
 */
#ifndef E2EE_NET_INTERNAL_H
#define E2EE_NET_INTERNAL_H

#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>

#include "net/backoff.h"
#include "net/net.h"
#include "net/queue.h"
#include "net/url.h"

#define E2EE__NET_RX_CHUNK 16384        /* lws receive buffer: frames arrive in such chunks */
#define E2EE__NET_RX_KEEP (64u * 1024)  /* reassembly buffer kept between frames */
#define E2EE__NET_FD_LIMIT 32           /* descriptors of the lws context (one connection) */
#define E2EE__NET_FOREVER_WAIT_MS 1000  /* wait of each loop_forever iteration */

/* Connection state; changed on the loop thread only. */
enum e2ee__net_state {
    E2EE__NET_ST_IDLE = 0,   /* no connection, no attempt, no retry pending */
    E2EE__NET_ST_WAITING,    /* a retry is scheduled (sul_retry) */
    E2EE__NET_ST_CONNECTING, /* an attempt is in progress */
    E2EE__NET_ST_OPEN,       /* the WebSocket is established */
};

struct e2ee__net {
    /* Set by e2ee__net_new(), read-only afterwards. */
    struct e2ee__net_url url;
    char *ca_file;
    int allow_self_signed;
    size_t max_frame;
    size_t max_queue_frames;
    size_t max_queue_bytes;
    int hold_until_release;
    e2ee__net_cb cb;
    void *user;
    struct lws_protocols protocols[2];
    lws_retry_bo_t ping_policy; /* keepalive; both intervals 0: none */
    struct lws_context *ctx;
    int wake_fd;

    /* Shared between threads: guarded by mu. */
    pthread_mutex_t mu;
    struct e2ee__net_queue q;
    int want_connected; /* connect() requested, disconnect() not since */
    int open;           /* a connection is established (for VOLATILE sends) */
    int held;           /* normal frames held until release() on this connection */
    int in_loop;        /* a thread is inside the loop */
    pthread_t loop_owner;
    int thread_running;
    pthread_t thread;
    atomic_int break_loop;
    atomic_int waiting; /* the loop thread may block in lws_service(): wake() cancels it */

    /* Loop thread only. */
    enum e2ee__net_state state;
    struct lws *wsi;
    unsigned retry; /* retries since the last established connection */
    struct e2ee__backoff backoff;
    lws_sorted_usec_list_t sul_retry;
    lws_sorted_usec_list_t sul_wait;
    lws_usec_t retry_at;
    uint8_t *rx;    /* reassembly of the incoming frame */
    size_t rx_len;
    size_t rx_cap;
    int rx_text;
    struct e2ee__net_frame *inflight; /* written, but lws still buffers part of it */
    int closing;                      /* this side closes: close_* say how */
    int close_local;                  /* how the current connection is ending */
    int close_err;
    uint16_t close_code;
    char close_reason[E2EE__NET_REASON_MAX + 1];
    int destroying; /* e2ee__net_free() runs: no events, no retries */
};

/* The libwebsockets protocol callback of the transport (conn.c). */
int e2ee__net_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                           void *in, size_t len);
/* Applies connect/disconnect requests and asks for a write when frames wait (conn.c). */
void e2ee__net_process_requests(struct e2ee__net *net);

#endif
