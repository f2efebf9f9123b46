/*
 * e2ee relay tests: the directory against the real relay. Publishing prekeys, bundles
 * that consume one one-time prekey each (and the signed prekey alone once they run out),
 * the low-prekey notice, the user list with paging, user created / deleted events in both
 * modes, and account deletion.
 */
#include <stdio.h>
#include <string.h>

#include "relaytest.h"
#include "testutil.h"

static struct rt_relay g_relay;

static int setup(void **state)
{
    (void)state;
    struct rt_relay_opts o = {.config = "low_prekey_threshold = 2\nlist_users_page = 50\n"};
    return rt_relay_start(&g_relay, &o);
}

static int teardown(void **state)
{
    (void)state;
    int rc = rt_relay_stop(&g_relay);
    rt_relay_cleanup(&g_relay);
    return rc == 0 ? 0 : -1;
}

static void publish_and_fetch(void **state)
{
    (void)state;
    struct rt_ident a, b;
    struct rt_client *ca = rt_user(&g_relay, &a, "p-alice"), *cb = rt_user(&g_relay, &b, "p-bob");
    E2ee__RelayResult *res = NULL;
    assert_non_null(ca);
    assert_non_null(cb);
    /* no signed prekey yet */
    assert_int_equal(rt_fetch_bundle(cb, "p-alice", NULL), E2EE_ERR_NOT_FOUND);
    assert_int_equal(rt_fetch_bundle(cb, "p-nobody", NULL), E2EE_ERR_NO_SUCH_USER);
    assert_int_equal(rt_publish(ca, 7, 100, 3, &res), 0);
    assert_int_equal(res->body_case, E2EE__RELAY_RESULT__BODY_PREKEYS);
    assert_int_equal(res->prekeys->one_time_prekeys, 3);
    assert_true(res->prekeys->has_signed_prekey);
    rt_free_result(res);
    for (uint32_t i = 0; i < 4; i++) {
        assert_int_equal(rt_fetch_bundle(cb, "p-alice", &res), 0);
        E2ee__RelayBundle *bu = res->bundle;
        assert_string_equal(bu->user_id, "p-alice");
        assert_int_equal(bu->device_id, 1);
        assert_memory_equal(bu->identity->sign_key.data, a.sign_pk, 32);
        assert_memory_equal(bu->identity->dh_key.data, a.dh_pk, 32);
        assert_memory_equal(bu->identity->dh_signature.data, a.dh_sig, 64);
        assert_int_equal(bu->signed_prekey->id, 7);
        assert_int_equal(bu->signed_prekey->public_key.len, 32);
        if (i < 3) {
            assert_non_null(bu->one_time_prekey); /* each one handed out once */
            assert_int_equal(bu->one_time_prekey->id, 100 + i);
        } else {
            assert_null(bu->one_time_prekey); /* ran out: signed prekey alone */
        }
        rt_free_result(res);
    }
    /* replace: the stock is exactly the new batch */
    assert_int_equal(rt_publish(ca, 8, 200, 2, NULL), 0);
    E2ee__ClientFrame f = E2EE__CLIENT_FRAME__INIT;
    E2ee__RelayPublishKeys m = E2EE__RELAY_PUBLISH_KEYS__INIT;
    m.replace_one_time_prekeys = 1;
    f.body_case = E2EE__CLIENT_FRAME__BODY_PUBLISH_KEYS;
    f.publish_keys = &m;
    assert_int_equal(rt_request(ca, &f, &res), 0);
    assert_int_equal(res->prekeys->one_time_prekeys, 0);
    rt_free_result(res);
    rt_close(ca);
    rt_close(cb);
}

static void low_prekey_notice(void **state)
{
    (void)state;
    struct rt_ident a, b;
    struct rt_client *ca = rt_user(&g_relay, &a, "l-alice"), *cb = rt_user(&g_relay, &b, "l-bob");
    assert_non_null(ca);
    assert_non_null(cb);
    E2ee__RelayEvent *created = rt_next_event(ca, RT_TIMEOUT_MS); /* l-bob registered */
    assert_non_null(created);
    assert_int_equal(created->body_case, E2EE__RELAY_EVENT__BODY_USER);
    rt_free_event(created);
    assert_int_equal(rt_publish(ca, 1, 1, 3, NULL), 0);
    assert_int_equal(rt_fetch_bundle(cb, "l-alice", NULL), 0); /* 2 left: not below 2 */
    assert_int_equal(rt_ping(ca), 0);
    assert_int_equal(rt_pending_events(ca), 0);
    assert_int_equal(rt_fetch_bundle(cb, "l-alice", NULL), 0); /* 1 left */
    E2ee__RelayEvent *ev = rt_next_event(ca, RT_TIMEOUT_MS);
    assert_non_null(ev);
    assert_int_equal(ev->body_case, E2EE__RELAY_EVENT__BODY_LOW_PREKEYS);
    assert_int_equal(ev->low_prekeys->remaining, 1);
    assert_int_equal(ev->low_prekeys->threshold, 2);
    rt_free_event(ev);
    rt_close(ca);
    rt_close(cb);
}

static void list_users_paging(void **state)
{
    (void)state;
    struct rt_ident ids[5];
    char uid[32];
    for (int i = 0; i < 5; i++) {
        snprintf(uid, sizeof uid, "u-list-%d", i);
        struct rt_client *c = rt_user(&g_relay, &ids[i], uid);
        assert_non_null(c);
        rt_close(c);
    }
    struct rt_ident me;
    struct rt_client *c = rt_user(&g_relay, &me, "u-lister");
    assert_non_null(c);
    char after[65] = "u-list-";
    int seen = 0, pages = 0;
    for (;;) {
        E2ee__ClientFrame f = E2EE__CLIENT_FRAME__INIT;
        E2ee__RelayListUsers m = E2EE__RELAY_LIST_USERS__INIT;
        E2ee__RelayResult *res = NULL;
        m.after = after;
        m.limit = 2;
        f.body_case = E2EE__CLIENT_FRAME__BODY_LIST_USERS;
        f.list_users = &m;
        assert_int_equal(rt_request(c, &f, &res), 0);
        assert_true(res->users->n_user_ids <= 2);
        for (size_t i = 0; i < res->users->n_user_ids; i++) {
            assert_true(strcmp(res->users->user_ids[i], after) > 0); /* sorted, after */
            if (strncmp(res->users->user_ids[i], "u-list-", 7) == 0)
                seen++;
            snprintf(after, sizeof after, "%s", res->users->user_ids[i]);
        }
        pages++;
        int more = res->users->more;
        rt_free_result(res);
        if (!more)
            break;
        assert_true(pages < 10);
    }
    assert_int_equal(seen, 5);
    assert_true(pages >= 3);
    rt_close(c);
}

static void user_events_to_everyone(void **state)
{
    (void)state;
    struct rt_ident w, n;
    int code = 0;
    struct rt_client *cw = rt_user(&g_relay, &w, "e-watcher");
    assert_non_null(cw);
    struct rt_client *cn = rt_user(&g_relay, &n, "e-newbie");
    assert_non_null(cn);
    E2ee__RelayEvent *ev = rt_next_event(cw, RT_TIMEOUT_MS);
    assert_non_null(ev);
    assert_int_equal(ev->body_case, E2EE__RELAY_EVENT__BODY_USER);
    assert_int_equal(ev->user->kind, E2EE__RELAY_USER_EVENT_KIND__RELAY_USER_CREATED);
    assert_string_equal(ev->user->user_id, "e-newbie");
    rt_free_event(ev);
    /* the guard: deleting needs the own id */
    E2ee__ClientFrame f = E2EE__CLIENT_FRAME__INIT;
    E2ee__RelayDeleteAccount m = E2EE__RELAY_DELETE_ACCOUNT__INIT;
    m.user_id = "e-watcher";
    f.body_case = E2EE__CLIENT_FRAME__BODY_DELETE_ACCOUNT;
    f.delete_account = &m;
    assert_int_equal(rt_request(cn, &f, NULL), E2EE_ERR_ARG);
    m.user_id = "e-newbie";
    f.request_id = 0;
    assert_int_equal(rt_request(cn, &f, NULL), 0);
    assert_int_equal(rt_wait_close(cn, RT_TIMEOUT_MS, &code, NULL, 0), 0);
    assert_int_equal(code, 1000);
    rt_close(cn);
    ev = rt_next_event(cw, RT_TIMEOUT_MS);
    assert_non_null(ev);
    assert_int_equal(ev->user->kind, E2EE__RELAY_USER_EVENT_KIND__RELAY_USER_DELETED);
    assert_string_equal(ev->user->user_id, "e-newbie");
    rt_free_event(ev);
    assert_int_equal(rt_send_direct(cw, "e-newbie", 1, "x", 1, NULL), E2EE_ERR_NO_SUCH_USER);
    /* the id is free again: a new key registers it */
    struct rt_ident again;
    E2ee__RelayResult *res = NULL;
    rt_ident_new(&again, "e-newbie");
    cn = rt_connect(&g_relay);
    assert_non_null(cn);
    assert_int_equal(rt_login_ex(cn, &again, NULL, 0, 0, &res), 0);
    assert_true(res->login->registered);
    rt_free_result(res);
    rt_close(cn);
    rt_close(cw);
}

static void user_events_to_group_peers(void **state)
{
    (void)state;
    struct rt_relay r;
    struct rt_relay_opts o = {.config = "user_events = groups\n"};
    struct rt_ident g, h, i, j;
    assert_int_equal(rt_relay_start(&r, &o), 0);
    struct rt_client *cg = rt_user(&r, &g, "gina"), *ch = rt_user(&r, &h, "hank");
    struct rt_client *ci = rt_user(&r, &i, "ivan");
    assert_non_null(cg);
    assert_non_null(ch);
    assert_non_null(ci);
    assert_int_equal(rt_create_group(cg, "club", NULL), 0);
    assert_int_equal(rt_join_group(ch, "club", NULL), 0);
    /* a newcomer shares no group: nobody hears of it */
    struct rt_client *cj = rt_user(&r, &j, "judy");
    assert_non_null(cj);
    E2ee__ClientFrame f = E2EE__CLIENT_FRAME__INIT;
    E2ee__RelayDeleteAccount m = E2EE__RELAY_DELETE_ACCOUNT__INIT;
    m.user_id = "hank";
    f.body_case = E2EE__CLIENT_FRAME__BODY_DELETE_ACCOUNT;
    f.delete_account = &m;
    assert_int_equal(rt_request(ch, &f, NULL), 0);
    E2ee__RelayEvent *ev = rt_next_event(cg, RT_TIMEOUT_MS);
    assert_non_null(ev);
    assert_int_equal(ev->user->kind, E2EE__RELAY_USER_EVENT_KIND__RELAY_USER_DELETED);
    assert_string_equal(ev->user->user_id, "hank");
    rt_free_event(ev);
    assert_int_equal(rt_ping(ci), 0);
    assert_int_equal(rt_ping(cg), 0);
    rt_pump(50);
    assert_int_equal(rt_pending_events(ci), 0);
    assert_int_equal(rt_pending_events(cg), 0); /* no "judy created" either */
    /* hank left the group on the way out */
    E2ee__RelayResult *res = NULL;
    assert_int_equal(rt_list_members(cg, "club", &res), 0);
    assert_int_equal(res->group->n_members, 1);
    assert_string_equal(res->group->members[0], "gina");
    rt_free_result(res);
    rt_close(cg);
    rt_close(ch);
    rt_close(ci);
    rt_close(cj);
    assert_int_equal(rt_relay_stop(&r), 0);
    rt_relay_cleanup(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(publish_and_fetch),
        cmocka_unit_test(low_prekey_notice),
        cmocka_unit_test(list_users_paging),
        cmocka_unit_test(user_events_to_everyone),
    };
    const struct CMUnitTest own[] = {
        cmocka_unit_test(user_events_to_group_peers),
    };
    int failed = cmocka_run_group_tests_name("relay directory", tests, setup, teardown);
    failed += cmocka_run_group_tests_name("relay directory (own relay)", own, NULL, NULL);
    return failed ? 1 : 0;
}
