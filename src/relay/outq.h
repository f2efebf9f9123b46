/*
 * e2ee relay: outgoing data of one connection.
 *
 * A blob is an immutable, reference-counted byte string: an encoded ServerFrame, or an
 * encoded RelayDelivery that the writer wraps, with its neighbours, into one
 * ServerFrame{deliveries} (one socket write for many deliveries). A group message is
 * encoded once and its blob shared by every member's queue.
 *
 * The queue is a ring of blob references in three parts:
 *   [head, ready)  committed: the writer may send these now;
 *   [ready, tail)  pending: produced inside the open store transaction, released (ready =
 *                  tail) when it commits, dropped (tail = ready) when it rolls back.
 * `bytes` counts the data of every queued blob (the unsent bytes of the connection).
 */
#ifndef E2EE_RELAY_OUTQ_H
#define E2EE_RELAY_OUTQ_H

#include <stddef.h>
#include <stdint.h>

enum e2ee__rblob_kind {
    E2EE_RBLOB_FRAME = 0,    /* a whole ServerFrame */
    E2EE_RBLOB_DELIVERY = 1, /* one RelayDelivery, batched by the writer */
};

struct e2ee__rblob {
    uint32_t refs;
    uint8_t kind;
    size_t len;
    uint8_t data[];
};

/* New blob of len bytes (uninitialised data), one reference. NULL when out of memory. */
struct e2ee__rblob *e2ee__rblob_new(enum e2ee__rblob_kind kind, size_t len);
/* New blob holding a copy of a || b. */
struct e2ee__rblob *e2ee__rblob_concat(enum e2ee__rblob_kind kind, const uint8_t *a, size_t alen,
                                       const uint8_t *b, size_t blen);
struct e2ee__rblob *e2ee__rblob_ref(struct e2ee__rblob *b);
void e2ee__rblob_unref(struct e2ee__rblob *b);

struct e2ee__outq {
    struct e2ee__rblob **ring;
    size_t cap;   /* power of two, or 0 */
    size_t head, ready, tail; /* monotonic counters; index = counter & (cap - 1) */
    size_t bytes; /* data bytes of every queued blob */
};

void e2ee__outq_init(struct e2ee__outq *q);
/* Drops every blob and frees the ring. */
void e2ee__outq_cleanup(struct e2ee__outq *q);
/* Appends b (taking a new reference) as pending, or as ready when `ready` is set and
 * nothing is pending (otherwise it waits behind the pending blobs).
 * Returns 0, or -1 when out of memory. */
int e2ee__outq_push(struct e2ee__outq *q, struct e2ee__rblob *b, int ready);
/* Pending blobs become ready. */
void e2ee__outq_release(struct e2ee__outq *q);
/* Pending blobs are dropped. */
void e2ee__outq_drop_pending(struct e2ee__outq *q);
size_t e2ee__outq_ready_count(const struct e2ee__outq *q);
int e2ee__outq_has_pending(const struct e2ee__outq *q);
/* The i-th ready blob from the head (i < ready count), not removed. */
struct e2ee__rblob *e2ee__outq_peek(const struct e2ee__outq *q, size_t i);
/* Removes n ready blobs from the head. */
void e2ee__outq_pop(struct e2ee__outq *q, size_t n);

#endif
