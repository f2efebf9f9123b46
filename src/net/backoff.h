/*
 * e2ee internal: reconnect delays, exponential with jitter. Pure: the random source is a
 * small deterministic generator seeded by the caller (from the CSPRNG in production, from a
 * fixed seed in tests, so that a test can predict every delay).
 *
 * Retry n (n >= 1) waits a delay drawn uniformly from [base/2, base] where
 * base = min(max_ms, min_ms * 2^(n-1)): the first retry waits about min_ms, each further one
 * about twice as long, up to max_ms; the jitter spreads clients that lost the relay together.
 */
#ifndef E2EE_NET_BACKOFF_H
#define E2EE_NET_BACKOFF_H

#include <stdint.h>

struct e2ee__backoff {
    uint32_t min_ms;
    uint32_t max_ms;
    uint64_t state; /* generator state (splitmix64) */
};

/* min_ms >= 1 and max_ms >= min_ms are the caller's to check. */
void e2ee__backoff_init(struct e2ee__backoff *b, uint32_t min_ms, uint32_t max_ms,
                        uint64_t seed);
/* Upper bound of retry n's delay (n >= 1; n = 0 is treated as 1). */
uint32_t e2ee__backoff_base(const struct e2ee__backoff *b, unsigned n);
/* Delay of retry n, advancing the generator. */
uint32_t e2ee__backoff_next(struct e2ee__backoff *b, unsigned n);

#endif
