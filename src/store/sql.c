/* e2ee store: SQLite helpers (statement cache, error mapping, binding, columns, checks). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "store/store_internal.h"

#define STMT_CACHE_INITIAL 32

int e2ee__store_fail(struct e2ee__store *st, int sqlite_rc)
{
    if (st && st->db)
        snprintf(st->errmsg, sizeof st->errmsg, "%s", sqlite3_errmsg(st->db));
    switch (sqlite_rc) {
    case SQLITE_CONSTRAINT_PRIMARYKEY:
    case SQLITE_CONSTRAINT_UNIQUE:
        return E2EE_ERR_EXISTS;
    case SQLITE_CONSTRAINT_FOREIGNKEY:
        return E2EE_ERR_NOT_FOUND;
    default:
        break;
    }
    switch (sqlite_rc & 0xff) {
    case SQLITE_NOMEM:
        return E2EE_ERR_NOMEM;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return E2EE_ERR_CORRUPT;
    case SQLITE_TOOBIG:
        return E2EE_ERR_TOO_LARGE;
    default:
        return E2EE_ERR_STORE;
    }
}

static int cache_grow(struct e2ee__store *st)
{
    size_t cap = st->cache_cap ? st->cache_cap * 2 : STMT_CACHE_INITIAL;
    struct e2ee__store_stmt_slot *c = realloc(st->cache, cap * sizeof *c);
    if (c) {
        st->cache = c;
        st->cache_cap = cap;
    }
    return c ? E2EE_OK : E2EE_ERR_NOMEM;
}

int e2ee__store_prepare(struct e2ee__store *st, const char *sql, sqlite3_stmt **out)
{
    sqlite3_stmt *s = NULL;
    int rc = E2EE_OK;

    *out = NULL;
    for (size_t i = 0; i < st->ncache && !*out; i++) {
        if (st->cache[i].sql == sql)
            *out = st->cache[i].stmt;
    }
    if (*out)
        goto done;
    if (st->ncache == st->cache_cap)
        rc = cache_grow(st);
    if (rc != E2EE_OK)
        goto done;
    rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(s);
        rc = e2ee__store_fail(st, rc);
        goto done;
    }
    st->cache[st->ncache].sql = sql;
    st->cache[st->ncache].stmt = s;
    st->ncache++;
    *out = s;
done:
    return rc;
}

void e2ee__store_release(sqlite3_stmt *s)
{
    if (!s)
        return;
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
}

static int bind_one(sqlite3_stmt *s, int idx, char f, va_list *ap)
{
    switch (f) {
    case 's':
        return sqlite3_bind_text(s, idx, va_arg(*ap, const char *), -1, SQLITE_STATIC);
    case 'u':
        return sqlite3_bind_int64(s, idx, (sqlite3_int64)va_arg(*ap, uint32_t));
    case 'I':
        return sqlite3_bind_int64(s, idx, (sqlite3_int64)va_arg(*ap, int64_t));
    case 'b': {
        const uint8_t *p = va_arg(*ap, const uint8_t *);
        size_t len = va_arg(*ap, size_t);
        if (len == 0)
            return sqlite3_bind_zeroblob(s, idx, 0);
        /* every caller checked len against a limit far below INT_MAX */
        return sqlite3_bind_blob(s, idx, p, (int)len, SQLITE_STATIC);
    }
    default:
        return SQLITE_MISUSE;
    }
}

static int bind_va(struct e2ee__store *st, sqlite3_stmt *s, const char *fmt, va_list *ap)
{
    int idx = 1, rc = SQLITE_OK;
    for (const char *f = fmt; *f && rc == SQLITE_OK; f++, idx++)
        rc = bind_one(s, idx, *f, ap);
    return rc == SQLITE_OK ? E2EE_OK : e2ee__store_fail(st, rc);
}

int e2ee__store_bind(struct e2ee__store *st, sqlite3_stmt *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = bind_va(st, s, fmt, &ap);
    va_end(ap);
    return rc;
}

int e2ee__store_step_done(struct e2ee__store *st, sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    return rc == SQLITE_DONE || rc == SQLITE_ROW
               ? E2EE_OK
               : e2ee__store_fail(st, sqlite3_extended_errcode(st->db));
}

int e2ee__store_step_row(struct e2ee__store *st, sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        rc = E2EE_OK;
    else if (rc == SQLITE_DONE)
        rc = E2EE_ERR_NOT_FOUND;
    else
        rc = e2ee__store_fail(st, sqlite3_extended_errcode(st->db));
    return rc;
}

int e2ee__store_run(struct e2ee__store *st, const char *sql, size_t *changes, const char *fmt,
                    ...)
{
    sqlite3_stmt *s = NULL;
    va_list ap;
    int rc;

    if (changes)
        *changes = 0;
    rc = e2ee__store_prepare(st, sql, &s);
    va_start(ap, fmt);
    if (rc == E2EE_OK)
        rc = bind_va(st, s, fmt, &ap);
    va_end(ap);
    if (rc == E2EE_OK)
        rc = e2ee__store_step_done(st, s);
    if (rc == E2EE_OK && changes)
        *changes = (size_t)sqlite3_changes(st->db);
    e2ee__store_release(s);
    return rc;
}

int e2ee__store_get_i64(struct e2ee__store *st, const char *sql, int64_t *out, const char *fmt,
                        ...)
{
    sqlite3_stmt *s = NULL;
    va_list ap;
    int rc;

    *out = 0;
    rc = e2ee__store_prepare(st, sql, &s);
    va_start(ap, fmt);
    if (rc == E2EE_OK)
        rc = bind_va(st, s, fmt, &ap);
    va_end(ap);
    if (rc == E2EE_OK)
        rc = e2ee__store_step_row(st, s);
    if (rc == E2EE_OK)
        *out = sqlite3_column_int64(s, 0);
    e2ee__store_release(s);
    return rc;
}

int e2ee__store_change_one(struct e2ee__store *st, const char *sql, const char *fmt, ...)
{
    sqlite3_stmt *s = NULL;
    va_list ap;
    int rc;

    rc = e2ee__store_prepare(st, sql, &s);
    va_start(ap, fmt);
    if (rc == E2EE_OK)
        rc = bind_va(st, s, fmt, &ap);
    va_end(ap);
    if (rc == E2EE_OK)
        rc = e2ee__store_step_done(st, s);
    if (rc == E2EE_OK && sqlite3_changes(st->db) == 0)
        rc = E2EE_ERR_NOT_FOUND;
    e2ee__store_release(s);
    return rc;
}

int e2ee__store_count(struct e2ee__store *st, const char *sql, size_t *count)
{
    int64_t n = 0;
    int rc = st && count ? E2EE_OK : E2EE_ERR_ARG;
    if (count)
        *count = 0;
    if (rc == E2EE_OK)
        rc = e2ee__store_get_i64(st, sql, &n, "");
    if (rc == E2EE_OK)
        *count = (size_t)n;
    return rc;
}

int e2ee__store_get_blob(struct e2ee__store *st, const char *sql, size_t max, uint8_t **rec,
                         size_t *len, const char *fmt, ...)
{
    sqlite3_stmt *s = NULL;
    va_list ap;
    int rc;

    *rec = NULL;
    *len = 0;
    rc = e2ee__store_prepare(st, sql, &s);
    va_start(ap, fmt);
    if (rc == E2EE_OK)
        rc = bind_va(st, s, fmt, &ap);
    va_end(ap);
    if (rc == E2EE_OK)
        rc = e2ee__store_step_row(st, s);
    if (rc == E2EE_OK)
        rc = e2ee__store_column_blob(s, 0, max, rec, len);
    e2ee__store_release(s);
    return rc;
}

int e2ee__store_column_blob(sqlite3_stmt *s, int col, size_t max, uint8_t **out, size_t *len)
{
    const void *p = sqlite3_column_blob(s, col);
    int n = sqlite3_column_bytes(s, col);
    uint8_t *copy = NULL;
    int rc = n >= 0 && (size_t)n <= max ? E2EE_OK : E2EE_ERR_CORRUPT;

    *out = NULL;
    *len = 0;
    if (rc == E2EE_OK && n > 0 && !p)
        rc = E2EE_ERR_NOMEM; /* SQLite could not convert the value */
    if (rc == E2EE_OK) {
        copy = malloc(n > 0 ? (size_t)n : 1);
        rc = copy ? E2EE_OK : E2EE_ERR_NOMEM;
    }
    if (rc == E2EE_OK) {
        if (n > 0)
            memcpy(copy, p, (size_t)n);
        *out = copy;
        *len = (size_t)n;
    }
    return rc;
}

int e2ee__store_column_id(sqlite3_stmt *s, int col, char *buf)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    int n = sqlite3_column_bytes(s, col);
    int rc = t && n > 0 && n <= E2EE__STORE_ID_MAX ? E2EE_OK : E2EE_ERR_CORRUPT;

    buf[0] = '\0';
    if (rc == E2EE_OK) {
        memcpy(buf, t, (size_t)n);
        buf[n] = '\0';
    }
    return rc;
}

int e2ee__store_column_u64(sqlite3_stmt *s, int col, uint64_t *out)
{
    sqlite3_int64 v = sqlite3_column_int64(s, col);
    *out = v < 0 ? 0 : (uint64_t)v;
    return v < 0 ? E2EE_ERR_CORRUPT : E2EE_OK;
}

void e2ee__store_strv_free(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static int strv_push(char ***v, size_t *n, size_t *cap, const char *id)
{
    int rc = E2EE_OK;
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 8;
        char **nv = realloc(*v, ncap * sizeof *nv);
        rc = nv ? E2EE_OK : E2EE_ERR_NOMEM;
        if (nv) {
            *v = nv;
            *cap = ncap;
        }
    }
    if (rc == E2EE_OK) {
        (*v)[*n] = strdup(id);
        rc = (*v)[*n] ? E2EE_OK : E2EE_ERR_NOMEM;
    }
    if (rc == E2EE_OK)
        (*n)++;
    return rc;
}

int e2ee__store_collect_ids(struct e2ee__store *st, sqlite3_stmt *s, char ***v, size_t *n)
{
    char **acc = NULL;
    size_t cnt = 0, cap = 0;
    char id[E2EE__STORE_ID_MAX + 1];
    int rc;

    *v = NULL;
    *n = 0;
    while ((rc = e2ee__store_step_row(st, s)) == E2EE_OK) {
        rc = e2ee__store_column_id(s, 0, id);
        if (rc == E2EE_OK)
            rc = strv_push(&acc, &cnt, &cap, id);
        if (rc != E2EE_OK)
            break;
    }
    if (rc == E2EE_ERR_NOT_FOUND)
        rc = E2EE_OK;
    if (rc == E2EE_OK) {
        *v = acc;
        *n = cnt;
    } else {
        e2ee__store_strv_free(acc, cnt);
    }
    return rc;
}

void e2ee__store_blob_free(uint8_t *blob, size_t len)
{
    if (!blob)
        return;
    e2ee__wipe(blob, len);
    free(blob);
}

int e2ee__store_check_id(const char *id)
{
    size_t n = id ? strnlen(id, E2EE__STORE_ID_MAX + 1) : 0;
    int rc = id ? E2EE_OK : E2EE_ERR_ARG;
    if (rc == E2EE_OK && (n == 0 || n > E2EE__STORE_ID_MAX))
        rc = E2EE_ERR_LENGTH;
    return rc;
}

int e2ee__store_check_device(uint32_t device)
{
    return device == 0 ? E2EE_ERR_ARG : E2EE_OK;
}

int e2ee__store_check_blob(const uint8_t *p, size_t len, size_t max, int allow_empty)
{
    int rc = E2EE_OK;
    if (!p && len > 0)
        rc = E2EE_ERR_ARG;
    else if (len == 0 && !allow_empty)
        rc = E2EE_ERR_LENGTH;
    else if (len > max)
        rc = E2EE_ERR_TOO_LARGE;
    return rc;
}

static const char k_sp_begin[] = "SAVEPOINT e2ee_op";
static const char k_sp_release[] = "RELEASE e2ee_op";
static const char k_sp_rollback[] = "ROLLBACK TO e2ee_op";

int e2ee__store_savepoint(struct e2ee__store *st)
{
    return e2ee__store_run(st, k_sp_begin, NULL, "");
}

int e2ee__store_savepoint_end(struct e2ee__store *st, int rc)
{
    int rc2;
    if (rc != E2EE_OK)
        (void)e2ee__store_run(st, k_sp_rollback, NULL, "");
    rc2 = e2ee__store_run(st, k_sp_release, NULL, "");
    if (rc == E2EE_OK)
        rc = rc2;
    return rc;
}
