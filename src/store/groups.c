/* e2ee store: groups (id, owner, epoch, joined flag). Members are in members.c. */
#include <stdlib.h>

#include "store/store_internal.h"

/* An upsert, not INSERT OR REPLACE: replacing the row would cascade to the members. */
static const char k_put[] =
    "INSERT INTO groups (id, owner, epoch, joined) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, epoch = excluded.epoch, "
    "joined = excluded.joined";
static const char k_get[] = "SELECT id, owner, epoch, joined FROM groups WHERE id = ?";
static const char k_delete[] = "DELETE FROM groups WHERE id = ?";
static const char k_list[] = "SELECT id, owner, epoch, joined FROM groups ORDER BY id";

int e2ee__store_group_put(struct e2ee__store *st, const struct e2ee__store_group *g)
{
    int rc = st && g ? e2ee__store_check_id(g->id) : E2EE_ERR_ARG;
    if (rc == E2EE_OK)
        rc = e2ee__store_check_id(g->owner);
    if (rc == E2EE_OK && g->epoch > INT64_MAX)
        rc = E2EE_ERR_RANGE;
    if (rc == E2EE_OK)
        rc = e2ee__store_run(st, k_put, NULL, "ssII", g->id, g->owner, (int64_t)g->epoch,
                             (int64_t)(g->joined != 0));
    return rc;
}

static int read_group(sqlite3_stmt *s, struct e2ee__store_group *g)
{
    int rc = e2ee__store_column_id(s, 0, g->id);
    if (rc == E2EE_OK)
        rc = e2ee__store_column_id(s, 1, g->owner);
    if (rc == E2EE_OK)
        rc = e2ee__store_column_u64(s, 2, &g->epoch);
    g->joined = sqlite3_column_int(s, 3) != 0;
    return rc;
}

int e2ee__store_group_get(struct e2ee__store *st, const char *id, struct e2ee__store_group *out)
{
    struct e2ee__store_group g = {0};
    sqlite3_stmt *s = NULL;
    int rc = st && out ? e2ee__store_check_id(id) : E2EE_ERR_ARG;

    if (out)
        *out = g;
    if (rc == E2EE_OK)
        rc = e2ee__store_prepare(st, k_get, &s);
    if (rc == E2EE_OK)
        rc = e2ee__store_bind(st, s, "s", id);
    if (rc == E2EE_OK)
        rc = e2ee__store_step_row(st, s);
    if (rc == E2EE_OK)
        rc = read_group(s, &g);
    if (rc == E2EE_OK)
        *out = g;
    e2ee__store_release(s);
    return rc;
}

int e2ee__store_group_delete(struct e2ee__store *st, const char *id)
{
    int rc = st ? e2ee__store_check_id(id) : E2EE_ERR_ARG;
    if (rc == E2EE_OK)
        rc = e2ee__store_change_one(st, k_delete, "s", id);
    return rc;
}

static int push_group(struct e2ee__store_group **v, size_t *n, size_t *cap, sqlite3_stmt *s)
{
    int rc = E2EE_OK;
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 8;
        struct e2ee__store_group *nv = realloc(*v, ncap * sizeof *nv);
        rc = nv ? E2EE_OK : E2EE_ERR_NOMEM;
        if (nv) {
            *v = nv;
            *cap = ncap;
        }
    }
    if (rc == E2EE_OK)
        rc = read_group(s, &(*v)[*n]);
    if (rc == E2EE_OK)
        (*n)++;
    return rc;
}

int e2ee__store_group_list(struct e2ee__store *st, struct e2ee__store_group **groups,
                           size_t *n)
{
    struct e2ee__store_group *acc = NULL;
    size_t cnt = 0, cap = 0;
    sqlite3_stmt *s = NULL;
    int rc = st && groups && n ? E2EE_OK : E2EE_ERR_ARG;

    if (groups)
        *groups = NULL;
    if (n)
        *n = 0;
    if (rc != E2EE_OK)
        goto done;
    rc = e2ee__store_prepare(st, k_list, &s);
    while (rc == E2EE_OK && (rc = e2ee__store_step_row(st, s)) == E2EE_OK)
        rc = push_group(&acc, &cnt, &cap, s);
    if (rc == E2EE_ERR_NOT_FOUND)
        rc = E2EE_OK;
    e2ee__store_release(s);
    if (rc == E2EE_OK) {
        *groups = acc;
        *n = cnt;
        acc = NULL;
    }
done:
    free(acc);
    return rc;
}
