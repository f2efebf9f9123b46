/*
 * e2ee-chat: the handoff of events from the client's loop thread to the UI thread.
 *
 * The callback deep-copies the event (its pointers are valid only during the callback),
 * appends the copy to a queue under a mutex, and writes one byte to a pipe that the UI
 * thread polls. Both ends of the pipe are non-blocking: a full pipe means the UI thread has
 * wake-ups pending already, so the loop thread never waits for the UI (it could not: the
 * UI thread may be waiting in e2ee_client_loop_stop()). The log callback may post from any
 * thread. The signal handler writes the signal's number as the byte (0 is a plain wake-up),
 * which is async-signal-safe.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chat.h"

#define WAKE_EVENT 0
#define WAKE_DRAIN 256

static char *dup_or_null(const char *s, int *oom)
{
    char *d = NULL;
    if (s) {
        d = strdup(s);
        if (!d)
            *oom = 1;
    }
    return d;
}

static char *dup_data(const uint8_t *data, size_t len, int *oom)
{
    char *d = malloc(len + 1);
    if (!d) {
        *oom = 1;
    } else {
        if (len)
            memcpy(d, data, len);
        d[len] = '\0';
    }
    return d;
}

static char *join_members(const char *const *m, size_t n, int *oom)
{
    struct strbuf b;
    char *out = NULL;
    sb_init(&b);
    for (size_t i = 0; i < n; i++) {
        if (i)
            sb_putc(&b, ',');
        sb_puts(&b, m[i] ? m[i] : "");
    }
    out = dup_or_null(sb_str(&b), oom);
    if (b.oom)
        *oom = 1;
    sb_free(&b);
    return out;
}

static void post(struct chat *ch, struct chat_ev *e)
{
    unsigned char wake = WAKE_EVENT;
    ssize_t w;
    pthread_mutex_lock(&ch->q_mu);
    if (ch->q_tail)
        ch->q_tail->next = e;
    else
        ch->q_head = e;
    ch->q_tail = e;
    pthread_mutex_unlock(&ch->q_mu);
    do {
        w = write(ch->evpipe[1], &wake, 1);
    } while (w < 0 && errno == EINTR); /* EAGAIN: wake-ups are pending already */
}

/* Copies the member of the event's union that its type names. */
static void copy_event(struct chat_ev *e, const struct e2ee_event *ev, int *oom)
{
    switch (ev->type) {
    case E2EE_EVENT_CONNECT:
        e->text = dup_or_null(ev->connect.relay_url, oom);
        e->registered = ev->connect.registered;
        e->queued = ev->connect.queued;
        break;
    case E2EE_EVENT_DISCONNECT:
        e->code = ev->disconnect.code;
        e->text = dup_or_null(ev->disconnect.reason, oom);
        e->will_reconnect = ev->disconnect.will_reconnect;
        e->retry_ms = ev->disconnect.retry_ms;
        break;
    case E2EE_EVENT_ERROR:
        e->code = ev->error.code;
        e->text = dup_or_null(ev->error.text, oom);
        e->request_id = ev->error.request_id;
        e->group = dup_or_null(ev->error.group, oom);
        break;
    case E2EE_EVENT_E2EE_ERROR:
        e->code = ev->e2ee_error.code;
        e->text = dup_or_null(ev->e2ee_error.text, oom);
        e->msg_id = dup_or_null(ev->e2ee_error.msg_id, oom);
        e->from = dup_or_null(ev->e2ee_error.from, oom);
        e->group = dup_or_null(ev->e2ee_error.group, oom);
        break;
    case E2EE_EVENT_DIRECT_TEXT:
    case E2EE_EVENT_DIRECT_BINARY:
        e->msg_id = dup_or_null(ev->direct.msg_id, oom);
        e->from = dup_or_null(ev->direct.from, oom);
        e->text = dup_data(ev->direct.data, ev->direct.len, oom);
        e->len = ev->direct.len;
        e->at_ms = ev->direct.sent_at_ms;
        break;
    case E2EE_EVENT_GROUP_TEXT:
    case E2EE_EVENT_GROUP_BINARY:
        e->msg_id = dup_or_null(ev->group_msg.msg_id, oom);
        e->group = dup_or_null(ev->group_msg.group, oom);
        e->from = dup_or_null(ev->group_msg.from, oom);
        e->text = dup_data(ev->group_msg.data, ev->group_msg.len, oom);
        e->len = ev->group_msg.len;
        e->at_ms = ev->group_msg.sent_at_ms;
        break;
    case E2EE_EVENT_MESSAGE_ACK:
    case E2EE_EVENT_GROUP_MESSAGE_ACK:
        e->msg_id = dup_or_null(ev->ack.msg_id, oom);
        e->from = dup_or_null(ev->ack.from, oom);
        e->to = dup_or_null(ev->ack.to, oom);
        e->group = dup_or_null(ev->ack.group, oom);
        e->state = (int)ev->ack.state;
        e->code = ev->ack.code;
        break;
    case E2EE_EVENT_USER_CREATED:
    case E2EE_EVENT_USER_DELETED:
        e->user = dup_or_null(ev->user.user, oom);
        break;
    case E2EE_EVENT_GROUP_CREATED:
    case E2EE_EVENT_GROUP_DELETED:
    case E2EE_EVENT_GROUP_LEAVE:
        e->group = dup_or_null(ev->group.group, oom);
        e->owner = dup_or_null(ev->group.owner, oom);
        e->by = dup_or_null(ev->group.by, oom);
        e->epoch = ev->group.epoch;
        e->request_id = ev->group.request_id;
        break;
    case E2EE_EVENT_GROUP_JOIN:
        e->group = dup_or_null(ev->group_join.group, oom);
        e->owner = dup_or_null(ev->group_join.owner, oom);
        e->members = join_members(ev->group_join.members, ev->group_join.n_members, oom);
        e->epoch = ev->group_join.epoch;
        e->request_id = ev->group_join.request_id;
        break;
    case E2EE_EVENT_MEMBER_JOIN:
    case E2EE_EVENT_MEMBER_LEAVE:
        e->group = dup_or_null(ev->member.group, oom);
        e->user = dup_or_null(ev->member.user, oom);
        e->by = dup_or_null(ev->member.by, oom);
        e->epoch = ev->member.epoch;
        break;
    case E2EE_EVENT_PEER_IDENTITY_CHANGED:
        e->user = dup_or_null(ev->identity.user, oom);
        e->old_fp = dup_or_null(ev->identity.old_fingerprint, oom);
        e->new_fp = dup_or_null(ev->identity.new_fingerprint, oom);
        e->accepted = ev->identity.accepted;
        break;
    }
}

void chat_on_event(const struct e2ee_event *ev, void *user_data)
{
    struct chat *ch = user_data;
    struct chat_ev *e = calloc(1, sizeof *e);
    int oom = e == NULL;
    if (e) {
        e->type = ev->type;
        copy_event(e, ev, &oom);
        if (e->at_ms <= 0)
            e->at_ms = chat_now_ms();
    }
    if (oom) /* out of memory: the event is lost, as the library's own would be */
        chat_ev_free(e);
    else
        post(ch, e);
}

void chat_on_log(enum e2ee_log_level level, const char *line, void *user_data)
{
    struct chat *ch = user_data;
    struct chat_ev *e = calloc(1, sizeof *e);
    int oom = e == NULL;
    if (e) {
        e->is_log = 1;
        e->code = (int)level;
        e->at_ms = chat_now_ms();
        e->text = dup_or_null(line ? line : "", &oom);
    }
    if (oom)
        chat_ev_free(e);
    else
        post(ch, e);
}

void chat_post_signal(int fd, int signo)
{
    unsigned char b = (unsigned char)signo;
    int saved = errno;
    ssize_t w = write(fd, &b, 1);
    (void)w; /* a full pipe already wakes the UI thread; the signal is then lost */
    errno = saved;
}

/* Reads the pending wake-up bytes, noting the signals among them. */
static void drain_wakes(struct chat *ch)
{
    unsigned char buf[WAKE_DRAIN];
    ssize_t r;
    do {
        r = read(ch->evpipe[0], buf, sizeof buf);
        for (ssize_t i = 0; i < r; i++)
            if (buf[i] != WAKE_EVENT && buf[i] < 64)
                ch->sig_pending |= (uint64_t)1 << buf[i];
    } while (r == (ssize_t)sizeof buf || (r < 0 && errno == EINTR));
}

int chat_take(struct chat *ch, struct chat_ev **ev, int *signo)
{
    *ev = NULL;
    *signo = 0;
    drain_wakes(ch);
    if (ch->sig_pending) { /* signals first: a quit must not wait behind a backlog */
        *signo = __builtin_ctzll(ch->sig_pending);
        ch->sig_pending &= ~((uint64_t)1 << *signo);
    } else {
        pthread_mutex_lock(&ch->q_mu);
        *ev = ch->q_head;
        if (*ev) {
            ch->q_head = (*ev)->next;
            if (!ch->q_head)
                ch->q_tail = NULL;
            (*ev)->next = NULL;
        }
        pthread_mutex_unlock(&ch->q_mu);
    }
    return *ev != NULL || *signo != 0;
}

void chat_ev_free(struct chat_ev *e)
{
    if (!e)
        return;
    free(e->msg_id);
    free(e->from);
    free(e->to);
    free(e->group);
    free(e->user);
    free(e->by);
    free(e->owner);
    if (e->text) {
        /* message plaintext: do not leave it in freed heap memory */
        explicit_bzero(e->text, strlen(e->text) > e->len ? strlen(e->text) : e->len);
        free(e->text);
    }
    free(e->members);
    free(e->old_fp);
    free(e->new_fp);
    free(e);
}
