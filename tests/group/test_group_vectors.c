/*
 * docs/PROTOCOL.md part 2 against an independent implementation: the vectors in
 * group_vectors.txt come from gen_group_vectors.py (Python, `cryptography`, a hand-written
 * protobuf encoder) written from the document. This library must produce the same chain
 * keys, seeds, AES keys, nonces, associated data, messages (signatures included: Ed25519 is
 * deterministic), distribution, own-key blob and record blob, and open the Python messages.
 */
#include "group_test.h"

struct vec {
    struct tu_rsp rsp;
    e2ee__sender_key origin; /* the vector's sender key at iteration 0 */
};

static uint8_t *hex_field(const struct tu_rsp *r, const char *key, size_t *len)
{
    const char *v = tu_rsp_get(r, key);
    if (!v)
        fail_msg("vector field %s missing (line %u)", key, r->line_no);
    uint8_t *out;
    assert_int_equal(tu_hex(v, &out, len), 0);
    return out;
}

static void assert_hex(const struct tu_rsp *r, const char *key, const uint8_t *got, size_t len)
{
    size_t n;
    uint8_t *want = hex_field(r, key, &n);
    assert_int_equal(len, n);
    assert_memory_equal(got, want, n);
    free(want);
}

static void load_common(struct vec *v)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/group/group_vectors.txt", tu_source_dir());
    assert_int_equal(tu_rsp_open(&v->rsp, path), 0);
    assert_int_equal(tu_rsp_next(&v->rsp), 1);
    size_t glen, ulen, n;
    uint8_t *g = hex_field(&v->rsp, "GROUP", &glen), *u = hex_field(&v->rsp, "USER", &ulen);
    e2ee__sender_key *k = &v->origin;
    memset(k, 0, sizeof *k);
    assert_int_equal(e2ee__group_sender_set_bytes(&k->who, g, glen, u, ulen,
                                                  (uint32_t)atoi(tu_rsp_get(&v->rsp, "DEVICE"))),
                     E2EE_OK);
    k->epoch = strtoull(tu_rsp_get(&v->rsp, "EPOCH"), NULL, 10);
    k->key_id = (uint32_t)strtoul(tu_rsp_get(&v->rsp, "KEYID"), NULL, 10);
    uint8_t *ck = hex_field(&v->rsp, "CK0", &n), *seed = hex_field(&v->rsp, "SIGNSEED", &n);
    memcpy(k->chain_key, ck, sizeof k->chain_key);
    assert_int_equal(e2ee__ed25519_seed_keypair(k->signing_pk, k->signing_sk, seed), E2EE_OK);
    assert_hex(&v->rsp, "SIGNPUB", k->signing_pk, sizeof k->signing_pk);
    free(g);
    free(u);
    free(ck);
    free(seed);
}

/* One [message] block: every intermediate value, then the message bytes. */
static void check_message(struct vec *v, e2ee__sender_key_record *py_reader,
                          e2ee__sender_key_record *c_reader)
{
    uint32_t it = (uint32_t)strtoul(tu_rsp_get(&v->rsp, "ITERATION"), NULL, 10);
    e2ee__sender_key k = v->origin;
    gt_skip(&k, it);
    assert_hex(&v->rsp, "CK", k.chain_key, sizeof k.chain_key);
    uint8_t seed[32], next[32], key[32], nonce[12], ad[E2EE_GROUP_AD_MAX];
    assert_int_equal(e2ee__sender_chain_step(k.chain_key, seed, next), E2EE_OK);
    assert_hex(&v->rsp, "SEED", seed, sizeof seed);
    assert_hex(&v->rsp, "NEXT", next, sizeof next);
    assert_int_equal(e2ee__sender_message_keys(seed, key, nonce), E2EE_OK);
    assert_hex(&v->rsp, "KEY", key, sizeof key);
    assert_hex(&v->rsp, "NONCE", nonce, sizeof nonce);
    size_t adlen = e2ee__group_ad(ad, &k.who, k.key_id, it, k.epoch);
    assert_hex(&v->rsp, "AD", ad, adlen);
    size_t ptlen, mlen, outlen, got_len;
    uint8_t *pt = hex_field(&v->rsp, "PLAINTEXT", &ptlen), *out, *got;
    uint8_t *msg = hex_field(&v->rsp, "MESSAGE", &mlen);
    assert_int_equal(e2ee__group_encrypt(&k, pt, ptlen, &out, &outlen), E2EE_OK);
    assert_int_equal(outlen, mlen);
    assert_memory_equal(out, msg, mlen);
    /* the Python message opens here, and ours opens as well (same bytes, other record) */
    assert_int_equal(e2ee__group_decrypt(py_reader, msg, mlen, 1000, &got, &got_len), E2EE_OK);
    assert_int_equal(got_len, ptlen);
    assert_memory_equal(got, pt, ptlen);
    e2ee__sender_key_buf_free(got, got_len);
    assert_int_equal(e2ee__group_decrypt(c_reader, out, outlen, 1000, &got, &got_len), E2EE_OK);
    e2ee__sender_key_buf_free(got, got_len);
    e2ee__sender_key_buf_free(out, outlen);
    free(pt);
    free(msg);
    e2ee__wipe(&k, sizeof k);
}

static e2ee__sender_key_record *reader(const struct vec *v)
{
    e2ee__sender_key_record *r = NULL;
    assert_int_equal(e2ee__sender_key_record_new(&r, v->origin.who.group_id,
                                                 v->origin.who.user_id, v->origin.who.device_id,
                                                 NULL),
                     E2EE_OK);
    return r;
}

static void test_vectors(void **state)
{
    (void)state;
    static struct vec v;
    load_common(&v);
    e2ee__sender_key_record *py = reader(&v), *c = reader(&v);
    assert_int_equal(gt_distribute(c, &v.origin, 1000), E2EE_OK);
    int messages = 0, dist = 0, own = 0, record = 0;
    while (tu_rsp_next(&v.rsp)) {
        if (strcmp(v.rsp.section, "[distribution]") == 0) {
            /* ours matches Python's, and Python's installs into the other reader */
            uint8_t *d, *want;
            size_t dlen, wlen;
            assert_int_equal(e2ee__sender_key_distribution_create(&v.origin, &d, &dlen), E2EE_OK);
            assert_hex(&v.rsp, "DISTRIBUTION", d, dlen);
            want = hex_field(&v.rsp, "DISTRIBUTION", &wlen);
            assert_int_equal(e2ee__sender_key_distribution_process(py, want, wlen, 1000), E2EE_OK);
            free(want);
            e2ee__sender_key_buf_free(d, dlen);
            dist = 1;
        } else if (strcmp(v.rsp.section, "[message]") == 0) {
            assert_true(dist);
            check_message(&v, py, c);
            messages++;
        } else if (strcmp(v.rsp.section, "[own]") == 0) {
            e2ee__sender_key k = v.origin;
            gt_skip(&k, 301);
            uint8_t *blob;
            size_t len;
            assert_int_equal(e2ee__sender_key_serialize(&k, &blob, &len), E2EE_OK);
            assert_hex(&v.rsp, "OWN", blob, len);
            e2ee__sender_key *back;
            assert_int_equal(e2ee__sender_key_deserialize(&back, blob, len), E2EE_OK);
            assert_memory_equal(back, &k, sizeof k);
            e2ee__sender_key_free(back);
            e2ee__sender_key_buf_free(blob, len);
            e2ee__wipe(&k, sizeof k);
            own = 1;
        } else if (strcmp(v.rsp.section, "[record]") == 0) {
            /* install at iteration 0, then receive iteration 3 first */
            e2ee__sender_key_record *r = reader(&v);
            assert_int_equal(gt_distribute(r, &v.origin, 1000), E2EE_OK);
            e2ee__sender_key k = v.origin;
            gt_skip(&k, 3);
            struct gt_msg m = gt_encrypt(&k, "three");
            assert_int_equal(gt_decrypt(r, m.buf, m.len, 1000, "three"), E2EE_OK);
            struct gt_msg blob = gt_snapshot(r);
            assert_hex(&v.rsp, "RECORD", blob.buf, blob.len);
            gt_msg_free(&blob);
            gt_msg_free(&m);
            e2ee__wipe(&k, sizeof k);
            e2ee__sender_key_record_free(r);
            record = 1;
        }
    }
    assert_int_equal(messages, 3);
    assert_true(dist && own && record);
    e2ee__sender_key_record_free(py);
    e2ee__sender_key_record_free(c);
    tu_rsp_close(&v.rsp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_vectors)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
