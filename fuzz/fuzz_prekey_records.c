/*
 * Fuzz target: prekey loading. The input is tried as a signed prekey record and as a
 * one-time prekey record (each as it is and with its checksum made right), and as a prekey
 * bundle from the relay. Whatever loads re-serializes to bytes that load to the same keys; a
 * bundle that parses can be verified, and initiating from it fails cleanly unless it
 * verifies.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "wire/wire.h"

static int spk_equal(const e2ee__signed_prekey *a, const e2ee__signed_prekey *b)
{
    return a->id == b->id && memcmp(a->pk, b->pk, sizeof a->pk) == 0 &&
           memcmp(a->sk, b->sk, sizeof a->sk) == 0 && memcmp(a->sig, b->sig, sizeof a->sig) == 0 &&
           a->created_at == b->created_at;
}

static int bundle_equal(const e2ee__prekey_bundle *a, const e2ee__prekey_bundle *b)
{
    return e2ee__address_equal(&a->address, &b->address) &&
           e2ee__identity_pub_equal(&a->identity, &b->identity) && a->spk_id == b->spk_id &&
           memcmp(a->spk_pk, b->spk_pk, sizeof a->spk_pk) == 0 &&
           memcmp(a->spk_sig, b->spk_sig, sizeof a->spk_sig) == 0 && a->has_opk == b->has_opk &&
           (!a->has_opk ||
            (a->opk_id == b->opk_id && memcmp(a->opk_pk, b->opk_pk, sizeof a->opk_pk) == 0));
}

static void signed_prekey(const uint8_t *data, size_t size)
{
    e2ee__signed_prekey k, back;
    uint8_t *enc = NULL;
    size_t len = 0;
    int rc = e2ee__signed_prekey_deserialize(&k, data, size);
    if (rc != E2EE_OK) {
        FZ_CHECK(rc == E2EE_ERR_CORRUPT || rc == E2EE_ERR_VERSION || rc == E2EE_ERR_NOMEM);
        return;
    }
    FZ_CHECK(e2ee__signed_prekey_serialize(&k, &enc, &len) == E2EE_OK);
    FZ_CHECK(e2ee__signed_prekey_deserialize(&back, enc, len) == E2EE_OK);
    FZ_CHECK(spk_equal(&k, &back));
    e2ee__wire_buf_free(enc, len);
    e2ee__signed_prekey_wipe(&k);
    e2ee__signed_prekey_wipe(&back);
}

static void one_time_prekey(const uint8_t *data, size_t size)
{
    e2ee__one_time_prekey k, back;
    uint8_t *enc = NULL;
    size_t len = 0;
    int rc = e2ee__one_time_prekey_deserialize(&k, data, size);
    if (rc != E2EE_OK) {
        FZ_CHECK(rc == E2EE_ERR_CORRUPT || rc == E2EE_ERR_VERSION || rc == E2EE_ERR_NOMEM);
        return;
    }
    FZ_CHECK(e2ee__one_time_prekey_serialize(&k, &enc, &len) == E2EE_OK);
    FZ_CHECK(e2ee__one_time_prekey_deserialize(&back, enc, len) == E2EE_OK);
    FZ_CHECK(k.id == back.id && memcmp(k.pk, back.pk, sizeof k.pk) == 0 &&
             memcmp(k.sk, back.sk, sizeof k.sk) == 0);
    e2ee__wire_buf_free(enc, len);
    e2ee__one_time_prekey_wipe(&k);
    e2ee__one_time_prekey_wipe(&back);
}

static void bundle(const struct fz_pairwise *f, const uint8_t *data, size_t size)
{
    e2ee__prekey_bundle b, back;
    e2ee__session_record *rec = NULL;
    uint8_t *enc = NULL;
    size_t len = 0;
    struct fz_drbg d;
    if (e2ee__prekey_bundle_parse(&b, data, size) != E2EE_OK)
        return;
    FZ_CHECK(e2ee__prekey_bundle_serialize(&b, &enc, &len) == E2EE_OK);
    FZ_CHECK(e2ee__prekey_bundle_parse(&back, enc, len) == E2EE_OK);
    FZ_CHECK(bundle_equal(&b, &back));
    free(enc);
    int verified = e2ee__prekey_bundle_verify(&b) == E2EE_OK;
    fz_drbg_init(&d, 9);
    e2ee__rng rng = fz_rng(&d);
    FZ_CHECK(e2ee__session_record_new(&rec) == E2EE_OK);
    int rc = e2ee__session_initiate(rec, f->alice.id, &f->alice.addr, &b, &rng);
    FZ_CHECK(rc != E2EE_OK || verified);
    FZ_CHECK(rc == E2EE_OK || e2ee__session_record_state_count(rec) == 0);
    e2ee__session_record_free(rec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct fz_pairwise *f = fz_pairwise();
    size_t n = 0;
    uint8_t *sealed;
    signed_prekey(data, size);
    sealed = fz_reseal_pairwise(data, size, E2EE_SIGNED_PREKEY_RECORD_LABEL, &n);
    signed_prekey(sealed, n);
    free(sealed);
    one_time_prekey(data, size);
    sealed = fz_reseal_pairwise(data, size, E2EE_ONE_TIME_PREKEY_RECORD_LABEL, &n);
    one_time_prekey(sealed, n);
    free(sealed);
    bundle(f, data, size);
    return 0;
}
