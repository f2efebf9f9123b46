/* e2ee tests: e2ee-chat processes in scripted mode (see chatproc.h). */
#include "chatproc.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stddef.h>
#include <cmocka.h>

#include "relaytest.h" /* rt_scaled_ms: waits scaled by E2EE_TEST_TIME_SCALE */
#include "testutil.h"

#define CP_MAX_ARGS 32

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *cp_chat_bin(void)
{
    static char path[1024];
    snprintf(path, sizeof path, "%s/e2ee-chat", tu_bin_dir());
    return path;
}

static void add_line(struct chatproc *p, const char *s, size_t n)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        p->lines = realloc(p->lines, cap * sizeof *p->lines);
        p->used = realloc(p->used, cap * sizeof *p->used);
        assert_non_null(p->lines);
        assert_non_null(p->used);
        p->cap = cap;
    }
    p->lines[p->n] = strndup(s, n);
    assert_non_null(p->lines[p->n]);
    p->used[p->n++] = 0;
}

/* Reads what the process printed, waiting up to ms for something. */
static void pump(struct chatproc *p, int ms)
{
    char buf[4096];
    struct pollfd pf;
    ssize_t r;
    if (p->out_fd < 0) {
        if (ms > 0)
            usleep((useconds_t)ms * 1000);
        return;
    }
    pf = (struct pollfd){.fd = p->out_fd, .events = POLLIN};
    if (poll(&pf, 1, ms) <= 0)
        return;
    r = read(p->out_fd, buf, sizeof buf);
    if (r <= 0) {
        if (r == 0 || errno != EAGAIN) {
            if (p->n_partial)
                add_line(p, p->partial, p->n_partial);
            p->n_partial = 0;
            close(p->out_fd);
            p->out_fd = -1;
        }
        return;
    }
    for (ssize_t i = 0; i < r; i++) {
        if (buf[i] == '\n') {
            add_line(p, p->partial, p->n_partial);
            p->n_partial = 0;
        } else if (p->n_partial < sizeof p->partial - 1) {
            p->partial[p->n_partial++] = buf[i];
        }
    }
}

struct chatproc *cp_start(const char *url, const char *name, const char *const *args)
{
    struct chatproc *p = calloc(1, sizeof *p);
    const char *argv[CP_MAX_ARGS];
    int in[2], out[2], has_store = 0;
    size_t n = 0;
    assert_non_null(p);
    snprintf(p->name, sizeof p->name, "%s", name);
    snprintf(p->err_path, sizeof p->err_path, "/tmp/e2ee-chattest-%d-%s.err", (int)getpid(),
             name);
    argv[n++] = cp_chat_bin();
    argv[n++] = "--relay";
    argv[n++] = url;
    argv[n++] = "--user";
    argv[n++] = name;
    for (size_t i = 0; args && args[i]; i++) {
        assert_true(n < CP_MAX_ARGS - 2);
        if (strcmp(args[i], "--store") == 0)
            has_store = 1;
        argv[n++] = args[i];
    }
    if (!has_store)
        argv[n++] = "--memory";
    argv[n] = NULL;
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(out), 0);
    p->pid = fork();
    assert_true(p->pid >= 0);
    if (p->pid == 0) {
        int err = open(p->err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(in[0], STDIN_FILENO);
        dup2(out[1], STDOUT_FILENO);
        if (err >= 0)
            dup2(err, STDERR_FILENO);
        for (int fd = 3; fd < 1024; fd++)
            close(fd);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    p->in_fd = in[1];
    p->out_fd = out[0];
    fcntl(p->in_fd, F_SETFD, FD_CLOEXEC);
    fcntl(p->out_fd, F_SETFD, FD_CLOEXEC);
    fcntl(p->out_fd, F_SETFL, fcntl(p->out_fd, F_GETFL) | O_NONBLOCK);
    return p;
}

void cp_say(struct chatproc *p, const char *fmt, ...)
{
    char line[70000];
    va_list ap;
    int n;
    size_t off = 0;
    va_start(ap, fmt);
    n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < sizeof line - 1);
    line[n++] = '\n';
    assert_true(p->in_fd >= 0);
    while (off < (size_t)n) {
        ssize_t w = write(p->in_fd, line + off, (size_t)n - off);
        if (w < 0 && errno == EINTR)
            continue;
        assert_true(w > 0);
        off += (size_t)w;
    }
}

const char *cp_try(struct chatproc *p, const char *glob, int timeout_ms)
{
    int64_t deadline = now_ms() + rt_scaled_ms(timeout_ms), left;
    for (;;) {
        for (size_t i = 0; i < p->n; i++) {
            if (!p->used[i] && fnmatch(glob, p->lines[i], 0) == 0) {
                p->used[i] = 1;
                return p->lines[i];
            }
        }
        left = deadline - now_ms();
        if (left <= 0)
            return NULL;
        pump(p, left > 100 ? 100 : (int)left);
    }
}

const char *cp_expect(struct chatproc *p, const char *glob, int timeout_ms)
{
    const char *l = cp_try(p, glob, timeout_ms);
    if (!l) {
        cp_dump(p);
        fail_msg("%s: no line matching \"%s\" within %d ms", p->name, glob, timeout_ms);
    }
    return l;
}

size_t cp_count(struct chatproc *p, const char *glob, int ms)
{
    int64_t deadline = now_ms() + ms;
    size_t count = 0;
    do {
        pump(p, 50);
    } while (now_ms() < deadline);
    for (size_t i = 0; i < p->n; i++)
        if (fnmatch(glob, p->lines[i], 0) == 0)
            count++;
    return count;
}

void cp_close_input(struct chatproc *p)
{
    if (p->in_fd >= 0)
        close(p->in_fd);
    p->in_fd = -1;
}

int cp_wait_exit(struct chatproc *p, int timeout_ms)
{
    int64_t deadline = now_ms() + rt_scaled_ms(timeout_ms);
    int st;
    while (!p->exited) {
        pid_t r = waitpid(p->pid, &st, WNOHANG);
        if (r == p->pid) {
            p->exited = 1;
            p->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            break;
        }
        if (now_ms() >= deadline)
            return -1;
        pump(p, 50);
    }
    while (p->out_fd >= 0) /* what it printed before exiting */
        pump(p, 100);
    return p->status;
}

void cp_dump(const struct chatproc *p)
{
    char *err;
    size_t len = 0;
    fprintf(stderr, "---- %s printed:\n", p->name);
    for (size_t i = 0; i < p->n; i++)
        fprintf(stderr, "  %s %s\n", p->used[i] ? "*" : " ", p->lines[i]);
    err = tu_read_file(p->err_path, &len);
    if (err && len) {
        fprintf(stderr, "---- %s stderr:\n%.*s\n", p->name, (int)len, err);
    }
    free(err);
}

void cp_free(struct chatproc *p)
{
    if (!p)
        return;
    cp_close_input(p);
    if (!p->exited) {
        kill(p->pid, SIGKILL);
        waitpid(p->pid, NULL, 0);
    }
    if (p->out_fd >= 0)
        close(p->out_fd);
    for (size_t i = 0; i < p->n; i++)
        free(p->lines[i]);
    free(p->lines);
    free(p->used);
    unlink(p->err_path);
    free(p);
}
