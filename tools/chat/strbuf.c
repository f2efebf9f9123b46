/* e2ee-chat: growable string buffer (see strbuf.h). */
#include "strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SB_MIN_CAP 128

void sb_init(struct strbuf *b)
{
    memset(b, 0, sizeof *b);
}

void sb_free(struct strbuf *b)
{
    free(b->p);
    sb_init(b);
}

void sb_reset(struct strbuf *b)
{
    b->len = 0;
    b->oom = 0;
    if (b->p)
        b->p[0] = '\0';
}

/* Makes room for n more bytes and the NUL; 0 on success. */
static int sb_grow(struct strbuf *b, size_t n)
{
    size_t want, cap;
    char *p;
    int rc = -1;
    if (b->oom || n > (size_t)-1 / 2 - b->len)
        goto done;
    want = b->len + n + 1;
    if (want <= b->cap) {
        rc = 0;
        goto done;
    }
    cap = b->cap ? b->cap : SB_MIN_CAP;
    while (cap < want)
        cap *= 2;
    p = realloc(b->p, cap);
    if (p) {
        b->p = p;
        b->cap = cap;
        rc = 0;
    }
done:
    if (rc != 0)
        b->oom = 1;
    return rc;
}

void sb_putn(struct strbuf *b, const char *s, size_t n)
{
    if (sb_grow(b, n) != 0)
        return;
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void sb_puts(struct strbuf *b, const char *s)
{
    sb_putn(b, s, strlen(s));
}

void sb_putc(struct strbuf *b, char c)
{
    sb_putn(b, &c, 1);
}

void sb_vprintf(struct strbuf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    int n;
    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0 || sb_grow(b, (size_t)n) != 0)
        return;
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void sb_printf(struct strbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sb_vprintf(b, fmt, ap);
    va_end(ap);
}

const char *sb_str(const struct strbuf *b)
{
    return (b->p && !b->oom) ? b->p : "";
}
