/*
 * e2ee client: the envelope inside every pairwise and group plaintext (docs/PROTOCOL.md,
 * part 4): kind, the sender's message id, the body.
 */
#include <string.h>

#include "client/client_internal.h"
#include "wire/wire.h"

#define ENVELOPE_VERSION 1

int e2ee__envelope_pack(const struct e2ee__envelope *e, uint8_t **out, size_t *len)
{
    E2ee__ClientEnvelope m = E2EE__CLIENT_ENVELOPE__INIT;
    m.version = ENVELOPE_VERSION;
    m.kind = e->kind;
    m.msg_id = e->msg_id;
    m.body = (ProtobufCBinaryData){e->body_len, (uint8_t *)e->body};
    m.group_id = (char *)(e->group ? e->group : "");
    m.key_id = e->key_id;
    return e2ee__wire_pack(&m.base, E2EE__CLIENT_ENVELOPE_MAX, out, len);
}

/* The body limit of each kind; 0 for an unknown kind. */
static size_t body_max(E2ee__ClientEnvelopeKind kind)
{
    size_t max = 0;
    switch (kind) {
    case E2EE__CLIENT_ENVELOPE_KIND__ENVELOPE_DIRECT_TEXT:
    case E2EE__CLIENT_ENVELOPE_KIND__ENVELOPE_GROUP_TEXT:
        max = E2EE_TEXT_MAX;
        break;
    case E2EE__CLIENT_ENVELOPE_KIND__ENVELOPE_DIRECT_BINARY:
    case E2EE__CLIENT_ENVELOPE_KIND__ENVELOPE_GROUP_BINARY:
        max = E2EE_BINARY_MAX;
        break;
    case E2EE__CLIENT_ENVELOPE_KIND__ENVELOPE_SENDER_KEY_DISTRIBUTION:
        max = E2EE_SENDER_KEY_DISTRIBUTION_MAX;
        break;
    case E2EE__CLIENT_ENVELOPE_KIND__ENVELOPE_DISTRIBUTION_REQUEST:
        max = 1; /* no body: the checks below require it empty */
        break;
    default:
        break;
    }
    return max;
}

static int check(const E2ee__ClientEnvelope *m)
{
    int rc = E2EE_OK;
    int text = m->kind == E2EE__CLIENT_ENVELOPE_KIND__ENVELOPE_DIRECT_TEXT ||
               m->kind == E2EE__CLIENT_ENVELOPE_KIND__ENVELOPE_GROUP_TEXT;
    int request = m->kind == E2EE__CLIENT_ENVELOPE_KIND__ENVELOPE_DISTRIBUTION_REQUEST;
    size_t max = body_max(m->kind);

    if (m->version != ENVELOPE_VERSION)
        rc = E2EE_ERR_VERSION;
    else if (max == 0 || m->msg_id == 0)
        rc = E2EE_ERR_DECODE;
    else if (m->body.len > max || (m->body.len && !m->body.data))
        rc = E2EE_ERR_TOO_LARGE;
    else if (text && (m->body.len == 0 || !e2ee__client_utf8_valid(m->body.data, m->body.len)))
        rc = E2EE_ERR_DECODE;
    else if (request && (m->body.len != 0 || m->key_id == 0 ||
                         !e2ee__client_id_valid(m->group_id)))
        rc = E2EE_ERR_DECODE;
    else if (!request && m->group_id && m->group_id[0])
        rc = E2EE_ERR_DECODE;
    return rc;
}

int e2ee__envelope_unpack(const uint8_t *buf, size_t len, E2ee__ClientEnvelope **out)
{
    E2ee__ClientEnvelope *m = NULL;
    int rc = e2ee__wire_unpack(&e2ee__client_envelope__descriptor, buf, len,
                               E2EE__CLIENT_ENVELOPE_MAX, (ProtobufCMessage **)&m);
    *out = NULL;
    if (rc == E2EE_OK)
        rc = check(m);
    if (rc == E2EE_OK) {
        *out = m;
        m = NULL;
    }
    if (m)
        e2ee__wire_free(&m->base);
    return rc;
}
