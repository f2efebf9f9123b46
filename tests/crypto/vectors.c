/* e2ee tests: bookkeeping shared by the crypto vector tests. */
#include "vectors.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void vt_begin(struct vt_tally *t, const char *dir, const char *rel)
{
    memset(t, 0, sizeof *t);
    int n = snprintf(t->file, sizeof t->file, "%s/%s", dir, rel);
    if (n < 0 || (size_t)n >= sizeof t->file)
        fail_msg("vector path too long: %s/%s", dir, rel);
}

void vt_result(struct vt_tally *t, int ok, const char *id, const char *why, ...)
{
    t->ran++;
    if (ok) {
        t->passed++;
        return;
    }
    if (t->ran - t->passed > VT_MAX_PRINTED_FAILURES)
        return;
    va_list ap;
    va_start(ap, why);
    printf("FAIL %s [%s]: ", t->file, id);
    vprintf(why, ap);
    printf("\n");
    va_end(ap);
}

void vt_finish(const struct vt_tally *t)
{
    printf("%s: ran %u, passed %u", t->file, t->ran, t->passed);
    if (t->na)
        printf(", not applicable to our API %u", t->na);
    if (t->expand_checked)
        printf(", %u of them also through HKDF-Expand from PRK", t->expand_checked);
    if (t->acc_accepted || t->acc_rejected)
        printf(", acceptable: %u accepted, %u rejected", t->acc_accepted, t->acc_rejected);
    printf("\n");
    fflush(stdout);
    if (t->ran == 0)
        fail_msg("%s: no vector ran", t->file);
    if (t->passed != t->ran)
        fail_msg("%s: %u of %u vectors failed", t->file, t->ran - t->passed, t->ran);
}

uint8_t *vt_hex(const char *hex, size_t *len)
{
    uint8_t *b = NULL;
    if (!hex || tu_hex(hex, &b, len) != 0)
        fail_msg("bad hex in vector: %.40s", hex ? hex : "(missing)");
    return b;
}

void vt_hex_exact(const char *hex, uint8_t *out, size_t len)
{
    size_t n = 0;
    uint8_t *b = vt_hex(hex, &n);
    if (n != len) {
        free(b);
        fail_msg("vector field has %zu bytes, expected %zu", n, len);
    }
    memcpy(out, b, len);
    free(b);
}

int vt_all_zero(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (p[i])
            return 0;
    }
    return 1;
}
