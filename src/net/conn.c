/*
 * e2ee net: the connection state machine and the libwebsockets callback. Everything here runs
 * on the loop thread; the mutex is taken only around the shared fields and never held while
 * an event is delivered.
 *
 *   IDLE --connect requested--> CONNECTING --handshake--> OPEN --closed--> (retry?)
 *                                   |                                         |
 *                                   +--failed--> (retry?)    WAITING <--------+
 *   (retry?): while connect is requested, schedule the next attempt after a backoff delay
 *   (WAITING, then CONNECTING when the timer fires); otherwise back to IDLE.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "net/net_internal.h"

static const char k_no_reason[] = "";

static void emit(struct e2ee__net *net, const struct e2ee__net_event *ev)
{
    if (!net->destroying)
        net->cb(ev, net->user);
}

static int want_connected(struct e2ee__net *net)
{
    pthread_mutex_lock(&net->mu);
    int want = net->want_connected;
    pthread_mutex_unlock(&net->mu);
    return want;
}

static void set_reason(struct e2ee__net *net, const char *text, size_t len)
{
    if (len > E2EE__NET_REASON_MAX)
        len = E2EE__NET_REASON_MAX;
    if (len > 0)
        memcpy(net->close_reason, text, len);
    net->close_reason[len] = '\0';
}

static void start_attempt(struct e2ee__net *net);

static void retry_due(lws_sorted_usec_list_t *sul)
{
    struct e2ee__net *net = lws_container_of(sul, struct e2ee__net, sul_retry);
    if (net->state == E2EE__NET_ST_WAITING) {
        net->state = E2EE__NET_ST_IDLE;
        if (want_connected(net))
            start_attempt(net);
    }
}

/*
 * After an attempt failed or a connection ended: schedule the next attempt, or rest. A
 * connection closed by e2ee__net_disconnect() is not retried; a connect() that came since
 * then (its wake-up already consumed) gets a fresh attempt from the next pass of the loop
 * (not from here, inside the close of the old connection).
 */
static void after_end(struct e2ee__net *net, int by_request)
{
    struct e2ee__net_event ev = {.type = E2EE__NET_EV_RETRY_SCHEDULED, .reason = k_no_reason};

    if (net->destroying)
        goto done;
    if (by_request || !want_connected(net)) {
        net->retry = 0;
        lws_cancel_service(net->ctx);
        goto done;
    }
    if (net->retry < UINT32_MAX)
        net->retry++;
    ev.attempt = net->retry;
    ev.delay_ms = e2ee__backoff_next(&net->backoff, net->retry);
    net->state = E2EE__NET_ST_WAITING;
    net->retry_at = lws_now_usecs() + (lws_usec_t)ev.delay_ms * LWS_US_PER_MS;
    lws_sul_schedule(net->ctx, 0, &net->sul_retry, retry_due,
                     (lws_usec_t)ev.delay_ms * LWS_US_PER_MS);
    emit(net, &ev);
done:
    return;
}

static int looks_like_tls(const char *reason)
{
    static const char *const words[] = {"ssl", "tls", "cert", "x509"};
    int found = 0;
    for (size_t i = 0; i < sizeof words / sizeof words[0] && !found; i++)
        found = strcasestr(reason, words[i]) != NULL;
    return found;
}

static void attempt_failed(struct e2ee__net *net, const char *reason)
{
    struct e2ee__net_event ev = {.type = E2EE__NET_EV_CONNECT_FAILED};

    net->state = E2EE__NET_ST_IDLE;
    net->wsi = NULL;
    ev.reason = reason;
    ev.err = looks_like_tls(reason) ? E2EE_ERR_TLS : E2EE_ERR_CONNECT;
    emit(net, &ev);
    after_end(net, 0);
}

static void start_attempt(struct e2ee__net *net)
{
    struct e2ee__net_event ev = {.type = E2EE__NET_EV_CONNECTING, .reason = k_no_reason};
    struct lws_client_connect_info cc;
    struct lws *wsi;

    memset(&cc, 0, sizeof cc);
    cc.context = net->ctx;
    cc.address = net->url.host;
    cc.port = net->url.port;
    cc.path = net->url.path;
    cc.host = net->url.host_header;
    cc.protocol = E2EE__NET_SUBPROTOCOL;
    if (net->url.tls) {
        cc.ssl_connection = LCCSCF_USE_SSL;
        if (net->allow_self_signed)
            cc.ssl_connection |= LCCSCF_ALLOW_SELFSIGNED |
                                 LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK;
    }
    /* always a policy of our own: without one lws applies its context default (a ping after
     * 5 idle minutes, hang-up 10 s later), so "no pings" needs both intervals 0 */
    cc.retry_and_idle_policy = &net->ping_policy;

    net->state = E2EE__NET_ST_CONNECTING;
    net->closing = 0;
    net->close_local = 0;
    net->close_err = E2EE_ERR_CLOSED;
    net->close_code = 0;
    net->close_reason[0] = '\0';
    ev.attempt = net->retry;
    emit(net, &ev);

    /* lws may report a failure through the callback before returning NULL: then the state
     * has moved on already */
    wsi = lws_client_connect_via_info(&cc);
    if (net->state == E2EE__NET_ST_CONNECTING && wsi)
        net->wsi = wsi;
    else if (net->state == E2EE__NET_ST_CONNECTING)
        attempt_failed(net, "connection could not be started");
}

void e2ee__net_process_requests(struct e2ee__net *net)
{
    int want, ready;

    pthread_mutex_lock(&net->mu);
    want = net->want_connected;
    ready = net->open && e2ee__net_queue_ready(&net->q, net->held);
    pthread_mutex_unlock(&net->mu);

    if (want && net->state == E2EE__NET_ST_IDLE) {
        start_attempt(net);
    } else if (!want && net->state == E2EE__NET_ST_WAITING) {
        lws_sul_cancel(&net->sul_retry);
        net->state = E2EE__NET_ST_IDLE;
        net->retry = 0;
    }
    /* a closing connection is closed from its writeable callback */
    if (net->state == E2EE__NET_ST_OPEN && (!want || ready || net->closing))
        lws_callback_on_writable(net->wsi);
}

static int on_established(struct e2ee__net *net, struct lws *wsi)
{
    struct e2ee__net_event ev = {.type = E2EE__NET_EV_CONNECTED, .reason = k_no_reason};
    int rc = 0;

    if (net->state != E2EE__NET_ST_CONNECTING) {
        rc = -1; /* not ours: refuse it */
        goto done;
    }
    net->state = E2EE__NET_ST_OPEN;
    net->wsi = wsi;
    net->retry = 0;
    net->rx_len = 0;
    pthread_mutex_lock(&net->mu);
    net->open = 1;
    net->held = net->hold_until_release;
    pthread_mutex_unlock(&net->mu);
    emit(net, &ev);
    e2ee__net_process_requests(net);
done:
    return rc;
}

/*
 * Records why this side closes and asks for the writeable callback, which sends the close.
 * Never returned as -1 from the receive callback: libwebsockets 4.1 keeps feeding the rest of
 * its read buffer through its parser after that and overruns its receive buffer. Until the
 * close goes out, incoming data is discarded.
 */
static void close_soon(struct e2ee__net *net, struct lws *wsi, enum lws_close_status code,
                       int err, const char *reason)
{
    if (net->closing)
        goto done;
    net->closing = 1;
    net->close_local = 1;
    net->close_err = err;
    net->close_code = (uint16_t)code;
    set_reason(net, reason, strlen(reason));
    net->rx_len = 0;
    lws_callback_on_writable(wsi);
done:
    return;
}

static int send_close(struct e2ee__net *net, struct lws *wsi)
{
    lws_close_reason(wsi, (enum lws_close_status)net->close_code,
                     (unsigned char *)net->close_reason, strlen(net->close_reason));
    return -1;
}

static int rx_reserve(struct e2ee__net *net, size_t need)
{
    size_t cap = net->rx_cap ? net->rx_cap : E2EE__NET_RX_CHUNK;
    uint8_t *p = net->rx;

    /* need <= max_frame: the doubling stops there */
    while (cap < need)
        cap = cap > net->max_frame / 2 ? net->max_frame : cap * 2;
    if (need > net->rx_cap)
        p = realloc(net->rx, cap);
    if (p && need > net->rx_cap) {
        net->rx = p;
        net->rx_cap = cap;
    }
    return p || need == 0 ? E2EE_OK : E2EE_ERR_NOMEM;
}

static void rx_deliver(struct e2ee__net *net)
{
    struct e2ee__net_event ev = {.type = E2EE__NET_EV_FRAME, .reason = k_no_reason};
    ev.data = net->rx;
    ev.len = net->rx_len;
    net->rx_len = 0;
    emit(net, &ev);
    if (net->rx_cap > E2EE__NET_RX_KEEP) {
        free(net->rx);
        net->rx = NULL;
        net->rx_cap = 0;
    }
}

/* Checks a chunk of the incoming message against the rules; 0 when it may be kept. */
static int rx_refused(struct e2ee__net *net, struct lws *wsi, size_t len)
{
    size_t room = net->max_frame - net->rx_len;
    size_t rest = lws_remaining_packet_payload(wsi);
    int refused = 1;

    if (net->rx_text)
        close_soon(net, wsi, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE, E2EE_ERR_PROTOCOL,
                   "binary frames only");
    else if (len > room || rest > room - len)
        close_soon(net, wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, E2EE_ERR_TOO_LARGE,
                   "frame too large");
    else if (rx_reserve(net, net->rx_len + len) != E2EE_OK)
        close_soon(net, wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, E2EE_ERR_NOMEM,
                   "out of memory");
    else
        refused = 0;
    return refused;
}

static int on_receive(struct e2ee__net *net, struct lws *wsi, const uint8_t *in, size_t len)
{
    int rc = wsi == net->wsi ? 0 : -1;

    if (rc != 0 || net->closing)
        goto done; /* not ours, or closing: data is discarded */
    if (lws_is_first_fragment(wsi)) {
        net->rx_len = 0;
        net->rx_text = !lws_frame_is_binary(wsi);
    }
    if (rx_refused(net, wsi, len))
        goto done;
    if (len > 0)
        memcpy(net->rx + net->rx_len, in, len);
    net->rx_len += len;
    if (lws_is_final_fragment(wsi))
        rx_deliver(net);
done:
    return rc;
}

/* Writes the next frame of the queue, if any; -1 when the connection failed. */
static int write_next(struct e2ee__net *net, struct lws *wsi)
{
    struct e2ee__net_frame *f;
    int n, more, rc = 0;

    pthread_mutex_lock(&net->mu);
    f = e2ee__net_queue_pop(&net->q, net->held);
    pthread_mutex_unlock(&net->mu);
    if (!f)
        goto done;
    n = lws_write(wsi, e2ee__net_frame_data(f), f->len, LWS_WRITE_BINARY);
    if (n < 0 || (size_t)n < f->len) {
        /* nothing complete reached the peer: the frame goes out on the next connection */
        pthread_mutex_lock(&net->mu);
        e2ee__net_queue_push_front(&net->q, f);
        pthread_mutex_unlock(&net->mu);
        rc = -1;
        goto done;
    }
    if (lws_partial_buffered(wsi))
        net->inflight = f;
    else
        e2ee__net_frame_free(f);
    pthread_mutex_lock(&net->mu);
    more = e2ee__net_queue_ready(&net->q, net->held);
    pthread_mutex_unlock(&net->mu);
    if (more || net->inflight)
        lws_callback_on_writable(wsi);
done:
    return rc;
}

static int on_writeable(struct e2ee__net *net, struct lws *wsi)
{
    int rc = -1;

    if (wsi != net->wsi)
        goto done;
    if (!net->closing && !want_connected(net))
        close_soon(net, wsi, LWS_CLOSE_STATUS_NORMAL, E2EE_OK, "client disconnect");
    if (net->closing) {
        rc = send_close(net, wsi);
        goto done;
    }
    /* lws calls back only once a partly buffered write has been flushed */
    e2ee__net_frame_free(net->inflight);
    net->inflight = NULL;
    rc = write_next(net, wsi);
done:
    return rc;
}

static void on_peer_close(struct e2ee__net *net, struct lws *wsi, const uint8_t *in, size_t len)
{
    if (wsi != net->wsi || net->closing)
        goto done; /* this side's own close reason stands */
    net->close_local = 0;
    net->close_err = E2EE_ERR_CLOSED;
    net->close_code = LWS_CLOSE_STATUS_NO_STATUS;
    if (len >= 2) {
        net->close_code = (uint16_t)(in[0] << 8 | in[1]);
        set_reason(net, (const char *)in + 2, len - 2);
    }
done:
    return;
}

/* A frame partly buffered by lws when the connection ended did not reach the peer whole:
 * it goes out again on the next connection, unless it belonged to this one. */
static void settle_inflight(struct e2ee__net *net, struct lws *wsi)
{
    struct e2ee__net_frame *f = net->inflight;
    net->inflight = NULL;
    if (f && lws_partial_buffered(wsi) && !(f->flags & E2EE__NET_SEND_VOLATILE)) {
        pthread_mutex_lock(&net->mu);
        e2ee__net_queue_push_front(&net->q, f);
        pthread_mutex_unlock(&net->mu);
    } else {
        e2ee__net_frame_free(f);
    }
}

static void on_closed(struct e2ee__net *net, struct lws *wsi)
{
    struct e2ee__net_event ev = {.type = E2EE__NET_EV_DISCONNECTED};

    if (wsi != net->wsi || net->state != E2EE__NET_ST_OPEN)
        goto done;
    settle_inflight(net, wsi);
    pthread_mutex_lock(&net->mu);
    net->open = 0;
    net->held = 0;
    e2ee__net_queue_drop_volatile(&net->q);
    pthread_mutex_unlock(&net->mu);
    net->state = E2EE__NET_ST_IDLE;
    net->wsi = NULL;
    net->rx_len = 0;

    ev.close_code = net->close_code ? net->close_code : LWS_CLOSE_STATUS_ABNORMAL_CLOSE;
    ev.local = net->close_local;
    ev.err = net->close_local ? net->close_err : E2EE_ERR_CLOSED;
    ev.reason = net->close_reason;
    emit(net, &ev);
    after_end(net, net->close_local && net->close_err == E2EE_OK);
done:
    return;
}

static void on_connection_error(struct e2ee__net *net, const char *in, size_t len)
{
    char reason[E2EE__NET_REASON_MAX + 1];

    if (net->state != E2EE__NET_ST_CONNECTING)
        goto done;
    if (!in || len == 0) {
        in = "connection failed";
        len = strlen(in);
    }
    len = strnlen(in, len);
    if (len > E2EE__NET_REASON_MAX)
        len = E2EE__NET_REASON_MAX;
    memcpy(reason, in, len);
    reason[len] = '\0';
    attempt_failed(net, reason);
done:
    return;
}

/* An attempt that lws ends without LWS_CALLBACK_CLIENT_CONNECTION_ERROR: a time-out while
 * waiting for the relay's handshake answer (or a close then) comes as CLOSED_CLIENT_HTTP and
 * WSI_DESTROY only. Without this the attempt would stay "connecting" for ever. */
static void on_attempt_dropped(struct e2ee__net *net, struct lws *wsi)
{
    if (wsi == net->wsi && net->state == E2EE__NET_ST_CONNECTING && !net->destroying)
        attempt_failed(net, "no handshake answer from the relay (timed out or closed)");
}

int e2ee__net_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                           void *in, size_t len)
{
    struct e2ee__net *net = lws_context_user(lws_get_context(wsi));
    (void)user;

    if (!net)
        return 0;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        return on_established(net, wsi);
    case LWS_CALLBACK_CLIENT_RECEIVE:
        return on_receive(net, wsi, in, len);
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return on_writeable(net, wsi);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        on_peer_close(net, wsi, in, len);
        return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
        on_closed(net, wsi);
        return 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        on_connection_error(net, in, len);
        return 0;
    case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
    case LWS_CALLBACK_WSI_DESTROY:
        on_attempt_dropped(net, wsi);
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (!net->destroying)
            e2ee__net_process_requests(net);
        return 0;
    default:
        return 0;
    }
}
