#include "net_harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testutil.h"

void nh_rec_init(struct nh_rec *r)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
}

void nh_rec_cleanup(struct nh_rec *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->ev[i].data);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
}

void nh_rec_cb(const struct e2ee__net_event *ev, void *user)
{
    struct nh_rec *r = user;
    struct nh_event e;

    /* the hook runs first: a test that waits for this event may then read what it did */
    if (r->hook)
        r->hook(r, ev);

    memset(&e, 0, sizeof e);
    e.type = ev->type;
    e.attempt = ev->attempt;
    e.delay_ms = ev->delay_ms;
    e.err = ev->err;
    e.close_code = ev->close_code;
    e.local = ev->local;
    /* runs on the loop thread: cmocka's assertions must stay on the test thread */
    if (!ev->reason)
        abort();
    snprintf(e.reason, sizeof e.reason, "%s", ev->reason);
    if (ev->type == E2EE__NET_EV_FRAME) {
        e.data = malloc(ev->len + 1);
        if (!e.data)
            abort();
        if (ev->len)
            memcpy(e.data, ev->data, ev->len);
        e.len = ev->len;
    }
    pthread_mutex_lock(&r->mu);
    if (r->n >= NH_MAX_EVENTS)
        abort();
    r->ev[r->n++] = e;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static size_t count_locked(struct nh_rec *r, enum e2ee__net_event_type type)
{
    size_t c = 0;
    for (size_t i = 0; i < r->n; i++)
        c += r->ev[i].type == type;
    return c;
}

size_t nh_count(struct nh_rec *r, enum e2ee__net_event_type type)
{
    pthread_mutex_lock(&r->mu);
    size_t c = count_locked(r, type);
    pthread_mutex_unlock(&r->mu);
    return c;
}

size_t nh_wait(struct nh_rec *r, enum e2ee__net_event_type type, size_t n)
{
    struct timespec ts;
    size_t c;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += NH_WAIT_MS / 1000;
    pthread_mutex_lock(&r->mu);
    while ((c = count_locked(r, type)) < n &&
           pthread_cond_timedwait(&r->cv, &r->mu, &ts) == 0)
        ;
    pthread_mutex_unlock(&r->mu);
    return c;
}

struct nh_event nh_get(struct nh_rec *r, size_t i)
{
    pthread_mutex_lock(&r->mu);
    assert_true(i < r->n);
    struct nh_event e = r->ev[i];
    pthread_mutex_unlock(&r->mu);
    return e;
}

size_t nh_total(struct nh_rec *r)
{
    pthread_mutex_lock(&r->mu);
    size_t n = r->n;
    pthread_mutex_unlock(&r->mu);
    return n;
}

size_t nh_find(struct nh_rec *r, enum e2ee__net_event_type type, size_t k)
{
    size_t found = (size_t)-1;
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n; i++) {
        if (r->ev[i].type == type && k-- == 0) {
            found = i;
            break;
        }
    }
    pthread_mutex_unlock(&r->mu);
    return found;
}

void nh_config(struct e2ee__net_config *cfg, char *url_buf, size_t url_size, int port,
               struct nh_rec *r)
{
    e2ee__net_config_init(cfg);
    snprintf(url_buf, url_size, "ws://127.0.0.1:%d/", port);
    cfg->url = url_buf;
    cfg->retry_min_ms = NH_RETRY_MIN_MS;
    cfg->retry_max_ms = NH_RETRY_MAX_MS;
    cfg->retry_seed = NH_SEED;
    cfg->ping_s = 0;
    cfg->cb = nh_rec_cb;
    cfg->user = r;
}

void nh_pattern(uint8_t *buf, size_t len, uint32_t tag)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(tag * 31u + i * 7u + (i >> 8));
}
