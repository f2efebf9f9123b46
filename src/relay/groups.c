/*
 * e2ee relay: groups and membership.
 *
 * The relay keeps every live group in memory (the group cache: owner, epoch, log head,
 * members in join order with their cursors), loaded from the store at start and changed
 * only after the store has accepted the change (savepoint released).
 *
 * Every membership change increments the epoch and is written to the group's log as an
 * event, in order with the messages: CREATED (members: [owner]), MEMBER_JOINED (the joiner
 * also gets the member list), MEMBER_LEFT (removed set when the owner removed the member).
 * The member who left or was removed gets its MEMBER_LEFT in its inbox (its cursor is gone);
 * on deletion every member gets DELETED in its inbox. Members read events by catch-up.
 *
 * When the owner leaves, ownership passes to the longest-standing member; when the last
 * member leaves, the group is deleted. Deleted groups stay in the store as tombstones so
 * that a re-created group continues their epoch and log sequence.
 */
#include <stdlib.h>
#include <string.h>

#include "relay/log.h"
#include "relay/relay.h"

/* ---- the cache ---- */

struct e2ee__rgroup *e2ee__relay_group(struct e2ee__relay *r, const char *gid)
{
    return e2ee__rmap_get(&r->groups, gid);
}

struct e2ee__rmember *e2ee__rgroup_member(struct e2ee__rgroup *g, const char *uid)
{
    for (size_t i = 0; i < g->n; i++) {
        if (strcmp(g->members[i]->uid, uid) == 0)
            return g->members[i];
    }
    return NULL;
}

static struct e2ee__rgroup *group_new(struct e2ee__relay *r, const struct e2ee__rs_group *row)
{
    struct e2ee__rgroup *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    snprintf(g->gid, sizeof g->gid, "%s", row->gid);
    snprintf(g->owner, sizeof g->owner, "%s", row->owner);
    g->epoch = row->epoch;
    g->head = row->head;
    g->created_ms = row->created_ms;
    e2ee__rlist_init(&g->gc);
    if (e2ee__rmap_put(&r->groups, g->gid, g) != 0) {
        free(g);
        return NULL;
    }
    return g;
}

static void sub_drop(struct e2ee__rsub *sub)
{
    e2ee__rmap_del(&sub->s->subs, sub->g->gid);
    if (sub->m)
        sub->m->sub = NULL;
    free(sub);
}

static void group_free(struct e2ee__relay *r, struct e2ee__rgroup *g)
{
    for (size_t i = 0; i < g->n; i++) {
        if (g->members[i]->sub)
            sub_drop(g->members[i]->sub);
        free(g->members[i]);
    }
    e2ee__rlist_del(&g->gc);
    e2ee__rmap_del(&r->groups, g->gid);
    free(g->members);
    free(g);
}

static struct e2ee__rmember *member_new(struct e2ee__rgroup *g, const char *uid, uint64_t cursor,
                                        uint64_t joined)
{
    if (g->n == g->cap) {
        size_t ncap = g->cap ? g->cap * 2 : 8;
        struct e2ee__rmember **nm = realloc(g->members, ncap * sizeof *nm);
        if (!nm)
            return NULL;
        g->members = nm;
        g->cap = ncap;
    }
    struct e2ee__rmember *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    snprintf(m->uid, sizeof m->uid, "%s", uid);
    m->cursor = cursor;
    m->joined_seq = joined;
    g->members[g->n++] = m;
    return m;
}

static void member_drop(struct e2ee__rgroup *g, struct e2ee__rmember *m)
{
    for (size_t i = 0; i < g->n; i++) {
        if (g->members[i] != m)
            continue;
        memmove(&g->members[i], &g->members[i + 1], (g->n - i - 1) * sizeof *g->members);
        g->n--;
        break;
    }
    if (m->sub)
        sub_drop(m->sub);
    free(m);
}

void e2ee__relay_groups_free(struct e2ee__relay *r)
{
    struct e2ee__rgroup *g;
    size_t pos = 0;
    /* collect first: group_free changes the map */
    size_t n = r->groups.count, k = 0;
    struct e2ee__rgroup **all = calloc(n ? n : 1, sizeof *all);
    while (all && (g = e2ee__rmap_next(&r->groups, &pos)) != NULL)
        all[k++] = g;
    for (size_t i = 0; i < k; i++)
        group_free(r, all[i]);
    free(all);
    e2ee__rmap_cleanup(&r->groups);
    e2ee__rmap_init(&r->groups);
}

struct loader {
    struct e2ee__relay *r;
    struct e2ee__rgroup *cur;
};

static int load_group(void *arg, const struct e2ee__rs_group *row)
{
    struct loader *l = arg;
    l->cur = group_new(l->r, row);
    return l->cur ? E2EE_OK : E2EE_ERR_NOMEM;
}

static int load_member(void *arg, const struct e2ee__rs_member *row)
{
    struct loader *l = arg;
    return member_new(l->cur, row->uid, row->cursor, row->joined_seq) ? E2EE_OK : E2EE_ERR_NOMEM;
}

struct backlog {
    uint64_t msgs, bytes;
};

static int count_backlog(void *arg, const struct e2ee__rs_item *it)
{
    struct backlog *b = arg;
    b->msgs++;
    b->bytes += it->len;
    return 0;
}

int e2ee__relay_groups_load(struct e2ee__relay *r)
{
    struct loader l = {r, NULL};
    struct e2ee__rgroup *g;
    size_t pos = 0;
    int rc = r->store->ops->group_load(r->store, load_group, load_member, &l);
    while (rc == E2EE_OK && (g = e2ee__rmap_next(&r->groups, &pos)) != NULL) {
        for (size_t i = 0; i < g->n && rc == E2EE_OK; i++) {
            struct e2ee__rmember *m = g->members[i];
            struct backlog b = {0, 0};
            rc = r->store->ops->glog_scan(r->store, g->gid, m->cursor, g->head, m->uid,
                                          count_backlog, &b);
            m->backlog_msgs = b.msgs;
            m->backlog_bytes = b.bytes;
        }
        e2ee__rlist_add(&r->gc_groups, &g->gc); /* trim what was acked before a stop */
    }
    if (rc != E2EE_OK) {
        RLOG_ERROR("loading groups failed rc=%s", e2ee_errname(rc));
        return -1;
    }
    RLOG_INFO("groups loaded count=%zu", r->groups.count);
    return 0;
}

static struct e2ee__rsub *sub_new(struct e2ee__rsession *s, struct e2ee__rgroup *g,
                                  struct e2ee__rmember *m)
{
    struct e2ee__rsub *sub = calloc(1, sizeof *sub);
    if (!sub)
        return NULL;
    sub->g = g;
    sub->m = m;
    sub->s = s;
    sub->sent = m->cursor;
    sub->live = 0;
    if (e2ee__rmap_put(&s->subs, g->gid, sub) != 0) {
        free(sub);
        return NULL;
    }
    m->sub = sub;
    return sub;
}

static int attach_one(void *arg, const char *gid)
{
    struct e2ee__rsession *s = arg;
    struct e2ee__rgroup *g = e2ee__relay_group(s->relay, gid);
    struct e2ee__rmember *m = g ? e2ee__rgroup_member(g, s->uid) : NULL;
    if (!m)
        return 0; /* store and cache disagree only transiently (a failed commit) */
    return sub_new(s, g, m) ? 0 : 1;
}

int e2ee__relay_groups_attach(struct e2ee__rsession *s)
{
    struct e2ee__rstore *st = s->relay->store;
    int rc = st->ops->groups_of(st, s->uid, attach_one, s);
    if (rc == E2EE_OK && s->subs.count != 0) {
        /* check every attach succeeded: one sub per listed group that the cache knows */
        size_t pos = 0;
        struct e2ee__rsub *sub;
        while ((sub = e2ee__rmap_next(&s->subs, &pos)) != NULL)
            if (!sub->m)
                rc = E2EE_ERR_NOMEM;
    }
    return rc;
}

void e2ee__relay_group_touched(struct e2ee__relay *r, struct e2ee__rgroup *g)
{
    (void)r;
    for (size_t i = 0; i < g->n; i++) {
        struct e2ee__rsub *sub = g->members[i]->sub;
        if (sub) {
            sub->live = 0;
            e2ee__rsession_want_catchup(sub->s);
        }
    }
}

/* ---- events ---- */

/* Encodes a RelayGroupEvent. members (n of them) may be NULL. */
static uint8_t *event_pack(E2ee__RelayGroupEventKind kind, const struct e2ee__rgroup *g,
                           uint64_t epoch, const char *user, int removed, const char *owner,
                           char **members, size_t n, size_t *len)
{
    E2ee__RelayGroupEvent ev = E2EE__RELAY_GROUP_EVENT__INIT;
    ev.kind = kind;
    ev.group_id = (char *)g->gid;
    ev.epoch = epoch;
    ev.user_id = (char *)user;
    ev.removed = removed;
    ev.owner = (char *)owner;
    ev.members = members;
    ev.n_members = members ? n : 0;
    return e2ee__renc_pack(&ev.base, len);
}

/* Encodes only the member list (field `members`) of a RelayGroupEvent. */
static uint8_t *members_pack(char **members, size_t n, size_t *len)
{
    E2ee__RelayGroupEvent ev = E2EE__RELAY_GROUP_EVENT__INIT;
    ev.members = members;
    ev.n_members = n;
    return e2ee__renc_pack(&ev.base, len);
}

/* Member ids of g in join order, plus `extra` (may be NULL) at the end. Free the array
 * (not the strings). */
static char **member_ids(const struct e2ee__rgroup *g, const char *extra, size_t *n)
{
    char **ids = calloc(g->n + 1, sizeof *ids);
    *n = 0;
    if (!ids)
        return NULL;
    for (size_t i = 0; i < g->n; i++)
        ids[(*n)++] = (char *)g->members[i]->uid;
    if (extra)
        ids[(*n)++] = (char *)extra;
    return ids;
}

static int log_event(struct e2ee__relay *r, struct e2ee__rgroup *g, uint64_t seq, uint64_t epoch,
                     const char *user, const uint8_t *data, size_t len, const uint8_t *extra,
                     size_t extra_len)
{
    struct e2ee__rs_item it = {0};
    it.seq = seq;
    it.kind = E2EE_RS_EVENT;
    it.peer = user;
    it.epoch = epoch;
    it.at_ms = e2ee__relay_now_ms();
    it.data = data;
    it.len = len;
    it.extra = extra;
    it.extra_len = extra_len;
    return r->store->ops->glog_append(r->store, g->gid, &it);
}

static int inbox_event(struct e2ee__relay *r, const char *uid, uint64_t epoch,
                       const uint8_t *data, size_t len)
{
    struct e2ee__rs_item it = {0};
    it.kind = E2EE_RS_EVENT;
    it.peer = uid;
    it.epoch = epoch;
    it.at_ms = e2ee__relay_now_ms();
    it.data = data;
    it.len = len;
    int rc = e2ee__relay_inbox_put_event(r, uid, &it);
    return rc == E2EE_ERR_NOT_FOUND ? E2EE_OK : rc; /* a deleted account */
}

static void group_info(struct e2ee__rsession *s, uint64_t req, int code, const char *text,
                       const struct e2ee__rgroup *g, int with_members)
{
    E2ee__RelayResult res = E2EE__RELAY_RESULT__INIT;
    E2ee__RelayGroupInfo gi = E2EE__RELAY_GROUP_INFO__INIT;
    size_t n = 0;
    char **ids = with_members ? member_ids(g, NULL, &n) : NULL;
    gi.group_id = (char *)g->gid;
    gi.owner = (char *)g->owner;
    gi.epoch = g->epoch;
    gi.member_count = (uint32_t)g->n;
    gi.members = ids;
    gi.n_members = ids ? n : 0;
    res.body_case = E2EE__RELAY_RESULT__BODY_GROUP;
    res.group = &gi;
    e2ee__relay_result(s, req, code, text, &res);
    free(ids);
}

void e2ee__relay_group_info_result(struct e2ee__rsession *s, uint64_t req, int code,
                                   const char *text, const struct e2ee__rgroup *g)
{
    group_info(s, req, code, text, g, 1);
}

/* ---- create ---- */

static int create_store(struct e2ee__relay *r, const struct e2ee__rs_group *row, const char *uid,
                        struct e2ee__rgroup *tmp)
{
    struct e2ee__rs_member mem;
    char *owner_ids[1] = {(char *)uid};
    size_t len = 0;
    uint8_t *ev = event_pack(E2EE__RELAY_GROUP_EVENT_KIND__RELAY_GROUP_CREATED, tmp, row->epoch,
                             uid, 0, uid, owner_ids, 1, &len);
    if (!ev)
        return E2EE_ERR_NOMEM;
    memset(&mem, 0, sizeof mem);
    snprintf(mem.gid, sizeof mem.gid, "%s", row->gid);
    snprintf(mem.uid, sizeof mem.uid, "%s", uid);
    mem.cursor = row->head - 1;
    mem.joined_seq = row->head;
    int rc = e2ee__relay_req_begin(r);
    if (rc == E2EE_OK) {
        rc = r->store->ops->group_put(r->store, row);
        if (rc == E2EE_OK)
            rc = r->store->ops->member_add(r->store, &mem);
        if (rc == E2EE_OK)
            rc = log_event(r, tmp, row->head, row->epoch, uid, ev, len, NULL, 0);
        int rc2 = e2ee__relay_req_end(r, rc == E2EE_OK);
        rc = rc != E2EE_OK ? rc : rc2;
    }
    free(ev);
    return rc;
}

void e2ee__relay_create_group(struct e2ee__rsession *s, uint64_t req,
                              const E2ee__RelayCreateGroup *m)
{
    struct e2ee__relay *r = s->relay;
    struct e2ee__rs_group row;
    struct e2ee__rgroup tmp, *g;
    if (!e2ee__relay_id_valid(m->group_id)) {
        e2ee__relay_result(s, req, E2EE_ERR_ARG,
                           "group_id must be 1..64 characters of A-Z a-z 0-9 . _ - @ +", NULL);
        return;
    }
    if (e2ee__relay_group(r, m->group_id)) {
        e2ee__relay_resultf(s, req, E2EE_ERR_EXISTS,
                            "group '%s' exists; join it or pick another id", m->group_id);
        return;
    }
    if (s->subs.count >= r->cfg.max_groups_per_user) {
        e2ee__relay_resultf(s, req, E2EE_ERR_LIMIT,
                            "you are in %zu groups, the most allowed (max_groups_per_user)",
                            s->subs.count);
        return;
    }
    int rc = r->store->ops->group_get(r->store, m->group_id, &row);
    if (rc == E2EE_ERR_NOT_FOUND) {
        memset(&row, 0, sizeof row);
        snprintf(row.gid, sizeof row.gid, "%s", m->group_id);
        rc = E2EE_OK;
    } else if (rc == E2EE_OK && !row.deleted) {
        rc = E2EE_ERR_STORE; /* in the store but not in the cache */
    }
    /* a re-created group continues the tombstone's epoch and sequence */
    row.epoch++;
    row.head++;
    row.deleted = 0;
    row.created_ms = e2ee__relay_now_ms();
    snprintf(row.owner, sizeof row.owner, "%s", s->uid);
    memset(&tmp, 0, sizeof tmp);
    snprintf(tmp.gid, sizeof tmp.gid, "%s", row.gid);
    if (rc == E2EE_OK)
        rc = create_store(r, &row, s->uid, &tmp);
    g = rc == E2EE_OK ? group_new(r, &row) : NULL;
    struct e2ee__rmember *mem = g ? member_new(g, s->uid, row.head - 1, row.head) : NULL;
    if (!mem || !sub_new(s, g, mem)) {
        e2ee__relay_result(s, req, rc == E2EE_OK ? E2EE_ERR_NOMEM : E2EE_ERR_STORE,
                           "relay failure; retry later", NULL);
        return;
    }
    RLOG_INFO("group created group=%s owner=%s epoch=%llu", g->gid, s->uid,
              (unsigned long long)g->epoch);
    e2ee__rsession_want_catchup(s);
    group_info(s, req, E2EE_OK, "created", g, 1);
}

/* ---- join ---- */

static int join_store(struct e2ee__relay *r, struct e2ee__rgroup *g, const char *uid,
                      uint64_t epoch, uint64_t seq)
{
    struct e2ee__rs_group row;
    struct e2ee__rs_member mem;
    size_t n = 0, len = 0, xlen = 0;
    char **ids = member_ids(g, uid, &n);
    uint8_t *ev = event_pack(E2EE__RELAY_GROUP_EVENT_KIND__RELAY_GROUP_MEMBER_JOINED, g, epoch,
                             uid, 0, g->owner, NULL, 0, &len);
    uint8_t *xs = ids ? members_pack(ids, n, &xlen) : NULL;
    int rc = E2EE_ERR_NOMEM;
    if (!ids || !ev || !xs)
        goto done;
    memset(&row, 0, sizeof row);
    snprintf(row.gid, sizeof row.gid, "%s", g->gid);
    snprintf(row.owner, sizeof row.owner, "%s", g->owner);
    row.epoch = epoch;
    row.head = seq;
    row.created_ms = g->created_ms;
    memset(&mem, 0, sizeof mem);
    snprintf(mem.gid, sizeof mem.gid, "%s", g->gid);
    snprintf(mem.uid, sizeof mem.uid, "%s", uid);
    mem.cursor = seq - 1;
    mem.joined_seq = seq;
    rc = e2ee__relay_req_begin(r);
    if (rc == E2EE_OK) {
        rc = r->store->ops->group_put(r->store, &row);
        if (rc == E2EE_OK)
            rc = r->store->ops->member_add(r->store, &mem);
        if (rc == E2EE_OK)
            rc = log_event(r, g, seq, epoch, uid, ev, len, xs, xlen);
        int rc2 = e2ee__relay_req_end(r, rc == E2EE_OK);
        rc = rc != E2EE_OK ? rc : rc2;
    }
done:
    free(ids);
    free(ev);
    free(xs);
    return rc;
}

void e2ee__relay_join_group(struct e2ee__rsession *s, uint64_t req, const E2ee__RelayJoinGroup *m)
{
    struct e2ee__relay *r = s->relay;
    struct e2ee__rgroup *g = e2ee__relay_group(r, m->group_id);
    if (!g) {
        e2ee__relay_resultf(s, req, E2EE_ERR_NO_SUCH_GROUP, "no group '%s' (never created, or "
                            "deleted)", e2ee__relay_id_valid(m->group_id) ? m->group_id : "?");
        return;
    }
    if (e2ee__rgroup_member(g, s->uid)) {
        e2ee__relay_result(s, req, E2EE_ERR_EXISTS, "you are already a member of this group",
                           NULL);
        return;
    }
    if (g->n >= r->cfg.max_group_size) {
        e2ee__relay_resultf(s, req, E2EE_ERR_LIMIT,
                            "group '%s' is full (%zu members, max_group_size)", g->gid, g->n);
        return;
    }
    if (s->subs.count >= r->cfg.max_groups_per_user) {
        e2ee__relay_resultf(s, req, E2EE_ERR_LIMIT,
                            "you are in %zu groups, the most allowed (max_groups_per_user)",
                            s->subs.count);
        return;
    }
    uint64_t epoch = g->epoch + 1, seq = g->head + 1;
    int rc = join_store(r, g, s->uid, epoch, seq);
    struct e2ee__rmember *mem = rc == E2EE_OK ? member_new(g, s->uid, seq - 1, seq) : NULL;
    if (mem) {
        g->epoch = epoch;
        g->head = seq;
    }
    if (!mem || !sub_new(s, g, mem)) {
        e2ee__relay_result(s, req, rc == E2EE_OK ? E2EE_ERR_NOMEM : E2EE_ERR_STORE,
                           "relay failure; retry later", NULL);
        return;
    }
    RLOG_INFO("group join group=%s user=%s epoch=%llu members=%zu", g->gid, s->uid,
              (unsigned long long)epoch, g->n);
    e2ee__relay_group_touched(r, g);
    group_info(s, req, E2EE_OK, "joined", g, 1);
}

/* ---- delete ---- */

static int delete_store(struct e2ee__relay *r, struct e2ee__rgroup *g, const char *actor,
                        uint64_t epoch)
{
    struct e2ee__rs_group row;
    size_t len = 0;
    uint8_t *ev = event_pack(E2EE__RELAY_GROUP_EVENT_KIND__RELAY_GROUP_DELETED, g, epoch, actor, 0,
                             g->owner, NULL, 0, &len);
    if (!ev)
        return E2EE_ERR_NOMEM;
    memset(&row, 0, sizeof row);
    snprintf(row.gid, sizeof row.gid, "%s", g->gid);
    snprintf(row.owner, sizeof row.owner, "%s", g->owner);
    row.epoch = epoch;
    row.head = g->head;
    row.created_ms = g->created_ms;
    int rc = e2ee__relay_req_begin(r);
    if (rc == E2EE_OK) {
        rc = r->store->ops->group_remove(r->store, &row);
        for (size_t i = 0; i < g->n && rc == E2EE_OK; i++)
            rc = inbox_event(r, g->members[i]->uid, epoch, ev, len);
        int rc2 = e2ee__relay_req_end(r, rc == E2EE_OK);
        rc = rc != E2EE_OK ? rc : rc2;
    }
    free(ev);
    return rc;
}

/* Deletes g (store and cache); g is freed on success. */
static int group_delete(struct e2ee__relay *r, struct e2ee__rgroup *g, const char *actor)
{
    int rc = delete_store(r, g, actor, g->epoch + 1);
    if (rc != E2EE_OK)
        return rc;
    RLOG_INFO("group deleted group=%s by=%s", g->gid, actor);
    group_free(r, g);
    return E2EE_OK;
}

void e2ee__relay_delete_group(struct e2ee__rsession *s, uint64_t req,
                              const E2ee__RelayDeleteGroup *m)
{
    struct e2ee__rgroup *g = e2ee__relay_group(s->relay, m->group_id);
    if (!g) {
        e2ee__relay_result(s, req, E2EE_ERR_NO_SUCH_GROUP, "no such group", NULL);
        return;
    }
    if (strcmp(g->owner, s->uid) != 0) {
        e2ee__relay_resultf(s, req, E2EE_ERR_NOT_OWNER,
                            "only the owner (%s) may delete the group", g->owner);
        return;
    }
    if (group_delete(s->relay, g, s->uid) != E2EE_OK) {
        e2ee__relay_result(s, req, E2EE_ERR_STORE, "store failure; retry later", NULL);
        return;
    }
    e2ee__relay_result(s, req, E2EE_OK, "deleted", NULL);
}

/* ---- leave and remove ---- */

static int leave_store(struct e2ee__relay *r, struct e2ee__rgroup *g, const char *uid,
                       int removed, const char *owner, uint64_t epoch, uint64_t seq)
{
    struct e2ee__rs_group row;
    size_t len = 0;
    uint8_t *ev = event_pack(E2EE__RELAY_GROUP_EVENT_KIND__RELAY_GROUP_MEMBER_LEFT, g, epoch, uid,
                             removed, owner, NULL, 0, &len);
    if (!ev)
        return E2EE_ERR_NOMEM;
    memset(&row, 0, sizeof row);
    snprintf(row.gid, sizeof row.gid, "%s", g->gid);
    snprintf(row.owner, sizeof row.owner, "%s", owner);
    row.epoch = epoch;
    row.head = seq;
    row.created_ms = g->created_ms;
    int rc = e2ee__relay_req_begin(r);
    if (rc == E2EE_OK) {
        rc = r->store->ops->group_put(r->store, &row);
        if (rc == E2EE_OK)
            rc = r->store->ops->member_remove(r->store, g->gid, uid);
        if (rc == E2EE_OK)
            rc = log_event(r, g, seq, epoch, uid, ev, len, NULL, 0);
        if (rc == E2EE_OK)
            rc = inbox_event(r, uid, epoch, ev, len);
        int rc2 = e2ee__relay_req_end(r, rc == E2EE_OK);
        rc = rc != E2EE_OK ? rc : rc2;
    }
    free(ev);
    return rc;
}

/* uid leaves g (removed: by the owner). The last member leaving deletes the group. */
static int member_leave(struct e2ee__relay *r, struct e2ee__rgroup *g, struct e2ee__rmember *m,
                        int removed)
{
    char uid[E2EE_RELAY_ID_BUF], owner[E2EE_RELAY_ID_BUF];
    if (g->n == 1)
        return group_delete(r, g, m->uid);
    snprintf(uid, sizeof uid, "%s", m->uid);
    snprintf(owner, sizeof owner, "%s", g->owner);
    if (strcmp(owner, uid) == 0) {
        /* ownership passes to the longest-standing other member */
        for (size_t i = 0; i < g->n; i++) {
            if (g->members[i] != m) {
                snprintf(owner, sizeof owner, "%s", g->members[i]->uid);
                break;
            }
        }
    }
    uint64_t epoch = g->epoch + 1, seq = g->head + 1;
    int rc = leave_store(r, g, uid, removed, owner, epoch, seq);
    if (rc != E2EE_OK)
        return rc;
    member_drop(g, m);
    g->epoch = epoch;
    g->head = seq;
    snprintf(g->owner, sizeof g->owner, "%s", owner);
    e2ee__rlist_add(&r->gc_groups, &g->gc);
    RLOG_INFO("group leave group=%s user=%s removed=%d epoch=%llu owner=%s", g->gid, uid, removed,
              (unsigned long long)epoch, owner);
    e2ee__relay_group_touched(r, g);
    return E2EE_OK;
}

void e2ee__relay_leave_group(struct e2ee__rsession *s, uint64_t req,
                             const E2ee__RelayLeaveGroup *m)
{
    struct e2ee__rgroup *g = e2ee__relay_group(s->relay, m->group_id);
    struct e2ee__rmember *mem = g ? e2ee__rgroup_member(g, s->uid) : NULL;
    if (!g) {
        e2ee__relay_result(s, req, E2EE_ERR_NO_SUCH_GROUP, "no such group", NULL);
        return;
    }
    if (!mem) {
        e2ee__relay_result(s, req, E2EE_ERR_NOT_MEMBER, "you are not a member of this group",
                           NULL);
        return;
    }
    if (member_leave(s->relay, g, mem, 0) != E2EE_OK) {
        e2ee__relay_result(s, req, E2EE_ERR_STORE, "store failure; retry later", NULL);
        return;
    }
    e2ee__relay_result(s, req, E2EE_OK, "left", NULL);
}

void e2ee__relay_remove_member(struct e2ee__rsession *s, uint64_t req,
                               const E2ee__RelayRemoveMember *m)
{
    struct e2ee__rgroup *g = e2ee__relay_group(s->relay, m->group_id);
    if (!g) {
        e2ee__relay_result(s, req, E2EE_ERR_NO_SUCH_GROUP, "no such group", NULL);
        return;
    }
    if (strcmp(g->owner, s->uid) != 0) {
        e2ee__relay_resultf(s, req, E2EE_ERR_NOT_OWNER,
                            "only the owner (%s) may remove members", g->owner);
        return;
    }
    if (strcmp(m->user_id, s->uid) == 0) {
        e2ee__relay_result(s, req, E2EE_ERR_ARG,
                           "the owner cannot remove itself: leave or delete the group", NULL);
        return;
    }
    struct e2ee__rmember *mem = e2ee__rgroup_member(g, m->user_id);
    if (!mem) {
        e2ee__relay_resultf(s, req, E2EE_ERR_NOT_MEMBER, "'%s' is not a member of this group",
                            e2ee__relay_id_valid(m->user_id) ? m->user_id : "?");
        return;
    }
    if (member_leave(s->relay, g, mem, 1) != E2EE_OK) {
        e2ee__relay_result(s, req, E2EE_ERR_STORE, "store failure; retry later", NULL);
        return;
    }
    group_info(s, req, E2EE_OK, "removed", g, 1);
}

/* ---- lists ---- */

void e2ee__relay_list_members(struct e2ee__rsession *s, uint64_t req,
                              const E2ee__RelayListMembers *m)
{
    struct e2ee__rgroup *g = e2ee__relay_group(s->relay, m->group_id);
    if (!g) {
        e2ee__relay_result(s, req, E2EE_ERR_NO_SUCH_GROUP, "no such group", NULL);
        return;
    }
    if (!e2ee__rgroup_member(g, s->uid)) {
        e2ee__relay_result(s, req, E2EE_ERR_NOT_MEMBER,
                           "only members may list a group's members", NULL);
        return;
    }
    group_info(s, req, E2EE_OK, "members", g, 1);
}

void e2ee__relay_list_groups(struct e2ee__rsession *s, uint64_t req)
{
    E2ee__RelayResult res = E2EE__RELAY_RESULT__INIT;
    E2ee__RelayGroupList gl = E2EE__RELAY_GROUP_LIST__INIT;
    size_t n = s->subs.count, k = 0, pos = 0;
    E2ee__RelayGroupInfo *infos = calloc(n ? n : 1, sizeof *infos);
    E2ee__RelayGroupInfo **ptrs = calloc(n ? n : 1, sizeof *ptrs);
    struct e2ee__rsub *sub;
    if (!infos || !ptrs) {
        e2ee__relay_result(s, req, E2EE_ERR_NOMEM, "relay out of memory", NULL);
        goto done;
    }
    while ((sub = e2ee__rmap_next(&s->subs, &pos)) != NULL && k < n) {
        E2ee__RelayGroupInfo init = E2EE__RELAY_GROUP_INFO__INIT;
        infos[k] = init;
        infos[k].group_id = sub->g->gid;
        infos[k].owner = sub->g->owner;
        infos[k].epoch = sub->g->epoch;
        infos[k].member_count = (uint32_t)sub->g->n;
        ptrs[k] = &infos[k];
        k++;
    }
    gl.groups = ptrs;
    gl.n_groups = k;
    res.body_case = E2EE__RELAY_RESULT__BODY_GROUPS;
    res.groups = &gl;
    e2ee__relay_result(s, req, E2EE_OK, "groups", &res);
done:
    free(infos);
    free(ptrs);
}

/* ---- account deletion ---- */

struct gid_list {
    char (*ids)[E2EE_RELAY_ID_BUF];
    size_t n, cap;
    int failed;
};

static int collect_gid(void *arg, const char *gid)
{
    struct gid_list *l = arg;
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 16;
        char(*ni)[E2EE_RELAY_ID_BUF] = realloc(l->ids, ncap * sizeof *ni);
        if (!ni) {
            l->failed = 1;
            return 1;
        }
        l->ids = ni;
        l->cap = ncap;
    }
    snprintf(l->ids[l->n++], E2EE_RELAY_ID_BUF, "%s", gid);
    return 0;
}

int e2ee__relay_groups_drop_user(struct e2ee__relay *r, const char *uid)
{
    struct gid_list l = {NULL, 0, 0, 0};
    int rc = r->store->ops->groups_of(r->store, uid, collect_gid, &l);
    if (rc == E2EE_OK && l.failed)
        rc = E2EE_ERR_NOMEM;
    for (size_t i = 0; i < l.n && rc == E2EE_OK; i++) {
        struct e2ee__rgroup *g = e2ee__relay_group(r, l.ids[i]);
        struct e2ee__rmember *m = g ? e2ee__rgroup_member(g, uid) : NULL;
        if (!m)
            continue;
        rc = member_leave(r, g, m, 0); /* an owner's group passes to the next member */
    }
    free(l.ids);
    return rc;
}
