/*
 * The relay SIGKILLed and restarted on its store under load (issue 9, "Crash and restart").
 *
 * E2EE_CRASH_CLIENTS clients (default 50) of the public API, each with its own store (in
 * memory; files with E2EE_CRASH_CLIENT_FILES=1) and loop thread, are split into groups of 5 to
 * 10 (static membership). They send E2EE_CRASH_MESSAGES messages in total (default 50,000),
 * each at random a direct message to another client or a group message to the sender's group,
 * with at most E2EE_CRASH_WINDOW (default 400) not yet acked SENT at any time. Meanwhile the
 * relay is SIGKILLed at E2EE_CRASH_KILLS (default 6) random points of the run (chosen by the
 * count of SENT acks, from a seeded generator: E2EE_CRASH_SEED) and restarted on the same store
 * and port after a random pause; the clients keep sending while it is down.
 *
 * In the end, within E2EE_CRASH_TIMEOUT_S (default 900 s):
 *  - every message was acked SENT to its sender exactly once (the outbox resends with the
 *    same client message id, the relay stores it once);
 *  - every intended recipient (the direct recipient; every group member but the sender)
 *    decrypted it exactly once, and no client got any other message event;
 *  - no E2EE_ERROR, no ERROR event, no FAILED ack.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "crashtest.h"
#include "relaytest.h"

#define GROUP_MIN 5
#define GROUP_MAX 10
#define RESTART_TRIES 50        /* the port may still be held for a moment */
#define DOWN_MIN_MS 50          /* the relay stays down for ... */
#define DOWN_MAX_MS 1500        /* ... this long */
#define PROGRESS_MS 10000

struct msg {
    uint32_t sender;
    uint32_t target; /* a client (direct) or a group index (group) */
    int group;
    uint64_t id;
};

struct run {
    struct rt_relay relay;
    char listen_arg[64];
    char dir[64];
    uint32_t n_clients, n_groups;
    struct cr_client **cl;
    uint32_t *group_of;     /* client -> group */
    uint32_t *group_start;  /* group g: members[group_start[g] .. group_start[g + 1]) */
    uint32_t *members;
    struct msg *msgs;
    size_t total, expected_recv;
    uint64_t *kill_at;      /* SENT counts at which the relay is killed */
    uint64_t kills, killed;
};

static struct run R;

/* ---- set-up ---- */

static void make_groups(struct run *r)
{
    uint32_t n = r->n_clients, g = 0, i = 0;
    r->members = calloc(n, sizeof *r->members);
    r->group_of = calloc(n, sizeof *r->group_of);
    r->group_start = calloc(n + 1, sizeof *r->group_start);
    assert_true(r->members && r->group_of && r->group_start);
    for (uint32_t k = 0; k < n; k++)
        r->members[k] = k;
    for (uint32_t k = n; k > 1; k--) { /* shuffle */
        uint32_t j = (uint32_t)cr_between(0, k - 1), t = r->members[k - 1];
        r->members[k - 1] = r->members[j];
        r->members[j] = t;
    }
    while (i < n) {
        uint32_t size = (uint32_t)cr_between(GROUP_MIN, GROUP_MAX);
        if (n - i - size < GROUP_MIN || size > n - i)
            size = n - i <= GROUP_MAX ? n - i : GROUP_MIN; /* no group smaller than the minimum */
        r->group_start[g] = i;
        for (uint32_t k = 0; k < size; k++)
            r->group_of[r->members[i + k]] = g;
        i += size;
        g++;
    }
    r->group_start[g] = n;
    r->n_groups = g;
}

static void group_name(uint32_t g, char out[CR_NAME_MAX])
{
    snprintf(out, CR_NAME_MAX, "g%u", (unsigned)g);
}

static void join_groups(struct run *r)
{
    char name[CR_NAME_MAX];
    for (uint32_t g = 0; g < r->n_groups; g++) {
        group_name(g, name);
        for (uint32_t k = r->group_start[g]; k < r->group_start[g + 1]; k++) {
            e2ee_client *c = r->cl[r->members[k]]->c;
            int rc = k == r->group_start[g] ? e2ee_client_create_group_wait(c, name, CR_WAIT_MS)
                                            : e2ee_client_join_group_wait(c, name, CR_WAIT_MS);
            assert_int_equal(rc, E2EE_OK);
        }
    }
}

/* The clients' stores are in memory unless E2EE_CRASH_CLIENT_FILES is set: the process of the
 * clients survives, so their outgoing queues and sessions do too either way, and 50 file
 * stores would make the run wait on fsync (the crash of a client has test_crash_client). */
static void start_clients(struct run *r)
{
    char store[200];
    int files = getenv("E2EE_CRASH_CLIENT_FILES") != NULL;
    r->cl = calloc(r->n_clients, sizeof *r->cl);
    assert_non_null(r->cl);
    for (uint32_t i = 0; i < r->n_clients; i++) {
        snprintf(store, sizeof store, "%s/u%u.db", r->dir, (unsigned)i);
        r->cl[i] = cr_client_new(i, r->relay.url, files ? store : NULL);
        assert_non_null(r->cl[i]);
    }
}

/* Kill points: sorted SENT counts spread over the run. */
static void plan_kills(struct run *r)
{
    r->kill_at = calloc(r->kills, sizeof *r->kill_at);
    assert_non_null(r->kill_at);
    for (uint64_t k = 0; k < r->kills; k++) {
        uint64_t lo = r->total * (k + 1) / (r->kills + 2), hi = r->total * (k + 2) / (r->kills + 2);
        r->kill_at[k] = cr_between(lo, hi - 1);
    }
}

/* ---- the relay's crashes ---- */

static void relay_kill(struct run *r)
{
    rt_relay_kill(&r->relay);
    r->killed++;
    printf("relay killed (%llu) at %u SENT acks, %u messages received\n",
           (unsigned long long)r->killed, atomic_load(&cr_total_sent),
           atomic_load(&cr_total_recv));
    fflush(stdout);
}

static void relay_restart(struct run *r)
{
    int rc = -1;
    for (int t = 0; t < RESTART_TRIES && rc != 0; t++) {
        rc = rt_relay_restart(&r->relay);
        if (rc != 0)
            cr_sleep_ms(100);
    }
    assert_int_equal(rc, 0);
}

/* ---- sending ---- */

static void send_one(struct run *r, size_t i)
{
    struct msg *m = &r->msgs[i];
    char text[48], to[CR_NAME_MAX], id[E2EE_MSG_ID_SIZE];
    int rc;

    m->sender = (uint32_t)cr_between(0, r->n_clients - 1);
    m->group = (int)cr_between(0, 1);
    snprintf(text, sizeof text, "message %zu", i);
    if (m->group) {
        m->target = r->group_of[m->sender];
        group_name(m->target, to);
        rc = e2ee_client_send_group(r->cl[m->sender]->c, to, text, id);
        r->expected_recv += r->group_start[m->target + 1] - r->group_start[m->target] - 1;
    } else {
        m->target = (uint32_t)cr_between(0, r->n_clients - 2);
        m->target += m->target >= m->sender; /* anyone but the sender */
        cr_name(m->target, to);
        rc = e2ee_client_send_direct(r->cl[m->sender]->c, to, text, id);
        r->expected_recv++;
    }
    assert_int_equal(rc, E2EE_OK);
    m->id = cr_msg_id(id);
}

static void progress(struct run *r, size_t sent, uint64_t *next)
{
    if (cr_now_ms() >= *next) {
        printf("  %zu sent, %u acked SENT, %u of %zu received\n", sent,
               atomic_load(&cr_total_sent), atomic_load(&cr_total_recv), r->expected_recv);
        fflush(stdout);
        *next = cr_now_ms() + PROGRESS_MS;
    }
}

/* Sends everything within the window; kills and restarts the relay on the way. */
static void send_all(struct run *r, uint64_t window, uint64_t deadline)
{
    uint64_t down_until = 0, next_progress = 0;
    size_t i = 0;
    while (i < r->total || down_until) {
        uint64_t now = cr_now_ms();
        assert_true(now < deadline);
        if (down_until && now >= down_until) {
            relay_restart(r);
            down_until = 0;
        }
        if (!down_until && r->killed < r->kills &&
            atomic_load(&cr_total_sent) >= r->kill_at[r->killed]) {
            relay_kill(r);
            down_until = now + cr_between(DOWN_MIN_MS, DOWN_MAX_MS);
        }
        if (i < r->total && i - atomic_load(&cr_total_sent) < window)
            send_one(r, i++);
        else
            cr_sleep_ms(1);
        progress(r, i, &next_progress);
    }
}

/* ---- the check ---- */

static void wait_all(struct run *r, uint64_t deadline)
{
    uint64_t next_progress = 0;
    while ((atomic_load(&cr_total_sent) < r->total ||
            atomic_load(&cr_total_recv) < r->expected_recv) &&
           cr_now_ms() < deadline) {
        cr_sleep_ms(20);
        progress(r, r->total, &next_progress);
    }
    cr_sleep_ms(1000); /* anything extra would come now */
}

static void check_message(const struct run *r, const struct msg *m, size_t i)
{
    uint32_t sent = cr_tally_get(CR_SENT, m->sender, 0, m->id);
    if (sent != 1)
        fail_msg("message %zu (%016llx from u%u): %u SENT acks", i, (unsigned long long)m->id,
                 (unsigned)m->sender, (unsigned)sent);
    uint32_t lo = m->group ? r->group_start[m->target] : 0;
    uint32_t hi = m->group ? r->group_start[m->target + 1] : 1;
    for (uint32_t k = lo; k < hi; k++) {
        uint32_t to = m->group ? r->members[k] : m->target;
        uint32_t n = to == m->sender ? 1 : cr_tally_get(CR_RECV, to, m->sender, m->id);
        if (n != 1)
            fail_msg("message %zu (%016llx from u%u): decrypted %u times by u%u", i,
                     (unsigned long long)m->id, (unsigned)m->sender, (unsigned)n, (unsigned)to);
    }
}

static void check_all(const struct run *r)
{
    for (size_t i = 0; i < r->total; i++)
        check_message(r, &r->msgs[i], i);
    assert_int_equal(atomic_load(&cr_total_sent), r->total);
    assert_int_equal(atomic_load(&cr_total_recv), r->expected_recv);
    assert_int_equal(atomic_load(&cr_total_errors), 0);
    for (uint32_t i = 0; i < r->n_clients; i++) {
        assert_int_equal(atomic_load(&r->cl[i]->failed), 0);
        assert_int_equal(atomic_load(&r->cl[i]->dups), 0);
    }
}

/* ---- the test ---- */

static int teardown(void **state)
{
    char cmd[128];
    (void)state;
    for (uint32_t i = 0; R.cl && i < R.n_clients; i++)
        cr_client_free(R.cl[i]);
    rt_relay_cleanup(&R.relay);
    if (R.dir[0]) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", R.dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", R.dir);
    }
    free(R.cl);
    free(R.members);
    free(R.group_of);
    free(R.group_start);
    free(R.msgs);
    free(R.kill_at);
    cr_tally_free();
    return 0;
}

static void test_relay_killed_under_load(void **state)
{
    struct rt_relay_opts ro = {
        .config = "max_requests_per_sec = 1000000\nmax_queue_msgs = 1000000\n"};
    const char *tmp = getenv("TMPDIR");
    uint64_t t0 = cr_now_ms(), deadline;

    (void)state;
    cr_seed("test_crash_relay");
    R.n_clients = (uint32_t)cr_env_u64("E2EE_CRASH_CLIENTS", 50);
    R.total = (size_t)cr_env_u64("E2EE_CRASH_MESSAGES", 50000);
    R.kills = cr_env_u64("E2EE_CRASH_KILLS", 6);
    deadline = t0 + cr_env_u64("E2EE_CRASH_TIMEOUT_S", 900) * 1000;
    assert_true(R.n_clients >= GROUP_MIN && R.n_clients < 4000);
    R.msgs = calloc(R.total, sizeof *R.msgs);
    assert_non_null(R.msgs);
    cr_tally_init(R.total * (GROUP_MAX + 1));
    snprintf(R.dir, sizeof R.dir, "%s/e2ee-crash-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(R.dir));

    assert_int_equal(rt_relay_start(&R.relay, &ro), 0);
    /* restarts listen on the same port: the clients know only this URL */
    snprintf(R.listen_arg, sizeof R.listen_arg, "--listen 127.0.0.1:%d", R.relay.port);
    R.relay.opts.extra_arg = R.listen_arg;
    make_groups(&R);
    start_clients(&R);
    join_groups(&R);
    plan_kills(&R);
    printf("%u clients in %u groups, %zu messages, %llu relay kills\n", R.n_clients,
           R.n_groups, R.total, (unsigned long long)R.kills);

    send_all(&R, cr_env_u64("E2EE_CRASH_WINDOW", 400), deadline);
    wait_all(&R, deadline);
    check_all(&R);
    assert_int_equal(R.killed, R.kills);
    printf("%zu messages, %zu decryptions, %llu relay kills: none lost, none twice (%.1f s)\n",
           R.total, R.expected_recv, (unsigned long long)R.killed,
           (double)(cr_now_ms() - t0) / 1000.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_relay_killed_under_load, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
