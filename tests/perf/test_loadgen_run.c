/*
 * e2ee-loadgen integration tests: a short saturation run against a relay it spawns ends
 * with a key=value line carrying every documented key, with deliveries counted and no
 * errors; an idle run reports the relay's memory; a short e2e run (clients of the client
 * library) delivers every message it sent, decrypted, to every other member, also with 120
 * clients on the one epoll set; a rekey run reports its rounds; a relay URL that is not
 * loopback, missing options and a bad option value are refused.
 * Rates and times are printed, never asserted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "testutil.h"

#define OUT_MAX 65536

/* Runs e2ee-loadgen with args (stderr into stdout); returns the exit status. */
static int run(const char *args, char *out, size_t cap)
{
    char cmd[2048];
    size_t used = 0;
    snprintf(cmd, sizeof cmd, "'%s/e2ee-loadgen' %s 2>&1", tu_bin_dir(), args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n;
    while (used + 1 < cap && (n = fread(out + used, 1, cap - 1 - used, p)) > 0)
        used += n;
    out[used] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The last line of out. */
static const char *last_line(char *out)
{
    size_t n = strlen(out);
    while (n && out[n - 1] == '\n')
        out[--n] = '\0';
    char *nl = strrchr(out, '\n');
    return nl ? nl + 1 : out;
}

/* Value of " key=" in line as a double; asserts it is there. */
static double value(const char *line, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, " %s=", key);
    const char *p = strstr(line, pat);
    if (!p && strncmp(line, pat + 1, strlen(pat + 1)) == 0)
        p = line - 1;
    assert_non_null(p);
    return strtod(p + strlen(pat), NULL);
}

static void saturate_run(void **state)
{
    (void)state;
    char *out = malloc(OUT_MAX);
    assert_non_null(out);
    int rc = run("--spawn --mode saturate --clients 12 --group-size 4 --size 200 "
                 "--duration 1 --warmup 0.3", out, OUT_MAX);
    print_message("%s\n", out);
    assert_int_equal(rc, 0);
    const char *line = last_line(out);
    static const char *keys[] = {"deliveries_per_s", "msgs_per_s", "p50_us", "p99_us",
                                 "p999_us", "relay_cpu_pct", "relay_rss_kib"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        (void)value(line, keys[i]);
    assert_true(value(line, "errors") == 0);
    assert_true(value(line, "groups") == 3);
    assert_true(value(line, "msgs") > 0);
    /* every message reaches the group's 3 other members (the window's edges aside: at most
     * 3 groups x 4 senders x 4 in flight) */
    assert_true(value(line, "deliveries") >= (value(line, "msgs") - 3 * 4 * 4) * 3);
    assert_true(value(line, "p99_us") >= value(line, "p50_us"));
    assert_true(value(line, "relay_rss_kib") > 0);
    free(out);
}

static void rate_run(void **state)
{
    (void)state;
    char *out = malloc(OUT_MAX);
    assert_non_null(out);
    int rc = run("--spawn --mode saturate --clients 6 --group-size 3 --rate 200 "
                 "--duration 1 --warmup 0.2", out, OUT_MAX);
    assert_int_equal(rc, 0);
    const char *line = last_line(out);
    assert_true(value(line, "errors") == 0);
    /* never more than the rate allows over the window (whatever the machine's load) */
    assert_true(value(line, "msgs") > 0);
    assert_true(value(line, "msgs") <= 200 * value(line, "duration_s") * 1.1 + 10);
    free(out);
}

static void idle_run(void **state)
{
    (void)state;
    char *out = malloc(OUT_MAX);
    assert_non_null(out);
    int rc = run("--spawn --mode idle --clients 30 --duration 0.5 --warmup 0.2", out, OUT_MAX);
    assert_int_equal(rc, 0);
    const char *line = last_line(out);
    assert_true(value(line, "errors") == 0);
    assert_true(value(line, "clients") == 30);
    assert_true(value(line, "relay_rss_kib") > 0);
    (void)value(line, "relay_bytes_per_conn");
    free(out);
}

/* The report line of a run whose stderr (library log lines) is mixed in. */
static const char *report_line(const char *out, const char *mode)
{
    const char *line = strstr(out, mode);
    assert_non_null(line);
    return line;
}

static void e2e_run(void **state)
{
    (void)state;
    char *out = malloc(OUT_MAX);
    assert_non_null(out);
    int rc = run("--spawn --mode e2e --clients 6 --group-size 3 --rate 120 --duration 1 "
                 "--warmup 0.2", out, OUT_MAX);
    print_message("%s\n", out);
    assert_int_equal(rc, 0);
    const char *line = report_line(out, "mode=e2e ");
    static const char *keys[] = {"deliveries_per_s", "msgs_per_s", "p50_us", "p99_us",
                                 "p999_us", "relay_cpu_pct", "relay_rss_kib", "first_send_ms"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        (void)value(line, keys[i]);
    assert_true(value(line, "errors") == 0);
    assert_true(value(line, "groups") == 2);
    assert_true(value(line, "msgs") > 0);
    /* each message of the window was decrypted by the 2 other members of its group */
    assert_true(value(line, "deliveries") == value(line, "msgs") * 2);
    assert_true(value(line, "p99_us") >= value(line, "p50_us"));
    /* the first round built pairwise sessions: bytes went both ways */
    assert_true(value(line, "first_send_bytes_out") > 0);
    assert_true(value(line, "first_send_bytes_in") > 0);
    free(out);
}

/* Closed loop with more clients than one epoll_wait returns (E2E_EPOLL_EVENTS in e2e.c):
 * every client is serviced from the one epoll set and its timer heap, and every message
 * sent is decrypted by the other members of its group. */
static void e2e_many_clients_run(void **state)
{
    (void)state;
    char *out = malloc(OUT_MAX);
    assert_non_null(out);
    int rc = run("--spawn --mode e2e --clients 120 --group-size 3 --window 2 --duration 0.5 "
                 "--warmup 0.2", out, OUT_MAX);
    assert_int_equal(rc, 0);
    const char *line = report_line(out, "mode=e2e ");
    assert_true(value(line, "errors") == 0);
    assert_true(value(line, "clients") == 120);
    assert_true(value(line, "groups") == 40);
    assert_true(value(line, "msgs") > 0);
    assert_true(value(line, "deliveries") == value(line, "msgs") * 2);
    free(out);
}

static void rekey_run(void **state)
{
    (void)state;
    char *out = malloc(OUT_MAX);
    assert_non_null(out);
    int rc = run("--spawn --mode rekey --clients 8 --group-size 4", out, OUT_MAX);
    print_message("%s\n", out);
    assert_int_equal(rc, 0);
    const char *line = report_line(out, "mode=rekey ");
    assert_true(value(line, "errors") == 0);
    assert_true(value(line, "rekey_bytes_out") > 0);
    assert_true(value(line, "rekey_bytes_in") > 0);
    assert_non_null(strstr(out, "after a leave, every member sends"));
    free(out);
}

static void bad_input_refused(void **state)
{
    (void)state;
    char *out = malloc(OUT_MAX);
    assert_non_null(out);
    assert_int_equal(run("--relay ws://192.0.2.1:8765 --mode saturate --clients 4 "
                         "--group-size 2", out, OUT_MAX), 1);
    assert_non_null(strstr(out, "loopback"));
    assert_int_equal(run("--relay wss://127.0.0.1:8765 --mode saturate --clients 4 "
                         "--group-size 2", out, OUT_MAX), 1);
    assert_int_equal(run("--mode saturate --clients 4 --group-size 2", out, OUT_MAX), 2);
    assert_int_equal(run("--spawn --mode saturate --clients 4 --group-size 9", out, OUT_MAX), 2);
    assert_int_equal(run("--spawn --mode rekey --clients 4 --group-size 4 --keepalive 32768", out,
                         OUT_MAX),
                     2);
    assert_non_null(strstr(out, "bad value for --keepalive"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(saturate_run),
        cmocka_unit_test(rate_run),
        cmocka_unit_test(idle_run),
        cmocka_unit_test(e2e_run),
        cmocka_unit_test(e2e_many_clients_run),
        cmocka_unit_test(rekey_run),
        cmocka_unit_test(bad_input_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
