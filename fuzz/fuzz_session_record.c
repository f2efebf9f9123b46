/*
 * Fuzz target: session record loading (what the client reads back from its store). The
 * input is tried as it is and with its checksum field made right (fz_reseal_pairwise), so
 * mutations reach the field checks. A record that loads must serialize canonically (save,
 * load, save gives the same bytes) and stay safe to use: encrypting with it and decrypting
 * a real message from alice with it may fail, never misbehave.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "wire/wire.h"

static void use(const struct fz_pairwise *f, e2ee__session_record *rec)
{
    struct fz_drbg d;
    e2ee__rng rng;
    e2ee__identity_pub remote;
    e2ee__session_decrypt_result res;
    uint8_t *out = NULL;
    size_t out_len = 0;
    (void)e2ee__session_record_state_count(rec);
    (void)e2ee__session_record_is_pending(rec);
    FZ_CHECK((e2ee__session_record_remote_identity(rec, &remote) == E2EE_OK) ==
             (e2ee__session_record_state_count(rec) > 0));
    fz_drbg_init(&d, 5);
    rng = fz_rng(&d);
    if (e2ee__session_encrypt(rec, &rng, (const uint8_t *)"x", 1, &out, &out_len) == E2EE_OK)
        free(out);
    for (int i = 2; i < FZ_PW_MSGS; i += 3) {
        if (e2ee__session_decrypt(rec, f->bob.id, &f->bob.addr, &f->alice.addr, NULL,
                                  &f->bob.source, f->m[i], f->m_len[i], &res) == E2EE_OK)
            e2ee__session_decrypt_result_cleanup(&res);
    }
}

static void load(const struct fz_pairwise *f, const uint8_t *data, size_t size)
{
    e2ee__session_record *rec = NULL, *again = NULL;
    uint8_t *a = NULL, *b = NULL;
    size_t alen = 0, blen = 0;
    int rc = e2ee__session_record_deserialize(&rec, data, size);
    if (rc != E2EE_OK) {
        FZ_CHECK(rec == NULL);
        FZ_CHECK(rc == E2EE_ERR_CORRUPT || rc == E2EE_ERR_VERSION || rc == E2EE_ERR_NOMEM);
        return;
    }
    a = fz_record_save(rec, &alen);
    again = fz_record_load(a, alen);
    b = fz_record_save(again, &blen);
    FZ_CHECK(alen == blen && memcmp(a, b, alen) == 0);
    use(f, rec);
    e2ee__wire_buf_free(a, alen);
    e2ee__wire_buf_free(b, blen);
    e2ee__session_record_free(rec);
    e2ee__session_record_free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct fz_pairwise *f = fz_pairwise();
    size_t n = 0;
    load(f, data, size);
    uint8_t *sealed = fz_reseal_pairwise(data, size, E2EE_SESSION_RECORD_LABEL, &n);
    load(f, sealed, n);
    free(sealed);
    return 0;
}
