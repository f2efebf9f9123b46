/*
 * e2ee relay: the batch transaction (group commit).
 *
 * The first write of a loop iteration opens a transaction and schedules a zero-delay timer;
 * lws runs due timers at the start of its next iteration, after it has serviced every
 * connection that was readable, so every request read in one iteration shares one commit.
 * Under load an iteration reads more (the commit took longer, more frames arrived), so the
 * batches grow by themselves. A batch is also committed once it holds
 * E2EE_RELAY_COMMIT_BATCH_MAX requests. Only after the commit do results and deliveries
 * produced by those requests become ready to write.
 *
 * A failed commit rolls everything back: every connection with outputs depending on it is
 * closed (1011) so its client retries (sends are idempotent), and the group cache is
 * reloaded from the store.
 */
#include "relay/log.h"
#include "relay/relay.h"

static void flush_cb(lws_sorted_usec_list_t *sul)
{
    struct e2ee__relay *r = lws_container_of(sul, struct e2ee__relay, sul_flush);
    r->flush_scheduled = 0;
    e2ee__relay_flush(r);
}

void e2ee__relay_schedule_flush(struct e2ee__relay *r)
{
    if (r->flush_scheduled || !r->ctx)
        return;
    r->flush_scheduled = 1;
    lws_sul_schedule(r->ctx, 0, &r->sul_flush, flush_cb,
                     r->txn_open ? (lws_usec_t)r->cfg.commit_delay_us : 0);
}

int e2ee__relay_txn(struct e2ee__relay *r)
{
    if (r->txn_open)
        return E2EE_OK;
    int rc = r->store->ops->begin(r->store);
    if (rc != E2EE_OK) {
        RLOG_ERROR("store begin failed rc=%s", e2ee_errname(rc));
        return rc;
    }
    r->txn_open = 1;
    r->txn_requests = 0;
    r->txn_start_us = e2ee__relay_now_us();
    e2ee__relay_schedule_flush(r);
    return E2EE_OK;
}

int e2ee__relay_req_begin(struct e2ee__relay *r)
{
    int rc = e2ee__relay_txn(r);
    if (rc == E2EE_OK)
        rc = r->store->ops->savepoint(r->store);
    return rc;
}

int e2ee__relay_req_end(struct e2ee__relay *r, int ok)
{
    int rc = ok ? r->store->ops->release(r->store) : r->store->ops->rollback_to(r->store);
    if (rc != E2EE_OK) {
        RLOG_ERROR("store savepoint %s failed", ok ? "release" : "rollback");
        return rc;
    }
    if (ok && ++r->txn_requests >= E2EE_RELAY_COMMIT_BATCH_MAX)
        e2ee__relay_flush(r);
    return E2EE_OK;
}

static void commit_failed(struct e2ee__relay *r)
{
    struct e2ee__rlink *l, *next;
    r->metrics.commit_failures++;
    r->store->ops->rollback(r->store);
    RLOG_ERROR("store commit failed: batch of %zu requests rolled back; closing connections",
               r->txn_requests);
    for (l = r->sessions.next; l != &r->sessions; l = next) {
        next = l->next;
        struct e2ee__rsession *s = E2EE_RLIST_ENTRY(l, struct e2ee__rsession, all);
        e2ee__rsession_close(s, E2EE_RCLOSE_INTERNAL, "E2EE_ERR_STORE: store failure, retry",
                             0);
    }
    e2ee__relay_groups_free(r);
    if (e2ee__relay_groups_load(r) != 0)
        RLOG_ERROR("group cache reload failed");
}

static void release_outputs(struct e2ee__relay *r)
{
    while (e2ee__rlist_linked(&r->dirty)) {
        struct e2ee__rlink *l = r->dirty.next;
        e2ee__rlist_del(l);
        e2ee__rsession_released(E2EE_RLIST_ENTRY(l, struct e2ee__rsession, dirty));
    }
}

static void run_catchup(struct e2ee__relay *r)
{
    /* a session stays listed while it still has unread items (budget exhausted); move
     * them to a local list first so each gets one turn per flush */
    struct e2ee__rlink waiting;
    e2ee__rlist_init(&waiting);
    if (!e2ee__rlist_linked(&r->catchup))
        return;
    waiting.next = r->catchup.next;
    waiting.prev = r->catchup.prev;
    waiting.next->prev = &waiting;
    waiting.prev->next = &waiting;
    e2ee__rlist_init(&r->catchup);
    while (e2ee__rlist_linked(&waiting)) {
        struct e2ee__rlink *l = waiting.next;
        e2ee__rlist_del(l);
        e2ee__rsession_catchup(E2EE_RLIST_ENTRY(l, struct e2ee__rsession, catchup));
    }
}

void e2ee__relay_flush(struct e2ee__relay *r)
{
    if (r->txn_open) {
        int64_t t0 = e2ee__relay_now_us();
        int rc = r->store->ops->commit(r->store);
        r->txn_open = 0;
        if (rc != E2EE_OK) {
            commit_failed(r);
        } else {
            int64_t t1 = e2ee__relay_now_us();
            e2ee__rmetrics_commit(&r->metrics, (uint64_t)(t1 - t0), r->txn_requests);
            RLOG_DEBUG("commit requests=%zu us=%lld", r->txn_requests, (long long)(t1 - t0));
        }
        r->txn_requests = 0;
    }
    release_outputs(r);
    run_catchup(r);
}
