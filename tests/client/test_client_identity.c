/*
 * Identity keys of peers: fingerprints and safety numbers agree on both sides; a peer that
 * comes back with another identity key (here: the relay's directory was lost and "i-bob"
 * registered again with a new key) is reported, and blocked (policy BLOCK) until the user
 * trusts the new fingerprint, or accepted at once (policy ACCEPT).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clienttest.h"
#include "testutil.h"

static struct rt_relay g_relay;
static struct rt_relay g_relay2; /* the relay that lost its directory (cleaned up always) */

static int setup(void **state)
{
    (void)state;
    return rt_relay_start(&g_relay, NULL);
}

static int teardown(void **state)
{
    (void)state;
    rt_relay_cleanup(&g_relay2);
    rt_relay_cleanup(&g_relay);
    return 0;
}

static void test_fingerprints(void **state)
{
    struct ct_client *a = ct_client_new(&g_relay, "f-anna", NULL);
    struct ct_client *b = ct_client_new(&g_relay, "f-ben", NULL);
    char fa_own[E2EE_FINGERPRINT_SIZE], fa_seen[E2EE_FINGERPRINT_SIZE];
    char sa[E2EE_SAFETY_NUMBER_SIZE], sb[E2EE_SAFETY_NUMBER_SIZE];
    char **list = NULL;
    size_t n = 0;
    (void)state;

    assert_int_equal(e2ee_client_fingerprint(a->c, "f-ben", fa_seen), E2EE_ERR_NO_SUCH_USER);
    ct_direct_roundtrip(a, b, "hello");
    assert_int_equal(e2ee_client_fingerprint(a->c, NULL, fa_own), E2EE_OK);
    assert_int_equal(e2ee_client_fingerprint(b->c, "f-anna", fa_seen), E2EE_OK);
    assert_string_equal(fa_own, fa_seen);
    assert_int_equal(e2ee_client_safety_number(a->c, "f-ben", sa), E2EE_OK);
    assert_int_equal(e2ee_client_safety_number(b->c, "f-anna", sb), E2EE_OK);
    assert_string_equal(sa, sb);
    assert_int_equal(strlen(sa), 71); /* 12 groups of 5 digits */
    assert_int_equal(e2ee_client_list_known_users(a->c, &list, &n), E2EE_OK);
    assert_int_equal(n, 1);
    assert_string_equal(list[0], "f-ben");
    e2ee_strv_free(list, n);
    ct_client_free(a);
    ct_client_free(b);
}

static void test_identity_change(void **state)
{
    struct rt_relay *r2 = &g_relay2;
    struct ct_client *a = ct_client_new(&g_relay, "i-alice", &(struct ct_opts){.store = ""});
    struct ct_client *c = ct_client_new(&g_relay, "i-carol",
                                        &(struct ct_opts){.store = "", .accept_identity = 1});
    struct ct_client *b1 = ct_client_new(&g_relay, "i-bob", NULL);
    struct ct_client *b2;
    char old_fp[E2EE_FINGERPRINT_SIZE], new_fp[E2EE_FINGERPRINT_SIZE], fp[E2EE_FINGERPRINT_SIZE];
    char id[E2EE_MSG_ID_SIZE];
    const struct ct_event *e;
    (void)state;

    ct_direct_roundtrip(a, b1, "hello old bob");
    ct_direct_roundtrip(b1, a, "hello alice");
    ct_direct_roundtrip(c, b1, "hello from carol");
    assert_int_equal(e2ee_client_fingerprint(b1->c, NULL, old_fp), E2EE_OK);
    ct_client_free(b1);

    /* a relay that lost its directory: bob registers again, with a new identity */
    assert_int_equal(rt_relay_start(r2, NULL), 0);
    ct_client_restart(a, r2->url);
    ct_client_restart(c, r2->url);
    b2 = ct_client_new(r2, "i-bob", NULL);
    assert_int_equal(e2ee_client_fingerprint(b2->c, NULL, new_fp), E2EE_OK);
    assert_string_not_equal(old_fp, new_fp);

    /* policy BLOCK: reported, the message refused, sends refused, until trusted */
    assert_int_equal(e2ee_client_send_direct(b2->c, "i-alice", "it is me, new bob", id), E2EE_OK);
    e = ct_wait(a, &(struct ct_match){.type = E2EE_EVENT_PEER_IDENTITY_CHANGED, .user = "i-bob"},
                CT_WAIT_MS);
    assert_non_null(e);
    assert_string_equal(e->old_fp, old_fp);
    assert_string_equal(e->new_fp, new_fp);
    assert_int_equal(e->accepted, 0);
    ct_expect(a, &(struct ct_match){.type = E2EE_EVENT_E2EE_ERROR, .msg_id = id, .has_code = 1,
                                    .code = E2EE_ERR_UNTRUSTED_IDENTITY, .from = "i-bob"});
    assert_int_equal(ct_count(a, &(struct ct_match){.type = E2EE_EVENT_DIRECT_TEXT,
                                                    .from = "i-bob", .msg_id = id}),
                     0);
    assert_int_equal(e2ee_client_send_direct(a->c, "i-bob", "are you?", NULL),
                     E2EE_ERR_UNTRUSTED_IDENTITY);
    assert_int_equal(e2ee_client_fingerprint(a->c, "i-bob", fp), E2EE_OK);
    assert_string_equal(fp, old_fp);
    /* a second message: refused again, reported once */
    assert_int_equal(e2ee_client_send_direct(b2->c, "i-alice", "still me", id), E2EE_OK);
    ct_expect(a, &(struct ct_match){.type = E2EE_EVENT_E2EE_ERROR, .msg_id = id, .has_code = 1,
                                    .code = E2EE_ERR_UNTRUSTED_IDENTITY});
    assert_int_equal(ct_count(a, &(struct ct_match){.type = E2EE_EVENT_PEER_IDENTITY_CHANGED}), 1);

    assert_int_equal(e2ee_client_trust_peer(a->c, "i-bob", old_fp), E2EE_ERR_STATE);
    assert_int_equal(e2ee_client_trust_peer(a->c, "i-bob", new_fp), E2EE_OK);
    assert_int_equal(e2ee_client_fingerprint(a->c, "i-bob", fp), E2EE_OK);
    assert_string_equal(fp, new_fp);
    ct_direct_roundtrip(a, b2, "welcome back, new bob");
    ct_direct_roundtrip(b2, a, "thanks");
    assert_int_equal(e2ee_client_trust_peer(a->c, "i-bob", new_fp), E2EE_OK); /* no change */

    /* policy ACCEPT: reported as accepted, the message delivered */
    assert_int_equal(e2ee_client_send_direct(b2->c, "i-carol", "new bob for carol", id),
                     E2EE_OK);
    e = ct_wait(c, &(struct ct_match){.type = E2EE_EVENT_PEER_IDENTITY_CHANGED, .user = "i-bob"},
                CT_WAIT_MS);
    assert_non_null(e);
    assert_int_equal(e->accepted, 1);
    assert_string_equal(e->new_fp, new_fp);
    ct_expect(c, &(struct ct_match){.type = E2EE_EVENT_DIRECT_TEXT, .msg_id = id,
                                    .text = "new bob for carol"});
    ct_direct_roundtrip(c, b2, "ok");
    assert_int_equal(ct_count(c, &(struct ct_match){.type = E2EE_EVENT_E2EE_ERROR}), 0);
    ct_client_free(a);
    ct_client_free(b2);
    ct_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fingerprints),
        cmocka_unit_test(test_identity_change),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
