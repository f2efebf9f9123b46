/* e2ee proto: encoding helpers shared by the pairwise files. */
#include "proto/pwcodec.h"

#include <stdlib.h>
#include <string.h>

#include "wire/wire.h"

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

int e2ee__pwcodec_x25519_canonical(const uint8_t pk[32])
{
    /* p = 2^255 - 19, little-endian: ed ff .. ff 7f */
    if (pk[31] & 0x80)
        return 0;
    if (pk[31] != 0x7f)
        return 1;
    for (int i = 30; i > 0; i--) {
        if (pk[i] != 0xff)
            return 1;
    }
    return pk[0] < 0xed;
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
    if (!has || !b || b->len == 0 || b->len > E2EE_ADDRESS_USER_ID_MAX || !b->data)
        return 0;
    if (memchr(b->data, 0, b->len))
        return 0;
    memcpy(out->user_id, b->data, b->len);
    return 1;
}

size_t e2ee__pwcodec_binding(uint8_t *out, const e2ee__address *addr,
                             const e2ee__identity_pub *pub)
{
    size_t ulen = strnlen(addr->user_id, E2EE_ADDRESS_USER_ID_MAX);
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

static int record_sum(uint8_t out[E2EE_SHA256_LEN], const char *label, const uint8_t *b,
                      size_t n)
{
    const uint8_t *parts[2] = {(const uint8_t *)label, b};
    const size_t lens[2] = {strlen(label), n};
    return e2ee__sha256_parts(out, parts, lens, 2);
}

int e2ee__pwcodec_pack_record(const ProtobufCMessage *msg, const char *label, size_t max_len,
                              uint8_t **out, size_t *out_len)
{
    uint8_t *body = NULL, *all = NULL;
    size_t n = 0;
    if (!out || !out_len)
        return E2EE_ERR_ARG;
    *out = NULL;
    *out_len = 0;
    if (!msg || !label || max_len < E2EE_PWCODEC_CHECKSUM_FIELD_LEN)
        return E2EE_ERR_ARG;
    int rc = e2ee__wire_pack(msg, max_len - E2EE_PWCODEC_CHECKSUM_FIELD_LEN, &body, &n);
    if (rc == E2EE_OK) {
        all = malloc(n + E2EE_PWCODEC_CHECKSUM_FIELD_LEN);
        rc = all ? E2EE_OK : E2EE_ERR_NOMEM;
    }
    if (rc == E2EE_OK) {
        memcpy(all, body, n);
        all[n] = 0x7A; /* field 15, wire type 2 */
        all[n + 1] = E2EE_SHA256_LEN;
        rc = record_sum(all + n + 2, label, body, n);
    }
    if (rc == E2EE_OK) {
        *out = all;
        *out_len = n + E2EE_PWCODEC_CHECKSUM_FIELD_LEN;
    } else {
        e2ee__wire_buf_free(all, n + E2EE_PWCODEC_CHECKSUM_FIELD_LEN);
    }
    e2ee__wire_buf_free(body, n);
    return rc;
}

int e2ee__pwcodec_unpack_record(const ProtobufCMessageDescriptor *desc, const char *label,
                                const uint8_t *buf, size_t len, size_t max_len,
                                ProtobufCMessage **out)
{
    uint8_t sum[E2EE_SHA256_LEN];
    if (!out)
        return E2EE_ERR_ARG;
    *out = NULL;
    if (!desc || !label || (!buf && len))
        return E2EE_ERR_ARG;
    if (len < E2EE_PWCODEC_CHECKSUM_FIELD_LEN || len > max_len)
        return E2EE_ERR_CORRUPT;
    size_t n = len - E2EE_PWCODEC_CHECKSUM_FIELD_LEN;
    if (buf[n] != 0x7A || buf[n + 1] != E2EE_SHA256_LEN)
        return E2EE_ERR_CORRUPT;
    int rc = record_sum(sum, label, buf, n);
    if (rc == E2EE_OK && !e2ee__ct_equal(sum, buf + n + 2, sizeof sum))
        rc = E2EE_ERR_CORRUPT;
    if (rc == E2EE_OK) {
        rc = e2ee__wire_unpack(desc, buf, n, max_len, out);
        if (rc != E2EE_OK && rc != E2EE_ERR_NOMEM)
            rc = E2EE_ERR_CORRUPT;
    }
    return rc;
}
