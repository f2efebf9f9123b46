/*
 * Identity keys, prekeys, bundles, private records, fingerprints and safety numbers:
 * generation, round trips, signature checks, and rejection of every truncation and of
 * random byte flips of the private records.
 */
#include <stdlib.h>
#include <string.h>

#include "pairwise.pb-c.h"
#include "proto/pwcodec.h"
#include "pwtest.h"
#include "wire/wire.h"

#define FLIPS 300

typedef int (*parse_fn)(const uint8_t *buf, size_t len);

/* Every strict prefix and FLIPS random single-byte changes must be refused. */
static void assert_rejects_damage(const uint8_t *buf, size_t len, parse_fn parse, uint64_t seed)
{
    struct tu_drbg d;
    uint8_t *copy = malloc(len);
    assert_non_null(copy);
    assert_int_equal(parse(buf, len), E2EE_OK);
    for (size_t cut = 0; cut < len; cut++)
        assert_int_not_equal(parse(buf, cut), E2EE_OK);
    tu_drbg_init(&d, seed);
    for (int i = 0; i < FLIPS; i++) {
        memcpy(copy, buf, len);
        size_t at = tu_drbg_below(&d, (uint32_t)len);
        copy[at] ^= (uint8_t)(1 + tu_drbg_below(&d, 255));
        assert_int_not_equal(parse(copy, len), E2EE_OK);
    }
    free(copy);
}

static int parse_identity(const uint8_t *buf, size_t len)
{
    e2ee__identity *id = NULL;
    int rc = e2ee__identity_deserialize(&id, buf, len);
    assert_true((rc == E2EE_OK) == (id != NULL));
    e2ee__identity_free(id);
    return rc;
}

static int parse_spk(const uint8_t *buf, size_t len)
{
    e2ee__signed_prekey spk;
    int rc = e2ee__signed_prekey_deserialize(&spk, buf, len);
    e2ee__signed_prekey_wipe(&spk);
    return rc;
}

static int parse_opk(const uint8_t *buf, size_t len)
{
    e2ee__one_time_prekey opk;
    int rc = e2ee__one_time_prekey_deserialize(&opk, buf, len);
    e2ee__one_time_prekey_wipe(&opk);
    return rc;
}

static void test_address(void **state)
{
    (void)state;
    e2ee__address a, b;
    char longid[E2EE_ADDRESS_USER_ID_MAX + 2];
    memset(longid, 'u', sizeof longid);
    longid[E2EE_ADDRESS_USER_ID_MAX + 1] = '\0';
    assert_int_equal(e2ee__address_set(&a, "", 1), E2EE_ERR_LENGTH);
    assert_int_equal(e2ee__address_set(&a, longid, 1), E2EE_ERR_LENGTH);
    longid[E2EE_ADDRESS_USER_ID_MAX] = '\0';
    assert_int_equal(e2ee__address_set(&a, longid, 1), E2EE_OK);
    assert_int_equal(e2ee__address_set(&a, NULL, 1), E2EE_ERR_ARG);
    assert_int_equal(e2ee__address_set(&a, "alice", 1), E2EE_OK);
    assert_int_equal(e2ee__address_set(&b, "alice", 2), E2EE_OK);
    assert_false(e2ee__address_equal(&a, &b));
    b.device_id = 1;
    assert_true(e2ee__address_equal(&a, &b));
}

static void test_identity(void **state)
{
    (void)state;
    struct tu_drbg d1, d2;
    tu_drbg_init(&d1, 5);
    tu_drbg_init(&d2, 5);
    e2ee__rng r1 = pw_rng(&d1), r2 = pw_rng(&d2);
    e2ee__identity *a = NULL, *b = NULL, *c = NULL;
    assert_int_equal(e2ee__identity_generate(&a, &r1), E2EE_OK);
    assert_int_equal(e2ee__identity_generate(&b, &r2), E2EE_OK);
    assert_int_equal(e2ee__identity_generate(&c, &r2), E2EE_OK);
    /* deterministic from the rng, distinct for distinct randomness */
    assert_true(e2ee__identity_pub_equal(e2ee__identity_public(a), e2ee__identity_public(b)));
    assert_false(e2ee__identity_pub_equal(e2ee__identity_public(a), e2ee__identity_public(c)));
    assert_int_equal(e2ee__identity_pub_verify(e2ee__identity_public(a)), E2EE_OK);

    e2ee__identity_pub bad = *e2ee__identity_public(a);
    bad.dh_sig[10] ^= 1;
    assert_int_equal(e2ee__identity_pub_verify(&bad), E2EE_ERR_AUTH);
    bad = *e2ee__identity_public(a);
    bad.dh_pk[0] ^= 1;
    assert_int_equal(e2ee__identity_pub_verify(&bad), E2EE_ERR_AUTH);
    /* a DH key signed by somebody else */
    bad = *e2ee__identity_public(a);
    memcpy(bad.sign_pk, e2ee__identity_public(c)->sign_pk, 32);
    assert_int_equal(e2ee__identity_pub_verify(&bad), E2EE_ERR_AUTH);

    uint8_t sig[64];
    assert_int_equal(e2ee__identity_sign(a, sig, (const uint8_t *)"e2ee-test-v1", 12), E2EE_OK);
    assert_int_equal(e2ee__ed25519_verify(sig, (const uint8_t *)"e2ee-test-v1", 12,
                                          e2ee__identity_public(a)->sign_pk),
                     E2EE_OK);

    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(e2ee__identity_serialize(a, &buf, &len), E2EE_OK);
    e2ee__identity *back = NULL;
    assert_int_equal(e2ee__identity_deserialize(&back, buf, len), E2EE_OK);
    assert_true(e2ee__identity_pub_equal(e2ee__identity_public(a), e2ee__identity_public(back)));
    assert_memory_equal(e2ee__identity_dh_secret(a), e2ee__identity_dh_secret(back), 32);
    assert_rejects_damage(buf, len, parse_identity, 11);
    e2ee__wire_buf_free(buf, len);

    /* public identity codec */
    assert_int_equal(e2ee__identity_pub_serialize(e2ee__identity_public(a), &buf, &len),
                     E2EE_OK);
    e2ee__identity_pub p;
    assert_int_equal(e2ee__identity_pub_parse(&p, buf, len), E2EE_OK);
    assert_true(e2ee__identity_pub_equal(&p, e2ee__identity_public(a)));
    for (size_t cut = 0; cut < len; cut++)
        assert_int_not_equal(e2ee__identity_pub_parse(&p, buf, cut), E2EE_OK);
    free(buf);

    e2ee__identity_free(a);
    e2ee__identity_free(b);
    e2ee__identity_free(c);
    e2ee__identity_free(back);
    e2ee__identity_free(NULL);
}

/* A record with a valid checksum but another version is E2EE_ERR_VERSION, not CORRUPT. */
static void test_record_versions(void **state)
{
    (void)state;
    E2ee__OneTimePreKeyRecord r = E2EE__ONE_TIME_PRE_KEY_RECORD__INIT;
    uint8_t pk[32], sk[32] = {1};
    uint8_t *buf = NULL;
    size_t len = 0;
    e2ee__one_time_prekey opk;
    assert_int_equal(e2ee__x25519_public(pk, sk), E2EE_OK);
    r.has_version = r.has_id = r.has_public_key = r.has_private_key = 1;
    r.version = 2;
    r.id = 5;
    r.public_key = (ProtobufCBinaryData){32, pk};
    r.private_key = (ProtobufCBinaryData){32, sk};
    assert_int_equal(e2ee__pwcodec_pack_record(&r.base, E2EE_ONE_TIME_PREKEY_RECORD_LABEL, 512,
                                               &buf, &len),
                     E2EE_OK);
    assert_int_equal(e2ee__one_time_prekey_deserialize(&opk, buf, len), E2EE_ERR_VERSION);
    e2ee__wire_buf_free(buf, len);
    r.version = 1;
    assert_int_equal(e2ee__pwcodec_pack_record(&r.base, E2EE_ONE_TIME_PREKEY_RECORD_LABEL, 512,
                                               &buf, &len),
                     E2EE_OK);
    assert_int_equal(e2ee__one_time_prekey_deserialize(&opk, buf, len), E2EE_OK);
    assert_int_equal(opk.id, 5);
    /* the checksum label is part of the record type: another type's label is corrupt */
    e2ee__wire_buf_free(buf, len);
    assert_int_equal(e2ee__pwcodec_pack_record(&r.base, E2EE_SIGNED_PREKEY_RECORD_LABEL, 512,
                                               &buf, &len),
                     E2EE_OK);
    assert_int_equal(e2ee__one_time_prekey_deserialize(&opk, buf, len), E2EE_ERR_CORRUPT);
    e2ee__wire_buf_free(buf, len);
    /* secret and public key that do not belong together */
    pk[3] ^= 1;
    r.public_key = (ProtobufCBinaryData){32, pk};
    assert_int_equal(e2ee__pwcodec_pack_record(&r.base, E2EE_ONE_TIME_PREKEY_RECORD_LABEL, 512,
                                               &buf, &len),
                     E2EE_OK);
    assert_int_equal(e2ee__one_time_prekey_deserialize(&opk, buf, len), E2EE_ERR_CORRUPT);
    e2ee__wire_buf_free(buf, len);
}

static void test_prekeys(void **state)
{
    (void)state;
    struct pw_party a, c;
    pw_party_init(&a, "alice", 1);
    pw_party_init(&c, "carol", 2);
    const e2ee__identity_pub *ap = e2ee__identity_public(a.id);
    assert_int_equal(e2ee__signed_prekey_verify(ap, a.spk.id, a.spk.pk, a.spk.sig), E2EE_OK);
    assert_int_equal(e2ee__signed_prekey_verify(ap, a.spk.id + 1, a.spk.pk, a.spk.sig),
                     E2EE_ERR_AUTH);
    assert_int_equal(e2ee__signed_prekey_verify(e2ee__identity_public(c.id), a.spk.id,
                                                a.spk.pk, a.spk.sig),
                     E2EE_ERR_AUTH);
    for (size_t i = 0; i < a.n_opk; i++) {
        assert_int_equal(a.opk[i].id, 100 + i);
        for (size_t j = 0; j < i; j++)
            assert_memory_not_equal(a.opk[i].pk, a.opk[j].pk, 32);
    }
    e2ee__one_time_prekey tmp[2];
    assert_int_equal(e2ee__one_time_prekeys_generate(tmp, 2, UINT32_MAX, &a.rng),
                     E2EE_ERR_RANGE);
    assert_int_equal(e2ee__one_time_prekeys_generate(tmp, 0, 1, &a.rng), E2EE_ERR_RANGE);
    assert_int_equal(e2ee__one_time_prekeys_generate(tmp, 1, UINT32_MAX, &a.rng), E2EE_OK);
    assert_int_equal(tmp[0].id, UINT32_MAX);

    uint8_t *buf = NULL;
    size_t len = 0;
    e2ee__signed_prekey spk;
    assert_int_equal(e2ee__signed_prekey_serialize(&a.spk, &buf, &len), E2EE_OK);
    assert_int_equal(e2ee__signed_prekey_deserialize(&spk, buf, len), E2EE_OK);
    assert_memory_equal(&spk, &a.spk, sizeof spk);
    assert_rejects_damage(buf, len, parse_spk, 12);
    e2ee__wire_buf_free(buf, len);

    e2ee__one_time_prekey opk;
    assert_int_equal(e2ee__one_time_prekey_serialize(&a.opk[3], &buf, &len), E2EE_OK);
    assert_int_equal(e2ee__one_time_prekey_deserialize(&opk, buf, len), E2EE_OK);
    assert_memory_equal(&opk, &a.opk[3], sizeof opk);
    assert_rejects_damage(buf, len, parse_opk, 13);
    e2ee__wire_buf_free(buf, len);

    /* the upload holds the public parts only */
    assert_int_equal(e2ee__prekey_upload_serialize(ap, &a.spk, a.opk, a.n_opk, &buf, &len),
                     E2EE_OK);
    ProtobufCMessage *raw = NULL;
    assert_int_equal(e2ee__wire_unpack(&e2ee__pre_key_upload__descriptor, buf, len, len, &raw),
                     E2EE_OK);
    const E2ee__PreKeyUpload *up = (const E2ee__PreKeyUpload *)raw;
    assert_int_equal(up->n_one_time_prekeys, a.n_opk);
    assert_int_equal(up->one_time_prekeys[5]->id, 105);
    assert_memory_equal(up->one_time_prekeys[5]->public_key.data, a.opk[5].pk, 32);
    assert_int_equal(up->signed_prekey->id, a.spk.id);
    assert_memory_equal(up->identity->dh_key.data, ap->dh_pk, 32);
    e2ee__wire_free(raw);
    for (size_t i = 0; i + 32 <= len; i++) {
        assert_memory_not_equal(buf + i, a.spk.sk, 32);
        assert_memory_not_equal(buf + i, a.opk[5].sk, 32);
    }
    free(buf);
    pw_party_cleanup(&a);
    pw_party_cleanup(&c);
}

static void bundle_equal(const e2ee__prekey_bundle *x, const e2ee__prekey_bundle *y)
{
    assert_true(e2ee__address_equal(&x->address, &y->address));
    assert_true(e2ee__identity_pub_equal(&x->identity, &y->identity));
    assert_int_equal(x->spk_id, y->spk_id);
    assert_memory_equal(x->spk_pk, y->spk_pk, 32);
    assert_memory_equal(x->spk_sig, y->spk_sig, 64);
    assert_int_equal(x->has_opk, y->has_opk);
    assert_int_equal(x->opk_id, y->opk_id);
    assert_memory_equal(x->opk_pk, y->opk_pk, 32);
}

static void test_bundle(void **state)
{
    (void)state;
    struct pw_party b, c;
    e2ee__prekey_bundle bu, back;
    uint8_t *buf = NULL;
    size_t len = 0;
    pw_party_init(&b, "bob", 3);
    pw_party_init(&c, "carol", 4);
    for (int with_opk = 0; with_opk < 2; with_opk++) {
        pw_party_bundle(&b, with_opk, &bu);
        assert_int_equal(e2ee__prekey_bundle_verify(&bu), E2EE_OK);
        assert_int_equal(e2ee__prekey_bundle_serialize(&bu, &buf, &len), E2EE_OK);
        assert_int_equal(e2ee__prekey_bundle_parse(&back, buf, len), E2EE_OK);
        bundle_equal(&bu, &back);
        for (size_t cut = 0; cut < len; cut++) {
            int rc = e2ee__prekey_bundle_parse(&back, buf, cut);
            /* only the optional one-time prekey (the last field) may be cut off whole */
            assert_true(rc != E2EE_OK || (with_opk && !back.has_opk));
        }
        free(buf);
    }
    /* bad signed-prekey signature, bad identity signature, somebody else's identity */
    pw_party_bundle(&b, 1, &bu);
    back = bu;
    back.spk_sig[0] ^= 0x80;
    assert_int_equal(e2ee__prekey_bundle_verify(&back), E2EE_ERR_AUTH);
    back = bu;
    back.identity.dh_sig[63] ^= 0x01;
    assert_int_equal(e2ee__prekey_bundle_verify(&back), E2EE_ERR_AUTH);
    back = bu;
    back.identity = *e2ee__identity_public(c.id);
    assert_int_equal(e2ee__prekey_bundle_verify(&back), E2EE_ERR_AUTH);
    back = bu;
    back.spk_id++;
    assert_int_equal(e2ee__prekey_bundle_verify(&back), E2EE_ERR_AUTH);

    /* wrong version and wrong field lengths */
    E2ee__PreKeyBundle m = E2EE__PRE_KEY_BUNDLE__INIT;
    m.has_version = 1;
    m.version = 2;
    assert_int_equal(e2ee__wire_pack(&m.base, 1024, &buf, &len), E2EE_OK);
    assert_int_equal(e2ee__prekey_bundle_parse(&back, buf, len), E2EE_ERR_VERSION);
    free(buf);
    m.version = 1;
    assert_int_equal(e2ee__wire_pack(&m.base, 1024, &buf, &len), E2EE_OK);
    assert_int_equal(e2ee__prekey_bundle_parse(&back, buf, len), E2EE_ERR_DECODE);
    free(buf);
    pw_party_cleanup(&b);
    pw_party_cleanup(&c);
}

static void test_fingerprints(void **state)
{
    (void)state;
    struct pw_party a, b;
    pw_party_init(&a, "alice", 21);
    pw_party_init(&b, "bob", 22);
    const e2ee__identity_pub *ap = e2ee__identity_public(a.id), *bp = e2ee__identity_public(b.id);
    uint8_t fa[32], fa2[32], fb[32], want[32];
    assert_int_equal(e2ee__fingerprint(fa, ap), E2EE_OK);
    assert_int_equal(e2ee__fingerprint(fa2, ap), E2EE_OK);
    assert_int_equal(e2ee__fingerprint(fb, bp), E2EE_OK);
    assert_memory_equal(fa, fa2, 32);
    assert_memory_not_equal(fa, fb, 32);
    const uint8_t *parts[3] = {(const uint8_t *)"e2ee-fingerprint-v1", ap->sign_pk, ap->dh_pk};
    const size_t lens[3] = {19, 32, 32};
    assert_int_equal(e2ee__sha256_parts(want, parts, lens, 3), E2EE_OK);
    assert_memory_equal(fa, want, 32);

    char s1[E2EE_SAFETY_NUMBER_LEN], s2[E2EE_SAFETY_NUMBER_LEN], s3[E2EE_SAFETY_NUMBER_LEN];
    assert_int_equal(e2ee__safety_number(s1, ap, bp), E2EE_OK);
    assert_int_equal(e2ee__safety_number(s2, bp, ap), E2EE_OK);
    assert_string_equal(s1, s2);
    assert_int_equal(strlen(s1), 71);
    for (int i = 0; i < 71; i++) {
        if (i % 6 == 5)
            assert_int_equal(s1[i], ' ');
        else
            assert_true(s1[i] >= '0' && s1[i] <= '9');
    }
    /* any change of either key changes the number */
    e2ee__identity_pub other = *bp;
    other.dh_pk[31] ^= 1;
    assert_int_equal(e2ee__safety_number(s3, ap, &other), E2EE_OK);
    assert_string_not_equal(s1, s3);
    other = *bp;
    other.sign_pk[0] ^= 1;
    assert_int_equal(e2ee__safety_number(s3, ap, &other), E2EE_OK);
    assert_string_not_equal(s1, s3);
    assert_int_equal(e2ee__safety_number(s3, ap, NULL), E2EE_ERR_ARG);
    assert_string_equal(s3, "");
    pw_party_cleanup(&a);
    pw_party_cleanup(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_address),
        cmocka_unit_test(test_identity),
        cmocka_unit_test(test_record_versions),
        cmocka_unit_test(test_prekeys),
        cmocka_unit_test(test_bundle),
        cmocka_unit_test(test_fingerprints),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
