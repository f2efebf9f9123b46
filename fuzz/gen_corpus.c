/*
 * e2ee fuzzing: writes the seed corpora (one folder per target under fuzz/corpus/) from
 * real data: frames packed the way a client packs them, ServerFrames captured from the
 * in-process relay while it serves scenarios, real pairwise and group messages, records as
 * the library serializes them, and config files. Run it from a fuzz build:  fuzz_gen_corpus fuzz/corpus
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "e2ee.pb-c.h"
#include "fuzz.h"
#include "fuzz_relay.h"
#include "wire/wire.h"

#define MAX_SERVER_FRAMES 64
#define PROGRAM_MAX 65536

static const char *g_root;

static void add(const char *target, const char *name, const void *buf, size_t len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", g_root, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }
    snprintf(path, sizeof path, "%s/%s/%s", g_root, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || (len && fwrite(buf, 1, len, f) != len) || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

/* ---- client frames ---- */

struct frames {
    uint8_t *buf[32];
    size_t len[32];
    const char *name[32];
    size_t n;
};

static void keep(struct frames *fs, const char *name, E2ee__ClientFrame *f)
{
    FZ_CHECK(fs->n < 32);
    fs->name[fs->n] = name;
    fs->buf[fs->n] = fz_pack_client_frame(f, &fs->len[fs->n]);
    fs->n++;
}

static const uint8_t *frame(const struct frames *fs, const char *name, size_t *len)
{
    for (size_t i = 0; i < fs->n; i++) {
        if (strcmp(fs->name[i], name) == 0) {
            *len = fs->len[i];
            return fs->buf[i];
        }
    }
    FZ_CHECK(!"no such frame");
    return NULL;
}

#define ONE(field, Type, INIT, CASE, ...)                                \
    do {                                                                 \
        E2ee__ClientFrame f = E2EE__CLIENT_FRAME__INIT;                  \
        Type m = INIT;                                                   \
        __VA_ARGS__;                                                     \
        f.request_id = ++req;                                            \
        f.body_case = CASE;                                              \
        f.field = &m;                                                    \
        keep(fs, #field "-" name_suffix, &f);                            \
    } while (0)

static void group_frames(struct frames *fs, uint64_t *reqp)
{
    uint64_t req = *reqp;
#define name_suffix "g1"
    ONE(create_group, E2ee__RelayCreateGroup, E2EE__RELAY_CREATE_GROUP__INIT,
        E2EE__CLIENT_FRAME__BODY_CREATE_GROUP, m.group_id = "g1");
    ONE(join_group, E2ee__RelayJoinGroup, E2EE__RELAY_JOIN_GROUP__INIT,
        E2EE__CLIENT_FRAME__BODY_JOIN_GROUP, m.group_id = "g1");
    ONE(leave_group, E2ee__RelayLeaveGroup, E2EE__RELAY_LEAVE_GROUP__INIT,
        E2EE__CLIENT_FRAME__BODY_LEAVE_GROUP, m.group_id = "g1");
    ONE(delete_group, E2ee__RelayDeleteGroup, E2EE__RELAY_DELETE_GROUP__INIT,
        E2EE__CLIENT_FRAME__BODY_DELETE_GROUP, m.group_id = "g1");
    ONE(remove_member, E2ee__RelayRemoveMember, E2EE__RELAY_REMOVE_MEMBER__INIT,
        E2EE__CLIENT_FRAME__BODY_REMOVE_MEMBER, m.group_id = "g1"; m.user_id = "carol");
    ONE(list_members, E2ee__RelayListMembers, E2EE__RELAY_LIST_MEMBERS__INIT,
        E2EE__CLIENT_FRAME__BODY_LIST_MEMBERS, m.group_id = "g1");
    ONE(list_groups, E2ee__RelayListGroups, E2EE__RELAY_LIST_GROUPS__INIT,
        E2EE__CLIENT_FRAME__BODY_LIST_GROUPS, (void)0);
#undef name_suffix
    *reqp = req;
}

static void send_group_frame(struct frames *fs, const char *name, uint64_t epoch, uint64_t cmid,
                             int with_pairwise)
{
    E2ee__ClientFrame f = E2EE__CLIENT_FRAME__INIT;
    E2ee__RelaySendGroup m = E2EE__RELAY_SEND_GROUP__INIT;
    E2ee__RelayPairwisePayload p[2], *pp[2];
    const char *to[2] = {"bob", "carol"};
    const struct fz_group *g = fz_group();
    for (int i = 0; i < 2; i++) {
        e2ee__relay_pairwise_payload__init(&p[i]);
        p[i].user_id = (char *)to[i];
        p[i].device_id = 1;
        p[i].payload.data = g->dist;
        p[i].payload.len = g->dist_len;
        pp[i] = &p[i];
    }
    m.group_id = "g1";
    m.epoch = epoch;
    m.client_msg_id = cmid;
    m.ciphertext.data = g->m[0];
    m.ciphertext.len = g->m_len[0];
    m.pairwise = pp;
    m.n_pairwise = with_pairwise ? 2 : 0;
    f.request_id = 100 + cmid;
    f.body_case = E2EE__CLIENT_FRAME__BODY_SEND_GROUP;
    f.send_group = &m;
    keep(fs, name, &f);
}

static void make_frames(struct frames *fs)
{
    const struct fz_pairwise *pw = fz_pairwise();
    uint64_t req = 0;
    E2ee__RelayOneTimePrekey k[3], *kp[3];
    E2ee__RelaySignedPrekey spk = E2EE__RELAY_SIGNED_PREKEY__INIT;
    uint8_t pub[3][32], spk_pub[32], spk_sig[64];
    E2ee__RelayAckItem items[2], *ip[2];
    memset(pub, 0x33, sizeof pub);
    memset(spk_pub, 0x44, sizeof spk_pub);
    memset(spk_sig, 0x55, sizeof spk_sig);
    for (int i = 0; i < 3; i++) {
        e2ee__relay_one_time_prekey__init(&k[i]);
        k[i].id = 100 + (uint32_t)i;
        k[i].public_key.data = pub[i];
        k[i].public_key.len = 32;
        kp[i] = &k[i];
    }
    spk.id = 1;
    spk.public_key.data = spk_pub;
    spk.public_key.len = 32;
    spk.signature.data = spk_sig;
    spk.signature.len = 64;
    for (int i = 0; i < 2; i++) {
        e2ee__relay_ack_item__init(&items[i]);
        ip[i] = &items[i];
    }
    items[0].group_id = "";
    items[0].seq = 1;
    items[1].group_id = "g1";
    items[1].seq = 3;
#define name_suffix "a"
    ONE(ping, E2ee__RelayPing, E2EE__RELAY_PING__INIT, E2EE__CLIENT_FRAME__BODY_PING, (void)0);
    ONE(publish_keys, E2ee__RelayPublishKeys, E2EE__RELAY_PUBLISH_KEYS__INIT,
        E2EE__CLIENT_FRAME__BODY_PUBLISH_KEYS, m.signed_prekey = &spk;
        m.one_time_prekeys = kp; m.n_one_time_prekeys = 3);
    ONE(fetch_bundle, E2ee__RelayFetchBundle, E2EE__RELAY_FETCH_BUNDLE__INIT,
        E2EE__CLIENT_FRAME__BODY_FETCH_BUNDLE, m.user_id = "bob"; m.device_id = 1);
    ONE(list_users, E2ee__RelayListUsers, E2EE__RELAY_LIST_USERS__INIT,
        E2EE__CLIENT_FRAME__BODY_LIST_USERS, m.after = ""; m.limit = 2);
    ONE(delete_account, E2ee__RelayDeleteAccount, E2EE__RELAY_DELETE_ACCOUNT__INIT,
        E2EE__CLIENT_FRAME__BODY_DELETE_ACCOUNT, m.user_id = "carol");
    ONE(send_direct, E2ee__RelaySendDirect, E2EE__RELAY_SEND_DIRECT__INIT,
        E2EE__CLIENT_FRAME__BODY_SEND_DIRECT, m.to = "bob"; m.to_device = 1;
        m.client_msg_id = 1; m.ciphertext.data = pw->m[0]; m.ciphertext.len = pw->m_len[0]);
    ONE(ack, E2ee__RelayAck, E2EE__RELAY_ACK__INIT, E2EE__CLIENT_FRAME__BODY_ACK,
        m.items = ip; m.n_items = 2);
#undef name_suffix
    group_frames(fs, &req);
    send_group_frame(fs, "send_group-pairwise", 3, 7, 1);
    send_group_frame(fs, "send_group-plain", 3, 8, 0);
    send_group_frame(fs, "send_group-stale", 1, 9, 0);
}

static void login_frame(struct frames *fs)
{
    const struct fz_pairwise *pw = fz_pairwise();
    E2ee__ClientFrame f = E2EE__CLIENT_FRAME__INIT;
    E2ee__RelayLogin l = E2EE__RELAY_LOGIN__INIT;
    E2ee__RelayIdentity id = E2EE__RELAY_IDENTITY__INIT;
    const e2ee__identity_pub *pub = e2ee__identity_public(pw->alice.id);
    uint8_t proof[64];
    memset(proof, 0x77, sizeof proof);
    id.sign_key.data = (uint8_t *)pub->sign_pk;
    id.sign_key.len = 32;
    id.dh_key.data = (uint8_t *)pub->dh_pk;
    id.dh_key.len = 32;
    id.dh_signature.data = (uint8_t *)pub->dh_sig;
    id.dh_signature.len = 64;
    l.user_id = "dave";
    l.device_id = 1;
    l.identity = &id;
    l.proof.data = proof;
    l.proof.len = 64;
    l.registration_token = "token";
    l.ack_direct = 1;
    f.request_id = 1;
    f.body_case = E2EE__CLIENT_FRAME__BODY_LOGIN;
    f.login = &l;
    keep(fs, "login", &f);
}

/* ---- relay programs (fuzz_relay_dispatch.c) ---- */

struct program {
    uint8_t buf[PROGRAM_MAX];
    size_t len;
};

static void p_frame(struct program *p, int conn, const uint8_t *buf, size_t len)
{
    FZ_CHECK(p->len + 3 + len <= sizeof p->buf && len <= 0xffff);
    p->buf[p->len++] = (uint8_t)conn;
    p->buf[p->len++] = (uint8_t)len;
    p->buf[p->len++] = (uint8_t)(len >> 8);
    memcpy(p->buf + p->len, buf, len);
    p->len += len;
}

static void p_named(struct program *p, int conn, const struct frames *fs, const char *name)
{
    size_t len = 0;
    const uint8_t *b = frame(fs, name, &len);
    p_frame(p, conn, b, len);
}

static void p_op(struct program *p, int conn, int kind)
{
    FZ_CHECK(p->len < sizeof p->buf);
    p->buf[p->len++] = (uint8_t)(kind << 6 | conn);
}

struct capture {
    size_t n;
};

static void on_frame(void *user, int conn, const uint8_t *buf, size_t len)
{
    struct capture *c = user;
    char name[64];
    (void)conn;
    if (c->n >= MAX_SERVER_FRAMES || len > 4096)
        return;
    snprintf(name, sizeof name, "captured-%03zu", c->n++);
    add("server_frame", name, buf, len);
}

/* Runs a program against the in-process relay, capturing what clients receive. */
static void run(const struct program *p, struct capture *cap)
{
    static struct fz_relay h;
    struct fz_in in = {p->buf, p->len};
    fz_relay_open(&h, on_frame, cap);
    while (in.n) {
        uint8_t op = fz_u8(&in);
        const uint8_t *b = NULL;
        size_t len;
        switch (op >> 6) {
        case 0:
            len = fz_bytes(&in, fz_u16(&in), &b);
            fz_relay_send(&h, op & 3, b, len);
            break;
        case 1:
            fz_relay_reconnect(&h, op & 3);
            break;
        case 2:
            fz_relay_ack_all(&h, op & 3);
            break;
        default:
            fz_relay_housekeeping(&h);
            break;
        }
    }
    fz_relay_close(&h);
}

static void relay_programs(const struct frames *fs)
{
    struct capture cap = {0};
    static struct program p;
    /* a group: create, join, send with pairwise payloads, acks, leave, delete */
    memset(&p, 0, sizeof p);
    p_named(&p, 0, fs, "create_group-g1");
    p_named(&p, 1, fs, "join_group-g1");
    p_named(&p, 2, fs, "join_group-g1");
    p_named(&p, 0, fs, "send_group-pairwise");
    p_named(&p, 0, fs, "send_group-stale");
    p_op(&p, 1, 2);
    p_op(&p, 2, 1);
    p_op(&p, 2, 2);
    p_named(&p, 1, fs, "list_members-g1");
    p_named(&p, 0, fs, "remove_member-g1");
    p_op(&p, 0, 3);
    p_named(&p, 1, fs, "leave_group-g1");
    p_named(&p, 0, fs, "list_groups-g1");
    p_named(&p, 0, fs, "delete_group-g1");
    run(&p, &cap);
    add("relay_dispatch", "group-lifecycle", p.buf, p.len);
    /* direct messages, keys and the directory */
    memset(&p, 0, sizeof p);
    p_named(&p, 1, fs, "publish_keys-a");
    p_named(&p, 0, fs, "fetch_bundle-a");
    p_named(&p, 0, fs, "send_direct-a");
    p_named(&p, 0, fs, "send_direct-a");
    p_op(&p, 1, 2);
    p_named(&p, 2, fs, "list_users-a");
    p_named(&p, 0, fs, "ping-a");
    p_op(&p, 1, 1);
    p_named(&p, 2, fs, "delete_account-a");
    run(&p, &cap);
    add("relay_dispatch", "direct-and-directory", p.buf, p.len);
    /* the stranger before login, and a send to a group one is not in */
    memset(&p, 0, sizeof p);
    p_named(&p, 3, fs, "ping-a");
    p_named(&p, 3, fs, "send_direct-a");
    p_named(&p, 3, fs, "login");
    p_frame(&p, 3, (const uint8_t *)"\x08\x07\x9a\x06\x01\x00", 6);
    p_named(&p, 0, fs, "create_group-g1");
    p_named(&p, 1, fs, "send_group-plain");
    p_named(&p, 1, fs, "delete_group-g1");
    p_frame(&p, 1, (const uint8_t *)"\xff\xff\xff", 3);
    run(&p, &cap);
    add("relay_dispatch", "refusals", p.buf, p.len);
    /* offline delivery: bob away while alice writes, then back */
    memset(&p, 0, sizeof p);
    p_named(&p, 0, fs, "create_group-g1");
    p_named(&p, 1, fs, "join_group-g1");
    p_op(&p, 1, 1);
    p_named(&p, 0, fs, "send_direct-a");
    p_named(&p, 0, fs, "send_group-plain");
    p_op(&p, 1, 1);
    p_op(&p, 1, 2);
    p_op(&p, 0, 3);
    run(&p, &cap);
    add("relay_dispatch", "offline", p.buf, p.len);
    /* single frames */
    for (size_t i = 0; i < fs->n; i++) {
        memset(&p, 0, sizeof p);
        p_frame(&p, (int)(i % 3), fs->buf[i], fs->len[i]);
        add("relay_dispatch", fs->name[i], p.buf, p.len);
    }
}

/* ---- pairwise and group ---- */

static void pairwise_seeds(void)
{
    const struct fz_pairwise *f = fz_pairwise();
    char name[32];
    for (int i = 0; i < FZ_PW_MSGS; i++) {
        snprintf(name, sizeof name, "alice-m%d", i);
        add("pairwise_decrypt", name, f->m[i], f->m_len[i]);
    }
    add("pairwise_decrypt", "bob-reply", f->reply, f->reply_len);
    add("prekey_message", "prekey-with-opk", f->m[0], f->m_len[0]);
    add("prekey_message", "prekey-without-opk", f->prekey_no_opk, f->prekey_no_opk_len);
    add("prekey_message", "ratchet", f->m[1], f->m_len[1]);
    add("session_record", "alice-initiated", f->alice_initiated, f->alice_initiated_len);
    add("session_record", "bob-established", f->bob_established, f->bob_established_len);
    /* programs: op bit 0 = direction, op >> 1: 0 send, 1 deliver idx, 2 mutate idx kind v32,
     * 3 reload */
    static const uint8_t conv[] = {0, 0, 2, 0, 2, 1, 1, 3, 0, 2, 1, 1, 2, 2, 0, 6, 7};
    add("pairwise_session", "conversation", conv, sizeof conv);
    for (int kind = 0; kind < 12; kind++) {
        uint8_t prog[] = {0, 0, 4, 0, (uint8_t)kind, 5, 0, 0, 0, 2, 0, 1, 3, 0, 2, 1};
        snprintf(name, sizeof name, "mutate-%d", kind);
        add("pairwise_session", name, prog, sizeof prog);
    }
}

static void group_seeds(void)
{
    const struct fz_group *f = fz_group();
    char name[32];
    for (int i = 0; i < FZ_GROUP_MSGS; i++) {
        snprintf(name, sizeof name, "current-%d", i);
        add("group_decrypt", name, f->m[i], f->m_len[i]);
    }
    add("group_decrypt", "previous-3", f->m_prev, f->m_prev_len);
    add("distribution", "current", f->dist, f->dist_len);
    add("distribution", "previous", f->dist_prev, f->dist_prev_len);
    add("sender_key_record", "bob-of-alice", f->record, f->record_len);
    add("own_sender_key", "alice", f->own, f->own_len);
    /* programs: op % 8: 0 seal, 1 deliver idx, 2 mutate idx kind v32, 3 distribute k,
     * 4 rotate v, 5 clock +u16*100ms, 6 reload, 7 jump u16 */
    static const uint8_t conv[] = {3, 0, 0, 0, 0, 1, 1, 1, 0, 1, 2, 4, 1, 3, 1, 0, 1, 3,
                                   5, 0x10, 0x27, 6, 1, 0};
    add("group_session", "conversation", conv, sizeof conv);
    for (int kind = 0; kind < 8; kind++) {
        uint8_t prog[] = {3, 0, 0, 0, 2, 1, (uint8_t)kind, 1, 0, 0, 0, 1, 1};
        snprintf(name, sizeof name, "mutate-%d", kind);
        add("group_session", name, prog, sizeof prog);
    }
    static const uint8_t jump[] = {3, 0, 7, 0x50, 0xc3, 0, 1, 0, 7, 0x10, 0x00, 0, 1, 1};
    add("group_session", "jump", jump, sizeof jump);
}

static void record_seeds(void)
{
    const struct fz_pairwise *f = fz_pairwise();
    uint8_t *buf = NULL;
    size_t len = 0;
    FZ_CHECK(e2ee__identity_serialize(f->alice.id, &buf, &len) == E2EE_OK);
    add("identity", "alice-record", buf, len);
    e2ee__wire_buf_free(buf, len);
    FZ_CHECK(e2ee__identity_pub_serialize(e2ee__identity_public(f->bob.id), &buf, &len) ==
             E2EE_OK);
    add("identity", "bob-public", buf, len);
    free(buf);
    FZ_CHECK(e2ee__signed_prekey_serialize(&f->bob.spk, &buf, &len) == E2EE_OK);
    add("prekey_records", "signed-prekey", buf, len);
    e2ee__wire_buf_free(buf, len);
    FZ_CHECK(e2ee__one_time_prekey_serialize(&f->bob.opk, &buf, &len) == E2EE_OK);
    add("prekey_records", "one-time-prekey", buf, len);
    e2ee__wire_buf_free(buf, len);
    for (int with = 0; with < 2; with++) {
        e2ee__prekey_bundle b;
        FZ_CHECK(e2ee__prekey_bundle_make(&b, &f->bob.addr, e2ee__identity_public(f->bob.id),
                                          &f->bob.spk, with ? &f->bob.opk : NULL) == E2EE_OK);
        FZ_CHECK(e2ee__prekey_bundle_serialize(&b, &buf, &len) == E2EE_OK);
        add("prekey_records", with ? "bundle-with-opk" : "bundle-without-opk", buf, len);
        free(buf);
    }
}

/* Records at many points of a conversation (session records) and of a sender's life
 * (own keys, distributions, receiver records). */
static void save_session(const char *name, const e2ee__session_record *rec)
{
    size_t len = 0;
    uint8_t *buf = fz_record_save(rec, &len);
    add("session_record", name, buf, len);
    e2ee__wire_buf_free(buf, len);
}

static void pw_send(e2ee__session_record *rec, e2ee__rng *rng, uint8_t **msg, size_t *len)
{
    FZ_CHECK(e2ee__session_encrypt(rec, rng, (const uint8_t *)"seed", 4, msg, len) == E2EE_OK);
}

static void pw_recv(e2ee__session_record *rec, const struct fz_party *me,
                    const struct fz_party *peer, const uint8_t *msg, size_t len)
{
    e2ee__session_decrypt_result res;
    FZ_CHECK(e2ee__session_decrypt(rec, me->id, &me->addr, &peer->addr, NULL, &me->source, msg,
                                   len, &res) == E2EE_OK);
    e2ee__session_decrypt_result_cleanup(&res);
}

static void session_seeds(void)
{
    const struct fz_pairwise *f = fz_pairwise();
    struct fz_drbg d;
    e2ee__rng rng;
    e2ee__session_record *a = fz_record_load(f->alice_initiated, f->alice_initiated_len);
    e2ee__session_record *b = NULL;
    uint8_t *m[4];
    size_t n[4];
    char name[32];
    fz_drbg_init(&d, 31);
    rng = fz_rng(&d);
    FZ_CHECK(e2ee__session_record_new(&b) == E2EE_OK);
    save_session("empty", b);
    pw_send(a, &rng, &m[0], &n[0]);
    save_session("alice-pending", a);
    pw_recv(b, &f->bob, &f->alice, m[0], n[0]);
    save_session("bob-responder", b);
    pw_send(b, &rng, &m[1], &n[1]);
    save_session("bob-sent", b);
    pw_recv(a, &f->alice, &f->bob, m[1], n[1]);
    save_session("alice-confirmed", a);
    for (int round = 0; round < 3; round++) {
        pw_send(a, &rng, &m[2], &n[2]);
        pw_send(a, &rng, &m[3], &n[3]);
        pw_recv(b, &f->bob, &f->alice, m[3], n[3]); /* m[2] skipped */
        snprintf(name, sizeof name, "bob-skipped-%d", round);
        save_session(name, b);
        free(m[2]);
        free(m[3]);
        pw_send(b, &rng, &m[2], &n[2]);
        pw_recv(a, &f->alice, &f->bob, m[2], n[2]);
        snprintf(name, sizeof name, "alice-round-%d", round);
        save_session(name, a);
        free(m[2]);
    }
    /* a second session for the same peer: two states */
    pw_recv(b, &f->bob, &f->alice, f->prekey_no_opk, f->prekey_no_opk_len);
    save_session("bob-two-states", b);
    for (int i = 0; i < 2; i++)
        free(m[i]);
    e2ee__session_record_free(a);
    e2ee__session_record_free(b);
}

static void identity_seeds(void)
{
    char name[32];
    for (uint64_t seed = 40; seed < 46; seed++) {
        struct fz_drbg d;
        e2ee__identity *id = NULL;
        e2ee__signed_prekey spk;
        e2ee__one_time_prekey opk;
        uint8_t *buf = NULL;
        size_t len = 0;
        fz_drbg_init(&d, seed);
        e2ee__rng rng = fz_rng(&d);
        FZ_CHECK(e2ee__identity_generate(&id, &rng) == E2EE_OK);
        FZ_CHECK(e2ee__identity_serialize(id, &buf, &len) == E2EE_OK);
        snprintf(name, sizeof name, "record-%llu", (unsigned long long)seed);
        add("identity", name, buf, len);
        e2ee__wire_buf_free(buf, len);
        FZ_CHECK(e2ee__identity_pub_serialize(e2ee__identity_public(id), &buf, &len) ==
                 E2EE_OK);
        snprintf(name, sizeof name, "public-%llu", (unsigned long long)seed);
        add("identity", name, buf, len);
        free(buf);
        FZ_CHECK(e2ee__signed_prekey_generate(&spk, id, (uint32_t)seed, seed * 1000, &rng) ==
                 E2EE_OK);
        FZ_CHECK(e2ee__signed_prekey_serialize(&spk, &buf, &len) == E2EE_OK);
        snprintf(name, sizeof name, "signed-prekey-%llu", (unsigned long long)seed);
        add("prekey_records", name, buf, len);
        e2ee__wire_buf_free(buf, len);
        FZ_CHECK(e2ee__one_time_prekeys_generate(&opk, 1, (uint32_t)seed << 20, &rng) ==
                 E2EE_OK);
        FZ_CHECK(e2ee__one_time_prekey_serialize(&opk, &buf, &len) == E2EE_OK);
        snprintf(name, sizeof name, "one-time-prekey-%llu", (unsigned long long)seed);
        add("prekey_records", name, buf, len);
        e2ee__wire_buf_free(buf, len);
        e2ee__signed_prekey_wipe(&spk);
        e2ee__one_time_prekey_wipe(&opk);
        e2ee__identity_free(id);
    }
}

static void save_group(const char *target, const char *name, uint8_t *buf, size_t len)
{
    add(target, name, buf, len);
    e2ee__sender_key_buf_free(buf, len);
}

static void advance(e2ee__sender_key *sk, uint32_t to, e2ee__sender_key_record *r)
{
    while (sk->iteration < to) {
        uint8_t *msg = NULL, *pt = NULL;
        size_t len = 0, ptlen = 0;
        FZ_CHECK(e2ee__group_encrypt(sk, (const uint8_t *)"s", 1, &msg, &len) == E2EE_OK);
        /* the receiver opens every third message: the others wait among the skipped seeds */
        if (r && sk->iteration % 3 == 0)
            FZ_CHECK(e2ee__group_decrypt(r, msg, len, FZ_GROUP_NOW_MS, &pt, &ptlen) == E2EE_OK);
        e2ee__sender_key_buf_free(pt, ptlen);
        e2ee__sender_key_buf_free(msg, len);
    }
}

static void sender_key_seeds(void)
{
    static const uint32_t its[] = {0, 1, 7, 100, 300};
    struct fz_drbg d;
    e2ee__sender_key *sk = NULL, *next = NULL;
    e2ee__sender_key_record *r = NULL;
    e2ee__sender_key_window w = {1000, 2};
    uint8_t *buf = NULL;
    size_t len = 0;
    char name[48];
    fz_drbg_init(&d, 51);
    e2ee__rng rng = fz_rng(&d);
    FZ_CHECK(e2ee__sender_key_new(&sk, "seed-group", "erin", 1, 5, &rng) == E2EE_OK);
    FZ_CHECK(e2ee__sender_key_record_new(&r, "seed-group", "erin", 1, &w) == E2EE_OK);
    FZ_CHECK(e2ee__sender_key_record_serialize(r, &buf, &len) == E2EE_OK);
    save_group("sender_key_record", "empty", buf, len);
    for (size_t i = 0; i < sizeof its / sizeof its[0]; i++) {
        advance(sk, its[i], i ? r : NULL);
        FZ_CHECK(e2ee__sender_key_serialize(sk, &buf, &len) == E2EE_OK);
        snprintf(name, sizeof name, "iteration-%u", its[i]);
        save_group("own_sender_key", name, buf, len);
        FZ_CHECK(e2ee__sender_key_distribution_create(sk, &buf, &len) == E2EE_OK);
        if (i == 0)
            FZ_CHECK(e2ee__sender_key_distribution_process(r, buf, len, FZ_GROUP_NOW_MS) ==
                     E2EE_OK);
        snprintf(name, sizeof name, "iteration-%u", its[i]);
        save_group("distribution", name, buf, len);
        FZ_CHECK(e2ee__sender_key_record_serialize(r, &buf, &len) == E2EE_OK);
        snprintf(name, sizeof name, "after-%u", its[i]);
        save_group("sender_key_record", name, buf, len);
    }
    /* rotations: previous keys in the window, then wiped by it (expired ids) */
    for (int k = 0; k < 4; k++) {
        FZ_CHECK(e2ee__sender_key_rotate(&next, sk, sk->epoch + (uint64_t)(k & 1), &rng) ==
                 E2EE_OK);
        e2ee__sender_key_free(sk);
        sk = next;
        FZ_CHECK(e2ee__sender_key_distribution_create(sk, &buf, &len) == E2EE_OK);
        FZ_CHECK(e2ee__sender_key_distribution_process(r, buf, len,
                                                       FZ_GROUP_NOW_MS + (uint64_t)k * 600) ==
                 E2EE_OK);
        snprintf(name, sizeof name, "rotated-%d", k);
        save_group("distribution", name, buf, len);
        FZ_CHECK(e2ee__sender_key_serialize(sk, &buf, &len) == E2EE_OK);
        save_group("own_sender_key", name, buf, len);
        FZ_CHECK(e2ee__sender_key_record_serialize(r, &buf, &len) == E2EE_OK);
        save_group("sender_key_record", name, buf, len);
    }
    (void)e2ee__sender_key_record_expire(r, FZ_GROUP_NOW_MS + 100000);
    FZ_CHECK(e2ee__sender_key_record_serialize(r, &buf, &len) == E2EE_OK);
    save_group("sender_key_record", "expired", buf, len);
    e2ee__sender_key_free(sk);
    e2ee__sender_key_record_free(r);
}

static void config_seeds(void)
{
    static const char *const files[][2] = {
        {"defaults", "listen = 127.0.0.1:8765\nstore = ./e2ee-relay.db\n"},
        {"full",
         "# every key\nlisten = 0.0.0.0:443\nstore = /var/lib/e2ee/relay.db\n"
         "tls_cert = /etc/e2ee/cert.pem\ntls_key = /etc/e2ee/key.pem\nmetrics = [::1]:9100\n"
         "relay_id = relay.example\nregistration_token = s3cret\nuser_events = groups\n"
         "log_level = debug\nstore_sync = normal\nlow_prekey_threshold = 10\n"
         "max_frame_size = 1048576\nmax_group_size = 1000\nmax_groups_per_user = 100\n"
         "max_queue_msgs = 10000\nmax_queue_bytes = 67108864\nmax_requests_per_sec = 1000\n"
         "max_connections = 10000\nmax_unsent_bytes = 8388608\nmax_prekeys = 500\n"
         "login_timeout = 30\nping_interval = 30\nidle_timeout = 75\ndedup_window = 86400\n"
         "list_users_page = 500\ncommit_delay_us = 0\n"},
        {"bad-value", "max_frame_size = 12abc\n"},
        {"no-equals", "listen\n"},
        {"comments", "  # comment\n\n\tmax_group_size=2 # trailing\r\n"},
        {"v6", "listen = [::]:0\nmetrics = [::1]:0\n"},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        add("relay_config", files[i][0], files[i][1], strlen(files[i][1]));
}

int main(int argc, char **argv)
{
    struct frames fs;
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    g_root = argv[1];
    if (mkdir(g_root, 0755) != 0 && errno != EEXIST) {
        perror(g_root);
        return 1;
    }
    memset(&fs, 0, sizeof fs);
    make_frames(&fs);
    login_frame(&fs);
    for (size_t i = 0; i < fs.n; i++)
        add("client_frame", fs.name[i], fs.buf[i], fs.len[i]);
    relay_programs(&fs);
    pairwise_seeds();
    group_seeds();
    record_seeds();
    session_seeds();
    identity_seeds();
    sender_key_seeds();
    config_seeds();
    for (size_t i = 0; i < fs.n; i++)
        free(fs.buf[i]);
    return 0;
}
