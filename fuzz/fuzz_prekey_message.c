/*
 * Fuzz target: pre-key message processing. Bob, with no session yet and his real signed and
 * one-time prekeys, receives the input as a message from alice: X3DH as responder, then the
 * first ratchet message. Only alice's real pre-key messages may succeed; a refusal leaves
 * the empty record empty. A second pass names an identity the message cannot carry
 * (bob's own) as the expected one: it must never succeed.
 */
#include <string.h>

#include "fuzz.h"
#include "wire/wire.h"

static int decrypt(const struct fz_pairwise *f, const e2ee__identity_pub *expected,
                   const uint8_t *data, size_t size)
{
    e2ee__session_record *bob = NULL;
    e2ee__session_decrypt_result res;
    uint8_t *empty = NULL;
    size_t empty_len = 0;
    FZ_CHECK(e2ee__session_record_new(&bob) == E2EE_OK);
    empty = fz_record_save(bob, &empty_len);
    int rc = e2ee__session_decrypt(bob, f->bob.id, &f->bob.addr, &f->alice.addr, expected,
                                   &f->bob.source, data, size, &res);
    if (rc == E2EE_OK) {
        FZ_CHECK(res.prekey_message && res.new_session);
        FZ_CHECK(res.plaintext_len == 2 && (res.plaintext[0] == 'm' || res.plaintext[0] == 'p'));
        FZ_CHECK(e2ee__identity_pub_equal(&res.remote_identity,
                                          e2ee__identity_public(f->alice.id)));
        FZ_CHECK(e2ee__session_record_has_session(bob));
        e2ee__session_decrypt_result_cleanup(&res);
    } else {
        FZ_CHECK(res.plaintext == NULL);
        FZ_CHECK(fz_record_is(bob, empty, empty_len));
    }
    e2ee__wire_buf_free(empty, empty_len);
    e2ee__session_record_free(bob);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct fz_pairwise *f = fz_pairwise();
    (void)decrypt(f, NULL, data, size);
    FZ_CHECK(decrypt(f, e2ee__identity_public(f->bob.id), data, size) != E2EE_OK);
    return 0;
}
