/*
 * e2ee internal: the outgoing frame queue of the transport. Two FIFO lists: priority frames
 * and the others. Not thread-safe by itself: struct e2ee__net guards it with its mutex.
 * Each frame is allocated with LWS_PRE bytes of headroom so that lws_write() needs no copy.
 */
#ifndef E2EE_NET_QUEUE_H
#define E2EE_NET_QUEUE_H

#include <stddef.h>
#include <stdint.h>

struct e2ee__net_frame {
    struct e2ee__net_frame *next;
    size_t len;
    unsigned flags;  /* E2EE__NET_SEND_* */
    uint8_t buf[];   /* LWS_PRE bytes of headroom, then the payload */
};

struct e2ee__net_fifo {
    struct e2ee__net_frame *head;
    struct e2ee__net_frame *tail;
};

struct e2ee__net_queue {
    struct e2ee__net_fifo prio;
    struct e2ee__net_fifo normal;
    size_t frames;
    size_t bytes;
};

/* Payload of a frame. */
uint8_t *e2ee__net_frame_data(struct e2ee__net_frame *f);
/* A new frame holding a copy of data[0..len) (data may be NULL when len is 0); NULL when out
 * of memory. */
struct e2ee__net_frame *e2ee__net_frame_new(const uint8_t *data, size_t len, unsigned flags);
void e2ee__net_frame_free(struct e2ee__net_frame *f);

/* Appends f to its list (by its PRIORITY flag). */
void e2ee__net_queue_push(struct e2ee__net_queue *q, struct e2ee__net_frame *f);
/* Puts f back at the head of its list (a frame whose write did not complete). */
void e2ee__net_queue_push_front(struct e2ee__net_queue *q, struct e2ee__net_frame *f);
/* Takes the next frame to write: a priority frame, else (when not held) a normal one. */
struct e2ee__net_frame *e2ee__net_queue_pop(struct e2ee__net_queue *q, int held);
/* 1 when e2ee__net_queue_pop() would return a frame. */
int e2ee__net_queue_ready(const struct e2ee__net_queue *q, int held);
/* Frees every VOLATILE frame; returns how many. */
size_t e2ee__net_queue_drop_volatile(struct e2ee__net_queue *q);
/* Frees every frame. */
void e2ee__net_queue_clear(struct e2ee__net_queue *q);

#endif
