/*
 * Receiver records: the transition window (time and count), installing distributions (twice
 * is harmless, stale epochs, conflicts, wiped keys stay wiped), and the stored formats of the
 * record and of the own key: round trips, every truncation, random flips, invalid fields.
 */
#include "group.pb-c.h"
#include "group_test.h"

#define T0 5000000u
#define WINDOW E2EE_SENDER_KEY_WINDOW_MS_DEFAULT

/* Alice's key k-th generation, with a record of bob's holding it. */
struct chain {
    struct tu_drbg drbg;
    e2ee__sender_key *keys[8];
    int n;
    e2ee__sender_key_record *bob;
};

static void chain_init(struct chain *c, const e2ee__sender_key_window *w)
{
    memset(c, 0, sizeof *c);
    tu_drbg_init(&c->drbg, 77);
    c->keys[0] = gt_key("g", "alice", 1, &c->drbg);
    c->n = 1;
    c->bob = gt_record("g", "alice", w);
    assert_int_equal(gt_distribute(c->bob, c->keys[0], T0), E2EE_OK);
}

/* Alice rotates (epoch + 1); bob installs the new key at now_ms. */
static e2ee__sender_key *chain_rotate(struct chain *c, uint64_t now_ms)
{
    e2ee__rng rng = gt_rng(&c->drbg);
    e2ee__sender_key *prev = c->keys[c->n - 1];
    assert_int_equal(e2ee__sender_key_rotate(&c->keys[c->n], prev, prev->epoch + 1, &rng),
                     E2EE_OK);
    assert_int_equal(gt_distribute(c->bob, c->keys[c->n], now_ms), E2EE_OK);
    return c->keys[c->n++];
}

static void chain_free(struct chain *c)
{
    for (int i = 0; i < c->n; i++)
        e2ee__sender_key_free(c->keys[i]);
    e2ee__sender_key_record_free(c->bob);
}

/* ---- window ---- */

static void test_window_time(void **state)
{
    (void)state;
    struct chain c;
    chain_init(&c, NULL);
    struct gt_msg a = gt_encrypt(c.keys[0], "a"), b = gt_encrypt(c.keys[0], "b");
    chain_rotate(&c, T0 + 1000); /* key 0 retired at T0 + 1000 */
    assert_int_equal(c.bob->n_states, 2);
    assert_int_equal(gt_decrypt(c.bob, a.buf, a.len, T0 + 1000 + WINDOW - 1, "a"), E2EE_OK);
    assert_int_equal(e2ee__sender_key_record_expire(c.bob, T0 + 1000 + WINDOW - 1), 0);
    assert_int_equal(gt_decrypt(c.bob, b.buf, b.len, T0 + 1000 + WINDOW, NULL),
                     E2EE_ERR_KEY_EXPIRED);
    assert_int_equal(c.bob->n_states, 1); /* the material is gone, the id remembered */
    assert_int_equal(c.bob->n_expired, 1);
    assert_int_equal(c.bob->expired[0], c.keys[0]->key_id);
    /* its distribution cannot bring it back */
    assert_int_equal(gt_distribute(c.bob, c.keys[0], T0 + 1000 + WINDOW), E2EE_ERR_KEY_EXPIRED);
    /* a clock going backwards never expires anything */
    chain_rotate(&c, T0 + 10 * WINDOW);
    assert_int_equal(e2ee__sender_key_record_expire(c.bob, T0), 0);
    assert_int_equal(c.bob->n_states, 2);
    gt_msg_free(&a);
    gt_msg_free(&b);
    chain_free(&c);
}

static void test_window_count(void **state)
{
    (void)state;
    struct chain c;
    chain_init(&c, NULL);
    struct gt_msg m[5];
    m[0] = gt_encrypt(c.keys[0], "k0");
    for (int i = 1; i < 5; i++) { /* rotations 1 ms apart: time is never the limit here */
        e2ee__sender_key *k = chain_rotate(&c, T0 + (uint64_t)i);
        m[i] = gt_encrypt(k, i == 4 ? "k4" : "k");
        if (i == 3) { /* current + 3 previous */
            assert_int_equal(c.bob->n_states, 4);
            assert_int_equal(gt_decrypt(c.bob, m[0].buf, m[0].len, T0 + 3, "k0"), E2EE_OK);
        }
    }
    /* the fourth rotation pushed key 0 out of the 3 previous states kept */
    assert_int_equal(c.bob->n_states, 4);
    assert_int_equal(gt_decrypt(c.bob, m[0].buf, m[0].len, T0 + 5, NULL), E2EE_ERR_KEY_EXPIRED);
    assert_int_equal(gt_decrypt(c.bob, m[1].buf, m[1].len, T0 + 5, "k"), E2EE_OK);
    assert_int_equal(gt_decrypt(c.bob, m[4].buf, m[4].len, T0 + 5, "k4"), E2EE_OK);
    for (int i = 0; i < 5; i++)
        gt_msg_free(&m[i]);
    chain_free(&c);
}

static void test_window_configured(void **state)
{
    (void)state;
    /* 5 s and one previous state */
    e2ee__sender_key_window w = {5000, 1};
    struct chain c;
    chain_init(&c, &w);
    struct gt_msg k0 = gt_encrypt(c.keys[0], "k0");
    e2ee__sender_key *k1 = chain_rotate(&c, T0);
    struct gt_msg m1 = gt_encrypt(k1, "k1");
    assert_int_equal(gt_decrypt(c.bob, k0.buf, k0.len, T0 + 4999, "k0"), E2EE_OK);
    chain_rotate(&c, T0 + 4999); /* key 0 falls out by count before its time is up */
    assert_int_equal(gt_decrypt(c.bob, m1.buf, m1.len, T0 + 5000, "k1"), E2EE_OK);
    assert_int_equal(c.bob->expired[0], c.keys[0]->key_id);
    /* no transition window at all: the previous key dies with the rotation */
    e2ee__sender_key_window none = {0, 0};
    assert_int_equal(e2ee__sender_key_record_set_window(c.bob, &none), E2EE_OK);
    e2ee__sender_key *k3 = chain_rotate(&c, T0 + 5000);
    assert_int_equal(c.bob->n_states, 1);
    assert_int_equal(e2ee__sender_key_record_current_id(c.bob), k3->key_id);
    e2ee__sender_key_window bad = {E2EE_SENDER_KEY_WINDOW_MS_MAX + 1, 1};
    assert_int_equal(e2ee__sender_key_record_set_window(c.bob, &bad), E2EE_ERR_RANGE);
    bad = (e2ee__sender_key_window){1, E2EE_SENDER_KEY_WINDOW_STATES_MAX + 1};
    assert_int_equal(e2ee__sender_key_record_set_window(c.bob, &bad), E2EE_ERR_RANGE);
    gt_msg_free(&k0);
    gt_msg_free(&m1);
    chain_free(&c);
}

static void test_expired_ids_bounded(void **state)
{
    (void)state;
    e2ee__sender_key_window none = {0, 0};
    struct tu_drbg d;
    tu_drbg_init(&d, 9);
    e2ee__sender_key_record *r = gt_record("g", "alice", &none);
    e2ee__sender_key *k = gt_key("g", "alice", 0, &d);
    uint32_t ids[E2EE_SENDER_KEY_EXPIRED_IDS_MAX + 3];
    for (uint32_t i = 0; i < E2EE_SENDER_KEY_EXPIRED_IDS_MAX + 3; i++) {
        ids[i] = k->key_id;
        assert_int_equal(gt_distribute(r, k, T0), E2EE_OK);
        e2ee__rng rng = gt_rng(&d);
        e2ee__sender_key *n;
        assert_int_equal(e2ee__sender_key_rotate(&n, k, k->epoch + 1, &rng), E2EE_OK);
        e2ee__sender_key_free(k);
        k = n;
    }
    assert_int_equal(r->n_expired, E2EE_SENDER_KEY_EXPIRED_IDS_MAX);
    e2ee__sender_key_state *s;
    /* the newest wiped ids are remembered, the oldest forgotten */
    assert_int_equal(e2ee__sender_key_record_lookup(r, ids[E2EE_SENDER_KEY_EXPIRED_IDS_MAX + 1], &s),
                     E2EE_ERR_KEY_EXPIRED);
    assert_int_equal(e2ee__sender_key_record_lookup(r, ids[0], &s), E2EE_ERR_UNKNOWN_KEY);
    assert_int_equal(e2ee__sender_key_record_lookup(r, ids[E2EE_SENDER_KEY_EXPIRED_IDS_MAX + 2],
                                                    &s),
                     E2EE_OK);
    e2ee__sender_key_free(k);
    e2ee__sender_key_record_free(r);
}

/* ---- install ---- */

static void test_install_twice_is_harmless(void **state)
{
    (void)state;
    struct chain c;
    chain_init(&c, NULL);
    uint8_t *d;
    size_t dlen;
    assert_int_equal(e2ee__sender_key_distribution_create(c.keys[0], &d, &dlen), E2EE_OK);
    struct gt_msg m = gt_encrypt(c.keys[0], "once");
    assert_int_equal(gt_decrypt(c.bob, m.buf, m.len, T0, "once"), E2EE_OK);
    struct gt_msg snap = gt_snapshot(c.bob);
    /* the same distribution again, even after messages: no rewind, no replay */
    assert_int_equal(e2ee__sender_key_distribution_process(c.bob, d, dlen, T0), E2EE_OK);
    assert_int_equal(e2ee__sender_key_distribution_process(c.bob, d, dlen, T0 + 1), E2EE_OK);
    gt_assert_same(c.bob, &snap);
    assert_int_equal(gt_decrypt(c.bob, m.buf, m.len, T0, NULL), E2EE_ERR_DUPLICATE);
    /* also once it is a previous key */
    chain_rotate(&c, T0 + 2);
    struct gt_msg snap2 = gt_snapshot(c.bob);
    assert_int_equal(e2ee__sender_key_distribution_process(c.bob, d, dlen, T0 + 3), E2EE_OK);
    gt_assert_same(c.bob, &snap2);
    assert_int_equal(e2ee__sender_key_record_current_id(c.bob), c.keys[1]->key_id);
    gt_msg_free(&snap2);
    gt_msg_free(&snap);
    gt_msg_free(&m);
    e2ee__sender_key_buf_free(d, dlen);
    chain_free(&c);
}

static void test_install_refusals(void **state)
{
    (void)state;
    struct chain c;
    chain_init(&c, NULL);
    chain_rotate(&c, T0); /* current epoch 2 */
    struct gt_msg snap = gt_snapshot(c.bob);
    e2ee__rng rng = gt_rng(&c.drbg);
    /* a new key id for an older epoch than the current one */
    e2ee__sender_key *stale;
    assert_int_equal(e2ee__sender_key_new(&stale, "g", "alice", 1, 1, &rng), E2EE_OK);
    assert_int_equal(gt_distribute(c.bob, stale, T0), E2EE_ERR_WRONG_EPOCH);
    /* a held key id with other material */
    stale->key_id = c.keys[1]->key_id;
    stale->epoch = c.keys[1]->epoch;
    assert_int_equal(gt_distribute(c.bob, stale, T0), E2EE_ERR_EXISTS);
    stale->epoch = 9;
    memcpy(stale->signing_pk, c.keys[1]->signing_pk, sizeof stale->signing_pk);
    assert_int_equal(gt_distribute(c.bob, stale, T0), E2EE_ERR_EXISTS);
    e2ee__sender_key_free(stale);
    /* another sender's or another group's key in this record */
    e2ee__sender_key *other = gt_key("g", "carol", 5, &c.drbg);
    assert_int_equal(gt_distribute(c.bob, other, T0), E2EE_ERR_PROTOCOL);
    e2ee__sender_key_free(other);
    other = gt_key("h", "alice", 5, &c.drbg);
    assert_int_equal(gt_distribute(c.bob, other, T0), E2EE_ERR_PROTOCOL);
    e2ee__sender_key_free(other);
    gt_assert_same(c.bob, &snap);
    /* same epoch, new key id (a sender that lost its state): accepted */
    e2ee__sender_key *again;
    assert_int_equal(e2ee__sender_key_new(&again, "g", "alice", 1, 2, &rng), E2EE_OK);
    assert_int_equal(gt_distribute(c.bob, again, T0), E2EE_OK);
    assert_int_equal(e2ee__sender_key_record_current_id(c.bob), again->key_id);
    /* rotation never goes back in epochs */
    e2ee__sender_key *back;
    assert_int_equal(e2ee__sender_key_rotate(&back, again, 1, &rng), E2EE_ERR_WRONG_EPOCH);
    assert_null(back);
    e2ee__sender_key_free(again);
    gt_msg_free(&snap);
    chain_free(&c);
}

/* ---- record blobs ---- */

/* A record with three states, skipped keys in two of them and expired ids. */
static struct gt_msg busy_record(struct chain *c, struct gt_msg pending[3])
{
    e2ee__sender_key_window w = {WINDOW, 2};
    chain_init(c, &w);
    struct gt_msg x = gt_encrypt(c->keys[0], "x");
    for (int g = 0; g < 4; g++) {
        e2ee__sender_key *k = g ? chain_rotate(c, T0 + (uint64_t)g) : c->keys[0];
        if (g == 0)
            pending[0] = gt_encrypt(k, "pending 0"); /* iteration 1 */
        struct gt_msg skip = gt_encrypt(k, "skip");
        if (g == 3)
            pending[1] = gt_encrypt(k, "pending 3");
        gt_skip(k, 40);
        struct gt_msg far = gt_encrypt(k, "far");
        if (g != 2)
            assert_int_equal(gt_decrypt(c->bob, far.buf, far.len, T0 + 4, "far"), E2EE_OK);
        gt_msg_free(&far);
        gt_msg_free(&skip);
    }
    pending[2] = x; /* iteration 0 of key 0, which the window has wiped */
    assert_int_equal(c->bob->n_states, 3);
    assert_int_equal(c->bob->n_expired, 1);
    return gt_snapshot(c->bob);
}

static void test_record_round_trip(void **state)
{
    (void)state;
    struct chain c;
    struct gt_msg pending[3];
    struct gt_msg blob = busy_record(&c, pending);
    e2ee__sender_key_record *r = gt_restore(&blob, NULL);
    gt_assert_same(r, &blob);
    assert_int_equal(r->n_states, 3);
    assert_int_equal(r->states[0]->skipped.count, 42);
    assert_int_equal(r->states[1]->skipped.count, 0); /* the key that got no message */
    assert_int_equal(r->states[2]->skipped.count, 41);
    assert_int_equal(r->window.max_previous, E2EE_SENDER_KEY_WINDOW_STATES_DEFAULT);
    /* behaviour carries over: cached keys open, expired ids stay expired */
    assert_int_equal(gt_decrypt(r, pending[1].buf, pending[1].len, T0 + 5, "pending 3"), E2EE_OK);
    assert_int_equal(gt_decrypt(r, pending[2].buf, pending[2].len, T0 + 5, NULL),
                     E2EE_ERR_KEY_EXPIRED);
    assert_int_equal(gt_decrypt(r, pending[0].buf, pending[0].len, T0 + 5, NULL),
                     E2EE_ERR_KEY_EXPIRED);
    /* an empty record round-trips too */
    e2ee__sender_key_record *e = gt_record("g", "alice", NULL);
    struct gt_msg eb = gt_snapshot(e);
    e2ee__sender_key_record *e2 = gt_restore(&eb, NULL);
    gt_assert_same(e2, &eb);
    assert_int_equal(e2->n_states, 0);
    e2ee__sender_key_record_free(e2);
    e2ee__sender_key_record_free(e);
    gt_msg_free(&eb);
    e2ee__sender_key_record_free(r);
    for (int i = 0; i < 3; i++)
        gt_msg_free(&pending[i]);
    gt_msg_free(&blob);
    chain_free(&c);
}

static int load(const uint8_t *buf, size_t len)
{
    e2ee__sender_key_record *r = (e2ee__sender_key_record *)1;
    int rc = e2ee__sender_key_record_deserialize(&r, buf, len, NULL);
    if (rc == E2EE_OK)
        e2ee__sender_key_record_free(r);
    else
        assert_null(r);
    return rc;
}

static void test_record_truncated_and_flipped(void **state)
{
    (void)state;
    struct chain c;
    struct gt_msg pending[3];
    struct gt_msg blob = busy_record(&c, pending);
    for (size_t n = 0; n < blob.len; n++)
        assert_int_equal(load(blob.buf, n), E2EE_ERR_CORRUPT);
    struct tu_drbg d;
    tu_drbg_init(&d, 1234);
    uint8_t *copy = malloc(blob.len);
    assert_non_null(copy);
    for (int i = 0; i < 3000; i++) {
        memcpy(copy, blob.buf, blob.len);
        int flips = 1 + (int)tu_drbg_below(&d, 4);
        for (int k = 0; k < flips; k++)
            copy[tu_drbg_below(&d, (uint32_t)blob.len)] ^= (uint8_t)(1u << tu_drbg_below(&d, 8));
        int rc = load(copy, blob.len);
        if (memcmp(copy, blob.buf, blob.len) != 0) /* two flips may cancel out */
            assert_int_equal(rc, E2EE_ERR_CORRUPT);
    }
    assert_int_equal(load(blob.buf, E2EE_SENDER_KEY_RECORD_MAX + 1), E2EE_ERR_TOO_LARGE);
    assert_int_equal(load(NULL, 10), E2EE_ERR_ARG);
    assert_int_equal(load(blob.buf, blob.len), E2EE_OK);
    free(copy);
    for (int i = 0; i < 3; i++)
        gt_msg_free(&pending[i]);
    gt_msg_free(&blob);
    chain_free(&c);
}

/* Packs m with a valid check, as a writer with a bug (or a newer version) would. */
static int load_crafted(const E2ee__SenderKeyRecord *m, uint8_t version)
{
    size_t body = e2ee__sender_key_record__get_packed_size(m);
    uint8_t *buf = malloc(1 + body + E2EE_SENDER_KEY_CHECK_LEN);
    assert_non_null(buf);
    buf[0] = version;
    assert_int_equal(e2ee__sender_key_record__pack(m, buf + 1), body);
    assert_int_equal(e2ee__sender_key_check_seal(buf, 1 + body, E2EE_SENDER_KEY_LABEL_RECORD),
                     E2EE_OK);
    int rc = load(buf, 1 + body + E2EE_SENDER_KEY_CHECK_LEN);
    free(buf);
    return rc;
}

static void put_entry(uint8_t *p, uint32_t it)
{
    p[0] = (uint8_t)(it >> 24);
    p[1] = (uint8_t)(it >> 16);
    p[2] = (uint8_t)(it >> 8);
    p[3] = (uint8_t)it;
    memset(p + 4, 0x33, E2EE_SENDER_KEY_SEED_LEN);
}

/* Every rule of the record checked one at a time, each on an otherwise valid record. */
static void test_record_invalid_fields(void **state)
{
    (void)state;
    uint8_t ck[32] = {1}, pk[33] = {2}, skipped[3 * 36]; /* pk: room for the 33-byte case */
    E2ee__SenderKeyState s[2];
    E2ee__SenderKeyState *sp[E2EE_SENDER_KEY_RECORD_STATES_MAX + 1];
    uint32_t expired[E2EE_SENDER_KEY_EXPIRED_IDS_MAX + 1] = {9, 10};
    E2ee__SenderKeyRecord m;
#define RESET()                                                                                \
    do {                                                                                       \
        for (int i = 0; i < 2; i++) {                                                          \
            e2ee__sender_key_state__init(&s[i]);                                               \
            s[i].key_id = 100u + (uint32_t)i;                                                  \
            s[i].epoch = 5u - (uint32_t)i;                                                     \
            s[i].iteration = 3000;                                                             \
            s[i].base_iteration = 10;                                                          \
            s[i].chain_key = (ProtobufCBinaryData){32, ck};                                    \
            s[i].signing_public = (ProtobufCBinaryData){32, pk};                               \
        }                                                                                      \
        s[1].retired_at_ms = 7;                                                                \
        put_entry(skipped, 1000);                                                              \
        put_entry(skipped + 36, 1001);                                                         \
        put_entry(skipped + 72, 2999);                                                         \
        s[0].skipped = (ProtobufCBinaryData){sizeof skipped, skipped};                         \
        sp[0] = &s[0];                                                                         \
        sp[1] = &s[1];                                                                         \
        e2ee__sender_key_record__init(&m);                                                     \
        m.group_id = (ProtobufCBinaryData){1, (uint8_t *)"g"};                                 \
        m.sender_user_id = (ProtobufCBinaryData){5, (uint8_t *)"alice"};                       \
        m.sender_device_id = 1;                                                                \
        m.n_states = 2;                                                                        \
        m.states = sp;                                                                         \
        m.n_expired_key_ids = 2;                                                               \
        m.expired_key_ids = expired;                                                           \
    } while (0)
    RESET();
    assert_int_equal(load_crafted(&m, 1), E2EE_OK);
    assert_int_equal(load_crafted(&m, 2), E2EE_ERR_VERSION);
    RESET(); m.group_id.len = 0;                         assert_int_equal(load_crafted(&m, 1), E2EE_ERR_CORRUPT);
    RESET(); m.group_id = (ProtobufCBinaryData){2, (uint8_t *)"g\0"};
                                                          assert_int_equal(load_crafted(&m, 1), E2EE_ERR_CORRUPT);
    uint8_t long_id[E2EE_GROUP_ID_MAX + 1];
    memset(long_id, 'a', sizeof long_id);
    RESET(); m.group_id = (ProtobufCBinaryData){sizeof long_id, long_id};
                                                          assert_int_equal(load_crafted(&m, 1), E2EE_ERR_CORRUPT);
    RESET(); m.sender_device_id = 0;                     assert_int_equal(load_crafted(&m, 1), E2EE_ERR_CORRUPT);
    RESET(); s[1].key_id = 0;                            assert_int_equal(load_crafted(&m, 1), E2EE_ERR_CORRUPT);
    RESET(); s[1].key_id = 100;                          assert_int_equal(load_crafted(&m, 1), E2EE_ERR_CORRUPT);
    RESET(); expired[1] = 100;                           assert_int_equal(load_crafted(&m, 1), E2EE_ERR_CORRUPT);
    expired[1] = 10;
    RESET(); expired[1] = 9;                             assert_int_equal(load_crafted(&m, 1), E2EE_ERR_CORRUPT);
    expired[1] = 10;
    RESET(); expired[1] = 0;                             assert_int_equal(load_crafted(&m, 1), E2EE_ERR_CORRUPT);
    expired[1] = 10;
    RESET(); m.n_expired_key_ids = E2EE_SENDER_KEY_EXPIRED_IDS_MAX + 1;
    for (uint32_t i = 0; i <= E2EE_SENDER_KEY_EXPIRED_IDS_MAX; i++)
        expired[i] = 1000 + i;
    assert_int_equal(load_crafted(&m, 1), E2EE_ERR_CORRUPT);
    expired[0] = 9;
    expired[1] = 10;
    RESET(); s[1].epoch = 6;                             assert_int_equal(load_crafted(&m, 1), E2EE_ERR_CORRUPT);
    RESET(); s[0].retired_at_ms = 1;                     assert_int_equal(load_crafted(&m, 1), E2EE_ERR_CORRUPT);
    RESET(); s[0].chain_key.len = 31;                    assert_int_equal(load_crafted(&m, 1), E2EE_ERR_CORRUPT);
    RESET(); s[0].signing_public.len = 33;               assert_int_equal(load_crafted(&m, 1), E2EE_ERR_CORRUPT);
    RESET(); s[0].base_iteration = 3001;                 assert_int_equal(load_crafted(&m, 1), E2EE_ERR_CORRUPT);
    RESET(); s[0].skipped.len = 36 * 3 - 1;              assert_int_equal(load_crafted(&m, 1), E2EE_ERR_CORRUPT);
    RESET(); put_entry(skipped + 36, 1000);              assert_int_equal(load_crafted(&m, 1), E2EE_ERR_CORRUPT);
    RESET(); put_entry(skipped + 72, 3000);              assert_int_equal(load_crafted(&m, 1), E2EE_ERR_CORRUPT);
    RESET(); put_entry(skipped, 9);                      assert_int_equal(load_crafted(&m, 1), E2EE_ERR_CORRUPT);
    RESET(); put_entry(skipped, 998);                    assert_int_equal(load_crafted(&m, 1), E2EE_ERR_CORRUPT);
    RESET(); put_entry(skipped, 999);                    assert_int_equal(load_crafted(&m, 1), E2EE_OK);
    RESET(); m.n_states = E2EE_SENDER_KEY_RECORD_STATES_MAX + 1;
    for (uint32_t i = 0; i < m.n_states; i++)
        sp[i] = &s[1];
    assert_int_equal(load_crafted(&m, 1), E2EE_ERR_CORRUPT);
    /* an unknown field (a newer writer) in the record and in a state */
    RESET();
    ProtobufCMessageUnknownField uf = {99, PROTOBUF_C_WIRE_TYPE_VARINT, 1, (uint8_t *)"\x01"};
    m.base.n_unknown_fields = 1;
    m.base.unknown_fields = &uf;
    assert_int_equal(load_crafted(&m, 1), E2EE_ERR_CORRUPT);
    RESET();
    s[1].base.n_unknown_fields = 1;
    s[1].base.unknown_fields = &uf;
    assert_int_equal(load_crafted(&m, 1), E2EE_ERR_CORRUPT);
#undef RESET
}

/* ---- distribution messages ---- */

static int decode_crafted(E2ee__SenderKeyDistribution *m)
{
    uint8_t buf[E2EE_SENDER_KEY_DISTRIBUTION_MAX];
    size_t body = e2ee__sender_key_distribution__get_packed_size(m);
    assert_true(body < sizeof buf);
    buf[0] = E2EE_SENDER_KEY_VERSION;
    assert_int_equal(e2ee__sender_key_distribution__pack(m, buf + 1), body);
    e2ee__sender_key_distribution d;
    int rc = e2ee__sender_key_distribution_decode(&d, buf, 1 + body);
    e2ee__sender_key_distribution_wipe(&d);
    return rc;
}

static void test_distribution_decode(void **state)
{
    (void)state;
    struct tu_drbg drbg;
    tu_drbg_init(&drbg, 8);
    e2ee__sender_key *k = gt_key("g", "alice", 12, &drbg);
    gt_skip(k, 3);
    uint8_t *buf;
    size_t len;
    assert_int_equal(e2ee__sender_key_distribution_create(k, &buf, &len), E2EE_OK);
    e2ee__sender_key_distribution d;
    assert_int_equal(e2ee__sender_key_distribution_decode(&d, buf, len), E2EE_OK);
    assert_string_equal(d.sender.group_id, "g");
    assert_string_equal(d.sender.user_id, "alice");
    assert_int_equal(d.sender.device_id, 1);
    assert_int_equal(d.epoch, 12);
    assert_int_equal(d.key_id, k->key_id);
    assert_int_equal(d.iteration, 3);
    assert_memory_equal(d.chain_key, k->chain_key, sizeof d.chain_key);
    assert_memory_equal(d.signing_pk, k->signing_pk, sizeof d.signing_pk);
    /* every truncation, every byte flipped: refused cleanly or (flips in keys) accepted */
    for (size_t n = 0; n < len; n++) {
        int rc = e2ee__sender_key_distribution_decode(&d, buf, n);
        assert_true(rc == E2EE_ERR_DECODE || (n > 0 && rc == E2EE_ERR_VERSION));
        assert_true(e2ee__is_zero(&d, sizeof d));
    }
    for (size_t i = 0; i < len; i++) {
        buf[i] ^= 0x41;
        int rc = e2ee__sender_key_distribution_decode(&d, buf, len);
        assert_true(rc == E2EE_OK || rc == E2EE_ERR_DECODE || rc == E2EE_ERR_VERSION);
        buf[i] ^= 0x41;
    }
    assert_int_equal(e2ee__sender_key_distribution_decode(&d, buf, E2EE_SENDER_KEY_DISTRIBUTION_MAX + 1),
                     E2EE_ERR_TOO_LARGE);
    e2ee__sender_key_buf_free(buf, len);
    /* field rules */
    E2ee__SenderKeyDistribution m = E2EE__SENDER_KEY_DISTRIBUTION__INIT;
    uint8_t ck[33] = {0}, pk[33] = {0};
#define DRESET()                                                                               \
    do {                                                                                       \
        e2ee__sender_key_distribution__init(&m);                                               \
        m.group_id = (ProtobufCBinaryData){1, (uint8_t *)"g"};                                 \
        m.sender_user_id = (ProtobufCBinaryData){5, (uint8_t *)"alice"};                       \
        m.sender_device_id = 1;                                                                \
        m.key_id = 7;                                                                          \
        m.chain_key = (ProtobufCBinaryData){32, ck};                                           \
        m.signing_public = (ProtobufCBinaryData){32, pk};                                      \
    } while (0)
    DRESET();                                      assert_int_equal(decode_crafted(&m), E2EE_OK);
    DRESET(); m.key_id = 0;                        assert_int_equal(decode_crafted(&m), E2EE_ERR_DECODE);
    DRESET(); m.iteration = UINT32_MAX;            assert_int_equal(decode_crafted(&m), E2EE_ERR_DECODE);
    DRESET(); m.chain_key.len = 33;                assert_int_equal(decode_crafted(&m), E2EE_ERR_DECODE);
    DRESET(); m.signing_public.len = 31;           assert_int_equal(decode_crafted(&m), E2EE_ERR_DECODE);
    DRESET(); m.sender_device_id = 0;              assert_int_equal(decode_crafted(&m), E2EE_ERR_DECODE);
    DRESET(); m.group_id.len = 0;                  assert_int_equal(decode_crafted(&m), E2EE_ERR_DECODE);
    DRESET(); m.sender_user_id = (ProtobufCBinaryData){2, (uint8_t *)"a\0"};
                                                   assert_int_equal(decode_crafted(&m), E2EE_ERR_DECODE);
    DRESET();
    ProtobufCMessageUnknownField uf = {99, PROTOBUF_C_WIRE_TYPE_VARINT, 1, (uint8_t *)"\x01"};
    m.base.n_unknown_fields = 1;
    m.base.unknown_fields = &uf;
    assert_int_equal(decode_crafted(&m), E2EE_ERR_DECODE);
#undef DRESET
    e2ee__sender_key_free(k);
}

/* ---- own key blobs ---- */

static void test_own_key_round_trip_and_damage(void **state)
{
    (void)state;
    struct tu_drbg d;
    tu_drbg_init(&d, 55);
    e2ee__sender_key *k = gt_key("group-x", "alice", 3, &d);
    e2ee__sender_key_record *r = gt_record("group-x", "alice", NULL);
    assert_int_equal(gt_distribute(r, k, T0), E2EE_OK);
    struct gt_msg m0 = gt_encrypt(k, "before");
    struct gt_msg blob = {NULL, 0};
    assert_int_equal(e2ee__sender_key_serialize(k, &blob.buf, &blob.len), E2EE_OK);
    e2ee__sender_key *k2 = NULL;
    assert_int_equal(e2ee__sender_key_deserialize(&k2, blob.buf, blob.len), E2EE_OK);
    assert_memory_equal(k2, k, sizeof *k); /* every field, signing key included */
    struct gt_msg m1 = gt_encrypt(k2, "after restore");
    assert_int_equal(gt_decrypt(r, m0.buf, m0.len, T0, "before"), E2EE_OK);
    assert_int_equal(gt_decrypt(r, m1.buf, m1.len, T0, "after restore"), E2EE_OK);
    e2ee__sender_key *bad = (e2ee__sender_key *)1;
    for (size_t n = 0; n < blob.len; n++) {
        assert_int_equal(e2ee__sender_key_deserialize(&bad, blob.buf, n), E2EE_ERR_CORRUPT);
        assert_null(bad);
    }
    for (size_t i = 0; i < blob.len; i++) {
        blob.buf[i] ^= 0x10;
        assert_int_equal(e2ee__sender_key_deserialize(&bad, blob.buf, blob.len), E2EE_ERR_CORRUPT);
        blob.buf[i] ^= 0x10;
    }
    assert_int_equal(e2ee__sender_key_deserialize(&bad, blob.buf, E2EE_SENDER_KEY_OWN_MAX + 1),
                     E2EE_ERR_TOO_LARGE);
    /* a signing public key that does not match the seed, behind a valid check */
    E2ee__SenderKeyOwn *pm = e2ee__sender_key_own__unpack(
        NULL, blob.len - 1 - E2EE_SENDER_KEY_CHECK_LEN, blob.buf + 1);
    assert_non_null(pm);
    pm->signing_public.data[0] ^= 1;
    assert_int_equal(e2ee__sender_key_own__pack(pm, blob.buf + 1),
                     blob.len - 1 - E2EE_SENDER_KEY_CHECK_LEN);
    e2ee__sender_key_own__free_unpacked(pm, NULL);
    assert_int_equal(
        e2ee__sender_key_check_seal(blob.buf, blob.len - E2EE_SENDER_KEY_CHECK_LEN,
                                    E2EE_SENDER_KEY_LABEL_OWN),
        E2EE_OK);
    assert_int_equal(e2ee__sender_key_deserialize(&bad, blob.buf, blob.len), E2EE_ERR_CORRUPT);
    gt_msg_free(&blob);
    gt_msg_free(&m0);
    gt_msg_free(&m1);
    e2ee__sender_key_free(k2);
    e2ee__sender_key_free(k);
    e2ee__sender_key_record_free(r);
}

static void test_new_key_arguments(void **state)
{
    (void)state;
    struct tu_drbg d;
    tu_drbg_init(&d, 3);
    e2ee__rng rng = gt_rng(&d);
    e2ee__sender_key *k = (e2ee__sender_key *)1;
    char long_id[E2EE_GROUP_ID_MAX + 2];
    memset(long_id, 'x', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = 0;
    assert_int_equal(e2ee__sender_key_new(&k, long_id, "u", 1, 0, &rng), E2EE_ERR_LENGTH);
    assert_null(k);
    long_id[E2EE_GROUP_ID_MAX] = 0; /* exactly the limit */
    assert_int_equal(e2ee__sender_key_new(&k, long_id, long_id, 1, 0, &rng), E2EE_OK);
    e2ee__sender_key_free(k);
    assert_int_equal(e2ee__sender_key_new(&k, "", "u", 1, 0, &rng), E2EE_ERR_LENGTH);
    assert_int_equal(e2ee__sender_key_new(&k, "g", "u", 0, 0, &rng), E2EE_ERR_ARG);
    assert_int_equal(e2ee__sender_key_new(&k, "g", NULL, 1, 0, &rng), E2EE_ERR_ARG);
    assert_int_equal(e2ee__sender_key_new(&k, "g", "u", 1, 0, NULL), E2EE_ERR_ARG);
    e2ee__sender_key_record *r = (e2ee__sender_key_record *)1;
    assert_int_equal(e2ee__sender_key_record_new(&r, "g", "", 1, NULL), E2EE_ERR_LENGTH);
    assert_null(r);
}

/* A source that only ever yields zeros cannot make a key id. */
static int zero_fill(void *ctx, uint8_t *buf, size_t len)
{
    (void)ctx;
    memset(buf, 0, len);
    return E2EE_OK;
}

static int failing_fill(void *ctx, uint8_t *buf, size_t len)
{
    (void)ctx;
    (void)buf;
    (void)len;
    return E2EE_ERR_IO;
}

static void test_broken_randomness(void **state)
{
    (void)state;
    e2ee__rng zeros = {zero_fill, NULL}, failing = {failing_fill, NULL};
    e2ee__sender_key *k = (e2ee__sender_key *)1;
    assert_int_equal(e2ee__sender_key_new(&k, "g", "u", 1, 0, &zeros), E2EE_ERR_CRYPTO);
    assert_null(k);
    assert_int_equal(e2ee__sender_key_new(&k, "g", "u", 1, 0, &failing), E2EE_ERR_IO);
    assert_null(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_time),
        cmocka_unit_test(test_window_count),
        cmocka_unit_test(test_window_configured),
        cmocka_unit_test(test_expired_ids_bounded),
        cmocka_unit_test(test_install_twice_is_harmless),
        cmocka_unit_test(test_install_refusals),
        cmocka_unit_test(test_record_round_trip),
        cmocka_unit_test(test_record_truncated_and_flipped),
        cmocka_unit_test(test_record_invalid_fields),
        cmocka_unit_test(test_distribution_decode),
        cmocka_unit_test(test_own_key_round_trip_and_damage),
        cmocka_unit_test(test_new_key_arguments),
        cmocka_unit_test(test_broken_randomness),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
