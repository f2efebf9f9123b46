/*
 * Fuzz target: sender-key distribution processing. The input is decoded as a distribution
 * and processed into an empty record of (group, alice) and into bob's real record; a refused
 * distribution changes neither, an accepted one leaves a record that serializes, reloads and
 * serializes again to the same bytes.
 */
#include <string.h>

#include "fuzz.h"

static void process(e2ee__sender_key_record *r, const uint8_t *data, size_t size)
{
    size_t snap_len = 0, again_len = 0;
    (void)e2ee__sender_key_record_expire(r, FZ_GROUP_NOW_MS);
    uint8_t *snap = fz_skr_save(r, &snap_len);
    int rc = e2ee__sender_key_distribution_process(r, data, size, FZ_GROUP_NOW_MS);
    if (rc != E2EE_OK) {
        FZ_CHECK(fz_skr_is(r, snap, snap_len));
    } else {
        e2ee__sender_key_buf_free(snap, snap_len);
        snap = fz_skr_save(r, &snap_len);
        e2ee__sender_key_record *again = fz_skr_load(snap, snap_len);
        uint8_t *b = fz_skr_save(again, &again_len);
        FZ_CHECK(again_len == snap_len && memcmp(b, snap, snap_len) == 0);
        e2ee__sender_key_buf_free(b, again_len);
        e2ee__sender_key_record_free(again);
    }
    e2ee__sender_key_buf_free(snap, snap_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct fz_group *f = fz_group();
    e2ee__sender_key_distribution d;
    e2ee__sender_key_record *r = NULL;
    if (e2ee__sender_key_distribution_decode(&d, data, size) == E2EE_OK) {
        FZ_CHECK(d.key_id != 0 && d.iteration != E2EE_SENDER_KEY_ITERATION_END);
        e2ee__sender_key_distribution_wipe(&d);
    }
    FZ_CHECK(e2ee__sender_key_record_new(&r, FZ_GROUP_ID, "alice", 1, NULL) == E2EE_OK);
    process(r, data, size);
    e2ee__sender_key_record_free(r);
    r = fz_skr_load(f->record, f->record_len);
    process(r, data, size);
    e2ee__sender_key_record_free(r);
    return 0;
}
