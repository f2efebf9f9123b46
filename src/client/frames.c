/*
 * e2ee client: frames to the relay. A pass packs its requests into c->frames; they go to the
 * transport only after the pass's store transaction committed (a group message leaves only
 * once the advanced sender key is stored; an ack only once the messages it covers are).
 * Acks are merged per stream and sent once per pass.
 */
#include <stdlib.h>
#include <string.h>

#include "client/client_internal.h"
#include "wire/wire.h"

uint64_t e2ee__client_req_id(struct e2ee_client *c)
{
    return ++c->next_req;
}

/* ---- pacing: the relay refuses frames over its rate (E2EE_ERR_RATE_LIMITED) ---- */

/* Refills the bucket (holding at most one second's worth). */
static void token_refill(struct e2ee_client *c, uint64_t now)
{
    uint64_t cap = (uint64_t)c->rate * 1000;
    if (c->tokens_at == 0)
        c->tokens_milli = cap;
    else if (now > c->tokens_at)
        c->tokens_milli += (now - c->tokens_at) * c->rate;
    if (c->tokens_milli > cap)
        c->tokens_milli = cap;
    c->tokens_at = now;
}

int e2ee__client_token(struct e2ee_client *c, uint64_t now)
{
    int ok;
    token_refill(c, now);
    ok = c->tokens_milli >= 1000;
    if (ok)
        c->tokens_milli -= 1000;
    return ok;
}

uint64_t e2ee__client_token_timer(struct e2ee_client *c)
{
    uint64_t missing = c->tokens_milli >= 1000 ? 0 : 1000 - c->tokens_milli;
    return missing ? c->tokens_at + (missing + c->rate - 1) / c->rate : c->tokens_at;
}

int e2ee__client_frame(struct e2ee_client *c, const E2ee__ClientFrame *f, unsigned flags)
{
    struct e2ee__frame_out *fo = calloc(1, sizeof *fo);
    int rc = fo ? E2EE_OK : E2EE_ERR_NOMEM;

    if (rc == E2EE_OK)
        rc = e2ee__wire_pack(&f->base, E2EE__CLIENT_NET_FRAME_MAX, &fo->buf, &fo->len);
    if (rc == E2EE_OK) {
        fo->flags = flags | E2EE__NET_SEND_VOLATILE;
        rc = e2ee__vec_push(&c->frames, fo);
    }
    if (rc != E2EE_OK && fo) {
        free(fo->buf);
        free(fo);
    }
    return rc;
}

void e2ee__client_frames_flush(struct e2ee_client *c)
{
    for (size_t i = 0; i < c->frames.n; i++) {
        struct e2ee__frame_out *fo = c->frames.v[i];
        int rc = e2ee__net_send(c->net, fo->buf, fo->len, fo->flags);
        /* a frame refused here belongs to a connection that ended: what it carried is
         * rebuilt from the store after the next login */
        if (rc != E2EE_OK)
            e2ee__client_log(c, E2EE_LOG_DEBUG, "frame of %zu bytes not sent: %s", fo->len,
                             e2ee_errname(rc));
        free(fo->buf);
    }
    e2ee__vec_clear(&c->frames, NULL);
}

int e2ee__client_ack_later(struct e2ee_client *c, const char *stream, uint64_t seq)
{
    struct e2ee__ack *a = NULL;
    int rc = E2EE_OK;

    for (size_t i = 0; i < c->acks.n && !a; i++) {
        struct e2ee__ack *x = c->acks.v[i];
        if (strcmp(x->stream, stream) == 0)
            a = x;
    }
    if (!a) {
        a = calloc(1, sizeof *a);
        rc = a ? e2ee__vec_push(&c->acks, a) : E2EE_ERR_NOMEM;
        if (rc != E2EE_OK) {
            free(a);
            goto done;
        }
        e2ee__client_copy_id(a->stream, stream);
    }
    if (seq > a->seq)
        a->seq = seq;
done:
    return rc;
}

/* The seq actually acked for a stream: a group message waiting for its key holds the
 * group's stream just before it, so the relay keeps it (and what follows) until resolved. */
static uint64_t ack_limit(struct e2ee_client *c, const struct e2ee__ack *a)
{
    struct e2ee__store_group g;
    uint64_t seq = a->seq;
    uint64_t low = a->stream[0] ? e2ee__pending_lowest(c, a->stream) : 0;
    if (low && seq >= low)
        seq = low - 1;
    /* the relay refuses acks for a group this client left (and stops the ack frame there) */
    if (a->stream[0] && (e2ee__store_group_get(c->st, a->stream, &g) != E2EE_OK || !g.joined))
        seq = 0;
    return seq;
}

int e2ee__client_acks_flush(struct e2ee_client *c)
{
    E2ee__ClientFrame f = E2EE__CLIENT_FRAME__INIT;
    E2ee__RelayAck ack = E2EE__RELAY_ACK__INIT;
    E2ee__RelayAckItem *items = NULL, **ptrs = NULL;
    int rc = E2EE_OK;

    if (c->acks.n == 0 || c->conn != E2EE__CONN_UP)
        goto done;
    if (!e2ee__client_token(c, e2ee__client_mono_ms())) {
        rc = E2EE_OK; /* kept for a later pass (the token timer brings it) */
        goto keep;
    }
    items = calloc(c->acks.n, sizeof *items);
    ptrs = calloc(c->acks.n, sizeof *ptrs);
    if (!items || !ptrs) {
        rc = E2EE_ERR_NOMEM;
        goto done;
    }
    /* the inbox first: a refused item stops the rest of the frame */
    for (size_t k = 0; k < 2 * c->acks.n; k++) {
        struct e2ee__ack *a = c->acks.v[k % c->acks.n];
        uint64_t seq = (a->stream[0] == '\0') == (k < c->acks.n) ? ack_limit(c, a) : 0;
        if (seq == 0)
            continue;
        e2ee__relay_ack_item__init(&items[ack.n_items]);
        items[ack.n_items].group_id = a->stream;
        items[ack.n_items].seq = seq;
        ptrs[ack.n_items] = &items[ack.n_items];
        ack.n_items++;
    }
    if (ack.n_items == 0)
        goto done;
    ack.items = ptrs;
    f.body_case = E2EE__CLIENT_FRAME__BODY_ACK;
    f.ack = &ack;
    rc = e2ee__client_frame(c, &f, 0); /* request id 0: answered only when refused */
done:
    e2ee__vec_clear(&c->acks, NULL);
keep:
    free(items);
    free(ptrs);
    return rc;
}
