/*
 * e2ee relay tests: RelayFetchBundles against the real relay. One request answers one item
 * per requested device, in request order: a bundle (one one-time prekey consumed each, as a
 * single fetch would) or the refusal a single fetch would get. The request's limits:
 * max_bundles_per_fetch (announced in the challenge, never above max_requests_per_sec), no
 * empty list, no item twice, and one request counted per item against the rate.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relaytest.h"
#include "testutil.h"

static struct rt_relay g_relay;

static int setup(void **state)
{
    (void)state;
    struct rt_relay_opts o = {.config = "low_prekey_threshold = 0\n"};
    return rt_relay_start(&g_relay, &o);
}

static int teardown(void **state)
{
    (void)state;
    int rc = rt_relay_stop(&g_relay);
    rt_relay_cleanup(&g_relay);
    return rc == 0 ? 0 : -1;
}

/* Sends a RelayFetchBundles for uids[0..n) (devices 1); returns the request id. */
static uint64_t send_fetch(struct rt_client *c, const char *const *uids, size_t n)
{
    E2ee__ClientFrame f = E2EE__CLIENT_FRAME__INIT;
    E2ee__RelayFetchBundles fb = E2EE__RELAY_FETCH_BUNDLES__INIT;
    E2ee__RelayFetchBundle *items = calloc(n ? n : 1, sizeof *items);
    E2ee__RelayFetchBundle **ptrs = calloc(n ? n : 1, sizeof *ptrs);
    assert_non_null(items);
    assert_non_null(ptrs);
    for (size_t i = 0; i < n; i++) {
        e2ee__relay_fetch_bundle__init(&items[i]);
        items[i].user_id = (char *)uids[i];
        items[i].device_id = 1;
        ptrs[i] = &items[i];
    }
    fb.n_items = n;
    fb.items = ptrs;
    f.body_case = E2EE__CLIENT_FRAME__BODY_FETCH_BUNDLES;
    f.fetch_bundles = &fb;
    uint64_t req = rt_send(c, &f);
    free(items);
    free(ptrs);
    return req;
}

static E2ee__RelayResult *fetch(struct rt_client *c, const char *const *uids, size_t n)
{
    E2ee__RelayResult *res = rt_wait_result(c, send_fetch(c, uids, n), RT_TIMEOUT_MS);
    assert_non_null(res);
    return res;
}

static void bundles_in_request_order(void **state)
{
    (void)state;
    struct rt_ident a, b, d, e;
    struct rt_client *ca = rt_user(&g_relay, &a, "m-alice"), *cb = rt_user(&g_relay, &b, "m-bob");
    struct rt_client *cd = rt_user(&g_relay, &d, "m-dave"), *ce = rt_user(&g_relay, &e, "m-eve");
    const char *uids[] = {"m-bob", "m-nobody", "m-alice", "m-dave"};
    uint32_t alice_opk[3];
    assert_non_null(ca);
    assert_non_null(cb);
    assert_non_null(cd);
    assert_non_null(ce);
    assert_int_equal(rt_publish(ca, 7, 100, 2, NULL), 0);
    assert_int_equal(rt_publish(cb, 9, 200, 1, NULL), 0);
    /* dave published nothing: a single fetch would get E2EE_ERR_NOT_FOUND */
    for (int round = 0; round < 3; round++) {
        E2ee__RelayResult *res = fetch(ce, uids, 4);
        assert_int_equal(res->code, 0);
        assert_int_equal(res->body_case, E2EE__RELAY_RESULT__BODY_BUNDLES);
        assert_int_equal(res->bundles->n_items, 4);
        for (size_t i = 0; i < 4; i++) {
            assert_string_equal(res->bundles->items[i]->user_id, uids[i]);
            assert_int_equal(res->bundles->items[i]->device_id, 1);
        }
        E2ee__RelayBundleItem *ib = res->bundles->items[0], *ia = res->bundles->items[2];
        assert_int_equal(ib->code, 0);
        assert_int_equal(ib->bundle->signed_prekey->id, 9);
        assert_memory_equal(ib->bundle->identity->sign_key.data, b.sign_pk, 32);
        /* bob had one one-time prekey: only the first round gets it */
        assert_int_equal(ib->bundle->one_time_prekey != NULL, round == 0);
        assert_int_equal(res->bundles->items[1]->code, E2EE_ERR_NO_SUCH_USER);
        assert_null(res->bundles->items[1]->bundle);
        assert_int_equal(ia->code, 0);
        assert_string_equal(ia->bundle->user_id, "m-alice");
        assert_memory_equal(ia->bundle->identity->dh_key.data, a.dh_pk, 32);
        assert_memory_equal(ia->bundle->identity->dh_signature.data, a.dh_sig, 64);
        assert_int_equal(ia->bundle->signed_prekey->id, 7);
        assert_int_equal(ia->bundle->signed_prekey->public_key.len, 32);
        assert_int_equal(ia->bundle->signed_prekey->signature.len, 64);
        alice_opk[round] = ia->bundle->one_time_prekey ? ia->bundle->one_time_prekey->id : 0;
        assert_int_equal(res->bundles->items[3]->code, E2EE_ERR_NOT_FOUND);
        assert_non_null(strstr(res->bundles->items[3]->text, "signed prekey"));
        rt_free_result(res);
    }
    /* two distinct one-time prekeys of alice, then none */
    assert_true(alice_opk[0] >= 100 && alice_opk[0] <= 101);
    assert_true(alice_opk[1] >= 100 && alice_opk[1] <= 101);
    assert_int_not_equal(alice_opk[0], alice_opk[1]);
    assert_int_equal(alice_opk[2], 0);
    /* the single fetch still works beside it */
    assert_int_equal(rt_fetch_bundle(ce, "m-alice", NULL), 0);
    rt_close(ca);
    rt_close(cb);
    rt_close(cd);
    rt_close(ce);
}

static void request_limits(void **state)
{
    (void)state;
    struct rt_ident a, e;
    struct rt_client *ca = rt_user(&g_relay, &a, "l-alice"), *ce = rt_user(&g_relay, &e, "l-eve");
    enum { OVER = 257 };
    const char *many[OVER];
    const char *twice[] = {"l-alice", "l-eve", "l-alice"};
    const char *bad[] = {"l-alice", "not valid!"};
    E2ee__RelayResult *res;
    assert_non_null(ca);
    assert_non_null(ce);
    assert_int_equal(rt_publish(ca, 1, 1, 5, NULL), 0);
    /* the default limit, announced */
    assert_non_null(rt_challenge(ce));
    assert_int_equal(rt_challenge(ce)->limits->max_bundles_per_fetch, 256);
    res = fetch(ce, NULL, 0);
    assert_int_equal(res->code, E2EE_ERR_ARG);
    rt_free_result(res);
    for (size_t i = 0; i < OVER; i++)
        many[i] = "l-alice";
    res = fetch(ce, many, OVER);
    assert_int_equal(res->code, E2EE_ERR_LIMIT);
    assert_non_null(strstr(res->text, "max_bundles_per_fetch"));
    rt_free_result(res);
    res = fetch(ce, twice, 3);
    assert_int_equal(res->code, E2EE_ERR_ARG);
    assert_non_null(strstr(res->text, "repeats"));
    rt_free_result(res);
    /* a bad item is refused alone */
    res = fetch(ce, bad, 2);
    assert_int_equal(res->code, 0);
    assert_int_equal(res->bundles->n_items, 2);
    assert_int_equal(res->bundles->items[0]->code, 0);
    assert_int_equal(res->bundles->items[1]->code, E2EE_ERR_ARG);
    rt_free_result(res);
    /* refused requests consumed no prekey: 5 - 1 left */
    assert_int_equal(rt_publish(ca, 1, 50, 1, &res), 0);
    assert_int_equal(res->prekeys->one_time_prekeys, 5);
    rt_free_result(res);
    assert_false(rt_is_closed(ce));
    rt_close(ca);
    rt_close(ce);
}

/* Counted one request per item: the announced limit never exceeds the rate, and two full
 * fetches back to back exceed the bucket. */
static void counted_per_item(void **state)
{
    (void)state;
    struct rt_relay r;
    struct rt_relay_opts o = {.config = "max_requests_per_sec = 5\nmax_bundles_per_fetch = 100\n"};
    struct rt_ident a, e;
    const char *six[] = {"r-alice", "r-1", "r-2", "r-3", "r-4", "r-5"};
    assert_int_equal(rt_relay_start(&r, &o), 0);
    struct rt_client *ca = rt_user(&r, &a, "r-alice"), *ce = rt_user(&r, &e, "r-eve");
    assert_non_null(ca);
    assert_non_null(ce);
    assert_int_equal(rt_challenge(ce)->limits->max_bundles_per_fetch, 5);
    rt_pump(1200); /* the logins' tokens come back */
    E2ee__RelayResult *res = fetch(ce, six, 6);
    assert_int_equal(res->code, E2EE_ERR_LIMIT);
    rt_free_result(res);
    rt_pump(1200);
    rt_set_burst(ce, 1);
    uint64_t r1 = send_fetch(ce, six, 5), r2 = send_fetch(ce, six, 5);
    res = rt_wait_result(ce, r1, RT_TIMEOUT_MS);
    assert_non_null(res);
    assert_int_equal(res->code, 0);
    assert_int_equal(res->bundles->n_items, 5);
    rt_free_result(res);
    res = rt_wait_result(ce, r2, RT_TIMEOUT_MS);
    assert_non_null(res);
    assert_int_equal(res->code, E2EE_ERR_RATE_LIMITED);
    rt_free_result(res);
    rt_close(ca);
    rt_close(ce);
    assert_int_equal(rt_relay_stop(&r), 0);
    rt_relay_cleanup(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bundles_in_request_order),
        cmocka_unit_test(request_limits),
    };
    const struct CMUnitTest own[] = {
        cmocka_unit_test(counted_per_item),
    };
    int failed = cmocka_run_group_tests_name("relay bundles", tests, setup, teardown);
    failed += cmocka_run_group_tests_name("relay bundles (own relay)", own, NULL, NULL);
    return failed ? 1 : 0;
}
