/*
 * e2ee client: sending to a group (docs/PROTOCOL.md parts 2 and 4).
 *
 * Before a group message is encrypted:
 *  - rotation: when this client has no sender key for the group's current epoch (first
 *    send, or the membership changed since), it makes a new one and keeps its distribution
 *    at iteration 0 (the "base" distribution, meta table) until the next rotation;
 *  - distribution: every current member without a mark for the current key id gets the
 *    base distribution, encrypted over the pairwise session, in the same frame as the
 *    message (send_group.pairwise), so the relay hands it over ahead of the message. A
 *    member without a session waits for its bundle (the message waits); a member whose
 *    bundle failed, whose identity is blocked, or who does not fit in the frame is skipped:
 *    it asks for the key when the message comes (group_recv.c) and gets the base
 *    distribution, which opens every message of that key;
 *  - the advanced sender key is stored in the pass's transaction, which commits before the
 *    frame leaves.
 * Marks are set when the relay answered "sent" (the distributions are stored with it).
 * A send refused for a stale epoch syncs the group (membership.c) and comes back here:
 * the epoch differs from the key's, so the key rotates, and the message goes again with the
 * same client message id.
 */
#include <stdlib.h>
#include <string.h>

#include "client/client_internal.h"

static int dist_key(const char *group, char *key, size_t cap)
{
    size_t n = strlen(E2EE__CLIENT_META_DIST_PREFIX) + strlen(group);
    int rc = n < cap ? E2EE_OK : E2EE_ERR_LENGTH;
    if (rc == E2EE_OK) {
        memcpy(key, E2EE__CLIENT_META_DIST_PREFIX, strlen(E2EE__CLIENT_META_DIST_PREFIX));
        memcpy(key + strlen(E2EE__CLIENT_META_DIST_PREFIX), group, strlen(group) + 1);
    }
    return rc;
}

int e2ee__group_own_distribution(struct e2ee_client *c, const char *group, uint8_t **dist,
                                 size_t *len)
{
    char key[E2EE__STORE_ID_MAX + 1];
    int rc = dist_key(group, key, sizeof key);
    *dist = NULL;
    *len = 0;
    if (rc == E2EE_OK)
        rc = e2ee__store_meta_get(c->st, key, dist, len);
    return rc;
}

static int save_own(struct e2ee_client *c, const char *group, const e2ee__sender_key *sk)
{
    uint8_t *blob = NULL;
    size_t len = 0;
    int rc = e2ee__sender_key_serialize(sk, &blob, &len);
    if (rc == E2EE_OK)
        rc = e2ee__store_own_sender_key_put(c->st, group, sk->epoch, blob, len);
    e2ee__sender_key_buf_free(blob, len);
    return rc;
}

/* A new own key for `epoch` (replacing prev when given), stored with its base distribution. */
static int rotate(struct e2ee_client *c, const char *group, uint64_t epoch,
                  const e2ee__sender_key *prev, e2ee__sender_key **out)
{
    char key[E2EE__STORE_ID_MAX + 1];
    uint8_t *dist = NULL;
    size_t dist_len = 0;
    int rc = prev && prev->epoch <= epoch
                 ? e2ee__sender_key_rotate(out, prev, epoch, &c->rng)
                 : e2ee__sender_key_new(out, group, c->user_id, E2EE__CLIENT_DEVICE, epoch,
                                        &c->rng);
    if (rc == E2EE_OK)
        rc = save_own(c, group, *out);
    if (rc == E2EE_OK)
        rc = e2ee__sender_key_distribution_create(*out, &dist, &dist_len);
    if (rc == E2EE_OK)
        rc = dist_key(group, key, sizeof key);
    if (rc == E2EE_OK)
        rc = e2ee__store_meta_put(c->st, key, dist, dist_len);
    if (rc == E2EE_OK)
        e2ee__client_log(c, E2EE_LOG_INFO, "group %s: new sender key for epoch %llu", group,
                         (unsigned long long)epoch);
    e2ee__sender_key_buf_free(dist, dist_len);
    return rc;
}

/* 1 in *has when the base distribution of the current own key is stored. */
static int has_distribution(struct e2ee_client *c, const char *group, int *has)
{
    uint8_t *dist = NULL;
    size_t len = 0;
    int rc = e2ee__group_own_distribution(c, group, &dist, &len);
    *has = rc == E2EE_OK;
    e2ee__store_blob_free(dist, len);
    return rc == E2EE_ERR_NOT_FOUND ? E2EE_OK : rc;
}

/* The own key for the group's epoch, rotating when needed (also when its distribution is
 * missing: members could not be given it). */
static int own_key(struct e2ee_client *c, const struct e2ee__store_group *g,
                   e2ee__sender_key **sk)
{
    e2ee__sender_key *prev = NULL;
    uint8_t *blob = NULL;
    size_t len = 0;
    int usable = 0;
    int rc = e2ee__store_own_sender_key_get(c->st, g->id, NULL, &blob, &len);

    *sk = NULL;
    if (rc == E2EE_OK)
        rc = e2ee__sender_key_deserialize(&prev, blob, len);
    if (rc == E2EE_ERR_NOT_FOUND || rc == E2EE_ERR_CORRUPT || rc == E2EE_ERR_VERSION)
        rc = E2EE_OK; /* none (or unusable): a fresh one */
    if (rc == E2EE_OK && prev)
        rc = has_distribution(c, g->id, &usable);
    if (rc == E2EE_OK && prev && usable && prev->epoch == g->epoch &&
        prev->iteration < E2EE_SENDER_KEY_ITERATION_END) {
        *sk = prev;
        prev = NULL;
    } else if (rc == E2EE_OK) {
        rc = rotate(c, g->id, g->epoch, prev, sk);
    }
    e2ee__sender_key_free(prev);
    e2ee__store_blob_free(blob, len);
    return rc;
}

/* An earlier message to the group is in flight under another epoch: wait for its answer,
 * so that a stale refusal cannot put it behind this one. */
static int epoch_in_flight(struct e2ee_client *c, const struct e2ee__store_group *g)
{
    int found = 0;
    for (size_t i = 0; i < c->inflight.n && !found; i++) {
        const struct e2ee__inflight *fl = c->inflight.v[i];
        found = (fl->kind == E2EE__OUT_GROUP_TEXT || fl->kind == E2EE__OUT_GROUP_BINARY) &&
                strcmp(fl->target, g->id) == 0 && fl->epoch != g->epoch;
    }
    return found;
}

/* Members lacking the key, minus this client and members that cannot get it now, into a
 * new array. *wait is set when some member needs a session first: the bundles of all of them
 * are asked in one go (a member whose bundle is on its way is not looked up again). */
static int recipients(struct e2ee_client *c, const char *group, uint32_t key_id, uint64_t now,
                      char ***out, size_t *nout, int *wait)
{
    char **users = NULL, **fetch = NULL;
    size_t n = 0, nfetch = 0;
    int rc = e2ee__store_member_lacking(c->st, group, key_id, &users, &n);

    *out = NULL;
    *nout = 0;
    *wait = 0;
    if (rc == E2EE_OK) {
        *out = calloc(n ? n : 1, sizeof **out);
        fetch = calloc(n ? n : 1, sizeof *fetch);
        rc = *out && fetch ? E2EE_OK : E2EE_ERR_NOMEM;
    }
    for (size_t i = 0; rc == E2EE_OK && i < n; i++) {
        int has = 0, skip = strcmp(users[i], c->user_id) == 0 ||
                            e2ee__peer_blocked(c, users[i]) ||
                            e2ee__pairwise_failed(c, users[i], now) != NULL;
        if (!skip && e2ee__pairwise_fetching(c, users[i])) {
            *wait = 1;
            continue;
        }
        if (!skip)
            rc = e2ee__pairwise_has_session(c, users[i], &has);
        if (rc == E2EE_OK && !skip && !has)
            fetch[nfetch++] = users[i];
        if (!skip && has) {
            (*out)[(*nout)++] = users[i];
            users[i] = NULL;
        }
    }
    if (rc == E2EE_OK && nfetch) {
        rc = e2ee__pairwise_fetch_many(c, fetch, nfetch);
        *wait = 1;
    }
    free(fetch);
    e2ee__store_strv_free(users, n);
    return rc;
}

struct group_frame {
    E2ee__RelayPairwisePayload *pw;
    E2ee__RelayPairwisePayload **ptrs;
    uint8_t **bufs;
    size_t n;
};

static void group_frame_free(struct group_frame *gf, size_t cap)
{
    for (size_t i = 0; i < cap && gf->bufs; i++)
        free(gf->bufs[i]);
    free(gf->bufs);
    free(gf->pw);
    free(gf->ptrs);
}

/* Encrypts the base distribution for each recipient while the frame has room. */
static int add_distributions(struct e2ee_client *c, const char *group, uint64_t msg_id,
                             char **users, size_t n, size_t budget, struct group_frame *gf,
                             struct e2ee__inflight *fl)
{
    struct e2ee__envelope env = {0};
    uint8_t *dist = NULL, *pt = NULL;
    size_t dist_len = 0, pt_len = 0, used = 0;
    int rc = e2ee__group_own_distribution(c, group, &dist, &dist_len);

    env.kind = E2EE__CLIENT_ENVELOPE_KIND__ENVELOPE_SENDER_KEY_DISTRIBUTION;
    env.msg_id = msg_id;
    env.body = dist;
    env.body_len = dist_len;
    if (rc == E2EE_OK)
        rc = e2ee__envelope_pack(&env, &pt, &pt_len);
    gf->pw = calloc(n ? n : 1, sizeof *gf->pw);
    gf->ptrs = calloc(n ? n : 1, sizeof *gf->ptrs);
    gf->bufs = calloc(n ? n : 1, sizeof *gf->bufs);
    fl->dist = calloc(n ? n : 1, sizeof *fl->dist);
    if (rc == E2EE_OK && (!gf->pw || !gf->ptrs || !gf->bufs || !fl->dist))
        rc = E2EE_ERR_NOMEM;
    for (size_t i = 0; rc == E2EE_OK && i < n; i++) {
        size_t len = 0;
        /* a pre-key message adds at most a few hundred bytes to its plaintext */
        if (used + pt_len + 512 + strlen(users[i]) > budget)
            break; /* the others ask for the key when the message comes */
        rc = e2ee__pairwise_encrypt(c, users[i], pt, pt_len, &gf->bufs[i], &len);
        if (rc != E2EE_OK)
            break;
        used += len + 16 + strlen(users[i]);
        e2ee__relay_pairwise_payload__init(&gf->pw[gf->n]);
        gf->pw[gf->n].user_id = users[i];
        gf->pw[gf->n].device_id = E2EE__CLIENT_DEVICE;
        gf->pw[gf->n].payload = (ProtobufCBinaryData){len, gf->bufs[i]};
        gf->ptrs[gf->n] = &gf->pw[gf->n];
        gf->n++;
        fl->dist[fl->n_dist] = strdup(users[i]);
        if (!fl->dist[fl->n_dist])
            rc = E2EE_ERR_NOMEM;
        else
            fl->n_dist++;
    }
    if (pt) {
        e2ee__wipe(pt, pt_len);
        free(pt);
    }
    e2ee__store_blob_free(dist, dist_len);
    return rc;
}

/* Encrypts the message itself and stores the advanced key. */
static int encrypt_message(struct e2ee_client *c, const struct e2ee__store_outgoing *o,
                           uint64_t msg_id, e2ee__sender_key *sk, uint8_t **ct, size_t *ct_len)
{
    struct e2ee__envelope env = {0};
    uint8_t *pt = NULL;
    size_t pt_len = 0;
    int rc;

    env.kind = o->kind == E2EE__OUT_GROUP_TEXT ? E2EE__CLIENT_ENVELOPE_KIND__ENVELOPE_GROUP_TEXT
                                               : E2EE__CLIENT_ENVELOPE_KIND__ENVELOPE_GROUP_BINARY;
    env.msg_id = msg_id;
    env.body = o->payload;
    env.body_len = o->payload_len;
    rc = e2ee__envelope_pack(&env, &pt, &pt_len);
    if (rc == E2EE_OK)
        rc = e2ee__group_encrypt(sk, pt, pt_len, ct, ct_len);
    if (rc == E2EE_OK)
        rc = save_own(c, o->target, sk); /* before the message leaves: never reuse a step */
    if (pt) {
        e2ee__wipe(pt, pt_len);
        free(pt);
    }
    return rc;
}

static int send_frame(struct e2ee_client *c, const struct e2ee__store_group *g, uint64_t msg_id,
                      const uint8_t *ct, size_t ct_len, struct group_frame *gf,
                      struct e2ee__inflight *fl)
{
    E2ee__ClientFrame f = E2EE__CLIENT_FRAME__INIT;
    E2ee__RelaySendGroup sg = E2EE__RELAY_SEND_GROUP__INIT;
    sg.group_id = (char *)g->id;
    sg.epoch = g->epoch;
    sg.client_msg_id = msg_id;
    sg.ciphertext = (ProtobufCBinaryData){ct_len, (uint8_t *)ct};
    sg.pairwise = gf->ptrs;
    sg.n_pairwise = gf->n;
    f.request_id = e2ee__client_req_id(c);
    f.body_case = E2EE__CLIENT_FRAME__BODY_SEND_GROUP;
    f.send_group = &sg;
    fl->req_id = f.request_id;
    fl->epoch = g->epoch;
    return e2ee__client_frame(c, &f, 0);
}

/* Whether the group can be sent to now: sets *prep / *code when not. */
static int group_ready(struct e2ee_client *c, const struct e2ee__store_outgoing *o,
                       struct e2ee__store_group *g, enum e2ee__prep *prep, int *code)
{
    int rc = e2ee__store_group_get(c->st, o->target, g);
    if (rc == E2EE_ERR_NOT_FOUND || (rc == E2EE_OK && !g->joined)) {
        rc = E2EE_OK;
        *prep = E2EE__PREP_FAIL;
        *code = E2EE_ERR_NOT_MEMBER;
    } else if (rc == E2EE_OK && o->payload_len + E2EE_GROUP_MSG_OVERHEAD_MAX + 64 +
                                        E2EE__CLIENT_FRAME_SLACK > c->max_frame) {
        *prep = E2EE__PREP_FAIL;
        *code = E2EE_ERR_TOO_LARGE;
    } else if (rc == E2EE_OK && epoch_in_flight(c, g)) {
        *prep = E2EE__PREP_WAIT;
    }
    return rc;
}

int e2ee__group_prepare(struct e2ee_client *c, const struct e2ee__store_outgoing *o,
                        uint64_t msg_id, uint64_t now, struct e2ee__inflight *fl,
                        enum e2ee__prep *prep, int *code)
{
    struct e2ee__store_group g;
    struct group_frame gf = {0};
    e2ee__sender_key *sk = NULL;
    char **users = NULL;
    uint8_t *ct = NULL;
    size_t n = 0, ct_len = 0;
    int wait = 0;
    int rc;

    *prep = E2EE__PREP_READY;
    *code = E2EE_OK;
    rc = group_ready(c, o, &g, prep, code);
    if (rc != E2EE_OK || *prep != E2EE__PREP_READY)
        goto done;
    rc = own_key(c, &g, &sk);
    if (rc == E2EE_OK)
        rc = recipients(c, g.id, sk->key_id, now, &users, &n, &wait);
    if (rc == E2EE_OK && wait)
        *prep = E2EE__PREP_WAIT;
    if (rc != E2EE_OK || *prep != E2EE__PREP_READY)
        goto done;
    rc = encrypt_message(c, o, msg_id, sk, &ct, &ct_len);
    fl->key_id = sk->key_id;
    if (rc == E2EE_OK)
        rc = add_distributions(c, g.id, msg_id, users, n,
                               c->max_frame - ct_len - E2EE__CLIENT_FRAME_SLACK, &gf, fl);
    if (rc == E2EE_OK)
        rc = send_frame(c, &g, msg_id, ct, ct_len, &gf, fl);
done:
    group_frame_free(&gf, n);
    e2ee__store_strv_free(users, n);
    e2ee__sender_key_free(sk);
    e2ee__sender_key_buf_free(ct, ct_len);
    return rc;
}

int e2ee__group_on_sent(struct e2ee_client *c, const struct e2ee__inflight *fl)
{
    int rc = E2EE_OK;
    for (size_t i = 0; rc == E2EE_OK && i < fl->n_dist; i++) {
        rc = e2ee__store_distribution_mark(c->st, fl->target, fl->dist[i], E2EE__CLIENT_DEVICE,
                                           fl->key_id);
        if (rc == E2EE_ERR_NOT_FOUND)
            rc = E2EE_OK; /* no longer a member */
    }
    return rc;
}
