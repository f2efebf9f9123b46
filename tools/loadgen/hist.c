/*
 * e2ee-loadgen: latency histogram in microseconds. Log-linear buckets: exact below
 * LG_HIST_LINEAR us, then LG_HIST_SUB buckets per power of two, so a quantile is within
 * about 3 % of the true value at any scale, in fixed memory and O(1) per sample.
 */
#include "loadgen.h"

static unsigned ilog2_u64(uint64_t v)
{
    return 63u - (unsigned)__builtin_clzll(v);
}

static size_t bucket_of(uint64_t us)
{
    if (us < LG_HIST_LINEAR)
        return (size_t)us;
    unsigned e = ilog2_u64(us); /* 6.. */
    unsigned shift = e - 5;     /* keeps 5 bits below the leading one: 32 sub-buckets */
    size_t sub = (size_t)((us >> shift) & (LG_HIST_SUB - 1));
    size_t idx = LG_HIST_LINEAR + (size_t)(e - 6) * LG_HIST_SUB + sub;
    return idx < LG_HIST_BUCKETS ? idx : LG_HIST_BUCKETS - 1;
}

/* Largest value that falls in bucket idx. */
static uint64_t bucket_top(size_t idx)
{
    if (idx < LG_HIST_LINEAR)
        return idx;
    size_t k = idx - LG_HIST_LINEAR;
    unsigned e = (unsigned)(k / LG_HIST_SUB) + 6;
    uint64_t sub = k % LG_HIST_SUB;
    unsigned shift = e - 5;
    return ((((uint64_t)LG_HIST_SUB + sub) + 1) << shift) - 1;
}

void lg_hist_add(struct lg_hist *h, uint64_t us)
{
    h->counts[bucket_of(us)]++;
    h->n++;
    if (us > h->max)
        h->max = us;
}

uint64_t lg_hist_quantile(const struct lg_hist *h, double q)
{
    if (!h->n)
        return 0;
    if (q < 0)
        q = 0;
    if (q > 1)
        q = 1;
    uint64_t rank = (uint64_t)(q * (double)h->n);
    if (rank >= h->n)
        rank = h->n - 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < LG_HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen > rank) {
            uint64_t top = bucket_top(i);
            return top < h->max ? top : h->max;
        }
    }
    return h->max;
}
