/* e2ee proto: pairwise session record and cipher. */
#include "proto/session.h"

#include <stdlib.h>
#include <string.h>

#include "pairwise.pb-c.h"
#include "proto/pwcodec.h"
#include "proto/session_state.h"
#include "proto/x3dh.h"
#include "wire/wire.h"

/* ---- states and records ---- */

e2ee__session_state *e2ee__session_state_new(void)
{
    e2ee__session_state *s = calloc(1, sizeof *s);
    if (s)
        e2ee__skipped_init(&s->r.skipped);
    return s;
}

void e2ee__session_state_free(e2ee__session_state *s)
{
    if (!s)
        return;
    e2ee__ratchet_cleanup(&s->r);
    e2ee__wipe(s, sizeof *s);
    free(s);
}

int e2ee__session_record_new(e2ee__session_record **out)
{
    if (!out)
        return E2EE_ERR_ARG;
    *out = calloc(1, sizeof **out);
    return *out ? E2EE_OK : E2EE_ERR_NOMEM;
}

void e2ee__session_record_free(e2ee__session_record *rec)
{
    if (!rec)
        return;
    for (size_t i = 0; i < rec->n; i++)
        e2ee__session_state_free(rec->st[i]);
    e2ee__wipe(rec, sizeof *rec);
    free(rec);
}

int e2ee__session_record_serialize(const e2ee__session_record *rec, uint8_t **out,
                                   size_t *out_len)
{
    if (!out || !out_len)
        return E2EE_ERR_ARG;
    *out = NULL;
    *out_len = 0;
    if (!rec)
        return E2EE_ERR_ARG;
    return e2ee__session_codec_pack(rec, out, out_len);
}

int e2ee__session_record_deserialize(e2ee__session_record **out, const uint8_t *buf,
                                     size_t len)
{
    e2ee__session_record *rec = NULL;
    if (!out)
        return E2EE_ERR_ARG;
    *out = NULL;
    if (!buf && len)
        return E2EE_ERR_ARG;
    int rc = e2ee__session_record_new(&rec);
    if (rc == E2EE_OK)
        rc = e2ee__session_codec_unpack(rec, buf, len);
    if (rc != E2EE_OK) {
        e2ee__session_record_free(rec);
        rec = NULL;
    }
    *out = rec;
    return rc;
}

size_t e2ee__session_record_state_count(const e2ee__session_record *rec)
{
    return rec ? rec->n : 0;
}

int e2ee__session_record_has_session(const e2ee__session_record *rec)
{
    return rec && rec->n > 0;
}

int e2ee__session_record_is_pending(const e2ee__session_record *rec)
{
    return rec && rec->n > 0 && rec->st[0]->pending_prekey;
}

int e2ee__session_record_remote_identity(const e2ee__session_record *rec,
                                         e2ee__identity_pub *out)
{
    if (!out)
        return E2EE_ERR_ARG;
    memset(out, 0, sizeof *out);
    if (!rec)
        return E2EE_ERR_ARG;
    if (rec->n == 0)
        return E2EE_ERR_NO_SESSION;
    *out = rec->st[0]->r.remote_id;
    return E2EE_OK;
}

/* Makes s the current state; the oldest state beyond the cap is freed. */
static void record_push_front(e2ee__session_record *rec, e2ee__session_state *s)
{
    if (rec->n == E2EE_SESSION_MAX_STATES) {
        e2ee__session_state_free(rec->st[rec->n - 1]);
        rec->n--;
    }
    memmove(&rec->st[1], &rec->st[0], rec->n * sizeof rec->st[0]);
    rec->st[0] = s;
    rec->n++;
}

/* Moves state i to the front, keeping the order of the others. */
static void record_promote(e2ee__session_record *rec, size_t i)
{
    e2ee__session_state *s = rec->st[i];
    memmove(&rec->st[1], &rec->st[0], i * sizeof rec->st[0]);
    rec->st[0] = s;
}

/* ---- initiate ---- */

int e2ee__session_initiate(e2ee__session_record *rec, const e2ee__identity *local,
                           const e2ee__address *local_addr, const e2ee__prekey_bundle *bundle,
                           const e2ee__rng *rng)
{
    uint8_t sk[E2EE_X3DH_SK_LEN];
    e2ee__session_state *s = NULL;
    if (!rec || !local || !local_addr || !bundle || !rng)
        return E2EE_ERR_ARG;
    s = e2ee__session_state_new();
    int rc = s ? E2EE_OK : E2EE_ERR_NOMEM;
    if (rc == E2EE_OK)
        rc = e2ee__x3dh_initiator(sk, s->base_key, local, local_addr, bundle, rng);
    if (rc == E2EE_OK) {
        e2ee__ratchet_init_initiator(&s->r, sk, bundle->spk_pk, local_addr,
                                     e2ee__identity_public(local), &bundle->address,
                                     &bundle->identity);
        s->initiator = 1;
        s->pending_prekey = 1;
        s->spk_id = bundle->spk_id;
        s->has_opk = bundle->has_opk;
        s->opk_id = bundle->has_opk ? bundle->opk_id : 0;
        record_push_front(rec, s);
        s = NULL;
    }
    e2ee__session_state_free(s);
    e2ee__wipe(sk, sizeof sk);
    return rc;
}

/* ---- encrypt ---- */

/* Packs the envelope around a sealed ratchet message. */
static int pack_message(const e2ee__session_state *s, const e2ee__ratchet_header *h,
                        const uint8_t *ct, size_t ctlen, uint8_t **out, size_t *out_len)
{
    E2ee__RatchetMessage rm = E2EE__RATCHET_MESSAGE__INIT;
    E2ee__PreKeyMessage pm = E2EE__PRE_KEY_MESSAGE__INIT;
    E2ee__IdentityKey ik = E2EE__IDENTITY_KEY__INIT;
    E2ee__PairwiseMessage m = E2EE__PAIRWISE_MESSAGE__INIT;
    rm.has_ratchet_key = rm.has_counter = rm.has_previous_counter = rm.has_ciphertext = 1;
    rm.ratchet_key = (ProtobufCBinaryData){32, (uint8_t *)h->pub};
    rm.counter = h->n;
    rm.previous_counter = h->pn;
    rm.ciphertext = (ProtobufCBinaryData){ctlen, (uint8_t *)ct};
    m.has_version = 1;
    m.version = E2EE_PAIRWISE_MESSAGE_VERSION;
    if (s->pending_prekey) {
        e2ee__pwcodec_identity_to_msg(&ik, &s->r.local_id);
        pm.identity = &ik;
        pm.has_base_key = pm.has_signed_prekey_id = 1;
        pm.base_key = (ProtobufCBinaryData){32, (uint8_t *)s->base_key};
        pm.signed_prekey_id = s->spk_id;
        pm.has_one_time_prekey_id = s->has_opk;
        pm.one_time_prekey_id = s->opk_id;
        pm.message = &rm;
        m.body_case = E2EE__PAIRWISE_MESSAGE__BODY_PREKEY;
        m.prekey = &pm;
    } else {
        m.body_case = E2EE__PAIRWISE_MESSAGE__BODY_RATCHET;
        m.ratchet = &rm;
    }
    return e2ee__wire_pack(&m.base, E2EE_PAIRWISE_MESSAGE_MAX, out, out_len);
}

int e2ee__session_encrypt(e2ee__session_record *rec, const e2ee__rng *rng, const uint8_t *pt,
                          size_t ptlen, uint8_t **out, size_t *out_len)
{
    e2ee__ratchet_header h;
    e2ee__ratchet saved;
    uint8_t *ct = NULL;
    if (!out || !out_len)
        return E2EE_ERR_ARG;
    *out = NULL;
    *out_len = 0;
    if (!rec || !rng || (!pt && ptlen))
        return E2EE_ERR_ARG;
    if (rec->n == 0)
        return E2EE_ERR_NO_SESSION;
    if (ptlen > E2EE_RATCHET_MAX_PLAINTEXT)
        return E2EE_ERR_TOO_LARGE;
    e2ee__session_state *s = rec->st[0];
    ct = malloc(ptlen + E2EE_AEAD_TAG_LEN);
    if (!ct)
        return E2EE_ERR_NOMEM;
    /* the skipped store is untouched by encrypt: a shallow copy of the rest suffices */
    saved = s->r;
    int rc = e2ee__ratchet_encrypt(&s->r, rng, pt, ptlen, &h, ct);
    if (rc == E2EE_OK) {
        rc = pack_message(s, &h, ct, ptlen + E2EE_AEAD_TAG_LEN, out, out_len);
        if (rc != E2EE_OK)
            s->r = saved; /* nothing was sent: the keys were not used */
    }
    e2ee__wipe(&saved, sizeof saved);
    free(ct);
    return rc;
}

/* ---- decrypt ---- */

/* A parsed ratchet message (pointers into the decoded protobuf). */
struct parsed_ratchet {
    e2ee__ratchet_header h;
    const uint8_t *ct;
    size_t ctlen;
};

static int parse_ratchet(struct parsed_ratchet *p, const E2ee__RatchetMessage *m)
{
    if (!m || !m->has_counter || !m->has_previous_counter || !m->has_ciphertext ||
        !e2ee__pwcodec_take(p->h.pub, 32, m->has_ratchet_key, &m->ratchet_key) ||
        !e2ee__pwcodec_x25519_canonical(p->h.pub) ||
        m->ciphertext.len < E2EE_AEAD_TAG_LEN ||
        m->ciphertext.len - E2EE_AEAD_TAG_LEN > E2EE_RATCHET_MAX_PLAINTEXT)
        return E2EE_ERR_DECODE;
    p->h.n = m->counter;
    p->h.pn = m->previous_counter;
    p->ct = m->ciphertext.data;
    p->ctlen = m->ciphertext.len;
    return E2EE_OK;
}

struct parsed_prekey {
    e2ee__pairwise_message_info info;
    struct parsed_ratchet inner;
};

static int parse_prekey(struct parsed_prekey *p, const E2ee__PreKeyMessage *m)
{
    if (!m || !m->has_signed_prekey_id ||
        !e2ee__pwcodec_identity_from_msg(&p->info.sender_identity, m->identity) ||
        !e2ee__pwcodec_take(p->info.base_key, 32, m->has_base_key, &m->base_key) ||
        !e2ee__pwcodec_x25519_canonical(p->info.base_key))
        return E2EE_ERR_DECODE;
    p->info.is_prekey = 1;
    p->info.signed_prekey_id = m->signed_prekey_id;
    p->info.has_one_time_prekey = m->has_one_time_prekey_id ? 1 : 0;
    p->info.one_time_prekey_id = m->one_time_prekey_id;
    return parse_ratchet(&p->inner, m->message);
}

/* Decodes the envelope; *outmsg is freed by the caller with e2ee__wire_free. */
static int unpack_envelope(const uint8_t *msg, size_t len, ProtobufCMessage **outmsg,
                           const E2ee__PairwiseMessage **env)
{
    int rc = e2ee__wire_unpack(&e2ee__pairwise_message__descriptor, msg, len,
                               E2EE_PAIRWISE_MESSAGE_MAX, outmsg);
    *env = (const E2ee__PairwiseMessage *)*outmsg;
    if (rc != E2EE_OK)
        return rc;
    if (!(*env)->has_version)
        return E2EE_ERR_DECODE;
    if ((*env)->version != E2EE_PAIRWISE_MESSAGE_VERSION)
        return E2EE_ERR_VERSION;
    if ((*env)->body_case != E2EE__PAIRWISE_MESSAGE__BODY_PREKEY &&
        (*env)->body_case != E2EE__PAIRWISE_MESSAGE__BODY_RATCHET)
        return E2EE_ERR_DECODE;
    return E2EE_OK;
}

int e2ee__pairwise_message_peek(const uint8_t *msg, size_t len,
                                e2ee__pairwise_message_info *info)
{
    ProtobufCMessage *raw = NULL;
    const E2ee__PairwiseMessage *env = NULL;
    struct parsed_prekey p;
    memset(&p, 0, sizeof p);
    if (!info)
        return E2EE_ERR_ARG;
    memset(info, 0, sizeof *info);
    if (!msg && len)
        return E2EE_ERR_ARG;
    int rc = unpack_envelope(msg, len, &raw, &env);
    if (rc == E2EE_OK && env->body_case == E2EE__PAIRWISE_MESSAGE__BODY_PREKEY)
        rc = parse_prekey(&p, env->prekey);
    else if (rc == E2EE_OK)
        rc = parse_ratchet(&p.inner, env->ratchet);
    if (rc == E2EE_OK)
        *info = p.info;
    e2ee__wire_free(raw);
    return rc;
}

/* Allocates the plaintext buffer of a result (at least one byte). */
static int result_alloc(e2ee__session_decrypt_result *res, size_t ctlen)
{
    res->plaintext_len = ctlen - E2EE_AEAD_TAG_LEN;
    res->plaintext = malloc(res->plaintext_len ? res->plaintext_len : 1);
    return res->plaintext ? E2EE_OK : E2EE_ERR_NOMEM;
}

/* Ranks the errors of several states: a recognised ratchet key beats a failed trial. */
static int more_specific(int rc)
{
    return rc == E2EE_ERR_DUPLICATE || rc == E2EE_ERR_REPLAY;
}

/* Tries the states of remote_addr in order (only_responder_base: restrict to the responder
 * state of that base key). On success the state that decrypted becomes current. */
static int try_states(e2ee__session_record *rec, const e2ee__address *remote_addr,
                      const uint8_t *only_base, const struct parsed_ratchet *p,
                      e2ee__session_decrypt_result *res)
{
    int rc = E2EE_ERR_NO_SESSION, tried = 0;
    for (size_t i = 0; i < rec->n; i++) {
        e2ee__session_state *s = rec->st[i];
        if (!e2ee__address_equal(&s->r.remote_addr, remote_addr))
            continue;
        if (only_base && (s->initiator || memcmp(s->base_key, only_base, 32) != 0))
            continue;
        int r = e2ee__ratchet_decrypt(&s->r, &p->h, p->ct, p->ctlen, res->plaintext);
        if (r == E2EE_OK) {
            s->pending_prekey = 0;
            res->remote_identity = s->r.remote_id;
            record_promote(rec, i);
            return E2EE_OK;
        }
        if (!tried || (more_specific(r) && !more_specific(rc)))
            rc = r;
        tried = 1;
    }
    return rc;
}

/* Looks up the prekeys a pre-key message names. */
static int load_prekeys(const e2ee__prekey_source *src, const e2ee__pairwise_message_info *in,
                        e2ee__signed_prekey *spk, e2ee__one_time_prekey *opk)
{
    if (!src || !src->signed_prekey || (in->has_one_time_prekey && !src->one_time_prekey))
        return E2EE_ERR_UNKNOWN_KEY;
    int rc = src->signed_prekey(src->ctx, in->signed_prekey_id, spk);
    if (rc == E2EE_OK && spk->id != in->signed_prekey_id)
        rc = E2EE_ERR_UNKNOWN_KEY;
    if (rc == E2EE_OK && in->has_one_time_prekey) {
        rc = src->one_time_prekey(src->ctx, in->one_time_prekey_id, opk);
        if (rc == E2EE_OK && opk->id != in->one_time_prekey_id)
            rc = E2EE_ERR_UNKNOWN_KEY;
    }
    return rc;
}

/* X3DH as responder and the first decrypt in the new state. */
static int accept_prekey(e2ee__session_record *rec, const e2ee__identity *local,
                         const e2ee__address *local_addr, const e2ee__address *remote_addr,
                         const e2ee__prekey_source *prekeys, const struct parsed_prekey *p,
                         e2ee__session_decrypt_result *res)
{
    e2ee__signed_prekey spk;
    e2ee__one_time_prekey opk;
    uint8_t sk[E2EE_X3DH_SK_LEN];
    const e2ee__pairwise_message_info *in = &p->info;
    memset(&spk, 0, sizeof spk);
    memset(&opk, 0, sizeof opk);
    e2ee__session_state *s = e2ee__session_state_new();
    int rc = s ? load_prekeys(prekeys, in, &spk, &opk) : E2EE_ERR_NOMEM;
    if (rc == E2EE_OK)
        rc = e2ee__x3dh_responder(sk, local, local_addr, &spk,
                                  in->has_one_time_prekey ? &opk : NULL, &in->sender_identity,
                                  remote_addr, in->base_key);
    if (rc == E2EE_OK) {
        e2ee__ratchet_init_responder(&s->r, sk, spk.pk, spk.sk, local_addr,
                                     e2ee__identity_public(local), remote_addr,
                                     &in->sender_identity);
        memcpy(s->base_key, in->base_key, 32);
        rc = e2ee__ratchet_decrypt(&s->r, &p->inner.h, p->inner.ct, p->inner.ctlen,
                                   res->plaintext);
    }
    if (rc == E2EE_OK) {
        res->new_session = 1;
        res->used_one_time_prekey = in->has_one_time_prekey;
        res->one_time_prekey_id = in->has_one_time_prekey ? in->one_time_prekey_id : 0;
        res->remote_identity = in->sender_identity;
        record_push_front(rec, s);
        s = NULL;
    }
    e2ee__session_state_free(s);
    e2ee__signed_prekey_wipe(&spk);
    e2ee__one_time_prekey_wipe(&opk);
    e2ee__wipe(sk, sizeof sk);
    return rc;
}

static int decrypt_prekey(e2ee__session_record *rec, const e2ee__identity *local,
                          const e2ee__address *local_addr, const e2ee__address *remote_addr,
                          const e2ee__identity_pub *expected_remote,
                          const e2ee__prekey_source *prekeys, const E2ee__PreKeyMessage *m,
                          e2ee__session_decrypt_result *res)
{
    struct parsed_prekey p;
    memset(&p, 0, sizeof p);
    int rc = parse_prekey(&p, m);
    int known = rc == E2EE_OK && expected_remote &&
                e2ee__identity_pub_equal(expected_remote, &p.info.sender_identity);
    if (rc == E2EE_OK && expected_remote && !known)
        rc = E2EE_ERR_UNTRUSTED_IDENTITY;
    /* the caller verified expected_remote: the same identity is not verified again */
    if (rc == E2EE_OK && !known && e2ee__identity_pub_verify(&p.info.sender_identity) != E2EE_OK)
        rc = E2EE_ERR_AUTH;
    if (rc == E2EE_OK)
        rc = result_alloc(res, p.inner.ctlen);
    if (rc != E2EE_OK)
        return rc;
    res->prekey_message = 1;
    rc = try_states(rec, remote_addr, p.info.base_key, &p.inner, res);
    if (rc == E2EE_ERR_NO_SESSION)
        rc = accept_prekey(rec, local, local_addr, remote_addr, prekeys, &p, res);
    return rc;
}

int e2ee__session_decrypt(e2ee__session_record *rec, const e2ee__identity *local,
                          const e2ee__address *local_addr, const e2ee__address *remote_addr,
                          const e2ee__identity_pub *expected_remote,
                          const e2ee__prekey_source *prekeys, const uint8_t *msg, size_t len,
                          e2ee__session_decrypt_result *res)
{
    ProtobufCMessage *raw = NULL;
    const E2ee__PairwiseMessage *env = NULL;
    struct parsed_ratchet p;
    if (!res)
        return E2EE_ERR_ARG;
    memset(res, 0, sizeof *res);
    if (!rec || !local || !local_addr || !remote_addr || (!msg && len))
        return E2EE_ERR_ARG;
    int rc = unpack_envelope(msg, len, &raw, &env);
    if (rc == E2EE_OK && env->body_case == E2EE__PAIRWISE_MESSAGE__BODY_PREKEY) {
        rc = decrypt_prekey(rec, local, local_addr, remote_addr, expected_remote, prekeys,
                            env->prekey, res);
    } else if (rc == E2EE_OK) {
        rc = parse_ratchet(&p, env->ratchet);
        if (rc == E2EE_OK)
            rc = result_alloc(res, p.ctlen);
        if (rc == E2EE_OK)
            rc = try_states(rec, remote_addr, NULL, &p, res);
    }
    if (rc != E2EE_OK)
        e2ee__session_decrypt_result_cleanup(res);
    e2ee__wire_free(raw);
    return rc;
}

void e2ee__session_decrypt_result_cleanup(e2ee__session_decrypt_result *res)
{
    if (!res)
        return;
    if (res->plaintext) {
        e2ee__wipe(res->plaintext, res->plaintext_len);
        free(res->plaintext);
    }
    memset(res, 0, sizeof *res);
}
