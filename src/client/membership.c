/*
 * e2ee client: group membership as the relay's events tell it (docs/PROTOCOL.md 3.9).
 *
 * The group log carries CREATED, MEMBER_JOINED and MEMBER_LEFT of other members in order with
 * the messages; the inbox carries what concerns this client alone (its own MEMBER_LEFT, and
 * DELETED). Each event carries the epoch after the change; an event whose epoch the client
 * already has is not applied again (a stale-epoch sync may have applied it first), so every
 * change gives exactly one event to the application.
 *
 * On every epoch change the own sender key becomes stale: the next message rotates it
 * (group_send.c). A member who left loses its record here at once; this client forgets a
 * group it left, was removed from, or that was deleted (keys wiped).
 */
#include <stdlib.h>
#include <string.h>

#include "client/client_internal.h"

static int forget_key(struct e2ee_client *c, const char *group)
{
    char key[E2EE__STORE_ID_MAX + 1];
    int rc = E2EE_OK;
    size_t p = strlen(E2EE__CLIENT_META_DIST_PREFIX);
    memcpy(key, E2EE__CLIENT_META_DIST_PREFIX, p);
    memcpy(key + p, group, strlen(group) + 1);
    rc = e2ee__store_meta_delete(c->st, key);
    return rc == E2EE_ERR_NOT_FOUND ? E2EE_OK : rc;
}

int e2ee__membership_forget(struct e2ee_client *c, const char *group)
{
    int rc = e2ee__store_group_delete(c->st, group);
    if (rc == E2EE_ERR_NOT_FOUND)
        rc = E2EE_OK;
    if (rc == E2EE_OK)
        rc = forget_key(c, group);
    if (rc == E2EE_OK)
        rc = e2ee__pending_drop_group(c, group);
    return rc;
}

/* The group as stored; *known = 0 when absent. */
static int group_state(struct e2ee_client *c, const char *group, struct e2ee__store_group *g,
                       int *known)
{
    int rc = e2ee__store_group_get(c->st, group, g);
    *known = rc == E2EE_OK;
    if (rc == E2EE_ERR_NOT_FOUND) {
        memset(g, 0, sizeof *g);
        rc = E2EE_OK;
    }
    return rc;
}

static int put_group(struct e2ee_client *c, const char *group, const char *owner,
                     uint64_t epoch, int joined)
{
    struct e2ee__store_group g;
    memset(&g, 0, sizeof g);
    e2ee__client_copy_id(g.id, group);
    e2ee__client_copy_id(g.owner, owner);
    g.epoch = epoch;
    g.joined = joined;
    c->pump_dirty = 1; /* a new epoch: queued messages rotate the key */
    return e2ee__store_group_put(c->st, &g);
}

/* ---- events ---- */

static void group_event(struct e2ee_client *c, enum e2ee_event_type type, const char *group,
                        const char *owner, const char *by, uint64_t epoch, uint64_t req)
{
    struct e2ee__event_item *it = e2ee__event_add(c, type);
    if (it) {
        it->ev.group.group = e2ee__event_str(it, group);
        it->ev.group.owner = e2ee__event_str(it, owner);
        it->ev.group.by = e2ee__event_str(it, by);
        it->ev.group.epoch = epoch;
        it->ev.group.request_id = req;
    }
}

static void member_event(struct e2ee_client *c, enum e2ee_event_type type, const char *group,
                         const char *user, const char *by, uint64_t epoch)
{
    struct e2ee__event_item *it = e2ee__event_add(c, type);
    if (it) {
        it->ev.member.group = e2ee__event_str(it, group);
        it->ev.member.user = e2ee__event_str(it, user);
        it->ev.member.by = e2ee__event_str(it, by);
        it->ev.member.epoch = epoch;
    }
}

/* GROUP_JOIN with the stored member list (sorted byte-wise by the store). */
static int join_event(struct e2ee_client *c, const char *group, const char *owner,
                      uint64_t epoch, uint64_t req)
{
    struct e2ee__event_item *it = NULL;
    char **users = NULL;
    const char **list = NULL;
    size_t n = 0;
    int rc = e2ee__store_member_list(c->st, group, &users, &n);

    if (rc == E2EE_OK)
        it = e2ee__event_add(c, E2EE_EVENT_GROUP_JOIN);
    if (!it)
        goto done;
    list = calloc(n ? n : 1, sizeof *list);
    if (!list || e2ee__vec_push(&it->owned, list) != E2EE_OK) {
        free(list);
        e2ee__events_truncate(c, c->events.n - 1);
        rc = E2EE_ERR_NOMEM;
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        list[i] = e2ee__event_str(it, users[i]);
    it->ev.group_join.group = e2ee__event_str(it, group);
    it->ev.group_join.owner = e2ee__event_str(it, owner);
    it->ev.group_join.members = list;
    it->ev.group_join.n_members = n;
    it->ev.group_join.epoch = epoch;
    it->ev.group_join.request_id = req;
done:
    e2ee__store_strv_free(users, n);
    return rc;
}

/* ---- applying the relay's events ---- */

/* This client is (again) a member: fresh state with the members given. */
static int self_joined(struct e2ee_client *c, const E2ee__RelayGroupEvent *ev, int created)
{
    const char *self[1] = {c->user_id};
    uint64_t req;
    int rc = e2ee__membership_forget(c, ev->group_id); /* any state of an older life */

    if (rc == E2EE_OK)
        rc = put_group(c, ev->group_id, ev->owner, ev->epoch, 1);
    if (rc == E2EE_OK && ev->n_members > 0)
        rc = e2ee__store_member_set(c->st, ev->group_id, (const char *const *)ev->members,
                                    ev->n_members);
    else if (rc == E2EE_OK)
        rc = e2ee__store_member_set(c->st, ev->group_id, self, 1);
    if (rc == E2EE_OK)
        rc = e2ee__store_member_add(c->st, ev->group_id, c->user_id);
    if (rc == E2EE_ERR_EXISTS)
        rc = E2EE_OK;
    if (rc != E2EE_OK)
        goto done;
    req = e2ee__calls_match(c, created ? E2EE__CALL_CREATE : E2EE__CALL_JOIN, ev->group_id,
                            NULL);
    if (created)
        group_event(c, E2EE_EVENT_GROUP_CREATED, ev->group_id, ev->owner, c->user_id, ev->epoch,
                    req);
    rc = join_event(c, ev->group_id, ev->owner, ev->epoch, req);
done:
    return rc;
}

static int other_joined(struct e2ee_client *c, const E2ee__RelayGroupEvent *ev)
{
    int rc = put_group(c, ev->group_id, ev->owner, ev->epoch, 1);
    if (rc == E2EE_OK)
        rc = e2ee__store_member_add(c->st, ev->group_id, ev->user_id);
    if (rc == E2EE_ERR_EXISTS)
        rc = E2EE_OK;
    if (rc == E2EE_OK)
        member_event(c, E2EE_EVENT_MEMBER_JOIN, ev->group_id, ev->user_id, NULL, ev->epoch);
    return rc;
}

/* Another member left: its record goes at once (it cannot read what follows anyway: the
 * next message of every member rotates). */
static int other_left(struct e2ee_client *c, const char *group, const char *user,
                      const char *owner, uint64_t epoch)
{
    int rc = put_group(c, group, owner, epoch, 1);
    if (rc == E2EE_OK)
        rc = e2ee__store_member_remove(c->st, group, user);
    if (rc == E2EE_ERR_NOT_FOUND)
        rc = E2EE_OK;
    if (rc == E2EE_OK)
        rc = e2ee__store_sender_key_delete_user(c->st, group, user, NULL);
    return rc;
}

static int self_gone(struct e2ee_client *c, const E2ee__RelayGroupEvent *ev, int deleted)
{
    int rc = e2ee__membership_forget(c, ev->group_id);
    uint64_t req = 0;
    if (rc != E2EE_OK)
        goto done;
    if (deleted) {
        req = e2ee__calls_match(c, E2EE__CALL_DELETE, ev->group_id, NULL);
        group_event(c, E2EE_EVENT_GROUP_DELETED, ev->group_id, ev->owner, ev->user_id,
                    ev->epoch, req);
    } else {
        req = ev->removed ? 0 : e2ee__calls_match(c, E2EE__CALL_LEAVE, ev->group_id, NULL);
        group_event(c, E2EE_EVENT_GROUP_LEAVE, ev->group_id, ev->owner,
                    ev->removed ? ev->owner : NULL, ev->epoch, req);
    }
    e2ee__client_log(c, E2EE_LOG_INFO, "group %s: %s", ev->group_id,
                     deleted ? "deleted" : ev->removed ? "removed from it" : "left");
done:
    return rc;
}

int e2ee__membership_event(struct e2ee_client *c, const E2ee__RelayGroupEvent *ev,
                           int in_inbox)
{
    struct e2ee__store_group g;
    int known = 0, self, fresh;
    int rc = E2EE_OK;

    if (!e2ee__client_id_valid(ev->group_id) || !e2ee__client_id_valid(ev->user_id) ||
        !e2ee__client_id_valid(ev->owner)) {
        e2ee__client_log(c, E2EE_LOG_WARNING, "malformed group event ignored");
        goto done;
    }
    rc = group_state(c, ev->group_id, &g, &known);
    self = strcmp(ev->user_id, c->user_id) == 0;
    /* applied already (by a sync, or before a reconnect) when the epoch is not newer */
    fresh = !known || !g.joined || ev->epoch > g.epoch;
    if (rc != E2EE_OK || !fresh)
        goto done;
    switch (ev->kind) {
    case E2EE__RELAY_GROUP_EVENT_KIND__RELAY_GROUP_CREATED:
        rc = self_joined(c, ev, 1);
        break;
    case E2EE__RELAY_GROUP_EVENT_KIND__RELAY_GROUP_MEMBER_JOINED:
        if (self)
            rc = self_joined(c, ev, 0);
        else if (known && g.joined)
            rc = other_joined(c, ev);
        break;
    case E2EE__RELAY_GROUP_EVENT_KIND__RELAY_GROUP_MEMBER_LEFT:
        if (self && in_inbox && known && g.joined) {
            rc = self_gone(c, ev, 0);
        } else if (!self && known && g.joined) {
            /* a removal completes this client's remove_member call (if it made one) */
            if (ev->removed)
                (void)e2ee__calls_match(c, E2EE__CALL_REMOVE, ev->group_id, ev->user_id);
            rc = other_left(c, ev->group_id, ev->user_id, ev->owner, ev->epoch);
            if (rc == E2EE_OK)
                member_event(c, E2EE_EVENT_MEMBER_LEAVE, ev->group_id, ev->user_id,
                             ev->removed ? ev->owner : NULL, ev->epoch);
        }
        break;
    case E2EE__RELAY_GROUP_EVENT_KIND__RELAY_GROUP_DELETED:
        if (known && g.joined)
            rc = self_gone(c, ev, 1);
        break;
    default:
        break;
    }
done:
    return rc;
}

/* ---- stale epoch: take the relay's view ---- */

static int listed(const E2ee__RelayGroupInfo *info, const char *user)
{
    int found = 0;
    for (size_t i = 0; i < info->n_members && !found; i++)
        found = info->members[i] && strcmp(info->members[i], user) == 0;
    return found;
}

int e2ee__membership_sync(struct e2ee_client *c, const E2ee__RelayGroupInfo *info)
{
    struct e2ee__store_group g;
    char **old = NULL;
    size_t n_old = 0;
    int known = 0;
    int rc = e2ee__client_id_valid(info->group_id) && e2ee__client_id_valid(info->owner)
                 ? group_state(c, info->group_id, &g, &known)
                 : E2EE_OK;

    c->pump_dirty = 1;
    if (rc != E2EE_OK || !known || !g.joined || info->epoch <= g.epoch)
        goto done;
    for (size_t i = 0; i < info->n_members; i++) {
        if (!e2ee__client_id_valid(info->members[i]))
            goto done; /* malformed: wait for the group log instead */
    }
    rc = e2ee__store_member_list(c->st, info->group_id, &old, &n_old);
    for (size_t i = 0; rc == E2EE_OK && i < n_old; i++) {
        if (!listed(info, old[i])) {
            rc = other_left(c, info->group_id, old[i], info->owner, info->epoch);
            member_event(c, E2EE_EVENT_MEMBER_LEAVE, info->group_id, old[i], NULL, info->epoch);
        }
    }
    if (rc == E2EE_OK)
        rc = put_group(c, info->group_id, info->owner, info->epoch, 1);
    for (size_t i = 0; rc == E2EE_OK && i < info->n_members; i++) {
        if (strcmp(info->members[i], c->user_id) == 0)
            continue;
        rc = e2ee__store_member_add(c->st, info->group_id, info->members[i]);
        if (rc == E2EE_OK)
            member_event(c, E2EE_EVENT_MEMBER_JOIN, info->group_id, info->members[i], NULL,
                         info->epoch);
        else if (rc == E2EE_ERR_EXISTS)
            rc = E2EE_OK;
    }
done:
    e2ee__store_strv_free(old, n_old);
    return rc;
}
