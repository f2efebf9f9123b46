/*
 * e2ee client: events. A pass collects them (deep copies, so nothing points into frames or
 * records that the pass frees); the loop delivers them after the lock is released.
 *
 * With a file store, the events about stored state (messages, acks, membership, identity,
 * e2ee errors: e2ee__event_durable) are also stored in the pass's transaction, next to the
 * ratchet, cursor or queue change that produced them, and each row is deleted as soon as the
 * event's callback returned. A process that dies after the commit therefore loses no event:
 * the next e2ee_client_new() on the store delivers the rows left, in order, before anything
 * new; the only event delivered twice is the one whose callback was running (or had just
 * returned, its row not yet deleted) when the process died (docs/API.md, "Delivery").
 */
#include <stdlib.h>
#include <string.h>

#include "client/client_internal.h"
#include "wire/wire.h"

static const char *const k_names[] = {
    [E2EE_EVENT_CONNECT] = "E2EE_EVENT_CONNECT",
    [E2EE_EVENT_DISCONNECT] = "E2EE_EVENT_DISCONNECT",
    [E2EE_EVENT_ERROR] = "E2EE_EVENT_ERROR",
    [E2EE_EVENT_E2EE_ERROR] = "E2EE_EVENT_E2EE_ERROR",
    [E2EE_EVENT_DIRECT_TEXT] = "E2EE_EVENT_DIRECT_TEXT",
    [E2EE_EVENT_DIRECT_BINARY] = "E2EE_EVENT_DIRECT_BINARY",
    [E2EE_EVENT_GROUP_TEXT] = "E2EE_EVENT_GROUP_TEXT",
    [E2EE_EVENT_GROUP_BINARY] = "E2EE_EVENT_GROUP_BINARY",
    [E2EE_EVENT_MESSAGE_ACK] = "E2EE_EVENT_MESSAGE_ACK",
    [E2EE_EVENT_GROUP_MESSAGE_ACK] = "E2EE_EVENT_GROUP_MESSAGE_ACK",
    [E2EE_EVENT_USER_CREATED] = "E2EE_EVENT_USER_CREATED",
    [E2EE_EVENT_USER_DELETED] = "E2EE_EVENT_USER_DELETED",
    [E2EE_EVENT_GROUP_CREATED] = "E2EE_EVENT_GROUP_CREATED",
    [E2EE_EVENT_GROUP_DELETED] = "E2EE_EVENT_GROUP_DELETED",
    [E2EE_EVENT_GROUP_JOIN] = "E2EE_EVENT_GROUP_JOIN",
    [E2EE_EVENT_GROUP_LEAVE] = "E2EE_EVENT_GROUP_LEAVE",
    [E2EE_EVENT_MEMBER_JOIN] = "E2EE_EVENT_MEMBER_JOIN",
    [E2EE_EVENT_MEMBER_LEAVE] = "E2EE_EVENT_MEMBER_LEAVE",
    [E2EE_EVENT_PEER_IDENTITY_CHANGED] = "E2EE_EVENT_PEER_IDENTITY_CHANGED",
};

const char *e2ee_event_name(enum e2ee_event_type type)
{
    size_t t = (size_t)type;
    const char *name = NULL;
    if (t < sizeof k_names / sizeof k_names[0])
        name = k_names[t];
    return name ? name : "E2EE_EVENT_UNKNOWN";
}

struct e2ee__event_item *e2ee__event_add(struct e2ee_client *c, enum e2ee_event_type type)
{
    struct e2ee__event_item *it = calloc(1, sizeof *it);
    if (it && e2ee__vec_push(&c->events, it) != E2EE_OK) {
        free(it);
        it = NULL;
    }
    if (it)
        it->ev.type = type;
    else
        e2ee__client_log(c, E2EE_LOG_ERROR, "out of memory: %s lost", e2ee_event_name(type));
    return it;
}

const char *e2ee__event_str(struct e2ee__event_item *it, const char *s)
{
    char *copy = s ? strdup(s) : NULL;
    if (copy && e2ee__vec_push(&it->owned, copy) != E2EE_OK) {
        free(copy);
        copy = NULL;
    }
    return !s ? NULL : copy ? copy : "";
}

int e2ee__event_data(struct e2ee__event_item *it, const uint8_t *data, size_t len)
{
    int rc = E2EE_OK;
    it->data = malloc(len + 1);
    if (!it->data) {
        rc = E2EE_ERR_NOMEM;
        goto done;
    }
    if (len)
        memcpy(it->data, data, len);
    it->data[len] = '\0';
    it->data_len = len + 1;
done:
    return rc;
}

void e2ee__event_item_free(void *p)
{
    struct e2ee__event_item *it = p;
    if (it) {
        e2ee__vec_clear(&it->owned, NULL);
        if (it->data) {
            e2ee__wipe(it->data, it->data_len);
            free(it->data);
        }
        free(it);
    }
}

void e2ee__events_truncate(struct e2ee_client *c, size_t keep)
{
    while (c->events.n > keep)
        e2ee__event_item_free(e2ee__vec_take(&c->events, c->events.n - 1));
}

void e2ee__event_error(struct e2ee_client *c, int code, const char *text, uint64_t req,
                       const char *group)
{
    struct e2ee__event_item *it = e2ee__event_add(c, E2EE_EVENT_ERROR);
    if (it) {
        it->ev.error.code = code;
        it->ev.error.text = e2ee__event_str(it, text ? text : e2ee_strerror(code));
        it->ev.error.request_id = req;
        it->ev.error.group = e2ee__event_str(it, group);
    }
}

void e2ee__event_e2ee_error(struct e2ee_client *c, int code, const char *text, uint64_t cmid,
                            const char *from, const char *group)
{
    char hex[E2EE_MSG_ID_SIZE];
    struct e2ee__event_item *it = e2ee__event_add(c, E2EE_EVENT_E2EE_ERROR);
    e2ee__client_msg_id_hex(cmid, hex);
    if (it) {
        it->ev.e2ee_error.code = code;
        it->ev.e2ee_error.text = e2ee__event_str(it, text ? text : e2ee_strerror(code));
        it->ev.e2ee_error.msg_id = cmid ? e2ee__event_str(it, hex) : NULL;
        it->ev.e2ee_error.from = e2ee__event_str(it, from);
        it->ev.e2ee_error.group = e2ee__event_str(it, group);
    }
    e2ee__client_log(c, E2EE_LOG_WARNING, "message %s from %s%s%s: %s",
                     cmid ? hex : "-", from ? from : "-", group ? " in " : "",
                     group ? group : "", e2ee_errname(code));
}

void e2ee__event_ack(struct e2ee_client *c, int group_kind, uint64_t msg_id, const char *to,
                     const char *group, enum e2ee_ack_state state, int code)
{
    char hex[E2EE_MSG_ID_SIZE];
    struct e2ee__event_item *it = NULL;

    /* the client's own control messages are not the application's */
    if (!(msg_id & E2EE__CLIENT_ID_CONTROL))
        it = e2ee__event_add(c, group_kind ? E2EE_EVENT_GROUP_MESSAGE_ACK
                                           : E2EE_EVENT_MESSAGE_ACK);
    if (!it)
        goto done;
    e2ee__client_msg_id_hex(msg_id, hex);
    it->ev.ack.msg_id = e2ee__event_str(it, hex);
    it->ev.ack.from = e2ee__event_str(it, c->user_id);
    it->ev.ack.to = e2ee__event_str(it, to);
    it->ev.ack.group = e2ee__event_str(it, group);
    it->ev.ack.state = state;
    it->ev.ack.code = code;
done:
    return;
}

/* ---- kept until delivered ---- */

/* Remembers a row whose deletion failed, for the next pass. mu held. */
static void undone_add(struct e2ee_client *c, int64_t row)
{
    int64_t *p = malloc(sizeof *p);
    if (p)
        *p = row;
    if (!p || e2ee__vec_push(&c->undone, p) != E2EE_OK) {
        free(p);
        e2ee__client_log(c, E2EE_LOG_ERROR, "a delivered event stays stored: it may be "
                                            "delivered again after a restart");
    }
}

/* The application has the event: its row goes at once (the next one is not delivered
 * before), so a restart repeats at most the event whose callback was running. */
static void delivered(struct e2ee_client *c, int64_t row)
{
    int rc;
    pthread_mutex_lock(&c->mu);
    rc = e2ee__store_event_delete(c->st, row);
    if (rc != E2EE_OK && rc != E2EE_ERR_NOT_FOUND) {
        e2ee__client_log(c, E2EE_LOG_WARNING, "a delivered event could not be deleted (%s)",
                         e2ee_errname(rc));
        undone_add(c, row);
    }
    pthread_mutex_unlock(&c->mu);
}

void e2ee__events_dispatch(struct e2ee_client *c, struct e2ee__vec *list)
{
    for (size_t i = 0; i < list->n; i++) {
        struct e2ee__event_item *it = list->v[i];
        c->event_cb(&it->ev, c->user_data);
        if (it->stored)
            delivered(c, it->stored);
        e2ee__event_item_free(it);
        list->v[i] = NULL;
    }
    e2ee__vec_clear(list, NULL);
}

static int persist_one(struct e2ee_client *c, struct e2ee__event_item *it)
{
    uint8_t *rec = NULL;
    size_t len = 0;
    int rc = e2ee__client_txn(c);
    if (rc == E2EE_OK)
        rc = e2ee__event_record_pack(&it->ev, &rec, &len);
    if (rc == E2EE_OK)
        rc = e2ee__store_event_add(c->st, rec, len, &it->stored);
    if (rc == E2EE_ERR_TOO_LARGE) {
        /* a member list past the record limit: delivered from memory only */
        e2ee__client_log(c, E2EE_LOG_WARNING, "%s too large to keep until delivered",
                         e2ee_event_name(it->ev.type));
        rc = E2EE_OK;
    }
    e2ee__wire_buf_free(rec, len);
    return rc;
}

int e2ee__events_persist(struct e2ee_client *c)
{
    int rc = E2EE_OK;
    for (size_t i = 0; c->keep_events && rc == E2EE_OK && i < c->events.n; i++) {
        struct e2ee__event_item *it = c->events.v[i];
        if (!it->stored && e2ee__event_durable(it->ev.type))
            rc = persist_one(c, it);
    }
    return rc;
}

/* One stored row back as an event at the end of c->events; a damaged one becomes an ERROR
 * event that takes its row (deleted once delivered). */
static int replay_row(struct e2ee_client *c, const struct e2ee__store_event *row)
{
    struct e2ee__event_item *it = NULL;
    size_t before = c->events.n;
    int rc = e2ee__event_record_unpack(row->record, row->len, &it);
    if (rc == E2EE_OK) {
        rc = e2ee__vec_push(&c->events, it);
        if (rc != E2EE_OK)
            e2ee__event_item_free(it);
    } else if (rc == E2EE_ERR_CORRUPT) {
        e2ee__event_error(c, E2EE_ERR_CORRUPT, "an event kept in the store could not be read",
                          0, NULL);
        rc = c->events.n > before ? E2EE_OK : E2EE_ERR_NOMEM;
    }
    if (rc == E2EE_OK)
        ((struct e2ee__event_item *)c->events.v[c->events.n - 1])->stored = row->seq;
    return rc;
}

int e2ee__events_replay(struct e2ee_client *c)
{
    struct e2ee__store_event *rows = NULL;
    size_t n = 0;
    int rc = e2ee__store_event_list(c->st, c->replay_after, E2EE__CLIENT_REPLAY_BATCH, &rows,
                                    &n);
    for (size_t i = 0; rc == E2EE_OK && i < n; i++) {
        rc = replay_row(c, &rows[i]);
        if (rc == E2EE_OK)
            c->replay_after = rows[i].seq;
    }
    if (rc != E2EE_OK || n < E2EE__CLIENT_REPLAY_BATCH)
        c->replay = 0;
    if (rc != E2EE_OK)
        e2ee__client_log(c, E2EE_LOG_ERROR, "stored events not delivered (%s); they come at "
                                            "the next start", e2ee_errname(rc));
    e2ee__store_event_free(rows, n);
    return rc;
}

int e2ee__events_undone_flush(struct e2ee_client *c)
{
    int rc = c->undone.n ? e2ee__client_txn(c) : E2EE_OK;
    for (size_t i = 0; rc == E2EE_OK && i < c->undone.n; i++) {
        rc = e2ee__store_event_delete(c->st, *(int64_t *)c->undone.v[i]);
        if (rc == E2EE_ERR_NOT_FOUND)
            rc = E2EE_OK;
    }
    if (rc == E2EE_OK)
        e2ee__vec_clear(&c->undone, NULL);
    return rc;
}
