/*
 * e2ee relay: identifiers (user ids, group ids) and the fixed sizes of the frame protocol.
 *
 * An id is 1..E2EE_RELAY_ID_MAX ASCII characters from [A-Za-z0-9._@+-]: safe in a log line,
 * in a SQLite key and in a metrics label, and unambiguous (no NUL, no space, no control).
 */
#ifndef E2EE_RELAY_IDS_H
#define E2EE_RELAY_IDS_H

#include <stddef.h>

#define E2EE_RELAY_ID_MAX 64          /* longest user or group id, bytes */
#define E2EE_RELAY_ID_BUF (E2EE_RELAY_ID_MAX + 1)
#define E2EE_RELAY_DEVICE_ID 1        /* the only device id accepted for now */
#define E2EE_RELAY_NONCE_LEN 32       /* challenge nonce */
#define E2EE_RELAY_KEY_LEN 32         /* Ed25519 / X25519 public key */
#define E2EE_RELAY_SIG_LEN 64         /* Ed25519 signature */
#define E2EE_RELAY_PROTOCOL_VERSION 1
#define E2EE_RELAY_SUBPROTOCOL "e2ee.v1"
#define E2EE_RELAY_LOGIN_LABEL "e2ee-relay-login-v1"

/* 1 if s is a valid id (see above), else 0. NULL is invalid. */
int e2ee__relay_id_valid(const char *s);

/* 1 if device (from a request) names the one device: 0 (unspecified) or 1. */
int e2ee__relay_device_ok(unsigned device);

#endif
