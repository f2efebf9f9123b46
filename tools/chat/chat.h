/*
 * e2ee-chat: a terminal chat client over the public libe2ee API (include/e2ee/ only).
 *
 * Threads: the client's loop runs on its own thread (e2ee_client_loop_start()). Its event
 * callback copies each event into a struct chat_ev, queues it and wakes the UI thread
 * through a pipe (evqueue.c). The UI thread (main) owns everything else: it reads commands
 * (readline on a terminal, lines otherwise), calls the API, and prints the events it takes
 * from the queue.
 *
 * Two front ends share the commands and the event handling:
 *   tty.c     interactive: readline with history; events print above the line being typed
 *   script.c  scripted (stdin not a terminal): one command per line, one event per line in
 *             the stable format documented in docs/man/e2ee-chat.1 (format.c)
 */
#ifndef E2EE_CHAT_H
#define E2EE_CHAT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "e2ee/e2ee.h"
#include "strbuf.h"

#define CHAT_DEFAULT_RELAY "ws://127.0.0.1:8765"
#define CHAT_DEFAULT_TIMEOUT_S 20   /* /wait and the wait for acks before exiting */
#define CHAT_TIMEOUT_MAX_S 86400
#define CHAT_SENT_KEEP 1024         /* outgoing messages remembered for ack display */
#define CHAT_SNIPPET_MAX 48         /* bytes of a sent text shown beside its ack */
#define CHAT_HISTORY_MAX 100000     /* event lines kept for /wait */
#define CHAT_LINE_MAX (E2EE_TEXT_MAX + 256) /* longest command line accepted */
#define CHAT_FILE_NAME_MAX 255      /* bytes of a file name in a file message */

/* One event, copied off the loop thread (every pointer owned, NULL when absent). */
struct chat_ev {
    struct chat_ev *next;       /* queue link */
    int is_log;                 /* 1: a log line (level in code, text in text) */
    enum e2ee_event_type type;
    int code;
    int state;                  /* ack state */
    int registered, will_reconnect, accepted;
    uint32_t retry_ms;
    size_t queued;
    uint64_t epoch, request_id;
    int64_t at_ms;              /* sent_at_ms of a message, else when the event was taken */
    char *msg_id, *from, *to, *group, *user, *by, *owner;
    char *text;                 /* message data (NUL-terminated), or error text / reason / URL */
    size_t len;                 /* bytes of a message's data */
    char *members;              /* GROUP_JOIN: the members joined by ',' */
    char *old_fp, *new_fp;
};

/* An outgoing message, remembered until acked (for the exit wait) and for ack display. */
struct chat_sent {
    char id[E2EE_MSG_ID_SIZE];
    char dest[E2EE_GROUP_ID_MAX + 2]; /* "bob" or "#team" */
    char snippet[CHAT_SNIPPET_MAX + 4];
    int acked;                        /* the relay answered (sent or failed) */
};

/* A group request not answered yet. A removal is answered by the MEMBER_LEAVE event of the
 * removed user, which carries no request id (see the report on the API). */
struct chat_req {
    uint64_t id;
    char group[E2EE_GROUP_ID_MAX + 1];
    char removed[E2EE_USER_ID_MAX + 1]; /* /remove: the user; "" otherwise */
};

/* A file received (files.c); name and content point into the event. */
struct chat_file {
    char name[CHAT_FILE_NAME_MAX + 1];
    const char *content;
    size_t len;
};

struct chat_opts {
    const char *relay;
    const char *user;
    const char *store;          /* NULL: the default path; "" with memory set */
    int memory;                 /* keep keys in memory only */
    int no_acks;                /* do not send delivered acks */
    int accept_identity;        /* trust changed identity keys at once */
    const char *token;
    const char *ca_file;
    int insecure;               /* wss: accept a self-signed certificate */
    int timeout_s;
    int log_level;              /* -1: no library log lines */
    int script;                 /* 1: scripted even on a terminal */
    const char *download_dir;   /* where received files are written; NULL: nowhere */
};

struct chat {
    struct chat_opts o;
    e2ee_client *c;
    int evpipe[2];              /* wake-ups of the UI thread: 0 = event queued, else signo */
    pthread_mutex_t q_mu;       /* guards the event queue */
    struct chat_ev *q_head, *q_tail;
    uint64_t sig_pending;       /* signals read from the pipe, not yet taken */
    int tty;                    /* interactive front end */
    int quit;                   /* /quit, end of input or a signal: stop reading commands */
    int status;                 /* exit status */
    int timeout_s;              /* current /wait and exit timeout */
    char store_path[4096];

    struct chat_sent *sent;     /* ring of the last CHAT_SENT_KEEP outgoing messages */
    size_t n_sent, sent_head;
    size_t unacked;             /* entries with acked == 0, plus overflowed ones */
    struct chat_req *reqs;      /* group requests awaiting the relay's answer */
    size_t n_reqs, cap_reqs;

    /* scripted: event lines not yet consumed by /wait */
    char **hist;
    size_t n_hist, cap_hist;

    /* plain text (not a command) goes here: "bob", "#team" or "" */
    char target[E2EE_GROUP_ID_MAX + 2];
};

/* ---- evqueue.c: the handoff from the loop thread ---- */
void chat_on_event(const struct e2ee_event *ev, void *user_data);
void chat_on_log(enum e2ee_log_level level, const char *line, void *user_data);
/* Writes a signal number into the wake-up pipe (async-signal-safe). */
void chat_post_signal(int fd, int signo);
/* Takes the next item without blocking: 1 and *ev (or *signo when a signal), 0 when none. */
int chat_take(struct chat *ch, struct chat_ev **ev, int *signo);
void chat_ev_free(struct chat_ev *ev);

/* ---- format.c ---- */
/* The stable one-line form of an event (scripted mode). */
void chat_format_line(struct strbuf *b, const struct chat_ev *ev);
/* The human form for the terminal, with time, sender and ack state. */
void chat_format_human(struct strbuf *b, const struct chat *ch, const struct chat_ev *ev);
/* Appends text with control characters, invalid UTF-8 and bidi overrides escaped. */
void chat_put_text(struct strbuf *b, const char *s, size_t len);
/* Appends HH:MM:SS (local time) of ms since 1970; with the date when not today. */
void chat_put_time(struct strbuf *b, int64_t ms);
int64_t chat_now_ms(void);

/* ---- files.c: files as binary messages ---- */
/* 1 and *f when data is a file message with a valid name, else 0. */
int chat_file_decode(const char *data, size_t len, struct chat_file *f);
/* The file message for the file at path (name = its last component): 0 and *out (free
 * it), or -1 with the reason in err. */
int chat_file_encode(const char *path, uint8_t **out, size_t *out_len, struct strbuf *err);
/* Writes f into dir under a new name: 0 and the path in saved, or -1 and the reason. */
int chat_file_save(const char *dir, const struct chat_file *f, struct strbuf *saved);
/* Shows a binary event that is a file (saving it with --download-dir): 1, or 0 when the
 * event is not a file. */
int chat_show_file(struct chat *ch, const struct chat_ev *ev);

/* ---- track.c: outgoing messages, requests, /wait history (UI thread only) ---- */
void chat_track_sent(struct chat *ch, const char *id, const char *dest, const char *text);
const struct chat_sent *chat_find_sent(const struct chat *ch, const char *id);
/* removed: the user of a /remove, NULL for the other group calls. */
void chat_track_request(struct chat *ch, uint64_t req, const char *group, const char *removed);
/* Updates the tracking from an event (acks answer messages, results answer requests). */
void chat_track_event(struct chat *ch, const struct chat_ev *ev);
/* Number of messages and requests the relay has not answered yet. */
size_t chat_pending(const struct chat *ch);
void chat_hist_add(struct chat *ch, const char *line);
/* Consumes the oldest unconsumed event line matching the glob `pattern`: 1, or 0 if none. */
int chat_hist_consume(struct chat *ch, const char *pattern);
void chat_track_free(struct chat *ch);

/* ---- commands.c ---- */
/* Runs one input line (a command, or text for the current target). Output goes to
 * chat_print(). Returns CHAT_CMD_* telling the front end what to do next. */
enum chat_cmd_result {
    CHAT_CMD_DONE = 0,
    CHAT_CMD_QUIT = 1,          /* /quit */
    CHAT_CMD_WAIT = 2,          /* /wait: block until *arg matches an event line */
    CHAT_CMD_SLEEP = 3,         /* /sleep: block for *ms */
};
struct chat_cmd_block {
    char pattern[512];
    int64_t ms;
};
enum chat_cmd_result chat_run_line(struct chat *ch, const char *line, struct chat_cmd_block *blk);
/* The command summary (/help). */
void chat_print_help(struct chat *ch);

/* ---- output (main.c): one line, via the active front end ---- */
void chat_print(struct chat *ch, const char *line);
/* printf-style form of chat_print(). */
void chat_printf(struct chat *ch, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints one event (and records it for /wait in scripted mode). */
void chat_show_event(struct chat *ch, const struct chat_ev *ev);

/* After the front end stopped reading commands: shows events until the relay confirmed
 * every outgoing message and group request, or the timeout passed, or a signal came.
 * Returns 0 when all were confirmed, 1 otherwise. */
int chat_finish(struct chat *ch);

/* ---- front ends ---- */
int chat_run_tty(struct chat *ch);
int chat_run_script(struct chat *ch);
/* tty.c: prints a line above the prompt without breaking the line being typed. */
void chat_tty_print(const char *line);
/* tty.c: sends stderr into a pipe that the UI thread reads (libraries below libe2ee may
 * write there, which would break the screen); restore puts the terminal back. */
int chat_tty_capture_stderr(void);
void chat_tty_restore_stderr(void);

#endif
