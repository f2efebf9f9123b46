/*
 * Fuzz target: a group message (as the fuzzer makes it) decrypted with bob's real record of
 * alice's sender keys (fz_group: a current key with a cached skipped seed, and a retired
 * key inside the transition window). Only alice's real messages may decrypt, each once; a
 * refused message leaves the record exactly as it was (window expiry done beforehand).
 */
#include <string.h>

#include "fuzz.h"

#define PREFIX "group message "

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct fz_group *f = fz_group();
    e2ee__group_message_header h;
    uint8_t *pt = NULL, *snap = NULL;
    size_t ptlen = 0, snap_len = 0;
    e2ee__sender_key_record *r = fz_skr_load(f->record, f->record_len);
    (void)e2ee__sender_key_record_expire(r, FZ_GROUP_NOW_MS);
    snap = fz_skr_save(r, &snap_len);
    int peek = e2ee__group_message_peek(data, size, &h);
    int rc = e2ee__group_decrypt(r, data, size, FZ_GROUP_NOW_MS, &pt, &ptlen);
    if (rc == E2EE_OK) {
        FZ_CHECK(peek == E2EE_OK); /* what decrypts, parses */
        FZ_CHECK(ptlen > sizeof PREFIX - 1 && memcmp(pt, PREFIX, sizeof PREFIX - 1) == 0);
        e2ee__sender_key_buf_free(pt, ptlen);
        e2ee__sender_key_buf_free(snap, snap_len);
        snap = fz_skr_save(r, &snap_len);
        rc = e2ee__group_decrypt(r, data, size, FZ_GROUP_NOW_MS, &pt, &ptlen);
        FZ_CHECK(rc == E2EE_ERR_DUPLICATE);
    }
    FZ_CHECK(pt == NULL && ptlen == 0);
    FZ_CHECK(fz_skr_is(r, snap, snap_len));
    e2ee__sender_key_buf_free(snap, snap_len);
    e2ee__sender_key_record_free(r);
    return 0;
}
