/* e2ee relay: in-memory index of a group log's messages (see glog_index.h). */
#include "relay/glog_index.h"

#include <stdlib.h>
#include <string.h>

void e2ee__rglog_index_init(struct e2ee__rglog_index *x, uint64_t from)
{
    memset(x, 0, sizeof *x);
    x->from = from;
}

void e2ee__rglog_index_cleanup(struct e2ee__rglog_index *x)
{
    free(x->ring);
    memset(x, 0, sizeof *x);
}

static struct e2ee__rglog_ent *at(const struct e2ee__rglog_index *x, size_t i)
{
    return &x->ring[(x->head + i) & (x->cap - 1)];
}

static void drop_oldest(struct e2ee__rglog_index *x)
{
    x->from = at(x, 0)->seq;
    x->head = (x->head + 1) & (x->cap - 1);
    x->n--;
}

/* Doubles the ring (up to the maximum). 0, or -1 when it cannot grow. */
static int grow(struct e2ee__rglog_index *x)
{
    size_t ncap = x->cap ? x->cap * 2 : E2EE_RELAY_GLOG_INDEX_MIN;
    if (ncap > E2EE_RELAY_GLOG_INDEX_MAX)
        return -1;
    struct e2ee__rglog_ent *nr = malloc(ncap * sizeof *nr);
    if (!nr)
        return -1;
    for (size_t i = 0; i < x->n; i++)
        nr[i] = *at(x, i);
    free(x->ring);
    x->ring = nr;
    x->cap = ncap;
    x->head = 0;
    return 0;
}

void e2ee__rglog_index_push(struct e2ee__rglog_index *x, uint64_t seq, uint32_t len,
                            uint32_t sender)
{
    if (x->n == x->cap && grow(x) != 0) {
        if (!x->n) { /* no room at all: the index covers nothing before seq */
            x->from = seq;
            return;
        }
        drop_oldest(x);
    }
    struct e2ee__rglog_ent *e = at(x, x->n);
    e->seq = seq;
    e->len = len;
    e->sender = sender;
    x->n++;
}

void e2ee__rglog_index_trim(struct e2ee__rglog_index *x, uint64_t upto)
{
    while (x->n && at(x, 0)->seq <= upto) {
        x->head = (x->head + 1) & (x->cap - 1);
        x->n--;
    }
    if (upto > x->from)
        x->from = upto;
}

/* Position of the first entry with seq > after (binary search: seqs increase). */
static size_t first_after(const struct e2ee__rglog_index *x, uint64_t after)
{
    size_t lo = 0, hi = x->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (at(x, mid)->seq <= after)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int e2ee__rglog_index_count(const struct e2ee__rglog_index *x, uint64_t after, uint64_t upto,
                            uint32_t exclude, uint64_t *msgs, uint64_t *bytes)
{
    *msgs = 0;
    *bytes = 0;
    if (after < x->from)
        return -1;
    for (size_t i = first_after(x, after); i < x->n; i++) {
        const struct e2ee__rglog_ent *e = at(x, i);
        if (e->seq > upto)
            break;
        if (e->sender != exclude) {
            (*msgs)++;
            *bytes += e->len;
        }
    }
    return 0;
}
