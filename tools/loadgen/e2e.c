/*
 * e2ee-loadgen --mode e2e and --mode rekey: N clients of the public client API
 * (include/e2ee/client.h, in-memory stores) in this process, driven from this one thread
 * with the caller's-loop functions (docs/API.md, "Running the client") over one epoll set:
 * each client's wake descriptor and socket are registered once (the socket again only when
 * it changes, EPOLLOUT only while e2ee_client_want_write()), and a pass services only the
 * clients with a ready descriptor or a due timer (a heap over e2ee_client_timeout_ms()), so
 * the cost of a pass does not grow with the number of idle clients.
 *
 * Phases: create the clients (keys), connect them (CONNECT_PARALLEL at a time), create the
 * K groups and join them, wait until every member knows every other member; then the first
 * round: every member sends one message and the round ends when every other member
 * decrypted it (the first-send cost: pairwise sessions built to distribute the sender keys).
 *   e2e:   then every member sends at --rate (in total) or with --window messages not yet
 *          accepted by the relay; the latency is from the send call to the decrypted event
 *          at each receiver (the send time rides in the payload); then a drain.
 *   rekey: then the last member of every group leaves, and every remaining member sends one
 *          message: the round ends when all of them were decrypted by all the others.
 *          With --senders S only the first S members of each group send, in both rounds
 *          (the per-sender cost in a group too large for a full first round).
 * Rounds report their time, the TCP bytes the clients sent and received (TCP_INFO of every
 * client socket), which include the WebSocket framing, and the CPU time of this process and
 * of the relay (this process's includes its polling while it waits).
 * Group delivery acks (ack_group) are off: they are notifications to the sender only.
 */
#include <netinet/in.h>
#include <linux/tcp.h> /* struct tcp_info with the byte counters */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "e2ee/e2ee.h"
#include "loadgen.h"

#if defined(__SANITIZE_ADDRESS__)
/*
 * As in tests/client/clienttest.c: libwebsockets 4.1.6 with OpenSSL 3 loses a client's
 * SSL_CTX (and the CA store in it) at e2ee_client_free() when the process holds more than
 * one lws context, as this mode does. The load generator never calls OpenSSL itself.
 */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libcrypto.so\nleak:libssl.so\n";
}
#endif

#define CONNECT_PARALLEL 64
#define E2E_SETUP_TIMEOUT_NS (600ull * 1000000000u)
#define E2E_ROUND_TIMEOUT_NS (300ull * 1000000000u)
#define E2E_REKEY_ROUND_TIMEOUT_NS (3600ull * 1000000000u) /* full rounds of large groups */
#define E2E_DRAIN_TIMEOUT_NS (30ull * 1000000000u)
#define E2E_POLL_MAX_MS 1         /* longest wait of a pass (the sends of run_load) */
#define E2E_EPOLL_EVENTS 64       /* descriptors handled per epoll_wait */
#define E2E_NO_HEAP UINT32_MAX    /* heap position of a client without a timer */
#define E2E_DEFAULT_WINDOW 4
#define E2E_ROUND_FIRST 1u
#define E2E_ROUND_REKEY 2u
#define E2E_ROUND_RUN 3u

struct e2e;

struct e2e_cl {
    e2ee_client *c;
    struct e2e *e;
    uint32_t idx, group, pos;
    char uid[LG_ID_BUF];
    int started, connected, joined, join_sent, left;
    uint32_t members;  /* members of its group it knows */
    uint64_t seq, acked;
    uint64_t next_ns;
    uint64_t due_ns;   /* its next timer (UINT64_MAX: none) */
    uint32_t heap_pos; /* in e->heap, or E2E_NO_HEAP */
    int sock;          /* socket registered in the epoll set, or -1 */
    uint32_t sock_ev;  /* its registered events */
    uint64_t pass;     /* the last pass that serviced it */
};

struct e2e_round {
    uint64_t t0, t1, expected, received, bytes_out, bytes_in;
    uint32_t senders;       /* per group */
    double cpu_s, relay_cpu_s; /* CPU time of this process and of the relay in the round */
};

struct e2e {
    struct lg *lg;
    struct e2e_cl *cl;
    uint32_t n, k, g;
    uint32_t started, connected, joined;
    uint32_t active_g; /* members per group now */
    uint32_t round;
    struct e2e_round first, rekey;
    /* counters */
    uint64_t sends, accepted, deliveries, expected, received_run;
    uint64_t win_msgs, win_dels; /* messages sent in the window, and their deliveries */
    uint64_t err_send, err_failed, err_e2ee, err_payload, err_closed, err_error, key_waits;
    int measuring;
    int ep;              /* the epoll set */
    uint32_t *heap;      /* client indices, a min-heap on due_ns */
    uint32_t heap_n;
    int *fd_owner;       /* client index whose socket an fd is, or -1 (fd_owner_n entries) */
    size_t fd_owner_n;
    uint64_t pass;
};

static uint64_t now_ns(void)
{
    return lg_now_ns();
}

static void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static uint32_t get32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static void on_group_msg(struct e2e_cl *cl, const struct e2ee_event_group_message *m)
{
    struct e2e *e = cl->e;
    uint64_t t, now = now_ns();
    if (m->len != e->lg->size || m->len < LG_PAYLOAD_HDR || get32(m->data) != LG_MAGIC ||
        get32(m->data + 4) >= e->n || strcmp(e->cl[get32(m->data + 4)].uid, m->from) != 0) {
        e->err_payload++;
        return;
    }
    uint32_t round = get32(m->data + 12);
    memcpy(&t, m->data + 16, 8);
    e->deliveries++;
    if (round == E2E_ROUND_FIRST)
        e->first.received++;
    else if (round == E2E_ROUND_REKEY)
        e->rekey.received++;
    else
        e->received_run++;
    if (round == E2E_ROUND_RUN && e->measuring && t >= e->lg->t0_ns && t < e->lg->t1_ns) {
        e->win_dels++;
        lg_hist_add(&e->lg->lat, now > t ? (now - t) / 1000 : 0);
    }
}

static void on_event(const struct e2ee_event *ev, void *user_data)
{
    struct e2e_cl *cl = user_data;
    struct e2e *e = cl->e;
    switch (ev->type) {
    case E2EE_EVENT_CONNECT:
        if (!cl->connected++)
            e->connected++;
        break;
    case E2EE_EVENT_DISCONNECT:
        if (cl->connected)
            e->err_closed++;
        break;
    case E2EE_EVENT_ERROR:
        e->err_error++;
        fprintf(stderr, "e2ee-loadgen: %s: error %s (%s)\n", cl->uid,
                e2ee_errname(ev->error.code), ev->error.text);
        break;
    case E2EE_EVENT_E2EE_ERROR:
        if (ev->e2ee_error.code == E2EE_ERR_UNKNOWN_KEY)
            e->key_waits++;
        else
            e->err_e2ee++;
        break;
    case E2EE_EVENT_GROUP_JOIN:
        if (!cl->joined++)
            e->joined++;
        cl->members = (uint32_t)ev->group_join.n_members;
        break;
    case E2EE_EVENT_MEMBER_JOIN:
        cl->members++;
        break;
    case E2EE_EVENT_MEMBER_LEAVE:
        cl->members--;
        break;
    case E2EE_EVENT_GROUP_LEAVE:
        cl->left = 1;
        break;
    case E2EE_EVENT_GROUP_TEXT:
    case E2EE_EVENT_GROUP_BINARY:
        on_group_msg(cl, &ev->group_msg);
        break;
    case E2EE_EVENT_GROUP_MESSAGE_ACK:
        if (ev->ack.state == E2EE_ACK_SENT) {
            cl->acked++;
            e->accepted++;
            if (e->round == E2E_ROUND_RUN)
                e->expected += e->active_g - 1;
        } else if (ev->ack.state == E2EE_ACK_FAILED) {
            e->err_failed++;
        }
        break;
    default:
        break;
    }
}

/* ---- the timer heap: client indices ordered by due_ns ---- */

static void heap_set(struct e2e *e, uint32_t pos, uint32_t idx)
{
    e->heap[pos] = idx;
    e->cl[idx].heap_pos = pos;
}

static void heap_up(struct e2e *e, uint32_t pos)
{
    uint32_t idx = e->heap[pos];
    while (pos > 0) {
        uint32_t parent = (pos - 1) / 2;
        if (e->cl[e->heap[parent]].due_ns <= e->cl[idx].due_ns)
            break;
        heap_set(e, pos, e->heap[parent]);
        pos = parent;
    }
    heap_set(e, pos, idx);
}

static void heap_down(struct e2e *e, uint32_t pos)
{
    uint32_t idx = e->heap[pos];
    for (;;) {
        uint32_t child = 2 * pos + 1;
        if (child >= e->heap_n)
            break;
        if (child + 1 < e->heap_n &&
            e->cl[e->heap[child + 1]].due_ns < e->cl[e->heap[child]].due_ns)
            child++;
        if (e->cl[idx].due_ns <= e->cl[e->heap[child]].due_ns)
            break;
        heap_set(e, pos, e->heap[child]);
        pos = child;
    }
    heap_set(e, pos, idx);
}

static void heap_remove(struct e2e *e, uint32_t idx)
{
    uint32_t pos = e->cl[idx].heap_pos;
    if (pos == E2E_NO_HEAP)
        return;
    e->cl[idx].heap_pos = E2E_NO_HEAP;
    if (--e->heap_n == pos)
        return;
    heap_set(e, pos, e->heap[e->heap_n]);
    heap_up(e, pos);
    heap_down(e, e->cl[e->heap[pos]].heap_pos);
}

/* Sets a client's timer: due (monotonic ns) or UINT64_MAX for none. */
static void timer_set(struct e2e *e, uint32_t idx, uint64_t due)
{
    struct e2e_cl *cl = &e->cl[idx];
    if (due == UINT64_MAX) {
        heap_remove(e, idx);
        cl->due_ns = due;
        return;
    }
    cl->due_ns = due;
    if (cl->heap_pos == E2E_NO_HEAP) {
        heap_set(e, e->heap_n++, idx);
        heap_up(e, e->heap_n - 1);
    } else {
        heap_up(e, cl->heap_pos);
        heap_down(e, cl->heap_pos);
    }
}

/* ---- the epoll set ---- */

static int fd_owned_by(struct e2e *e, int fd, uint32_t idx)
{
    return fd >= 0 && (size_t)fd < e->fd_owner_n && e->fd_owner[fd] == (int)idx;
}

static void fd_own(struct e2e *e, int fd, int idx)
{
    if ((size_t)fd >= e->fd_owner_n) {
        size_t n = e->fd_owner_n ? e->fd_owner_n : 1024;
        while (n <= (size_t)fd)
            n *= 2;
        int *v = realloc(e->fd_owner, n * sizeof *v);
        if (!v)
            return;
        for (size_t i = e->fd_owner_n; i < n; i++)
            v[i] = -1;
        e->fd_owner = v;
        e->fd_owner_n = n;
    }
    e->fd_owner[fd] = idx;
}

/* Registers (or changes) fd for client idx; a number still registered for a closed socket
 * of another client is taken over with EPOLL_CTL_MOD. */
static void ep_set(struct e2e *e, int fd, uint32_t idx, uint32_t events, int known)
{
    struct epoll_event ev = {.events = events, .data.u64 = idx};
    if (!known && epoll_ctl(e->ep, EPOLL_CTL_ADD, fd, &ev) == 0)
        return;
    if (epoll_ctl(e->ep, EPOLL_CTL_MOD, fd, &ev) != 0)
        (void)epoll_ctl(e->ep, EPOLL_CTL_ADD, fd, &ev);
}

/* After any call into a client: its socket, the events to wait for and its timer. */
static void arm(struct e2e *e, uint32_t idx, uint64_t now)
{
    struct e2e_cl *cl = &e->cl[idx];
    int s = e2ee_client_socket(cl->c), t = e2ee_client_timeout_ms(cl->c);
    uint32_t want = EPOLLIN | (s >= 0 && e2ee_client_want_write(cl->c) ? EPOLLOUT : 0);
    if (s != cl->sock) {
        /* the old socket is closed (its registration went with it) or still open: then it
         * is removed, unless its number now belongs to another client */
        if (fd_owned_by(e, cl->sock, idx)) {
            (void)epoll_ctl(e->ep, EPOLL_CTL_DEL, cl->sock, NULL);
            e->fd_owner[cl->sock] = -1;
        }
        cl->sock = s;
        if (s >= 0) {
            ep_set(e, s, idx, want, 0);
            fd_own(e, s, (int)idx);
        }
        cl->sock_ev = want;
    } else if (s >= 0 && want != cl->sock_ev) {
        ep_set(e, s, idx, want, 1);
        cl->sock_ev = want;
    }
    timer_set(e, idx, t >= 0 ? now + (uint64_t)t * 1000000u : UINT64_MAX);
}

/* Registers a new client's wake descriptor and socket (once). */
static int ep_add_client(struct e2e *e, uint32_t idx)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = idx};
    e->cl[idx].sock = -1;
    e->cl[idx].heap_pos = E2E_NO_HEAP;
    e->cl[idx].due_ns = UINT64_MAX;
    if (epoll_ctl(e->ep, EPOLL_CTL_ADD, e2ee_client_wake_fd(e->cl[idx].c), &ev) != 0)
        return -1;
    arm(e, idx, now_ns());
    return 0;
}

static void service_one(struct e2e *e, uint32_t idx)
{
    struct e2e_cl *cl = &e->cl[idx];
    if (cl->pass == e->pass)
        return;
    cl->pass = e->pass;
    e2ee_client_loop(cl->c, 0);
    arm(e, idx, now_ns());
}

/* One pass: waits for a ready descriptor or the first due timer (at most E2E_POLL_MAX_MS),
 * then services the clients with a ready descriptor and those whose timer is due. */
static int service(struct e2e *e)
{
    struct epoll_event evs[E2E_EPOLL_EVENTS];
    uint64_t now = now_ns();
    int timeout = E2E_POLL_MAX_MS;
    if (e->heap_n) {
        uint64_t due = e->cl[e->heap[0]].due_ns;
        timeout = due <= now ? 0 : (int)((due - now + 999999u) / 1000000u);
        if (timeout > E2E_POLL_MAX_MS)
            timeout = E2E_POLL_MAX_MS;
    }
    int n = epoll_wait(e->ep, evs, E2E_EPOLL_EVENTS, timeout);
    e->pass++;
    for (int j = 0; j < n; j++)
        service_one(e, (uint32_t)evs[j].data.u64);
    /* timers due at the start of this round; a client re-armed with 0 waits for the next */
    now = now_ns();
    while (e->heap_n && e->cl[e->heap[0]].due_ns <= now) {
        uint32_t idx = e->heap[0];
        if (e->cl[idx].pass == e->pass) {
            /* serviced above and due again already: next pass */
            break;
        }
        service_one(e, idx);
    }
    return 0;
}

/* TCP bytes sent (acknowledged) and received over every client socket. */
static void tcp_bytes(struct e2e *e, uint64_t *out, uint64_t *in)
{
    *out = *in = 0;
    for (uint32_t i = 0; i < e->n; i++) {
        struct tcp_info ti;
        socklen_t len = sizeof ti;
        int s = e->cl[i].c ? e2ee_client_socket(e->cl[i].c) : -1;
        if (s >= 0 && getsockopt(s, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0) {
            *out += ti.tcpi_bytes_acked;
            *in += ti.tcpi_bytes_received;
        }
    }
}

static int send_one(struct e2e *e, struct e2e_cl *cl, uint32_t round)
{
    char id[E2EE_MSG_ID_SIZE];
    uint8_t *p = e->lg->payload;
    uint64_t t = now_ns();
    put32(p, LG_MAGIC);
    put32(p + 4, cl->idx);
    put32(p + 8, (uint32_t)cl->seq);
    put32(p + 12, round);
    memcpy(p + 16, &t, 8);
    char gid[LG_ID_BUF];
    snprintf(gid, sizeof gid, "g%s-%u", e->lg->run_id, cl->group);
    int rc = e2ee_client_send_group_binary(cl->c, gid, p, e->lg->size, id);
    if (rc != E2EE_OK) {
        e->err_send++;
        return -1;
    }
    cl->seq++;
    e->sends++;
    if (round == E2E_ROUND_RUN && t >= e->lg->t0_ns && t < e->lg->t1_ns)
        e->win_msgs++; /* sent in the window: its deliveries are the window's */
    return 0;
}

/* Services until done(e) or the timeout; 0 done, -1 timed out. */
static int wait_for(struct e2e *e, int (*done)(struct e2e *), uint64_t timeout_ns,
                    const char *what)
{
    uint64_t t0 = now_ns();
    while (!done(e)) {
        if (now_ns() - t0 > timeout_ns) {
            snprintf(e->lg->fail_why, sizeof e->lg->fail_why, "%s timed out", what);
            return -1;
        }
        service(e);
    }
    return 0;
}

static int all_connected(struct e2e *e)
{
    while (e->started < e->n && e->started - e->connected < CONNECT_PARALLEL) {
        e2ee_client_connect(e->cl[e->started].c);
        e->started++;
    }
    return e->connected == e->n;
}

static int all_settled(struct e2e *e)
{
    for (uint32_t i = 0; i < e->n; i++) {
        struct e2e_cl *cl = &e->cl[i];
        if (cl->pos == 0 || cl->join_sent)
            continue;
        if (e->cl[i - cl->pos].joined) {
            char gid[LG_ID_BUF];
            uint64_t rid;
            snprintf(gid, sizeof gid, "g%s-%u", e->lg->run_id, cl->group);
            if (e2ee_client_join_group(cl->c, gid, &rid) != E2EE_OK)
                e->err_send++;
            cl->join_sent = 1;
        }
    }
    for (uint32_t i = 0; i < e->n; i++)
        if (e->cl[i].group < e->k && !e->cl[i].left && e->cl[i].members != e->active_g)
            return 0;
    return 1;
}

static int round_first_done(struct e2e *e)
{
    return e->first.received >= e->first.expected && e->accepted >= e->sends;
}

static int round_rekey_done(struct e2e *e)
{
    return e->rekey.received >= e->rekey.expected && e->accepted >= e->sends;
}

/* Members of each group that send in `round`: every active one, except in --mode rekey with
 * --senders S: the first S of each group send in both rounds (the first-send and the
 * after-leave cost of S senders in a large group, without the G x (G - 1) sessions of a
 * full first round that a full after-leave round would need first). */
static uint32_t round_senders(const struct e2e *e, uint32_t round)
{
    uint32_t s = e->lg->senders_per_group;
    if (round != E2E_ROUND_RUN && e->lg->mode == LG_MODE_REKEY && s && s < e->active_g)
        return s;
    return e->active_g;
}

static double self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Every sending member sends one message of `round`; waits for every delivery. */
static int run_round(struct e2e *e, struct e2e_round *r, uint32_t round, const char *what,
                     pid_t relay_pid)
{
    struct lg_proc_sample q0, q1;
    e->round = round;
    r->senders = round_senders(e, round);
    tcp_bytes(e, &r->bytes_out, &r->bytes_in);
    r->expected = (uint64_t)e->k * r->senders * (e->active_g - 1);
    lg_proc_sample(relay_pid, &q0);
    r->cpu_s = self_cpu_s();
    r->t0 = now_ns();
    for (uint32_t i = 0; i < e->n; i++)
        if (e->cl[i].group < e->k && !e->cl[i].left && e->cl[i].pos < r->senders)
            send_one(e, &e->cl[i], round);
    int rc = wait_for(e, round == E2E_ROUND_FIRST ? round_first_done : round_rekey_done,
                      e->lg->mode == LG_MODE_REKEY ? E2E_REKEY_ROUND_TIMEOUT_NS
                                                   : E2E_ROUND_TIMEOUT_NS,
                      what);
    r->t1 = now_ns();
    r->cpu_s = self_cpu_s() - r->cpu_s;
    lg_proc_sample(relay_pid, &q1);
    double pct = lg_proc_cpu_pct(&q0, &q1);
    r->relay_cpu_s = pct > 0 ? pct * (double)(q1.ns - q0.ns) / 1e11 : 0.0;
    uint64_t o, in;
    tcp_bytes(e, &o, &in);
    r->bytes_out = o - r->bytes_out;
    r->bytes_in = in - r->bytes_in;
    printf("# %s: %u senders per group, %.1f ms, %llu deliveries, clients sent %llu and "
           "received %llu TCP bytes; CPU: load generator %.2f s, relay %.2f s\n",
           what, r->senders, (double)(r->t1 - r->t0) / 1e6, (unsigned long long)r->received,
           (unsigned long long)r->bytes_out, (unsigned long long)r->bytes_in, r->cpu_s,
           r->relay_cpu_s);
    fflush(stdout);
    return rc;
}

static int drained(struct e2e *e)
{
    return e->received_run >= e->expected && e->accepted >= e->sends;
}

/* The measured sending phase of --mode e2e. */
static void run_load(struct e2e *e, pid_t relay_pid, struct lg_proc_sample *p0,
                     struct lg_proc_sample *p1, double *self_cpu)
{
    struct lg *lg = e->lg;
    uint32_t window = lg->window ? lg->window : E2E_DEFAULT_WINDOW;
    uint64_t interval = lg->rate > 0 ? (uint64_t)(1e9 * e->n / lg->rate) : 0;
    struct rusage r0, r1;
    uint64_t now = now_ns();
    e->round = E2E_ROUND_RUN;
    lg->t0_ns = now + (uint64_t)(lg->warmup_s * 1e9);
    lg->t1_ns = lg->t0_ns + (uint64_t)(lg->duration_s * 1e9);
    for (uint32_t i = 0; i < e->n; i++)
        e->cl[i].next_ns = now + (interval ? interval * i / e->n : 0);
    int snap = 0;
    while ((now = now_ns()) < lg->t1_ns) {
        if (!snap && now >= lg->t0_ns) {
            snap = 1;
            e->measuring = 1;
            lg_proc_sample(relay_pid, p0);
            getrusage(RUSAGE_SELF, &r0);
        }
        for (uint32_t i = 0; i < e->n; i++) {
            struct e2e_cl *cl = &e->cl[i];
            if (cl->group >= e->k || cl->seq - cl->acked >= (interval ? LG_WINDOW_MAX : window))
                continue;
            if (interval) {
                if (now < cl->next_ns)
                    continue;
                cl->next_ns += interval;
            }
            send_one(e, cl, E2E_ROUND_RUN);
        }
        service(e);
    }
    lg_proc_sample(relay_pid, p1);
    getrusage(RUSAGE_SELF, &r1);
    *self_cpu = ((double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec + r1.ru_stime.tv_sec -
                          r0.ru_stime.tv_sec) +
                 (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec + r1.ru_stime.tv_usec -
                          r0.ru_stime.tv_usec) / 1e6) * 100.0 / lg->duration_s;
    if (wait_for(e, drained, E2E_DRAIN_TIMEOUT_NS, "drain") != 0)
        fprintf(stderr, "e2ee-loadgen: %s\n", lg->fail_why);
    e->measuring = 0;
}

static int setup(struct e2e *e, const char *url)
{
    struct lg *lg = e->lg;
    uint64_t t = now_ns();
    for (uint32_t i = 0; i < e->n; i++) {
        struct e2e_cl *cl = &e->cl[i];
        struct e2ee_client_config cfg;
        cl->e = e;
        cl->idx = i;
        cl->group = i / e->g;
        cl->pos = i % e->g;
        snprintf(cl->uid, sizeof cl->uid, "e%s-%u", lg->run_id, i);
        e2ee_client_config_init(&cfg);
        cfg.user_id = cl->uid;
        cfg.relay_url = url;
        cfg.store_path = NULL;
        cfg.event_cb = on_event;
        cfg.user_data = cl;
        cfg.ack_group = 0;
        cfg.ack_direct = 0;
        if (lg->keepalive_s != LG_KEEPALIVE_DEFAULT)
            cfg.keepalive_s = lg->keepalive_s;
        else if (lg->mode == LG_MODE_REKEY)
            cfg.keepalive_s = 0;
        if (e2ee_client_new(&cl->c, &cfg) != E2EE_OK || ep_add_client(e, i) != 0) {
            snprintf(lg->fail_why, sizeof lg->fail_why, "client %u: cannot create", i);
            return -1;
        }
    }
    printf("# %u clients created (%.1f s)\n", e->n, (double)(now_ns() - t) / 1e9);
    t = now_ns();
    if (wait_for(e, all_connected, E2E_SETUP_TIMEOUT_NS, "connecting") != 0)
        return -1;
    printf("# %u clients logged in (%.1f s)\n", e->n, (double)(now_ns() - t) / 1e9);
    t = now_ns();
    for (uint32_t k = 0; k < e->k; k++) {
        char gid[LG_ID_BUF];
        uint64_t rid;
        snprintf(gid, sizeof gid, "g%s-%u", lg->run_id, k);
        if (e2ee_client_create_group(e->cl[k * e->g].c, gid, &rid) != E2EE_OK) {
            snprintf(lg->fail_why, sizeof lg->fail_why, "cannot create group %u", k);
            return -1;
        }
    }
    /* clients beyond K x G stay idle */
    for (uint32_t i = e->k * e->g; i < e->n; i++)
        e->cl[i].join_sent = 1;
    if (wait_for(e, all_settled, E2E_SETUP_TIMEOUT_NS, "group set-up") != 0)
        return -1;
    printf("# %u groups of %u members ready (%.1f s)\n", e->k, e->g,
           (double)(now_ns() - t) / 1e9);
    fflush(stdout);
    return 0;
}

static int leave_last(struct e2e *e)
{
    for (uint32_t k = 0; k < e->k; k++) {
        struct e2e_cl *cl = &e->cl[k * e->g + e->g - 1];
        char gid[LG_ID_BUF];
        uint64_t rid;
        snprintf(gid, sizeof gid, "g%s-%u", e->lg->run_id, k);
        if (e2ee_client_leave_group(cl->c, gid, &rid) != E2EE_OK)
            return -1;
        cl->left = 1; /* its GROUP_LEAVE confirms it; it no longer counts as a member */
    }
    e->active_g = e->g - 1;
    return wait_for(e, all_settled, E2E_SETUP_TIMEOUT_NS, "leave");
}

static uint64_t errors(const struct e2e *e)
{
    return e->err_send + e->err_failed + e->err_e2ee + e->err_payload + e->err_closed +
           e->err_error;
}

static void report(struct e2e *e, const struct lg_proc_sample *p0,
                   const struct lg_proc_sample *p1, double self_cpu, uint64_t missing)
{
    struct lg *lg = e->lg;
    double win = lg->mode == LG_MODE_E2E ? lg->duration_s : 0;
    double relay_cpu = lg_proc_cpu_pct(p0, p1);
    printf("# errors: send %llu, failed %llu, e2ee %llu, payload %llu, closed %llu, "
           "error events %llu, missing %llu; key waits %llu\n",
           (unsigned long long)e->err_send, (unsigned long long)e->err_failed,
           (unsigned long long)e->err_e2ee, (unsigned long long)e->err_payload,
           (unsigned long long)e->err_closed, (unsigned long long)e->err_error,
           (unsigned long long)missing, (unsigned long long)e->key_waits);
    printf("mode=%s clients=%u groups=%u group_size=%u size=%zu duration_s=%.2f rate=%.0f "
           "msgs=%llu deliveries=%llu msgs_per_s=%.0f deliveries_per_s=%.0f p50_us=%llu "
           "p99_us=%llu p999_us=%llu max_us=%llu errors=%llu relay_cpu_pct=%.1f "
           "relay_rss_kib=%llu relay_hwm_kib=%llu loadgen_cpu_pct=%.1f first_send_ms=%.1f "
           "first_send_bytes_out=%llu first_send_bytes_in=%llu rekey_ms=%.1f "
           "rekey_bytes_out=%llu rekey_bytes_in=%llu first_send_senders=%u "
           "first_send_sessions=%llu first_send_cpu_s=%.2f first_send_relay_cpu_s=%.2f rekey_cpu_s=%.2f "
           "rekey_relay_cpu_s=%.2f rekey_senders=%u\n",
           lg->mode == LG_MODE_E2E ? "e2e" : "rekey", e->n, e->k, e->g, lg->size, win, lg->rate,
           (unsigned long long)e->win_msgs, (unsigned long long)e->win_dels,
           win > 0 ? (double)e->win_msgs / win : 0.0, win > 0 ? (double)e->win_dels / win : 0.0,
           (unsigned long long)lg_hist_quantile(&lg->lat, 0.50),
           (unsigned long long)lg_hist_quantile(&lg->lat, 0.99),
           (unsigned long long)lg_hist_quantile(&lg->lat, 0.999), (unsigned long long)lg->lat.max,
           (unsigned long long)(errors(e) + missing), relay_cpu,
           (unsigned long long)p1->rss_kib, (unsigned long long)p1->hwm_kib, self_cpu,
           (double)(e->first.t1 - e->first.t0) / 1e6, (unsigned long long)e->first.bytes_out,
           (unsigned long long)e->first.bytes_in,
           e->rekey.t1 ? (double)(e->rekey.t1 - e->rekey.t0) / 1e6 : 0.0,
           (unsigned long long)e->rekey.bytes_out, (unsigned long long)e->rekey.bytes_in,
           e->first.senders, (unsigned long long)e->k * e->first.senders * (e->g - 1),
           e->first.cpu_s, e->first.relay_cpu_s, e->rekey.cpu_s, e->rekey.relay_cpu_s,
           e->rekey.senders);
}

int lg_e2e_run(struct lg *lg, pid_t relay_pid, const char *url)
{
    struct e2e e;
    struct lg_proc_sample p0, p1;
    double self_cpu = 0;
    uint64_t missing = 0;
    int rc = 1;
    memset(&e, 0, sizeof e);
    memset(&p0, 0, sizeof p0);
    memset(&p1, 0, sizeof p1);
    e.lg = lg;
    e.n = lg->n_clients;
    e.g = lg->group_size;
    e.k = e.n / e.g;
    e.active_g = e.g;
    e.cl = calloc(e.n, sizeof *e.cl);
    e.heap = calloc(e.n, sizeof *e.heap);
    e.ep = epoll_create1(EPOLL_CLOEXEC);
    lg->payload = malloc(lg->size);
    if (!e.cl || !e.heap || e.ep < 0 || !lg->payload) {
        snprintf(lg->fail_why, sizeof lg->fail_why, "out of memory");
        goto done;
    }
    memset(lg->payload, 0x5a, lg->size);
    if (setup(&e, url) != 0 ||
        run_round(&e, &e.first, E2E_ROUND_FIRST, "first send round", relay_pid) != 0)
        goto done;
    if (lg->mode == LG_MODE_REKEY) {
        lg_proc_sample(relay_pid, &p0);
        if (leave_last(&e) != 0 || run_round(&e, &e.rekey, E2E_ROUND_REKEY,
                                              "after a leave, every member sends",
                                              relay_pid) != 0)
            goto done;
        lg_proc_sample(relay_pid, &p1);
    } else {
        run_load(&e, relay_pid, &p0, &p1, &self_cpu);
        if (e.received_run < e.expected)
            missing = e.expected - e.received_run;
    }
    report(&e, &p0, &p1, self_cpu, missing);
    fflush(stdout);
    rc = errors(&e) + missing ? 1 : 0;
done:
    if (rc && lg->fail_why[0]) {
        fprintf(stderr, "e2ee-loadgen: %s\n", lg->fail_why);
        printf("mode=%s clients=%u errors=%llu failed=1\n",
               lg->mode == LG_MODE_E2E ? "e2e" : "rekey", e.n,
               (unsigned long long)errors(&e) + 1);
    }
    for (uint32_t i = 0; e.cl && i < e.n; i++)
        if (e.cl[i].c)
            e2ee_client_free(e.cl[i].c);
    free(e.cl);
    free(e.heap);
    free(e.fd_owner);
    if (e.ep >= 0)
        close(e.ep);
    free(lg->payload);
    lg->payload = NULL;
    return rc;
}
