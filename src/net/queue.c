/* e2ee net: the outgoing frame queue. */
#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

#include "net/net.h"
#include "net/queue.h"

uint8_t *e2ee__net_frame_data(struct e2ee__net_frame *f)
{
    return f->buf + LWS_PRE;
}

struct e2ee__net_frame *e2ee__net_frame_new(const uint8_t *data, size_t len, unsigned flags)
{
    /* len is at most E2EE__NET_MAX_FRAME_LIMIT: no overflow */
    struct e2ee__net_frame *f = malloc(sizeof *f + LWS_PRE + len);
    if (f) {
        f->next = NULL;
        f->len = len;
        f->flags = flags;
        if (len > 0)
            memcpy(f->buf + LWS_PRE, data, len);
    }
    return f;
}

void e2ee__net_frame_free(struct e2ee__net_frame *f)
{
    free(f);
}

static struct e2ee__net_fifo *fifo_of(struct e2ee__net_queue *q, const struct e2ee__net_frame *f)
{
    return (f->flags & E2EE__NET_SEND_PRIORITY) ? &q->prio : &q->normal;
}

void e2ee__net_queue_push(struct e2ee__net_queue *q, struct e2ee__net_frame *f)
{
    struct e2ee__net_fifo *l = fifo_of(q, f);
    f->next = NULL;
    if (l->tail)
        l->tail->next = f;
    else
        l->head = f;
    l->tail = f;
    q->frames++;
    q->bytes += f->len;
}

void e2ee__net_queue_push_front(struct e2ee__net_queue *q, struct e2ee__net_frame *f)
{
    struct e2ee__net_fifo *l = fifo_of(q, f);
    f->next = l->head;
    l->head = f;
    if (!l->tail)
        l->tail = f;
    q->frames++;
    q->bytes += f->len;
}

static struct e2ee__net_frame *fifo_pop(struct e2ee__net_fifo *l)
{
    struct e2ee__net_frame *f = l->head;
    if (f) {
        l->head = f->next;
        if (!l->head)
            l->tail = NULL;
        f->next = NULL;
    }
    return f;
}

struct e2ee__net_frame *e2ee__net_queue_pop(struct e2ee__net_queue *q, int held)
{
    struct e2ee__net_frame *f = fifo_pop(&q->prio);
    if (!f && !held)
        f = fifo_pop(&q->normal);
    if (f) {
        q->frames--;
        q->bytes -= f->len;
    }
    return f;
}

int e2ee__net_queue_ready(const struct e2ee__net_queue *q, int held)
{
    return q->prio.head != NULL || (!held && q->normal.head != NULL);
}

static size_t fifo_drop_volatile(struct e2ee__net_queue *q, struct e2ee__net_fifo *l)
{
    struct e2ee__net_frame **pp = &l->head, *f;
    size_t dropped = 0;

    l->tail = NULL;
    while ((f = *pp) != NULL) {
        if (f->flags & E2EE__NET_SEND_VOLATILE) {
            *pp = f->next;
            q->frames--;
            q->bytes -= f->len;
            e2ee__net_frame_free(f);
            dropped++;
        } else {
            l->tail = f;
            pp = &f->next;
        }
    }
    return dropped;
}

size_t e2ee__net_queue_drop_volatile(struct e2ee__net_queue *q)
{
    return fifo_drop_volatile(q, &q->prio) + fifo_drop_volatile(q, &q->normal);
}

void e2ee__net_queue_clear(struct e2ee__net_queue *q)
{
    struct e2ee__net_frame *f;
    while ((f = e2ee__net_queue_pop(q, 0)) != NULL)
        e2ee__net_frame_free(f);
    memset(q, 0, sizeof *q);
}
