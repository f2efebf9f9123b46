/* e2ee client: small helpers (clocks, id syntax, UTF-8, message ids, containers). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/client_internal.h"

uint64_t e2ee__client_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int64_t e2ee__client_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int id_char(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '.' || ch == '_' || ch == '@' || ch == '+' || ch == '-';
}

int e2ee__client_id_check(const char *s)
{
    int rc = s ? E2EE_OK : E2EE_ERR_ARG;
    size_t n = s ? strnlen(s, E2EE_USER_ID_MAX + 1) : 0;

    if (rc == E2EE_OK && (n == 0 || n > E2EE_USER_ID_MAX))
        rc = E2EE_ERR_LENGTH;
    for (size_t i = 0; rc == E2EE_OK && i < n; i++) {
        if (!id_char((unsigned char)s[i]))
            rc = E2EE_ERR_ARG;
    }
    return rc;
}

int e2ee__client_id_valid(const char *s)
{
    return e2ee__client_id_check(s) == E2EE_OK;
}

/* Length of the UTF-8 sequence starting with b, 0 when b cannot start one. */
static size_t utf8_len(uint8_t b)
{
    size_t n = 0;
    if (b >= 0x01 && b < 0x80)
        n = 1;
    else if (b >= 0xC2 && b <= 0xDF)
        n = 2;
    else if (b >= 0xE0 && b <= 0xEF)
        n = 3;
    else if (b >= 0xF0 && b <= 0xF4)
        n = 4;
    return n;
}

/* Checks the continuation bytes of one sequence (overlongs, surrogates, > U+10FFFF). */
static int utf8_seq_ok(const uint8_t *p, size_t n)
{
    int ok = 1;
    for (size_t i = 1; i < n; i++)
        ok &= (p[i] & 0xC0) == 0x80;
    if (ok && n == 3)
        ok = !(p[0] == 0xE0 && p[1] < 0xA0) && !(p[0] == 0xED && p[1] > 0x9F);
    if (ok && n == 4)
        ok = !(p[0] == 0xF0 && p[1] < 0x90) && !(p[0] == 0xF4 && p[1] > 0x8F);
    return ok;
}

int e2ee__client_utf8_valid(const uint8_t *buf, size_t len)
{
    size_t i = 0;
    int ok = buf != NULL || len == 0;
    while (ok && i < len) {
        size_t n = utf8_len(buf[i]);
        ok = n > 0 && n <= len - i && utf8_seq_ok(buf + i, n);
        i += n;
    }
    return ok;
}

int e2ee__client_msg_id_new(uint64_t *id, int control)
{
    uint8_t b[8];
    uint64_t v = 0;
    int rc = e2ee__random_bytes(b, sizeof b);

    for (size_t i = 0; rc == E2EE_OK && i < sizeof b; i++)
        v = v << 8 | b[i];
    v &= ~E2EE__CLIENT_ID_CONTROL;
    if (v == 0)
        v = 1; /* the relay refuses 0; one value in 2^63 */
    if (control)
        v |= E2EE__CLIENT_ID_CONTROL;
    *id = rc == E2EE_OK ? v : 0;
    return rc;
}

void e2ee__client_hex(const uint8_t *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0x0f];
    }
    out[2 * len] = '\0';
}

void e2ee__client_msg_id_hex(uint64_t id, char out[E2EE_MSG_ID_SIZE])
{
    uint8_t b[8];
    for (int i = 7; i >= 0; i--) {
        b[i] = (uint8_t)id;
        id >>= 8;
    }
    e2ee__client_hex(b, sizeof b, out);
}

static int hex_digit(char ch)
{
    int v = -1;
    if (ch >= '0' && ch <= '9')
        v = ch - '0';
    else if (ch >= 'a' && ch <= 'f')
        v = ch - 'a' + 10;
    return v;
}

int e2ee__client_msg_id_parse(const char *hex, uint64_t *id)
{
    uint64_t v = 0;
    int rc = hex && strlen(hex) == E2EE_MSG_ID_SIZE - 1 ? E2EE_OK : E2EE_ERR_ARG;
    for (size_t i = 0; rc == E2EE_OK && i < E2EE_MSG_ID_SIZE - 1; i++) {
        int d = hex_digit(hex[i]);
        if (d < 0)
            rc = E2EE_ERR_ARG;
        v = v << 4 | (uint64_t)(d & 0xf);
    }
    *id = rc == E2EE_OK ? v : 0;
    return rc;
}

void e2ee__client_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

uint32_t e2ee__client_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void e2ee__client_copy_id(char *dst, const char *src)
{
    size_t n = src ? strnlen(src, E2EE__CLIENT_ID_BUF - 1) : 0;
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

/* ---- vector ---- */

int e2ee__vec_push(struct e2ee__vec *vec, void *p)
{
    int rc = E2EE_OK;
    if (vec->n == vec->cap) {
        size_t cap = vec->cap ? vec->cap * 2 : 8;
        void **v = realloc(vec->v, cap * sizeof *v);
        if (v) {
            vec->v = v;
            vec->cap = cap;
        } else {
            rc = E2EE_ERR_NOMEM;
        }
    }
    if (rc == E2EE_OK)
        vec->v[vec->n++] = p;
    return rc;
}

void *e2ee__vec_take(struct e2ee__vec *vec, size_t i)
{
    void *p = NULL;
    if (i < vec->n) {
        p = vec->v[i];
        memmove(vec->v + i, vec->v + i + 1, (vec->n - i - 1) * sizeof *vec->v);
        vec->n--;
    }
    return p;
}

void e2ee__vec_clear(struct e2ee__vec *vec, void (*fn)(void *))
{
    for (size_t i = 0; i < vec->n; i++) {
        if (fn)
            fn(vec->v[i]);
        else
            free(vec->v[i]);
    }
    free(vec->v);
    vec->v = NULL;
    vec->n = 0;
    vec->cap = 0;
}
