/*
 * e2ee store: the outgoing queue. Messages wait here, in order, from the moment the
 * application hands them over until the relay acknowledges them, across reconnects and
 * restarts. Payloads are plaintext waiting for encryption: every copy handed out is wiped.
 */
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "store/store_internal.h"

static const char k_add[] = "INSERT INTO outq (msg_id, kind, target, payload, state, created) "
                            "VALUES (?, ?, ?, ?, 0, ?)";
static const char k_get[] = "SELECT seq, msg_id, kind, target, payload, state, created "
                            "FROM outq WHERE msg_id = ?";
static const char k_list[] = "SELECT seq, msg_id, kind, target, payload, state, created "
                             "FROM outq ORDER BY seq LIMIT ?";
static const char k_list_state[] = "SELECT seq, msg_id, kind, target, payload, state, created "
                                   "FROM outq WHERE state = ? ORDER BY seq LIMIT ?";
static const char k_set_state[] = "UPDATE outq SET state = ? WHERE msg_id = ?";
static const char k_set_state_all[] = "UPDATE outq SET state = ? WHERE state = ?";
static const char k_remove[] = "DELETE FROM outq WHERE msg_id = ?";
static const char k_count[] = "SELECT count(*) FROM outq";

static int check_state(uint32_t state)
{
    return state == E2EE__STORE_OUT_PENDING || state == E2EE__STORE_OUT_INFLIGHT
               ? E2EE_OK
               : E2EE_ERR_ARG;
}

int e2ee__store_outq_add(struct e2ee__store *st, const char *msg_id, uint32_t kind,
                         const char *target, const uint8_t *payload, size_t len, int64_t now,
                         int64_t *seq)
{
    int rc = st ? e2ee__store_check_id(msg_id) : E2EE_ERR_ARG;
    if (seq)
        *seq = 0;
    if (rc == E2EE_OK)
        rc = e2ee__store_check_id(target);
    if (rc == E2EE_OK)
        rc = e2ee__store_check_blob(payload, len, E2EE__STORE_PAYLOAD_MAX, 1);
    if (rc == E2EE_OK)
        rc = e2ee__store_run(st, k_add, NULL, "susbI", msg_id, kind, target, payload, len, now);
    if (rc == E2EE_OK && seq)
        *seq = sqlite3_last_insert_rowid(st->db);
    return rc;
}

static int read_item(sqlite3_stmt *s, struct e2ee__store_outgoing *o)
{
    sqlite3_int64 kind = sqlite3_column_int64(s, 2);
    sqlite3_int64 state = sqlite3_column_int64(s, 5);
    int rc = kind >= 0 && kind <= UINT32_MAX && state >= 0 && state <= UINT32_MAX &&
                     check_state((uint32_t)state) == E2EE_OK
                 ? E2EE_OK
                 : E2EE_ERR_CORRUPT;

    memset(o, 0, sizeof *o);
    o->seq = sqlite3_column_int64(s, 0);
    o->kind = (uint32_t)kind;
    o->state = (uint32_t)state;
    o->created = sqlite3_column_int64(s, 6);
    if (rc == E2EE_OK)
        rc = e2ee__store_column_id(s, 1, o->msg_id);
    if (rc == E2EE_OK)
        rc = e2ee__store_column_id(s, 3, o->target);
    if (rc == E2EE_OK)
        rc = e2ee__store_column_blob(s, 4, E2EE__STORE_PAYLOAD_MAX, &o->payload,
                                     &o->payload_len);
    return rc;
}

int e2ee__store_outq_get(struct e2ee__store *st, const char *msg_id,
                         struct e2ee__store_outgoing *out)
{
    struct e2ee__store_outgoing o;
    sqlite3_stmt *s = NULL;
    int rc = st && out ? e2ee__store_check_id(msg_id) : E2EE_ERR_ARG;

    memset(&o, 0, sizeof o);
    if (out)
        *out = o;
    if (rc == E2EE_OK)
        rc = e2ee__store_prepare(st, k_get, &s);
    if (rc == E2EE_OK)
        rc = e2ee__store_bind(st, s, "s", msg_id);
    if (rc == E2EE_OK)
        rc = e2ee__store_step_row(st, s);
    if (rc == E2EE_OK)
        rc = read_item(s, &o);
    e2ee__store_release(s);
    if (rc == E2EE_OK)
        *out = o; /* the payload changes hands */
    else
        e2ee__store_outgoing_cleanup(&o);
    return rc;
}

static int collect(struct e2ee__store *st, sqlite3_stmt *s, size_t max,
                   struct e2ee__store_outgoing **items, size_t *n)
{
    struct e2ee__store_outgoing *acc = NULL;
    size_t cnt = 0;
    int rc = E2EE_OK;

    if (max > 0) {
        acc = calloc(max, sizeof *acc);
        if (!acc)
            rc = E2EE_ERR_NOMEM;
    }
    while (rc == E2EE_OK && cnt < max && (rc = e2ee__store_step_row(st, s)) == E2EE_OK) {
        rc = read_item(s, &acc[cnt]);
        cnt++; /* counted even on failure: read_item leaves it safe to clean up */
    }
    if (rc == E2EE_ERR_NOT_FOUND)
        rc = E2EE_OK;
    if (rc == E2EE_OK) {
        *items = acc;
        *n = cnt;
    } else {
        e2ee__store_outq_free(acc, cnt);
    }
    return rc;
}

int e2ee__store_outq_list(struct e2ee__store *st, uint32_t state, size_t max,
                          struct e2ee__store_outgoing **items, size_t *n)
{
    sqlite3_stmt *s = NULL;
    int64_t limit;
    int rc = st && items && n ? E2EE_OK : E2EE_ERR_ARG;

    if (items)
        *items = NULL;
    if (n)
        *n = 0;
    if (rc == E2EE_OK && state != E2EE__STORE_OUT_ANY)
        rc = check_state(state);
    /* the array is allocated up front: keep the count within what one call hands out */
    if (max > E2EE__STORE_OUTQ_LIST_MAX)
        max = E2EE__STORE_OUTQ_LIST_MAX;
    limit = (int64_t)max;
    if (rc == E2EE_OK && state == E2EE__STORE_OUT_ANY) {
        rc = e2ee__store_prepare(st, k_list, &s);
        if (rc == E2EE_OK)
            rc = e2ee__store_bind(st, s, "I", limit);
    } else if (rc == E2EE_OK) {
        rc = e2ee__store_prepare(st, k_list_state, &s);
        if (rc == E2EE_OK)
            rc = e2ee__store_bind(st, s, "uI", state, limit);
    }
    if (rc == E2EE_OK)
        rc = collect(st, s, max, items, n);
    e2ee__store_release(s);
    return rc;
}

int e2ee__store_outq_set_state(struct e2ee__store *st, const char *msg_id, uint32_t state)
{
    int rc = st ? e2ee__store_check_id(msg_id) : E2EE_ERR_ARG;
    if (rc == E2EE_OK)
        rc = check_state(state);
    if (rc == E2EE_OK)
        rc = e2ee__store_change_one(st, k_set_state, "us", state, msg_id);
    return rc;
}

int e2ee__store_outq_set_state_all(struct e2ee__store *st, uint32_t from, uint32_t to,
                                   size_t *changed)
{
    int rc = st && check_state(from) == E2EE_OK && check_state(to) == E2EE_OK ? E2EE_OK
                                                                               : E2EE_ERR_ARG;
    if (changed)
        *changed = 0;
    if (rc == E2EE_OK)
        rc = e2ee__store_run(st, k_set_state_all, changed, "uu", to, from);
    return rc;
}

int e2ee__store_outq_remove(struct e2ee__store *st, const char *msg_id)
{
    int rc = st ? e2ee__store_check_id(msg_id) : E2EE_ERR_ARG;
    if (rc == E2EE_OK)
        rc = e2ee__store_change_one(st, k_remove, "s", msg_id);
    return rc;
}

int e2ee__store_outq_count(struct e2ee__store *st, size_t *count)
{
    return e2ee__store_count(st, k_count, count);
}

void e2ee__store_outgoing_cleanup(struct e2ee__store_outgoing *o)
{
    if (!o)
        return;
    e2ee__store_blob_free(o->payload, o->payload_len);
    e2ee__wipe(o, sizeof *o);
}

void e2ee__store_outq_free(struct e2ee__store_outgoing *items, size_t n)
{
    if (!items)
        return;
    for (size_t i = 0; i < n; i++)
        e2ee__store_outgoing_cleanup(&items[i]);
    free(items);
}
