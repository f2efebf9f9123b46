/*
 * e2ee internal: the randomness source passed into the pure protocol code.
 *
 * The protocol layer never reads the CSPRNG or the clock itself: callers pass an e2ee__rng
 * (and the time as a parameter), so tests can inject a deterministic source and every path
 * is reproducible. Production code uses e2ee__rng_system().
 */
#ifndef E2EE_PROTO_RNG_H
#define E2EE_PROTO_RNG_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"

typedef struct e2ee__rng {
    /* Fills buf with len random bytes; returns E2EE_OK or a negative e2ee_err. */
    int (*fill)(void *ctx, uint8_t *buf, size_t len);
    void *ctx;
} e2ee__rng;

static inline int e2ee__rng_system_fill(void *ctx, uint8_t *buf, size_t len)
{
    (void)ctx;
    return e2ee__random_bytes(buf, len);
}

/* The system CSPRNG (libsodium through the crypto layer). */
static inline e2ee__rng e2ee__rng_system(void)
{
    e2ee__rng r = {e2ee__rng_system_fill, NULL};
    return r;
}

static inline int e2ee__rng_fill(const e2ee__rng *r, uint8_t *buf, size_t len)
{
    if (!r || !r->fill)
        return E2EE_ERR_ARG;
    return r->fill(r->ctx, buf, len);
}

#endif
