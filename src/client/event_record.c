/*
 * e2ee client: the stored form of an event (proto/client_event.proto), for the events kept
 * in the store until the application has received them (events.c).
 */
#include <stdlib.h>
#include <string.h>

#include "client/client_internal.h"
#include "client_event.pb-c.h"
#include "wire/wire.h"

#define RECORD_VERSION 1

int e2ee__event_durable(enum e2ee_event_type type)
{
    /* about the connection or a request of this run, not about stored state */
    return type != E2EE_EVENT_CONNECT && type != E2EE_EVENT_DISCONNECT &&
           type != E2EE_EVENT_ERROR;
}

/* ---- event -> record ---- */

static char *s_in(const char *s)
{
    return (char *)(s ? s : "");
}

static void pack_fields(const struct e2ee_event *ev, E2ee__ClientStoredEvent *m)
{
    switch (ev->type) {
    case E2EE_EVENT_E2EE_ERROR:
        m->code = ev->e2ee_error.code;
        m->text = s_in(ev->e2ee_error.text);
        m->msg_id = s_in(ev->e2ee_error.msg_id);
        m->from = s_in(ev->e2ee_error.from);
        m->group_id = s_in(ev->e2ee_error.group);
        break;
    case E2EE_EVENT_DIRECT_TEXT:
    case E2EE_EVENT_DIRECT_BINARY:
        m->msg_id = s_in(ev->direct.msg_id);
        m->from = s_in(ev->direct.from);
        m->data = (ProtobufCBinaryData){ev->direct.len, (uint8_t *)ev->direct.data};
        m->sent_at_ms = ev->direct.sent_at_ms;
        break;
    case E2EE_EVENT_GROUP_TEXT:
    case E2EE_EVENT_GROUP_BINARY:
        m->msg_id = s_in(ev->group_msg.msg_id);
        m->group_id = s_in(ev->group_msg.group);
        m->from = s_in(ev->group_msg.from);
        m->data = (ProtobufCBinaryData){ev->group_msg.len, (uint8_t *)ev->group_msg.data};
        m->sent_at_ms = ev->group_msg.sent_at_ms;
        break;
    case E2EE_EVENT_MESSAGE_ACK:
    case E2EE_EVENT_GROUP_MESSAGE_ACK:
        m->msg_id = s_in(ev->ack.msg_id);
        m->from = s_in(ev->ack.from);
        m->to = s_in(ev->ack.to);
        m->group_id = s_in(ev->ack.group);
        m->state = (uint32_t)ev->ack.state;
        m->code = ev->ack.code;
        break;
    case E2EE_EVENT_USER_CREATED:
    case E2EE_EVENT_USER_DELETED:
        m->user = s_in(ev->user.user);
        break;
    case E2EE_EVENT_GROUP_CREATED:
    case E2EE_EVENT_GROUP_DELETED:
    case E2EE_EVENT_GROUP_LEAVE:
        m->group_id = s_in(ev->group.group);
        m->owner = s_in(ev->group.owner);
        m->by = s_in(ev->group.by);
        m->epoch = ev->group.epoch;
        m->request_id = ev->group.request_id;
        break;
    case E2EE_EVENT_GROUP_JOIN:
        m->group_id = s_in(ev->group_join.group);
        m->owner = s_in(ev->group_join.owner);
        m->members = (char **)ev->group_join.members;
        m->n_members = ev->group_join.n_members;
        m->epoch = ev->group_join.epoch;
        m->request_id = ev->group_join.request_id;
        break;
    case E2EE_EVENT_MEMBER_JOIN:
    case E2EE_EVENT_MEMBER_LEAVE:
        m->group_id = s_in(ev->member.group);
        m->user = s_in(ev->member.user);
        m->by = s_in(ev->member.by);
        m->epoch = ev->member.epoch;
        break;
    case E2EE_EVENT_PEER_IDENTITY_CHANGED:
        m->user = s_in(ev->identity.user);
        m->old_fingerprint = s_in(ev->identity.old_fingerprint);
        m->new_fingerprint = s_in(ev->identity.new_fingerprint);
        m->accepted = ev->identity.accepted != 0;
        break;
    default:
        break;
    }
}

int e2ee__event_record_pack(const struct e2ee_event *ev, uint8_t **out, size_t *len)
{
    E2ee__ClientStoredEvent m = E2EE__CLIENT_STORED_EVENT__INIT;
    *out = NULL;
    *len = 0;
    m.version = RECORD_VERSION;
    m.type = (uint32_t)ev->type;
    pack_fields(ev, &m);
    return e2ee__wire_pack(&m.base, E2EE__STORE_EVENT_MAX, out, len);
}

/* ---- record -> event ---- */

/* An id field: "" stands for NULL. */
static const char *s_id(struct e2ee__event_item *it, const char *s)
{
    return s && s[0] ? e2ee__event_str(it, s) : NULL;
}

/* A text field: never NULL. */
static const char *s_text(struct e2ee__event_item *it, const char *s)
{
    return e2ee__event_str(it, s ? s : "");
}

static int unpack_members(struct e2ee__event_item *it, const E2ee__ClientStoredEvent *m)
{
    const char **list = calloc(m->n_members ? m->n_members : 1, sizeof *list);
    int rc = list && e2ee__vec_push(&it->owned, (void *)list) == E2EE_OK ? E2EE_OK
                                                                         : E2EE_ERR_NOMEM;
    if (rc != E2EE_OK) {
        free(list);
        goto done;
    }
    for (size_t i = 0; i < m->n_members; i++)
        list[i] = s_text(it, m->members[i]);
    it->ev.group_join.members = list;
    it->ev.group_join.n_members = m->n_members;
done:
    return rc;
}

static int unpack_data(struct e2ee__event_item *it, const E2ee__ClientStoredEvent *m,
                       const uint8_t **data, size_t *len)
{
    int rc = e2ee__event_data(it, m->data.data, m->data.len);
    *data = it->data;
    *len = m->data.len;
    return rc;
}

/* Fills it->ev from m; request ids belong to the run that made them: 0 here. */
static int unpack_fields(struct e2ee__event_item *it, const E2ee__ClientStoredEvent *m)
{
    struct e2ee_event *ev = &it->ev;
    int rc = E2EE_OK;
    switch (ev->type) {
    case E2EE_EVENT_E2EE_ERROR:
        ev->e2ee_error.code = m->code;
        ev->e2ee_error.text = s_text(it, m->text);
        ev->e2ee_error.msg_id = s_id(it, m->msg_id);
        ev->e2ee_error.from = s_id(it, m->from);
        ev->e2ee_error.group = s_id(it, m->group_id);
        break;
    case E2EE_EVENT_DIRECT_TEXT:
    case E2EE_EVENT_DIRECT_BINARY:
        ev->direct.msg_id = s_id(it, m->msg_id);
        ev->direct.from = s_id(it, m->from);
        ev->direct.sent_at_ms = m->sent_at_ms;
        rc = unpack_data(it, m, &ev->direct.data, &ev->direct.len);
        break;
    case E2EE_EVENT_GROUP_TEXT:
    case E2EE_EVENT_GROUP_BINARY:
        ev->group_msg.msg_id = s_id(it, m->msg_id);
        ev->group_msg.group = s_id(it, m->group_id);
        ev->group_msg.from = s_id(it, m->from);
        ev->group_msg.sent_at_ms = m->sent_at_ms;
        rc = unpack_data(it, m, &ev->group_msg.data, &ev->group_msg.len);
        break;
    case E2EE_EVENT_MESSAGE_ACK:
    case E2EE_EVENT_GROUP_MESSAGE_ACK:
        ev->ack.msg_id = s_id(it, m->msg_id);
        ev->ack.from = s_id(it, m->from);
        ev->ack.to = s_id(it, m->to);
        ev->ack.group = s_id(it, m->group_id);
        ev->ack.state = (enum e2ee_ack_state)m->state;
        ev->ack.code = m->code;
        break;
    case E2EE_EVENT_USER_CREATED:
    case E2EE_EVENT_USER_DELETED:
        ev->user.user = s_id(it, m->user);
        break;
    case E2EE_EVENT_GROUP_CREATED:
    case E2EE_EVENT_GROUP_DELETED:
    case E2EE_EVENT_GROUP_LEAVE:
        ev->group.group = s_id(it, m->group_id);
        ev->group.owner = s_id(it, m->owner);
        ev->group.by = s_id(it, m->by);
        ev->group.epoch = m->epoch;
        break;
    case E2EE_EVENT_GROUP_JOIN:
        ev->group_join.group = s_id(it, m->group_id);
        ev->group_join.owner = s_id(it, m->owner);
        ev->group_join.epoch = m->epoch;
        rc = unpack_members(it, m);
        break;
    case E2EE_EVENT_MEMBER_JOIN:
    case E2EE_EVENT_MEMBER_LEAVE:
        ev->member.group = s_id(it, m->group_id);
        ev->member.user = s_id(it, m->user);
        ev->member.by = s_id(it, m->by);
        ev->member.epoch = m->epoch;
        break;
    case E2EE_EVENT_PEER_IDENTITY_CHANGED:
        ev->identity.user = s_id(it, m->user);
        ev->identity.old_fingerprint = s_text(it, m->old_fingerprint);
        ev->identity.new_fingerprint = s_text(it, m->new_fingerprint);
        ev->identity.accepted = m->accepted;
        break;
    default:
        rc = E2EE_ERR_CORRUPT;
        break;
    }
    return rc;
}

int e2ee__event_record_unpack(const uint8_t *buf, size_t len, struct e2ee__event_item **out)
{
    E2ee__ClientStoredEvent *m = NULL;
    struct e2ee__event_item *it = NULL;
    int rc = e2ee__wire_unpack(&e2ee__client_stored_event__descriptor, buf, len,
                               E2EE__STORE_EVENT_MAX, (ProtobufCMessage **)&m);
    *out = NULL;
    if (rc == E2EE_OK && (m->version != RECORD_VERSION ||
                          !e2ee__event_durable((enum e2ee_event_type)m->type)))
        rc = E2EE_ERR_CORRUPT;
    if (rc == E2EE_OK) {
        it = calloc(1, sizeof *it);
        rc = it ? E2EE_OK : E2EE_ERR_NOMEM;
    }
    if (rc == E2EE_OK) {
        it->ev.type = (enum e2ee_event_type)m->type;
        rc = unpack_fields(it, m);
    }
    if (rc == E2EE_OK) {
        *out = it;
        it = NULL;
    }
    e2ee__event_item_free(it);
    if (m)
        e2ee__wire_free(&m->base);
    return rc == E2EE_ERR_DECODE ? E2EE_ERR_CORRUPT : rc;
}
