/* e2ee wire: bounded, wiping protobuf-c unpacking and packing helpers. */
#include "wire/wire.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"

/* Every block carries its size in front so that free can wipe it. */
struct block_hdr {
    size_t size;
    size_t pad; /* keeps the payload 16-byte aligned */
};

struct budget {
    size_t used;
    size_t cap;
    int exceeded;
};

static void *bounded_alloc(void *data, size_t size)
{
    struct budget *b = data;
    if (size > b->cap - b->used || size > SIZE_MAX - sizeof(struct block_hdr)) {
        b->exceeded = 1;
        return NULL;
    }
    struct block_hdr *h = malloc(sizeof *h + size);
    if (!h)
        return NULL;
    b->used += size;
    h->size = size;
    return h + 1;
}

static void wiping_free(void *data, void *ptr)
{
    (void)data;
    if (!ptr)
        return;
    struct block_hdr *h = (struct block_hdr *)ptr - 1;
    e2ee__wipe(ptr, h->size);
    free(h);
}

static ProtobufCAllocator g_free_allocator = {
    .alloc = bounded_alloc, /* never used for allocation */
    .free = wiping_free,
    .allocator_data = NULL,
};

int e2ee__wire_unpack(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len,
                      size_t max_len, ProtobufCMessage **out)
{
    if (!out)
        return E2EE_ERR_ARG;
    *out = NULL;
    if (!desc || (!buf && len))
        return E2EE_ERR_ARG;
    if (len > max_len)
        return E2EE_ERR_TOO_LARGE;
    static const uint8_t empty[1];
    struct budget b = {0, len * E2EE_WIRE_ALLOC_FACTOR + E2EE_WIRE_ALLOC_SLACK, 0};
    ProtobufCAllocator a = {bounded_alloc, wiping_free, &b};
    ProtobufCMessage *m = protobuf_c_message_unpack(desc, &a, len, buf ? buf : empty);
    if (!m)
        return b.exceeded ? E2EE_ERR_TOO_LARGE : E2EE_ERR_DECODE;
    *out = m;
    return E2EE_OK;
}

void e2ee__wire_free(ProtobufCMessage *msg)
{
    if (msg)
        protobuf_c_message_free_unpacked(msg, &g_free_allocator);
}

int e2ee__wire_pack(const ProtobufCMessage *msg, size_t max_len, uint8_t **out, size_t *out_len)
{
    if (!out || !out_len)
        return E2EE_ERR_ARG;
    *out = NULL;
    *out_len = 0;
    if (!msg)
        return E2EE_ERR_ARG;
    size_t n = protobuf_c_message_get_packed_size(msg);
    if (n > max_len)
        return E2EE_ERR_TOO_LARGE;
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return E2EE_ERR_NOMEM;
    if (protobuf_c_message_pack(msg, buf) != n) {
        e2ee__wire_buf_free(buf, n);
        return E2EE_ERR_PROTOCOL; /* the encoder disagreed with its own size */
    }
    *out = buf;
    *out_len = n;
    return E2EE_OK;
}

void e2ee__wire_buf_free(uint8_t *buf, size_t len)
{
    if (!buf)
        return;
    e2ee__wipe(buf, len);
    free(buf);
}
