/* e2ee tests: small helpers shared by the test programs (not part of the library). */
#ifndef E2EE_TESTUTIL_H
#define E2EE_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <setjmp.h> /* cmocka needs these before cmocka.h */
#include <cmocka.h>

/* Exit status that ctest reports as "skipped". */
#define TU_SKIP 77

/* Decodes a hex string (even length, upper or lower case) into a new buffer (at least one
 * byte allocated even for ""). Returns 0 on success, -1 on bad hex. */
int tu_hex(const char *hex, uint8_t **out, size_t *len);

/* Reads a whole file into a NUL-terminated malloc'd buffer; NULL when unreadable. */
char *tu_read_file(const char *path, size_t *len);

/* Folder of Debian's cryptography_vectors (env E2EE_CRYPTOGRAPHY_VECTORS overrides). */
const char *tu_cryptography_vectors_dir(void);

/* Folder of the Wycheproof vectors (env E2EE_WYCHEPROOF_DIR overrides). */
const char *tu_wycheproof_dir(void);

/* Path of a program built into build/bin. */
const char *tu_bin_dir(void);

/* Project source folder. */
const char *tu_source_dir(void);

/*
 * Reader for NIST/RFC "KEY = VALUE" text files (.rsp and .txt). tu_rsp_next() fills the next
 * block of KEY = VALUE lines (blocks are separated by blank lines) and returns 1, or returns
 * 0 at the end of the file. "[...]" header lines set `section`; '#' lines are comments.
 * A value of a lone KEY line (e.g. "FAIL") is "".
 */
#define TU_RSP_MAX_FIELDS 16
struct tu_rsp {
    FILE *f;
    char section[256];
    size_t nfields;
    char *keys[TU_RSP_MAX_FIELDS];
    char *vals[TU_RSP_MAX_FIELDS];
    char *line;
    size_t cap;
    unsigned line_no;
};
int tu_rsp_open(struct tu_rsp *r, const char *path);
int tu_rsp_next(struct tu_rsp *r);
/* Value of key in the current block, or NULL. */
const char *tu_rsp_get(const struct tu_rsp *r, const char *key);
void tu_rsp_close(struct tu_rsp *r);

/* Deterministic byte generator for tests: SHA-256 in counter mode over a seed. */
struct tu_drbg {
    uint8_t seed[32];
    uint64_t counter;
    uint8_t block[32];
    size_t used;
};
void tu_drbg_init(struct tu_drbg *d, uint64_t seed);
void tu_drbg_bytes(struct tu_drbg *d, uint8_t *out, size_t len);
uint32_t tu_drbg_u32(struct tu_drbg *d);
/* Uniform value in [0, n) (n > 0). */
uint32_t tu_drbg_below(struct tu_drbg *d, uint32_t n);

#endif
