/*
 * e2ee tests: a raw WebSocket client for hostile tests. It speaks TCP itself, so it can say
 * anything: a handshake cut short or malformed, frames unmasked, fragmented, oversized, with
 * reserved bits or unknown opcodes, lengths that lie. Frames are built by hand (RFC 6455).
 *
 * Every wait is bounded, and while waiting it also services the lws clients of relaytest.c
 * (rt_pump), so that well-behaved clients in the same test keep answering the relay's pings.
 * Single-threaded, like relaytest.
 */
#ifndef E2EE_RAWWS_H
#define E2EE_RAWWS_H

#include <stddef.h>
#include <stdint.h>

#include "e2ee.pb-c.h"
#include "relaytest.h"

#define RW_OP_CONT 0x0
#define RW_OP_TEXT 0x1
#define RW_OP_BINARY 0x2
#define RW_OP_CLOSE 0x8
#define RW_OP_PING 0x9
#define RW_OP_PONG 0xA

/* How a frame header writes its payload length. */
enum rw_len_form {
    RW_LEN_MINIMAL = 0,
    RW_LEN_16 = 1, /* 126 + 16 bits, even when shorter would do */
    RW_LEN_64 = 2, /* 127 + 64 bits */
};

struct rw;

/* A frame as written: every header field is the caller's choice. declared_len is the length
 * the header claims; len bytes of payload follow (they may differ: a lie). */
struct rw_frame_spec {
    int fin;           /* 1: last fragment */
    int rsv;           /* RSV1..3 bits, 0..7 */
    int opcode;
    int masked;        /* 1: masked, as clients must */
    enum rw_len_form form;
    uint64_t declared_len;
    const uint8_t *payload;
    size_t len;
};

/* A frame as received (payload owned by the client until the next read). */
struct rw_frame {
    int fin;
    int opcode;
    const uint8_t *payload;
    size_t len;
};

/* TCP connection to 127.0.0.1:port. NULL on failure. */
struct rw *rw_tcp(int port);
/* Same with a receive buffer of about rcvbuf bytes (a reader that can hold little). */
struct rw *rw_tcp_rcvbuf(int port, int rcvbuf);
/* Closes (RST when rst is set: SO_LINGER 0) and frees. NULL is a no-op. */
void rw_close(struct rw *c, int rst);
int rw_fd(const struct rw *c);

/* Writes all of buf (bounded wait). 0, or -1 when the peer is gone. */
int rw_write(struct rw *c, const void *buf, size_t len);
/* Half-closes the sending side (shutdown SHUT_WR). */
void rw_shutdown_write(struct rw *c);

/* Sends a WebSocket upgrade request (subprotocol NULL: none; extra: more header lines
 * ending in CRLF, or NULL) and reads the response head. Returns the HTTP status, or -1
 * when the connection ended or nothing came in time. */
int rw_handshake(struct rw *c, const char *subprotocol, const char *extra);
/* Like rw_handshake but the whole request text is the caller's. */
int rw_request(struct rw *c, const char *request);
/* TCP connection and upgrade with subprotocol e2ee.v1. NULL unless the relay said 101. */
struct rw *rw_open(int port);

/* Builds a frame into out (room for len + 14 bytes); returns its size. */
size_t rw_build(uint8_t *out, const struct rw_frame_spec *s);
/* Sends one frame built from s. 0 or -1. */
int rw_send_spec(struct rw *c, const struct rw_frame_spec *s);
/* A masked frame with the minimal length form. */
int rw_send_frame(struct rw *c, int fin, int opcode, const void *payload, size_t len);

/*
 * Reads the next frame. Returns 1 (frame in *f), 0 (nothing within timeout_ms) or -1 (the
 * connection ended: EOF, reset, or a frame the relay could not have sent, such as a masked
 * one). A close frame sets the close code and reason (rw_close_code) and is returned.
 */
int rw_read_frame(struct rw *c, struct rw_frame *f, int timeout_ms);
/* With on set, rw_read_frame answers pings itself (and does not return them): a client
 * that is alive at the WebSocket level whatever else it does. Off by default. */
void rw_answer_pings(struct rw *c, int on);
/* Close code of the close frame received (0: none yet; 1005 for one without a code). */
int rw_close_code(const struct rw *c);
const char *rw_close_reason(const struct rw *c);
/* 1 once the relay ended the connection (close frame or EOF/reset seen). */
int rw_is_closed(const struct rw *c);
/* Waits until the relay ends the connection, reading and dropping what comes; answers no
 * ping. 0 when it ended within timeout_ms (code: its close code, 0 without a close frame). */
int rw_wait_closed(struct rw *c, int timeout_ms, int *code);

/* The next ServerFrame (pings are answered, pongs dropped). NULL on timeout or close.
 * Free with e2ee__server_frame__free_unpacked(f, NULL). */
E2ee__ServerFrame *rw_next_server_frame(struct rw *c, int timeout_ms);
/* Packs f (request_id 0 gets a fresh id) and sends it as one binary frame, or in fragments
 * of at most `fragment` bytes (0: one frame). Returns the request id, 0 on failure. */
uint64_t rw_send_client_frame(struct rw *c, E2ee__ClientFrame *f, size_t fragment);
/* Waits for the result of request req, keeping other frames aside (challenges: see
 * rw_challenge). NULL on timeout or close. Free with rt_free_result. */
E2ee__RelayResult *rw_wait_result(struct rw *c, uint64_t req, int timeout_ms);
/* Sends f and waits for its result code (1 on timeout or close). */
int rw_request_code(struct rw *c, E2ee__ClientFrame *f);
/* The latest challenge received (read from the connection first when none came yet). */
const E2ee__RelayChallenge *rw_challenge(struct rw *c, int timeout_ms);
/* Forgets the latest challenge, so that rw_challenge waits for the next one. */
void rw_forget_challenge(struct rw *c);
/* Login frame answering the latest challenge as id (uid NULL: id->uid; relay_id NULL: the
 * challenge's; nonce NULL: the challenge's). Free with rt_free_frame. */
E2ee__ClientFrame *rw_login_frame(struct rw *c, const struct rt_ident *id, const char *uid,
                                  const char *relay_id, const uint8_t *nonce);
/* Logs in as id; returns the result code (1 on timeout). */
int rw_login(struct rw *c, const struct rt_ident *id);
/* Opens a connection and logs in; NULL on failure. */
struct rw *rw_open_login(int port, const struct rt_ident *id);

#endif
