/*
 * e2ee relay: the directory (prekeys, bundles, user list), account deletion and the live
 * user created / deleted events.
 *
 * A bundle fetch consumes one one-time prekey in the same transaction that answers it, so
 * no prekey is ever handed out twice. When the owner's stock falls below
 * low_prekey_threshold, its connection (if any) gets a RelayLowPrekeys notice.
 */
#include <stdlib.h>
#include <string.h>

#include "relay/log.h"
#include "relay/relay.h"

static int prekey_ok(const E2ee__RelayOneTimePrekey *k)
{
    return k && k->public_key.len == E2EE_RELAY_KEY_LEN;
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
        for (size_t j = 0; j < i; j++) {
            if (m->one_time_prekeys[j]->id == m->one_time_prekeys[i]->id) {
                *why = "one-time prekey ids repeat within the request";
                return E2EE_ERR_ARG;
            }
        }
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

void e2ee__relay_fetch_bundle(struct e2ee__rsession *s, uint64_t req,
                              const E2ee__RelayFetchBundle *m)
{
    struct e2ee__relay *r = s->relay;
    E2ee__RelayResult res = E2EE__RELAY_RESULT__INIT;
    E2ee__RelayBundle bu = E2EE__RELAY_BUNDLE__INIT;
    E2ee__RelayIdentity id = E2EE__RELAY_IDENTITY__INIT;
    E2ee__RelaySignedPrekey spk = E2EE__RELAY_SIGNED_PREKEY__INIT;
    E2ee__RelayOneTimePrekey otpk = E2EE__RELAY_ONE_TIME_PREKEY__INIT;
    struct e2ee__rs_user u;
    uint8_t pk[E2EE_RELAY_KEY_LEN];
    uint32_t pk_id = 0, left = 0;
    int have = 0;
    if (!e2ee__relay_id_valid(m->user_id) || !e2ee__relay_device_ok(m->device_id)) {
        e2ee__relay_result(s, req, E2EE_ERR_ARG, "user_id must be a valid id, device_id 0 or 1",
                           NULL);
        return;
    }
    int rc = r->store->ops->user_get(r->store, m->user_id, &u);
    if (rc == E2EE_ERR_NOT_FOUND) {
        e2ee__relay_resultf(s, req, E2EE_ERR_NO_SUCH_USER, "no user '%s'", m->user_id);
        return;
    }
    if (rc == E2EE_OK && !u.has_spk) {
        e2ee__relay_resultf(s, req, E2EE_ERR_NOT_FOUND,
                            "'%s' has not published a signed prekey yet; retry later",
                            m->user_id);
        return;
    }
    if (rc == E2EE_OK)
        rc = take_prekey(r, m->user_id, &pk_id, pk, &have);
    if (rc == E2EE_OK)
        rc = r->store->ops->otpk_count(r->store, m->user_id, &left);
    if (rc != E2EE_OK) {
        e2ee__relay_result(s, req, E2EE_ERR_STORE, "store failure; retry later", NULL);
        return;
    }
    id.sign_key.data = u.sign_pk;
    id.sign_key.len = sizeof u.sign_pk;
    id.dh_key.data = u.dh_pk;
    id.dh_key.len = sizeof u.dh_pk;
    id.dh_signature.data = u.dh_sig;
    id.dh_signature.len = sizeof u.dh_sig;
    spk.id = u.spk_id;
    spk.public_key.data = u.spk_pk;
    spk.public_key.len = sizeof u.spk_pk;
    spk.signature.data = u.spk_sig;
    spk.signature.len = sizeof u.spk_sig;
    otpk.id = pk_id;
    otpk.public_key.data = pk;
    otpk.public_key.len = sizeof pk;
    bu.user_id = u.uid;
    bu.device_id = u.device;
    bu.identity = &id;
    bu.signed_prekey = &spk;
    bu.one_time_prekey = have ? &otpk : NULL;
    res.body_case = E2EE__RELAY_RESULT__BODY_BUNDLE;
    res.bundle = &bu;
    e2ee__relay_result(s, req, E2EE_OK,
                       have ? "bundle" : "bundle without a one-time prekey (none left)", &res);
    low_prekeys(r, m->user_id, left);
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
