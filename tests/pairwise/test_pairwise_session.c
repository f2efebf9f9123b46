/*
 * Pairwise sessions end to end: X3DH set-up, Double Ratchet conversations with reordering,
 * drops and duplicates, simultaneous initiation, long one-way runs, tampering, identities,
 * one-time prekey reuse, the distinct rejection codes, skipped-key caps, and session record
 * round trips and corruption. Every rejected message must leave the record byte-for-byte
 * unchanged (compared through its serialization).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pairwise.pb-c.h"
#include "proto/pwcodec.h"
#include "proto/session_state.h"
#include "pwtest.h"
#include "wire/wire.h"

/* ---- helpers ---- */

struct pair {
    struct pw_party a, b;
    e2ee__session_record *ra; /* A's record of B */
    e2ee__session_record *rb; /* B's record of A */
};

static void pair_init(struct pair *p, uint64_t seed, int with_opk)
{
    e2ee__prekey_bundle bu;
    pw_party_init(&p->a, "alice", seed);
    pw_party_init(&p->b, "bob", seed + 1000);
    assert_int_equal(e2ee__session_record_new(&p->ra), E2EE_OK);
    assert_int_equal(e2ee__session_record_new(&p->rb), E2EE_OK);
    pw_party_bundle(&p->b, with_opk, &bu);
    assert_int_equal(e2ee__session_initiate(p->ra, p->a.id, &p->a.addr, &bu, &p->a.rng), E2EE_OK);
}

static void pair_cleanup(struct pair *p)
{
    e2ee__session_record_free(p->ra);
    e2ee__session_record_free(p->rb);
    pw_party_cleanup(&p->a);
    pw_party_cleanup(&p->b);
}

static uint8_t *enc(struct pw_party *from, e2ee__session_record *rec, const char *text,
                    size_t *len)
{
    uint8_t *msg = NULL;
    assert_int_equal(e2ee__session_encrypt(rec, &from->rng, (const uint8_t *)text, strlen(text),
                                           &msg, len),
                     E2EE_OK);
    return msg;
}

static void dec_ok(struct pw_party *to, e2ee__session_record *rec, struct pw_party *from,
                   const uint8_t *msg, size_t len, const char *text)
{
    uint8_t *pt = NULL;
    size_t ptlen = 0;
    assert_int_equal(pw_decrypt(to, rec, from, msg, len, &pt, &ptlen), E2EE_OK);
    assert_int_equal(ptlen, strlen(text));
    assert_memory_equal(pt, text, ptlen);
    free(pt);
}

/* Decrypt that must fail and leave rec unchanged; returns the code. */
static int dec_fail(struct pw_party *to, e2ee__session_record *rec, struct pw_party *from,
                    const uint8_t *msg, size_t len)
{
    size_t snap_len = 0;
    uint8_t *snap = pw_snapshot(rec, &snap_len);
    int rc = pw_decrypt(to, rec, from, msg, len, NULL, NULL);
    assert_int_not_equal(rc, E2EE_OK);
    pw_assert_unchanged(rec, snap, snap_len);
    return rc;
}

static int is_prekey(const uint8_t *msg, size_t len)
{
    e2ee__pairwise_message_info info;
    assert_int_equal(e2ee__pairwise_message_peek(msg, len, &info), E2EE_OK);
    return info.is_prekey;
}

/* Sends one message each way so that both sides are past the pre-key stage. */
static void pair_establish(struct pair *p)
{
    size_t len;
    uint8_t *m = enc(&p->a, p->ra, "hello", &len);
    dec_ok(&p->b, p->rb, &p->a, m, len, "hello");
    free(m);
    m = enc(&p->b, p->rb, "hi", &len);
    dec_ok(&p->a, p->ra, &p->b, m, len, "hi");
    free(m);
}

/* ---- message tampering ---- */

enum tamper {
    T_RATCHET_KEY,
    T_COUNTER,
    T_PREV_COUNTER,
    T_CIPHERTEXT,
    T_TAG,
    T_BASE_KEY,
    T_COUNT
};

/* Re-encodes msg with one field changed. T_BASE_KEY applies to pre-key messages only. */
static uint8_t *tamper(const uint8_t *msg, size_t len, enum tamper t, size_t *out_len)
{
    ProtobufCMessage *raw = NULL;
    uint8_t *out = NULL;
    assert_int_equal(e2ee__wire_unpack(&e2ee__pairwise_message__descriptor, msg, len, len, &raw),
                     E2EE_OK);
    E2ee__PairwiseMessage *m = (E2ee__PairwiseMessage *)raw;
    E2ee__RatchetMessage *r = m->body_case == E2EE__PAIRWISE_MESSAGE__BODY_PREKEY
                                  ? m->prekey->message
                                  : m->ratchet;
    switch (t) {
    case T_RATCHET_KEY: r->ratchet_key.data[5] ^= 0x40; break;
    case T_COUNTER: r->counter += 1; break;
    case T_PREV_COUNTER: r->previous_counter += 1; break;
    case T_CIPHERTEXT: r->ciphertext.data[0] ^= 0x01; break;
    case T_TAG: r->ciphertext.data[r->ciphertext.len - 1] ^= 0x80; break;
    case T_BASE_KEY: m->prekey->base_key.data[7] ^= 0x02; break;
    default: fail();
    }
    assert_int_equal(e2ee__wire_pack(raw, len + 64, &out, out_len), E2EE_OK);
    e2ee__wire_free(raw);
    return out;
}

/* Every tampered variant fails with E2EE_ERR_AUTH and changes nothing; then the genuine
 * message decrypts. */
static void assert_tamper_rejected(struct pw_party *to, e2ee__session_record *rec,
                                   struct pw_party *from, const uint8_t *msg, size_t len,
                                   const char *text)
{
    for (int t = 0; t < T_COUNT; t++) {
        if (t == T_BASE_KEY && !is_prekey(msg, len))
            continue;
        size_t tl = 0;
        uint8_t *bad = tamper(msg, len, (enum tamper)t, &tl);
        assert_int_equal(dec_fail(to, rec, from, bad, tl), E2EE_ERR_AUTH);
        free(bad);
    }
    /* truncations of the message itself are refused the same way: nothing changes */
    for (size_t cut = 0; cut < len; cut += 7)
        (void)dec_fail(to, rec, from, msg, cut);
    dec_ok(to, rec, from, msg, len, text);
}

static void test_tampering(void **state)
{
    (void)state;
    struct pair p;
    size_t len;
    pair_init(&p, 1, 1);
    /* pre-key message (first of a session) */
    uint8_t *m = enc(&p.a, p.ra, "first", &len);
    assert_true(is_prekey(m, len));
    assert_tamper_rejected(&p.b, p.rb, &p.a, m, len, "first");
    free(m);
    /* a reply: the first message of a new chain (previous counter matters) */
    m = enc(&p.b, p.rb, "reply", &len);
    assert_false(is_prekey(m, len));
    assert_tamper_rejected(&p.a, p.ra, &p.b, m, len, "reply");
    free(m);
    /* messages inside a running chain */
    for (int i = 0; i < 3; i++) {
        char text[32];
        snprintf(text, sizeof text, "chain %d", i);
        m = enc(&p.b, p.rb, text, &len);
        assert_tamper_rejected(&p.a, p.ra, &p.b, m, len, text);
        free(m);
    }
    /* a new chain with a non-zero previous counter */
    m = enc(&p.a, p.ra, "turn", &len);
    assert_tamper_rejected(&p.b, p.rb, &p.a, m, len, "turn");
    free(m);
    pair_cleanup(&p);
}

/* Random byte changes anywhere in a message never decrypt and never change the record. */
static void assert_mutations_rejected(struct pw_party *to, e2ee__session_record *rec,
                                      struct pw_party *from, const uint8_t *msg, size_t len,
                                      const char *text, uint64_t seed)
{
    struct tu_drbg d;
    uint8_t *copy = malloc(len);
    assert_non_null(copy);
    tu_drbg_init(&d, seed);
    for (int i = 0; i < 300; i++) {
        memcpy(copy, msg, len);
        int flips = 1 + (int)tu_drbg_below(&d, 3);
        for (int f = 0; f < flips; f++)
            copy[tu_drbg_below(&d, (uint32_t)len)] ^= (uint8_t)(1 + tu_drbg_below(&d, 255));
        (void)dec_fail(to, rec, from, copy, len);
    }
    free(copy);
    dec_ok(to, rec, from, msg, len, text);
}

static void test_random_mutations(void **state)
{
    (void)state;
    struct pair p;
    size_t len;
    pair_init(&p, 17, 1);
    uint8_t *m = enc(&p.a, p.ra, "pre-key", &len);
    assert_mutations_rejected(&p.b, p.rb, &p.a, m, len, "pre-key", 1);
    free(m);
    m = enc(&p.b, p.rb, "ratchet", &len);
    assert_mutations_rejected(&p.a, p.ra, &p.b, m, len, "ratchet", 2);
    free(m);
    pair_cleanup(&p);
}

/* Re-packs a record after `edit` changed fields of its decoded form (scalars and lengths
 * only: the decoded memory belongs to the decoder). Returns the deserialize code. */
static int edit_record(const e2ee__session_record *rec,
                       void (*edit)(E2ee__SessionRecord *m, void *arg), void *arg,
                       e2ee__session_record **out)
{
    size_t len = 0, len2 = 0;
    uint8_t *buf = pw_snapshot(rec, &len), *buf2 = NULL;
    ProtobufCMessage *raw = NULL;
    assert_int_equal(e2ee__pwcodec_unpack_record(&e2ee__session_record__descriptor,
                                                 E2EE_SESSION_RECORD_LABEL, buf, len,
                                                 E2EE_SESSION_RECORD_MAX, &raw),
                     E2EE_OK);
    edit((E2ee__SessionRecord *)raw, arg);
    assert_int_equal(e2ee__pwcodec_pack_record(raw, E2EE_SESSION_RECORD_LABEL,
                                               E2EE_SESSION_RECORD_MAX, &buf2, &len2),
                     E2EE_OK);
    int rc = e2ee__session_record_deserialize(out, buf2, len2);
    e2ee__wire_free(raw);
    e2ee__wire_buf_free(buf, len);
    e2ee__wire_buf_free(buf2, len2);
    return rc;
}

static void edit_remote_device(E2ee__SessionRecord *m, void *arg)
{
    (void)arg;
    m->states[0]->remote->device_id = 2;
}

static void edit_local_user(E2ee__SessionRecord *m, void *arg)
{
    (void)arg;
    m->states[0]->local->user_id.data[0] ^= 0x20; /* "bob" -> "Bob" */
}

static void edit_remote_dh(E2ee__SessionRecord *m, void *arg)
{
    (void)arg;
    m->states[0]->remote->identity->dh_key.data[0] ^= 1;
}

/* The associated data binds both users, devices and identity keys: a receiver whose idea of
 * any of them differs from the sender's rejects the message with E2EE_ERR_AUTH. */
static void test_associated_data(void **state)
{
    (void)state;
    struct pair p;
    size_t len;
    e2ee__address mallory, alice2;
    e2ee__session_decrypt_result res;
    pair_init(&p, 2, 1);
    uint8_t *m = enc(&p.a, p.ra, "first", &len);
    /* the responder believes the pre-key message comes from another user or device */
    assert_int_equal(e2ee__address_set(&mallory, "mallory", 1), E2EE_OK);
    assert_int_equal(e2ee__address_set(&alice2, "alice", 2), E2EE_OK);
    assert_int_equal(e2ee__session_decrypt(p.rb, p.b.id, &p.b.addr, &mallory, NULL,
                                           &p.b.source, m, len, &res),
                     E2EE_ERR_AUTH);
    assert_int_equal(e2ee__session_decrypt(p.rb, p.b.id, &p.b.addr, &alice2, NULL,
                                           &p.b.source, m, len, &res),
                     E2EE_ERR_AUTH);
    assert_int_equal(e2ee__session_record_state_count(p.rb), 0);
    dec_ok(&p.b, p.rb, &p.a, m, len, "first");
    free(m);

    void (*edits[])(E2ee__SessionRecord *, void *) = {edit_remote_device, edit_local_user,
                                                      edit_remote_dh};
    m = enc(&p.a, p.ra, "second", &len);
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        e2ee__session_record *bad = NULL;
        assert_int_equal(edit_record(p.rb, edits[i], NULL, &bad), E2EE_OK);
        const e2ee__address *from = i == 0 ? &alice2 : &p.a.addr;
        assert_int_equal(e2ee__session_decrypt(bad, p.b.id, &p.b.addr, from, NULL, &p.b.source,
                                               m, len, &res),
                         E2EE_ERR_AUTH);
        e2ee__session_record_free(bad);
    }
    dec_ok(&p.b, p.rb, &p.a, m, len, "second");
    free(m);
    pair_cleanup(&p);
}

static void test_basic_session(void **state)
{
    (void)state;
    for (int with_opk = 0; with_opk < 2; with_opk++) {
        struct pair p;
        size_t len;
        e2ee__session_decrypt_result res;
        pair_init(&p, 3 + (uint64_t)with_opk, with_opk);
        assert_true(e2ee__session_record_is_pending(p.ra));
        uint8_t *msgs[3];
        size_t lens[3];
        for (int i = 0; i < 3; i++) {
            msgs[i] = enc(&p.a, p.ra, i == 0 ? "m0" : i == 1 ? "m1" : "m2", &lens[i]);
            assert_true(is_prekey(msgs[i], lens[i]));
        }
        /* the second pre-key message arrives first: it sets up the session */
        assert_int_equal(e2ee__session_decrypt(p.rb, p.b.id, &p.b.addr, &p.a.addr, NULL,
                                               &p.b.source, msgs[1], lens[1], &res),
                         E2EE_OK);
        assert_true(res.prekey_message && res.new_session);
        assert_int_equal(res.used_one_time_prekey, with_opk);
        if (with_opk) {
            assert_int_equal(res.one_time_prekey_id, 100);
            pw_party_mark_used(&p.b, res.one_time_prekey_id);
        }
        e2ee__session_decrypt_result_cleanup(&res);
        /* the others match the session by their base key: no new state, no prekey use */
        assert_int_equal(e2ee__session_decrypt(p.rb, p.b.id, &p.b.addr, &p.a.addr, NULL,
                                               &p.b.source, msgs[0], lens[0], &res),
                         E2EE_OK);
        assert_true(res.prekey_message && !res.new_session && !res.used_one_time_prekey);
        assert_memory_equal(res.plaintext, "m0", 2);
        e2ee__session_decrypt_result_cleanup(&res);
        dec_ok(&p.b, p.rb, &p.a, msgs[2], lens[2], "m2");
        assert_int_equal(e2ee__session_record_state_count(p.rb), 1);
        assert_false(e2ee__session_record_is_pending(p.rb));
        for (int i = 0; i < 3; i++)
            free(msgs[i]);

        uint8_t *r = enc(&p.b, p.rb, "reply", &len);
        assert_false(is_prekey(r, len));
        dec_ok(&p.a, p.ra, &p.b, r, len, "reply");
        free(r);
        assert_false(e2ee__session_record_is_pending(p.ra));
        r = enc(&p.a, p.ra, "after", &len);
        assert_false(is_prekey(r, len));
        dec_ok(&p.b, p.rb, &p.a, r, len, "after");
        free(r);
        /* empty plaintext */
        uint8_t *e = NULL;
        assert_int_equal(e2ee__session_encrypt(p.ra, &p.a.rng, NULL, 0, &e, &len), E2EE_OK);
        dec_ok(&p.b, p.rb, &p.a, e, len, "");
        free(e);
        e2ee__identity_pub rid;
        assert_int_equal(e2ee__session_record_remote_identity(p.rb, &rid), E2EE_OK);
        assert_true(e2ee__identity_pub_equal(&rid, e2ee__identity_public(p.a.id)));
        pair_cleanup(&p);
    }
}

static void test_no_session_and_malformed(void **state)
{
    (void)state;
    struct pair p;
    size_t len;
    uint8_t *out = NULL;
    e2ee__identity_pub rid;
    pair_init(&p, 5, 1);
    assert_int_equal(e2ee__session_encrypt(p.rb, &p.b.rng, (const uint8_t *)"x", 1, &out, &len),
                     E2EE_ERR_NO_SESSION);
    assert_null(out);
    assert_int_equal(e2ee__session_record_remote_identity(p.rb, &rid), E2EE_ERR_NO_SESSION);
    pair_establish(&p);
    uint8_t *m = enc(&p.a, p.ra, "x", &len);
    /* a ratchet message for a record without a session */
    e2ee__session_record *empty = NULL;
    assert_int_equal(e2ee__session_record_new(&empty), E2EE_OK);
    assert_int_equal(dec_fail(&p.b, empty, &p.a, m, len), E2EE_ERR_NO_SESSION);
    e2ee__session_record_free(empty);
    /* garbage and a wrong envelope version */
    static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0x01};
    assert_int_equal(dec_fail(&p.b, p.rb, &p.a, garbage, sizeof garbage), E2EE_ERR_DECODE);
    E2ee__PairwiseMessage env = E2EE__PAIRWISE_MESSAGE__INIT;
    env.has_version = 1;
    env.version = 2;
    uint8_t *v2 = NULL;
    size_t v2len = 0;
    assert_int_equal(e2ee__wire_pack(&env.base, 64, &v2, &v2len), E2EE_OK);
    assert_int_equal(dec_fail(&p.b, p.rb, &p.a, v2, v2len), E2EE_ERR_VERSION);
    free(v2);
    env.version = 1;
    assert_int_equal(e2ee__wire_pack(&env.base, 64, &v2, &v2len), E2EE_OK);
    assert_int_equal(dec_fail(&p.b, p.rb, &p.a, v2, v2len), E2EE_ERR_DECODE);
    free(v2);
    /* too large a plaintext */
    size_t big_len = 0;
    assert_int_equal(e2ee__session_encrypt(p.ra, &p.a.rng, m, E2EE_RATCHET_MAX_PLAINTEXT + 1,
                                           &out, &big_len),
                     E2EE_ERR_TOO_LARGE);
    dec_ok(&p.b, p.rb, &p.a, m, len, "x");
    free(m);
    pair_cleanup(&p);
}

/* ---- identities and prekeys ---- */

static void test_wrong_identity(void **state)
{
    (void)state;
    struct pair p;
    struct pw_party carol;
    e2ee__prekey_bundle bu;
    e2ee__session_decrypt_result res;
    size_t len;
    pair_init(&p, 6, 1);
    pw_party_init(&carol, "carol", 66);

    /* bundles: somebody else's identity, a bad signed-prekey signature */
    e2ee__session_record *r = NULL;
    assert_int_equal(e2ee__session_record_new(&r), E2EE_OK);
    pw_party_bundle(&p.b, 1, &bu);
    e2ee__prekey_bundle bad = bu;
    bad.identity = *e2ee__identity_public(carol.id);
    assert_int_equal(e2ee__session_initiate(r, p.a.id, &p.a.addr, &bad, &p.a.rng), E2EE_ERR_AUTH);
    bad = bu;
    bad.spk_sig[17] ^= 4;
    assert_int_equal(e2ee__session_initiate(r, p.a.id, &p.a.addr, &bad, &p.a.rng), E2EE_ERR_AUTH);
    bad = bu;
    bad.identity.dh_sig[0] ^= 4;
    assert_int_equal(e2ee__session_initiate(r, p.a.id, &p.a.addr, &bad, &p.a.rng), E2EE_ERR_AUTH);
    assert_int_equal(e2ee__session_record_state_count(r), 0);

    uint8_t *m = enc(&p.a, p.ra, "for bob", &len);
    /* Carol (same prekey ids, other keys) cannot read what was meant for Bob */
    assert_int_equal(dec_fail(&carol, r, &p.a, m, len), E2EE_ERR_AUTH);
    /* Bob refuses it when he expects another identity for alice */
    assert_int_equal(e2ee__session_decrypt(p.rb, p.b.id, &p.b.addr, &p.a.addr,
                                           e2ee__identity_public(carol.id), &p.b.source, m, len,
                                           &res),
                     E2EE_ERR_UNTRUSTED_IDENTITY);
    /* a pre-key message whose sender identity was replaced */
    ProtobufCMessage *raw = NULL;
    uint8_t *forged = NULL;
    size_t flen = 0;
    assert_int_equal(e2ee__wire_unpack(&e2ee__pairwise_message__descriptor, m, len, len, &raw),
                     E2EE_OK);
    E2ee__PairwiseMessage *pm = (E2ee__PairwiseMessage *)raw;
    const e2ee__identity_pub *cp = e2ee__identity_public(carol.id);
    memcpy(pm->prekey->identity->sign_key.data, cp->sign_pk, 32);
    memcpy(pm->prekey->identity->dh_key.data, cp->dh_pk, 32);
    memcpy(pm->prekey->identity->dh_signature.data, cp->dh_sig, 64);
    assert_int_equal(e2ee__wire_pack(raw, len + 64, &forged, &flen), E2EE_OK);
    assert_int_equal(dec_fail(&p.b, p.rb, &p.a, forged, flen), E2EE_ERR_AUTH);
    free(forged);
    /* ... or whose identity signature is broken */
    pm->prekey->identity->dh_signature.data[3] ^= 1;
    assert_int_equal(e2ee__wire_pack(raw, len + 64, &forged, &flen), E2EE_OK);
    assert_int_equal(dec_fail(&p.b, p.rb, &p.a, forged, flen), E2EE_ERR_AUTH);
    /* (that one names carol's keys with a broken signature) ... also when the caller names
     * that very identity as expected, so that its signature is not checked: the X3DH and
     * the associated data bind the keys, which are not alice's */
    {
        e2ee__pairwise_message_info info;
        e2ee__session_decrypt_result res2;
        e2ee__session_record *fresh = NULL;
        assert_int_equal(e2ee__pairwise_message_peek(forged, flen, &info), E2EE_OK);
        assert_int_equal(e2ee__session_record_new(&fresh), E2EE_OK);
        assert_int_equal(e2ee__session_decrypt(fresh, p.b.id, &p.b.addr, &p.a.addr,
                                               &info.sender_identity, &p.b.source, forged, flen,
                                               &res2),
                         E2EE_ERR_AUTH);
        assert_int_equal(e2ee__session_record_state_count(fresh), 0);
        /* the genuine message with its genuine identity expected opens */
        assert_int_equal(e2ee__session_decrypt(fresh, p.b.id, &p.b.addr, &p.a.addr,
                                               e2ee__identity_public(p.a.id), &p.b.source, m,
                                               len, &res2),
                         E2EE_OK);
        assert_memory_equal(res2.plaintext, "for bob", 7);
        e2ee__session_decrypt_result_cleanup(&res2);
        e2ee__session_record_free(fresh);
    }
    free(forged);
    /* unknown signed and one-time prekey ids */
    e2ee__wire_free(raw);
    raw = NULL;
    assert_int_equal(e2ee__wire_unpack(&e2ee__pairwise_message__descriptor, m, len, len, &raw),
                     E2EE_OK);
    pm = (E2ee__PairwiseMessage *)raw;
    pm->prekey->signed_prekey_id = 77;
    assert_int_equal(e2ee__wire_pack(raw, len + 64, &forged, &flen), E2EE_OK);
    assert_int_equal(dec_fail(&p.b, p.rb, &p.a, forged, flen), E2EE_ERR_UNKNOWN_KEY);
    free(forged);
    pm->prekey->signed_prekey_id = 1;
    pm->prekey->one_time_prekey_id = 5000;
    assert_int_equal(e2ee__wire_pack(raw, len + 64, &forged, &flen), E2EE_OK);
    assert_int_equal(dec_fail(&p.b, p.rb, &p.a, forged, flen), E2EE_ERR_UNKNOWN_KEY);
    free(forged);
    e2ee__wire_free(raw);

    dec_ok(&p.b, p.rb, &p.a, m, len, "for bob");
    free(m);
    e2ee__session_record_free(r);
    pw_party_cleanup(&carol);
    pair_cleanup(&p);
}

static void test_one_time_prekey_reuse(void **state)
{
    (void)state;
    struct pair p;
    struct pw_party carol;
    e2ee__prekey_bundle bu;
    size_t len, len2;
    pair_init(&p, 7, 0);
    pw_party_init(&carol, "carol", 77);
    /* the relay (wrongly) hands the same bundle to alice and carol */
    pw_party_bundle(&p.b, 1, &bu);
    e2ee__session_record *ra = NULL, *rc = NULL, *rb_carol = NULL;
    assert_int_equal(e2ee__session_record_new(&ra), E2EE_OK);
    assert_int_equal(e2ee__session_record_new(&rc), E2EE_OK);
    assert_int_equal(e2ee__session_record_new(&rb_carol), E2EE_OK);
    assert_int_equal(e2ee__session_initiate(ra, p.a.id, &p.a.addr, &bu, &p.a.rng), E2EE_OK);
    assert_int_equal(e2ee__session_initiate(rc, carol.id, &carol.addr, &bu, &carol.rng), E2EE_OK);
    uint8_t *ma = enc(&p.a, ra, "from alice", &len);
    uint8_t *ma2 = enc(&p.a, ra, "again alice", &len2);
    size_t lc;
    uint8_t *mc = enc(&carol, rc, "from carol", &lc);
    dec_ok(&p.b, p.rb, &p.a, ma, len, "from alice"); /* consumes one-time prekey 100 */
    assert_int_equal(dec_fail(&p.b, rb_carol, &carol, mc, lc), E2EE_ERR_REPLAY);
    /* the same pre-key message again: the session recognises it as a duplicate */
    assert_int_equal(dec_fail(&p.b, p.rb, &p.a, ma, len), E2EE_ERR_DUPLICATE);
    /* with the session gone (a fresh record), the used prekey gives it away as a replay */
    e2ee__session_record *fresh = NULL;
    assert_int_equal(e2ee__session_record_new(&fresh), E2EE_OK);
    assert_int_equal(dec_fail(&p.b, fresh, &p.a, ma2, len2), E2EE_ERR_REPLAY);
    dec_ok(&p.b, p.rb, &p.a, ma2, len2, "again alice");
    free(ma);
    free(ma2);
    free(mc);
    e2ee__session_record_free(ra);
    e2ee__session_record_free(rc);
    e2ee__session_record_free(rb_carol);
    e2ee__session_record_free(fresh);
    pw_party_cleanup(&carol);
    pair_cleanup(&p);
}

/* Re-initiating keeps at most E2EE_SESSION_MAX_STATES states; a pre-key message of a
 * forgotten session is a replay of its used one-time prekey. */
static void test_state_cap(void **state)
{
    (void)state;
    struct pair p;
    e2ee__prekey_bundle bu;
    size_t len, old_len;
    pair_init(&p, 8, 1);
    uint8_t *m = enc(&p.a, p.ra, "s0", &len);
    uint8_t *old = enc(&p.a, p.ra, "s0 late", &old_len);
    dec_ok(&p.b, p.rb, &p.a, m, len, "s0");
    free(m);
    for (int i = 1; i <= E2EE_SESSION_MAX_STATES; i++) {
        char text[16];
        snprintf(text, sizeof text, "s%d", i);
        pw_party_bundle(&p.b, 1, &bu);
        assert_int_equal(e2ee__session_initiate(p.ra, p.a.id, &p.a.addr, &bu, &p.a.rng), E2EE_OK);
        m = enc(&p.a, p.ra, text, &len);
        dec_ok(&p.b, p.rb, &p.a, m, len, text);
        free(m);
        size_t want = (size_t)i + 1 > E2EE_SESSION_MAX_STATES ? E2EE_SESSION_MAX_STATES
                                                              : (size_t)i + 1;
        assert_int_equal(e2ee__session_record_state_count(p.rb), want);
        assert_int_equal(e2ee__session_record_state_count(p.ra), want);
    }
    assert_int_equal(dec_fail(&p.b, p.rb, &p.a, old, old_len), E2EE_ERR_REPLAY);
    free(old);
    m = enc(&p.b, p.rb, "back", &len);
    dec_ok(&p.a, p.ra, &p.b, m, len, "back");
    free(m);
    pair_cleanup(&p);
}

/* ---- rejection codes and skipped keys ---- */

static void test_rejection_codes(void **state)
{
    (void)state;
    struct pair p;
    pair_init(&p, 9, 1);
    pair_establish(&p);
    enum { N = 1002 };
    uint8_t **m = calloc(2 * N, sizeof *m);
    size_t *len = calloc(2 * N, sizeof *len);
    char text[32];
    assert_non_null(m);
    assert_non_null(len);
    for (int i = 0; i < 2 * N; i++) {
        snprintf(text, sizeof text, "n%d", i);
        m[i] = enc(&p.a, p.ra, text, &len[i]);
    }
    /* a new chain may not start more than 1,000 keys ahead */
    assert_int_equal(dec_fail(&p.b, p.rb, &p.a, m[1001], len[1001]), E2EE_ERR_TOO_FAR_AHEAD);
    dec_ok(&p.b, p.rb, &p.a, m[1000], len[1000], "n1000"); /* skips exactly 1,000 */
    dec_ok(&p.b, p.rb, &p.a, m[1001], len[1001], "n1001");
    dec_ok(&p.b, p.rb, &p.a, m[0], len[0], "n0");           /* from the skipped keys */
    assert_int_equal(dec_fail(&p.b, p.rb, &p.a, m[0], len[0]), E2EE_ERR_DUPLICATE);
    assert_int_equal(dec_fail(&p.b, p.rb, &p.a, m[1001], len[1001]), E2EE_ERR_DUPLICATE);
    /* inside the running chain: at most 1,000 ahead of the next expected number */
    assert_int_equal(dec_fail(&p.b, p.rb, &p.a, m[2003], len[2003]), E2EE_ERR_TOO_FAR_AHEAD);
    dec_ok(&p.b, p.rb, &p.a, m[2002], len[2002], "n2002");
    /* the chain held 999 keys (1..999) and 1,000 more were skipped: the oldest 999 went */
    e2ee__session_state *bs = p.rb->st[0];
    assert_int_equal(bs->r.skipped.count, E2EE_RATCHET_MAX_SKIP_PER_CHAIN);
    assert_int_equal(dec_fail(&p.b, p.rb, &p.a, m[500], len[500]), E2EE_ERR_DUPLICATE);
    dec_ok(&p.b, p.rb, &p.a, m[1500], len[1500], "n1500");
    dec_ok(&p.b, p.rb, &p.a, m[2003], len[2003], "n2003");

    /* the chain turns: messages of the old chain are now replays, skipped ones still open */
    size_t rl;
    uint8_t *r = enc(&p.b, p.rb, "turn", &rl);
    dec_ok(&p.a, p.ra, &p.b, r, rl, "turn");
    free(r);
    r = enc(&p.a, p.ra, "new chain", &rl);
    dec_ok(&p.b, p.rb, &p.a, r, rl, "new chain");
    free(r);
    assert_int_equal(dec_fail(&p.b, p.rb, &p.a, m[2002], len[2002]), E2EE_ERR_REPLAY);
    assert_int_equal(dec_fail(&p.b, p.rb, &p.a, m[500], len[500]), E2EE_ERR_REPLAY);
    dec_ok(&p.b, p.rb, &p.a, m[1501], len[1501], "n1501");
    for (int i = 0; i < 2 * N; i++)
        free(m[i]);
    free(m);
    free(len);
    pair_cleanup(&p);
}

/* Total cap: the oldest skipped keys across chains are evicted first. */
static void test_total_skip_cap(void **state)
{
    (void)state;
    struct pair p;
    pair_init(&p, 10, 1);
    pair_establish(&p);
    uint8_t *first[3] = {0};
    size_t first_len[3], len;
    char text[32];
    for (int chain = 0; chain < 3; chain++) {
        int n = chain < 2 ? 1001 : 11;
        uint8_t *last = NULL;
        size_t last_len = 0;
        for (int i = 0; i < n; i++) {
            snprintf(text, sizeof text, "c%d/%d", chain, i);
            uint8_t *x = enc(&p.a, p.ra, text, &len);
            if (i == 0) {
                first[chain] = x;
                first_len[chain] = len;
            } else if (i == 10 && chain < 2) {
                /* keep key 10 of each chain to read later */
                snprintf(text, sizeof text, "keep%d", chain);
                free(x);
            } else if (i == n - 1) {
                last = x;
                last_len = len;
            } else {
                free(x);
            }
        }
        snprintf(text, sizeof text, "c%d/%d", chain, n - 1);
        dec_ok(&p.b, p.rb, &p.a, last, last_len, text);
        free(last);
        uint8_t *r = enc(&p.b, p.rb, "turn", &len);
        dec_ok(&p.a, p.ra, &p.b, r, len, "turn");
        free(r);
    }
    e2ee__session_state *bs = p.rb->st[0];
    assert_int_equal(bs->r.skipped.count, E2EE_RATCHET_MAX_SKIP_TOTAL);
    /* chain 0 lost its 10 oldest keys (0..9) to chain 2's ten */
    assert_int_equal(dec_fail(&p.b, p.rb, &p.a, first[0], first_len[0]), E2EE_ERR_REPLAY);
    dec_ok(&p.b, p.rb, &p.a, first[1], first_len[1], "c1/0");
    dec_ok(&p.b, p.rb, &p.a, first[2], first_len[2], "c2/0");
    for (int i = 0; i < 3; i++)
        free(first[i]);
    pair_cleanup(&p);
}

/* ---- conversations ---- */

struct flight {
    uint8_t *msg;
    size_t len;
    int from_a;
    uint32_t seq;
    uint32_t born;
};

#define POOL_MAX 8192
#define MAX_AGE 6

struct convo {
    struct pair p;
    struct tu_drbg net;
    struct flight *pool;
    size_t n_pool;
    uint32_t sent[2], ok[2], dropped[2], dups;
    uint32_t round;
};

static void convo_send(struct convo *c, int from_a, uint32_t count)
{
    struct pw_party *from = from_a ? &c->p.a : &c->p.b;
    e2ee__session_record *rec = from_a ? c->p.ra : c->p.rb;
    char text[48];
    if (!e2ee__session_record_has_session(rec))
        return;
    for (uint32_t i = 0; i < count && c->n_pool < POOL_MAX; i++) {
        struct flight *f = &c->pool[c->n_pool++];
        f->from_a = from_a;
        f->seq = c->sent[from_a]++;
        f->born = c->round;
        snprintf(text, sizeof text, "%s message %u", from_a ? "A" : "B", f->seq);
        f->msg = enc(from, rec, text, &f->len);
    }
}

static void convo_deliver(struct convo *c, size_t idx, int drop_pct, int dup_pct)
{
    struct flight f = c->pool[idx];
    c->pool[idx] = c->pool[--c->n_pool];
    struct pw_party *to = f.from_a ? &c->p.b : &c->p.a;
    struct pw_party *from = f.from_a ? &c->p.a : &c->p.b;
    e2ee__session_record *rec = f.from_a ? c->p.rb : c->p.ra;
    char text[48];
    if ((int)tu_drbg_below(&c->net, 100) < drop_pct) {
        c->dropped[f.from_a]++;
        free(f.msg);
        return;
    }
    snprintf(text, sizeof text, "%s message %u", f.from_a ? "A" : "B", f.seq);
    dec_ok(to, rec, from, f.msg, f.len, text);
    c->ok[f.from_a]++;
    if ((int)tu_drbg_below(&c->net, 100) < dup_pct) {
        int rc = dec_fail(to, rec, from, f.msg, f.len);
        assert_true(rc == E2EE_ERR_DUPLICATE || rc == E2EE_ERR_REPLAY);
        c->dups++;
    }
    free(f.msg);
}

/* Random conversation: each side sends at least `per_side` messages in random bursts; the
 * network reorders, drops drop_pct% and duplicates dup_pct% of them; every message not
 * dropped must decrypt exactly once. Records are reloaded every reload_every rounds. */
static void run_conversation(uint64_t seed, int simultaneous, uint32_t per_side, int drop_pct,
                             int dup_pct, uint32_t reload_every)
{
    struct convo c;
    memset(&c, 0, sizeof c);
    pair_init(&c.p, seed, 1);
    if (simultaneous) {
        e2ee__prekey_bundle bu;
        pw_party_bundle(&c.p.a, 1, &bu);
        assert_int_equal(e2ee__session_initiate(c.p.rb, c.p.b.id, &c.p.b.addr, &bu, &c.p.b.rng),
                         E2EE_OK);
    }
    tu_drbg_init(&c.net, seed * 7 + 1);
    c.pool = calloc(POOL_MAX, sizeof *c.pool);
    assert_non_null(c.pool);
    while (c.sent[0] < per_side || c.sent[1] < per_side) {
        int from_a = (int)tu_drbg_below(&c.net, 2);
        uint32_t burst = 1 + tu_drbg_below(&c.net, 8);
        if (tu_drbg_below(&c.net, 20) == 0)
            burst += 40;
        convo_send(&c, from_a, burst);
        size_t k = tu_drbg_below(&c.net, (uint32_t)c.n_pool + 1);
        for (size_t i = 0; i < k && c.n_pool; i++)
            convo_deliver(&c, tu_drbg_below(&c.net, (uint32_t)c.n_pool), drop_pct, dup_pct);
        for (size_t i = 0; i < c.n_pool;) {
            if (c.round - c.pool[i].born >= MAX_AGE)
                convo_deliver(&c, i, 0, dup_pct);
            else
                i++;
        }
        c.round++;
        if (reload_every && c.round % reload_every == 0) {
            c.p.ra = pw_reload(c.p.ra);
            c.p.rb = pw_reload(c.p.rb);
        }
    }
    while (c.n_pool)
        convo_deliver(&c, tu_drbg_below(&c.net, (uint32_t)c.n_pool), 0, dup_pct);
    for (int s = 0; s < 2; s++) {
        assert_true(c.sent[s] >= per_side);
        assert_int_equal(c.ok[s] + c.dropped[s], c.sent[s]);
    }
    if (drop_pct)
        assert_true(c.dropped[0] > 0 && c.dropped[1] > 0);
    if (dup_pct)
        assert_true(c.dups > 0);
    /* both sides still talk after all that */
    size_t len;
    uint8_t *m = enc(&c.p.a, c.p.ra, "bye", &len);
    dec_ok(&c.p.b, c.p.rb, &c.p.a, m, len, "bye");
    free(m);
    m = enc(&c.p.b, c.p.rb, "bye too", &len);
    dec_ok(&c.p.a, c.p.ra, &c.p.b, m, len, "bye too");
    free(m);
    assert_false(e2ee__session_record_is_pending(c.p.ra));
    assert_false(e2ee__session_record_is_pending(c.p.rb));
    free(c.pool);
    pair_cleanup(&c.p);
}

static void test_conversation_reorder_drop_dup(void **state)
{
    (void)state;
    run_conversation(11, 0, 1200, 5, 5, 40);
}

static void test_conversation_in_order(void **state)
{
    (void)state;
    run_conversation(12, 0, 300, 0, 0, 0);
}

static void test_simultaneous_initiation(void **state)
{
    (void)state;
    /* the deterministic crossing first */
    struct pair p;
    e2ee__prekey_bundle bu;
    size_t l1, l2;
    pair_init(&p, 13, 1);
    pw_party_bundle(&p.a, 1, &bu);
    assert_int_equal(e2ee__session_initiate(p.rb, p.b.id, &p.b.addr, &bu, &p.b.rng), E2EE_OK);
    uint8_t *ma = enc(&p.a, p.ra, "a1", &l1);
    uint8_t *mb = enc(&p.b, p.rb, "b1", &l2);
    assert_true(is_prekey(ma, l1) && is_prekey(mb, l2));
    dec_ok(&p.a, p.ra, &p.b, mb, l2, "b1");
    dec_ok(&p.b, p.rb, &p.a, ma, l1, "a1");
    free(ma);
    free(mb);
    assert_int_equal(e2ee__session_record_state_count(p.ra), 2);
    assert_int_equal(e2ee__session_record_state_count(p.rb), 2);
    for (int i = 0; i < 20; i++) {
        char t[16];
        snprintf(t, sizeof t, "a%d", i);
        ma = enc(&p.a, p.ra, t, &l1);
        dec_ok(&p.b, p.rb, &p.a, ma, l1, t);
        free(ma);
        snprintf(t, sizeof t, "b%d", i);
        mb = enc(&p.b, p.rb, t, &l2);
        dec_ok(&p.a, p.ra, &p.b, mb, l2, t);
        free(mb);
    }
    /* both now use the same session: its states are current on both sides */
    assert_memory_equal(p.ra->st[0]->base_key, p.rb->st[0]->base_key, 32);
    assert_false(e2ee__session_record_is_pending(p.ra));
    assert_false(e2ee__session_record_is_pending(p.rb));
    pair_cleanup(&p);
    /* and at random, with reordering, drops and duplicates */
    run_conversation(14, 1, 1000, 3, 3, 25);
}

static void test_long_one_way_then_reply(void **state)
{
    (void)state;
    struct pair p;
    struct tu_drbg d;
    enum { RUN = 2500, WINDOW = 50 };
    char text[32];
    size_t len;
    pair_init(&p, 15, 1);
    tu_drbg_init(&d, 15);
    for (int round = 0; round < 2; round++) {
        uint8_t **m = calloc(RUN, sizeof *m);
        size_t *lens = calloc(RUN, sizeof *lens);
        int *order = calloc(WINDOW, sizeof *order);
        assert_true(m && lens && order);
        for (int i = 0; i < RUN; i++) {
            snprintf(text, sizeof text, "r%d/%d", round, i);
            m[i] = enc(&p.a, p.ra, text, &lens[i]);
        }
        /* delivered in shuffled windows of 50 */
        for (int w = 0; w < RUN; w += WINDOW) {
            for (int i = 0; i < WINDOW; i++)
                order[i] = w + i;
            for (int i = WINDOW - 1; i > 0; i--) {
                int j = (int)tu_drbg_below(&d, (uint32_t)i + 1), t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
            for (int i = 0; i < WINDOW; i++) {
                snprintf(text, sizeof text, "r%d/%d", round, order[i]);
                dec_ok(&p.b, p.rb, &p.a, m[order[i]], lens[order[i]], text);
            }
        }
        for (int i = 0; i < RUN; i++)
            free(m[i]);
        free(m);
        free(lens);
        free(order);
        p.rb = pw_reload(p.rb);
        uint8_t *r = enc(&p.b, p.rb, "reply", &len);
        dec_ok(&p.a, p.ra, &p.b, r, len, "reply");
        free(r);
    }
    pair_cleanup(&p);
}

/* ---- records ---- */

static int parse_record(const uint8_t *buf, size_t len)
{
    e2ee__session_record *r = NULL;
    int rc = e2ee__session_record_deserialize(&r, buf, len);
    assert_true((rc == E2EE_OK) == (r != NULL));
    e2ee__session_record_free(r);
    return rc;
}

/* A record with two states, retired chains and skipped keys. */
static void busy_pair(struct pair *p)
{
    e2ee__prekey_bundle bu;
    size_t len;
    char text[32];
    pair_init(p, 16, 1);
    pw_party_bundle(&p->a, 1, &bu);
    assert_int_equal(e2ee__session_initiate(p->rb, p->b.id, &p->b.addr, &bu, &p->b.rng), E2EE_OK);
    /* both initiate and both pre-key messages cross: two states on each side */
    uint8_t *m = enc(&p->b, p->rb, "cross", &len);
    size_t len_a;
    uint8_t *ma = enc(&p->a, p->ra, "cross a", &len_a);
    dec_ok(&p->a, p->ra, &p->b, m, len, "cross");
    dec_ok(&p->b, p->rb, &p->a, ma, len_a, "cross a");
    free(m);
    free(ma);
    for (int turn = 0; turn < 4; turn++) {
        for (int i = 0; i < 5; i++) {
            snprintf(text, sizeof text, "t%d/%d", turn, i);
            m = enc(&p->a, p->ra, text, &len);
            if (i % 2 == 0) /* every other message is lost: skipped keys remain */
                dec_ok(&p->b, p->rb, &p->a, m, len, text);
            free(m);
        }
        m = enc(&p->b, p->rb, "ack", &len);
        dec_ok(&p->a, p->ra, &p->b, m, len, "ack");
        free(m);
    }
}

static void test_record_round_trip(void **state)
{
    (void)state;
    struct pair p;
    size_t len;
    busy_pair(&p);
    assert_int_equal(e2ee__session_record_state_count(p.rb), 2);
    assert_true(p.rb->st[0]->r.skipped.count > 0);
    assert_true(p.rb->st[0]->r.n_retired > 1);
    /* serialize -> deserialize -> continue, on both sides, several times */
    for (int i = 0; i < 3; i++) {
        p.ra = pw_reload(p.ra);
        p.rb = pw_reload(p.rb);
        uint8_t *m = enc(&p.a, p.ra, "after reload", &len);
        dec_ok(&p.b, p.rb, &p.a, m, len, "after reload");
        free(m);
        m = enc(&p.b, p.rb, "reply after reload", &len);
        dec_ok(&p.a, p.ra, &p.b, m, len, "reply after reload");
        free(m);
    }
    /* empty records round-trip too */
    e2ee__session_record *e = NULL;
    assert_int_equal(e2ee__session_record_new(&e), E2EE_OK);
    e = pw_reload(e);
    assert_int_equal(e2ee__session_record_state_count(e), 0);
    e2ee__session_record_free(e);
    pair_cleanup(&p);
}

static void test_record_damage(void **state)
{
    (void)state;
    struct pair p;
    struct tu_drbg d;
    size_t len;
    busy_pair(&p);
    uint8_t *buf = pw_snapshot(p.rb, &len);
    uint8_t *copy = malloc(len);
    assert_non_null(copy);
    assert_int_equal(parse_record(buf, len), E2EE_OK);
    for (size_t cut = 0; cut < len; cut++)
        assert_int_equal(parse_record(buf, cut), E2EE_ERR_CORRUPT);
    tu_drbg_init(&d, 16);
    for (int i = 0; i < 500; i++) {
        memcpy(copy, buf, len);
        copy[tu_drbg_below(&d, (uint32_t)len)] ^= (uint8_t)(1 + tu_drbg_below(&d, 255));
        assert_int_equal(parse_record(copy, len), E2EE_ERR_CORRUPT);
    }
    free(copy);
    e2ee__wire_buf_free(buf, len);
    pair_cleanup(&p);
}

enum edit_kind {
    E_VERSION,
    E_ROOT_LEN,
    E_HALF_RATCHET_PAIR,
    E_RETIRED_DUP,
    E_SKIPPED_UNKNOWN_CHAIN,
    E_SKIPPED_AHEAD,
    E_RESPONDER_PENDING,
    E_EMPTY_USER,
    E_CHAIN_WITHOUT_KEY,
    E_COUNT
};

static void edit_kind(E2ee__SessionRecord *m, void *arg)
{
    enum edit_kind k = *(enum edit_kind *)arg;
    E2ee__SessionState *s = m->states[0];
    switch (k) {
    case E_VERSION: m->version = 2; break;
    case E_ROOT_LEN: s->root_key.len = 31; break;
    case E_HALF_RATCHET_PAIR: s->has_sending_ratchet_private = 0; break;
    case E_RETIRED_DUP:
        memcpy(s->retired_ratchet_keys[1].data, s->retired_ratchet_keys[0].data, 32);
        break;
    case E_SKIPPED_UNKNOWN_CHAIN: s->skipped[0]->ratchet_key.data[9] ^= 1; break;
    case E_SKIPPED_AHEAD:
        /* a key of the current chain at or past the receiving counter */
        memcpy(s->skipped[s->n_skipped - 1]->ratchet_key.data, s->receiving_ratchet_key.data,
               32);
        s->skipped[s->n_skipped - 1]->counter = s->receiving_counter;
        break;
    case E_RESPONDER_PENDING:
        for (size_t i = 0; i < m->n_states; i++) {
            if (!m->states[i]->initiator)
                m->states[i]->pending_prekey = 1;
        }
        break;
    case E_EMPTY_USER: s->remote->user_id.len = 0; break;
    case E_CHAIN_WITHOUT_KEY: s->has_receiving_ratchet_key = 0; break;
    default: fail();
    }
}

static void test_record_semantic_corruption(void **state)
{
    (void)state;
    struct pair p;
    busy_pair(&p);
    for (int k = 0; k < E_COUNT; k++) {
        e2ee__session_record *bad = NULL;
        enum edit_kind kind = (enum edit_kind)k;
        int rc = edit_record(p.rb, edit_kind, &kind, &bad);
        if (rc != (k == E_VERSION ? E2EE_ERR_VERSION : E2EE_ERR_CORRUPT))
            print_message("edit %d accepted: %s\n", k, e2ee_errname(rc));
        assert_int_equal(rc, k == E_VERSION ? E2EE_ERR_VERSION : E2EE_ERR_CORRUPT);
        assert_null(bad);
    }
    /* more states than allowed */
    size_t len = 0, len2 = 0;
    uint8_t *buf = pw_snapshot(p.rb, &len), *buf2 = NULL;
    ProtobufCMessage *raw = NULL;
    assert_int_equal(e2ee__pwcodec_unpack_record(&e2ee__session_record__descriptor,
                                                 E2EE_SESSION_RECORD_LABEL, buf, len,
                                                 E2EE_SESSION_RECORD_MAX, &raw),
                     E2EE_OK);
    E2ee__SessionRecord *m = (E2ee__SessionRecord *)raw;
    E2ee__SessionState *six[E2EE_SESSION_MAX_STATES + 1];
    for (size_t i = 0; i <= E2EE_SESSION_MAX_STATES; i++)
        six[i] = m->states[0];
    E2ee__SessionRecord big = *m;
    big.n_states = E2EE_SESSION_MAX_STATES + 1;
    big.states = six;
    assert_int_equal(e2ee__pwcodec_pack_record(&big.base, E2EE_SESSION_RECORD_LABEL,
                                               E2EE_SESSION_RECORD_MAX, &buf2, &len2),
                     E2EE_OK);
    assert_int_equal(parse_record(buf2, len2), E2EE_ERR_CORRUPT);
    e2ee__wire_buf_free(buf2, len2);
    e2ee__wire_free(raw);
    e2ee__wire_buf_free(buf, len);
    pair_cleanup(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic_session),
        cmocka_unit_test(test_no_session_and_malformed),
        cmocka_unit_test(test_tampering),
        cmocka_unit_test(test_associated_data),
        cmocka_unit_test(test_random_mutations),
        cmocka_unit_test(test_wrong_identity),
        cmocka_unit_test(test_one_time_prekey_reuse),
        cmocka_unit_test(test_state_cap),
        cmocka_unit_test(test_rejection_codes),
        cmocka_unit_test(test_total_skip_cap),
        cmocka_unit_test(test_conversation_in_order),
        cmocka_unit_test(test_conversation_reorder_drop_dup),
        cmocka_unit_test(test_simultaneous_initiation),
        cmocka_unit_test(test_long_one_way_then_reply),
        cmocka_unit_test(test_record_round_trip),
        cmocka_unit_test(test_record_damage),
        cmocka_unit_test(test_record_semantic_corruption),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
