/* e2ee net: creating and freeing the transport, its thread-safe requests, the loop family. */
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "net/net_internal.h"

void e2ee__net_config_init(struct e2ee__net_config *cfg)
{
    if (!cfg)
        return;
    memset(cfg, 0, sizeof *cfg);
    cfg->max_frame = E2EE__NET_MAX_FRAME_DEFAULT;
    cfg->max_queue_frames = E2EE__NET_QUEUE_FRAMES_DEFAULT;
    cfg->max_queue_bytes = E2EE__NET_QUEUE_BYTES_DEFAULT;
    cfg->retry_min_ms = E2EE__NET_RETRY_MIN_MS_DEFAULT;
    cfg->retry_max_ms = E2EE__NET_RETRY_MAX_MS_DEFAULT;
    cfg->ping_s = E2EE__NET_PING_S_DEFAULT;
    cfg->connect_timeout_s = E2EE__NET_CONNECT_TIMEOUT_S_DEFAULT;
}

static int check_config(const struct e2ee__net_config *c)
{
    int rc = E2EE_OK;
    if (!c->cb || !c->url)
        rc = E2EE_ERR_ARG;
    else if (c->max_frame == 0 || c->max_frame > E2EE__NET_MAX_FRAME_LIMIT ||
             c->max_queue_frames == 0 || c->max_queue_bytes == 0)
        rc = E2EE_ERR_RANGE;
    else if (c->retry_min_ms == 0 || c->retry_max_ms < c->retry_min_ms ||
             c->retry_max_ms > E2EE__NET_RETRY_MS_LIMIT)
        rc = E2EE_ERR_RANGE;
    else if (c->ping_s > E2EE__NET_PING_S_MAX || c->connect_timeout_s == 0 ||
             c->connect_timeout_s > UINT16_MAX)
        rc = E2EE_ERR_RANGE;
    return rc;
}

static void copy_config(struct e2ee__net *net, const struct e2ee__net_config *c)
{
    net->allow_self_signed = c->allow_self_signed != 0;
    net->max_frame = c->max_frame;
    net->max_queue_frames = c->max_queue_frames;
    net->max_queue_bytes = c->max_queue_bytes;
    net->hold_until_release = c->hold_until_release != 0;
    net->cb = c->cb;
    net->user = c->user;
    net->ping_policy.secs_since_valid_ping = (uint16_t)c->ping_s;
    net->ping_policy.secs_since_valid_hangup = (uint16_t)(2 * c->ping_s);
    net->protocols[0].name = E2EE__NET_SUBPROTOCOL;
    net->protocols[0].callback = e2ee__net_lws_callback;
    net->protocols[0].rx_buffer_size = E2EE__NET_RX_CHUNK;
}

static int seed_backoff(struct e2ee__net *net, const struct e2ee__net_config *c)
{
    uint64_t seed = c->retry_seed;
    uint8_t b[8];
    int rc = seed ? E2EE_OK : e2ee__random_bytes(b, sizeof b);

    for (size_t i = 0; rc == E2EE_OK && seed == 0 && i < sizeof b; i++)
        seed = seed << 8 | b[i];
    /* a seed of 0 from the CSPRNG is as good as any other */
    if (rc == E2EE_OK)
        e2ee__backoff_init(&net->backoff, c->retry_min_ms, c->retry_max_ms, seed);
    return rc;
}

static int create_context(struct e2ee__net *net, const struct e2ee__net_config *c)
{
    struct lws_context_creation_info info;

    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = net->protocols;
    /*
     * TLS set-up only for wss://. With this option lws_create_context() builds a client
     * SSL_CTX with the system CA store (~1 MB and tens of ms per client), which ws:// never
     * uses; and libwebsockets 4.1.6 with OpenSSL 3 loses it at lws_context_destroy() when the
     * process holds several contexts (several clients), so every e2ee_client_free() leaked it.
     */
    info.options = net->url.tls ? LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT : 0;
    info.client_ssl_ca_filepath = net->ca_file;
    info.user = net;
    info.fd_limit_per_thread = E2EE__NET_FD_LIMIT;
    info.timeout_secs = c->connect_timeout_s;
    info.connect_timeout_secs = c->connect_timeout_s;
    net->ctx = lws_create_context(&info);
    return net->ctx ? E2EE_OK : E2EE_ERR_IO;
}

static int init_net(struct e2ee__net *net, const struct e2ee__net_config *cfg)
{
    int rc = check_config(cfg);
    if (rc == E2EE_OK)
        rc = e2ee__net_url_parse(cfg->url, &net->url) == E2EE_OK ? E2EE_OK : E2EE_ERR_ARG;
    if (rc == E2EE_OK && cfg->ca_file) {
        net->ca_file = strdup(cfg->ca_file);
        rc = net->ca_file ? E2EE_OK : E2EE_ERR_NOMEM;
    }
    if (rc == E2EE_OK)
        rc = seed_backoff(net, cfg);
    if (rc == E2EE_OK) {
        copy_config(net, cfg);
        net->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        rc = net->wake_fd >= 0 ? E2EE_OK : E2EE_ERR_IO;
    }
    if (rc == E2EE_OK)
        rc = create_context(net, cfg);
    return rc;
}

/*
 * libwebsockets logs process-wide (4.1 has no per-context log) and by default prints its
 * notices (two lines per context created) on stderr, into the application's terminal.
 * The first transport created keeps lws's errors and warnings on stderr and drops the
 * notices; an application that uses lws itself may set its own level afterwards
 * (docs/API.md). Nothing lws logs carries keys or message content.
 */
static pthread_once_t lws_log_once = PTHREAD_ONCE_INIT;

static void lws_log_quiet(void)
{
    lws_set_log_level(LLL_ERR | LLL_WARN, NULL);
}

int e2ee__net_new(struct e2ee__net **out, const struct e2ee__net_config *cfg)
{
    struct e2ee__net *net = NULL;
    int rc = out && cfg ? E2EE_OK : E2EE_ERR_ARG;

    if (out)
        *out = NULL;
    if (rc != E2EE_OK)
        goto done;
    net = calloc(1, sizeof *net);
    if (!net) {
        rc = E2EE_ERR_NOMEM;
        goto done;
    }
    (void)pthread_once(&lws_log_once, lws_log_quiet);
    net->wake_fd = -1;
    pthread_mutex_init(&net->mu, NULL);
    atomic_init(&net->break_loop, 0);
    atomic_init(&net->waiting, 0);
    rc = init_net(net, cfg);
    if (rc == E2EE_OK) {
        *out = net;
        net = NULL;
    }
done:
    e2ee__net_free(net);
    return rc;
}

void e2ee__net_free(struct e2ee__net *net)
{
    if (!net)
        return;
    (void)e2ee__net_loop_stop(net);
    net->destroying = 1;
    if (net->ctx) {
        lws_sul_cancel(&net->sul_retry);
        lws_sul_cancel(&net->sul_wait);
        lws_context_destroy(net->ctx);
    }
    e2ee__net_frame_free(net->inflight);
    e2ee__net_queue_clear(&net->q);
    free(net->rx);
    free(net->ca_file);
    if (net->wake_fd >= 0)
        close(net->wake_fd);
    pthread_mutex_destroy(&net->mu);
    free(net);
}

/*
 * Wakes the loop: a caller's poll on the wake fd, and lws's own poll when the loop thread may
 * be blocked in it (`waiting`). The eventfd is written first: a loop that sets `waiting` after
 * this thread read it finds the eventfd readable in its drain_wake() and does not block.
 * Skipping lws_cancel_service() otherwise saves a pipe write, and a read and a callback round
 * in lws, for every frame queued from the caller's loop (each ack, each send).
 */
static void wake(struct e2ee__net *net)
{
    const uint64_t one = 1;
    /* fails only with EAGAIN, a full counter: readable already, nothing lost */
    ssize_t w = write(net->wake_fd, &one, sizeof one);
    (void)w;
    if (atomic_load(&net->waiting))
        lws_cancel_service(net->ctx);
}

/* 1 when the wake fd was readable (one read resets an eventfd's counter). */
static int drain_wake(struct e2ee__net *net)
{
    uint64_t v;
    return read(net->wake_fd, &v, sizeof v) == (ssize_t)sizeof v;
}

static int request_connected(struct e2ee__net *net, int want)
{
    if (net) {
        pthread_mutex_lock(&net->mu);
        net->want_connected = want;
        pthread_mutex_unlock(&net->mu);
        wake(net);
    }
    return net ? E2EE_OK : E2EE_ERR_ARG;
}

int e2ee__net_connect(struct e2ee__net *net)
{
    return request_connected(net, 1);
}

int e2ee__net_disconnect(struct e2ee__net *net)
{
    return request_connected(net, 0);
}

static int enqueue(struct e2ee__net *net, struct e2ee__net_frame *f)
{
    int rc = E2EE_OK;
    pthread_mutex_lock(&net->mu);
    if ((f->flags & E2EE__NET_SEND_VOLATILE) && !net->open)
        rc = E2EE_ERR_NOT_CONNECTED;
    else if (net->q.frames >= net->max_queue_frames ||
             f->len > net->max_queue_bytes - net->q.bytes)
        rc = E2EE_ERR_QUEUE_FULL;
    else
        e2ee__net_queue_push(&net->q, f);
    pthread_mutex_unlock(&net->mu);
    return rc;
}

int e2ee__net_send(struct e2ee__net *net, const uint8_t *data, size_t len, unsigned flags)
{
    const unsigned known = E2EE__NET_SEND_PRIORITY | E2EE__NET_SEND_VOLATILE;
    struct e2ee__net_frame *f = NULL;
    int rc = E2EE_OK;

    if (!net || (!data && len > 0) || (flags & ~known))
        rc = E2EE_ERR_ARG;
    else if (len > net->max_frame)
        rc = E2EE_ERR_TOO_LARGE;
    if (rc != E2EE_OK)
        goto done;
    f = e2ee__net_frame_new(data, len, flags);
    rc = f ? enqueue(net, f) : E2EE_ERR_NOMEM;
    if (rc == E2EE_OK) {
        f = NULL; /* the queue owns it */
        wake(net);
    }
done:
    e2ee__net_frame_free(f);
    return rc;
}

int e2ee__net_release(struct e2ee__net *net)
{
    if (net) {
        pthread_mutex_lock(&net->mu);
        net->held = 0;
        pthread_mutex_unlock(&net->mu);
        wake(net);
    }
    return net ? E2EE_OK : E2EE_ERR_ARG;
}

void e2ee__net_queued(struct e2ee__net *net, size_t *frames, size_t *bytes)
{
    size_t f = 0, b = 0;
    if (net) {
        pthread_mutex_lock(&net->mu);
        f = net->q.frames;
        b = net->q.bytes;
        pthread_mutex_unlock(&net->mu);
    }
    if (frames)
        *frames = f;
    if (bytes)
        *bytes = b;
}

/* ---- loop family ---- */

static int enter_loop(struct e2ee__net *net)
{
    int rc = E2EE_OK;
    pthread_mutex_lock(&net->mu);
    if (net->in_loop) {
        rc = pthread_equal(net->loop_owner, pthread_self()) ? E2EE_ERR_IN_CALLBACK
                                                            : E2EE_ERR_STATE;
    } else {
        net->in_loop = 1;
        net->loop_owner = pthread_self();
    }
    pthread_mutex_unlock(&net->mu);
    return rc;
}

static void leave_loop(struct e2ee__net *net)
{
    pthread_mutex_lock(&net->mu);
    net->in_loop = 0;
    pthread_mutex_unlock(&net->mu);
}

static void wait_over(lws_sorted_usec_list_t *sul)
{
    (void)sul; /* only bounds the poll of lws_service() */
}

/* One iteration; the caller is in the loop. lws_service() first runs the timers that are due,
 * then polls until the next timer, a wake-up or network activity, then handles what is
 * ready; a negative wait means "do not wait". A wake-up since the last iteration (the layer
 * above may have work the wait would delay) makes it not wait. */
static int iterate(struct e2ee__net *net, int timeout_ms)
{
    int n;
    if (timeout_ms > 0)
        atomic_store(&net->waiting, 1);
    if (drain_wake(net))
        timeout_ms = 0;
    e2ee__net_process_requests(net);
    if (timeout_ms > 0)
        lws_sul_schedule(net->ctx, 0, &net->sul_wait, wait_over,
                         (lws_usec_t)timeout_ms * LWS_US_PER_MS);
    n = lws_service(net->ctx, timeout_ms > 0 ? 0 : -1);
    lws_sul_cancel(&net->sul_wait);
    atomic_store(&net->waiting, 0);
    return n < 0 ? E2EE_ERR_IO : E2EE_OK;
}

int e2ee__net_loop(struct e2ee__net *net, int timeout_ms)
{
    int rc = net ? enter_loop(net) : E2EE_ERR_ARG;
    if (rc == E2EE_OK) {
        rc = iterate(net, timeout_ms);
        leave_loop(net);
    }
    return rc;
}

/* Iterates until a break; the caller is in the loop. The break request is consumed. */
static int run(struct e2ee__net *net)
{
    int rc = E2EE_OK;
    while (rc == E2EE_OK && !atomic_load(&net->break_loop))
        rc = iterate(net, E2EE__NET_FOREVER_WAIT_MS);
    atomic_store(&net->break_loop, 0);
    return rc;
}

int e2ee__net_loop_forever(struct e2ee__net *net)
{
    int rc = net ? enter_loop(net) : E2EE_ERR_ARG;
    if (rc == E2EE_OK) {
        atomic_store(&net->break_loop, 0);
        rc = run(net);
        leave_loop(net);
    }
    return rc;
}

int e2ee__net_loop_break(struct e2ee__net *net)
{
    if (net) {
        atomic_store(&net->break_loop, 1);
        wake(net);
    }
    return net ? E2EE_OK : E2EE_ERR_ARG;
}

static void *thread_main(void *arg)
{
    struct e2ee__net *net = arg;
    /* loop_start() entered the loop on this thread's behalf */
    (void)run(net);
    leave_loop(net);
    return NULL;
}

int e2ee__net_loop_start(struct e2ee__net *net)
{
    int rc = net ? enter_loop(net) : E2EE_ERR_ARG;
    if (rc != E2EE_OK)
        goto done;
    atomic_store(&net->break_loop, 0);
    pthread_mutex_lock(&net->mu);
    if (pthread_create(&net->thread, NULL, thread_main, net) == 0) {
        net->thread_running = 1;
        net->loop_owner = net->thread;
    } else {
        rc = E2EE_ERR_IO;
    }
    pthread_mutex_unlock(&net->mu);
    if (rc != E2EE_OK)
        leave_loop(net);
done:
    return rc;
}

int e2ee__net_loop_stop(struct e2ee__net *net)
{
    int rc = net ? E2EE_OK : E2EE_ERR_ARG;
    pthread_t t;

    if (rc != E2EE_OK)
        goto done;
    pthread_mutex_lock(&net->mu);
    if (!net->thread_running)
        rc = E2EE_ERR_STATE;
    else if (pthread_equal(net->thread, pthread_self()))
        rc = E2EE_ERR_IN_CALLBACK;
    t = net->thread;
    pthread_mutex_unlock(&net->mu);
    if (rc != E2EE_OK)
        goto done;
    (void)e2ee__net_loop_break(net);
    pthread_join(t, NULL);
    pthread_mutex_lock(&net->mu);
    net->thread_running = 0;
    pthread_mutex_unlock(&net->mu);
done:
    return rc;
}

/* ---- the caller's event loop ---- */

int e2ee__net_fd_socket(struct e2ee__net *net)
{
    return net && net->wsi ? (int)lws_get_socket_fd(net->wsi) : -1;
}

int e2ee__net_fd_wake(struct e2ee__net *net)
{
    return net ? net->wake_fd : -1;
}

int e2ee__net_want_write(struct e2ee__net *net)
{
    int want = 0;
    if (!net || !net->wsi)
        goto done;
    /* connecting: the TCP connect and the handshakes wait for writability */
    want = net->state == E2EE__NET_ST_CONNECTING || net->inflight ||
           lws_partial_buffered(net->wsi);
    if (!want) {
        pthread_mutex_lock(&net->mu);
        want = !net->want_connected || e2ee__net_queue_ready(&net->q, net->held);
        pthread_mutex_unlock(&net->mu);
    }
done:
    return want;
}

int e2ee__net_timeout_ms(struct e2ee__net *net)
{
    lws_usec_t left = (lws_usec_t)E2EE__NET_TICK_MS * LWS_US_PER_MS;

    /* lws may hold buffered data (TLS) that needs a pass without waiting */
    if (!net || !lws_service_adjust_timeout(net->ctx, 1, 0))
        left = 0;
    else if (net->state == E2EE__NET_ST_WAITING && net->retry_at - lws_now_usecs() < left)
        left = net->retry_at - lws_now_usecs();
    if (left < 0)
        left = 0;
    return (int)((left + LWS_US_PER_MS - 1) / LWS_US_PER_MS);
}
