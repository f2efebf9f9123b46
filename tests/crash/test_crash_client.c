/*
 * A receiving client SIGKILLed mid-receive and restarted from its store (issue 9, "Crash and
 * restart"): no message lost, none delivered twice to the application beyond what docs/API.md
 * ("Delivery") allows, no session broken, no E2EE error.
 *
 * Three senders in this process stream direct and group messages to the receiver, u9, which
 * runs crash_receiver in a process of its own with a file store. The test kills it at random
 * moments (at least E2EE_CRASH_CLIENT_KILLS times, default 8; every other kill waits until
 * the receiver is inside a message callback) and starts it again on the same store. The
 * receiver's delivery log (crashtest.h) records every callback that began and every one that
 * returned, fsync'd, so the check is exact:
 *  - every message acked SENT to its sender has a "begin" in the log;
 *  - a message is delivered again only as the first delivery after a kill, and only if it was
 *    the last one whose callback had begun before that kill (the one in flight): the
 *    guarantee of docs/API.md;
 *  - no E2EE_ERROR and no ERROR event, at the receiver or the senders.
 * Then the receiver, restarted in this process from the same store, answers each sender
 * directly and writes to the group, and the senders write to it once more: every session and
 * sender key still works in both directions.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "crashtest.h"
#include "relaytest.h"

#define N_SENDERS 3
#define RECV_IDX 9
#define GROUP "crashg"
#define DELAY_US 3000         /* the receiver's work per message callback */
#define SEND_GAP_MS 3         /* the senders' pace */
#define BEGINS_MIN 5          /* a kill comes after this many to ... */
#define BEGINS_MAX 40         /* ... this many new callbacks of an incarnation */
#define INSIDE_WAIT_MS 5000   /* bound of the wait for the receiver inside a callback */
#define LOG_MAX (64u << 20)

struct sent_msg {
    uint32_t sender;
    uint64_t id;
};

struct world {
    struct rt_relay relay;
    struct cr_client *senders[N_SENDERS];
    char dir[64], store[128], log[128];
    pid_t child;
    struct sent_msg *sent;
    size_t total;
    atomic_size_t n_sent;
    atomic_int send_failed;
};

/* ---- the receiver process ---- */

static pid_t spawn_receiver(struct world *w)
{
    char user[CR_NAME_MAX], delay[16];
    cr_name(RECV_IDX, user);
    snprintf(delay, sizeof delay, "%u", DELAY_US);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        execl(CRASH_RECEIVER_BIN, CRASH_RECEIVER_BIN, w->relay.url, user, w->store, w->log,
              delay, (char *)NULL);
        _exit(127);
    }
    assert_true(pid > 0);
    return pid;
}

static void kill_only(struct world *w)
{
    int status = 0;
    kill(w->child, SIGKILL);
    assert_int_equal(waitpid(w->child, &status, 0), w->child);
    /* it died of the kill, not of a failure of its own */
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    w->child = 0;
}

static void mark_killed(struct world *w)
{
    int fd = open(w->log, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    cr_log_line(fd, "killed");
    close(fd);
}

static void kill_receiver(struct world *w)
{
    kill_only(w);
    mark_killed(w);
}

/* ---- reading the log ---- */

static char *read_log(const struct world *w, size_t *len)
{
    char *buf = malloc(LOG_MAX + 1);
    int fd = open(w->log, O_RDONLY);
    ssize_t n = 0, got;
    assert_non_null(buf);
    assert_true(fd >= 0 || errno == ENOENT); /* the receiver creates it */
    while (fd >= 0 && (got = read(fd, buf + n, LOG_MAX - (size_t)n)) > 0)
        n += got;
    if (fd >= 0)
        close(fd);
    assert_true(n >= 0 && (size_t)n < LOG_MAX);
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

/* Callbacks begun in the log so far, and whether the last line is a "begin". */
static size_t log_begins(const struct world *w, int *inside)
{
    size_t len = 0, begins = 0;
    char *buf = read_log(w, &len);
    const char *last = buf;
    for (char *p = buf; (p = strstr(p, "begin ")) != NULL; p++) {
        if (p == buf || p[-1] == '\n')
            begins++;
    }
    for (size_t i = 0; i + 1 < len; i++) {
        if (buf[i] == '\n')
            last = buf + i + 1;
    }
    *inside = strncmp(last, "begin ", 6) == 0;
    free(buf);
    return begins;
}

/* ---- the senders ---- */

static void *send_thread(void *arg)
{
    struct world *w = arg;
    for (size_t i = 0; i < w->total; i++) {
        uint32_t s = (uint32_t)cr_between(0, N_SENDERS - 1);
        char text[64], to[CR_NAME_MAX], id[E2EE_MSG_ID_SIZE];
        int group = (int)cr_between(0, 1), rc;
        cr_name(RECV_IDX, to);
        snprintf(text, sizeof text, "message %zu from u%u", i, (unsigned)s);
        rc = group ? e2ee_client_send_group(w->senders[s]->c, GROUP, text, id)
                   : e2ee_client_send_direct(w->senders[s]->c, to, text, id);
        if (rc != E2EE_OK) {
            fprintf(stderr, "send %zu: %s\n", i, e2ee_errname(rc));
            atomic_store(&w->send_failed, 1);
            break;
        }
        w->sent[i].sender = s;
        w->sent[i].id = cr_msg_id(id);
        atomic_store(&w->n_sent, i + 1);
        cr_sleep_ms(SEND_GAP_MS);
    }
    return NULL;
}

/* ---- the kills ---- */

/* Waits until the current incarnation began `n` more callbacks than `base`. */
static int wait_begins(struct world *w, size_t base, size_t n)
{
    uint64_t until = cr_now_ms() + CR_WAIT_MS;
    int inside = 0;
    while (log_begins(w, &inside) < base + n && cr_now_ms() < until)
        cr_sleep_ms(2);
    return log_begins(w, &inside) >= base + n ? 0 : -1;
}

/* Kills the receiver while it is inside a message callback; 1 when the log shows it died
 * there (the "begin" still the last line), 0 when the callback ended first. */
static int kill_inside(struct world *w)
{
    uint64_t until = cr_now_ms() + INSIDE_WAIT_MS;
    int inside = 0;
    while (log_begins(w, &inside) > 0 && !inside && cr_now_ms() < until)
        cr_sleep_ms(1);
    kill_only(w);
    (void)log_begins(w, &inside);
    mark_killed(w);
    return inside;
}

static void run_kills(struct world *w, uint64_t kills, int *inside_kills)
{
    int inside = 0;
    for (uint64_t k = 0; k < kills; k++) {
        size_t base = log_begins(w, &inside);
        assert_int_equal(wait_begins(w, base, cr_between(BEGINS_MIN, BEGINS_MAX)), 0);
        if (k % 2 == 0) {
            *inside_kills += kill_inside(w);
        } else {
            cr_sleep_ms((unsigned)cr_between(0, 20));
            kill_receiver(w);
        }
        printf("kill %llu: after %zu callbacks\n", (unsigned long long)k + 1,
               log_begins(w, &inside));
        cr_sleep_ms((unsigned)cr_between(0, 100));
        w->child = spawn_receiver(w);
    }
}

/* ---- the check of the log ---- */

struct seen {
    uint64_t *ids;
    size_t n, cap;
};

static int seen_has(const struct seen *s, uint64_t id)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->ids[i] == id)
            return 1;
    }
    return 0;
}

static void seen_add(struct seen *s, uint64_t id)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 1024;
        s->ids = realloc(s->ids, s->cap * sizeof *s->ids);
        assert_non_null(s->ids);
    }
    s->ids[s->n++] = id;
}

/* Distinct messages whose callback began so far. */
static size_t log_unique(const struct world *w)
{
    struct seen s = {0};
    size_t len = 0;
    char *buf = read_log(w, &len), *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char id[32] = "";
        if (sscanf(line, "begin %31s", id) == 1 && !seen_has(&s, cr_msg_id(id)))
            seen_add(&s, cr_msg_id(id));
    }
    free(buf);
    free(s.ids);
    return s.n;
}

/*
 * Walks the log: returns the set of messages delivered; fails on a second delivery that is
 * not the first of an incarnation repeating the previous incarnation's message in flight,
 * and on any error line. *repeats gets the number of allowed repeats.
 */
static void check_log(const struct world *w, struct seen *delivered, size_t *repeats)
{
    size_t len = 0;
    char *buf = read_log(w, &len), *save = NULL;
    uint64_t in_flight = 0, allowed = 0;
    int first_of_incarnation = 0;

    *repeats = 0;
    for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char id[32] = "";
        if (strcmp(line, "start") == 0) {
            first_of_incarnation = 1;
        } else if (strcmp(line, "killed") == 0) {
            if (in_flight)
                allowed = in_flight; /* the one whose callback began last may come again */
            in_flight = 0;
        } else if (sscanf(line, "begin %31s", id) == 1) {
            uint64_t v = cr_msg_id(id);
            assert_true(v != 0);
            if (seen_has(delivered, v)) {
                if (!(first_of_incarnation && v == allowed))
                    fail_msg("message %s delivered again, not as the one in flight at a kill",
                             id);
                (*repeats)++;
            } else {
                seen_add(delivered, v);
            }
            first_of_incarnation = 0;
            allowed = 0;
            in_flight = v;
        } else if (strncmp(line, "end ", 4) != 0) {
            fail_msg("receiver log: %s", line); /* an E2EE_ERROR or ERROR event */
        }
    }
    free(buf);
}

/* ---- after the kills: both directions still work ---- */

static void wait_tally(enum cr_kind kind, uint32_t a, uint32_t b, uint64_t id)
{
    uint64_t until = cr_now_ms() + CR_WAIT_MS;
    while (cr_tally_get(kind, a, b, id) == 0 && cr_now_ms() < until)
        cr_sleep_ms(5);
    assert_int_equal(cr_tally_get(kind, a, b, id), 1);
}

static void check_sessions(struct world *w, struct cr_client *recv)
{
    char id[E2EE_MSG_ID_SIZE];
    uint64_t gid;

    for (uint32_t s = 0; s < N_SENDERS; s++) {
        assert_int_equal(e2ee_client_send_direct(recv->c, w->senders[s]->name, "reply", id),
                         E2EE_OK);
        wait_tally(CR_RECV, s, RECV_IDX, cr_msg_id(id));
        assert_int_equal(e2ee_client_send_direct(w->senders[s]->c, recv->name, "again", id),
                         E2EE_OK);
        wait_tally(CR_RECV, RECV_IDX, s, cr_msg_id(id));
        assert_int_equal(e2ee_client_send_group(w->senders[s]->c, GROUP, "group again", id),
                         E2EE_OK);
        wait_tally(CR_RECV, RECV_IDX, s, cr_msg_id(id));
    }
    assert_int_equal(e2ee_client_send_group(recv->c, GROUP, "group reply", id), E2EE_OK);
    gid = cr_msg_id(id);
    for (uint32_t s = 0; s < N_SENDERS; s++)
        wait_tally(CR_RECV, s, RECV_IDX, gid);
}

/* ---- the test ---- */

static void setup_world(struct world *w)
{
    struct rt_relay_opts ro = {.config = "max_requests_per_sec = 100000\n"};
    const char *tmp = getenv("TMPDIR");
    snprintf(w->dir, sizeof w->dir, "%s/e2ee-crash-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(w->dir));
    snprintf(w->store, sizeof w->store, "%s/u%u.db", w->dir, RECV_IDX);
    snprintf(w->log, sizeof w->log, "%s/u%u.log", w->dir, RECV_IDX);
    assert_int_equal(rt_relay_start(&w->relay, &ro), 0);
    for (uint32_t s = 0; s < N_SENDERS; s++) {
        w->senders[s] = cr_client_new(s, w->relay.url, NULL);
        assert_non_null(w->senders[s]);
    }
}

static void teardown_world(struct world *w, struct cr_client *recv)
{
    char path[200];
    cr_client_free(recv);
    for (uint32_t s = 0; s < N_SENDERS; s++)
        cr_client_free(w->senders[s]);
    rt_relay_cleanup(&w->relay);
    const char *files[] = {"u9.db", "u9.db-wal", "u9.db-shm", "u9.log"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", w->dir, files[i]);
        (void)unlink(path);
    }
    (void)rmdir(w->dir);
    free(w->sent);
}

static struct world w;

/* After a failure too: no receiver or relay outlives the test. */
static int teardown(void **state)
{
    (void)state;
    if (w.child > 0) {
        kill(w.child, SIGKILL);
        (void)waitpid(w.child, NULL, 0);
        w.child = 0;
    }
    rt_relay_cleanup(&w.relay);
    return 0;
}

static void test_client_killed_mid_receive(void **state)
{
    struct cr_client *recv;
    struct seen delivered = {0};
    pthread_t th;
    size_t repeats = 0;
    int inside_kills = 0, fd;
    uint64_t kills = cr_env_u64("E2EE_CRASH_CLIENT_KILLS", 8);

    (void)state;
    memset(&w, 0, sizeof w);
    cr_seed("test_crash_client");
    w.total = (size_t)cr_env_u64("E2EE_CRASH_CLIENT_MESSAGES", 1500);
    w.sent = calloc(w.total, sizeof *w.sent);
    assert_non_null(w.sent);
    cr_tally_init(w.total * 2 + 1024);
    setup_world(&w);

    /* the receiver joins the group once, in this process, then lives in its own */
    recv = cr_client_new(RECV_IDX, w.relay.url, w.store);
    assert_non_null(recv);
    assert_int_equal(e2ee_client_create_group_wait(w.senders[0]->c, GROUP, CR_WAIT_MS), E2EE_OK);
    for (uint32_t s = 1; s < N_SENDERS; s++)
        assert_int_equal(e2ee_client_join_group_wait(w.senders[s]->c, GROUP, CR_WAIT_MS),
                         E2EE_OK);
    assert_int_equal(e2ee_client_join_group_wait(recv->c, GROUP, CR_WAIT_MS), E2EE_OK);
    cr_client_stop(recv);

    w.child = spawn_receiver(&w);
    assert_int_equal(pthread_create(&th, NULL, send_thread, &w), 0);
    run_kills(&w, kills, &inside_kills);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(atomic_load(&w.send_failed), 0);
    assert_true(inside_kills >= 1);

    /* every message reached the relay; then the last incarnation, in this process */
    uint64_t until = cr_now_ms() + 4 * CR_WAIT_MS;
    while (atomic_load(&cr_total_sent) < w.total && cr_now_ms() < until)
        cr_sleep_ms(10);
    assert_int_equal(atomic_load(&cr_total_sent), w.total);
    kill_receiver(&w);
    fd = open(w.log, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    cr_log_line(fd, "start");
    recv->log_fd = fd;
    assert_int_equal(cr_client_start(recv), 0);
    until = cr_now_ms() + 4 * CR_WAIT_MS;
    while (log_unique(&w) < w.total && cr_now_ms() < until)
        cr_sleep_ms(50);

    check_log(&w, &delivered, &repeats);
    for (size_t i = 0; i < w.total; i++) {
        assert_int_equal(cr_tally_get(CR_SENT, w.sent[i].sender, 0, w.sent[i].id), 1);
        if (!seen_has(&delivered, w.sent[i].id))
            fail_msg("message %zu (%016llx from u%u) lost", i,
                     (unsigned long long)w.sent[i].id, (unsigned)w.sent[i].sender);
    }
    assert_int_equal(delivered.n, w.total);
    printf("%zu messages, %llu kills (%d inside a callback), %zu delivered again as in "
           "flight at a kill\n",
           w.total, (unsigned long long)kills + 1, inside_kills, repeats);

    check_sessions(&w, recv);
    assert_int_equal(atomic_load(&cr_total_errors), 0);
    for (uint32_t s = 0; s < N_SENDERS; s++) {
        assert_int_equal(atomic_load(&w.senders[s]->failed), 0);
        assert_int_equal(atomic_load(&w.senders[s]->dups), 0);
    }
    assert_int_equal(atomic_load(&recv->dups), 0);
    recv->log_fd = -1;
    close(fd);
    free(delivered.ids);
    teardown_world(&w, recv);
    cr_tally_free();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_client_killed_mid_receive, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
