/*
 * e2ee client: logging in (docs/PROTOCOL.md 3.3) and the connection's ends.
 *
 * Each WebSocket connection starts with the relay's challenge; the client answers with a
 * login signed by its identity key over the login message. Once logged in, the queue flows
 * and the keys the relay lacks are published. When a connection ends, everything that
 * belonged to it (requests in flight) is dropped: the store says what to send again.
 */
#include <string.h>

#include "client/client_internal.h"

#define LOGIN_LABEL "e2ee-relay-login-v1"
#define LOGIN_MSG_MAX (sizeof LOGIN_LABEL - 1 + 2 + E2EE_USER_ID_MAX + 2 + 32 + 2 + \
                       E2EE_USER_ID_MAX + 4)
#define CLOSE_NORMAL 1000
#define CLOSE_GOING_AWAY 1001
#define CLOSE_REPLACED 4001
#define CLOSE_RELAY_FULL 4013

/* Refusals that another attempt cannot fix: stop reconnecting. */
static int permanent_refusal(int code)
{
    return code == E2EE_ERR_LOGIN_REFUSED || code == E2EE_ERR_REGISTRATION ||
           code == E2EE_ERR_NOT_SUPPORTED || code == E2EE_ERR_ARG || code == E2EE_ERR_LENGTH;
}

void e2ee__login_net_cb(struct e2ee_client *c, const struct e2ee__net_event *ev)
{
    int down = ev->type == E2EE__NET_EV_DISCONNECTED;
    int stop = 0;
    if (down && c->recycling) {
        (void)e2ee__net_connect(c->net); /* the transport schedules the new attempt */
    } else {
        stop = down && (ev->close_code == CLOSE_REPLACED ||
                        (ev->close_code == CLOSE_NORMAL && !ev->local));
        if (down || ev->type == E2EE__NET_EV_CONNECT_FAILED)
            stop = stop || c->reconnect_min_ms == 0;
    }
    /* decided inside the callback: the transport schedules its retry after it returns */
    if (stop)
        (void)e2ee__net_disconnect(c->net);
}

void e2ee__login_on_open(struct e2ee_client *c)
{
    c->conn = E2EE__CONN_OPEN;
    c->login_error = 0;
    c->login_text[0] = '\0';
    c->login_req = 0;
    c->login_retry_at = 0;
    c->have_nonce = 0;
}

static size_t put_u16_str(uint8_t *p, const uint8_t *s, size_t n)
{
    p[0] = (uint8_t)(n >> 8);
    p[1] = (uint8_t)n;
    memcpy(p + 2, s, n);
    return n + 2;
}

/* "e2ee-relay-login-v1" || u16 len || relay_id || u16 32 || nonce || u16 len || user_id
 * || u32 device (docs/PROTOCOL.md 3.3). */
static size_t login_message(struct e2ee_client *c, uint8_t *m)
{
    size_t n = sizeof LOGIN_LABEL - 1;
    memcpy(m, LOGIN_LABEL, n);
    n += put_u16_str(m + n, (const uint8_t *)c->relay_id, strlen(c->relay_id));
    n += put_u16_str(m + n, c->nonce, sizeof c->nonce);
    n += put_u16_str(m + n, (const uint8_t *)c->user_id, strlen(c->user_id));
    e2ee__client_put_u32(m + n, E2EE__CLIENT_DEVICE);
    return n + 4;
}

static int send_login(struct e2ee_client *c)
{
    E2ee__ClientFrame f = E2EE__CLIENT_FRAME__INIT;
    E2ee__RelayLogin login = E2EE__RELAY_LOGIN__INIT;
    E2ee__RelayIdentity ident = E2EE__RELAY_IDENTITY__INIT;
    const e2ee__identity_pub *pub = e2ee__identity_public(c->id);
    uint8_t msg[LOGIN_MSG_MAX], proof[E2EE_ED25519_SIG_LEN];
    size_t len = login_message(c, msg);
    int rc = e2ee__identity_sign(c->id, proof, msg, len);

    c->have_nonce = 0; /* a nonce serves one attempt */
    if (rc != E2EE_OK)
        goto done;
    ident.sign_key = (ProtobufCBinaryData){sizeof pub->sign_pk, (uint8_t *)pub->sign_pk};
    ident.dh_key = (ProtobufCBinaryData){sizeof pub->dh_pk, (uint8_t *)pub->dh_pk};
    ident.dh_signature = (ProtobufCBinaryData){sizeof pub->dh_sig, (uint8_t *)pub->dh_sig};
    login.user_id = c->user_id;
    login.device_id = E2EE__CLIENT_DEVICE;
    login.identity = &ident;
    login.proof = (ProtobufCBinaryData){sizeof proof, proof};
    login.registration_token = c->token ? c->token : "";
    login.ack_direct = c->ack_direct != 0;
    login.ack_group = c->ack_group != 0;
    f.request_id = e2ee__client_req_id(c);
    f.body_case = E2EE__CLIENT_FRAME__BODY_LOGIN;
    f.login = &login;
    rc = e2ee__client_frame(c, &f, E2EE__NET_SEND_PRIORITY);
    if (rc == E2EE_OK)
        c->login_req = f.request_id;
done:
    return rc;
}

int e2ee__login_on_challenge(struct e2ee_client *c, const E2ee__RelayChallenge *ch)
{
    uint8_t digest[E2EE_SHA256_LEN];
    int rc = E2EE_OK;
    if (c->conn != E2EE__CONN_OPEN)
        goto done; /* logged in already: a challenge follows only refused logins */
    if (ch->version != 1 || !e2ee__client_id_valid(ch->relay_id) ||
        ch->nonce.len != sizeof c->nonce) {
        e2ee__client_log(c, E2EE_LOG_ERROR, "unusable challenge from the relay");
        goto done;
    }
    e2ee__client_copy_id(c->relay_id, ch->relay_id);
    if (e2ee__sha256(digest, (const uint8_t *)c->relay_id, strlen(c->relay_id)) != E2EE_OK)
        goto done;
    e2ee__client_hex(digest, 8, c->cursor_prefix);
    c->cursor_prefix[16] = '/';
    c->cursor_prefix[17] = '\0';
    memcpy(c->nonce, ch->nonce.data, sizeof c->nonce);
    c->have_nonce = 1;
    if (ch->limits && ch->limits->max_frame_size > 0)
        c->max_frame = ch->limits->max_frame_size;
    c->bundles_max = ch->limits ? ch->limits->max_bundles_per_fetch : 0;
    if (c->bundles_max > E2EE__CLIENT_BUNDLES_MAX)
        c->bundles_max = E2EE__CLIENT_BUNDLES_MAX;
    c->rate = (uint32_t)((uint64_t)(ch->limits && ch->limits->max_requests_per_sec
                                        ? ch->limits->max_requests_per_sec
                                        : E2EE__CLIENT_RATE_DEFAULT) *
                         E2EE__CLIENT_RATE_SHARE_PCT / 100);
    if (c->rate == 0)
        c->rate = 1;
    if (!c->login_retry_at && !c->login_error)
        rc = send_login(c);
done:
    return rc;
}

void e2ee__login_connect_event(struct e2ee_client *c)
{
    size_t queued = 0;
    struct e2ee__event_item *it;

    c->connect_pending = 0;
    if (e2ee__store_outq_count(c->st, &queued) != E2EE_OK)
        queued = 0;
    it = e2ee__event_add(c, E2EE_EVENT_CONNECT);
    if (it) {
        it->ev.connect.relay_url = e2ee__event_str(it, c->relay_url);
        it->ev.connect.registered = c->connect_registered;
        it->ev.connect.queued = queued;
    }
}

int e2ee__login_prune(struct e2ee_client *c)
{
    int64_t now_s = e2ee__client_wall_ms() / 1000;
    c->seen_pruned_at = e2ee__client_mono_ms();
    return e2ee__store_seen_prune(c->st, now_s - E2EE__CLIENT_SEEN_KEEP_S, E2EE__CLIENT_SEEN_MAX,
                                  NULL);
}

static int logged_in(struct e2ee_client *c, const E2ee__RelayLoginOk *ok)
{
    int rc = e2ee__client_txn(c);

    c->conn = E2EE__CONN_UP;
    atomic_store(&c->logged_in, 1);
    c->pump_dirty = 1;
    e2ee__client_log(c, E2EE_LOG_INFO, "logged in as %s%s", c->user_id,
                     ok && ok->registered ? " (registered)" : "");
    if (rc == E2EE_OK)
        rc = e2ee__keys_after_login(c, ok);
    if (rc == E2EE_OK)
        rc = e2ee__login_prune(c);
    /* a peer may fetch this client's bundle as soon as it hears of it: say "connected"
     * once the keys are there */
    c->connect_registered = ok && ok->registered;
    c->connect_pending = 1;
    if (!c->publish_req)
        e2ee__login_connect_event(c);
    return rc;
}

int e2ee__login_on_result(struct e2ee_client *c, const E2ee__RelayResult *r)
{
    int rc = E2EE_OK;
    c->login_req = 0;
    if (r->code == E2EE_OK) {
        rc = logged_in(c, r->body_case == E2EE__RELAY_RESULT__BODY_LOGIN ? r->login : NULL);
    } else if (permanent_refusal(r->code)) {
        c->login_error = r->code;
        e2ee__client_copy_id(c->login_text, ""); /* then the relay's text, bounded */
        if (r->text)
            strncat(c->login_text, r->text, sizeof c->login_text - 1);
        e2ee__client_log(c, E2EE_LOG_ERROR, "login refused: %s", e2ee_errname(r->code));
        (void)e2ee__net_disconnect(c->net);
    } else {
        /* the relay sends a fresh challenge; answer it a little later */
        c->login_retry_at = e2ee__client_mono_ms() + E2EE__CLIENT_LOGIN_RETRY_MS;
        e2ee__client_log(c, E2EE_LOG_WARNING, "login not accepted now: %s",
                         e2ee_errname(r->code));
    }
    return rc;
}

int e2ee__login_timers(struct e2ee_client *c, uint64_t now)
{
    int rc = E2EE_OK;
    if (c->login_retry_at && c->login_retry_at <= now && c->conn == E2EE__CONN_OPEN) {
        c->login_retry_at = 0;
        if (c->have_nonce)
            rc = send_login(c);
    }
    return rc;
}

/* The code a DISCONNECT event reports for a connection that ended. */
static int down_code(struct e2ee_client *c, const struct e2ee__inbound *in)
{
    int code = in->err;
    if (in->type == E2EE__NET_EV_CONNECT_FAILED)
        code = in->err;
    else if (c->recycling)
        code = c->down_code;
    else if (c->login_error)
        code = c->login_error;
    else if (in->local && in->err == E2EE_OK)
        code = E2EE_OK;
    else if (in->close_code == CLOSE_REPLACED)
        code = E2EE_ERR_REPLACED;
    else if (in->close_code == CLOSE_GOING_AWAY || in->close_code == CLOSE_RELAY_FULL)
        code = E2EE_ERR_UNAVAILABLE;
    else if (!in->local)
        code = E2EE_ERR_CLOSED;
    return code;
}

void e2ee__login_on_down(struct e2ee_client *c, const struct e2ee__inbound *in,
                         const struct e2ee__inbound *retry)
{
    struct e2ee__event_item *it = e2ee__event_add(c, E2EE_EVENT_DISCONNECT);
    int code = down_code(c, in);

    if (it) {
        it->ev.disconnect.code = code;
        it->ev.disconnect.close_code =
            in->type == E2EE__NET_EV_DISCONNECTED ? in->close_code : 0;
        it->ev.disconnect.reason =
            e2ee__event_str(it, c->login_error && !c->recycling ? c->login_text : in->reason);
        it->ev.disconnect.will_reconnect = retry != NULL;
        it->ev.disconnect.retry_ms = retry ? retry->delay_ms : 0;
    }
    e2ee__client_log(c, E2EE_LOG_INFO, "connection ended: %s%s", e2ee_errname(code),
                     retry ? " (will reconnect)" : "");
    c->conn = E2EE__CONN_DOWN;
    c->connect_pending = 0;
    c->recycling = 0;
    c->login_req = 0;
    c->login_retry_at = 0;
    c->have_nonce = 0;
    c->publish_req = 0;
    atomic_store(&c->logged_in, 0);
    e2ee__outbox_reset(c);
    e2ee__pairwise_reset(c);
    e2ee__calls_on_down(c);
    e2ee__vec_clear(&c->acks, NULL);
}
