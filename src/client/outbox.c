/*
 * e2ee client: the outgoing queue.
 *
 * A send call stores the plaintext in the store's queue (durable before the call returns)
 * and wakes the loop. Once logged in, each pass prepares queued messages oldest first:
 * encrypts each with the session or sender key current at that moment, saves the advanced
 * state, and sends the frame after the commit; the message stays queued until the relay
 * answers "sent" (then an ACK SENT event) or refuses it for good (ACK FAILED). A message
 * whose target needs something first (a bundle, a group sync) waits, and so does every
 * later message to the same target, which keeps each conversation in order.
 *
 * After a reconnect everything not answered is prepared again with the same client message
 * id: the relay recognises the id and stores the message once (docs/PROTOCOL.md 3.7), so a
 * message is never lost and never delivered twice. The new encryption only skips a ratchet
 * or chain step on the receiver's side.
 */
#include <stdlib.h>
#include <string.h>

#include "client/client_internal.h"

static int is_group_kind(uint32_t kind)
{
    return kind == E2EE__OUT_GROUP_TEXT || kind == E2EE__OUT_GROUP_BINARY;
}

/* ---- the API: store the message, wake the loop ---- */

/* Stores a message; mu held. */
static int enqueue(struct e2ee_client *c, uint32_t kind, const char *target,
                   const uint8_t *data, size_t len, uint64_t id)
{
    char hex[E2EE_MSG_ID_SIZE];
    size_t count = 0;
    int rc = e2ee__store_outq_count(c->st, &count);

    if (rc == E2EE_OK && count >= E2EE__CLIENT_OUTQ_MAX)
        rc = E2EE_ERR_QUEUE_FULL;
    e2ee__client_msg_id_hex(id, hex);
    if (rc == E2EE_OK)
        rc = e2ee__store_outq_add(c->st, hex, kind, target, data, len,
                                  e2ee__client_wall_ms() / 1000, NULL);
    if (rc == E2EE_OK)
        c->pump_dirty = 1;
    return rc;
}

/* Refusals known before queueing: a blocked peer, a group this client is not in. */
static int check_target(struct e2ee_client *c, uint32_t kind, const char *target)
{
    struct e2ee__store_group g;
    int rc = E2EE_OK;
    if (is_group_kind(kind)) {
        rc = e2ee__store_group_get(c->st, target, &g);
        if (rc == E2EE_ERR_NOT_FOUND || (rc == E2EE_OK && !g.joined))
            rc = E2EE_ERR_NOT_MEMBER;
    } else if (e2ee__peer_blocked(c, target)) {
        rc = E2EE_ERR_UNTRUSTED_IDENTITY;
    }
    return rc;
}

static int send_message(struct e2ee_client *c, uint32_t kind, const char *target,
                        const uint8_t *data, size_t len, char msg_id[E2EE_MSG_ID_SIZE])
{
    uint64_t id = 0;
    int rc = e2ee__client_msg_id_new(&id, 0);

    if (rc != E2EE_OK)
        goto done;
    pthread_mutex_lock(&c->mu);
    rc = check_target(c, kind, target);
    if (rc == E2EE_OK)
        rc = enqueue(c, kind, target, data, len, id);
    pthread_mutex_unlock(&c->mu);
    if (rc == E2EE_OK) {
        e2ee__client_wake(c);
        if (msg_id)
            e2ee__client_msg_id_hex(id, msg_id);
    }
done:
    return rc;
}

static int check_text(const char *text, size_t *len)
{
    int rc = text ? E2EE_OK : E2EE_ERR_ARG;
    *len = text ? strnlen(text, E2EE_TEXT_MAX + 1) : 0;
    if (rc == E2EE_OK && (*len == 0 || *len > E2EE_TEXT_MAX))
        rc = E2EE_ERR_LENGTH;
    if (rc == E2EE_OK && !e2ee__client_utf8_valid((const uint8_t *)text, *len))
        rc = E2EE_ERR_ARG;
    return rc;
}

static int check_binary(const void *data, size_t len)
{
    int rc = data || len == 0 ? E2EE_OK : E2EE_ERR_ARG;
    if (rc == E2EE_OK && len > E2EE_BINARY_MAX)
        rc = E2EE_ERR_LENGTH;
    return rc;
}

/* Common checks of the send calls; the user id may not be this client's own. */
static int check_send(e2ee_client *c, const char *target, int direct,
                      char msg_id[E2EE_MSG_ID_SIZE])
{
    int rc = c ? e2ee__client_id_check(target) : E2EE_ERR_ARG;
    if (msg_id)
        msg_id[0] = '\0';
    if (rc == E2EE_OK && direct && strcmp(target, c->user_id) == 0)
        rc = E2EE_ERR_ARG;
    return rc;
}

int e2ee_client_send_direct(e2ee_client *c, const char *to, const char *text,
                            char msg_id[E2EE_MSG_ID_SIZE])
{
    size_t len = 0;
    int rc = check_send(c, to, 1, msg_id);
    if (rc == E2EE_OK)
        rc = check_text(text, &len);
    if (rc == E2EE_OK)
        rc = send_message(c, E2EE__OUT_DIRECT_TEXT, to, (const uint8_t *)text, len, msg_id);
    return rc;
}

int e2ee_client_send_direct_binary(e2ee_client *c, const char *to, const void *data, size_t len,
                                   char msg_id[E2EE_MSG_ID_SIZE])
{
    int rc = check_send(c, to, 1, msg_id);
    if (rc == E2EE_OK)
        rc = check_binary(data, len);
    if (rc == E2EE_OK)
        rc = send_message(c, E2EE__OUT_DIRECT_BINARY, to, data, len, msg_id);
    return rc;
}

int e2ee_client_send_group(e2ee_client *c, const char *group, const char *text,
                           char msg_id[E2EE_MSG_ID_SIZE])
{
    size_t len = 0;
    int rc = check_send(c, group, 0, msg_id);
    if (rc == E2EE_OK)
        rc = check_text(text, &len);
    if (rc == E2EE_OK)
        rc = send_message(c, E2EE__OUT_GROUP_TEXT, group, (const uint8_t *)text, len, msg_id);
    return rc;
}

int e2ee_client_send_group_binary(e2ee_client *c, const char *group, const void *data,
                                  size_t len, char msg_id[E2EE_MSG_ID_SIZE])
{
    int rc = check_send(c, group, 0, msg_id);
    if (rc == E2EE_OK)
        rc = check_binary(data, len);
    if (rc == E2EE_OK)
        rc = send_message(c, E2EE__OUT_GROUP_BINARY, group, data, len, msg_id);
    return rc;
}

int e2ee__outbox_control(struct e2ee_client *c, uint32_t kind, const char *user,
                         const uint8_t *payload, size_t len)
{
    uint64_t id = 0;
    int rc = e2ee__client_msg_id_new(&id, 1);
    if (rc == E2EE_OK)
        rc = enqueue(c, kind, user, payload, len, id);
    return rc;
}

/* ---- retries after transient refusals ---- */

static struct e2ee__retry *find_retry(struct e2ee_client *c, const char *target)
{
    struct e2ee__retry *found = NULL;
    for (size_t i = 0; i < c->retries.n && !found; i++) {
        struct e2ee__retry *r = c->retries.v[i];
        if (strcmp(r->target, target) == 0)
            found = r;
    }
    return found;
}

void e2ee__outbox_retry_later(struct e2ee_client *c, const char *target, uint64_t now)
{
    struct e2ee__retry *r = find_retry(c, target);
    if (!r) {
        r = calloc(1, sizeof *r);
        if (r && e2ee__vec_push(&c->retries, r) == E2EE_OK) {
            e2ee__client_copy_id(r->target, target);
        } else {
            free(r);
            r = NULL; /* out of memory: retried at the next pass instead */
        }
    }
    if (r && r->until_ms > now)
        r = NULL; /* already waiting: the refusals of one burst count once */
    if (r) {
        r->delay_ms = r->delay_ms ? r->delay_ms * 2 : E2EE__CLIENT_RETRY_MIN_MS;
        if (r->delay_ms > E2EE__CLIENT_RETRY_MAX_MS)
            r->delay_ms = E2EE__CLIENT_RETRY_MAX_MS;
        r->until_ms = now + r->delay_ms;
    }
}

/* 1 while target must wait; an expired wait ends (its delay is kept for the next one). */
static int retry_waiting(struct e2ee_client *c, const char *target, uint64_t now)
{
    struct e2ee__retry *r = find_retry(c, target);
    if (r && r->until_ms && r->until_ms <= now)
        r->until_ms = 0;
    return r && r->until_ms;
}

static void retry_done(struct e2ee_client *c, const char *target)
{
    for (size_t i = 0; i < c->retries.n; i++) {
        if (strcmp(((struct e2ee__retry *)c->retries.v[i])->target, target) == 0) {
            free(e2ee__vec_take(&c->retries, i));
            break;
        }
    }
}

uint64_t e2ee__outbox_next_timer(struct e2ee_client *c)
{
    uint64_t next = 0;
    /* retries wait for a connection anyway */
    for (size_t i = 0; c->conn == E2EE__CONN_UP && i < c->retries.n; i++) {
        struct e2ee__retry *r = c->retries.v[i];
        if (r->until_ms && (!next || r->until_ms < next))
            next = r->until_ms;
    }
    if (c->conn == E2EE__CONN_UP && c->pump_paced) {
        uint64_t t = e2ee__client_token_timer(c);
        if (t && (!next || t < next))
            next = t;
    }
    return next;
}

/* ---- in flight ---- */

static void inflight_free(void *p)
{
    struct e2ee__inflight *fl = p;
    for (size_t i = 0; fl && i < fl->n_dist; i++)
        free(fl->dist[i]);
    if (fl)
        free(fl->dist);
    free(fl);
}

static int inflight_has(struct e2ee_client *c, uint64_t msg_id)
{
    int found = 0;
    for (size_t i = 0; i < c->inflight.n && !found; i++)
        found = ((struct e2ee__inflight *)c->inflight.v[i])->msg_id == msg_id;
    return found;
}

void e2ee__outbox_reset(struct e2ee_client *c)
{
    e2ee__vec_clear(&c->inflight, inflight_free);
    e2ee__vec_clear(&c->retries, NULL);
}

/* ---- preparing a direct (or control) message ---- */

/* Our key goes only to a current member (the request was checked; the member may have left
 * since). */
static int still_member(struct e2ee_client *c, const char *group, const char *user)
{
    int member = 0;
    int rc = e2ee__store_member_check(c->st, group, user, &member);
    return rc == E2EE_ERR_NOT_FOUND || (rc == E2EE_OK && !member) ? E2EE_ERR_NOT_MEMBER : rc;
}

/* The envelope of a queued direct item. *dist holds a key resend's distribution. */
static int direct_envelope(struct e2ee_client *c, const struct e2ee__store_outgoing *o,
                           uint64_t id, char *group, uint8_t **dist, size_t *dist_len,
                           struct e2ee__envelope *env)
{
    int rc = E2EE_OK;
    size_t glen = 0;
    memset(env, 0, sizeof *env);
    env->msg_id = id;
    switch (o->kind) {
    case E2EE__OUT_DIRECT_TEXT:
    case E2EE__OUT_DIRECT_BINARY:
        env->kind = o->kind == E2EE__OUT_DIRECT_TEXT
                        ? E2EE__CLIENT_ENVELOPE_KIND__ENVELOPE_DIRECT_TEXT
                        : E2EE__CLIENT_ENVELOPE_KIND__ENVELOPE_DIRECT_BINARY;
        env->body = o->payload;
        env->body_len = o->payload_len;
        break;
    case E2EE__OUT_DIST_RESEND:
        glen = o->payload && o->payload_len < E2EE__CLIENT_ID_BUF ? o->payload_len : 0;
        if (glen)
            memcpy(group, o->payload, glen);
        group[glen] = '\0';
        rc = e2ee__client_id_valid(group) ? still_member(c, group, o->target) : E2EE_ERR_CORRUPT;
        if (rc == E2EE_OK)
            rc = e2ee__group_own_distribution(c, group, dist, dist_len);
        env->kind = E2EE__CLIENT_ENVELOPE_KIND__ENVELOPE_SENDER_KEY_DISTRIBUTION;
        env->body = *dist;
        env->body_len = *dist_len;
        break;
    case E2EE__OUT_DIST_REQUEST:
        glen = o->payload && o->payload_len > 4 && o->payload_len - 4 < E2EE__CLIENT_ID_BUF
                   ? o->payload_len - 4
                   : 0;
        if (glen)
            memcpy(group, o->payload + 4, glen);
        group[glen] = '\0';
        rc = glen && e2ee__client_id_valid(group) ? E2EE_OK : E2EE_ERR_CORRUPT;
        env->kind = E2EE__CLIENT_ENVELOPE_KIND__ENVELOPE_DISTRIBUTION_REQUEST;
        env->group = group;
        env->key_id = rc == E2EE_OK ? e2ee__client_get_u32(o->payload) : 0;
        break;
    default:
        rc = E2EE_ERR_CORRUPT;
        break;
    }
    return rc;
}

static int direct_frame(struct e2ee_client *c, const char *to, uint64_t id, const uint8_t *ct,
                        size_t ct_len, struct e2ee__inflight *fl)
{
    E2ee__ClientFrame f = E2EE__CLIENT_FRAME__INIT;
    E2ee__RelaySendDirect sd = E2EE__RELAY_SEND_DIRECT__INIT;
    sd.to = (char *)to;
    sd.to_device = E2EE__CLIENT_DEVICE;
    sd.client_msg_id = id;
    sd.ciphertext = (ProtobufCBinaryData){ct_len, (uint8_t *)ct};
    f.request_id = e2ee__client_req_id(c);
    f.body_case = E2EE__CLIENT_FRAME__BODY_SEND_DIRECT;
    f.send_direct = &sd;
    fl->req_id = f.request_id;
    return e2ee__client_frame(c, &f, 0);
}

/* Before a session exists: what to do with a message to `user`. */
static enum e2ee__prep need_session(struct e2ee_client *c, const char *user, uint64_t now,
                                    int *code, int *rc)
{
    const struct e2ee__peer_fail *pf = e2ee__pairwise_failed(c, user, now);
    int has = 0;
    enum e2ee__prep prep = E2EE__PREP_READY;

    *rc = E2EE_OK;
    if (e2ee__peer_blocked(c, user)) {
        *code = E2EE_ERR_UNTRUSTED_IDENTITY;
        prep = E2EE__PREP_FAIL;
    } else if (pf) {
        *code = pf->code;
        prep = pf->permanent ? E2EE__PREP_FAIL : E2EE__PREP_WAIT;
    } else {
        *rc = e2ee__pairwise_has_session(c, user, &has);
        if (*rc == E2EE_OK && !has) {
            *rc = e2ee__pairwise_fetch(c, user);
            prep = E2EE__PREP_WAIT;
        }
    }
    return prep;
}

static int direct_prepare(struct e2ee_client *c, const struct e2ee__store_outgoing *o,
                          uint64_t id, uint64_t now, struct e2ee__inflight *fl,
                          enum e2ee__prep *prep, int *code)
{
    char group[E2EE__CLIENT_ID_BUF];
    struct e2ee__envelope env;
    uint8_t *dist = NULL, *pt = NULL, *ct = NULL;
    size_t dist_len = 0, pt_len = 0, ct_len = 0;
    int rc = E2EE_OK;

    *prep = need_session(c, o->target, now, code, &rc);
    if (rc != E2EE_OK || *prep != E2EE__PREP_READY)
        goto done;
    if (o->payload_len + E2EE__CLIENT_FRAME_SLACK + 512 > c->max_frame) {
        *prep = E2EE__PREP_FAIL;
        *code = E2EE_ERR_TOO_LARGE;
        goto done;
    }
    *code = direct_envelope(c, o, id, group, &dist, &dist_len, &env);
    if (*code != E2EE_OK) {
        /* a key resend for a key we no longer hold, or a damaged item: nothing to send */
        *prep = E2EE__PREP_FAIL;
        rc = *code == E2EE_ERR_STORE || *code == E2EE_ERR_NOMEM ? *code : E2EE_OK;
        goto done;
    }
    rc = e2ee__envelope_pack(&env, &pt, &pt_len);
    if (rc == E2EE_OK)
        rc = e2ee__pairwise_encrypt(c, o->target, pt, pt_len, &ct, &ct_len);
    if (rc == E2EE_OK)
        rc = direct_frame(c, o->target, id, ct, ct_len, fl);
done:
    e2ee__sender_key_buf_free(dist, dist_len);
    if (pt) {
        e2ee__wipe(pt, pt_len);
        free(pt);
    }
    free(ct);
    return rc;
}

/* ---- the pump ---- */

static int target_blocked(const struct e2ee__vec *blocked, const char *target)
{
    int found = 0;
    for (size_t i = 0; i < blocked->n && !found; i++)
        found = strcmp(blocked->v[i], target) == 0;
    return found;
}

static void fail_item(struct e2ee_client *c, const struct e2ee__store_outgoing *o, uint64_t id,
                      int code)
{
    int group = is_group_kind(o->kind);
    e2ee__event_ack(c, group, id, group ? NULL : o->target, group ? o->target : NULL,
                    E2EE_ACK_FAILED, code);
    e2ee__client_log(c, E2EE_LOG_WARNING, "message %s to %s failed: %s", o->msg_id, o->target,
                     e2ee_errname(code));
}

/* Prepares one queued item. */
static int pump_item(struct e2ee_client *c, const struct e2ee__store_outgoing *o, uint64_t id,
                     uint64_t now, struct e2ee__vec *blocked)
{
    struct e2ee__inflight *fl = calloc(1, sizeof *fl);
    enum e2ee__prep prep = E2EE__PREP_WAIT;
    int code = E2EE_OK;
    int rc = fl ? E2EE_OK : E2EE_ERR_NOMEM;

    if (rc != E2EE_OK)
        goto done;
    fl->msg_id = id;
    fl->kind = o->kind;
    e2ee__client_copy_id(fl->target, o->target);
    if (is_group_kind(o->kind))
        rc = e2ee__group_prepare(c, o, id, now, fl, &prep, &code);
    else
        rc = direct_prepare(c, o, id, now, fl, &prep, &code);
    e2ee__client_log(c, E2EE_LOG_DEBUG, "message %s to %s: %s (%s)", o->msg_id, o->target,
                     prep == E2EE__PREP_READY ? "sent" : prep == E2EE__PREP_WAIT ? "waits" : "fails",
                     e2ee_errname(rc != E2EE_OK ? rc : code));
    if (rc != E2EE_OK)
        goto done;
    if (prep == E2EE__PREP_READY) {
        rc = e2ee__vec_push(&c->inflight, fl);
        if (rc == E2EE_OK)
            fl = NULL;
    } else if (prep == E2EE__PREP_WAIT) {
        rc = e2ee__vec_push(blocked, (void *)o->target);
    } else {
        rc = e2ee__store_outq_remove(c->st, o->msg_id);
        fail_item(c, o, id, code);
    }
done:
    inflight_free(fl);
    return rc;
}

int e2ee__outbox_pump(struct e2ee_client *c, uint64_t now)
{
    struct e2ee__store_outgoing *items = NULL;
    struct e2ee__vec blocked = {0}; /* borrowed target names */
    size_t n = 0, prepared = 0;
    size_t max = c->inflight.n + E2EE__CLIENT_PUMP_BATCH;
    int rc = E2EE_OK;

    c->pump_dirty = 0;
    c->pump_paced = 0;
    if (c->inflight.n >= E2EE__CLIENT_INFLIGHT_MAX)
        goto done;
    rc = e2ee__store_outq_list(c->st, E2EE__STORE_OUT_ANY,
                               max < E2EE__STORE_OUTQ_LIST_MAX ? max : E2EE__STORE_OUTQ_LIST_MAX,
                               &items, &n);
    for (size_t i = 0; rc == E2EE_OK && i < n; i++) {
        const struct e2ee__store_outgoing *o = &items[i];
        uint64_t id = 0;
        if (e2ee__client_msg_id_parse(o->msg_id, &id) != E2EE_OK || inflight_has(c, id) ||
            target_blocked(&blocked, o->target))
            continue;
        if (prepared >= E2EE__CLIENT_PUMP_BATCH || c->inflight.n >= E2EE__CLIENT_INFLIGHT_MAX) {
            c->pump_dirty = 1; /* more next pass */
            break;
        }
        if (retry_waiting(c, o->target, now)) {
            rc = e2ee__vec_push(&blocked, (void *)o->target);
            continue;
        }
        if (!e2ee__client_token(c, now)) {
            c->pump_paced = 1; /* the timer brings the next pass */
            break;
        }
        rc = pump_item(c, o, id, now, &blocked);
        prepared++;
    }
done:
    free(blocked.v);
    e2ee__store_outq_free(items, n);
    return rc;
}

/* ---- the relay's answers ---- */

static int transient(int code)
{
    return code == E2EE_ERR_QUEUE_FULL || code == E2EE_ERR_RATE_LIMITED ||
           code == E2EE_ERR_STORE || code == E2EE_ERR_UNAVAILABLE || code == E2EE_ERR_NOMEM;
}

static int on_sent(struct e2ee_client *c, const struct e2ee__inflight *fl)
{
    char hex[E2EE_MSG_ID_SIZE];
    int group = is_group_kind(fl->kind);
    int rc;

    e2ee__client_msg_id_hex(fl->msg_id, hex);
    rc = e2ee__store_outq_remove(c->st, hex);
    if (rc == E2EE_ERR_NOT_FOUND)
        rc = E2EE_OK;
    if (rc == E2EE_OK && group)
        rc = e2ee__group_on_sent(c, fl);
    retry_done(c, fl->target);
    e2ee__event_ack(c, group, fl->msg_id, group ? NULL : fl->target, group ? fl->target : NULL,
                    E2EE_ACK_SENT, E2EE_OK);
    return rc;
}

static int on_refused(struct e2ee_client *c, const struct e2ee__inflight *fl,
                      const E2ee__RelayResult *r)
{
    char hex[E2EE_MSG_ID_SIZE];
    int group = is_group_kind(fl->kind);
    int rc = E2EE_OK;

    e2ee__client_msg_id_hex(fl->msg_id, hex);
    if (group && r->code == E2EE_ERR_STALE_EPOCH && r->body_case == E2EE__RELAY_RESULT__BODY_GROUP &&
        r->group) {
        /* the group moved on: take its state, rotate at the next pass, send again */
        e2ee__client_log(c, E2EE_LOG_INFO, "group %s: stale epoch, rotating and resending",
                         fl->target);
        rc = e2ee__membership_sync(c, r->group);
    } else if (transient(r->code) || r->code == E2EE_ERR_STALE_EPOCH) {
        e2ee__client_log(c, E2EE_LOG_INFO, "message %s to %s: %s, retrying later", hex,
                         fl->target, e2ee_errname(r->code));
        e2ee__outbox_retry_later(c, fl->target, e2ee__client_mono_ms());
    } else {
        rc = e2ee__store_outq_remove(c->st, hex);
        if (rc == E2EE_ERR_NOT_FOUND)
            rc = E2EE_OK;
        e2ee__event_ack(c, group, fl->msg_id, group ? NULL : fl->target,
                        group ? fl->target : NULL, E2EE_ACK_FAILED, r->code);
        e2ee__client_log(c, E2EE_LOG_WARNING, "message %s to %s refused: %s", hex, fl->target,
                         e2ee_errname(r->code));
    }
    return rc;
}

int e2ee__outbox_on_result(struct e2ee_client *c, const E2ee__RelayResult *r)
{
    struct e2ee__inflight *fl = NULL;
    int rc = E2EE_OK;

    for (size_t i = 0; i < c->inflight.n && !fl; i++) {
        if (((struct e2ee__inflight *)c->inflight.v[i])->req_id == r->request_id)
            fl = e2ee__vec_take(&c->inflight, i);
    }
    if (!fl) {
        e2ee__client_log(c, E2EE_LOG_DEBUG, "result for an unknown request");
        goto done;
    }
    rc = r->code == E2EE_OK ? on_sent(c, fl) : on_refused(c, fl, r);
    c->pump_dirty = 1;
done:
    inflight_free(fl);
    return rc;
}
