/* e2ee proto: receiver record of one (group, sender): window, install, lookup, blob. */
#include "proto/sender_key_record.h"

#include <stdlib.h>
#include <string.h>

#include "group.pb-c.h"
#include "wire/wire.h"

e2ee__sender_key_window e2ee__sender_key_window_default(void)
{
    e2ee__sender_key_window w = {E2EE_SENDER_KEY_WINDOW_MS_DEFAULT,
                                 E2EE_SENDER_KEY_WINDOW_STATES_DEFAULT};
    return w;
}

static int window_pick(e2ee__sender_key_window *dst, const e2ee__sender_key_window *w)
{
    e2ee__sender_key_window v = w ? *w : e2ee__sender_key_window_default();
    if (v.max_age_ms > E2EE_SENDER_KEY_WINDOW_MS_MAX ||
        v.max_previous > E2EE_SENDER_KEY_WINDOW_STATES_MAX)
        return E2EE_ERR_RANGE;
    *dst = v;
    return E2EE_OK;
}

int e2ee__sender_key_record_new(e2ee__sender_key_record **out, const char *group_id,
                                const char *user_id, uint32_t device_id,
                                const e2ee__sender_key_window *window)
{
    if (!out)
        return E2EE_ERR_ARG;
    *out = NULL;
    e2ee__sender_key_window w;
    e2ee__group_sender who;
    int rc = window_pick(&w, window);
    if (rc == E2EE_OK)
        rc = e2ee__group_sender_set(&who, group_id, user_id, device_id);
    if (rc != E2EE_OK)
        return rc;
    e2ee__sender_key_record *r = calloc(1, sizeof *r);
    if (!r)
        return E2EE_ERR_NOMEM;
    r->sender = who;
    r->window = w;
    *out = r;
    return E2EE_OK;
}

void e2ee__sender_key_record_free(e2ee__sender_key_record *r)
{
    if (!r)
        return;
    for (uint32_t i = 0; i < r->n_states; i++)
        e2ee__sender_key_state_free(r->states[i]);
    e2ee__wipe(r, sizeof *r);
    free(r);
}

int e2ee__sender_key_record_set_window(e2ee__sender_key_record *r,
                                       const e2ee__sender_key_window *window)
{
    if (!r)
        return E2EE_ERR_ARG;
    return window_pick(&r->window, window);
}

uint32_t e2ee__sender_key_record_current_id(const e2ee__sender_key_record *r)
{
    return r && r->n_states ? r->states[0]->key_id : 0;
}

/* ---- window ---- */

static void remember_expired(e2ee__sender_key_record *r, uint32_t key_id)
{
    uint32_t keep = r->n_expired < E2EE_SENDER_KEY_EXPIRED_IDS_MAX ? r->n_expired
                                                                   : r->n_expired - 1;
    memmove(r->expired + 1, r->expired, keep * sizeof r->expired[0]);
    r->expired[0] = key_id;
    r->n_expired = keep + 1;
}

/* Wipes states[i] (i >= 1), remembers its id and closes the gap. */
static void drop_state(e2ee__sender_key_record *r, uint32_t i)
{
    remember_expired(r, r->states[i]->key_id);
    e2ee__sender_key_state_free(r->states[i]);
    memmove(r->states + i, r->states + i + 1, (r->n_states - i - 1) * sizeof r->states[0]);
    r->n_states--;
    r->states[r->n_states] = NULL;
}

static int outside_window(const e2ee__sender_key_record *r, uint32_t i, uint64_t now_ms)
{
    if (i > r->window.max_previous)
        return 1;
    uint64_t retired = r->states[i]->retired_at_ms;
    uint64_t age = now_ms > retired ? now_ms - retired : 0;
    return age >= r->window.max_age_ms;
}

uint32_t e2ee__sender_key_record_expire(e2ee__sender_key_record *r, uint64_t now_ms)
{
    if (!r)
        return 0;
    uint32_t wiped = 0;
    /* from the oldest, so that indexes below stay valid while dropping */
    for (uint32_t i = r->n_states; i-- > 1;) {
        if (outside_window(r, i, now_ms)) {
            drop_state(r, i);
            wiped++;
        }
    }
    return wiped;
}

/* ---- lookup and install ---- */

static int is_expired(const e2ee__sender_key_record *r, uint32_t key_id)
{
    for (uint32_t i = 0; i < r->n_expired; i++)
        if (r->expired[i] == key_id)
            return 1;
    return 0;
}

static e2ee__sender_key_state *find_state(const e2ee__sender_key_record *r, uint32_t key_id)
{
    for (uint32_t i = 0; i < r->n_states; i++)
        if (r->states[i]->key_id == key_id)
            return r->states[i];
    return NULL;
}

int e2ee__sender_key_record_lookup(e2ee__sender_key_record *r, uint32_t key_id,
                                   e2ee__sender_key_state **out)
{
    if (!out)
        return E2EE_ERR_ARG;
    *out = NULL;
    if (!r)
        return E2EE_ERR_ARG;
    *out = find_state(r, key_id);
    if (*out)
        return E2EE_OK;
    return is_expired(r, key_id) ? E2EE_ERR_KEY_EXPIRED : E2EE_ERR_UNKNOWN_KEY;
}

/* Why d cannot be installed, or E2EE_OK with *same set when it is already held. */
static int install_check(const e2ee__sender_key_record *r, const e2ee__sender_key_distribution *d,
                         int *same)
{
    *same = 0;
    if (!e2ee__group_sender_equal(&r->sender, &d->sender))
        return E2EE_ERR_PROTOCOL;
    if (is_expired(r, d->key_id))
        return E2EE_ERR_KEY_EXPIRED;
    const e2ee__sender_key_state *s = find_state(r, d->key_id);
    if (s) {
        if (s->epoch != d->epoch ||
            !e2ee__ct_equal(s->signing_pk, d->signing_pk, sizeof s->signing_pk))
            return E2EE_ERR_EXISTS;
        *same = 1;
        return E2EE_OK;
    }
    if (r->n_states && d->epoch < r->states[0]->epoch)
        return E2EE_ERR_WRONG_EPOCH;
    return E2EE_OK;
}

int e2ee__sender_key_record_install(e2ee__sender_key_record *r,
                                    const e2ee__sender_key_distribution *d, uint64_t now_ms)
{
    if (!r || !d)
        return E2EE_ERR_ARG;
    e2ee__sender_key_record_expire(r, now_ms);
    int same;
    int rc = install_check(r, d, &same);
    if (rc != E2EE_OK || same)
        return rc;
    e2ee__sender_key_state *s;
    rc = e2ee__sender_key_state_new(&s, d->key_id, d->epoch, d->iteration, d->chain_key,
                                    d->signing_pk);
    if (rc != E2EE_OK)
        return rc;
    if (r->n_states == E2EE_SENDER_KEY_RECORD_STATES_MAX)
        drop_state(r, r->n_states - 1); /* room for the new one; the count rule drops it anyway */
    if (r->n_states)
        r->states[0]->retired_at_ms = now_ms;
    memmove(r->states + 1, r->states, r->n_states * sizeof r->states[0]);
    r->states[0] = s;
    r->n_states++;
    e2ee__sender_key_record_expire(r, now_ms); /* the count rule, and max_age_ms 0 */
    return E2EE_OK;
}

/* ---- serialisation ---- */

static void free_msg_states(E2ee__SenderKeyState *ms, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        e2ee__sender_key_buf_free(ms[i].skipped.data, ms[i].skipped.len);
}

/* Fills ms[i] from state s; the skipped seeds go to a new buffer (ms[i].skipped). */
static int state_to_msg(E2ee__SenderKeyState *m, const e2ee__sender_key_state *s, int current)
{
    e2ee__sender_key_state__init(m);
    m->key_id = s->key_id;
    m->epoch = s->epoch;
    m->iteration = s->iteration;
    m->base_iteration = s->base_iteration;
    m->retired_at_ms = current ? 0 : s->retired_at_ms;
    m->chain_key = (ProtobufCBinaryData){sizeof s->chain_key, (uint8_t *)s->chain_key};
    m->signing_public = (ProtobufCBinaryData){sizeof s->signing_pk, (uint8_t *)s->signing_pk};
    size_t n = (size_t)s->skipped.count * E2EE__SKCACHE_ENTRY_WIRE_LEN;
    if (n == 0)
        return E2EE_OK;
    uint8_t *buf = malloc(n);
    if (!buf)
        return E2EE_ERR_NOMEM;
    m->skipped = (ProtobufCBinaryData){n, buf};
    return e2ee__skcache_export(&s->skipped, buf);
}

static int pack_record(const E2ee__SenderKeyRecord *m, uint8_t **out, size_t *out_len)
{
    size_t body = e2ee__sender_key_record__get_packed_size(m);
    size_t len = 1 + body + E2EE_SENDER_KEY_CHECK_LEN;
    uint8_t *buf = NULL;
    int rc = E2EE_ERR_TOO_LARGE; /* unreachable within the limits; keeps the bound honest */
    if (len > E2EE_SENDER_KEY_RECORD_MAX)
        goto done;
    rc = E2EE_ERR_NOMEM;
    buf = malloc(len);
    if (!buf)
        goto done;
    buf[0] = E2EE_SENDER_KEY_VERSION;
    rc = E2EE_ERR_PROTOCOL; /* the encoder disagreeing with its own size */
    if (e2ee__sender_key_record__pack(m, buf + 1) == body)
        rc = e2ee__sender_key_check_seal(buf, 1 + body, E2EE_SENDER_KEY_LABEL_RECORD);
done:
    if (rc == E2EE_OK) {
        *out = buf;
        *out_len = len;
    } else {
        e2ee__sender_key_buf_free(buf, len);
    }
    return rc;
}

int e2ee__sender_key_record_serialize(const e2ee__sender_key_record *r, uint8_t **out,
                                      size_t *out_len)
{
    if (!out || !out_len)
        return E2EE_ERR_ARG;
    *out = NULL;
    *out_len = 0;
    if (!r)
        return E2EE_ERR_ARG;
    E2ee__SenderKeyState ms[E2EE_SENDER_KEY_RECORD_STATES_MAX];
    E2ee__SenderKeyState *mp[E2EE_SENDER_KEY_RECORD_STATES_MAX];
    uint32_t built = 0;
    int rc = E2EE_OK;
    for (; built < r->n_states && rc == E2EE_OK; built++) {
        rc = state_to_msg(&ms[built], r->states[built], built == 0);
        mp[built] = &ms[built];
    }
    if (rc == E2EE_OK) {
        E2ee__SenderKeyRecord m = E2EE__SENDER_KEY_RECORD__INIT;
        m.group_id = (ProtobufCBinaryData){r->sender.group_id_len, (uint8_t *)r->sender.group_id};
        m.sender_user_id =
            (ProtobufCBinaryData){r->sender.user_id_len, (uint8_t *)r->sender.user_id};
        m.sender_device_id = r->sender.device_id;
        m.n_states = r->n_states;
        m.states = mp;
        m.n_expired_key_ids = r->n_expired;
        m.expired_key_ids = (uint32_t *)r->expired;
        rc = pack_record(&m, out, out_len);
    }
    free_msg_states(ms, built);
    e2ee__wipe(ms, sizeof ms);
    return rc;
}

/* ---- deserialisation: every field checked before it is trusted ---- */

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Cached seeds: ascending, each in [base, head) and within MAX_SKIPPED of head - 1. */
static int skipped_from_msg(e2ee__sender_key_state *s, const ProtobufCBinaryData *b)
{
    if (b->len % E2EE__SKCACHE_ENTRY_WIRE_LEN)
        return E2EE_ERR_CORRUPT;
    size_t n = b->len / E2EE__SKCACHE_ENTRY_WIRE_LEN;
    if (n > E2EE_SENDER_KEY_MAX_SKIPPED)
        return E2EE_ERR_CORRUPT;
    int rc = e2ee__skcache_reserve(&s->skipped, (uint32_t)n);
    uint64_t prev = 0;
    for (size_t i = 0; i < n && rc == E2EE_OK; i++) {
        const uint8_t *p = b->data + i * E2EE__SKCACHE_ENTRY_WIRE_LEN;
        uint32_t k = be32(p);
        if ((i && k <= prev) || k < s->base_iteration || k >= s->iteration ||
            (uint64_t)k + E2EE_SENDER_KEY_MAX_SKIPPED + 1 < s->iteration)
            rc = E2EE_ERR_CORRUPT;
        else
            e2ee__skcache_put_reserved(&s->skipped, k, p + 4);
        prev = k;
    }
    return rc;
}

static int state_from_msg(e2ee__sender_key_state **out, const E2ee__SenderKeyState *m)
{
    *out = NULL;
    if (m->base.n_unknown_fields || m->key_id == 0 || m->base_iteration > m->iteration ||
        m->base_iteration == E2EE_SENDER_KEY_ITERATION_END ||
        m->chain_key.len != E2EE_SENDER_KEY_CHAIN_LEN ||
        m->signing_public.len != E2EE_ED25519_PK_LEN)
        return E2EE_ERR_CORRUPT;
    e2ee__sender_key_state *s = NULL;
    int rc = e2ee__sender_key_state_new(&s, m->key_id, m->epoch, m->base_iteration,
                                        m->chain_key.data, m->signing_public.data);
    if (rc != E2EE_OK)
        goto done;
    s->iteration = m->iteration;
    s->retired_at_ms = m->retired_at_ms;
    rc = skipped_from_msg(s, &m->skipped);
done:
    if (rc == E2EE_OK) {
        *out = s;
    } else {
        e2ee__sender_key_state_free(s);
    }
    return rc;
}

/* Key ids unique over states and expired ids; epochs never increase from current to old. */
static int record_consistent(const e2ee__sender_key_record *r)
{
    for (uint32_t i = 0; i < r->n_states; i++) {
        if (i && r->states[i]->epoch > r->states[i - 1]->epoch)
            return 0;
        if (is_expired(r, r->states[i]->key_id))
            return 0;
        for (uint32_t j = 0; j < i; j++)
            if (r->states[j]->key_id == r->states[i]->key_id)
                return 0;
    }
    for (uint32_t i = 0; i < r->n_expired; i++) {
        if (r->expired[i] == 0)
            return 0;
        for (uint32_t j = 0; j < i; j++)
            if (r->expired[j] == r->expired[i])
                return 0;
    }
    return 1;
}

static int record_from_msg(e2ee__sender_key_record *r, const E2ee__SenderKeyRecord *m)
{
    if (m->base.n_unknown_fields || m->n_states > E2EE_SENDER_KEY_RECORD_STATES_MAX ||
        m->n_expired_key_ids > E2EE_SENDER_KEY_EXPIRED_IDS_MAX)
        return E2EE_ERR_CORRUPT;
    if (e2ee__group_sender_set_bytes(&r->sender, m->group_id.data, m->group_id.len,
                                     m->sender_user_id.data, m->sender_user_id.len,
                                     m->sender_device_id) != E2EE_OK)
        return E2EE_ERR_CORRUPT;
    r->n_expired = (uint32_t)m->n_expired_key_ids;
    if (r->n_expired)
        memcpy(r->expired, m->expired_key_ids, r->n_expired * sizeof r->expired[0]);
    int rc = E2EE_OK;
    for (size_t i = 0; i < m->n_states && rc == E2EE_OK; i++) {
        rc = state_from_msg(&r->states[i], m->states[i]);
        if (rc == E2EE_OK)
            r->n_states++;
    }
    if (rc == E2EE_OK && r->n_states && r->states[0]->retired_at_ms != 0)
        rc = E2EE_ERR_CORRUPT;
    if (rc == E2EE_OK && !record_consistent(r))
        rc = E2EE_ERR_CORRUPT;
    return rc;
}

int e2ee__sender_key_record_deserialize(e2ee__sender_key_record **out, const uint8_t *buf,
                                        size_t len, const e2ee__sender_key_window *window)
{
    if (!out)
        return E2EE_ERR_ARG;
    *out = NULL;
    if (!buf)
        return E2EE_ERR_ARG;
    if (len > E2EE_SENDER_KEY_RECORD_MAX)
        return E2EE_ERR_TOO_LARGE;
    e2ee__sender_key_window w;
    const uint8_t *body;
    size_t body_len;
    ProtobufCMessage *pm = NULL;
    e2ee__sender_key_record *r = NULL;
    int rc = window_pick(&w, window);
    if (rc == E2EE_OK)
        rc = e2ee__sender_key_check_open(buf, len, E2EE_SENDER_KEY_LABEL_RECORD, &body,
                                         &body_len);
    if (rc == E2EE_OK)
        rc = e2ee__wire_unpack(&e2ee__sender_key_record__descriptor, body, body_len,
                               E2EE_SENDER_KEY_RECORD_MAX, &pm);
    if (rc == E2EE_ERR_DECODE)
        rc = E2EE_ERR_CORRUPT;
    if (rc == E2EE_OK) {
        r = calloc(1, sizeof *r);
        rc = r ? record_from_msg(r, (const E2ee__SenderKeyRecord *)pm) : E2EE_ERR_NOMEM;
    }
    e2ee__wire_free(pm);
    if (rc != E2EE_OK) {
        e2ee__sender_key_record_free(r);
        r = NULL;
    } else {
        r->window = w;
    }
    *out = r;
    return rc;
}
