/* e2ee store: opening, checking and closing a store; transactions. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store_internal.h"

static const char k_app_id[] = "PRAGMA application_id";
static const char k_user_version[] = "PRAGMA user_version";
static const char k_table_count[] = "SELECT count(*) FROM sqlite_master";
static const char k_quick_check[] = "PRAGMA quick_check";
static const char k_begin[] = "BEGIN IMMEDIATE";
static const char k_commit[] = "COMMIT";
static const char k_rollback[] = "ROLLBACK";

/* Settings of every connection; journal_mode stays "memory" for an in-memory store. */
static const char k_setup[] =
    "PRAGMA foreign_keys = ON;"
    "PRAGMA secure_delete = ON;"
    "PRAGMA journal_mode = WAL;"
    "PRAGMA synchronous = FULL;";

/* Creates the file with mode 0600 when absent, so SQLite (and its -wal and -shm files, which
 * copy the database's mode) never widen access to the keys. */
static int create_private(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int rc = fd >= 0 || errno == EEXIST ? E2EE_OK : E2EE_ERR_STORE;
    if (fd >= 0)
        close(fd);
    return rc;
}

static int pragma_int(struct e2ee__store *st, const char *sql, int64_t *out)
{
    sqlite3_stmt *s = NULL;
    int rc = e2ee__store_prepare(st, sql, &s);
    *out = 0;
    if (rc == E2EE_OK)
        rc = e2ee__store_step_row(st, s);
    if (rc == E2EE_OK)
        *out = sqlite3_column_int64(s, 0);
    e2ee__store_release(s);
    return rc == E2EE_ERR_NOT_FOUND ? E2EE_ERR_CORRUPT : rc;
}

/* An empty database becomes a store; anything else must carry our application id. */
static int check_identity(struct e2ee__store *st)
{
    int64_t app = 0, version = 0, tables = 0;
    int rc = pragma_int(st, k_app_id, &app);
    if (rc == E2EE_OK)
        rc = pragma_int(st, k_user_version, &version);
    if (rc == E2EE_OK)
        rc = pragma_int(st, k_table_count, &tables);
    if (rc != E2EE_OK || (app == 0 && version == 0 && tables == 0))
        goto done; /* an error, or a new (empty) database */
    if (app != E2EE__STORE_APP_ID || version < 1)
        rc = E2EE_ERR_CORRUPT;
    else if (version > E2EE__STORE_SCHEMA_VERSION)
        rc = E2EE_ERR_VERSION;
done:
    return rc;
}

static int quick_check(struct e2ee__store *st)
{
    sqlite3_stmt *s = NULL;
    int rc = e2ee__store_prepare(st, k_quick_check, &s);
    if (rc == E2EE_OK)
        rc = e2ee__store_step_row(st, s);
    if (rc == E2EE_OK) {
        const unsigned char *t = sqlite3_column_text(s, 0);
        if (!t || strcmp((const char *)t, "ok") != 0)
            rc = E2EE_ERR_CORRUPT;
    }
    e2ee__store_release(s);
    return rc == E2EE_ERR_NOT_FOUND ? E2EE_ERR_CORRUPT : rc;
}

static int connect_db(struct e2ee__store *st, const char *path)
{
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(path ? path : ":memory:", &st->db, flags, NULL);
    if (rc != SQLITE_OK) {
        rc = e2ee__store_fail(st, rc);
        goto done;
    }
    sqlite3_extended_result_codes(st->db, 1);
    sqlite3_busy_timeout(st->db, E2EE__STORE_BUSY_TIMEOUT_MS);
    rc = check_identity(st);
    if (rc == E2EE_OK && sqlite3_exec(st->db, k_setup, NULL, NULL, NULL) != SQLITE_OK)
        rc = e2ee__store_fail(st, sqlite3_extended_errcode(st->db));
done:
    return rc;
}

int e2ee__store_open_version(struct e2ee__store **out, const char *path, int max_version)
{
    struct e2ee__store *st = NULL;
    int rc = out && max_version >= 1 && max_version <= E2EE__STORE_SCHEMA_VERSION
                 ? E2EE_OK
                 : E2EE_ERR_ARG;

    if (out)
        *out = NULL;
    if (rc != E2EE_OK)
        goto done;
    st = calloc(1, sizeof *st);
    rc = st ? E2EE_OK : E2EE_ERR_NOMEM;
    if (rc == E2EE_OK && path)
        rc = create_private(path);
    if (rc == E2EE_OK)
        rc = connect_db(st, path);
    if (rc == E2EE_OK)
        rc = e2ee__store_schema_migrate(st, max_version);
    if (rc == E2EE_OK)
        rc = quick_check(st);
    if (rc == E2EE_OK) {
        *out = st;
        st = NULL;
    }
done:
    e2ee__store_close(st);
    return rc;
}

int e2ee__store_open(struct e2ee__store **out, const char *path)
{
    return e2ee__store_open_version(out, path, E2EE__STORE_SCHEMA_VERSION);
}

void e2ee__store_close(struct e2ee__store *st)
{
    if (!st)
        return;
    if (st->db && !sqlite3_get_autocommit(st->db))
        (void)sqlite3_exec(st->db, k_rollback, NULL, NULL, NULL);
    for (size_t i = 0; i < st->ncache; i++)
        sqlite3_finalize(st->cache[i].stmt);
    free(st->cache);
    sqlite3_close(st->db);
    free(st);
}

int e2ee__store_schema_version(const struct e2ee__store *st)
{
    return st ? st->version : 0;
}

const char *e2ee__store_errmsg(const struct e2ee__store *st)
{
    return st ? st->errmsg : "";
}

int e2ee__store_in_transaction(const struct e2ee__store *st)
{
    return st && st->db && !sqlite3_get_autocommit(st->db);
}

/* E2EE_OK when st is usable and its transaction state is `want` (0 or 1). */
static int check_txn(const struct e2ee__store *st, int want)
{
    int rc = st ? E2EE_OK : E2EE_ERR_ARG;
    if (rc == E2EE_OK && e2ee__store_in_transaction(st) != want)
        rc = E2EE_ERR_STATE;
    return rc;
}

int e2ee__store_begin(struct e2ee__store *st)
{
    int rc = check_txn(st, 0);
    if (rc == E2EE_OK)
        rc = e2ee__store_run(st, k_begin, NULL, "");
    return rc;
}

int e2ee__store_commit(struct e2ee__store *st)
{
    int rc = check_txn(st, 1);
    if (rc == E2EE_OK)
        rc = e2ee__store_run(st, k_commit, NULL, "");
    if (rc != E2EE_OK && rc != E2EE_ERR_ARG && e2ee__store_in_transaction(st))
        (void)e2ee__store_run(st, k_rollback, NULL, "");
    return rc;
}

int e2ee__store_rollback(struct e2ee__store *st)
{
    int rc = check_txn(st, 1);
    if (rc == E2EE_OK)
        rc = e2ee__store_run(st, k_rollback, NULL, "");
    return rc;
}
