/* e2ee proto: the Double Ratchet (one session state). */
#include "proto/ratchet.h"

#include <stdlib.h>
#include <string.h>

#include "proto/pwcodec.h"

static const uint8_t k_zero_salt[32];

int e2ee__ratchet_kdf_rk(uint8_t rk_out[32], uint8_t ck_out[32], const uint8_t rk[32],
                         const uint8_t dh[32])
{
    uint8_t okm[64];
    int rc = e2ee__hkdf_sha256(okm, sizeof okm, dh, 32, rk, 32,
                               (const uint8_t *)E2EE_RATCHET_ROOT_LABEL,
                               sizeof E2EE_RATCHET_ROOT_LABEL - 1);
    if (rc == E2EE_OK) {
        memcpy(rk_out, okm, 32);
        memcpy(ck_out, okm + 32, 32);
    }
    e2ee__wipe(okm, sizeof okm);
    return rc;
}

int e2ee__ratchet_kdf_ck(uint8_t mk_out[32], uint8_t ck_out[32], const uint8_t ck[32])
{
    static const uint8_t k_mk = 0x01, k_ck = 0x02;
    uint8_t next[32];
    int rc = e2ee__hmac_sha256(mk_out, ck, 32, &k_mk, 1);
    if (rc == E2EE_OK)
        rc = e2ee__hmac_sha256(next, ck, 32, &k_ck, 1);
    if (rc == E2EE_OK)
        memcpy(ck_out, next, 32); /* ck_out may alias ck */
    e2ee__wipe(next, sizeof next);
    return rc;
}

int e2ee__ratchet_message_keys(uint8_t key[E2EE_AEAD_KEY_LEN],
                               uint8_t nonce[E2EE_AEAD_NONCE_LEN], const uint8_t mk[32])
{
    uint8_t okm[E2EE_AEAD_KEY_LEN + E2EE_AEAD_NONCE_LEN];
    int rc = e2ee__hkdf_sha256(okm, sizeof okm, mk, 32, k_zero_salt, sizeof k_zero_salt,
                               (const uint8_t *)E2EE_RATCHET_MSG_LABEL,
                               sizeof E2EE_RATCHET_MSG_LABEL - 1);
    if (rc == E2EE_OK) {
        memcpy(key, okm, E2EE_AEAD_KEY_LEN);
        memcpy(nonce, okm + E2EE_AEAD_KEY_LEN, E2EE_AEAD_NONCE_LEN);
    }
    e2ee__wipe(okm, sizeof okm);
    return rc;
}

size_t e2ee__ratchet_ad(uint8_t *out, const e2ee__address *sender_addr,
                        const e2ee__identity_pub *sender, const e2ee__address *recipient_addr,
                        const e2ee__identity_pub *recipient, const e2ee__ratchet_header *h)
{
    size_t off = sizeof E2EE_RATCHET_AD_LABEL - 1;
    memcpy(out, E2EE_RATCHET_AD_LABEL, off);
    off += e2ee__pwcodec_binding(out + off, sender_addr, sender);
    off += e2ee__pwcodec_binding(out + off, recipient_addr, recipient);
    memcpy(out + off, h->pub, 32);
    e2ee__pwcodec_be32(out + off + 32, h->pn);
    e2ee__pwcodec_be32(out + off + 36, h->n);
    return off + E2EE_RATCHET_HEADER_LEN;
}

static void ratchet_init_common(e2ee__ratchet *r, const uint8_t sk[32],
                                const e2ee__address *local_addr,
                                const e2ee__identity_pub *local_id,
                                const e2ee__address *remote_addr,
                                const e2ee__identity_pub *remote_id)
{
    memset(r, 0, sizeof *r);
    e2ee__skipped_init(&r->skipped);
    r->local_addr = *local_addr;
    r->local_id = *local_id;
    r->remote_addr = *remote_addr;
    r->remote_id = *remote_id;
    memcpy(r->root, sk, 32);
}

void e2ee__ratchet_init_initiator(e2ee__ratchet *r, const uint8_t sk[32],
                                  const uint8_t spk_pub[32], const e2ee__address *local_addr,
                                  const e2ee__identity_pub *local_id,
                                  const e2ee__address *remote_addr,
                                  const e2ee__identity_pub *remote_id)
{
    ratchet_init_common(r, sk, local_addr, local_id, remote_addr, remote_id);
    r->has_dhr = 1;
    memcpy(r->dhr, spk_pub, 32);
}

void e2ee__ratchet_init_responder(e2ee__ratchet *r, const uint8_t sk[32],
                                  const uint8_t spk_pub[32], const uint8_t spk_sk[32],
                                  const e2ee__address *local_addr,
                                  const e2ee__identity_pub *local_id,
                                  const e2ee__address *remote_addr,
                                  const e2ee__identity_pub *remote_id)
{
    ratchet_init_common(r, sk, local_addr, local_id, remote_addr, remote_id);
    r->has_dhs = 1;
    memcpy(r->dhs_pk, spk_pub, 32);
    memcpy(r->dhs_sk, spk_sk, 32);
}

void e2ee__ratchet_cleanup(e2ee__ratchet *r)
{
    if (!r)
        return;
    e2ee__skipped_cleanup(&r->skipped);
    e2ee__wipe(r, sizeof *r);
    e2ee__skipped_init(&r->skipped);
}

/* ---- encrypt ---- */

/* What an encrypt changes, computed before anything is committed. */
struct send_plan {
    uint8_t root[32], dhs_pk[32], dhs_sk[32], cks[32];
    uint32_t ns, pn;
    int stepped;
};

/* Sending DH step (when due) into plan. */
static int plan_send_step(const e2ee__ratchet *r, const e2ee__rng *rng, struct send_plan *p)
{
    uint8_t dh[32];
    int rc = E2EE_OK;
    memcpy(p->root, r->root, 32);
    memcpy(p->dhs_pk, r->dhs_pk, 32);
    memcpy(p->dhs_sk, r->dhs_sk, 32);
    memcpy(p->cks, r->cks, 32);
    p->ns = r->ns;
    p->pn = r->pn;
    p->stepped = 0;
    if (r->has_cks)
        return E2EE_OK;
    if (!r->has_dhr)
        return E2EE_ERR_STATE;
    rc = e2ee__rng_fill(rng, p->dhs_sk, 32);
    if (rc == E2EE_OK)
        rc = e2ee__x25519_public(p->dhs_pk, p->dhs_sk);
    if (rc == E2EE_OK)
        rc = e2ee__x25519(dh, p->dhs_sk, r->dhr);
    if (rc == E2EE_OK)
        rc = e2ee__ratchet_kdf_rk(p->root, p->cks, r->root, dh);
    p->pn = r->ns;
    p->ns = 0;
    p->stepped = 1;
    e2ee__wipe(dh, sizeof dh);
    return rc;
}

/* Seals with message key seed mk under the AD of (sender, recipient, h). */
static int seal_with(const e2ee__ratchet *r, const uint8_t mk[32], const e2ee__ratchet_header *h,
                     const uint8_t *pt, size_t ptlen, uint8_t *ct)
{
    uint8_t key[E2EE_AEAD_KEY_LEN], nonce[E2EE_AEAD_NONCE_LEN], ad[E2EE_RATCHET_AD_MAX];
    size_t adlen = e2ee__ratchet_ad(ad, &r->local_addr, &r->local_id, &r->remote_addr,
                                    &r->remote_id, h);
    int rc = e2ee__ratchet_message_keys(key, nonce, mk);
    if (rc == E2EE_OK)
        rc = e2ee__aead_seal(ct, key, nonce, ad, adlen, pt, ptlen);
    e2ee__wipe(key, sizeof key);
    e2ee__wipe(nonce, sizeof nonce);
    return rc;
}

int e2ee__ratchet_encrypt(e2ee__ratchet *r, const e2ee__rng *rng, const uint8_t *pt,
                          size_t ptlen, e2ee__ratchet_header *h, uint8_t *ct)
{
    struct send_plan p;
    uint8_t mk[32];
    if (!r || !h || !ct || (!pt && ptlen))
        return E2EE_ERR_ARG;
    memset(h, 0, sizeof *h);
    if (ptlen > E2EE_RATCHET_MAX_PLAINTEXT)
        return E2EE_ERR_TOO_LARGE;
    int rc = plan_send_step(r, rng, &p);
    if (rc == E2EE_OK && p.ns == UINT32_MAX)
        rc = E2EE_ERR_LIMIT;
    if (rc == E2EE_OK)
        rc = e2ee__ratchet_kdf_ck(mk, p.cks, p.cks);
    if (rc == E2EE_OK) {
        memcpy(h->pub, p.dhs_pk, 32);
        h->pn = p.pn;
        h->n = p.ns;
        rc = seal_with(r, mk, h, pt, ptlen, ct);
    }
    if (rc == E2EE_OK) {
        memcpy(r->root, p.root, 32);
        memcpy(r->dhs_pk, p.dhs_pk, 32);
        memcpy(r->dhs_sk, p.dhs_sk, 32);
        memcpy(r->cks, p.cks, 32);
        r->has_dhs = r->has_cks = 1;
        r->ns = p.ns + 1;
        r->pn = p.pn;
    } else {
        memset(h, 0, sizeof *h);
        e2ee__wipe(ct, ptlen + E2EE_AEAD_TAG_LEN);
    }
    e2ee__wipe(&p, sizeof p);
    e2ee__wipe(mk, sizeof mk);
    return rc;
}

/* ---- decrypt ---- */

/* What a decrypt changes, computed before anything is committed. */
struct recv_plan {
    uint16_t hit;          /* skipped key used, or NIL */
    int dh_step;           /* h opens a new receiving chain */
    uint8_t root[32];      /* root key after the step */
    uint8_t ckr[32];       /* receiving chain key after this message */
    uint32_t nr;           /* receiving counter after this message */
    uint32_t n_old;        /* keys skipped on the closing chain: numbers r->nr .. */
    uint32_t n_new;        /* keys skipped on the message's chain: numbers first_new .. */
    uint32_t first_new;
    uint8_t (*mks)[32];    /* n_old + n_new skipped message key seeds */
    uint8_t mk[32];        /* this message's key seed */
};

static void plan_free(struct recv_plan *p)
{
    if (p->mks) {
        e2ee__wipe(p->mks, (size_t)(p->n_old + p->n_new) * 32);
        free(p->mks);
    }
    e2ee__wipe(p, sizeof *p);
}

/* Advances chain key ck from number `from` to `to`, storing the skipped key seeds at
 * out[0..to-from), then derives the key of message `to`. */
static int walk_chain(uint8_t ck[32], uint32_t from, uint32_t to, uint8_t (*out)[32],
                      uint8_t *mk)
{
    int rc = E2EE_OK;
    for (uint32_t i = from; i < to && rc == E2EE_OK; i++)
        rc = e2ee__ratchet_kdf_ck(out[i - from], ck, ck);
    if (rc == E2EE_OK && mk)
        rc = e2ee__ratchet_kdf_ck(mk, ck, ck);
    return rc;
}

static int is_retired(const e2ee__ratchet *r, const uint8_t pub[32])
{
    for (uint32_t i = 0; i < r->n_retired; i++) {
        if (memcmp(r->retired[i], pub, 32) == 0)
            return 1;
    }
    return 0;
}

/* Classifies h and sizes the plan: which path, how many keys are skipped. */
static int plan_classify(const e2ee__ratchet *r, const e2ee__ratchet_header *h,
                         struct recv_plan *p)
{
    p->hit = e2ee__skipped_find(&r->skipped, h->pub, h->n);
    if (p->hit != E2EE_SKIPPED_NIL)
        return E2EE_OK;
    if (r->has_dhr && memcmp(h->pub, r->dhr, 32) == 0) {
        if (!r->has_ckr)
            return E2EE_ERR_AUTH; /* the peer never sends on its initial (prekey) key */
        if (h->n < r->nr)
            return E2EE_ERR_DUPLICATE;
        if (h->n - r->nr > E2EE_RATCHET_MAX_SKIP_PER_CHAIN)
            return E2EE_ERR_TOO_FAR_AHEAD;
        p->n_new = h->n - r->nr;
        p->first_new = r->nr;
        return E2EE_OK;
    }
    if (is_retired(r, h->pub))
        return E2EE_ERR_REPLAY;
    if (!r->has_dhs)
        return E2EE_ERR_AUTH; /* nothing of ours that this message could answer */
    p->dh_step = 1;
    if (r->has_ckr && h->pn > r->nr) {
        if (h->pn - r->nr > E2EE_RATCHET_MAX_SKIP_PER_CHAIN)
            return E2EE_ERR_TOO_FAR_AHEAD;
        p->n_old = h->pn - r->nr;
    }
    if (h->n > E2EE_RATCHET_MAX_SKIP_PER_CHAIN)
        return E2EE_ERR_TOO_FAR_AHEAD;
    p->n_new = h->n;
    p->first_new = 0;
    return E2EE_OK;
}

/* Derives every key the plan needs. */
static int plan_derive(const e2ee__ratchet *r, const e2ee__ratchet_header *h,
                       struct recv_plan *p)
{
    uint8_t ck[32], dh[32];
    int rc = E2EE_OK;
    size_t nkeys = (size_t)p->n_old + p->n_new;
    if (p->hit != E2EE_SKIPPED_NIL) {
        memcpy(p->mk, r->skipped.e[p->hit].mk, 32);
        return E2EE_OK;
    }
    if (nkeys) {
        p->mks = calloc(nkeys, 32);
        if (!p->mks)
            return E2EE_ERR_NOMEM;
    }
    memcpy(p->root, r->root, 32);
    memcpy(ck, r->ckr, 32);
    if (p->dh_step) {
        if (p->n_old)
            rc = walk_chain(ck, r->nr, r->nr + p->n_old, p->mks, NULL);
        if (rc == E2EE_OK)
            rc = e2ee__x25519(dh, r->dhs_sk, h->pub);
        if (rc == E2EE_OK)
            rc = e2ee__ratchet_kdf_rk(p->root, ck, r->root, dh);
    }
    /* no skipped key: mks is NULL, and NULL + 0 is undefined */
    if (rc == E2EE_OK)
        rc = walk_chain(ck, p->first_new, h->n, p->mks ? p->mks + p->n_old : NULL, p->mk);
    memcpy(p->ckr, ck, 32);
    p->nr = h->n + 1;
    e2ee__wipe(ck, sizeof ck);
    e2ee__wipe(dh, sizeof dh);
    return rc;
}

static int open_with(const e2ee__ratchet *r, const uint8_t mk[32],
                     const e2ee__ratchet_header *h, const uint8_t *ct, size_t ctlen,
                     uint8_t *pt)
{
    uint8_t key[E2EE_AEAD_KEY_LEN], nonce[E2EE_AEAD_NONCE_LEN], ad[E2EE_RATCHET_AD_MAX];
    size_t adlen = e2ee__ratchet_ad(ad, &r->remote_addr, &r->remote_id, &r->local_addr,
                                    &r->local_id, h);
    int rc = e2ee__ratchet_message_keys(key, nonce, mk);
    if (rc == E2EE_OK)
        rc = e2ee__aead_open(pt, key, nonce, ad, adlen, ct, ctlen);
    e2ee__wipe(key, sizeof key);
    e2ee__wipe(nonce, sizeof nonce);
    return rc;
}

/* Moves the current receiving chain to the retired list, forgetting the oldest one. */
static void retire_current(e2ee__ratchet *r)
{
    if (r->n_retired == E2EE_RATCHET_MAX_RETIRED) {
        e2ee__skipped_drop_chain(&r->skipped, r->retired[0]);
        memmove(r->retired[0], r->retired[1], (E2EE_RATCHET_MAX_RETIRED - 1) * 32);
        r->n_retired--;
    }
    memcpy(r->retired[r->n_retired++], r->dhr, 32);
}

/* Applies a successful plan; cannot fail (memory was reserved). */
static void plan_commit(e2ee__ratchet *r, const e2ee__ratchet_header *h,
                        const struct recv_plan *p)
{
    if (p->hit != E2EE_SKIPPED_NIL) {
        e2ee__skipped_remove(&r->skipped, p->hit);
        return;
    }
    if (p->dh_step) {
        for (uint32_t i = 0; i < p->n_old; i++)
            e2ee__skipped_push(&r->skipped, r->dhr, r->nr + i, p->mks[i]);
        if (r->has_ckr)
            retire_current(r);
        memcpy(r->dhr, h->pub, 32);
        r->has_dhr = 1;
        memcpy(r->root, p->root, 32);
        e2ee__wipe(r->cks, 32);
        r->has_cks = 0;
    }
    for (uint32_t i = 0; i < p->n_new; i++)
        e2ee__skipped_push(&r->skipped, h->pub, p->first_new + i, p->mks[p->n_old + i]);
    memcpy(r->ckr, p->ckr, 32);
    r->has_ckr = 1;
    r->nr = p->nr;
}

int e2ee__ratchet_decrypt(e2ee__ratchet *r, const e2ee__ratchet_header *h, const uint8_t *ct,
                          size_t ctlen, uint8_t *pt)
{
    struct recv_plan p;
    memset(&p, 0, sizeof p);
    if (!r || !h || !ct || !pt)
        return E2EE_ERR_ARG;
    if (ctlen < E2EE_AEAD_TAG_LEN || ctlen - E2EE_AEAD_TAG_LEN > E2EE_RATCHET_MAX_PLAINTEXT)
        return E2EE_ERR_LENGTH;
    int rc = plan_classify(r, h, &p);
    if (rc == E2EE_OK)
        rc = plan_derive(r, h, &p);
    if (rc == E2EE_OK)
        rc = e2ee__skipped_reserve(&r->skipped, (size_t)p.n_old + p.n_new);
    if (rc == E2EE_OK)
        rc = open_with(r, p.mk, h, ct, ctlen, pt);
    if (rc == E2EE_OK)
        plan_commit(r, h, &p);
    else
        e2ee__wipe(pt, ctlen - E2EE_AEAD_TAG_LEN);
    plan_free(&p);
    return rc;
}
