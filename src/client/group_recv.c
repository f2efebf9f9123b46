/*
 * e2ee client: receiving in a group (docs/PROTOCOL.md parts 2 and 4).
 *
 * A group message's pairwise payload (a sender-key distribution) is processed first, then
 * the message is opened with the record of (group, sender). A record is created or updated
 * only from a distribution that arrived over the pairwise session of that sender, for a
 * group both belong to.
 *
 * Unknown key: a message whose key id this client does not hold waits ("pending", in
 * memory, at most E2EE__CLIENT_PENDING_MAX) while the sender is asked to resend its key
 * (a DISTRIBUTION_REQUEST, at most one per (group, sender) per
 * E2EE__CLIENT_DIST_REQUEST_GAP_MS). The sender answers with the key's base distribution,
 * which opens every message of that key; the waiting messages are then delivered. While a
 * message waits, its seq is remembered in the store and the group's stream is acknowledged
 * only up to just before it, so the relay keeps it and delivers it again after a reconnect
 * or a restart. After pending_timeout_s it is given up (E2EE_ERR_TIMEOUT).
 */
#include <stdlib.h>
#include <string.h>

#include "client/client_internal.h"
#include "wire/wire.h"

/* Failures of this client (abort the pass) rather than of the message (reported). */
static int local_code(int rc)
{
    return rc == E2EE_ERR_STORE || rc == E2EE_ERR_NOMEM;
}

/* ---- remembered seqs (meta "client.pend.<group>": u64be seqs, ascending) ---- */

static int pend_key(const char *group, char *key, size_t cap)
{
    size_t p = strlen(E2EE__CLIENT_META_PENDING_PREFIX), g = strlen(group);
    int rc = p + g < cap ? E2EE_OK : E2EE_ERR_LENGTH;
    if (rc == E2EE_OK) {
        memcpy(key, E2EE__CLIENT_META_PENDING_PREFIX, p);
        memcpy(key + p, group, g + 1);
    }
    return rc;
}

static uint64_t get_u64(const uint8_t *p)
{
    return (uint64_t)e2ee__client_get_u32(p) << 32 | e2ee__client_get_u32(p + 4);
}

static void put_u64(uint8_t *p, uint64_t v)
{
    e2ee__client_put_u32(p, (uint32_t)(v >> 32));
    e2ee__client_put_u32(p + 4, (uint32_t)v);
}

/* The remembered seqs of group: *buf holds *n of them (free with free()). */
static int seqs_get(struct e2ee_client *c, const char *group, uint8_t **buf, size_t *n)
{
    char key[E2EE__STORE_ID_MAX + 1];
    size_t len = 0;
    int rc = pend_key(group, key, sizeof key);
    *buf = NULL;
    *n = 0;
    if (rc == E2EE_OK)
        rc = e2ee__store_meta_get(c->st, key, buf, &len);
    if (rc == E2EE_ERR_NOT_FOUND)
        rc = E2EE_OK;
    if (rc == E2EE_OK && len % 8 != 0)
        rc = E2EE_ERR_CORRUPT;
    *n = len / 8;
    return rc;
}

static int seqs_put(struct e2ee_client *c, const char *group, const uint8_t *buf, size_t n)
{
    char key[E2EE__STORE_ID_MAX + 1];
    int rc = pend_key(group, key, sizeof key);
    if (rc == E2EE_OK && n == 0) {
        rc = e2ee__store_meta_delete(c->st, key);
        rc = rc == E2EE_ERR_NOT_FOUND ? E2EE_OK : rc;
    } else if (rc == E2EE_OK) {
        rc = e2ee__store_meta_put(c->st, key, buf, n * 8);
    }
    return rc;
}

/* Adds (add = 1) or removes seq. */
static int seqs_change(struct e2ee_client *c, const char *group, uint64_t seq, int add)
{
    uint8_t *buf = NULL, *out = NULL;
    size_t n = 0, m = 0;
    int rc = seqs_get(c, group, &buf, &n);
    int placed = !add;

    if (rc == E2EE_OK) {
        out = malloc((n + 1) * 8);
        rc = out ? E2EE_OK : E2EE_ERR_NOMEM;
    }
    for (size_t i = 0; rc == E2EE_OK && i <= n; i++) {
        uint64_t v = i < n ? get_u64(buf + 8 * i) : UINT64_MAX;
        if (!placed && seq <= v && m < E2EE__CLIENT_PENDING_SEQS_MAX) {
            put_u64(out + 8 * m++, seq);
            placed = 1;
        }
        if (i < n && v != seq && m < E2EE__CLIENT_PENDING_SEQS_MAX)
            put_u64(out + 8 * m++, v);
    }
    if (rc == E2EE_OK)
        rc = seqs_put(c, group, out, m);
    free(buf);
    free(out);
    return rc;
}

int e2ee__pending_seq_held(struct e2ee_client *c, const char *group, uint64_t seq, int *held)
{
    uint8_t *buf = NULL;
    size_t n = 0;
    int rc = seqs_get(c, group, &buf, &n);
    *held = 0;
    for (size_t i = 0; rc == E2EE_OK && i < n && !*held; i++)
        *held = get_u64(buf + 8 * i) == seq;
    free(buf);
    return rc;
}

uint64_t e2ee__pending_lowest(struct e2ee_client *c, const char *group)
{
    uint8_t *buf = NULL;
    size_t n = 0;
    uint64_t low = 0;
    if (seqs_get(c, group, &buf, &n) == E2EE_OK && n > 0)
        low = get_u64(buf);
    free(buf);
    return low;
}

/* ---- waiting messages in memory ---- */

static void pending_free(void *p)
{
    struct e2ee__pending *pe = p;
    if (pe) {
        free(pe->ct);
        free(pe);
    }
}

static struct e2ee__pending *pending_find(struct e2ee_client *c, const char *group,
                                          uint64_t seq)
{
    struct e2ee__pending *found = NULL;
    for (size_t i = 0; i < c->pending.n && !found; i++) {
        struct e2ee__pending *pe = c->pending.v[i];
        if (pe->seq == seq && strcmp(pe->group, group) == 0)
            found = pe;
    }
    return found;
}

/* Seqs remembered below `seq` that were not delivered again before it will never come
 * (the relay delivers in order): forget them, or the stream would never be acked. */
static int forget_missing(struct e2ee_client *c, const char *group, uint64_t seq)
{
    uint8_t *buf = NULL;
    size_t n = 0;
    int rc = seqs_get(c, group, &buf, &n);
    for (size_t i = 0; rc == E2EE_OK && i < n; i++) {
        uint64_t v = get_u64(buf + 8 * i);
        if (v < seq && !pending_find(c, group, v))
            rc = seqs_change(c, group, v, 0);
    }
    free(buf);
    return rc;
}

static int pending_remove(struct e2ee_client *c, struct e2ee__pending *pe)
{
    char name[E2EE__STORE_ID_MAX + 1];
    uint64_t cursor = 0;
    int rc = seqs_change(c, pe->group, pe->seq, 0);
    e2ee__deliveries_cursor_name(c, pe->group, name);
    if (rc == E2EE_OK)
        rc = e2ee__store_cursor_get(c->st, name, &cursor);
    if (rc == E2EE_OK && cursor)
        rc = e2ee__client_ack_later(c, pe->group, cursor); /* the stream may move on now */
    for (size_t i = 0; i < c->pending.n; i++) {
        if (c->pending.v[i] == pe) {
            pending_free(e2ee__vec_take(&c->pending, i));
            break;
        }
    }
    return rc;
}

static int pending_add(struct e2ee_client *c, const E2ee__RelayDelivery *d)
{
    const E2ee__RelayGroupMessage *m = d->group_message;
    struct e2ee__pending *pe = NULL;
    int rc = E2EE_OK;

    if (pending_find(c, d->group_id, d->seq))
        goto done;
    if (c->pending.n >= E2EE__CLIENT_PENDING_MAX) {
        rc = E2EE_ERR_LIMIT;
        goto done;
    }
    pe = calloc(1, sizeof *pe);
    rc = pe ? E2EE_OK : E2EE_ERR_NOMEM;
    if (rc == E2EE_OK) {
        pe->ct = malloc(m->ciphertext.len ? m->ciphertext.len : 1);
        rc = pe->ct ? E2EE_OK : E2EE_ERR_NOMEM;
    }
    if (rc != E2EE_OK)
        goto done;
    e2ee__client_copy_id(pe->group, d->group_id);
    e2ee__client_copy_id(pe->from, m->from);
    pe->seq = d->seq;
    pe->cmid = m->client_msg_id;
    pe->epoch = m->epoch;
    pe->time_ms = (int64_t)d->time_ms;
    pe->since_ms = e2ee__client_mono_ms();
    memcpy(pe->ct, m->ciphertext.data, m->ciphertext.len);
    pe->ct_len = m->ciphertext.len;
    rc = seqs_change(c, pe->group, pe->seq, 1);
    if (rc == E2EE_OK)
        rc = e2ee__vec_push(&c->pending, pe);
    if (rc == E2EE_OK)
        pe = NULL;
done:
    pending_free(pe);
    return rc;
}

/* ---- rate limits ---- */

/* The rate-limit entry of (a, b), created (at_ms 0) when absent. */
static struct e2ee__rate *rate_entry(struct e2ee__vec *v, const char *a, const char *b)
{
    struct e2ee__rate *r = NULL;
    for (size_t i = 0; i < v->n && !r; i++) {
        struct e2ee__rate *x = v->v[i];
        if (strcmp(x->a, a) == 0 && strcmp(x->b, b) == 0)
            r = x;
    }
    if (!r && v->n >= E2EE__CLIENT_RATE_ENTRIES)
        free(e2ee__vec_take(v, 0)); /* the oldest entry */
    if (!r) {
        r = calloc(1, sizeof *r);
        if (r && e2ee__vec_push(v, r) == E2EE_OK) {
            e2ee__client_copy_id(r->a, a);
            e2ee__client_copy_id(r->b, b);
        } else {
            free(r);
            r = NULL; /* out of memory: not limited this time */
        }
    }
    return r;
}

/* 1 when (a, b) was done less than gap_ms ago; otherwise records it now and returns 0. */
static int rate_limited(struct e2ee__vec *v, const char *a, const char *b, uint64_t gap_ms)
{
    uint64_t now = e2ee__client_mono_ms();
    struct e2ee__rate *r = rate_entry(v, a, b);
    int limited = r && r->at_ms && now - r->at_ms < gap_ms;
    if (r && !limited)
        r->at_ms = now;
    return limited;
}

/* ---- opening a message ---- */

static int load_record(struct e2ee_client *c, const char *group, const char *from,
                       e2ee__sender_key_record **rec, int create)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = e2ee__store_sender_key_get(c->st, group, from, E2EE__CLIENT_DEVICE, &buf, &len);
    if (rc == E2EE_OK)
        rc = e2ee__sender_key_record_deserialize(rec, buf, len, &c->window);
    else if (rc == E2EE_ERR_NOT_FOUND && create)
        rc = e2ee__sender_key_record_new(rec, group, from, E2EE__CLIENT_DEVICE, &c->window);
    else if (rc == E2EE_ERR_NOT_FOUND)
        rc = E2EE_ERR_UNKNOWN_KEY;
    e2ee__store_blob_free(buf, len);
    return rc;
}

static int save_record(struct e2ee_client *c, const e2ee__sender_key_record *rec)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = e2ee__sender_key_record_serialize(rec, &buf, &len);
    if (rc == E2EE_OK)
        rc = e2ee__store_sender_key_put(c->st, rec->sender.group_id, rec->sender.user_id,
                                        E2EE__CLIENT_DEVICE, buf, len);
    e2ee__sender_key_buf_free(buf, len);
    return rc;
}

static void group_event(struct e2ee_client *c, const char *group, const char *from,
                        const E2ee__ClientEnvelope *env, int64_t time_ms)
{
    char hex[E2EE_MSG_ID_SIZE];
    int text = env->kind == E2EE__CLIENT_ENVELOPE_KIND__ENVELOPE_GROUP_TEXT;
    struct e2ee__event_item *it =
        e2ee__event_add(c, text ? E2EE_EVENT_GROUP_TEXT : E2EE_EVENT_GROUP_BINARY);
    e2ee__client_msg_id_hex(env->msg_id, hex);
    if (it && e2ee__event_data(it, env->body.data, env->body.len) != E2EE_OK) {
        e2ee__events_truncate(c, c->events.n - 1);
        e2ee__client_log(c, E2EE_LOG_ERROR, "out of memory: message %s lost", hex);
        it = NULL;
    }
    if (!it)
        goto done;
    it->ev.group_msg.msg_id = e2ee__event_str(it, hex);
    it->ev.group_msg.group = e2ee__event_str(it, group);
    it->ev.group_msg.from = e2ee__event_str(it, from);
    it->ev.group_msg.data = it->data;
    it->ev.group_msg.len = env->body.len;
    it->ev.group_msg.sent_at_ms = time_ms;
done:
    return;
}

/* The decrypted plaintext of a group message: envelope checks, dedup, event. Errors that
 * are the message's are returned in *msg_code. */
static int deliver_plaintext(struct e2ee_client *c, const char *group, const char *from,
                             uint64_t cmid, const uint8_t *pt, size_t len, int64_t time_ms,
                             int *msg_code)
{
    E2ee__ClientEnvelope *env = NULL;
    int first = 0, rc = E2EE_OK;

    *msg_code = e2ee__envelope_unpack(pt, len, &env);
    if (*msg_code == E2EE_OK &&
        env->kind != E2EE__CLIENT_ENVELOPE_KIND__ENVELOPE_GROUP_TEXT &&
        env->kind != E2EE__CLIENT_ENVELOPE_KIND__ENVELOPE_GROUP_BINARY)
        *msg_code = E2EE_ERR_PROTOCOL;
    if (*msg_code == E2EE_OK && env->msg_id != cmid)
        *msg_code = E2EE_ERR_PROTOCOL;
    if (*msg_code == E2EE_OK)
        rc = e2ee__deliveries_first_sight(c, from, cmid, &first);
    if (rc == E2EE_OK && *msg_code == E2EE_OK && first)
        group_event(c, group, from, env, time_ms);
    if (env)
        e2ee__wire_free(&env->base);
    return rc;
}

/* Opens ct from `from` in `group`; *msg_code is E2EE_OK or the message's error. */
/* Opens a group message with the record of (group, from): `installed` when the message's
 * own distribution was just installed into it (taken over, saved here whatever the message
 * turns out to be: one save for both), else the stored one. */
static int open_message(struct e2ee_client *c, const char *group, const char *from,
                        uint64_t cmid, uint64_t epoch, const uint8_t *ct, size_t ct_len,
                        int64_t time_ms, e2ee__sender_key_record *installed, int *msg_code)
{
    e2ee__sender_key_record *rec = installed;
    e2ee__group_message_header h;
    uint8_t *pt = NULL;
    size_t pt_len = 0;
    int rc = E2EE_OK;

    *msg_code = e2ee__group_message_peek(ct, ct_len, &h);
    if (*msg_code == E2EE_OK && h.epoch != epoch)
        *msg_code = E2EE_ERR_WRONG_EPOCH; /* signed for another epoch than the relay's */
    if (*msg_code == E2EE_OK && !rec) {
        *msg_code = load_record(c, group, from, &rec, 0);
        if (local_code(*msg_code)) {
            rc = *msg_code;
            goto done;
        }
    }
    if (*msg_code == E2EE_OK)
        *msg_code = e2ee__group_decrypt(rec, ct, ct_len, (uint64_t)e2ee__client_wall_ms(), &pt,
                                        &pt_len);
    if (*msg_code == E2EE_OK || installed)
        rc = save_record(c, rec);
    if (rc == E2EE_OK && *msg_code == E2EE_OK)
        rc = deliver_plaintext(c, group, from, cmid, pt, pt_len, time_ms, msg_code);
done:
    e2ee__sender_key_buf_free(pt, pt_len);
    e2ee__sender_key_record_free(rec);
    return rc;
}

static int request_key(struct e2ee_client *c, const char *group, const char *from,
                       const uint8_t *ct, size_t ct_len)
{
    e2ee__group_message_header h;
    uint8_t payload[4 + E2EE__CLIENT_ID_BUF];
    size_t glen = strlen(group);
    int rc = E2EE_OK;

    if (e2ee__group_message_peek(ct, ct_len, &h) != E2EE_OK ||
        rate_limited(&c->rl_req, group, from, E2EE__CLIENT_DIST_REQUEST_GAP_MS))
        goto done;
    e2ee__client_put_u32(payload, h.key_id);
    memcpy(payload + 4, group, glen);
    rc = e2ee__outbox_control(c, E2EE__OUT_DIST_REQUEST, from, payload, 4 + glen);
    e2ee__client_log(c, E2EE_LOG_INFO, "group %s: asked %s to resend its key", group, from);
done:
    return rc;
}

/* The pairwise payload a group delivery carries for this client (a distribution). */
static int recv_distribution(struct e2ee_client *c, const char *from, const uint8_t *dist,
                             size_t len, const char *msg_group, e2ee__sender_key_record **keep);

/* The distribution carried with a group message of `group`; *installed receives the record
 * it went into when open_message may save it (see recv_distribution). */
static int group_pairwise(struct e2ee_client *c, const char *group, const char *from,
                          ProtobufCBinaryData payload, uint64_t cmid,
                          e2ee__sender_key_record **installed)
{
    e2ee__session_decrypt_result res;
    E2ee__ClientEnvelope *env = NULL;
    int rc = e2ee__pairwise_decrypt(c, from, payload.data, payload.len, &res);

    if (rc == E2EE_OK)
        rc = e2ee__envelope_unpack(res.plaintext, res.plaintext_len, &env);
    if (rc == E2EE_OK &&
        env->kind != E2EE__CLIENT_ENVELOPE_KIND__ENVELOPE_SENDER_KEY_DISTRIBUTION)
        rc = E2EE_ERR_PROTOCOL;
    if (rc == E2EE_OK)
        rc = recv_distribution(c, from, env->body.data, env->body.len, group, installed);
    else if (!local_code(rc))
        e2ee__event_e2ee_error(c, rc, "the sender key sent with a group message", cmid, from,
                               group);
    if (!local_code(rc))
        rc = E2EE_OK;
    if (env)
        e2ee__wire_free(&env->base);
    e2ee__session_decrypt_result_cleanup(&res);
    return rc;
}

int e2ee__group_recv_message(struct e2ee_client *c, const E2ee__RelayDelivery *d,
                             int retry_pending)
{
    const E2ee__RelayGroupMessage *m = d->group_message;
    const char *group = d->group_id;
    e2ee__sender_key_record *installed = NULL;
    int code = E2EE_OK;
    int rc = e2ee__client_id_valid(m->from) ? forget_missing(c, group, d->seq) : E2EE_OK;

    if (rc != E2EE_OK || !e2ee__client_id_valid(m->from) || strcmp(m->from, c->user_id) == 0)
        goto done;
    if (!retry_pending && m->ciphertext.len && d->pairwise.len)
        rc = group_pairwise(c, group, m->from, d->pairwise, m->client_msg_id, &installed);
    if (rc == E2EE_OK) {
        rc = open_message(c, group, m->from, m->client_msg_id, m->epoch, m->ciphertext.data,
                          m->ciphertext.len, (int64_t)d->time_ms, installed, &code);
        installed = NULL; /* taken over */
    }
    if (rc != E2EE_OK)
        goto done;
    if (code == E2EE_ERR_UNKNOWN_KEY) {
        int was = pending_find(c, group, d->seq) != NULL;
        code = pending_add(c, d);
        if (code == E2EE_OK)
            rc = request_key(c, group, m->from, m->ciphertext.data, m->ciphertext.len);
        if (code == E2EE_OK && !was && !retry_pending)
            code = E2EE_ERR_UNKNOWN_KEY; /* reported once: the message may still come */
        rc = local_code(code) ? code : rc;
    }
    if (rc == E2EE_OK && code != E2EE_OK && code != E2EE_ERR_DUPLICATE)
        e2ee__event_e2ee_error(c, code,
                               code == E2EE_ERR_UNKNOWN_KEY
                                   ? "sender key unknown: asked the sender to resend it"
                                   : NULL,
                               m->client_msg_id, m->from, group);
done:
    e2ee__sender_key_record_free(installed);
    return rc;
}

/* Tries the messages of (group, from) waiting for a key, oldest first. */
static int retry_pending(struct e2ee_client *c, const char *group, const char *from)
{
    int rc = E2EE_OK;
    for (size_t i = 0; rc == E2EE_OK && i < c->pending.n;) {
        struct e2ee__pending *pe = c->pending.v[i];
        int code = E2EE_OK;
        if (strcmp(pe->group, group) != 0 || strcmp(pe->from, from) != 0) {
            i++;
            continue;
        }
        rc = open_message(c, group, from, pe->cmid, pe->epoch, pe->ct, pe->ct_len, pe->time_ms,
                          NULL, &code);
        if (rc != E2EE_OK || code == E2EE_ERR_UNKNOWN_KEY) {
            i++;
            continue;
        }
        if (code != E2EE_OK && code != E2EE_ERR_DUPLICATE)
            e2ee__event_e2ee_error(c, code, NULL, pe->cmid, from, group);
        rc = pending_remove(c, pe);
    }
    return rc;
}

/* ---- distributions and requests ---- */

/* 1 when this client is in `group` and `user` is a member of it too. */
static int both_members(struct e2ee_client *c, const char *group, const char *user, int *both)
{
    struct e2ee__store_group g;
    int member = 0;
    int rc = e2ee__store_group_get(c->st, group, &g);
    *both = 0;
    if (rc == E2EE_OK && g.joined)
        rc = e2ee__store_member_check(c->st, group, user, &member);
    if (rc == E2EE_ERR_NOT_FOUND)
        rc = E2EE_OK;
    *both = rc == E2EE_OK && g.joined && member;
    return rc;
}

/* Installs a distribution received from `from`. keep (for a group message's own
 * distribution, msg_group its group): when the key is for msg_group and no message waits for
 * a key, the record is handed over in *keep unsaved, for open_message to use and save once
 * (no waiting message can need it before). */
static int recv_distribution(struct e2ee_client *c, const char *from, const uint8_t *dist,
                             size_t len, const char *msg_group, e2ee__sender_key_record **keep)
{
    e2ee__sender_key_distribution d;
    e2ee__sender_key_record *rec = NULL;
    int both = 0, rc = E2EE_OK;
    int code = e2ee__sender_key_distribution_decode(&d, dist, len);
    const char *group = code == E2EE_OK ? d.sender.group_id : NULL;

    if (keep)
        *keep = NULL;
    /* a key is taken only from the pairwise peer it names, for a group both are in */
    if (code == E2EE_OK && strcmp(d.sender.user_id, from) != 0)
        code = E2EE_ERR_PROTOCOL;
    if (code == E2EE_OK)
        rc = both_members(c, group, from, &both);
    if (rc == E2EE_OK && code == E2EE_OK && !both) {
        e2ee__client_log(c, E2EE_LOG_INFO, "key of %s for %s ignored: not both members", from,
                         group);
        goto done;
    }
    if (rc == E2EE_OK && code == E2EE_OK)
        rc = load_record(c, group, from, &rec, 1);
    if (rc == E2EE_OK && code == E2EE_OK)
        code = e2ee__sender_key_record_install(rec, &d, (uint64_t)e2ee__client_wall_ms());
    if (rc == E2EE_OK && code == E2EE_OK && keep && msg_group &&
        strcmp(group, msg_group) == 0 && c->pending.n == 0) {
        *keep = rec;
        rec = NULL;
        goto done;
    }
    if (rc == E2EE_OK && code == E2EE_OK)
        rc = save_record(c, rec);
    if (rc == E2EE_OK && code == E2EE_OK)
        rc = retry_pending(c, group, from);
    if (rc == E2EE_OK && code != E2EE_OK)
        e2ee__event_e2ee_error(c, code, "a sender key could not be installed", 0, from, group);
done:
    e2ee__sender_key_record_free(rec);
    e2ee__sender_key_distribution_wipe(&d);
    return rc;
}

int e2ee__group_recv_distribution(struct e2ee_client *c, const char *from,
                                  const uint8_t *dist, size_t len)
{
    return recv_distribution(c, from, dist, len, NULL, NULL);
}

int e2ee__group_recv_request(struct e2ee_client *c, const char *from,
                             const E2ee__ClientEnvelope *env)
{
    e2ee__sender_key *own = NULL;
    uint8_t *blob = NULL;
    size_t len = 0;
    int both = 0;
    int rc = both_members(c, env->group_id, from, &both);

    if (rc != E2EE_OK || !both)
        goto done; /* only a current member may have our key */
    rc = e2ee__store_own_sender_key_get(c->st, env->group_id, NULL, &blob, &len);
    if (rc == E2EE_OK && e2ee__sender_key_deserialize(&own, blob, len) != E2EE_OK)
        own = NULL;
    if (rc == E2EE_ERR_NOT_FOUND || (rc == E2EE_OK && (!own || own->key_id != env->key_id))) {
        /* a key replaced since: its messages cannot be opened any more */
        rc = E2EE_OK;
        goto done;
    }
    if (rc == E2EE_OK &&
        !rate_limited(&c->rl_resend, env->group_id, from, E2EE__CLIENT_DIST_RESEND_GAP_MS)) {
        rc = e2ee__outbox_control(c, E2EE__OUT_DIST_RESEND, from,
                                  (const uint8_t *)env->group_id, strlen(env->group_id));
        e2ee__client_log(c, E2EE_LOG_INFO, "group %s: resending our key to %s", env->group_id,
                         from);
    }
done:
    e2ee__sender_key_free(own);
    e2ee__store_blob_free(blob, len);
    return rc;
}

/* ---- timers and clean-up ---- */

int e2ee__pending_timers(struct e2ee_client *c, uint64_t now)
{
    int rc = E2EE_OK;
    for (size_t i = 0; rc == E2EE_OK && i < c->pending.n;) {
        struct e2ee__pending *pe = c->pending.v[i];
        if (now < pe->since_ms + c->pending_timeout_ms) {
            i++;
            continue;
        }
        e2ee__event_e2ee_error(c, E2EE_ERR_TIMEOUT,
                               "the sender's key did not arrive in time; message dropped",
                               pe->cmid, pe->from, pe->group);
        rc = pending_remove(c, pe);
    }
    return rc;
}

uint64_t e2ee__pending_next_timer(struct e2ee_client *c)
{
    uint64_t next = 0;
    for (size_t i = 0; i < c->pending.n; i++) {
        struct e2ee__pending *pe = c->pending.v[i];
        uint64_t at = pe->since_ms + c->pending_timeout_ms;
        if (!next || at < next)
            next = at;
    }
    return next;
}

int e2ee__pending_drop_group(struct e2ee_client *c, const char *group)
{
    for (size_t i = 0; i < c->pending.n;) {
        struct e2ee__pending *pe = c->pending.v[i];
        if (strcmp(pe->group, group) == 0)
            pending_free(e2ee__vec_take(&c->pending, i));
        else
            i++;
    }
    return seqs_put(c, group, NULL, 0);
}

void e2ee__pending_clear(struct e2ee_client *c)
{
    e2ee__vec_clear(&c->pending, pending_free);
}
