/*
 * Fuzz target: a ClientFrame as the relay decodes it (e2ee__wire_unpack with the relay's
 * default frame limit). A frame that decodes is walked field by field and must re-encode
 * stably; one that does not is refused with DECODE or TOO_LARGE, nothing allocated.
 */
#include "e2ee.pb-c.h"
#include "fuzz.h"
#include "wire/wire.h"

#define RELAY_MAX_FRAME (1u << 20) /* the relay's default max_frame_size */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ProtobufCMessage *m = NULL;
    fz_init();
    int rc = e2ee__wire_unpack(&e2ee__client_frame__descriptor, data, size, RELAY_MAX_FRAME, &m);
    if (rc != E2EE_OK) {
        FZ_CHECK(m == NULL && (rc == E2EE_ERR_DECODE || rc == E2EE_ERR_TOO_LARGE));
        return 0;
    }
    (void)fz_walk(m);
    fz_roundtrip(m);
    e2ee__wire_free(m);
    return 0;
}
