/* e2ee tests: test clients that record their events (see clienttest.h). */
#include "clienttest.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#if defined(__SANITIZE_ADDRESS__)
/*
 * libwebsockets 4.1.6 with OpenSSL 3: when a process holds more than one lws context (every
 * e2ee client has its own transport, and these tests run several clients at once), freeing a
 * client loses the client SSL_CTX (and the system CA store loaded into it, ~700 KB) that
 * lws_create_vhost() made inside e2ee__net_new(); one client alone frees everything. Run with
 * ASAN_OPTIONS=fast_unwind_on_malloc=0, every such block is allocated under lws_create_vhost;
 * the default (fast) unwinder cannot see past OpenSSL's frames, so the exemption names
 * OpenSSL. The client code never calls OpenSSL (only src/crypto does, and these tests check
 * nothing of it).
 */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libcrypto.so\nleak:libssl.so\n";
}
#endif

static char g_tmpdir[64];

/* Removes the store files of the run (a flat folder) at exit. */
static void tmpdir_remove(void)
{
    DIR *d = opendir(g_tmpdir);
    struct dirent *de;
    char path[400];
    while (d && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", g_tmpdir, de->d_name);
        (void)unlink(path);
    }
    if (d)
        closedir(d);
    (void)rmdir(g_tmpdir);
}

const char *ct_tmpdir(void)
{
    if (!g_tmpdir[0]) {
        snprintf(g_tmpdir, sizeof g_tmpdir, "/tmp/e2ee-clienttest-XXXXXX");
        if (!mkdtemp(g_tmpdir))
            abort();
        atexit(tmpdir_remove);
    }
    return g_tmpdir;
}

void ct_sleep_ms(int ms)
{
    /* scaled like the waits: a settle time, or a poll interval in a bounded loop */
    int64_t t = rt_scaled_ms(ms);
    struct timespec ts = {(time_t)(t / 1000), (long)(t % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static char *dup_or_null(const char *s)
{
    char *d = s ? strdup(s) : NULL;
    if (s && !d)
        abort();
    return d;
}

static char *join_members(const char *const *m, size_t n)
{
    size_t len = 1;
    char *out;
    for (size_t i = 0; i < n; i++)
        len += strlen(m[i]) + 1;
    out = calloc(1, len);
    if (!out)
        abort();
    for (size_t i = 0; i < n; i++) {
        if (i)
            strcat(out, ",");
        strcat(out, m[i]);
    }
    return out;
}

static void copy_data(struct ct_event *e, const uint8_t *data, size_t len)
{
    e->data = malloc(len + 1);
    if (!e->data)
        abort();
    if (len)
        memcpy(e->data, data, len);
    e->data[len] = 0;
    e->len = len;
    e->text = (char *)e->data;
}

static void record_fields(struct ct_event *e, const struct e2ee_event *ev)
{
    switch (ev->type) {
    case E2EE_EVENT_CONNECT:
        e->registered = ev->connect.registered;
        e->queued = ev->connect.queued;
        break;
    case E2EE_EVENT_DISCONNECT:
        e->code = ev->disconnect.code;
        e->reason = dup_or_null(ev->disconnect.reason);
        e->will_reconnect = ev->disconnect.will_reconnect;
        break;
    case E2EE_EVENT_ERROR:
        e->code = ev->error.code;
        e->reason = dup_or_null(ev->error.text);
        e->request_id = ev->error.request_id;
        e->group = dup_or_null(ev->error.group);
        break;
    case E2EE_EVENT_E2EE_ERROR:
        e->code = ev->e2ee_error.code;
        e->reason = dup_or_null(ev->e2ee_error.text);
        e->msg_id = dup_or_null(ev->e2ee_error.msg_id);
        e->from = dup_or_null(ev->e2ee_error.from);
        e->group = dup_or_null(ev->e2ee_error.group);
        break;
    case E2EE_EVENT_DIRECT_TEXT:
    case E2EE_EVENT_DIRECT_BINARY:
        e->msg_id = dup_or_null(ev->direct.msg_id);
        e->from = dup_or_null(ev->direct.from);
        e->sent_at_ms = ev->direct.sent_at_ms;
        copy_data(e, ev->direct.data, ev->direct.len);
        break;
    case E2EE_EVENT_GROUP_TEXT:
    case E2EE_EVENT_GROUP_BINARY:
        e->msg_id = dup_or_null(ev->group_msg.msg_id);
        e->from = dup_or_null(ev->group_msg.from);
        e->group = dup_or_null(ev->group_msg.group);
        e->sent_at_ms = ev->group_msg.sent_at_ms;
        copy_data(e, ev->group_msg.data, ev->group_msg.len);
        break;
    case E2EE_EVENT_MESSAGE_ACK:
    case E2EE_EVENT_GROUP_MESSAGE_ACK:
        e->msg_id = dup_or_null(ev->ack.msg_id);
        e->from = dup_or_null(ev->ack.from);
        e->to = dup_or_null(ev->ack.to);
        e->group = dup_or_null(ev->ack.group);
        e->state = ev->ack.state;
        e->code = ev->ack.code;
        break;
    case E2EE_EVENT_USER_CREATED:
    case E2EE_EVENT_USER_DELETED:
        e->user = dup_or_null(ev->user.user);
        break;
    case E2EE_EVENT_GROUP_CREATED:
    case E2EE_EVENT_GROUP_DELETED:
    case E2EE_EVENT_GROUP_LEAVE:
        e->group = dup_or_null(ev->group.group);
        e->owner = dup_or_null(ev->group.owner);
        e->by = dup_or_null(ev->group.by);
        e->epoch = ev->group.epoch;
        e->request_id = ev->group.request_id;
        break;
    case E2EE_EVENT_GROUP_JOIN:
        e->group = dup_or_null(ev->group_join.group);
        e->owner = dup_or_null(ev->group_join.owner);
        e->members = join_members(ev->group_join.members, ev->group_join.n_members);
        e->n_members = ev->group_join.n_members;
        e->epoch = ev->group_join.epoch;
        e->request_id = ev->group_join.request_id;
        break;
    case E2EE_EVENT_MEMBER_JOIN:
    case E2EE_EVENT_MEMBER_LEAVE:
        e->group = dup_or_null(ev->member.group);
        e->user = dup_or_null(ev->member.user);
        e->by = dup_or_null(ev->member.by);
        e->epoch = ev->member.epoch;
        break;
    case E2EE_EVENT_PEER_IDENTITY_CHANGED:
        e->user = dup_or_null(ev->identity.user);
        e->old_fp = dup_or_null(ev->identity.old_fingerprint);
        e->new_fp = dup_or_null(ev->identity.new_fingerprint);
        e->accepted = ev->identity.accepted;
        break;
    }
}

static void on_event(const struct e2ee_event *ev, void *user)
{
    struct ct_client *cl = user;
    struct ct_event *e = calloc(1, sizeof *e);
    if (!e)
        abort();
    e->type = ev->type;
    record_fields(e, ev);
    pthread_mutex_lock(&cl->mu);
    if (cl->n == cl->cap) {
        cl->cap = cl->cap ? cl->cap * 2 : 64;
        cl->ev = realloc(cl->ev, cl->cap * sizeof *cl->ev);
        if (!cl->ev)
            abort();
    }
    cl->ev[cl->n++] = e;
    pthread_cond_broadcast(&cl->cv);
    pthread_mutex_unlock(&cl->mu);
    if (cl->hook)
        cl->hook(cl, ev);
}

static void on_log(enum e2ee_log_level level, const char *line, void *user)
{
    struct ct_client *cl = user;
    if (cl->log_watch && strstr(line, cl->log_watch)) {
        pthread_mutex_lock(&cl->mu);
        cl->log_hits++;
        pthread_mutex_unlock(&cl->mu);
    }
    if (getenv("E2EE_CLIENT_TEST_LOG"))
        fprintf(stderr, "[%s %d] %s\n", cl->name, (int)level, line);
}

static void start(struct ct_client *cl, int connect)
{
    int rc = e2ee_client_new(&cl->c, &cl->cfg);
    if (rc != E2EE_OK) {
        fprintf(stderr, "e2ee_client_new(%s): %s\n", cl->name, e2ee_errname(rc));
        fail();
    }
    assert_int_equal(e2ee_client_loop_start(cl->c), E2EE_OK);
    if (connect) {
        size_t before = ct_count(cl, &(struct ct_match){.type = E2EE_EVENT_CONNECT});
        assert_int_equal(e2ee_client_connect(cl->c), E2EE_OK);
        if (ct_wait_n(cl, &(struct ct_match){.type = E2EE_EVENT_CONNECT}, before + 1,
                      CT_WAIT_MS) < before + 1) {
            fprintf(stderr, "%s did not connect\n", cl->name);
            fail();
        }
    }
}

struct ct_client *ct_client_new(const struct rt_relay *r, const char *name,
                                const struct ct_opts *o)
{
    struct ct_opts none = {0};
    struct ct_client *cl = calloc(1, sizeof *cl);
    if (!cl)
        abort();
    if (!o)
        o = &none;
    snprintf(cl->name, sizeof cl->name, "%s", name);
    snprintf(cl->url, sizeof cl->url, "%s", r->url);
    if (o->store && !o->store[0])
        snprintf(cl->store, sizeof cl->store, "%s/%s.db", ct_tmpdir(), name);
    else if (o->store)
        snprintf(cl->store, sizeof cl->store, "%s", o->store);
    pthread_mutex_init(&cl->mu, NULL);
    pthread_cond_init(&cl->cv, NULL);
    e2ee_client_config_init(&cl->cfg);
    cl->cfg.user_id = cl->name;
    cl->cfg.relay_url = cl->url;
    cl->cfg.store_path = cl->store[0] ? cl->store : NULL;
    cl->cfg.tls_allow_self_signed = 1;
    cl->cfg.ack_direct = !o->ack_direct_off;
    cl->cfg.ack_group = !o->ack_group_off;
    cl->cfg.reconnect_min_ms = 50;
    cl->cfg.reconnect_max_ms = 500;
    cl->cfg.identity_policy = o->accept_identity ? E2EE_IDENTITY_ACCEPT : E2EE_IDENTITY_BLOCK;
    if (o->pending_timeout_s)
        cl->cfg.pending_timeout_s = o->pending_timeout_s;
    if (o->keepalive_s)
        cl->cfg.keepalive_s = o->keepalive_s < 0 ? 0 : (uint32_t)o->keepalive_s;
    cl->cfg.event_cb = on_event;
    cl->cfg.user_data = cl;
    cl->cfg.log_cb = on_log;
    cl->cfg.log_user_data = cl;
    cl->cfg.log_level = E2EE_LOG_DEBUG;
    start(cl, !o->no_connect);
    return cl;
}

void ct_client_stop(struct ct_client *cl)
{
    if (cl && cl->c) {
        (void)e2ee_client_loop_stop(cl->c);
        e2ee_client_free(cl->c);
        cl->c = NULL;
    }
}

void ct_client_restart(struct ct_client *cl, const char *url)
{
    ct_client_stop(cl);
    if (url)
        snprintf(cl->url, sizeof cl->url, "%s", url);
    start(cl, 1);
}

static void event_free(struct ct_event *e)
{
    free(e->msg_id);
    free(e->from);
    free(e->to);
    free(e->group);
    free(e->user);
    free(e->by);
    free(e->owner);
    free(e->reason);
    free(e->data);
    free(e->members);
    free(e->old_fp);
    free(e->new_fp);
    free(e);
}

void ct_client_free(struct ct_client *cl)
{
    if (!cl)
        return;
    ct_client_stop(cl);
    for (size_t i = 0; i < cl->n; i++)
        event_free(cl->ev[i]);
    free(cl->ev);
    pthread_cond_destroy(&cl->cv);
    pthread_mutex_destroy(&cl->mu);
    free(cl);
}

static int str_match(const char *want, const char *have)
{
    return !want || (have && strcmp(want, have) == 0);
}

static int matches(const struct ct_event *e, const struct ct_match *m)
{
    return e->type == m->type && str_match(m->msg_id, e->msg_id) &&
           str_match(m->from, e->from) && str_match(m->to, e->to) &&
           str_match(m->group, e->group) && str_match(m->user, e->user) &&
           str_match(m->text, e->text) && str_match(m->by, e->by) &&
           (!m->state || m->state == e->state) && (!m->has_code || m->code == e->code);
}

static size_t count_locked(struct ct_client *cl, const struct ct_match *m, size_t from,
                           const struct ct_event **last, size_t nth)
{
    size_t k = 0;
    for (size_t i = from; i < cl->n; i++) {
        if (matches(cl->ev[i], m)) {
            if (last && k == nth)
                *last = cl->ev[i];
            k++;
        }
    }
    return k;
}

size_t ct_wait_n(struct ct_client *cl, const struct ct_match *m, size_t n, int timeout_ms)
{
    return ct_wait_n_since(cl, m, 0, n, timeout_ms);
}

size_t ct_wait_n_since(struct ct_client *cl, const struct ct_match *m, size_t mark, size_t n,
                       int timeout_ms)
{
    struct timespec ts;
    size_t k;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t scaled = rt_scaled_ms(timeout_ms); /* E2EE_TEST_TIME_SCALE */
    timeout_ms = scaled > INT_MAX ? INT_MAX : (int)scaled;
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&cl->mu);
    while ((k = count_locked(cl, m, mark, NULL, 0)) < n) {
        if (pthread_cond_timedwait(&cl->cv, &cl->mu, &ts) == ETIMEDOUT) {
            k = count_locked(cl, m, mark, NULL, 0);
            break;
        }
    }
    pthread_mutex_unlock(&cl->mu);
    return k;
}

const struct ct_event *ct_wait(struct ct_client *cl, const struct ct_match *m, int timeout_ms)
{
    return ct_wait_n(cl, m, 1, timeout_ms) >= 1 ? ct_nth(cl, m, 0) : NULL;
}

size_t ct_count(struct ct_client *cl, const struct ct_match *m)
{
    return ct_count_since(cl, m, 0);
}

const struct ct_event *ct_nth(struct ct_client *cl, const struct ct_match *m, size_t i)
{
    const struct ct_event *e = NULL;
    pthread_mutex_lock(&cl->mu);
    (void)count_locked(cl, m, 0, &e, i);
    pthread_mutex_unlock(&cl->mu);
    return e;
}

size_t ct_mark(struct ct_client *cl)
{
    pthread_mutex_lock(&cl->mu);
    size_t n = cl->n;
    pthread_mutex_unlock(&cl->mu);
    return n;
}

size_t ct_count_since(struct ct_client *cl, const struct ct_match *m, size_t mark)
{
    pthread_mutex_lock(&cl->mu);
    size_t k = count_locked(cl, m, mark, NULL, 0);
    pthread_mutex_unlock(&cl->mu);
    return k;
}

void ct_dump(struct ct_client *cl, size_t mark)
{
    pthread_mutex_lock(&cl->mu);
    fprintf(stderr, "%s: %zu events since the mark:\n", cl->name, cl->n - mark);
    for (size_t i = mark; i < cl->n; i++)
        fprintf(stderr, "  %s code=%s group=%s user=%s from=%s to=%s state=%d\n",
                e2ee_event_name(cl->ev[i]->type), e2ee_errname(cl->ev[i]->code),
                cl->ev[i]->group ? cl->ev[i]->group : "-",
                cl->ev[i]->user ? cl->ev[i]->user : "-",
                cl->ev[i]->from ? cl->ev[i]->from : "-", cl->ev[i]->to ? cl->ev[i]->to : "-",
                cl->ev[i]->state);
    pthread_mutex_unlock(&cl->mu);
}

void ct_expect(struct ct_client *cl, const struct ct_match *m)
{
    if (!ct_wait(cl, m, CT_WAIT_MS)) {
        fprintf(stderr, "%s: expected %s (msg_id %s, from %s, group %s, user %s, text %s) "
                        "did not come; %zu events recorded:\n",
                cl->name, e2ee_event_name(m->type), m->msg_id ? m->msg_id : "*",
                m->from ? m->from : "*", m->group ? m->group : "*", m->user ? m->user : "*",
                m->text ? m->text : "*", cl->n);
        for (size_t i = 0; i < cl->n; i++)
            fprintf(stderr, "  %s code=%s group=%s user=%s from=%s text=%.40s\n",
                    e2ee_event_name(cl->ev[i]->type), e2ee_errname(cl->ev[i]->code),
                    cl->ev[i]->group ? cl->ev[i]->group : "-",
                    cl->ev[i]->user ? cl->ev[i]->user : "-",
                    cl->ev[i]->from ? cl->ev[i]->from : "-",
                    cl->ev[i]->type == E2EE_EVENT_DIRECT_TEXT ||
                            cl->ev[i]->type == E2EE_EVENT_GROUP_TEXT
                        ? cl->ev[i]->text
                        : (cl->ev[i]->reason ? cl->ev[i]->reason : "-"));
        fail();
    }
}

void ct_direct_roundtrip(struct ct_client *from, struct ct_client *to_cl, const char *text)
{
    char id[E2EE_MSG_ID_SIZE];
    assert_int_equal(e2ee_client_send_direct(from->c, to_cl->name, text, id), E2EE_OK);
    ct_expect(to_cl, &(struct ct_match){.type = E2EE_EVENT_DIRECT_TEXT, .msg_id = id,
                                        .from = from->name, .text = text});
    ct_expect(from, &(struct ct_match){.type = E2EE_EVENT_MESSAGE_ACK, .msg_id = id,
                                       .state = E2EE_ACK_SENT});
}

static int buf_contains(const uint8_t *hay, size_t n, const void *needle, size_t len)
{
    if (len == 0 || n < len)
        return 0;
    for (size_t i = 0; i + len <= n; i++) {
        if (hay[i] == *(const uint8_t *)needle && memcmp(hay + i, needle, len) == 0)
            return 1;
    }
    return 0;
}

int ct_file_contains(const char *path, const void *needle, size_t len)
{
    char wal[600];
    int found = 0;
    const char *paths[2] = {path, wal};
    snprintf(wal, sizeof wal, "%s-wal", path);
    for (size_t k = 0; k < 2 && !found; k++) {
        size_t n = 0;
        char *buf = tu_read_file(paths[k], &n);
        if (buf)
            found = buf_contains((const uint8_t *)buf, n, needle, len);
        free(buf);
    }
    return found;
}
