/*
 * e2ee-loadgen: the WebSocket transport. One epoll loop serves every client connection of
 * the process, plus a periodic tick.
 *
 * Why not libwebsockets: the libwebsockets 4.1 client parses received payload one byte at
 * a time (a state machine step per byte); measured here it capped the load generator at
 * about 235,000 deliveries/s of 256-byte messages on a whole core, below the relay figures
 * this tool must measure. This file is a small RFC 6455 client instead: the upgrade
 * handshake (status 101, Upgrade, Connection and the e2ee.v1 subprotocol checked), masked
 * binary frames out (a fresh masking key from the CSPRNG per frame), frames in parsed
 * header by header with payloads handed over in place, fragmented messages reassembled,
 * pings answered, close frames exchanged. It does not check Sec-WebSocket-Accept (that
 * needs SHA-1, which the crypto layer does not offer): the tool talks to e2ee-relay on
 * loopback only, where that check (against non-WebSocket intermediaries) has nothing to
 * catch.
 *
 * Frames queued by lg_ws_send are written at the end of the loop iteration, all of one
 * connection's frames in one write. A connection belongs to the transport: it is freed
 * when it closes (after its CLOSED event) or by lg_ws_free; after lg_ws_close the
 * application hears nothing more of it.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "loadgen.h"

#define WS_SUBPROTOCOL "e2ee.v1"
#define WS_IN_CHUNK 65536          /* read buffer, grown to hold one whole frame */
#define WS_RX_MAX (64u << 20)      /* largest incoming frame or message */
#define WS_HANDSHAKE_MAX 8192      /* largest handshake response */
#define WS_EVENTS 256              /* epoll events per wait */
#define WS_CLOSE_NOSTATUS 1006
#define WS_CLOSE_NORMAL 1000
#define WS_CONTROL_MAX 125
#define WS_KEY_RAW 16
#define WS_HDR_MAX 14              /* 2 + 8 (length) + 4 (mask) */

enum { OP_CONT = 0, OP_TEXT = 1, OP_BINARY = 2, OP_CLOSE = 8, OP_PING = 9, OP_PONG = 10 };
enum cst { CST_CONNECTING = 0, CST_HANDSHAKE, CST_OPEN, CST_DEAD };

struct buf {
    uint8_t *p;
    size_t len, off, cap;
};

struct lg_conn {
    struct lg_ws *w;
    void *user;
    int fd;
    enum cst st;
    int closing;      /* lg_ws_close: no more events */
    int close_code;   /* from the peer's close frame */
    int want_out;     /* EPOLLOUT armed */
    int dirty;        /* in w->dirty: output to write at the end of the iteration */
    struct lg_conn *prev, *next, *dnext;
    struct buf in, out, msg;
    int msg_text, in_msg;
};

struct lg_ws {
    int epfd;
    struct lg_ws_cbs cbs;
    struct sockaddr_storage addr;
    socklen_t alen;
    char host[128], path[128];
    int port;
    uint64_t next_tick;
    struct lg_conn all;   /* list head of live connections */
    struct lg_conn *dirty;
};

/* ---------------------------------------------------------------- buffers */

static int buf_reserve(struct buf *b, size_t extra)
{
    if (b->off && b->off == b->len) {
        b->off = b->len = 0;
    }
    if (b->len + extra <= b->cap)
        return 0;
    if (b->off) { /* compact first */
        memmove(b->p, b->p + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
        if (b->len + extra <= b->cap)
            return 0;
    }
    if (extra > WS_RX_MAX || b->len > WS_RX_MAX)
        return -1;
    size_t ncap = b->cap ? b->cap : WS_IN_CHUNK;
    while (ncap < b->len + extra)
        ncap *= 2;
    uint8_t *np = realloc(b->p, ncap);
    if (!np)
        return -1;
    b->p = np;
    b->cap = ncap;
    return 0;
}

static int buf_put(struct buf *b, const void *data, size_t len)
{
    if (buf_reserve(b, len) != 0)
        return -1;
    memcpy(b->p + b->len, data, len);
    b->len += len;
    return 0;
}

static void buf_free(struct buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* ---------------------------------------------------------------- connection life */

static void arm(struct lg_conn *c, int out)
{
    struct epoll_event ev = {EPOLLIN | (out ? EPOLLOUT : 0), {.ptr = c}};
    if (c->want_out == out)
        return;
    c->want_out = out;
    epoll_ctl(c->w->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void mark_dirty(struct lg_conn *c)
{
    if (c->dirty)
        return;
    c->dirty = 1;
    c->dnext = c->w->dirty;
    c->w->dirty = c;
}

/* Closes the socket; the connection is freed at the end of the iteration (it may still be
 * on the dirty list). notify: report CLOSED to the application. */
static void conn_dead(struct lg_conn *c, int notify)
{
    if (c->st == CST_DEAD)
        return;
    c->st = CST_DEAD;
    if (c->fd >= 0) {
        epoll_ctl(c->w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
    if (notify && !c->closing)
        c->w->cbs.event(c->user, LG_CONN_CLOSED, c->close_code ? c->close_code
                                                               : WS_CLOSE_NOSTATUS);
    mark_dirty(c); /* freed by the flush pass */
}

static void conn_free(struct lg_conn *c)
{
    c->prev->next = c->next;
    c->next->prev = c->prev;
    buf_free(&c->in);
    buf_free(&c->out);
    buf_free(&c->msg);
    free(c);
}

/* Writes what is queued. */
static void flush(struct lg_conn *c)
{
    while (c->out.off < c->out.len) {
        ssize_t n = send(c->fd, c->out.p + c->out.off, c->out.len - c->out.off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out.off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            arm(c, 1);
            return;
        }
        conn_dead(c, 1);
        return;
    }
    c->out.off = c->out.len = 0;
    arm(c, 0);
}

/* Appends one masked frame to the output. */
static int put_frame(struct lg_conn *c, int opcode, const uint8_t *data, size_t len)
{
    uint8_t hdr[WS_HDR_MAX];
    size_t h = 0;
    uint32_t key = e2ee__random_u32();
    hdr[h++] = (uint8_t)(0x80 | opcode);
    if (len < 126) {
        hdr[h++] = (uint8_t)(0x80 | len);
    } else if (len <= 0xffff) {
        hdr[h++] = 0x80 | 126;
        hdr[h++] = (uint8_t)(len >> 8);
        hdr[h++] = (uint8_t)len;
    } else {
        hdr[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            hdr[h++] = (uint8_t)((uint64_t)len >> (8 * i));
    }
    memcpy(hdr + h, &key, 4);
    const uint8_t *mask = hdr + h;
    h += 4;
    if (buf_reserve(&c->out, h + len) != 0)
        return -1;
    memcpy(c->out.p + c->out.len, hdr, h);
    uint8_t *dst = c->out.p + c->out.len + h;
    for (size_t i = 0; i < len; i++)
        dst[i] = data[i] ^ mask[i & 3];
    c->out.len += h + len;
    mark_dirty(c);
    return 0;
}

/* ---------------------------------------------------------------- handshake */

static void base64(const uint8_t *in, size_t n, char *out)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = tab[(v >> 18) & 63];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? tab[v & 63] : '=';
    }
    out[o] = '\0';
}

static int send_handshake(struct lg_conn *c)
{
    uint8_t raw[WS_KEY_RAW];
    char key[32], req[512];
    if (e2ee__random_bytes(raw, sizeof raw) != E2EE_OK)
        return -1;
    base64(raw, sizeof raw, key);
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: %s\r\n\r\n",
                     c->w->path, c->w->host, c->w->port, key, WS_SUBPROTOCOL);
    if (n <= 0 || (size_t)n >= sizeof req || buf_put(&c->out, req, (size_t)n) != 0)
        return -1;
    c->st = CST_HANDSHAKE;
    mark_dirty(c);
    return 0;
}

/* Value of header `name` in the response head (NUL-terminated), or NULL. */
static const char *header(const char *head, const char *name, char *val, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (strncasecmp(line, name, nl) != 0 || line[nl] != ':')
            continue;
        const char *v = line + nl + 1, *end = strstr(v, "\r\n");
        while (*v == ' ' || *v == '\t')
            v++;
        size_t len = end ? (size_t)(end - v) : strlen(v);
        while (len && (v[len - 1] == ' ' || v[len - 1] == '\t'))
            len--;
        if (len >= cap)
            return NULL;
        memcpy(val, v, len);
        val[len] = '\0';
        return val;
    }
    return NULL;
}

/* 1 when the response head accepts the upgrade with our subprotocol. */
static int handshake_ok(const char *head)
{
    char v[256];
    if (strncmp(head, "HTTP/1.1 101", 12) != 0)
        return 0;
    if (!header(head, "upgrade", v, sizeof v) || strcasecmp(v, "websocket") != 0)
        return 0;
    if (!header(head, "connection", v, sizeof v) || !strcasestr(v, "upgrade"))
        return 0;
    if (!header(head, "sec-websocket-accept", v, sizeof v) || !v[0])
        return 0;
    return header(head, "sec-websocket-protocol", v, sizeof v) &&
           strcmp(v, WS_SUBPROTOCOL) == 0;
}

/* 1 when done (bytes after the head stay in c->in), 0 when more is needed, -1 refused. */
static int read_handshake(struct lg_conn *c)
{
    uint8_t *end = c->in.len - c->in.off >= 4
                       ? memmem(c->in.p + c->in.off, c->in.len - c->in.off, "\r\n\r\n", 4)
                       : NULL;
    if (!end)
        return c->in.len - c->in.off > WS_HANDSHAKE_MAX ? -1 : 0;
    size_t hlen = (size_t)(end - (c->in.p + c->in.off)) + 4;
    char *head = malloc(hlen + 1);
    if (!head)
        return -1;
    memcpy(head, c->in.p + c->in.off, hlen);
    head[hlen] = '\0';
    int ok = handshake_ok(head);
    free(head);
    if (!ok)
        return -1;
    c->in.off += hlen;
    c->st = CST_OPEN;
    c->w->cbs.event(c->user, LG_CONN_OPEN, 0);
    return 1;
}

/* ---------------------------------------------------------------- frames in */

static void deliver(struct lg_conn *c, int opcode, int fin, const uint8_t *p, size_t len)
{
    if (opcode != OP_CONT) {
        if (c->in_msg) { /* a new message inside a fragmented one */
            c->w->cbs.frame(c->user, NULL, 0, 1);
            c->msg.len = 0;
        }
        c->msg_text = opcode == OP_TEXT;
        if (fin) {
            c->w->cbs.frame(c->user, p, len, c->msg_text);
            return;
        }
        c->in_msg = 1;
    } else if (!c->in_msg) {
        c->w->cbs.frame(c->user, NULL, 0, 1);
        return;
    }
    if (buf_put(&c->msg, p, len) != 0) {
        conn_dead(c, 1);
        return;
    }
    if (fin) {
        size_t n = c->msg.len;
        c->in_msg = 0;
        c->msg.len = 0;
        c->w->cbs.frame(c->user, c->msg.p, n, c->msg_text);
    }
}

static void control(struct lg_conn *c, int opcode, const uint8_t *p, size_t len)
{
    if (opcode == OP_PING) {
        if (put_frame(c, OP_PONG, p, len) != 0)
            conn_dead(c, 1);
    } else if (opcode == OP_CLOSE) {
        c->close_code = len >= 2 ? (p[0] << 8) | p[1] : WS_CLOSE_NOSTATUS;
        uint8_t code[2] = {(uint8_t)(c->close_code >> 8), (uint8_t)c->close_code};
        if (put_frame(c, OP_CLOSE, code, len >= 2 ? 2 : 0) == 0)
            flush(c);
        conn_dead(c, 1);
    }
}

/* Parses one frame at the head of c->in. 1 parsed, 0 incomplete, -1 protocol error. */
static int parse_frame(struct lg_conn *c)
{
    const uint8_t *p = c->in.p + c->in.off;
    size_t avail = c->in.len - c->in.off, h = 2;
    if (avail < 2)
        return 0;
    int fin = p[0] >> 7, opcode = p[0] & 0x0f;
    uint64_t len = p[1] & 0x7f;
    if ((p[0] & 0x70) || (p[1] & 0x80)) /* no extensions; a server never masks */
        return -1;
    if (len == 126) {
        if (avail < 4)
            return 0;
        len = ((uint64_t)p[2] << 8) | p[3];
        h = 4;
    } else if (len == 127) {
        if (avail < 10)
            return 0;
        len = 0;
        for (int i = 0; i < 8; i++)
            len = (len << 8) | p[2 + i];
        h = 10;
    }
    if (len > WS_RX_MAX || ((opcode & 8) && (len > WS_CONTROL_MAX || !fin)))
        return -1;
    if (avail < h + len) {
        if (buf_reserve(&c->in, h + (size_t)len - avail) != 0)
            return -1;
        return 0;
    }
    c->in.off += h + (size_t)len;
    if (opcode & 8)
        control(c, opcode, p + h, (size_t)len);
    else if (opcode <= OP_BINARY)
        deliver(c, opcode, fin, p + h, (size_t)len);
    else
        return -1;
    return 1;
}

static void on_readable(struct lg_conn *c)
{
    for (;;) {
        if (buf_reserve(&c->in, WS_IN_CHUNK / 2) != 0) {
            conn_dead(c, 1);
            return;
        }
        size_t space = c->in.cap - c->in.len;
        ssize_t n = recv(c->fd, c->in.p + c->in.len, space, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            conn_dead(c, 1);
            return;
        }
        if (n < 0)
            return;
        c->in.len += (size_t)n;
        int r = c->st == CST_HANDSHAKE ? read_handshake(c) : 1;
        while (r == 1 && c->st == CST_OPEN)
            r = parse_frame(c);
        if (r < 0) {
            conn_dead(c, 1);
            return;
        }
        if (c->st != CST_OPEN && c->st != CST_HANDSHAKE)
            return;
        if ((size_t)n < space)
            return; /* drained */
    }
}

static void on_writable(struct lg_conn *c)
{
    if (c->st == CST_CONNECTING) {
        int err = 0;
        socklen_t el = sizeof err;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err ||
            send_handshake(c) != 0) {
            conn_dead(c, 1);
            return;
        }
    }
    flush(c);
}

/* ---------------------------------------------------------------- API */

int lg_ws_new(struct lg_ws **out, const char *host, int port, const char *path,
              const struct lg_ws_cbs *cbs)
{
    struct addrinfo hints, *ai = NULL;
    struct lg_ws *w = NULL;
    char portstr[16];
    int rc = E2EE_ERR_ARG;
    *out = NULL;
    if (!host || !path || port <= 0 || port > 65535 || !cbs || !cbs->frame || !cbs->event ||
        strlen(host) >= sizeof w->host || strlen(path) >= sizeof w->path)
        goto done;
    rc = E2EE_ERR_NOMEM;
    w = calloc(1, sizeof *w);
    if (!w)
        goto done;
    w->epfd = -1;
    w->all.next = w->all.prev = &w->all;
    w->cbs = *cbs;
    w->port = port;
    snprintf(w->host, sizeof w->host, "%s", host);
    snprintf(w->path, sizeof w->path, "%s", path);
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    snprintf(portstr, sizeof portstr, "%d", port);
    rc = E2EE_ERR_CONNECT;
    if (getaddrinfo(host, portstr, &hints, &ai) != 0 || !ai || ai->ai_addrlen > sizeof w->addr)
        goto done;
    memcpy(&w->addr, ai->ai_addr, ai->ai_addrlen);
    w->alen = ai->ai_addrlen;
    rc = E2EE_ERR_IO;
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (w->epfd < 0)
        goto done;
    w->next_tick = lg_now_ns() + LG_TICK_US * 1000ull;
    rc = E2EE_OK;
done:
    if (ai)
        freeaddrinfo(ai);
    if (rc != E2EE_OK) {
        lg_ws_free(w);
        w = NULL;
    }
    *out = w;
    return rc;
}

void lg_ws_free(struct lg_ws *w)
{
    if (!w)
        return;
    while (w->all.next != &w->all) {
        struct lg_conn *c = w->all.next;
        if (c->fd >= 0)
            close(c->fd);
        conn_free(c);
    }
    if (w->epfd >= 0)
        close(w->epfd);
    free(w);
}

struct lg_conn *lg_ws_connect(struct lg_ws *w, void *user)
{
    struct lg_conn *c = calloc(1, sizeof *c);
    int one = 1;
    if (!c)
        return NULL;
    c->w = w;
    c->user = user;
    c->fd = socket(w->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct epoll_event ev = {EPOLLIN | EPOLLOUT, {.ptr = c}};
    c->want_out = 1;
    if (c->fd < 0 || setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0 ||
        (connect(c->fd, (struct sockaddr *)&w->addr, w->alen) != 0 && errno != EINPROGRESS) ||
        epoll_ctl(w->epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
        if (c->fd >= 0)
            close(c->fd);
        free(c);
        return NULL;
    }
    c->next = w->all.next;
    c->prev = &w->all;
    w->all.next->prev = c;
    w->all.next = c;
    return c;
}

int lg_ws_send(struct lg_conn *c, const uint8_t *data, size_t len)
{
    if (!c || !data || !len || len > WS_RX_MAX || c->closing || c->st == CST_DEAD)
        return E2EE_ERR_ARG;
    return put_frame(c, OP_BINARY, data, len) == 0 ? E2EE_OK : E2EE_ERR_NOMEM;
}

void lg_ws_close(struct lg_conn *c)
{
    static const uint8_t code[2] = {WS_CLOSE_NORMAL >> 8, WS_CLOSE_NORMAL & 0xff};
    if (!c || c->closing)
        return;
    c->closing = 1;
    if (c->st == CST_OPEN && put_frame(c, OP_CLOSE, code, sizeof code) == 0)
        flush(c);
    conn_dead(c, 0);
}

/* Writes every dirty connection's output; frees the dead ones. */
static void flush_dirty(struct lg_ws *w)
{
    while (w->dirty) {
        struct lg_conn *c = w->dirty;
        w->dirty = c->dnext;
        c->dirty = 0;
        if (c->st == CST_DEAD)
            conn_free(c);
        else if (c->st != CST_CONNECTING)
            flush(c);
    }
}

int lg_ws_service(struct lg_ws *w)
{
    struct epoll_event evs[WS_EVENTS];
    uint64_t now = lg_now_ns();
    int timeout = now >= w->next_tick ? 0 : (int)((w->next_tick - now + 999999) / 1000000);
    int n = epoll_wait(w->epfd, evs, WS_EVENTS, w->dirty ? 0 : timeout);
    if (n < 0 && errno != EINTR)
        return E2EE_ERR_IO;
    for (int i = 0; i < n; i++) {
        struct lg_conn *c = evs[i].data.ptr;
        if (c->st == CST_DEAD)
            continue;
        if (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            on_writable(c);
        if (c->st != CST_DEAD && (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
            on_readable(c);
    }
    now = lg_now_ns();
    if (now >= w->next_tick) {
        w->next_tick = now + LG_TICK_US * 1000ull;
        if (w->cbs.tick)
            w->cbs.tick(w->cbs.tick_arg);
    }
    flush_dirty(w);
    return E2EE_OK;
}
