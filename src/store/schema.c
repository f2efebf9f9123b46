/*
 * e2ee store: the versioned schema and its migrations.
 *
 * k_migrations[v - 1] takes a store from schema version v - 1 to v. A released step is never
 * edited: a change is a new step. All steps up to the target run in one transaction together
 * with the new PRAGMA user_version, so a store is always at exactly one known version.
 */
#include <stdio.h>

#include "store/store_internal.h"

static const char *const k_migrations[] = {
    /* 1: the tables of the first release. */
    "PRAGMA application_id = 1160922437;" /* E2EE__STORE_APP_ID */
    "CREATE TABLE identity ("
    "  id INTEGER PRIMARY KEY CHECK (id = 1),"
    "  record BLOB NOT NULL);"
    "CREATE TABLE signed_prekeys ("
    "  id INTEGER PRIMARY KEY,"
    "  record BLOB NOT NULL,"
    "  created INTEGER NOT NULL);"
    "CREATE TABLE prekeys ("
    "  id INTEGER PRIMARY KEY,"
    "  record BLOB NOT NULL);"
    "CREATE TABLE sessions ("
    "  user_id TEXT NOT NULL,"
    "  device_id INTEGER NOT NULL,"
    "  record BLOB NOT NULL,"
    "  PRIMARY KEY (user_id, device_id)) WITHOUT ROWID;"
    "CREATE TABLE groups ("
    "  id TEXT PRIMARY KEY,"
    "  owner TEXT NOT NULL,"
    "  epoch INTEGER NOT NULL CHECK (epoch >= 0),"
    "  joined INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE members ("
    "  group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,"
    "  user_id TEXT NOT NULL,"
    "  PRIMARY KEY (group_id, user_id)) WITHOUT ROWID;"
    "CREATE TABLE sender_keys ("
    "  group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,"
    "  user_id TEXT NOT NULL,"
    "  device_id INTEGER NOT NULL,"
    "  record BLOB NOT NULL,"
    "  PRIMARY KEY (group_id, user_id, device_id)) WITHOUT ROWID;"
    "CREATE TABLE own_sender_keys ("
    "  group_id TEXT PRIMARY KEY REFERENCES groups(id) ON DELETE CASCADE,"
    "  epoch INTEGER NOT NULL CHECK (epoch >= 0),"
    "  record BLOB NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE peers ("
    "  user_id TEXT PRIMARY KEY,"
    "  trusted_key BLOB NOT NULL,"
    "  pending_key BLOB,"
    "  first_seen INTEGER NOT NULL,"
    "  changed INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
    "CREATE TABLE seen ("
    "  id INTEGER PRIMARY KEY,"
    "  user_id TEXT NOT NULL,"
    "  device_id INTEGER NOT NULL,"
    "  msg_id TEXT NOT NULL,"
    "  seen_at INTEGER NOT NULL,"
    "  UNIQUE (user_id, device_id, msg_id));"
    "CREATE TABLE outq ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  msg_id TEXT NOT NULL UNIQUE,"
    "  kind INTEGER NOT NULL,"
    "  target TEXT NOT NULL,"
    "  payload BLOB NOT NULL,"
    "  state INTEGER NOT NULL,"
    "  created INTEGER NOT NULL);"
    "CREATE TABLE cursors ("
    "  stream TEXT PRIMARY KEY,"
    "  seq INTEGER NOT NULL CHECK (seq >= 0)) WITHOUT ROWID;"
    "CREATE TABLE meta ("
    "  key TEXT PRIMARY KEY,"
    "  value BLOB NOT NULL) WITHOUT ROWID;",

    /* 2: which member received which own sender key; indexes for pruning and queue scans. */
    "CREATE TABLE sk_distributed ("
    "  group_id TEXT NOT NULL,"
    "  user_id TEXT NOT NULL,"
    "  device_id INTEGER NOT NULL,"
    "  key_id INTEGER NOT NULL,"
    "  PRIMARY KEY (group_id, user_id, device_id),"
    "  FOREIGN KEY (group_id, user_id) REFERENCES members(group_id, user_id)"
    "    ON DELETE CASCADE) WITHOUT ROWID;"
    "CREATE INDEX seen_by_time ON seen(seen_at, id);"
    "CREATE INDEX outq_by_state ON outq(state, seq);",

    /* 3: events stored with the change that produced them until the application has them. */
    "CREATE TABLE pending_events ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  record BLOB NOT NULL);",
};

_Static_assert(sizeof k_migrations / sizeof k_migrations[0] == E2EE__STORE_SCHEMA_VERSION,
               "one migration step per schema version");

static const char k_user_version[] = "PRAGMA user_version";
static const char k_begin[] = "BEGIN IMMEDIATE";
static const char k_commit[] = "COMMIT";
static const char k_rollback[] = "ROLLBACK";

static int read_version(struct e2ee__store *st, int *version)
{
    sqlite3_stmt *s = NULL;
    int rc = e2ee__store_prepare(st, k_user_version, &s);
    *version = 0;
    if (rc == E2EE_OK)
        rc = e2ee__store_step_row(st, s);
    if (rc == E2EE_OK)
        *version = sqlite3_column_int(s, 0);
    e2ee__store_release(s);
    return rc == E2EE_ERR_NOT_FOUND ? E2EE_ERR_CORRUPT : rc;
}

static int apply_steps(struct e2ee__store *st, int from, int to)
{
    char sql[64];
    int rc = SQLITE_OK;

    for (int v = from + 1; v <= to && rc == SQLITE_OK; v++)
        rc = sqlite3_exec(st->db, k_migrations[v - 1], NULL, NULL, NULL);
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", to);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? E2EE_OK : e2ee__store_fail(st, sqlite3_extended_errcode(st->db));
}

int e2ee__store_schema_migrate(struct e2ee__store *st, int max_version)
{
    int version = 0;
    int rc = e2ee__store_run(st, k_begin, NULL, "");
    if (rc != E2EE_OK)
        goto done;
    /* read inside the write transaction: another handle may have migrated meanwhile */
    rc = read_version(st, &version);
    if (rc == E2EE_OK && version > E2EE__STORE_SCHEMA_VERSION)
        rc = E2EE_ERR_VERSION;
    if (rc == E2EE_OK && version < max_version)
        rc = apply_steps(st, version, max_version);
    if (rc == E2EE_OK)
        rc = e2ee__store_run(st, k_commit, NULL, "");
    if (rc != E2EE_OK)
        (void)e2ee__store_run(st, k_rollback, NULL, "");
    else
        st->version = version > max_version ? version : max_version;
done:
    return rc;
}
