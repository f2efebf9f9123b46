/* e2ee proto: fingerprints and safety numbers. */
#include "proto/fingerprint.h"

#include <string.h>

int e2ee__fingerprint(uint8_t out[E2EE_FINGERPRINT_LEN], const e2ee__identity_pub *id)
{
    if (!out)
        return E2EE_ERR_ARG;
    memset(out, 0, E2EE_FINGERPRINT_LEN);
    if (!id)
        return E2EE_ERR_ARG;
    const uint8_t *parts[3] = {(const uint8_t *)E2EE_FINGERPRINT_LABEL, id->sign_pk, id->dh_pk};
    const size_t lens[3] = {sizeof E2EE_FINGERPRINT_LABEL - 1, sizeof id->sign_pk,
                            sizeof id->dh_pk};
    return e2ee__sha256_parts(out, parts, lens, 3);
}

/* Appends the six 5-digit groups of fp at out (each followed by a space). */
static char *render(char *out, const uint8_t fp[E2EE_FINGERPRINT_LEN])
{
    for (int g = 0; g < E2EE_FINGERPRINT_GROUPS; g++) {
        uint64_t v = 0;
        for (int i = 0; i < E2EE_FINGERPRINT_GROUP_BYTES; i++)
            v = (v << 8) | fp[E2EE_FINGERPRINT_GROUP_BYTES * g + i];
        v %= 100000;
        for (int d = E2EE_SAFETY_NUMBER_GROUP_DIGITS - 1; d >= 0; d--) {
            out[d] = (char)('0' + v % 10);
            v /= 10;
        }
        out[E2EE_SAFETY_NUMBER_GROUP_DIGITS] = ' ';
        out += E2EE_SAFETY_NUMBER_GROUP_DIGITS + 1;
    }
    return out;
}

int e2ee__safety_number(char out[E2EE_SAFETY_NUMBER_LEN], const e2ee__identity_pub *a,
                        const e2ee__identity_pub *b)
{
    uint8_t fa[E2EE_FINGERPRINT_LEN], fb[E2EE_FINGERPRINT_LEN];
    if (!out)
        return E2EE_ERR_ARG;
    out[0] = '\0';
    if (!a || !b)
        return E2EE_ERR_ARG;
    int rc = e2ee__fingerprint(fa, a);
    if (rc == E2EE_OK)
        rc = e2ee__fingerprint(fb, b);
    if (rc == E2EE_OK) {
        int a_first = memcmp(fa, fb, sizeof fa) <= 0;
        char *p = render(out, a_first ? fa : fb);
        p = render(p, a_first ? fb : fa);
        p[-1] = '\0'; /* the last group's trailing space */
    }
    return rc;
}
