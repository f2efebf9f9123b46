/*
 * e2ee tests, hostile rows: well-framed WebSocket messages whose protobuf is hostile, from a
 * logged-in client. A frame that does not decode closes the connection (1007), one that
 * would make the decoder allocate too much closes it too (1009); a frame that decodes to
 * something odd is answered like any request.
 */
#include <stdlib.h>
#include <string.h>

#include "hostile.h"

struct bytes_case {
    const char *bytes;
    size_t len;
    int close_code; /* expected close code, or 0 when a result is expected */
    int result;     /* expected result code of request 7 */
};

static const struct bytes_case k_cases[] = {
    /* 0 garbage */
    {"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 12, 1007, 0},
    /* 1 a length prefix far beyond the frame */
    {"\x42\xff\xff\xff\xff\x07\x01\x02", 8, 1007, 0},
    /* 2 request_id (a varint) sent as length-delimited */
    {"\x0a\x01\x00", 3, 1007, 0},
    /* 3 only a field no version knows */
    {"\x08\x07\x9a\x06\x01\x00", 6, 0, E2EE_ERR_NOT_SUPPORTED},
    /* 4 the deprecated start-group wire type */
    {"\x08\x07\x0b\x0c", 4, 1007, 0},
    /* 5 a varint of eleven bytes */
    {"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12, 1007, 0},
    /* 6 field number 0, tag in two bytes (protobuf-c keeps it as an unknown field) */
    {"\x08\x07\x82\x00\x01\x00", 6, 0, E2EE_ERR_NOT_SUPPORTED},
    /* 7 an unknown field holding junk, then nothing else */
    {"\x08\x07\xa2\x06\x05\xff\xff\xff\xff\xff", 10, 0, E2EE_ERR_NOT_SUPPORTED},
    /* 8 a ping body cut inside its length */
    {"\x08\x07\x1a", 3, 1007, 0},
    /* 9 request_id twice: the last one counts */
    {"\x08\x01\x08\x07\x1a\x00", 6, 0, 0},
};

static void bytes_row(int arg)
{
    const struct bytes_case *k = &k_cases[arg];
    struct rt_ident id;
    struct rw *c = h_raw_user(&id, "pb");
    assert_int_equal(rw_send_frame(c, 1, RW_OP_BINARY, k->bytes, k->len), 0);
    if (k->close_code) {
        h_expect_end(c, k->close_code);
        return;
    }
    E2ee__RelayResult *r = rw_wait_result(c, 7, RT_TIMEOUT_MS);
    assert_non_null(r);
    assert_int_equal(r->code, k->result);
    rt_free_result(r);
    h_expect_usable(c);
    rw_close(c, 0);
}

static void truncated(int arg)
{
    (void)arg;
    struct rt_ident id;
    struct rw *c = h_raw_user(&id, "pb");
    static uint8_t ct[100];
    E2ee__ClientFrame *f = h_frame(E2EE__CLIENT_FRAME__BODY_SEND_DIRECT, NULL, H_VICTIM);
    f->send_direct->ciphertext.data = ct;
    f->send_direct->ciphertext.len = sizeof ct;
    size_t n = 0;
    uint8_t *b = h_pack(f, &n);
    assert_int_equal(rw_send_frame(c, 1, RW_OP_BINARY, b, n / 2), 0);
    free(b);
    h_expect_end(c, 1007);
}

/* Two encoded frames back to back parse as one: the body that comes last is the request. */
static void two_bodies(int arg)
{
    (void)arg;
    struct rt_ident id;
    struct rw *c = h_raw_user(&id, "pb");
    char gid[80];
    size_t n1 = 0, n2 = 0;
    snprintf(gid, sizeof gid, "%s-g", id.uid);
    E2ee__ClientFrame *f = h_frame(E2EE__CLIENT_FRAME__BODY_PING, NULL, NULL);
    f->request_id = 21;
    uint8_t *a = h_pack(f, &n1);
    f = h_frame(E2EE__CLIENT_FRAME__BODY_CREATE_GROUP, gid, NULL);
    f->request_id = 21;
    uint8_t *b = h_pack(f, &n2);
    uint8_t *both = malloc(n1 + n2);
    assert_non_null(both);
    memcpy(both, a, n1);
    memcpy(both + n1, b, n2);
    assert_int_equal(rw_send_frame(c, 1, RW_OP_BINARY, both, n1 + n2), 0);
    E2ee__RelayResult *r = rw_wait_result(c, 21, RT_TIMEOUT_MS);
    assert_non_null(r);
    assert_int_equal(r->code, 0);
    assert_int_equal(r->body_case, E2EE__RELAY_RESULT__BODY_GROUP);
    assert_string_equal(r->group->group_id, gid);
    rt_free_result(r);
    assert_int_equal(rw_request_code(c, h_frame(E2EE__CLIENT_FRAME__BODY_DELETE_GROUP, gid, NULL)),
                     0);
    free(a);
    free(b);
    free(both);
    rw_close(c, 0);
}

/* A string with a NUL inside is the C string before it, consistently. */
static void nul_in_group_id(int arg)
{
    (void)arg;
    struct rt_ident id;
    struct rw *c = h_raw_user(&id, "pb");
    char gid[80];
    uint8_t frame[96];
    size_t gl, n = 0;
    snprintf(gid, sizeof gid, "%s-n", id.uid);
    gl = strlen(gid);
    /* ClientFrame{request_id 23, create_group{group_id gid "\0evil"}} */
    frame[n++] = 0x08;
    frame[n++] = 23;
    frame[n++] = 0x52;
    frame[n++] = (uint8_t)(2 + gl + 5);
    frame[n++] = 0x0a;
    frame[n++] = (uint8_t)(gl + 5);
    memcpy(frame + n, gid, gl);
    n += gl;
    memcpy(frame + n, "\0evil", 5);
    n += 5;
    assert_int_equal(rw_send_frame(c, 1, RW_OP_BINARY, frame, n), 0);
    E2ee__RelayResult *r = rw_wait_result(c, 23, RT_TIMEOUT_MS);
    assert_non_null(r);
    assert_int_equal(r->code, 0);
    assert_string_equal(r->group->group_id, gid);
    rt_free_result(r);
    assert_int_equal(rw_request_code(c, h_frame(E2EE__CLIENT_FRAME__BODY_DELETE_GROUP, gid, NULL)),
                     0);
    rw_close(c, 0);
}

/* Bytes that are not UTF-8 in a user id: not a valid id. */
static void bad_utf8_user(int arg)
{
    (void)arg;
    struct rt_ident id;
    struct rw *c = h_raw_user(&id, "pb");
    /* ClientFrame{request_id 25, fetch_bundle{user_id "\xff\xfe"}} */
    static const uint8_t frame[] = {0x08, 25, 0x2a, 0x04, 0x0a, 0x02, 0xff, 0xfe};
    assert_int_equal(rw_send_frame(c, 1, RW_OP_BINARY, frame, sizeof frame), 0);
    E2ee__RelayResult *r = rw_wait_result(c, 25, RT_TIMEOUT_MS);
    assert_non_null(r);
    assert_int_equal(r->code, E2EE_ERR_ARG);
    rt_free_result(r);
    rw_close(c, 0);
}

/* 30,000 empty ack items in 60 KB: decoding would take far more memory than the frame's
 * bytes allow (wire.h), so the frame is refused as too large. */
static void allocation_bomb(int arg)
{
    (void)arg;
    enum { N = 30000 };
    struct rt_ident id;
    struct rw *c = h_raw_user(&id, "pb");
    size_t n = 0;
    uint8_t *frame = malloc(8 + 2 * N + 8);
    assert_non_null(frame);
    /* ClientFrame{request_id 27, ack{items x N}}: field 9, length-delimited */
    frame[n++] = 0x08;
    frame[n++] = 27;
    frame[n++] = 0x4a;
    frame[n++] = (uint8_t)(0x80 | ((2 * N) & 0x7f));
    frame[n++] = (uint8_t)(0x80 | (((2 * N) >> 7) & 0x7f));
    frame[n++] = (uint8_t)((2 * N) >> 14);
    for (int i = 0; i < N; i++) {
        frame[n++] = 0x0a;
        frame[n++] = 0x00;
    }
    assert_true(n <= H_MAX_FRAME);
    assert_int_equal(rw_send_frame(c, 1, RW_OP_BINARY, frame, n), 0);
    free(frame);
    h_expect_end(c, 1009);
}

/* A frame of exactly max_frame_size bytes is accepted. */
static void exactly_max(int arg)
{
    (void)arg;
    struct rt_ident id;
    struct rw *c = h_raw_user(&id, "pb");
    uint8_t *ct = calloc(1, H_MAX_FRAME);
    assert_non_null(ct);
    E2ee__ClientFrame *f = h_frame(E2EE__CLIENT_FRAME__BODY_SEND_DIRECT, NULL, id.uid);
    f->request_id = 29;
    f->send_direct->ciphertext.data = ct;
    size_t lo = 1, hi = H_MAX_FRAME, len = 0;
    while (lo < hi) { /* the ciphertext length that makes the frame exactly the limit */
        size_t mid = (lo + hi + 1) / 2;
        f->send_direct->ciphertext.len = mid;
        if (e2ee__client_frame__get_packed_size(f) <= H_MAX_FRAME)
            lo = mid;
        else
            hi = mid - 1;
    }
    f->send_direct->ciphertext.len = lo;
    uint8_t *b = h_pack(f, &len);
    assert_int_equal(len, H_MAX_FRAME);
    assert_int_equal(rw_send_frame(c, 1, RW_OP_BINARY, b, len), 0);
    E2ee__RelayResult *r = rw_wait_result(c, 29, RT_TIMEOUT_MS);
    assert_non_null(r);
    assert_int_equal(r->code, 0);
    rt_free_result(r);
    free(b);
    free(ct);
    rw_close(c, 0);
}

static void max_request_id(int arg)
{
    (void)arg;
    struct rt_ident id;
    struct rw *c = h_raw_user(&id, "pb");
    E2ee__ClientFrame *f = h_frame(E2EE__CLIENT_FRAME__BODY_PING, NULL, NULL);
    f->request_id = UINT64_MAX;
    assert_int_equal(rw_send_client_frame(c, f, 0), UINT64_MAX);
    E2ee__RelayResult *r = rw_wait_result(c, UINT64_MAX, RT_TIMEOUT_MS);
    assert_non_null(r);
    assert_int_equal(r->code, 0);
    rt_free_result(r);
    rw_close(c, 0);
}

/* A 60 KB user id in a login: not an id, refused, the connection stays. */
static void huge_login_strings(int arg)
{
    (void)arg;
    struct rt_ident id;
    rt_ident_new(&id, "h-pb-huge");
    struct rw *c = h_raw_open();
    char *uid = malloc(60001);
    assert_non_null(uid);
    memset(uid, 'u', 60000);
    uid[60000] = '\0';
    E2ee__ClientFrame *f = rw_login_frame(c, &id, NULL, NULL, NULL);
    assert_non_null(f);
    free(f->login->user_id);
    f->login->user_id = uid;
    assert_int_equal(rw_request_code(c, f), E2EE_ERR_ARG);
    rt_free_frame(f);
    h_expect_usable(c);
    rw_close(c, 0);
}

/* 2500 valid ack items in one frame (a group, seq 0: nothing new): one request. */
static void many_ack_items(int arg)
{
    (void)arg;
    enum { N = 2500 };
    struct rt_ident id;
    struct rw *c = h_raw_user(&id, "pb");
    char gid[80];
    snprintf(gid, sizeof gid, "%s-a", id.uid);
    assert_int_equal(rw_request_code(c, h_frame(E2EE__CLIENT_FRAME__BODY_CREATE_GROUP, gid, NULL)),
                     0);
    E2ee__RelayAckItem *items = calloc(N, sizeof *items), **ptrs = calloc(N, sizeof *ptrs);
    assert_true(items && ptrs);
    for (int i = 0; i < N; i++) {
        e2ee__relay_ack_item__init(&items[i]);
        items[i].group_id = gid;
        items[i].seq = 0;
        ptrs[i] = &items[i];
    }
    E2ee__ClientFrame *f = h_frame(E2EE__CLIENT_FRAME__BODY_ACK, NULL, NULL);
    f->ack->items = ptrs;
    f->ack->n_items = N;
    assert_true(e2ee__client_frame__get_packed_size(f) <= H_MAX_FRAME);
    assert_int_equal(rw_request_code(c, f), 0);
    assert_int_equal(rw_request_code(c, h_frame(E2EE__CLIENT_FRAME__BODY_DELETE_GROUP, gid, NULL)),
                     0);
    free(items);
    free(ptrs);
    rw_close(c, 0);
}

const struct h_row k_rows_protobuf[] = {
    {"pb: garbage bytes", bytes_row, 0},
    {"pb: length prefix beyond the frame", bytes_row, 1},
    {"pb: varint field sent length-delimited", bytes_row, 2},
    {"pb: only an unknown field", bytes_row, 3},
    {"pb: start-group wire type", bytes_row, 4},
    {"pb: eleven-byte varint", bytes_row, 5},
    {"pb: field number 0 in a two-byte tag", bytes_row, 6},
    {"pb: unknown field holding junk", bytes_row, 7},
    {"pb: body cut inside its length", bytes_row, 8},
    {"pb: request_id given twice", bytes_row, 9},
    {"pb: a valid frame cut in half", truncated, 0},
    {"pb: two request bodies in one frame", two_bodies, 0},
    {"pb: NUL inside a group id", nul_in_group_id, 0},
    {"pb: user id of invalid UTF-8", bad_utf8_user, 0},
    {"pb: allocation bomb (30,000 empty ack items)", allocation_bomb, 0},
    {"pb: frame of exactly max_frame_size", exactly_max, 0},
    {"pb: request_id 2^64 - 1", max_request_id, 0},
    {"pb: 60 KB user id in a login", huge_login_strings, 0},
    {"pb: 2500 ack items in one request", many_ack_items, 0},
    {NULL, NULL, 0},
};
