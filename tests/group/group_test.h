/* e2ee tests: helpers shared by the group-layer tests (sender keys). */
#ifndef E2EE_TESTS_GROUP_TEST_H
#define E2EE_TESTS_GROUP_TEST_H

#include <stdlib.h>
#include <string.h>

#include "proto/group_cipher.h"
#include "proto/sender_key.h"
#include "proto/sender_key_distribution.h"
#include "proto/sender_key_record.h"
#include "testutil.h"

static inline int gt_drbg_fill(void *ctx, uint8_t *buf, size_t len)
{
    tu_drbg_bytes(ctx, buf, len);
    return E2EE_OK;
}

/* An e2ee__rng drawing from a test DRBG. */
static inline e2ee__rng gt_rng(struct tu_drbg *d)
{
    e2ee__rng r = {gt_drbg_fill, d};
    return r;
}

/* New own key or fail the test. */
static inline e2ee__sender_key *gt_key(const char *group, const char *user, uint64_t epoch,
                                       struct tu_drbg *d)
{
    e2ee__rng rng = gt_rng(d);
    e2ee__sender_key *sk = NULL;
    assert_int_equal(e2ee__sender_key_new(&sk, group, user, 1, epoch, &rng), E2EE_OK);
    return sk;
}

/* New record for (group, user) with the given window (NULL: defaults). */
static inline e2ee__sender_key_record *gt_record(const char *group, const char *user,
                                                 const e2ee__sender_key_window *w)
{
    e2ee__sender_key_record *r = NULL;
    assert_int_equal(e2ee__sender_key_record_new(&r, group, user, 1, w), E2EE_OK);
    return r;
}

/* Distributes sk into r at now_ms; returns the install result. */
static inline int gt_distribute(e2ee__sender_key_record *r, const e2ee__sender_key *sk,
                                uint64_t now_ms)
{
    uint8_t *d = NULL;
    size_t dlen = 0;
    assert_int_equal(e2ee__sender_key_distribution_create(sk, &d, &dlen), E2EE_OK);
    int rc = e2ee__sender_key_distribution_process(r, d, dlen, now_ms);
    e2ee__sender_key_buf_free(d, dlen);
    return rc;
}

/* A message: bytes and length. */
struct gt_msg {
    uint8_t *buf;
    size_t len;
};

/* Encrypts text with sk or fails the test. */
static inline struct gt_msg gt_encrypt(e2ee__sender_key *sk, const char *text)
{
    struct gt_msg m = {NULL, 0};
    assert_int_equal(e2ee__group_encrypt(sk, (const uint8_t *)text, strlen(text), &m.buf, &m.len),
                     E2EE_OK);
    return m;
}

static inline void gt_msg_free(struct gt_msg *m)
{
    e2ee__sender_key_buf_free(m->buf, m->len);
    m->buf = NULL;
    m->len = 0;
}

/* Decrypts and, on success, checks the plaintext equals `text` (NULL: do not check). */
static inline int gt_decrypt(e2ee__sender_key_record *r, const uint8_t *msg, size_t len,
                             uint64_t now_ms, const char *text)
{
    uint8_t *pt = NULL;
    size_t ptlen = 99;
    int rc = e2ee__group_decrypt(r, msg, len, now_ms, &pt, &ptlen);
    if (rc == E2EE_OK) {
        if (text) {
            assert_int_equal(ptlen, strlen(text));
            assert_memory_equal(pt, text, ptlen);
        }
        e2ee__sender_key_buf_free(pt, ptlen);
    } else {
        assert_null(pt);
        assert_int_equal(ptlen, 0);
    }
    return rc;
}

/* Serialises r into a new buffer (for snapshots and comparisons). */
static inline struct gt_msg gt_snapshot(const e2ee__sender_key_record *r)
{
    struct gt_msg s = {NULL, 0};
    assert_int_equal(e2ee__sender_key_record_serialize(r, &s.buf, &s.len), E2EE_OK);
    return s;
}

/* Asserts r serialises to exactly the snapshot s. */
static inline void gt_assert_same(const e2ee__sender_key_record *r, const struct gt_msg *s)
{
    struct gt_msg now = gt_snapshot(r);
    assert_int_equal(now.len, s->len);
    assert_memory_equal(now.buf, s->buf, s->len);
    gt_msg_free(&now);
}

/* Record restored from a snapshot (window NULL: defaults). */
static inline e2ee__sender_key_record *gt_restore(const struct gt_msg *s,
                                                  const e2ee__sender_key_window *w)
{
    e2ee__sender_key_record *r = NULL;
    assert_int_equal(e2ee__sender_key_record_deserialize(&r, s->buf, s->len, w), E2EE_OK);
    return r;
}

/* Moves sk's chain n iterations forward without sending (a sender whose messages were lost). */
static inline void gt_skip(e2ee__sender_key *sk, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        assert_int_equal(e2ee__sender_chain_step(sk->chain_key, NULL, sk->chain_key), E2EE_OK);
        sk->iteration++;
    }
}

#endif
