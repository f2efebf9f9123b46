/*
 * e2ee-chat: how events are written.
 *
 * chat_format_line() is the scripted form: one line per event, stable, documented in
 * docs/man/e2ee-chat.1 (section SCRIPTED OUTPUT), meant for scripts and tests.
 * chat_format_human() is the terminal form, with time, sender and ack state.
 *
 * Everything that came from a peer or the relay is written through chat_put_text(), which
 * escapes what could break the line or drive the terminal: control characters (C0, DEL,
 * C1), invalid UTF-8, line and paragraph separators and bidirectional overrides.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "chat.h"

int64_t chat_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void chat_put_time(struct strbuf *b, int64_t ms)
{
    time_t t = (time_t)(ms / 1000), now = time(NULL);
    struct tm tm, today;
    char buf[32];
    if (!localtime_r(&t, &tm) || !localtime_r(&now, &today)) {
        sb_puts(b, "--:--:--");
        return;
    }
    if (tm.tm_year != today.tm_year || tm.tm_yday != today.tm_yday)
        strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    else
        strftime(buf, sizeof buf, "%H:%M:%S", &tm);
    sb_puts(b, buf);
}

/* Decodes one UTF-8 sequence at s (n bytes left): its length and *cp, or 0 if invalid
 * (overlong forms, surrogates and values past U+10FFFF are invalid). */
static size_t utf8_decode(const unsigned char *s, size_t n, unsigned *cp)
{
    size_t len = 0;
    unsigned c = s[0], min = 0;
    if (c < 0x80)
        len = 1;
    else if (c >= 0xc2 && c <= 0xdf)
        len = 2, min = 0x80, c &= 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, min = 0x800, c &= 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, min = 0x10000, c &= 0x07;
    if (len > n)
        len = 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            len = 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if (len && (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)))
        len = 0;
    *cp = c;
    return len;
}

/* Code points written as \u{...}: C1 controls, line/paragraph separators, bidi controls. */
static int unsafe_cp(unsigned cp)
{
    return (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 ||
           (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) ||
           cp == 0x200e || cp == 0x200f || cp == 0x061c;
}

void chat_put_text(struct strbuf *b, const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, n;
    unsigned cp;
    while (i < len) {
        n = utf8_decode(s + i, len - i, &cp);
        if (n == 0) {
            sb_printf(b, "\\x%02x", s[i]);
            i++;
            continue;
        }
        if (cp == '\\')
            sb_puts(b, "\\\\");
        else if (cp == '\n')
            sb_puts(b, "\\n");
        else if (cp == '\t')
            sb_puts(b, "\\t");
        else if (cp == '\r')
            sb_puts(b, "\\r");
        else if (cp < 0x20 || cp == 0x7f)
            sb_printf(b, "\\x%02x", cp);
        else if (unsafe_cp(cp))
            sb_printf(b, "\\u{%04x}", cp);
        else
            sb_putn(b, str + i, n);
        i += n;
    }
}

static void put_s(struct strbuf *b, const char *s)
{
    if (s)
        chat_put_text(b, s, strlen(s));
}

static void put_members_spaced(struct strbuf *b, const char *members)
{
    const char *p = members ? members : "", *comma;
    while ((comma = strchr(p, ',')) != NULL) {
        chat_put_text(b, p, (size_t)(comma - p));
        sb_puts(b, ", ");
        p = comma + 1;
    }
    put_s(b, p);
}

static const char *ack_word(int state)
{
    static const char *const words[] = {
        [E2EE_ACK_SENT] = "sent",
        [E2EE_ACK_DELIVERED] = "delivered",
        [E2EE_ACK_FAILED] = "failed",
    };
    const char *w = NULL;
    if (state >= 0 && (size_t)state < sizeof words / sizeof words[0])
        w = words[state];
    return w ? w : "unknown";
}

/* ---- scripted form ---- */

static void line_ack(struct strbuf *b, const struct chat_ev *e)
{
    sb_printf(b, "ack %s %s", e->msg_id ? e->msg_id : "-", ack_word(e->state));
    if (e->state == E2EE_ACK_DELIVERED && e->to) {
        sb_putc(b, ' ');
        put_s(b, e->to);
    } else if (e->state == E2EE_ACK_FAILED) {
        sb_printf(b, " %s", e2ee_errname(e->code));
    }
}

static void line_errors(struct strbuf *b, const struct chat_ev *e)
{
    if (e->type == E2EE_EVENT_ERROR) {
        sb_printf(b, "error %s", e2ee_errname(e->code));
    } else {
        sb_printf(b, "e2ee-error %s", e2ee_errname(e->code));
        if (e->from) {
            sb_puts(b, " from ");
            put_s(b, e->from);
        }
    }
    if (e->group) {
        sb_puts(b, " group ");
        put_s(b, e->group);
    }
    if (e->type == E2EE_EVENT_E2EE_ERROR && e->msg_id)
        sb_printf(b, " id %s", e->msg_id);
    sb_puts(b, ": ");
    put_s(b, e->text);
}

static void line_membership(struct strbuf *b, const struct chat_ev *e)
{
    int with_epoch = 1;
    switch (e->type) {
    case E2EE_EVENT_GROUP_CREATED:
        sb_puts(b, "created ");
        put_s(b, e->group);
        with_epoch = 0;
        break;
    case E2EE_EVENT_GROUP_DELETED:
        sb_puts(b, "deleted ");
        put_s(b, e->group);
        sb_puts(b, " by ");
        put_s(b, e->by ? e->by : e->owner);
        with_epoch = 0;
        break;
    case E2EE_EVENT_GROUP_JOIN:
        sb_puts(b, "joined ");
        put_s(b, e->group);
        sb_puts(b, " members ");
        put_s(b, e->members);
        sb_puts(b, " owner ");
        put_s(b, e->owner);
        break;
    case E2EE_EVENT_GROUP_LEAVE:
        sb_puts(b, e->by ? "removed " : "left ");
        put_s(b, e->group);
        if (e->by) {
            sb_puts(b, " by ");
            put_s(b, e->by);
        }
        break;
    default: /* MEMBER_JOIN, MEMBER_LEAVE */
        sb_puts(b, e->type == E2EE_EVENT_MEMBER_JOIN ? "member-joined "
                   : e->by                            ? "member-removed "
                                                      : "member-left ");
        put_s(b, e->group);
        sb_putc(b, ' ');
        put_s(b, e->user);
        if (e->type == E2EE_EVENT_MEMBER_LEAVE && e->by) {
            sb_puts(b, " by ");
            put_s(b, e->by);
        }
        break;
    }
    if (with_epoch)
        sb_printf(b, " epoch %llu", (unsigned long long)e->epoch);
}

void chat_format_line(struct strbuf *b, const struct chat_ev *e)
{
    if (e->is_log) {
        sb_puts(b, "log ");
        put_s(b, e->text);
        return;
    }
    switch (e->type) {
    case E2EE_EVENT_CONNECT:
        sb_puts(b, "connected ");
        put_s(b, e->text);
        if (e->registered)
            sb_puts(b, " registered");
        break;
    case E2EE_EVENT_DISCONNECT:
        sb_printf(b, "disconnected %s", e2ee_errname(e->code));
        if (e->will_reconnect)
            sb_printf(b, " retry %u ms", (unsigned)e->retry_ms);
        if (e->text && e->text[0]) {
            sb_puts(b, ": ");
            put_s(b, e->text);
        }
        break;
    case E2EE_EVENT_ERROR:
    case E2EE_EVENT_E2EE_ERROR:
        line_errors(b, e);
        break;
    case E2EE_EVENT_DIRECT_TEXT:
    case E2EE_EVENT_DIRECT_BINARY:
        sb_puts(b, e->type == E2EE_EVENT_DIRECT_TEXT ? "direct " : "direct-binary ");
        put_s(b, e->from);
        sb_puts(b, ": ");
        if (e->type == E2EE_EVENT_DIRECT_TEXT)
            chat_put_text(b, e->text, e->len);
        else
            sb_printf(b, "%zu bytes", e->len);
        break;
    case E2EE_EVENT_GROUP_TEXT:
    case E2EE_EVENT_GROUP_BINARY:
        sb_puts(b, e->type == E2EE_EVENT_GROUP_TEXT ? "group " : "group-binary ");
        put_s(b, e->group);
        sb_putc(b, ' ');
        put_s(b, e->from);
        sb_puts(b, ": ");
        if (e->type == E2EE_EVENT_GROUP_TEXT)
            chat_put_text(b, e->text, e->len);
        else
            sb_printf(b, "%zu bytes", e->len);
        break;
    case E2EE_EVENT_MESSAGE_ACK:
    case E2EE_EVENT_GROUP_MESSAGE_ACK:
        line_ack(b, e);
        break;
    case E2EE_EVENT_USER_CREATED:
    case E2EE_EVENT_USER_DELETED:
        sb_puts(b, e->type == E2EE_EVENT_USER_CREATED ? "user-created " : "user-deleted ");
        put_s(b, e->user);
        break;
    case E2EE_EVENT_PEER_IDENTITY_CHANGED:
        sb_puts(b, "identity-changed ");
        put_s(b, e->user);
        sb_putc(b, ' ');
        put_s(b, e->old_fp);
        sb_putc(b, ' ');
        put_s(b, e->new_fp);
        sb_puts(b, e->accepted ? " accepted" : " blocked");
        break;
    default:
        line_membership(b, e);
        break;
    }
}

/* ---- terminal form ---- */

static void human_ack(struct strbuf *b, const struct chat *ch, const struct chat_ev *e)
{
    const struct chat_sent *s = chat_find_sent(ch, e->msg_id ? e->msg_id : "");
    sb_printf(b, "(%s", ack_word(e->state));
    if (e->state == E2EE_ACK_DELIVERED && e->group && e->to) {
        sb_puts(b, " to ");
        put_s(b, e->to);
    } else if (e->state == E2EE_ACK_FAILED) {
        sb_printf(b, ": %s", e2ee_strerror(e->code));
    }
    sb_puts(b, ") you -> ");
    if (s) {
        put_s(b, s->dest);
        sb_puts(b, ": ");
        put_s(b, s->snippet);
    } else if (e->group) {
        sb_putc(b, '#');
        put_s(b, e->group);
        sb_printf(b, ": message %s", e->msg_id ? e->msg_id : "?");
    } else {
        put_s(b, e->to);
        sb_printf(b, ": message %s", e->msg_id ? e->msg_id : "?");
    }
}

static void human_membership(struct strbuf *b, const struct chat_ev *e)
{
    sb_putc(b, '#');
    put_s(b, e->group);
    sb_puts(b, ": ");
    switch (e->type) {
    case E2EE_EVENT_GROUP_CREATED:
        sb_puts(b, "you created the group");
        break;
    case E2EE_EVENT_GROUP_DELETED:
        sb_puts(b, "the group was deleted by ");
        put_s(b, e->by ? e->by : e->owner);
        break;
    case E2EE_EVENT_GROUP_JOIN:
        sb_puts(b, "you joined; members: ");
        put_members_spaced(b, e->members);
        sb_puts(b, " (owner ");
        put_s(b, e->owner);
        sb_putc(b, ')');
        break;
    case E2EE_EVENT_GROUP_LEAVE:
        if (e->by) {
            sb_puts(b, "you were removed by ");
            put_s(b, e->by);
        } else {
            sb_puts(b, "you left the group");
        }
        break;
    case E2EE_EVENT_MEMBER_JOIN:
        put_s(b, e->user);
        sb_puts(b, " joined (new sender keys from now on)");
        break;
    default:
        put_s(b, e->user);
        if (e->by) {
            sb_puts(b, " was removed by ");
            put_s(b, e->by);
        } else {
            sb_puts(b, " left");
        }
        sb_puts(b, " (new sender keys from now on)");
        break;
    }
}

static void human_misc(struct strbuf *b, const struct chat_ev *e)
{
    switch (e->type) {
    case E2EE_EVENT_CONNECT:
        sb_puts(b, "connected to ");
        put_s(b, e->text);
        if (e->registered)
            sb_puts(b, " (new identity registered)");
        if (e->queued)
            sb_printf(b, "; sending %zu queued message%s", e->queued, e->queued == 1 ? "" : "s");
        break;
    case E2EE_EVENT_DISCONNECT:
        sb_puts(b, "disconnected");
        if (e->text && e->text[0]) {
            sb_puts(b, ": ");
            put_s(b, e->text);
        }
        sb_printf(b, " (%s)", e2ee_errname(e->code));
        if (e->will_reconnect)
            sb_printf(b, "; retrying in %.1f s", e->retry_ms / 1000.0);
        break;
    case E2EE_EVENT_ERROR:
        sb_puts(b, "error");
        if (e->group) {
            sb_puts(b, " in #");
            put_s(b, e->group);
        }
        sb_puts(b, ": ");
        put_s(b, e->text);
        sb_printf(b, " (%s)", e2ee_errname(e->code));
        break;
    case E2EE_EVENT_E2EE_ERROR:
        sb_puts(b, "a message");
        if (e->from) {
            sb_puts(b, " from ");
            put_s(b, e->from);
        }
        if (e->group) {
            sb_puts(b, " in #");
            put_s(b, e->group);
        }
        sb_puts(b, " was rejected: ");
        put_s(b, e->text);
        sb_printf(b, " (%s)", e2ee_errname(e->code));
        break;
    case E2EE_EVENT_USER_CREATED:
    case E2EE_EVENT_USER_DELETED:
        sb_puts(b, "user ");
        put_s(b, e->user);
        sb_puts(b, e->type == E2EE_EVENT_USER_CREATED ? " registered" : " deleted their account");
        break;
    default: /* PEER_IDENTITY_CHANGED */
        sb_puts(b, "WARNING: the identity key of ");
        put_s(b, e->user);
        sb_puts(b, " changed (was ");
        put_s(b, e->old_fp);
        sb_puts(b, ", now ");
        put_s(b, e->new_fp);
        if (e->accepted) {
            sb_puts(b, "); accepted (--accept-identity-changes)");
        } else {
            sb_puts(b, "); messages with them are blocked until you compare /fp ");
            put_s(b, e->user);
            sb_puts(b, " with them and type /trust ");
            put_s(b, e->user);
            sb_putc(b, ' ');
            put_s(b, e->new_fp);
        }
        break;
    }
}

void chat_format_human(struct strbuf *b, const struct chat *ch, const struct chat_ev *e)
{
    chat_put_time(b, e->at_ms);
    sb_putc(b, ' ');
    if (e->is_log) {
        sb_puts(b, "[log] ");
        put_s(b, e->text);
        return;
    }
    switch (e->type) {
    case E2EE_EVENT_DIRECT_TEXT:
    case E2EE_EVENT_DIRECT_BINARY:
    case E2EE_EVENT_GROUP_TEXT:
    case E2EE_EVENT_GROUP_BINARY:
        if (e->group) {
            sb_putc(b, '#');
            put_s(b, e->group);
            sb_putc(b, ' ');
        }
        put_s(b, e->from);
        sb_puts(b, ": ");
        if (e->type == E2EE_EVENT_DIRECT_TEXT || e->type == E2EE_EVENT_GROUP_TEXT)
            chat_put_text(b, e->text, e->len);
        else
            sb_printf(b, "[binary data, %zu bytes]", e->len);
        break;
    case E2EE_EVENT_MESSAGE_ACK:
    case E2EE_EVENT_GROUP_MESSAGE_ACK:
        human_ack(b, ch, e);
        break;
    case E2EE_EVENT_GROUP_CREATED:
    case E2EE_EVENT_GROUP_DELETED:
    case E2EE_EVENT_GROUP_JOIN:
    case E2EE_EVENT_GROUP_LEAVE:
    case E2EE_EVENT_MEMBER_JOIN:
    case E2EE_EVENT_MEMBER_LEAVE:
        human_membership(b, e);
        break;
    default:
        human_misc(b, e);
        break;
    }
}
