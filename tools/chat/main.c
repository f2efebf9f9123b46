/*
 * e2ee-chat: options, set-up and tear-down, and the output shared by both front ends.
 * Usage and the scripted line format: docs/man/e2ee-chat.1.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chat.h"

#define EXIT_USAGE 2

static int g_sigfd = -1; /* write end of the event pipe, for the signal handler */

static void on_signal(int signo)
{
    if (g_sigfd >= 0)
        chat_post_signal(g_sigfd, signo);
}

static void usage_text(FILE *f)
{
    fprintf(f,
            "usage: e2ee-chat --user NAME [--relay ws://HOST:PORT] [--store FILE | --memory]\n"
            "                 [--no-acks] [--accept-identity-changes] [--token TOKEN]\n"
            "                 [--ca-file FILE] [--insecure] [--timeout SECONDS]\n"
            "                 [--log-level error|warning|info|debug] [--script]\n"
            "                 [--download-dir DIR]\n"
            "Interactive on a terminal (/help lists the commands); reads commands line by\n"
            "line and prints one line per event otherwise. See man e2ee-chat.\n");
}

void chat_print(struct chat *ch, const char *line)
{
    if (ch->tty) {
        chat_tty_print(line);
        return;
    }
    fputs(line, stdout);
    fputc('\n', stdout);
    fflush(stdout);
}

void chat_printf(struct chat *ch, const char *fmt, ...)
{
    struct strbuf b;
    va_list ap;
    sb_init(&b);
    va_start(ap, fmt);
    sb_vprintf(&b, fmt, ap);
    va_end(ap);
    chat_print(ch, sb_str(&b));
    sb_free(&b);
}

void chat_show_event(struct chat *ch, const struct chat_ev *ev)
{
    struct strbuf b;
    sb_init(&b);
    chat_track_event(ch, ev);
    if (chat_show_file(ch, ev)) {
        /* printed */
    } else if (ch->tty) {
        chat_format_human(&b, ch, ev);
        chat_print(ch, sb_str(&b));
    } else if (ev->is_log) {
        chat_format_line(&b, ev);
        fprintf(stderr, "%s\n", sb_str(&b));
    } else {
        chat_format_line(&b, ev);
        chat_print(ch, sb_str(&b));
        chat_hist_add(ch, sb_str(&b));
    }
    sb_free(&b);
}

/* Shows what is queued; 1 when a signal (other than SIGWINCH) came. */
static int finish_take(struct chat *ch)
{
    struct chat_ev *ev;
    int signo, interrupted = 0;
    while (!interrupted && chat_take(ch, &ev, &signo)) {
        if (ev)
            chat_show_event(ch, ev);
        chat_ev_free(ev);
        interrupted = !ev && signo != SIGWINCH;
    }
    return interrupted;
}

int chat_finish(struct chat *ch)
{
    int64_t deadline = chat_now_ms() + (int64_t)ch->timeout_s * 1000, left;
    struct pollfd p;
    int rc = 0;
    if (ch->tty && chat_pending(ch) > 0)
        chat_printf(ch, "waiting up to %d s for the relay to confirm %zu message(s) or "
                        "request(s); Ctrl-C leaves now", ch->timeout_s, chat_pending(ch));
    while (rc == 0 && chat_pending(ch) > 0) {
        left = deadline - chat_now_ms();
        if (left <= 0) {
            if (ch->tty)
                chat_printf(ch, "leaving with %zu message(s) or request(s) not confirmed by "
                                "the relay%s", chat_pending(ch),
                            ch->o.memory ? "" : " (queued in the store for next time)");
            else
                chat_printf(ch, "exit-timeout %zu unconfirmed", chat_pending(ch));
            rc = 1;
            break;
        }
        p = (struct pollfd){.fd = ch->evpipe[0], .events = POLLIN};
        if (poll(&p, 1, (int)(left > 1000 ? 1000 : left)) < 0 && errno != EINTR)
            rc = 1;
        else
            rc = finish_take(ch);
    }
    return rc;
}

/* mkdir -p with mode 0700 for each missing component of the folder of `path`. */
static int make_parent_dirs(char *path)
{
    int rc = 0;
    for (char *p = path + 1; *p && rc == 0; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST)
            rc = -1;
        *p = '/';
    }
    return rc;
}

/* 1 when s is 1..max characters of [A-Za-z0-9._@+-] and not "." or "..". */
static int id_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    int ok = n > 0 && n <= max && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
    for (size_t i = 0; ok && i < n; i++)
        ok = isalnum((unsigned char)s[i]) || strchr("._@+-", s[i]) != NULL;
    return ok;
}

/* The default store: $XDG_DATA_HOME/e2ee-chat/RELAY/USER.e2ee (RELAY: host_port). */
static int default_store(struct chat *ch)
{
    const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
    const char *hostport = strstr(ch->o.relay, "://");
    char relay[256];
    size_t n = 0;
    int w;
    hostport = hostport ? hostport + 3 : ch->o.relay;
    for (; *hostport && *hostport != '/' && n + 1 < sizeof relay; hostport++)
        relay[n++] = (isalnum((unsigned char)*hostport) || *hostport == '.' || *hostport == '-')
                         ? *hostport
                         : '_';
    relay[n] = '\0';
    if (!id_ok(relay, sizeof relay - 1))
        w = -1;
    else if (xdg && xdg[0] == '/')
        w = snprintf(ch->store_path, sizeof ch->store_path, "%s/e2ee-chat/%s/%s.e2ee", xdg,
                     relay, ch->o.user);
    else if (home && home[0] == '/')
        w = snprintf(ch->store_path, sizeof ch->store_path,
                     "%s/.local/share/e2ee-chat/%s/%s.e2ee", home, relay, ch->o.user);
    else
        w = -1;
    if (w < 0 || (size_t)w >= sizeof ch->store_path)
        w = -1;
    return w < 0 ? -1 : make_parent_dirs(ch->store_path);
}

static int parse_level(const char *s)
{
    static const char *const names[] = {"error", "warning", "info", "debug"};
    int level = -2;
    for (int i = 0; i < 4 && level < 0; i++)
        if (strcmp(s, names[i]) == 0)
            level = i;
    return level;
}

enum { OPT_MEMORY = 256, OPT_NO_ACKS, OPT_ACCEPT, OPT_TOKEN, OPT_CA, OPT_INSECURE, OPT_TIMEOUT,
       OPT_LOG, OPT_SCRIPT, OPT_VERSION, OPT_DOWNLOAD };

static int parse_options(struct chat *ch, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"relay", required_argument, NULL, 'r'},
        {"user", required_argument, NULL, 'u'},
        {"store", required_argument, NULL, 's'},
        {"memory", no_argument, NULL, OPT_MEMORY},
        {"no-acks", no_argument, NULL, OPT_NO_ACKS},
        {"accept-identity-changes", no_argument, NULL, OPT_ACCEPT},
        {"token", required_argument, NULL, OPT_TOKEN},
        {"ca-file", required_argument, NULL, OPT_CA},
        {"insecure", no_argument, NULL, OPT_INSECURE},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"log-level", required_argument, NULL, OPT_LOG},
        {"script", no_argument, NULL, OPT_SCRIPT},
        {"download-dir", required_argument, NULL, OPT_DOWNLOAD},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    int opt, rc = 0;
    char *end;
    long v;
    while (rc == 0 && (opt = getopt_long(argc, argv, "r:u:s:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'r': ch->o.relay = optarg; break;
        case 'u': ch->o.user = optarg; break;
        case 's': ch->o.store = optarg; break;
        case OPT_MEMORY: ch->o.memory = 1; break;
        case OPT_NO_ACKS: ch->o.no_acks = 1; break;
        case OPT_ACCEPT: ch->o.accept_identity = 1; break;
        case OPT_TOKEN: ch->o.token = optarg; break;
        case OPT_CA: ch->o.ca_file = optarg; break;
        case OPT_INSECURE: ch->o.insecure = 1; break;
        case OPT_SCRIPT: ch->o.script = 1; break;
        case OPT_DOWNLOAD: ch->o.download_dir = optarg; break;
        case OPT_TIMEOUT:
            errno = 0;
            v = strtol(optarg, &end, 10);
            if (errno || *end || v < 1 || v > CHAT_TIMEOUT_MAX_S) {
                fprintf(stderr, "e2ee-chat: --timeout: 1..%d seconds\n", CHAT_TIMEOUT_MAX_S);
                rc = -1;
            }
            ch->o.timeout_s = (int)v;
            break;
        case OPT_LOG:
            ch->o.log_level = parse_level(optarg);
            if (ch->o.log_level < 0) {
                fprintf(stderr, "e2ee-chat: --log-level: error, warning, info or debug\n");
                rc = -1;
            }
            break;
        case 'h': usage_text(stdout); exit(0);
        case OPT_VERSION: printf("e2ee-chat %s\n", E2EE_CHAT_VERSION); exit(0);
        default: rc = -1; break;
        }
    }
    if (rc == 0 && (optind != argc || !ch->o.user || (ch->o.memory && ch->o.store)))
        rc = -1;
    if (rc != 0)
        usage_text(stderr);
    return rc;
}

static int make_client(struct chat *ch)
{
    struct e2ee_client_config cfg;
    const char *store = NULL;
    int rc;
    e2ee_client_config_init(&cfg);
    if (ch->o.store) {
        store = ch->o.store;
    } else if (!ch->o.memory && id_ok(ch->o.user, E2EE_USER_ID_MAX)) {
        /* (a bad user id makes no path: e2ee_client_new() below refuses it) */
        if (default_store(ch) != 0) {
            chat_tty_restore_stderr();
            fprintf(stderr, "e2ee-chat: cannot make a store folder (set HOME, or use "
                            "--store FILE or --memory)\n");
            rc = E2EE_ERR_STORE;
            goto done;
        }
        store = ch->store_path;
    }
    cfg.user_id = ch->o.user;
    cfg.relay_url = ch->o.relay;
    cfg.store_path = store;
    cfg.tls_ca_file = ch->o.ca_file;
    cfg.tls_allow_self_signed = ch->o.insecure;
    cfg.registration_token = ch->o.token;
    cfg.ack_direct = !ch->o.no_acks;
    cfg.ack_group = !ch->o.no_acks;
    cfg.identity_policy = ch->o.accept_identity ? E2EE_IDENTITY_ACCEPT : E2EE_IDENTITY_BLOCK;
    cfg.event_cb = chat_on_event;
    cfg.user_data = ch;
    if (ch->o.log_level >= 0) {
        cfg.log_cb = chat_on_log;
        cfg.log_user_data = ch;
        cfg.log_level = (enum e2ee_log_level)ch->o.log_level;
    }
    rc = e2ee_client_new(&ch->c, &cfg);
    if (rc != E2EE_OK) {
        chat_tty_restore_stderr(); /* so that the message shows */
        fprintf(stderr, "e2ee-chat: %s%s%s: %s (%s)\n", "cannot open the client",
                store ? " with store " : "", store ? store : "", e2ee_strerror(rc),
                e2ee_errname(rc));
    }
done:
    return rc == E2EE_OK ? 0 : -1;
}

static int make_pipe(struct chat *ch)
{
    int rc = pipe2(ch->evpipe, O_CLOEXEC | O_NONBLOCK);
    if (rc == 0 && pthread_mutex_init(&ch->q_mu, NULL) != 0) {
        close(ch->evpipe[0]);
        close(ch->evpipe[1]);
        ch->evpipe[0] = ch->evpipe[1] = -1;
        rc = -1;
    }
    return rc;
}

static void set_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGWINCH, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* Frees what is still queued once no thread posts any more. */
static void drain_pipe(struct chat *ch)
{
    struct chat_ev *ev;
    int signo;
    while (chat_take(ch, &ev, &signo))
        chat_ev_free(ev);
}

int main(int argc, char **argv)
{
    static struct chat ch;
    int rc;
    ch.evpipe[0] = ch.evpipe[1] = -1;
    ch.o.relay = CHAT_DEFAULT_RELAY;
    ch.o.timeout_s = CHAT_DEFAULT_TIMEOUT_S;
    ch.o.log_level = -1;
    ch.status = 1;
    if (parse_options(&ch, argc, argv) != 0) {
        ch.status = EXIT_USAGE;
        goto done;
    }
    ch.timeout_s = ch.o.timeout_s;
    ch.tty = !ch.o.script && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
    if (make_pipe(&ch) != 0) {
        perror("e2ee-chat: pipe");
        goto done;
    }
    if (ch.tty && chat_tty_capture_stderr() != 0)
        ch.tty = 0;
    if (make_client(&ch) != 0) {
        chat_tty_restore_stderr();
        goto done;
    }
    g_sigfd = ch.evpipe[1];
    set_signals();
    rc = e2ee_client_connect(ch.c);
    if (rc == E2EE_OK)
        rc = e2ee_client_loop_start(ch.c);
    if (rc != E2EE_OK) {
        chat_tty_restore_stderr();
        fprintf(stderr, "e2ee-chat: cannot start: %s\n", e2ee_strerror(rc));
        ch.status = 1;
    } else {
        ch.status = 0;
        ch.status = ch.tty ? chat_run_tty(&ch) : chat_run_script(&ch);
        e2ee_client_loop_stop(ch.c);
    }
    e2ee_client_free(ch.c);
    chat_tty_restore_stderr();
    g_sigfd = -1;
    drain_pipe(&ch);
done:
    if (ch.evpipe[0] >= 0) {
        close(ch.evpipe[0]);
        close(ch.evpipe[1]);
        pthread_mutex_destroy(&ch.q_mu);
    }
    chat_track_free(&ch);
    return ch.status;
}
