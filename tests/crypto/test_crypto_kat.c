/*
 * Known-answer tests of the crypto layer against Debian's python3-cryptography-vectors
 * (always present: the set-up installs it). One cmocka test per vector file; each prints
 * how many vectors ran and passed and fails when its file is missing or none ran.
 */
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "vectors.h"

static const char *vdir(void) { return tu_cryptography_vectors_dir(); }

static void open_rsp(struct tu_rsp *r, const struct vt_tally *t)
{
    if (tu_rsp_open(r, t->file) != 0)
        fail_msg("missing vector file %s (package python3-cryptography-vectors)", t->file);
}

/* ---- X25519: RFC 7748 section 5.2 ---- */

static void test_x25519_rfc7748(void **state)
{
    (void)state;
    struct vt_tally t;
    struct tu_rsp r;
    vt_begin(&t, vdir(), "asymmetric/X25519/rfc7748.txt");
    open_rsp(&r, &t);
    while (tu_rsp_next(&r)) {
        const char *id = tu_rsp_get(&r, "COUNT");
        uint8_t k[32], u[32], want[32], got[32];
        vt_hex_exact(tu_rsp_get(&r, "INPUT_SCALAR"), k, 32);
        vt_hex_exact(tu_rsp_get(&r, "INPUT_U"), u, 32);
        vt_hex_exact(tu_rsp_get(&r, "OUTPUT_U"), want, 32);
        int rc = e2ee__x25519(got, k, u);
        vt_result(&t, rc == E2EE_OK && memcmp(got, want, 32) == 0, id ? id : "?", "rc %d", rc);
    }
    tu_rsp_close(&r);
    vt_finish(&t);
}

/* RFC 7748 5.2 iterated test (1,000 rounds) and the 6.1 Diffie-Hellman example. */
static void test_x25519_rfc7748_iterated_and_dh(void **state)
{
    (void)state;
    uint8_t k[32] = {9}, u[32] = {9}, r[32], want[32];
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(e2ee__x25519(r, k, u), E2EE_OK);
        memcpy(u, k, 32);
        memcpy(k, r, 32);
    }
    vt_hex_exact("684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51", want, 32);
    assert_memory_equal(k, want, 32);

    uint8_t a[32], b[32], apub[32], bpub[32], s1[32], s2[32];
    vt_hex_exact("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", a, 32);
    vt_hex_exact("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb", b, 32);
    assert_int_equal(e2ee__x25519_public(apub, a), E2EE_OK);
    assert_int_equal(e2ee__x25519_public(bpub, b), E2EE_OK);
    vt_hex_exact("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", want, 32);
    assert_memory_equal(apub, want, 32);
    vt_hex_exact("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f", want, 32);
    assert_memory_equal(bpub, want, 32);
    assert_int_equal(e2ee__x25519(s1, a, bpub), E2EE_OK);
    assert_int_equal(e2ee__x25519(s2, b, apub), E2EE_OK);
    vt_hex_exact("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742", want, 32);
    assert_memory_equal(s1, want, 32);
    assert_memory_equal(s2, want, 32);
    printf("RFC 7748 5.2 iterated (1000 rounds) and 6.1 DH example: passed\n");
}

/* ---- Ed25519: sign.input (sk||pk : pk : msg : sig||msg :) ---- */

/* Splits line at ':' into at most n fields (empty fields kept). Returns the field count. */
static size_t split_colon(char *line, char **f, size_t n)
{
    size_t k = 0;
    char *p = line;
    while (k < n) {
        f[k++] = p;
        char *c = strchr(p, ':');
        if (!c)
            break;
        *c = 0;
        p = c + 1;
    }
    return k;
}

/* Signs and verifies one sign.input line; returns a reason string or NULL when it passed. */
static const char *ed25519_line(char *line, unsigned no)
{
    char *f[5];
    line[strcspn(line, "\r\n")] = 0;
    if (split_colon(line, f, 5) < 4)
        return "malformed line";
    uint8_t sk[64], pk[32], sig[64], got_pk[32], got_sk[64];
    size_t msglen = 0, smlen = 0;
    vt_hex_exact(f[0], sk, 64);
    vt_hex_exact(f[1], pk, 32);
    uint8_t *msg = vt_hex(f[2], &msglen);
    uint8_t *sm = vt_hex(f[3], &smlen);
    const char *why = NULL;
    if (smlen != 64 + msglen || memcmp(sm + 64, msg, msglen) != 0) {
        why = "sig||msg field does not end with msg";
        goto done;
    }
    memcpy(sig, sm, 64);
    if (e2ee__ed25519_seed_keypair(got_pk, got_sk, sk) != E2EE_OK ||
        memcmp(got_pk, pk, 32) != 0 || memcmp(got_sk, sk, 64) != 0) {
        why = "seed_keypair gave another key pair";
        goto done;
    }
    uint8_t got_sig[64];
    if (e2ee__ed25519_sign(got_sig, msg, msglen, sk) != E2EE_OK || memcmp(got_sig, sig, 64)) {
        why = "sign gave another signature";
        goto done;
    }
    if (e2ee__ed25519_verify(sig, msg, msglen, pk) != E2EE_OK) {
        why = "verify refused the signature";
        goto done;
    }
    /* one flipped bit, in the signature and (when there is one) in the message */
    sig[(no / 8) % 64] ^= (uint8_t)(1u << (no % 8));
    if (e2ee__ed25519_verify(sig, msg, msglen, pk) != E2EE_ERR_AUTH) {
        why = "verify accepted a signature with a flipped bit";
        goto done;
    }
    sig[(no / 8) % 64] ^= (uint8_t)(1u << (no % 8));
    if (msglen) {
        msg[no % msglen] ^= 0x01;
        if (e2ee__ed25519_verify(sig, msg, msglen, pk) != E2EE_ERR_AUTH)
            why = "verify accepted a message with a flipped bit";
    }
done:
    free(msg);
    free(sm);
    return why;
}

static void test_ed25519_sign_input(void **state)
{
    (void)state;
    struct vt_tally t;
    vt_begin(&t, vdir(), "asymmetric/Ed25519/sign.input");
    FILE *f = fopen(t.file, "r");
    if (!f)
        fail_msg("missing vector file %s", t.file);
    char *line = NULL;
    size_t cap = 0;
    unsigned no = 0;
    while (getline(&line, &cap, f) > 0) {
        if (line[0] == '\n' || line[0] == '#')
            continue;
        no++;
        char id[16];
        snprintf(id, sizeof id, "line %u", no);
        const char *why = ed25519_line(line, no);
        vt_result(&t, why == NULL, id, "%s", why ? why : "");
    }
    free(line);
    fclose(f);
    vt_finish(&t);
    assert_int_equal(t.ran, 1024);
}

/* ---- AES-256-GCM: NIST CAVP ---- */

struct gcm_vec {
    uint8_t key[32], iv[16], tag[16];
    uint8_t *pt, *aad, *ct;
    size_t ivlen, taglen, ptlen, aadlen, ctlen;
    int expect_fail;
};

static void gcm_free(struct gcm_vec *v)
{
    free(v->pt);
    free(v->aad);
    free(v->ct);
}

/* Reads the current block; returns 0 when it is not a test case (no Key). */
static int gcm_read(const struct tu_rsp *r, struct gcm_vec *v)
{
    memset(v, 0, sizeof *v);
    if (!tu_rsp_get(r, "Key"))
        return 0;
    vt_hex_exact(tu_rsp_get(r, "Key"), v->key, 32);
    uint8_t *iv = vt_hex(tu_rsp_get(r, "IV"), &v->ivlen);
    uint8_t *tag = vt_hex(tu_rsp_get(r, "Tag"), &v->taglen);
    if (v->ivlen <= sizeof v->iv)
        memcpy(v->iv, iv, v->ivlen);
    if (v->taglen <= sizeof v->tag)
        memcpy(v->tag, tag, v->taglen);
    free(iv);
    free(tag);
    v->aad = vt_hex(tu_rsp_get(r, "AAD"), &v->aadlen);
    v->ct = vt_hex(tu_rsp_get(r, "CT"), &v->ctlen);
    v->expect_fail = tu_rsp_get(r, "FAIL") != NULL;
    v->pt = v->expect_fail ? calloc(1, 1) : vt_hex(tu_rsp_get(r, "PT"), &v->ptlen);
    return 1;
}

/* Seals (unless a FAIL case) and opens one vector; returns NULL when it behaved. */
static const char *gcm_check(const struct gcm_vec *v)
{
    const char *why = NULL;
    size_t n = v->ctlen;
    uint8_t *sealed = malloc(n + 16), *opened = malloc(n + 1), *input = malloc(n + 16);
    assert_non_null(sealed);
    assert_non_null(opened);
    assert_non_null(input);
    memcpy(input, v->ct, n);
    memcpy(input + n, v->tag, 16);
    if (!v->expect_fail) {
        if (v->ptlen != n)
            why = "PT and CT lengths differ";
        else if (e2ee__aead_seal(sealed, v->key, v->iv, v->aad, v->aadlen, v->pt, n) != E2EE_OK)
            why = "seal failed";
        else if (memcmp(sealed, input, n + 16) != 0)
            why = "seal gave another ciphertext or tag";
        else if (e2ee__aead_open(opened, v->key, v->iv, v->aad, v->aadlen, input, n + 16))
            why = "open refused a valid ciphertext";
        else if (memcmp(opened, v->pt, n) != 0)
            why = "open gave another plaintext";
    } else {
        memset(opened, 0xa5, n + 1);
        int rc = e2ee__aead_open(opened, v->key, v->iv, v->aad, v->aadlen, input, n + 16);
        if (rc != E2EE_ERR_AUTH)
            why = "open of a FAIL case did not return E2EE_ERR_AUTH";
        else if (!vt_all_zero(opened, n) || opened[n] != 0xa5)
            why = "failed open did not wipe exactly the output";
    }
    free(sealed);
    free(opened);
    free(input);
    return why;
}

static void gcm_file(const char *rel)
{
    struct vt_tally t;
    struct tu_rsp r;
    vt_begin(&t, vdir(), rel);
    open_rsp(&r, &t);
    unsigned fails = 0;
    while (tu_rsp_next(&r)) {
        struct gcm_vec v;
        if (!gcm_read(&r, &v))
            continue;
        if (v.ivlen != E2EE_AEAD_NONCE_LEN || v.taglen != E2EE_AEAD_TAG_LEN) {
            t.na++;
        } else {
            char id[300];
            snprintf(id, sizeof id, "line %u Count %s", r.line_no, tu_rsp_get(&r, "Count"));
            const char *why = gcm_check(&v);
            fails += v.expect_fail;
            vt_result(&t, why == NULL, id, "%s", why ? why : "");
        }
        gcm_free(&v);
    }
    tu_rsp_close(&r);
    printf("%s: %u of the vectors run are FAIL cases (open must return E2EE_ERR_AUTH)\n",
           rel, fails);
    vt_finish(&t);
}

static void test_gcm_encrypt_256(void **state)
{
    (void)state;
    gcm_file("ciphers/AES/GCM/gcmEncryptExtIV256.rsp");
}

static void test_gcm_decrypt_256(void **state)
{
    (void)state;
    gcm_file("ciphers/AES/GCM/gcmDecrypt256.rsp");
}

/* ---- HMAC-SHA-256: RFC 4231 ---- */

static void test_hmac_rfc4231(void **state)
{
    (void)state;
    struct vt_tally t;
    struct tu_rsp r;
    vt_begin(&t, vdir(), "HMAC/rfc-4231-sha256.txt");
    open_rsp(&r, &t);
    while (tu_rsp_next(&r)) {
        if (!tu_rsp_get(&r, "Key"))
            continue;
        size_t klen, mlen;
        uint8_t *key = vt_hex(tu_rsp_get(&r, "Key"), &klen);
        uint8_t *msg = vt_hex(tu_rsp_get(&r, "Msg"), &mlen);
        uint8_t want[32], got[32];
        vt_hex_exact(tu_rsp_get(&r, "MD"), want, 32);
        int rc = e2ee__hmac_sha256(got, key, klen, msg, mlen);
        char id[32];
        snprintf(id, sizeof id, "line %u", r.line_no);
        vt_result(&t, rc == E2EE_OK && memcmp(got, want, 32) == 0, id, "rc %d", rc);
        free(key);
        free(msg);
    }
    tu_rsp_close(&r);
    vt_finish(&t);
}

/* ---- HKDF-SHA-256: RFC 5869 and generated ---- */

/*
 * The HKDF files split one vector over several blank-line separated blocks (COUNT alone,
 * then the fields), so fields are gathered until the next COUNT.
 */
#define HKDF_FIELDS 5
static const char *const k_hkdf_keys[HKDF_FIELDS] = {"IKM", "salt", "info", "L", "OKM"};

struct hkdf_rec {
    char count[32];
    char *field[HKDF_FIELDS];
    char *prk; /* optional */
};

static void hkdf_rec_clear(struct hkdf_rec *h)
{
    for (size_t i = 0; i < HKDF_FIELDS; i++)
        free(h->field[i]);
    free(h->prk);
    memset(h, 0, sizeof *h);
}

static void hkdf_check(struct vt_tally *t, const struct hkdf_rec *h)
{
    for (size_t i = 0; i < HKDF_FIELDS; i++) {
        if (!h->field[i])
            fail_msg("%s COUNT %s: no %s", t->file, h->count, k_hkdf_keys[i]);
    }
    size_t ikmlen, saltlen, infolen, okmlen;
    uint8_t *ikm = vt_hex(h->field[0], &ikmlen), *salt = vt_hex(h->field[1], &saltlen);
    uint8_t *info = vt_hex(h->field[2], &infolen), *okm = vt_hex(h->field[4], &okmlen);
    size_t L = strtoul(h->field[3], NULL, 10);
    uint8_t *out = malloc(L + 1);
    assert_non_null(out);
    const char *why = NULL;
    int rc = e2ee__hkdf_sha256(out, L, ikm, ikmlen, salt, saltlen, info, infolen);
    if (okmlen != L)
        why = "OKM length is not L";
    else if (rc != E2EE_OK)
        why = "hkdf failed";
    else if (memcmp(out, okm, L) != 0)
        why = "hkdf gave another OKM";
    if (!why && h->prk) {
        /* PRK = HMAC(salt, IKM) (RFC 5869 2.2): cross-checks the HMAC with an empty key;
         * OKM = HKDF-Expand(PRK, info, L) checks the Expand-only entry point */
        uint8_t prk[32], got[32];
        vt_hex_exact(h->prk, prk, 32);
        memset(out, 0, L);
        if (e2ee__hmac_sha256(got, salt, saltlen, ikm, ikmlen) != E2EE_OK ||
            memcmp(got, prk, 32) != 0)
            why = "HMAC(salt, IKM) is not PRK";
        else if (e2ee__hkdf_sha256_expand(out, L, prk, 32, info, infolen) != E2EE_OK ||
                 memcmp(out, okm, L) != 0)
            why = "HKDF-Expand(PRK, info) is not OKM";
        else
            t->expand_checked++;
    }
    vt_result(t, why == NULL, h->count, "%s (rc %d, L %zu)", why ? why : "", rc, L);
    free(ikm);
    free(salt);
    free(info);
    free(okm);
    free(out);
}

/* Returns how many vectors also checked HKDF-Expand alone (those with a PRK). */
static unsigned hkdf_file(const char *rel)
{
    struct vt_tally t;
    struct tu_rsp r;
    struct hkdf_rec h;
    memset(&h, 0, sizeof h);
    vt_begin(&t, vdir(), rel);
    open_rsp(&r, &t);
    while (tu_rsp_next(&r)) {
        const char *count = tu_rsp_get(&r, "COUNT");
        if (count) {
            if (h.count[0])
                hkdf_check(&t, &h);
            hkdf_rec_clear(&h);
            snprintf(h.count, sizeof h.count, "COUNT %s", count);
        }
        const char *hash = tu_rsp_get(&r, "Hash");
        if (hash && strcmp(hash, "SHA-256") != 0)
            fail_msg("%s: unexpected hash %s", rel, hash);
        for (size_t i = 0; i < HKDF_FIELDS; i++) {
            const char *v = tu_rsp_get(&r, k_hkdf_keys[i]);
            if (v) {
                free(h.field[i]);
                h.field[i] = strdup(v);
            }
        }
        const char *prk = tu_rsp_get(&r, "PRK");
        if (prk) {
            free(h.prk);
            h.prk = strdup(prk);
        }
    }
    if (h.count[0])
        hkdf_check(&t, &h);
    hkdf_rec_clear(&h);
    tu_rsp_close(&r);
    vt_finish(&t);
    return t.expand_checked;
}

static void test_hkdf_rfc5869(void **state)
{
    (void)state;
    assert_int_equal(hkdf_file("KDF/rfc-5869-HKDF-SHA256.txt"), 3); /* all three have a PRK */
}

static void test_hkdf_generated(void **state)
{
    (void)state;
    (void)hkdf_file("KDF/hkdf-generated.txt");
}

/* ---- SHA-256: NIST CAVP short and long messages ---- */

static void sha_file(const char *rel)
{
    struct vt_tally t;
    struct tu_rsp r;
    vt_begin(&t, vdir(), rel);
    open_rsp(&r, &t);
    while (tu_rsp_next(&r)) {
        const char *lenbits = tu_rsp_get(&r, "Len");
        if (!lenbits)
            continue;
        size_t bits = strtoul(lenbits, NULL, 10), mlen;
        if (bits % 8)
            fail_msg("%s: bit-oriented message (Len %zu)", rel, bits);
        uint8_t *msg = vt_hex(tu_rsp_get(&r, "Msg"), &mlen);
        uint8_t want[32], got[32], got2[32];
        vt_hex_exact(tu_rsp_get(&r, "MD"), want, 32);
        size_t n = bits / 8;
        const char *why = NULL;
        if (n > mlen)
            why = "Msg shorter than Len";
        else if (e2ee__sha256(got, msg, n) != E2EE_OK || memcmp(got, want, 32) != 0)
            why = "sha256 gave another digest";
        else {
            /* the same message in two parts (split in the middle) */
            const uint8_t *parts[2] = {msg, msg + n / 2};
            size_t lens[2] = {n / 2, n - n / 2};
            if (e2ee__sha256_parts(got2, parts, lens, 2) != E2EE_OK || memcmp(got2, want, 32))
                why = "sha256_parts gave another digest";
        }
        char id[32];
        snprintf(id, sizeof id, "Len %zu", bits);
        vt_result(&t, why == NULL, id, "%s", why ? why : "");
        free(msg);
    }
    tu_rsp_close(&r);
    vt_finish(&t);
}

static void test_sha256_short(void **state)
{
    (void)state;
    sha_file("hashes/SHA2/SHA256ShortMsg.rsp");
}

static void test_sha256_long(void **state)
{
    (void)state;
    sha_file("hashes/SHA2/SHA256LongMsg.rsp");
}

int main(void)
{
    printf("cryptography vectors from %s\n", vdir());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_x25519_rfc7748),
        cmocka_unit_test(test_x25519_rfc7748_iterated_and_dh),
        cmocka_unit_test(test_ed25519_sign_input),
        cmocka_unit_test(test_gcm_encrypt_256),
        cmocka_unit_test(test_gcm_decrypt_256),
        cmocka_unit_test(test_hmac_rfc4231),
        cmocka_unit_test(test_hkdf_rfc5869),
        cmocka_unit_test(test_hkdf_generated),
        cmocka_unit_test(test_sha256_short),
        cmocka_unit_test(test_sha256_long),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
