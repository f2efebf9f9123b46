/* e2ee proto: encoding helpers shared by the pairwise files. */
#include "proto/pwcodec.h"

#include <string.h>

void e2ee__pwcodec_be32(uint8_t out[4], uint32_t v)
{
    out[0] = (uint8_t)(v >> 24);
    out[1] = (uint8_t)(v >> 16);
    out[2] = (uint8_t)(v >> 8);
    out[3] = (uint8_t)v;
}

int e2ee__pwcodec_take(uint8_t *out, size_t len, protobuf_c_boolean has,
                       const ProtobufCBinaryData *b)
{
    if (!has || !b || b->len != len || (len && !b->data))
        return 0;
    memcpy(out, b->data, len);
    return 1;
}

void e2ee__pwcodec_identity_to_msg(E2ee__IdentityKey *m, const e2ee__identity_pub *pub)
{
    m->has_sign_key = 1;
    m->sign_key.data = (uint8_t *)pub->sign_pk;
    m->sign_key.len = sizeof pub->sign_pk;
    m->has_dh_key = 1;
    m->dh_key.data = (uint8_t *)pub->dh_pk;
    m->dh_key.len = sizeof pub->dh_pk;
    m->has_dh_signature = 1;
    m->dh_signature.data = (uint8_t *)pub->dh_sig;
    m->dh_signature.len = sizeof pub->dh_sig;
}

int e2ee__pwcodec_identity_from_msg(e2ee__identity_pub *out, const E2ee__IdentityKey *m)
{
    memset(out, 0, sizeof *out);
    if (!m)
        return 0;
    if (!e2ee__pwcodec_take(out->sign_pk, sizeof out->sign_pk, m->has_sign_key, &m->sign_key) ||
        !e2ee__pwcodec_take(out->dh_pk, sizeof out->dh_pk, m->has_dh_key, &m->dh_key) ||
        !e2ee__pwcodec_take(out->dh_sig, sizeof out->dh_sig, m->has_dh_signature,
                            &m->dh_signature)) {
        memset(out, 0, sizeof *out);
        return 0;
    }
    return 1;
}

int e2ee__pwcodec_user_id_from(e2ee__address *out, protobuf_c_boolean has,
                               const ProtobufCBinaryData *b)
{
    memset(out->user_id, 0, sizeof out->user_id);
    if (!has || !b || b->len == 0 || b->len > E2EE_USER_ID_MAX || !b->data)
        return 0;
    if (memchr(b->data, 0, b->len))
        return 0;
    memcpy(out->user_id, b->data, b->len);
    return 1;
}

size_t e2ee__pwcodec_binding(uint8_t *out, const e2ee__address *addr,
                             const e2ee__identity_pub *pub)
{
    size_t ulen = strnlen(addr->user_id, E2EE_USER_ID_MAX);
    size_t off = 0;
    out[off++] = (uint8_t)ulen;
    memcpy(out + off, addr->user_id, ulen);
    off += ulen;
    e2ee__pwcodec_be32(out + off, addr->device_id);
    off += 4;
    memcpy(out + off, pub->sign_pk, sizeof pub->sign_pk);
    off += sizeof pub->sign_pk;
    memcpy(out + off, pub->dh_pk, sizeof pub->dh_pk);
    off += sizeof pub->dh_pk;
    return off;
}
