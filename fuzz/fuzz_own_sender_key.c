/*
 * Fuzz target: loading the sender's own sender key from the store. The input is tried as it
 * is and with its check made right. A key that loads serializes canonically, and what it
 * produces is consistent: its distribution, installed in a new record, opens the message it
 * encrypts next (or the key refuses to encrypt because it is spent).
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

static void use(e2ee__sender_key *sk)
{
    e2ee__sender_key_record *r = NULL;
    uint8_t *d = NULL, *msg = NULL, *pt = NULL;
    size_t dlen = 0, mlen = 0, ptlen = 0;
    if (e2ee__sender_key_distribution_create(sk, &d, &dlen) != E2EE_OK)
        return;
    FZ_CHECK(e2ee__sender_key_record_new(&r, sk->who.group_id, sk->who.user_id,
                                         sk->who.device_id, NULL) == E2EE_OK);
    FZ_CHECK(e2ee__sender_key_distribution_process(r, d, dlen, FZ_GROUP_NOW_MS) == E2EE_OK);
    if (e2ee__group_encrypt(sk, (const uint8_t *)"own", 3, &msg, &mlen) == E2EE_OK) {
        FZ_CHECK(e2ee__group_decrypt(r, msg, mlen, FZ_GROUP_NOW_MS, &pt, &ptlen) == E2EE_OK);
        FZ_CHECK(ptlen == 3 && memcmp(pt, "own", 3) == 0);
        e2ee__sender_key_buf_free(pt, ptlen);
        e2ee__sender_key_buf_free(msg, mlen);
    }
    e2ee__sender_key_buf_free(d, dlen);
    e2ee__sender_key_record_free(r);
}

static void load(const uint8_t *data, size_t size)
{
    e2ee__sender_key *sk = NULL, *again = NULL;
    uint8_t *a = NULL, *b = NULL;
    size_t alen = 0, blen = 0;
    int rc = e2ee__sender_key_deserialize(&sk, data, size);
    if (rc != E2EE_OK) {
        FZ_CHECK(sk == NULL);
        FZ_CHECK(rc == E2EE_ERR_CORRUPT || rc == E2EE_ERR_VERSION || rc == E2EE_ERR_TOO_LARGE ||
                 rc == E2EE_ERR_NOMEM);
        return;
    }
    FZ_CHECK(e2ee__sender_key_serialize(sk, &a, &alen) == E2EE_OK);
    FZ_CHECK(e2ee__sender_key_deserialize(&again, a, alen) == E2EE_OK);
    FZ_CHECK(e2ee__sender_key_serialize(again, &b, &blen) == E2EE_OK);
    FZ_CHECK(alen == blen && memcmp(a, b, alen) == 0);
    use(sk);
    e2ee__sender_key_buf_free(a, alen);
    e2ee__sender_key_buf_free(b, blen);
    e2ee__sender_key_free(sk);
    e2ee__sender_key_free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t n = 0;
    (void)fz_group();
    load(data, size);
    uint8_t *sealed = fz_reseal_group(data, size, E2EE_SENDER_KEY_LABEL_OWN, &n);
    load(sealed, n);
    free(sealed);
    return 0;
}
