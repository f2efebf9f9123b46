#include "ws_server.h"

#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

struct out_msg {
    struct out_msg *next;
    enum lws_write_protocol proto;
    size_t len;
    uint8_t buf[]; /* LWS_PRE headroom, then the payload */
};

struct session {
    struct session *next;
    struct ws_server *srv;
    struct lws *wsi;
    struct out_msg *head, *tail;
    uint8_t *rx;
    size_t rx_len;
    int close_code;
    char close_reason[124];
};

struct msg {
    uint8_t *data;
    size_t len;
};

enum cmd_kind { CMD_SEND, CMD_CLOSE };

struct cmd {
    struct cmd *next;
    enum cmd_kind kind;
    int fragments, text, code;
    char reason[124];
    size_t len;
    uint8_t data[];
};

struct ws_server {
    struct lws_context *ctx;
    struct lws_protocols protocols[2];
    pthread_t thread;
    int port;
    atomic_int stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct cmd *cmds;    /* pending commands (mu) */
    struct msg *msgs;    /* received messages (mu) */
    size_t nmsgs, cap;
    unsigned conns;      /* accepted (mu) */
    int echo;            /* (mu) */
    struct session *sessions; /* service thread only */
};

static void push_out(struct session *ss, const uint8_t *data, size_t len,
                     enum lws_write_protocol proto)
{
    struct out_msg *m = malloc(sizeof *m + LWS_PRE + len);
    if (!m)
        abort();
    m->next = NULL;
    m->proto = proto;
    m->len = len;
    if (len)
        memcpy(m->buf + LWS_PRE, data, len);
    if (ss->tail)
        ss->tail->next = m;
    else
        ss->head = m;
    ss->tail = m;
}

/* Queues `len` bytes as `fragments` frames (the last ones take the remainder). */
static void queue_message(struct session *ss, const struct cmd *c)
{
    size_t per = c->len / (size_t)c->fragments, off = 0;
    for (int i = 0; i < c->fragments; i++) {
        size_t n = i == c->fragments - 1 ? c->len - off : per;
        int proto = i == 0 ? (c->text ? LWS_WRITE_TEXT : LWS_WRITE_BINARY)
                           : LWS_WRITE_CONTINUATION;
        if (i < c->fragments - 1)
            proto |= LWS_WRITE_NO_FIN;
        push_out(ss, c->data + off, n, (enum lws_write_protocol)proto);
        off += n;
    }
}

static void apply_commands(struct ws_server *s)
{
    struct cmd *c, *list;
    pthread_mutex_lock(&s->mu);
    list = s->cmds;
    s->cmds = NULL;
    pthread_mutex_unlock(&s->mu);
    /* the list was built by prepending: reverse it to keep the order */
    struct cmd *rev = NULL;
    while ((c = list) != NULL) {
        list = c->next;
        c->next = rev;
        rev = c;
    }
    while ((c = rev) != NULL) {
        rev = c->next;
        for (struct session *ss = s->sessions; ss; ss = ss->next) {
            if (c->kind == CMD_SEND) {
                queue_message(ss, c);
            } else {
                ss->close_code = c->code;
                snprintf(ss->close_reason, sizeof ss->close_reason, "%s", c->reason);
            }
            lws_callback_on_writable(ss->wsi);
        }
        free(c);
    }
}

static void record(struct ws_server *s, struct session *ss)
{
    pthread_mutex_lock(&s->mu);
    if (s->nmsgs == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->msgs = realloc(s->msgs, s->cap * sizeof *s->msgs);
        if (!s->msgs)
            abort();
    }
    s->msgs[s->nmsgs].data = ss->rx;
    s->msgs[s->nmsgs].len = ss->rx_len;
    s->nmsgs++;
    int echo = s->echo;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (echo) {
        push_out(ss, ss->rx, ss->rx_len, LWS_WRITE_BINARY);
        lws_callback_on_writable(ss->wsi);
    }
    ss->rx = NULL;
    ss->rx_len = 0;
}

static void on_receive(struct session *ss, const uint8_t *in, size_t len)
{
    uint8_t *p = realloc(ss->rx, ss->rx_len + len + 1);
    if (!p)
        abort();
    ss->rx = p;
    if (len)
        memcpy(ss->rx + ss->rx_len, in, len);
    ss->rx_len += len;
    if (lws_is_final_fragment(ss->wsi))
        record(ss->srv, ss);
}

static int on_writeable(struct session *ss)
{
    struct out_msg *m = ss->head;
    if (m) {
        ss->head = m->next;
        if (!ss->head)
            ss->tail = NULL;
        int n = lws_write(ss->wsi, m->buf + LWS_PRE, m->len, m->proto);
        free(m);
        if (n < 0)
            return -1;
        if (ss->head)
            lws_callback_on_writable(ss->wsi);
        return 0;
    }
    if (ss->close_code) {
        lws_close_reason(ss->wsi, (enum lws_close_status)ss->close_code,
                         (unsigned char *)ss->close_reason, strlen(ss->close_reason));
        return -1;
    }
    return 0;
}

static void session_end(struct ws_server *s, struct session *ss)
{
    for (struct session **pp = &s->sessions; *pp; pp = &(*pp)->next) {
        if (*pp == ss) {
            *pp = ss->next;
            break;
        }
    }
    while (ss->head) {
        struct out_msg *m = ss->head;
        ss->head = m->next;
        free(m);
    }
    free(ss->rx);
    memset(ss, 0, sizeof *ss);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    struct ws_server *s = lws_context_user(lws_get_context(wsi));
    struct session *ss = user;

    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED:
        memset(ss, 0, sizeof *ss);
        ss->srv = s;
        ss->wsi = wsi;
        ss->next = s->sessions;
        s->sessions = ss;
        pthread_mutex_lock(&s->mu);
        s->conns++;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        apply_commands(s);
        break;
    case LWS_CALLBACK_RECEIVE:
        on_receive(ss, in, len);
        break;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return on_writeable(ss);
    case LWS_CALLBACK_CLOSED:
        session_end(s, ss);
        break;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (s)
            apply_commands(s);
        break;
    default:
        break;
    }
    return 0;
}

static void *serve(void *arg)
{
    struct ws_server *s = arg;
    while (!atomic_load(&s->stop))
        lws_service(s->ctx, 0);
    lws_context_destroy(s->ctx);
    return NULL;
}

struct ws_server *ws_server_start(int port, const char *cert, const char *key)
{
    struct lws_context_creation_info info;
    struct ws_server *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->echo = 1;
    s->protocols[0].name = "e2ee.v1";
    s->protocols[0].callback = callback;
    s->protocols[0].per_session_data_size = sizeof(struct session);
    s->protocols[0].rx_buffer_size = 4096;

    memset(&info, 0, sizeof info);
    info.port = port;
    info.iface = "127.0.0.1";
    info.protocols = s->protocols;
    info.user = s;
    info.fd_limit_per_thread = 64;
    if (cert && key) {
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = cert;
        info.ssl_private_key_filepath = key;
    }
    s->ctx = lws_create_context(&info);
    if (!s->ctx) {
        free(s);
        return NULL;
    }
    s->port = lws_get_vhost_listen_port(lws_get_vhost_by_name(s->ctx, "default"));
    if (s->port <= 0 || pthread_create(&s->thread, NULL, serve, s) != 0) {
        lws_context_destroy(s->ctx);
        free(s);
        return NULL;
    }
    return s;
}

void ws_server_stop(struct ws_server *s)
{
    if (!s)
        return;
    atomic_store(&s->stop, 1);
    lws_cancel_service(s->ctx);
    pthread_join(s->thread, NULL);
    for (size_t i = 0; i < s->nmsgs; i++)
        free(s->msgs[i].data);
    free(s->msgs);
    while (s->cmds) {
        struct cmd *c = s->cmds;
        s->cmds = c->next;
        free(c);
    }
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

int ws_server_port(const struct ws_server *s)
{
    return s->port;
}

void ws_server_set_echo(struct ws_server *s, int on)
{
    pthread_mutex_lock(&s->mu);
    s->echo = on;
    pthread_mutex_unlock(&s->mu);
}

static void push_cmd(struct ws_server *s, struct cmd *c)
{
    pthread_mutex_lock(&s->mu);
    c->next = s->cmds;
    s->cmds = c;
    pthread_mutex_unlock(&s->mu);
    lws_cancel_service(s->ctx);
}

void ws_server_send(struct ws_server *s, const uint8_t *data, size_t len, int fragments,
                    int text)
{
    struct cmd *c = calloc(1, sizeof *c + len);
    if (!c)
        abort();
    c->kind = CMD_SEND;
    c->fragments = fragments < 1 ? 1 : fragments;
    c->text = text;
    c->len = len;
    if (len)
        memcpy(c->data, data, len);
    push_cmd(s, c);
}

void ws_server_close(struct ws_server *s, int code, const char *reason)
{
    struct cmd *c = calloc(1, sizeof *c);
    if (!c)
        abort();
    c->kind = CMD_CLOSE;
    c->code = code;
    snprintf(c->reason, sizeof c->reason, "%s", reason);
    push_cmd(s, c);
}

size_t ws_server_count(struct ws_server *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->nmsgs;
    pthread_mutex_unlock(&s->mu);
    return n;
}

unsigned ws_server_connections(struct ws_server *s)
{
    pthread_mutex_lock(&s->mu);
    unsigned n = s->conns;
    pthread_mutex_unlock(&s->mu);
    return n;
}

static void deadline(struct timespec *ts, int timeout_ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += timeout_ms / 1000;
    ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

size_t ws_server_wait_count(struct ws_server *s, size_t n, int timeout_ms)
{
    struct timespec ts;
    deadline(&ts, timeout_ms);
    pthread_mutex_lock(&s->mu);
    while (s->nmsgs < n && pthread_cond_timedwait(&s->cv, &s->mu, &ts) == 0)
        ;
    size_t got = s->nmsgs;
    pthread_mutex_unlock(&s->mu);
    return got;
}

unsigned ws_server_wait_connections(struct ws_server *s, unsigned n, int timeout_ms)
{
    struct timespec ts;
    deadline(&ts, timeout_ms);
    pthread_mutex_lock(&s->mu);
    while (s->conns < n && pthread_cond_timedwait(&s->cv, &s->mu, &ts) == 0)
        ;
    unsigned got = s->conns;
    pthread_mutex_unlock(&s->mu);
    return got;
}

void ws_server_message(struct ws_server *s, size_t i, const uint8_t **data, size_t *len)
{
    pthread_mutex_lock(&s->mu);
    *data = i < s->nmsgs ? s->msgs[i].data : NULL;
    *len = i < s->nmsgs ? s->msgs[i].len : 0;
    pthread_mutex_unlock(&s->mu);
}
