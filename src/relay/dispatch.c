/*
 * e2ee relay: one incoming frame, from bytes to its handler, and the result frames.
 *
 * A frame that does not decode closes the connection (1007): the stream can no longer be
 * trusted. Everything else gets a result and the connection stays usable: an unknown
 * request type (a newer client) is E2EE_ERR_NOT_SUPPORTED, a request before login
 * E2EE_ERR_UNAUTHENTICATED, a request over the rate E2EE_ERR_RATE_LIMITED.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "relay/log.h"
#include "relay/relay.h"
#include "wire/wire.h"

void e2ee__relay_result(struct e2ee__rsession *s, uint64_t request_id, int code,
                        const char *text, E2ee__RelayResult *res)
{
    E2ee__ServerFrame f = E2EE__SERVER_FRAME__INIT;
    E2ee__RelayResult empty = E2EE__RELAY_RESULT__INIT;
    if (!res)
        res = &empty;
    res->request_id = request_id;
    res->code = code;
    res->text = (char *)(text ? text : (code ? e2ee_strerror(code) : "ok"));
    f.body_case = E2EE__SERVER_FRAME__BODY_RESULT;
    f.result = res;
    if (code != E2EE_OK) {
        e2ee__rmetrics_refusal(&s->relay->metrics, code);
        RLOG_DEBUG("refused conn=%llu user=%s req=%llu code=%s", (unsigned long long)s->conn_id,
                   s->uid[0] ? s->uid : "-", (unsigned long long)request_id,
                   e2ee_errname(code));
    }
    struct e2ee__rblob *b = e2ee__renc_frame(&f);
    if (!b) {
        e2ee__rsession_close(s, E2EE_RCLOSE_INTERNAL, "E2EE_ERR_NOMEM: relay out of memory", 1);
        return;
    }
    e2ee__rsession_emit(s, b);
    e2ee__rblob_unref(b);
}

void e2ee__relay_resultf(struct e2ee__rsession *s, uint64_t request_id, int code,
                         const char *fmt, ...)
{
    char text[E2EE_RELAY_TEXT_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    e2ee__relay_result(s, request_id, code, text, NULL);
}

/* Token bucket: max_requests_per_sec tokens per second, at most that many saved up. */
int e2ee__relay_rate_take(struct e2ee__rsession *s, double n)
{
    double rate = s->relay->cfg.max_requests_per_sec;
    int64_t now = e2ee__relay_now_us();
    s->tokens += (double)(now - s->tokens_us) * rate / 1e6;
    s->tokens_us = now;
    if (s->tokens > rate)
        s->tokens = rate;
    if (s->tokens < n)
        return 0;
    s->tokens -= n;
    return 1;
}

static int rate_ok(struct e2ee__rsession *s)
{
    return e2ee__relay_rate_take(s, 1.0);
}

static void ack(struct e2ee__rsession *s, uint64_t req, const E2ee__RelayAck *m)
{
    char err[E2EE_RELAY_TEXT_MAX] = "";
    int rc = E2EE_OK;
    if (m->n_items == 0) {
        rc = E2EE_ERR_ARG;
        snprintf(err, sizeof err, "an ack needs at least one item");
    }
    for (size_t i = 0; i < m->n_items && rc == E2EE_OK; i++) {
        const E2ee__RelayAckItem *it = m->items[i];
        if (!it->group_id || !it->group_id[0])
            rc = e2ee__relay_inbox_ack(s, it->seq, err, sizeof err);
        else
            rc = e2ee__relay_group_ack(s, it->group_id, it->seq, req != 0, err, sizeof err);
    }
    /* acks are answered only when asked (request_id != 0) or refused */
    if (rc != E2EE_OK || req != 0)
        e2ee__relay_result(s, req, rc, err[0] ? err : NULL, NULL);
}

static void authed(struct e2ee__rsession *s, const E2ee__ClientFrame *f)
{
    uint64_t req = f->request_id;
    switch (f->body_case) {
    case E2EE__CLIENT_FRAME__BODY_LOGIN:
        e2ee__relay_result(s, req, E2EE_ERR_UNEXPECTED, "already logged in on this connection",
                           NULL);
        break;
    case E2EE__CLIENT_FRAME__BODY_PING:
        e2ee__relay_result(s, req, E2EE_OK, "pong", NULL);
        break;
    case E2EE__CLIENT_FRAME__BODY_PUBLISH_KEYS:
        e2ee__relay_publish_keys(s, req, f->publish_keys);
        break;
    case E2EE__CLIENT_FRAME__BODY_FETCH_BUNDLE:
        e2ee__relay_fetch_bundle(s, req, f->fetch_bundle);
        break;
    case E2EE__CLIENT_FRAME__BODY_FETCH_BUNDLES:
        e2ee__relay_fetch_bundles(s, req, f->fetch_bundles);
        break;
    case E2EE__CLIENT_FRAME__BODY_LIST_USERS:
        e2ee__relay_list_users(s, req, f->list_users);
        break;
    case E2EE__CLIENT_FRAME__BODY_DELETE_ACCOUNT:
        e2ee__relay_delete_account(s, req, f->delete_account);
        break;
    case E2EE__CLIENT_FRAME__BODY_SEND_DIRECT:
        e2ee__relay_send_direct(s, req, f->send_direct);
        break;
    case E2EE__CLIENT_FRAME__BODY_ACK:
        ack(s, req, f->ack);
        break;
    case E2EE__CLIENT_FRAME__BODY_CREATE_GROUP:
        e2ee__relay_create_group(s, req, f->create_group);
        break;
    case E2EE__CLIENT_FRAME__BODY_JOIN_GROUP:
        e2ee__relay_join_group(s, req, f->join_group);
        break;
    case E2EE__CLIENT_FRAME__BODY_LEAVE_GROUP:
        e2ee__relay_leave_group(s, req, f->leave_group);
        break;
    case E2EE__CLIENT_FRAME__BODY_DELETE_GROUP:
        e2ee__relay_delete_group(s, req, f->delete_group);
        break;
    case E2EE__CLIENT_FRAME__BODY_REMOVE_MEMBER:
        e2ee__relay_remove_member(s, req, f->remove_member);
        break;
    case E2EE__CLIENT_FRAME__BODY_LIST_MEMBERS:
        e2ee__relay_list_members(s, req, f->list_members);
        break;
    case E2EE__CLIENT_FRAME__BODY_LIST_GROUPS:
        e2ee__relay_list_groups(s, req);
        break;
    case E2EE__CLIENT_FRAME__BODY_SEND_GROUP:
        e2ee__relay_send_group(s, req, f->send_group);
        break;
    default:
        e2ee__relay_result(s, req, E2EE_ERR_NOT_SUPPORTED,
                           "unknown request type (is the client newer than this relay?)", NULL);
        break;
    }
}

static void unauthed(struct e2ee__rsession *s, const E2ee__ClientFrame *f)
{
    switch (f->body_case) {
    case E2EE__CLIENT_FRAME__BODY_LOGIN:
        e2ee__relay_login(s, f->request_id, f->login);
        break;
    case E2EE__CLIENT_FRAME__BODY_PING:
        e2ee__relay_result(s, f->request_id, E2EE_OK, "pong", NULL);
        break;
    case E2EE__CLIENT_FRAME__BODY__NOT_SET:
        e2ee__relay_result(s, f->request_id, E2EE_ERR_NOT_SUPPORTED,
                           "unknown request type (is the client newer than this relay?)", NULL);
        break;
    default:
        e2ee__relay_result(s, f->request_id, E2EE_ERR_UNAUTHENTICATED,
                           "log in first: answer the challenge with a login request", NULL);
        break;
    }
}

int e2ee__relay_dispatch(struct e2ee__rsession *s, const uint8_t *buf, size_t len)
{
    struct e2ee__relay *r = s->relay;
    ProtobufCMessage *msg = NULL;
    r->metrics.frames_in++;
    r->metrics.bytes_in += len;
    int rc = e2ee__wire_unpack(&e2ee__client_frame__descriptor, buf, len, r->cfg.max_frame_size,
                               &msg);
    if (rc != E2EE_OK) {
        e2ee__rmetrics_refusal(&r->metrics, rc);
        RLOG_INFO("bad frame conn=%llu user=%s bytes=%zu rc=%s", (unsigned long long)s->conn_id,
                  s->uid[0] ? s->uid : "-", len, e2ee_errname(rc));
        e2ee__rsession_close(s, rc == E2EE_ERR_TOO_LARGE ? E2EE_RCLOSE_TOO_BIG
                                                          : E2EE_RCLOSE_INVALID,
                             rc == E2EE_ERR_TOO_LARGE
                                 ? "E2EE_ERR_TOO_LARGE: frame over the size limit"
                                 : "E2EE_ERR_DECODE: frame is not a valid ClientFrame",
                             0);
        return 0;
    }
    const E2ee__ClientFrame *f = (const E2ee__ClientFrame *)msg;
    if (!rate_ok(s))
        e2ee__relay_result(s, f->request_id, E2EE_ERR_RATE_LIMITED,
                           "too many requests per second (max_requests_per_sec); slow down",
                           NULL);
    else if (r->stopping)
        e2ee__relay_result(s, f->request_id, E2EE_ERR_UNAVAILABLE,
                           "the relay is shutting down; reconnect later", NULL);
    else if (s->state == E2EE_RSESSION_AUTHED)
        authed(s, f);
    else if (s->state == E2EE_RSESSION_CHALLENGED)
        unauthed(s, f);
    e2ee__wire_free(msg);
    return 0;
}
