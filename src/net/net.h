/*
 * e2ee internal: the client transport. One WebSocket connection (ws:// or wss://, subprotocol
 * "e2ee.v1", binary frames) to the relay, kept up with reconnects, over libwebsockets (only
 * src/net/ includes libwebsockets.h).
 *
 * What it does:
 *  - an outgoing frame queue: e2ee__net_send() copies a frame into it from any thread and wakes
 *    the loop; frames survive reconnects and go out in order, each once. Two flags serve the
 *    client's login: PRIORITY frames go ahead of the others, and with `hold_until_release` the
 *    others wait after each (re)connect until e2ee__net_release(); VOLATILE frames belong to
 *    the current connection and are dropped when it ends before they are written.
 *  - incoming frames are reassembled from fragments and delivered whole, up to `max_frame`
 *    bytes; a larger frame closes the connection with 1009, a text frame with 1003.
 *  - reconnects with exponential backoff and jitter (backoff.h) while connect is requested;
 *    the delay resets after a connection is established. For no automatic reconnect, call
 *    e2ee__net_disconnect() from the CONNECT_FAILED or DISCONNECTED event: the retry is
 *    decided after the event returns, so none is scheduled then.
 *  - events (struct e2ee__net_event) report every attempt, success, failure, retry schedule,
 *    disconnect and frame.
 *
 * Threading: everything libwebsockets does happens on the loop thread, the one thread inside
 * e2ee__net_loop() (directly, through e2ee__net_loop_forever(), or the thread of
 * e2ee__net_loop_start()). Events are delivered on that thread and never while an internal
 * lock is held, so a callback may call any function of this file except the loop functions
 * themselves (they return E2EE_ERR_IN_CALLBACK) and e2ee__net_free(). send, release,
 * connect, disconnect and loop_break are safe from any thread at any time.
 *
 * Plugging into the caller's event loop (chosen over lws foreign-loop support, which this
 * libwebsockets build only offers as event-library plugins): poll e2ee__net_fd_socket() (for
 * reading, and for writing when e2ee__net_want_write() says so) and e2ee__net_fd_wake()
 * (for reading), wait at most e2ee__net_timeout_ms(), then call e2ee__net_loop(net, 0) (a
 * non-blocking service pass). Re-read the socket and the timeout before each wait: the
 * socket changes with every connection and is -1 between connections.
 */
#ifndef E2EE_NET_H
#define E2EE_NET_H

#include <stddef.h>
#include <stdint.h>

#include "e2ee/error.h"

#define E2EE__NET_SUBPROTOCOL "e2ee.v1"
#define E2EE__NET_URL_MAX 2048                        /* bytes of a relay URL */
#define E2EE__NET_MAX_FRAME_DEFAULT (2u * 1024 * 1024) /* largest frame, either way */
#define E2EE__NET_MAX_FRAME_LIMIT (64u * 1024 * 1024)  /* largest max_frame accepted */
#define E2EE__NET_QUEUE_FRAMES_DEFAULT 4096
#define E2EE__NET_QUEUE_BYTES_DEFAULT (64u * 1024 * 1024)
#define E2EE__NET_RETRY_MIN_MS_DEFAULT 500
#define E2EE__NET_RETRY_MAX_MS_DEFAULT 30000
#define E2EE__NET_RETRY_MS_LIMIT (24u * 3600 * 1000)  /* longest retry delay accepted */
#define E2EE__NET_PING_S_DEFAULT 30                   /* idle time before a WebSocket ping */
#define E2EE__NET_PING_S_MAX 32767 /* lws keeps the hang-up (twice this) in 16 bits */
#define E2EE__NET_CONNECT_TIMEOUT_S_DEFAULT 15
#define E2EE__NET_TICK_MS 1000 /* longest wait e2ee__net_timeout_ms() asks for (lws timers,
                                 * whose resolution is seconds), as E2EE__NET_FOREVER_WAIT_MS */
#define E2EE__NET_REASON_MAX 123 /* a close reason: 125-byte control payload minus the code */

enum e2ee__net_event_type {
    E2EE__NET_EV_CONNECTING = 1, /* an attempt starts (attempt) */
    E2EE__NET_EV_CONNECTED,      /* WebSocket handshake done; the queue starts flowing */
    E2EE__NET_EV_CONNECT_FAILED, /* the attempt ended before the handshake (err, reason) */
    E2EE__NET_EV_DISCONNECTED,   /* an established connection ended (close_code, reason...) */
    E2EE__NET_EV_RETRY_SCHEDULED,/* the next attempt starts in delay_ms (attempt, delay_ms) */
    E2EE__NET_EV_FRAME,          /* a whole incoming binary frame (data, len) */
};

struct e2ee__net_event {
    enum e2ee__net_event_type type;
    /* CONNECTING, RETRY_SCHEDULED: 0 for the first attempt after e2ee__net_connect(), n for
     * the n-th retry since the last established connection (or since connect). */
    unsigned attempt;
    uint32_t delay_ms;   /* RETRY_SCHEDULED */
    const uint8_t *data; /* FRAME: valid during the callback only */
    size_t len;          /* FRAME */
    /* CONNECT_FAILED: E2EE_ERR_CONNECT or E2EE_ERR_TLS. DISCONNECTED: E2EE_ERR_CLOSED, or the
     * reason this side closed: E2EE_ERR_TOO_LARGE (frame over max_frame), E2EE_ERR_PROTOCOL
     * (text frame), E2EE_OK (e2ee__net_disconnect()). */
    int err;
    uint16_t close_code; /* DISCONNECTED: WebSocket close code; 1006 when none was exchanged */
    int local;           /* DISCONNECTED: 1 when this side closed the connection */
    const char *reason;  /* CONNECT_FAILED, DISCONNECTED: text, never NULL ("" when none) */
};

typedef void (*e2ee__net_cb)(const struct e2ee__net_event *ev, void *user);

struct e2ee__net_config {
    const char *url;         /* ws://host[:port][/path] or wss://...; copied */
    const char *ca_file;     /* wss: PEM file of trusted CAs; NULL: the system's; copied */
    int allow_self_signed;   /* wss, tests only: accept any certificate and host name */
    size_t max_frame;        /* largest frame sent or received, 1..E2EE__NET_MAX_FRAME_LIMIT */
    size_t max_queue_frames; /* queue limits; e2ee__net_send() beyond them: QUEUE_FULL */
    size_t max_queue_bytes;
    uint32_t retry_min_ms;   /* backoff: first retry delay (before jitter), >= 1 */
    uint32_t retry_max_ms;   /* backoff: cap, >= retry_min_ms, <= E2EE__NET_RETRY_MS_LIMIT */
    uint64_t retry_seed;     /* 0: jitter from the CSPRNG; otherwise a deterministic sequence */
    int hold_until_release;  /* hold non-priority frames after each connect until release */
    uint32_t ping_s;         /* idle seconds before a ping (hang up after twice that); 0: off */
    uint32_t connect_timeout_s; /* for TCP connect, TLS and WebSocket handshakes; >= 1 */
    e2ee__net_cb cb;         /* required */
    void *user;              /* passed to cb */
};

/* Fills *cfg with the defaults above (url and cb still to set). */
void e2ee__net_config_init(struct e2ee__net_config *cfg);

struct e2ee__net;

/*
 * Creates a transport (not yet connecting) from cfg, which is copied. Returns E2EE_OK and
 * *out, or E2EE_ERR_ARG (bad URL or option), E2EE_ERR_NOMEM, E2EE_ERR_IO (libwebsockets or
 * eventfd set-up failed).
 */
E2EE_MUST_CHECK int e2ee__net_new(struct e2ee__net **out, const struct e2ee__net_config *cfg);

/* Stops a running loop thread, closes the connection without events and frees everything,
 * queued frames included. NULL is a no-op. Not from a callback, nor while another thread is
 * inside e2ee__net_loop(). */
void e2ee__net_free(struct e2ee__net *net);

/* ---- connection control (any thread) ---- */

/* Asks to be connected: the loop starts an attempt at once (when not connected or waiting for
 * a retry) and retries after every failure or disconnect until e2ee__net_disconnect(). */
int e2ee__net_connect(struct e2ee__net *net);
/* Asks to be disconnected: an open connection is closed with 1000, a pending retry is
 * cancelled, no new attempt starts. Queued frames stay queued. */
int e2ee__net_disconnect(struct e2ee__net *net);

/* ---- outgoing frames (any thread) ---- */

#define E2EE__NET_SEND_PRIORITY 0x1 /* ahead of the other frames; never held */
#define E2EE__NET_SEND_VOLATILE 0x2 /* for this connection only: dropped if it ends first */

/*
 * Queues a copy of data[0..len) as one binary frame. flags: 0 or E2EE__NET_SEND_* values.
 * Returns E2EE_OK, E2EE_ERR_ARG, E2EE_ERR_TOO_LARGE (len > max_frame), E2EE_ERR_QUEUE_FULL,
 * E2EE_ERR_NOT_CONNECTED (VOLATILE while no connection is established), E2EE_ERR_NOMEM.
 */
E2EE_MUST_CHECK int e2ee__net_send(struct e2ee__net *net, const uint8_t *data, size_t len,
                                   unsigned flags);
/* Releases the held frames of the current connection (hold_until_release). */
int e2ee__net_release(struct e2ee__net *net);
/* Frames and bytes waiting in the queue (not counting one being written). */
void e2ee__net_queued(struct e2ee__net *net, size_t *frames, size_t *bytes);

/* ---- loop family ---- */

/*
 * Runs one iteration: applies pending requests, waits up to timeout_ms (0: not at all) for
 * network activity, a wake-up or a timer, and handles what is ready, firing events.
 * Returns E2EE_OK, E2EE_ERR_STATE (another thread is in the loop), E2EE_ERR_IN_CALLBACK
 * (called from a callback), E2EE_ERR_IO (libwebsockets failed).
 */
int e2ee__net_loop(struct e2ee__net *net, int timeout_ms);
/* Runs iterations until e2ee__net_loop_break(); returns E2EE_OK then, or the error of an
 * iteration. */
int e2ee__net_loop_forever(struct e2ee__net *net);
/* Makes e2ee__net_loop_forever() return after its current iteration (any thread, callbacks
 * included). */
int e2ee__net_loop_break(struct e2ee__net *net);
/* Runs e2ee__net_loop_forever() on a new thread. E2EE_ERR_STATE when one runs already. */
int e2ee__net_loop_start(struct e2ee__net *net);
/* Breaks the loop thread and joins it. E2EE_ERR_STATE when none runs, E2EE_ERR_IN_CALLBACK
 * from a callback (the loop thread cannot join itself). */
int e2ee__net_loop_stop(struct e2ee__net *net);

/* ---- plugging into another event loop (the thread that calls e2ee__net_loop) ---- */

/* Socket of the current connection attempt or connection, or -1. */
int e2ee__net_fd_socket(struct e2ee__net *net);
/* An fd that becomes readable when another thread asks the loop to act (never -1). */
int e2ee__net_fd_wake(struct e2ee__net *net);
/* 1 when the socket should also be polled for writing. */
int e2ee__net_want_write(struct e2ee__net *net);
/* Longest wait before the next e2ee__net_loop(net, 0), in ms (0..E2EE__NET_TICK_MS). */
int e2ee__net_timeout_ms(struct e2ee__net *net);

#endif
