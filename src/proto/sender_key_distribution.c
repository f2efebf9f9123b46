/* e2ee proto: sender key distribution messages: create, decode, process. */
#include "proto/sender_key_distribution.h"

#include <stdlib.h>
#include <string.h>

#include "group.pb-c.h"
#include "proto/sender_key_record.h"
#include "wire/wire.h"

int e2ee__sender_key_distribution_create(const e2ee__sender_key *sk, uint8_t **out,
                                         size_t *out_len)
{
    if (!out || !out_len)
        return E2EE_ERR_ARG;
    *out = NULL;
    *out_len = 0;
    if (!sk)
        return E2EE_ERR_ARG;
    if (sk->iteration == E2EE_SENDER_KEY_ITERATION_END)
        return E2EE_ERR_LIMIT;
    E2ee__SenderKeyDistribution m = E2EE__SENDER_KEY_DISTRIBUTION__INIT;
    m.group_id = (ProtobufCBinaryData){sk->who.group_id_len, (uint8_t *)sk->who.group_id};
    m.sender_user_id = (ProtobufCBinaryData){sk->who.user_id_len, (uint8_t *)sk->who.user_id};
    m.sender_device_id = sk->who.device_id;
    m.epoch = sk->epoch;
    m.key_id = sk->key_id;
    m.iteration = sk->iteration;
    m.chain_key = (ProtobufCBinaryData){sizeof sk->chain_key, (uint8_t *)sk->chain_key};
    m.signing_public = (ProtobufCBinaryData){sizeof sk->signing_pk, (uint8_t *)sk->signing_pk};
    size_t body = e2ee__sender_key_distribution__get_packed_size(&m);
    size_t len = 1 + body;
    uint8_t *buf = NULL;
    int rc = E2EE_ERR_TOO_LARGE; /* unreachable with valid ids; keeps the bound honest */
    if (len > E2EE_SENDER_KEY_DISTRIBUTION_MAX)
        goto done;
    rc = E2EE_ERR_NOMEM;
    buf = malloc(len);
    if (!buf)
        goto done;
    buf[0] = E2EE_SENDER_KEY_VERSION;
    rc = e2ee__sender_key_distribution__pack(&m, buf + 1) == body ? E2EE_OK : E2EE_ERR_PROTOCOL;
done:
    if (rc == E2EE_OK) {
        *out = buf;
        *out_len = len;
    } else {
        e2ee__sender_key_buf_free(buf, len);
    }
    return rc;
}

void e2ee__sender_key_distribution_wipe(e2ee__sender_key_distribution *d)
{
    if (d)
        e2ee__wipe(d, sizeof *d);
}

static int from_msg(e2ee__sender_key_distribution *d, const E2ee__SenderKeyDistribution *m)
{
    if (m->base.n_unknown_fields || m->key_id == 0 ||
        m->iteration == E2EE_SENDER_KEY_ITERATION_END || m->chain_key.len != sizeof d->chain_key ||
        m->signing_public.len != sizeof d->signing_pk)
        return E2EE_ERR_DECODE;
    int rc = e2ee__group_sender_set_bytes(&d->sender, m->group_id.data, m->group_id.len,
                                          m->sender_user_id.data, m->sender_user_id.len,
                                          m->sender_device_id);
    if (rc != E2EE_OK)
        return E2EE_ERR_DECODE;
    d->epoch = m->epoch;
    d->key_id = m->key_id;
    d->iteration = m->iteration;
    memcpy(d->chain_key, m->chain_key.data, sizeof d->chain_key);
    memcpy(d->signing_pk, m->signing_public.data, sizeof d->signing_pk);
    return E2EE_OK;
}

int e2ee__sender_key_distribution_decode(e2ee__sender_key_distribution *d, const uint8_t *buf,
                                         size_t len)
{
    if (!d)
        return E2EE_ERR_ARG;
    memset(d, 0, sizeof *d);
    if (!buf)
        return E2EE_ERR_ARG;
    if (len > E2EE_SENDER_KEY_DISTRIBUTION_MAX)
        return E2EE_ERR_TOO_LARGE;
    if (len < 1)
        return E2EE_ERR_DECODE;
    if (buf[0] != E2EE_SENDER_KEY_VERSION)
        return E2EE_ERR_VERSION;
    ProtobufCMessage *pm = NULL;
    int rc = e2ee__wire_unpack(&e2ee__sender_key_distribution__descriptor, buf + 1, len - 1,
                               E2EE_SENDER_KEY_DISTRIBUTION_MAX, &pm);
    if (rc == E2EE_OK)
        rc = from_msg(d, (const E2ee__SenderKeyDistribution *)pm);
    e2ee__wire_free(pm);
    if (rc != E2EE_OK)
        e2ee__sender_key_distribution_wipe(d);
    return rc;
}

int e2ee__sender_key_distribution_process(struct e2ee__sender_key_record *r, const uint8_t *buf,
                                          size_t len, uint64_t now_ms)
{
    if (!r || !buf)
        return E2EE_ERR_ARG;
    e2ee__sender_key_distribution d;
    int rc = e2ee__sender_key_distribution_decode(&d, buf, len);
    if (rc == E2EE_OK)
        rc = e2ee__sender_key_record_install(r, &d, now_ms);
    e2ee__sender_key_distribution_wipe(&d);
    return rc;
}
