/*
 * e2ee client: the loop family and the processing pass.
 *
 * One iteration = one transport iteration (e2ee__net_loop: waits for the socket, a wake-up or
 * a timer; its callback copies transport events into c->inbound) followed by one pass:
 *
 *   lock; [store transaction] handle inbound frames in order; send queued group calls;
 *   timers; prepare queued messages; acks; [commit]; unlock;
 *   hand the frames to the transport; wake blocking callers; deliver the events.
 *
 * The client runs iterations itself (never the transport's own loop_forever), so
 * e2ee__net_loop_break() serves as a pure wake-up here: its flag is only read by the
 * transport's own loop_forever, which this client never calls.
 */
#include <stdlib.h>
#include <string.h>

#include "client/client_internal.h"
#include "wire/wire.h"

void e2ee__client_wake(struct e2ee_client *c)
{
    (void)e2ee__net_loop_break(c->net);
}

int e2ee__client_on_loop_thread(struct e2ee_client *c)
{
    pthread_mutex_lock(&c->mu);
    int on = c->in_loop && pthread_equal(c->loop_owner, pthread_self());
    pthread_mutex_unlock(&c->mu);
    return on;
}

int e2ee__client_driven_elsewhere(struct e2ee_client *c)
{
    int driven = c->thread_running ||
                 (c->in_loop && !pthread_equal(c->loop_owner, pthread_self()));
    if (!driven && c->last_loop_valid && !pthread_equal(c->last_loop_thread, pthread_self()))
        driven = e2ee__client_mono_ms() - c->last_loop_ms < E2EE__CLIENT_DRIVER_IDLE_MS;
    return driven;
}

/* ---- the transport callback: runs inside e2ee__net_loop on the loop thread ---- */

static void inbound_free(void *p)
{
    struct e2ee__inbound *in = p;
    if (in) {
        free(in->data);
        free(in);
    }
}

void e2ee__client_inbound_clear(struct e2ee_client *c)
{
    e2ee__vec_clear(&c->inbound, inbound_free);
}

/* A copy of a transport event, or NULL when out of memory. */
static struct e2ee__inbound *inbound_copy(const struct e2ee__net_event *ev)
{
    struct e2ee__inbound *in = calloc(1, sizeof *in);
    size_t n = ev->reason ? strnlen(ev->reason, E2EE__NET_REASON_MAX) : 0;

    if (in && ev->type == E2EE__NET_EV_FRAME) {
        in->data = malloc(ev->len ? ev->len : 1);
        if (in->data)
            memcpy(in->data, ev->data, ev->len);
        in->len = ev->len;
    }
    if (in && ev->type == E2EE__NET_EV_FRAME && !in->data) {
        free(in);
        in = NULL;
    }
    if (in) {
        in->type = ev->type;
        in->err = ev->err;
        in->close_code = ev->close_code;
        in->local = ev->local;
        in->delay_ms = ev->delay_ms;
        if (n)
            memcpy(in->reason, ev->reason, n);
        in->reason[n] = '\0';
    }
    return in;
}

void e2ee__client_net_cb(const struct e2ee__net_event *ev, void *user)
{
    struct e2ee_client *c = user;
    struct e2ee__inbound *in = NULL;

    e2ee__login_net_cb(c, ev);
    if (ev->type != E2EE__NET_EV_CONNECTING) {
        in = inbound_copy(ev);
        if (!in || e2ee__vec_push(&c->inbound, in) != E2EE_OK) {
            inbound_free(in);
            /* a lost frame would break the relay's stream order: get everything again */
            c->reconnect_needed = 1;
        }
    }
}

/* ---- the pass ---- */

int e2ee__client_txn(struct e2ee_client *c)
{
    int rc = E2EE_OK;
    if (!c->txn) {
        rc = e2ee__store_begin(c->st);
        if (rc == E2EE_OK) {
            c->txn = 1;
            c->events_at_txn = c->events.n;
        }
    }
    return rc;
}

static int handle_result(struct e2ee_client *c, const E2ee__RelayResult *r)
{
    int rc = E2EE_OK, handled = 0;
    if (r->request_id != 0 && r->request_id == c->login_req)
        rc = e2ee__login_on_result(c, r);
    else if (r->request_id != 0 && r->request_id == c->publish_req)
        rc = e2ee__keys_on_result(c, r);
    else if ((rc = e2ee__pairwise_on_result(c, r, &handled)) != E2EE_OK || handled)
        ;
    else if (e2ee__calls_on_result(c, r))
        ;
    else if (r->request_id == 0)
        e2ee__client_log(c, E2EE_LOG_WARNING, "relay refused an ack: %s",
                         e2ee_errname(r->code));
    else
        rc = e2ee__outbox_on_result(c, r);
    return rc;
}

static int handle_event(struct e2ee_client *c, const E2ee__RelayEvent *ev)
{
    int rc = E2EE_OK;
    if (ev->body_case == E2EE__RELAY_EVENT__BODY_LOW_PREKEYS) {
        rc = e2ee__keys_on_low(c);
    } else if (ev->body_case == E2EE__RELAY_EVENT__BODY_USER && ev->user &&
               e2ee__client_id_valid(ev->user->user_id)) {
        int created = ev->user->kind == E2EE__RELAY_USER_EVENT_KIND__RELAY_USER_CREATED;
        int deleted = ev->user->kind == E2EE__RELAY_USER_EVENT_KIND__RELAY_USER_DELETED;
        struct e2ee__event_item *it =
            created || deleted
                ? e2ee__event_add(c, created ? E2EE_EVENT_USER_CREATED : E2EE_EVENT_USER_DELETED)
                : NULL;
        if (it)
            it->ev.user.user = e2ee__event_str(it, ev->user->user_id);
    }
    return rc;
}

static int handle_frame(struct e2ee_client *c, const struct e2ee__inbound *in)
{
    E2ee__ServerFrame *f = NULL;
    int rc = e2ee__wire_unpack(&e2ee__server_frame__descriptor, in->data, in->len,
                               E2EE__CLIENT_NET_FRAME_MAX, (ProtobufCMessage **)&f);
    if (rc != E2EE_OK) {
        e2ee__client_log(c, E2EE_LOG_WARNING, "undecodable frame from the relay (%zu bytes)",
                         in->len);
        rc = E2EE_OK;
        goto done;
    }
    switch (f->body_case) {
    case E2EE__SERVER_FRAME__BODY_CHALLENGE:
        rc = f->challenge ? e2ee__login_on_challenge(c, f->challenge) : E2EE_OK;
        break;
    case E2EE__SERVER_FRAME__BODY_RESULT:
        rc = f->result ? handle_result(c, f->result) : E2EE_OK;
        break;
    case E2EE__SERVER_FRAME__BODY_DELIVERIES:
        rc = c->conn == E2EE__CONN_UP && f->deliveries
                 ? e2ee__deliveries_handle(c, f->deliveries)
                 : E2EE_OK;
        break;
    case E2EE__SERVER_FRAME__BODY_EVENT:
        rc = f->event ? handle_event(c, f->event) : E2EE_OK;
        break;
    default:
        break;
    }
done:
    e2ee__wire_free(&f->base);
    return rc;
}

static int handle_inbound(struct e2ee_client *c)
{
    int rc = E2EE_OK;
    for (size_t i = 0; i < c->inbound.n && rc == E2EE_OK; i++) {
        struct e2ee__inbound *in = c->inbound.v[i];
        struct e2ee__inbound *next = i + 1 < c->inbound.n ? c->inbound.v[i + 1] : NULL;
        switch (in->type) {
        case E2EE__NET_EV_CONNECTED:
            e2ee__login_on_open(c);
            break;
        case E2EE__NET_EV_CONNECT_FAILED:
        case E2EE__NET_EV_DISCONNECTED:
            if (next && next->type != E2EE__NET_EV_RETRY_SCHEDULED)
                next = NULL;
            e2ee__login_on_down(c, in, next);
            break;
        case E2EE__NET_EV_FRAME:
            rc = e2ee__client_txn(c);
            if (rc == E2EE_OK)
                rc = handle_frame(c, in);
            break;
        default:
            break;
        }
    }
    e2ee__vec_clear(&c->inbound, inbound_free);
    return rc;
}

/* Acks held back by the pacing go out when a token is there. */
static uint64_t acks_timer(struct e2ee_client *c)
{
    return c->acks.n && c->conn == E2EE__CONN_UP ? e2ee__client_token_timer(c) : 0;
}

static int timers_due(struct e2ee_client *c, uint64_t now)
{
    uint64_t t1 = e2ee__outbox_next_timer(c), t2 = e2ee__pending_next_timer(c);
    uint64_t t3 = acks_timer(c);
    return (t1 && t1 <= now) || (t2 && t2 <= now) || (t3 && t3 <= now) ||
           (c->login_retry_at && c->login_retry_at <= now);
}

static int calls_queued(struct e2ee_client *c)
{
    int any = 0;
    for (size_t i = 0; i < c->calls.n && !any; i++)
        any = ((struct e2ee__call *)c->calls.v[i])->state == E2EE__CALL_QUEUED;
    return any;
}

/* The work of a pass that needs the store; mu held. */
static int pass_work(struct e2ee_client *c, uint64_t now)
{
    int rc = handle_inbound(c);
    int up = c->conn == E2EE__CONN_UP;

    if (rc == E2EE_OK && (timers_due(c, now) || (up && (c->pump_dirty || calls_queued(c)))))
        rc = e2ee__client_txn(c);
    if (rc == E2EE_OK)
        rc = e2ee__login_timers(c, now);
    if (rc == E2EE_OK && c->txn)
        rc = e2ee__pending_timers(c, now);
    if (rc == E2EE_OK && up && c->conn == E2EE__CONN_UP)
        rc = e2ee__calls_send(c);
    if (rc == E2EE_OK && c->conn == E2EE__CONN_UP && c->txn)
        rc = e2ee__outbox_pump(c, now);
    if (rc == E2EE_OK && c->txn)
        rc = e2ee__client_acks_flush(c);
    if (rc == E2EE_OK && c->txn && now > c->seen_pruned_at + E2EE__CLIENT_SEEN_PRUNE_MS)
        rc = e2ee__login_prune(c);
    if (rc == E2EE_OK)
        rc = e2ee__events_undone_flush(c);
    return rc;
}

/* Ends the pass's transaction, with the events it produced stored in it. A failure rolls
 * back: the events of the pass are dropped, its frames too, and the connection is recycled
 * so the relay delivers the items again. */
static int pass_end(struct e2ee_client *c, int rc, size_t replayed)
{
    if (rc == E2EE_OK)
        rc = e2ee__events_persist(c);
    if (c->txn && rc == E2EE_OK)
        rc = e2ee__store_commit(c->st);
    else if (c->txn)
        (void)e2ee__store_rollback(c->st);
    if (rc != E2EE_OK) {
        if (c->txn)
            e2ee__events_truncate(c, c->events_at_txn);
        /* rows stored by this pass are gone with it (an earlier run's rows stay) */
        for (size_t i = replayed; i < c->events.n; i++)
            ((struct e2ee__event_item *)c->events.v[i])->stored = 0;
        e2ee__vec_clear(&c->acks, NULL);
        for (size_t i = 0; i < c->frames.n; i++)
            free(((struct e2ee__frame_out *)c->frames.v[i])->buf);
        e2ee__vec_clear(&c->frames, NULL);
        e2ee__client_log(c, E2EE_LOG_ERROR, "processing failed (%s: %s); reconnecting",
                         e2ee_errname(rc), e2ee__store_errmsg(c->st));
        e2ee__event_error(c, rc, "the client could not process what the relay sent; it "
                                 "reconnects to receive it again", 0, NULL);
        c->reconnect_needed = 1;
    }
    c->txn = 0;
    return rc;
}

static void process(struct e2ee_client *c)
{
    struct e2ee__vec events = {0};
    uint64_t now = e2ee__client_mono_ms();
    size_t replayed;
    int rc, recycle;

    pthread_mutex_lock(&c->mu);
    /* an earlier run's undelivered events go first; new work waits until all are loaded */
    if (c->replay)
        (void)e2ee__events_replay(c);
    replayed = c->events.n;
    rc = pass_end(c, c->replay ? E2EE_OK : pass_work(c, now), replayed);
    e2ee__client_frames_flush(c);
    recycle = c->reconnect_needed && c->conn != E2EE__CONN_DOWN && !c->recycling;
    if (recycle) {
        c->recycling = 1;
        c->down_code = rc != E2EE_OK ? rc : E2EE_ERR_NOMEM; /* NOMEM: a lost frame */
    }
    c->reconnect_needed = 0;
    events = c->events;
    memset(&c->events, 0, sizeof c->events);
    pthread_mutex_unlock(&c->mu);
    /* closes this connection (the relay delivers again what was not acked); the transport
     * callback asks for a new one when the close is done (e2ee__login_net_cb) */
    if (recycle)
        (void)e2ee__net_disconnect(c->net);
    e2ee__events_dispatch(c, &events);
    /* blocking calls return once their events have been delivered */
    pthread_mutex_lock(&c->mu);
    e2ee__calls_release(c);
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

/* ---- loop ownership ---- */

static int enter_loop(struct e2ee_client *c)
{
    int rc = E2EE_OK;
    pthread_mutex_lock(&c->mu);
    if (c->in_loop)
        rc = pthread_equal(c->loop_owner, pthread_self()) ? E2EE_ERR_IN_CALLBACK
                                                          : E2EE_ERR_STATE;
    else if (c->thread_running)
        rc = pthread_equal(c->thread, pthread_self()) ? E2EE_ERR_IN_CALLBACK : E2EE_ERR_STATE;
    if (rc == E2EE_OK) {
        c->in_loop = 1;
        c->loop_owner = pthread_self();
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static void leave_loop(struct e2ee_client *c)
{
    pthread_mutex_lock(&c->mu);
    c->in_loop = 0;
    c->last_loop_ms = e2ee__client_mono_ms();
    c->last_loop_thread = pthread_self();
    c->last_loop_valid = 1;
    pthread_mutex_unlock(&c->mu);
}

/* The wait of one iteration: the caller's bound, shortened by the client's timers. */
static int wait_ms(struct e2ee_client *c, int timeout_ms)
{
    uint64_t now = e2ee__client_mono_ms(), next = 0;
    uint64_t t[4] = {e2ee__outbox_next_timer(c), e2ee__pending_next_timer(c),
                     c->login_retry_at, acks_timer(c)};
    for (size_t i = 0; i < 4; i++) {
        if (t[i] && (!next || t[i] < next))
            next = t[i];
    }
    pthread_mutex_lock(&c->mu);
    if ((c->pump_dirty && c->conn == E2EE__CONN_UP) || c->replay)
        next = now;
    pthread_mutex_unlock(&c->mu);
    if (next && next <= now)
        timeout_ms = 0;
    else if (next && next - now < (uint64_t)timeout_ms)
        timeout_ms = (int)(next - now);
    return timeout_ms;
}

/* One iteration; the caller is in the loop. */
static int iterate(struct e2ee_client *c, int timeout_ms)
{
    int rc = e2ee__net_loop(c->net, wait_ms(c, timeout_ms < 0 ? 0 : timeout_ms));
    process(c);
    return rc;
}

int e2ee_client_loop(e2ee_client *c, int timeout_ms)
{
    int rc = c ? enter_loop(c) : E2EE_ERR_ARG;
    if (rc == E2EE_OK) {
        rc = iterate(c, timeout_ms);
        leave_loop(c);
    }
    return rc;
}

static int run(struct e2ee_client *c)
{
    int rc = E2EE_OK;
    while (rc == E2EE_OK && !atomic_load(&c->break_loop))
        rc = iterate(c, E2EE__CLIENT_FOREVER_WAIT_MS);
    atomic_store(&c->break_loop, 0);
    return rc;
}

int e2ee_client_loop_forever(e2ee_client *c)
{
    int rc = c ? enter_loop(c) : E2EE_ERR_ARG;
    if (rc == E2EE_OK) {
        rc = run(c);
        leave_loop(c);
    }
    return rc;
}

int e2ee_client_loop_break(e2ee_client *c)
{
    if (c) {
        atomic_store(&c->break_loop, 1);
        e2ee__client_wake(c);
    }
    return c ? E2EE_OK : E2EE_ERR_ARG;
}

static void *thread_main(void *arg)
{
    struct e2ee_client *c = arg;
    /* loop_start entered the loop for this thread and names it the owner under the lock */
    pthread_mutex_lock(&c->mu);
    pthread_mutex_unlock(&c->mu);
    (void)run(c);
    leave_loop(c);
    return NULL;
}

int e2ee_client_loop_start(e2ee_client *c)
{
    int rc = c ? enter_loop(c) : E2EE_ERR_ARG;
    if (rc != E2EE_OK)
        goto done;
    atomic_store(&c->break_loop, 0);
    pthread_mutex_lock(&c->mu);
    if (pthread_create(&c->thread, NULL, thread_main, c) == 0) {
        c->thread_running = 1;
        c->loop_owner = c->thread;
    } else {
        rc = E2EE_ERR_IO;
        c->in_loop = 0;
    }
    pthread_mutex_unlock(&c->mu);
done:
    return rc;
}

int e2ee_client_loop_stop(e2ee_client *c)
{
    int rc = c ? E2EE_OK : E2EE_ERR_ARG;
    pthread_t t;

    if (rc != E2EE_OK)
        goto done;
    pthread_mutex_lock(&c->mu);
    if (!c->thread_running)
        rc = E2EE_ERR_STATE;
    else if (pthread_equal(c->thread, pthread_self()))
        rc = E2EE_ERR_IN_CALLBACK;
    t = c->thread;
    pthread_mutex_unlock(&c->mu);
    if (rc != E2EE_OK)
        goto done;
    (void)e2ee_client_loop_break(c);
    pthread_join(t, NULL);
    pthread_mutex_lock(&c->mu);
    c->thread_running = 0;
    pthread_mutex_unlock(&c->mu);
done:
    return rc;
}

/* ---- the caller's event loop ---- */

int e2ee_client_socket(e2ee_client *c)
{
    return c ? e2ee__net_fd_socket(c->net) : -1;
}

int e2ee_client_wake_fd(e2ee_client *c)
{
    return c ? e2ee__net_fd_wake(c->net) : -1;
}

int e2ee_client_want_write(e2ee_client *c)
{
    return c ? e2ee__net_want_write(c->net) : 0;
}

int e2ee_client_timeout_ms(e2ee_client *c)
{
    return c ? wait_ms(c, e2ee__net_timeout_ms(c->net)) : 0;
}
