/*
 * Fuzz target: sender-key record loading (bob's record of a sender, read back from the
 * store). The input is tried as it is and with its check made right (fz_reseal_group). A
 * record that loads serializes canonically and stays safe to use: alice's real messages and
 * distributions go through it, and anything it refuses leaves it unchanged.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

static void try_message(e2ee__sender_key_record *r, const uint8_t *msg, size_t len)
{
    uint8_t *pt = NULL;
    size_t ptlen = 0, snap_len = 0;
    (void)e2ee__sender_key_record_expire(r, FZ_GROUP_NOW_MS);
    uint8_t *snap = fz_skr_save(r, &snap_len);
    if (e2ee__group_decrypt(r, msg, len, FZ_GROUP_NOW_MS, &pt, &ptlen) == E2EE_OK)
        e2ee__sender_key_buf_free(pt, ptlen);
    else
        FZ_CHECK(fz_skr_is(r, snap, snap_len));
    e2ee__sender_key_buf_free(snap, snap_len);
}

static void load(const struct fz_group *f, const uint8_t *data, size_t size)
{
    e2ee__sender_key_record *r = NULL, *again = NULL;
    uint8_t *a = NULL, *b = NULL;
    size_t alen = 0, blen = 0;
    int rc = e2ee__sender_key_record_deserialize(&r, data, size, NULL);
    if (rc != E2EE_OK) {
        FZ_CHECK(r == NULL);
        FZ_CHECK(rc == E2EE_ERR_CORRUPT || rc == E2EE_ERR_VERSION || rc == E2EE_ERR_TOO_LARGE ||
                 rc == E2EE_ERR_NOMEM);
        return;
    }
    a = fz_skr_save(r, &alen);
    again = fz_skr_load(a, alen);
    b = fz_skr_save(again, &blen);
    FZ_CHECK(alen == blen && memcmp(a, b, alen) == 0);
    (void)e2ee__sender_key_record_current_id(r);
    try_message(r, f->m[0], f->m_len[0]);
    try_message(r, f->m[4], f->m_len[4]);
    try_message(r, f->m_prev, f->m_prev_len);
    size_t snap_len = 0;
    uint8_t *snap = fz_skr_save(r, &snap_len);
    if (e2ee__sender_key_distribution_process(r, f->dist, f->dist_len, FZ_GROUP_NOW_MS) !=
        E2EE_OK)
        FZ_CHECK(fz_skr_is(r, snap, snap_len));
    e2ee__sender_key_buf_free(snap, snap_len);
    try_message(r, f->m[7], f->m_len[7]);
    e2ee__sender_key_buf_free(a, alen);
    e2ee__sender_key_buf_free(b, blen);
    e2ee__sender_key_record_free(r);
    e2ee__sender_key_record_free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct fz_group *f = fz_group();
    size_t n = 0;
    load(f, data, size);
    uint8_t *sealed = fz_reseal_group(data, size, E2EE_SENDER_KEY_LABEL_RECORD, &n);
    load(f, sealed, n);
    free(sealed);
    return 0;
}
