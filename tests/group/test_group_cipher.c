/*
 * Group messages: encryption and decryption with sender keys. Round trips, ordering,
 * duplicates, forgery by a member holding the chain key, tampering with every field and
 * byte, jump and window bounds, each error code, and commit-only-on-success.
 */
#include "group.pb-c.h"
#include "group_test.h"

#define NOW 1000000u

struct fixture {
    struct tu_drbg drbg;
    e2ee__sender_key *alice;     /* sender */
    e2ee__sender_key_record *bob; /* bob's record of alice */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    tu_drbg_init(&f->drbg, 4);
    f->alice = gt_key("g1", "alice", 1, &f->drbg);
    f->bob = gt_record("g1", "alice", NULL);
    assert_int_equal(gt_distribute(f->bob, f->alice, NOW), E2EE_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    e2ee__sender_key_free(f->alice);
    e2ee__sender_key_record_free(f->bob);
    free(f);
    return 0;
}

/* Message of `origin`'s chain at iteration `it` (>= origin's), origin unchanged. */
static struct gt_msg msg_at(const e2ee__sender_key *origin, uint32_t it, const char *text)
{
    e2ee__sender_key copy = *origin;
    gt_skip(&copy, it - origin->iteration);
    struct gt_msg m = gt_encrypt(&copy, text);
    e2ee__wipe(&copy, sizeof copy);
    return m;
}

/* Signs m again with sk's signing key, as sk's owner would (for sender-made tests). */
static void resign(struct gt_msg *m, const e2ee__sender_key *sk)
{
    e2ee__group_message_header h;
    assert_int_equal(e2ee__group_message_peek(m->buf, m->len, &h), E2EE_OK);
    uint8_t ad[E2EE_GROUP_AD_MAX];
    size_t adlen = e2ee__group_ad(ad, &sk->who, h.key_id, h.iteration, h.epoch);
    size_t signed_len = m->len - E2EE_ED25519_SIG_LEN;
    size_t total = E2EE_GROUP_SIG_LABEL_LEN + adlen + signed_len;
    uint8_t *buf = malloc(total);
    assert_non_null(buf);
    memcpy(buf, E2EE_GROUP_LABEL_SIG, E2EE_GROUP_SIG_LABEL_LEN);
    memcpy(buf + E2EE_GROUP_SIG_LABEL_LEN, ad, adlen);
    memcpy(buf + E2EE_GROUP_SIG_LABEL_LEN + adlen, m->buf, signed_len);
    assert_int_equal(e2ee__ed25519_sign(m->buf + signed_len, buf, total, sk->signing_sk),
                     E2EE_OK);
    free(buf);
}

/* Re-encodes m with one header field replaced, keeping the original signature. */
enum field { F_KEY_ID, F_ITERATION, F_EPOCH };
static struct gt_msg reencode(const struct gt_msg *m, enum field f, uint64_t value)
{
    size_t body_len = m->len - 1 - E2EE_ED25519_SIG_LEN;
    E2ee__SenderKeyMessage *pm = e2ee__sender_key_message__unpack(NULL, body_len, m->buf + 1);
    assert_non_null(pm);
    if (f == F_KEY_ID)
        pm->key_id = (uint32_t)value;
    else if (f == F_ITERATION)
        pm->iteration = (uint32_t)value;
    else
        pm->epoch = value;
    size_t nb = e2ee__sender_key_message__get_packed_size(pm);
    struct gt_msg out = {malloc(1 + nb + E2EE_ED25519_SIG_LEN), 1 + nb + E2EE_ED25519_SIG_LEN};
    assert_non_null(out.buf);
    out.buf[0] = m->buf[0];
    assert_int_equal(e2ee__sender_key_message__pack(pm, out.buf + 1), nb);
    memcpy(out.buf + 1 + nb, m->buf + m->len - E2EE_ED25519_SIG_LEN, E2EE_ED25519_SIG_LEN);
    e2ee__sender_key_message__free_unpacked(pm, NULL);
    return out;
}

static void test_round_trip_sizes(void **state)
{
    struct fixture *f = *state;
    static const size_t sizes[] = {0, 1, 255, 256, 4096, E2EE_GROUP_PLAINTEXT_MAX};
    uint8_t *big = malloc(E2EE_GROUP_PLAINTEXT_MAX + 1);
    assert_non_null(big);
    tu_drbg_bytes(&f->drbg, big, E2EE_GROUP_PLAINTEXT_MAX + 1);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        uint8_t *msg, *pt;
        size_t len, ptlen;
        assert_int_equal(e2ee__group_encrypt(f->alice, big, sizes[i], &msg, &len), E2EE_OK);
        assert_true(len > sizes[i] + E2EE_AEAD_TAG_LEN + E2EE_ED25519_SIG_LEN);
        assert_true(len <= sizes[i] + E2EE_GROUP_MSG_OVERHEAD_MAX);
        assert_int_equal(e2ee__group_decrypt(f->bob, msg, len, NOW, &pt, &ptlen), E2EE_OK);
        assert_int_equal(ptlen, sizes[i]);
        assert_memory_equal(pt, big, sizes[i]);
        e2ee__sender_key_buf_free(pt, ptlen);
        e2ee__sender_key_buf_free(msg, len);
    }
    uint8_t *msg = (uint8_t *)1;
    size_t len = 1;
    assert_int_equal(e2ee__group_encrypt(f->alice, big, E2EE_GROUP_PLAINTEXT_MAX + 1, &msg, &len),
                     E2EE_ERR_TOO_LARGE);
    assert_null(msg);
    assert_int_equal(len, 0);
    assert_int_equal(f->alice->iteration, 6); /* the refused call used no iteration */
    free(big);
}

static void test_in_order_then_duplicates(void **state)
{
    struct fixture *f = *state;
    struct gt_msg m[20];
    char text[32];
    for (int i = 0; i < 20; i++) {
        snprintf(text, sizeof text, "message %d", i);
        m[i] = gt_encrypt(f->alice, text);
        assert_int_equal(gt_decrypt(f->bob, m[i].buf, m[i].len, NOW, text), E2EE_OK);
    }
    struct gt_msg snap = gt_snapshot(f->bob);
    for (int i = 0; i < 20; i++)
        assert_int_equal(gt_decrypt(f->bob, m[i].buf, m[i].len, NOW, NULL), E2EE_ERR_DUPLICATE);
    gt_assert_same(f->bob, &snap); /* refusals change nothing */
    gt_msg_free(&snap);
    for (int i = 0; i < 20; i++)
        gt_msg_free(&m[i]);
}

static void test_out_of_order(void **state)
{
    struct fixture *f = *state;
    enum { N = 300 };
    struct gt_msg m[N];
    char text[32];
    int order[N];
    for (int i = 0; i < N; i++) {
        snprintf(text, sizeof text, "m%d", i);
        m[i] = gt_encrypt(f->alice, text);
        order[i] = i;
    }
    for (int i = N - 1; i > 0; i--) { /* Fisher-Yates */
        int j = (int)tu_drbg_below(&f->drbg, (uint32_t)i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (int k = 0; k < N; k++) {
        int i = order[k];
        snprintf(text, sizeof text, "m%d", i);
        assert_int_equal(gt_decrypt(f->bob, m[i].buf, m[i].len, NOW, text), E2EE_OK);
        /* an immediate re-delivery is a duplicate */
        assert_int_equal(gt_decrypt(f->bob, m[i].buf, m[i].len, NOW, NULL), E2EE_ERR_DUPLICATE);
    }
    assert_int_equal(f->bob->states[0]->skipped.count, 0); /* every skipped key consumed */
    assert_null(f->bob->states[0]->skipped.slots);
    for (int i = 0; i < N; i++)
        gt_msg_free(&m[i]);
}

/* A member holds alice's chain key (from her distribution) but not her signing key. */
static void test_forgery_by_chain_key_holder(void **state)
{
    struct fixture *f = *state;
    e2ee__sender_key *mallory = gt_key("g1", "mallory", 1, &f->drbg);
    uint8_t *d;
    size_t dlen;
    assert_int_equal(e2ee__sender_key_distribution_create(f->alice, &d, &dlen), E2EE_OK);
    e2ee__sender_key_distribution dist;
    assert_int_equal(e2ee__sender_key_distribution_decode(&dist, d, dlen), E2EE_OK);
    e2ee__sender_key_buf_free(d, dlen);

    /* Mallory's view of alice's key, signing with her own sender-key signing key */
    e2ee__sender_key forged = *f->alice;
    memcpy(forged.chain_key, dist.chain_key, sizeof forged.chain_key);
    forged.iteration = dist.iteration;
    memcpy(forged.signing_pk, mallory->signing_pk, sizeof forged.signing_pk);
    memcpy(forged.signing_sk, mallory->signing_sk, sizeof forged.signing_sk);
    struct gt_msg snap = gt_snapshot(f->bob);
    struct gt_msg fm = gt_encrypt(&forged, "pay mallory");
    assert_int_equal(gt_decrypt(f->bob, fm.buf, fm.len, NOW, NULL), E2EE_ERR_AUTH);
    /* with an all-zero or a copied-from-elsewhere signature */
    memset(fm.buf + fm.len - E2EE_ED25519_SIG_LEN, 0, E2EE_ED25519_SIG_LEN);
    assert_int_equal(gt_decrypt(f->bob, fm.buf, fm.len, NOW, NULL), E2EE_ERR_AUTH);
    struct gt_msg real = msg_at(f->alice, f->alice->iteration + 1, "real");
    memcpy(fm.buf + fm.len - E2EE_ED25519_SIG_LEN, real.buf + real.len - E2EE_ED25519_SIG_LEN,
           E2EE_ED25519_SIG_LEN);
    assert_int_equal(gt_decrypt(f->bob, fm.buf, fm.len, NOW, NULL), E2EE_ERR_AUTH);
    gt_assert_same(f->bob, &snap);
    /* alice's real message at that iteration still opens */
    struct gt_msg am = gt_encrypt(f->alice, "from alice");
    assert_int_equal(gt_decrypt(f->bob, am.buf, am.len, NOW, "from alice"), E2EE_OK);
    gt_msg_free(&am);
    gt_msg_free(&real);
    gt_msg_free(&fm);
    gt_msg_free(&snap);
    e2ee__wipe(&forged, sizeof forged);
    e2ee__sender_key_distribution_wipe(&dist);
    e2ee__sender_key_free(mallory);
}

/* Positions of the message's fields, from a decode of its protobuf body. */
static void test_tamper_every_field(void **state)
{
    struct fixture *f = *state;
    /* a second key of alice's held in the window, to aim a changed key id at */
    e2ee__rng rng = gt_rng(&f->drbg);
    e2ee__sender_key *old = f->alice, *next;
    assert_int_equal(e2ee__sender_key_rotate(&next, old, 2, &rng), E2EE_OK);
    assert_int_equal(gt_distribute(f->bob, next, NOW), E2EE_OK);
    struct gt_msg m = gt_encrypt(next, "the original");
    struct gt_msg snap = gt_snapshot(f->bob);

    struct gt_msg t[6];
    t[0] = reencode(&m, F_ITERATION, 1);
    t[1] = reencode(&m, F_EPOCH, 1);
    t[2] = reencode(&m, F_EPOCH, 3);
    t[3] = reencode(&m, F_KEY_ID, old->key_id); /* a key bob holds: its signature fails */
    t[4] = reencode(&m, F_ITERATION, 24000);
    t[5] = reencode(&m, F_ITERATION, 4000000); /* would be too far ahead if it were genuine */
    for (int i = 0; i < 6; i++) {
        assert_int_equal(gt_decrypt(f->bob, t[i].buf, t[i].len, NOW, NULL), E2EE_ERR_AUTH);
        gt_msg_free(&t[i]);
    }
    /* ciphertext bytes, GCM tag, signature: one flipped byte each */
    size_t ct_end = m.len - E2EE_ED25519_SIG_LEN;
    size_t spots[] = {ct_end - E2EE_AEAD_TAG_LEN - 10, ct_end - 1, ct_end, m.len - 1};
    for (size_t i = 0; i < sizeof spots / sizeof spots[0]; i++) {
        m.buf[spots[i]] ^= 0x20;
        assert_int_equal(gt_decrypt(f->bob, m.buf, m.len, NOW, NULL), E2EE_ERR_AUTH);
        m.buf[spots[i]] ^= 0x20;
    }
    /* a key id bob never held cannot be checked: that is the documented UNKNOWN_KEY */
    struct gt_msg u = reencode(&m, F_KEY_ID, next->key_id ^ 0x5a5a5a5au);
    assert_int_equal(gt_decrypt(f->bob, u.buf, u.len, NOW, NULL), E2EE_ERR_UNKNOWN_KEY);
    gt_msg_free(&u);
    /* version byte */
    m.buf[0] = 2;
    assert_int_equal(gt_decrypt(f->bob, m.buf, m.len, NOW, NULL), E2EE_ERR_VERSION);
    m.buf[0] = E2EE_SENDER_KEY_VERSION;
    gt_assert_same(f->bob, &snap);
    assert_int_equal(gt_decrypt(f->bob, m.buf, m.len, NOW, "the original"), E2EE_OK);
    gt_msg_free(&snap);
    gt_msg_free(&m);
    f->alice = next;
    e2ee__sender_key_free(old);
}

/* The context bound by the AD and the signature: group id, sender user id, device id. */
static void test_tamper_context(void **state)
{
    struct fixture *f = *state;
    uint8_t *d;
    size_t dlen;
    assert_int_equal(e2ee__sender_key_distribution_create(f->alice, &d, &dlen), E2EE_OK);
    struct gt_msg m = gt_encrypt(f->alice, "context");
    static const struct {
        const char *group, *user;
        uint32_t device;
    } ctx[] = {{"g2", "alice", 1}, {"g1", "alicf", 1}, {"g1", "alice", 2}, {"g1x", "alice", 1}};
    for (size_t i = 0; i < sizeof ctx / sizeof ctx[0]; i++) {
        /* same key material, installed under another (group, sender) */
        e2ee__sender_key_distribution dist;
        assert_int_equal(e2ee__sender_key_distribution_decode(&dist, d, dlen), E2EE_OK);
        assert_int_equal(e2ee__group_sender_set(&dist.sender, ctx[i].group, ctx[i].user,
                                                ctx[i].device),
                         E2EE_OK);
        e2ee__sender_key_record *r = NULL;
        assert_int_equal(e2ee__sender_key_record_new(&r, ctx[i].group, ctx[i].user,
                                                     ctx[i].device, NULL),
                         E2EE_OK);
        assert_int_equal(e2ee__sender_key_record_install(r, &dist, NOW), E2EE_OK);
        assert_int_equal(gt_decrypt(r, m.buf, m.len, NOW, NULL), E2EE_ERR_AUTH);
        e2ee__sender_key_record_free(r);
        e2ee__sender_key_distribution_wipe(&dist);
    }
    assert_int_equal(gt_decrypt(f->bob, m.buf, m.len, NOW, "context"), E2EE_OK);
    gt_msg_free(&m);
    e2ee__sender_key_buf_free(d, dlen);
}

static int allowed_failure(int rc)
{
    return rc == E2EE_ERR_AUTH || rc == E2EE_ERR_DECODE || rc == E2EE_ERR_VERSION ||
           rc == E2EE_ERR_UNKNOWN_KEY;
}

/* Every byte flipped three ways, and every truncation: refused, record untouched. */
static void test_tamper_every_byte(void **state)
{
    struct fixture *f = *state;
    struct gt_msg m = gt_encrypt(f->alice, "flip me, every byte of me");
    struct gt_msg snap = gt_snapshot(f->bob);
    static const uint8_t masks[] = {0x01, 0x80, 0xff};
    int auth = 0;
    for (size_t i = 0; i < m.len; i++) {
        for (size_t k = 0; k < sizeof masks; k++) {
            m.buf[i] ^= masks[k];
            int rc = gt_decrypt(f->bob, m.buf, m.len, NOW, NULL);
            m.buf[i] ^= masks[k];
            if (!allowed_failure(rc))
                fail_msg("byte %zu mask %02x: %s", i, masks[k], e2ee_errname(rc));
            auth += rc == E2EE_ERR_AUTH;
        }
    }
    assert_true(auth > (int)m.len); /* most flips reach the signature check */
    for (size_t n = 0; n < m.len; n++) {
        int rc = gt_decrypt(f->bob, m.buf, n, NOW, NULL);
        if (!allowed_failure(rc))
            fail_msg("truncated to %zu: %s", n, e2ee_errname(rc));
    }
    gt_assert_same(f->bob, &snap);
    assert_int_equal(gt_decrypt(f->bob, m.buf, m.len, NOW, "flip me, every byte of me"),
                     E2EE_OK);
    gt_msg_free(&snap);
    gt_msg_free(&m);
}

/* Signed by the sender but undecryptable: nothing of the jump is committed. */
static void test_commit_only_on_success(void **state)
{
    struct fixture *f = *state;
    struct gt_msg good = msg_at(f->alice, 500, "far");
    struct gt_msg bad = msg_at(f->alice, 500, "far");
    bad.buf[bad.len - E2EE_ED25519_SIG_LEN - 1] ^= 1; /* the GCM tag */
    resign(&bad, f->alice);
    struct gt_msg snap = gt_snapshot(f->bob);
    assert_int_equal(gt_decrypt(f->bob, bad.buf, bad.len, NOW, NULL), E2EE_ERR_AUTH);
    gt_assert_same(f->bob, &snap);
    assert_int_equal(f->bob->states[0]->iteration, 0);
    assert_int_equal(f->bob->states[0]->skipped.count, 0);
    assert_int_equal(gt_decrypt(f->bob, good.buf, good.len, NOW, "far"), E2EE_OK);
    assert_int_equal(f->bob->states[0]->iteration, 501);
    assert_int_equal(f->bob->states[0]->skipped.count, 500);
    gt_msg_free(&snap);
    gt_msg_free(&bad);
    gt_msg_free(&good);
}

static void test_too_far_ahead(void **state)
{
    struct fixture *f = *state;
    struct gt_msg over = msg_at(f->alice, E2EE_SENDER_KEY_MAX_JUMP + 1, "over");
    struct gt_msg cap = msg_at(f->alice, E2EE_SENDER_KEY_MAX_JUMP, "cap");
    struct gt_msg snap = gt_snapshot(f->bob);
    assert_int_equal(gt_decrypt(f->bob, over.buf, over.len, NOW, NULL), E2EE_ERR_TOO_FAR_AHEAD);
    gt_assert_same(f->bob, &snap);
    assert_int_equal(gt_decrypt(f->bob, cap.buf, cap.len, NOW, "cap"), E2EE_OK);
    /* the newest MAX_SKIPPED skipped keys are cached, older ones derived over and dropped */
    assert_int_equal(f->bob->states[0]->skipped.count, E2EE_SENDER_KEY_MAX_SKIPPED);
    struct gt_msg oldest = msg_at(f->alice, E2EE_SENDER_KEY_MAX_JUMP - 2000, "oldest kept");
    struct gt_msg gone = msg_at(f->alice, E2EE_SENDER_KEY_MAX_JUMP - 2001, "dropped");
    assert_int_equal(gt_decrypt(f->bob, oldest.buf, oldest.len, NOW, "oldest kept"), E2EE_OK);
    assert_int_equal(gt_decrypt(f->bob, gone.buf, gone.len, NOW, NULL), E2EE_ERR_TOO_OLD);
    /* now that the head moved, the formerly too-far message is one step ahead */
    assert_int_equal(gt_decrypt(f->bob, over.buf, over.len, NOW, "over"), E2EE_OK);
    gt_msg_free(&snap);
    gt_msg_free(&gone);
    gt_msg_free(&oldest);
    gt_msg_free(&cap);
    gt_msg_free(&over);
}

/* Cached keys live while within MAX_SKIPPED of the newest iteration received. */
static void test_skipped_window(void **state)
{
    struct fixture *f = *state;
    struct gt_msg m0 = msg_at(f->alice, 0, "0"), m1 = msg_at(f->alice, 1, "1");
    struct gt_msg m2 = msg_at(f->alice, 2, "2"), m2002 = msg_at(f->alice, 2002, "2002");
    struct gt_msg m2003 = msg_at(f->alice, 2003, "2003"), m4002 = msg_at(f->alice, 4002, "4002");
    struct gt_msg m2001 = msg_at(f->alice, 2001, "2001");
    assert_int_equal(gt_decrypt(f->bob, m0.buf, m0.len, NOW, "0"), E2EE_OK);
    assert_int_equal(gt_decrypt(f->bob, m2002.buf, m2002.len, NOW, "2002"), E2EE_OK);
    assert_int_equal(f->bob->states[0]->skipped.count, 2000); /* 2..2001 */
    assert_int_equal(gt_decrypt(f->bob, m1.buf, m1.len, NOW, NULL), E2EE_ERR_TOO_OLD);
    assert_int_equal(gt_decrypt(f->bob, m2.buf, m2.len, NOW, "2"), E2EE_OK);
    assert_int_equal(gt_decrypt(f->bob, m2.buf, m2.len, NOW, NULL), E2EE_ERR_DUPLICATE);
    assert_int_equal(gt_decrypt(f->bob, m4002.buf, m4002.len, NOW, "4002"), E2EE_OK);
    /* 2002..4001 are within reach: 2002 was received, 2003.. are cached; 2001 fell out */
    assert_int_equal(gt_decrypt(f->bob, m2001.buf, m2001.len, NOW, NULL), E2EE_ERR_TOO_OLD);
    assert_int_equal(gt_decrypt(f->bob, m2002.buf, m2002.len, NOW, NULL), E2EE_ERR_DUPLICATE);
    assert_int_equal(gt_decrypt(f->bob, m2003.buf, m2003.len, NOW, "2003"), E2EE_OK);
    assert_int_equal(f->bob->states[0]->skipped.count, 1998);
    struct gt_msg *all[] = {&m0, &m1, &m2, &m2001, &m2002, &m2003, &m4002};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        gt_msg_free(all[i]);
}

/* Messages from before the distribution's iteration cannot be opened (joiner vs history). */
static void test_before_distribution(void **state)
{
    struct fixture *f = *state;
    struct gt_msg early[5];
    for (int i = 0; i < 5; i++)
        early[i] = gt_encrypt(f->alice, "before");
    e2ee__sender_key_record *late = gt_record("g1", "alice", NULL);
    assert_int_equal(gt_distribute(late, f->alice, NOW), E2EE_OK);
    for (int i = 0; i < 5; i++)
        assert_int_equal(gt_decrypt(late, early[i].buf, early[i].len, NOW, NULL),
                         E2EE_ERR_TOO_OLD);
    struct gt_msg now = gt_encrypt(f->alice, "after");
    assert_int_equal(gt_decrypt(late, now.buf, now.len, NOW, "after"), E2EE_OK);
    gt_msg_free(&now);
    for (int i = 0; i < 5; i++)
        gt_msg_free(&early[i]);
    e2ee__sender_key_record_free(late);
}

static void test_unknown_key_and_wrong_epoch(void **state)
{
    struct fixture *f = *state;
    /* no distribution at all */
    e2ee__sender_key_record *empty = gt_record("g1", "alice", NULL);
    struct gt_msg m = gt_encrypt(f->alice, "hello");
    assert_int_equal(gt_decrypt(empty, m.buf, m.len, NOW, NULL), E2EE_ERR_UNKNOWN_KEY);
    e2ee__sender_key_record_free(empty);
    /* a rotated key whose distribution has not arrived */
    e2ee__rng rng = gt_rng(&f->drbg);
    e2ee__sender_key *next;
    assert_int_equal(e2ee__sender_key_rotate(&next, f->alice, 2, &rng), E2EE_OK);
    assert_int_not_equal(next->key_id, f->alice->key_id);
    struct gt_msg n = gt_encrypt(next, "new key");
    assert_int_equal(gt_decrypt(f->bob, n.buf, n.len, NOW, NULL), E2EE_ERR_UNKNOWN_KEY);
    /* a correctly signed message whose epoch is not its key's (a sender at fault) */
    struct gt_msg snap = gt_snapshot(f->bob);
    f->alice->epoch = 7;
    struct gt_msg w = gt_encrypt(f->alice, "wrong epoch");
    f->alice->epoch = 1;
    assert_int_equal(gt_decrypt(f->bob, w.buf, w.len, NOW, NULL), E2EE_ERR_WRONG_EPOCH);
    gt_assert_same(f->bob, &snap);
    assert_int_equal(gt_decrypt(f->bob, m.buf, m.len, NOW, "hello"), E2EE_OK);
    gt_msg_free(&snap);
    gt_msg_free(&w);
    gt_msg_free(&n);
    gt_msg_free(&m);
    e2ee__sender_key_free(next);
}

static void test_iteration_end(void **state)
{
    struct fixture *f = *state;
    e2ee__sender_key_record *r = gt_record("g1", "alice", NULL);
    f->alice->iteration = E2EE_SENDER_KEY_ITERATION_END - 1;
    assert_int_equal(gt_distribute(r, f->alice, NOW), E2EE_OK);
    struct gt_msg last = gt_encrypt(f->alice, "last");
    uint8_t *out = NULL, *d = NULL;
    size_t len = 0, dlen = 0;
    assert_int_equal(e2ee__group_encrypt(f->alice, (const uint8_t *)"x", 1, &out, &len),
                     E2EE_ERR_LIMIT);
    assert_int_equal(e2ee__sender_key_distribution_create(f->alice, &d, &dlen), E2EE_ERR_LIMIT);
    assert_null(out);
    assert_null(d);
    assert_int_equal(gt_decrypt(r, last.buf, last.len, NOW, "last"), E2EE_OK);
    assert_int_equal(r->states[0]->iteration, E2EE_SENDER_KEY_ITERATION_END);
    assert_int_equal(gt_decrypt(r, last.buf, last.len, NOW, NULL), E2EE_ERR_DUPLICATE);
    gt_msg_free(&last);
    e2ee__sender_key_record_free(r);
}

static void test_peek_and_arguments(void **state)
{
    struct fixture *f = *state;
    struct gt_msg m = gt_encrypt(f->alice, "peek");
    e2ee__group_message_header h;
    assert_int_equal(e2ee__group_message_peek(m.buf, m.len, &h), E2EE_OK);
    assert_int_equal(h.key_id, f->alice->key_id);
    assert_int_equal(h.iteration, 0);
    assert_int_equal(h.epoch, 1);
    assert_int_equal(e2ee__group_message_peek(m.buf, 10, &h), E2EE_ERR_DECODE);
    assert_int_equal(h.key_id, 0);
    assert_int_equal(e2ee__group_message_peek(NULL, 10, &h), E2EE_ERR_ARG);
    assert_int_equal(e2ee__group_message_peek(m.buf, E2EE_GROUP_MSG_MAX + 1, &h),
                     E2EE_ERR_TOO_LARGE);
    uint8_t *pt = (uint8_t *)1;
    size_t ptlen = 1;
    assert_int_equal(e2ee__group_decrypt(NULL, m.buf, m.len, NOW, &pt, &ptlen), E2EE_ERR_ARG);
    assert_null(pt);
    assert_int_equal(e2ee__group_decrypt(f->bob, NULL, m.len, NOW, &pt, &ptlen), E2EE_ERR_ARG);
    assert_int_equal(e2ee__group_decrypt(f->bob, m.buf, m.len, NOW, NULL, &ptlen), E2EE_ERR_ARG);
    assert_int_equal(e2ee__group_encrypt(NULL, m.buf, 1, &pt, &ptlen), E2EE_ERR_ARG);
    assert_int_equal(e2ee__group_encrypt(f->alice, NULL, 1, &pt, &ptlen), E2EE_ERR_ARG);
    assert_int_equal(e2ee__group_decrypt(f->bob, m.buf, m.len, NOW, &pt, &ptlen), E2EE_OK);
    e2ee__sender_key_buf_free(pt, ptlen);
    gt_msg_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_in_order_then_duplicates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_of_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forgery_by_chain_key_holder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tamper_every_field, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tamper_context, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tamper_every_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_only_on_success, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_far_ahead, setup, teardown),
        cmocka_unit_test_setup_teardown(test_skipped_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_before_distribution, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_key_and_wrong_epoch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_iteration_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peek_and_arguments, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
