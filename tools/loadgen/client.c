/*
 * e2ee-loadgen: one client's side of the relay protocol (docs/PROTOCOL.md section 3).
 *
 * Each client has a real identity (Ed25519 signing key, X25519 key signed by it), answers
 * the relay's challenge with a login proof, then (in a group run) creates or joins its
 * group. Senders replay pre-encrypted group messages: the ciphertext is an opaque body of
 * --size random bytes made once, whose first LG_PAYLOAD_HDR bytes carry the magic, the
 * sender's index, the message number and the send time, so a receiver can check what it
 * got and measure the latency. The relay never parses it.
 *
 * Receivers walk each deliveries frame with the bounded reader of scan.c and check every
 * delivery: its stream and seq order, its kind, the ciphertext size, header and body, and
 * that the named sender sent it. They ack cumulatively, at most every ACK_INTERVAL_NS or
 * every ACK_EVERY deliveries. Other frames (challenge, results, events) are decoded with
 * the wire layer's bounded decoder.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/crypto.h"
#include "e2ee.pb-c.h"
#include "loadgen.h"
#include "wire/wire.h"

#define CONNECT_PARALLEL 256          /* connections in progress (connect + login) at once */
#define ACK_INTERVAL_NS 5000000ull    /* ack at most this often per connection... */
#define ACK_EVERY 256                 /* ...or after this many unacked deliveries */
#define FRAME_MAX (64u << 20)         /* largest ServerFrame decoded */
#define LOGIN_MSG_MAX 256
#define LOGIN_LABEL "e2ee-relay-login-v1"
#define DEVICE_ID 1
#define NONCE_LEN 32
#define REQ_LOGIN 1
#define REQ_GROUP 2
#define REQ_FIRST_SEND 16

/* Relay delivery and message fields (proto/e2ee.proto). */
#define SF_DELIVERIES 3
#define DL_ITEMS 1
#define DV_GROUP_ID 1
#define DV_SEQ 2
#define DV_GROUP_MESSAGE 11
#define DV_GROUP_EVENT 13
#define GM_FROM 1
#define GM_EPOCH 4
#define GM_CIPHERTEXT 5
#define GE_EPOCH 3

enum cstate {
    C_NEW = 0,
    C_CONNECTING, /* waiting for the challenge */
    C_LOGIN,      /* login sent */
    C_AUTHED,
    C_JOINING,    /* create or join sent */
    C_MEMBER,
    C_DEAD,
};

struct pending {
    uint64_t req, msg_no, t_ns;
};

struct lg_client {
    struct lg *lg;
    uint32_t idx;
    struct lg_group *g;
    uint32_t member;
    int sender;
    char uid[LG_ID_BUF];
    uint8_t sign_pk[E2EE_ED25519_PK_LEN], sign_sk[E2EE_ED25519_SK_LEN];
    uint8_t dh_pk[E2EE_X25519_KEY_LEN], dh_sig[E2EE_ED25519_SIG_LEN];
    int has_keys;
    struct lg_conn *conn;
    int state;
    uint64_t next_req;
    /* streams */
    uint64_t gseq, gacked, iseq, iacked, ack_ns;
    uint64_t seen_epoch;
    int ack_listed;
    /* sending */
    uint64_t epoch, msg_no;
    struct pending *win; /* ring of lg->window entries */
    uint32_t win_head, inflight;
    double tokens;
    uint64_t tokens_ns;
};

uint64_t lg_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void count_error(struct lg *lg, uint64_t *field)
{
    (*field)++;
    lg->c.errors++;
}

static void fail(struct lg *lg, const char *why, const struct lg_client *c)
{
    if (!lg->failed)
        snprintf(lg->fail_why, sizeof lg->fail_why, "%s (client %s)", why, c ? c->uid : "-");
    lg->failed = 1;
}

/* ---------------------------------------------------------------- frames out */

static int send_frame(struct lg_client *c, const E2ee__ClientFrame *f)
{
    struct lg *lg = c->lg;
    size_t n = protobuf_c_message_get_packed_size(&f->base);
    if (n > lg->frame_cap) {
        uint8_t *nb = realloc(lg->frame, n);
        if (!nb)
            return E2EE_ERR_NOMEM;
        lg->frame = nb;
        lg->frame_cap = n;
    }
    if (protobuf_c_message_pack(&f->base, lg->frame) != n)
        return E2EE_ERR_PROTOCOL;
    return lg_ws_send(c->conn, lg->frame, n);
}

static size_t put_u16(uint8_t *p, size_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    return 2;
}

/* The login message of docs/PROTOCOL.md 3.3. 0 when it does not fit. */
static size_t login_message(uint8_t *out, const char *relay_id, const uint8_t *nonce,
                            const char *uid)
{
    size_t label = strlen(LOGIN_LABEL), rl = strlen(relay_id), ul = strlen(uid), n = 0;
    if (label + 2 + rl + 2 + NONCE_LEN + 2 + ul + 4 > LOGIN_MSG_MAX)
        return 0;
    memcpy(out, LOGIN_LABEL, label);
    n = label;
    n += put_u16(out + n, rl);
    memcpy(out + n, relay_id, rl);
    n += rl;
    n += put_u16(out + n, NONCE_LEN);
    memcpy(out + n, nonce, NONCE_LEN);
    n += NONCE_LEN;
    n += put_u16(out + n, ul);
    memcpy(out + n, uid, ul);
    n += ul;
    out[n++] = 0;
    out[n++] = 0;
    out[n++] = 0;
    out[n++] = DEVICE_ID;
    return n;
}

static int make_keys(struct lg_client *c)
{
    uint8_t dh_sk[E2EE_X25519_KEY_LEN];
    int rc = e2ee__ed25519_keypair(c->sign_pk, c->sign_sk);
    if (rc == E2EE_OK)
        rc = e2ee__x25519_keypair(c->dh_pk, dh_sk);
    if (rc == E2EE_OK)
        rc = e2ee__ed25519_sign(c->dh_sig, c->dh_pk, sizeof c->dh_pk, c->sign_sk);
    e2ee__wipe(dh_sk, sizeof dh_sk); /* the relay protocol alone never needs it */
    c->has_keys = rc == E2EE_OK;
    return rc;
}

static void send_login(struct lg_client *c, const E2ee__RelayChallenge *ch)
{
    E2ee__ClientFrame f = E2EE__CLIENT_FRAME__INIT;
    E2ee__RelayLogin lo = E2EE__RELAY_LOGIN__INIT;
    E2ee__RelayIdentity id = E2EE__RELAY_IDENTITY__INIT;
    uint8_t msg[LOGIN_MSG_MAX], proof[E2EE_ED25519_SIG_LEN];
    size_t n = 0;
    if (!ch->relay_id || ch->nonce.len != NONCE_LEN ||
        !(n = login_message(msg, ch->relay_id, ch->nonce.data, c->uid)) ||
        e2ee__ed25519_sign(proof, msg, n, c->sign_sk) != E2EE_OK) {
        fail(c->lg, "cannot answer the challenge", c);
        return;
    }
    id.sign_key = (ProtobufCBinaryData){sizeof c->sign_pk, c->sign_pk};
    id.dh_key = (ProtobufCBinaryData){sizeof c->dh_pk, c->dh_pk};
    id.dh_signature = (ProtobufCBinaryData){sizeof c->dh_sig, c->dh_sig};
    lo.user_id = c->uid;
    lo.device_id = DEVICE_ID;
    lo.identity = &id;
    lo.proof = (ProtobufCBinaryData){sizeof proof, proof};
    f.request_id = REQ_LOGIN;
    f.body_case = E2EE__CLIENT_FRAME__BODY_LOGIN;
    f.login = &lo;
    if (send_frame(c, &f) != E2EE_OK)
        fail(c->lg, "cannot queue the login", c);
    c->state = C_LOGIN;
}

static void send_group_request(struct lg_client *c, int create)
{
    E2ee__ClientFrame f = E2EE__CLIENT_FRAME__INIT;
    E2ee__RelayCreateGroup cg = E2EE__RELAY_CREATE_GROUP__INIT;
    E2ee__RelayJoinGroup jg = E2EE__RELAY_JOIN_GROUP__INIT;
    f.request_id = REQ_GROUP;
    if (create) {
        cg.group_id = c->g->gid;
        f.body_case = E2EE__CLIENT_FRAME__BODY_CREATE_GROUP;
        f.create_group = &cg;
    } else {
        jg.group_id = c->g->gid;
        f.body_case = E2EE__CLIENT_FRAME__BODY_JOIN_GROUP;
        f.join_group = &jg;
    }
    if (send_frame(c, &f) != E2EE_OK)
        fail(c->lg, "cannot queue a group request", c);
    c->state = C_JOINING;
}

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Sends message msg_no (stamped t_ns) and remembers it in the window. */
static void send_message(struct lg_client *c, uint64_t msg_no, uint64_t t_ns)
{
    struct lg *lg = c->lg;
    E2ee__ClientFrame f = E2EE__CLIENT_FRAME__INIT;
    E2ee__RelaySendGroup sg = E2EE__RELAY_SEND_GROUP__INIT;
    put_le(lg->payload, LG_MAGIC, 4);
    put_le(lg->payload + 4, c->idx, 4);
    put_le(lg->payload + 8, msg_no, 8);
    put_le(lg->payload + 16, t_ns, 8);
    sg.group_id = c->g->gid;
    sg.epoch = c->epoch;
    sg.client_msg_id = msg_no;
    sg.ciphertext = (ProtobufCBinaryData){lg->size, lg->payload};
    f.request_id = c->next_req++;
    f.body_case = E2EE__CLIENT_FRAME__BODY_SEND_GROUP;
    f.send_group = &sg;
    if (send_frame(c, &f) != E2EE_OK) {
        count_error(lg, &lg->c.err_result);
        return;
    }
    struct pending *p = &c->win[(c->win_head + c->inflight) % lg->window];
    p->req = f.request_id;
    p->msg_no = msg_no;
    p->t_ns = t_ns;
    c->inflight++;
    lg->c.sent++;
}

static void send_new(struct lg_client *c, uint64_t now)
{
    send_message(c, ++c->msg_no, now);
}

static void ack_now(struct lg_client *c, uint64_t now)
{
    E2ee__ClientFrame f = E2EE__CLIENT_FRAME__INIT;
    E2ee__RelayAck ack = E2EE__RELAY_ACK__INIT;
    E2ee__RelayAckItem items[2] = {E2EE__RELAY_ACK_ITEM__INIT, E2EE__RELAY_ACK_ITEM__INIT};
    E2ee__RelayAckItem *ptrs[2];
    size_t n = 0;
    if (c->gseq > c->gacked) {
        items[n].group_id = c->g->gid;
        items[n].seq = c->gseq;
        ptrs[n] = &items[n];
        n++;
    }
    if (c->iseq > c->iacked) {
        items[n].group_id = "";
        items[n].seq = c->iseq;
        ptrs[n] = &items[n];
        n++;
    }
    if (!n)
        return;
    ack.items = ptrs;
    ack.n_items = n;
    f.request_id = 0; /* answered only when refused */
    f.body_case = E2EE__CLIENT_FRAME__BODY_ACK;
    f.ack = &ack;
    if (send_frame(c, &f) != E2EE_OK) {
        count_error(c->lg, &c->lg->c.err_result);
        return;
    }
    c->gacked = c->gseq;
    c->iacked = c->iseq;
    c->ack_ns = now;
}

static void maybe_ack(struct lg_client *c, uint64_t now)
{
    if (c->gseq == c->gacked && c->iseq == c->iacked)
        return;
    if (now - c->ack_ns >= ACK_INTERVAL_NS || c->gseq - c->gacked >= ACK_EVERY) {
        ack_now(c, now);
    } else if (!c->ack_listed) {
        c->ack_listed = 1;
        c->lg->ack_list[c->lg->ack_n++] = c->idx;
    }
}

/* ---------------------------------------------------------------- deliveries */

/* A group message: checks the ciphertext and measures its latency. */
static void group_message(struct lg_client *c, const uint8_t *p, size_t len, uint64_t now)
{
    struct lg *lg = c->lg;
    struct lg_pb b;
    struct lg_pbf f;
    const uint8_t *ct = NULL, *from = NULL;
    size_t ctlen = 0, fromlen = 0;
    int r;
    lg_pb_init(&b, p, len);
    while ((r = lg_pb_next(&b, &f)) == 1) {
        if (f.num == GM_CIPHERTEXT && f.wt == 2) {
            ct = f.data;
            ctlen = f.len;
        } else if (f.num == GM_FROM && f.wt == 2) {
            from = f.data;
            fromlen = f.len;
        }
    }
    if (r < 0 || !ct || !from) {
        count_error(lg, &lg->c.err_frame);
        return;
    }
    uint64_t sender = ctlen >= LG_PAYLOAD_HDR ? get_le(ct + 4, 4) : UINT64_MAX;
    if (ctlen != lg->size || get_le(ct, 4) != LG_MAGIC || sender >= lg->n_clients ||
        sender == c->idx || fromlen != strlen(lg->clients[sender].uid) ||
        memcmp(from, lg->clients[sender].uid, fromlen) != 0 ||
        memcmp(ct + LG_PAYLOAD_HDR, lg->payload + LG_PAYLOAD_HDR, ctlen - LG_PAYLOAD_HDR)) {
        count_error(lg, &lg->c.err_payload);
        return;
    }
    uint64_t t = get_le(ct + 16, 8);
    lg->c.deliveries++;
    lg->received_deliveries++;
    if (now >= lg->t0_ns && now < lg->t1_ns && t <= now)
        lg_hist_add(&lg->lat, (now - t) / 1000);
}

static void group_event(struct lg_client *c, const uint8_t *p, size_t len)
{
    struct lg_pb b;
    struct lg_pbf f;
    int r;
    lg_pb_init(&b, p, len);
    while ((r = lg_pb_next(&b, &f)) == 1) {
        if (f.num == GE_EPOCH && f.wt == 0 && f.v > c->seen_epoch)
            c->seen_epoch = f.v;
    }
    if (r < 0)
        count_error(c->lg, &c->lg->c.err_frame);
}

/* Checks the stream and its order; 0 to go on with the item, -1 when counted as an error
 * or done. */
static int stream_order(struct lg_client *c, const uint8_t *gid, size_t gidlen, uint64_t seq)
{
    struct lg *lg = c->lg;
    uint64_t *last = &c->iseq;
    if (gidlen) {
        if (!c->g || gidlen != strlen(c->g->gid) || memcmp(gid, c->g->gid, gidlen) != 0) {
            count_error(lg, &lg->c.err_frame);
            return -1;
        }
        last = &c->gseq;
    }
    if (seq <= *last) {
        count_error(lg, &lg->c.err_order);
        return -1;
    }
    *last = seq;
    return gidlen ? 0 : -1; /* inbox items are only counted and acked */
}

static void delivery(struct lg_client *c, const uint8_t *p, size_t len, uint64_t now)
{
    struct lg_pb b;
    struct lg_pbf f, item = {0};
    const uint8_t *gid = NULL;
    size_t gidlen = 0;
    uint64_t seq = 0;
    int r;
    lg_pb_init(&b, p, len);
    while ((r = lg_pb_next(&b, &f)) == 1) {
        if (f.num == DV_GROUP_ID && f.wt == 2) {
            gid = f.data;
            gidlen = f.len;
        } else if (f.num == DV_SEQ && f.wt == 0) {
            seq = f.v;
        } else if (f.num >= 10 && f.wt == 2) {
            item = f;
        }
    }
    if (r < 0 || !seq || !item.num) {
        count_error(c->lg, &c->lg->c.err_frame);
        return;
    }
    if (stream_order(c, gid, gid ? gidlen : 0, seq) != 0)
        return;
    if (item.num == DV_GROUP_MESSAGE)
        group_message(c, item.data, item.len, now);
    else if (item.num == DV_GROUP_EVENT)
        group_event(c, item.data, item.len);
}

static void deliveries(struct lg_client *c, const uint8_t *p, size_t len)
{
    struct lg_pb b;
    struct lg_pbf f;
    uint64_t now = lg_now_ns();
    int r;
    c->lg->c.delivery_frames++;
    lg_pb_init(&b, p, len);
    while ((r = lg_pb_next(&b, &f)) == 1) {
        if (f.num == DL_ITEMS && f.wt == 2)
            delivery(c, f.data, f.len, now);
        else
            count_error(c->lg, &c->lg->c.err_frame);
    }
    if (r < 0)
        count_error(c->lg, &c->lg->c.err_frame);
    maybe_ack(c, now);
}

/* ---------------------------------------------------------------- results */

static void group_joined(struct lg_client *c, const E2ee__RelayResult *res)
{
    struct lg *lg = c->lg;
    struct lg_group *g = c->g;
    if (res->code != E2EE_OK || res->body_case != E2EE__RELAY_RESULT__BODY_GROUP) {
        fail(lg, res->text && *res->text ? res->text : "group request refused", c);
        return;
    }
    c->state = C_MEMBER;
    if (res->group->epoch > g->epoch)
        g->epoch = res->group->epoch;
    g->joined++;
    if (c->member == 0) {
        for (uint32_t i = 1; i < g->n; i++)
            send_group_request(g->members[i], 0);
    }
    if (g->joined == g->n) {
        g->ready = 1;
        lg->groups_ready++;
        for (uint32_t i = 0; i < g->n; i++)
            g->members[i]->epoch = g->epoch;
    }
}

static void send_result(struct lg_client *c, const E2ee__RelayResult *res, uint64_t now)
{
    struct lg *lg = c->lg;
    struct pending *p = c->inflight ? &c->win[c->win_head] : NULL;
    if (!p || p->req != res->request_id) {
        count_error(lg, &lg->c.err_result); /* results come in request order */
        return;
    }
    struct pending done = *p;
    c->win_head = (c->win_head + 1) % lg->window;
    c->inflight--;
    if (res->code == E2EE_ERR_STALE_EPOCH && res->body_case == E2EE__RELAY_RESULT__BODY_GROUP) {
        lg->c.stale++;
        c->epoch = res->group->epoch;
        send_message(c, done.msg_no, done.t_ns);
        return;
    }
    if (res->code != E2EE_OK) {
        count_error(lg, &lg->c.err_result);
        if (res->code < 0 && -res->code < LG_CODES)
            lg->c.refused[-res->code]++;
        return;
    }
    lg->c.accepted++;
    lg->expected_deliveries += c->g->n - 1;
    if (now >= lg->t0_ns && now < lg->t1_ns && done.t_ns <= now)
        lg_hist_add(&lg->sent_lat, (now - done.t_ns) / 1000);
    if (lg->phase == LG_PH_RUN && lg->rate <= 0 && c->inflight < lg->window)
        send_new(c, now);
}

static void on_result(struct lg_client *c, const E2ee__RelayResult *res)
{
    struct lg *lg = c->lg;
    if (res->request_id == REQ_LOGIN && c->state == C_LOGIN) {
        if (res->code != E2EE_OK) {
            fail(lg, res->text && *res->text ? res->text : "login refused", c);
            return;
        }
        c->state = C_AUTHED;
        lg->authed++;
        lg->connecting--;
    } else if (res->request_id == REQ_GROUP && c->state == C_JOINING) {
        group_joined(c, res);
    } else if (res->request_id >= REQ_FIRST_SEND) {
        send_result(c, res, lg_now_ns());
    } else {
        count_error(lg, &lg->c.err_result); /* a refused ack, or an unexpected result */
        if (lg->phase < LG_PH_RUN)
            fprintf(stderr, "e2ee-loadgen: %s: request %llu refused: %s\n", c->uid,
                    (unsigned long long)res->request_id, res->text ? res->text : "");
    }
}

static void decoded_frame(struct lg_client *c, const uint8_t *data, size_t len)
{
    ProtobufCMessage *msg = NULL;
    if (e2ee__wire_unpack(&e2ee__server_frame__descriptor, data, len, FRAME_MAX, &msg) !=
        E2EE_OK) {
        count_error(c->lg, &c->lg->c.err_frame);
        return;
    }
    const E2ee__ServerFrame *f = (const E2ee__ServerFrame *)msg;
    switch (f->body_case) {
    case E2EE__SERVER_FRAME__BODY_CHALLENGE:
        if (c->state == C_CONNECTING)
            send_login(c, f->challenge);
        else
            fail(c->lg, "login refused (new challenge)", c);
        break;
    case E2EE__SERVER_FRAME__BODY_RESULT:
        on_result(c, f->result);
        break;
    case E2EE__SERVER_FRAME__BODY_EVENT:
        break; /* live notices: not part of the load */
    default:
        count_error(c->lg, &c->lg->c.err_frame);
        break;
    }
    e2ee__wire_free(msg);
}

static void on_frame(void *user, const uint8_t *data, size_t len, int text)
{
    struct lg_client *c = user;
    struct lg_pb b;
    struct lg_pbf f;
    if (text || !data || !len) {
        count_error(c->lg, &c->lg->c.err_frame);
        return;
    }
    lg_pb_init(&b, data, len);
    /* a deliveries frame holds exactly that one field */
    if (lg_pb_next(&b, &f) == 1 && f.num == SF_DELIVERIES && f.wt == 2 && b.p == b.end)
        deliveries(c, f.data, f.len);
    else
        decoded_frame(c, data, len);
}

static void on_event(void *user, enum lg_conn_event ev, int close_code)
{
    struct lg_client *c = user;
    struct lg *lg = c->lg;
    if (ev == LG_CONN_OPEN)
        return; /* the relay speaks first (challenge) */
    c->conn = NULL;
    if (c->state < C_AUTHED)
        lg->connecting--;
    c->state = C_DEAD;
    if (lg->phase >= LG_PH_DRAIN && close_code == 1001)
        return;
    count_error(lg, &lg->c.err_closed);
    fprintf(stderr, "e2ee-loadgen: %s: connection closed (code %d)\n", c->uid, close_code);
    if (lg->phase < LG_PH_RUN)
        fail(lg, "connection lost during set-up", c);
}

const struct lg_ws_cbs lg_client_cbs_template = {on_frame, on_event, NULL, NULL};

/* ---------------------------------------------------------------- set-up and ticks */

int lg_clients_new(struct lg *lg)
{
    lg->clients = calloc(lg->n_clients, sizeof *lg->clients);
    lg->groups = calloc(lg->n_groups ? lg->n_groups : 1, sizeof *lg->groups);
    lg->ack_list = calloc(lg->n_clients, sizeof *lg->ack_list);
    lg->ack_n = 0;
    if (!lg->clients || !lg->groups || !lg->ack_list)
        return -1;
    for (uint32_t i = 0; i < lg->n_clients; i++) {
        struct lg_client *c = &lg->clients[i];
        c->lg = lg;
        c->idx = i;
        c->next_req = REQ_FIRST_SEND;
        snprintf(c->uid, sizeof c->uid, "lg%s-u%u", lg->run_id, i);
    }
    for (uint32_t k = 0; k < lg->n_groups; k++) {
        struct lg_group *g = &lg->groups[k];
        g->index = k;
        g->n = lg->group_size;
        snprintf(g->gid, sizeof g->gid, "lg%s-g%u", lg->run_id, k);
        g->members = calloc(g->n, sizeof *g->members);
        if (!g->members)
            return -1;
        for (uint32_t m = 0; m < g->n; m++) {
            struct lg_client *c = &lg->clients[k * lg->group_size + m];
            g->members[m] = c;
            c->g = g;
            c->member = m;
            c->sender = m < lg->senders_per_group;
            if (c->sender && !(c->win = calloc(lg->window, sizeof *c->win)))
                return -1;
        }
    }
    return 0;
}

void lg_clients_free(struct lg *lg)
{
    for (uint32_t i = 0; lg->clients && i < lg->n_clients; i++) {
        e2ee__wipe(lg->clients[i].sign_sk, sizeof lg->clients[i].sign_sk);
        free(lg->clients[i].win);
    }
    for (uint32_t k = 0; lg->groups && k < lg->n_groups; k++)
        free(lg->groups[k].members);
    free(lg->clients);
    free(lg->groups);
    free(lg->ack_list);
    lg->ack_list = NULL;
    lg->clients = NULL;
    lg->groups = NULL;
}

void lg_clients_pace(struct lg *lg)
{
    while (!lg->failed && lg->connecting < CONNECT_PARALLEL && lg->next_connect < lg->n_clients) {
        struct lg_client *c = &lg->clients[lg->next_connect++];
        if (!c->has_keys && make_keys(c) != E2EE_OK) {
            fail(lg, "key generation failed", c);
            return;
        }
        c->state = C_CONNECTING;
        lg->connecting++;
        c->conn = lg_ws_connect(lg->ws, c);
        if (!c->conn) {
            fail(lg, "cannot connect to the relay", c);
            return;
        }
    }
}

void lg_groups_step(struct lg *lg)
{
    for (uint32_t k = 0; k < lg->n_groups; k++) {
        struct lg_client *creator = lg->groups[k].members[0];
        if (creator->state == C_AUTHED)
            send_group_request(creator, 1);
    }
}

uint32_t lg_clients_settled(struct lg *lg)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < lg->n_clients; i++) {
        const struct lg_client *c = &lg->clients[i];
        n += c->g && c->g->ready && c->seen_epoch >= c->g->epoch;
    }
    return n;
}

/* Acks the listed clients whose ack interval has passed. */
static void tick_acks(struct lg *lg, uint64_t now)
{
    uint32_t keep = 0;
    for (uint32_t i = 0; i < lg->ack_n; i++) {
        struct lg_client *c = &lg->clients[lg->ack_list[i]];
        int unacked = c->gseq > c->gacked || c->iseq > c->iacked;
        if (c->conn && unacked && now - c->ack_ns < ACK_INTERVAL_NS) {
            lg->ack_list[keep++] = c->idx; /* not due yet */
            continue;
        }
        c->ack_listed = 0;
        if (c->conn && unacked)
            ack_now(c, now);
    }
    lg->ack_n = keep;
}

/* Open loop: each sender earns rate / senders tokens a second and sends one message per
 * token. Senders start at evenly spread phases, so the sends of all of them are spread over
 * time instead of leaving in bursts. */
static void tick_rate(struct lg *lg, uint64_t now)
{
    double senders = (double)(lg->n_groups * lg->senders_per_group);
    double per_sender = lg->rate / senders;
    uint32_t rank = 0;
    for (uint32_t i = 0; i < lg->n_clients; i++) {
        struct lg_client *c = &lg->clients[i];
        if (!c->sender || c->state != C_MEMBER)
            continue;
        if (!c->tokens_ns) {
            c->tokens_ns = now;
            c->tokens = (double)rank / senders;
        }
        rank++;
        c->tokens += per_sender * (double)(now - c->tokens_ns) / 1e9;
        c->tokens_ns = now;
        if (c->tokens > 1.0 + per_sender * 0.01)
            c->tokens = 1.0 + per_sender * 0.01; /* at most 10 ms of catching up */
        while (c->tokens >= 1.0 && c->inflight < lg->window) {
            c->tokens -= 1.0;
            send_new(c, now);
        }
    }
}

void lg_clients_tick(struct lg *lg, uint64_t now)
{
    if (lg->phase == LG_PH_RUN && lg->rate > 0) {
        tick_rate(lg, now);
    } else if (lg->phase == LG_PH_RUN && !lg->sends_started) {
        /* closed loop: each sender fills its window; every result sends the next */
        lg->sends_started = 1;
        for (uint32_t i = 0; i < lg->n_clients; i++) {
            struct lg_client *c = &lg->clients[i];
            while (c->sender && c->state == C_MEMBER && c->inflight < lg->window)
                send_new(c, now);
        }
    }
    tick_acks(lg, now);
}

uint64_t lg_clients_inflight(const struct lg *lg)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < lg->n_clients; i++)
        n += lg->clients[i].inflight;
    return n;
}

void lg_clients_close(struct lg *lg)
{
    for (uint32_t i = 0; lg->clients && i < lg->n_clients; i++) {
        struct lg_client *c = &lg->clients[i];
        if (c->conn)
            lg_ws_close(c->conn);
        c->conn = NULL;
    }
}
