/* e2ee net: reconnect delays (exponential backoff with jitter). */
#include "net/backoff.h"

/* Past this many doublings any base is capped by max_ms (32-bit values). */
#define BACKOFF_MAX_SHIFT 31

void e2ee__backoff_init(struct e2ee__backoff *b, uint32_t min_ms, uint32_t max_ms,
                        uint64_t seed)
{
    b->min_ms = min_ms;
    b->max_ms = max_ms;
    b->state = seed;
}

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint32_t e2ee__backoff_base(const struct e2ee__backoff *b, unsigned n)
{
    unsigned shift = n > 1 ? n - 1 : 0;
    uint64_t base;

    if (shift > BACKOFF_MAX_SHIFT)
        shift = BACKOFF_MAX_SHIFT;
    base = (uint64_t)b->min_ms << shift; /* < 2^63: min_ms < 2^32 */
    return base > b->max_ms ? b->max_ms : (uint32_t)base;
}

uint32_t e2ee__backoff_next(struct e2ee__backoff *b, unsigned n)
{
    uint32_t base = e2ee__backoff_base(b, n);
    uint32_t low = base / 2;
    uint64_t span = (uint64_t)(base - low) + 1;
    /* the modulo bias is below 2^-31 for any span here: irrelevant for a delay */
    return low + (uint32_t)(splitmix64(&b->state) % span);
}
