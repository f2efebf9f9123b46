/*
 * e2ee: error codes.
 *
 * Every function of the library that can fail returns an `int` that is E2EE_OK (0) or one of
 * the negative codes below. Codes are grouped by kind in ranges of 20; a code's value never
 * changes once released (the relay sends them on the wire as result codes).
 *
 * Every authentication failure (a bad AEAD tag, a bad signature) is reported as the single
 * code E2EE_ERR_AUTH, so an attacker cannot learn which check failed.
 */
#ifndef E2EE_ERROR_H
#define E2EE_ERROR_H

#include "e2ee/export.h"

#ifdef __cplusplus
extern "C" {
#endif

enum e2ee_err {
    E2EE_OK = 0,

    /* Argument errors: the caller passed something unusable. */
    E2EE_ERR_ARG = -1,          /* NULL pointer or invalid argument value */
    E2EE_ERR_LENGTH = -2,       /* buffer or string of the wrong length */
    E2EE_ERR_RANGE = -3,        /* numeric value out of its allowed range */
    E2EE_ERR_STATE = -4,        /* call not valid in the object's current state */
    E2EE_ERR_IN_CALLBACK = -5,  /* blocking call made from inside a callback */
    E2EE_ERR_NOT_SUPPORTED = -6,/* feature or option not supported by this build */

    /* I/O and transport errors. */
    E2EE_ERR_IO = -20,          /* operating-system I/O failure */
    E2EE_ERR_CONNECT = -21,     /* could not connect to the relay */
    E2EE_ERR_NOT_CONNECTED = -22,/* no connection to the relay */
    E2EE_ERR_TIMEOUT = -23,     /* the operation timed out */
    E2EE_ERR_CLOSED = -24,      /* the connection or object was closed */
    E2EE_ERR_TLS = -25,         /* TLS set-up or handshake failure */

    /* Protocol errors: malformed or unexpected data from a peer or the relay. */
    E2EE_ERR_DECODE = -40,      /* malformed encoding (truncated, bad field, bad length) */
    E2EE_ERR_VERSION = -41,     /* unsupported protocol or record version */
    E2EE_ERR_TOO_LARGE = -42,   /* frame, field or count over its limit */
    E2EE_ERR_UNEXPECTED = -43,  /* valid message that is not allowed at this point */
    E2EE_ERR_PROTOCOL = -44,    /* other violation of the protocol */

    /* Cryptographic errors. */
    E2EE_ERR_AUTH = -60,        /* authentication failed (bad tag or bad signature) */
    E2EE_ERR_CRYPTO = -61,      /* internal failure of a cryptographic primitive */
    E2EE_ERR_WEAK_KEY = -62,    /* key agreement gave an all-zero (low-order) result */
    E2EE_ERR_DUPLICATE = -63,   /* message already decrypted (duplicate delivery) */
    E2EE_ERR_REPLAY = -64,      /* replayed message or reused one-time key */
    E2EE_ERR_TOO_FAR_AHEAD = -65,/* message counter jumps beyond the skip limit */
    E2EE_ERR_UNKNOWN_KEY = -66, /* no key with that id (sender key, prekey, session) */
    E2EE_ERR_KEY_EXPIRED = -67, /* key id outside its transition window; material wiped */
    E2EE_ERR_WRONG_EPOCH = -68, /* message bound to another group epoch than its key */
    E2EE_ERR_NO_SESSION = -69,  /* no pairwise session with that peer */
    E2EE_ERR_UNTRUSTED_IDENTITY = -70, /* peer identity key changed and is not trusted */
    E2EE_ERR_TOO_OLD = -75,     /* message key no longer held (before the key's start, or
                                   evicted from the skipped-key window) */

    /* Store errors. */
    E2EE_ERR_STORE = -80,       /* the store failed (SQLite error, disk full) */
    E2EE_ERR_CORRUPT = -81,     /* stored record is corrupt or fails its checks */
    E2EE_ERR_NOT_FOUND = -82,   /* no such item */
    E2EE_ERR_EXISTS = -83,      /* item already exists */

    /* Resource errors. */
    E2EE_ERR_NOMEM = -100,      /* out of memory */
    E2EE_ERR_LIMIT = -101,      /* a configured limit was reached */
    E2EE_ERR_QUEUE_FULL = -102, /* a queue is full (messages or bytes) */
    E2EE_ERR_RATE_LIMITED = -103,/* too many requests; slow down */
    E2EE_ERR_UNAVAILABLE = -104,/* the relay is shutting down or overloaded */

    /* Access errors (relay authentication and authorisation). */
    E2EE_ERR_UNAUTHENTICATED = -120, /* request needs a logged-in connection */
    E2EE_ERR_LOGIN_REFUSED = -121,   /* login proof failed or identity key mismatch */
    E2EE_ERR_REGISTRATION = -122,    /* registration refused (token missing or wrong) */
    E2EE_ERR_FORBIDDEN = -123,       /* not allowed (not owner, not member) */
    E2EE_ERR_NOT_MEMBER = -124,      /* sender is not a member of the group */
    E2EE_ERR_NOT_OWNER = -125,       /* only the group owner may do that */
    E2EE_ERR_STALE_EPOCH = -126,     /* group epoch has moved on; rotate and resend */
    E2EE_ERR_NO_SUCH_USER = -127,    /* unknown user id */
    E2EE_ERR_NO_SUCH_GROUP = -128,   /* unknown or deleted group */
    E2EE_ERR_REPLACED = -129,        /* session replaced by a newer login of the same user */
};

/*
 * Returns a static, human-readable description of `code` (never NULL; unknown codes get
 * "unknown error"). Thread-safe.
 */
E2EE_API const char *e2ee_strerror(int code);

/*
 * Returns the symbolic name of `code` ("E2EE_ERR_AUTH"), or "E2EE_ERR_UNKNOWN". Thread-safe.
 */
E2EE_API const char *e2ee_errname(int code);

#ifdef __cplusplus
}
#endif
#endif
