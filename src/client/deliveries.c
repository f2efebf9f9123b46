/*
 * e2ee client: what the relay delivers (docs/PROTOCOL.md 3.6): direct messages, receipts,
 * membership events and group messages, each stream in seq order.
 *
 * Per stream the store keeps the highest seq processed (cursor); an item at or below it is
 * a redelivery and is only acknowledged again, except a group message still waiting for its
 * sender's key (group_recv.c), which is tried again. Everything a frame's items change is in
 * the pass's transaction, and the acks go out after its commit: an item acked is an item
 * whose effects are stored.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_internal.h"
#include "wire/wire.h"

static void message_event(struct e2ee_client *c, const char *from, uint64_t msg_id,
                          const E2ee__ClientEnvelope *env, int64_t time_ms)
{
    char hex[E2EE_MSG_ID_SIZE];
    int text = env->kind == E2EE__CLIENT_ENVELOPE_KIND__ENVELOPE_DIRECT_TEXT;
    struct e2ee__event_item *it =
        e2ee__event_add(c, text ? E2EE_EVENT_DIRECT_TEXT : E2EE_EVENT_DIRECT_BINARY);
    e2ee__client_msg_id_hex(msg_id, hex);
    if (it && e2ee__event_data(it, env->body.data, env->body.len) != E2EE_OK) {
        e2ee__events_truncate(c, c->events.n - 1);
        e2ee__client_log(c, E2EE_LOG_ERROR, "out of memory: message %s lost", hex);
        it = NULL;
    }
    if (!it)
        goto done;
    it->ev.direct.msg_id = e2ee__event_str(it, hex);
    it->ev.direct.from = e2ee__event_str(it, from);
    it->ev.direct.data = it->data;
    it->ev.direct.len = env->body.len;
    it->ev.direct.sent_at_ms = time_ms;
done:
    return;
}

/* Drops a message already processed under the same id (seen ids survive restarts). */
int e2ee__deliveries_first_sight(struct e2ee_client *c, const char *from, uint64_t msg_id,
                                 int *first)
{
    char hex[E2EE_MSG_ID_SIZE];
    int rc;
    e2ee__client_msg_id_hex(msg_id, hex);
    rc = e2ee__store_seen_add(c->st, from, E2EE__CLIENT_DEVICE, hex,
                              e2ee__client_wall_ms() / 1000);
    *first = rc == E2EE_OK;
    if (rc == E2EE_ERR_EXISTS) {
        e2ee__client_log(c, E2EE_LOG_DEBUG, "duplicate message %s from %s dropped", hex, from);
        rc = E2EE_OK;
    }
    return rc;
}

/* What a decrypted pairwise envelope asks for. */
static int direct_envelope(struct e2ee_client *c, const char *from, const E2ee__RelayDelivery *d,
                           const E2ee__ClientEnvelope *env)
{
    int rc = E2EE_OK;
    switch (env->kind) {
    case E2EE__CLIENT_ENVELOPE_KIND__ENVELOPE_DIRECT_TEXT:
    case E2EE__CLIENT_ENVELOPE_KIND__ENVELOPE_DIRECT_BINARY:
        message_event(c, from, env->msg_id, env, (int64_t)d->time_ms);
        break;
    case E2EE__CLIENT_ENVELOPE_KIND__ENVELOPE_SENDER_KEY_DISTRIBUTION:
        rc = e2ee__group_recv_distribution(c, from, env->body.data, env->body.len);
        break;
    case E2EE__CLIENT_ENVELOPE_KIND__ENVELOPE_DISTRIBUTION_REQUEST:
        rc = e2ee__group_recv_request(c, from, env);
        break;
    default:
        e2ee__event_e2ee_error(c, E2EE_ERR_PROTOCOL, "a group message kind in a direct message",
                               env->msg_id, from, NULL);
        break;
    }
    return rc;
}

/* Errors that are the message's (reported, then the message is dropped) rather than the
 * client's (which abort the pass: the item comes again after a reconnect). */
static int local_failure(int rc)
{
    return rc == E2EE_ERR_STORE || rc == E2EE_ERR_NOMEM;
}

static int direct_message(struct e2ee_client *c, const E2ee__RelayDelivery *d)
{
    const E2ee__RelayDirectMessage *m = d->direct;
    e2ee__session_decrypt_result res;
    E2ee__ClientEnvelope *env = NULL;
    int first = 0;
    int rc = e2ee__client_id_valid(m->from) ? E2EE_OK : E2EE_ERR_DECODE;

    memset(&res, 0, sizeof res);
    if (rc == E2EE_OK)
        rc = e2ee__pairwise_decrypt(c, m->from, m->ciphertext.data, m->ciphertext.len, &res);
    if (rc == E2EE_OK)
        rc = e2ee__envelope_unpack(res.plaintext, res.plaintext_len, &env);
    if (rc == E2EE_OK && env->msg_id != m->client_msg_id)
        rc = E2EE_ERR_PROTOCOL; /* the relay's id must be the one the sender encrypted */
    if (rc != E2EE_OK) {
        if (!local_failure(rc))
            e2ee__event_e2ee_error(c, rc, NULL, m->client_msg_id,
                                   e2ee__client_id_valid(m->from) ? m->from : NULL, NULL);
        rc = local_failure(rc) ? rc : E2EE_OK;
        goto done;
    }
    rc = e2ee__deliveries_first_sight(c, m->from, env->msg_id, &first);
    if (rc == E2EE_OK && first)
        rc = direct_envelope(c, m->from, d, env);
done:
    if (env)
        e2ee__wire_free(&env->base);
    e2ee__session_decrypt_result_cleanup(&res);
    return rc;
}

static void receipt(struct e2ee_client *c, const E2ee__RelayReceipt *r)
{
    int group = r->group_id && r->group_id[0];
    int valid = r->state == E2EE__RELAY_RECEIPT_STATE__RELAY_RECEIPT_DELIVERED &&
                e2ee__client_id_valid(r->recipient) &&
                (!group || e2ee__client_id_valid(r->group_id));
    for (size_t i = 0; valid && i < r->n_client_msg_ids; i++)
        e2ee__event_ack(c, group, r->client_msg_ids[i], r->recipient, group ? r->group_id : NULL,
                        E2EE_ACK_DELIVERED, E2EE_OK);
}

static int handle_item(struct e2ee_client *c, const E2ee__RelayDelivery *d, int retry)
{
    int rc = E2EE_OK;
    switch (d->item_case) {
    case E2EE__RELAY_DELIVERY__ITEM_DIRECT:
        rc = d->direct ? direct_message(c, d) : E2EE_OK;
        break;
    case E2EE__RELAY_DELIVERY__ITEM_RECEIPT:
        if (d->receipt)
            receipt(c, d->receipt);
        break;
    case E2EE__RELAY_DELIVERY__ITEM_GROUP_EVENT:
        rc = d->group_event ? e2ee__membership_event(c, d->group_event, d->group_id[0] == '\0')
                            : E2EE_OK;
        break;
    case E2EE__RELAY_DELIVERY__ITEM_GROUP_MESSAGE:
        rc = d->group_message && d->group_id[0] ? e2ee__group_recv_message(c, d, retry)
                                                : E2EE_OK;
        break;
    default:
        break;
    }
    return rc;
}

/* A stream's cursor is named for the relay (sequence numbers are a relay's: a client moved to
 * another relay, or to one that lost its store, starts over) and for the stream: the group
 * id, or a name no id can take for the inbox (the relay names it ""). */
#define INBOX_CURSOR "#inbox"

void e2ee__deliveries_cursor_name(struct e2ee_client *c, const char *stream, char *buf)
{
    snprintf(buf, E2EE__STORE_ID_MAX + 1, "%s%s", c->cursor_prefix,
             stream[0] ? stream : INBOX_CURSOR);
}

static int delivery(struct e2ee_client *c, const E2ee__RelayDelivery *d)
{
    const char *stream = d->group_id ? d->group_id : "";
    char name[E2EE__STORE_ID_MAX + 1];
    uint64_t cursor = 0;
    int held = 0;
    int rc = stream[0] == '\0' || e2ee__client_id_valid(stream) ? E2EE_OK : E2EE_ERR_DECODE;

    if (rc != E2EE_OK || d->seq == 0) {
        e2ee__client_log(c, E2EE_LOG_WARNING, "delivery with a bad stream or seq ignored");
        rc = E2EE_OK;
        goto done;
    }
    e2ee__deliveries_cursor_name(c, stream, name);
    rc = e2ee__store_cursor_get(c->st, name, &cursor);
    if (rc == E2EE_OK && d->seq <= cursor && stream[0])
        rc = e2ee__pending_seq_held(c, stream, d->seq, &held);
    if (rc == E2EE_OK && (d->seq > cursor || held))
        rc = handle_item(c, d, held);
    if (rc == E2EE_OK && d->seq > cursor)
        rc = e2ee__store_cursor_advance(c->st, name, d->seq);
    if (rc == E2EE_OK)
        rc = e2ee__client_ack_later(c, stream, d->seq);
done:
    return rc;
}

int e2ee__deliveries_handle(struct e2ee_client *c, const E2ee__RelayDeliveries *d)
{
    int rc = E2EE_OK;
    for (size_t i = 0; rc == E2EE_OK && i < d->n_items; i++) {
        if (d->items[i])
            rc = delivery(c, d->items[i]);
    }
    return rc;
}
