/*
 * bench_client: libe2ee clients through a real e2ee-relay (spawned from the same bin folder
 * on a free loopback port, rate limit raised). Public API only. Figures:
 *   direct_msgs_per_s      one sender, one recipient, N messages queued at once, until all
 *                          arrived (in-memory stores, then file stores: a commit per pass)
 *   direct_rtt_ms_median   a message and its reply (the reply sent from the callback)
 *   group_deliveries_per_s one sender, 9 recipients, N group messages
 * Usage: bench_client [N] (default 2000).
 */
#include <e2ee/e2ee.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"

#define GROUP_N 10
#define RTT_ROUNDS 200
#define WAIT_S 120

struct peer {
    e2ee_client *c;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    long got;   /* messages received */
    int echo;   /* reply to each direct text */
};

static char g_url[128];
static char g_dir[64];

static void on_event(const struct e2ee_event *ev, void *user)
{
    struct peer *p = user;
    if (ev->type == E2EE_EVENT_DIRECT_TEXT || ev->type == E2EE_EVENT_GROUP_TEXT ||
        ev->type == E2EE_EVENT_CONNECT || ev->type == E2EE_EVENT_MEMBER_JOIN) {
        if (p->echo && ev->type == E2EE_EVENT_DIRECT_TEXT)
            (void)e2ee_client_send_direct(p->c, ev->direct.from, "pong", NULL);
        pthread_mutex_lock(&p->mu);
        p->got++;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
}

/* Waits until p->got reaches n; 0 on time. */
static int wait_got(struct peer *p, long n)
{
    uint64_t end = bu_now_ns() + (uint64_t)WAIT_S * 1000000000u;
    pthread_mutex_lock(&p->mu);
    while (p->got < n && bu_now_ns() < end) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&p->cv, &p->mu, &ts);
    }
    int ok = p->got >= n ? 0 : -1;
    pthread_mutex_unlock(&p->mu);
    return ok;
}

static void peer_start(struct peer *p, const char *name, int file)
{
    struct e2ee_client_config cfg;
    char path[160];
    memset(p, 0, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    snprintf(path, sizeof path, "%s/%s.db", g_dir, name);
    e2ee_client_config_init(&cfg);
    cfg.user_id = name;
    cfg.relay_url = g_url;
    cfg.store_path = file ? path : NULL;
    cfg.event_cb = on_event;
    cfg.user_data = p;
    if (e2ee_client_new(&p->c, &cfg) != E2EE_OK || e2ee_client_loop_start(p->c) != E2EE_OK ||
        e2ee_client_connect(p->c) != E2EE_OK || wait_got(p, 1) != 0) {
        fprintf(stderr, "client %s did not start\n", name);
        exit(1);
    }
    p->got = 0;
}

static void peer_stop(struct peer *p)
{
    e2ee_client_free(p->c);
}

static pid_t relay_start(const char *argv0)
{
    char bin[600], dir[512], line[256];
    char *slash;
    int fd[2];
    pid_t pid;
    FILE *f;
    snprintf(dir, sizeof dir, "%s", argv0);
    slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    snprintf(bin, sizeof bin, "%s/e2ee-relay", dir); /* built beside this program */
    snprintf(line, sizeof line, "%s/relay.db", g_dir);
    if (pipe(fd) != 0 || (pid = fork()) < 0)
        exit(1);
    if (pid == 0) {
        dup2(fd[1], 1);
        execl(bin, bin, "--listen", "127.0.0.1:0", "--store", line, "--log-level", "error",
              "--set", "max_requests_per_sec=1000000", "--set", "store_sync=normal", (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    f = fdopen(fd[0], "r");
    while (f && fgets(line, sizeof line, f)) {
        char *p = strstr(line, "listening on ");
        if (p) {
            snprintf(g_url, sizeof g_url, "%s", p + strlen("listening on "));
            g_url[strcspn(g_url, "\r\n")] = '\0';
            break;
        }
    }
    if (!g_url[0]) {
        fprintf(stderr, "relay did not start (%s)\n", bin);
        exit(1);
    }
    return pid;
}

static double direct_rate(long n, int file)
{
    struct peer a, b;
    peer_start(&a, file ? "fa" : "ma", file);
    peer_start(&b, file ? "fb" : "mb", file);
    (void)e2ee_client_send_direct(a.c, e2ee_client_user_id(b.c), "warm up", NULL);
    wait_got(&b, 1);
    uint64_t t0 = bu_now_ns();
    for (long i = 0; i < n; i++)
        (void)e2ee_client_send_direct(a.c, e2ee_client_user_id(b.c), "bench message", NULL);
    int ok = wait_got(&b, n + 1);
    double s = (double)(bu_now_ns() - t0) / 1e9;
    peer_stop(&a);
    peer_stop(&b);
    return ok == 0 ? (double)n / s : 0;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

static double rtt_median_ms(void)
{
    struct peer a, b;
    double ms[RTT_ROUNDS];
    peer_start(&a, "ra", 0);
    peer_start(&b, "rb", 0);
    b.echo = 1;
    for (int i = 0; i < RTT_ROUNDS; i++) {
        uint64_t t0 = bu_now_ns();
        (void)e2ee_client_send_direct(a.c, "rb", "ping", NULL);
        if (wait_got(&a, i + 1) != 0)
            break;
        ms[i] = (double)(bu_now_ns() - t0) / 1e6;
    }
    qsort(ms, RTT_ROUNDS, sizeof ms[0], cmp_double);
    peer_stop(&a);
    peer_stop(&b);
    return ms[RTT_ROUNDS / 2];
}

static double group_rate(long n)
{
    struct peer p[GROUP_N];
    char name[16];
    for (int i = 0; i < GROUP_N; i++) {
        snprintf(name, sizeof name, "g%02d", i);
        peer_start(&p[i], name, 0);
    }
    (void)e2ee_client_create_group_wait(p[0].c, "bench", 10000);
    for (int i = 1; i < GROUP_N; i++)
        (void)e2ee_client_join_group_wait(p[i].c, "bench", 10000);
    wait_got(&p[0], GROUP_N - 1); /* the member joins */
    for (int i = 1; i < GROUP_N; i++)
        p[i].got = 0;
    uint64_t t0 = bu_now_ns();
    for (long k = 0; k < n; k++)
        (void)e2ee_client_send_group(p[0].c, "bench", "bench group message", NULL);
    int ok = 0;
    for (int i = 1; i < GROUP_N; i++)
        ok |= wait_got(&p[i], n);
    double s = (double)(bu_now_ns() - t0) / 1e9;
    for (int i = 0; i < GROUP_N; i++)
        peer_stop(&p[i]);
    return ok == 0 ? (double)n * (GROUP_N - 1) / s : 0;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 2000;
    char cmd[128];
    pid_t relay;
    snprintf(g_dir, sizeof g_dir, "/tmp/e2ee-bench-client-XXXXXX");
    if (!mkdtemp(g_dir) || n <= 0)
        return 1;
    bu_print_machine("bench_client");
    relay = relay_start(argv[0]);
    printf("direct_msgs_per_s_memory=%.0f\n", direct_rate(n, 0));
    printf("direct_msgs_per_s_file=%.0f\n", direct_rate(n / 4, 1));
    printf("direct_rtt_ms_median=%.2f\n", rtt_median_ms());
    double g = group_rate(n / 4);
    printf("group_deliveries_per_s=%.0f\ngroup_msgs_per_s=%.0f\n", g, g / (GROUP_N - 1));
    kill(relay, SIGTERM);
    waitpid(relay, NULL, 0);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir); /* the stores of the run */
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", g_dir);
    return 0;
}
