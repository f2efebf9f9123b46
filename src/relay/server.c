/*
 * e2ee relay: the libwebsockets server. One context and one service thread; a vhost for
 * the WebSocket endpoint (subprotocol e2ee.v1, optionally TLS) and, when configured, one
 * for /metrics. Also the housekeeping timer (login timeouts, log trimming, forgetting old
 * client message ids) and the orderly stop.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/crypto.h"
#include "relay/log.h"
#include "relay/relay.h"

#define RX_CHUNK 65536          /* lws read buffer per connection */
#define SERVICE_BUF 65536       /* lws per-thread service buffer */
#define RX_KEEP_MAX (1 << 20)   /* assembly buffer kept between messages, at most */
#define METRICS_HDR_MAX 512

int64_t e2ee__relay_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t e2ee__relay_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static struct e2ee__relay *relay_of(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

/* ---- the orderly stop ---- */

static void begin_stop(struct e2ee__relay *r)
{
    struct e2ee__rlink *l, *next;
    if (r->stopping)
        return;
    r->stopping = 1;
    r->stop_deadline_ms = e2ee__relay_now_ms() + E2EE_RELAY_STOP_GRACE_MS;
    RLOG_INFO("stopping: %zu connections to close", r->n_sessions);
    e2ee__relay_flush(r);
    for (l = r->sessions.next; l != &r->sessions; l = next) {
        next = l->next;
        struct e2ee__rsession *s = E2EE_RLIST_ENTRY(l, struct e2ee__rsession, all);
        e2ee__rsession_close(s, E2EE_RCLOSE_GOING_AWAY,
                             "E2EE_ERR_UNAVAILABLE: relay shutting down; reconnect later", 0);
    }
    if (!r->n_sessions)
        r->done = 1;
}

void e2ee__relay_signal_stop(struct e2ee__relay *r)
{
    if (r->ctx)
        lws_cancel_service(r->ctx);
}

/* ---- housekeeping ---- */

static void login_timeouts(struct e2ee__relay *r, int64_t now)
{
    struct e2ee__rlink *l, *next;
    int64_t limit = (int64_t)r->cfg.login_timeout * 1000;
    for (l = r->sessions.next; l != &r->sessions; l = next) {
        next = l->next;
        struct e2ee__rsession *s = E2EE_RLIST_ENTRY(l, struct e2ee__rsession, all);
        if (s->state == E2EE_RSESSION_CHALLENGED && now - s->connected_ms > limit) {
            e2ee__rmetrics_refusal(&r->metrics, E2EE_ERR_UNAUTHENTICATED);
            e2ee__rsession_close(s, E2EE_RCLOSE_POLICY,
                                 "E2EE_ERR_UNAUTHENTICATED: no login in time (login_timeout)", 0);
        }
    }
}

static void prune_sent_ids(struct e2ee__relay *r, int64_t now)
{
    int64_t period = r->cfg.dedup_window < E2EE_RELAY_PRUNE_PERIOD_S
                         ? (int64_t)r->cfg.dedup_window * 1000
                         : E2EE_RELAY_PRUNE_PERIOD_S * 1000;
    if (now - r->last_prune_ms < period)
        return;
    r->last_prune_ms = now;
    int rc = e2ee__relay_req_begin(r);
    if (rc != E2EE_OK)
        return;
    rc = r->store->ops->sent_prune(r->store, now - (int64_t)r->cfg.dedup_window * 1000);
    if (e2ee__relay_req_end(r, rc == E2EE_OK) != E2EE_OK || rc != E2EE_OK)
        RLOG_WARN("forgetting old client message ids failed");
}

static void housekeeping_cb(lws_sorted_usec_list_t *sul)
{
    struct e2ee__relay *r = lws_container_of(sul, struct e2ee__relay, sul_housekeeping);
    int64_t now = e2ee__relay_now_ms();
    if (r->stopping) {
        if (!r->n_sessions || now > r->stop_deadline_ms)
            r->done = 1;
    } else {
        login_timeouts(r, now);
        e2ee__relay_groups_gc(r);
        prune_sent_ids(r, now);
    }
    lws_sul_schedule(r->ctx, 0, &r->sul_housekeeping, housekeeping_cb,
                     E2EE_RELAY_HOUSEKEEPING_US);
}

/* ---- incoming data ---- */

static int receive(struct e2ee__rsession *s, const uint8_t *in, size_t len)
{
    struct e2ee__relay *r = s->relay;
    if (s->state == E2EE_RSESSION_CLOSING || s->state == E2EE_RSESSION_DRAINING)
        return 0; /* the rest of what it sends is dropped */
    if (!lws_frame_is_binary(s->wsi)) {
        e2ee__rmetrics_refusal(&r->metrics, E2EE_ERR_DECODE);
        e2ee__rsession_close(s, E2EE_RCLOSE_UNSUPPORTED,
                             "E2EE_ERR_DECODE: binary frames only (protobuf ClientFrame)", 0);
        return 0;
    }
    size_t remaining = lws_remaining_packet_payload(s->wsi);
    if (s->rx_len + len + remaining > r->cfg.max_frame_size) {
        e2ee__rmetrics_refusal(&r->metrics, E2EE_ERR_TOO_LARGE);
        e2ee__rsession_close(s, E2EE_RCLOSE_TOO_BIG,
                             "E2EE_ERR_TOO_LARGE: frame over max_frame_size", 0);
        return 0;
    }
    if (s->rx_len + len > s->rx_cap) {
        size_t ncap = s->rx_cap ? s->rx_cap : 4096;
        while (ncap < s->rx_len + len + remaining)
            ncap *= 2;
        uint8_t *nb = realloc(s->rx, ncap);
        if (!nb) {
            e2ee__rsession_close(s, E2EE_RCLOSE_INTERNAL, "E2EE_ERR_NOMEM: relay out of memory",
                                 1);
            return 0;
        }
        s->rx = nb;
        s->rx_cap = ncap;
    }
    memcpy(s->rx + s->rx_len, in, len);
    s->rx_len += len;
    if (!lws_is_final_fragment(s->wsi) || remaining)
        return 0;
    size_t n = s->rx_len;
    s->rx_len = 0;
    int rc = e2ee__relay_dispatch(s, s->rx, n);
    if (s->rx_cap > RX_KEEP_MAX) {
        free(s->rx);
        s->rx = NULL;
        s->rx_cap = 0;
    }
    return rc;
}

static void established(struct e2ee__relay *r, struct lws *wsi, struct e2ee__rsession **slot)
{
    struct e2ee__rsession *s = e2ee__rsession_new(r, wsi);
    *slot = s;
    if (!s)
        return;
    RLOG_DEBUG("connect conn=%llu", (unsigned long long)s->conn_id);
    if (r->stopping) {
        e2ee__rsession_close(s, E2EE_RCLOSE_GOING_AWAY,
                             "E2EE_ERR_UNAVAILABLE: relay shutting down; reconnect later", 0);
    } else if (r->n_sessions > r->cfg.max_connections) {
        e2ee__rmetrics_refusal(&r->metrics, E2EE_ERR_UNAVAILABLE);
        e2ee__rsession_close(s, E2EE_RCLOSE_TRY_LATER,
                             "E2EE_ERR_UNAVAILABLE: relay full (max_connections); retry later",
                             0);
    } else {
        e2ee__relay_send_challenge(s);
    }
}

static int cb_relay(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    struct e2ee__rsession **slot = user;
    struct e2ee__relay *r;
    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED:
        established(relay_of(wsi), wsi, slot);
        return *slot ? 0 : -1;
    case LWS_CALLBACK_RECEIVE:
        return slot && *slot ? receive(*slot, in, len) : -1;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return slot && *slot ? e2ee__rsession_writable(*slot) : -1;
    case LWS_CALLBACK_CLOSED:
        if (slot && *slot) {
            r = (*slot)->relay;
            RLOG_DEBUG("disconnect conn=%llu", (unsigned long long)(*slot)->conn_id);
            e2ee__rsession_free(*slot);
            *slot = NULL;
            if (r->stopping && !r->n_sessions)
                r->done = 1;
        }
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        r = relay_of(wsi);
        if (r && r->stop_flag && *r->stop_flag)
            begin_stop(r);
        return 0;
    default:
        return 0;
    }
}

/* Protocol 0 of the WebSocket vhost: plain HTTP, and WebSocket upgrades without the
 * e2ee.v1 subprotocol, are refused. */
static int cb_other(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    (void)user;
    (void)in;
    (void)len;
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return -1;
    case LWS_CALLBACK_HTTP:
        if (lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND,
                                   "e2ee relay: connect with WebSocket subprotocol e2ee.v1"))
            return -1;
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    default:
        return 0;
    }
}

/* ---- /metrics ---- */

struct metrics_pss {
    char *body;
    size_t len;
};

static void gauges(struct e2ee__relay *r, struct e2ee__rmetrics_gauges *g)
{
    struct e2ee__rlink *l;
    memset(g, 0, sizeof *g);
    g->connections = r->n_sessions;
    g->authenticated = r->n_authed;
    g->groups = r->groups.count;
    for (l = r->sessions.next; l != &r->sessions; l = l->next)
        g->unsent_bytes += E2EE_RLIST_ENTRY(l, struct e2ee__rsession, all)->q.bytes;
    if (r->store->ops->counts(r->store, &g->queued_inbox, &g->queued_group) != E2EE_OK)
        RLOG_WARN("metrics: store counts failed");
}

static int metrics_headers(struct lws *wsi, struct metrics_pss *p)
{
    uint8_t buf[LWS_PRE + METRICS_HDR_MAX];
    uint8_t *start = buf + LWS_PRE, *q = start, *end = buf + sizeof buf - 1;
    if (lws_add_http_common_headers(wsi, HTTP_STATUS_OK, "text/plain; version=0.0.4",
                                    (lws_filepos_t)p->len, &q, end) ||
        lws_finalize_write_http_header(wsi, start, &q, end))
        return -1;
    lws_callback_on_writable(wsi);
    return 0;
}

static int cb_metrics(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len)
{
    struct metrics_pss *p = user;
    struct e2ee__relay *r = relay_of(wsi);
    struct e2ee__rmetrics_gauges g;
    (void)len;
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        if (strcmp((const char *)in, "/metrics") != 0) {
            if (lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, "try /metrics"))
                return -1;
            return lws_http_transaction_completed(wsi) ? -1 : 0;
        }
        free(p->body);
        gauges(r, &g);
        if (e2ee__rmetrics_render(&r->metrics, &g, &p->body, &p->len) != 0)
            return -1;
        return metrics_headers(wsi, p);
    case LWS_CALLBACK_HTTP_WRITEABLE: {
        if (!p->body)
            return -1;
        uint8_t *buf = malloc(LWS_PRE + p->len);
        if (!buf)
            return -1;
        memcpy(buf + LWS_PRE, p->body, p->len);
        int n = lws_write(wsi, buf + LWS_PRE, p->len, LWS_WRITE_HTTP_FINAL);
        free(buf);
        free(p->body);
        p->body = NULL;
        if (n < 0)
            return -1;
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    }
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        if (p) {
            free(p->body);
            p->body = NULL;
        }
        return 0;
    default:
        return 0;
    }
}

static const struct lws_protocols k_ws_protocols[] = {
    {"e2ee-other", cb_other, 0, 0, 0, NULL, 0},
    {E2EE_RELAY_SUBPROTOCOL, cb_relay, sizeof(struct e2ee__rsession *), RX_CHUNK, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static const struct lws_protocols k_metrics_protocols[] = {
    {"e2ee-metrics", cb_metrics, sizeof(struct metrics_pss), 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* ---- set-up ---- */

static void lws_log(int level, const char *line)
{
    char buf[512];
    size_t n = strlen(line);
    if (n >= sizeof buf)
        n = sizeof buf - 1;
    memcpy(buf, line, n);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    buf[n] = '\0';
    e2ee__rlog(level == LLL_ERR ? E2EE_RLOG_ERROR : E2EE_RLOG_WARN, "lws: %s", buf);
}

/* IPv4 literal (then IPv6 is disabled on that vhost). */
static int is_ipv4(const char *host)
{
    unsigned a, b, c, d;
    char tail;
    return sscanf(host, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) == 4;
}

static int any_host(const char *host)
{
    return strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0 || strcmp(host, "*") == 0;
}

static struct lws_vhost *make_vhost(struct e2ee__relay *r, const char *name, const char *addr,
                                    const struct lws_protocols *protos, int tls, char *host,
                                    size_t hostcap, int *port)
{
    struct lws_context_creation_info info;
    if (e2ee__rcfg_split_addr(addr, host, hostcap, port) != 0)
        return NULL;
    memset(&info, 0, sizeof info);
    info.vhost_name = name;
    info.port = *port;
    info.iface = any_host(host) ? NULL : host;
    info.protocols = protos;
    info.options = LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND;
    if (is_ipv4(host))
        info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    if (protos == k_ws_protocols)
        info.retry_and_idle_policy = &r->idle_policy;
    if (tls) {
        /* lws enables TLS on a vhost only when its own options ask for it */
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = r->cfg.tls_cert;
        info.ssl_private_key_filepath = r->cfg.tls_key;
    }
    struct lws_vhost *vh = lws_create_vhost(r->ctx, &info);
    if (vh)
        *port = lws_get_vhost_listen_port(vh);
    return vh;
}

static int relay_identity(struct e2ee__relay *r)
{
    struct e2ee__rstore *st = r->store;
    uint8_t raw[12];
    char gen[E2EE_RELAY_ID_BUF];
    if (r->cfg.relay_id[0]) {
        snprintf(r->relay_id, sizeof r->relay_id, "%s", r->cfg.relay_id);
        return 0;
    }
    int rc = st->ops->meta_get(st, "relay_id", r->relay_id, sizeof r->relay_id);
    if (rc == E2EE_OK && e2ee__relay_id_valid(r->relay_id))
        return 0;
    if (e2ee__random_bytes(raw, sizeof raw) != E2EE_OK)
        return -1;
    int n = snprintf(gen, sizeof gen, "relay-");
    for (size_t i = 0; i < sizeof raw; i++)
        n += snprintf(gen + n, sizeof gen - (size_t)n, "%02x", raw[i]);
    if (st->ops->begin(st) != E2EE_OK || st->ops->meta_set(st, "relay_id", gen) != E2EE_OK ||
        st->ops->commit(st) != E2EE_OK) {
        st->ops->rollback(st);
        return -1;
    }
    snprintf(r->relay_id, sizeof r->relay_id, "%s", gen);
    return 0;
}

static int open_store(struct e2ee__relay *r)
{
    char err[512];
    int rc = e2ee__rstore_sqlite_open(r->cfg.store, (enum e2ee__rs_sync)r->cfg.store_sync,
                                      &r->store, err, sizeof err);
    if (rc != E2EE_OK) {
        RLOG_ERROR("store %s: %s (%s)", r->cfg.store, err, e2ee_errname(rc));
        return -1;
    }
    RLOG_INFO("store opened path=%s schema=%d sync=%s", r->cfg.store, E2EE_RSTORE_SCHEMA_VERSION,
              r->cfg.store_sync ? "normal" : "full");
    return 0;
}

static int create_context(struct e2ee__relay *r)
{
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    if (r->cfg.tls_cert[0])
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.user = r;
    info.pt_serv_buf_size = SERVICE_BUF;
    info.count_threads = 1;
    r->ctx = lws_create_context(&info);
    return r->ctx ? 0 : -1;
}

int e2ee__relay_init(struct e2ee__relay *r, const struct e2ee__relay_config *cfg,
                     volatile sig_atomic_t *stop_flag)
{
    char host[E2EE_RCFG_ADDR_MAX];
    memset(r, 0, sizeof *r);
    r->cfg = *cfg;
    r->stop_flag = stop_flag;
    e2ee__rmap_init(&r->users);
    e2ee__rmap_init(&r->groups);
    e2ee__rlist_init(&r->sessions);
    e2ee__rlist_init(&r->dirty);
    e2ee__rlist_init(&r->catchup);
    e2ee__rlist_init(&r->gc_groups);
    r->server_frame_max = e2ee__rcfg_server_frame_max(cfg);
    r->idle_policy.secs_since_valid_ping = (uint16_t)cfg->ping_interval;
    r->idle_policy.secs_since_valid_hangup = (uint16_t)cfg->idle_timeout;
    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log);
    if (e2ee__crypto_init() != E2EE_OK) {
        RLOG_ERROR("crypto initialisation failed");
        return -1;
    }
    if (open_store(r) != 0 || relay_identity(r) != 0 || e2ee__relay_groups_load(r) != 0)
        return -1;
    if (create_context(r) != 0) {
        RLOG_ERROR("cannot create the libwebsockets context");
        return -1;
    }
    r->vhost = make_vhost(r, "e2ee", cfg->listen, k_ws_protocols, cfg->tls_cert[0] != 0, host,
                          sizeof host, &r->listen_port);
    if (!r->vhost) {
        RLOG_ERROR("cannot listen on %s (address in use, or bad TLS certificate/key?)",
                   cfg->listen);
        return -1;
    }
    if (cfg->metrics[0]) {
        r->metrics_vhost = make_vhost(r, "metrics", cfg->metrics, k_metrics_protocols, 0, host,
                                      sizeof host, &r->metrics_port);
        if (!r->metrics_vhost) {
            RLOG_ERROR("cannot serve metrics on %s", cfg->metrics);
            return -1;
        }
    }
    lws_sul_schedule(r->ctx, 0, &r->sul_housekeeping, housekeeping_cb,
                     E2EE_RELAY_HOUSEKEEPING_US);
    return 0;
}

static void print_addr(const char *what, const char *scheme, const char *addr, int port,
                       const char *path)
{
    char host[E2EE_RCFG_ADDR_MAX];
    int ignored = 0;
    if (e2ee__rcfg_split_addr(addr, host, sizeof host, &ignored) != 0)
        snprintf(host, sizeof host, "?");
    int v6 = strchr(host, ':') != NULL;
    printf("e2ee-relay %s %s://%s%s%s:%d%s\n", what, scheme, v6 ? "[" : "", host, v6 ? "]" : "",
           port, path);
}

int e2ee__relay_run(struct e2ee__relay *r)
{
    print_addr("listening on", r->cfg.tls_cert[0] ? "wss" : "ws", r->cfg.listen, r->listen_port,
               "");
    if (r->metrics_vhost)
        print_addr("metrics on", "http", r->cfg.metrics, r->metrics_port, "/metrics");
    fflush(stdout);
    RLOG_INFO("listening port=%d relay_id=%s tls=%s", r->listen_port, r->relay_id,
              r->cfg.tls_cert[0] ? "on" : "off");
    e2ee__rcfg_log(&r->cfg);
    /* a signal that arrived before the loop started */
    if (r->stop_flag && *r->stop_flag)
        begin_stop(r);
    while (!r->done) {
        if (lws_service(r->ctx, 0) < 0)
            break;
    }
    e2ee__relay_flush(r);
    RLOG_INFO("stopped");
    return 0;
}

void e2ee__relay_cleanup(struct e2ee__relay *r)
{
    if (r->ctx) {
        lws_context_destroy(r->ctx); /* closes what is left; sessions are freed */
        r->ctx = NULL;
    }
    if (r->store && r->txn_open)
        e2ee__relay_flush(r);
    e2ee__relay_groups_free(r);
    e2ee__rmap_cleanup(&r->users);
    e2ee__rmap_cleanup(&r->groups);
    if (r->store)
        r->store->ops->close(r->store);
    r->store = NULL;
    free(r->wbuf);
    r->wbuf = NULL;
}
