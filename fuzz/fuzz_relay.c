/* e2ee fuzzing: the relay in-process (see fuzz_relay.h). */
#include "fuzz_relay.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "fuzz.h"
#include "relay/log.h"
#include "wire/wire.h"

#define CATCHUP_ROUNDS 64   /* flush + drain rounds after one request, at most */
#define LOGIN_MSG_MAX 256

const char *const fz_relay_users[FZ_RELAY_USERS] = {"alice", "bob", "carol"};

uint8_t *fz_pack_client_frame(const E2ee__ClientFrame *f, size_t *len)
{
    *len = e2ee__client_frame__get_packed_size(f);
    uint8_t *buf = malloc(*len ? *len : 1);
    FZ_CHECK(buf != NULL);
    FZ_CHECK(e2ee__client_frame__pack(f, buf) == *len);
    return buf;
}

/* Small limits, so that the fuzzer reaches them. They pass e2ee__rcfg_check. */
static void config(struct e2ee__relay_config *c)
{
    char err[256];
    e2ee__rcfg_defaults(c);
    snprintf(c->store, sizeof c->store, ":memory:");
    snprintf(c->relay_id, sizeof c->relay_id, "fuzz-relay");
    c->log_level = E2EE_RLOG_ERROR;
    c->max_frame_size = 65536;
    c->max_group_size = 4;
    c->max_groups_per_user = 4;
    c->max_queue_msgs = 16;
    c->max_queue_bytes = 65536;
    c->max_prekeys = 8;
    c->low_prekey_threshold = 2;
    c->list_users_page = 2;
    FZ_CHECK(e2ee__rcfg_check(c, err, sizeof err) == 0);
}

/* ---- what a client receives ---- */

static void note_group(struct fz_rconn *c, const char *gid, uint64_t seq)
{
    for (size_t i = 0; i < c->n_groups; i++) {
        if (strcmp(c->gid[i], gid) == 0) {
            if (seq > c->gseen[i])
                c->gseen[i] = seq;
            return;
        }
    }
    if (c->n_groups < FZ_RELAY_GROUPS) {
        snprintf(c->gid[c->n_groups], sizeof c->gid[0], "%s", gid);
        c->gseen[c->n_groups++] = seq;
    }
}

/* Decodes a frame as a client would; every frame the relay writes must decode. */
static void receive(struct fz_relay *h, int i, const uint8_t *buf, size_t len)
{
    ProtobufCMessage *m = NULL;
    struct fz_rconn *c = &h->c[i];
    FZ_CHECK(len <= h->r.server_frame_max);
    FZ_CHECK(e2ee__wire_unpack(&e2ee__server_frame__descriptor, buf, len, h->r.server_frame_max,
                               &m) == E2EE_OK);
    const E2ee__ServerFrame *f = (const E2ee__ServerFrame *)m;
    FZ_CHECK(f->body_case != E2EE__SERVER_FRAME__BODY__NOT_SET);
    if (f->body_case == E2EE__SERVER_FRAME__BODY_DELIVERIES) {
        FZ_CHECK(f->deliveries->n_items > 0);
        for (size_t k = 0; k < f->deliveries->n_items; k++) {
            const E2ee__RelayDelivery *d = f->deliveries->items[k];
            FZ_CHECK(d->seq > 0 && d->item_case != E2EE__RELAY_DELIVERY__ITEM__NOT_SET);
            if (d->group_id[0])
                note_group(c, d->group_id, d->seq);
            else if (d->seq > c->inbox_seen)
                c->inbox_seen = d->seq;
        }
    }
    if (h->cb)
        h->cb(h->user, i, buf, len);
    e2ee__wire_free(m);
}

/* Writes out what connection i has ready; frees it once closed (the lws CLOSED path). */
static void drain(struct fz_relay *h, int i)
{
    struct fz_rconn *c = &h->c[i];
    struct e2ee__rsession *s = c->s;
    if (!s)
        return;
    while (s->state != E2EE_RSESSION_CLOSING && e2ee__outq_ready_count(&s->q, -1)) {
        enum e2ee__rblob_kind kind;
        size_t count = 0;
        const uint8_t *frame;
        size_t len = e2ee__rsession_build_frame(s, &kind, &count, &frame);
        FZ_CHECK(len > 0);
        /* copy: receiving may queue more and rebuild the relay's write buffer */
        uint8_t *copy = malloc(len);
        FZ_CHECK(copy != NULL);
        memcpy(copy, frame, len);
        e2ee__outq_pop(&s->q, kind, count);
        receive(h, i, copy, len);
        free(copy);
    }
    if (s->state == E2EE_RSESSION_DRAINING && !e2ee__outq_has_pending(&s->q))
        s->state = E2EE_RSESSION_CLOSING;
    if (s->state == E2EE_RSESSION_CLOSING) {
        e2ee__rsession_free(s);
        c->s = NULL;
    }
}

static void settle(struct fz_relay *h)
{
    for (int round = 0; round < CATCHUP_ROUNDS; round++) {
        e2ee__relay_flush(&h->r);
        for (int i = 0; i < FZ_RELAY_CONNS; i++)
            drain(h, i);
        if (!e2ee__rlist_linked(&h->r.catchup))
            break;
    }
}

/* ---- connections ---- */

static void identity(int i, uint8_t pk[32], uint8_t sk[64])
{
    uint8_t seed[32];
    memset(seed, 0, sizeof seed);
    seed[0] = (uint8_t)(0xF0 + i);
    FZ_CHECK(e2ee__ed25519_seed_keypair(pk, sk, seed) == E2EE_OK);
}

static void login(struct fz_relay *h, int i)
{
    E2ee__ClientFrame f = E2EE__CLIENT_FRAME__INIT;
    E2ee__RelayLogin l = E2EE__RELAY_LOGIN__INIT;
    E2ee__RelayIdentity id = E2EE__RELAY_IDENTITY__INIT;
    uint8_t pk[32], sk[64], dh[32], dh_sig[64], proof[64], msg[LOGIN_MSG_MAX];
    struct e2ee__rsession *s = h->c[i].s;
    const char *uid = fz_relay_users[i];
    identity(i, pk, sk);
    memset(dh, 0x40 + i, sizeof dh);
    memset(dh_sig, 0x50 + i, sizeof dh_sig);
    size_t n = e2ee__relay_login_message(msg, sizeof msg, h->r.relay_id, s->nonce, uid,
                                         E2EE_RELAY_DEVICE_ID);
    FZ_CHECK(n > 0 && e2ee__ed25519_sign(proof, msg, n, sk) == E2EE_OK);
    id.sign_key.data = pk;
    id.sign_key.len = sizeof pk;
    id.dh_key.data = dh;
    id.dh_key.len = sizeof dh;
    id.dh_signature.data = dh_sig;
    id.dh_signature.len = sizeof dh_sig;
    l.user_id = (char *)uid;
    l.device_id = E2EE_RELAY_DEVICE_ID;
    l.identity = &id;
    l.proof.data = proof;
    l.proof.len = sizeof proof;
    l.ack_direct = i != 1; /* bob sends no receipts: both paths are reached */
    l.ack_group = i != 2;
    f.request_id = 1;
    f.body_case = E2EE__CLIENT_FRAME__BODY_LOGIN;
    f.login = &l;
    size_t len = 0;
    uint8_t *buf = fz_pack_client_frame(&f, &len);
    FZ_CHECK(e2ee__relay_dispatch(s, buf, len) == 0);
    free(buf);
    e2ee__wipe(sk, sizeof sk);
    settle(h);
    FZ_CHECK(h->c[i].s && h->c[i].s->state == E2EE_RSESSION_AUTHED);
}

static void connect_one(struct fz_relay *h, int i)
{
    struct fz_rconn *c = &h->c[i];
    memset(c, 0, sizeof *c);
    c->s = e2ee__rsession_new(&h->r, NULL);
    FZ_CHECK(c->s != NULL);
    e2ee__relay_send_challenge(c->s);
    settle(h);
    FZ_CHECK(c->s && c->s->nonce_valid);
    if (i < FZ_RELAY_USERS)
        login(h, i);
}

void fz_relay_open(struct fz_relay *h, fz_relay_frame_cb cb, void *user)
{
    struct e2ee__relay_config cfg;
    fz_init();
    memset(h, 0, sizeof *h);
    h->cb = cb;
    h->user = user;
    config(&cfg);
    e2ee__rlog_set_level(E2EE_RLOG_ERROR);
    FZ_CHECK(e2ee__relay_open(&h->r, &cfg) == 0);
    for (int i = 0; i < FZ_RELAY_CONNS; i++)
        connect_one(h, i);
}

static void disconnect(struct fz_relay *h, int i)
{
    if (h->c[i].s)
        e2ee__rsession_free(h->c[i].s);
    h->c[i].s = NULL;
}

void fz_relay_reconnect(struct fz_relay *h, int i)
{
    disconnect(h, i);
    connect_one(h, i);
}

void fz_relay_send(struct fz_relay *h, int i, const uint8_t *buf, size_t len)
{
    if (!h->c[i].s)
        connect_one(h, i);
    FZ_CHECK(e2ee__relay_dispatch(h->c[i].s, buf, len) == 0);
    settle(h);
}

void fz_relay_ack_all(struct fz_relay *h, int i)
{
    struct fz_rconn *c = &h->c[i];
    E2ee__ClientFrame f = E2EE__CLIENT_FRAME__INIT;
    E2ee__RelayAck a = E2EE__RELAY_ACK__INIT;
    E2ee__RelayAckItem items[1 + FZ_RELAY_GROUPS], *ptrs[1 + FZ_RELAY_GROUPS];
    size_t n = 0;
    e2ee__relay_ack_item__init(&items[n]);
    items[n].group_id = "";
    items[n].seq = c->inbox_seen;
    ptrs[n] = &items[n];
    n++;
    for (size_t k = 0; k < c->n_groups; k++, n++) {
        e2ee__relay_ack_item__init(&items[n]);
        items[n].group_id = c->gid[k];
        items[n].seq = c->gseen[k];
        ptrs[n] = &items[n];
    }
    a.items = ptrs;
    a.n_items = n;
    f.request_id = 7;
    f.body_case = E2EE__CLIENT_FRAME__BODY_ACK;
    f.ack = &a;
    size_t len = 0;
    uint8_t *buf = fz_pack_client_frame(&f, &len);
    fz_relay_send(h, i, buf, len);
    free(buf);
}

void fz_relay_housekeeping(struct fz_relay *h)
{
    e2ee__relay_groups_gc(&h->r);
    settle(h);
}

void fz_relay_close(struct fz_relay *h)
{
    for (int i = 0; i < FZ_RELAY_CONNS; i++)
        disconnect(h, i);
    e2ee__relay_cleanup(&h->r);
}
