/*
 * e2ee-chat: the commands. Each input line is a command ("/msg bob hi") or, when it does
 * not start with '/', text for the current conversation (set by /msg USER or /g GROUP
 * without text). Everything goes through the public API; group calls use the asynchronous
 * form, so the UI never blocks: their results arrive as events.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"

#define WORD_MAX 128

struct cmd {
    const char *name;
    const char *args;
    const char *help;
    enum chat_cmd_result (*run)(struct chat *ch, const char *rest, struct chat_cmd_block *blk);
};

/* Copies the next space-separated word of *p into w (cut at cap - 1) and advances *p past
 * it and the spaces that follow. Returns 1 if there was a word. */
static int next_word(const char **p, char *w, size_t cap)
{
    const char *s = *p;
    size_t n = 0;
    int found;
    while (*s == ' ' || *s == '\t')
        s++;
    found = *s != '\0';
    while (*s && *s != ' ' && *s != '\t') {
        if (n + 1 < cap)
            w[n++] = *s;
        s++;
    }
    w[n] = '\0';
    while (*s == ' ' || *s == '\t')
        s++;
    *p = s;
    return found;
}

static void report(struct chat *ch, int code, const char *what)
{
    if (ch->tty)
        chat_printf(ch, "error: %s: %s (%s)", what, e2ee_strerror(code), e2ee_errname(code));
    else
        chat_printf(ch, "error %s: %s: %s", e2ee_errname(code), what, e2ee_strerror(code));
}

static void usage(struct chat *ch, const char *name, const char *args)
{
    if (ch->tty)
        chat_printf(ch, "usage: %s %s", name, args);
    else
        chat_printf(ch, "error usage: %s %s", name, args);
}

/* Prints a list ("groups a,b" in scripts, "groups: a, b" on the terminal). */
static void print_list(struct chat *ch, const char *label, char **v, size_t n)
{
    struct strbuf b;
    sb_init(&b);
    sb_puts(&b, label);
    if (ch->tty)
        sb_putc(&b, ':');
    for (size_t i = 0; i < n; i++) {
        sb_puts(&b, i == 0 ? " " : ch->tty ? ", " : ",");
        chat_put_text(&b, v[i], strlen(v[i]));
    }
    if (ch->tty && n == 0)
        sb_puts(&b, " (none)");
    chat_print(ch, sb_str(&b));
    sb_free(&b);
}

static void set_target(struct chat *ch, const char *t)
{
    size_t n = strlen(t);
    if (n >= sizeof ch->target) {
        report(ch, E2EE_ERR_LENGTH, t[0] == '#' ? "/g" : "/msg");
        return;
    }
    memcpy(ch->target, t, n + 1);
    if (ch->tty)
        chat_printf(ch, "plain text now goes to %s", t);
}

static void do_send(struct chat *ch, const char *dest, const char *text)
{
    char id[E2EE_MSG_ID_SIZE];
    int group = dest[0] == '#';
    int rc = group ? e2ee_client_send_group(ch->c, dest + 1, text, id)
                   : e2ee_client_send_direct(ch->c, dest, text, id);
    struct strbuf what;
    if (rc != E2EE_OK) {
        sb_init(&what);
        sb_printf(&what, "%s %s", group ? "/g" : "/msg", group ? dest + 1 : dest);
        report(ch, rc, sb_str(&what));
        sb_free(&what);
        return;
    }
    chat_track_sent(ch, id, dest, text);
    if (!ch->tty)
        chat_printf(ch, "sending %s to %s%s", id, group ? "group " : "", group ? dest + 1 : dest);
}

static enum chat_cmd_result cmd_msg(struct chat *ch, const char *rest, struct chat_cmd_block *blk)
{
    char user[WORD_MAX];
    (void)blk;
    if (!next_word(&rest, user, sizeof user)) {
        usage(ch, "/msg", "USER [TEXT]");
    } else if (!*rest) {
        set_target(ch, user);
    } else {
        do_send(ch, user, rest);
    }
    return CHAT_CMD_DONE;
}

static enum chat_cmd_result cmd_g(struct chat *ch, const char *rest, struct chat_cmd_block *blk)
{
    char group[WORD_MAX], dest[WORD_MAX + 1];
    (void)blk;
    if (!next_word(&rest, group, sizeof group)) {
        usage(ch, "/g", "GROUP [TEXT]");
    } else {
        snprintf(dest, sizeof dest, "#%s", group[0] == '#' ? group + 1 : group);
        if (!*rest)
            set_target(ch, dest);
        else
            do_send(ch, dest, rest);
    }
    return CHAT_CMD_DONE;
}

/* The five group calls: one word (two for /remove), asynchronous, answered by an event. */
static enum chat_cmd_result group_call(struct chat *ch, const char *name, const char *rest)
{
    char group[WORD_MAX], user[WORD_MAX];
    uint64_t req = 0;
    int rc, remove = strcmp(name, "/remove") == 0;
    int ok = next_word(&rest, group, sizeof group);
    if (ok && remove)
        ok = next_word(&rest, user, sizeof user);
    if (!ok || *rest) {
        usage(ch, name, remove ? "GROUP USER" : "GROUP");
        goto done;
    }
    if (strcmp(name, "/create") == 0)
        rc = e2ee_client_create_group(ch->c, group, &req);
    else if (strcmp(name, "/join") == 0)
        rc = e2ee_client_join_group(ch->c, group, &req);
    else if (strcmp(name, "/leave") == 0)
        rc = e2ee_client_leave_group(ch->c, group, &req);
    else if (strcmp(name, "/delete") == 0)
        rc = e2ee_client_delete_group(ch->c, group, &req);
    else
        rc = e2ee_client_remove_member(ch->c, group, user, &req);
    if (rc == E2EE_OK)
        chat_track_request(ch, req, group, remove ? user : NULL);
    else
        report(ch, rc, name);
done:
    return CHAT_CMD_DONE;
}

/* /sendfile USER|#GROUP PATH: the file as one binary message (files.c). */
static enum chat_cmd_result cmd_sendfile(struct chat *ch, const char *rest,
                                         struct chat_cmd_block *b)
{
    char dest[WORD_MAX];
    char id[E2EE_MSG_ID_SIZE];
    struct strbuf err, what;
    uint8_t *msg = NULL;
    size_t len = 0;
    int rc, group;
    (void)b;
    sb_init(&err);
    sb_init(&what);
    if (!next_word(&rest, dest, sizeof dest) || !*rest) {
        usage(ch, "/sendfile", "USER|#GROUP PATH");
        goto done;
    }
    group = dest[0] == '#';
    sb_printf(&what, "/sendfile %s", dest);
    if (chat_file_encode(rest, &msg, &len, &err) != 0) {
        chat_printf(ch, ch->tty ? "error: %s: %s" : "error file: %s: %s", rest, sb_str(&err));
    } else {
        rc = group ? e2ee_client_send_group_binary(ch->c, dest + 1, msg, len, id)
                   : e2ee_client_send_direct_binary(ch->c, dest, msg, len, id);
        if (rc != E2EE_OK) {
            report(ch, rc, sb_str(&what));
        } else {
            const char *base = strrchr(rest, '/');
            sb_reset(&err);
            sb_printf(&err, "[file %s]", base ? base + 1 : rest);
            chat_track_sent(ch, id, dest, sb_str(&err));
            if (!ch->tty)
                chat_printf(ch, "sending %s to %s%s", id, group ? "group " : "",
                            group ? dest + 1 : dest);
        }
    }
done:
    free(msg);
    sb_free(&err);
    sb_free(&what);
    return CHAT_CMD_DONE;
}

static enum chat_cmd_result cmd_create(struct chat *ch, const char *rest, struct chat_cmd_block *b)
{
    (void)b;
    return group_call(ch, "/create", rest);
}

static enum chat_cmd_result cmd_join(struct chat *ch, const char *rest, struct chat_cmd_block *b)
{
    (void)b;
    return group_call(ch, "/join", rest);
}

static enum chat_cmd_result cmd_leave(struct chat *ch, const char *rest, struct chat_cmd_block *b)
{
    (void)b;
    return group_call(ch, "/leave", rest);
}

static enum chat_cmd_result cmd_delete(struct chat *ch, const char *rest, struct chat_cmd_block *b)
{
    (void)b;
    return group_call(ch, "/delete", rest);
}

static enum chat_cmd_result cmd_remove(struct chat *ch, const char *rest, struct chat_cmd_block *b)
{
    (void)b;
    return group_call(ch, "/remove", rest);
}

static enum chat_cmd_result cmd_members(struct chat *ch, const char *rest, struct chat_cmd_block *b)
{
    char group[WORD_MAX], label[WORD_MAX + 16];
    char **v = NULL;
    size_t n = 0;
    int rc;
    (void)b;
    if (!next_word(&rest, group, sizeof group) || *rest) {
        usage(ch, "/members", "GROUP");
        goto done;
    }
    rc = e2ee_client_list_members(ch->c, group, &v, &n);
    if (rc != E2EE_OK) {
        report(ch, rc, "/members");
        goto done;
    }
    snprintf(label, sizeof label, ch->tty ? "members of #%s" : "members %s", group);
    print_list(ch, label, v, n);
done:
    e2ee_strv_free(v, n);
    return CHAT_CMD_DONE;
}

static enum chat_cmd_result list_cmd(struct chat *ch, const char *rest, int groups)
{
    char **v = NULL;
    size_t n = 0;
    int rc;
    if (*rest) {
        usage(ch, groups ? "/groups" : "/users", "");
        goto done;
    }
    rc = groups ? e2ee_client_list_groups(ch->c, &v, &n)
                : e2ee_client_list_known_users(ch->c, &v, &n);
    if (rc != E2EE_OK)
        report(ch, rc, groups ? "/groups" : "/users");
    else
        print_list(ch, groups ? "groups" : "users", v, n);
done:
    e2ee_strv_free(v, n);
    return CHAT_CMD_DONE;
}

static enum chat_cmd_result cmd_groups(struct chat *ch, const char *rest, struct chat_cmd_block *b)
{
    (void)b;
    return list_cmd(ch, rest, 1);
}

static enum chat_cmd_result cmd_users(struct chat *ch, const char *rest, struct chat_cmd_block *b)
{
    (void)b;
    return list_cmd(ch, rest, 0);
}

static enum chat_cmd_result cmd_fp(struct chat *ch, const char *rest, struct chat_cmd_block *b)
{
    char user[WORD_MAX], fp[E2EE_FINGERPRINT_SIZE], sn[E2EE_SAFETY_NUMBER_SIZE];
    int rc, self;
    (void)b;
    self = !next_word(&rest, user, sizeof user);
    if (*rest) {
        usage(ch, "/fp", "[USER]");
        goto done;
    }
    self = self || strcmp(user, e2ee_client_user_id(ch->c)) == 0;
    rc = e2ee_client_fingerprint(ch->c, self ? NULL : user, fp);
    if (rc == E2EE_OK && !self)
        rc = e2ee_client_safety_number(ch->c, user, sn);
    if (rc != E2EE_OK) {
        report(ch, rc, "/fp");
        goto done;
    }
    chat_printf(ch, "fingerprint %s %s", self ? e2ee_client_user_id(ch->c) : user, fp);
    if (!self)
        chat_printf(ch, "safety-number %s %s", user, sn);
    if (ch->tty && !self)
        chat_printf(ch, "compare the safety number with %s over another channel (in person, "
                        "by phone): equal numbers mean no one sits in the middle", user);
done:
    return CHAT_CMD_DONE;
}

static enum chat_cmd_result cmd_trust(struct chat *ch, const char *rest, struct chat_cmd_block *b)
{
    char user[WORD_MAX], fp[WORD_MAX];
    int rc;
    (void)b;
    if (!next_word(&rest, user, sizeof user) || !next_word(&rest, fp, sizeof fp) || *rest) {
        usage(ch, "/trust", "USER FINGERPRINT");
    } else {
        rc = e2ee_client_trust_peer(ch->c, user, fp);
        if (rc == E2EE_OK)
            chat_printf(ch, "trusted %s %s", user, fp);
        else
            report(ch, rc, "/trust");
    }
    return CHAT_CMD_DONE;
}

/* Parses a decimal count in [1, max]; -1 when it is not one. */
static long long parse_count(const char *s, long long max)
{
    char *end = NULL;
    long long v;
    errno = 0;
    v = strtoll(s, &end, 10);
    return (errno || !end || end == s || *end || v < 1 || v > max) ? -1 : v;
}

static enum chat_cmd_result cmd_wait(struct chat *ch, const char *rest, struct chat_cmd_block *b)
{
    enum chat_cmd_result r = CHAT_CMD_DONE;
    size_t n = strlen(rest);
    while (n && (rest[n - 1] == ' ' || rest[n - 1] == '\t'))
        n--;
    if (ch->tty) {
        chat_print(ch, "/wait is for scripts (stdin not a terminal)");
    } else if (n == 0 || n >= sizeof b->pattern) {
        usage(ch, "/wait", "PATTERN");
    } else {
        memcpy(b->pattern, rest, n);
        b->pattern[n] = '\0';
        b->ms = (int64_t)ch->timeout_s * 1000;
        r = CHAT_CMD_WAIT;
    }
    return r;
}

static enum chat_cmd_result cmd_sleep(struct chat *ch, const char *rest, struct chat_cmd_block *b)
{
    char w[WORD_MAX];
    long long ms = -1;
    if (next_word(&rest, w, sizeof w) && !*rest)
        ms = parse_count(w, (long long)CHAT_TIMEOUT_MAX_S * 1000);
    if (ms < 0)
        usage(ch, "/sleep", "MILLISECONDS");
    else
        b->ms = ms;
    return ms < 0 ? CHAT_CMD_DONE : CHAT_CMD_SLEEP;
}

static enum chat_cmd_result cmd_timeout(struct chat *ch, const char *rest, struct chat_cmd_block *b)
{
    char w[WORD_MAX];
    long long s = -1;
    (void)b;
    if (next_word(&rest, w, sizeof w) && !*rest)
        s = parse_count(w, CHAT_TIMEOUT_MAX_S);
    if (s < 0)
        usage(ch, "/timeout", "SECONDS");
    else
        ch->timeout_s = (int)s;
    return CHAT_CMD_DONE;
}

static enum chat_cmd_result cmd_echo(struct chat *ch, const char *rest, struct chat_cmd_block *b)
{
    (void)b;
    chat_printf(ch, "echo %s", rest);
    return CHAT_CMD_DONE;
}

static enum chat_cmd_result cmd_help(struct chat *ch, const char *rest, struct chat_cmd_block *b)
{
    (void)rest;
    (void)b;
    chat_print_help(ch);
    return CHAT_CMD_DONE;
}

static enum chat_cmd_result cmd_quit(struct chat *ch, const char *rest, struct chat_cmd_block *b)
{
    (void)ch;
    (void)rest;
    (void)b;
    return CHAT_CMD_QUIT;
}

static const struct cmd k_cmds[] = {
    {"/msg", "USER [TEXT]", "send TEXT to USER; without TEXT, plain lines go to USER", cmd_msg},
    {"/g", "GROUP [TEXT]", "send TEXT to GROUP; without TEXT, plain lines go to GROUP", cmd_g},
    {"/sendfile", "USER|#GROUP PATH", "send the file at PATH to USER or #GROUP", cmd_sendfile},
    {"/create", "GROUP", "create GROUP (you are its owner)", cmd_create},
    {"/join", "GROUP", "join GROUP", cmd_join},
    {"/leave", "GROUP", "leave GROUP", cmd_leave},
    {"/delete", "GROUP", "delete GROUP (owner only)", cmd_delete},
    {"/remove", "GROUP USER", "remove USER from GROUP (owner only)", cmd_remove},
    {"/members", "GROUP", "list the members of GROUP", cmd_members},
    {"/groups", "", "list your groups", cmd_groups},
    {"/users", "", "list the users whose keys you know", cmd_users},
    {"/fp", "[USER]", "fingerprint of USER (or yours) and your safety number with USER", cmd_fp},
    {"/trust", "USER FP", "trust USER's new identity key FP after checking it", cmd_trust},
    {"/wait", "PATTERN", "scripts: wait for an event line matching PATTERN (glob)", cmd_wait},
    {"/sleep", "MS", "scripts: pause for MS milliseconds", cmd_sleep},
    {"/timeout", "SECONDS", "scripts: time limit of /wait and of the wait at exit", cmd_timeout},
    {"/echo", "TEXT", "print \"echo TEXT\"", cmd_echo},
    {"/help", "", "this list", cmd_help},
    {"/quit", "", "leave (after the relay has your outgoing messages)", cmd_quit},
};

void chat_print_help(struct chat *ch)
{
    for (size_t i = 0; i < sizeof k_cmds / sizeof k_cmds[0]; i++) {
        const struct cmd *c = &k_cmds[i];
        if (!ch->tty && i == 0)
            chat_print(ch, "help commands:");
        chat_printf(ch, "%s%-9s %-16s %s", ch->tty ? "  " : "help ", c->name, c->args, c->help);
    }
    if (ch->tty)
        chat_print(ch, "  Lines without a leading / go to the current conversation. "
                       "Ctrl-D or /quit leaves.");
}

enum chat_cmd_result chat_run_line(struct chat *ch, const char *line, struct chat_cmd_block *blk)
{
    enum chat_cmd_result r = CHAT_CMD_DONE;
    char name[WORD_MAX];
    const char *rest;
    size_t i, n = sizeof k_cmds / sizeof k_cmds[0];
    while (*line == ' ' || *line == '\t')
        line++;
    if (*line == '\0' || (!ch->tty && *line == '#'))
        goto done; /* blank line; in scripts, a comment */
    if (*line != '/') {
        if (ch->target[0])
            do_send(ch, ch->target, line);
        else
            chat_print(ch, ch->tty ? "no conversation yet: /msg USER TEXT or /g GROUP TEXT "
                                     "(/help lists the commands)"
                                   : "error usage: no conversation: /msg USER or /g GROUP first");
        goto done;
    }
    rest = line;
    next_word(&rest, name, sizeof name);
    for (i = 0; i < n && strcmp(name, k_cmds[i].name) != 0; i++)
        ;
    if (i < n)
        r = k_cmds[i].run(ch, rest, blk);
    else if (ch->tty)
        chat_printf(ch, "unknown command %s (/help lists them)", name);
    else
        chat_printf(ch, "error unknown-command %s", name);
done:
    return r;
}
