/*
 * Known-answer tests for the pairwise KDFs, X3DH and the first ratchet message.
 *
 * The hex constants were computed once by tests/pairwise/kat_gen.py, an independent
 * implementation of docs/PROTOCOL.md section 1 in Python (hashlib, hmac and the
 * `cryptography` package; no e2ee code). The KDF chain values are also re-derived here from
 * the documented formulas with the crypto layer, so a change in either the formulas or the
 * code shows.
 */
#include <stdlib.h>
#include <string.h>

#include "pairwise.pb-c.h"
#include "proto/ratchet.h"
#include "proto/session_state.h"
#include "proto/x3dh.h"
#include "pwtest.h"
#include "wire/wire.h"

static void unhex(const char *hex, uint8_t *out, size_t len)
{
    uint8_t *b = NULL;
    size_t n = 0;
    assert_int_equal(tu_hex(hex, &b, &n), 0);
    assert_int_equal(n, len);
    memcpy(out, b, len);
    free(b);
}

static void seq(uint8_t *out, uint8_t first)
{
    for (int i = 0; i < 32; i++)
        out[i] = (uint8_t)(first + i);
}

/* KDF_RK(rk = 00..1f, dh = 20..3f) */
static void test_kdf_rk(void **state)
{
    (void)state;
    uint8_t rk[32], dh[32], out_rk[32], out_ck[32], want[32], okm[64];
    seq(rk, 0x00);
    seq(dh, 0x20);
    assert_int_equal(e2ee__ratchet_kdf_rk(out_rk, out_ck, rk, dh), E2EE_OK);
    unhex("167a7a1d357bdbb4fac3884242ce0ae5571724d05e20c232c9f9bf7c544e9c24", want, 32);
    assert_memory_equal(out_rk, want, 32);
    unhex("8282b1b27426836aceb8708400aae8255ca6a0dafd671212fda28e6b98624553", want, 32);
    assert_memory_equal(out_ck, want, 32);
    /* the documented formula, through the crypto layer */
    assert_int_equal(e2ee__hkdf_sha256(okm, 64, dh, 32, rk, 32,
                                       (const uint8_t *)"e2ee-ratchet-root-v1", 20),
                     E2EE_OK);
    assert_memory_equal(okm, out_rk, 32);
    assert_memory_equal(okm + 32, out_ck, 32);
}

/* KDF_CK over 1,000 steps from ck = 40..5f, and the message keys of the first seed. */
static void test_kdf_chain(void **state)
{
    (void)state;
    uint8_t ck[32], ref[32], mk[32], mk_ref[32], want[32];
    static const uint8_t one = 1, two = 2;
    seq(ck, 0x40);
    memcpy(ref, ck, 32);
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(e2ee__ratchet_kdf_ck(mk, ck, ck), E2EE_OK);
        assert_int_equal(e2ee__hmac_sha256(mk_ref, ref, 32, &one, 1), E2EE_OK);
        assert_int_equal(e2ee__hmac_sha256(ref, ref, 32, &two, 1), E2EE_OK);
        assert_memory_equal(mk, mk_ref, 32);
        assert_memory_equal(ck, ref, 32);
        if (i == 0)
            unhex("01156abd78ef59f755f1e6945e5d1e2d7ddd1f1e5fe0a164b2f5fa8ad500bfba", want, 32);
        else if (i == 1)
            unhex("cc8aa93e9d19721c0c40f310be4d0383b891ee9f4b44bd608370dff83ed74819", want, 32);
        else if (i == 999)
            unhex("81a798d66538ca3a510135f004212e43a20f7f639a5530d81c8c6da3fbaf3853", want, 32);
        else
            continue;
        assert_memory_equal(mk, want, 32);
    }
    unhex("316f8767519b33f3648481ee7fd2dfac48066f879da52b0daaada1e700850fed", want, 32);
    assert_memory_equal(ck, want, 32);

    uint8_t key[32], nonce[12], okm[44];
    unhex("01156abd78ef59f755f1e6945e5d1e2d7ddd1f1e5fe0a164b2f5fa8ad500bfba", mk, 32);
    assert_int_equal(e2ee__ratchet_message_keys(key, nonce, mk), E2EE_OK);
    unhex("16671685edbb103853d483d71df01b00426f5bc699e1e869a825eab0955603d4", want, 32);
    assert_memory_equal(key, want, 32);
    unhex("eb9ff9617130ed5fa181864d", want, 12);
    assert_memory_equal(nonce, want, 12);
    static const uint8_t zero[32];
    assert_int_equal(e2ee__hkdf_sha256(okm, 44, mk, 32, zero, 32,
                                       (const uint8_t *)"e2ee-ratchet-msg-v1", 19),
                     E2EE_OK);
    assert_memory_equal(okm, key, 32);
    assert_memory_equal(okm + 32, nonce, 12);
}

/* Scripted randomness: byte k of the stream is 0x10 + k / 32 (chunks of 32 equal bytes). */
struct script {
    size_t pos;
};

static int script_fill(void *ctx, uint8_t *buf, size_t len)
{
    struct script *s = ctx;
    for (size_t i = 0; i < len; i++, s->pos++)
        buf[i] = (uint8_t)(0x10 + s->pos / 32);
    return E2EE_OK;
}

struct vector {
    struct script sc;
    e2ee__rng rng;
    e2ee__identity *a, *b;
    e2ee__address aa, ba;
    e2ee__signed_prekey spk;
    e2ee__one_time_prekey opk;
    e2ee__prekey_bundle bundle;
};

static void vector_setup(struct vector *v)
{
    memset(v, 0, sizeof *v);
    v->rng.fill = script_fill;
    v->rng.ctx = &v->sc;
    assert_int_equal(e2ee__identity_generate(&v->a, &v->rng), E2EE_OK);
    assert_int_equal(e2ee__identity_generate(&v->b, &v->rng), E2EE_OK);
    assert_int_equal(e2ee__signed_prekey_generate(&v->spk, v->b, 7, 0, &v->rng), E2EE_OK);
    assert_int_equal(e2ee__one_time_prekeys_generate(&v->opk, 1, 9, &v->rng), E2EE_OK);
    assert_int_equal(e2ee__address_set(&v->aa, "alice", 1), E2EE_OK);
    assert_int_equal(e2ee__address_set(&v->ba, "bob", 1), E2EE_OK);
    assert_int_equal(e2ee__prekey_bundle_make(&v->bundle, &v->ba, e2ee__identity_public(v->b),
                                              &v->spk, &v->opk),
                     E2EE_OK);
    assert_int_equal(v->sc.pos, 6 * 32);
}

static void vector_cleanup(struct vector *v)
{
    e2ee__identity_free(v->a);
    e2ee__identity_free(v->b);
}

static void test_x3dh_vector(void **state)
{
    (void)state;
    struct vector v;
    uint8_t sk[32], sk_b[32], base[32], want[64];
    vector_setup(&v);
    unhex("61b493e41beb49aad96369e93e5e549227d49d94543891ba40b5cbf573694ac7"
          "55f586b67f6fac0c1556aaa741a7d6afb782c1960eee9719bb6e41268bd02909", want, 64);
    assert_memory_equal(e2ee__identity_public(v.a)->dh_sig, want, 64);
    unhex("4fcf856acd001ece428e10d93750ab21244e60b4207fa6ae57a3ca377d1d1bc8"
          "df292c98c3ff44cd6fb6c472cfccaf0d6ad551fdaf4c261d6c4317d5da39fc07", want, 64);
    assert_memory_equal(v.spk.sig, want, 64);

    assert_int_equal(e2ee__x3dh_initiator(sk, base, v.a, &v.aa, &v.bundle, &v.rng), E2EE_OK);
    unhex("f24e24a7b7d2f7d8b957eb1908210398e0f4734b4a1876cfabcf86881a132b21", want, 32);
    assert_memory_equal(sk, want, 32);
    assert_int_equal(e2ee__x3dh_responder(sk_b, v.b, &v.ba, &v.spk, &v.opk,
                                          e2ee__identity_public(v.a), &v.aa, base),
                     E2EE_OK);
    assert_memory_equal(sk_b, want, 32);
    /* without the one-time prekey the responder derives something else */
    assert_int_equal(e2ee__x3dh_responder(sk_b, v.b, &v.ba, &v.spk, NULL,
                                          e2ee__identity_public(v.a), &v.aa, base),
                     E2EE_OK);
    assert_memory_not_equal(sk_b, want, 32);
    vector_cleanup(&v);
}

static void test_first_message_vector(void **state)
{
    (void)state;
    struct vector v;
    e2ee__session_record *ra = NULL, *rb = NULL;
    uint8_t *msg = NULL, want[64];
    size_t len = 0;
    vector_setup(&v);
    assert_int_equal(e2ee__session_record_new(&ra), E2EE_OK);
    assert_int_equal(e2ee__session_initiate(ra, v.a, &v.aa, &v.bundle, &v.rng), E2EE_OK);
    assert_int_equal(e2ee__session_encrypt(ra, &v.rng, (const uint8_t *)"hello bob", 9, &msg,
                                           &len),
                     E2EE_OK);
    unhex("cbd3b9d1b4a14a691ab8afbd0096e36464d0989bdf0b404827d29474542a0ea7", want, 32);
    assert_memory_equal(ra->st[0]->r.root, want, 32);

    ProtobufCMessage *raw = NULL;
    assert_int_equal(e2ee__wire_unpack(&e2ee__pairwise_message__descriptor, msg, len, len, &raw),
                     E2EE_OK);
    const E2ee__PairwiseMessage *m = (const E2ee__PairwiseMessage *)raw;
    assert_int_equal(m->body_case, E2EE__PAIRWISE_MESSAGE__BODY_PREKEY);
    assert_int_equal(m->prekey->signed_prekey_id, 7);
    assert_int_equal(m->prekey->one_time_prekey_id, 9);
    unhex("57755834d281744ea1252abab39ebdbaa3ebfa860b0be06533", want, 25);
    assert_int_equal(m->prekey->message->ciphertext.len, 25);
    assert_memory_equal(m->prekey->message->ciphertext.data, want, 25);
    e2ee__wire_free(raw);

    /* Bob: without a prekey source he cannot find his prekeys; with one he accepts */
    e2ee__session_decrypt_result res;
    e2ee__prekey_source none = {NULL, NULL, NULL};
    e2ee__prekey_source src;
    e2ee__prekey_keys keys = {&v.spk, NULL};
    e2ee__prekey_source_from_keys(&src, &keys);
    assert_int_equal(e2ee__session_record_new(&rb), E2EE_OK);
    assert_int_equal(e2ee__session_decrypt(rb, v.b, &v.ba, &v.aa, NULL, &none, msg, len, &res),
                     E2EE_ERR_UNKNOWN_KEY);
    assert_int_equal(e2ee__session_record_state_count(rb), 0);
    /* the one-time prekey it names is missing */
    assert_int_equal(e2ee__session_decrypt(rb, v.b, &v.ba, &v.aa, NULL, &src, msg, len, &res),
                     E2EE_ERR_UNKNOWN_KEY);
    keys.opk = &v.opk;
    assert_int_equal(e2ee__session_decrypt(rb, v.b, &v.ba, &v.aa, NULL, &src, msg, len, &res),
                     E2EE_OK);
    assert_int_equal(res.plaintext_len, 9);
    assert_memory_equal(res.plaintext, "hello bob", 9);
    assert_true(res.prekey_message && res.new_session && res.used_one_time_prekey);
    assert_int_equal(res.one_time_prekey_id, 9);
    e2ee__session_decrypt_result_cleanup(&res);
    free(msg);
    e2ee__session_record_free(ra);
    e2ee__session_record_free(rb);
    vector_cleanup(&v);
}

static void test_safety_number_vector(void **state)
{
    (void)state;
    struct vector v;
    char sn[E2EE_SAFETY_NUMBER_LEN], sn2[E2EE_SAFETY_NUMBER_LEN];
    vector_setup(&v);
    assert_int_equal(e2ee__safety_number(sn, e2ee__identity_public(v.a),
                                         e2ee__identity_public(v.b)),
                     E2EE_OK);
    assert_string_equal(sn, "60304 36267 68318 91450 88751 08054 "
                            "74865 08013 70552 37712 24826 71981");
    assert_int_equal(e2ee__safety_number(sn2, e2ee__identity_public(v.b),
                                         e2ee__identity_public(v.a)),
                     E2EE_OK);
    assert_string_equal(sn, sn2);
    assert_int_equal(strlen(sn) + 1, E2EE_SAFETY_NUMBER_LEN);
    vector_cleanup(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kdf_rk),
        cmocka_unit_test(test_kdf_chain),
        cmocka_unit_test(test_x3dh_vector),
        cmocka_unit_test(test_first_message_vector),
        cmocka_unit_test(test_safety_number_vector),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
