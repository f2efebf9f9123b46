/* e2ee store: the key/value meta table, and the last relay sequence acknowledged per stream. */
#include <string.h>

#include "store/store_internal.h"

static const char k_put[] = "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)";
static const char k_get[] = "SELECT value FROM meta WHERE key = ?";
static const char k_delete[] = "DELETE FROM meta WHERE key = ?";
static const char k_cursor_get[] = "SELECT seq FROM cursors WHERE stream = ?";
static const char k_cursor_advance[] =
    "INSERT INTO cursors (stream, seq) VALUES (?1, ?2) "
    "ON CONFLICT (stream) DO UPDATE SET seq = max(seq, excluded.seq)";

static int check_key(struct e2ee__store *st, const char *key)
{
    int rc = st ? e2ee__store_check_id(key) : E2EE_ERR_ARG;
    if (rc == E2EE_OK &&
        strncmp(key, E2EE__STORE_META_RESERVED, sizeof E2EE__STORE_META_RESERVED - 1) == 0)
        rc = E2EE_ERR_ARG;
    return rc;
}

int e2ee__store_meta_put(struct e2ee__store *st, const char *key, const uint8_t *val,
                         size_t len)
{
    int rc = check_key(st, key);
    if (rc == E2EE_OK)
        rc = e2ee__store_check_blob(val, len, E2EE__STORE_META_MAX, 1);
    if (rc == E2EE_OK)
        rc = e2ee__store_run(st, k_put, NULL, "sb", key, val, len);
    return rc;
}

int e2ee__store_meta_get(struct e2ee__store *st, const char *key, uint8_t **val, size_t *len)
{
    int rc = check_key(st, key);
    e2ee__store_clear_blob(val, len);
    if (rc == E2EE_OK && (!val || !len))
        rc = E2EE_ERR_ARG;
    if (rc == E2EE_OK)
        rc = e2ee__store_get_blob(st, k_get, E2EE__STORE_META_MAX, val, len, "s", key);
    return rc;
}

int e2ee__store_meta_delete(struct e2ee__store *st, const char *key)
{
    int rc = check_key(st, key);
    if (rc == E2EE_OK)
        rc = e2ee__store_change_one(st, k_delete, "s", key);
    return rc;
}

int e2ee__store_cursor_get(struct e2ee__store *st, const char *stream, uint64_t *seq)
{
    int64_t v = 0;
    int rc = st && seq ? e2ee__store_check_id(stream) : E2EE_ERR_ARG;
    if (seq)
        *seq = 0;
    if (rc == E2EE_OK)
        rc = e2ee__store_get_i64(st, k_cursor_get, &v, "s", stream);
    if (rc == E2EE_OK && v < 0)
        rc = E2EE_ERR_CORRUPT;
    if (rc == E2EE_OK)
        *seq = (uint64_t)v;
    if (rc == E2EE_ERR_NOT_FOUND)
        rc = E2EE_OK; /* never recorded: 0 */
    return rc;
}

int e2ee__store_cursor_advance(struct e2ee__store *st, const char *stream, uint64_t seq)
{
    int rc = st ? e2ee__store_check_id(stream) : E2EE_ERR_ARG;
    if (rc == E2EE_OK && seq > INT64_MAX)
        rc = E2EE_ERR_RANGE;
    if (rc == E2EE_OK)
        rc = e2ee__store_run(st, k_cursor_advance, NULL, "sI", stream, (int64_t)seq);
    return rc;
}
