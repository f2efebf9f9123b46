/* e2ee fuzzing: checks, deterministic randomness, input reader, protobuf walker, reseal. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "fuzz.h"
#include "wire/wire.h"

#define FZ_PW_CHECKSUM_FIELD 0x7A /* field 15, wire type 2 (pwcodec.h) */

void fz_fail(const char *what, const char *file, int line)
{
    fprintf(stderr, "fuzz: invariant broken at %s:%d: %s\n", file, line, what);
    fflush(stderr);
    abort();
}

void fz_init(void)
{
    static int done;
    if (done)
        return;
    FZ_CHECK(e2ee__crypto_init() == E2EE_OK);
    done = 1;
}

/* ---- deterministic randomness: HMAC-SHA-256(key, counter) blocks ---- */

void fz_drbg_init(struct fz_drbg *d, uint64_t seed)
{
    uint8_t s[8];
    for (int i = 0; i < 8; i++)
        s[i] = (uint8_t)(seed >> (8 * i));
    FZ_CHECK(e2ee__sha256(d->key, s, sizeof s) == E2EE_OK);
    d->counter = 0;
}

void fz_drbg_bytes(struct fz_drbg *d, uint8_t *out, size_t len)
{
    while (len) {
        uint8_t ctr[8], block[E2EE_SHA256_LEN];
        for (int i = 0; i < 8; i++)
            ctr[i] = (uint8_t)(d->counter >> (8 * i));
        d->counter++;
        FZ_CHECK(e2ee__hmac_sha256(block, d->key, sizeof d->key, ctr, sizeof ctr) == E2EE_OK);
        size_t n = len < sizeof block ? len : sizeof block;
        memcpy(out, block, n);
        out += n;
        len -= n;
    }
}

static int drbg_fill(void *ctx, uint8_t *buf, size_t len)
{
    fz_drbg_bytes(ctx, buf, len);
    return E2EE_OK;
}

e2ee__rng fz_rng(struct fz_drbg *d)
{
    e2ee__rng r = {drbg_fill, d};
    return r;
}

/* ---- input reader ---- */

uint8_t fz_u8(struct fz_in *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

uint16_t fz_u16(struct fz_in *in)
{
    uint16_t v = fz_u8(in);
    return (uint16_t)(v | (uint16_t)fz_u8(in) << 8);
}

uint32_t fz_u32(struct fz_in *in)
{
    uint32_t v = fz_u16(in);
    return v | (uint32_t)fz_u16(in) << 16;
}

size_t fz_bytes(struct fz_in *in, size_t max, const uint8_t **out)
{
    size_t n = max < in->n ? max : in->n;
    *out = in->p;
    in->p += n;
    in->n -= n;
    return n;
}

/* ---- protobuf walker ---- */

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static size_t scalar_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    default:
        return 4;
    }
}

static uint64_t walk_value(uint64_t h, const ProtobufCFieldDescriptor *f, const void *p)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        return s ? mix(h, s, strlen(s)) : h;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = p;
        FZ_CHECK(b->len == 0 || b->data != NULL);
        return b->len ? mix(h, b->data, b->len) : h;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *m = *(ProtobufCMessage *const *)p;
        return m ? h ^ fz_walk(m) : h;
    }
    default:
        return mix(h, p, scalar_size(f->type));
    }
}

uint64_t fz_walk(const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const char *base = (const char *)m;
    uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const void *p = base + f->offset;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            const char *arr = *(char *const *)p;
            FZ_CHECK(n == 0 || arr != NULL);
            for (size_t k = 0; k < n; k++)
                h = walk_value(h, f, arr + k * scalar_size(f->type));
            continue;
        }
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            if (*(const uint32_t *)(base + f->quantifier_offset) != f->id)
                continue;
        } else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset &&
                   f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE &&
                   !*(const protobuf_c_boolean *)(base + f->quantifier_offset)) {
            continue;
        }
        h = walk_value(h, f, p);
    }
    return h;
}

/* 1 when m or a message inside it kept an unknown field numbered 0. protobuf-c 1.4 accepts
 * field number 0 when its tag takes two bytes or more (0x82 0x00) and keeps it as an
 * unknown field, but re-encodes it as the one-byte tag 0x02 that it refuses: such a message
 * cannot round-trip, through no fault of ours. */
static int has_field_zero(const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const char *base = (const char *)m;
    for (unsigned i = 0; i < m->n_unknown_fields; i++) {
        if (m->unknown_fields[i].tag == 0)
            return 1;
    }
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            ProtobufCMessage *const *arr = *(ProtobufCMessage *const *const *)(base + f->offset);
            for (size_t k = 0; k < n; k++) {
                if (has_field_zero(arr[k]))
                    return 1;
            }
            continue;
        }
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)(base + f->quantifier_offset) != f->id)
            continue;
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)(base + f->offset);
        if (sub && has_field_zero(sub))
            return 1;
    }
    return 0;
}

void fz_roundtrip(const ProtobufCMessage *m)
{
    if (has_field_zero(m))
        return;
    uint8_t *a = NULL, *b = NULL;
    size_t alen = 0, blen = 0;
    FZ_CHECK(e2ee__wire_pack(m, (size_t)-1, &a, &alen) == E2EE_OK);
    /* the encoder's output decodes, with no allocation cap, to the same encoding */
    ProtobufCMessage *again = protobuf_c_message_unpack(m->descriptor, NULL, alen, a);
    FZ_CHECK(again != NULL);
    FZ_CHECK(e2ee__wire_pack(again, (size_t)-1, &b, &blen) == E2EE_OK);
    FZ_CHECK(alen == blen && memcmp(a, b, alen) == 0);
    protobuf_c_message_free_unpacked(again, NULL);
    free(a);
    free(b);
}

/* ---- reseal ---- */

uint8_t *fz_reseal_pairwise(const uint8_t *in, size_t len, const char *label, size_t *out_len)
{
    const size_t field = 2 + E2EE_SHA256_LEN;
    size_t body = len;
    if (len >= field && in[len - field] == FZ_PW_CHECKSUM_FIELD &&
        in[len - field + 1] == E2EE_SHA256_LEN)
        body = len - field;
    uint8_t *out = malloc(body + field);
    FZ_CHECK(out != NULL);
    if (body)
        memcpy(out, in, body);
    out[body] = FZ_PW_CHECKSUM_FIELD;
    out[body + 1] = E2EE_SHA256_LEN;
    const uint8_t *parts[2] = {(const uint8_t *)label, in};
    const size_t lens[2] = {strlen(label), body};
    FZ_CHECK(e2ee__sha256_parts(out + body + 2, parts, lens, 2) == E2EE_OK);
    *out_len = body + field;
    return out;
}

uint8_t *fz_reseal_group(const uint8_t *in, size_t len, const char *label, size_t *out_len)
{
    size_t body = len > E2EE_SENDER_KEY_CHECK_LEN ? len - E2EE_SENDER_KEY_CHECK_LEN : len;
    uint8_t *out = malloc(body + E2EE_SENDER_KEY_CHECK_LEN + 1);
    FZ_CHECK(out != NULL);
    if (body)
        memcpy(out, in, body);
    else
        out[body++] = E2EE_SENDER_KEY_VERSION;
    FZ_CHECK(e2ee__sender_key_check_seal(out, body, label) == E2EE_OK);
    *out_len = body + E2EE_SENDER_KEY_CHECK_LEN;
    return out;
}
