/*
 * e2ee relay: direct messages, each user's inbox, cumulative acks and receipts.
 *
 * A direct message is stored in the recipient's inbox under the next sequence number and
 * its (sender, client message id) remembered, in one savepoint; the "sent" result and the
 * live delivery wait for the commit. A resend with the same client message id is answered
 * with the first one's seq and `duplicate` set, and stored nothing.
 *
 * An ack up to seq deletes every inbox item up to seq (one range delete). When the
 * recipient logged in with ack_direct, the direct messages it covers turn into receipts
 * stored in each sender's inbox: one receipt item per sender per ack, listing the ids.
 */
#include <stdlib.h>
#include <string.h>

#include "relay/log.h"
#include "relay/relay.h"

void e2ee__relay_inbox_touched(struct e2ee__relay *r, const char *uid)
{
    struct e2ee__rsession *o = e2ee__rmap_get(&r->users, uid);
    if (!o)
        return;
    o->inbox_live = 0;
    e2ee__rsession_want_catchup(o);
}

int e2ee__relay_inbox_put_event(struct e2ee__relay *r, const char *uid, struct e2ee__rs_item *it)
{
    uint64_t seq = 0;
    int rc = r->store->ops->inbox_append(r->store, uid, it, NULL, &seq);
    if (rc == E2EE_OK)
        e2ee__relay_inbox_touched(r, uid);
    return rc;
}

/* Delivers a just-stored inbox item to its recipient's connection if it is live. */
static void deliver_live(struct e2ee__relay *r, const char *uid, const struct e2ee__rs_item *it)
{
    struct e2ee__rsession *o = e2ee__rmap_get(&r->users, uid);
    if (!o)
        return;
    if (!o->inbox_live || o->inbox_sent + 1 != it->seq) {
        o->inbox_live = 0;
        e2ee__rsession_want_catchup(o);
        return;
    }
    struct e2ee__rblob *b = e2ee__renc_item("", it, o->uid);
    if (!b) {
        o->inbox_live = 0;
        e2ee__rsession_want_catchup(o);
        return;
    }
    e2ee__rsession_emit(o, b);
    e2ee__rblob_unref(b);
    o->inbox_sent = it->seq;
}

static void sent_result(struct e2ee__rsession *s, uint64_t req, const char *gid, uint64_t seq,
                        int duplicate)
{
    E2ee__RelayResult res = E2EE__RELAY_RESULT__INIT;
    E2ee__RelaySent sent = E2EE__RELAY_SENT__INIT;
    sent.group_id = (char *)gid;
    sent.seq = seq;
    sent.duplicate = duplicate;
    res.body_case = E2EE__RELAY_RESULT__BODY_SENT;
    res.sent = &sent;
    e2ee__relay_result(s, req, E2EE_OK, duplicate ? "sent before (duplicate)" : "sent", &res);
}

/* A client message id seen before: 1 (answered) or 0 (new). */
static int answered_duplicate(struct e2ee__rsession *s, uint64_t req, const char *gid,
                              const char *to, uint64_t cmid)
{
    struct e2ee__rstore *st = s->relay->store;
    char sgid[E2EE_RELAY_ID_BUF], sto[E2EE_RELAY_ID_BUF];
    uint64_t seq = 0;
    int rc = st->ops->sent_get(st, s->uid, cmid, sgid, sto, &seq);
    if (rc == E2EE_ERR_NOT_FOUND)
        return 0;
    if (rc != E2EE_OK)
        e2ee__relay_result(s, req, E2EE_ERR_STORE, "store failure; retry later", NULL);
    else if (strcmp(sgid, gid) == 0 && strcmp(sto, to) == 0)
        sent_result(s, req, gid, seq, 1);
    else
        e2ee__relay_result(s, req, E2EE_ERR_EXISTS,
                           "client_msg_id already used for another message; pick a new one",
                           NULL);
    return 1;
}

int e2ee__relay_send_check(struct e2ee__rsession *s, uint64_t req, uint64_t cmid,
                           const ProtobufCBinaryData *ct)
{
    if (cmid == 0) {
        e2ee__relay_result(s, req, E2EE_ERR_ARG, "client_msg_id must be non-zero", NULL);
        return -1;
    }
    if (ct->len == 0) {
        e2ee__relay_result(s, req, E2EE_ERR_ARG, "ciphertext is empty", NULL);
        return -1;
    }
    return 0;
}

void e2ee__relay_send_direct(struct e2ee__rsession *s, uint64_t req,
                             const E2ee__RelaySendDirect *m)
{
    struct e2ee__relay *r = s->relay;
    struct e2ee__rs_limits lim = {r->cfg.max_queue_msgs, r->cfg.max_queue_bytes};
    struct e2ee__rs_item it = {0};
    int64_t now = e2ee__relay_now_ms();
    int rc;
    if (!e2ee__relay_id_valid(m->to) || !e2ee__relay_device_ok(m->to_device)) {
        e2ee__relay_result(s, req, E2EE_ERR_ARG, "to must be a valid user id, to_device 0 or 1",
                           NULL);
        return;
    }
    if (e2ee__relay_send_check(s, req, m->client_msg_id, &m->ciphertext) != 0 ||
        answered_duplicate(s, req, "", m->to, m->client_msg_id))
        return;
    it.kind = E2EE_RS_DIRECT;
    it.peer = s->uid;
    it.peer_device = s->device;
    it.cmid = m->client_msg_id;
    it.at_ms = now;
    it.data = m->ciphertext.data;
    it.len = m->ciphertext.len;
    rc = e2ee__relay_req_begin(r);
    if (rc == E2EE_OK) {
        rc = r->store->ops->inbox_append(r->store, m->to, &it, &lim, &it.seq);
        if (rc == E2EE_OK)
            rc = r->store->ops->sent_put(r->store, s->uid, it.cmid, "", m->to, it.seq, now);
        int rc2 = e2ee__relay_req_end(r, rc == E2EE_OK);
        rc = rc != E2EE_OK ? rc : rc2;
    }
    if (rc == E2EE_ERR_NOT_FOUND) {
        e2ee__relay_resultf(s, req, E2EE_ERR_NO_SUCH_USER, "no user '%s'", m->to);
    } else if (rc == E2EE_ERR_QUEUE_FULL) {
        e2ee__relay_resultf(s, req, rc,
                            "'%s' has too many undelivered messages (max_queue_msgs/bytes); "
                            "retry later",
                            m->to);
    } else if (rc != E2EE_OK) {
        e2ee__relay_result(s, req, E2EE_ERR_STORE, "store failure; retry later", NULL);
    } else {
        r->metrics.direct_messages++;
        deliver_live(r, m->to, &it);
        sent_result(s, req, "", it.seq, 0);
    }
}

/* ---- receipts ---- */

struct by_sender {
    char uid[E2EE_RELAY_ID_BUF];
    uint64_t *ids;
    size_t n, cap;
};

static int add_id(struct e2ee__rmap *m, const char *uid, uint64_t id)
{
    struct by_sender *b = e2ee__rmap_get(m, uid);
    if (!b) {
        b = calloc(1, sizeof *b);
        if (!b)
            return -1;
        snprintf(b->uid, sizeof b->uid, "%s", uid);
        if (e2ee__rmap_put(m, b->uid, b) != 0) {
            free(b);
            return -1;
        }
    }
    if (b->n == b->cap) {
        size_t ncap = b->cap ? b->cap * 2 : 16;
        uint64_t *ni = realloc(b->ids, ncap * sizeof *ni);
        if (!ni)
            return -1;
        b->ids = ni;
        b->cap = ncap;
    }
    b->ids[b->n++] = id;
    return 0;
}

/* Stores receipts for one sender, in chunks of E2EE_RELAY_RECEIPT_IDS_MAX ids. */
static int store_receipts(struct e2ee__relay *r, const char *recipient, const char *gid,
                          const struct by_sender *b)
{
    E2ee__RelayReceipt rc_msg = E2EE__RELAY_RECEIPT__INIT;
    int rc = E2EE_OK;
    for (size_t off = 0; off < b->n && rc == E2EE_OK; off += E2EE_RELAY_RECEIPT_IDS_MAX) {
        size_t n = b->n - off < E2EE_RELAY_RECEIPT_IDS_MAX ? b->n - off
                                                            : E2EE_RELAY_RECEIPT_IDS_MAX;
        struct e2ee__rs_item it = {0};
        size_t len = 0;
        rc_msg.state = E2EE__RELAY_RECEIPT_STATE__RELAY_RECEIPT_DELIVERED;
        rc_msg.recipient = (char *)recipient;
        rc_msg.recipient_device = E2EE_RELAY_DEVICE_ID;
        rc_msg.group_id = (char *)gid;
        rc_msg.n_client_msg_ids = n;
        rc_msg.client_msg_ids = b->ids + off;
        uint8_t *enc = e2ee__renc_pack(&rc_msg.base, &len);
        if (!enc)
            return E2EE_ERR_NOMEM;
        it.kind = E2EE_RS_RECEIPT;
        it.peer = recipient;
        it.peer_device = E2EE_RELAY_DEVICE_ID;
        it.at_ms = e2ee__relay_now_ms();
        it.data = enc;
        it.len = len;
        rc = e2ee__relay_inbox_put_event(r, b->uid, &it);
        free(enc);
        if (rc == E2EE_ERR_NOT_FOUND)
            rc = E2EE_OK; /* the sender deleted its account */
    }
    return rc;
}

int e2ee__relay_receipts(struct e2ee__relay *r, const char *recipient, const char *gid,
                         size_t n, const char *const *senders, const uint64_t *cmids)
{
    struct e2ee__rmap by;
    struct by_sender *b;
    size_t pos = 0;
    int rc = E2EE_OK;
    e2ee__rmap_init(&by);
    for (size_t i = 0; i < n && rc == E2EE_OK; i++) {
        if (add_id(&by, senders[i], cmids[i]) != 0)
            rc = E2EE_ERR_NOMEM;
    }
    while ((b = e2ee__rmap_next(&by, &pos)) != NULL) {
        if (rc == E2EE_OK)
            rc = store_receipts(r, recipient, gid, b);
        free(b->ids);
        free(b);
    }
    e2ee__rmap_cleanup(&by);
    return rc;
}

int e2ee__relay_acked_collect(void *arg, const struct e2ee__rs_item *it)
{
    struct e2ee__racked *a = arg;
    if (a->n == a->cap) {
        size_t ncap = a->cap ? a->cap * 2 : 64;
        char **ns = realloc(a->senders, ncap * sizeof *ns);
        if (ns)
            a->senders = ns;
        uint64_t *ni = ns ? realloc(a->ids, ncap * sizeof *ni) : NULL;
        if (!ni) {
            a->failed = 1;
            return 1;
        }
        a->ids = ni;
        a->cap = ncap;
    }
    a->senders[a->n] = strdup(it->peer);
    if (!a->senders[a->n]) {
        a->failed = 1;
        return 1;
    }
    a->ids[a->n++] = it->cmid;
    return 0;
}

void e2ee__relay_acked_free(struct e2ee__racked *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->senders[i]);
    free(a->senders);
    free(a->ids);
}

int e2ee__relay_inbox_ack(struct e2ee__rsession *s, uint64_t seq, char *err, size_t cap)
{
    struct e2ee__relay *r = s->relay;
    struct e2ee__rstore *st = r->store;
    struct e2ee__racked a = {0};
    int rc, begun = 0;
    if (seq > s->inbox_sent) {
        snprintf(err, cap, "ack beyond what was delivered (inbox seq %llu)",
                 (unsigned long long)s->inbox_sent);
        return E2EE_ERR_RANGE;
    }
    if (seq <= s->inbox_acked)
        return E2EE_OK;
    rc = e2ee__relay_req_begin(r);
    begun = rc == E2EE_OK;
    if (rc == E2EE_OK && s->ack_direct) {
        rc = st->ops->inbox_scan(st, s->uid, s->inbox_acked, seq, e2ee__relay_acked_collect, &a);
        if (rc == E2EE_OK && a.failed)
            rc = E2EE_ERR_NOMEM;
        if (rc == E2EE_OK)
            rc = e2ee__relay_receipts(r, s->uid, "", a.n, (const char *const *)a.senders, a.ids);
    }
    if (rc == E2EE_OK)
        rc = st->ops->inbox_ack(st, s->uid, seq);
    if (begun) {
        int rc2 = e2ee__relay_req_end(r, rc == E2EE_OK);
        rc = rc != E2EE_OK ? rc : rc2;
    }
    e2ee__relay_acked_free(&a);
    if (rc != E2EE_OK) {
        snprintf(err, cap, "store failure; ack again later");
        return E2EE_ERR_STORE;
    }
    s->inbox_acked = seq;
    return E2EE_OK;
}
