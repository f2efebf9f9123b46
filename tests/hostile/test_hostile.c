/*
 * e2ee tests: hostile clients against the real relay (tests/hostile/hostile.h).
 *
 * One relay runs the whole suite with small limits. Every row of the tables of
 * hostile_*.c is one hostile behaviour: it acts over real WebSockets (lws clients of
 * relaytest, or the raw client of rawws.c for what a library would never send) and asserts
 * the relay's answer. After each row, the bystanders alice and bob exchange a message each
 * way (the relay still serves other clients) and the relay process must still be there.
 * Connections left to linger (half-open, slow loris, silent) must be gone at the end. The
 * relay then stops on SIGTERM with status 0, and its store, opened read-only, passes
 * PRAGMA integrity_check. The test prints how many behaviours ran.
 */
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "hostile.h"

#define MAX_LINGER 64

struct h_suite g_h;
static int g_passed;

static struct rt_ident g_alice, g_bob;
static struct rt_client *g_a, *g_b;
static uint64_t g_cmid = 1;
static unsigned g_ids;
static struct {
    struct rw *c;
    int dribble;
} g_linger[MAX_LINGER];
static size_t g_n_linger;
static int64_t g_lat_max, g_lat_sum;
static unsigned g_round_trips;

int64_t h_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- helpers for rows ---- */

void h_ident(struct rt_ident *id, const char *tag)
{
    char uid[64];
    snprintf(uid, sizeof uid, "h-%s-%u", tag, ++g_ids);
    rt_ident_new(id, uid);
}

struct rt_client *h_user(struct rt_ident *id, const char *tag)
{
    h_ident(id, tag);
    struct rt_client *c = rt_connect_login(&g_h.relay, id);
    assert_non_null(c);
    return c;
}

struct rw *h_raw_user(struct rt_ident *id, const char *tag)
{
    h_ident(id, tag);
    struct rw *c = rw_open_login(g_h.port, id);
    assert_non_null(c);
    return c;
}

struct rw *h_raw_open(void)
{
    struct rw *c = rw_open(g_h.port);
    assert_non_null(c);
    assert_non_null(rw_challenge(c, RT_TIMEOUT_MS));
    return c;
}

void h_expect_end(struct rw *c, int want_code)
{
    int code = -1;
    assert_int_equal(rw_wait_closed(c, H_CLOSE_WAIT_MS, &code), 0);
    if (want_code)
        assert_int_equal(code, want_code);
    rw_close(c, 0);
}

void h_expect_rt_close(struct rt_client *c, int want_code, const char *part)
{
    int code = 0;
    char reason[128];
    assert_int_equal(rt_wait_close(c, H_CLOSE_WAIT_MS, &code, reason, sizeof reason), 0);
    assert_int_equal(code, want_code);
    if (part)
        assert_non_null(strstr(reason, part));
    rt_close(c);
}

void h_expect_usable(struct rw *c)
{
    assert_int_equal(rw_request_code(c, h_frame(E2EE__CLIENT_FRAME__BODY_PING, NULL, NULL)), 0);
}

void h_linger(struct rw *c, int dribble)
{
    assert_true(g_n_linger < MAX_LINGER);
    g_linger[g_n_linger].c = c;
    g_linger[g_n_linger].dribble = dribble;
    g_n_linger++;
}

uint8_t *h_pack(E2ee__ClientFrame *f, size_t *len)
{
    *len = e2ee__client_frame__get_packed_size(f);
    uint8_t *buf = malloc(*len ? *len : 1);
    assert_non_null(buf);
    e2ee__client_frame__pack(f, buf);
    return buf;
}

/* ---- request frames of every type ---- */

static struct {
    E2ee__ClientFrame f;
    E2ee__RelayPing ping;
    E2ee__RelayPublishKeys publish;
    E2ee__RelaySignedPrekey spk;
    E2ee__RelayOneTimePrekey otpk, *otpks[1];
    E2ee__RelayFetchBundle fetch;
    E2ee__RelayListUsers list_users;
    E2ee__RelayDeleteAccount del_account;
    E2ee__RelaySendDirect direct;
    E2ee__RelayAck ack;
    E2ee__RelayAckItem item, *items[1];
    E2ee__RelayCreateGroup create;
    E2ee__RelayJoinGroup join;
    E2ee__RelayLeaveGroup leave;
    E2ee__RelayDeleteGroup del_group;
    E2ee__RelayRemoveMember remove;
    E2ee__RelayListMembers members;
    E2ee__RelayListGroups groups;
    E2ee__RelaySendGroup send_group;
    uint8_t key[32], sig[64];
    char gid[72], uid[72];
} g_fr;

static void frame_fields(const char *gid, const char *uid)
{
    snprintf(g_fr.gid, sizeof g_fr.gid, "%s", gid ? gid : "h-nogroup");
    snprintf(g_fr.uid, sizeof g_fr.uid, "%s", uid ? uid : H_VICTIM);
    memset(g_fr.key, 0x42, sizeof g_fr.key);
    memset(g_fr.sig, 0x43, sizeof g_fr.sig);
    e2ee__relay_ping__init(&g_fr.ping);
    e2ee__relay_publish_keys__init(&g_fr.publish);
    e2ee__relay_signed_prekey__init(&g_fr.spk);
    e2ee__relay_one_time_prekey__init(&g_fr.otpk);
    g_fr.spk.id = 1;
    g_fr.spk.public_key.data = g_fr.key;
    g_fr.spk.public_key.len = 32;
    g_fr.spk.signature.data = g_fr.sig;
    g_fr.spk.signature.len = 64;
    g_fr.otpk.id = 7;
    g_fr.otpk.public_key.data = g_fr.key;
    g_fr.otpk.public_key.len = 32;
    g_fr.otpks[0] = &g_fr.otpk;
    g_fr.publish.signed_prekey = &g_fr.spk;
    g_fr.publish.one_time_prekeys = g_fr.otpks;
    g_fr.publish.n_one_time_prekeys = 1;
    e2ee__relay_fetch_bundle__init(&g_fr.fetch);
    g_fr.fetch.user_id = g_fr.uid;
    e2ee__relay_list_users__init(&g_fr.list_users);
    e2ee__relay_delete_account__init(&g_fr.del_account);
    g_fr.del_account.user_id = g_fr.uid;
    e2ee__relay_send_direct__init(&g_fr.direct);
    g_fr.direct.to = g_fr.uid;
    g_fr.direct.client_msg_id = 1;
    g_fr.direct.ciphertext.data = g_fr.key;
    g_fr.direct.ciphertext.len = 8;
    e2ee__relay_ack__init(&g_fr.ack);
    e2ee__relay_ack_item__init(&g_fr.item);
    g_fr.item.group_id = "";
    g_fr.item.seq = 1;
    g_fr.items[0] = &g_fr.item;
    g_fr.ack.items = g_fr.items;
    g_fr.ack.n_items = 1;
    e2ee__relay_create_group__init(&g_fr.create);
    g_fr.create.group_id = g_fr.gid;
    e2ee__relay_join_group__init(&g_fr.join);
    g_fr.join.group_id = g_fr.gid;
    e2ee__relay_leave_group__init(&g_fr.leave);
    g_fr.leave.group_id = g_fr.gid;
    e2ee__relay_delete_group__init(&g_fr.del_group);
    g_fr.del_group.group_id = g_fr.gid;
    e2ee__relay_remove_member__init(&g_fr.remove);
    g_fr.remove.group_id = g_fr.gid;
    g_fr.remove.user_id = g_fr.uid;
    e2ee__relay_list_members__init(&g_fr.members);
    g_fr.members.group_id = g_fr.gid;
    e2ee__relay_list_groups__init(&g_fr.groups);
    e2ee__relay_send_group__init(&g_fr.send_group);
    g_fr.send_group.group_id = g_fr.gid;
    g_fr.send_group.epoch = 1;
    g_fr.send_group.client_msg_id = 1;
    g_fr.send_group.ciphertext.data = g_fr.key;
    g_fr.send_group.ciphertext.len = 8;
}

E2ee__ClientFrame *h_frame(int kind, const char *gid, const char *uid)
{
    E2ee__ClientFrame *f = &g_fr.f;
    frame_fields(gid, uid);
    e2ee__client_frame__init(f);
    f->body_case = (E2ee__ClientFrame__BodyCase)kind;
    switch (kind) {
    case E2EE__CLIENT_FRAME__BODY_PING: f->ping = &g_fr.ping; break;
    case E2EE__CLIENT_FRAME__BODY_PUBLISH_KEYS: f->publish_keys = &g_fr.publish; break;
    case E2EE__CLIENT_FRAME__BODY_FETCH_BUNDLE: f->fetch_bundle = &g_fr.fetch; break;
    case E2EE__CLIENT_FRAME__BODY_LIST_USERS: f->list_users = &g_fr.list_users; break;
    case E2EE__CLIENT_FRAME__BODY_DELETE_ACCOUNT: f->delete_account = &g_fr.del_account; break;
    case E2EE__CLIENT_FRAME__BODY_SEND_DIRECT: f->send_direct = &g_fr.direct; break;
    case E2EE__CLIENT_FRAME__BODY_ACK: f->ack = &g_fr.ack; break;
    case E2EE__CLIENT_FRAME__BODY_CREATE_GROUP: f->create_group = &g_fr.create; break;
    case E2EE__CLIENT_FRAME__BODY_JOIN_GROUP: f->join_group = &g_fr.join; break;
    case E2EE__CLIENT_FRAME__BODY_LEAVE_GROUP: f->leave_group = &g_fr.leave; break;
    case E2EE__CLIENT_FRAME__BODY_DELETE_GROUP: f->delete_group = &g_fr.del_group; break;
    case E2EE__CLIENT_FRAME__BODY_REMOVE_MEMBER: f->remove_member = &g_fr.remove; break;
    case E2EE__CLIENT_FRAME__BODY_LIST_MEMBERS: f->list_members = &g_fr.members; break;
    case E2EE__CLIENT_FRAME__BODY_LIST_GROUPS: f->list_groups = &g_fr.groups; break;
    case E2EE__CLIENT_FRAME__BODY_SEND_GROUP: f->send_group = &g_fr.send_group; break;
    default: f->body_case = E2EE__CLIENT_FRAME__BODY__NOT_SET; break;
    }
    return f;
}

/* ---- the runner ---- */

static void drain_events(struct rt_client *c)
{
    E2ee__RelayEvent *e;
    while ((e = rt_next_event(c, 0)) != NULL)
        rt_free_event(e);
}

/* One direct message from `from` to `to` (bystanders): sent, delivered, acked. */
static void one_way(struct rt_client *from, struct rt_client *to, const char *to_uid)
{
    uint64_t cmid = g_cmid++;
    int64_t t0 = h_now_ms();
    assert_int_equal(rt_send_direct(from, to_uid, cmid, "still here", 10, NULL), 0);
    E2ee__RelayDelivery *d = rt_next_item(to, E2EE__RELAY_DELIVERY__ITEM_DIRECT, RT_TIMEOUT_MS);
    assert_non_null(d);
    assert_int_equal(d->direct->client_msg_id, cmid);
    assert_int_equal(rt_ack(to, "", d->seq), 0);
    rt_free_delivery(d);
    int64_t ms = h_now_ms() - t0;
    g_lat_sum += ms;
    if (ms > g_lat_max)
        g_lat_max = ms;
    g_round_trips++;
}

static void relay_alive(void)
{
    int status;
    assert_true(g_h.relay.pid > 0);
    assert_int_equal(waitpid(g_h.relay.pid, &status, WNOHANG), 0);
}

static void dribble(void)
{
    for (size_t i = 0; i < g_n_linger; i++) {
        if (g_linger[i].dribble && !rw_is_closed(g_linger[i].c))
            (void)rw_write(g_linger[i].c, "X", 1);
    }
}

static unsigned run_table(const struct h_row *rows)
{
    /* E2EE_HOSTILE_ONLY=text runs only the rows whose name contains text (debugging) */
    const char *only = getenv("E2EE_HOSTILE_ONLY");
    unsigned n = 0;
    for (; rows->name; rows++) {
        if (only && *only && !strstr(rows->name, only))
            continue;
        n++;
        printf("hostile: %s\n", rows->name);
        fflush(stdout);
        rows->fn(rows->arg);
        relay_alive();
        one_way(g_a, g_b, g_bob.uid);
        one_way(g_b, g_a, g_alice.uid);
        drain_events(g_a);
        drain_events(g_b);
        drain_events(g_h.cv);
        dribble();
    }
    return n;
}

/* Every lingering connection was ended by the relay (handshake and idle timeouts). */
static void lingering_ended(void)
{
    for (size_t i = 0; i < g_n_linger; i++) {
        assert_int_equal(rw_wait_closed(g_linger[i].c, 30000, NULL), 0);
        rw_close(g_linger[i].c, 0);
    }
    g_n_linger = 0;
}

static void integrity(const char *path)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void hostile_suite(void **state)
{
    (void)state;
    static const struct h_row *const tables[] = {k_rows_handshake, k_rows_framing,
                                                 k_rows_protobuf, k_rows_auth,
                                                 k_rows_rights, k_rows_flood};
    unsigned total = 0;
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++)
        total += run_table(tables[t]);
    lingering_ended();
    /* nothing left behind: only the three clients of the suite are connected */
    char *body = NULL;
    int64_t deadline = h_now_ms() + H_CLOSE_WAIT_MS;
    double conns = -1;
    do {
        rt_pump(50);
        free(body);
        body = NULL;
        assert_int_equal(rt_http_get(g_h.relay.metrics_port, "/metrics", &body), 200);
        conns = rt_metric(body, "e2ee_relay_connections");
    } while (conns != 3 && h_now_ms() < deadline);
    assert_true(conns == 3);
    free(body);
    /* a clean stop, and a store that passes its integrity check */
    rt_close(g_a);
    rt_close(g_b);
    rt_close(g_h.cv);
    g_a = g_b = g_h.cv = NULL;
    assert_int_equal(rt_relay_stop(&g_h.relay), 0);
    integrity(g_h.relay.store);
    g_passed = 1;
    printf("hostile: %u behaviours ran; bystander round trips %u, mean %lld ms, max %lld ms\n",
           total, g_round_trips, (long long)(g_lat_sum / (g_round_trips ? g_round_trips : 1)),
           (long long)g_lat_max);
    const char *only = getenv("E2EE_HOSTILE_ONLY");
    assert_true(total >= 100 || (only && *only));
}

static int setup(void **state)
{
    (void)state;
    static char config[1024];
    snprintf(config, sizeof config,
             "max_frame_size = %d\nmax_requests_per_sec = %d\nlogin_timeout = %d\n"
             "ping_interval = 2\nidle_timeout = %d\nmax_connections = %d\n"
             "max_group_size = %d\nmax_groups_per_user = %d\nmax_queue_msgs = %d\n"
             "max_prekeys = %d\nmax_unsent_bytes = 600000\nlist_users_page = 5\n",
             H_MAX_FRAME, H_RATE, H_LOGIN_TIMEOUT_S, H_IDLE_TIMEOUT_S, H_MAX_CONNECTIONS,
             H_MAX_GROUP_SIZE, H_MAX_GROUPS_PER_USER, H_MAX_QUEUE_MSGS, H_MAX_PREKEYS);
    struct rt_relay_opts o = {.config = config, .metrics = 1, .log_to_file = 1};
    if (rt_relay_start(&g_h.relay, &o) != 0)
        return -1;
    g_h.port = g_h.relay.port;
    rt_ident_new(&g_alice, "h-alice");
    rt_ident_new(&g_bob, "h-bob");
    rt_ident_new(&g_h.victim, H_VICTIM);
    g_a = rt_connect_login(&g_h.relay, &g_alice);
    g_b = rt_connect_login(&g_h.relay, &g_bob);
    g_h.cv = rt_connect_login(&g_h.relay, &g_h.victim);
    return g_a && g_b && g_h.cv ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    rt_close(g_a);
    rt_close(g_b);
    rt_close(g_h.cv);
    for (size_t i = 0; i < g_n_linger; i++)
        rw_close(g_linger[i].c, 0);
    if (!g_passed) {
        /* keep the relay's log for the post-mortem */
        rt_relay_kill(&g_h.relay);
        fprintf(stderr, "hostile: failed; the relay's log is %s\n", g_h.relay.log);
        return 0;
    }
    rt_relay_cleanup(&g_h.relay);
    return 0;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hostile_suite),
    };
    return cmocka_run_group_tests_name("hostile clients", tests, setup, teardown);
}
