/* e2ee store: sender-key records received from group members, and the own sender key of each
 * group. Both belong to a stored group and go when it is deleted. */
#include "store/store_internal.h"

static const char k_put[] = "INSERT OR REPLACE INTO sender_keys "
                            "(group_id, user_id, device_id, record) VALUES (?, ?, ?, ?)";
static const char k_get[] = "SELECT record FROM sender_keys "
                            "WHERE group_id = ? AND user_id = ? AND device_id = ?";
static const char k_delete[] = "DELETE FROM sender_keys "
                               "WHERE group_id = ? AND user_id = ? AND device_id = ?";
static const char k_delete_user[] = "DELETE FROM sender_keys WHERE group_id = ? AND user_id = ?";

static const char k_own_put[] =
    "INSERT OR REPLACE INTO own_sender_keys (group_id, epoch, record) VALUES (?, ?, ?)";
static const char k_own_get[] = "SELECT record, epoch FROM own_sender_keys WHERE group_id = ?";
static const char k_own_delete[] = "DELETE FROM own_sender_keys WHERE group_id = ?";

static int check_member(struct e2ee__store *st, const char *group, const char *user)
{
    int rc = st ? e2ee__store_check_id(group) : E2EE_ERR_ARG;
    if (rc == E2EE_OK)
        rc = e2ee__store_check_id(user);
    return rc;
}

static int check_sender(struct e2ee__store *st, const char *group, const char *user,
                        uint32_t device)
{
    int rc = check_member(st, group, user);
    if (rc == E2EE_OK)
        rc = e2ee__store_check_device(device);
    return rc;
}

int e2ee__store_sender_key_put(struct e2ee__store *st, const char *group, const char *user,
                               uint32_t device, const uint8_t *rec, size_t len)
{
    int rc = check_sender(st, group, user, device);
    if (rc == E2EE_OK)
        rc = e2ee__store_check_blob(rec, len, E2EE__STORE_RECORD_MAX, 0);
    if (rc == E2EE_OK)
        rc = e2ee__store_run(st, k_put, NULL, "ssub", group, user, device, rec, len);
    return rc;
}

int e2ee__store_sender_key_get(struct e2ee__store *st, const char *group, const char *user,
                               uint32_t device, uint8_t **rec, size_t *len)
{
    int rc = check_sender(st, group, user, device);
    e2ee__store_clear_blob(rec, len);
    if (rc == E2EE_OK && (!rec || !len))
        rc = E2EE_ERR_ARG;
    if (rc == E2EE_OK)
        rc = e2ee__store_get_blob(st, k_get, E2EE__STORE_RECORD_MAX, rec, len, "ssu", group,
                                  user, device);
    return rc;
}

int e2ee__store_sender_key_delete(struct e2ee__store *st, const char *group, const char *user,
                                  uint32_t device)
{
    int rc = check_sender(st, group, user, device);
    if (rc == E2EE_OK)
        rc = e2ee__store_change_one(st, k_delete, "ssu", group, user, device);
    return rc;
}

int e2ee__store_sender_key_delete_user(struct e2ee__store *st, const char *group,
                                       const char *user, size_t *removed)
{
    int rc = check_member(st, group, user);
    if (removed)
        *removed = 0;
    if (rc == E2EE_OK)
        rc = e2ee__store_run(st, k_delete_user, removed, "ss", group, user);
    return rc;
}

int e2ee__store_own_sender_key_put(struct e2ee__store *st, const char *group, uint64_t epoch,
                                   const uint8_t *rec, size_t len)
{
    int rc = st ? e2ee__store_check_id(group) : E2EE_ERR_ARG;
    if (rc == E2EE_OK && epoch > INT64_MAX)
        rc = E2EE_ERR_RANGE;
    if (rc == E2EE_OK)
        rc = e2ee__store_check_blob(rec, len, E2EE__STORE_RECORD_MAX, 0);
    if (rc == E2EE_OK)
        rc = e2ee__store_run(st, k_own_put, NULL, "sIb", group, (int64_t)epoch, rec, len);
    return rc;
}

int e2ee__store_own_sender_key_get(struct e2ee__store *st, const char *group, uint64_t *epoch,
                                   uint8_t **rec, size_t *len)
{
    sqlite3_stmt *s = NULL;
    uint64_t ep = 0;
    int rc = st && rec && len ? e2ee__store_check_id(group) : E2EE_ERR_ARG;

    if (epoch)
        *epoch = 0;
    e2ee__store_clear_blob(rec, len);
    if (rc == E2EE_OK)
        rc = e2ee__store_prepare(st, k_own_get, &s);
    if (rc == E2EE_OK)
        rc = e2ee__store_bind(st, s, "s", group);
    if (rc == E2EE_OK)
        rc = e2ee__store_step_row(st, s);
    if (rc == E2EE_OK)
        rc = e2ee__store_column_u64(s, 1, &ep);
    if (rc == E2EE_OK)
        rc = e2ee__store_column_blob(s, 0, E2EE__STORE_RECORD_MAX, rec, len);
    if (rc == E2EE_OK && epoch)
        *epoch = ep;
    e2ee__store_release(s);
    return rc;
}

int e2ee__store_own_sender_key_delete(struct e2ee__store *st, const char *group)
{
    int rc = st ? e2ee__store_check_id(group) : E2EE_ERR_ARG;
    if (rc == E2EE_OK)
        rc = e2ee__store_change_one(st, k_own_delete, "s", group);
    return rc;
}
