/*
 * Wycheproof edge cases for the crypto layer (../shared/vectors/wycheproof, or the folder in
 * E2EE_WYCHEPROOF_DIR). When that folder is absent the program prints the path it looked for
 * and exits 77, which ctest reports as skipped. When it exists, every file must be there.
 *
 * "valid" vectors must pass, "invalid" ones must be rejected; for "acceptable" ones the
 * direction we take is counted and printed (X25519: an all-zero shared secret is refused
 * with E2EE_ERR_WEAK_KEY, every other acceptable case is computed like a valid one).
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "crypto/crypto.h"
#include "vectors.h"

/* numberOfTests of the files this test was written against: a changed file is noticed. */
#define WP_X25519_TESTS 518
#define WP_ED25519_TESTS 151
#define WP_AES_GCM_TESTS 316
#define WP_AES_GCM_OURS 66 /* keySize 256, ivSize 96, tagSize 128 */
#define WP_HKDF_TESTS 86
#define WP_HMAC_TESTS 174

static json_t *load(struct vt_tally *t, const char *rel, size_t expected_tests)
{
    vt_begin(t, tu_wycheproof_dir(), rel);
    json_error_t err;
    json_t *root = json_load_file(t->file, 0, &err);
    if (!root)
        fail_msg("cannot load %s: %s (line %d)", t->file, err.text, err.line);
    json_int_t n = json_integer_value(json_object_get(root, "numberOfTests"));
    size_t counted = 0, gi;
    json_t *g;
    json_array_foreach(json_object_get(root, "testGroups"), gi, g)
        counted += json_array_size(json_object_get(g, "tests"));
    if ((size_t)n != expected_tests || counted != expected_tests)
        fail_msg("%s: numberOfTests %lld, %zu tests in groups, expected %zu", t->file,
                 (long long)n, counted, expected_tests);
    return root;
}

static const char *jstr(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    if (!s)
        fail_msg("vector lacks string field %s", key);
    return s;
}

static uint8_t *jhex(const json_t *o, const char *key, size_t *len)
{
    return vt_hex(jstr(o, key), len);
}

static int jint(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v))
        fail_msg("vector lacks integer field %s", key);
    return (int)json_integer_value(v);
}

enum wp_result { WP_VALID, WP_INVALID, WP_ACCEPTABLE };

static enum wp_result jresult(const json_t *test)
{
    const char *r = jstr(test, "result");
    if (strcmp(r, "valid") == 0)
        return WP_VALID;
    if (strcmp(r, "invalid") == 0)
        return WP_INVALID;
    if (strcmp(r, "acceptable") == 0)
        return WP_ACCEPTABLE;
    fail_msg("unknown result %s", r);
    return WP_INVALID;
}

static void tc_id(char *buf, size_t n, const json_t *test)
{
    snprintf(buf, n, "tcId %d", jint(test, "tcId"));
}

/* ---- X25519 ---- */

static void test_wp_x25519(void **state)
{
    (void)state;
    struct vt_tally t;
    json_t *root = load(&t, "x25519_test.json", WP_X25519_TESTS), *g, *test;
    size_t gi, ti;
    unsigned weak = 0;
    json_array_foreach(json_object_get(root, "testGroups"), gi, g) {
        if (strcmp(jstr(g, "curve"), "curve25519") != 0) {
            t.na += (unsigned)json_array_size(json_object_get(g, "tests"));
            continue;
        }
        json_array_foreach(json_object_get(g, "tests"), ti, test) {
            char id[32];
            tc_id(id, sizeof id, test);
            uint8_t pub[32], priv[32], want[32], got[32];
            vt_hex_exact(jstr(test, "public"), pub, 32);
            vt_hex_exact(jstr(test, "private"), priv, 32);
            vt_hex_exact(jstr(test, "shared"), want, 32);
            enum wp_result res = jresult(test);
            memset(got, 0xa5, sizeof got);
            int rc = e2ee__x25519(got, priv, pub);
            int computed = rc == E2EE_OK && memcmp(got, want, 32) == 0;
            /* our documented refusal: all-zero shared secret, output left zeroed */
            int refused = rc == E2EE_ERR_WEAK_KEY && vt_all_zero(want, 32) &&
                          vt_all_zero(got, 32);
            weak += refused;
            if (res == WP_ACCEPTABLE) {
                t.acc_accepted += computed;
                t.acc_rejected += refused;
            }
            int ok = res == WP_VALID ? computed : res == WP_INVALID ? rc != E2EE_OK
                                                                    : computed || refused;
            vt_result(&t, ok, id, "result %s, rc %d", jstr(test, "result"), rc);
        }
    }
    json_decref(root);
    printf("x25519_test.json: %u refused with E2EE_ERR_WEAK_KEY (expected all-zero shared "
           "secret)\n", weak);
    vt_finish(&t);
    assert_int_equal(t.ran, WP_X25519_TESTS);
}

/* ---- Ed25519 (verification) ---- */

static void test_wp_ed25519(void **state)
{
    (void)state;
    struct vt_tally t;
    json_t *root = load(&t, "ed25519_test.json", WP_ED25519_TESTS), *g, *test;
    size_t gi, ti;
    unsigned by_length = 0;
    json_array_foreach(json_object_get(root, "testGroups"), gi, g) {
        uint8_t pk[32];
        vt_hex_exact(jstr(json_object_get(g, "publicKey"), "pk"), pk, 32);
        json_array_foreach(json_object_get(g, "tests"), ti, test) {
            char id[32];
            tc_id(id, sizeof id, test);
            size_t msglen, siglen;
            uint8_t *msg = jhex(test, "msg", &msglen), *sig = jhex(test, "sig", &siglen);
            enum wp_result res = jresult(test);
            int accepted, rc = 0;
            if (siglen != E2EE_ED25519_SIG_LEN) {
                /* our API takes exactly 64 bytes: the caller's length check refuses it */
                accepted = 0;
                by_length++;
            } else {
                rc = e2ee__ed25519_verify(sig, msg, msglen, pk);
                accepted = rc == E2EE_OK;
                if (!accepted && rc != E2EE_ERR_AUTH)
                    accepted = -1; /* refused, but not with the authentication code */
            }
            if (res == WP_ACCEPTABLE) {
                t.acc_accepted += accepted == 1;
                t.acc_rejected += accepted == 0;
            }
            int ok = accepted >= 0 && (res == WP_VALID     ? accepted == 1
                                       : res == WP_INVALID ? accepted == 0
                                                           : 1);
            vt_result(&t, ok, id, "result %s, rc %d, siglen %zu", jstr(test, "result"), rc,
                      siglen);
            free(msg);
            free(sig);
        }
    }
    json_decref(root);
    printf("ed25519_test.json: %u invalid signatures refused by length (not 64 bytes)\n",
           by_length);
    vt_finish(&t);
    assert_int_equal(t.ran, WP_ED25519_TESTS);
}

/* ---- AES-GCM (256-bit key, 96-bit IV, 128-bit tag groups) ---- */

struct wp_gcm {
    uint8_t key[32], iv[12], tag[16];
    uint8_t *aad, *msg, *ct;
    size_t aadlen, msglen, ctlen;
};

static const char *wp_gcm_case(const struct wp_gcm *v, enum wp_result res)
{
    const char *why = NULL;
    size_t n = v->ctlen;
    uint8_t *in = malloc(n + 16), *sealed = malloc(n + 16), *opened = malloc(n + 1);
    assert_true(in && sealed && opened);
    memcpy(in, v->ct, n);
    memcpy(in + n, v->tag, 16);
    memset(opened, 0xa5, n + 1);
    int rc = e2ee__aead_open(opened, v->key, v->iv, v->aad, v->aadlen, in, n + 16);
    if (res == WP_VALID) {
        if (v->msglen != n)
            why = "msg and ct lengths differ";
        else if (rc != E2EE_OK || memcmp(opened, v->msg, n) != 0)
            why = "open refused or gave another plaintext";
        else if (e2ee__aead_seal(sealed, v->key, v->iv, v->aad, v->aadlen, v->msg, n) ||
                 memcmp(sealed, in, n + 16) != 0)
            why = "seal gave another ciphertext or tag";
    } else if (res == WP_INVALID) {
        if (rc != E2EE_ERR_AUTH)
            why = "open of an invalid case did not return E2EE_ERR_AUTH";
        else if (!vt_all_zero(opened, n) || opened[n] != 0xa5)
            why = "failed open did not wipe exactly the output";
    } else {
        why = "no acceptable AES-GCM cases expected";
    }
    free(in);
    free(sealed);
    free(opened);
    return why;
}

static void test_wp_aes_gcm(void **state)
{
    (void)state;
    struct vt_tally t;
    json_t *root = load(&t, "aes_gcm_test.json", WP_AES_GCM_TESTS), *g, *test;
    size_t gi, ti;
    json_array_foreach(json_object_get(root, "testGroups"), gi, g) {
        if (jint(g, "keySize") != 256 || jint(g, "ivSize") != 96 || jint(g, "tagSize") != 128) {
            t.na += (unsigned)json_array_size(json_object_get(g, "tests"));
            continue;
        }
        json_array_foreach(json_object_get(g, "tests"), ti, test) {
            char id[32];
            tc_id(id, sizeof id, test);
            struct wp_gcm v;
            vt_hex_exact(jstr(test, "key"), v.key, 32);
            vt_hex_exact(jstr(test, "iv"), v.iv, 12);
            vt_hex_exact(jstr(test, "tag"), v.tag, 16);
            v.aad = jhex(test, "aad", &v.aadlen);
            v.msg = jhex(test, "msg", &v.msglen);
            v.ct = jhex(test, "ct", &v.ctlen);
            const char *why = wp_gcm_case(&v, jresult(test));
            vt_result(&t, why == NULL, id, "%s", why ? why : "");
            free(v.aad);
            free(v.msg);
            free(v.ct);
        }
    }
    json_decref(root);
    vt_finish(&t);
    assert_int_equal(t.ran, WP_AES_GCM_OURS);
    assert_int_equal(t.ran + t.na, WP_AES_GCM_TESTS);
}

/* ---- HKDF-SHA-256 ---- */

static void test_wp_hkdf(void **state)
{
    (void)state;
    struct vt_tally t;
    json_t *root = load(&t, "hkdf_sha256_test.json", WP_HKDF_TESTS), *g, *test;
    size_t gi, ti;
    unsigned over_out = 0, over_info = 0, empty_salt = 0;
    json_array_foreach(json_object_get(root, "testGroups"), gi, g) {
        json_array_foreach(json_object_get(g, "tests"), ti, test) {
            char id[32];
            tc_id(id, sizeof id, test);
            size_t ikmlen, saltlen, infolen, okmlen, size = (size_t)jint(test, "size");
            uint8_t *ikm = jhex(test, "ikm", &ikmlen), *salt = jhex(test, "salt", &saltlen);
            uint8_t *info = jhex(test, "info", &infolen), *okm = jhex(test, "okm", &okmlen);
            uint8_t *out = malloc(size + 1);
            assert_non_null(out);
            memset(out, 0xa5, size + 1);
            enum wp_result res = jresult(test);
            int rc = e2ee__hkdf_sha256(out, size, ikm, ikmlen, salt, saltlen, info, infolen);
            int derived = rc == E2EE_OK && okmlen == size && memcmp(out, okm, size) == 0;
            /* documented refusals: output over 255*32 bytes, info over 1024 bytes; both
             * E2EE_ERR_LENGTH with the output wiped */
            int capped = size > E2EE_HKDF_MAX_OUT || infolen > E2EE_HKDF_INFO_MAX;
            int refused = rc == E2EE_ERR_LENGTH && vt_all_zero(out, size) && out[size] == 0xa5;
            over_out += size > E2EE_HKDF_MAX_OUT;
            if (infolen > E2EE_HKDF_INFO_MAX) {
                over_info++;
                printf("%s: %s (%s) has %zu bytes of info, over our cap of %d\n", t.file, id,
                       jstr(test, "result"), infolen, E2EE_HKDF_INFO_MAX);
            }
            empty_salt += saltlen == 0 && res == WP_VALID && derived;
            int ok = capped ? refused : res == WP_VALID ? derived : rc != E2EE_OK;
            if (res == WP_INVALID && !capped)
                ok = ok && vt_all_zero(out, size);
            vt_result(&t, ok, id, "result %s, rc %d, size %zu", jstr(test, "result"), rc, size);
            free(ikm);
            free(salt);
            free(info);
            free(okm);
            free(out);
        }
    }
    json_decref(root);
    printf("hkdf_sha256_test.json: %u refused for output over %d bytes (E2EE_ERR_LENGTH), "
           "%u over the %d-byte info cap, %u valid with an empty salt\n",
           over_out, E2EE_HKDF_MAX_OUT, over_info, E2EE_HKDF_INFO_MAX, empty_salt);
    vt_finish(&t);
    assert_int_equal(t.ran, WP_HKDF_TESTS);
    assert_int_equal(over_info, 0); /* a valid vector over our info cap must be reported */
}

/* ---- HMAC-SHA-256 (tags truncated to tagSize bits) ---- */

static void test_wp_hmac(void **state)
{
    (void)state;
    struct vt_tally t;
    json_t *root = load(&t, "hmac_sha256_test.json", WP_HMAC_TESTS), *g, *test;
    size_t gi, ti;
    unsigned truncated = 0;
    json_array_foreach(json_object_get(root, "testGroups"), gi, g) {
        size_t tagbytes = (size_t)jint(g, "tagSize") / 8;
        if (tagbytes == 0 || tagbytes > E2EE_SHA256_LEN)
            fail_msg("%s: tagSize %zu bytes", t.file, tagbytes);
        json_array_foreach(json_object_get(g, "tests"), ti, test) {
            char id[32];
            tc_id(id, sizeof id, test);
            size_t keylen, msglen, taglen;
            uint8_t *key = jhex(test, "key", &keylen), *msg = jhex(test, "msg", &msglen);
            uint8_t *tag = jhex(test, "tag", &taglen), got[32];
            enum wp_result res = jresult(test);
            int rc = e2ee__hmac_sha256(got, key, keylen, msg, msglen);
            int match = rc == E2EE_OK && taglen == tagbytes &&
                        e2ee__ct_equal(got, tag, tagbytes);
            truncated += tagbytes < E2EE_SHA256_LEN;
            int ok = rc == E2EE_OK && (res == WP_VALID ? match : res == WP_INVALID ? !match : 1);
            vt_result(&t, ok, id, "result %s, rc %d", jstr(test, "result"), rc);
            free(key);
            free(msg);
            free(tag);
        }
    }
    json_decref(root);
    printf("hmac_sha256_test.json: %u vectors with truncated tags\n", truncated);
    vt_finish(&t);
    assert_int_equal(t.ran, WP_HMAC_TESTS);
}

int main(void)
{
    const char *dir = tu_wycheproof_dir();
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        printf("SKIP: no Wycheproof vectors at %s (set E2EE_WYCHEPROOF_DIR to run these "
               "tests)\n", dir);
        return TU_SKIP;
    }
    printf("Wycheproof vectors from %s\n", dir);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wp_x25519), cmocka_unit_test(test_wp_ed25519),
        cmocka_unit_test(test_wp_aes_gcm), cmocka_unit_test(test_wp_hkdf),
        cmocka_unit_test(test_wp_hmac),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
