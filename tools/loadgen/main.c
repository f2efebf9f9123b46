/*
 * e2ee-loadgen: command line, the phases of a run and the report.
 *
 *   e2ee-loadgen (--relay URL | --spawn) --mode e2e|saturate|idle --clients N
 *                --group-size G --size BYTES --duration SECONDS [--rate MSGS_PER_S] ...
 *
 * Phases: connect and log in every client (CONNECT_PARALLEL at a time), create and join the
 * groups and wait until every member has received every membership event (GROUPS), send
 * (RUN: --warmup seconds, then the measured window of --duration seconds), stop sending and
 * wait for every result and every delivery (DRAIN), report. The last line of the output is
 * key=value pairs; the lines before it start with '#'.
 *
 * Exit status: 0 when the run completed without errors, 1 when it failed or counted errors,
 * 2 for a usage error. --mode e2e and rekey are in e2e.c.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "e2ee/error.h"
#include "loadgen.h"

#define EXIT_FAILED 1
#define EXIT_USAGE 2
#define SETS_MAX 16
#define SETUP_TIMEOUT_NS (300ull * 1000000000u)
#define DRAIN_TIMEOUT_NS (20ull * 1000000000u)
#define SETTLE_CHECK_NS 20000000ull /* how often set-up progress is checked */
#define FD_SPARE 64                 /* descriptors beyond one per client */
#define DEFAULT_SIZE 256
#define DEFAULT_DURATION 10.0
#define DEFAULT_WARMUP 1.0
#define DEFAULT_WINDOW 4
#define DEFAULT_RATE_WINDOW 64
#define LG_RATE_MAX 1e9             /* messages per second */
#define RELAY_RATE_LIMIT "max_requests_per_sec=10000000"
#define RELAY_USER_EVENTS "user_events=groups"

struct opts {
    const char *url, *relay_bin, *mode, *store_sync;
    int spawn, cpu, relay_cpu;
    long relay_pid;
    const char *sets[SETS_MAX];
    size_t n_sets;
};

static volatile sig_atomic_t g_interrupted;

static void on_signal(int sig)
{
    (void)sig;
    g_interrupted = 1;
}

static void usage(FILE *f)
{
    fprintf(f,
        "usage: e2ee-loadgen (--relay ws://127.0.0.1:PORT | --spawn) --mode saturate|idle|e2e|rekey\n"
        "                    --clients N --group-size G --size BYTES --duration SECONDS\n"
        "                    [--rate MSGS_PER_S] [--window W] [--senders S] [--warmup SECONDS]\n"
        "                    [--relay-pid PID] [--relay-bin PATH] [--relay-set KEY=VALUE]...\n"
        "                    [--store-sync full|normal] [--relay-cpu N] [--cpu N] [--keepalive S]\n"
        "Loopback only. N clients with real identities log in to the relay; K = N / G groups\n"
        "of G members are created; S members of each group (default all) send pre-encrypted\n"
        "messages of BYTES bytes: as fast as the relay accepts with W sends in flight each\n"
        "(saturate, default W %d), or MSGS_PER_S in total (--rate). Receivers check every\n"
        "delivery and ack cumulatively. --mode idle: N clients log in and stay idle (relay\n"
        "memory per connection). --mode e2e: clients of the client library send real\n"
        "encrypted messages (at --rate in total, or W unaccepted each); latency is from the\n"
        "send call to the decrypted event. --mode rekey: the cost of the first send round\n"
        "of new groups and of the round after one member of each group left (with\n"
        "--senders S, only the first S members of each group send in both rounds).\n"
        "--keepalive S: the e2e and rekey clients' keepalive_s (default 30; in rekey 0, and a\n"
        "spawned relay gets ping_interval=3600 and idle_timeout=7200: one pass over all\n"
        "clients of a large group can take minutes on one thread).\n"
        "--spawn starts build/bin/e2ee-relay (or --relay-bin) on a free port with a fresh\n"
        "store, pinned to --relay-cpu; its CPU and memory are read from /proc (--relay-pid\n"
        "for a relay started elsewhere). The last output line is key=value pairs.\n",
        DEFAULT_WINDOW);
}

static int parse_u32(const char *s, uint32_t max, uint32_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || !end || *end || end == s || v > max || s[0] == '-')
        return -1;
    *out = (uint32_t)v;
    return 0;
}

static int parse_double(const char *s, double max, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || !end || *end || end == s || !(v >= 0) || v > max)
        return -1;
    *out = v;
    return 0;
}

/* Options whose value goes straight into a field. */
struct simple_opt {
    const char *name;
    const char **str;
    uint32_t *u32;
    uint32_t u32_max;
    double *dbl;
    double dbl_max;
};

/* Options needing more than a range check; 1 taken, 0 not one of them, -1 bad value. */
static int special_option(struct lg *lg, struct opts *o, const char *k, const char *v)
{
    uint32_t u = 0;
    if (!strcmp(k, "--size")) {
        if (parse_u32(v, LG_PAYLOAD_MAX, &u) || u < LG_PAYLOAD_MIN)
            return -1;
        lg->size = u;
    } else if (!strcmp(k, "--cpu") || !strcmp(k, "--relay-cpu")) {
        if (parse_u32(v, CPU_SETSIZE - 1, &u))
            return -1;
        *(!strcmp(k, "--cpu") ? &o->cpu : &o->relay_cpu) = (int)u;
    } else if (!strcmp(k, "--relay-pid")) {
        if (parse_u32(v, INT32_MAX, &u) || !u)
            return -1;
        o->relay_pid = u;
    } else if (!strcmp(k, "--relay-set")) {
        if (o->n_sets == SETS_MAX || !strchr(v, '='))
            return -1;
        o->sets[o->n_sets++] = v;
    } else {
        return 0;
    }
    return 1;
}

/* One option with its value; 1 taken, 0 not an option, -1 bad value. */
static int option(struct lg *lg, struct opts *o, const char *k, const char *v)
{
    const struct simple_opt t[] = {
        {"--relay", &o->url, NULL, 0, NULL, 0},
        {"--mode", &o->mode, NULL, 0, NULL, 0},
        {"--relay-bin", &o->relay_bin, NULL, 0, NULL, 0},
        {"--store-sync", &o->store_sync, NULL, 0, NULL, 0},
        {"--clients", NULL, &lg->n_clients, LG_CLIENTS_MAX, NULL, 0},
        {"--group-size", NULL, &lg->group_size, LG_GROUP_MAX, NULL, 0},
        {"--senders", NULL, &lg->senders_per_group, LG_GROUP_MAX, NULL, 0},
        {"--window", NULL, &lg->window, LG_WINDOW_MAX, NULL, 0},
        {"--duration", NULL, NULL, 0, &lg->duration_s, LG_DURATION_MAX},
        {"--warmup", NULL, NULL, 0, &lg->warmup_s, LG_DURATION_MAX},
        {"--rate", NULL, NULL, 0, &lg->rate, LG_RATE_MAX},
        {"--keepalive", NULL, &lg->keepalive_s, LG_KEEPALIVE_MAX, NULL, 0},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        if (strcmp(k, t[i].name) != 0)
            continue;
        if (t[i].str)
            *t[i].str = v;
        else if (t[i].u32)
            return parse_u32(v, t[i].u32_max, t[i].u32) ? -1 : 1;
        else
            return parse_double(v, t[i].dbl_max, t[i].dbl) ? -1 : 1;
        return 1;
    }
    return special_option(lg, o, k, v);
}

static int parse_args(int argc, char **argv, struct lg *lg, struct opts *o)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help")) {
            usage(stdout);
            exit(0);
        }
        if (!strcmp(argv[i], "--spawn")) {
            o->spawn = 1;
            continue;
        }
        int r = i + 1 < argc ? option(lg, o, argv[i], argv[i + 1]) : 0;
        if (r != 1) {
            fprintf(stderr, "e2ee-loadgen: %s %s\n", r < 0 ? "bad value for" : "unknown option",
                    argv[i]);
            return -1;
        }
        i++;
    }
    return 0;
}

/* ws://HOST:PORT[/path] with a loopback host. */
static int parse_url(const char *url, char *host, size_t hcap, int *port, char *path,
                     size_t pcap)
{
    const char *p = url, *hs, *he, *colon;
    if (strncmp(p, "ws://", 5) != 0)
        return -1;
    hs = p + 5;
    if (*hs == '[') {
        he = strchr(hs, ']');
        if (!he)
            return -1;
        colon = he + 1;
        hs++;
    } else {
        he = hs + strcspn(hs, ":/");
        colon = he;
    }
    if (*colon != ':' || he <= hs || (size_t)(he - hs) >= hcap)
        return -1;
    snprintf(host, hcap, "%.*s", (int)(he - hs), hs);
    char *end = NULL;
    long v = strtol(colon + 1, &end, 10);
    if (v <= 0 || v > 65535 || (*end && *end != '/'))
        return -1;
    *port = (int)v;
    snprintf(path, pcap, "%s", *end ? end : "/");
    if (strncmp(host, "127.", 4) != 0 && strcmp(host, "::1") != 0 &&
        strcmp(host, "localhost") != 0)
        return -2;
    return 0;
}

static int check_opts(struct lg *lg, struct opts *o)
{
    if (!o->mode || (!o->url) == (!o->spawn) || !lg->n_clients) {
        fprintf(stderr, "e2ee-loadgen: need --mode, --clients and one of --relay, --spawn\n");
        return -1;
    }
    if (!strcmp(o->mode, "saturate")) {
        lg->mode = LG_MODE_SATURATE;
    } else if (!strcmp(o->mode, "idle")) {
        lg->mode = LG_MODE_IDLE;
    } else if (!strcmp(o->mode, "e2e")) {
        lg->mode = LG_MODE_E2E;
    } else if (!strcmp(o->mode, "rekey")) {
        lg->mode = LG_MODE_REKEY;
    } else {
        fprintf(stderr, "e2ee-loadgen: --mode is e2e, rekey, saturate or idle\n");
        return -1;
    }
    if ((lg->mode == LG_MODE_E2E || lg->mode == LG_MODE_REKEY) &&
        (lg->group_size < (lg->mode == LG_MODE_REKEY ? 3u : 2u) ||
         lg->group_size > lg->n_clients)) {
        fprintf(stderr, "e2ee-loadgen: --group-size must be %s..--clients\n",
                lg->mode == LG_MODE_REKEY ? "3" : "2");
        return -1;
    }
    if (lg->mode == LG_MODE_SATURATE) {
        if (lg->group_size < 2 || lg->group_size > lg->n_clients) {
            fprintf(stderr, "e2ee-loadgen: --group-size must be 2..--clients\n");
            return -1;
        }
        lg->n_groups = lg->n_clients / lg->group_size;
        if (!lg->senders_per_group || lg->senders_per_group > lg->group_size)
            lg->senders_per_group = lg->group_size;
        if (!lg->window)
            lg->window = lg->rate > 0 ? DEFAULT_RATE_WINDOW : DEFAULT_WINDOW;
    }
    if (o->store_sync && strcmp(o->store_sync, "full") && strcmp(o->store_sync, "normal")) {
        fprintf(stderr, "e2ee-loadgen: --store-sync is full or normal\n");
        return -1;
    }
    if ((o->store_sync || o->n_sets) && !o->spawn) {
        fprintf(stderr, "e2ee-loadgen: --store-sync and --relay-set need --spawn\n");
        return -1;
    }
    return 0;
}

/* Descriptors: one per client and some spare; raises the soft limit up to the hard one. */
static int raise_fd_limit(uint32_t clients)
{
    struct rlimit rl;
    rlim_t need = (rlim_t)clients + FD_SPARE;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    if (rl.rlim_cur < need && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            return -1;
    }
    if (rl.rlim_cur < need) {
        fprintf(stderr, "e2ee-loadgen: %u clients need %llu descriptors; the limit is %llu\n",
                clients, (unsigned long long)need, (unsigned long long)rl.rlim_cur);
        return -1;
    }
    return 0;
}

static void pin_self(int cpu)
{
    cpu_set_t set;
    if (cpu < 0)
        return;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0)
        perror("e2ee-loadgen: CPU pinning");
}

/* The relay binary next to this program (build/bin). */
static const char *default_relay_bin(char *buf, size_t cap)
{
    ssize_t n = readlink("/proc/self/exe", buf, cap - 1);
    if (n <= 0)
        return "e2ee-relay";
    buf[n] = '\0';
    char *slash = strrchr(buf, '/');
    if (!slash || (size_t)(slash - buf) + sizeof "/e2ee-relay" > cap)
        return "e2ee-relay";
    memcpy(slash, "/e2ee-relay", sizeof "/e2ee-relay");
    return buf;
}

/* ---------------------------------------------------------------- the run */

struct run {
    struct lg *lg;
    pid_t relay_pid;
    struct lg_proc_sample base, p0, p1;
    struct rusage r0, r1;
    struct lg_counters c0, c1;
    int snap0;
    uint64_t last_check;
};

static void enter(struct lg *lg, enum lg_phase ph, uint64_t now)
{
    lg->phase = ph;
    lg->t_phase_ns = now;
    if (ph == LG_PH_RUN) {
        lg->t0_ns = now + (uint64_t)(lg->warmup_s * 1e9);
        lg->t1_ns = lg->t0_ns + (uint64_t)(lg->duration_s * 1e9);
        fprintf(stdout, "# set-up done; %s for %.1f s after %.1f s of warm-up\n",
                lg->mode == LG_MODE_IDLE ? "holding" : "sending", lg->duration_s, lg->warmup_s);
        fflush(stdout);
    }
}

static void setup_step(struct run *ru, uint64_t now)
{
    struct lg *lg = ru->lg;
    if (lg->phase == LG_PH_CONNECT) {
        lg_clients_pace(lg);
        if (lg->authed == lg->n_clients) {
            fprintf(stdout, "# %u clients logged in (%.1f s)\n", lg->authed,
                    (double)(now - lg->t_phase_ns) / 1e9);
            enter(lg, lg->mode == LG_MODE_IDLE ? LG_PH_RUN : LG_PH_GROUPS, now);
            if (lg->phase == LG_PH_GROUPS)
                lg_groups_step(lg);
        }
    } else if (now - ru->last_check >= SETTLE_CHECK_NS) {
        ru->last_check = now;
        if (lg->groups_ready == lg->n_groups &&
            lg_clients_settled(lg) == lg->n_groups * lg->group_size)
            enter(lg, LG_PH_RUN, now);
    }
    if (lg->phase < LG_PH_RUN && now - lg->t_phase_ns > SETUP_TIMEOUT_NS && !lg->failed) {
        lg->failed = 1;
        snprintf(lg->fail_why, sizeof lg->fail_why, "set-up timed out (%u of %u logged in, "
                 "%u of %u groups ready)", lg->authed, lg->n_clients, lg->groups_ready,
                 lg->n_groups);
    }
}

static void run_step(struct run *ru, uint64_t now)
{
    struct lg *lg = ru->lg;
    if (!ru->snap0 && now >= lg->t0_ns) {
        ru->snap0 = 1;
        ru->c0 = lg->c;
        lg_proc_sample(ru->relay_pid, &ru->p0);
        getrusage(RUSAGE_SELF, &ru->r0);
    }
    if (now >= lg->t1_ns) {
        ru->c1 = lg->c;
        lg_proc_sample(ru->relay_pid, &ru->p1);
        getrusage(RUSAGE_SELF, &ru->r1);
        lg->t1_ns = now; /* the window ends here: latencies after it are not counted */
        enter(lg, LG_PH_DRAIN, now);
    }
}

static void tick(void *arg)
{
    struct run *ru = arg;
    struct lg *lg = ru->lg;
    uint64_t now = lg_now_ns();
    if (g_interrupted && !lg->failed) {
        lg->failed = 1;
        snprintf(lg->fail_why, sizeof lg->fail_why, "interrupted");
    }
    if (lg->phase < LG_PH_RUN)
        setup_step(ru, now);
    else if (lg->phase == LG_PH_RUN)
        run_step(ru, now);
    else if (lg->phase == LG_PH_DRAIN &&
             ((lg_clients_inflight(lg) == 0 &&
               lg->received_deliveries >= lg->expected_deliveries) ||
              now - lg->t_phase_ns > DRAIN_TIMEOUT_NS))
        enter(lg, LG_PH_DONE, now);
    lg_clients_tick(lg, now);
}

/* ---------------------------------------------------------------- report */

static double tv_s(const struct timeval *tv)
{
    return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

static void report(struct run *ru)
{
    struct lg *lg = ru->lg;
    double win = (double)(lg->t1_ns - lg->t0_ns) / 1e9;
    uint64_t msgs = ru->c1.accepted - ru->c0.accepted;
    uint64_t dels = ru->c1.deliveries - ru->c0.deliveries;
    uint64_t frames = ru->c1.delivery_frames - ru->c0.delivery_frames;
    double self_cpu = (tv_s(&ru->r1.ru_utime) + tv_s(&ru->r1.ru_stime) - tv_s(&ru->r0.ru_utime) -
                       tv_s(&ru->r0.ru_stime)) * 100.0 / (win > 0 ? win : 1);
    double relay_cpu = lg_proc_cpu_pct(&ru->p0, &ru->p1);
    if (lg->received_deliveries < lg->expected_deliveries) {
        lg->c.err_missing = lg->expected_deliveries - lg->received_deliveries;
        lg->c.errors += lg->c.err_missing;
    }
    double per_conn = ru->base.ok && ru->p1.ok && lg->n_clients
                          ? ((double)ru->p1.rss_kib - (double)ru->base.rss_kib) * 1024.0 /
                                lg->n_clients
                          : -1;
    if (win <= 0)
        win = 1;
    printf("# window %.2f s: %llu messages accepted, %llu deliveries in %llu frames\n", win,
           (unsigned long long)msgs, (unsigned long long)dels, (unsigned long long)frames);
    printf("# errors: result %llu, frame %llu, order %llu, payload %llu, closed %llu, "
           "missing %llu; stale-epoch resends %llu\n",
           (unsigned long long)lg->c.err_result, (unsigned long long)lg->c.err_frame,
           (unsigned long long)lg->c.err_order, (unsigned long long)lg->c.err_payload,
           (unsigned long long)lg->c.err_closed, (unsigned long long)lg->c.err_missing,
           (unsigned long long)lg->c.stale);
    for (int code = 1; code < LG_CODES; code++)
        if (lg->c.refused[code])
            printf("# refused sends: %llu x %s\n", (unsigned long long)lg->c.refused[code],
                   e2ee_errname(-code));
    printf("mode=%s clients=%u groups=%u group_size=%u senders=%u size=%zu duration_s=%.2f "
           "window=%u rate=%.0f msgs=%llu deliveries=%llu msgs_per_s=%.0f deliveries_per_s=%.0f "
           "deliveries_per_frame=%.1f p50_us=%llu p99_us=%llu p999_us=%llu max_us=%llu "
           "sent_p50_us=%llu sent_p99_us=%llu errors=%llu relay_cpu_pct=%.1f "
           "deliveries_per_relay_cpu_s=%.0f relay_rss_kib=%llu relay_hwm_kib=%llu "
           "relay_base_rss_kib=%llu relay_bytes_per_conn=%.0f loadgen_cpu_pct=%.1f\n",
           lg->mode == LG_MODE_IDLE ? "idle" : "saturate", lg->n_clients, lg->n_groups,
           lg->group_size, lg->senders_per_group, lg->size, win, lg->window, lg->rate,
           (unsigned long long)msgs, (unsigned long long)dels, (double)msgs / win,
           (double)dels / win, frames ? (double)dels / (double)frames : 0.0,
           (unsigned long long)lg_hist_quantile(&lg->lat, 0.50),
           (unsigned long long)lg_hist_quantile(&lg->lat, 0.99),
           (unsigned long long)lg_hist_quantile(&lg->lat, 0.999), (unsigned long long)lg->lat.max,
           (unsigned long long)lg_hist_quantile(&lg->sent_lat, 0.50),
           (unsigned long long)lg_hist_quantile(&lg->sent_lat, 0.99),
           (unsigned long long)lg->c.errors, relay_cpu,
           relay_cpu > 0 ? (double)dels / (relay_cpu / 100.0 * win) : 0.0,
           (unsigned long long)ru->p1.rss_kib,
           (unsigned long long)ru->p1.hwm_kib, (unsigned long long)ru->base.rss_kib, per_conn,
           self_cpu);
}

/* ---------------------------------------------------------------- main */

static int start(struct lg *lg, struct opts *o, struct lg_relay_proc *rp, char *host,
                 size_t hcap, int *port, char *path, size_t pcap)
{
    static char binbuf[1024];
    static char conn_set[64], size_set[64], sync_set[64];
    const char *sets[SETS_MAX + 8];
    size_t n = 0;
    if (!o->spawn) {
        int r = parse_url(o->url, host, hcap, port, path, pcap);
        if (r != 0)
            fprintf(stderr, "e2ee-loadgen: --relay must be ws://HOST:PORT%s\n",
                    r == -2 ? " with a loopback host (127.0.0.1, ::1, localhost)" : "");
        return r == 0 ? 0 : -1;
    }
    sets[n++] = RELAY_RATE_LIMIT;
    sets[n++] = RELAY_USER_EVENTS;
    snprintf(conn_set, sizeof conn_set, "max_connections=%u", lg->n_clients + FD_SPARE);
    sets[n++] = conn_set;
    if (lg->mode == LG_MODE_REKEY) {
        sets[n++] = "ping_interval=3600";
        sets[n++] = "idle_timeout=7200";
    }
    if (lg->group_size > 1000) {
        snprintf(size_set, sizeof size_set, "max_group_size=%u", lg->group_size);
        sets[n++] = size_set;
    }
    if (o->store_sync) {
        snprintf(sync_set, sizeof sync_set, "store_sync=%s", o->store_sync);
        sets[n++] = sync_set;
    }
    for (size_t i = 0; i < o->n_sets; i++)
        sets[n++] = o->sets[i];
    struct lg_relay_spawn sp = {o->relay_bin ? o->relay_bin : default_relay_bin(binbuf,
                                                                                 sizeof binbuf),
                                sets, n, o->relay_cpu, "warn"};
    if (lg_relay_spawn(rp, &sp) != 0)
        return -1;
    snprintf(host, hcap, "127.0.0.1");
    *port = rp->port;
    snprintf(path, pcap, "/");
    printf("# spawned %s pid %d on %s (store in %s)\n", sp.bin, (int)rp->pid, rp->url, rp->dir);
    return 0;
}

static int run(struct lg *lg, pid_t relay_pid, const char *host, int port, const char *path)
{
    struct run ru;
    struct lg_ws_cbs cbs = lg_client_cbs_template;
    memset(&ru, 0, sizeof ru);
    ru.lg = lg;
    ru.relay_pid = relay_pid;
    cbs.tick = tick;
    cbs.tick_arg = &ru;
    lg_proc_sample(relay_pid, &ru.base);
    if (lg_clients_new(lg) != 0 || !(lg->payload = malloc(lg->size)) ||
        e2ee__random_bytes(lg->payload, lg->size) != E2EE_OK) {
        fprintf(stderr, "e2ee-loadgen: out of memory\n");
        return EXIT_FAILED;
    }
    if (lg_ws_new(&lg->ws, host, port, path, &cbs) != E2EE_OK) {
        fprintf(stderr, "e2ee-loadgen: cannot resolve %s or create the event loop\n", host);
        return EXIT_FAILED;
    }
    lg->t_phase_ns = lg_now_ns();
    while (lg->phase != LG_PH_DONE && !lg->failed) {
        if (lg_ws_service(lg->ws) != E2EE_OK)
            break;
    }
    if (lg->failed) {
        fprintf(stderr, "e2ee-loadgen: %s\n", lg->fail_why);
        printf("mode=%s clients=%u errors=%llu failed=1\n",
               lg->mode == LG_MODE_IDLE ? "idle" : "saturate", lg->n_clients,
               (unsigned long long)lg->c.errors + 1);
        return EXIT_FAILED;
    }
    report(&ru);
    return lg->c.errors ? EXIT_FAILED : 0;
}

int main(int argc, char **argv)
{
    static struct lg lg;
    struct opts o = {0};
    struct lg_relay_proc rp;
    char host[128], path[128];
    uint8_t rid[4];
    int port = 0, rc = EXIT_USAGE;
    memset(&rp, 0, sizeof rp);
    o.cpu = o.relay_cpu = -1;
    lg.size = DEFAULT_SIZE;
    lg.keepalive_s = LG_KEEPALIVE_DEFAULT;
    lg.duration_s = DEFAULT_DURATION;
    lg.warmup_s = DEFAULT_WARMUP;
    if (parse_args(argc, argv, &lg, &o) != 0 || check_opts(&lg, &o) != 0) {
        usage(stderr);
        return EXIT_USAGE;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    rc = EXIT_FAILED;
    /* e2e: a wake descriptor per client besides its socket */
    if (raise_fd_limit(lg.n_clients * (lg.mode == LG_MODE_SATURATE || lg.mode == LG_MODE_IDLE
                                           ? 1 : 2)) != 0 || e2ee__crypto_init() != E2EE_OK ||
        e2ee__random_bytes(rid, sizeof rid) != E2EE_OK)
        goto done;
    snprintf(lg.run_id, sizeof lg.run_id, "%02x%02x%02x%02x", rid[0], rid[1], rid[2], rid[3]);
    pin_self(o.cpu);
    if (start(&lg, &o, &rp, host, sizeof host, &port, path, sizeof path) != 0)
        goto done;
    if (lg.mode == LG_MODE_E2E || lg.mode == LG_MODE_REKEY)
        rc = lg_e2e_run(&lg, rp.spawned ? rp.pid : (pid_t)o.relay_pid,
                        rp.spawned ? rp.url : o.url);
    else
        rc = run(&lg, rp.spawned ? rp.pid : (pid_t)o.relay_pid, host, port, path);
done:
    lg_clients_close(&lg);
    lg_ws_free(lg.ws);
    lg.ws = NULL;
    lg_clients_free(&lg);
    free(lg.payload);
    free(lg.frame);
    lg_relay_stop(&rp);
    return rc;
}
