/* e2ee tests: bookkeeping shared by the crypto vector tests (counts, hex, paths). */
#ifndef E2EE_TEST_VECTORS_H
#define E2EE_TEST_VECTORS_H

#include <stddef.h>
#include <stdint.h>

#include "testutil.h"

/* Longest path a vector test builds. */
#define VT_PATH_MAX 1024
/* Failures printed in full per file; the rest are only counted. */
#define VT_MAX_PRINTED_FAILURES 10

/*
 * Tally of one vector file. ran = vectors exercised, passed = those that behaved as
 * expected, na = vectors our API does not cover (printed, never counted as run).
 * accepted/rejected count the Wycheproof "acceptable" vectors by the way we went.
 */
struct vt_tally {
    char file[VT_PATH_MAX];
    unsigned ran, passed, na, acc_accepted, acc_rejected;
    unsigned expand_checked; /* HKDF vectors whose PRK also checked HKDF-Expand alone */
};

/* Starts a tally for dir/rel; fills path with the full path. */
void vt_begin(struct vt_tally *t, const char *dir, const char *rel);

/* Records one vector: ok says whether it behaved as expected; why (printf format) is
 * printed for the first VT_MAX_PRINTED_FAILURES failures. */
void vt_result(struct vt_tally *t, int ok, const char *id, const char *why, ...)
    __attribute__((format(printf, 4, 5)));

/* Prints "file: ran N, passed N[, not applicable N][, acceptable ...]" and fails the
 * current cmocka test unless at least one vector ran and every one that ran passed. */
void vt_finish(const struct vt_tally *t);

/* Decodes hex or fails the current test; the buffer is malloc'd (free it). */
uint8_t *vt_hex(const char *hex, size_t *len);

/* Decodes hex that must be exactly len bytes into out, or fails the current test. */
void vt_hex_exact(const char *hex, uint8_t *out, size_t len);

/* 1 if every byte of p[0..len) is zero (plain loop: the test must not trust the library). */
int vt_all_zero(const uint8_t *p, size_t len);

#endif
