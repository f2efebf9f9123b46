/*
 * e2ee tests, hostile rows: WebSocket framing (RFC 6455) after a good handshake. Protocol
 * violations end the connection; legal but unusual framing (fragments of one byte, control
 * frames between fragments, lengths in a longer form) still delivers the request.
 */
#include <stdlib.h>
#include <string.h>

#include "hostile.h"

static uint8_t *ping_request(size_t *len, uint64_t req)
{
    E2ee__ClientFrame *f = h_frame(E2EE__CLIENT_FRAME__BODY_PING, NULL, NULL);
    f->request_id = req;
    return h_pack(f, len);
}

/* The ping request `req` is answered with OK. */
static void answered(struct rw *c, uint64_t req)
{
    E2ee__RelayResult *r = rw_wait_result(c, req, RT_TIMEOUT_MS);
    assert_non_null(r);
    assert_int_equal(r->code, 0);
    rt_free_result(r);
}

static void send_spec(struct rw *c, int fin, int rsv, int opcode, int masked,
                      enum rw_len_form form, const void *p, size_t len)
{
    struct rw_frame_spec s = {fin, rsv, opcode, masked, form, len, p, len};
    assert_int_equal(rw_send_spec(c, &s), 0);
}

static void unmasked(int arg)
{
    (void)arg;
    struct rw *c = h_raw_open();
    size_t n = 0;
    uint8_t *b = ping_request(&n, 5);
    send_spec(c, 1, 0, RW_OP_BINARY, 0, RW_LEN_MINIMAL, b, n);
    free(b);
    h_expect_end(c, 0);
}

static void reserved_bits(int arg)
{
    struct rw *c = h_raw_open();
    size_t n = 0;
    uint8_t *b = ping_request(&n, 5);
    /* arg: RSV bits (4 = RSV1, 1 = RSV3), plus 8 for a ping instead of a data frame */
    send_spec(c, 1, arg & 7, (arg & 8) ? RW_OP_PING : RW_OP_BINARY, 1, RW_LEN_MINIMAL, b, n);
    free(b);
    h_expect_end(c, 0);
}

static void reserved_opcode(int arg)
{
    struct rw *c = h_raw_open();
    send_spec(c, 1, 0, arg, 1, RW_LEN_MINIMAL, "abc", 3);
    h_expect_end(c, 0);
}

static void long_control(int arg)
{
    (void)arg;
    uint8_t p[126];
    memset(p, 'p', sizeof p);
    struct rw *c = h_raw_open();
    send_spec(c, 1, 0, RW_OP_PING, 1, RW_LEN_16, p, sizeof p);
    h_expect_end(c, 0);
}

static void fragmented_control(int arg)
{
    (void)arg;
    struct rw *c = h_raw_open();
    send_spec(c, 0, 0, RW_OP_PING, 1, RW_LEN_MINIMAL, "ab", 2);
    send_spec(c, 1, 0, RW_OP_CONT, 1, RW_LEN_MINIMAL, "cd", 2);
    h_expect_end(c, 0);
}

static void lone_continuation(int arg)
{
    (void)arg;
    struct rw *c = h_raw_open();
    size_t n = 0;
    uint8_t *b = ping_request(&n, 5);
    send_spec(c, 1, 0, RW_OP_CONT, 1, RW_LEN_MINIMAL, b, n);
    free(b);
    h_expect_end(c, 0);
}

static void new_message_inside_fragments(int arg)
{
    (void)arg;
    struct rw *c = h_raw_open();
    size_t n = 0;
    uint8_t *b = ping_request(&n, 5);
    send_spec(c, 0, 0, RW_OP_BINARY, 1, RW_LEN_MINIMAL, b, 1);
    send_spec(c, 1, 0, RW_OP_BINARY, 1, RW_LEN_MINIMAL, b, n);
    free(b);
    h_expect_end(c, 0);
}

static void text_frame(int arg)
{
    struct rw *c = h_raw_open();
    if (arg) {
        send_spec(c, 0, 0, RW_OP_TEXT, 1, RW_LEN_MINIMAL, "{\"a\":", 5);
        send_spec(c, 1, 0, RW_OP_CONT, 1, RW_LEN_MINIMAL, "1}", 2);
    } else {
        send_spec(c, 1, 0, RW_OP_TEXT, 1, RW_LEN_MINIMAL, "{\"hello\":1}", 11);
    }
    h_expect_end(c, 1003);
}

static void invalid_utf8_text(int arg)
{
    (void)arg;
    struct rw *c = h_raw_open();
    send_spec(c, 1, 0, RW_OP_TEXT, 1, RW_LEN_MINIMAL, "\xff\xfe\xc0\x80", 4);
    h_expect_end(c, 0);
}

static void bad_close(int arg)
{
    struct rw *c = h_raw_open();
    static const uint8_t code999[] = {0x03, 0xe7, 'x'};
    static const uint8_t bad_utf8[] = {0x03, 0xe8, 0xff, 0xfe};
    switch (arg) {
    case 0: send_spec(c, 1, 0, RW_OP_CLOSE, 1, RW_LEN_MINIMAL, code999, sizeof code999); break;
    case 1: send_spec(c, 1, 0, RW_OP_CLOSE, 1, RW_LEN_MINIMAL, "\x03", 1); break;
    default: send_spec(c, 1, 0, RW_OP_CLOSE, 1, RW_LEN_MINIMAL, bad_utf8, sizeof bad_utf8); break;
    }
    h_expect_end(c, 0);
}

/* A close frame, then data as if nothing happened: the data is ignored, the socket ends. */
static void data_after_close(int arg)
{
    (void)arg;
    struct rw *c = h_raw_open();
    size_t n = 0;
    uint8_t *b = ping_request(&n, 5);
    send_spec(c, 1, 0, RW_OP_CLOSE, 1, RW_LEN_MINIMAL, "\x03\xe8", 2);
    send_spec(c, 1, 0, RW_OP_BINARY, 1, RW_LEN_MINIMAL, b, n);
    free(b);
    h_expect_end(c, 0);
}

/* The same request with its length written in the 16- or 64-bit form. */
static void long_length_form(int arg)
{
    struct rw *c = h_raw_open();
    size_t n = 0;
    uint8_t *b = ping_request(&n, 9);
    send_spec(c, 1, 0, RW_OP_BINARY, 1, arg ? RW_LEN_64 : RW_LEN_16, b, n);
    free(b);
    answered(c, 9);
    rw_close(c, 0);
}

static void length_msb(int arg)
{
    (void)arg;
    struct rw *c = h_raw_open();
    struct rw_frame_spec s = {1, 0, RW_OP_BINARY, 1, RW_LEN_64, 1ull << 63, (const uint8_t *)"x",
                              1};
    assert_int_equal(rw_send_spec(c, &s), 0);
    h_expect_end(c, 0);
}

/* A header announcing more than max_frame_size: refused before the payload comes. */
static void announced_too_big(int arg)
{
    struct rw *c = h_raw_open();
    uint64_t len = arg ? (2ull << 30) : (uint64_t)H_MAX_FRAME + 1;
    struct rw_frame_spec s = {1, 0, RW_OP_BINARY, 1, RW_LEN_64, len, (const uint8_t *)"\x08\x01",
                              2};
    assert_int_equal(rw_send_spec(c, &s), 0);
    h_expect_end(c, 1009);
}

/* A header announcing 1000 bytes, then silence: the connection is reaped (idle timeout). */
static void announced_then_silent(int arg)
{
    (void)arg;
    struct rw *c = h_raw_open();
    struct rw_frame_spec s = {1, 0, RW_OP_BINARY, 1, RW_LEN_16, 1000, (const uint8_t *)"\x08", 1};
    assert_int_equal(rw_send_spec(c, &s), 0);
    h_linger(c, 0);
}

/* A valid request in fragments of one byte each. */
static void one_byte_fragments(int arg)
{
    (void)arg;
    struct rw *c = h_raw_open();
    uint64_t req = rw_send_client_frame(c, h_frame(E2EE__CLIENT_FRAME__BODY_PING, NULL, NULL), 1);
    assert_true(req != 0);
    answered(c, req);
    rw_close(c, 0);
}

/* Fragments with WebSocket pings between them: pongs come back, the request is answered. */
static void pings_between_fragments(int arg)
{
    (void)arg;
    struct rw *c = h_raw_open();
    size_t n = 0;
    uint8_t *b = ping_request(&n, 11);
    struct rw_frame f;
    int pongs = 0;
    for (size_t i = 0; i < n; i++) {
        send_spec(c, i + 1 == n, 0, i ? RW_OP_CONT : RW_OP_BINARY, 1, RW_LEN_MINIMAL, b + i, 1);
        send_spec(c, 1, 0, RW_OP_PING, 1, RW_LEN_MINIMAL, "hi", 2);
    }
    free(b);
    /* the result comes, and pongs (RFC 6455 5.5.3 lets an endpoint answer only the latest of
     * several pings) */
    int result = 0;
    int64_t deadline = h_now_ms() + RT_TIMEOUT_MS;
    while ((!result || !pongs) && h_now_ms() < deadline &&
           rw_read_frame(c, &f, RT_TIMEOUT_MS) == 1) {
        if (f.opcode == RW_OP_PONG) {
            assert_memory_equal(f.payload, "hi", 2);
            pongs++;
        } else if (f.opcode == RW_OP_BINARY) {
            E2ee__ServerFrame *sf = e2ee__server_frame__unpack(NULL, f.len, f.payload);
            assert_non_null(sf);
            result = sf->body_case == E2EE__SERVER_FRAME__BODY_RESULT &&
                     sf->result->request_id == 11 && sf->result->code == 0;
            e2ee__server_frame__free_unpacked(sf, NULL);
        }
    }
    assert_true(result);
    assert_true(pongs >= 1 && pongs <= (int)n);
    rw_close(c, 0);
}

/* Fragments that add up past max_frame_size: 1009. */
static void fragments_too_big(int arg)
{
    (void)arg;
    struct rw *c = h_raw_open();
    static uint8_t chunk[16384];
    memset(chunk, 0x11, sizeof chunk);
    send_spec(c, 0, 0, RW_OP_BINARY, 1, RW_LEN_MINIMAL, chunk, sizeof chunk);
    /* the relay closes as soon as the sum passes the limit: a later write may then fail */
    for (int i = 0; i < 5 && !rw_is_closed(c); i++) {
        struct rw_frame_spec s = {i == 4, 0, RW_OP_CONT, 1, RW_LEN_MINIMAL, sizeof chunk, chunk,
                                  sizeof chunk};
        if (rw_send_spec(c, &s) != 0)
            break;
    }
    h_expect_end(c, 1009);
}

/* One frame over max_frame_size, payload and all. */
static void frame_too_big(int arg)
{
    (void)arg;
    struct rw *c = h_raw_open();
    uint8_t *big = calloc(1, H_MAX_FRAME + 100);
    assert_non_null(big);
    struct rw_frame_spec s = {1, 0, RW_OP_BINARY, 1, RW_LEN_MINIMAL, H_MAX_FRAME + 100, big,
                              H_MAX_FRAME + 100};
    (void)rw_send_spec(c, &s); /* the relay may hang up while we write */
    free(big);
    h_expect_end(c, 1009);
}

/* An empty binary message is an empty ClientFrame: no request type, answered. */
static void empty_binary(int arg)
{
    (void)arg;
    struct rw *c = h_raw_open();
    send_spec(c, 1, 0, RW_OP_BINARY, 1, RW_LEN_MINIMAL, "", 0);
    E2ee__RelayResult *r = rw_wait_result(c, 0, RT_TIMEOUT_MS);
    assert_non_null(r);
    assert_int_equal(r->code, E2EE_ERR_NOT_SUPPORTED);
    rt_free_result(r);
    h_expect_usable(c);
    rw_close(c, 0);
}

/* 2000 WebSocket pings in a burst, then a request: every ping is answered by the end. */
static void ping_flood(int arg)
{
    (void)arg;
    enum { N = 2000 };
    struct rw *c = h_raw_open();
    uint8_t *all = malloc(N * 16);
    size_t used = 0;
    struct rw_frame_spec s = {1, 0, RW_OP_PING, 1, RW_LEN_MINIMAL, 2, (const uint8_t *)"pp", 2};
    assert_non_null(all);
    for (int i = 0; i < N; i++)
        used += rw_build(all + used, &s);
    assert_int_equal(rw_write(c, all, used), 0);
    free(all);
    h_expect_usable(c);
    rw_close(c, 0);
}

static void unsolicited_pongs(int arg)
{
    (void)arg;
    struct rw *c = h_raw_open();
    for (int i = 0; i < 200; i++)
        send_spec(c, 1, 0, RW_OP_PONG, 1, RW_LEN_MINIMAL, "unasked", 7);
    h_expect_usable(c);
    rw_close(c, 0);
}

/* A valid request written one byte per TCP segment. */
static void byte_by_byte(int arg)
{
    (void)arg;
    struct rw *c = h_raw_open();
    size_t n = 0;
    uint8_t *b = ping_request(&n, 13), frame[64];
    struct rw_frame_spec s = {1, 0, RW_OP_BINARY, 1, RW_LEN_MINIMAL, n, b, n};
    size_t fl = rw_build(frame, &s);
    for (size_t i = 0; i < fl; i++) {
        assert_int_equal(rw_write(c, frame + i, 1), 0);
        rt_pump(1);
    }
    free(b);
    answered(c, 13);
    rw_close(c, 0);
}

/* A mask key of four zero bytes is legal: the request is answered. */
static void zero_mask(int arg)
{
    (void)arg;
    struct rw *c = h_raw_open();
    size_t n = 0;
    uint8_t *b = ping_request(&n, 15), frame[64];
    frame[0] = 0x82;
    frame[1] = (uint8_t)(0x80 | n);
    memset(frame + 2, 0, 4);
    memcpy(frame + 6, b, n);
    assert_int_equal(rw_write(c, frame, 6 + n), 0);
    free(b);
    answered(c, 15);
    rw_close(c, 0);
}

/* A 10 KB request in 10,000 fragments of one byte (to oneself). */
static void ten_thousand_fragments(int arg)
{
    (void)arg;
    struct rt_ident id;
    struct rw *c = h_raw_user(&id, "frag");
    static uint8_t ct[10000];
    memset(ct, 0x61, sizeof ct);
    E2ee__ClientFrame *f = h_frame(E2EE__CLIENT_FRAME__BODY_SEND_DIRECT, NULL, id.uid);
    f->send_direct->ciphertext.data = ct;
    f->send_direct->ciphertext.len = sizeof ct;
    uint64_t req = rw_send_client_frame(c, f, 1);
    E2ee__RelayResult *r = rw_wait_result(c, req, RT_TIMEOUT_MS);
    assert_non_null(r);
    assert_int_equal(r->code, 0);
    rt_free_result(r);
    rw_close(c, 0);
}

const struct h_row k_rows_framing[] = {
    {"ws: unmasked client frame", unmasked, 0},
    {"ws: RSV1 set on a data frame", reserved_bits, 4},
    {"ws: RSV3 set on a data frame", reserved_bits, 1},
    {"ws: RSV1 set on a ping", reserved_bits, 4 | 8},
    {"ws: reserved data opcode 0x3", reserved_opcode, 0x3},
    {"ws: reserved control opcode 0xB", reserved_opcode, 0xB},
    {"ws: control frame of 126 bytes", long_control, 0},
    {"ws: fragmented ping", fragmented_control, 0},
    {"ws: continuation without a first fragment", lone_continuation, 0},
    {"ws: new message inside a fragmented one", new_message_inside_fragments, 0},
    {"ws: text frame", text_frame, 0},
    {"ws: fragmented text message", text_frame, 1},
    {"ws: text frame of invalid UTF-8", invalid_utf8_text, 0},
    {"ws: close frame with code 999", bad_close, 0},
    {"ws: close frame of one byte", bad_close, 1},
    {"ws: close reason of invalid UTF-8", bad_close, 2},
    {"ws: data after a close frame", data_after_close, 0},
    {"ws: length in the 16-bit form", long_length_form, 0},
    {"ws: length in the 64-bit form", long_length_form, 1},
    {"ws: 64-bit length with the top bit set", length_msb, 0},
    {"ws: header announces max_frame_size + 1", announced_too_big, 0},
    {"ws: header announces 2 GiB", announced_too_big, 1},
    {"ws: header announces 1000 bytes, then silence (reaped)", announced_then_silent, 0},
    {"ws: a request in one-byte fragments", one_byte_fragments, 0},
    {"ws: pings between every fragment", pings_between_fragments, 0},
    {"ws: fragments adding up past max_frame_size", fragments_too_big, 0},
    {"ws: one frame past max_frame_size", frame_too_big, 0},
    {"ws: empty binary message", empty_binary, 0},
    {"ws: 2000 pings in a burst", ping_flood, 0},
    {"ws: 200 unsolicited pongs", unsolicited_pongs, 0},
    {"tcp: a request one byte per segment", byte_by_byte, 0},
    {"ws: all-zero mask key", zero_mask, 0},
    {"ws: 10,000 fragments of one byte", ten_thousand_fragments, 0},
    {NULL, NULL, 0},
};
