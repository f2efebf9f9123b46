/*
 * e2ee-loadgen: a load generator for e2ee-relay. Many real clients (real identity keys,
 * Ed25519 login proofs, the relay protocol of docs/PROTOCOL.md section 3) in one process, on
 * one shared event loop, on loopback only.
 *
 * Modules (one concept per file):
 *   main.c     options, the phases of a run, the report
 *   client.c   one client's protocol: login, group set-up, sends, receipt checks, acks
 *   scan.c     a bounded reader of the protobuf wire format (deliveries are checked
 *              without decoding them into objects)
 *   hist.c     latency histogram
 *   relayproc.c spawning a relay, and reading its CPU time and memory from /proc
 *   ws.c       the WebSocket transport: a small RFC 6455 client on epoll
 *   e2e.c      --mode e2e and rekey: clients of the public client API (libe2ee)
 *
 * Threading: one thread. Everything runs from the event loop in ws.c: frame callbacks and a
 * periodic tick.
 */
#ifndef E2EE_LOADGEN_H
#define E2EE_LOADGEN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "e2ee/error.h"

#define LG_ID_BUF 65                /* user and group ids: 1..64 characters */
#define LG_PAYLOAD_HDR 24           /* magic, sender index, message number, send time */
#define LG_PAYLOAD_MIN 32           /* smallest --size */
#define LG_PAYLOAD_MAX (512 * 1024) /* largest --size */
#define LG_CLIENTS_MAX 100000
#define LG_GROUP_MAX 100000
#define LG_WINDOW_MAX 1024          /* sends in flight per sender */
#define LG_DURATION_MAX 3600        /* seconds */
#define LG_TICK_US 1000             /* period of the tick (rate, acks, phases) */
#define LG_MAGIC 0x65326c67u        /* "e2lg", first 4 bytes of every payload */
#define LG_CODES 160                /* refusals counted per result code 0..-159 */

/* ---------------------------------------------------------------- hist.c */

#define LG_HIST_LINEAR 64  /* exact buckets for 0..63 us */
#define LG_HIST_SUB 32     /* buckets per power of two above that (about 3 % wide) */
#define LG_HIST_POW 34     /* up to 2^40 us */
#define LG_HIST_BUCKETS (LG_HIST_LINEAR + LG_HIST_POW * LG_HIST_SUB)

struct lg_hist {
    uint64_t counts[LG_HIST_BUCKETS];
    uint64_t n;
    uint64_t max;
};

void lg_hist_add(struct lg_hist *h, uint64_t us);
/* Value at quantile q (0..1): the upper bound of its bucket. 0 when empty. */
uint64_t lg_hist_quantile(const struct lg_hist *h, double q);

/* ---------------------------------------------------------------- scan.c */

/* One field of a protobuf message. */
struct lg_pbf {
    uint32_t num;        /* field number */
    uint32_t wt;         /* wire type: 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32 */
    uint64_t v;          /* varint and fixed values */
    const uint8_t *data; /* length-delimited: the bytes */
    size_t len;
};

struct lg_pb {
    const uint8_t *p, *end;
};

void lg_pb_init(struct lg_pb *b, const uint8_t *data, size_t len);
/* Reads the next field: 1 read, 0 at the end, -1 malformed (truncated, bad wire type). */
int lg_pb_next(struct lg_pb *b, struct lg_pbf *f);
/* Appends a varint; returns its length (at most 10). */
size_t lg_pb_put_varint(uint8_t *out, uint64_t v);

/* ---------------------------------------------------------------- ws.c */

struct lg_ws;
struct lg_conn;

enum lg_conn_event {
    LG_CONN_OPEN = 1,   /* WebSocket established */
    LG_CONN_CLOSED = 2, /* closed, or the attempt failed: the connection is gone */
};

struct lg_ws_cbs {
    /* A whole binary frame (data valid during the call). text: a text frame arrived. */
    void (*frame)(void *user, const uint8_t *data, size_t len, int text);
    void (*event)(void *user, enum lg_conn_event ev, int close_code);
    void (*tick)(void *arg); /* every LG_TICK_US */
    void *tick_arg;
};

/* host: an IPv4/IPv6 literal or "localhost". */
E2EE_MUST_CHECK int lg_ws_new(struct lg_ws **out, const char *host, int port, const char *path,
                              const struct lg_ws_cbs *cbs);
void lg_ws_free(struct lg_ws *w);
/* Starts a connection; events and frames reach cbs with `user`. NULL on failure. */
struct lg_conn *lg_ws_connect(struct lg_ws *w, void *user);
/* Queues a copy of data as one binary frame. */
E2EE_MUST_CHECK int lg_ws_send(struct lg_conn *c, const uint8_t *data, size_t len);
/* Closes (no more events for it). */
void lg_ws_close(struct lg_conn *c);
/* Runs one iteration of the event loop (waits for I/O or the next tick). */
int lg_ws_service(struct lg_ws *w);

/* ---------------------------------------------------------------- relayproc.c */

struct lg_relay_proc {
    pid_t pid;           /* spawned relay, or the --relay-pid one; 0: unknown */
    int spawned;
    int port;
    char dir[256];       /* temporary folder of the spawned relay's store */
    char url[160];
};

struct lg_relay_spawn {
    const char *bin;            /* e2ee-relay program */
    const char *const *sets;    /* KEY=VALUE settings passed with --set */
    size_t n_sets;
    int cpu;                    /* pin to this CPU; -1: no pinning */
    const char *log_level;
};

/* Starts the relay on 127.0.0.1:0 with a fresh store in a temporary folder and reads its
 * port from its listening line. 0 or -1 (message on stderr). */
int lg_relay_spawn(struct lg_relay_proc *p, const struct lg_relay_spawn *o);
/* SIGTERM, wait (bounded, then SIGKILL) and remove the temporary folder. */
void lg_relay_stop(struct lg_relay_proc *p);

struct lg_proc_sample {
    int ok;
    uint64_t cpu_ticks;  /* utime + stime */
    uint64_t rss_kib;    /* VmRSS */
    uint64_t hwm_kib;    /* VmHWM */
    uint64_t ns;         /* when sampled (monotonic) */
};

void lg_proc_sample(pid_t pid, struct lg_proc_sample *s);
/* CPU use between two samples, in percent of one core. */
double lg_proc_cpu_pct(const struct lg_proc_sample *a, const struct lg_proc_sample *b);

/* ---------------------------------------------------------------- client.c */

enum lg_mode { LG_MODE_SATURATE = 1, LG_MODE_E2E = 2, LG_MODE_IDLE = 3, LG_MODE_REKEY = 4 };

enum lg_phase {
    LG_PH_CONNECT = 0, /* connecting and logging in */
    LG_PH_GROUPS,      /* creating and joining groups, draining their events */
    LG_PH_RUN,         /* sending (warm-up, then the measured window) */
    LG_PH_DRAIN,       /* no new sends; waiting for results and deliveries */
    LG_PH_DONE,
};

struct lg_client;

struct lg_group {
    char gid[LG_ID_BUF];
    uint32_t index;
    struct lg_client **members; /* members[0] creates the group */
    uint32_t n;
    uint32_t joined;            /* join results received (the creator counts) */
    uint64_t epoch;             /* highest epoch seen in create/join results */
    int ready;                  /* every member joined */
};

struct lg_counters {
    uint64_t sent;          /* send_group requests written */
    uint64_t accepted;      /* "sent" results */
    uint64_t deliveries;    /* group messages received */
    uint64_t delivery_frames;
    uint64_t stale;         /* STALE_EPOCH results (resent) */
    uint64_t errors;        /* every kind below, summed */
    uint64_t err_result;    /* refused requests (other than STALE_EPOCH) */
    uint64_t err_frame;     /* malformed frames or deliveries, text frames */
    uint64_t err_order;     /* a seq not above the previous one of its stream */
    uint64_t err_payload;   /* wrong size, magic, sender or contents */
    uint64_t err_closed;    /* connections lost */
    uint64_t err_missing;   /* deliveries expected after the drain but not received */
    uint64_t refused[LG_CODES]; /* refused requests by -code */
};

#define LG_KEEPALIVE_DEFAULT UINT32_MAX
#define LG_KEEPALIVE_MAX 32767

struct lg {
    /* options */
    enum lg_mode mode;
    uint32_t n_clients, group_size, n_groups, senders_per_group;
    size_t size;
    double duration_s, warmup_s, rate;
    uint32_t window;
    uint32_t keepalive_s;       /* e2e and rekey clients; LG_KEEPALIVE_DEFAULT: per mode */
    char run_id[16];
    /* state */
    struct lg_ws *ws;
    struct lg_client *clients;
    struct lg_group *groups;
    enum lg_phase phase;
    uint64_t t_phase_ns;        /* start of the current phase */
    uint64_t t0_ns, t1_ns;      /* the measured window */
    uint32_t connecting;        /* connections not yet logged in */
    uint32_t next_connect;      /* next client to connect */
    uint32_t authed, groups_ready, settled;
    uint64_t expected_deliveries; /* accepted sends x (members - 1) over the whole run */
    uint64_t received_deliveries; /* over the whole run */
    int sends_started;          /* closed loop: the senders filled their windows */
    uint32_t *ack_list;         /* clients with unacked deliveries, acked when due */
    uint32_t ack_n;
    int failed;                 /* set-up failed: give up */
    char fail_why[256];
    /* the measured window */
    struct lg_counters c;
    struct lg_hist lat;         /* send to receipt */
    struct lg_hist sent_lat;    /* send to "sent" result (commit latency seen by senders) */
    /* scratch */
    uint8_t *payload;           /* size bytes: random body, header rewritten per send */
    uint8_t *frame;             /* an encoded ClientFrame */
    size_t frame_cap;
};

uint64_t lg_now_ns(void);

/* Creates the clients (identities, ids) and groups. 0 or -1. */
int lg_clients_new(struct lg *lg);
void lg_clients_free(struct lg *lg);
/* Starts connections while fewer than the pacing limit are in progress. */
void lg_clients_pace(struct lg *lg);
/* Group set-up: creators create once every client logged in; members join once theirs
 * exists. Called from the tick. */
void lg_groups_step(struct lg *lg);
/* Members that have seen the final epoch of their group (all events delivered). */
uint32_t lg_clients_settled(struct lg *lg);
/* Sends what the window and rate allow (from the tick while running); sends acks due. */
void lg_clients_tick(struct lg *lg, uint64_t now);
/* Sends still waiting for their result. */
uint64_t lg_clients_inflight(const struct lg *lg);
/* Closes every connection with a close frame (1000). */
void lg_clients_close(struct lg *lg);

extern const struct lg_ws_cbs lg_client_cbs_template;

/* ---------------------------------------------------------------- e2e.c */

/* --mode e2e and --mode rekey: clients of the public client API against the relay at url.
 * Prints the report; returns the exit status (0, or 1 when it failed or counted errors). */
int lg_e2e_run(struct lg *lg, pid_t relay_pid, const char *url);

#endif
