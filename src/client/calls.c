/*
 * e2ee client: group calls (create, join, leave, delete, remove), asynchronous and blocking.
 *
 * A call is queued with a request id and sent once logged in (calls made while offline wait
 * for the next login). It completes when the relay refused it (E2EE_EVENT_ERROR), or when
 * the relay accepted it AND the membership event it causes has been processed: the event
 * (from the relay's group log or inbox) carries the request id, and a blocking call returns
 * only once the client's state shows the change (a send to a group just created works).
 * A call in flight when the connection ends completes with E2EE_ERR_CLOSED unless the relay
 * had accepted it already.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/client_internal.h"

/* A call is finished; a blocking caller sees it done once the pass's events (its own
 * among them) have been delivered (e2ee__calls_release). */
static void call_done(struct e2ee_client *c, size_t at, int code)
{
    struct e2ee__call *call = c->calls.v[at];
    call->state = E2EE__CALL_FINISHING;
    call->code = code;
    if (!call->waiter)
        free(e2ee__vec_take(&c->calls, at)); /* nobody waits: the events said it all */
}

void e2ee__calls_release(struct e2ee_client *c)
{
    for (size_t i = 0; i < c->calls.n; i++) {
        struct e2ee__call *call = c->calls.v[i];
        if (call->state == E2EE__CALL_FINISHING)
            call->state = E2EE__CALL_DONE;
    }
}

static int call_check(e2ee_client *c, enum e2ee__call_kind kind, const char *group,
                      const char *user)
{
    int rc = c ? e2ee__client_id_check(group) : E2EE_ERR_ARG;
    if (rc == E2EE_OK && kind == E2EE__CALL_REMOVE)
        rc = e2ee__client_id_check(user);
    return rc;
}

/* Queues a call (mu held). */
static int call_new(struct e2ee_client *c, enum e2ee__call_kind kind, const char *group,
                    const char *user, int waiter, struct e2ee__call **out)
{
    struct e2ee__call *call = calloc(1, sizeof *call);
    int rc = call ? e2ee__vec_push(&c->calls, call) : E2EE_ERR_NOMEM;
    if (rc != E2EE_OK) {
        free(call);
        call = NULL;
    } else {
        call->req_id = e2ee__client_req_id(c);
        call->kind = kind;
        e2ee__client_copy_id(call->group, group);
        e2ee__client_copy_id(call->user, user);
        call->waiter = waiter;
    }
    *out = call;
    return rc;
}

static int call_async(e2ee_client *c, enum e2ee__call_kind kind, const char *group,
                      const char *user, uint64_t *request_id)
{
    struct e2ee__call *call = NULL;
    int rc = call_check(c, kind, group, user);
    if (request_id)
        *request_id = 0;
    if (rc != E2EE_OK)
        goto done;
    pthread_mutex_lock(&c->mu);
    rc = call_new(c, kind, group, user, 0, &call);
    if (rc == E2EE_OK && request_id)
        *request_id = call->req_id;
    pthread_mutex_unlock(&c->mu);
    if (rc == E2EE_OK)
        e2ee__client_wake(c);
done:
    return rc;
}

int e2ee_client_create_group(e2ee_client *c, const char *group, uint64_t *request_id)
{
    return call_async(c, E2EE__CALL_CREATE, group, NULL, request_id);
}

int e2ee_client_join_group(e2ee_client *c, const char *group, uint64_t *request_id)
{
    return call_async(c, E2EE__CALL_JOIN, group, NULL, request_id);
}

int e2ee_client_leave_group(e2ee_client *c, const char *group, uint64_t *request_id)
{
    return call_async(c, E2EE__CALL_LEAVE, group, NULL, request_id);
}

int e2ee_client_delete_group(e2ee_client *c, const char *group, uint64_t *request_id)
{
    return call_async(c, E2EE__CALL_DELETE, group, NULL, request_id);
}

int e2ee_client_remove_member(e2ee_client *c, const char *group, const char *user,
                              uint64_t *request_id)
{
    return call_async(c, E2EE__CALL_REMOVE, group, user, request_id);
}

/* ---- blocking ---- */

static void deadline_after(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static size_t call_index(struct e2ee_client *c, const struct e2ee__call *call)
{
    size_t i = 0;
    while (i < c->calls.n && c->calls.v[i] != call)
        i++;
    return i;
}

/* Waits (mu held) until the call is done or the deadline passed. Runs the loop itself when
 * no other thread does. */
static void wait_done(struct e2ee_client *c, struct e2ee__call *call, uint64_t deadline)
{
    for (;;) {
        uint64_t now = e2ee__client_mono_ms();
        int slice;
        struct timespec ts;
        if (call->state == E2EE__CALL_DONE || now >= deadline)
            break;
        slice = deadline - now < E2EE__CLIENT_WAIT_SLICE_MS ? (int)(deadline - now)
                                                           : E2EE__CLIENT_WAIT_SLICE_MS;
        if (!e2ee__client_driven_elsewhere(c)) {
            pthread_mutex_unlock(&c->mu);
            int rc = e2ee_client_loop(c, slice);
            pthread_mutex_lock(&c->mu);
            if (rc != E2EE_ERR_STATE)
                continue;
        }
        deadline_after(&ts, slice);
        (void)pthread_cond_timedwait(&c->cv, &c->mu, &ts);
    }
}

static int call_wait(e2ee_client *c, enum e2ee__call_kind kind, const char *group,
                     const char *user, int timeout_ms)
{
    struct e2ee__call *call = NULL;
    int rc = call_check(c, kind, group, user);
    if (rc == E2EE_OK && e2ee__client_on_loop_thread(c))
        rc = E2EE_ERR_IN_CALLBACK; /* the loop cannot wait for itself */
    if (rc != E2EE_OK)
        goto done;
    pthread_mutex_lock(&c->mu);
    rc = call_new(c, kind, group, user, 1, &call);
    pthread_mutex_unlock(&c->mu);
    if (rc != E2EE_OK)
        goto done;
    e2ee__client_wake(c);
    pthread_mutex_lock(&c->mu);
    wait_done(c, call, e2ee__client_mono_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0));
    if (call->state == E2EE__CALL_DONE) {
        rc = call->code;
        free(e2ee__vec_take(&c->calls, call_index(c, call)));
    } else if (call->state == E2EE__CALL_FINISHING) {
        /* finished, its events being delivered right now: the answer is known */
        rc = call->code;
        free(e2ee__vec_take(&c->calls, call_index(c, call)));
    } else {
        rc = E2EE_ERR_TIMEOUT;
        call->waiter = 0; /* it completes on its own; its events still come */
    }
    pthread_mutex_unlock(&c->mu);
done:
    return rc;
}

int e2ee_client_create_group_wait(e2ee_client *c, const char *group, int timeout_ms)
{
    return call_wait(c, E2EE__CALL_CREATE, group, NULL, timeout_ms);
}

int e2ee_client_join_group_wait(e2ee_client *c, const char *group, int timeout_ms)
{
    return call_wait(c, E2EE__CALL_JOIN, group, NULL, timeout_ms);
}

int e2ee_client_leave_group_wait(e2ee_client *c, const char *group, int timeout_ms)
{
    return call_wait(c, E2EE__CALL_LEAVE, group, NULL, timeout_ms);
}

int e2ee_client_delete_group_wait(e2ee_client *c, const char *group, int timeout_ms)
{
    return call_wait(c, E2EE__CALL_DELETE, group, NULL, timeout_ms);
}

int e2ee_client_remove_member_wait(e2ee_client *c, const char *group, const char *user,
                                   int timeout_ms)
{
    return call_wait(c, E2EE__CALL_REMOVE, group, user, timeout_ms);
}

/* ---- the loop's side ---- */

static int call_frame(struct e2ee_client *c, struct e2ee__call *call)
{
    E2ee__ClientFrame f = E2EE__CLIENT_FRAME__INIT;
    E2ee__RelayCreateGroup cg = E2EE__RELAY_CREATE_GROUP__INIT;
    E2ee__RelayJoinGroup jg = E2EE__RELAY_JOIN_GROUP__INIT;
    E2ee__RelayLeaveGroup lg = E2EE__RELAY_LEAVE_GROUP__INIT;
    E2ee__RelayDeleteGroup dg = E2EE__RELAY_DELETE_GROUP__INIT;
    E2ee__RelayRemoveMember rm = E2EE__RELAY_REMOVE_MEMBER__INIT;

    f.request_id = call->req_id;
    cg.group_id = jg.group_id = lg.group_id = dg.group_id = rm.group_id = call->group;
    rm.user_id = call->user;
    switch (call->kind) {
    case E2EE__CALL_CREATE:
        f.body_case = E2EE__CLIENT_FRAME__BODY_CREATE_GROUP;
        f.create_group = &cg;
        break;
    case E2EE__CALL_JOIN:
        f.body_case = E2EE__CLIENT_FRAME__BODY_JOIN_GROUP;
        f.join_group = &jg;
        break;
    case E2EE__CALL_LEAVE:
        f.body_case = E2EE__CLIENT_FRAME__BODY_LEAVE_GROUP;
        f.leave_group = &lg;
        break;
    case E2EE__CALL_DELETE:
        f.body_case = E2EE__CLIENT_FRAME__BODY_DELETE_GROUP;
        f.delete_group = &dg;
        break;
    case E2EE__CALL_REMOVE:
        f.body_case = E2EE__CLIENT_FRAME__BODY_REMOVE_MEMBER;
        f.remove_member = &rm;
        break;
    }
    return e2ee__client_frame(c, &f, 0);
}

int e2ee__calls_send(struct e2ee_client *c)
{
    int rc = E2EE_OK;
    for (size_t i = 0; rc == E2EE_OK && i < c->calls.n; i++) {
        struct e2ee__call *call = c->calls.v[i];
        if (call->state != E2EE__CALL_QUEUED)
            continue;
        rc = call_frame(c, call);
        if (rc == E2EE_OK)
            call->state = E2EE__CALL_SENT;
    }
    return rc;
}

/* The call a result answers (SENT, with that request id), or calls.n. */
static size_t call_of_result(struct e2ee_client *c, uint64_t req)
{
    size_t i = 0;
    while (i < c->calls.n && (((struct e2ee__call *)c->calls.v[i])->req_id != req ||
                              ((struct e2ee__call *)c->calls.v[i])->state != E2EE__CALL_SENT))
        i++;
    return i;
}

int e2ee__calls_on_result(struct e2ee_client *c, const E2ee__RelayResult *r)
{
    size_t i = call_of_result(c, r->request_id);
    struct e2ee__call *call = i < c->calls.n ? c->calls.v[i] : NULL;

    if (call && r->code != E2EE_OK) {
        e2ee__event_error(c, r->code, r->text && r->text[0] ? r->text : NULL, call->req_id,
                          call->group);
        call_done(c, i, r->code);
    } else if (call && call->event_seen) {
        call_done(c, i, E2EE_OK);
    } else if (call) {
        call->answered = 1; /* its membership event follows */
    }
    return call != NULL;
}

static int call_matches(const struct e2ee__call *call, enum e2ee__call_kind kind,
                        const char *group, const char *user)
{
    return call->kind == kind && call->state == E2EE__CALL_SENT && !call->event_seen &&
           strcmp(call->group, group) == 0 && (!user || strcmp(call->user, user) == 0);
}

uint64_t e2ee__calls_match(struct e2ee_client *c, enum e2ee__call_kind kind, const char *group,
                           const char *user)
{
    uint64_t req = 0;
    size_t i = 0;
    while (i < c->calls.n && !call_matches(c->calls.v[i], kind, group, user))
        i++;
    if (i < c->calls.n) {
        struct e2ee__call *call = c->calls.v[i];
        req = call->req_id;
        call->event_seen = 1;
        if (call->answered)
            call_done(c, i, E2EE_OK);
    }
    return req;
}

void e2ee__calls_on_down(struct e2ee_client *c)
{
    for (size_t i = c->calls.n; i-- > 0;) {
        struct e2ee__call *call = c->calls.v[i];
        if (call->state != E2EE__CALL_SENT)
            continue;
        if (!call->answered)
            e2ee__event_error(c, E2EE_ERR_CLOSED,
                              "the connection ended before the relay answered; the request "
                              "may have taken effect",
                              call->req_id, call->group);
        call_done(c, i, call->answered ? E2EE_OK : E2EE_ERR_CLOSED);
    }
}
