/*
 * Fuzz target: a ServerFrame as a client decodes it (e2ee__wire_unpack with the client
 * transport's frame limit), then what a client looks into next: the unauthenticated header
 * of each direct, pairwise and group ciphertext it was handed (e2ee__pairwise_message_peek,
 * e2ee__group_message_peek). Decoded frames must re-encode stably.
 */
#include "e2ee.pb-c.h"
#include "fuzz.h"
#include "net/net.h"
#include "wire/wire.h"

static void peek_pairwise(const ProtobufCBinaryData *b)
{
    e2ee__pairwise_message_info info;
    int rc = e2ee__pairwise_message_peek(b->data, b->len, &info);
    FZ_CHECK(rc == E2EE_OK || rc == E2EE_ERR_DECODE || rc == E2EE_ERR_VERSION ||
             rc == E2EE_ERR_TOO_LARGE || (rc == E2EE_ERR_ARG && b->len == 0));
}

static void peek_group(const ProtobufCBinaryData *b)
{
    e2ee__group_message_header h;
    int rc = e2ee__group_message_peek(b->data, b->len, &h);
    FZ_CHECK(rc == E2EE_OK || rc == E2EE_ERR_DECODE || rc == E2EE_ERR_VERSION ||
             rc == E2EE_ERR_TOO_LARGE || (rc == E2EE_ERR_ARG && b->len == 0));
}

static void deliveries(const E2ee__RelayDeliveries *ds)
{
    for (size_t i = 0; i < ds->n_items; i++) {
        const E2ee__RelayDelivery *d = ds->items[i];
        if (d->pairwise.len)
            peek_pairwise(&d->pairwise);
        if (d->item_case == E2EE__RELAY_DELIVERY__ITEM_DIRECT)
            peek_pairwise(&d->direct->ciphertext);
        else if (d->item_case == E2EE__RELAY_DELIVERY__ITEM_GROUP_MESSAGE)
            peek_group(&d->group_message->ciphertext);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ProtobufCMessage *m = NULL;
    fz_init();
    int rc = e2ee__wire_unpack(&e2ee__server_frame__descriptor, data, size,
                               E2EE__NET_MAX_FRAME_DEFAULT, &m);
    if (rc != E2EE_OK) {
        FZ_CHECK(m == NULL && (rc == E2EE_ERR_DECODE || rc == E2EE_ERR_TOO_LARGE));
        return 0;
    }
    const E2ee__ServerFrame *f = (const E2ee__ServerFrame *)m;
    (void)fz_walk(m);
    if (f->body_case == E2EE__SERVER_FRAME__BODY_DELIVERIES)
        deliveries(f->deliveries);
    fz_roundtrip(m);
    e2ee__wire_free(m);
    return 0;
}
