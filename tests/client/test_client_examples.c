/*
 * The example programs (examples/) work against a real relay: the echo bot answers a group
 * text, the direct-message program delivers its message and exits 0.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clienttest.h"
#include "testutil.h"

static struct rt_relay g_relay;
static pid_t g_bot = -1;

static int setup(void **state)
{
    (void)state;
    return rt_relay_start(&g_relay, NULL);
}

static int teardown(void **state)
{
    (void)state;
    if (g_bot > 0) {
        kill(g_bot, SIGKILL);
        waitpid(g_bot, NULL, 0);
    }
    rt_relay_cleanup(&g_relay);
    return 0;
}

/* Starts a program of the build; its stderr goes to err_path when given. */
static pid_t spawn(const char *prog, char *const argv[], const char *err_path)
{
    char path[512];
    pid_t pid;
    snprintf(path, sizeof path, "%s/%s", tu_bin_dir(), prog);
    pid = fork();
    if (pid == 0) {
        int fd = err_path ? open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600) : -1;
        if (fd >= 0)
            dup2(fd, 2);
        execv(path, argv);
        _exit(127);
    }
    return pid;
}

/* Waits (bounded) for a child to exit; returns its status or -1. */
static int wait_exit(pid_t pid, int timeout_ms)
{
    int status = 0;
    for (int waited = 0; waited < timeout_ms; waited += 20) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        ct_sleep_ms(20);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

static void test_echo_bot(void **state)
{
    struct ct_client *a = ct_client_new(&g_relay, "ex-alice", NULL);
    char store[400], id[E2EE_MSG_ID_SIZE];
    int rc = E2EE_ERR_NO_SUCH_GROUP;
    (void)state;

    snprintf(store, sizeof store, "%s/ex-bot.db", ct_tmpdir());
    g_bot = spawn("e2ee-example-echo-bot", (char *[]){"e2ee-example-echo-bot", g_relay.url,
                                                      "ex-bot", store, "ex-room", NULL}, NULL);
    assert_true(g_bot > 0);
    /* the bot creates the group once connected */
    for (int i = 0; i < 200 && rc == E2EE_ERR_NO_SUCH_GROUP; i++) {
        rc = e2ee_client_join_group_wait(a->c, "ex-room", CT_WAIT_MS);
        if (rc == E2EE_ERR_NO_SUCH_GROUP)
            ct_sleep_ms(50);
    }
    assert_int_equal(rc, E2EE_OK);
    assert_int_equal(e2ee_client_send_group(a->c, "ex-room", "ping", id), E2EE_OK);
    ct_expect(a, &(struct ct_match){.type = E2EE_EVENT_GROUP_TEXT, .from = "ex-bot",
                                    .text = "echo: ping"});
    assert_int_equal(kill(g_bot, SIGTERM), 0);
    assert_int_equal(wait_exit(g_bot, CT_WAIT_MS), 0);
    g_bot = -1;
    ct_client_free(a);
}

static void test_direct_message(void **state)
{
    struct ct_client *b = ct_client_new(&g_relay, "ex-bob", NULL);
    char store[400], errs[400], line[512];
    pid_t pid;
    FILE *f;
    (void)state;

    snprintf(store, sizeof store, "%s/ex-dm.db", ct_tmpdir());
    snprintf(errs, sizeof errs, "%s/ex-dm.err", ct_tmpdir());
    pid = spawn("e2ee-example-dm", (char *[]){"e2ee-example-dm", g_relay.url, "ex-dm", store,
                                              "ex-bob", "hello from the example", NULL},
                errs);
    assert_true(pid > 0);
    ct_expect(b, &(struct ct_match){.type = E2EE_EVENT_DIRECT_TEXT, .from = "ex-dm",
                                    .text = "hello from the example"});
    assert_int_equal(wait_exit(pid, CT_WAIT_MS), 0); /* it saw the delivered ack */
    /* libwebsockets' notices ("[time] N: ...") stay out of the application's stderr */
    f = fopen(errs, "r");
    assert_non_null(f);
    while (fgets(line, sizeof line, f))
        assert_null(strstr(line, "] N: "));
    fclose(f);
    ct_client_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo_bot),
        cmocka_unit_test(test_direct_message),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
