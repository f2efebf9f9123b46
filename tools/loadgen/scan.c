/*
 * e2ee-loadgen: a bounded reader of the protobuf wire format. Receivers walk the deliveries
 * frames with it instead of decoding them into objects: every length is checked against the
 * bytes left before it is used, so a malformed frame is reported, never over-read.
 */
#include "loadgen.h"

#define VARINT_MAX 10

void lg_pb_init(struct lg_pb *b, const uint8_t *data, size_t len)
{
    b->p = data;
    b->end = data + len;
}

static int get_varint(struct lg_pb *b, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned i = 0; i < VARINT_MAX; i++) {
        if (b->p >= b->end)
            return -1;
        uint8_t c = *b->p++;
        x |= (uint64_t)(c & 0x7f) << (7 * i);
        if (!(c & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

static int get_fixed(struct lg_pb *b, unsigned n, uint64_t *v)
{
    uint64_t x = 0;
    if ((size_t)(b->end - b->p) < n)
        return -1;
    for (unsigned i = 0; i < n; i++)
        x |= (uint64_t)b->p[i] << (8 * i);
    b->p += n;
    *v = x;
    return 0;
}

int lg_pb_next(struct lg_pb *b, struct lg_pbf *f)
{
    uint64_t key = 0;
    if (b->p >= b->end)
        return 0;
    if (get_varint(b, &key) != 0 || (key >> 3) == 0 || (key >> 3) > UINT32_MAX)
        return -1;
    f->num = (uint32_t)(key >> 3);
    f->wt = (uint32_t)(key & 7);
    f->v = 0;
    f->data = NULL;
    f->len = 0;
    switch (f->wt) {
    case 0:
        return get_varint(b, &f->v) == 0 ? 1 : -1;
    case 1:
        return get_fixed(b, 8, &f->v) == 0 ? 1 : -1;
    case 5:
        return get_fixed(b, 4, &f->v) == 0 ? 1 : -1;
    case 2:
        if (get_varint(b, &f->v) != 0 || f->v > (uint64_t)(b->end - b->p))
            return -1;
        f->data = b->p;
        f->len = (size_t)f->v;
        b->p += f->len;
        return 1;
    default:
        return -1; /* groups (3, 4) are not used by proto3 */
    }
}

size_t lg_pb_put_varint(uint8_t *out, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}
