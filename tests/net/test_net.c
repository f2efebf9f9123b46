/*
 * The transport against a real libwebsockets server on a loopback port (tests/net/ws_server.c):
 * frames of several sizes both ways, the frame size limit both ways, fragmented messages,
 * text frames refused, server-side close with a reason, reconnect with backoff (counts and
 * order of attempts, delays from the seeded generator, reset after success), the queue across
 * reconnects, sends from many threads, hold/priority/volatile frames, disconnect, the loop
 * family and the caller's-own-loop integration. No test asserts a wall-clock time; waits have a
 * generous safety limit so that a broken build fails instead of hanging.
 */
#include <arpa/inet.h>
#include <libwebsockets.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/backoff.h"
#include "net_harness.h"
#include "testutil.h"
#include "ws_server.h"

#define SMALL_MAX_FRAME (256u * 1024)

struct fx {
    struct ws_server *srv;
    struct nh_rec rec;
    struct e2ee__net_config cfg;
    char url[64];
    struct e2ee__net *net;
};

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    nh_rec_init(&f->rec);
    f->srv = ws_server_start(0, NULL, NULL);
    if (!f->srv)
        return -1;
    nh_config(&f->cfg, f->url, sizeof f->url, ws_server_port(f->srv), &f->rec);
    f->cfg.max_frame = SMALL_MAX_FRAME;
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    e2ee__net_free(f->net);
    ws_server_stop(f->srv);
    nh_rec_cleanup(&f->rec);
    free(f);
    return 0;
}

/* Creates the transport from f->cfg, connects on a loop thread and waits for CONNECTED. */
static void fx_connect(struct fx *f)
{
    assert_int_equal(e2ee__net_new(&f->net, &f->cfg), E2EE_OK);
    f->rec.net = f->net;
    assert_int_equal(e2ee__net_connect(f->net), E2EE_OK);
    assert_int_equal(e2ee__net_loop_start(f->net), E2EE_OK);
    assert_int_equal(nh_wait(&f->rec, E2EE__NET_EV_CONNECTED, 1), 1);
}

static void send_pattern(struct e2ee__net *net, size_t len, uint32_t tag, unsigned flags)
{
    uint8_t *buf = malloc(len + 1);
    assert_non_null(buf);
    nh_pattern(buf, len, tag);
    assert_int_equal(e2ee__net_send(net, buf, len, flags), E2EE_OK);
    free(buf);
}

static void expect_pattern(const uint8_t *data, size_t len, size_t want_len, uint32_t tag)
{
    uint8_t *want = malloc(want_len + 1);
    assert_non_null(want);
    nh_pattern(want, want_len, tag);
    assert_int_equal(len, want_len);
    assert_memory_equal(data, want, want_len);
    free(want);
}

static void send_text(struct e2ee__net *net, const char *s, unsigned flags)
{
    assert_int_equal(e2ee__net_send(net, (const uint8_t *)s, strlen(s), flags), E2EE_OK);
}

/* Asserts the server's messages from index `from` are exactly the strings of want[]. */
static void expect_server_texts(struct ws_server *srv, size_t from, const char *const *want,
                                size_t n)
{
    assert_int_equal(ws_server_wait_count(srv, from + n, NH_WAIT_MS), from + n);
    for (size_t i = 0; i < n; i++) {
        const uint8_t *d;
        size_t len;
        ws_server_message(srv, from + i, &d, &len);
        if (len != strlen(want[i]) || memcmp(d, want[i], len) != 0)
            fail_msg("server message %zu: got \"%.*s\", want \"%s\"", from + i, (int)len,
                     (const char *)d, want[i]);
    }
}

static const size_t k_sizes[] = {0, 1, 125, 126, 127, 65535, 65536, 100000, SMALL_MAX_FRAME};
#define NSIZES (sizeof k_sizes / sizeof k_sizes[0])

static void test_echo_sizes(void **state)
{
    struct fx *f = *state;
    fx_connect(f);
    for (size_t i = 0; i < NSIZES; i++)
        send_pattern(f->net, k_sizes[i], (uint32_t)i, 0);
    assert_int_equal(nh_wait(&f->rec, E2EE__NET_EV_FRAME, NSIZES), NSIZES);
    assert_int_equal(ws_server_count(f->srv), NSIZES);
    for (size_t i = 0; i < NSIZES; i++) {
        const uint8_t *d;
        size_t len;
        ws_server_message(f->srv, i, &d, &len);
        expect_pattern(d, len, k_sizes[i], (uint32_t)i);
        struct nh_event e = nh_get(&f->rec, nh_find(&f->rec, E2EE__NET_EV_FRAME, i));
        expect_pattern(e.data, e.len, k_sizes[i], (uint32_t)i);
    }
    size_t frames = 9, bytes = 9;
    e2ee__net_queued(f->net, &frames, &bytes);
    assert_int_equal(frames, 0);
    assert_int_equal(bytes, 0);
    assert_int_equal(nh_count(&f->rec, E2EE__NET_EV_DISCONNECTED), 0);
}

static void test_send_over_limit(void **state)
{
    struct fx *f = *state;
    uint8_t *big = calloc(1, SMALL_MAX_FRAME + 1);
    assert_non_null(big);
    fx_connect(f);
    assert_int_equal(e2ee__net_send(f->net, big, SMALL_MAX_FRAME + 1, 0), E2EE_ERR_TOO_LARGE);
    assert_int_equal(e2ee__net_send(f->net, NULL, 3, 0), E2EE_ERR_ARG);
    assert_int_equal(e2ee__net_send(f->net, big, 3, 0x80), E2EE_ERR_ARG);
    size_t frames = 9;
    e2ee__net_queued(f->net, &frames, NULL);
    assert_int_equal(frames, 0);
    /* the connection carries on */
    send_text(f->net, "after", 0);
    expect_server_texts(f->srv, 0, (const char *const[]){"after"}, 1);
    free(big);
}

/* The server sends msg (len bytes in `fragments` frames): the client must close with 1009. */
static void expect_too_large(struct fx *f, size_t len, int fragments, size_t nth)
{
    uint8_t *big = calloc(1, len);
    assert_non_null(big);
    ws_server_send(f->srv, big, len, fragments, 0);
    free(big);
    assert_int_equal(nh_wait(&f->rec, E2EE__NET_EV_DISCONNECTED, nth), nth);
    struct nh_event e = nh_get(&f->rec, nh_find(&f->rec, E2EE__NET_EV_DISCONNECTED, nth - 1));
    assert_int_equal(e.close_code, 1009);
    assert_int_equal(e.local, 1);
    assert_int_equal(e.err, E2EE_ERR_TOO_LARGE);
    assert_string_equal(e.reason, "frame too large");
    /* and comes back */
    assert_int_equal(nh_wait(&f->rec, E2EE__NET_EV_CONNECTED, nth + 1), nth + 1);
}

static void test_receive_over_limit(void **state)
{
    struct fx *f = *state;
    fx_connect(f);
    expect_too_large(f, SMALL_MAX_FRAME + 1, 1, 1);
    /* small fragments that add up to too much */
    expect_too_large(f, SMALL_MAX_FRAME + 1, 64, 2);
    assert_int_equal(nh_count(&f->rec, E2EE__NET_EV_FRAME), 0);
    /* exactly the limit is fine */
    uint8_t *max = malloc(SMALL_MAX_FRAME);
    assert_non_null(max);
    nh_pattern(max, SMALL_MAX_FRAME, 5);
    ws_server_send(f->srv, max, SMALL_MAX_FRAME, 3, 0);
    free(max);
    assert_int_equal(nh_wait(&f->rec, E2EE__NET_EV_FRAME, 1), 1);
    struct nh_event e = nh_get(&f->rec, nh_find(&f->rec, E2EE__NET_EV_FRAME, 0));
    expect_pattern(e.data, e.len, SMALL_MAX_FRAME, 5);
}

static void test_fragmented_frames(void **state)
{
    struct fx *f = *state;
    static const struct {
        size_t len;
        int fragments;
    } k[] = {{100000, 7}, {10, 10}, {5000, 2}, {3, 1}, {70000, 40}};
    fx_connect(f);
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        uint8_t *buf = malloc(k[i].len);
        assert_non_null(buf);
        nh_pattern(buf, k[i].len, (uint32_t)(100 + i));
        ws_server_send(f->srv, buf, k[i].len, k[i].fragments, 0);
        free(buf);
    }
    assert_int_equal(nh_wait(&f->rec, E2EE__NET_EV_FRAME, 5), 5);
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        struct nh_event e = nh_get(&f->rec, nh_find(&f->rec, E2EE__NET_EV_FRAME, i));
        expect_pattern(e.data, e.len, k[i].len, (uint32_t)(100 + i));
    }
    assert_int_equal(nh_count(&f->rec, E2EE__NET_EV_FRAME), 5);
}

static void test_text_frame_refused(void **state)
{
    struct fx *f = *state;
    fx_connect(f);
    ws_server_send(f->srv, (const uint8_t *)"hello", 5, 1, 1);
    assert_int_equal(nh_wait(&f->rec, E2EE__NET_EV_DISCONNECTED, 1), 1);
    struct nh_event e = nh_get(&f->rec, nh_find(&f->rec, E2EE__NET_EV_DISCONNECTED, 0));
    assert_int_equal(e.close_code, 1003);
    assert_int_equal(e.local, 1);
    assert_int_equal(e.err, E2EE_ERR_PROTOCOL);
    assert_int_equal(nh_count(&f->rec, E2EE__NET_EV_FRAME), 0);
}

static void test_server_close_with_reason(void **state)
{
    struct fx *f = *state;
    fx_connect(f);
    ws_server_close(f->srv, 4001, "maintenance window");
    assert_int_equal(nh_wait(&f->rec, E2EE__NET_EV_CONNECTED, 2), 2);
    size_t d = nh_find(&f->rec, E2EE__NET_EV_DISCONNECTED, 0);
    assert_true(d != (size_t)-1);
    struct nh_event e = nh_get(&f->rec, d);
    assert_int_equal(e.close_code, 4001);
    assert_string_equal(e.reason, "maintenance window");
    assert_int_equal(e.local, 0);
    assert_int_equal(e.err, E2EE_ERR_CLOSED);
    /* then: a retry (the first since the connection), its attempt, the connection */
    e = nh_get(&f->rec, d + 1);
    assert_int_equal(e.type, E2EE__NET_EV_RETRY_SCHEDULED);
    assert_int_equal(e.attempt, 1);
    e = nh_get(&f->rec, d + 2);
    assert_int_equal(e.type, E2EE__NET_EV_CONNECTING);
    assert_int_equal(e.attempt, 1);
    assert_int_equal(nh_get(&f->rec, d + 3).type, E2EE__NET_EV_CONNECTED);
}

/* Checks the events from index `from` on: failed retries n = 1, 2, ... each scheduled with
 * the delay the seeded generator `ref` gives, in the order
 * RETRY_SCHEDULED(n) CONNECTING(n) CONNECT_FAILED, until the first CONNECTED (returned). */
static size_t expect_retry_run(struct nh_rec *r, size_t from, struct e2ee__backoff *ref,
                               unsigned *retries)
{
    size_t i = from;
    unsigned n = 0;
    for (;;) {
        struct nh_event e = nh_get(r, i++);
        assert_int_equal(e.type, E2EE__NET_EV_RETRY_SCHEDULED);
        n++;
        assert_int_equal(e.attempt, n);
        assert_int_equal(e.delay_ms, e2ee__backoff_next(ref, n));
        assert_true(e.delay_ms >= e2ee__backoff_base(ref, n) / 2);
        assert_true(e.delay_ms <= e2ee__backoff_base(ref, n));
        e = nh_get(r, i++);
        assert_int_equal(e.type, E2EE__NET_EV_CONNECTING);
        assert_int_equal(e.attempt, n);
        e = nh_get(r, i++);
        if (e.type == E2EE__NET_EV_CONNECTED)
            break;
        assert_int_equal(e.type, E2EE__NET_EV_CONNECT_FAILED);
        assert_int_equal(e.err, E2EE_ERR_CONNECT);
    }
    *retries = n;
    return i - 1;
}

static void test_reconnect_backoff(void **state)
{
    struct fx *f = *state;
    struct e2ee__backoff ref;
    unsigned retries = 0;
    int port = ws_server_port(f->srv);

    e2ee__backoff_init(&ref, NH_RETRY_MIN_MS, NH_RETRY_MAX_MS, NH_SEED);
    fx_connect(f);
    assert_int_equal(nh_get(&f->rec, 0).type, E2EE__NET_EV_CONNECTING);
    assert_int_equal(nh_get(&f->rec, 0).attempt, 0);
    assert_int_equal(nh_get(&f->rec, 1).type, E2EE__NET_EV_CONNECTED);

    /* the server goes away: the client keeps trying, further apart each time */
    ws_server_stop(f->srv);
    f->srv = NULL;
    assert_int_equal(nh_wait(&f->rec, E2EE__NET_EV_CONNECT_FAILED, 6), 6);
    /* and comes back on the same port */
    f->srv = ws_server_start(port, NULL, NULL);
    assert_non_null(f->srv);
    assert_int_equal(nh_wait(&f->rec, E2EE__NET_EV_CONNECTED, 2), 2);
    assert_int_equal(nh_get(&f->rec, 2).type, E2EE__NET_EV_DISCONNECTED);
    size_t c = expect_retry_run(&f->rec, 3, &ref, &retries);
    assert_true(retries >= 7);
    assert_int_equal(c, nh_find(&f->rec, E2EE__NET_EV_CONNECTED, 1));

    /* after a success the backoff starts over at retry 1 (the generator carries on) */
    ws_server_stop(f->srv);
    f->srv = NULL;
    assert_int_equal(nh_wait(&f->rec, E2EE__NET_EV_DISCONNECTED, 2), 2);
    assert_int_equal(nh_wait(&f->rec, E2EE__NET_EV_RETRY_SCHEDULED, retries + 2), retries + 2);
    size_t d = nh_find(&f->rec, E2EE__NET_EV_DISCONNECTED, 1);
    assert_int_equal(d, c + 1);
    struct nh_event e = nh_get(&f->rec, d + 1);
    assert_int_equal(e.type, E2EE__NET_EV_RETRY_SCHEDULED);
    assert_int_equal(e.attempt, 1);
    assert_int_equal(e.delay_ms, e2ee__backoff_next(&ref, 1));
    e = nh_get(&f->rec, nh_find(&f->rec, E2EE__NET_EV_RETRY_SCHEDULED, retries + 1));
    assert_int_equal(e.attempt, 2);
    assert_int_equal(e.delay_ms, e2ee__backoff_next(&ref, 2));
}

/* ---- a peer that breaks the WebSocket handshake ---- */

/* A loopback TCP server that reads each request and answers it with `reply` (may be empty),
 * then closes; with reply NULL it answers nothing and keeps the connection open. */
struct bad_peer {
    int fd, port;
    const char *reply;
    unsigned accepted;
    volatile int stop;
    pthread_t th;
};

static void *bad_peer_main(void *arg)
{
    struct bad_peer *b = arg;
    while (!b->stop) {
        struct pollfd p = {b->fd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int c = accept(b->fd, NULL, NULL);
        if (c < 0)
            continue;
        if (!b->reply) { /* silent: holds the connection until it is closed */
            char buf[2048];
            while (!b->stop && read(c, buf, sizeof buf) > 0)
                ;
            close(c);
            b->accepted++;
            continue;
        }
        char req[2048];
        struct pollfd pc = {c, POLLIN, 0};
        if (poll(&pc, 1, 2000) > 0 && read(c, req, sizeof req) > 0 && b->reply[0])
            (void)!write(c, b->reply, strlen(b->reply));
        close(c);
        b->accepted++;
    }
    return NULL;
}

static void bad_peer_start(struct bad_peer *b, const char *reply)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    memset(b, 0, sizeof *b);
    b->reply = reply;
    b->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(b->fd >= 0);
    assert_int_equal(bind(b->fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(b->fd, 16), 0);
    assert_int_equal(getsockname(b->fd, (struct sockaddr *)&a, &len), 0);
    b->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&b->th, NULL, bad_peer_main, b), 0);
}

static void bad_peer_stop(struct bad_peer *b)
{
    b->stop = 1;
    pthread_join(b->th, NULL);
    close(b->fd);
}

/* Whatever way the handshake breaks (no answer at all, closed at once, a plain HTTP answer, a
 * refusal, half a response, a wrong accept key), the attempt is reported failed and the next one follows: a connection that
 * libwebsockets closes as an HTTP client (LWS_CALLBACK_CLOSED_CLIENT_HTTP) must not leave the
 * transport waiting in "connecting" for ever. */
static void test_handshake_broken(void **state)
{
    static const char *const replies[] = {
        NULL,
        "",
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n",
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n",
    };
    struct fx *f = *state;
    for (size_t i = 0; i < sizeof replies / sizeof replies[0]; i++) {
        struct bad_peer b;
        struct nh_rec rec;
        struct e2ee__net *net = NULL;
        bad_peer_start(&b, replies[i]);
        nh_rec_init(&rec);
        nh_config(&f->cfg, f->url, sizeof f->url, b.port, &rec);
        f->cfg.connect_timeout_s = 1;
        assert_int_equal(e2ee__net_new(&net, &f->cfg), E2EE_OK);
        rec.net = net;
        assert_int_equal(e2ee__net_connect(net), E2EE_OK);
        assert_int_equal(e2ee__net_loop_start(net), E2EE_OK);
        if (nh_wait(&rec, E2EE__NET_EV_CONNECT_FAILED, 3) < 3)
            fail_msg("reply %zu: %zu attempts failed, %u connections, want 3 failures", i,
                     nh_count(&rec, E2EE__NET_EV_CONNECT_FAILED), b.accepted);
        assert_int_equal(nh_count(&rec, E2EE__NET_EV_CONNECTED), 0);
        e2ee__net_free(net);
        nh_rec_cleanup(&rec);
        bad_peer_stop(&b);
    }
}

static void test_queue_survives_reconnect(void **state)
{
    struct fx *f = *state;
    enum { N = 200 };
    char buf[32];
    int port = ws_server_port(f->srv);

    fx_connect(f);
    send_text(f->net, "before", 0);
    assert_int_equal(nh_wait(&f->rec, E2EE__NET_EV_FRAME, 1), 1);
    ws_server_stop(f->srv);
    f->srv = NULL;
    assert_int_equal(nh_wait(&f->rec, E2EE__NET_EV_DISCONNECTED, 1), 1);

    for (int i = 0; i < N; i++) {
        snprintf(buf, sizeof buf, "q-%03d", i);
        send_text(f->net, buf, 0);
    }
    size_t frames = 0;
    e2ee__net_queued(f->net, &frames, NULL);
    assert_int_equal(frames, N);
    /* at least one failed attempt while they wait */
    assert_int_equal(nh_wait(&f->rec, E2EE__NET_EV_CONNECT_FAILED, 1), 1);

    f->srv = ws_server_start(port, NULL, NULL);
    assert_non_null(f->srv);
    assert_int_equal(ws_server_wait_count(f->srv, N, NH_WAIT_MS), N);
    /* in order, each once */
    for (int i = 0; i < N; i++) {
        const uint8_t *d;
        size_t len;
        snprintf(buf, sizeof buf, "q-%03d", i);
        ws_server_message(f->srv, (size_t)i, &d, &len);
        assert_int_equal(len, strlen(buf));
        assert_memory_equal(d, buf, len);
    }
    assert_int_equal(nh_wait(&f->rec, E2EE__NET_EV_FRAME, N + 1), N + 1);
    send_text(f->net, "last", 0);
    assert_int_equal(ws_server_wait_count(f->srv, N + 1, NH_WAIT_MS), N + 1);
    assert_int_equal(ws_server_count(f->srv), N + 1);
    e2ee__net_queued(f->net, &frames, NULL);
    assert_int_equal(frames, 0);
}

enum { SENDERS = 4, PER_SENDER = 250 };

struct sender {
    struct e2ee__net *net;
    int id;
};

static void *send_many(void *arg)
{
    struct sender *s = arg;
    char buf[32];
    for (int i = 0; i < PER_SENDER; i++) {
        snprintf(buf, sizeof buf, "%d:%04d", s->id, i);
        if (e2ee__net_send(s->net, (const uint8_t *)buf, strlen(buf), 0) != E2EE_OK)
            abort();
    }
    return NULL;
}

static void test_send_from_threads(void **state)
{
    struct fx *f = *state;
    pthread_t t[SENDERS];
    struct sender s[SENDERS];
    int next[SENDERS] = {0};

    fx_connect(f);
    ws_server_set_echo(f->srv, 0);
    for (int i = 0; i < SENDERS; i++) {
        s[i].net = f->net;
        s[i].id = i;
        assert_int_equal(pthread_create(&t[i], NULL, send_many, &s[i]), 0);
    }
    for (int i = 0; i < SENDERS; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(ws_server_wait_count(f->srv, SENDERS * PER_SENDER, NH_WAIT_MS),
                     SENDERS * PER_SENDER);
    /* every frame once, each sender's frames in its order */
    for (size_t i = 0; i < SENDERS * PER_SENDER; i++) {
        const uint8_t *d;
        size_t len;
        int id = -1, seq = -1;
        char buf[32];
        ws_server_message(f->srv, i, &d, &len);
        assert_true(len < sizeof buf);
        memcpy(buf, d, len);
        buf[len] = '\0';
        assert_int_equal(sscanf(buf, "%d:%d", &id, &seq), 2);
        assert_true(id >= 0 && id < SENDERS);
        assert_int_equal(seq, next[id]);
        next[id]++;
    }
    for (int i = 0; i < SENDERS; i++)
        assert_int_equal(next[i], PER_SENDER);
}

static void test_hold_priority_volatile(void **state)
{
    struct fx *f = *state;
    int port = ws_server_port(f->srv);

    f->cfg.hold_until_release = 1;
    assert_int_equal(e2ee__net_new(&f->net, &f->cfg), E2EE_OK);
    ws_server_set_echo(f->srv, 0);
    /* volatile frames need a connection */
    assert_int_equal(e2ee__net_send(f->net, (const uint8_t *)"v0", 2, E2EE__NET_SEND_VOLATILE),
                     E2EE_ERR_NOT_CONNECTED);
    send_text(f->net, "n1", 0);
    send_text(f->net, "n2", 0);
    assert_int_equal(e2ee__net_connect(f->net), E2EE_OK);
    assert_int_equal(e2ee__net_loop_start(f->net), E2EE_OK);
    assert_int_equal(nh_wait(&f->rec, E2EE__NET_EV_CONNECTED, 1), 1);

    /* held: only priority frames go out (n1, n2 would otherwise be ahead of p1) */
    send_text(f->net, "p1", E2EE__NET_SEND_PRIORITY);
    send_text(f->net, "p2", E2EE__NET_SEND_PRIORITY | E2EE__NET_SEND_VOLATILE);
    expect_server_texts(f->srv, 0, (const char *const[]){"p1", "p2"}, 2);
    assert_int_equal(e2ee__net_release(f->net), E2EE_OK);
    send_text(f->net, "n3", 0);
    expect_server_texts(f->srv, 2, (const char *const[]){"n1", "n2", "n3"}, 3);

    /* a new connection holds again; volatile frames of the old one are dropped */
    ws_server_close(f->srv, 4000, "bye");
    assert_int_equal(nh_wait(&f->rec, E2EE__NET_EV_CONNECTED, 2), 2);
    send_text(f->net, "n4", 0);
    send_text(f->net, "v1", E2EE__NET_SEND_VOLATILE);
    size_t frames = 0;
    e2ee__net_queued(f->net, &frames, NULL);
    assert_int_equal(frames, 2);
    ws_server_stop(f->srv);
    f->srv = NULL;
    assert_int_equal(nh_wait(&f->rec, E2EE__NET_EV_DISCONNECTED, 2), 2);
    e2ee__net_queued(f->net, &frames, NULL);
    assert_int_equal(frames, 1);
    f->srv = ws_server_start(port, NULL, NULL);
    assert_non_null(f->srv);
    ws_server_set_echo(f->srv, 0);
    assert_int_equal(nh_wait(&f->rec, E2EE__NET_EV_CONNECTED, 3), 3);
    send_text(f->net, "p3", E2EE__NET_SEND_PRIORITY);
    expect_server_texts(f->srv, 0, (const char *const[]){"p3"}, 1);
    assert_int_equal(e2ee__net_release(f->net), E2EE_OK);
    expect_server_texts(f->srv, 1, (const char *const[]){"n4"}, 1);
    send_text(f->net, "end", 0);
    expect_server_texts(f->srv, 2, (const char *const[]){"end"}, 1);
    assert_int_equal(ws_server_count(f->srv), 3);
}

static void test_disconnect_and_connect_again(void **state)
{
    struct fx *f = *state;
    fx_connect(f);
    assert_int_equal(e2ee__net_disconnect(f->net), E2EE_OK);
    assert_int_equal(nh_wait(&f->rec, E2EE__NET_EV_DISCONNECTED, 1), 1);
    struct nh_event e = nh_get(&f->rec, 2);
    assert_int_equal(e.type, E2EE__NET_EV_DISCONNECTED);
    assert_int_equal(e.close_code, 1000);
    assert_int_equal(e.local, 1);
    assert_int_equal(e.err, E2EE_OK);
    /* frames wait while disconnected */
    send_text(f->net, "later", 0);
    assert_int_equal(e2ee__net_connect(f->net), E2EE_OK);
    assert_int_equal(nh_wait(&f->rec, E2EE__NET_EV_CONNECTED, 2), 2);
    /* no retry was scheduled in between: the new attempt is a first attempt */
    e = nh_get(&f->rec, 3);
    assert_int_equal(e.type, E2EE__NET_EV_CONNECTING);
    assert_int_equal(e.attempt, 0);
    assert_int_equal(nh_get(&f->rec, 4).type, E2EE__NET_EV_CONNECTED);
    assert_int_equal(nh_count(&f->rec, E2EE__NET_EV_RETRY_SCHEDULED), 0);
    expect_server_texts(f->srv, 0, (const char *const[]){"later"}, 1);
    assert_int_equal(ws_server_connections(f->srv), 2);
}

static void test_disconnect_cancels_retries(void **state)
{
    struct fx *f = *state;
    ws_server_stop(f->srv);
    f->srv = NULL;
    assert_int_equal(e2ee__net_new(&f->net, &f->cfg), E2EE_OK);
    assert_int_equal(e2ee__net_connect(f->net), E2EE_OK);
    /* driven by this thread, one iteration at a time */
    while (nh_count(&f->rec, E2EE__NET_EV_RETRY_SCHEDULED) < 3)
        assert_int_equal(e2ee__net_loop(f->net, 50), E2EE_OK);
    assert_int_equal(e2ee__net_disconnect(f->net), E2EE_OK);
    size_t before = nh_total(&f->rec);
    struct nh_event last = nh_get(&f->rec, before - 1);
    /* a dozen iterations, each as long as the longest delay: nothing more happens */
    for (int i = 0; i < 12; i++)
        assert_int_equal(e2ee__net_loop(f->net, NH_RETRY_MAX_MS), E2EE_OK);
    size_t after = nh_total(&f->rec);
    /* an attempt in progress when disconnect came may still report its failure */
    assert_true(after == before ||
                (after == before + 1 && last.type == E2EE__NET_EV_CONNECTING &&
                 nh_get(&f->rec, before).type == E2EE__NET_EV_CONNECT_FAILED));
}

static void disconnect_on_loss(struct nh_rec *r, const struct e2ee__net_event *ev)
{
    if (ev->type == E2EE__NET_EV_DISCONNECTED || ev->type == E2EE__NET_EV_CONNECT_FAILED)
        (void)e2ee__net_disconnect(r->net);
}

static void test_no_retry_after_disconnect_in_callback(void **state)
{
    struct fx *f = *state;
    f->rec.hook = disconnect_on_loss;
    assert_int_equal(e2ee__net_new(&f->net, &f->cfg), E2EE_OK);
    f->rec.net = f->net;
    assert_int_equal(e2ee__net_connect(f->net), E2EE_OK);
    while (nh_count(&f->rec, E2EE__NET_EV_CONNECTED) < 1)
        assert_int_equal(e2ee__net_loop(f->net, 100), E2EE_OK);
    ws_server_close(f->srv, 4002, "go");
    while (nh_count(&f->rec, E2EE__NET_EV_DISCONNECTED) < 1)
        assert_int_equal(e2ee__net_loop(f->net, 100), E2EE_OK);
    /* a dozen iterations, each as long as the longest delay: no retry, no attempt */
    for (int i = 0; i < 12; i++)
        assert_int_equal(e2ee__net_loop(f->net, NH_RETRY_MAX_MS), E2EE_OK);
    assert_int_equal(nh_total(&f->rec), 3);
    assert_int_equal(nh_count(&f->rec, E2EE__NET_EV_RETRY_SCHEDULED), 0);
    assert_int_equal(ws_server_connections(f->srv), 1);
}

static void stop_from_callback(struct nh_rec *r, const struct e2ee__net_event *ev)
{
    if (ev->type != E2EE__NET_EV_CONNECTED)
        return;
    /* the loop thread may not join or re-enter itself */
    int *results = r->hook_arg;
    results[0] = e2ee__net_loop_stop(r->net);
    results[1] = e2ee__net_loop(r->net, 0);
    results[2] = e2ee__net_loop_forever(r->net);
    results[3] = e2ee__net_loop_start(r->net);
}

static void test_loop_thread_rules(void **state)
{
    struct fx *f = *state;
    int results[4] = {1, 1, 1, 1};

    f->rec.hook = stop_from_callback;
    f->rec.hook_arg = results;
    assert_int_equal(e2ee__net_new(&f->net, &f->cfg), E2EE_OK);
    f->rec.net = f->net;
    assert_int_equal(e2ee__net_loop_stop(f->net), E2EE_ERR_STATE);
    assert_int_equal(e2ee__net_connect(f->net), E2EE_OK);
    assert_int_equal(e2ee__net_loop_start(f->net), E2EE_OK);
    assert_int_equal(e2ee__net_loop_start(f->net), E2EE_ERR_STATE);
    assert_int_equal(e2ee__net_loop(f->net, 0), E2EE_ERR_STATE);
    assert_int_equal(e2ee__net_loop_forever(f->net), E2EE_ERR_STATE);
    assert_int_equal(nh_wait(&f->rec, E2EE__NET_EV_CONNECTED, 1), 1);
    assert_int_equal(results[0], E2EE_ERR_IN_CALLBACK);
    assert_int_equal(results[1], E2EE_ERR_IN_CALLBACK);
    assert_int_equal(results[2], E2EE_ERR_IN_CALLBACK);
    assert_int_equal(results[3], E2EE_ERR_IN_CALLBACK);
    assert_int_equal(e2ee__net_loop_stop(f->net), E2EE_OK);
    assert_int_equal(e2ee__net_loop_stop(f->net), E2EE_ERR_STATE);
    /* this thread may drive it now, and start a thread again */
    send_text(f->net, "x", 0);
    while (nh_count(&f->rec, E2EE__NET_EV_FRAME) < 1)
        assert_int_equal(e2ee__net_loop(f->net, 100), E2EE_OK);
    assert_int_equal(e2ee__net_loop_start(f->net), E2EE_OK);
    send_text(f->net, "y", 0);
    assert_int_equal(nh_wait(&f->rec, E2EE__NET_EV_FRAME, 2), 2);
}

static void break_on_frame(struct nh_rec *r, const struct e2ee__net_event *ev)
{
    if (ev->type == E2EE__NET_EV_FRAME)
        (void)e2ee__net_loop_break(r->net);
}

static void test_loop_forever_break(void **state)
{
    struct fx *f = *state;
    f->rec.hook = break_on_frame;
    assert_int_equal(e2ee__net_new(&f->net, &f->cfg), E2EE_OK);
    f->rec.net = f->net;
    assert_int_equal(e2ee__net_connect(f->net), E2EE_OK);
    send_text(f->net, "ping", 0);
    /* returns once the echo came back and its callback asked for a break */
    assert_int_equal(e2ee__net_loop_forever(f->net), E2EE_OK);
    assert_int_equal(nh_count(&f->rec, E2EE__NET_EV_FRAME), 1);
    assert_int_equal(nh_count(&f->rec, E2EE__NET_EV_CONNECTED), 1);
}

static void *send_from_thread(void *arg)
{
    if (e2ee__net_send(arg, (const uint8_t *)"from-thread", 11, 0) != E2EE_OK)
        abort();
    return NULL;
}

/* One pass of the caller's loop: poll the wake fd and the socket, then service. */
static void poll_once(struct e2ee__net *net)
{
    struct pollfd p[2] = {{.fd = e2ee__net_fd_wake(net), .events = POLLIN},
                          {.fd = e2ee__net_fd_socket(net), .events = POLLIN}};
    int timeout = e2ee__net_timeout_ms(net);
    assert_true(timeout >= 0 && timeout <= E2EE__NET_TICK_MS);
    if (e2ee__net_want_write(net))
        p[1].events |= POLLOUT;
    assert_true(poll(p, p[1].fd >= 0 ? 2 : 1, timeout) >= 0);
    assert_int_equal(e2ee__net_loop(net, 0), E2EE_OK);
}

static int wake_readable(struct e2ee__net *net)
{
    struct pollfd p = {.fd = e2ee__net_fd_wake(net), .events = POLLIN};
    return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static void test_external_poll_loop(void **state)
{
    struct fx *f = *state;
    pthread_t t;

    assert_int_equal(e2ee__net_new(&f->net, &f->cfg), E2EE_OK);
    assert_int_equal(e2ee__net_fd_socket(f->net), -1);
    assert_true(e2ee__net_fd_wake(f->net) >= 0);
    assert_int_equal(e2ee__net_connect(f->net), E2EE_OK);
    send_text(f->net, "first", 0);
    while (nh_count(&f->rec, E2EE__NET_EV_FRAME) < 1)
        poll_once(f->net);
    assert_true(e2ee__net_fd_socket(f->net) >= 0);

    /* outside the loop now: a send from another thread makes the wake fd readable */
    assert_false(wake_readable(f->net));
    assert_int_equal(pthread_create(&t, NULL, send_from_thread, f->net), 0);
    pthread_join(t, NULL);
    assert_true(wake_readable(f->net));
    while (nh_count(&f->rec, E2EE__NET_EV_FRAME) < 2)
        poll_once(f->net);
    assert_false(wake_readable(f->net));
    struct nh_event e = nh_get(&f->rec, nh_find(&f->rec, E2EE__NET_EV_FRAME, 1));
    assert_int_equal(e.len, 11);
    assert_memory_equal(e.data, "from-thread", 11);
    assert_int_equal(ws_server_count(f->srv), 2);
}

static void test_config_checks(void **state)
{
    struct fx *f = *state;
    struct e2ee__net_config c = f->cfg;
    struct e2ee__net *net = (struct e2ee__net *)1;

    assert_int_equal(e2ee__net_new(&net, NULL), E2EE_ERR_ARG);
    assert_null(net);
    c.url = "http://127.0.0.1/";
    assert_int_equal(e2ee__net_new(&net, &c), E2EE_ERR_ARG);
    c = f->cfg;
    c.cb = NULL;
    assert_int_equal(e2ee__net_new(&net, &c), E2EE_ERR_ARG);
    c = f->cfg;
    c.max_frame = 0;
    assert_int_equal(e2ee__net_new(&net, &c), E2EE_ERR_RANGE);
    c = f->cfg;
    c.retry_max_ms = c.retry_min_ms - 1;
    assert_int_equal(e2ee__net_new(&net, &c), E2EE_ERR_RANGE);
    c = f->cfg;
    c.retry_min_ms = 0;
    assert_int_equal(e2ee__net_new(&net, &c), E2EE_ERR_RANGE);
    c = f->cfg;
    c.max_queue_frames = 2;
    assert_int_equal(e2ee__net_new(&net, &c), E2EE_OK);
    assert_int_equal(e2ee__net_send(net, (const uint8_t *)"a", 1, 0), E2EE_OK);
    assert_int_equal(e2ee__net_send(net, (const uint8_t *)"b", 1, 0), E2EE_OK);
    assert_int_equal(e2ee__net_send(net, (const uint8_t *)"c", 1, 0), E2EE_ERR_QUEUE_FULL);
    e2ee__net_free(net);
    c = f->cfg;
    c.max_queue_bytes = 10;
    assert_int_equal(e2ee__net_new(&net, &c), E2EE_OK);
    assert_int_equal(e2ee__net_send(net, (const uint8_t *)"0123456789", 10, 0), E2EE_OK);
    assert_int_equal(e2ee__net_send(net, (const uint8_t *)"x", 1, 0), E2EE_ERR_QUEUE_FULL);
    assert_int_equal(e2ee__net_send(net, NULL, 0, 0), E2EE_OK);
    e2ee__net_free(net); /* frees queued frames, never connected */
    e2ee__net_free(NULL);
}

#define FX(t) cmocka_unit_test_setup_teardown(t, fx_setup, fx_teardown)

int main(void)
{
    lws_set_log_level(LLL_ERR, NULL);
    const struct CMUnitTest tests[] = {
        FX(test_echo_sizes),
        FX(test_send_over_limit),
        FX(test_receive_over_limit),
        FX(test_fragmented_frames),
        FX(test_text_frame_refused),
        FX(test_server_close_with_reason),
        FX(test_reconnect_backoff),
        FX(test_handshake_broken),
        FX(test_queue_survives_reconnect),
        FX(test_send_from_threads),
        FX(test_hold_priority_volatile),
        FX(test_disconnect_and_connect_again),
        FX(test_disconnect_cancels_retries),
        FX(test_no_retry_after_disconnect_in_callback),
        FX(test_loop_thread_rules),
        FX(test_loop_forever_break),
        FX(test_external_poll_loop),
        FX(test_config_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
