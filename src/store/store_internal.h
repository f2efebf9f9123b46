/*
 * e2ee internal: what the files of the store share (SQLite handle, statement cache, checks,
 * binding and column helpers). Only src/store/ includes this header.
 */
#ifndef E2EE_STORE_INTERNAL_H
#define E2EE_STORE_INTERNAL_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define E2EE__STORE_ERRMSG_MAX 256
/* PRAGMA application_id of an e2ee store: "E2EE" in ASCII. */
#define E2EE__STORE_APP_ID 0x45324545

struct e2ee__store_stmt_slot {
    const char *sql; /* identity of the statement: the address of its static SQL text */
    sqlite3_stmt *stmt;
};

struct e2ee__store {
    sqlite3 *db;
    struct e2ee__store_stmt_slot *cache;
    size_t ncache;
    size_t cache_cap;
    int version;
    char errmsg[E2EE__STORE_ERRMSG_MAX];
};

/*
 * Prepared statement for `sql`, which must be a string with static storage: statements are
 * cached by the address of their text. Hand it back with e2ee__store_release().
 */
int e2ee__store_prepare(struct e2ee__store *st, const char *sql, sqlite3_stmt **out);
/* Resets a statement and clears its bindings (they may point at the caller's secrets). */
void e2ee__store_release(sqlite3_stmt *s);

/* Maps a SQLite result code to an e2ee error (recording the SQLite message). */
int e2ee__store_fail(struct e2ee__store *st, int sqlite_rc);

/*
 * Binds parameters 1.. from a format: 's' id string, 'u' uint32_t, 'I' int64_t,
 * 'b' const uint8_t * then size_t (a zero-length blob when the size is 0).
 */
int e2ee__store_bind(struct e2ee__store *st, sqlite3_stmt *s, const char *fmt, ...);

/* Steps a statement that returns no row: E2EE_OK on completion. */
int e2ee__store_step_done(struct e2ee__store *st, sqlite3_stmt *s);
/* Steps once: E2EE_OK on a row, E2EE_ERR_NOT_FOUND when there is none. */
int e2ee__store_step_row(struct e2ee__store *st, sqlite3_stmt *s);

/* Prepares, binds (fmt as above, may be ""), steps to completion and releases. *changes (may
 * be NULL) gets the number of rows changed. */
int e2ee__store_run(struct e2ee__store *st, const char *sql, size_t *changes, const char *fmt,
                    ...);

/* Prepares, binds, steps once and reads integer column 0 of the row. E2EE_ERR_NOT_FOUND when
 * there is no row. */
int e2ee__store_get_i64(struct e2ee__store *st, const char *sql, int64_t *out, const char *fmt,
                        ...);
/* Runs a "SELECT count(*)" without parameters into *count (0 on failure); st or count NULL:
 * E2EE_ERR_ARG. */
int e2ee__store_count(struct e2ee__store *st, const char *sql, size_t *count);
/* Runs a statement that changes rows: E2EE_ERR_NOT_FOUND when it changed none. */
int e2ee__store_change_one(struct e2ee__store *st, const char *sql, const char *fmt, ...);

/* Prepares, binds, steps once and copies blob column 0 of the row into *rec (see
 * e2ee__store_column_blob). E2EE_ERR_NOT_FOUND when there is no row. */
int e2ee__store_get_blob(struct e2ee__store *st, const char *sql, size_t max, uint8_t **rec,
                         size_t *len, const char *fmt, ...);

/* Copies blob column `col` into a new buffer (at least 1 byte allocated). */
int e2ee__store_column_blob(sqlite3_stmt *s, int col, size_t max, uint8_t **out, size_t *len);
/* Copies text column `col` into buf[E2EE__STORE_ID_MAX + 1]; E2EE_ERR_CORRUPT when too long. */
int e2ee__store_column_id(sqlite3_stmt *s, int col, char *buf);
/* Reads a non-negative 64-bit integer column; E2EE_ERR_CORRUPT when negative. */
int e2ee__store_column_u64(sqlite3_stmt *s, int col, uint64_t *out);
/* Collects text column 0 of every remaining row into a new string array. */
int e2ee__store_collect_ids(struct e2ee__store *st, sqlite3_stmt *s, char ***v, size_t *n);

/* Sets blob out-parameters to their safe values (either may be NULL). */
static inline void e2ee__store_clear_blob(uint8_t **rec, size_t *len)
{
    if (rec)
        *rec = NULL;
    if (len)
        *len = 0;
}

/* Argument checks. */
int e2ee__store_check_id(const char *id);
int e2ee__store_check_device(uint32_t device);
/* len 1..max (0 allowed when allow_empty); p may be NULL only when len is 0. */
int e2ee__store_check_blob(const uint8_t *p, size_t len, size_t max, int allow_empty);

/* Savepoint around a multi-statement operation: begin, then end with the operation's result
 * (released on E2EE_OK, rolled back otherwise). Returns rc, or the error of ending it. */
int e2ee__store_savepoint(struct e2ee__store *st);
int e2ee__store_savepoint_end(struct e2ee__store *st, int rc);

/* Brings the schema from its current version up to max_version (schema.c). */
int e2ee__store_schema_migrate(struct e2ee__store *st, int max_version);

#endif
