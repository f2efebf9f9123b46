/*
 * e2ee client: configuration, creating and freeing a client, connection control.
 */
#include <stdlib.h>
#include <string.h>

#include "client/client_internal.h"

#define WEEK_S (7u * 24 * 3600)

void e2ee_client_config_init(struct e2ee_client_config *cfg)
{
    if (cfg) {
        memset(cfg, 0, sizeof *cfg);
        cfg->ack_direct = 1;
        cfg->ack_group = 1;
        cfg->reconnect_min_ms = E2EE__NET_RETRY_MIN_MS_DEFAULT;
        cfg->reconnect_max_ms = E2EE__NET_RETRY_MAX_MS_DEFAULT;
        cfg->keepalive_s = E2EE__NET_PING_S_DEFAULT;
        cfg->transition_window_s = E2EE_SENDER_KEY_WINDOW_MS_DEFAULT / 1000;
        cfg->transition_window_keys = E2EE_SENDER_KEY_WINDOW_STATES_DEFAULT;
        cfg->pending_timeout_s = E2EE__CLIENT_PENDING_TIMEOUT_S_DEFAULT;
        cfg->identity_policy = E2EE_IDENTITY_BLOCK;
        cfg->log_level = E2EE_LOG_WARNING;
    }
}

static int check_config(const struct e2ee_client_config *cfg)
{
    int rc = cfg->relay_url && cfg->event_cb ? e2ee__client_id_check(cfg->user_id) : E2EE_ERR_ARG;
    if (rc == E2EE_OK && cfg->reconnect_min_ms > 0 &&
        cfg->reconnect_max_ms < cfg->reconnect_min_ms)
        rc = E2EE_ERR_ARG;
    else if (rc == E2EE_OK &&
             (cfg->transition_window_s > WEEK_S ||
              cfg->transition_window_keys > E2EE_SENDER_KEY_WINDOW_STATES_MAX ||
              cfg->pending_timeout_s == 0 ||
              cfg->pending_timeout_s > E2EE__CLIENT_PENDING_TIMEOUT_S_MAX ||
              cfg->reconnect_max_ms > E2EE__CLIENT_RECONNECT_MAX_LIMIT_MS ||
              cfg->keepalive_s > E2EE__NET_PING_S_MAX))
        rc = E2EE_ERR_RANGE;
    else if (rc == E2EE_OK && cfg->identity_policy != E2EE_IDENTITY_BLOCK &&
             cfg->identity_policy != E2EE_IDENTITY_ACCEPT)
        rc = E2EE_ERR_ARG;
    return rc;
}

static int dup_str(char **dst, const char *src)
{
    *dst = src ? strdup(src) : NULL;
    return !src || *dst ? E2EE_OK : E2EE_ERR_NOMEM;
}

static int copy_config(struct e2ee_client *c, const struct e2ee_client_config *cfg)
{
    int rc = dup_str(&c->relay_url, cfg->relay_url);
    if (rc == E2EE_OK)
        rc = dup_str(&c->token, cfg->registration_token);
    e2ee__client_copy_id(c->user_id, cfg->user_id);
    c->ack_direct = cfg->ack_direct != 0;
    c->ack_group = cfg->ack_group != 0;
    c->reconnect_min_ms = cfg->reconnect_min_ms;
    c->window.max_age_ms = (uint64_t)cfg->transition_window_s * 1000;
    c->window.max_previous = cfg->transition_window_keys;
    c->pending_timeout_ms = (uint64_t)cfg->pending_timeout_s * 1000;
    c->policy = cfg->identity_policy;
    c->event_cb = cfg->event_cb;
    c->user_data = cfg->user_data;
    c->log_cb = cfg->log_cb;
    c->log_user_data = cfg->log_user_data;
    c->log_level = cfg->log_level;
    c->rng = e2ee__rng_system();
    c->max_frame = E2EE__CLIENT_FRAME_DEFAULT;
    c->rate = E2EE__CLIENT_RATE_DEFAULT * E2EE__CLIENT_RATE_SHARE_PCT / 100;
    if (rc == E2EE_OK)
        rc = e2ee__address_set(&c->addr, c->user_id, E2EE__CLIENT_DEVICE);
    return rc;
}

static int init_sync(struct e2ee_client *c)
{
    pthread_condattr_t attr;
    int rc = pthread_condattr_init(&attr) == 0 ? E2EE_OK : E2EE_ERR_NOMEM;
    if (rc == E2EE_OK) {
        (void)pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        rc = pthread_cond_init(&c->cv, &attr) == 0 ? E2EE_OK : E2EE_ERR_NOMEM;
        pthread_condattr_destroy(&attr);
    }
    pthread_mutex_init(&c->mu, NULL);
    atomic_init(&c->logged_in, 0);
    atomic_init(&c->break_loop, 0);
    return rc;
}

static int open_net(struct e2ee_client *c, const struct e2ee_client_config *cfg)
{
    struct e2ee__net_config nc;
    e2ee__net_config_init(&nc);
    nc.url = cfg->relay_url;
    nc.ca_file = cfg->tls_ca_file;
    nc.allow_self_signed = cfg->tls_allow_self_signed;
    nc.max_frame = E2EE__CLIENT_NET_FRAME_MAX;
    nc.ping_s = cfg->keepalive_s;
    if (cfg->reconnect_min_ms > 0) { /* 0: the transport's defaults, never used (no retry) */
        nc.retry_min_ms = cfg->reconnect_min_ms;
        nc.retry_max_ms = cfg->reconnect_max_ms;
    }
    nc.cb = e2ee__client_net_cb;
    nc.user = c;
    return e2ee__net_new(&c->net, &nc);
}

int e2ee_client_new(e2ee_client **out, const struct e2ee_client_config *cfg)
{
    struct e2ee_client *c = NULL;
    int rc = out && cfg ? check_config(cfg) : E2EE_ERR_ARG;

    if (out)
        *out = NULL;
    if (rc == E2EE_OK)
        rc = e2ee__crypto_init();
    if (rc != E2EE_OK)
        goto done;
    c = calloc(1, sizeof *c);
    if (!c) {
        rc = E2EE_ERR_NOMEM;
        goto done;
    }
    rc = init_sync(c);
    if (rc == E2EE_OK)
        rc = copy_config(c, cfg);
    if (rc == E2EE_OK)
        rc = e2ee__store_open(&c->st, cfg->store_path);
    if (rc == E2EE_OK)
        rc = e2ee__keys_open(c);
    if (rc == E2EE_OK)
        rc = open_net(c, cfg);
    /* events an earlier run stored but did not deliver go first (events.c) */
    c->keep_events = cfg->store_path != NULL;
    c->replay = c->keep_events;
    if (rc == E2EE_OK) {
        *out = c;
        c = NULL;
    }
done:
    e2ee_client_free(c);
    return rc;
}

static void call_free(void *p)
{
    free(p);
}

/* Frees what a client holds in memory (its loop and transport are gone). */
static void free_state(struct e2ee_client *c)
{
    e2ee__client_inbound_clear(c);
    e2ee__vec_clear(&c->events, e2ee__event_item_free);
    for (size_t i = 0; i < c->frames.n; i++)
        free(((struct e2ee__frame_out *)c->frames.v[i])->buf);
    e2ee__vec_clear(&c->frames, NULL);
    e2ee__outbox_reset(c);
    e2ee__pairwise_reset(c);
    e2ee__pending_clear(c);
    e2ee__vec_clear(&c->fails, NULL);
    e2ee__vec_clear(&c->rl_req, NULL);
    e2ee__vec_clear(&c->rl_resend, NULL);
    e2ee__vec_clear(&c->acks, NULL);
    e2ee__vec_clear(&c->undone, NULL);
    e2ee__vec_clear(&c->calls, call_free);
}

void e2ee_client_free(e2ee_client *c)
{
    if (!c)
        goto done;
    if (c->thread_running)
        (void)e2ee_client_loop_stop(c);
    e2ee__net_free(c->net); /* closes without events; its callbacks end here */
    free_state(c);
    e2ee__store_close(c->st);
    e2ee__identity_free(c->id);
    free(c->relay_url);
    if (c->token) {
        e2ee__wipe(c->token, strlen(c->token));
        free(c->token);
    }
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    e2ee__wipe(c->nonce, sizeof c->nonce);
    free(c);
done:
    return;
}

const char *e2ee_client_user_id(const e2ee_client *c)
{
    return c ? c->user_id : NULL;
}

int e2ee_client_connect(e2ee_client *c)
{
    return c ? e2ee__net_connect(c->net) : E2EE_ERR_ARG;
}

int e2ee_client_disconnect(e2ee_client *c)
{
    return c ? e2ee__net_disconnect(c->net) : E2EE_ERR_ARG;
}

int e2ee_client_is_connected(e2ee_client *c)
{
    return c ? atomic_load(&c->logged_in) : 0;
}
