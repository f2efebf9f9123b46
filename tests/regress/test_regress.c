/*
 * e2ee tests: regressions of bugs found while hardening, one test each, written so that the
 * test says what went wrong. Fixtures are the fuzzers' (fuzz/fuzz.h): real parties, real
 * sessions, deterministic keys.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "pairwise.pb-c.h"
#include "proto/pwcodec.h"
#include "testutil.h"
#include "wire/wire.h"

/* Re-encodes a pre-key message with the top bit of its base key flipped. */
static uint8_t *flip_base_key_top_bit(const uint8_t *msg, size_t len, size_t *out_len)
{
    E2ee__PairwiseMessage *m = e2ee__pairwise_message__unpack(NULL, len, msg);
    assert_non_null(m);
    assert_int_equal(m->body_case, E2EE__PAIRWISE_MESSAGE__BODY_PREKEY);
    assert_int_equal(m->prekey->base_key.len, 32);
    m->prekey->base_key.data[31] ^= 0x80;
    *out_len = e2ee__pairwise_message__get_packed_size(m);
    uint8_t *out = malloc(*out_len);
    assert_non_null(out);
    e2ee__pairwise_message__pack(m, out);
    e2ee__pairwise_message__free_unpacked(m, NULL);
    return out;
}

static int bob_decrypts(e2ee__session_record *bob, const uint8_t *msg, size_t len)
{
    const struct fz_pairwise *f = fz_pairwise();
    e2ee__session_decrypt_result res;
    int rc = e2ee__session_decrypt(bob, f->bob.id, &f->bob.addr, &f->alice.addr, NULL,
                                   &f->bob.source, msg, len, &res);
    if (rc == E2EE_OK)
        e2ee__session_decrypt_result_cleanup(&res);
    return rc;
}

/*
 * Found by fuzz_pairwise_session. X25519 ignores the top bit of a public key, and a
 * responder recognised a repeated pre-key message by its base key's bytes: the same pre-key
 * message with that bit flipped ran X3DH again, to the same secret, and decrypted a second
 * time (a replay; without a one-time prekey nothing else stops it). Non-canonical X25519
 * keys in pairwise messages are now refused (E2EE_ERR_DECODE).
 */
static void prekey_message_with_aliased_base_key_is_refused(void **state)
{
    (void)state;
    const struct fz_pairwise *f = fz_pairwise();
    e2ee__session_record *bob = NULL;
    size_t alias_len = 0;
    uint8_t *alias = flip_base_key_top_bit(f->prekey_no_opk, f->prekey_no_opk_len, &alias_len);
    assert_int_equal(e2ee__session_record_new(&bob), E2EE_OK);
    assert_int_equal(bob_decrypts(bob, f->prekey_no_opk, f->prekey_no_opk_len), E2EE_OK);
    assert_int_equal(bob_decrypts(bob, alias, alias_len), E2EE_ERR_DECODE);
    assert_int_equal(e2ee__session_record_state_count(bob), 1);
    assert_int_equal(bob_decrypts(bob, f->prekey_no_opk, f->prekey_no_opk_len),
                     E2EE_ERR_DUPLICATE);
    /* first the alias, then the real one: the alias is refused, the real one accepted */
    e2ee__session_record_free(bob);
    assert_int_equal(e2ee__session_record_new(&bob), E2EE_OK);
    assert_int_equal(bob_decrypts(bob, alias, alias_len), E2EE_ERR_DECODE);
    assert_int_equal(bob_decrypts(bob, f->prekey_no_opk, f->prekey_no_opk_len), E2EE_OK);
    e2ee__session_record_free(bob);
    free(alias);
}

static void x25519_canonical_boundaries(void **state)
{
    (void)state;
    uint8_t k[32];
    memset(k, 0xff, sizeof k);
    k[31] = 0x7f;
    k[0] = 0xec; /* p - 1 */
    assert_true(e2ee__pwcodec_x25519_canonical(k));
    k[0] = 0xed; /* p */
    assert_false(e2ee__pwcodec_x25519_canonical(k));
    k[0] = 0xff; /* 2^255 - 1 */
    assert_false(e2ee__pwcodec_x25519_canonical(k));
    memset(k, 0, sizeof k);
    assert_true(e2ee__pwcodec_x25519_canonical(k));
    k[31] = 0x80; /* 2^255: the top bit */
    assert_false(e2ee__pwcodec_x25519_canonical(k));
    k[31] = 0x7f; /* 2^255 - 2^248 < p */
    assert_true(e2ee__pwcodec_x25519_canonical(k));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(prekey_message_with_aliased_base_key_is_refused),
        cmocka_unit_test(x25519_canonical_boundaries),
    };
    return cmocka_run_group_tests_name("regressions", tests, NULL, NULL);
}
