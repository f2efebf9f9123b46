/*
 * e2ee-chat, scripted front end (stdin is not a terminal, or --script): reads commands line
 * by line, prints each event as one line (format.c), and after the input ends (or /quit)
 * waits until the relay confirmed every outgoing message and group request, then exits.
 *
 * /wait PATTERN blocks the reading of further commands until an event line matching the
 * glob PATTERN has been printed: any line since the start that no earlier /wait consumed,
 * so an event that arrived before the /wait counts. /sleep MS blocks for a while. Events
 * keep printing meanwhile. Exit status: 0; 1 when a /wait timed out (after printing
 * "wait-timeout PATTERN"), when the relay did not confirm everything in time, or on a
 * signal.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "chat.h"

#define READ_CHUNK 65536

enum script_state { ST_READING, ST_WAITING, ST_SLEEPING };

struct script {
    struct strbuf in;           /* input not yet run */
    size_t off;                 /* start of the next line in `in` */
    int eof;
    enum script_state st;
    struct chat_cmd_block blk;
    int64_t deadline;
    int interrupted;
};

/* Runs buffered complete lines until one blocks or none is left. */
static void run_lines(struct chat *ch, struct script *s)
{
    while (s->st == ST_READING && !ch->quit) {
        char *line = s->in.p ? s->in.p + s->off : NULL;
        char *nl = line ? memchr(line, '\n', s->in.len - s->off) : NULL;
        size_t n;
        if (!nl && !(s->eof && line && *line))
            break;
        n = nl ? (size_t)(nl - line) : strlen(line);
        line[n] = '\0';
        if (n && line[n - 1] == '\r')
            line[n - 1] = '\0';
        s->off += n + (nl ? 1 : 0);
        switch (chat_run_line(ch, line, &s->blk)) {
        case CHAT_CMD_QUIT:
            ch->quit = 1;
            break;
        case CHAT_CMD_WAIT:
            if (!chat_hist_consume(ch, s->blk.pattern)) {
                s->st = ST_WAITING;
                s->deadline = chat_now_ms() + s->blk.ms;
            }
            break;
        case CHAT_CMD_SLEEP:
            s->st = ST_SLEEPING;
            s->deadline = chat_now_ms() + s->blk.ms;
            break;
        default:
            break;
        }
    }
    if (s->off == s->in.len && s->in.p) { /* all run: start the buffer over */
        explicit_bzero(s->in.p, s->in.cap);
        sb_reset(&s->in);
        s->off = 0;
    }
    if (s->st == ST_READING && s->eof && s->in.len == s->off)
        ch->quit = 1;
}

static void read_input(struct chat *ch, struct script *s)
{
    char buf[READ_CHUNK];
    ssize_t r = read(STDIN_FILENO, buf, sizeof buf);
    if (r < 0 && (errno == EINTR || errno == EAGAIN)) {
        /* try again at the next poll */
    } else if (r <= 0) {
        s->eof = 1;
    } else if (s->in.len - s->off + (size_t)r > CHAT_LINE_MAX && !memchr(buf, '\n', (size_t)r)) {
        chat_printf(ch, "error usage: input line longer than %d bytes", CHAT_LINE_MAX);
        ch->quit = 1;
        ch->status = 1;
    } else {
        sb_putn(&s->in, buf, (size_t)r);
        if (s->in.oom) {
            chat_print(ch, "error out of memory reading the input");
            ch->quit = 1;
            ch->status = 1;
        }
    }
    if (r > 0)
        explicit_bzero(buf, (size_t)r);
}

static void take_events(struct chat *ch, struct script *s)
{
    struct chat_ev *ev;
    int signo;
    while (chat_take(ch, &ev, &signo)) {
        if (!ev) {
            if (signo != SIGWINCH) {
                s->interrupted = 1;
                ch->quit = 1;
            }
            continue;
        }
        chat_show_event(ch, ev);
        chat_ev_free(ev);
        if (s->st == ST_WAITING && chat_hist_consume(ch, s->blk.pattern))
            s->st = ST_READING;
    }
}

static void check_deadline(struct chat *ch, struct script *s)
{
    if (s->st == ST_READING || chat_now_ms() < s->deadline)
        return;
    if (s->st == ST_WAITING) {
        chat_printf(ch, "wait-timeout %s", s->blk.pattern);
        ch->status = 1;
        ch->quit = 1;
    }
    s->st = ST_READING;
}

int chat_run_script(struct chat *ch)
{
    struct script s;
    struct pollfd p[2];
    int64_t left;
    int timeout;
    memset(&s, 0, sizeof s);
    sb_init(&s.in);
    while (!ch->quit) {
        run_lines(ch, &s);
        if (ch->quit)
            break;
        timeout = -1;
        if (s.st != ST_READING) {
            left = s.deadline - chat_now_ms();
            timeout = left < 0 ? 0 : left > 60000 ? 60000 : (int)left;
        }
        p[0] = (struct pollfd){.fd = ch->evpipe[0], .events = POLLIN};
        p[1] = (struct pollfd){.fd = STDIN_FILENO, .events = POLLIN};
        if (poll(p, (s.st == ST_READING && !s.eof) ? 2 : 1, timeout) < 0 && errno != EINTR) {
            ch->status = 1;
            break;
        }
        take_events(ch, &s);
        if (s.st == ST_READING && !s.eof && (p[1].revents & (POLLIN | POLLHUP | POLLERR)))
            read_input(ch, &s);
        check_deadline(ch, &s);
    }
    if (s.in.p)
        explicit_bzero(s.in.p, s.in.cap);
    sb_free(&s.in);
    if (s.interrupted || chat_finish(ch) != 0)
        ch->status = 1;
    return ch->status;
}
