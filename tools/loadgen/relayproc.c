/*
 * e2ee-loadgen: the relay process. Spawns e2ee-relay on a free loopback port with a fresh
 * store in a temporary folder (optionally pinned to one CPU), reads its listening line, and
 * samples its CPU time and memory from /proc/PID/stat and /proc/PID/status.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "loadgen.h"

#define START_TIMEOUT_MS 20000
#define STOP_TIMEOUT_MS 15000
#define LINE_MAX_BYTES 2048
#define ARGS_MAX 64
#define STAT_MAX 4096

static int64_t mono_ms(void)
{
    return (int64_t)(lg_now_ns() / 1000000u);
}

/* Reads the listening line: "e2ee-relay listening on ws://HOST:PORT". */
static int read_port(struct lg_relay_proc *p, int fd)
{
    char buf[LINE_MAX_BYTES];
    size_t used = 0;
    int64_t deadline = mono_ms() + START_TIMEOUT_MS;
    while (mono_ms() < deadline && !p->port) {
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, 100) <= 0)
            continue;
        ssize_t n = read(fd, buf + used, sizeof buf - 1 - used);
        if (n <= 0)
            return -1;
        used += (size_t)n;
        buf[used] = '\0';
        const char *at = strstr(buf, "listening on ");
        const char *nl = at ? strchr(at, '\n') : NULL;
        if (at && nl) {
            const char *url = at + strlen("listening on ");
            const char *colon = strrchr(url, ':');
            snprintf(p->url, sizeof p->url, "%.*s", (int)(nl - url), url);
            p->port = colon ? atoi(colon + 1) : 0;
        }
        if (used == sizeof buf - 1)
            used = 0; /* a line that long is not the one we wait for */
    }
    return p->port > 0 ? 0 : -1;
}

static void child(const struct lg_relay_spawn *o, const char *const *argv, int out_fd)
{
    if (o->cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(o->cpu, &set);
        if (sched_setaffinity(0, sizeof set, &set) != 0)
            perror("e2ee-loadgen: relay CPU pinning");
    }
    dup2(out_fd, STDOUT_FILENO);
    execv(argv[0], (char *const *)argv);
    perror("e2ee-loadgen: exec e2ee-relay");
    _exit(127);
}

int lg_relay_spawn(struct lg_relay_proc *p, const struct lg_relay_spawn *o)
{
    const char *argv[ARGS_MAX];
    char store[320];
    int pfd[2] = {-1, -1}, rc = -1;
    size_t n = 0;
    memset(p, 0, sizeof *p);
    if (2 * o->n_sets + 10 > ARGS_MAX) {
        fprintf(stderr, "e2ee-loadgen: too many relay settings\n");
        return -1;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(p->dir, sizeof p->dir, "%s/e2ee-loadgen-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(p->dir)) {
        perror("e2ee-loadgen: mkdtemp");
        p->dir[0] = '\0';
        return -1;
    }
    snprintf(store, sizeof store, "%s/relay.db", p->dir);
    argv[n++] = o->bin;
    argv[n++] = "--listen";
    argv[n++] = "127.0.0.1:0";
    argv[n++] = "--store";
    argv[n++] = store;
    argv[n++] = "--log-level";
    argv[n++] = o->log_level ? o->log_level : "warn";
    for (size_t i = 0; i < o->n_sets; i++) {
        argv[n++] = "--set";
        argv[n++] = o->sets[i];
    }
    argv[n] = NULL;
    if (pipe(pfd) != 0) {
        perror("e2ee-loadgen: pipe");
        goto done;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("e2ee-loadgen: fork");
        goto done;
    }
    if (pid == 0) {
        close(pfd[0]);
        child(o, argv, pfd[1]);
    }
    p->pid = pid;
    p->spawned = 1;
    if (read_port(p, pfd[0]) != 0) {
        fprintf(stderr, "e2ee-loadgen: the relay (%s) did not report its port\n", o->bin);
        goto done;
    }
    rc = 0;
done:
    if (pfd[0] >= 0)
        close(pfd[0]);
    if (pfd[1] >= 0)
        close(pfd[1]);
    if (rc != 0)
        lg_relay_stop(p);
    return rc;
}

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[600];
    if (!d)
        return;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

void lg_relay_stop(struct lg_relay_proc *p)
{
    if (p->spawned && p->pid > 0) {
        int status = 0;
        int64_t deadline = mono_ms() + STOP_TIMEOUT_MS;
        kill(p->pid, SIGTERM);
        while (waitpid(p->pid, &status, WNOHANG) == 0) {
            if (mono_ms() > deadline) {
                kill(p->pid, SIGKILL);
                waitpid(p->pid, &status, 0);
                break;
            }
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        p->pid = 0;
        p->spawned = 0;
    }
    if (p->dir[0]) {
        remove_dir(p->dir);
        p->dir[0] = '\0';
    }
}

/* utime and stime: fields 14 and 15 of /proc/PID/stat, counted after the ")" that ends the
 * command name (which may hold spaces). */
static int read_cpu(pid_t pid, uint64_t *ticks)
{
    char path[64], buf[STAT_MAX];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    unsigned long long ut = 0, st = 0;
    if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
                     &st) != 2)
        return -1;
    *ticks = ut + st;
    return 0;
}

static int read_mem(pid_t pid, uint64_t *rss, uint64_t *hwm)
{
    char path[64], line[256];
    int found = 0;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f)) {
        unsigned long long v = 0;
        if (sscanf(line, "VmRSS: %llu kB", &v) == 1) {
            *rss = v;
            found |= 1;
        } else if (sscanf(line, "VmHWM: %llu kB", &v) == 1) {
            *hwm = v;
            found |= 2;
        }
    }
    fclose(f);
    return found == 3 ? 0 : -1;
}

void lg_proc_sample(pid_t pid, struct lg_proc_sample *s)
{
    memset(s, 0, sizeof *s);
    s->ns = lg_now_ns();
    if (pid <= 0)
        return;
    s->ok = read_cpu(pid, &s->cpu_ticks) == 0 && read_mem(pid, &s->rss_kib, &s->hwm_kib) == 0;
}

double lg_proc_cpu_pct(const struct lg_proc_sample *a, const struct lg_proc_sample *b)
{
    long hz = sysconf(_SC_CLK_TCK);
    if (!a->ok || !b->ok || b->ns <= a->ns || hz <= 0)
        return -1;
    double cpu_s = (double)(b->cpu_ticks - a->cpu_ticks) / (double)hz;
    return 100.0 * cpu_s / ((double)(b->ns - a->ns) / 1e9);
}
