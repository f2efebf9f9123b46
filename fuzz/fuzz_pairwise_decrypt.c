/*
 * Fuzz target: a pairwise message (headers and ciphertext as the fuzzer makes them)
 * decrypted by bob's real, established session with alice (fz_pairwise: it holds a skipped
 * key and two chains). Only alice's real messages may decrypt, each at most once per
 * record; any refusal leaves the record exactly as it was (session.h: transactions).
 */
#include <string.h>

#include "fuzz.h"
#include "wire/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct fz_pairwise *f = fz_pairwise();
    e2ee__pairwise_message_info info;
    e2ee__session_decrypt_result res;
    e2ee__session_record *bob = fz_record_load(f->bob_established, f->bob_established_len);
    int peek = e2ee__pairwise_message_peek(data, size, &info);
    int rc = e2ee__session_decrypt(bob, f->bob.id, &f->bob.addr, &f->alice.addr,
                                   e2ee__identity_public(f->alice.id), &f->bob.source, data,
                                   size, &res);
    if (rc == E2EE_OK) {
        FZ_CHECK(peek == E2EE_OK); /* what decrypts, parses */
        FZ_CHECK(res.plaintext_len == 2 && res.plaintext[0] == 'm');
        FZ_CHECK(e2ee__identity_pub_equal(&res.remote_identity,
                                          e2ee__identity_public(f->alice.id)));
        e2ee__session_decrypt_result_cleanup(&res);
        /* the same bytes again: refused, and the record stays */
        size_t n = 0;
        uint8_t *snap = fz_record_save(bob, &n);
        rc = e2ee__session_decrypt(bob, f->bob.id, &f->bob.addr, &f->alice.addr, NULL,
                                   &f->bob.source, data, size, &res);
        FZ_CHECK(rc != E2EE_OK && fz_record_is(bob, snap, n));
        e2ee__wire_buf_free(snap, n);
    } else {
        FZ_CHECK(res.plaintext == NULL && res.plaintext_len == 0);
        FZ_CHECK(fz_record_is(bob, f->bob_established, f->bob_established_len));
    }
    e2ee__session_record_free(bob);
    return 0;
}
