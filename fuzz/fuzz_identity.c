/*
 * Fuzz target: identity loading. The input is an IdentityRecord (as it is, and with its
 * checksum made right) and a public IdentityKey. A record that loads signs, and
 * serializes canonically; a public key that parses re-serializes to a key that parses to
 * the same value.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "wire/wire.h"

static void record(const uint8_t *data, size_t size)
{
    e2ee__identity *id = NULL, *again = NULL;
    uint8_t *a = NULL, *b = NULL, sig[E2EE_ED25519_SIG_LEN];
    size_t alen = 0, blen = 0;
    int rc = e2ee__identity_deserialize(&id, data, size);
    if (rc != E2EE_OK) {
        FZ_CHECK(id == NULL);
        FZ_CHECK(rc == E2EE_ERR_CORRUPT || rc == E2EE_ERR_VERSION || rc == E2EE_ERR_NOMEM);
        return;
    }
    FZ_CHECK(e2ee__identity_pub_verify(e2ee__identity_public(id)) == E2EE_OK);
    FZ_CHECK(e2ee__identity_sign(id, sig, (const uint8_t *)"x", 1) == E2EE_OK);
    FZ_CHECK(e2ee__identity_serialize(id, &a, &alen) == E2EE_OK);
    FZ_CHECK(e2ee__identity_deserialize(&again, a, alen) == E2EE_OK);
    FZ_CHECK(e2ee__identity_serialize(again, &b, &blen) == E2EE_OK);
    FZ_CHECK(alen == blen && memcmp(a, b, alen) == 0);
    e2ee__wire_buf_free(a, alen);
    e2ee__wire_buf_free(b, blen);
    e2ee__identity_free(id);
    e2ee__identity_free(again);
}

static void public_key(const uint8_t *data, size_t size)
{
    e2ee__identity_pub pub, back;
    uint8_t *enc = NULL;
    size_t len = 0;
    if (e2ee__identity_pub_parse(&pub, data, size) != E2EE_OK)
        return;
    int verified = e2ee__identity_pub_verify(&pub);
    FZ_CHECK(e2ee__identity_pub_serialize(&pub, &enc, &len) == E2EE_OK);
    FZ_CHECK(e2ee__identity_pub_parse(&back, enc, len) == E2EE_OK);
    FZ_CHECK(e2ee__identity_pub_equal(&pub, &back));
    FZ_CHECK(e2ee__identity_pub_verify(&back) == verified);
    free(enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t n = 0;
    fz_init();
    record(data, size);
    uint8_t *sealed = fz_reseal_pairwise(data, size, E2EE_IDENTITY_RECORD_LABEL, &n);
    record(sealed, n);
    free(sealed);
    public_key(data, size);
    return 0;
}
