/*
 * e2ee tests, hostile rows: TCP and the HTTP upgrade. Connections that never become a
 * WebSocket of subprotocol e2ee.v1 are refused or reaped, and never reach the relay's
 * protocol.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostile.h"

#define UPGRADE_HEAD                                                                \
    "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" \
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"

/* The request gets no 101 (an HTTP refusal or the end of the connection). */
static void refused(const char *request)
{
    struct rw *c = rw_tcp(g_h.port);
    assert_non_null(c);
    int status = rw_request(c, request);
    assert_true(status != 101);
    rw_close(c, 0);
}

static void tcp_close_at_once(int rst)
{
    struct rw *c = rw_tcp(g_h.port);
    assert_non_null(c);
    rw_close(c, rst);
}

static void plain_get(int arg)
{
    struct rw *c = rw_tcp(g_h.port);
    assert_non_null(c);
    assert_int_equal(rw_request(c, arg ? "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
                                       : "GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
                     404);
    rw_close(c, 0);
}

static void no_subprotocol(int arg)
{
    (void)arg;
    struct rw *c = rw_tcp(g_h.port);
    assert_non_null(c);
    assert_true(rw_handshake(c, NULL, NULL) != 101);
    rw_close(c, 0);
}

static void wrong_subprotocol(int arg)
{
    struct rw *c = rw_tcp(g_h.port);
    assert_non_null(c);
    assert_true(rw_handshake(c, arg ? "e2ee.v2" : "chat", NULL) != 101);
    rw_close(c, 0);
}

/* libwebsockets speaks RFC 6455 whatever version is asked for: the connection works. */
static void odd_version(int arg)
{
    struct rw *c = rw_tcp(g_h.port);
    assert_non_null(c);
    assert_int_equal(rw_request(c, arg ? UPGRADE_HEAD "Sec-WebSocket-Protocol: e2ee.v1\r\n\r\n"
                                       : UPGRADE_HEAD "Sec-WebSocket-Version: 99\r\n"
                                                      "Sec-WebSocket-Protocol: e2ee.v1\r\n\r\n"),
                     101);
    assert_non_null(rw_challenge(c, RT_TIMEOUT_MS));
    h_expect_usable(c);
    rw_close(c, 0);
}

static void http10_upgrade(int arg)
{
    (void)arg;
    refused("GET / HTTP/1.0\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Protocol: e2ee.v1\r\n\r\n");
}

static void no_connection_header(int arg)
{
    (void)arg;
    refused("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Protocol: e2ee.v1\r\n\r\n");
}

static void no_key(int arg)
{
    (void)arg;
    refused("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: e2ee.v1\r\n\r\n");
}

/* An upgrade by POST with a body: the body's bytes arrive as WebSocket bytes ("hello" is a
 * frame with reserved bits set), so the connection ends. */
static void post_upgrade(int arg)
{
    (void)arg;
    struct rw *c = rw_tcp(g_h.port);
    assert_non_null(c);
    int status = rw_request(
        c, "POST / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
           "Sec-WebSocket-Protocol: e2ee.v1\r\nContent-Length: 5\r\n\r\nhello");
    assert_int_equal(status, 101);
    h_expect_end(c, 0);
}

static void huge_header(int arg)
{
    (void)arg;
    size_t n = 16000;
    char *req = malloc(n + 256);
    assert_non_null(req);
    int k = snprintf(req, 256, UPGRADE_HEAD "X-Junk: ");
    memset(req + k, 'a', n);
    snprintf(req + k + n, 256, "\r\nSec-WebSocket-Version: 13\r\n"
                               "Sec-WebSocket-Protocol: e2ee.v1\r\n\r\n");
    refused(req);
    free(req);
}

static void many_headers(int arg)
{
    (void)arg;
    size_t cap = 400 * 32 + 512, used = 0;
    char *req = malloc(cap);
    assert_non_null(req);
    used += (size_t)snprintf(req, cap, UPGRADE_HEAD);
    for (int i = 0; i < 400; i++)
        used += (size_t)snprintf(req + used, cap - used, "X-H%d: %d\r\n", i, i);
    snprintf(req + used, cap - used, "Sec-WebSocket-Version: 13\r\n"
                                     "Sec-WebSocket-Protocol: e2ee.v1\r\n\r\n");
    refused(req);
    free(req);
}

static void binary_junk(int arg)
{
    (void)arg;
    static const char junk[] = "\x01\xff\x00\x10\x80\x7f garbage \x03\x04\r\n\r\n";
    refused(junk);
}

static void tls_hello(int arg)
{
    (void)arg;
    /* the start of a TLS 1.2 ClientHello record */
    static const char hello[] = "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n";
    refused(hello);
}

static void http2_preface(int arg)
{
    (void)arg;
    refused("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
}

static void bad_request_line(int arg)
{
    (void)arg;
    refused("GET\r\n\r\n");
}

static void absurd_path(int arg)
{
    (void)arg;
    refused("GET /../../../../etc/passwd%00 HTTP/1.1\r\nHost: x\r\n\r\n");
}

/* Two upgrade requests in one write: the second one arrives as WebSocket bytes, which are
 * not a valid frame, so the connection ends. */
static void pipelined_upgrades(int arg)
{
    (void)arg;
    static const char one[] = UPGRADE_HEAD "Sec-WebSocket-Version: 13\r\n"
                                           "Sec-WebSocket-Protocol: e2ee.v1\r\n\r\n";
    char both[2 * sizeof one];
    snprintf(both, sizeof both, "%s%s", one, one);
    struct rw *c = rw_tcp(g_h.port);
    assert_non_null(c);
    assert_int_equal(rw_request(c, both), 101);
    h_expect_end(c, 0);
}

/* Connections that never finish their handshake: the relay must reap them. */
static void half_open(int arg)
{
    struct rw *c = rw_tcp(g_h.port);
    assert_non_null(c);
    if (arg == 1)
        assert_int_equal(rw_write(c, "GET / HTTP/1.1\r\nHost: x\r\n", 26), 0);
    h_linger(c, arg == 2);
}

/* A WebSocket that never answers the challenge (but answers pings): closed at
 * login_timeout with 1008. */
static void never_logs_in(int arg)
{
    (void)arg;
    struct rw *c = rw_open(g_h.port);
    assert_non_null(c);
    rw_answer_pings(c, 1);
    h_expect_end(c, 1008);
}

/* Connected, challenged, then gone without a word: nothing breaks. */
static void challenged_then_reset(int arg)
{
    struct rw *c = h_raw_open();
    rw_close(c, arg);
}

/* A hundred connections opened and dropped in a row, half by reset. */
static void connection_burst(int arg)
{
    (void)arg;
    for (int i = 0; i < 100; i++) {
        struct rw *c = rw_tcp(g_h.port);
        assert_non_null(c);
        if (i % 3 == 0)
            assert_int_equal(rw_handshake(c, "e2ee.v1", NULL), 101);
        rw_close(c, i % 2);
    }
}

const struct h_row k_rows_handshake[] = {
    {"tcp: connect and close at once", tcp_close_at_once, 0},
    {"tcp: connect and reset at once", tcp_close_at_once, 1},
    {"http: plain GET of the WebSocket path", plain_get, 0},
    {"http: GET /metrics on the WebSocket port", plain_get, 1},
    {"upgrade: no subprotocol", no_subprotocol, 0},
    {"upgrade: unknown subprotocol", wrong_subprotocol, 0},
    {"upgrade: future subprotocol e2ee.v2", wrong_subprotocol, 1},
    {"upgrade: WebSocket version 99", odd_version, 0},
    {"upgrade: no WebSocket version", odd_version, 1},
    {"upgrade: HTTP/1.0", http10_upgrade, 0},
    {"upgrade: no Connection header", no_connection_header, 0},
    {"upgrade: no Sec-WebSocket-Key", no_key, 0},
    {"upgrade: POST with a body", post_upgrade, 0},
    {"upgrade: a 16 KB header line", huge_header, 0},
    {"upgrade: 400 header lines", many_headers, 0},
    {"http: binary junk for a request", binary_junk, 0},
    {"http: TLS ClientHello on the plain port", tls_hello, 0},
    {"http: HTTP/2 connection preface", http2_preface, 0},
    {"http: request line cut short", bad_request_line, 0},
    {"http: path traversal attempt", absurd_path, 0},
    {"upgrade: two upgrades pipelined in one write", pipelined_upgrades, 0},
    {"tcp: half-open, never sends a byte (reaped)", half_open, 0},
    {"http: request head never finished (reaped)", half_open, 1},
    {"http: slow loris, one byte per row (reaped)", half_open, 2},
    {"ws: never answers the challenge (login_timeout)", never_logs_in, 0},
    {"ws: challenged, then closes", challenged_then_reset, 0},
    {"ws: challenged, then resets", challenged_then_reset, 1},
    {"tcp: 100 connections opened and dropped", connection_burst, 0},
    {NULL, NULL, 0},
};
