/*
 * e2ee store: events not yet received by the application (the client's pending events).
 *
 * The client stores an event in the transaction of the change that produced it (a message
 * decrypted with the advanced ratchet, an acknowledgement that removed an outgoing message)
 * and deletes it once the application's callback returned; what is left at the next start
 * is delivered again, in order. Records hold plaintext: every copy handed out is wiped.
 */
#include <stdlib.h>

#include "store/store_internal.h"

static const char k_add[] = "INSERT INTO pending_events (record) VALUES (?)";
static const char k_list[] =
    "SELECT seq, record FROM pending_events WHERE seq > ? ORDER BY seq LIMIT ?";
static const char k_delete[] = "DELETE FROM pending_events WHERE seq = ?";
static const char k_count[] = "SELECT count(*) FROM pending_events";
/* A removal need not survive a power loss (it would only repeat an event), but it must
 * survive the process: in WAL mode, NORMAL writes the commit to the log without an fsync. */
static const char k_sync_normal[] = "PRAGMA synchronous = NORMAL";
static const char k_sync_full[] = "PRAGMA synchronous = FULL";

int e2ee__store_event_add(struct e2ee__store *st, const uint8_t *rec, size_t len, int64_t *seq)
{
    int rc = st && seq ? e2ee__store_check_blob(rec, len, E2EE__STORE_EVENT_MAX, 0)
                       : E2EE_ERR_ARG;
    if (seq)
        *seq = 0;
    if (rc == E2EE_OK)
        rc = e2ee__store_run(st, k_add, NULL, "b", rec, len);
    if (rc == E2EE_OK)
        *seq = sqlite3_last_insert_rowid(st->db);
    return rc;
}

static int collect(struct e2ee__store *st, sqlite3_stmt *s, size_t max,
                   struct e2ee__store_event *acc, size_t *n)
{
    int rc = E2EE_OK;
    while (rc == E2EE_OK && *n < max && (rc = e2ee__store_step_row(st, s)) == E2EE_OK) {
        struct e2ee__store_event *e = &acc[*n];
        e->seq = sqlite3_column_int64(s, 0);
        rc = e->seq > 0 ? e2ee__store_column_blob(s, 1, E2EE__STORE_EVENT_MAX, &e->record,
                                                  &e->len)
                        : E2EE_ERR_CORRUPT;
        if (rc == E2EE_OK)
            (*n)++;
    }
    return rc == E2EE_ERR_NOT_FOUND ? E2EE_OK : rc;
}

int e2ee__store_event_list(struct e2ee__store *st, int64_t after, size_t max,
                           struct e2ee__store_event **items, size_t *n)
{
    struct e2ee__store_event *acc = NULL;
    sqlite3_stmt *s = NULL;
    size_t cnt = 0;
    int rc = st && items && n && max > 0 ? E2EE_OK : E2EE_ERR_ARG;

    if (items)
        *items = NULL;
    if (n)
        *n = 0;
    if (rc == E2EE_OK && max > E2EE__STORE_EVENT_LIST_MAX)
        max = E2EE__STORE_EVENT_LIST_MAX;
    if (rc == E2EE_OK) {
        acc = calloc(max, sizeof *acc);
        rc = acc ? E2EE_OK : E2EE_ERR_NOMEM;
    }
    if (rc == E2EE_OK)
        rc = e2ee__store_prepare(st, k_list, &s);
    if (rc == E2EE_OK)
        rc = e2ee__store_bind(st, s, "II", after, (int64_t)max);
    if (rc == E2EE_OK)
        rc = collect(st, s, max, acc, &cnt);
    e2ee__store_release(s);
    if (rc == E2EE_OK) {
        *items = acc;
        *n = cnt;
        acc = NULL;
    }
    e2ee__store_event_free(acc, cnt);
    return rc;
}

int e2ee__store_event_delete(struct e2ee__store *st, int64_t seq)
{
    int rc = st && seq > 0 ? E2EE_OK : E2EE_ERR_ARG;
    size_t changed = 0;
    int lazy = rc == E2EE_OK && !e2ee__store_in_transaction(st);

    if (lazy && sqlite3_exec(st->db, k_sync_normal, NULL, NULL, NULL) != SQLITE_OK)
        rc = e2ee__store_fail(st, sqlite3_extended_errcode(st->db));
    if (rc == E2EE_OK)
        rc = e2ee__store_run(st, k_delete, &changed, "I", seq);
    /* back to FULL for every other commit, whatever happened */
    if (lazy && sqlite3_exec(st->db, k_sync_full, NULL, NULL, NULL) != SQLITE_OK && rc == E2EE_OK)
        rc = e2ee__store_fail(st, sqlite3_extended_errcode(st->db));
    if (rc == E2EE_OK && changed == 0)
        rc = E2EE_ERR_NOT_FOUND;
    return rc;
}

int e2ee__store_event_count(struct e2ee__store *st, size_t *count)
{
    return e2ee__store_count(st, k_count, count);
}

void e2ee__store_event_free(struct e2ee__store_event *items, size_t n)
{
    if (!items)
        return;
    for (size_t i = 0; i < n; i++)
        e2ee__store_blob_free(items[i].record, items[i].len);
    free(items);
}
