/* e2ee tests: relay spawner and raw-frame WebSocket test client (see relaytest.h). */
#include "relaytest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libwebsockets.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "testutil.h"

#define RX_MAX (64u << 20)
#define START_TIMEOUT_MS 20000
#define STOP_TIMEOUT_MS 20000

/* ---------------------------------------------------------------- clock, misc */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define TIME_SCALE_MAX 100

int64_t rt_scaled_ms(int64_t ms)
{
    static int scale;
    if (!scale) {
        const char *v = getenv("E2EE_TEST_TIME_SCALE");
        int k = v ? atoi(v) : 1;
        scale = k < 1 ? 1 : k > TIME_SCALE_MAX ? TIME_SCALE_MAX : k;
    }
    return ms * scale;
}

static const char *relay_bin(void)
{
    static char path[1024];
    snprintf(path, sizeof path, "%s/e2ee-relay", tu_bin_dir());
    return path;
}

static const char *log_level(void)
{
    const char *v = getenv("E2EE_RELAY_TEST_LOG");
    return v && *v ? v : "warn";
}

/* ---------------------------------------------------------------- the relay process */

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f);
}

static int make_cert(struct rt_relay *r)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
             "-keyout '%s' -out '%s' -days 2 -subj /CN=localhost >/dev/null 2>&1",
             r->key, r->cert);
    return system(cmd) == 0 ? 0 : -1;
}

/* Reads lines from fd until the listening line (and the metrics line when wanted). */
static int read_ports(struct rt_relay *r, int fd)
{
    char buf[2048];
    size_t used = 0;
    int64_t deadline = now_ms() + rt_scaled_ms(START_TIMEOUT_MS);
    r->port = 0;
    r->metrics_port = 0;
    while (now_ms() < deadline && (!r->port || (r->opts.metrics && !r->metrics_port))) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t n = read(fd, buf + used, sizeof buf - 1 - used);
        if (n <= 0)
            return -1;
        used += (size_t)n;
        buf[used] = '\0';
        char *nl;
        while ((nl = strchr(buf, '\n')) != NULL) {
            *nl = '\0';
            const char *p1 = strstr(buf, "listening on ");
            const char *p2 = strstr(buf, "metrics on ");
            const char *colon = strrchr(buf, ':');
            if (p1 && colon) {
                r->port = atoi(colon + 1);
                snprintf(r->url, sizeof r->url, "%s", p1 + strlen("listening on "));
            }
            if (p2) {
                const char *c2 = strrchr(buf, ':');
                r->metrics_port = c2 ? atoi(c2 + 1) : 0;
            }
            size_t rest = used - (size_t)(nl + 1 - buf);
            memmove(buf, nl + 1, rest);
            used = rest;
            buf[used] = '\0';
        }
    }
    return r->port > 0 ? 0 : -1;
}

/*
 * E2EE_RELAY_WRAPPER: a command line (words separated by spaces, at most WRAPPER_WORDS) that
 * runs the relay, e.g. "valgrind --error-exitcode=99"; `make valgrind` uses it where the
 * test program itself runs outside valgrind. Fills argv, returns the number of words.
 */
#define WRAPPER_WORDS 24
#define WRAPPER_BYTES 2048

static int wrapper_words(const char **argv)
{
    static char buf[WRAPPER_BYTES];
    const char *w = getenv("E2EE_RELAY_WRAPPER");
    int n = 0;
    if (!w || !*w || strlen(w) >= sizeof buf)
        return 0;
    memcpy(buf, w, strlen(w) + 1);
    for (char *save = NULL, *t = strtok_r(buf, " ", &save); t && n < WRAPPER_WORDS;
         t = strtok_r(NULL, " ", &save))
        argv[n++] = t;
    return n;
}

static int spawn(struct rt_relay *r)
{
    int pfd[2];
    const char *argv[24 + WRAPPER_WORDS];
    int n = 0;
    if (pipe(pfd) != 0)
        return -1;
    n = wrapper_words(argv);
    argv[n++] = relay_bin();
    argv[n++] = "--config";
    argv[n++] = r->conf;
    argv[n++] = "--listen";
    argv[n++] = "127.0.0.1:0";
    argv[n++] = "--store";
    argv[n++] = r->store;
    argv[n++] = "--log-level";
    argv[n++] = r->opts.log_level ? r->opts.log_level : log_level();
    if (r->opts.metrics) {
        argv[n++] = "--metrics";
        argv[n++] = "127.0.0.1:0";
    }
    if (r->tls) {
        argv[n++] = "--tls-cert";
        argv[n++] = r->cert;
        argv[n++] = "--tls-key";
        argv[n++] = r->key;
    }
    char extra[2][512];
    if (r->opts.extra_arg) {
        const char *sp = strchr(r->opts.extra_arg, ' ');
        snprintf(extra[0], sizeof extra[0], "%.*s",
                 (int)(sp ? (size_t)(sp - r->opts.extra_arg) : strlen(r->opts.extra_arg)),
                 r->opts.extra_arg);
        snprintf(extra[1], sizeof extra[1], "%s", sp ? sp + 1 : "");
        argv[n++] = extra[0];
        argv[n++] = extra[1];
    }
    argv[n] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(pfd[0]);
        close(pfd[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(pfd[1], STDOUT_FILENO);
        close(pfd[0]);
        close(pfd[1]);
        if (r->opts.log_to_file) {
            int lfd = open(r->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
            if (lfd >= 0)
                dup2(lfd, STDERR_FILENO);
        }
        execvp(argv[0], (char *const *)argv); /* PATH: the wrapper */
        _exit(127);
    }
    close(pfd[1]);
    r->pid = pid;
    int rc = read_ports(r, pfd[0]);
    close(pfd[0]);
    if (rc != 0) {
        fprintf(stderr, "relaytest: the relay did not report its port\n");
        rt_relay_kill(r);
        return -1;
    }
    return 0;
}

int rt_relay_start(struct rt_relay *r, const struct rt_relay_opts *o)
{
    static unsigned seq;
    memset(r, 0, sizeof *r);
    if (o)
        r->opts = *o;
    if (r->opts.config)
        snprintf(r->config_text, sizeof r->config_text, "%s", r->opts.config);
    r->opts.config = r->config_text;
    r->tls = r->opts.tls;
    const char *tmp = getenv("TMPDIR");
    snprintf(r->dir, sizeof r->dir, "%s/e2ee-relaytest-%d-%u-XXXXXX", tmp && *tmp ? tmp : "/tmp",
             (int)getpid(), seq++);
    if (!mkdtemp(r->dir)) {
        perror("relaytest: mkdtemp");
        return -1;
    }
    snprintf(r->store, sizeof r->store, "%s/relay.db", r->dir);
    snprintf(r->conf, sizeof r->conf, "%s/relay.conf", r->dir);
    snprintf(r->cert, sizeof r->cert, "%s/cert.pem", r->dir);
    snprintf(r->key, sizeof r->key, "%s/key.pem", r->dir);
    snprintf(r->log, sizeof r->log, "%s/relay.log", r->dir);
    if (write_file(r->conf, r->config_text) != 0)
        return -1;
    if (r->tls && make_cert(r) != 0) {
        fprintf(stderr, "relaytest: openssl could not make a certificate\n");
        return -1;
    }
    return spawn(r);
}

int rt_relay_restart(struct rt_relay *r)
{
    if (r->pid > 0)
        return -1;
    return spawn(r);
}

static int wait_pid(pid_t pid, int timeout_ms, int *status)
{
    int64_t deadline = now_ms() + rt_scaled_ms(timeout_ms);
    while (now_ms() < deadline) {
        pid_t w = waitpid(pid, status, WNOHANG);
        if (w == pid)
            return 0;
        if (w < 0 && errno != EINTR)
            return -1;
        usleep(10000);
    }
    return -1;
}

int rt_relay_stop(struct rt_relay *r)
{
    int status = 0;
    if (r->pid <= 0)
        return -1;
    kill(r->pid, SIGTERM);
    /* keep the clients serviced so they see the close frames */
    int64_t deadline = now_ms() + rt_scaled_ms(STOP_TIMEOUT_MS);
    int done = 0;
    while (!done && now_ms() < deadline) {
        rt_pump(10);
        pid_t w = waitpid(r->pid, &status, WNOHANG);
        done = w == r->pid;
    }
    if (!done) {
        kill(r->pid, SIGKILL);
        wait_pid(r->pid, STOP_TIMEOUT_MS, &status);
        r->pid = 0;
        return -1;
    }
    r->pid = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void rt_relay_kill(struct rt_relay *r)
{
    int status;
    if (r->pid <= 0)
        return;
    kill(r->pid, SIGKILL);
    wait_pid(r->pid, STOP_TIMEOUT_MS, &status);
    r->pid = 0;
}

void rt_relay_cleanup(struct rt_relay *r)
{
    char cmd[600];
    if (r->pid > 0 && rt_relay_stop(r) != 0)
        fprintf(stderr, "relaytest: the relay did not stop cleanly\n");
    if (r->dir[0]) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", r->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "relaytest: could not remove %s\n", r->dir);
    }
    r->dir[0] = '\0';
}

int rt_relay_run_args(const char *const *args, char *err, size_t errcap)
{
    const char *argv[32];
    int n = 0, efd[2], status = 0;
    argv[n++] = relay_bin();
    for (int i = 0; args && args[i] && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    if (pipe(efd) != 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(efd[1], STDERR_FILENO);
        if (devnull >= 0)
            dup2(devnull, STDOUT_FILENO);
        close(efd[0]);
        close(efd[1]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(efd[1]);
    size_t used = 0;
    if (err && errcap)
        err[0] = '\0';
    int64_t deadline = now_ms() + rt_scaled_ms(START_TIMEOUT_MS);
    for (;;) {
        struct pollfd p = {efd[0], POLLIN, 0};
        if (now_ms() > deadline || poll(&p, 1, 100) < 0)
            break;
        if (!p.revents)
            continue;
        char tmp[512];
        ssize_t k = read(efd[0], tmp, sizeof tmp);
        if (k <= 0)
            break;
        if (err && used + 1 < errcap) {
            size_t take = (size_t)k < errcap - 1 - used ? (size_t)k : errcap - 1 - used;
            memcpy(err + used, tmp, take);
            used += take;
            err[used] = '\0';
        }
    }
    close(efd[0]);
    if (pid < 0 || wait_pid(pid, START_TIMEOUT_MS, &status) != 0) {
        if (pid > 0)
            kill(pid, SIGKILL);
        return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ---------------------------------------------------------------- identities */

void rt_ident_new(struct rt_ident *id, const char *uid)
{
    static const char label[] = "e2ee-identity-dh-v1";
    uint8_t msg[sizeof label - 1 + 32];
    memset(id, 0, sizeof *id);
    snprintf(id->uid, sizeof id->uid, "%s", uid);
    if (e2ee__ed25519_keypair(id->sign_pk, id->sign_sk) != E2EE_OK ||
        e2ee__x25519_keypair(id->dh_pk, id->dh_sk) != E2EE_OK)
        abort();
    memcpy(msg, label, sizeof label - 1);
    memcpy(msg + sizeof label - 1, id->dh_pk, 32);
    if (e2ee__ed25519_sign(id->dh_sig, msg, sizeof msg, id->sign_sk) != E2EE_OK)
        abort();
}

size_t rt_login_message(uint8_t *out, size_t cap, const char *relay_id, const uint8_t *nonce,
                        size_t nonce_len, const char *uid, uint32_t device)
{
    static const char label[] = "e2ee-relay-login-v1";
    size_t rl = strlen(relay_id), ul = strlen(uid), n = 0;
    size_t need = sizeof label - 1 + 2 + rl + 2 + nonce_len + 2 + ul + 4;
    if (need > cap)
        return 0;
    memcpy(out, label, sizeof label - 1);
    n = sizeof label - 1;
    out[n++] = (uint8_t)(rl >> 8);
    out[n++] = (uint8_t)rl;
    memcpy(out + n, relay_id, rl);
    n += rl;
    out[n++] = (uint8_t)(nonce_len >> 8);
    out[n++] = (uint8_t)nonce_len;
    memcpy(out + n, nonce, nonce_len);
    n += nonce_len;
    out[n++] = (uint8_t)(ul >> 8);
    out[n++] = (uint8_t)ul;
    memcpy(out + n, uid, ul);
    n += ul;
    for (int i = 3; i >= 0; i--)
        out[n++] = (uint8_t)(device >> (8 * i));
    return n;
}

/* ---------------------------------------------------------------- queues */

struct ptrq {
    void **v;
    size_t head, n, cap;
};

static int ptrq_push(struct ptrq *q, void *p)
{
    if (q->head + q->n == q->cap) {
        if (q->head) {
            memmove(q->v, q->v + q->head, q->n * sizeof *q->v);
            q->head = 0;
        } else {
            size_t ncap = q->cap ? q->cap * 2 : 64;
            void **nv = realloc(q->v, ncap * sizeof *nv);
            if (!nv)
                return -1;
            q->v = nv;
            q->cap = ncap;
        }
    }
    q->v[q->head + q->n++] = p;
    return 0;
}

static void *ptrq_pop(struct ptrq *q)
{
    if (!q->n)
        return NULL;
    void *p = q->v[q->head++];
    q->n--;
    if (!q->n)
        q->head = 0;
    return p;
}

struct outmsg {
    int binary;
    size_t len;
    uint8_t data[];
};

struct rt_client {
    struct lws *wsi;
    int state; /* 0 connecting, 1 open, 2 closed */
    int established; /* the handshake succeeded (it may have closed since) */
    int burst;
    uint8_t *rx;
    size_t rx_len, rx_cap;
    struct ptrq out;
    struct ptrq results, deliveries, events, challenges;
    E2ee__RelayChallenge *last_challenge;
    uint64_t next_req;
    uint64_t delivery_frames;
    int close_code;
    char close_reason[128];
    int decode_errors;
};

static struct lws_context *g_ctx;
static lws_sorted_usec_list_t g_tick;

static void tick_cb(lws_sorted_usec_list_t *sul)
{
    (void)sul;
}

static void take_frame(struct rt_client *c, const uint8_t *buf, size_t len)
{
    E2ee__ServerFrame *f = e2ee__server_frame__unpack(NULL, len, buf);
    if (!f) {
        c->decode_errors++;
        fprintf(stderr, "relaytest: undecodable ServerFrame (%zu bytes)\n", len);
        return;
    }
    switch (f->body_case) {
    case E2EE__SERVER_FRAME__BODY_RESULT:
        ptrq_push(&c->results, f->result);
        f->result = NULL;
        f->body_case = E2EE__SERVER_FRAME__BODY__NOT_SET;
        break;
    case E2EE__SERVER_FRAME__BODY_EVENT:
        ptrq_push(&c->events, f->event);
        f->event = NULL;
        f->body_case = E2EE__SERVER_FRAME__BODY__NOT_SET;
        break;
    case E2EE__SERVER_FRAME__BODY_CHALLENGE:
        ptrq_push(&c->challenges, f->challenge);
        f->challenge = NULL;
        f->body_case = E2EE__SERVER_FRAME__BODY__NOT_SET;
        break;
    case E2EE__SERVER_FRAME__BODY_DELIVERIES:
        c->delivery_frames++;
        for (size_t i = 0; i < f->deliveries->n_items; i++) {
            /* each delivery becomes its own object */
            size_t n = e2ee__relay_delivery__get_packed_size(f->deliveries->items[i]);
            uint8_t *tmp = malloc(n ? n : 1);
            e2ee__relay_delivery__pack(f->deliveries->items[i], tmp);
            E2ee__RelayDelivery *d = e2ee__relay_delivery__unpack(NULL, n, tmp);
            free(tmp);
            if (d)
                ptrq_push(&c->deliveries, d);
        }
        break;
    default:
        c->decode_errors++;
        break;
    }
    /* what was taken is detached (NOT_SET); free the rest */
    e2ee__server_frame__free_unpacked(f, NULL);
}

static void on_receive(struct rt_client *c, struct lws *wsi, const void *in, size_t len)
{
    if (c->rx_len + len > RX_MAX)
        return;
    if (c->rx_len + len > c->rx_cap) {
        size_t ncap = c->rx_cap ? c->rx_cap : 65536;
        while (ncap < c->rx_len + len)
            ncap *= 2;
        uint8_t *nb = realloc(c->rx, ncap);
        if (!nb)
            return;
        c->rx = nb;
        c->rx_cap = ncap;
    }
    memcpy(c->rx + c->rx_len, in, len);
    c->rx_len += len;
    if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
        take_frame(c, c->rx, c->rx_len);
        c->rx_len = 0;
    }
}

static int on_writable(struct rt_client *c, struct lws *wsi)
{
    do {
        struct outmsg *m = ptrq_pop(&c->out);
        if (!m)
            return 0;
        uint8_t *buf = malloc(LWS_PRE + m->len + 1);
        if (!buf)
            return -1;
        memcpy(buf + LWS_PRE, m->data, m->len);
        int n = lws_write(wsi, buf + LWS_PRE, m->len, m->binary ? LWS_WRITE_BINARY
                                                                : LWS_WRITE_TEXT);
        free(buf);
        free(m);
        if (n < 0)
            return -1;
    } while (c->burst && c->out.n && !lws_send_pipe_choked(wsi));
    if (c->out.n)
        lws_callback_on_writable(wsi);
    return 0;
}

static int client_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len)
{
    struct rt_client *c = user;
    (void)user;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if (c) {
            c->state = 1;
            c->established = 1;
            if (c->out.n)
                lws_callback_on_writable(wsi);
        }
        break;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (c)
            on_receive(c, wsi, in, len);
        break;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return c ? on_writable(c, wsi) : 0;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (c && len >= 2) {
            const uint8_t *p = in;
            c->close_code = (p[0] << 8) | p[1];
            size_t rl = len - 2 < sizeof c->close_reason - 1 ? len - 2
                                                             : sizeof c->close_reason - 1;
            memcpy(c->close_reason, p + 2, rl);
            c->close_reason[rl] = '\0';
        }
        break;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (c) {
            c->state = 2;
            c->wsi = NULL;
        }
        break;
    default:
        break;
    }
    return 0;
}

static const struct lws_protocols k_protocols[] = {
    {"e2ee.v1", client_cb, 0, 65536, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static struct lws_context *ctx(void)
{
    struct lws_context_creation_info info;
    if (g_ctx)
        return g_ctx;
    if (e2ee__crypto_init() != E2EE_OK)
        return NULL;
    lws_set_log_level(LLL_ERR, NULL);
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = k_protocols;
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.fd_limit_per_thread = 1024;
    g_ctx = lws_create_context(&info);
    return g_ctx;
}

void rt_pump(int ms)
{
    int64_t deadline = now_ms() + ms;
    if (!ctx())
        return;
    do {
        lws_sul_schedule(g_ctx, 0, &g_tick, tick_cb, 5 * LWS_US_PER_MS);
        lws_service(g_ctx, 0);
    } while (now_ms() < deadline);
}

/* Services until pred(c) is true or the timeout passes. */
static int wait_for(struct rt_client *c, int (*pred)(struct rt_client *), int timeout_ms)
{
    int64_t deadline = now_ms() + rt_scaled_ms(timeout_ms);
    while (!pred(c)) {
        if (now_ms() >= deadline)
            return -1;
        lws_sul_schedule(g_ctx, 0, &g_tick, tick_cb, 5 * LWS_US_PER_MS);
        lws_service(g_ctx, 0);
    }
    return 0;
}

static int is_not_connecting(struct rt_client *c)
{
    return c->state != 0;
}

static int has_challenge(struct rt_client *c)
{
    return c->challenges.n > 0 || c->state == 2;
}

static int is_closed(struct rt_client *c)
{
    return c->state == 2;
}

struct rt_client *rt_connect_ex(const struct rt_relay *r, const char *subprotocol,
                                int wait_challenge)
{
    struct lws_client_connect_info i;
    struct rt_client *c = calloc(1, sizeof *c);
    if (!c || !ctx()) {
        free(c);
        return NULL;
    }
    c->next_req = 1;
    memset(&i, 0, sizeof i);
    i.context = g_ctx;
    i.address = "127.0.0.1";
    i.port = r->port;
    i.path = "/";
    i.host = "localhost";
    i.origin = "localhost";
    i.protocol = subprotocol;
    i.local_protocol_name = "e2ee.v1";
    i.userdata = c;
    i.pwsi = &c->wsi;
    if (r->tls)
        i.ssl_connection = LCCSCF_USE_SSL | LCCSCF_ALLOW_SELFSIGNED |
                           LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK;
    if (!lws_client_connect_via_info(&i)) {
        free(c);
        return NULL;
    }
    if (wait_for(c, is_not_connecting, RT_TIMEOUT_MS) != 0 || !c->established) {
        rt_close(c);
        return NULL;
    }
    if (wait_challenge) {
        if (wait_for(c, has_challenge, RT_TIMEOUT_MS) != 0 || !c->challenges.n) {
            rt_close(c);
            return NULL;
        }
        c->last_challenge = ptrq_pop(&c->challenges);
    }
    return c;
}

struct rt_client *rt_connect(const struct rt_relay *r)
{
    return rt_connect_ex(r, "e2ee.v1", 1);
}

static void free_queue(struct ptrq *q, void (*fr)(void *))
{
    void *p;
    while ((p = ptrq_pop(q)) != NULL)
        fr(p);
    free(q->v);
    memset(q, 0, sizeof *q);
}

static void fr_result(void *p) { e2ee__relay_result__free_unpacked(p, NULL); }
static void fr_delivery(void *p) { e2ee__relay_delivery__free_unpacked(p, NULL); }
static void fr_event(void *p) { e2ee__relay_event__free_unpacked(p, NULL); }
static void fr_challenge(void *p) { e2ee__relay_challenge__free_unpacked(p, NULL); }

void rt_close(struct rt_client *c)
{
    if (!c)
        return;
    if (c->wsi && c->state != 2) {
        lws_set_wsi_user(c->wsi, NULL);
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
    }
    free_queue(&c->out, free);
    free_queue(&c->results, fr_result);
    free_queue(&c->deliveries, fr_delivery);
    free_queue(&c->events, fr_event);
    free_queue(&c->challenges, fr_challenge);
    if (c->last_challenge)
        fr_challenge(c->last_challenge);
    free(c->rx);
    free(c);
}

int rt_is_closed(const struct rt_client *c)
{
    return c->state == 2;
}

int rt_wait_close(struct rt_client *c, int timeout_ms, int *code, char *reason, size_t cap)
{
    if (wait_for(c, is_closed, timeout_ms) != 0)
        return -1;
    if (code)
        *code = c->close_code;
    if (reason && cap)
        snprintf(reason, cap, "%s", c->close_reason);
    return 0;
}

void rt_send_raw(struct rt_client *c, const void *buf, size_t len, int binary)
{
    struct outmsg *m = malloc(sizeof *m + (len ? len : 1));
    if (!m)
        return;
    m->binary = binary;
    m->len = len;
    if (len)
        memcpy(m->data, buf, len);
    ptrq_push(&c->out, m);
    if (c->wsi && c->state == 1)
        lws_callback_on_writable(c->wsi);
}

void rt_set_burst(struct rt_client *c, int on)
{
    c->burst = on;
}

void rt_pause_reading(struct rt_client *c, int paused)
{
    if (c->wsi)
        lws_rx_flow_control(c->wsi, !paused);
}

uint64_t rt_send(struct rt_client *c, E2ee__ClientFrame *f)
{
    if (!f->request_id)
        f->request_id = c->next_req++;
    size_t n = e2ee__client_frame__get_packed_size(f);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return 0;
    e2ee__client_frame__pack(f, buf);
    rt_send_raw(c, buf, n, 1);
    free(buf);
    return f->request_id;
}

struct result_wait {
    struct rt_client *c;
    uint64_t req;
};

static E2ee__RelayResult *find_result(struct rt_client *c, uint64_t req)
{
    for (size_t i = 0; i < c->results.n; i++) {
        E2ee__RelayResult *r = c->results.v[c->results.head + i];
        if (r->request_id == req) {
            memmove(&c->results.v[c->results.head + i], &c->results.v[c->results.head + i + 1],
                    (c->results.n - i - 1) * sizeof(void *));
            c->results.n--;
            return r;
        }
    }
    return NULL;
}

E2ee__RelayResult *rt_wait_result(struct rt_client *c, uint64_t req, int timeout_ms)
{
    int64_t deadline = now_ms() + rt_scaled_ms(timeout_ms);
    for (;;) {
        E2ee__RelayResult *r = find_result(c, req);
        if (r)
            return r;
        if (now_ms() >= deadline || c->state == 2)
            return NULL;
        lws_sul_schedule(g_ctx, 0, &g_tick, tick_cb, 5 * LWS_US_PER_MS);
        lws_service(g_ctx, 0);
    }
}

void rt_free_result(E2ee__RelayResult *r)
{
    if (r)
        fr_result(r);
}

int rt_request(struct rt_client *c, E2ee__ClientFrame *f, E2ee__RelayResult **out)
{
    if (out)
        *out = NULL;
    uint64_t req = rt_send(c, f);
    E2ee__RelayResult *r = rt_wait_result(c, req, RT_TIMEOUT_MS);
    if (!r)
        return 1;
    int code = r->code;
    if (out)
        *out = r;
    else
        rt_free_result(r);
    return code;
}

/* Pops q, servicing until deadline (now_ms() time). */
static void *next_until(struct rt_client *c, struct ptrq *q, int64_t deadline)
{
    for (;;) {
        void *p = ptrq_pop(q);
        if (p || now_ms() >= deadline || c->state == 2)
            return p;
        lws_sul_schedule(g_ctx, 0, &g_tick, tick_cb, 5 * LWS_US_PER_MS);
        lws_service(g_ctx, 0);
    }
}

E2ee__RelayDelivery *rt_next_delivery(struct rt_client *c, int timeout_ms)
{
    return next_until(c, &c->deliveries, now_ms() + rt_scaled_ms(timeout_ms));
}

void rt_free_delivery(E2ee__RelayDelivery *d)
{
    if (d)
        fr_delivery(d);
}

E2ee__RelayEvent *rt_next_event(struct rt_client *c, int timeout_ms)
{
    return next_until(c, &c->events, now_ms() + rt_scaled_ms(timeout_ms));
}

void rt_free_event(E2ee__RelayEvent *e)
{
    if (e)
        fr_event(e);
}

E2ee__RelayChallenge *rt_next_challenge(struct rt_client *c, int timeout_ms)
{
    return next_until(c, &c->challenges, now_ms() + rt_scaled_ms(timeout_ms));
}

void rt_free_challenge(E2ee__RelayChallenge *ch)
{
    if (ch)
        fr_challenge(ch);
}

size_t rt_pending_deliveries(const struct rt_client *c)
{
    return c->deliveries.n;
}

size_t rt_pending_events(const struct rt_client *c)
{
    return c->events.n;
}

uint64_t rt_delivery_frames(const struct rt_client *c)
{
    return c->delivery_frames;
}

const E2ee__RelayChallenge *rt_challenge(const struct rt_client *c)
{
    return c->last_challenge;
}

E2ee__RelayDelivery *rt_next_item(struct rt_client *c, E2ee__RelayDelivery__ItemCase kind,
                                  int timeout_ms)
{
    int64_t deadline = now_ms() + rt_scaled_ms(timeout_ms);
    for (;;) {
        E2ee__RelayDelivery *d = next_until(c, &c->deliveries, deadline);
        if (!d || d->item_case == kind)
            return d;
        rt_free_delivery(d);
    }
}

/* ---------------------------------------------------------------- requests */

E2ee__ClientFrame *rt_login_frame(struct rt_client *c, const struct rt_ident *id,
                                  const char *uid, const char *token, int ack_direct,
                                  int ack_group)
{
    const E2ee__RelayChallenge *ch = c->last_challenge;
    uint8_t msg[512];
    E2ee__ClientFrame *f = calloc(1, sizeof *f);
    E2ee__RelayLogin *l = calloc(1, sizeof *l);
    E2ee__RelayIdentity *ident = calloc(1, sizeof *ident);
    uint8_t *proof = malloc(64);
    if (!f || !l || !ident || !proof || !ch)
        abort();
    e2ee__client_frame__init(f);
    e2ee__relay_login__init(l);
    e2ee__relay_identity__init(ident);
    uid = uid ? uid : id->uid;
    size_t n = rt_login_message(msg, sizeof msg, ch->relay_id, ch->nonce.data, ch->nonce.len,
                                uid, 1);
    if (!n || e2ee__ed25519_sign(proof, msg, n, id->sign_sk) != E2EE_OK)
        abort();
    ident->sign_key.data = (uint8_t *)id->sign_pk;
    ident->sign_key.len = 32;
    ident->dh_key.data = (uint8_t *)id->dh_pk;
    ident->dh_key.len = 32;
    ident->dh_signature.data = (uint8_t *)id->dh_sig;
    ident->dh_signature.len = 64;
    l->user_id = strdup(uid);
    l->device_id = 1;
    l->identity = ident;
    l->proof.data = proof;
    l->proof.len = 64;
    l->registration_token = strdup(token ? token : "");
    l->ack_direct = ack_direct;
    l->ack_group = ack_group;
    f->body_case = E2EE__CLIENT_FRAME__BODY_LOGIN;
    f->login = l;
    return f;
}

void rt_free_frame(E2ee__ClientFrame *f)
{
    if (!f)
        return;
    if (f->body_case == E2EE__CLIENT_FRAME__BODY_LOGIN && f->login) {
        free(f->login->user_id);
        free(f->login->registration_token);
        free(f->login->proof.data);
        free(f->login->identity);
        free(f->login);
    }
    free(f);
}

int rt_login_ex(struct rt_client *c, const struct rt_ident *id, const char *token,
                int ack_direct, int ack_group, E2ee__RelayResult **out)
{
    if (!c->last_challenge) {
        if (out)
            *out = NULL;
        return 1;
    }
    E2ee__ClientFrame *f = rt_login_frame(c, id, NULL, token, ack_direct, ack_group);
    int code = rt_request(c, f, out);
    rt_free_frame(f);
    if (code != 0) {
        /* a refused login is followed by a fresh challenge */
        E2ee__RelayChallenge *ch = rt_next_challenge(c, 2000);
        if (ch) {
            rt_free_challenge(c->last_challenge);
            c->last_challenge = ch;
        }
    }
    return code;
}

int rt_login(struct rt_client *c, const struct rt_ident *id)
{
    return rt_login_ex(c, id, NULL, 0, 0, NULL);
}

struct rt_client *rt_connect_login(const struct rt_relay *r, const struct rt_ident *id)
{
    struct rt_client *c = rt_connect(r);
    if (c && rt_login(c, id) != 0) {
        rt_close(c);
        c = NULL;
    }
    return c;
}

int rt_ping(struct rt_client *c)
{
    E2ee__ClientFrame f = E2EE__CLIENT_FRAME__INIT;
    E2ee__RelayPing p = E2EE__RELAY_PING__INIT;
    f.body_case = E2EE__CLIENT_FRAME__BODY_PING;
    f.ping = &p;
    return rt_request(c, &f, NULL);
}

int rt_send_direct(struct rt_client *c, const char *to, uint64_t cmid, const void *ct,
                   size_t len, uint64_t *seq)
{
    E2ee__ClientFrame f = E2EE__CLIENT_FRAME__INIT;
    E2ee__RelaySendDirect m = E2EE__RELAY_SEND_DIRECT__INIT;
    E2ee__RelayResult *res = NULL;
    m.to = (char *)to;
    m.client_msg_id = cmid;
    m.ciphertext.data = (uint8_t *)ct;
    m.ciphertext.len = len;
    f.body_case = E2EE__CLIENT_FRAME__BODY_SEND_DIRECT;
    f.send_direct = &m;
    int code = rt_request(c, &f, &res);
    if (seq)
        *seq = res && res->body_case == E2EE__RELAY_RESULT__BODY_SENT ? res->sent->seq : 0;
    rt_free_result(res);
    return code;
}

int rt_send_group(struct rt_client *c, const char *gid, uint64_t epoch, uint64_t cmid,
                  const void *ct, size_t len, size_t n, const char *const *users,
                  const char *const *payloads, E2ee__RelayResult **out)
{
    E2ee__ClientFrame f = E2EE__CLIENT_FRAME__INIT;
    E2ee__RelaySendGroup m = E2EE__RELAY_SEND_GROUP__INIT;
    E2ee__RelayPairwisePayload *pw = calloc(n ? n : 1, sizeof *pw);
    E2ee__RelayPairwisePayload **pp = calloc(n ? n : 1, sizeof *pp);
    if (!pw || !pp)
        abort();
    for (size_t i = 0; i < n; i++) {
        e2ee__relay_pairwise_payload__init(&pw[i]);
        pw[i].user_id = (char *)users[i];
        pw[i].payload.data = (uint8_t *)payloads[i];
        pw[i].payload.len = strlen(payloads[i]);
        pp[i] = &pw[i];
    }
    m.group_id = (char *)gid;
    m.epoch = epoch;
    m.client_msg_id = cmid;
    m.ciphertext.data = (uint8_t *)ct;
    m.ciphertext.len = len;
    m.pairwise = pp;
    m.n_pairwise = n;
    f.body_case = E2EE__CLIENT_FRAME__BODY_SEND_GROUP;
    f.send_group = &m;
    int code = rt_request(c, &f, out);
    free(pw);
    free(pp);
    return code;
}

int rt_ack(struct rt_client *c, const char *gid, uint64_t seq)
{
    E2ee__ClientFrame f = E2EE__CLIENT_FRAME__INIT;
    E2ee__RelayAck a = E2EE__RELAY_ACK__INIT;
    E2ee__RelayAckItem it = E2EE__RELAY_ACK_ITEM__INIT;
    E2ee__RelayAckItem *items[1] = {&it};
    it.group_id = (char *)gid;
    it.seq = seq;
    a.items = items;
    a.n_items = 1;
    f.body_case = E2EE__CLIENT_FRAME__BODY_ACK;
    f.ack = &a;
    return rt_request(c, &f, NULL);
}

static int group_request(struct rt_client *c, E2ee__ClientFrame *f, uint64_t *epoch,
                         E2ee__RelayResult **out)
{
    E2ee__RelayResult *res = NULL;
    int code = rt_request(c, f, &res);
    if (epoch)
        *epoch = res && res->body_case == E2EE__RELAY_RESULT__BODY_GROUP ? res->group->epoch : 0;
    if (out)
        *out = res;
    else
        rt_free_result(res);
    return code;
}

#define GROUP_REQ(fn, Type, INIT, field, CASE)                                 \
    int fn(struct rt_client *c, const char *gid, uint64_t *epoch)              \
    {                                                                          \
        E2ee__ClientFrame f = E2EE__CLIENT_FRAME__INIT;                        \
        Type m = INIT;                                                         \
        m.group_id = (char *)gid;                                              \
        f.body_case = CASE;                                                    \
        f.field = &m;                                                          \
        return group_request(c, &f, epoch, NULL);                              \
    }

GROUP_REQ(rt_create_group, E2ee__RelayCreateGroup, E2EE__RELAY_CREATE_GROUP__INIT, create_group,
          E2EE__CLIENT_FRAME__BODY_CREATE_GROUP)
GROUP_REQ(rt_join_group, E2ee__RelayJoinGroup, E2EE__RELAY_JOIN_GROUP__INIT, join_group,
          E2EE__CLIENT_FRAME__BODY_JOIN_GROUP)

int rt_leave_group(struct rt_client *c, const char *gid)
{
    E2ee__ClientFrame f = E2EE__CLIENT_FRAME__INIT;
    E2ee__RelayLeaveGroup m = E2EE__RELAY_LEAVE_GROUP__INIT;
    m.group_id = (char *)gid;
    f.body_case = E2EE__CLIENT_FRAME__BODY_LEAVE_GROUP;
    f.leave_group = &m;
    return rt_request(c, &f, NULL);
}

int rt_delete_group(struct rt_client *c, const char *gid)
{
    E2ee__ClientFrame f = E2EE__CLIENT_FRAME__INIT;
    E2ee__RelayDeleteGroup m = E2EE__RELAY_DELETE_GROUP__INIT;
    m.group_id = (char *)gid;
    f.body_case = E2EE__CLIENT_FRAME__BODY_DELETE_GROUP;
    f.delete_group = &m;
    return rt_request(c, &f, NULL);
}

int rt_remove_member(struct rt_client *c, const char *gid, const char *uid)
{
    E2ee__ClientFrame f = E2EE__CLIENT_FRAME__INIT;
    E2ee__RelayRemoveMember m = E2EE__RELAY_REMOVE_MEMBER__INIT;
    m.group_id = (char *)gid;
    m.user_id = (char *)uid;
    f.body_case = E2EE__CLIENT_FRAME__BODY_REMOVE_MEMBER;
    f.remove_member = &m;
    return rt_request(c, &f, NULL);
}

int rt_list_members(struct rt_client *c, const char *gid, E2ee__RelayResult **out)
{
    E2ee__ClientFrame f = E2EE__CLIENT_FRAME__INIT;
    E2ee__RelayListMembers m = E2EE__RELAY_LIST_MEMBERS__INIT;
    m.group_id = (char *)gid;
    f.body_case = E2EE__CLIENT_FRAME__BODY_LIST_MEMBERS;
    f.list_members = &m;
    return group_request(c, &f, NULL, out);
}

int rt_publish(struct rt_client *c, uint32_t spk_id, uint32_t first, size_t n,
               E2ee__RelayResult **out)
{
    E2ee__ClientFrame f = E2EE__CLIENT_FRAME__INIT;
    E2ee__RelayPublishKeys m = E2EE__RELAY_PUBLISH_KEYS__INIT;
    E2ee__RelaySignedPrekey spk = E2EE__RELAY_SIGNED_PREKEY__INIT;
    uint8_t spk_pub[32], spk_sig[64];
    E2ee__RelayOneTimePrekey *keys = calloc(n ? n : 1, sizeof *keys);
    E2ee__RelayOneTimePrekey **kp = calloc(n ? n : 1, sizeof *kp);
    uint8_t(*pubs)[32] = calloc(n ? n : 1, 32);
    if (!keys || !kp || !pubs)
        abort();
    memset(spk_pub, 0x51, sizeof spk_pub);
    memset(spk_sig, 0x52, sizeof spk_sig);
    spk.id = spk_id;
    spk.public_key.data = spk_pub;
    spk.public_key.len = 32;
    spk.signature.data = spk_sig;
    spk.signature.len = 64;
    for (size_t i = 0; i < n; i++) {
        e2ee__relay_one_time_prekey__init(&keys[i]);
        keys[i].id = first + (uint32_t)i;
        memset(pubs[i], (int)((first + i) & 0xff), 32);
        keys[i].public_key.data = pubs[i];
        keys[i].public_key.len = 32;
        kp[i] = &keys[i];
    }
    m.signed_prekey = spk_id ? &spk : NULL;
    m.one_time_prekeys = kp;
    m.n_one_time_prekeys = n;
    f.body_case = E2EE__CLIENT_FRAME__BODY_PUBLISH_KEYS;
    f.publish_keys = &m;
    int code = rt_request(c, &f, out);
    free(keys);
    free(kp);
    free(pubs);
    return code;
}

int rt_fetch_bundle(struct rt_client *c, const char *uid, E2ee__RelayResult **out)
{
    E2ee__ClientFrame f = E2EE__CLIENT_FRAME__INIT;
    E2ee__RelayFetchBundle m = E2EE__RELAY_FETCH_BUNDLE__INIT;
    m.user_id = (char *)uid;
    f.body_case = E2EE__CLIENT_FRAME__BODY_FETCH_BUNDLE;
    f.fetch_bundle = &m;
    return rt_request(c, &f, out);
}

/* ---------------------------------------------------------------- HTTP */

int rt_http_get(int port, const char *path, char **body)
{
    struct sockaddr_in a;
    char req[512];
    size_t cap = 65536, used = 0;
    char *buf = malloc(cap);
    int status = -1;
    *body = NULL;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || !buf)
        goto done;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
        goto done;
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close"
                                      "\r\n\r\n", path);
    if (write(fd, req, (size_t)n) != n)
        goto done;
    int64_t deadline = now_ms() + rt_scaled_ms(RT_TIMEOUT_MS);
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        if (now_ms() > deadline || poll(&p, 1, 100) < 0)
            goto done;
        if (!p.revents)
            continue;
        if (used + 4096 > cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb)
                goto done;
            buf = nb;
            cap *= 2;
        }
        ssize_t k = read(fd, buf + used, cap - used - 1);
        if (k <= 0)
            break;
        used += (size_t)k;
    }
    buf[used] = '\0';
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
        goto done;
    char *sep = strstr(buf, "\r\n\r\n");
    *body = strdup(sep ? sep + 4 : "");
done:
    if (fd >= 0)
        close(fd);
    free(buf);
    return status;
}

double rt_metric(const char *text, const char *name)
{
    size_t nl = strlen(name);
    const char *p = text;
    while (p && *p) {
        if (strncmp(p, name, nl) == 0 && p[nl] == ' ')
            return strtod(p + nl + 1, NULL);
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return -1;
}

struct rt_client *rt_user(const struct rt_relay *r, struct rt_ident *id, const char *uid)
{
    rt_ident_new(id, uid);
    return rt_connect_login(r, id);
}
