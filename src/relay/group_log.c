/*
 * e2ee relay: group messages, group acks and log trimming.
 *
 * A group message is stored once, as the next entry of the group's log, with the pairwise
 * payloads its sender attached for some members. It is refused with E2EE_ERR_STALE_EPOCH
 * (and the group's current info) unless it carries the group's current epoch, so no
 * message is sent for a membership its sender has not seen. After the commit it is encoded
 * once and that one blob queued to every live member but the sender (a member with a
 * pairwise payload gets the blob plus its payload field).
 *
 * Each member's cursor says how far it acked; an ack moves the cursor (one update), and a
 * periodic pass trims the log below the lowest cursor of each group.
 */
#include <stdlib.h>
#include <string.h>

#include "relay/log.h"
#include "relay/relay.h"

/* Pairwise payloads of a request, by recipient. */
struct pw_set {
    struct e2ee__rmap by_uid; /* uid -> E2ee__RelayPairwisePayload */
};

/* Checks the pairwise payloads against g's members. E2EE_OK or an error with text. */
static int pairwise_check(const E2ee__RelaySendGroup *m, const struct e2ee__rgroup *g,
                          const char *sender, struct pw_set *pw, char *why, size_t cap)
{
    size_t matched = 0;
    e2ee__rmap_init(&pw->by_uid);
    if (m->n_pairwise > g->n) {
        snprintf(why, cap, "more pairwise payloads than the group has members");
        return E2EE_ERR_ARG;
    }
    for (size_t i = 0; i < m->n_pairwise; i++) {
        const E2ee__RelayPairwisePayload *p = m->pairwise[i];
        if (!e2ee__relay_id_valid(p->user_id) || !e2ee__relay_device_ok(p->device_id) ||
            p->payload.len == 0 || strcmp(p->user_id, sender) == 0) {
            snprintf(why, cap, "pairwise payload %zu: needs another member's user_id, "
                               "device_id 0 or 1 and a non-empty payload", i);
            return E2EE_ERR_ARG;
        }
        if (e2ee__rmap_get(&pw->by_uid, p->user_id)) {
            snprintf(why, cap, "two pairwise payloads for '%s'", p->user_id);
            return E2EE_ERR_ARG;
        }
        if (e2ee__rmap_put(&pw->by_uid, p->user_id, (void *)p) != 0) {
            snprintf(why, cap, "relay out of memory");
            return E2EE_ERR_NOMEM;
        }
    }
    for (size_t i = 0; i < g->n && pw->by_uid.count; i++)
        matched += e2ee__rmap_get(&pw->by_uid, g->members[i]->uid) != NULL;
    if (matched != pw->by_uid.count) {
        snprintf(why, cap, "a pairwise payload is addressed to a non-member");
        return E2EE_ERR_NOT_MEMBER;
    }
    return E2EE_OK;
}

/* Every other member must have room for one more message of len bytes. */
static int queues_ok(const struct e2ee__relay *r, const struct e2ee__rgroup *g,
                     const char *sender, size_t len, char *why, size_t cap)
{
    for (size_t i = 0; i < g->n; i++) {
        const struct e2ee__rmember *m = g->members[i];
        if (strcmp(m->uid, sender) == 0)
            continue;
        if (m->backlog_msgs + 1 > r->cfg.max_queue_msgs ||
            m->backlog_bytes + len > r->cfg.max_queue_bytes) {
            snprintf(why, cap, "member '%s' has too many undelivered messages "
                               "(max_queue_msgs/bytes); retry later", m->uid);
            return E2EE_ERR_QUEUE_FULL;
        }
    }
    return E2EE_OK;
}

static int store_message(struct e2ee__relay *r, struct e2ee__rgroup *g,
                         const E2ee__RelaySendGroup *m, struct e2ee__rsession *s,
                         const struct e2ee__rs_item *it, int advance_sender)
{
    struct e2ee__rstore *st = r->store;
    struct e2ee__rs_group row;
    memset(&row, 0, sizeof row);
    snprintf(row.gid, sizeof row.gid, "%s", g->gid);
    snprintf(row.owner, sizeof row.owner, "%s", g->owner);
    row.epoch = g->epoch;
    row.head = it->seq;
    row.created_ms = g->created_ms;
    int rc = e2ee__relay_req_begin(r);
    if (rc != E2EE_OK)
        return rc;
    rc = st->ops->glog_append(st, g->gid, it);
    for (size_t i = 0; i < m->n_pairwise && rc == E2EE_OK; i++)
        rc = st->ops->glog_pairwise(st, g->gid, it->seq, m->pairwise[i]->user_id,
                                    m->pairwise[i]->payload.data, m->pairwise[i]->payload.len);
    if (rc == E2EE_OK)
        rc = st->ops->group_put(st, &row);
    if (rc == E2EE_OK)
        rc = st->ops->sent_put(st, s->uid, it->cmid, g->gid, "", it->seq, it->at_ms);
    if (rc == E2EE_OK && advance_sender)
        rc = st->ops->member_set_cursor(st, g->gid, s->uid, it->seq);
    int rc2 = e2ee__relay_req_end(r, rc == E2EE_OK);
    return rc != E2EE_OK ? rc : rc2;
}

/* Queues the stored message to every live member (the sender only moves its position). */
static void fan_out(struct e2ee__rgroup *g, const struct e2ee__rs_item *it,
                    const char *sender, const struct pw_set *pw)
{
    struct e2ee__rblob *common = e2ee__renc_item(g->gid, it, NULL);
    for (size_t i = 0; i < g->n; i++) {
        struct e2ee__rmember *m = g->members[i];
        struct e2ee__rsub *sub = m->sub;
        int self = strcmp(m->uid, sender) == 0;
        if (!self) {
            m->backlog_msgs++;
            m->backlog_bytes += it->len;
        }
        if (!sub || !sub->live)
            continue;
        if (sub->sent + 1 != it->seq || !common) {
            sub->live = 0;
            e2ee__rsession_want_catchup(sub->s);
            continue;
        }
        sub->sent = it->seq;
        if (self)
            continue;
        const E2ee__RelayPairwisePayload *p = pw->by_uid.count
                                                  ? e2ee__rmap_get(&pw->by_uid, m->uid)
                                                  : NULL;
        struct e2ee__rblob *b = p ? e2ee__renc_with_pairwise(common, p->payload.data,
                                                             p->payload.len)
                                  : e2ee__rblob_ref(common);
        if (!b) {
            sub->sent = it->seq - 1;
            sub->live = 0;
            e2ee__rsession_want_catchup(sub->s);
            continue;
        }
        e2ee__rsession_emit(sub->s, b);
        e2ee__rblob_unref(b);
    }
    e2ee__rblob_unref(common);
}

/* Request checks before anything is stored: 0 to go on, -1 when answered. */
static int send_precheck(struct e2ee__rsession *s, uint64_t req, const E2ee__RelaySendGroup *m,
                         struct e2ee__rgroup **gp)
{
    struct e2ee__rgroup *g = e2ee__relay_group(s->relay, m->group_id);
    *gp = g;
    if (e2ee__relay_send_check(s, req, m->client_msg_id, &m->ciphertext) != 0)
        return -1;
    if (!g) {
        e2ee__relay_result(s, req, E2EE_ERR_NO_SUCH_GROUP, "no such group (deleted?)", NULL);
        return -1;
    }
    if (!e2ee__rmap_get(&s->subs, g->gid)) {
        e2ee__relay_result(s, req, E2EE_ERR_NOT_MEMBER,
                           "you are not a member of this group; join it first", NULL);
        return -1;
    }
    return 0;
}

/* A retried send: answers with the first one's seq. 1 when answered. */
static int group_duplicate(struct e2ee__rsession *s, uint64_t req, const char *gid,
                           uint64_t cmid)
{
    struct e2ee__rstore *st = s->relay->store;
    E2ee__RelayResult res = E2EE__RELAY_RESULT__INIT;
    E2ee__RelaySent sent = E2EE__RELAY_SENT__INIT;
    char sgid[E2EE_RELAY_ID_BUF], sto[E2EE_RELAY_ID_BUF];
    uint64_t seq = 0;
    int rc = st->ops->sent_get(st, s->uid, cmid, sgid, sto, &seq);
    if (rc == E2EE_ERR_NOT_FOUND)
        return 0;
    if (rc != E2EE_OK) {
        e2ee__relay_result(s, req, E2EE_ERR_STORE, "store failure; retry later", NULL);
    } else if (strcmp(sgid, gid) != 0) {
        e2ee__relay_result(s, req, E2EE_ERR_EXISTS,
                           "client_msg_id already used for another message; pick a new one",
                           NULL);
    } else {
        sent.group_id = (char *)gid;
        sent.seq = seq;
        sent.duplicate = 1;
        res.body_case = E2EE__RELAY_RESULT__BODY_SENT;
        res.sent = &sent;
        e2ee__relay_result(s, req, E2EE_OK, "sent before (duplicate)", &res);
    }
    return 1;
}

void e2ee__relay_send_group(struct e2ee__rsession *s, uint64_t req,
                            const E2ee__RelaySendGroup *m)
{
    struct e2ee__relay *r = s->relay;
    E2ee__RelayResult res = E2EE__RELAY_RESULT__INIT;
    E2ee__RelaySent sent = E2EE__RELAY_SENT__INIT;
    struct e2ee__rgroup *g = NULL;
    struct pw_set pw;
    struct e2ee__rs_item it = {0};
    char why[E2EE_RELAY_TEXT_MAX];
    e2ee__rmap_init(&pw.by_uid);
    if (send_precheck(s, req, m, &g) != 0 || group_duplicate(s, req, g->gid, m->client_msg_id))
        goto done;
    if (m->epoch != g->epoch) {
        snprintf(why, sizeof why, "group epoch is %llu, not %llu: membership changed; rotate "
                                  "your sender key and resend", (unsigned long long)g->epoch,
                 (unsigned long long)m->epoch);
        e2ee__relay_group_info_result(s, req, E2EE_ERR_STALE_EPOCH, why, g);
        goto done;
    }
    int rc = pairwise_check(m, g, s->uid, &pw, why, sizeof why);
    if (rc == E2EE_OK)
        rc = queues_ok(r, g, s->uid, m->ciphertext.len, why, sizeof why);
    if (rc != E2EE_OK) {
        e2ee__relay_result(s, req, rc, why, NULL);
        goto done;
    }
    struct e2ee__rmember *self = e2ee__rgroup_member(g, s->uid);
    it.seq = g->head + 1;
    it.kind = E2EE_RS_GROUP_MESSAGE;
    it.peer = s->uid;
    it.peer_device = s->device;
    it.cmid = m->client_msg_id;
    it.epoch = g->epoch;
    it.at_ms = e2ee__relay_now_ms();
    it.data = m->ciphertext.data;
    it.len = m->ciphertext.len;
    /* the sender's own message needs no ack: its cursor moves when it is caught up */
    int advance = self && self->cursor + 1 == it.seq;
    if (store_message(r, g, m, s, &it, advance) != E2EE_OK) {
        e2ee__relay_result(s, req, E2EE_ERR_STORE, "store failure; retry later", NULL);
        goto done;
    }
    g->head = it.seq;
    if (advance)
        self->cursor = it.seq;
    r->metrics.group_messages++;
    fan_out(g, &it, s->uid, &pw);
    sent.group_id = g->gid;
    sent.seq = it.seq;
    res.body_case = E2EE__RELAY_RESULT__BODY_SENT;
    res.sent = &sent;
    e2ee__relay_result(s, req, E2EE_OK, "sent", &res);
done:
    e2ee__rmap_cleanup(&pw.by_uid);
}

/* ---- acks ---- */

struct ack_scan {
    struct e2ee__racked receipts; /* filled when the member wants group receipts */
    int want_receipts;
    uint64_t msgs, bytes;
};

static int ack_row(void *arg, const struct e2ee__rs_item *it)
{
    struct ack_scan *a = arg;
    a->msgs++;
    a->bytes += it->len;
    return a->want_receipts ? e2ee__relay_acked_collect(&a->receipts, it) : 0;
}

int e2ee__relay_group_ack(struct e2ee__rsession *s, const char *gid, uint64_t seq, char *err,
                          size_t cap)
{
    struct e2ee__relay *r = s->relay;
    struct e2ee__rstore *st = r->store;
    struct e2ee__rsub *sub = e2ee__rmap_get(&s->subs, gid);
    struct ack_scan a;
    int rc;
    if (!sub) {
        snprintf(err, cap, "not a member of group '%s'", e2ee__relay_id_valid(gid) ? gid : "?");
        return E2EE_ERR_NOT_MEMBER;
    }
    struct e2ee__rmember *m = sub->m;
    struct e2ee__rgroup *g = sub->g;
    if (seq > sub->sent) {
        snprintf(err, cap, "ack beyond what was delivered (group seq %llu)",
                 (unsigned long long)sub->sent);
        return E2EE_ERR_RANGE;
    }
    if (seq <= m->cursor)
        return E2EE_OK;
    memset(&a, 0, sizeof a);
    a.want_receipts = s->ack_group;
    rc = e2ee__relay_req_begin(r);
    if (rc != E2EE_OK)
        goto done;
    rc = st->ops->glog_scan(st, g->gid, m->cursor, seq, s->uid, ack_row, &a);
    if (rc == E2EE_OK && a.receipts.failed)
        rc = E2EE_ERR_NOMEM;
    if (rc == E2EE_OK)
        rc = st->ops->member_set_cursor(st, g->gid, s->uid, seq);
    if (rc == E2EE_OK && a.want_receipts)
        rc = e2ee__relay_receipts(r, s->uid, g->gid, a.receipts.n,
                                  (const char *const *)a.receipts.senders, a.receipts.ids);
    int rc2 = e2ee__relay_req_end(r, rc == E2EE_OK);
    rc = rc != E2EE_OK ? rc : rc2;
done:
    e2ee__relay_acked_free(&a.receipts);
    if (rc != E2EE_OK) {
        snprintf(err, cap, "store failure; ack again later");
        return E2EE_ERR_STORE;
    }
    m->cursor = seq;
    m->backlog_msgs -= a.msgs < m->backlog_msgs ? a.msgs : m->backlog_msgs;
    m->backlog_bytes -= a.bytes < m->backlog_bytes ? a.bytes : m->backlog_bytes;
    e2ee__rlist_add(&r->gc_groups, &g->gc);
    return E2EE_OK;
}

/* ---- trimming ---- */

static uint64_t min_cursor(const struct e2ee__rgroup *g)
{
    uint64_t lo = g->head;
    for (size_t i = 0; i < g->n; i++) {
        if (g->members[i]->cursor < lo)
            lo = g->members[i]->cursor;
    }
    return lo;
}

void e2ee__relay_groups_gc(struct e2ee__relay *r)
{
    while (e2ee__rlist_linked(&r->gc_groups)) {
        struct e2ee__rlink *l = r->gc_groups.next;
        e2ee__rlist_del(l);
        struct e2ee__rgroup *g = E2EE_RLIST_ENTRY(l, struct e2ee__rgroup, gc);
        uint64_t upto = min_cursor(g);
        if (upto <= g->gc_upto)
            continue;
        int rc = e2ee__relay_req_begin(r);
        if (rc == E2EE_OK) {
            rc = r->store->ops->glog_gc(r->store, g->gid, upto);
            int rc2 = e2ee__relay_req_end(r, rc == E2EE_OK);
            rc = rc != E2EE_OK ? rc : rc2;
        }
        if (rc != E2EE_OK) {
            RLOG_WARN("trimming the log of group=%s failed", g->gid);
            continue;
        }
        g->gc_upto = upto;
    }
}
