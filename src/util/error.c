/* e2ee: names and descriptions of error codes. */
#include "e2ee/error.h"

#include <stddef.h>

struct err_entry {
    int code;
    const char *name;
    const char *text;
};

#define E(c, t) {c, #c, t}
static const struct err_entry k_errors[] = {
    E(E2EE_OK, "success"),
    E(E2EE_ERR_ARG, "invalid argument"),
    E(E2EE_ERR_LENGTH, "wrong length"),
    E(E2EE_ERR_RANGE, "value out of range"),
    E(E2EE_ERR_STATE, "operation not valid in the current state"),
    E(E2EE_ERR_IN_CALLBACK, "blocking call not allowed inside a callback"),
    E(E2EE_ERR_NOT_SUPPORTED, "not supported"),
    E(E2EE_ERR_IO, "I/O error"),
    E(E2EE_ERR_CONNECT, "could not connect"),
    E(E2EE_ERR_NOT_CONNECTED, "not connected"),
    E(E2EE_ERR_TIMEOUT, "timed out"),
    E(E2EE_ERR_CLOSED, "connection closed"),
    E(E2EE_ERR_TLS, "TLS error"),
    E(E2EE_ERR_DECODE, "malformed data"),
    E(E2EE_ERR_VERSION, "unsupported version"),
    E(E2EE_ERR_TOO_LARGE, "over the size limit"),
    E(E2EE_ERR_UNEXPECTED, "unexpected message"),
    E(E2EE_ERR_PROTOCOL, "protocol violation"),
    E(E2EE_ERR_AUTH, "authentication failed"),
    E(E2EE_ERR_CRYPTO, "cryptographic failure"),
    E(E2EE_ERR_WEAK_KEY, "weak or low-order key"),
    E(E2EE_ERR_DUPLICATE, "duplicate message"),
    E(E2EE_ERR_REPLAY, "replayed message or reused one-time key"),
    E(E2EE_ERR_TOO_FAR_AHEAD, "message counter too far ahead"),
    E(E2EE_ERR_UNKNOWN_KEY, "unknown key id"),
    E(E2EE_ERR_KEY_EXPIRED, "key expired (outside its transition window)"),
    E(E2EE_ERR_WRONG_EPOCH, "wrong group epoch"),
    E(E2EE_ERR_NO_SESSION, "no session with that peer"),
    E(E2EE_ERR_UNTRUSTED_IDENTITY, "peer identity key changed and is not trusted"),
    E(E2EE_ERR_TOO_OLD, "message too old: its key is no longer held"),
    E(E2EE_ERR_STORE, "store error"),
    E(E2EE_ERR_CORRUPT, "corrupt record"),
    E(E2EE_ERR_NOT_FOUND, "not found"),
    E(E2EE_ERR_EXISTS, "already exists"),
    E(E2EE_ERR_NOMEM, "out of memory"),
    E(E2EE_ERR_LIMIT, "limit reached"),
    E(E2EE_ERR_QUEUE_FULL, "queue full"),
    E(E2EE_ERR_RATE_LIMITED, "rate limited"),
    E(E2EE_ERR_UNAVAILABLE, "service unavailable"),
    E(E2EE_ERR_UNAUTHENTICATED, "not logged in"),
    E(E2EE_ERR_LOGIN_REFUSED, "login refused"),
    E(E2EE_ERR_REGISTRATION, "registration refused"),
    E(E2EE_ERR_FORBIDDEN, "forbidden"),
    E(E2EE_ERR_NOT_MEMBER, "not a member of the group"),
    E(E2EE_ERR_NOT_OWNER, "only the group owner may do that"),
    E(E2EE_ERR_STALE_EPOCH, "stale group epoch"),
    E(E2EE_ERR_NO_SUCH_USER, "no such user"),
    E(E2EE_ERR_NO_SUCH_GROUP, "no such group"),
    E(E2EE_ERR_REPLACED, "replaced by a newer login"),
};
#undef E

static const struct err_entry *find(int code)
{
    for (size_t i = 0; i < sizeof k_errors / sizeof k_errors[0]; i++) {
        if (k_errors[i].code == code)
            return &k_errors[i];
    }
    return NULL;
}

const char *e2ee_strerror(int code)
{
    const struct err_entry *e = find(code);
    return e ? e->text : "unknown error";
}

const char *e2ee_errname(int code)
{
    const struct err_entry *e = find(code);
    return e ? e->name : "E2EE_ERR_UNKNOWN";
}
