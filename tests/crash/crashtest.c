/* e2ee crash tests: tally, test clients, delivery log, random numbers (see crashtest.h). */
#include "crashtest.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
/*
 * The exemption of tests/client/clienttest.c: libwebsockets 4.1.6 with OpenSSL 3 loses the
 * client SSL_CTX (and the CA store loaded into it) that lws_create_vhost() made inside
 * e2ee__net_new() when a process holds more than one lws context, as these tests do (one per
 * client). The client code never calls OpenSSL (only src/crypto does).
 */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libcrypto.so\nleak:libssl.so\n";
}
#endif

/* ---- random numbers: splitmix64 ---- */

static uint64_t g_rng;

uint64_t cr_env_u64(const char *name, uint64_t def)
{
    const char *v = getenv(name);
    char *end = NULL;
    unsigned long long x = v && *v ? strtoull(v, &end, 0) : 0;
    return v && *v && end && *end == '\0' && x > 0 ? (uint64_t)x : def;
}

uint64_t cr_seed(const char *test)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    g_rng = cr_env_u64("E2EE_CRASH_SEED",
                       (uint64_t)ts.tv_sec * 1000003u ^ (uint64_t)ts.tv_nsec ^ (uint64_t)getpid());
    printf("%s: seed %llu (E2EE_CRASH_SEED=%llu repeats the choices)\n", test,
           (unsigned long long)g_rng, (unsigned long long)g_rng);
    fflush(stdout);
    return g_rng;
}

uint64_t cr_rand(void)
{
    uint64_t z = (g_rng += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

uint64_t cr_between(uint64_t lo, uint64_t hi)
{
    return hi <= lo ? lo : lo + cr_rand() % (hi - lo + 1);
}

/* ---- time ---- */

uint64_t cr_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void cr_sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ---- the tally: open addressing, linear probing ---- */

struct slot {
    uint64_t id;
    uint32_t tag; /* kind << 24 | a << 12 | b; 0: empty */
    uint32_t count;
};

static pthread_mutex_t g_tally_mu = PTHREAD_MUTEX_INITIALIZER;
static struct slot *g_slots;
static size_t g_mask;
static size_t g_used;

void cr_tally_init(size_t expected)
{
    size_t cap = 1024;
    while (cap < expected * 2)
        cap *= 2;
    g_slots = calloc(cap, sizeof *g_slots);
    if (!g_slots)
        abort();
    g_mask = cap - 1;
    g_used = 0;
}

void cr_tally_free(void)
{
    free(g_slots);
    g_slots = NULL;
}

static struct slot *find(uint32_t tag, uint64_t id, int create)
{
    uint64_t h = id ^ ((uint64_t)tag * UINT64_C(0x9e3779b97f4a7c15));
    h *= UINT64_C(0xff51afd7ed558ccd);
    size_t i = (size_t)(h >> 20) & g_mask;
    while (g_slots[i].tag && (g_slots[i].tag != tag || g_slots[i].id != id))
        i = (i + 1) & g_mask;
    if (!g_slots[i].tag && create) {
        if (++g_used > g_mask / 4 * 3) {
            fprintf(stderr, "crashtest: tally full\n");
            abort();
        }
        g_slots[i].tag = tag;
        g_slots[i].id = id;
    }
    return g_slots[i].tag ? &g_slots[i] : NULL;
}

static uint32_t tag_of(enum cr_kind kind, uint32_t a, uint32_t b)
{
    return (uint32_t)kind << 24 | (a & 0xfff) << 12 | (b & 0xfff);
}

uint32_t cr_tally_add(enum cr_kind kind, uint32_t a, uint32_t b, uint64_t id)
{
    pthread_mutex_lock(&g_tally_mu);
    struct slot *s = find(tag_of(kind, a, b), id, 1);
    uint32_t n = ++s->count;
    pthread_mutex_unlock(&g_tally_mu);
    return n;
}

uint32_t cr_tally_get(enum cr_kind kind, uint32_t a, uint32_t b, uint64_t id)
{
    pthread_mutex_lock(&g_tally_mu);
    struct slot *s = find(tag_of(kind, a, b), id, 0);
    uint32_t n = s ? s->count : 0;
    pthread_mutex_unlock(&g_tally_mu);
    return n;
}

/* ---- names and ids ---- */

void cr_name(uint32_t idx, char out[CR_NAME_MAX])
{
    snprintf(out, CR_NAME_MAX, "u%u", (unsigned)idx);
}

uint32_t cr_index(const char *name)
{
    char *end = NULL;
    unsigned long v = name && name[0] == 'u' ? strtoul(name + 1, &end, 10) : 0;
    return name && name[0] == 'u' && end && end != name + 1 && *end == '\0' && v < 4096
               ? (uint32_t)v
               : UINT32_MAX;
}

uint64_t cr_msg_id(const char *hex)
{
    char *end = NULL;
    unsigned long long v = hex && strlen(hex) == E2EE_MSG_ID_SIZE - 1 ? strtoull(hex, &end, 16) : 0;
    return end && *end == '\0' ? (uint64_t)v : 0;
}

/* ---- the delivery log ---- */

void cr_log_line(int fd, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof line - 1)
        abort();
    line[n++] = '\n';
    if (write(fd, line, (size_t)n) != n || fsync(fd) != 0)
        abort();
}

void cr_log_event(int fd, const struct e2ee_event *ev, unsigned delay_us)
{
    const char *id = NULL, *from = NULL;
    switch (ev->type) {
    case E2EE_EVENT_DIRECT_TEXT:
    case E2EE_EVENT_DIRECT_BINARY:
        id = ev->direct.msg_id;
        from = ev->direct.from;
        break;
    case E2EE_EVENT_GROUP_TEXT:
    case E2EE_EVENT_GROUP_BINARY:
        id = ev->group_msg.msg_id;
        from = ev->group_msg.from;
        break;
    case E2EE_EVENT_E2EE_ERROR:
        cr_log_line(fd, "x %d %s", ev->e2ee_error.code,
                    ev->e2ee_error.msg_id ? ev->e2ee_error.msg_id : "-");
        break;
    case E2EE_EVENT_ERROR:
        cr_log_line(fd, "e %d", ev->error.code);
        break;
    default:
        break;
    }
    if (id) {
        cr_log_line(fd, "begin %s %s", id, from);
        if (delay_us)
            usleep(delay_us); /* the application's work: the window a kill may hit */
        cr_log_line(fd, "end %s", id);
    }
}

/* ---- test clients ---- */

atomic_uint cr_total_recv, cr_total_sent, cr_total_errors;

static void on_message(struct cr_client *cl, const char *id, const char *from)
{
    uint32_t n = cr_tally_add(CR_RECV, cl->idx, cr_index(from), cr_msg_id(id));
    atomic_fetch_add(&cl->recv, 1);
    atomic_fetch_add(&cr_total_recv, 1);
    if (n > 1) {
        atomic_fetch_add(&cl->dups, 1);
        fprintf(stderr, "%s: message %s from %s delivered %u times\n", cl->name, id, from, n);
    }
}

static void on_ack(struct cr_client *cl, const struct e2ee_event_ack *a)
{
    if (a->state == E2EE_ACK_SENT) {
        cr_tally_add(CR_SENT, cl->idx, 0, cr_msg_id(a->msg_id));
        atomic_fetch_add(&cl->sent, 1);
        atomic_fetch_add(&cr_total_sent, 1);
    } else if (a->state == E2EE_ACK_FAILED) {
        atomic_fetch_add(&cl->failed, 1);
        fprintf(stderr, "%s: message %s FAILED: %s\n", cl->name, a->msg_id,
                e2ee_errname(a->code));
    }
}

static void on_error(struct cr_client *cl, const struct e2ee_event *ev)
{
    atomic_fetch_add(&cl->errors, 1);
    atomic_fetch_add(&cr_total_errors, 1);
    if (ev->type == E2EE_EVENT_E2EE_ERROR)
        fprintf(stderr, "%s: E2EE_ERROR %s (%s) message %s from %s\n", cl->name,
                e2ee_errname(ev->e2ee_error.code), ev->e2ee_error.text,
                ev->e2ee_error.msg_id ? ev->e2ee_error.msg_id : "-",
                ev->e2ee_error.from ? ev->e2ee_error.from : "-");
    else
        fprintf(stderr, "%s: ERROR %s (%s)\n", cl->name, e2ee_errname(ev->error.code),
                ev->error.text);
}

static void on_event(const struct e2ee_event *ev, void *user)
{
    struct cr_client *cl = user;
    if (cl->log_fd >= 0)
        cr_log_event(cl->log_fd, ev, 0);
    switch (ev->type) {
    case E2EE_EVENT_CONNECT:
        atomic_store(&cl->connected, 1);
        break;
    case E2EE_EVENT_DISCONNECT:
        atomic_store(&cl->connected, 0);
        break;
    case E2EE_EVENT_DIRECT_TEXT:
    case E2EE_EVENT_DIRECT_BINARY:
        on_message(cl, ev->direct.msg_id, ev->direct.from);
        break;
    case E2EE_EVENT_GROUP_TEXT:
    case E2EE_EVENT_GROUP_BINARY:
        on_message(cl, ev->group_msg.msg_id, ev->group_msg.from);
        break;
    case E2EE_EVENT_MESSAGE_ACK:
    case E2EE_EVENT_GROUP_MESSAGE_ACK:
        on_ack(cl, &ev->ack);
        break;
    case E2EE_EVENT_ERROR:
    case E2EE_EVENT_E2EE_ERROR:
        on_error(cl, ev);
        break;
    default:
        break;
    }
}

static void on_log(enum e2ee_log_level level, const char *line, void *user)
{
    struct cr_client *cl = user;
    if (getenv("E2EE_CRASH_TEST_LOG") || level == E2EE_LOG_ERROR)
        fprintf(stderr, "[%s %d] %s\n", cl->name, (int)level, line);
}

int cr_wait_connected(struct cr_client *cl, int timeout_ms)
{
    uint64_t until = cr_now_ms() + (uint64_t)timeout_ms;
    while (!atomic_load(&cl->connected) && cr_now_ms() < until)
        cr_sleep_ms(5);
    return atomic_load(&cl->connected) ? 0 : -1;
}

int cr_client_start(struct cr_client *cl)
{
    struct e2ee_client_config cfg;
    int rc;

    e2ee_client_config_init(&cfg);
    cfg.user_id = cl->name;
    cfg.relay_url = cl->url;
    cfg.store_path = cl->store[0] ? cl->store : NULL;
    cfg.reconnect_min_ms = 50;
    cfg.reconnect_max_ms = 400;
    cfg.event_cb = on_event;
    cfg.user_data = cl;
    cfg.log_cb = on_log;
    cfg.log_user_data = cl;
    cfg.log_level = getenv("E2EE_CRASH_TEST_LOG") ? E2EE_LOG_DEBUG : E2EE_LOG_ERROR;
    atomic_store(&cl->connected, 0);
    rc = e2ee_client_new(&cl->c, &cfg);
    if (rc == E2EE_OK)
        rc = e2ee_client_loop_start(cl->c);
    if (rc == E2EE_OK)
        rc = e2ee_client_connect(cl->c);
    if (rc == E2EE_OK && cr_wait_connected(cl, CR_WAIT_MS) != 0)
        rc = E2EE_ERR_TIMEOUT;
    if (rc != E2EE_OK)
        fprintf(stderr, "%s: start failed: %s\n", cl->name, e2ee_errname(rc));
    return rc == E2EE_OK ? 0 : -1;
}

struct cr_client *cr_client_new(uint32_t idx, const char *url, const char *store)
{
    struct cr_client *cl = calloc(1, sizeof *cl);
    if (!cl)
        abort();
    cl->idx = idx;
    cl->log_fd = -1;
    cr_name(idx, cl->name);
    snprintf(cl->url, sizeof cl->url, "%s", url);
    snprintf(cl->store, sizeof cl->store, "%s", store ? store : "");
    if (cr_client_start(cl) != 0) {
        cr_client_free(cl);
        cl = NULL;
    }
    return cl;
}

void cr_client_stop(struct cr_client *cl)
{
    if (cl && cl->c) {
        (void)e2ee_client_loop_stop(cl->c);
        e2ee_client_free(cl->c);
        cl->c = NULL;
    }
}

void cr_client_free(struct cr_client *cl)
{
    cr_client_stop(cl);
    free(cl);
}
