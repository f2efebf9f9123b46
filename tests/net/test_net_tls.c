/*
 * The transport over wss:// against the test server with a certificate made for the test
 * (openssl command line): verified against the given CA file, refused without it, accepted
 * with allow_self_signed.
 */
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net_harness.h"
#include "testutil.h"
#include "ws_server.h"

#if defined(__SANITIZE_ADDRESS__)
/*
 * libwebsockets 4.1.6 with OpenSSL 3 does not free the SSL_CTXs (and the CA store loaded into
 * them) of a TLS server vhost at lws_context_destroy(): every start and stop of the TLS test
 * server loses the same ~700 KB, whatever the connections did. Run with
 * ASAN_OPTIONS=fast_unwind_on_malloc=0, every such block is allocated under ws_server_start()
 * and none under e2ee__net_new(): the client transport frees its TLS context. The default
 * (fast) unwinder cannot see past OpenSSL's frames, so the exemption names OpenSSL; this
 * program reaches OpenSSL only through libwebsockets (the transport never calls it).
 */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libcrypto.so\nleak:libssl.so\n";
}
#endif

struct tls_fx {
    char dir[64];
    char cert[128];
    char key[128];
    struct ws_server *srv;
    struct nh_rec rec;
    struct e2ee__net_config cfg;
    char url[64];
    struct e2ee__net *net;
};

static int make_cert(struct tls_fx *f)
{
    char cmd[768];
    snprintf(f->dir, sizeof f->dir, "/tmp/e2ee-tls-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->cert, sizeof f->cert, "%s/cert.pem", f->dir);
    snprintf(f->key, sizeof f->key, "%s/key.pem", f->dir);
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
             "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1,DNS:localhost "
             "-keyout %s -out %s >/dev/null 2>&1",
             f->key, f->cert);
    return system(cmd) == 0 ? 0 : -1;
}

static int setup(void **state)
{
    struct tls_fx *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    *state = f;
    nh_rec_init(&f->rec);
    if (make_cert(f) != 0)
        return -1;
    f->srv = ws_server_start(0, f->cert, f->key);
    if (!f->srv)
        return -1;
    nh_config(&f->cfg, f->url, sizeof f->url, 0, &f->rec);
    snprintf(f->url, sizeof f->url, "wss://127.0.0.1:%d/", ws_server_port(f->srv));
    return 0;
}

static int teardown(void **state)
{
    struct tls_fx *f = *state;
    e2ee__net_free(f->net);
    ws_server_stop(f->srv);
    nh_rec_cleanup(&f->rec);
    unlink(f->cert);
    unlink(f->key);
    rmdir(f->dir);
    free(f);
    return 0;
}

static void connect_and_echo(struct tls_fx *f)
{
    assert_int_equal(e2ee__net_new(&f->net, &f->cfg), E2EE_OK);
    assert_int_equal(e2ee__net_connect(f->net), E2EE_OK);
    assert_int_equal(e2ee__net_send(f->net, (const uint8_t *)"secret?", 7, 0), E2EE_OK);
    assert_int_equal(e2ee__net_loop_start(f->net), E2EE_OK);
    assert_int_equal(nh_wait(&f->rec, E2EE__NET_EV_FRAME, 1), 1);
    struct nh_event e = nh_get(&f->rec, nh_find(&f->rec, E2EE__NET_EV_FRAME, 0));
    assert_int_equal(e.len, 7);
    assert_memory_equal(e.data, "secret?", 7);
    assert_int_equal(nh_count(&f->rec, E2EE__NET_EV_CONNECT_FAILED), 0);
}

static void test_wss_with_ca_file(void **state)
{
    struct tls_fx *f = *state;
    f->cfg.ca_file = f->cert;
    connect_and_echo(f);
}

static void test_wss_allow_self_signed(void **state)
{
    struct tls_fx *f = *state;
    f->cfg.allow_self_signed = 1;
    connect_and_echo(f);
}

static void test_wss_untrusted_refused(void **state)
{
    struct tls_fx *f = *state;
    assert_int_equal(e2ee__net_new(&f->net, &f->cfg), E2EE_OK);
    assert_int_equal(e2ee__net_connect(f->net), E2EE_OK);
    assert_int_equal(e2ee__net_loop_start(f->net), E2EE_OK);
    assert_int_equal(nh_wait(&f->rec, E2EE__NET_EV_CONNECT_FAILED, 2), 2);
    assert_int_equal(e2ee__net_disconnect(f->net), E2EE_OK);
    assert_int_equal(e2ee__net_loop_stop(f->net), E2EE_OK);
    struct nh_event e = nh_get(&f->rec, nh_find(&f->rec, E2EE__NET_EV_CONNECT_FAILED, 0));
    assert_int_equal(e.err, E2EE_ERR_TLS);
    assert_true(strlen(e.reason) > 0);
    assert_int_equal(nh_count(&f->rec, E2EE__NET_EV_CONNECTED), 0);
    assert_int_equal(ws_server_count(f->srv), 0);
}

static void test_wss_wrong_ca_refused(void **state)
{
    struct tls_fx *f = *state;
    char other_dir[64];
    struct tls_fx other;
    memset(&other, 0, sizeof other);
    assert_int_equal(make_cert(&other), 0);
    snprintf(other_dir, sizeof other_dir, "%s", other.dir);
    f->cfg.ca_file = other.cert;
    assert_int_equal(e2ee__net_new(&f->net, &f->cfg), E2EE_OK);
    assert_int_equal(e2ee__net_connect(f->net), E2EE_OK);
    assert_int_equal(e2ee__net_loop_start(f->net), E2EE_OK);
    assert_int_equal(nh_wait(&f->rec, E2EE__NET_EV_CONNECT_FAILED, 1), 1);
    assert_int_equal(e2ee__net_loop_stop(f->net), E2EE_OK);
    assert_int_equal(nh_count(&f->rec, E2EE__NET_EV_CONNECTED), 0);
    struct nh_event e = nh_get(&f->rec, nh_find(&f->rec, E2EE__NET_EV_CONNECT_FAILED, 0));
    assert_int_equal(e.err, E2EE_ERR_TLS);
    unlink(other.cert);
    unlink(other.key);
    rmdir(other_dir);
}

int main(void)
{
    lws_set_log_level(LLL_ERR, NULL);
    if (system("openssl version >/dev/null 2>&1") != 0) {
        fprintf(stderr, "openssl command not found: skipping the wss tests\n");
        return TU_SKIP;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_wss_with_ca_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wss_allow_self_signed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wss_untrusted_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wss_wrong_ca_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
