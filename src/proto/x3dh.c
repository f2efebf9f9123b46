/* e2ee proto: X3DH key agreement. */
#include "proto/x3dh.h"

#include <string.h>

#include "proto/pwcodec.h"

#define DH_LEN E2EE_X25519_KEY_LEN
#define IKM_MAX (32 + 4 * DH_LEN)
#define INFO_MAX (sizeof E2EE_X3DH_LABEL - 1 + 2 * E2EE_PWCODEC_BINDING_MAX)

/* SK = HKDF(0xFF*32 || dhs, zero salt, label || binding(A) || binding(B)). */
static int x3dh_kdf(uint8_t sk[E2EE_X3DH_SK_LEN], uint8_t *ikm, size_t ikm_len,
                    const e2ee__address *a_addr, const e2ee__identity_pub *a,
                    const e2ee__address *b_addr, const e2ee__identity_pub *b)
{
    static const uint8_t zero_salt[32];
    uint8_t info[INFO_MAX];
    size_t off = sizeof E2EE_X3DH_LABEL - 1;
    memcpy(info, E2EE_X3DH_LABEL, off);
    off += e2ee__pwcodec_binding(info + off, a_addr, a);
    off += e2ee__pwcodec_binding(info + off, b_addr, b);
    memset(ikm, 0xFF, 32);
    return e2ee__hkdf_sha256(sk, E2EE_X3DH_SK_LEN, ikm, ikm_len, zero_salt, sizeof zero_salt,
                             info, off);
}

int e2ee__x3dh_initiator(uint8_t sk[E2EE_X3DH_SK_LEN], uint8_t base_pk[E2EE_X25519_KEY_LEN],
                         const e2ee__identity *local, const e2ee__address *local_addr,
                         const e2ee__prekey_bundle *bundle, const e2ee__rng *rng)
{
    uint8_t ikm[IKM_MAX], ek[E2EE_X25519_KEY_LEN];
    size_t n = 32;
    if (!sk || !base_pk)
        return E2EE_ERR_ARG;
    memset(sk, 0, E2EE_X3DH_SK_LEN);
    memset(base_pk, 0, E2EE_X25519_KEY_LEN);
    if (!local || !local_addr || !bundle || !rng)
        return E2EE_ERR_ARG;
    int rc = e2ee__prekey_bundle_verify(bundle);
    if (rc == E2EE_OK)
        rc = e2ee__rng_fill(rng, ek, sizeof ek);
    if (rc == E2EE_OK)
        rc = e2ee__x25519_public(base_pk, ek);
    if (rc == E2EE_OK)
        rc = e2ee__x25519(ikm + n, e2ee__identity_dh_secret(local), bundle->spk_pk);
    n += DH_LEN;
    if (rc == E2EE_OK)
        rc = e2ee__x25519(ikm + n, ek, bundle->identity.dh_pk);
    n += DH_LEN;
    if (rc == E2EE_OK)
        rc = e2ee__x25519(ikm + n, ek, bundle->spk_pk);
    n += DH_LEN;
    if (rc == E2EE_OK && bundle->has_opk) {
        rc = e2ee__x25519(ikm + n, ek, bundle->opk_pk);
        n += DH_LEN;
    }
    if (rc == E2EE_OK)
        rc = x3dh_kdf(sk, ikm, n, local_addr, e2ee__identity_public(local), &bundle->address,
                      &bundle->identity);
    if (rc != E2EE_OK) {
        e2ee__wipe(sk, E2EE_X3DH_SK_LEN);
        e2ee__wipe(base_pk, E2EE_X25519_KEY_LEN);
    }
    e2ee__wipe(ikm, sizeof ikm);
    e2ee__wipe(ek, sizeof ek);
    return rc;
}

int e2ee__x3dh_responder(uint8_t sk[E2EE_X3DH_SK_LEN], const e2ee__identity *local,
                         const e2ee__address *local_addr, const e2ee__signed_prekey *spk,
                         const e2ee__one_time_prekey *opk, const e2ee__identity_pub *remote,
                         const e2ee__address *remote_addr,
                         const uint8_t base_pk[E2EE_X25519_KEY_LEN])
{
    uint8_t ikm[IKM_MAX];
    size_t n = 32;
    if (!sk)
        return E2EE_ERR_ARG;
    memset(sk, 0, E2EE_X3DH_SK_LEN);
    if (!local || !local_addr || !spk || !remote || !remote_addr || !base_pk)
        return E2EE_ERR_ARG;
    int rc = e2ee__x25519(ikm + n, spk->sk, remote->dh_pk);
    n += DH_LEN;
    if (rc == E2EE_OK)
        rc = e2ee__x25519(ikm + n, e2ee__identity_dh_secret(local), base_pk);
    n += DH_LEN;
    if (rc == E2EE_OK)
        rc = e2ee__x25519(ikm + n, spk->sk, base_pk);
    n += DH_LEN;
    if (rc == E2EE_OK && opk) {
        rc = e2ee__x25519(ikm + n, opk->sk, base_pk);
        n += DH_LEN;
    }
    if (rc == E2EE_OK)
        rc = x3dh_kdf(sk, ikm, n, remote_addr, remote, local_addr,
                      e2ee__identity_public(local));
    if (rc != E2EE_OK)
        e2ee__wipe(sk, E2EE_X3DH_SK_LEN);
    e2ee__wipe(ikm, sizeof ikm);
    return rc;
}
