/* e2ee store: group members, and which member received which own sender key. */
#include <string.h>

#include "store/store_internal.h"

static const char k_group_exists[] = "SELECT count(*) FROM groups WHERE id = ?";
static const char k_add[] = "INSERT INTO members (group_id, user_id) VALUES (?, ?)";
static const char k_add_ignore[] =
    "INSERT OR IGNORE INTO members (group_id, user_id) VALUES (?, ?)";
static const char k_remove[] = "DELETE FROM members WHERE group_id = ? AND user_id = ?";
static const char k_check[] = "SELECT count(*) FROM members WHERE group_id = ? AND user_id = ?";
static const char k_list[] =
    "SELECT user_id FROM members WHERE group_id = ? ORDER BY user_id";
static const char k_mark[] =
    "INSERT INTO sk_distributed (group_id, user_id, device_id, key_id) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (group_id, user_id, device_id) DO UPDATE SET key_id = excluded.key_id";
/* device 1: the only device of a user until multi-device support */
static const char k_lacking[] =
    "SELECT m.user_id FROM members m WHERE m.group_id = ?1 AND NOT EXISTS "
    "(SELECT 1 FROM sk_distributed d WHERE d.group_id = m.group_id AND d.user_id = m.user_id "
    "AND d.device_id = 1 AND d.key_id = ?2) ORDER BY m.user_id";

static int check_pair(struct e2ee__store *st, const char *group, const char *user)
{
    int rc = st ? e2ee__store_check_id(group) : E2EE_ERR_ARG;
    if (rc == E2EE_OK)
        rc = e2ee__store_check_id(user);
    return rc;
}

static int group_exists(struct e2ee__store *st, const char *group)
{
    int64_t n = 0;
    int rc = e2ee__store_get_i64(st, k_group_exists, &n, "s", group);
    if (rc == E2EE_OK && n == 0)
        rc = E2EE_ERR_NOT_FOUND;
    return rc;
}

int e2ee__store_member_add(struct e2ee__store *st, const char *group, const char *user)
{
    int rc = check_pair(st, group, user);
    if (rc == E2EE_OK)
        rc = e2ee__store_run(st, k_add, NULL, "ss", group, user);
    return rc;
}

int e2ee__store_member_remove(struct e2ee__store *st, const char *group, const char *user)
{
    int rc = check_pair(st, group, user);
    if (rc == E2EE_OK)
        rc = e2ee__store_change_one(st, k_remove, "ss", group, user);
    return rc;
}

int e2ee__store_member_check(struct e2ee__store *st, const char *group, const char *user,
                             int *is_member)
{
    int64_t n = 0;
    int rc = check_pair(st, group, user);
    if (is_member)
        *is_member = 0;
    if (rc == E2EE_OK && !is_member)
        rc = E2EE_ERR_ARG;
    if (rc == E2EE_OK)
        rc = e2ee__store_get_i64(st, k_check, &n, "ss", group, user);
    if (rc == E2EE_OK)
        *is_member = n > 0;
    return rc;
}

static int list_ids(struct e2ee__store *st, const char *sql, const char *group, int has_key,
                    uint32_t key_id, char ***users, size_t *n)
{
    sqlite3_stmt *s = NULL;
    int rc = group_exists(st, group);
    if (rc == E2EE_OK)
        rc = e2ee__store_prepare(st, sql, &s);
    if (rc == E2EE_OK)
        rc = has_key ? e2ee__store_bind(st, s, "su", group, key_id)
                     : e2ee__store_bind(st, s, "s", group);
    if (rc == E2EE_OK)
        rc = e2ee__store_collect_ids(st, s, users, n);
    e2ee__store_release(s);
    return rc;
}

int e2ee__store_member_list(struct e2ee__store *st, const char *group, char ***users,
                            size_t *n)
{
    int rc = st && users && n ? e2ee__store_check_id(group) : E2EE_ERR_ARG;
    if (users)
        *users = NULL;
    if (n)
        *n = 0;
    if (rc == E2EE_OK)
        rc = list_ids(st, k_list, group, 0, 0, users, n);
    return rc;
}

static int listed(const char *user, const char *const *users, size_t n)
{
    int found = 0;
    for (size_t i = 0; i < n && !found; i++)
        found = strcmp(user, users[i]) == 0;
    return found;
}

/* Removes the current members that are not in users[0..n), then adds the missing ones. */
static int replace_members(struct e2ee__store *st, const char *group, const char *const *users,
                           size_t n)
{
    char **cur = NULL;
    size_t ncur = 0;
    int rc = list_ids(st, k_list, group, 0, 0, &cur, &ncur);
    for (size_t i = 0; rc == E2EE_OK && i < ncur; i++) {
        if (!listed(cur[i], users, n))
            rc = e2ee__store_run(st, k_remove, NULL, "ss", group, cur[i]);
    }
    for (size_t i = 0; rc == E2EE_OK && i < n; i++)
        rc = e2ee__store_run(st, k_add_ignore, NULL, "ss", group, users[i]);
    e2ee__store_strv_free(cur, ncur);
    return rc;
}

int e2ee__store_member_set(struct e2ee__store *st, const char *group, const char *const *users,
                           size_t n)
{
    int rc = st && (users || n == 0) ? e2ee__store_check_id(group) : E2EE_ERR_ARG;
    for (size_t i = 0; rc == E2EE_OK && i < n; i++)
        rc = e2ee__store_check_id(users[i]);
    if (rc == E2EE_OK)
        rc = e2ee__store_savepoint(st);
    if (rc == E2EE_OK)
        rc = e2ee__store_savepoint_end(st, replace_members(st, group, users, n));
    return rc;
}

int e2ee__store_distribution_mark(struct e2ee__store *st, const char *group, const char *user,
                                  uint32_t device, uint32_t key_id)
{
    int rc = check_pair(st, group, user);
    if (rc == E2EE_OK)
        rc = e2ee__store_check_device(device);
    if (rc == E2EE_OK)
        rc = e2ee__store_run(st, k_mark, NULL, "ssuu", group, user, device, key_id);
    return rc;
}

int e2ee__store_member_lacking(struct e2ee__store *st, const char *group, uint32_t key_id,
                               char ***users, size_t *n)
{
    int rc = st && users && n ? e2ee__store_check_id(group) : E2EE_ERR_ARG;
    if (users)
        *users = NULL;
    if (n)
        *n = 0;
    if (rc == E2EE_OK)
        rc = list_ids(st, k_lacking, group, 1, key_id, users, n);
    return rc;
}
