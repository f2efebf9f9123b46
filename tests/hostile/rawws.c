/* e2ee tests: raw WebSocket client for hostile tests (see rawws.h). */
#include "rawws.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "crypto/crypto.h"

#define RW_RX_MAX (64u << 20)   /* largest frame accepted from the relay */
#define RW_HEAD_MAX 16384       /* largest HTTP response head */
#define RW_WAIT_STEP_MS 2
#define RW_WRITE_TIMEOUT_MS 10000
#define RW_RESULTS_MAX 4096

struct rw {
    int fd;
    uint8_t *rx;              /* bytes read, not yet parsed */
    size_t rx_len, rx_cap;
    uint8_t *msg;             /* payload of the frame returned last, or a message built */
    size_t msg_len, msg_cap;
    int ended;                /* EOF or reset seen */
    int answer_pings;
    int close_code;
    char close_reason[128];
    E2ee__RelayChallenge *challenge;
    E2ee__RelayResult *results[RW_RESULTS_MAX];
    size_t n_results;
    uint64_t next_req;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- connection ---- */

struct rw *rw_tcp_rcvbuf(int port, int rcvbuf)
{
    struct sockaddr_in a;
    struct rw *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->next_req = 1;
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd >= 0 && rcvbuf > 0)
        setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (c->fd >= 0)
            close(c->fd);
        free(c);
        return NULL;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    return c;
}

struct rw *rw_tcp(int port)
{
    return rw_tcp_rcvbuf(port, 0);
}

void rw_close(struct rw *c, int rst)
{
    if (!c)
        return;
    if (rst) {
        struct linger l = {1, 0};
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    close(c->fd);
    for (size_t i = 0; i < c->n_results; i++)
        rt_free_result(c->results[i]);
    rt_free_challenge(c->challenge);
    free(c->rx);
    free(c->msg);
    free(c);
}

int rw_fd(const struct rw *c)
{
    return c->fd;
}

int rw_write(struct rw *c, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    int64_t deadline = now_ms() + RW_WRITE_TIMEOUT_MS;
    while (len) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return -1;
        if (now_ms() > deadline)
            return -1;
        struct pollfd pf = {c->fd, POLLOUT, 0};
        poll(&pf, 1, RW_WAIT_STEP_MS);
        rt_pump(0);
    }
    return 0;
}

void rw_shutdown_write(struct rw *c)
{
    shutdown(c->fd, SHUT_WR);
}

/* Reads what is there into rx, waiting at most wait_ms. 1 read, 0 nothing, -1 ended. */
static int fill(struct rw *c, int wait_ms)
{
    if (c->ended)
        return -1;
    struct pollfd pf = {c->fd, POLLIN, 0};
    int pr = poll(&pf, 1, wait_ms);
    if (pr <= 0)
        return 0;
    if (c->rx_cap - c->rx_len < 65536) {
        size_t ncap = c->rx_cap ? c->rx_cap * 2 : 131072;
        uint8_t *nb = realloc(c->rx, ncap);
        if (!nb)
            return -1;
        c->rx = nb;
        c->rx_cap = ncap;
    }
    ssize_t n = recv(c->fd, c->rx + c->rx_len, c->rx_cap - c->rx_len, 0);
    if (n > 0) {
        c->rx_len += (size_t)n;
        return 1;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return 0;
    c->ended = 1;
    return -1;
}

static void consume(struct rw *c, size_t n)
{
    memmove(c->rx, c->rx + n, c->rx_len - n);
    c->rx_len -= n;
}

/* ---- HTTP ---- */

int rw_request(struct rw *c, const char *request)
{
    int64_t deadline = now_ms() + RT_TIMEOUT_MS;
    if (rw_write(c, request, strlen(request)) != 0)
        return -1;
    for (;;) {
        for (size_t i = 3; i < c->rx_len; i++) {
            if (memcmp(c->rx + i - 3, "\r\n\r\n", 4) != 0)
                continue;
            int status = -1;
            char head[64];
            size_t hl = i + 1 < sizeof head ? i + 1 : sizeof head - 1;
            memcpy(head, c->rx, hl);
            head[hl] = '\0';
            if (sscanf(head, "HTTP/1.%*d %d", &status) != 1)
                status = -1;
            consume(c, i + 1);
            return status;
        }
        if (c->rx_len > RW_HEAD_MAX || now_ms() > deadline)
            return -1;
        if (fill(c, RW_WAIT_STEP_MS) < 0) {
            /* a response without a blank line before the close: take its status */
            int status = -1;
            if (c->rx_len > 12 && memcmp(c->rx, "HTTP/1.", 7) == 0)
                status = atoi((const char *)c->rx + 9);
            return status;
        }
        rt_pump(0);
    }
}

int rw_handshake(struct rw *c, const char *subprotocol, const char *extra)
{
    char req[4096], proto[128] = "";
    if (subprotocol)
        snprintf(proto, sizeof proto, "Sec-WebSocket-Protocol: %s\r\n", subprotocol);
    snprintf(req, sizeof req,
             "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
             "%s%s\r\n",
             proto, extra ? extra : "");
    return rw_request(c, req);
}

struct rw *rw_open(int port)
{
    struct rw *c = rw_tcp(port);
    if (c && rw_handshake(c, "e2ee.v1", NULL) != 101) {
        rw_close(c, 0);
        c = NULL;
    }
    return c;
}

/* ---- frames ---- */

size_t rw_build(uint8_t *out, const struct rw_frame_spec *s)
{
    static const uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};
    size_t n = 0;
    uint64_t l = s->declared_len;
    out[n++] = (uint8_t)((s->fin ? 0x80 : 0) | ((s->rsv & 7) << 4) | (s->opcode & 0xf));
    uint8_t mbit = s->masked ? 0x80 : 0;
    if (s->form == RW_LEN_MINIMAL && l < 126) {
        out[n++] = (uint8_t)(mbit | l);
    } else if (s->form != RW_LEN_64 && l <= 0xffff) {
        out[n++] = mbit | 126;
        out[n++] = (uint8_t)(l >> 8);
        out[n++] = (uint8_t)l;
    } else {
        out[n++] = mbit | 127;
        for (int i = 7; i >= 0; i--)
            out[n++] = (uint8_t)(l >> (8 * i));
    }
    if (s->masked) {
        memcpy(out + n, mask, 4);
        n += 4;
    }
    for (size_t i = 0; i < s->len; i++)
        out[n + i] = s->masked ? (uint8_t)(s->payload[i] ^ mask[i & 3]) : s->payload[i];
    return n + s->len;
}

int rw_send_spec(struct rw *c, const struct rw_frame_spec *s)
{
    uint8_t *buf = malloc(s->len + 14);
    if (!buf)
        return -1;
    size_t n = rw_build(buf, s);
    int rc = rw_write(c, buf, n);
    free(buf);
    return rc;
}

int rw_send_frame(struct rw *c, int fin, int opcode, const void *payload, size_t len)
{
    struct rw_frame_spec s = {fin, 0, opcode, 1, RW_LEN_MINIMAL, len, payload, len};
    return rw_send_spec(c, &s);
}

/* Parses one frame from rx when it is all there: 1, 0 (incomplete), -1 (bad). */
static int parse(struct rw *c, struct rw_frame *f)
{
    if (c->rx_len < 2)
        return 0;
    const uint8_t *p = c->rx;
    size_t h = 2;
    uint64_t l = p[1] & 0x7f;
    int masked = (p[1] & 0x80) != 0;
    if (l == 126) {
        if (c->rx_len < 4)
            return 0;
        l = (uint64_t)p[2] << 8 | p[3];
        h = 4;
    } else if (l == 127) {
        if (c->rx_len < 10)
            return 0;
        l = 0;
        for (int i = 0; i < 8; i++)
            l = l << 8 | p[2 + i];
        h = 10;
    }
    if (masked || l > RW_RX_MAX)
        return -1; /* a server never masks */
    if (c->rx_len < h + l)
        return 0;
    if (c->msg_cap < l + 1) {
        uint8_t *nb = realloc(c->msg, l + 1);
        if (!nb)
            return -1;
        c->msg = nb;
        c->msg_cap = l + 1;
    }
    memcpy(c->msg, p + h, l);
    f->fin = (p[0] & 0x80) != 0;
    f->opcode = p[0] & 0xf;
    f->payload = c->msg;
    f->len = l;
    consume(c, h + l);
    if (f->opcode == RW_OP_CLOSE) {
        c->close_code = l >= 2 ? (f->payload[0] << 8 | f->payload[1]) : 1005;
        size_t rl = l > 2 ? l - 2 : 0;
        if (rl >= sizeof c->close_reason)
            rl = sizeof c->close_reason - 1;
        memcpy(c->close_reason, f->payload + 2, rl);
        c->close_reason[rl] = '\0';
    }
    return 1;
}

void rw_answer_pings(struct rw *c, int on)
{
    c->answer_pings = on;
}

int rw_read_frame(struct rw *c, struct rw_frame *f, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        int rc = parse(c, f);
        if (rc == 1 && c->answer_pings && f->opcode == RW_OP_PING) {
            (void)rw_send_frame(c, 1, RW_OP_PONG, f->payload, f->len);
            continue;
        }
        if (rc != 0)
            return rc;
        if (c->ended)
            return -1;
        if (now_ms() >= deadline)
            return 0;
        if (fill(c, RW_WAIT_STEP_MS) < 0 && parse(c, f) == 0)
            return -1;
        rt_pump(0);
    }
}

int rw_close_code(const struct rw *c)
{
    return c->close_code;
}

const char *rw_close_reason(const struct rw *c)
{
    return c->close_reason;
}

int rw_is_closed(const struct rw *c)
{
    return c->ended || c->close_code != 0;
}

int rw_wait_closed(struct rw *c, int timeout_ms, int *code)
{
    int64_t deadline = now_ms() + timeout_ms;
    struct rw_frame f;
    for (;;) {
        if (c->close_code || c->ended) {
            /* after a close frame, the TCP connection must end too */
            while (!c->ended && now_ms() < deadline) {
                if (rw_read_frame(c, &f, 50) < 0)
                    break;
            }
            if (code)
                *code = c->close_code;
            return c->ended ? 0 : -1;
        }
        int left = (int)(deadline - now_ms());
        if (left <= 0)
            return -1;
        if (rw_read_frame(c, &f, left) < 0 && !c->close_code && !c->ended)
            c->ended = 1; /* a frame no server sends: treat as the end */
    }
}

/* ---- protobuf frames ---- */

static void keep_result(struct rw *c, E2ee__RelayResult *r)
{
    if (c->n_results == RW_RESULTS_MAX) {
        rt_free_result(c->results[0]);
        memmove(c->results, c->results + 1, (RW_RESULTS_MAX - 1) * sizeof *c->results);
        c->n_results--;
    }
    c->results[c->n_results++] = r;
}

/* Sorts a frame: results and challenges are kept, the rest returned. */
static E2ee__ServerFrame *take(struct rw *c, E2ee__ServerFrame *sf)
{
    if (sf->body_case == E2EE__SERVER_FRAME__BODY_CHALLENGE) {
        rt_free_challenge(c->challenge);
        c->challenge = sf->challenge;
        sf->challenge = NULL;
        sf->body_case = E2EE__SERVER_FRAME__BODY__NOT_SET;
    } else if (sf->body_case == E2EE__SERVER_FRAME__BODY_RESULT) {
        keep_result(c, sf->result);
        sf->result = NULL;
        sf->body_case = E2EE__SERVER_FRAME__BODY__NOT_SET;
    }
    return sf;
}

E2ee__ServerFrame *rw_next_server_frame(struct rw *c, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    uint8_t *acc = NULL;
    size_t acc_len = 0;
    struct rw_frame f;
    for (;;) {
        int left = (int)(deadline - now_ms());
        if (left < 0 || rw_read_frame(c, &f, left) <= 0)
            break;
        if (f.opcode == RW_OP_PING) {
            (void)rw_send_frame(c, 1, RW_OP_PONG, f.payload, f.len);
            continue;
        }
        if (f.opcode == RW_OP_CLOSE)
            break;
        if (f.opcode != RW_OP_BINARY && f.opcode != RW_OP_CONT)
            continue;
        uint8_t *nb = realloc(acc, acc_len + f.len + 1);
        if (!nb)
            break;
        acc = nb;
        memcpy(acc + acc_len, f.payload, f.len);
        acc_len += f.len;
        if (!f.fin)
            continue;
        E2ee__ServerFrame *sf = e2ee__server_frame__unpack(NULL, acc_len, acc);
        free(acc);
        return sf;
    }
    free(acc);
    return NULL;
}

uint64_t rw_send_client_frame(struct rw *c, E2ee__ClientFrame *f, size_t fragment)
{
    if (!f->request_id)
        f->request_id = c->next_req++;
    size_t n = e2ee__client_frame__get_packed_size(f);
    uint8_t *buf = malloc(n ? n : 1);
    int rc = 0;
    if (!buf)
        return 0;
    e2ee__client_frame__pack(f, buf);
    if (!fragment || fragment >= n) {
        rc = rw_send_frame(c, 1, RW_OP_BINARY, buf, n);
    } else {
        for (size_t off = 0; off < n && rc == 0; off += fragment) {
            size_t k = n - off < fragment ? n - off : fragment;
            rc = rw_send_frame(c, off + k == n, off ? RW_OP_CONT : RW_OP_BINARY, buf + off, k);
        }
    }
    free(buf);
    return rc == 0 ? f->request_id : 0;
}

static E2ee__RelayResult *find_result(struct rw *c, uint64_t req)
{
    for (size_t i = 0; i < c->n_results; i++) {
        if (c->results[i]->request_id != req)
            continue;
        E2ee__RelayResult *r = c->results[i];
        memmove(&c->results[i], &c->results[i + 1], (c->n_results - i - 1) * sizeof r);
        c->n_results--;
        return r;
    }
    return NULL;
}

E2ee__RelayResult *rw_wait_result(struct rw *c, uint64_t req, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        E2ee__RelayResult *r = find_result(c, req);
        if (r)
            return r;
        int left = (int)(deadline - now_ms());
        if (left <= 0)
            return NULL;
        E2ee__ServerFrame *sf = rw_next_server_frame(c, left);
        if (!sf)
            return find_result(c, req);
        e2ee__server_frame__free_unpacked(take(c, sf), NULL);
    }
}

int rw_request_code(struct rw *c, E2ee__ClientFrame *f)
{
    uint64_t req = rw_send_client_frame(c, f, 0);
    E2ee__RelayResult *r = req ? rw_wait_result(c, req, RT_TIMEOUT_MS) : NULL;
    int code = r ? r->code : 1;
    rt_free_result(r);
    return code;
}

const E2ee__RelayChallenge *rw_challenge(struct rw *c, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    while (!c->challenge) {
        int left = (int)(deadline - now_ms());
        E2ee__ServerFrame *sf = left > 0 ? rw_next_server_frame(c, left) : NULL;
        if (!sf)
            break;
        e2ee__server_frame__free_unpacked(take(c, sf), NULL);
    }
    return c->challenge;
}

void rw_forget_challenge(struct rw *c)
{
    rt_free_challenge(c->challenge);
    c->challenge = NULL;
}

E2ee__ClientFrame *rw_login_frame(struct rw *c, const struct rt_ident *id, const char *uid,
                                  const char *relay_id, const uint8_t *nonce)
{
    const E2ee__RelayChallenge *ch = rw_challenge(c, RT_TIMEOUT_MS);
    uint8_t msg[512];
    if (!ch)
        return NULL;
    E2ee__ClientFrame *f = calloc(1, sizeof *f);
    E2ee__RelayLogin *l = calloc(1, sizeof *l);
    E2ee__RelayIdentity *ident = calloc(1, sizeof *ident);
    uint8_t *proof = malloc(64);
    if (!f || !l || !ident || !proof)
        abort();
    e2ee__client_frame__init(f);
    e2ee__relay_login__init(l);
    e2ee__relay_identity__init(ident);
    uid = uid ? uid : id->uid;
    size_t n = rt_login_message(msg, sizeof msg, relay_id ? relay_id : ch->relay_id,
                                nonce ? nonce : ch->nonce.data, 32, uid, 1);
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
    l->registration_token = strdup("");
    f->body_case = E2EE__CLIENT_FRAME__BODY_LOGIN;
    f->login = l;
    return f;
}

int rw_login(struct rw *c, const struct rt_ident *id)
{
    E2ee__ClientFrame *f = rw_login_frame(c, id, NULL, NULL, NULL);
    if (!f)
        return 1;
    int code = rw_request_code(c, f);
    rt_free_frame(f);
    return code;
}

struct rw *rw_open_login(int port, const struct rt_ident *id)
{
    struct rw *c = rw_open(port);
    if (c && rw_login(c, id) != 0) {
        rw_close(c, 0);
        c = NULL;
    }
    return c;
}
