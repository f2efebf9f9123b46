/*
 * A small libwebsockets test server for the transport tests (not the relay): it runs on its
 * own thread on a loopback port, speaks subprotocol "e2ee.v1", records every whole message it
 * receives, echoes them (when echo is on) and, on request, sends frames (binary or text, whole
 * or in fragments), closes every connection with a code and reason, or drops them without a
 * close frame.
 */
#ifndef E2EE_TEST_WS_SERVER_H
#define E2EE_TEST_WS_SERVER_H

#include <stddef.h>
#include <stdint.h>

struct ws_server;

/* Starts a server on 127.0.0.1:port (0 picks a free port), with TLS when cert and key (PEM
 * files) are given. NULL on failure. */
struct ws_server *ws_server_start(int port, const char *cert, const char *key);
/* Stops the server (closing its connections) and frees it. NULL is a no-op. */
void ws_server_stop(struct ws_server *s);
int ws_server_port(const struct ws_server *s);

void ws_server_set_echo(struct ws_server *s, int on);
/* Sends data to every open connection as one message in `fragments` frames (>= 1), as a text
 * message when text is nonzero. */
void ws_server_send(struct ws_server *s, const uint8_t *data, size_t len, int fragments,
                    int text);
/* Closes every open connection with code and reason. */
void ws_server_close(struct ws_server *s, int code, const char *reason);

/* Number of messages received so far; connections accepted so far. */
size_t ws_server_count(struct ws_server *s);
unsigned ws_server_connections(struct ws_server *s);
/* Waits until at least n messages were received (up to timeout_ms); returns the count. */
size_t ws_server_wait_count(struct ws_server *s, size_t n, int timeout_ms);
/* Waits until at least n connections were accepted; returns the count. */
unsigned ws_server_wait_connections(struct ws_server *s, unsigned n, int timeout_ms);
/* Message i (valid until the server is stopped). */
void ws_server_message(struct ws_server *s, size_t i, const uint8_t **data, size_t *len);

#endif
