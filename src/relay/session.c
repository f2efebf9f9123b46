/*
 * e2ee relay: one WebSocket connection (a session): its output queue and the write path,
 * its close, and the catch-up reads of its streams.
 *
 * Write path: one frame per WRITEABLE callback. A FRAME blob is written alone; a run of
 * DELIVERY blobs is wrapped into one ServerFrame{deliveries{items...}} of at most
 * E2EE_RELAY_BATCH_TARGET bytes (and always at least one item), so many deliveries cost
 * one write. The wrapper is written by hand: tag and length of ServerFrame.deliveries, then
 * for each item the tag and length of RelayDeliveries.items and the item's bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "relay/log.h"
#include "relay/relay.h"

#define SF_DELIVERIES 3 /* ServerFrame.deliveries */
#define DL_ITEMS 1      /* RelayDeliveries.items */
#define LD_HDR_MAX 20   /* largest tag + length prefix */

struct e2ee__rsession *e2ee__rsession_new(struct e2ee__relay *r, struct lws *wsi)
{
    struct e2ee__rsession *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->relay = r;
    s->wsi = wsi;
    s->conn_id = ++r->next_conn_id;
    s->state = E2EE_RSESSION_CHALLENGED;
    s->connected_ms = e2ee__relay_now_ms();
    s->tokens = r->cfg.max_requests_per_sec;
    s->tokens_us = e2ee__relay_now_us();
    e2ee__rmap_init(&s->subs);
    e2ee__outq_init(&s->q);
    e2ee__rlist_init(&s->all);
    e2ee__rlist_init(&s->dirty);
    e2ee__rlist_init(&s->catchup);
    e2ee__rlist_add(&r->sessions, &s->all);
    r->n_sessions++;
    r->metrics.connections_total++;
    return s;
}

void e2ee__rsession_detach(struct e2ee__rsession *s)
{
    struct e2ee__relay *r = s->relay;
    struct e2ee__rsub *sub;
    size_t pos = 0;
    if (s->registered_users_entry) {
        if (e2ee__rmap_get(&r->users, s->uid) == s)
            e2ee__rmap_del(&r->users, s->uid);
        s->registered_users_entry = 0;
        r->n_authed--;
    }
    while ((sub = e2ee__rmap_next(&s->subs, &pos)) != NULL) {
        if (sub->m && sub->m->sub == sub)
            sub->m->sub = NULL;
        free(sub);
    }
    e2ee__rmap_cleanup(&s->subs);
    e2ee__rmap_init(&s->subs);
    e2ee__rlist_del(&s->catchup);
}

void e2ee__rsession_free(struct e2ee__rsession *s)
{
    if (!s)
        return;
    struct e2ee__relay *r = s->relay;
    e2ee__rsession_detach(s);
    e2ee__rlist_del(&s->dirty);
    e2ee__rlist_del(&s->all);
    r->n_sessions--;
    e2ee__outq_cleanup(&s->q);
    free(s->rx);
    e2ee__wipe(s->nonce, sizeof s->nonce);
    free(s);
}

void e2ee__rsession_close(struct e2ee__rsession *s, int code, const char *reason, int kill)
{
    if (s->state == E2EE_RSESSION_CLOSING)
        return;
    RLOG_INFO("close conn=%llu user=%s code=%d reason=\"%s\"", (unsigned long long)s->conn_id,
              s->uid[0] ? s->uid : "-", code, reason);
    s->state = E2EE_RSESSION_CLOSING;
    s->close_code = code;
    snprintf(s->close_reason, sizeof s->close_reason, "%s", reason);
    s->kill = kill;
    s->relay->metrics.closes_total++;
    e2ee__rsession_detach(s);
    e2ee__rlist_del(&s->dirty);
    e2ee__outq_cleanup(&s->q);
    if (kill) {
        lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    } else {
        lws_set_timeout(s->wsi, PENDING_TIMEOUT_CLOSE_SEND, E2EE_RELAY_CLOSE_GRACE_S);
        lws_callback_on_writable(s->wsi);
    }
}

void e2ee__rsession_close_after_drain(struct e2ee__rsession *s, int code, const char *reason)
{
    if (s->state == E2EE_RSESSION_CLOSING || s->state == E2EE_RSESSION_DRAINING)
        return;
    s->state = E2EE_RSESSION_DRAINING;
    s->close_code = code;
    snprintf(s->close_reason, sizeof s->close_reason, "%s", reason);
    e2ee__rsession_detach(s);
    lws_set_timeout(s->wsi, PENDING_TIMEOUT_CLOSE_SEND, E2EE_RELAY_CLOSE_GRACE_S);
    lws_callback_on_writable(s->wsi);
}

/* Unsent bytes over the limit: the client is not reading. What it missed stays stored. */
static int check_unsent(struct e2ee__rsession *s)
{
    if (s->q.bytes <= s->relay->cfg.max_unsent_bytes)
        return 0;
    e2ee__rmetrics_refusal(&s->relay->metrics, E2EE_ERR_LIMIT);
    e2ee__rsession_close(s, E2EE_RCLOSE_POLICY,
                         "E2EE_ERR_LIMIT: not reading (max_unsent_bytes); reconnect", 1);
    return -1;
}

void e2ee__rsession_emit(struct e2ee__rsession *s, struct e2ee__rblob *b)
{
    struct e2ee__relay *r = s->relay;
    if (!b || s->state == E2EE_RSESSION_CLOSING)
        return;
    if (e2ee__outq_push(&s->q, b, !r->txn_open) != 0) {
        e2ee__rsession_close(s, E2EE_RCLOSE_INTERNAL, "E2EE_ERR_NOMEM: relay out of memory", 1);
        return;
    }
    if (check_unsent(s) != 0)
        return;
    if (e2ee__outq_has_pending(&s->q))
        e2ee__rlist_add(&r->dirty, &s->dirty);
    else
        lws_callback_on_writable(s->wsi);
}

void e2ee__rsession_released(struct e2ee__rsession *s)
{
    e2ee__outq_release(&s->q);
    if (e2ee__outq_ready_count(&s->q) || s->state == E2EE_RSESSION_DRAINING)
        lws_callback_on_writable(s->wsi);
}

static int ensure_wbuf(struct e2ee__relay *r, size_t n)
{
    if (n > SIZE_MAX - LWS_PRE)
        return -1;
    if (LWS_PRE + n <= r->wcap)
        return 0;
    size_t ncap = r->wcap ? r->wcap : 65536;
    while (ncap < LWS_PRE + n)
        ncap *= 2;
    uint8_t *nb = realloc(r->wbuf, ncap);
    if (!nb)
        return -1;
    r->wbuf = nb;
    r->wcap = ncap;
    return 0;
}

/* Builds the next frame into r->wbuf + LWS_PRE. Returns its length; *count receives the
 * number of blobs it consumes, *items the number of deliveries in it. */
static size_t build_frame(struct e2ee__rsession *s, size_t *count, size_t *items)
{
    struct e2ee__relay *r = s->relay;
    size_t ready = e2ee__outq_ready_count(&s->q), n = 0, inner = 0;
    struct e2ee__rblob *b = e2ee__outq_peek(&s->q, 0);
    uint8_t hdr[LD_HDR_MAX];
    *count = 0;
    *items = 0;
    if (b->kind == E2EE_RBLOB_FRAME) {
        if (ensure_wbuf(r, b->len) != 0)
            return 0;
        memcpy(r->wbuf + LWS_PRE, b->data, b->len);
        *count = 1;
        return b->len;
    }
    /* a run of deliveries, up to the batch target (at least one) */
    while (n < ready) {
        b = e2ee__outq_peek(&s->q, n);
        if (b->kind != E2EE_RBLOB_DELIVERY)
            break;
        size_t add = e2ee__renc_ld_header(hdr, DL_ITEMS, b->len) + b->len;
        if (n && inner + add > E2EE_RELAY_BATCH_TARGET)
            break;
        inner += add;
        n++;
    }
    size_t outer = e2ee__renc_ld_header(hdr, SF_DELIVERIES, inner);
    if (ensure_wbuf(r, outer + inner) != 0)
        return 0;
    uint8_t *p = r->wbuf + LWS_PRE;
    memcpy(p, hdr, outer);
    p += outer;
    for (size_t i = 0; i < n; i++) {
        b = e2ee__outq_peek(&s->q, i);
        p += e2ee__renc_ld_header(p, DL_ITEMS, b->len);
        memcpy(p, b->data, b->len);
        p += b->len;
    }
    *count = n;
    *items = n;
    return outer + inner;
}

int e2ee__rsession_writable(struct e2ee__rsession *s)
{
    struct e2ee__relay *r = s->relay;
    size_t count = 0, items = 0;
    if (s->state == E2EE_RSESSION_CLOSING) {
        lws_close_reason(s->wsi, (enum lws_close_status)s->close_code,
                         (unsigned char *)s->close_reason, strlen(s->close_reason));
        return -1;
    }
    if (!e2ee__outq_ready_count(&s->q)) {
        if (s->state == E2EE_RSESSION_DRAINING && !e2ee__outq_has_pending(&s->q)) {
            RLOG_INFO("close conn=%llu user=%s code=%d reason=\"%s\"",
                      (unsigned long long)s->conn_id, s->uid[0] ? s->uid : "-", s->close_code,
                      s->close_reason);
            s->state = E2EE_RSESSION_CLOSING;
            s->relay->metrics.closes_total++;
            lws_close_reason(s->wsi, (enum lws_close_status)s->close_code,
                             (unsigned char *)s->close_reason, strlen(s->close_reason));
            return -1;
        }
        return 0;
    }
    size_t len = build_frame(s, &count, &items);
    if (!len) {
        e2ee__rsession_close(s, E2EE_RCLOSE_INTERNAL, "E2EE_ERR_NOMEM: relay out of memory", 1);
        return 0;
    }
    int n = lws_write(s->wsi, r->wbuf + LWS_PRE, len, LWS_WRITE_BINARY);
    if (n < (int)len) {
        RLOG_DEBUG("write failed conn=%llu", (unsigned long long)s->conn_id);
        return -1;
    }
    e2ee__outq_pop(&s->q, count);
    r->metrics.frames_out++;
    r->metrics.bytes_out += len;
    r->metrics.deliveries += items;
    if (e2ee__outq_ready_count(&s->q) || s->state == E2EE_RSESSION_DRAINING)
        lws_callback_on_writable(s->wsi);
    else if (e2ee__rlist_linked(&s->catchup))
        e2ee__relay_schedule_flush(r);
    return 0;
}

void e2ee__rsession_want_catchup(struct e2ee__rsession *s)
{
    if (s->state != E2EE_RSESSION_AUTHED)
        return;
    e2ee__rlist_add(&s->relay->catchup, &s->catchup);
    e2ee__relay_schedule_flush(s->relay);
}

/* ---- catch-up ---- */

struct reader {
    struct e2ee__rsession *s;
    const char *gid;        /* "" for the inbox */
    struct e2ee__rsub *sub; /* NULL for the inbox */
    uint64_t budget;        /* stop once this many bytes are queued */
    uint32_t rows;          /* rows consumed */
    uint64_t last;          /* seq of the last row consumed */
    int stopped;            /* stopped early: more rows may follow */
    int failed;
};

static int read_one(void *arg, const struct e2ee__rs_item *it)
{
    struct reader *rd = arg;
    struct e2ee__rsession *s = rd->s;
    if (s->q.bytes >= rd->budget) {
        rd->stopped = 1;
        return 1;
    }
    rd->rows++;
    rd->last = it->seq;
    /* a member's own group messages are not delivered back to it */
    if (rd->sub && it->kind == E2EE_RS_GROUP_MESSAGE && strcmp(it->peer, s->uid) == 0)
        return 0;
    struct e2ee__rblob *b = e2ee__renc_item(rd->gid, it, s->uid);
    if (!b) {
        rd->failed = 1;
        return 1;
    }
    e2ee__rsession_emit(s, b);
    e2ee__rblob_unref(b);
    return s->state == E2EE_RSESSION_CLOSING;
}

/* Reads one page of a stream. Returns 1 when the stream is now live, 0 when more remains,
 * -1 on failure. */
static int read_page(struct e2ee__rsession *s, struct e2ee__rsub *sub, uint64_t budget)
{
    struct e2ee__rstore *st = s->relay->store;
    struct reader rd = {s, sub ? sub->g->gid : "", sub, budget, 0, 0, 0, 0};
    uint64_t after = sub ? sub->sent : s->inbox_sent;
    int rc = sub ? st->ops->glog_read(st, sub->g->gid, after, E2EE_RELAY_CATCHUP_PAGE, s->uid,
                                      read_one, &rd)
                 : st->ops->inbox_read(st, s->uid, after, E2EE_RELAY_CATCHUP_PAGE, read_one,
                                       &rd);
    if (rc != E2EE_OK || rd.failed) {
        RLOG_ERROR("catch-up read failed conn=%llu stream=%s", (unsigned long long)s->conn_id,
                   rd.gid[0] ? rd.gid : "inbox");
        return -1;
    }
    if (s->state == E2EE_RSESSION_CLOSING)
        return -1;
    if (rd.rows) {
        if (sub)
            sub->sent = rd.last;
        else
            s->inbox_sent = rd.last;
    }
    if (!rd.stopped && rd.rows < E2EE_RELAY_CATCHUP_PAGE) {
        if (sub)
            sub->live = 1;
        else
            s->inbox_live = 1;
        return 1;
    }
    return 0;
}

/* Reads until the stream is live or the connection holds half its unsent-bytes budget. */
static int catchup_stream(struct e2ee__rsession *s, struct e2ee__rsub *sub)
{
    uint64_t budget = s->relay->cfg.max_unsent_bytes / 2;
    for (;;) {
        if (sub ? sub->live : s->inbox_live)
            return 1;
        if (s->q.bytes >= budget)
            return 0;
        int rc = read_page(s, sub, budget);
        if (rc != 0)
            return rc;
    }
}

void e2ee__rsession_catchup(struct e2ee__rsession *s)
{
    struct e2ee__rsub *sub;
    size_t pos = 0;
    int all_live = 1, rc;
    if (s->state != E2EE_RSESSION_AUTHED)
        return;
    rc = catchup_stream(s, NULL);
    if (rc < 0)
        goto failed;
    all_live &= rc;
    while ((sub = e2ee__rmap_next(&s->subs, &pos)) != NULL) {
        rc = catchup_stream(s, sub);
        if (rc < 0)
            goto failed;
        all_live &= rc;
    }
    /* not all live: the writer re-schedules us once the queue drains */
    if (!all_live)
        e2ee__rlist_add(&s->relay->catchup, &s->catchup);
    return;
failed:
    if (s->state != E2EE_RSESSION_CLOSING)
        e2ee__rsession_close(s, E2EE_RCLOSE_INTERNAL, "E2EE_ERR_STORE: store read failed", 0);
}
