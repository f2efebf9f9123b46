/*
 * e2ee-chat: what the UI thread keeps track of.
 *  - Outgoing messages (a ring of the last CHAT_SENT_KEEP): the destination and a snippet
 *    for the terminal's ack lines, and whether the relay answered, for the wait at exit.
 *  - Group requests not answered yet (their request ids), for the same wait.
 *  - Scripted mode: the event lines printed and not yet consumed by a /wait.
 */
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"

static void copy_trunc(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* The snippet: up to CHAT_SNIPPET_MAX bytes, cut on a UTF-8 boundary, with "..." if cut. */
static void make_snippet(char *dst, const char *text)
{
    size_t n = strlen(text);
    if (n <= CHAT_SNIPPET_MAX) {
        memcpy(dst, text, n + 1);
        return;
    }
    n = CHAT_SNIPPET_MAX;
    while (n > 0 && ((unsigned char)text[n] & 0xc0) == 0x80)
        n--;
    memcpy(dst, text, n);
    memcpy(dst + n, "...", 4);
}

void chat_track_sent(struct chat *ch, const char *id, const char *dest, const char *text)
{
    struct chat_sent *s;
    if (!ch->sent) {
        ch->sent = calloc(CHAT_SENT_KEEP, sizeof *ch->sent);
        if (!ch->sent) {
            ch->unacked++; /* still waited for at exit, though never matched */
            return;
        }
    }
    s = &ch->sent[ch->sent_head];
    if (ch->n_sent == CHAT_SENT_KEEP && !s->acked)
        ch->unacked--; /* overwritten before its ack: stop waiting for it */
    if (ch->n_sent < CHAT_SENT_KEEP)
        ch->n_sent++;
    ch->sent_head = (ch->sent_head + 1) % CHAT_SENT_KEEP;
    copy_trunc(s->id, sizeof s->id, id);
    copy_trunc(s->dest, sizeof s->dest, dest);
    make_snippet(s->snippet, text);
    s->acked = 0;
    ch->unacked++;
}

const struct chat_sent *chat_find_sent(const struct chat *ch, const char *id)
{
    const struct chat_sent *found = NULL;
    for (size_t i = 0; !found && i < ch->n_sent; i++)
        if (strcmp(ch->sent[i].id, id) == 0)
            found = &ch->sent[i];
    return found;
}

void chat_track_request(struct chat *ch, uint64_t req, const char *group, const char *removed)
{
    struct chat_req *r;
    if (ch->n_reqs == ch->cap_reqs) {
        size_t cap = ch->cap_reqs ? ch->cap_reqs * 2 : 16;
        r = realloc(ch->reqs, cap * sizeof *r);
        if (!r)
            return; /* not waited for at exit; the event still prints */
        ch->reqs = r;
        ch->cap_reqs = cap;
    }
    r = &ch->reqs[ch->n_reqs++];
    r->id = req;
    copy_trunc(r->group, sizeof r->group, group);
    copy_trunc(r->removed, sizeof r->removed, removed ? removed : "");
}

static void drop_request(struct chat *ch, size_t i)
{
    ch->reqs[i] = ch->reqs[--ch->n_reqs];
}

static void answer_request(struct chat *ch, uint64_t req)
{
    for (size_t i = 0; req && i < ch->n_reqs; i++) {
        if (ch->reqs[i].id == req) {
            drop_request(ch, i);
            return;
        }
    }
}

/* A removal by this client shows as the removed member's MEMBER_LEAVE with `by` set. */
static void answer_removal(struct chat *ch, const struct chat_ev *e)
{
    for (size_t i = 0; e->by && e->group && e->user && i < ch->n_reqs; i++) {
        if (ch->reqs[i].removed[0] && strcmp(ch->reqs[i].removed, e->user) == 0 &&
            strcmp(ch->reqs[i].group, e->group) == 0) {
            drop_request(ch, i);
            return;
        }
    }
}

static void answer_message(struct chat *ch, const char *id)
{
    struct chat_sent *s = (struct chat_sent *)chat_find_sent(ch, id ? id : "");
    if (s && !s->acked) {
        s->acked = 1;
        ch->unacked--;
    }
}

void chat_track_event(struct chat *ch, const struct chat_ev *e)
{
    if (e->is_log)
        return;
    switch (e->type) {
    case E2EE_EVENT_MESSAGE_ACK:
    case E2EE_EVENT_GROUP_MESSAGE_ACK:
        answer_message(ch, e->msg_id);
        break;
    case E2EE_EVENT_ERROR:
    case E2EE_EVENT_GROUP_CREATED:
    case E2EE_EVENT_GROUP_DELETED:
    case E2EE_EVENT_GROUP_JOIN:
    case E2EE_EVENT_GROUP_LEAVE:
        answer_request(ch, e->request_id);
        break;
    case E2EE_EVENT_MEMBER_LEAVE:
        answer_removal(ch, e);
        break;
    default:
        break;
    }
}

size_t chat_pending(const struct chat *ch)
{
    return ch->unacked + ch->n_reqs;
}

void chat_hist_add(struct chat *ch, const char *line)
{
    char *copy;
    if (ch->n_hist == CHAT_HISTORY_MAX) {
        free(ch->hist[0]);
        memmove(ch->hist, ch->hist + 1, (ch->n_hist - 1) * sizeof *ch->hist);
        ch->n_hist--;
    }
    if (ch->n_hist == ch->cap_hist) {
        size_t cap = ch->cap_hist ? ch->cap_hist * 2 : 64;
        char **h = realloc(ch->hist, cap * sizeof *h);
        if (!h)
            return;
        ch->hist = h;
        ch->cap_hist = cap;
    }
    copy = strdup(line);
    if (copy)
        ch->hist[ch->n_hist++] = copy;
}

int chat_hist_consume(struct chat *ch, const char *pattern)
{
    size_t i = 0;
    int found;
    while (i < ch->n_hist && fnmatch(pattern, ch->hist[i], 0) != 0)
        i++;
    found = i < ch->n_hist;
    if (found) {
        free(ch->hist[i]);
        memmove(ch->hist + i, ch->hist + i + 1, (ch->n_hist - i - 1) * sizeof *ch->hist);
        ch->n_hist--;
    }
    return found;
}

void chat_track_free(struct chat *ch)
{
    for (size_t i = 0; i < ch->n_hist; i++)
        free(ch->hist[i]);
    free(ch->hist);
    free(ch->reqs);
    if (ch->sent)
        explicit_bzero(ch->sent, CHAT_SENT_KEEP * sizeof *ch->sent);
    free(ch->sent);
    ch->hist = NULL;
    ch->reqs = NULL;
    ch->sent = NULL;
}
