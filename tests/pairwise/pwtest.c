/* e2ee tests: helpers shared by the pairwise test programs. */
#include "pwtest.h"

#include <stdlib.h>
#include <string.h>

#include "wire/wire.h"

static int drbg_fill(void *ctx, uint8_t *buf, size_t len)
{
    tu_drbg_bytes(ctx, buf, len);
    return E2EE_OK;
}

e2ee__rng pw_rng(struct tu_drbg *d)
{
    e2ee__rng r = {drbg_fill, d};
    return r;
}

static int src_spk(void *ctx, uint32_t id, e2ee__signed_prekey *out)
{
    struct pw_party *p = ctx;
    if (id != p->spk.id)
        return E2EE_ERR_UNKNOWN_KEY;
    *out = p->spk;
    return E2EE_OK;
}

static int src_opk(void *ctx, uint32_t id, e2ee__one_time_prekey *out)
{
    struct pw_party *p = ctx;
    for (size_t i = 0; i < p->n_opk; i++) {
        if (p->opk[i].id != id)
            continue;
        if (p->opk_used[i])
            return E2EE_ERR_REPLAY;
        *out = p->opk[i];
        return E2EE_OK;
    }
    return E2EE_ERR_UNKNOWN_KEY;
}

void pw_party_init(struct pw_party *p, const char *user, uint64_t seed)
{
    memset(p, 0, sizeof *p);
    tu_drbg_init(&p->drbg, seed);
    p->rng = pw_rng(&p->drbg);
    assert_int_equal(e2ee__address_set(&p->addr, user, E2EE_DEVICE_ID_DEFAULT), E2EE_OK);
    assert_int_equal(e2ee__identity_generate(&p->id, &p->rng), E2EE_OK);
    assert_int_equal(e2ee__signed_prekey_generate(&p->spk, p->id, 1, 1700000000, &p->rng),
                     E2EE_OK);
    p->n_opk = PW_MAX_OPKS;
    assert_int_equal(e2ee__one_time_prekeys_generate(p->opk, p->n_opk, 100, &p->rng), E2EE_OK);
    p->source.signed_prekey = src_spk;
    p->source.one_time_prekey = src_opk;
    p->source.ctx = p;
}

void pw_party_cleanup(struct pw_party *p)
{
    e2ee__identity_free(p->id);
    e2ee__wipe(p, sizeof *p);
}

void pw_party_bundle(struct pw_party *p, int with_opk, e2ee__prekey_bundle *b)
{
    const e2ee__one_time_prekey *opk = NULL;
    if (with_opk) {
        assert_true(p->next_opk < p->n_opk);
        opk = &p->opk[p->next_opk++];
    }
    assert_int_equal(e2ee__prekey_bundle_make(b, &p->addr, e2ee__identity_public(p->id),
                                              &p->spk, opk),
                     E2EE_OK);
}

void pw_party_mark_used(struct pw_party *p, uint32_t id)
{
    for (size_t i = 0; i < p->n_opk; i++) {
        if (p->opk[i].id == id) {
            p->opk_used[i] = 1;
            e2ee__wipe(p->opk[i].sk, sizeof p->opk[i].sk);
        }
    }
}

int pw_decrypt(struct pw_party *p, e2ee__session_record *rec, const struct pw_party *from,
               const uint8_t *msg, size_t len, uint8_t **pt, size_t *ptlen)
{
    e2ee__session_decrypt_result res;
    int rc = e2ee__session_decrypt(rec, p->id, &p->addr, &from->addr, NULL, &p->source, msg,
                                   len, &res);
    if (pt)
        *pt = NULL;
    if (rc == E2EE_OK) {
        if (res.used_one_time_prekey)
            pw_party_mark_used(p, res.one_time_prekey_id);
        assert_true(e2ee__identity_pub_equal(&res.remote_identity,
                                             e2ee__identity_public(from->id)));
        if (pt) {
            *pt = malloc(res.plaintext_len + 1);
            assert_non_null(*pt);
            memcpy(*pt, res.plaintext, res.plaintext_len);
            *ptlen = res.plaintext_len;
        }
    } else {
        assert_null(res.plaintext);
    }
    e2ee__session_decrypt_result_cleanup(&res);
    return rc;
}

uint8_t *pw_snapshot(const e2ee__session_record *rec, size_t *len)
{
    uint8_t *buf = NULL;
    assert_int_equal(e2ee__session_record_serialize(rec, &buf, len), E2EE_OK);
    return buf;
}

void pw_assert_unchanged(const e2ee__session_record *rec, uint8_t *snap, size_t len)
{
    size_t n = 0;
    uint8_t *now = pw_snapshot(rec, &n);
    assert_int_equal(n, len);
    assert_memory_equal(now, snap, len);
    e2ee__wire_buf_free(now, n);
    e2ee__wire_buf_free(snap, len);
}

e2ee__session_record *pw_reload(e2ee__session_record *rec)
{
    size_t n = 0;
    uint8_t *buf = pw_snapshot(rec, &n);
    e2ee__session_record *back = NULL;
    assert_int_equal(e2ee__session_record_deserialize(&back, buf, n), E2EE_OK);
    size_t n2 = 0;
    uint8_t *buf2 = pw_snapshot(back, &n2);
    assert_int_equal(n2, n);
    assert_memory_equal(buf2, buf, n);
    e2ee__wire_buf_free(buf, n);
    e2ee__wire_buf_free(buf2, n2);
    e2ee__session_record_free(rec);
    return back;
}
