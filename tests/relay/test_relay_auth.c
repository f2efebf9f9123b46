/*
 * e2ee relay tests: the login handshake against the real relay. Challenge contents, TOFU
 * registration, refusals (wrong key, another user's id, a replayed or reused answer, bad
 * fields), requests before login, a second login replacing the first connection, the
 * registration token, too many failed attempts, the login timeout, the subprotocol.
 */
#include <stdio.h>
#include <string.h>

#include "relaytest.h"
#include "testutil.h"

static struct rt_relay g_relay;

static int setup(void **state)
{
    (void)state;
    return rt_relay_start(&g_relay, NULL);
}

static int teardown(void **state)
{
    (void)state;
    int rc = rt_relay_stop(&g_relay);
    rt_relay_cleanup(&g_relay);
    return rc == 0 ? 0 : -1;
}

static void challenge_contents(void **state)
{
    (void)state;
    struct rt_client *c = rt_connect(&g_relay);
    assert_non_null(c);
    const E2ee__RelayChallenge *ch = rt_challenge(c);
    assert_non_null(ch);
    assert_int_equal(ch->version, 1);
    assert_int_equal(ch->nonce.len, 32);
    assert_true(strlen(ch->relay_id) > 0);
    assert_non_null(ch->limits);
    assert_true(ch->limits->max_frame_size >= 1024);
    assert_true(ch->limits->max_server_frame_size >= ch->limits->max_frame_size);
    /* a second connection gets another nonce */
    struct rt_client *c2 = rt_connect(&g_relay);
    assert_non_null(c2);
    assert_memory_not_equal(rt_challenge(c2)->nonce.data, ch->nonce.data, 32);
    assert_string_equal(rt_challenge(c2)->relay_id, ch->relay_id);
    rt_close(c);
    rt_close(c2);
}

/* The example of docs/PROTOCOL.md 3.3, byte for byte. The relay accepting logins built by
 * rt_login_message (every other test) ties the relay to the same layout. */
static void login_message_layout(void **state)
{
    (void)state;
    uint8_t nonce[32], out[256];
    static const uint8_t want_tail[] = {0x00, 0x02, 'r', '1', 0x00, 0x20};
    for (int i = 0; i < 32; i++)
        nonce[i] = (uint8_t)i;
    size_t n = rt_login_message(out, sizeof out, "r1", nonce, 32, "bob", 1);
    assert_int_equal(n, 19 + 4 + 2 + 32 + 5 + 4);
    assert_memory_equal(out, "e2ee-relay-login-v1", 19);
    assert_memory_equal(out + 19, want_tail, sizeof want_tail);
    assert_memory_equal(out + 25, nonce, 32);
    static const uint8_t user[] = {0x00, 0x03, 'b', 'o', 'b', 0x00, 0x00, 0x00, 0x01};
    assert_memory_equal(out + 57, user, sizeof user);
}

static void register_then_login(void **state)
{
    (void)state;
    struct rt_ident alice;
    E2ee__RelayResult *res = NULL;
    rt_ident_new(&alice, "alice");
    struct rt_client *c = rt_connect(&g_relay);
    assert_non_null(c);
    assert_int_equal(rt_login_ex(c, &alice, NULL, 0, 0, &res), 0);
    assert_non_null(res);
    assert_int_equal(res->body_case, E2EE__RELAY_RESULT__BODY_LOGIN);
    assert_true(res->login->registered);
    assert_string_equal(res->login->user_id, "alice");
    assert_int_equal(res->login->device_id, 1);
    assert_false(res->login->has_signed_prekey);
    rt_free_result(res);
    assert_int_equal(rt_ping(c), 0);
    rt_close(c);

    c = rt_connect(&g_relay);
    assert_non_null(c);
    assert_int_equal(rt_login_ex(c, &alice, NULL, 0, 0, &res), 0);
    assert_false(res->login->registered);
    rt_free_result(res);
    rt_close(c);
}

static void wrong_key_refused(void **state)
{
    (void)state;
    struct rt_ident bob, impostor;
    rt_ident_new(&bob, "bob");
    rt_ident_new(&impostor, "bob"); /* same id, another key */
    struct rt_client *c = rt_connect_login(&g_relay, &bob);
    assert_non_null(c);
    rt_close(c);

    c = rt_connect(&g_relay);
    assert_non_null(c);
    assert_int_equal(rt_login(c, &impostor), E2EE_ERR_LOGIN_REFUSED);
    /* the connection stays usable: a fresh challenge came, the real key logs in */
    assert_int_equal(rt_login(c, &bob), 0);
    assert_int_equal(rt_ping(c), 0);
    rt_close(c);
}

static void other_users_id_refused(void **state)
{
    (void)state;
    struct rt_ident carol, mallory;
    rt_ident_new(&carol, "carol");
    rt_ident_new(&mallory, "mallory");
    struct rt_client *c = rt_connect_login(&g_relay, &carol);
    struct rt_client *m = rt_connect_login(&g_relay, &mallory);
    assert_non_null(c);
    assert_non_null(m);
    rt_close(m);
    /* mallory signs a login for "carol" with her own (valid) key */
    m = rt_connect(&g_relay);
    assert_non_null(m);
    E2ee__ClientFrame *f = rt_login_frame(m, &mallory, "carol", NULL, 0, 0);
    assert_int_equal(rt_request(m, f, NULL), E2EE_ERR_LOGIN_REFUSED);
    rt_free_frame(f);
    /* carol was not disturbed */
    assert_int_equal(rt_ping(c), 0);
    rt_close(m);
    rt_close(c);
}

static void replayed_answer_refused(void **state)
{
    (void)state;
    struct rt_ident dave;
    rt_ident_new(&dave, "dave");
    struct rt_client *a = rt_connect(&g_relay);
    struct rt_client *b = rt_connect(&g_relay);
    assert_non_null(a);
    assert_non_null(b);
    /* an answer to a's challenge, captured, and replayed on b */
    E2ee__ClientFrame *f = rt_login_frame(a, &dave, NULL, NULL, 0, 0);
    assert_int_equal(rt_request(a, f, NULL), 0);
    f->request_id = 0;
    assert_int_equal(rt_request(b, f, NULL), E2EE_ERR_LOGIN_REFUSED);
    rt_free_frame(f);
    rt_close(a);
    rt_close(b);

    /* the same answer twice on one connection: the nonce is spent by the first attempt */
    struct rt_client *c = rt_connect(&g_relay);
    assert_non_null(c);
    struct rt_ident other;
    rt_ident_new(&other, "dave"); /* wrong key: the first attempt fails */
    E2ee__ClientFrame *bad = rt_login_frame(c, &other, NULL, NULL, 0, 0);
    E2ee__ClientFrame *good = rt_login_frame(c, &dave, NULL, NULL, 0, 0);
    assert_int_equal(rt_request(c, bad, NULL), E2EE_ERR_LOGIN_REFUSED);
    assert_int_equal(rt_request(c, good, NULL), E2EE_ERR_LOGIN_REFUSED);
    rt_free_frame(bad);
    rt_free_frame(good);
    rt_close(c);
}

static void bad_fields_refused(void **state)
{
    (void)state;
    struct rt_ident e;
    rt_ident_new(&e, "erin");
    struct rt_client *c = rt_connect(&g_relay);
    assert_non_null(c);
    E2ee__ClientFrame *f = rt_login_frame(c, &e, "bad id!", NULL, 0, 0);
    assert_int_equal(rt_request(c, f, NULL), E2EE_ERR_ARG);
    rt_free_frame(f);
    E2ee__RelayChallenge *ch = rt_next_challenge(c, RT_TIMEOUT_MS);
    assert_non_null(ch);
    rt_free_challenge(ch);
    f = rt_login_frame(c, &e, NULL, NULL, 0, 0);
    f->login->device_id = 2;
    assert_int_equal(rt_request(c, f, NULL), E2EE_ERR_NOT_SUPPORTED);
    f->login->device_id = 1;
    f->login->proof.len = 10;
    f->request_id = 0;
    assert_int_equal(rt_request(c, f, NULL), E2EE_ERR_LENGTH);
    rt_free_frame(f);
    rt_close(c);
}

static void requests_before_login(void **state)
{
    (void)state;
    struct rt_ident f;
    rt_ident_new(&f, "frank");
    struct rt_client *c = rt_connect(&g_relay);
    assert_non_null(c);
    assert_int_equal(rt_send_direct(c, "alice", 1, "x", 1, NULL), E2EE_ERR_UNAUTHENTICATED);
    assert_int_equal(rt_create_group(c, "g-before", NULL), E2EE_ERR_UNAUTHENTICATED);
    assert_int_equal(rt_ack(c, "", 1), E2EE_ERR_UNAUTHENTICATED);
    assert_int_equal(rt_ping(c), 0); /* ping needs no login */
    assert_int_equal(rt_login(c, &f), 0);
    assert_int_equal(rt_create_group(c, "g-before", NULL), 0);
    rt_close(c);
}

static void second_login_replaces_first(void **state)
{
    (void)state;
    struct rt_ident g;
    int code = 0;
    char reason[128];
    rt_ident_new(&g, "grace");
    struct rt_client *c1 = rt_connect_login(&g_relay, &g);
    assert_non_null(c1);
    struct rt_client *c2 = rt_connect_login(&g_relay, &g);
    assert_non_null(c2);
    assert_int_equal(rt_wait_close(c1, RT_TIMEOUT_MS, &code, reason, sizeof reason), 0);
    assert_int_equal(code, 4001);
    assert_non_null(strstr(reason, "E2EE_ERR_REPLACED"));
    assert_int_equal(rt_ping(c2), 0);
    rt_close(c1);
    rt_close(c2);
}

static void too_many_failures_close(void **state)
{
    (void)state;
    struct rt_ident h, wrong;
    int code = 0;
    rt_ident_new(&h, "heidi");
    rt_ident_new(&wrong, "heidi");
    struct rt_client *c = rt_connect_login(&g_relay, &h);
    assert_non_null(c);
    rt_close(c);
    c = rt_connect(&g_relay);
    assert_non_null(c);
    for (int i = 0; i < 5; i++)
        assert_int_equal(rt_login(c, &wrong), E2EE_ERR_LOGIN_REFUSED);
    assert_int_equal(rt_wait_close(c, RT_TIMEOUT_MS, &code, NULL, 0), 0);
    assert_int_equal(code, 1008);
    rt_close(c);
}

static void subprotocol_required(void **state)
{
    (void)state;
    struct rt_client *c = rt_connect_ex(&g_relay, NULL, 0);
    assert_null(c);
    c = rt_connect_ex(&g_relay, "chat.v9", 0);
    assert_null(c);
}

/* Separate relays with their own configuration. */

static void registration_token(void **state)
{
    (void)state;
    struct rt_relay r;
    struct rt_relay_opts o = {.config = "registration_token = s3cret\n"};
    struct rt_ident ivan;
    rt_ident_new(&ivan, "ivan");
    assert_int_equal(rt_relay_start(&r, &o), 0);
    struct rt_client *c = rt_connect(&r);
    assert_non_null(c);
    assert_int_equal(rt_login(c, &ivan), E2EE_ERR_REGISTRATION);
    assert_int_equal(rt_login_ex(c, &ivan, "wrong", 0, 0, NULL), E2EE_ERR_REGISTRATION);
    assert_int_equal(rt_login_ex(c, &ivan, "s3cret", 0, 0, NULL), 0);
    rt_close(c);
    /* known users need no token */
    c = rt_connect(&r);
    assert_non_null(c);
    assert_int_equal(rt_login(c, &ivan), 0);
    rt_close(c);
    assert_int_equal(rt_relay_stop(&r), 0);
    rt_relay_cleanup(&r);
}

static void login_timeout(void **state)
{
    (void)state;
    struct rt_relay r;
    struct rt_relay_opts o = {.config = "login_timeout = 1\n"};
    int code = 0;
    char reason[128];
    assert_int_equal(rt_relay_start(&r, &o), 0);
    struct rt_client *c = rt_connect(&r);
    assert_non_null(c);
    assert_int_equal(rt_wait_close(c, RT_TIMEOUT_MS, &code, reason, sizeof reason), 0);
    assert_int_equal(code, 1008);
    assert_non_null(strstr(reason, "login_timeout"));
    rt_close(c);
    assert_int_equal(rt_relay_stop(&r), 0);
    rt_relay_cleanup(&r);
}

int main(void)
{
    const struct CMUnitTest shared[] = {
        cmocka_unit_test(login_message_layout),
        cmocka_unit_test(challenge_contents),
        cmocka_unit_test(register_then_login),
        cmocka_unit_test(wrong_key_refused),
        cmocka_unit_test(other_users_id_refused),
        cmocka_unit_test(replayed_answer_refused),
        cmocka_unit_test(bad_fields_refused),
        cmocka_unit_test(requests_before_login),
        cmocka_unit_test(second_login_replaces_first),
        cmocka_unit_test(too_many_failures_close),
        cmocka_unit_test(subprotocol_required),
    };
    const struct CMUnitTest own[] = {
        cmocka_unit_test(registration_token),
        cmocka_unit_test(login_timeout),
    };
    int failed = cmocka_run_group_tests_name("relay auth", shared, setup, teardown);
    failed += cmocka_run_group_tests_name("relay auth (own relay)", own, NULL, NULL);
    return failed ? 1 : 0;
}
