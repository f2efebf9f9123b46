/*
 * e2ee store: known users and their identity keys, for the "peer identity changed" policy.
 * The first key seen for a user is trusted; a different key later is kept as pending and the
 * user flagged changed until the client trusts it (policy "accept" or the user's decision).
 */
#include <string.h>

#include "crypto/crypto.h"
#include "store/store_internal.h"

static const char k_get_key[] = "SELECT trusted_key FROM peers WHERE user_id = ?";
static const char k_insert[] = "INSERT INTO peers (user_id, trusted_key, pending_key, "
                               "first_seen, changed) VALUES (?, ?, NULL, ?, 0)";
static const char k_same[] =
    "UPDATE peers SET pending_key = NULL, changed = 0 WHERE user_id = ?";
static const char k_changed[] =
    "UPDATE peers SET pending_key = ?, changed = 1 WHERE user_id = ?";
static const char k_trust[] =
    "INSERT INTO peers (user_id, trusted_key, pending_key, first_seen, changed) "
    "VALUES (?, ?, NULL, ?, 0) ON CONFLICT (user_id) DO UPDATE SET "
    "trusted_key = excluded.trusted_key, pending_key = NULL, changed = 0";
static const char k_get[] = "SELECT user_id, trusted_key, pending_key, first_seen, changed "
                            "FROM peers WHERE user_id = ?";
static const char k_delete[] = "DELETE FROM peers WHERE user_id = ?";
static const char k_list[] = "SELECT user_id FROM peers ORDER BY user_id";

static int check_key(struct e2ee__store *st, const char *user, const uint8_t *key, size_t len)
{
    int rc = st && key ? e2ee__store_check_id(user) : E2EE_ERR_ARG;
    if (rc == E2EE_OK)
        rc = e2ee__store_check_blob(key, len, E2EE__STORE_KEY_MAX, 0);
    return rc;
}

static int observe(struct e2ee__store *st, const char *user, const uint8_t *key, size_t len,
                   int64_t now, enum e2ee__store_peer_status *status)
{
    uint8_t *trusted = NULL;
    size_t tlen = 0;
    int rc = e2ee__store_get_blob(st, k_get_key, E2EE__STORE_KEY_MAX, &trusted, &tlen, "s",
                                  user);
    if (rc == E2EE_ERR_NOT_FOUND) {
        *status = E2EE__STORE_PEER_NEW;
        rc = e2ee__store_run(st, k_insert, NULL, "sbI", user, key, len, now);
    } else if (rc == E2EE_OK && tlen == len && e2ee__ct_equal(trusted, key, len)) {
        *status = E2EE__STORE_PEER_SAME;
        rc = e2ee__store_run(st, k_same, NULL, "s", user);
    } else if (rc == E2EE_OK) {
        *status = E2EE__STORE_PEER_CHANGED;
        rc = e2ee__store_run(st, k_changed, NULL, "bs", key, len, user);
    }
    e2ee__store_blob_free(trusted, tlen);
    return rc;
}

int e2ee__store_peer_observe(struct e2ee__store *st, const char *user, const uint8_t *key,
                             size_t len, int64_t now, enum e2ee__store_peer_status *status)
{
    enum e2ee__store_peer_status result = E2EE__STORE_PEER_SAME;
    int rc = check_key(st, user, key, len);

    if (status)
        *status = E2EE__STORE_PEER_SAME;
    if (rc == E2EE_OK && !status)
        rc = E2EE_ERR_ARG;
    if (rc == E2EE_OK)
        rc = e2ee__store_savepoint(st);
    if (rc == E2EE_OK)
        rc = e2ee__store_savepoint_end(st, observe(st, user, key, len, now, &result));
    if (rc == E2EE_OK)
        *status = result;
    return rc;
}

int e2ee__store_peer_trust(struct e2ee__store *st, const char *user, const uint8_t *key,
                           size_t len, int64_t now)
{
    int rc = check_key(st, user, key, len);
    if (rc == E2EE_OK)
        rc = e2ee__store_run(st, k_trust, NULL, "sbI", user, key, len, now);
    return rc;
}

/* Copies a key column into buf[E2EE__STORE_KEY_MAX]; a NULL column gives length 0. */
static int column_key(sqlite3_stmt *s, int col, uint8_t *buf, size_t *len)
{
    const void *p = sqlite3_column_blob(s, col);
    int n = sqlite3_column_bytes(s, col);
    int rc = n >= 0 && n <= E2EE__STORE_KEY_MAX && (n == 0 || p) ? E2EE_OK : E2EE_ERR_CORRUPT;
    *len = 0;
    if (rc == E2EE_OK && n > 0) {
        memcpy(buf, p, (size_t)n);
        *len = (size_t)n;
    }
    return rc;
}

static int read_peer(sqlite3_stmt *s, struct e2ee__store_peer *p)
{
    int rc = e2ee__store_column_id(s, 0, p->user);
    if (rc == E2EE_OK)
        rc = column_key(s, 1, p->trusted_key, &p->trusted_len);
    if (rc == E2EE_OK && p->trusted_len == 0)
        rc = E2EE_ERR_CORRUPT;
    if (rc == E2EE_OK)
        rc = column_key(s, 2, p->pending_key, &p->pending_len);
    p->first_seen = sqlite3_column_int64(s, 3);
    p->changed = sqlite3_column_int(s, 4) != 0;
    return rc;
}

int e2ee__store_peer_get(struct e2ee__store *st, const char *user, struct e2ee__store_peer *out)
{
    struct e2ee__store_peer p;
    sqlite3_stmt *s = NULL;
    int rc = st && out ? e2ee__store_check_id(user) : E2EE_ERR_ARG;

    memset(&p, 0, sizeof p);
    if (out)
        *out = p;
    if (rc == E2EE_OK)
        rc = e2ee__store_prepare(st, k_get, &s);
    if (rc == E2EE_OK)
        rc = e2ee__store_bind(st, s, "s", user);
    if (rc == E2EE_OK)
        rc = e2ee__store_step_row(st, s);
    if (rc == E2EE_OK)
        rc = read_peer(s, &p);
    if (rc == E2EE_OK)
        *out = p;
    e2ee__store_release(s);
    return rc;
}

int e2ee__store_peer_delete(struct e2ee__store *st, const char *user)
{
    int rc = st ? e2ee__store_check_id(user) : E2EE_ERR_ARG;
    if (rc == E2EE_OK)
        rc = e2ee__store_change_one(st, k_delete, "s", user);
    return rc;
}

int e2ee__store_peer_list(struct e2ee__store *st, char ***users, size_t *n)
{
    sqlite3_stmt *s = NULL;
    int rc = st && users && n ? E2EE_OK : E2EE_ERR_ARG;
    if (users)
        *users = NULL;
    if (n)
        *n = 0;
    if (rc == E2EE_OK)
        rc = e2ee__store_prepare(st, k_list, &s);
    if (rc == E2EE_OK)
        rc = e2ee__store_collect_ids(st, s, users, n);
    e2ee__store_release(s);
    return rc;
}
