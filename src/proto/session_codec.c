/* e2ee proto: the session record format (SessionRecord, docs/PROTOCOL.md 1.8). */
#include <stdlib.h>
#include <string.h>

#include "pairwise.pb-c.h"
#include "proto/pwcodec.h"
#include "proto/session_state.h"
#include "wire/wire.h"

/* ---- pack ---- */

/* Messages that point into one state while it is packed. */
struct pack_scratch {
    E2ee__SessionState m;
    E2ee__IdentityBinding lb, rb;
    E2ee__IdentityKey lk, rk;
    ProtobufCBinaryData *retired;
    E2ee__SkippedMessageKey *sk;
    E2ee__SkippedMessageKey **skp;
};

static ProtobufCBinaryData bin(const uint8_t *p, size_t n)
{
    return (ProtobufCBinaryData){n, (uint8_t *)p};
}

static void pack_binding(E2ee__IdentityBinding *b, E2ee__IdentityKey *k,
                         const e2ee__address *addr, const e2ee__identity_pub *id)
{
    e2ee__pwcodec_identity_to_msg(k, id);
    b->has_user_id = b->has_device_id = 1;
    b->user_id = bin((const uint8_t *)addr->user_id, strnlen(addr->user_id, E2EE_ADDRESS_USER_ID_MAX));
    b->device_id = addr->device_id;
    b->identity = k;
}

static void pack_chains(struct pack_scratch *x, const e2ee__ratchet *r)
{
    E2ee__SessionState *m = &x->m;
    m->has_root_key = 1;
    m->root_key = bin(r->root, 32);
    m->has_sending_ratchet_public = m->has_sending_ratchet_private = r->has_dhs;
    m->sending_ratchet_public = bin(r->dhs_pk, r->has_dhs ? 32 : 0);
    m->sending_ratchet_private = bin(r->dhs_sk, r->has_dhs ? 32 : 0);
    m->has_sending_chain_key = r->has_cks;
    m->sending_chain_key = bin(r->cks, r->has_cks ? 32 : 0);
    m->has_sending_counter = m->has_previous_counter = m->has_receiving_counter = 1;
    m->sending_counter = r->ns;
    m->previous_counter = r->pn;
    m->has_receiving_ratchet_key = r->has_dhr;
    m->receiving_ratchet_key = bin(r->dhr, r->has_dhr ? 32 : 0);
    m->has_receiving_chain_key = r->has_ckr;
    m->receiving_chain_key = bin(r->ckr, r->has_ckr ? 32 : 0);
    m->receiving_counter = r->nr;
}

static int pack_lists(struct pack_scratch *x, const e2ee__ratchet *r)
{
    const e2ee__skipped_keys *s = &r->skipped;
    x->retired = calloc(E2EE_RATCHET_MAX_RETIRED, sizeof *x->retired);
    x->sk = calloc(s->count ? s->count : 1, sizeof *x->sk);
    x->skp = calloc(s->count ? s->count : 1, sizeof *x->skp);
    if (!x->retired || !x->sk || !x->skp)
        return E2EE_ERR_NOMEM;
    for (uint32_t i = 0; i < r->n_retired; i++)
        x->retired[i] = bin(r->retired[i], 32);
    x->m.n_retired_ratchet_keys = r->n_retired;
    x->m.retired_ratchet_keys = x->retired;
    size_t k = 0;
    for (uint16_t i = s->head; i != E2EE_SKIPPED_NIL; i = s->e[i].next, k++) {
        E2ee__SkippedMessageKey init = E2EE__SKIPPED_MESSAGE_KEY__INIT;
        x->sk[k] = init;
        x->sk[k].has_ratchet_key = x->sk[k].has_counter = x->sk[k].has_message_key = 1;
        x->sk[k].ratchet_key = bin(s->e[i].pub, 32);
        x->sk[k].counter = s->e[i].n;
        x->sk[k].message_key = bin(s->e[i].mk, 32);
        x->skp[k] = &x->sk[k];
    }
    x->m.n_skipped = k;
    x->m.skipped = x->skp;
    return E2EE_OK;
}

static int pack_state(struct pack_scratch *x, const e2ee__session_state *s)
{
    E2ee__SessionState m = E2EE__SESSION_STATE__INIT;
    E2ee__IdentityBinding b = E2EE__IDENTITY_BINDING__INIT;
    E2ee__IdentityKey k = E2EE__IDENTITY_KEY__INIT;
    x->m = m;
    x->lb = x->rb = b;
    x->lk = x->rk = k;
    pack_binding(&x->lb, &x->lk, &s->r.local_addr, &s->r.local_id);
    pack_binding(&x->rb, &x->rk, &s->r.remote_addr, &s->r.remote_id);
    x->m.local = &x->lb;
    x->m.remote = &x->rb;
    pack_chains(x, &s->r);
    x->m.has_initiator = x->m.has_base_key = x->m.has_pending_prekey = 1;
    x->m.initiator = s->initiator ? 1 : 0;
    x->m.base_key = bin(s->base_key, 32);
    x->m.pending_prekey = s->pending_prekey ? 1 : 0;
    if (s->pending_prekey) {
        x->m.has_signed_prekey_id = 1;
        x->m.signed_prekey_id = s->spk_id;
        x->m.has_one_time_prekey_id = s->has_opk;
        x->m.one_time_prekey_id = s->opk_id;
    }
    return pack_lists(x, &s->r);
}

static void scratch_free(struct pack_scratch *x)
{
    free(x->retired);
    if (x->sk)
        free(x->sk); /* only pointers into the state: nothing secret of its own */
    free(x->skp);
}

int e2ee__session_codec_pack(const struct e2ee__session_record *rec, uint8_t **out,
                             size_t *out_len)
{
    struct pack_scratch x[E2EE_SESSION_MAX_STATES];
    E2ee__SessionState *ptrs[E2EE_SESSION_MAX_STATES];
    E2ee__SessionRecord m = E2EE__SESSION_RECORD__INIT;
    int rc = E2EE_OK;
    memset(x, 0, sizeof x);
    for (size_t i = 0; i < rec->n && rc == E2EE_OK; i++) {
        rc = pack_state(&x[i], rec->st[i]);
        ptrs[i] = &x[i].m;
    }
    m.has_version = 1;
    m.version = E2EE_SESSION_RECORD_VERSION;
    m.n_states = rec->n;
    m.states = ptrs;
    if (rc == E2EE_OK)
        rc = e2ee__pwcodec_pack_record(&m.base, E2EE_SESSION_RECORD_LABEL,
                                       E2EE_SESSION_RECORD_MAX, out, out_len);
    for (size_t i = 0; i < rec->n; i++)
        scratch_free(&x[i]);
    return rc;
}

/* ---- unpack: every field is checked; any failure is E2EE_ERR_CORRUPT ---- */

static int unpack_binding(e2ee__address *addr, e2ee__identity_pub *id,
                          const E2ee__IdentityBinding *b)
{
    if (!b || !b->has_device_id ||
        !e2ee__pwcodec_user_id_from(addr, b->has_user_id, &b->user_id) ||
        !e2ee__pwcodec_identity_from_msg(id, b->identity))
        return 0;
    addr->device_id = b->device_id;
    return 1;
}

/* Optional 32-byte field: absent, or present with exactly 32 bytes. */
static int opt32(uint8_t out[32], int *has, protobuf_c_boolean present,
                 const ProtobufCBinaryData *b)
{
    *has = present ? 1 : 0;
    return !present || e2ee__pwcodec_take(out, 32, present, b);
}

static int unpack_chains(e2ee__ratchet *r, const E2ee__SessionState *m)
{
    int has_priv = 0;
    if (!e2ee__pwcodec_take(r->root, 32, m->has_root_key, &m->root_key) ||
        !opt32(r->dhs_pk, &r->has_dhs, m->has_sending_ratchet_public,
               &m->sending_ratchet_public) ||
        !opt32(r->dhs_sk, &has_priv, m->has_sending_ratchet_private,
               &m->sending_ratchet_private) ||
        has_priv != r->has_dhs ||
        !opt32(r->cks, &r->has_cks, m->has_sending_chain_key, &m->sending_chain_key) ||
        (r->has_cks && !r->has_dhs) ||
        !opt32(r->dhr, &r->has_dhr, m->has_receiving_ratchet_key, &m->receiving_ratchet_key) ||
        !opt32(r->ckr, &r->has_ckr, m->has_receiving_chain_key, &m->receiving_chain_key) ||
        (r->has_ckr && !r->has_dhr) ||
        !m->has_sending_counter || !m->has_previous_counter || !m->has_receiving_counter)
        return 0;
    r->ns = m->sending_counter;
    r->pn = m->previous_counter;
    r->nr = m->receiving_counter;
    return 1;
}

static int unpack_retired(e2ee__ratchet *r, const E2ee__SessionState *m)
{
    if (m->n_retired_ratchet_keys > E2EE_RATCHET_MAX_RETIRED)
        return 0;
    for (size_t i = 0; i < m->n_retired_ratchet_keys; i++) {
        if (!e2ee__pwcodec_take(r->retired[i], 32, 1, &m->retired_ratchet_keys[i]))
            return 0;
        if (r->has_dhr && memcmp(r->retired[i], r->dhr, 32) == 0)
            return 0;
        for (size_t j = 0; j < i; j++) {
            if (memcmp(r->retired[i], r->retired[j], 32) == 0)
                return 0;
        }
    }
    r->n_retired = (uint32_t)m->n_retired_ratchet_keys;
    return 1;
}

/* Position of pub in chain order (retired oldest first, then the current chain) at or after
 * `from`, or -1. */
static int chain_pos(const e2ee__ratchet *r, const uint8_t pub[32], int from)
{
    for (int i = from; i < (int)r->n_retired; i++) {
        if (memcmp(r->retired[i], pub, 32) == 0)
            return i;
    }
    if (r->has_ckr && memcmp(r->dhr, pub, 32) == 0)
        return (int)r->n_retired;
    return -1;
}

/* Skipped keys: oldest first, runs in chain order, at most the per-chain and total caps,
 * unique, and below the receiving counter on the current chain. */
static int unpack_skipped(e2ee__ratchet *r, const E2ee__SessionState *m)
{
    uint8_t pub[32], mk[32];
    int pos = 0, ok = 1;
    size_t run = 0;
    if (m->n_skipped > E2EE_RATCHET_MAX_SKIP_TOTAL)
        return 0;
    if (e2ee__skipped_reserve(&r->skipped, m->n_skipped) != E2EE_OK)
        return 0;
    for (size_t i = 0; i < m->n_skipped && ok; i++) {
        const E2ee__SkippedMessageKey *k = m->skipped[i];
        ok = k && k->has_counter && e2ee__pwcodec_take(pub, 32, k->has_ratchet_key,
                                                       &k->ratchet_key) &&
             e2ee__pwcodec_take(mk, 32, k->has_message_key, &k->message_key);
        int p = ok ? chain_pos(r, pub, pos) : -1;
        ok = ok && p >= 0 && e2ee__skipped_find(&r->skipped, pub, k->counter) ==
                                 E2EE_SKIPPED_NIL;
        if (ok) {
            run = p == pos && i > 0 ? run + 1 : 1;
            pos = p;
            ok = run <= E2EE_RATCHET_MAX_SKIP_PER_CHAIN &&
                 (p != (int)r->n_retired || k->counter < r->nr);
        }
        if (ok)
            e2ee__skipped_push(&r->skipped, pub, k->counter, mk);
    }
    e2ee__wipe(mk, sizeof mk);
    return ok;
}

static int unpack_state(e2ee__session_state *s, const E2ee__SessionState *m)
{
    if (!m || !unpack_binding(&s->r.local_addr, &s->r.local_id, m->local) ||
        !unpack_binding(&s->r.remote_addr, &s->r.remote_id, m->remote) ||
        !unpack_chains(&s->r, m) || !unpack_retired(&s->r, m) || !unpack_skipped(&s->r, m) ||
        !m->has_initiator || !m->has_pending_prekey ||
        !e2ee__pwcodec_take(s->base_key, 32, m->has_base_key, &m->base_key))
        return 0;
    s->initiator = m->initiator ? 1 : 0;
    s->pending_prekey = m->pending_prekey ? 1 : 0;
    if (s->pending_prekey) {
        if (!s->initiator || !m->has_signed_prekey_id)
            return 0;
        s->spk_id = m->signed_prekey_id;
        s->has_opk = m->has_one_time_prekey_id ? 1 : 0;
        s->opk_id = m->one_time_prekey_id;
    } else if (m->has_signed_prekey_id || m->has_one_time_prekey_id) {
        return 0;
    }
    return 1;
}

int e2ee__session_codec_unpack(struct e2ee__session_record *rec, const uint8_t *buf,
                               size_t len)
{
    ProtobufCMessage *msg = NULL;
    int rc = e2ee__pwcodec_unpack_record(&e2ee__session_record__descriptor,
                                         E2EE_SESSION_RECORD_LABEL, buf, len,
                                         E2EE_SESSION_RECORD_MAX, &msg);
    const E2ee__SessionRecord *m = (const E2ee__SessionRecord *)msg;
    if (rc != E2EE_OK)
        goto done;
    if (!m->has_version) {
        rc = E2EE_ERR_CORRUPT;
        goto done;
    }
    if (m->version != E2EE_SESSION_RECORD_VERSION) {
        rc = E2EE_ERR_VERSION;
        goto done;
    }
    if (m->n_states > E2EE_SESSION_MAX_STATES) {
        rc = E2EE_ERR_CORRUPT;
        goto done;
    }
    for (size_t i = 0; i < m->n_states && rc == E2EE_OK; i++) {
        rec->st[i] = e2ee__session_state_new();
        if (!rec->st[i]) {
            rc = E2EE_ERR_NOMEM;
            break;
        }
        rec->n = i + 1;
        if (!unpack_state(rec->st[i], m->states[i]))
            rc = E2EE_ERR_CORRUPT;
    }
done:
    e2ee__wire_free(msg);
    return rc;
}
