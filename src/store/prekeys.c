/* e2ee store: signed prekeys and one-time prekeys (private records by id). */
#include "store/store_internal.h"

static const char k_spk_put[] =
    "INSERT INTO signed_prekeys (id, record, created) VALUES (?, ?, ?)";
static const char k_spk_get[] = "SELECT record FROM signed_prekeys WHERE id = ?";
static const char k_spk_latest[] =
    "SELECT id, record, created FROM signed_prekeys ORDER BY created DESC, id DESC LIMIT 1";
static const char k_spk_delete[] = "DELETE FROM signed_prekeys WHERE id = ?";
static const char k_spk_prune[] =
    "DELETE FROM signed_prekeys WHERE created < ?1 AND id <> "
    "(SELECT id FROM signed_prekeys ORDER BY created DESC, id DESC LIMIT 1)";

static const char k_pk_put[] = "INSERT INTO prekeys (id, record) VALUES (?, ?)";
static const char k_pk_get[] = "SELECT record FROM prekeys WHERE id = ?";
static const char k_pk_delete[] = "DELETE FROM prekeys WHERE id = ?";
static const char k_pk_count[] = "SELECT count(*) FROM prekeys";
static const char k_next_get[] =
    "SELECT value FROM meta WHERE key = '" E2EE__STORE_META_RESERVED "prekey_next_id'";
static const char k_next_set[] =
    "INSERT OR REPLACE INTO meta (key, value) "
    "VALUES ('" E2EE__STORE_META_RESERVED "prekey_next_id', ?)";

/* First id handed out by prekey_alloc_ids; ids run up to UINT32_MAX inclusive. */
#define PREKEY_FIRST_ID 1
#define PREKEY_END ((int64_t)UINT32_MAX + 1)

int e2ee__store_signed_prekey_put(struct e2ee__store *st, uint32_t id, const uint8_t *rec,
                                  size_t len, int64_t created)
{
    int rc = st ? e2ee__store_check_blob(rec, len, E2EE__STORE_RECORD_MAX, 0) : E2EE_ERR_ARG;
    if (rc == E2EE_OK)
        rc = e2ee__store_run(st, k_spk_put, NULL, "ubI", id, rec, len, created);
    return rc;
}

int e2ee__store_signed_prekey_get(struct e2ee__store *st, uint32_t id, uint8_t **rec,
                                  size_t *len)
{
    int rc = st && rec && len ? E2EE_OK : E2EE_ERR_ARG;
    e2ee__store_clear_blob(rec, len);
    if (rc == E2EE_OK)
        rc = e2ee__store_get_blob(st, k_spk_get, E2EE__STORE_RECORD_MAX, rec, len, "u", id);
    return rc;
}

static int read_latest(sqlite3_stmt *s, uint32_t *id_out, uint8_t **rec, size_t *len,
                       int64_t *created_out)
{
    sqlite3_int64 id = sqlite3_column_int64(s, 0);
    int rc = id >= 0 && id <= UINT32_MAX ? E2EE_OK : E2EE_ERR_CORRUPT;
    if (rc == E2EE_OK)
        rc = e2ee__store_column_blob(s, 1, E2EE__STORE_RECORD_MAX, rec, len);
    if (rc == E2EE_OK && id_out)
        *id_out = (uint32_t)id;
    if (rc == E2EE_OK && created_out)
        *created_out = sqlite3_column_int64(s, 2);
    return rc;
}

int e2ee__store_signed_prekey_latest(struct e2ee__store *st, uint32_t *id_out, uint8_t **rec,
                                     size_t *len, int64_t *created_out)
{
    sqlite3_stmt *s = NULL;
    int rc = st && rec && len ? E2EE_OK : E2EE_ERR_ARG;

    if (id_out)
        *id_out = 0;
    if (created_out)
        *created_out = 0;
    e2ee__store_clear_blob(rec, len);
    if (rc == E2EE_OK)
        rc = e2ee__store_prepare(st, k_spk_latest, &s);
    if (rc == E2EE_OK)
        rc = e2ee__store_step_row(st, s);
    if (rc == E2EE_OK)
        rc = read_latest(s, id_out, rec, len, created_out);
    e2ee__store_release(s);
    return rc;
}

int e2ee__store_signed_prekey_delete(struct e2ee__store *st, uint32_t id)
{
    return st ? e2ee__store_change_one(st, k_spk_delete, "u", id) : E2EE_ERR_ARG;
}

int e2ee__store_signed_prekey_prune(struct e2ee__store *st, int64_t before, size_t *removed)
{
    if (removed)
        *removed = 0;
    return st ? e2ee__store_run(st, k_spk_prune, removed, "I", before) : E2EE_ERR_ARG;
}

static int read_next_id(struct e2ee__store *st, int64_t *next)
{
    int rc = e2ee__store_get_i64(st, k_next_get, next, "");
    if (rc == E2EE_ERR_NOT_FOUND) {
        *next = PREKEY_FIRST_ID;
        rc = E2EE_OK;
    } else if (rc == E2EE_OK && (*next < PREKEY_FIRST_ID || *next > PREKEY_END)) {
        rc = E2EE_ERR_CORRUPT;
    }
    return rc;
}

static int alloc_ids(struct e2ee__store *st, uint32_t count, int64_t *next)
{
    int rc = read_next_id(st, next);
    if (rc == E2EE_OK && *next + (int64_t)count > PREKEY_END)
        rc = E2EE_ERR_RANGE;
    if (rc == E2EE_OK)
        rc = e2ee__store_run(st, k_next_set, NULL, "I", *next + (int64_t)count);
    return rc;
}

int e2ee__store_prekey_alloc_ids(struct e2ee__store *st, uint32_t count, uint32_t *first)
{
    int64_t next = 0;
    int rc = st && first && count > 0 ? E2EE_OK : E2EE_ERR_ARG;

    if (first)
        *first = 0;
    if (rc != E2EE_OK)
        goto done;
    rc = e2ee__store_savepoint(st);
    if (rc != E2EE_OK)
        goto done;
    rc = e2ee__store_savepoint_end(st, alloc_ids(st, count, &next));
    if (rc == E2EE_OK)
        *first = (uint32_t)next;
done:
    return rc;
}

int e2ee__store_prekey_put(struct e2ee__store *st, uint32_t id, const uint8_t *rec, size_t len)
{
    int rc = st ? e2ee__store_check_blob(rec, len, E2EE__STORE_RECORD_MAX, 0) : E2EE_ERR_ARG;
    if (rc == E2EE_OK)
        rc = e2ee__store_run(st, k_pk_put, NULL, "ub", id, rec, len);
    return rc;
}

int e2ee__store_prekey_get(struct e2ee__store *st, uint32_t id, uint8_t **rec, size_t *len)
{
    int rc = st && rec && len ? E2EE_OK : E2EE_ERR_ARG;
    e2ee__store_clear_blob(rec, len);
    if (rc == E2EE_OK)
        rc = e2ee__store_get_blob(st, k_pk_get, E2EE__STORE_RECORD_MAX, rec, len, "u", id);
    return rc;
}

int e2ee__store_prekey_delete(struct e2ee__store *st, uint32_t id)
{
    return st ? e2ee__store_change_one(st, k_pk_delete, "u", id) : E2EE_ERR_ARG;
}

int e2ee__store_prekey_count(struct e2ee__store *st, size_t *count)
{
    return e2ee__store_count(st, k_pk_count, count);
}
