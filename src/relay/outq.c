/* e2ee relay: reference-counted blobs and the per-connection output lanes. */
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

static struct e2ee__rblob **slot(const struct e2ee__outlane *l, size_t i)
{
    return &l->ring[i & (l->cap - 1)];
}

void e2ee__outq_cleanup(struct e2ee__outq *q)
{
    for (int k = 0; k < E2EE_RBLOB_KINDS; k++) {
        struct e2ee__outlane *l = &q->lane[k];
        for (size_t i = l->head; i != l->tail; i++)
            e2ee__rblob_unref(*slot(l, i));
        free(l->ring);
    }
    memset(q, 0, sizeof *q);
}

static int grow(struct e2ee__outlane *l)
{
    size_t ncap = l->cap ? l->cap * 2 : RING_MIN;
    if (ncap > SIZE_MAX / sizeof(struct e2ee__rblob *))
        return -1;
    struct e2ee__rblob **nr = malloc(ncap * sizeof *nr);
    if (!nr)
        return -1;
    size_t n = l->tail - l->head;
    for (size_t i = 0; i < n; i++)
        nr[i] = *slot(l, l->head + i);
    free(l->ring);
    l->ready -= l->head;
    l->tail = n;
    l->head = 0;
    l->ring = nr;
    l->cap = ncap;
    return 0;
}

int e2ee__outq_push(struct e2ee__outq *q, struct e2ee__rblob *b, int ready)
{
    struct e2ee__outlane *l = &q->lane[b->kind == E2EE_RBLOB_FRAME ? 0 : 1];
    if (l->tail - l->head == l->cap && grow(l) != 0)
        return -1;
    *slot(l, l->tail) = e2ee__rblob_ref(b);
    l->tail++;
    q->bytes += b->len;
    /* ready only when nothing is pending before it: order is never broken */
    if (ready && l->ready == l->tail - 1)
        l->ready = l->tail;
    return 0;
}

void e2ee__outq_release(struct e2ee__outq *q)
{
    for (int k = 0; k < E2EE_RBLOB_KINDS; k++)
        q->lane[k].ready = q->lane[k].tail;
}

void e2ee__outq_drop_pending(struct e2ee__outq *q)
{
    for (int k = 0; k < E2EE_RBLOB_KINDS; k++) {
        struct e2ee__outlane *l = &q->lane[k];
        while (l->tail != l->ready) {
            l->tail--;
            struct e2ee__rblob *b = *slot(l, l->tail);
            q->bytes -= b->len;
            e2ee__rblob_unref(b);
        }
    }
}

size_t e2ee__outq_ready_count(const struct e2ee__outq *q, int kind)
{
    if (kind >= 0 && kind < E2EE_RBLOB_KINDS)
        return q->lane[kind].ready - q->lane[kind].head;
    return q->lane[0].ready - q->lane[0].head + q->lane[1].ready - q->lane[1].head;
}

int e2ee__outq_has_pending(const struct e2ee__outq *q)
{
    return q->lane[0].tail != q->lane[0].ready || q->lane[1].tail != q->lane[1].ready;
}

struct e2ee__rblob *e2ee__outq_peek(const struct e2ee__outq *q, enum e2ee__rblob_kind kind,
                                    size_t i)
{
    const struct e2ee__outlane *l = &q->lane[kind == E2EE_RBLOB_FRAME ? 0 : 1];
    return *slot(l, l->head + i);
}

void e2ee__outq_pop(struct e2ee__outq *q, enum e2ee__rblob_kind kind, size_t n)
{
    struct e2ee__outlane *l = &q->lane[kind == E2EE_RBLOB_FRAME ? 0 : 1];
    for (size_t i = 0; i < n && l->head != l->ready; i++) {
        struct e2ee__rblob *b = *slot(l, l->head);
        q->bytes -= b->len;
        e2ee__rblob_unref(b);
        l->head++;
    }
}
