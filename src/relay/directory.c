/*
 * e2ee relay: the directory (prekeys, bundles, user list), account deletion and the live
 * user created / deleted events.
 *
 * A bundle fetch consumes one one-time prekey in the same transaction that answers it, so
 * no prekey is ever handed out twice. When the owner's stock falls below
 * low_prekey_threshold, its connection (if any) gets a RelayLowPrekeys notice.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/log.h"
#include "relay/relay.h"

static int prekey_ok(const E2ee__RelayOneTimePrekey *k)
{
    return k && k->public_key.len == E2EE_RELAY_KEY_LEN;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* 1 when two one-time prekeys share an id (sorted copy: n log n, whatever max_prekeys is),
 * 0 when not, -1 when out of memory. */
static int ids_repeat(const E2ee__RelayPublishKeys *m)
{
    size_t n = m->n_one_time_prekeys;
    int rc = 0;
    if (n < 2)
        return 0;
    uint32_t *ids = malloc(n * sizeof *ids);
    if (!ids)
        return -1;
    for (size_t i = 0; i < n; i++)
        ids[i] = m->one_time_prekeys[i]->id;
    qsort(ids, n, sizeof *ids, cmp_u32);
    for (size_t i = 1; i < n && !rc; i++)
        rc = ids[i] == ids[i - 1];
    free(ids);
    return rc;
}

/* Field checks of a publish request; E2EE_OK or an error with *why. */
static int check_publish(const struct e2ee__relay *r, const E2ee__RelayPublishKeys *m,
                         const char **why)
{
    const E2ee__RelaySignedPrekey *spk = m->signed_prekey;
    if (!spk && !m->n_one_time_prekeys && !m->replace_one_time_prekeys) {
        *why = "nothing to publish: give a signed prekey and/or one-time prekeys";
        return E2EE_ERR_ARG;
    }
    if (spk && (spk->public_key.len != E2EE_RELAY_KEY_LEN ||
                spk->signature.len != E2EE_RELAY_SIG_LEN)) {
        *why = "signed_prekey needs public_key (32 bytes) and signature (64 bytes)";
        return E2EE_ERR_LENGTH;
    }
    if (m->n_one_time_prekeys > r->cfg.max_prekeys) {
        *why = "more one-time prekeys than the relay stores (max_prekeys)";
        return E2EE_ERR_LIMIT;
    }
    for (size_t i = 0; i < m->n_one_time_prekeys; i++) {
        if (!prekey_ok(m->one_time_prekeys[i])) {
            *why = "every one-time prekey needs a 32-byte public_key";
            return E2EE_ERR_LENGTH;
        }
    }
    int rep = ids_repeat(m);
    if (rep < 0) {
        *why = "relay out of memory";
        return E2EE_ERR_NOMEM;
    }
    if (rep) {
        *why = "one-time prekey ids repeat within the request";
        return E2EE_ERR_ARG;
    }
    return E2EE_OK;
}

static int store_prekeys(struct e2ee__relay *r, const char *uid, const E2ee__RelayPublishKeys *m)
{
    struct e2ee__rstore *st = r->store;
    size_t n = m->n_one_time_prekeys;
    uint32_t *ids = calloc(n ? n : 1, sizeof *ids);
    uint8_t (*pks)[E2EE_RELAY_KEY_LEN] = calloc(n ? n : 1, sizeof *pks);
    int rc = E2EE_ERR_NOMEM;
    if (!ids || !pks)
        goto done;
    for (size_t i = 0; i < n; i++) {
        ids[i] = m->one_time_prekeys[i]->id;
        memcpy(pks[i], m->one_time_prekeys[i]->public_key.data, E2EE_RELAY_KEY_LEN);
    }
    rc = e2ee__relay_req_begin(r);
    if (rc != E2EE_OK)
        goto done;
    if (m->replace_one_time_prekeys)
        rc = st->ops->otpk_clear(st, uid);
    if (rc == E2EE_OK && m->signed_prekey)
        rc = st->ops->spk_set(st, uid, m->signed_prekey->id, m->signed_prekey->public_key.data,
                              m->signed_prekey->signature.data);
    if (rc == E2EE_OK && n)
        rc = st->ops->otpk_add(st, uid, n, ids, (const uint8_t(*)[E2EE_RELAY_KEY_LEN])pks,
                               r->cfg.max_prekeys);
    int rc2 = e2ee__relay_req_end(r, rc == E2EE_OK);
    rc = rc != E2EE_OK ? rc : rc2;
done:
    free(ids);
    free(pks);
    return rc;
}

void e2ee__relay_publish_keys(struct e2ee__rsession *s, uint64_t req,
                              const E2ee__RelayPublishKeys *m)
{
    struct e2ee__relay *r = s->relay;
    E2ee__RelayResult res = E2EE__RELAY_RESULT__INIT;
    E2ee__RelayPrekeyCount pc = E2EE__RELAY_PREKEY_COUNT__INIT;
    struct e2ee__rs_user u;
    const char *why = NULL;
    int rc = check_publish(r, m, &why);
    if (rc != E2EE_OK) {
        e2ee__relay_result(s, req, rc, why, NULL);
        return;
    }
    rc = store_prekeys(r, s->uid, m);
    if (rc == E2EE_ERR_LIMIT) {
        e2ee__relay_resultf(s, req, rc,
                            "the relay stores at most %u one-time prekeys per device "
                            "(max_prekeys); publish fewer",
                            r->cfg.max_prekeys);
        return;
    }
    if (rc == E2EE_OK)
        rc = r->store->ops->user_get(r->store, s->uid, &u);
    if (rc == E2EE_OK)
        rc = r->store->ops->otpk_count(r->store, s->uid, &pc.one_time_prekeys);
    if (rc != E2EE_OK) {
        e2ee__relay_result(s, req, E2EE_ERR_STORE, "store failure; retry later", NULL);
        return;
    }
    pc.has_signed_prekey = u.has_spk;
    res.body_case = E2EE__RELAY_RESULT__BODY_PREKEYS;
    res.prekeys = &pc;
    RLOG_DEBUG("prekeys user=%s one_time=%u", s->uid, pc.one_time_prekeys);
    e2ee__relay_result(s, req, E2EE_OK, "published", &res);
}

static void low_prekeys(struct e2ee__relay *r, const char *uid, uint32_t remaining)
{
    struct e2ee__rsession *o = e2ee__rmap_get(&r->users, uid);
    E2ee__ServerFrame f = E2EE__SERVER_FRAME__INIT;
    E2ee__RelayEvent ev = E2EE__RELAY_EVENT__INIT;
    E2ee__RelayLowPrekeys lp = E2EE__RELAY_LOW_PREKEYS__INIT;
    if (!o || remaining >= r->cfg.low_prekey_threshold)
        return;
    lp.remaining = remaining;
    lp.threshold = r->cfg.low_prekey_threshold;
    ev.body_case = E2EE__RELAY_EVENT__BODY_LOW_PREKEYS;
    ev.low_prekeys = &lp;
    f.body_case = E2EE__SERVER_FRAME__BODY_EVENT;
    f.event = &ev;
    struct e2ee__rblob *b = e2ee__renc_frame(&f);
    e2ee__rsession_emit(o, b);
    e2ee__rblob_unref(b);
}

/* Consumes one one-time prekey of uid (if any) in its own savepoint. *have is 0 when none
 * was left. */
static int take_prekey(struct e2ee__relay *r, const char *uid, uint32_t *id,
                       uint8_t pk[E2EE_RELAY_KEY_LEN], int *have)
{
    *have = 0;
    int rc = e2ee__relay_req_begin(r);
    if (rc != E2EE_OK)
        return rc;
    rc = r->store->ops->otpk_take(r->store, uid, id, pk);
    if (rc == E2EE_OK)
        *have = 1;
    if (rc == E2EE_ERR_NOT_FOUND)
        rc = E2EE_OK;
    int rc2 = e2ee__relay_req_end(r, rc == E2EE_OK);
    return rc != E2EE_OK ? rc : rc2;
}

/* One bundle and the storage its fields point into. */
struct bundle_buf {
    struct e2ee__rs_user u;
    uint8_t pk[E2EE_RELAY_KEY_LEN];
    E2ee__RelayBundle bu;
    E2ee__RelayIdentity id;
    E2ee__RelaySignedPrekey spk;
    E2ee__RelayOneTimePrekey otpk;
    uint32_t left; /* one-time prekeys left after this one */
    int have;      /* a one-time prekey was taken */
};

static void bundle_fill(struct bundle_buf *b)
{
    e2ee__relay_bundle__init(&b->bu);
    e2ee__relay_identity__init(&b->id);
    e2ee__relay_signed_prekey__init(&b->spk);
    e2ee__relay_one_time_prekey__init(&b->otpk);
    b->id.sign_key = (ProtobufCBinaryData){sizeof b->u.sign_pk, b->u.sign_pk};
    b->id.dh_key = (ProtobufCBinaryData){sizeof b->u.dh_pk, b->u.dh_pk};
    b->id.dh_signature = (ProtobufCBinaryData){sizeof b->u.dh_sig, b->u.dh_sig};
    b->spk.id = b->u.spk_id;
    b->spk.public_key = (ProtobufCBinaryData){sizeof b->u.spk_pk, b->u.spk_pk};
    b->spk.signature = (ProtobufCBinaryData){sizeof b->u.spk_sig, b->u.spk_sig};
    b->otpk.public_key = (ProtobufCBinaryData){sizeof b->pk, b->pk};
    b->bu.user_id = b->u.uid;
    b->bu.device_id = b->u.device;
    b->bu.identity = &b->id;
    b->bu.signed_prekey = &b->spk;
    b->bu.one_time_prekey = b->have ? &b->otpk : NULL;
}

/* The bundle of m's device into *b, one one-time prekey consumed. E2EE_OK, or the refusal's
 * code with its text in why (cap bytes). */
static int make_bundle(struct e2ee__relay *r, const E2ee__RelayFetchBundle *m,
                       struct bundle_buf *b, char *why, size_t cap)
{
    int rc = E2EE_OK;
    memset(b, 0, sizeof *b);
    why[0] = '\0';
    if (!e2ee__relay_id_valid(m->user_id) || !e2ee__relay_device_ok(m->device_id)) {
        snprintf(why, cap, "user_id must be a valid id, device_id 0 or 1");
        return E2EE_ERR_ARG;
    }
    rc = r->store->ops->user_get(r->store, m->user_id, &b->u);
    if (rc == E2EE_ERR_NOT_FOUND) {
        snprintf(why, cap, "no user '%s'", m->user_id);
        return E2EE_ERR_NO_SUCH_USER;
    }
    if (rc == E2EE_OK && !b->u.has_spk) {
        snprintf(why, cap, "'%s' has not published a signed prekey yet; retry later",
                 m->user_id);
        return E2EE_ERR_NOT_FOUND;
    }
    if (rc == E2EE_OK)
        rc = take_prekey(r, m->user_id, &b->otpk.id, b->pk, &b->have);
    if (rc == E2EE_OK)
        rc = r->store->ops->otpk_count(r->store, m->user_id, &b->left);
    if (rc != E2EE_OK) {
        snprintf(why, cap, "store failure; retry later");
        return E2EE_ERR_STORE;
    }
    uint32_t otpk_id = b->otpk.id;
    bundle_fill(b);
    b->otpk.id = otpk_id;
    snprintf(why, cap, "%s", b->have ? "bundle" : "bundle without a one-time prekey (none left)");
    return E2EE_OK;
}

void e2ee__relay_fetch_bundle(struct e2ee__rsession *s, uint64_t req,
                              const E2ee__RelayFetchBundle *m)
{
    E2ee__RelayResult res = E2EE__RELAY_RESULT__INIT;
    struct bundle_buf b;
    char why[E2EE_RELAY_TEXT_MAX];
    int rc = make_bundle(s->relay, m, &b, why, sizeof why);
    if (rc != E2EE_OK) {
        e2ee__relay_result(s, req, rc, why, NULL);
        return;
    }
    res.body_case = E2EE__RELAY_RESULT__BODY_BUNDLE;
    res.bundle = &b.bu;
    e2ee__relay_result(s, req, E2EE_OK, why, &res);
    low_prekeys(s->relay, m->user_id, b.left);
}

static int cmp_item(const void *a, const void *b)
{
    const E2ee__RelayFetchBundle *x = *(const E2ee__RelayFetchBundle *const *)a;
    const E2ee__RelayFetchBundle *y = *(const E2ee__RelayFetchBundle *const *)b;
    int c = strcmp(x->user_id, y->user_id);
    /* device 0 means the default device, 1 */
    uint32_t dx = x->device_id ? x->device_id : 1, dy = y->device_id ? y->device_id : 1;
    return c ? c : (dx > dy) - (dx < dy);
}

/* 1 when an item repeats (sorted copy), 0 when not, -1 when out of memory. */
static int items_repeat(const E2ee__RelayFetchBundles *m)
{
    size_t n = m->n_items;
    int rc = 0;
    E2ee__RelayFetchBundle **v = n > 1 ? malloc(n * sizeof *v) : NULL;
    if (n > 1 && !v)
        return -1;
    for (size_t i = 0; i < n && v; i++)
        v[i] = m->items[i];
    if (v)
        qsort(v, n, sizeof *v, cmp_item);
    for (size_t i = 1; i < n && !rc; i++)
        rc = cmp_item(&v[i - 1], &v[i]) == 0;
    free(v);
    return rc;
}

/* Whole-request checks of a RelayFetchBundles; E2EE_OK or the refusal with *why. */
static int check_fetch_bundles(struct e2ee__rsession *s, const E2ee__RelayFetchBundles *m,
                               uint32_t max, char *why, size_t cap)
{
    int rep;
    if (m->n_items == 0) {
        snprintf(why, cap, "fetch_bundles needs at least one item");
        return E2EE_ERR_ARG;
    }
    if (m->n_items > max) {
        snprintf(why, cap, "at most %u bundles per fetch (max_bundles_per_fetch); ask in parts",
                 max);
        return E2EE_ERR_LIMIT;
    }
    rep = items_repeat(m);
    if (rep) {
        snprintf(why, cap, rep < 0 ? "relay out of memory" : "an item repeats in fetch_bundles");
        return rep < 0 ? E2EE_ERR_NOMEM : E2EE_ERR_ARG;
    }
    if (!e2ee__relay_rate_take(s, (double)(m->n_items - 1))) {
        snprintf(why, cap, "a fetch of %zu bundles counts as %zu requests "
                 "(max_requests_per_sec); slow down", m->n_items, m->n_items);
        return E2EE_ERR_RATE_LIMITED;
    }
    return E2EE_OK;
}

struct bundles_out {
    struct bundle_buf *b;
    E2ee__RelayBundleItem *it;
    E2ee__RelayBundleItem **ptrs;
    char (*why)[E2EE_RELAY_TEXT_MAX];
};

static void bundles_out_free(struct bundles_out *o)
{
    free(o->b);
    free(o->it);
    free(o->ptrs);
    free(o->why);
}

void e2ee__relay_fetch_bundles(struct e2ee__rsession *s, uint64_t req,
                               const E2ee__RelayFetchBundles *m)
{
    struct e2ee__relay *r = s->relay;
    E2ee__RelayResult res = E2EE__RELAY_RESULT__INIT;
    E2ee__RelayBundleList list = E2EE__RELAY_BUNDLE_LIST__INIT;
    struct bundles_out o = {0};
    char why[E2EE_RELAY_TEXT_MAX];
    uint32_t max = r->cfg.max_bundles_per_fetch < r->cfg.max_requests_per_sec
                       ? r->cfg.max_bundles_per_fetch
                       : r->cfg.max_requests_per_sec;
    size_t n = m->n_items;
    int rc = check_fetch_bundles(s, m, max, why, sizeof why);
    if (rc != E2EE_OK) {
        e2ee__relay_result(s, req, rc, why, NULL);
        return;
    }
    o.b = calloc(n, sizeof *o.b);
    o.it = calloc(n, sizeof *o.it);
    o.ptrs = calloc(n, sizeof *o.ptrs);
    o.why = calloc(n, sizeof *o.why);
    if (!o.b || !o.it || !o.ptrs || !o.why) {
        e2ee__relay_result(s, req, E2EE_ERR_NOMEM, "relay out of memory; retry later", NULL);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const E2ee__RelayFetchBundle *q = m->items[i];
        e2ee__relay_bundle_item__init(&o.it[i]);
        o.it[i].code = make_bundle(r, q, &o.b[i], o.why[i], sizeof o.why[i]);
        o.it[i].user_id = q->user_id;
        o.it[i].device_id = q->device_id;
        o.it[i].text = o.why[i];
        o.it[i].bundle = o.it[i].code == E2EE_OK ? &o.b[i].bu : NULL;
        o.ptrs[i] = &o.it[i];
    }
    list.n_items = n;
    list.items = o.ptrs;
    res.body_case = E2EE__RELAY_RESULT__BODY_BUNDLES;
    res.bundles = &list;
    RLOG_DEBUG("bundles user=%s n=%zu", s->uid, n);
    e2ee__relay_result(s, req, E2EE_OK, "bundles", &res);
    for (size_t i = 0; i < n; i++)
        if (o.it[i].code == E2EE_OK)
            low_prekeys(r, m->items[i]->user_id, o.b[i].left);
done:
    bundles_out_free(&o);
}

struct user_page {
    char **ids;
    size_t n;
    int failed;
};

static int collect_user(void *arg, const char *uid)
{
    struct user_page *p = arg;
    p->ids[p->n] = strdup(uid);
    if (!p->ids[p->n]) {
        p->failed = 1;
        return 1;
    }
    p->n++;
    return 0;
}

void e2ee__relay_list_users(struct e2ee__rsession *s, uint64_t req, const E2ee__RelayListUsers *m)
{
    struct e2ee__relay *r = s->relay;
    E2ee__RelayResult res = E2EE__RELAY_RESULT__INIT;
    E2ee__RelayUserList ul = E2EE__RELAY_USER_LIST__INIT;
    uint32_t limit = m->limit && m->limit < r->cfg.list_users_page ? m->limit
                                                                    : r->cfg.list_users_page;
    struct user_page p = {calloc((size_t)limit + 1, sizeof(char *)), 0, 0};
    if (m->after[0] && !e2ee__relay_id_valid(m->after)) {
        e2ee__relay_result(s, req, E2EE_ERR_ARG, "after must be empty or a valid user id", NULL);
        goto done;
    }
    if (!p.ids || r->store->ops->user_list(r->store, m->after, limit + 1, collect_user, &p) !=
                      E2EE_OK || p.failed) {
        e2ee__relay_result(s, req, E2EE_ERR_STORE, "store failure; retry later", NULL);
        goto done;
    }
    ul.more = p.n > limit;
    ul.n_user_ids = p.n > limit ? limit : p.n;
    ul.user_ids = p.ids;
    res.body_case = E2EE__RELAY_RESULT__BODY_USERS;
    res.users = &ul;
    e2ee__relay_result(s, req, E2EE_OK, "users", &res);
done:
    for (size_t i = 0; p.ids && i < p.n; i++)
        free(p.ids[i]);
    free(p.ids);
}

/* ---- user events ---- */

struct targets {
    struct e2ee__relay *r;
    struct e2ee__rmap set; /* uid -> session */
    const char *self;
};

static int add_group_targets(void *arg, const char *gid)
{
    struct targets *t = arg;
    struct e2ee__rgroup *g = e2ee__relay_group(t->r, gid);
    for (size_t i = 0; g && i < g->n; i++) {
        struct e2ee__rmember *m = g->members[i];
        if (m->sub && strcmp(m->uid, t->self) != 0)
            e2ee__rmap_put(&t->set, m->sub->s->uid, m->sub->s);
    }
    return 0;
}

/* Fills t->set with the sessions to notify about uid. */
static void user_event_targets(struct e2ee__relay *r, const char *uid, struct targets *t)
{
    t->r = r;
    t->self = uid;
    e2ee__rmap_init(&t->set);
    if (r->cfg.user_events == E2EE_RCFG_USER_EVENTS_GROUPS) {
        if (r->store->ops->groups_of(r->store, uid, add_group_targets, t) != E2EE_OK)
            RLOG_WARN("user event: cannot list the groups of user=%s", uid);
        return;
    }
    struct e2ee__rsession *o;
    size_t pos = 0;
    while ((o = e2ee__rmap_next(&r->users, &pos)) != NULL) {
        if (strcmp(o->uid, uid) != 0)
            e2ee__rmap_put(&t->set, o->uid, o);
    }
}

static void user_event_send(struct targets *t, const char *uid, int created)
{
    E2ee__ServerFrame f = E2EE__SERVER_FRAME__INIT;
    E2ee__RelayEvent ev = E2EE__RELAY_EVENT__INIT;
    E2ee__RelayUserEvent ue = E2EE__RELAY_USER_EVENT__INIT;
    struct e2ee__rsession *o;
    size_t pos = 0;
    ue.kind = created ? E2EE__RELAY_USER_EVENT_KIND__RELAY_USER_CREATED
                      : E2EE__RELAY_USER_EVENT_KIND__RELAY_USER_DELETED;
    ue.user_id = (char *)uid;
    ev.body_case = E2EE__RELAY_EVENT__BODY_USER;
    ev.user = &ue;
    f.body_case = E2EE__SERVER_FRAME__BODY_EVENT;
    f.event = &ev;
    struct e2ee__rblob *b = t->set.count ? e2ee__renc_frame(&f) : NULL;
    while (b && (o = e2ee__rmap_next(&t->set, &pos)) != NULL)
        e2ee__rsession_emit(o, b);
    e2ee__rblob_unref(b);
    e2ee__rmap_cleanup(&t->set);
}

void e2ee__relay_user_event(struct e2ee__relay *r, const char *uid, int created)
{
    struct targets t;
    user_event_targets(r, uid, &t);
    user_event_send(&t, uid, created);
}

void e2ee__relay_delete_account(struct e2ee__rsession *s, uint64_t req,
                                const E2ee__RelayDeleteAccount *m)
{
    struct e2ee__relay *r = s->relay;
    char uid[E2EE_RELAY_ID_BUF];
    struct targets t;
    int rc;
    if (strcmp(m->user_id, s->uid) != 0) {
        e2ee__relay_result(s, req, E2EE_ERR_ARG,
                           "user_id must repeat your own user id to delete your account", NULL);
        return;
    }
    snprintf(uid, sizeof uid, "%s", s->uid);
    user_event_targets(r, uid, &t); /* before the groups go */
    rc = e2ee__relay_groups_drop_user(r, uid);
    if (rc == E2EE_OK)
        rc = e2ee__relay_req_begin(r);
    if (rc == E2EE_OK) {
        rc = r->store->ops->user_delete(r->store, uid);
        int rc2 = e2ee__relay_req_end(r, rc == E2EE_OK);
        rc = rc != E2EE_OK ? rc : rc2;
    }
    if (rc != E2EE_OK) {
        e2ee__rmap_cleanup(&t.set);
        e2ee__relay_result(s, req, E2EE_ERR_STORE, "store failure; retry the deletion", NULL);
        return;
    }
    RLOG_INFO("account deleted user=%s", uid);
    e2ee__relay_result(s, req, E2EE_OK, "account deleted", NULL);
    e2ee__rsession_close_after_drain(s, E2EE_RCLOSE_NORMAL, "account deleted");
    user_event_send(&t, uid, 0);
}
