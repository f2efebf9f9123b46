/*
 * e2ee-chat, interactive front end: GNU readline in callback mode, so that one thread can
 * wait on both the keyboard and the event pipe. An event prints above the prompt: the line
 * being typed is saved, the prompt line cleared, the event written, and the prompt and the
 * saved line drawn again with the cursor where it was (rl_save_prompt / rl_redisplay).
 *
 * History stays in memory only: a history file would keep plaintext on disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "chat.h"

#define PROMPT_MAX (2 * E2EE_USER_ID_MAX + 16)

#define ERR_CHUNK 4096

static struct chat *g_ch;
static int g_err_rd = -1;  /* read end of the pipe that stderr writes to */
static int g_err_saved = -1; /* the original stderr */
static struct strbuf g_err_line;
static int g_active;      /* a readline handler is installed (the prompt is on screen) */
static int g_in_handler;  /* running a command: print plainly, readline is not drawing */
static char g_prompt[PROMPT_MAX];

void chat_tty_print(const char *line)
{
    char *saved;
    int point;
    if (!g_active || g_in_handler) {
        printf("%s\n", line);
        fflush(stdout);
        return;
    }
    point = rl_point;
    saved = rl_copy_text(0, rl_end);
    rl_save_prompt();
    rl_replace_line("", 0);
    rl_redisplay();
    printf("%s\n", line);
    rl_restore_prompt();
    rl_replace_line(saved ? saved : "", 0);
    rl_point = point;
    rl_redisplay();
    if (saved) {
        explicit_bzero(saved, strlen(saved));
        free(saved);
    }
}

static void update_prompt(void)
{
    const char *user = e2ee_client_user_id(g_ch->c);
    if (g_ch->target[0])
        snprintf(g_prompt, sizeof g_prompt, "%s -> %s> ", user, g_ch->target);
    else
        snprintf(g_prompt, sizeof g_prompt, "%s> ", user);
    rl_set_prompt(g_prompt);
}

static void on_line(char *line)
{
    struct chat_cmd_block blk;
    if (!line) { /* Ctrl-D */
        printf("\n");
        g_ch->quit = 1;
    } else {
        if (*line)
            add_history(line);
        g_in_handler = 1;
        if (chat_run_line(g_ch, line, &blk) == CHAT_CMD_QUIT)
            g_ch->quit = 1;
        g_in_handler = 0;
        explicit_bzero(line, strlen(line));
        free(line);
        update_prompt();
    }
    if (g_ch->quit && g_active) {
        rl_callback_handler_remove();
        g_active = 0;
    }
}

/* Ctrl-C: clears the line being typed; on an empty line, leaves. */
static void on_interrupt(void)
{
    if (rl_end == 0) {
        printf("\n");
        g_ch->quit = 1;
        rl_callback_handler_remove();
        g_active = 0;
        return;
    }
    rl_callback_sigcleanup();
    rl_replace_line("", 0);
    rl_crlf();
    rl_on_new_line();
    rl_redisplay();
}

static void take_events(struct chat *ch)
{
    struct chat_ev *ev;
    int signo;
    while (chat_take(ch, &ev, &signo)) {
        if (ev) {
            chat_show_event(ch, ev);
            chat_ev_free(ev);
        } else if (signo == SIGWINCH) {
            rl_resize_terminal();
        } else if (signo == SIGINT) {
            on_interrupt();
        } else {
            ch->quit = 1;
        }
        if (ch->quit)
            break;
    }
}

int chat_tty_capture_stderr(void)
{
    int p[2], rc = pipe2(p, O_CLOEXEC);
    if (rc == 0) {
        g_err_saved = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 0);
        if (g_err_saved < 0 || dup2(p[1], STDERR_FILENO) < 0) {
            if (g_err_saved >= 0)
                close(g_err_saved);
            g_err_saved = -1;
            close(p[0]);
            rc = -1;
        } else {
            g_err_rd = p[0];
            fcntl(g_err_rd, F_SETFL, fcntl(g_err_rd, F_GETFL) | O_NONBLOCK);
            sb_init(&g_err_line);
        }
        close(p[1]);
    }
    return rc;
}

void chat_tty_restore_stderr(void)
{
    if (g_err_saved >= 0) {
        dup2(g_err_saved, STDERR_FILENO);
        close(g_err_saved);
        g_err_saved = -1;
    }
    if (g_err_rd >= 0)
        close(g_err_rd);
    g_err_rd = -1;
    sb_free(&g_err_line);
}

/* Lines written to stderr (by libraries below libe2ee) show as log lines with --log-level. */
static void take_stderr(struct chat *ch)
{
    char buf[ERR_CHUNK];
    ssize_t r;
    char *nl;
    while ((r = read(g_err_rd, buf, sizeof buf)) > 0) {
        sb_putn(&g_err_line, buf, (size_t)r);
        while ((nl = memchr(g_err_line.p, '\n', g_err_line.len)) != NULL) {
            size_t n = (size_t)(nl - g_err_line.p);
            struct strbuf b;
            sb_init(&b);
            sb_puts(&b, "[stderr] ");
            chat_put_text(&b, g_err_line.p, n);
            if (ch->o.log_level >= 0)
                chat_print(ch, sb_str(&b));
            sb_free(&b);
            memmove(g_err_line.p, nl + 1, g_err_line.len - n - 1);
            g_err_line.len -= n + 1;
            g_err_line.p[g_err_line.len] = '\0';
        }
        if (g_err_line.len > ERR_CHUNK)
            sb_reset(&g_err_line);
    }
}

/* Tab completion: command names first, then user and group names this client knows. */
static char **g_words;
static size_t g_n_words;

static void completion_words(const char *text, int first)
{
    static const char *const cmds[] = {"/msg", "/g", "/sendfile", "/create", "/join",
                                       "/leave", "/delete", "/remove", "/members", "/groups",
                                       "/users", "/fp", "/trust", "/help", "/quit"};
    char **users = NULL, **groups = NULL;
    size_t nu = 0, ng = 0, n = 0;
    (void)text;
    e2ee_strv_free(g_words, g_n_words);
    g_words = NULL;
    g_n_words = 0;
    if (!first) {
        e2ee_client_list_known_users(g_ch->c, &users, &nu);
        e2ee_client_list_groups(g_ch->c, &groups, &ng);
    }
    size_t total = first ? sizeof cmds / sizeof cmds[0] : nu + ng;
    g_words = calloc(total ? total : 1, sizeof *g_words);
    if (g_words) {
        for (size_t i = 0; first && i < total; i++)
            g_words[n++] = strdup(cmds[i]);
        for (size_t i = 0; i < nu; i++)
            g_words[n++] = strdup(users[i]);
        for (size_t i = 0; i < ng; i++)
            g_words[n++] = strdup(groups[i]);
        g_n_words = n;
    }
    e2ee_strv_free(users, nu);
    e2ee_strv_free(groups, ng);
}

static char *complete_next(const char *text, int state)
{
    static size_t i;
    char *match = NULL;
    if (state == 0)
        i = 0;
    while (!match && i < g_n_words) {
        const char *w = g_words[i++];
        if (w && strncmp(w, text, strlen(text)) == 0)
            match = strdup(w);
    }
    return match;
}

static char **complete(const char *text, int start, int end)
{
    (void)end;
    rl_attempted_completion_over = 1; /* never complete file names */
    completion_words(text, start == 0);
    return rl_completion_matches(text, complete_next);
}

int chat_run_tty(struct chat *ch)
{
    struct pollfd p[3];
    char fp[E2EE_FINGERPRINT_SIZE];
    g_ch = ch;
    rl_readline_name = "e2ee-chat";
    rl_catch_signals = 0;
    rl_catch_sigwinch = 0;
    rl_attempted_completion_function = complete;
    chat_printf(ch, "e2ee-chat: %s on %s%s%s. /help lists the commands, Ctrl-D leaves.",
                e2ee_client_user_id(ch->c), ch->o.relay, ch->o.memory ? "" : ", store ",
                ch->o.memory ? " (keys in memory only)" : (ch->o.store ? ch->o.store
                                                                        : ch->store_path));
    if (e2ee_client_fingerprint(ch->c, NULL, fp) == E2EE_OK)
        chat_printf(ch, "your fingerprint: %s", fp);
    update_prompt();
    rl_callback_handler_install(g_prompt, on_line);
    g_active = 1;
    while (!ch->quit) {
        p[0] = (struct pollfd){.fd = STDIN_FILENO, .events = POLLIN};
        p[1] = (struct pollfd){.fd = ch->evpipe[0], .events = POLLIN};
        p[2] = (struct pollfd){.fd = g_err_rd, .events = POLLIN};
        if (poll(p, g_err_rd >= 0 ? 3 : 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[1].revents & POLLIN)
            take_events(ch);
        if (g_err_rd >= 0 && (p[2].revents & POLLIN))
            take_stderr(ch);
        if (!ch->quit && (p[0].revents & (POLLIN | POLLHUP | POLLERR)))
            rl_callback_read_char();
    }
    if (g_active) {
        rl_callback_handler_remove();
        g_active = 0;
    }
    clear_history();
    e2ee_strv_free(g_words, g_n_words);
    g_words = NULL;
    g_n_words = 0;
    return chat_finish(ch);
}
