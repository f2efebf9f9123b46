/*
 * e2ee relay store: the SQLite schema and its migrations.
 *
 * The schema version is SQLite's user_version. Each step below brings a store from version
 * i to i + 1 and runs in its own transaction together with the version bump, so a crash
 * during a migration leaves the store at the previous version, intact. A store whose
 * version is newer than this program knows is refused (E2EE_ERR_VERSION).
 */
#include "relay/store_sqlite.h"

#include <sqlite3.h>
#include <stdio.h>

/* Version 1: the initial schema. */
static const char k_v1[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE users("
    " uid TEXT PRIMARY KEY, device INTEGER NOT NULL,"
    " sign_pk BLOB NOT NULL, dh_pk BLOB NOT NULL, dh_sig BLOB NOT NULL,"
    " spk_id INTEGER, spk_pk BLOB, spk_sig BLOB,"
    " inbox_head INTEGER NOT NULL DEFAULT 0, inbox_acked INTEGER NOT NULL DEFAULT 0,"
    " queued_msgs INTEGER NOT NULL DEFAULT 0, queued_bytes INTEGER NOT NULL DEFAULT 0,"
    " created_ms INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE prekeys(uid TEXT NOT NULL, id INTEGER NOT NULL, pk BLOB NOT NULL,"
    " PRIMARY KEY(uid, id)) WITHOUT ROWID;"
    "CREATE TABLE inbox(uid TEXT NOT NULL, seq INTEGER NOT NULL, kind INTEGER NOT NULL,"
    " peer TEXT NOT NULL, peer_device INTEGER NOT NULL, cmid INTEGER NOT NULL,"
    " at_ms INTEGER NOT NULL, size INTEGER NOT NULL, data BLOB NOT NULL,"
    " PRIMARY KEY(uid, seq));"
    "CREATE TABLE groups(gid TEXT PRIMARY KEY, owner TEXT NOT NULL, epoch INTEGER NOT NULL,"
    " head INTEGER NOT NULL, deleted INTEGER NOT NULL, created_ms INTEGER NOT NULL)"
    " WITHOUT ROWID;"
    "CREATE TABLE members(gid TEXT NOT NULL, uid TEXT NOT NULL, cursor INTEGER NOT NULL,"
    " joined_seq INTEGER NOT NULL, PRIMARY KEY(gid, uid)) WITHOUT ROWID;"
    "CREATE INDEX members_by_uid ON members(uid);"
    "CREATE TABLE group_log(gid TEXT NOT NULL, seq INTEGER NOT NULL, kind INTEGER NOT NULL,"
    " sender TEXT NOT NULL, sender_device INTEGER NOT NULL, cmid INTEGER NOT NULL,"
    " epoch INTEGER NOT NULL, at_ms INTEGER NOT NULL, size INTEGER NOT NULL,"
    " data BLOB NOT NULL, extra BLOB, PRIMARY KEY(gid, seq));"
    "CREATE TABLE group_pairwise(gid TEXT NOT NULL, seq INTEGER NOT NULL, uid TEXT NOT NULL,"
    " payload BLOB NOT NULL, PRIMARY KEY(gid, uid, seq)) WITHOUT ROWID;"
    "CREATE TABLE sent_ids(sender TEXT NOT NULL, cmid INTEGER NOT NULL, gid TEXT NOT NULL,"
    " recipient TEXT NOT NULL, seq INTEGER NOT NULL, at_ms INTEGER NOT NULL,"
    " PRIMARY KEY(sender, cmid)) WITHOUT ROWID;";

/* Version 2: forgetting old sender message ids by time needs an index on their time. */
static const char k_v2[] = "CREATE INDEX sent_ids_by_time ON sent_ids(at_ms);";

static const char *const k_steps[] = {k_v1, k_v2};
#define N_STEPS (sizeof k_steps / sizeof k_steps[0])

_Static_assert(N_STEPS == E2EE_RSTORE_SCHEMA_VERSION, "one migration step per version");

static int exec_sql(sqlite3 *db, const char *sql, char *err, size_t cap)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        snprintf(err, cap, "%s", msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return E2EE_ERR_STORE;
    }
    return E2EE_OK;
}

static int read_version(sqlite3 *db, int *version)
{
    sqlite3_stmt *s = NULL;
    int rc = E2EE_ERR_STORE;
    *version = -1;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK)
        goto done;
    if (sqlite3_step(s) != SQLITE_ROW)
        goto done;
    *version = sqlite3_column_int(s, 0);
    rc = E2EE_OK;
done:
    sqlite3_finalize(s);
    return rc;
}

/* Applies step `to - 1` and sets user_version = to, in one transaction. */
static int apply_step(sqlite3 *db, int to, char *err, size_t cap)
{
    char bump[64];
    int rc = exec_sql(db, "BEGIN IMMEDIATE", err, cap);
    if (rc != E2EE_OK)
        return rc;
    snprintf(bump, sizeof bump, "PRAGMA user_version = %d", to);
    rc = exec_sql(db, k_steps[to - 1], err, cap);
    if (rc == E2EE_OK)
        rc = exec_sql(db, bump, err, cap);
    if (rc == E2EE_OK)
        rc = exec_sql(db, "COMMIT", err, cap);
    if (rc != E2EE_OK)
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* A non-empty store at version 0 is some other database: refuse to touch it. */
static int check_empty(sqlite3 *db, char *err, size_t cap)
{
    sqlite3_stmt *s = NULL;
    int rc = E2EE_ERR_STORE;
    if (sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM sqlite_schema", -1, &s, NULL) != SQLITE_OK ||
        sqlite3_step(s) != SQLITE_ROW) {
        snprintf(err, cap, "%s", sqlite3_errmsg(db));
        goto done;
    }
    rc = E2EE_OK;
    if (sqlite3_column_int(s, 0) != 0) {
        snprintf(err, cap, "the file holds another database (tables but no e2ee schema)");
        rc = E2EE_ERR_CORRUPT;
    }
done:
    sqlite3_finalize(s);
    return rc;
}

int e2ee__rstore_migrate(struct sqlite3 *db, int *from, char *err, size_t cap)
{
    int version = 0;
    int rc = read_version(db, &version);
    *from = version;
    if (rc != E2EE_OK) {
        snprintf(err, cap, "cannot read the schema version: %s", sqlite3_errmsg(db));
        return rc;
    }
    if (version > E2EE_RSTORE_SCHEMA_VERSION) {
        snprintf(err, cap, "store schema version %d is newer than this relay's (%d)", version,
                 E2EE_RSTORE_SCHEMA_VERSION);
        return E2EE_ERR_VERSION;
    }
    if (version == 0) {
        rc = check_empty(db, err, cap);
        if (rc != E2EE_OK)
            return rc;
    }
    for (int v = version + 1; v <= E2EE_RSTORE_SCHEMA_VERSION && rc == E2EE_OK; v++)
        rc = apply_step(db, v, err, cap);
    return rc;
}
