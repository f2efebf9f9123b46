/* e2ee relay: reference-counted blobs and the per-connection output ring. */
#include "relay/outq.h"

#include <stdlib.h>
#include <string.h>

#define RING_MIN 16

struct e2ee__rblob *e2ee__rblob_new(enum e2ee__rblob_kind kind, size_t len)
{
    if (len > SIZE_MAX - sizeof(struct e2ee__rblob))
        return NULL;
    struct e2ee__rblob *b = malloc(sizeof *b + (len ? len : 1));
    if (!b)
        return NULL;
    b->refs = 1;
    b->kind = (uint8_t)kind;
    b->len = len;
    return b;
}

struct e2ee__rblob *e2ee__rblob_concat(enum e2ee__rblob_kind kind, const uint8_t *a, size_t alen,
                                       const uint8_t *b, size_t blen)
{
    if (alen > SIZE_MAX / 2 || blen > SIZE_MAX / 2)
        return NULL;
    struct e2ee__rblob *r = e2ee__rblob_new(kind, alen + blen);
    if (!r)
        return NULL;
    if (alen)
        memcpy(r->data, a, alen);
    if (blen)
        memcpy(r->data + alen, b, blen);
    return r;
}

struct e2ee__rblob *e2ee__rblob_ref(struct e2ee__rblob *b)
{
    if (b)
        b->refs++;
    return b;
}

void e2ee__rblob_unref(struct e2ee__rblob *b)
{
    if (b && --b->refs == 0)
        free(b);
}

void e2ee__outq_init(struct e2ee__outq *q)
{
    memset(q, 0, sizeof *q);
}

static struct e2ee__rblob **slot(const struct e2ee__outq *q, size_t i)
{
    return &q->ring[i & (q->cap - 1)];
}

void e2ee__outq_cleanup(struct e2ee__outq *q)
{
    for (size_t i = q->head; i != q->tail; i++)
        e2ee__rblob_unref(*slot(q, i));
    free(q->ring);
    memset(q, 0, sizeof *q);
}

static int grow(struct e2ee__outq *q)
{
    size_t ncap = q->cap ? q->cap * 2 : RING_MIN;
    if (ncap > SIZE_MAX / sizeof(struct e2ee__rblob *))
        return -1;
    struct e2ee__rblob **nr = malloc(ncap * sizeof *nr);
    if (!nr)
        return -1;
    size_t n = q->tail - q->head;
    for (size_t i = 0; i < n; i++)
        nr[i] = *slot(q, q->head + i);
    free(q->ring);
    q->ready -= q->head;
    q->tail = n;
    q->head = 0;
    q->ring = nr;
    q->cap = ncap;
    return 0;
}

int e2ee__outq_push(struct e2ee__outq *q, struct e2ee__rblob *b, int ready)
{
    if (q->tail - q->head == q->cap && grow(q) != 0)
        return -1;
    *slot(q, q->tail) = e2ee__rblob_ref(b);
    q->tail++;
    q->bytes += b->len;
    /* ready only when nothing is pending before it: order is never broken */
    if (ready && q->ready == q->tail - 1)
        q->ready = q->tail;
    return 0;
}

void e2ee__outq_release(struct e2ee__outq *q)
{
    q->ready = q->tail;
}

void e2ee__outq_drop_pending(struct e2ee__outq *q)
{
    while (q->tail != q->ready) {
        q->tail--;
        struct e2ee__rblob *b = *slot(q, q->tail);
        q->bytes -= b->len;
        e2ee__rblob_unref(b);
    }
}

size_t e2ee__outq_ready_count(const struct e2ee__outq *q)
{
    return q->ready - q->head;
}

int e2ee__outq_has_pending(const struct e2ee__outq *q)
{
    return q->tail != q->ready;
}

struct e2ee__rblob *e2ee__outq_peek(const struct e2ee__outq *q, size_t i)
{
    return *slot(q, q->head + i);
}

void e2ee__outq_pop(struct e2ee__outq *q, size_t n)
{
    for (size_t i = 0; i < n && q->head != q->ready; i++) {
        struct e2ee__rblob *b = *slot(q, q->head);
        q->bytes -= b->len;
        e2ee__rblob_unref(b);
        q->head++;
    }
}
