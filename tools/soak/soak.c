/*
 * e2ee-soak: a long run of many clients of the public client API against a real e2ee-relay,
 * with churn, checking that nothing is lost, nothing fails and memory stays flat.
 *
 *   e2ee-soak [--clients N] [--seconds S] [--sample S] [--rate MSGS_PER_S]
 *             [--churn ACTIONS_PER_S] [--churn-kinds drl] [--relay-bin PATH] [--dir FOLDER]
 *             [--rss-pct P] [--rss-slack-mib M]
 *
 * It spawns e2ee-relay (beside this program unless --relay-bin) on a free loopback port with
 * a fresh store in a temporary folder (under --dir, else /dev/shm, else $TMPDIR or /tmp: see
 * soak_parent()), and creates N clients (default 500), each with its own file store in that
 * folder, all driven from this one thread with the caller's-loop functions over one poll set
 * (docs/API.md, "Running the client").
 *
 * Set-up: the clients connect; they form groups of GROUP_SIZE; the first CORE_SIZE members
 * of each group are its stable core, the others its churn members.
 * Run (S seconds, default $SOAK_SECONDS or 1800), at a steady total rate:
 *  - messages: half direct (client i to one of its FRIENDS next clients, so the set of
 *    pairwise sessions stops growing once warm), half group (from a core member);
 *  - churn actions on random settled clients: disconnect and reconnect a few seconds later;
 *    free the client and create it again from its store a few seconds later; a churn member
 *    leaves its group and joins again a few seconds later (core members get a disconnect).
 *    --churn-kinds keeps some of them only: d disconnect, r free and create again, l leave.
 * Drain: churn stops, every client comes back and connects, and the run waits until every
 * message has its "sent" ack and every expected delivery arrived (or DRAIN_TIMEOUT_S).
 *
 * Checks. Every received message is parsed and compared byte for byte with the text the
 * sender built (which names the sender, the recipient or group and the message number),
 * against the event's sender and group, and marked per recipient: a second delivery to the
 * same recipient is an error. Expected deliveries: a direct message to its recipient; a
 * group message to every core member of its group but the sender (churn members may or may
 * not get it, depending on when they joined: their deliveries are checked but not required).
 * Errors, which must all be 0: a send call refused, a FAILED ack, an ack for an unknown
 * message, an E2EE_EVENT_ERROR (except E2EE_ERR_CLOSED for a request cut by a disconnect this
 * program made, counted apart), an E2EE_EVENT_E2EE_ERROR (except E2EE_ERR_UNKNOWN_KEY, a key
 * wait that resolves itself: counted apart; an unresolved one ends as E2EE_ERR_TIMEOUT or as a
 * missing message), a disconnect this program did not ask for, an identity change, a
 * message that does not match, a duplicate, a client that cannot be created again, and after
 * the drain every message without its "sent" ack and every expected delivery that is missing;
 * and the relay must not exit before the end.
 * Memory: relay and soak RSS (VmRSS) are sampled every --sample seconds (default S/20,
 * 0.5..10 s) during the run; the first quarter is warm-up; the mean of the last quarter must
 * not exceed the mean of the second quarter by more than --rss-pct percent (default 10) plus
 * --rss-slack-mib MiB (default 16). Under AddressSanitizer (whose quarantine holds freed
 * memory) the RSS check is reported but does not fail the run.
 *
 * Output: one line per sample, then one key=value summary line. Exit status 0 when every
 * check passed, 1 with the reasons on stderr, 2 for a usage error.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "e2ee/e2ee.h"
#include "loadgen.h" /* the relay process: tools/loadgen/relayproc.c */

#if defined(__SANITIZE_ADDRESS__)
/*
 * As in tests/client/clienttest.c: libwebsockets 4.1.6 with OpenSSL 3 loses a client's
 * SSL_CTX at e2ee_client_free() when the process holds more than one lws context, as this
 * program does. It never calls OpenSSL itself.
 */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libcrypto.so\nleak:libssl.so\n";
}
#define SOAK_ASAN 1
#else
#define SOAK_ASAN 0
#endif

#define DEFAULT_CLIENTS 500u
#define DEFAULT_SECONDS 1800.0
#define DEFAULT_RATE 40.0       /* messages per second, all clients together */
#define DEFAULT_CHURN 2.0       /* churn actions per second */
#define DEFAULT_RSS_PCT 10.0
#define DEFAULT_RSS_SLACK_MIB 16.0
#define GROUP_SIZE 10u
#define CORE_SIZE 6u            /* the first CORE_SIZE members of a group never churn out */
#define FRIENDS 2u              /* client i sends direct messages to i+1..i+FRIENDS */
#define CLIENTS_MAX 5000u
#define CONNECT_PARALLEL 32u
#define POLL_MAX_MS 20
#define SETUP_TIMEOUT_S 900
#define DRAIN_TIMEOUT_S 300
#define CHURN_MIN_MS 1000u      /* a churned client comes back after 1..10 s */
#define CHURN_SPAN_MS 9000u
#define SAMPLE_DIV 20.0         /* default sample interval: the run / SAMPLE_DIV ... */
#define SAMPLE_MAX_S 10.0       /* ... at most this */
#define SAMPLE_MIN_S 0.5
#define SAMPLES_MIN 8u          /* fewer samples: no RSS verdict possible */
#define TEXT_MAX_BYTES 512
#define FILLER_MIN 32u
#define FILLER_SPAN 200u
#define PATH_BYTES 512
#define LINE_BYTES 2048
#define REPORT_FIRST 10         /* error lines printed before going quiet */
#define ID_BYTES 32

enum kind { K_DIRECT = 1, K_GROUP = 2 };
enum back { B_NONE, B_CONNECT, B_RECREATE, B_JOIN };
enum { CHURN_DISCONNECT = 1, CHURN_RECREATE = 2, CHURN_LEAVE = 4 };

struct msg {
    uint32_t from, to; /* client index; to: recipient (direct) or group index */
    uint8_t kind, sent, failed;
    uint16_t got;      /* recipients that received it: bit = position in the group; direct bit 0 */
    uint64_t id;       /* the library's message id */
};

struct soak;

struct cl {
    e2ee_client *c;
    struct soak *s;
    uint32_t idx, group, pos;
    char uid[ID_BYTES];
    char store[PATH_BYTES];
    int connected, started, member, pending, closing;
    enum back back;    /* what happens at back_ns */
    uint64_t back_ns;
    uint64_t due_ns;
};

struct sample {
    double t;
    uint64_t relay_kib, self_kib;
};

struct soak {
    uint32_t n, n_groups;
    double seconds, sample_s, rate, churn, rss_pct, rss_slack_mib;
    const char *relay_bin;
    const char *parent; /* where the temporary folder goes */
    struct lg_relay_proc relay; /* its temporary folder holds the client stores too */
    struct cl *cl;
    struct pollfd *pfd;
    uint32_t *pfd_cl;
    struct msg *msgs;
    size_t n_msgs, cap_msgs;
    size_t *slot; /* id hash -> message index + 1 */
    size_t n_slots;
    struct sample *samples;
    size_t n_samples, cap_samples;
    uint64_t rng;
    int churning;
    int churn_kinds; /* CHURN_* bits */
    /* counters */
    uint64_t sent_direct, sent_group, acked, received, expected_got, extra_got;
    uint64_t connects, disconnects, recreates, leaves, joins, closed_requests, key_waits;
    uint64_t err_send, err_failed, err_ack, err_event, err_e2ee, err_disconnect, err_identity;
    uint64_t err_content, err_dup, err_create, unacked, missing;
    int reported;
    char why[LINE_BYTES];
};

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

/* The clock of tools/loadgen/relayproc.c (in e2ee-loadgen, client.c defines it). */
uint64_t lg_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t now_ns(void)
{
    return lg_now_ns();
}

static uint64_t rnd(struct soak *s)
{
    /* xorshift64*: choices of the run, not secrets */
    s->rng ^= s->rng >> 12;
    s->rng ^= s->rng << 25;
    s->rng ^= s->rng >> 27;
    return s->rng * 0x2545F4914F6CDD1Dull;
}

static uint32_t rnd_below(struct soak *s, uint32_t n)
{
    return n ? (uint32_t)(rnd(s) % n) : 0;
}

__attribute__((format(printf, 2, 3))) static void complain(struct soak *s, const char *fmt,
                                                          ...)
{
    va_list ap;
    if (s->reported++ >= REPORT_FIRST)
        return;
    va_start(ap, fmt);
    fputs("e2ee-soak: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static uint64_t errors(const struct soak *s)
{
    return s->err_send + s->err_failed + s->err_ack + s->err_event + s->err_e2ee +
           s->err_disconnect + s->err_identity + s->err_content + s->err_dup + s->err_create +
           s->unacked + s->missing;
}

/* ---- message table: index by the library's id ---- */

static int parse_id(const char *hex, uint64_t *out)
{
    char *end = NULL;
    if (!hex || strlen(hex) != E2EE_MSG_ID_SIZE - 1)
        return -1;
    errno = 0;
    *out = strtoull(hex, &end, 16);
    return errno || *end ? -1 : 0;
}

static size_t slot_of(const struct soak *s, uint64_t id)
{
    return (size_t)((id * 0x9E3779B97F4A7C15ull) >> 17) & (s->n_slots - 1);
}

static int slots_grow(struct soak *s)
{
    size_t n = s->n_slots ? s->n_slots * 2 : 1u << 16;
    size_t *t = calloc(n, sizeof *t);
    if (!t)
        return -1;
    size_t *old = s->slot, old_n = s->n_slots;
    s->slot = t;
    s->n_slots = n;
    for (size_t i = 0; i < old_n; i++) {
        if (!old[i])
            continue;
        size_t j = slot_of(s, s->msgs[old[i] - 1].id);
        while (t[j])
            j = (j + 1) & (n - 1);
        t[j] = old[i];
    }
    free(old);
    return 0;
}

static struct msg *msg_by_id(struct soak *s, const char *hex)
{
    uint64_t id;
    if (parse_id(hex, &id) != 0 || !s->n_slots)
        return NULL;
    for (size_t j = slot_of(s, id); s->slot[j]; j = (j + 1) & (s->n_slots - 1))
        if (s->msgs[s->slot[j] - 1].id == id)
            return &s->msgs[s->slot[j] - 1];
    return NULL;
}

/* Appends a message record; its id is set by msg_commit() once the send call returned one. */
static struct msg *msg_new(struct soak *s)
{
    if (s->n_msgs == s->cap_msgs) {
        size_t cap = s->cap_msgs ? s->cap_msgs * 2 : 4096;
        struct msg *m = realloc(s->msgs, cap * sizeof *m);
        if (!m)
            return NULL;
        s->msgs = m;
        s->cap_msgs = cap;
    }
    if ((s->n_msgs + 1) * 2 > s->n_slots && slots_grow(s) != 0)
        return NULL;
    struct msg *m = &s->msgs[s->n_msgs];
    memset(m, 0, sizeof *m);
    return m;
}

static int msg_commit(struct soak *s, const char *hex)
{
    struct msg *m = &s->msgs[s->n_msgs];
    if (parse_id(hex, &m->id) != 0 || msg_by_id(s, hex))
        return -1;
    size_t j = slot_of(s, m->id);
    while (s->slot[j])
        j = (j + 1) & (s->n_slots - 1);
    s->slot[j] = ++s->n_msgs;
    return 0;
}

/* The text of message number `no`: names everything the receiver checks, plus a filler of
 * a length that varies with the number. */
static size_t msg_text(const struct soak *s, size_t no, const struct msg *m, char *out, size_t cap)
{
    uint64_t h = (uint64_t)no * 0x9E3779B97F4A7C15ull ^ m->from;
    int n = snprintf(out, cap, "soak no=%zu from=%s %s=%" PRIu32 " ", no, s->cl[m->from].uid,
                     m->kind == K_DIRECT ? "to" : "group", m->to);
    size_t len = n > 0 ? (size_t)n : 0;
    size_t fill = FILLER_MIN + (size_t)(h % FILLER_SPAN);
    for (size_t i = 0; i < fill && len + 1 < cap; i++)
        out[len++] = (char)('a' + (h >> (i % 58)) % 26);
    out[len] = '\0';
    return len;
}

/* ---- events ---- */

static void on_message(struct cl *cl, enum kind kind, const char *from, const char *group,
                       const uint8_t *data, size_t len)
{
    struct soak *s = cl->s;
    char want[TEXT_MAX_BYTES], gid[ID_BYTES];
    size_t no = 0;
    const char *p = (const char *)data;
    s->received++;
    if (len < 8 || memcmp(p, "soak no=", 8) != 0 || sscanf(p + 8, "%zu", &no) != 1 ||
        no >= s->n_msgs) {
        s->err_content++;
        complain(s, "%s: a message that is not one of ours (%zu bytes)", cl->uid, len);
        return;
    }
    struct msg *m = &s->msgs[no];
    size_t wlen = msg_text(s, no, m, want, sizeof want);
    int ok = m->kind == kind && wlen == len && memcmp(want, data, len) == 0 &&
             strcmp(from, s->cl[m->from].uid) == 0;
    if (ok && kind == K_DIRECT)
        ok = m->to == cl->idx;
    if (ok && kind == K_GROUP) {
        snprintf(gid, sizeof gid, "soak-g%" PRIu32, m->to);
        ok = group && strcmp(group, gid) == 0 && m->to == cl->group;
    }
    if (!ok) {
        s->err_content++;
        complain(s, "%s: message %zu does not match (from %s)", cl->uid, no, from);
        return;
    }
    uint16_t bit = (uint16_t)(kind == K_DIRECT ? 1u : 1u << cl->pos);
    if (m->got & bit) {
        s->err_dup++;
        complain(s, "%s: message %zu delivered twice", cl->uid, no);
        return;
    }
    m->got |= bit;
    if (kind == K_DIRECT || cl->pos < CORE_SIZE)
        s->expected_got++;
    else
        s->extra_got++;
}

static void on_ack(struct cl *cl, const struct e2ee_event_ack *a)
{
    struct soak *s = cl->s;
    if (a->state == E2EE_ACK_DELIVERED)
        return;
    struct msg *m = msg_by_id(s, a->msg_id);
    if (!m || m->from != cl->idx) {
        s->err_ack++;
        complain(s, "%s: ack for an unknown message %s", cl->uid, a->msg_id ? a->msg_id : "-");
        return;
    }
    if (a->state == E2EE_ACK_SENT) {
        if (!m->sent)
            s->acked++;
        m->sent = 1;
    } else {
        m->failed = 1;
        s->err_failed++;
        complain(s, "%s: message %s failed: %s", cl->uid, a->msg_id, e2ee_errname(a->code));
    }
}

static void on_event(const struct e2ee_event *ev, void *user_data)
{
    struct cl *cl = user_data;
    struct soak *s = cl->s;
    switch (ev->type) {
    case E2EE_EVENT_CONNECT:
        cl->connected = 1;
        s->connects++;
        break;
    case E2EE_EVENT_DISCONNECT:
        cl->connected = 0;
        if (!cl->closing || ev->disconnect.code != E2EE_OK) {
            s->err_disconnect++;
            complain(s, "%s: disconnected: %s, close code %u (%s)", cl->uid,
                     e2ee_errname(ev->disconnect.code), (unsigned)ev->disconnect.close_code,
                     ev->disconnect.reason);
        }
        cl->closing = 0;
        break;
    case E2EE_EVENT_ERROR:
        if (ev->error.code == E2EE_ERR_CLOSED) {
            s->closed_requests++;
            break;
        }
        s->err_event++;
        cl->pending = 0;
        complain(s, "%s: error %s (%s)", cl->uid, e2ee_errname(ev->error.code), ev->error.text);
        break;
    case E2EE_EVENT_E2EE_ERROR:
        if (ev->e2ee_error.code == E2EE_ERR_UNKNOWN_KEY) {
            s->key_waits++;
            break;
        }
        s->err_e2ee++;
        complain(s, "%s: e2ee error %s (%s) from %s", cl->uid, e2ee_errname(ev->e2ee_error.code),
                 ev->e2ee_error.text, ev->e2ee_error.from ? ev->e2ee_error.from : "-");
        break;
    case E2EE_EVENT_DIRECT_TEXT:
        on_message(cl, K_DIRECT, ev->direct.from, NULL, ev->direct.data, ev->direct.len);
        break;
    case E2EE_EVENT_GROUP_TEXT:
        on_message(cl, K_GROUP, ev->group_msg.from, ev->group_msg.group, ev->group_msg.data,
                   ev->group_msg.len);
        break;
    case E2EE_EVENT_DIRECT_BINARY:
    case E2EE_EVENT_GROUP_BINARY:
        s->err_content++;
        complain(s, "%s: a binary message, none was sent", cl->uid);
        break;
    case E2EE_EVENT_MESSAGE_ACK:
    case E2EE_EVENT_GROUP_MESSAGE_ACK:
        on_ack(cl, &ev->ack);
        break;
    case E2EE_EVENT_GROUP_JOIN:
        cl->member = 1;
        cl->pending = 0;
        break;
    case E2EE_EVENT_GROUP_LEAVE:
        cl->member = 0;
        cl->pending = 0;
        if (s->churning) {
            cl->back = B_JOIN;
            cl->back_ns = now_ns() + (CHURN_MIN_MS + rnd_below(s, CHURN_SPAN_MS)) * 1000000ull;
        }
        break;
    case E2EE_EVENT_PEER_IDENTITY_CHANGED:
        s->err_identity++;
        complain(s, "%s: identity of %s changed", cl->uid, ev->identity.user);
        break;
    default:
        break;
    }
}

/* ---- clients ---- */

static int client_create(struct soak *s, struct cl *cl)
{
    struct e2ee_client_config cfg;
    e2ee_client_config_init(&cfg);
    cfg.user_id = cl->uid;
    cfg.relay_url = s->relay.url;
    cfg.store_path = cl->store;
    cfg.event_cb = on_event;
    cfg.user_data = cl;
    int rc = e2ee_client_new(&cl->c, &cfg);
    if (rc != E2EE_OK) {
        s->err_create++;
        complain(s, "%s: cannot create the client: %s", cl->uid, e2ee_errname(rc));
        return -1;
    }
    cl->connected = 0;
    cl->started = 0;
    return 0;
}

static void client_connect(struct soak *s, struct cl *cl)
{
    (void)s;
    if (cl->c && !cl->started) {
        e2ee_client_connect(cl->c);
        cl->started = 1;
    }
}

/* Brings a churned client back now. */
static void come_back(struct soak *s, struct cl *cl)
{
    char gid[ID_BYTES];
    enum back b = cl->back;
    cl->back = B_NONE;
    switch (b) {
    case B_RECREATE:
        if (client_create(s, cl) == 0) {
            s->recreates++;
            client_connect(s, cl);
        }
        break;
    case B_CONNECT:
        cl->started = 0;
        client_connect(s, cl);
        break;
    case B_JOIN:
        snprintf(gid, sizeof gid, "soak-g%" PRIu32, cl->group);
        if (cl->c && e2ee_client_join_group(cl->c, gid, NULL) == E2EE_OK) {
            cl->pending = 1;
            s->joins++;
        } else {
            s->err_send++;
            complain(s, "%s: cannot join %s again", cl->uid, gid);
        }
        break;
    case B_NONE:
        break;
    }
}

/* One churn action on a random settled client. */
static void churn_one(struct soak *s)
{
    struct cl *cl = NULL;
    char gid[ID_BYTES];
    for (int tries = 0; tries < 16 && !cl; tries++) {
        struct cl *c = &s->cl[rnd_below(s, s->n)];
        if (c->c && c->connected && !c->pending && c->back == B_NONE &&
            (c->member || c->group >= s->n_groups))
            cl = c;
    }
    if (!cl)
        return;
    uint64_t back = now_ns() + (CHURN_MIN_MS + rnd_below(s, CHURN_SPAN_MS)) * 1000000ull;
    uint32_t what = rnd_below(s, 10);
    /* 40% disconnect, 30% free and create again, 30% leave the group (core members and
     * clients outside groups: disconnect); --churn-kinds removes some */
    int kind = what >= 7 && cl->pos >= CORE_SIZE && cl->group < s->n_groups ? CHURN_LEAVE
             : what >= 4 && what < 7                                       ? CHURN_RECREATE
                                                                            : CHURN_DISCONNECT;
    if (!(s->churn_kinds & kind))
        return;
    if (kind == CHURN_LEAVE) {
        snprintf(gid, sizeof gid, "soak-g%" PRIu32, cl->group);
        if (e2ee_client_leave_group(cl->c, gid, NULL) == E2EE_OK) {
            cl->pending = 2;
            s->leaves++;
        } else {
            s->err_send++;
        }
    } else if (kind == CHURN_RECREATE) {
        e2ee_client_free(cl->c); /* no events; its store keeps everything */
        cl->c = NULL;
        cl->connected = 0;
        cl->back = B_RECREATE;
        cl->back_ns = back;
    } else {
        cl->closing = 1;
        e2ee_client_disconnect(cl->c);
        s->disconnects++;
        cl->back = B_CONNECT;
        cl->back_ns = back;
    }
}

/* One message from a random client: direct to a friend or, from a core member, to its group. */
static void send_one(struct soak *s)
{
    char text[TEXT_MAX_BYTES], id[E2EE_MSG_ID_SIZE], gid[ID_BYTES];
    struct msg *m = msg_new(s);
    if (!m) {
        s->err_send++;
        return;
    }
    int group = rnd_below(s, 2) && s->n_groups > 0;
    struct cl *from = NULL;
    for (int tries = 0; tries < 16 && !from; tries++) {
        uint32_t i = group ? rnd_below(s, s->n_groups) * GROUP_SIZE + rnd_below(s, CORE_SIZE)
                           : rnd_below(s, s->n);
        if (s->cl[i].c)
            from = &s->cl[i];
    }
    if (!from)
        return;
    m->from = from->idx;
    m->kind = group ? K_GROUP : K_DIRECT;
    m->to = group ? from->group : (from->idx + 1 + rnd_below(s, FRIENDS)) % s->n;
    msg_text(s, s->n_msgs, m, text, sizeof text);
    int rc;
    if (group) {
        snprintf(gid, sizeof gid, "soak-g%" PRIu32, m->to);
        rc = e2ee_client_send_group(from->c, gid, text, id);
    } else {
        rc = e2ee_client_send_direct(from->c, s->cl[m->to].uid, text, id);
    }
    if (rc != E2EE_OK || msg_commit(s, id) != 0) {
        s->err_send++;
        complain(s, "%s: send refused: %s", from->uid, e2ee_errname(rc));
        return;
    }
    if (group)
        s->sent_group++;
    else
        s->sent_direct++;
}

/* One iteration over every client: poll their sockets and wake descriptors, run the ready
 * ones and those whose timer is due. */
static void service(struct soak *s, int max_ms)
{
    uint32_t np = 0;
    int timeout = max_ms;
    uint64_t t0 = now_ns();
    for (uint32_t i = 0; i < s->n; i++) {
        struct cl *cl = &s->cl[i];
        if (!cl->c)
            continue;
        int sock = e2ee_client_socket(cl->c), t = e2ee_client_timeout_ms(cl->c);
        if (t >= 0 && t < timeout)
            timeout = t;
        cl->due_ns = t >= 0 ? t0 + (uint64_t)t * 1000000u : UINT64_MAX;
        s->pfd[np] = (struct pollfd){.fd = e2ee_client_wake_fd(cl->c), .events = POLLIN};
        s->pfd_cl[np++] = i;
        if (sock >= 0) {
            s->pfd[np] = (struct pollfd){.fd = sock, .events = POLLIN};
            if (e2ee_client_want_write(cl->c))
                s->pfd[np].events |= POLLOUT;
            s->pfd_cl[np++] = i;
        }
    }
    if (poll(s->pfd, np, timeout) < 0)
        return;
    uint64_t t1 = now_ns();
    uint32_t last = UINT32_MAX;
    for (uint32_t j = 0; j < np; j++) {
        uint32_t i = s->pfd_cl[j];
        if (i == last)
            continue;
        int ready = s->pfd[j].revents ||
                    (j + 1 < np && s->pfd_cl[j + 1] == i && s->pfd[j + 1].revents);
        if (s->cl[i].c && (ready || t1 >= s->cl[i].due_ns)) {
            e2ee_client_loop(s->cl[i].c, 0);
            last = i;
        }
    }
}

/* ---- the relay process ---- */

static uint64_t rss_kib(pid_t pid)
{
    struct lg_proc_sample ps;
    lg_proc_sample(pid, &ps);
    return ps.ok ? ps.rss_kib : 0;
}

static int relay_alive(struct soak *s)
{
    int status;
    return s->relay.pid > 0 && waitpid(s->relay.pid, &status, WNOHANG) == 0;
}

/* ---- phases ---- */

static uint32_t count_connected(const struct soak *s)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->n; i++)
        n += s->cl[i].connected ? 1 : 0;
    return n;
}

static int setup(struct soak *s)
{
    uint64_t t = now_ns(), deadline = t + SETUP_TIMEOUT_S * 1000000000ull;
    char gid[ID_BYTES];
    for (uint32_t i = 0; i < s->n; i++) {
        struct cl *cl = &s->cl[i];
        cl->s = s;
        cl->idx = i;
        cl->group = i / GROUP_SIZE;
        cl->pos = i % GROUP_SIZE;
        snprintf(cl->uid, sizeof cl->uid, "soak%" PRIu32, i);
        snprintf(cl->store, sizeof cl->store, "%s/%s.e2ee", s->relay.dir, cl->uid);
        if (client_create(s, cl) != 0)
            return -1;
    }
    printf("# %u clients created (%.1f s)\n", s->n, (double)(now_ns() - t) / 1e9);
    fflush(stdout);
    t = now_ns();
    uint32_t started = 0, conn;
    while ((conn = count_connected(s)) < s->n) {
        while (started < s->n && started - conn < CONNECT_PARALLEL)
            client_connect(s, &s->cl[started++]);
        if (now_ns() > deadline || g_stop || errors(s)) {
            snprintf(s->why, sizeof s->why, "set-up: %u of %u clients connected", conn, s->n);
            return -1;
        }
        service(s, POLL_MAX_MS);
    }
    printf("# %u clients logged in (%.1f s)\n", s->n, (double)(now_ns() - t) / 1e9);
    fflush(stdout);
    t = now_ns();
    for (uint32_t g = 0; g < s->n_groups; g++) {
        snprintf(gid, sizeof gid, "soak-g%" PRIu32, g);
        if (e2ee_client_create_group(s->cl[g * GROUP_SIZE].c, gid, NULL) != E2EE_OK) {
            snprintf(s->why, sizeof s->why, "cannot create group %s", gid);
            return -1;
        }
        s->cl[g * GROUP_SIZE].pending = 1;
    }
    for (;;) {
        uint32_t members = 0, want = 0;
        for (uint32_t i = 0; i < s->n; i++) {
            struct cl *cl = &s->cl[i];
            if (cl->group >= s->n_groups)
                continue;
            want++;
            members += cl->member ? 1 : 0;
            if (cl->pos && !cl->member && !cl->pending && s->cl[i - cl->pos].member) {
                snprintf(gid, sizeof gid, "soak-g%" PRIu32, cl->group);
                if (e2ee_client_join_group(cl->c, gid, NULL) != E2EE_OK) {
                    snprintf(s->why, sizeof s->why, "%s cannot join %s", cl->uid, gid);
                    return -1;
                }
                cl->pending = 1;
            }
        }
        if (members == want)
            break;
        if (now_ns() > deadline || g_stop || errors(s)) {
            snprintf(s->why, sizeof s->why, "set-up: %u of %u group members joined", members,
                     want);
            return -1;
        }
        service(s, POLL_MAX_MS);
    }
    printf("# %u groups of %u members (%u core) ready (%.1f s)\n", s->n_groups, GROUP_SIZE,
           CORE_SIZE, (double)(now_ns() - t) / 1e9);
    fflush(stdout);
    return 0;
}

static void take_sample(struct soak *s, uint64_t t0, int print)
{
    struct sample sm = {(double)(now_ns() - t0) / 1e9, rss_kib(s->relay.pid), rss_kib(getpid())};
    if (s->n_samples == s->cap_samples) {
        size_t cap = s->cap_samples ? s->cap_samples * 2 : 256;
        struct sample *p = realloc(s->samples, cap * sizeof *p);
        if (!p)
            return;
        s->samples = p;
        s->cap_samples = cap;
    }
    s->samples[s->n_samples++] = sm;
    if (!print)
        return;
    printf("t=%.0f relay_rss_kib=%" PRIu64 " soak_rss_kib=%" PRIu64 " connected=%u sent=%" PRIu64
           " acked=%" PRIu64 " received=%" PRIu64 " churn_disconnects=%" PRIu64
           " churn_recreates=%" PRIu64 " churn_leaves=%" PRIu64 " key_waits=%" PRIu64
           " errors=%" PRIu64 "\n",
           sm.t, sm.relay_kib, sm.self_kib, count_connected(s), s->sent_direct + s->sent_group,
           s->acked, s->received, s->disconnects, s->recreates, s->leaves, s->key_waits,
           errors(s));
    fflush(stdout);
}

static int run(struct soak *s)
{
    uint64_t t0 = now_ns(), end = t0 + (uint64_t)(s->seconds * 1e9);
    uint64_t send_iv = (uint64_t)(1e9 / s->rate), churn_iv = s->churn > 0 ? (uint64_t)(1e9 / s->churn) : 0;
    uint64_t sample_iv = (uint64_t)(s->sample_s * 1e9);
    uint64_t next_send = t0, next_churn = t0 + churn_iv, next_sample = t0 + sample_iv;
    s->churning = 1;
    take_sample(s, t0, 1);
    uint64_t now;
    while ((now = now_ns()) < end && !g_stop) {
        while (next_send <= now) {
            send_one(s);
            next_send += send_iv;
        }
        while (churn_iv && next_churn <= now) {
            churn_one(s);
            next_churn += churn_iv;
        }
        for (uint32_t i = 0; i < s->n; i++)
            if (s->cl[i].back != B_NONE && s->cl[i].back_ns <= now)
                come_back(s, &s->cl[i]);
        if (now >= next_sample) {
            take_sample(s, t0, 1);
            next_sample += sample_iv;
            if (!relay_alive(s)) {
                snprintf(s->why, sizeof s->why, "the relay died");
                return -1;
            }
        }
        service(s, POLL_MAX_MS);
    }
    s->churning = 0;
    return g_stop ? -1 : 0;
}

/* Everyone back; waits for every ack and every expected delivery. */
static void drain(struct soak *s)
{
    uint64_t t = now_ns(), deadline = t + DRAIN_TIMEOUT_S * 1000000000ull;
    for (uint32_t i = 0; i < s->n; i++) {
        struct cl *cl = &s->cl[i];
        if (cl->back == B_JOIN)
            cl->back = B_NONE; /* membership of churn members is not checked */
        if (cl->back != B_NONE)
            come_back(s, cl);
    }
    for (;;) {
        uint64_t unacked = 0, missing = 0;
        for (size_t i = 0; i < s->n_msgs; i++) {
            const struct msg *m = &s->msgs[i];
            if (m->failed)
                continue;
            unacked += m->sent ? 0 : 1;
            if (m->kind == K_DIRECT) {
                missing += m->got & 1u ? 0 : 1;
            } else {
                uint32_t base = m->to * GROUP_SIZE;
                for (uint32_t p = 0; p < CORE_SIZE; p++)
                    if (base + p != m->from && !(m->got & (1u << p)))
                        missing++;
            }
        }
        if ((!unacked && !missing) || now_ns() > deadline || g_stop || !relay_alive(s)) {
            s->unacked = unacked;
            s->missing = missing;
            break;
        }
        service(s, POLL_MAX_MS);
    }
    printf("# drain: %.1f s, %" PRIu64 " messages without their sent ack, %" PRIu64
           " expected deliveries missing\n",
           (double)(now_ns() - t) / 1e9, s->unacked, s->missing);
    fflush(stdout);
}

static double mean_kib(const struct soak *s, size_t from, size_t to, int relay)
{
    double sum = 0;
    for (size_t i = from; i < to; i++)
        sum += (double)(relay ? s->samples[i].relay_kib : s->samples[i].self_kib);
    return to > from ? sum / (double)(to - from) : 0;
}

/* RSS verdict: 1 flat, 0 grew, -1 too few samples. */
static int rss_flat(const struct soak *s, int relay, double *q2, double *q4)
{
    size_t n = s->n_samples, q = n / 4;
    *q2 = *q4 = 0;
    if (n < SAMPLES_MIN)
        return -1;
    *q2 = mean_kib(s, q, 2 * q, relay);
    *q4 = mean_kib(s, n - q, n, relay);
    return *q4 <= *q2 * (1.0 + s->rss_pct / 100.0) + s->rss_slack_mib * 1024.0;
}

static int parse_double(const char *v, double lo, double hi, double *out)
{
    char *end = NULL;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || !*v || *end || d < lo || d > hi)
        return -1;
    *out = d;
    return 0;
}

/* "drl": d disconnect, r free and create again, l leave the group. */
static int parse_kinds(const char *v, int *out)
{
    int k = 0;
    for (const char *p = v; *p; p++) {
        if (*p == 'd')
            k |= CHURN_DISCONNECT;
        else if (*p == 'r')
            k |= CHURN_RECREATE;
        else if (*p == 'l')
            k |= CHURN_LEAVE;
        else
            return -1;
    }
    *out = k;
    return 0;
}

static int usage(void)
{
    fprintf(stderr,
            "usage: e2ee-soak [--clients N] [--seconds S] [--sample S] [--rate MSGS_PER_S]\n"
            "                 [--churn ACTIONS_PER_S] [--relay-bin PATH] [--rss-pct P]\n"
            "                 [--rss-slack-mib M] [--dir FOLDER] [--churn-kinds drl]\n"
            "Defaults: 500 clients, $SOAK_SECONDS or 1800 s, 40 messages/s, 2 churn actions/s.\n");
    return 2;
}

static int parse_args(struct soak *s, int argc, char **argv, char *relay_buf, size_t cap)
{
    double clients = DEFAULT_CLIENTS;
    const char *env = getenv("SOAK_SECONDS");
    s->seconds = DEFAULT_SECONDS;
    if (env && *env && parse_double(env, 1, 30 * 86400, &s->seconds) != 0)
        return -1;
    s->rate = DEFAULT_RATE;
    s->churn = DEFAULT_CHURN;
    s->rss_pct = DEFAULT_RSS_PCT;
    s->rss_slack_mib = DEFAULT_RSS_SLACK_MIB;
    s->sample_s = 0;
    s->churn_kinds = CHURN_DISCONNECT | CHURN_RECREATE | CHURN_LEAVE;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int r = -1;
        if (!v)
            return -1;
        if (!strcmp(o, "--clients"))
            r = parse_double(v, 2, CLIENTS_MAX, &clients);
        else if (!strcmp(o, "--seconds"))
            r = parse_double(v, 1, 30 * 86400, &s->seconds);
        else if (!strcmp(o, "--sample"))
            r = parse_double(v, 0.1, 3600, &s->sample_s);
        else if (!strcmp(o, "--rate"))
            r = parse_double(v, 0.1, 100000, &s->rate);
        else if (!strcmp(o, "--churn"))
            r = parse_double(v, 0, 10000, &s->churn);
        else if (!strcmp(o, "--rss-pct"))
            r = parse_double(v, 0, 1000, &s->rss_pct);
        else if (!strcmp(o, "--rss-slack-mib"))
            r = parse_double(v, 0, 1 << 20, &s->rss_slack_mib);
        else if (!strcmp(o, "--relay-bin"))
            r = (s->relay_bin = v) ? 0 : -1;
        else if (!strcmp(o, "--dir"))
            r = (s->parent = v) ? 0 : -1;
        else if (!strcmp(o, "--churn-kinds"))
            r = parse_kinds(v, &s->churn_kinds);
        if (r != 0) {
            fprintf(stderr, "e2ee-soak: %s %s\n", v ? "bad value for" : "unknown option", o);
            return -1;
        }
        i++;
    }
    s->n = (uint32_t)clients;
    s->n_groups = s->n / GROUP_SIZE;
    if (s->sample_s <= 0) {
        s->sample_s = s->seconds / SAMPLE_DIV;
        s->sample_s = s->sample_s > SAMPLE_MAX_S ? SAMPLE_MAX_S
                    : s->sample_s < SAMPLE_MIN_S ? SAMPLE_MIN_S : s->sample_s;
    }
    if (!s->relay_bin) {
        /* e2ee-relay beside this program */
        ssize_t n = readlink("/proc/self/exe", relay_buf, cap - 1);
        char *slash = n > 0 ? (relay_buf[n] = '\0', strrchr(relay_buf, '/')) : NULL;
        if (!slash || (size_t)(slash - relay_buf) + sizeof "/e2ee-relay" > cap)
            return -1;
        memcpy(slash, "/e2ee-relay", sizeof "/e2ee-relay");
        s->relay_bin = relay_buf;
    }
    return 0;
}

/* Enough descriptors: each client holds a socket, a wake descriptor, its store files and
 * those of its network context. */
static int raise_fd_limit(uint32_t n)
{
    struct rlimit rl;
    rlim_t need = (rlim_t)n * 8 + 64;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    if (rl.rlim_cur >= need)
        return 0;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ? need : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < need) {
        fprintf(stderr, "e2ee-soak: %u clients need %llu descriptors; the limit is %llu\n", n,
                (unsigned long long)need, (unsigned long long)rl.rlim_cur);
        return -1;
    }
    return 0;
}

/*
 * The folder of the stores: --dir, else /dev/shm when writable (the stores sync every write:
 * on a disk, the fsyncs of 500 clients in one thread, not the library, would bound the
 * run), else $TMPDIR, else /tmp.
 */
static const char *soak_parent(const char *dir)
{
    const char *tmp = getenv("TMPDIR");
    if (dir && *dir)
        return dir;
    if (access("/dev/shm", W_OK | X_OK) == 0)
        return "/dev/shm";
    return tmp && *tmp ? tmp : "/tmp";
}

int main(int argc, char **argv)
{
    static struct soak s;
    char relay_buf[PATH_BYTES];
    int rc = 1, rss_relay = -1, rss_self = -1;
    double r2 = 0, r4 = 0, m2 = 0, m4 = 0;
    if (parse_args(&s, argc, argv, relay_buf, sizeof relay_buf) != 0)
        return usage();
    if (raise_fd_limit(s.n) != 0)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    s.rng = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ 0x5eed;
    s.cl = calloc(s.n, sizeof *s.cl);
    s.pfd = calloc((size_t)s.n * 2, sizeof *s.pfd);
    s.pfd_cl = calloc((size_t)s.n * 2, sizeof *s.pfd_cl);
    if (!s.cl || !s.pfd || !s.pfd_cl) {
        snprintf(s.why, sizeof s.why, "out of memory");
        goto done;
    }
    /* the spawner makes its folder under $TMPDIR */
    const struct lg_relay_spawn spawn = {.bin = s.relay_bin, .cpu = -1, .log_level = "warn"};
    if (setenv("TMPDIR", soak_parent(s.parent), 1) != 0 || lg_relay_spawn(&s.relay, &spawn) != 0) {
        snprintf(s.why, sizeof s.why, "the relay (%s) did not start", s.relay_bin);
        goto done;
    }
    printf("# e2ee-soak: %u clients, %u groups, %.0f s, %.1f messages/s, %.1f churn actions/s,"
           " relay %s (pid %d), sample every %.1f s\n",
           s.n, s.n_groups, s.seconds, s.rate, s.churn, s.relay.url, (int)s.relay.pid, s.sample_s);
    fflush(stdout);
    if (setup(&s) != 0 || run(&s) != 0)
        goto done;
    drain(&s);
    rss_relay = rss_flat(&s, 1, &r2, &r4);
    rss_self = rss_flat(&s, 0, &m2, &m4);
    rc = 0;
done:
    for (uint32_t i = 0; s.cl && i < s.n; i++)
        if (s.cl[i].c)
            e2ee_client_free(s.cl[i].c);
    if (s.relay.pid > 0 && !relay_alive(&s) && !s.why[0])
        snprintf(s.why, sizeof s.why, "the relay exited during the run");
    lg_relay_stop(&s.relay); /* and removes the folder, client stores included */
    if (s.why[0]) {
        fprintf(stderr, "e2ee-soak: FAIL: %s\n", s.why);
        rc = 1;
    }
    if (rc == 0 && errors(&s)) {
        fprintf(stderr, "e2ee-soak: FAIL: %" PRIu64 " errors\n", errors(&s));
        rc = 1;
    }
    const char *rss_verdict = "ok";
    if (rss_relay < 0 || rss_self < 0) {
        rss_verdict = "too-few-samples";
    } else if (!rss_relay || !rss_self) {
        rss_verdict = SOAK_ASAN ? "grew-ignored-under-asan" : "grew";
        fprintf(stderr, "e2ee-soak: %sRSS grew: relay %.0f -> %.0f KiB, soak %.0f -> %.0f KiB "
                "(mean of the second quarter -> the last; limit +%.0f%% +%.0f MiB)\n",
                SOAK_ASAN ? "" : "FAIL: ", r2, r4, m2, m4, s.rss_pct, s.rss_slack_mib);
        if (!SOAK_ASAN)
            rc = 1;
    }
    printf("result=%s clients=%u seconds=%.0f messages=%zu direct=%" PRIu64 " group=%" PRIu64
           " acked=%" PRIu64 " received=%" PRIu64 " expected_received=%" PRIu64
           " extra_received=%" PRIu64 " connects=%" PRIu64 " churn_disconnects=%" PRIu64
           " churn_recreates=%" PRIu64 " churn_leaves=%" PRIu64 " churn_joins=%" PRIu64
           " closed_requests=%" PRIu64 " key_waits=%" PRIu64 " errors=%" PRIu64
           " err_send=%" PRIu64 " err_failed=%" PRIu64 " err_ack=%" PRIu64 " err_event=%" PRIu64
           " err_e2ee=%" PRIu64 " err_disconnect=%" PRIu64 " err_identity=%" PRIu64
           " err_content=%" PRIu64 " err_dup=%" PRIu64 " err_create=%" PRIu64
           " unacked=%" PRIu64 " missing=%" PRIu64 " samples=%zu relay_rss_q2_kib=%.0f"
           " relay_rss_q4_kib=%.0f soak_rss_q2_kib=%.0f soak_rss_q4_kib=%.0f rss=%s\n",
           rc == 0 ? "pass" : "fail", s.n, s.seconds, s.n_msgs, s.sent_direct, s.sent_group,
           s.acked, s.received, s.expected_got, s.extra_got, s.connects, s.disconnects,
           s.recreates, s.leaves, s.joins, s.closed_requests, s.key_waits, errors(&s),
           s.err_send, s.err_failed, s.err_ack, s.err_event, s.err_e2ee, s.err_disconnect,
           s.err_identity, s.err_content, s.err_dup, s.err_create, s.unacked, s.missing,
           s.n_samples, r2, r4, m2, m4, rss_verdict);
    fflush(stdout);
    free(s.cl);
    free(s.pfd);
    free(s.pfd_cl);
    free(s.msgs);
    free(s.slot);
    free(s.samples);
    return rc;
}
