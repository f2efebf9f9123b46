/*
 * Fuzz target: a pairwise conversation driven by the input, with structure-aware mutations
 * of real messages. Alice starts from her freshly initiated record, bob from an empty one;
 * the input is a program of steps: either side encrypts, a message is delivered (in any
 * order, again, or with one field of its decoded PairwiseMessage changed and re-encoded),
 * or a record is saved and reloaded.
 *
 * Invariants: a message decrypts to what its sender encrypted, at most once; a refused
 * message leaves the record byte for byte as it was; and whatever happened, the session
 * still works at the end (a fresh message each way decrypts).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "pairwise.pb-c.h"
#include "wire/wire.h"

#define MAX_MSGS 16
#define MAX_STEPS 48
#define TEXT_MAX 8

struct wire_msg {
    uint8_t *buf;
    size_t len;
    char text[TEXT_MAX];
    int delivered; /* decrypted once */
};

struct side {
    const struct fz_party *me, *peer;
    e2ee__session_record *rec;
    struct fz_drbg drbg;
    e2ee__rng rng;
    struct wire_msg out[MAX_MSGS + 1]; /* what this side sent (the last slot: the final check) */
    size_t n_out;
};

static void side_init(struct side *s, const struct fz_party *me, const struct fz_party *peer,
                      e2ee__session_record *rec, uint64_t seed)
{
    memset(s, 0, sizeof *s);
    s->me = me;
    s->peer = peer;
    s->rec = rec;
    fz_drbg_init(&s->drbg, seed);
    s->rng = fz_rng(&s->drbg);
}

static void side_free(struct side *s)
{
    for (size_t i = 0; i < s->n_out; i++)
        free(s->out[i].buf);
    e2ee__session_record_free(s->rec);
}

/* Encrypts the next message of s while it has fewer than cap. */
static void send_one(struct side *s, char tag, size_t cap)
{
    struct wire_msg *m;
    if (s->n_out >= cap || !e2ee__session_record_has_session(s->rec))
        return;
    m = &s->out[s->n_out];
    snprintf(m->text, sizeof m->text, "%c%zu", tag, s->n_out);
    if (e2ee__session_encrypt(s->rec, &s->rng, (const uint8_t *)m->text, strlen(m->text),
                              &m->buf, &m->len) == E2EE_OK)
        s->n_out++;
}

/* Decrypts msg at `to`; checks the invariants against the original `orig`. */
static int deliver(struct side *to, struct wire_msg *orig, const uint8_t *msg, size_t len)
{
    e2ee__session_decrypt_result res;
    size_t snap_len = 0;
    uint8_t *snap = fz_record_save(to->rec, &snap_len);
    int rc = e2ee__session_decrypt(to->rec, to->me->id, &to->me->addr, &to->peer->addr, NULL,
                                   &to->me->source, msg, len, &res);
    if (rc == E2EE_OK) {
        FZ_CHECK(orig != NULL && !orig->delivered);
        FZ_CHECK(res.plaintext_len == strlen(orig->text) &&
                 memcmp(res.plaintext, orig->text, res.plaintext_len) == 0);
        orig->delivered = 1;
        e2ee__session_decrypt_result_cleanup(&res);
    } else {
        FZ_CHECK(fz_record_is(to->rec, snap, snap_len));
    }
    e2ee__wire_buf_free(snap, snap_len);
    return rc;
}

/* ---- mutations of a decoded message ---- */

static E2ee__RatchetMessage *ratchet_of(E2ee__PairwiseMessage *m)
{
    if (m->body_case == E2EE__PAIRWISE_MESSAGE__BODY_RATCHET)
        return m->ratchet;
    if (m->body_case == E2EE__PAIRWISE_MESSAGE__BODY_PREKEY)
        return m->prekey->message;
    return NULL;
}

static void flip(ProtobufCBinaryData *b, uint32_t v)
{
    if (b->len)
        b->data[(v >> 3) % b->len] ^= (uint8_t)(1u << (v & 7));
}

/* Applies mutation `kind` with value v; returns the re-encoded message (malloc'd). */
static uint8_t *mutate(const struct wire_msg *src, const struct side *other, uint8_t kind,
                       uint32_t v, size_t *len)
{
    E2ee__PairwiseMessage *m = e2ee__pairwise_message__unpack(NULL, src->len, src->buf);
    FZ_CHECK(m != NULL);
    E2ee__RatchetMessage *r = ratchet_of(m);
    E2ee__PreKeyMessage *p = m->body_case == E2EE__PAIRWISE_MESSAGE__BODY_PREKEY ? m->prekey
                                                                                 : NULL;
    E2ee__PreKeyMessage *unwrapped = NULL;
    size_t keep_len = r ? r->ciphertext.len : 0;
    switch (kind % 12) {
    case 0: if (r) r->counter = v; break;
    case 1: if (r) r->previous_counter = v; break;
    case 2: if (r) flip(&r->ratchet_key, v); break;
    case 3: if (r) flip(&r->ciphertext, v); break;
    case 4: if (r && r->ciphertext.len) r->ciphertext.len = v % r->ciphertext.len; break;
    case 5: m->version = v & 3; break;
    case 6: if (r) r->has_ratchet_key = 0; break;
    case 7: if (p) p->signed_prekey_id = v; break;
    case 8:
        if (p) {
            p->has_one_time_prekey_id = (v & 1) != 0;
            p->one_time_prekey_id = v >> 1;
        }
        break;
    case 9: if (p) flip(&p->base_key, v); break;
    case 10:
        /* the ratchet key of another message of the same sender */
        if (r && other->n_out) {
            E2ee__PairwiseMessage *o = e2ee__pairwise_message__unpack(
                NULL, other->out[v % other->n_out].len, other->out[v % other->n_out].buf);
            E2ee__RatchetMessage *orr = o ? ratchet_of(o) : NULL;
            if (orr && orr->ratchet_key.len == r->ratchet_key.len)
                memcpy(r->ratchet_key.data, orr->ratchet_key.data, r->ratchet_key.len);
            if (o)
                e2ee__pairwise_message__free_unpacked(o, NULL);
        }
        break;
    default:
        /* a pre-key message stripped to its inner ratchet message */
        if (p) {
            unwrapped = p;
            m->body_case = E2EE__PAIRWISE_MESSAGE__BODY_RATCHET;
            m->ratchet = p->message;
        }
        break;
    }
    *len = e2ee__pairwise_message__get_packed_size(m);
    uint8_t *out = malloc(*len ? *len : 1);
    FZ_CHECK(out != NULL);
    e2ee__pairwise_message__pack(m, out);
    if (unwrapped) {
        m->body_case = E2EE__PAIRWISE_MESSAGE__BODY_PREKEY;
        m->prekey = unwrapped;
    }
    if (r)
        r->ciphertext.len = keep_len;
    e2ee__pairwise_message__free_unpacked(m, NULL);
    return out;
}

static void reload(struct side *s)
{
    size_t n = 0;
    uint8_t *buf = fz_record_save(s->rec, &n);
    e2ee__session_record_free(s->rec);
    s->rec = fz_record_load(buf, n);
    e2ee__wire_buf_free(buf, n);
}

static void step(struct fz_in *in, struct side *a, struct side *b)
{
    uint8_t op = fz_u8(in);
    struct side *from = (op & 1) ? b : a, *to = (op & 1) ? a : b;
    switch ((op >> 1) % 4) {
    case 0:
        send_one(from, from == a ? 'a' : 'b', MAX_MSGS);
        break;
    case 1: {
        uint8_t idx = fz_u8(in);
        if (from->n_out) {
            struct wire_msg *m = &from->out[idx % from->n_out];
            (void)deliver(to, m, m->buf, m->len);
        }
        break;
    }
    case 2: {
        uint8_t idx = fz_u8(in), kind = fz_u8(in);
        uint32_t v = fz_u32(in);
        if (from->n_out) {
            struct wire_msg *m = &from->out[idx % from->n_out];
            size_t len = 0;
            uint8_t *buf = mutate(m, from, kind, v, &len);
            (void)deliver(to, m, buf, len);
            free(buf);
        }
        break;
    }
    default:
        reload(from);
        break;
    }
}

/* Whatever happened, a fresh message each way still decrypts. */
static void still_works(struct side *from, struct side *to, char tag)
{
    size_t before = from->n_out;
    send_one(from, tag, MAX_MSGS + 1);
    FZ_CHECK(from->n_out == before + 1);
    struct wire_msg *m = &from->out[before];
    FZ_CHECK(deliver(to, m, m->buf, m->len) == E2EE_OK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct fz_pairwise *f = fz_pairwise();
    struct fz_in in = {data, size};
    struct side a, b;
    e2ee__session_record *empty = NULL;
    FZ_CHECK(e2ee__session_record_new(&empty) == E2EE_OK);
    side_init(&a, &f->alice, &f->bob, fz_record_load(f->alice_initiated, f->alice_initiated_len),
              11);
    side_init(&b, &f->bob, &f->alice, empty, 12);
    for (int i = 0; i < MAX_STEPS && in.n; i++)
        step(&in, &a, &b);
    still_works(&a, &b, 'a');
    still_works(&b, &a, 'b');
    side_free(&a);
    side_free(&b);
    return 0;
}
