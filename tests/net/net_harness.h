/* Shared helpers of the transport tests: an event recorder and a test configuration. */
#ifndef E2EE_TEST_NET_HARNESS_H
#define E2EE_TEST_NET_HARNESS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "net/net.h"

/* Safety net for waits, so that a broken build fails instead of hanging (never asserted). */
#define NH_WAIT_MS 20000
#define NH_MAX_EVENTS 4096

struct nh_event {
    enum e2ee__net_event_type type;
    unsigned attempt;
    uint32_t delay_ms;
    int err;
    uint16_t close_code;
    int local;
    char reason[128];
    uint8_t *data;
    size_t len;
};

struct nh_rec;
/* Called on the loop thread for every event, before it is recorded (may be NULL). */
typedef void (*nh_hook)(struct nh_rec *r, const struct e2ee__net_event *ev);

struct nh_rec {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct nh_event ev[NH_MAX_EVENTS];
    size_t n;
    nh_hook hook;
    void *hook_arg;
    struct e2ee__net *net;
};

void nh_rec_init(struct nh_rec *r);
void nh_rec_cleanup(struct nh_rec *r);
/* The event callback to put in the config (user = the recorder). */
void nh_rec_cb(const struct e2ee__net_event *ev, void *user);
/* Number of events of `type` recorded. */
size_t nh_count(struct nh_rec *r, enum e2ee__net_event_type type);
/* Waits until at least n events of `type` are recorded; returns the count. */
size_t nh_wait(struct nh_rec *r, enum e2ee__net_event_type type, size_t n);
/* Copy of event i (its data pointer stays owned by the recorder). */
struct nh_event nh_get(struct nh_rec *r, size_t i);
size_t nh_total(struct nh_rec *r);
/* Index of the k-th (0-based) event of `type`, or (size_t)-1. */
size_t nh_find(struct nh_rec *r, enum e2ee__net_event_type type, size_t k);

/* A config for ws://127.0.0.1:port/ with small, seeded backoff and no pings. */
void nh_config(struct e2ee__net_config *cfg, char *url_buf, size_t url_size, int port,
               struct nh_rec *r);
#define NH_RETRY_MIN_MS 20
#define NH_RETRY_MAX_MS 160
#define NH_SEED 0x5eed

/* Deterministic test payload: byte i of message `tag` */
void nh_pattern(uint8_t *buf, size_t len, uint32_t tag);

#endif
