/*
 * e2ee-chat: a growable, always NUL-terminated string buffer. Out of memory sets `oom` and
 * makes later appends no-ops, so callers check once at the end.
 */
#ifndef E2EE_CHAT_STRBUF_H
#define E2EE_CHAT_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

struct strbuf {
    char *p;      /* the text, NUL-terminated ("" before the first append) */
    size_t len;   /* bytes of text, without the NUL */
    size_t cap;   /* bytes allocated */
    int oom;      /* an append failed */
};

void sb_init(struct strbuf *b);
void sb_free(struct strbuf *b);
void sb_reset(struct strbuf *b);
void sb_putn(struct strbuf *b, const char *s, size_t n);
void sb_puts(struct strbuf *b, const char *s);
void sb_putc(struct strbuf *b, char c);
void sb_printf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_vprintf(struct strbuf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* The text, or "" when nothing could be stored. */
const char *sb_str(const struct strbuf *b);

#endif
