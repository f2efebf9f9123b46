/* e2ee tests: shared helpers. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "testutil.h"

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int tu_hex(const char *hex, uint8_t **out, size_t *len)
{
    size_t n = strlen(hex);
    *out = NULL;
    *len = 0;
    if (n % 2)
        return -1;
    uint8_t *b = malloc(n / 2 + 1);
    if (!b)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hexval((unsigned char)hex[2 * i]), lo = hexval((unsigned char)hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            free(b);
            return -1;
        }
        b[i] = (uint8_t)(hi << 4 | lo);
    }
    *out = b;
    *len = n / 2;
    return 0;
}

char *tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 65536 + 1 > cap) {
            cap = (n + 65536 + 1) * 2;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, 65536, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    buf[n] = 0;
    if (len)
        *len = n;
    return buf;
}

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v && *v ? v : dflt;
}

const char *tu_cryptography_vectors_dir(void)
{
    return env_or("E2EE_CRYPTOGRAPHY_VECTORS", E2EE_CRYPTOGRAPHY_VECTORS_DEFAULT);
}

const char *tu_wycheproof_dir(void)
{
    return env_or("E2EE_WYCHEPROOF_DIR", E2EE_WYCHEPROOF_DIR_DEFAULT);
}

const char *tu_bin_dir(void) { return env_or("E2EE_BIN_DIR", E2EE_BIN_DIR); }

const char *tu_source_dir(void) { return E2EE_SOURCE_DIR; }

int tu_rsp_open(struct tu_rsp *r, const char *path)
{
    memset(r, 0, sizeof *r);
    r->f = fopen(path, "r");
    return r->f ? 0 : -1;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = 0;
    return s;
}

static void clear_fields(struct tu_rsp *r)
{
    for (size_t i = 0; i < r->nfields; i++) {
        free(r->keys[i]);
        free(r->vals[i]);
    }
    r->nfields = 0;
}

int tu_rsp_next(struct tu_rsp *r)
{
    clear_fields(r);
    ssize_t got;
    while ((got = getline(&r->line, &r->cap, r->f)) >= 0) {
        r->line_no++;
        char *s = trim(r->line);
        if (*s == '#')
            continue;
        if (*s == 0) {
            if (r->nfields)
                return 1;
            continue;
        }
        if (*s == '[') {
            if (r->nfields) {
                /* header right after a block: keep it for the next call */
                fseek(r->f, -(long)got, SEEK_CUR);
                r->line_no--;
                return 1;
            }
            snprintf(r->section, sizeof r->section, "%s", s);
            continue;
        }
        if (r->nfields == TU_RSP_MAX_FIELDS)
            continue;
        char *eq = strchr(s, '=');
        if (eq)
            *eq = 0;
        r->keys[r->nfields] = strdup(trim(s));
        r->vals[r->nfields] = strdup(eq ? trim(eq + 1) : "");
        r->nfields++;
    }
    return r->nfields ? 1 : 0;
}

const char *tu_rsp_get(const struct tu_rsp *r, const char *key)
{
    for (size_t i = 0; i < r->nfields; i++) {
        if (strcmp(r->keys[i], key) == 0)
            return r->vals[i];
    }
    return NULL;
}

void tu_rsp_close(struct tu_rsp *r)
{
    clear_fields(r);
    free(r->line);
    if (r->f)
        fclose(r->f);
    memset(r, 0, sizeof *r);
}

void tu_drbg_init(struct tu_drbg *d, uint64_t seed)
{
    memset(d, 0, sizeof *d);
    memcpy(d->seed, &seed, sizeof seed);
    d->used = sizeof d->block;
}

void tu_drbg_bytes(struct tu_drbg *d, uint8_t *out, size_t len)
{
    while (len) {
        if (d->used == sizeof d->block) {
            uint8_t in[40];
            memcpy(in, d->seed, 32);
            memcpy(in + 32, &d->counter, 8);
            d->counter++;
            if (e2ee__sha256(d->block, in, sizeof in) != E2EE_OK)
                abort();
            d->used = 0;
        }
        size_t take = sizeof d->block - d->used;
        if (take > len)
            take = len;
        memcpy(out, d->block + d->used, take);
        d->used += take;
        out += take;
        len -= take;
    }
}

uint32_t tu_drbg_u32(struct tu_drbg *d)
{
    uint32_t v;
    tu_drbg_bytes(d, (uint8_t *)&v, sizeof v);
    return v;
}

uint32_t tu_drbg_below(struct tu_drbg *d, uint32_t n)
{
    uint64_t v = tu_drbg_u32(d);
    return (uint32_t)((v * n) >> 32);
}
