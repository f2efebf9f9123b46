/*
 * e2ee relay: encoding of server frames and deliveries.
 *
 * Deliveries are encoded once per item (a group message once for all its recipients) and
 * kept as blobs of an encoded RelayDelivery. Two protobuf facts let us extend an encoded
 * message without decoding it: fields may appear in any order, and appending a field to an
 * encoded message adds that field. So a member's delivery is the shared encoding plus its
 * `pairwise` field, and a stored receipt or group event (kept encoded) becomes a delivery by
 * appending it as field `receipt` / `group_event` to the encoded delivery header. A joined
 * event for the joiner appends its encoded member list inside the same field (repeated
 * fields of concatenated messages merge).
 */
#include <stdlib.h>
#include <string.h>

#include "relay/relay.h"

#define WT_LEN 2 /* protobuf wire type: length-delimited */

static size_t put_varint(uint8_t *out, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

size_t e2ee__renc_ld_header(uint8_t *out, unsigned field, size_t len)
{
    size_t n = put_varint(out, ((uint64_t)field << 3) | WT_LEN);
    return n + put_varint(out + n, len);
}

uint8_t *e2ee__renc_pack(const ProtobufCMessage *m, size_t *len)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(n ? n : 1);
    *len = 0;
    if (!buf)
        return NULL;
    if (protobuf_c_message_pack(m, buf) != n) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

static struct e2ee__rblob *pack_blob(const ProtobufCMessage *m, enum e2ee__rblob_kind kind,
                                     size_t extra)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    struct e2ee__rblob *b = e2ee__rblob_new(kind, n + extra);
    if (!b)
        return NULL;
    if (protobuf_c_message_pack(m, b->data) != n) {
        e2ee__rblob_unref(b);
        return NULL;
    }
    b->len = n; /* the caller appends `extra` bytes and sets the final length */
    return b;
}

struct e2ee__rblob *e2ee__renc_frame(const E2ee__ServerFrame *f)
{
    return pack_blob(&f->base, E2EE_RBLOB_FRAME, 0);
}

/* Delivery header (stream, seq, time) plus an already encoded sub-message as field `field`,
 * made of parts a || b. */
static struct e2ee__rblob *delivery_raw(E2ee__RelayDelivery *d, unsigned field, const uint8_t *a,
                                        size_t alen, const uint8_t *b, size_t blen)
{
    uint8_t hdr[24];
    size_t h = e2ee__renc_ld_header(hdr, field, alen + blen);
    struct e2ee__rblob *out = pack_blob(&d->base, E2EE_RBLOB_DELIVERY, h + alen + blen);
    if (!out)
        return NULL;
    memcpy(out->data + out->len, hdr, h);
    if (alen)
        memcpy(out->data + out->len + h, a, alen);
    if (blen)
        memcpy(out->data + out->len + h + alen, b, blen);
    out->len += h + alen + blen;
    return out;
}

struct e2ee__rblob *e2ee__renc_item(const char *gid, const struct e2ee__rs_item *it,
                                    const char *reader)
{
    E2ee__RelayDelivery d = E2EE__RELAY_DELIVERY__INIT;
    E2ee__RelayDirectMessage dm = E2EE__RELAY_DIRECT_MESSAGE__INIT;
    E2ee__RelayGroupMessage gm = E2EE__RELAY_GROUP_MESSAGE__INIT;
    d.group_id = (char *)(gid ? gid : "");
    d.seq = it->seq;
    d.time_ms = (uint64_t)it->at_ms;
    switch (it->kind) {
    case E2EE_RS_DIRECT:
        dm.from = (char *)it->peer;
        dm.from_device = it->peer_device;
        dm.client_msg_id = it->cmid;
        dm.ciphertext.data = (uint8_t *)it->data;
        dm.ciphertext.len = it->len;
        d.item_case = E2EE__RELAY_DELIVERY__ITEM_DIRECT;
        d.direct = &dm;
        return pack_blob(&d.base, E2EE_RBLOB_DELIVERY, 0);
    case E2EE_RS_GROUP_MESSAGE:
        gm.from = (char *)it->peer;
        gm.from_device = it->peer_device;
        gm.client_msg_id = it->cmid;
        gm.epoch = it->epoch;
        gm.ciphertext.data = (uint8_t *)it->data;
        gm.ciphertext.len = it->len;
        d.item_case = E2EE__RELAY_DELIVERY__ITEM_GROUP_MESSAGE;
        d.group_message = &gm;
        if (it->pairwise && it->pairwise_len) {
            d.pairwise.data = (uint8_t *)it->pairwise;
            d.pairwise.len = it->pairwise_len;
        }
        return pack_blob(&d.base, E2EE_RBLOB_DELIVERY, 0);
    case E2EE_RS_RECEIPT:
        return delivery_raw(&d, E2EE__RELAY_DELIVERY__ITEM_RECEIPT, it->data, it->len, NULL, 0);
    case E2EE_RS_EVENT: {
        /* the member list goes to the member the event is about (the joiner) only */
        int with_list = it->extra && reader && strcmp(reader, it->peer) == 0;
        return delivery_raw(&d, E2EE__RELAY_DELIVERY__ITEM_GROUP_EVENT, it->data, it->len,
                            with_list ? it->extra : NULL, with_list ? it->extra_len : 0);
    }
    default:
        return NULL;
    }
}

struct e2ee__rblob *e2ee__renc_with_pairwise(const struct e2ee__rblob *base, const uint8_t *p,
                                             size_t plen)
{
    uint8_t hdr[24];
    size_t h = e2ee__renc_ld_header(hdr, 4 /* RelayDelivery.pairwise */, plen);
    struct e2ee__rblob *b = e2ee__rblob_new(E2EE_RBLOB_DELIVERY, base->len + h + plen);
    if (!b)
        return NULL;
    memcpy(b->data, base->data, base->len);
    memcpy(b->data + base->len, hdr, h);
    memcpy(b->data + base->len + h, p, plen);
    return b;
}
