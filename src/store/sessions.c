/* e2ee store: pairwise session records by (peer user, device). */
#include "store/store_internal.h"

static const char k_put[] =
    "INSERT OR REPLACE INTO sessions (user_id, device_id, record) VALUES (?, ?, ?)";
static const char k_get[] = "SELECT record FROM sessions WHERE user_id = ? AND device_id = ?";
static const char k_delete[] = "DELETE FROM sessions WHERE user_id = ? AND device_id = ?";
static const char k_delete_user[] = "DELETE FROM sessions WHERE user_id = ?";

static int check_peer(struct e2ee__store *st, const char *user, uint32_t device)
{
    int rc = st ? e2ee__store_check_id(user) : E2EE_ERR_ARG;
    if (rc == E2EE_OK)
        rc = e2ee__store_check_device(device);
    return rc;
}

int e2ee__store_session_put(struct e2ee__store *st, const char *user, uint32_t device,
                            const uint8_t *rec, size_t len)
{
    int rc = check_peer(st, user, device);
    if (rc == E2EE_OK)
        rc = e2ee__store_check_blob(rec, len, E2EE__STORE_RECORD_MAX, 0);
    if (rc == E2EE_OK)
        rc = e2ee__store_run(st, k_put, NULL, "sub", user, device, rec, len);
    return rc;
}

int e2ee__store_session_get(struct e2ee__store *st, const char *user, uint32_t device,
                            uint8_t **rec, size_t *len)
{
    int rc = check_peer(st, user, device);
    e2ee__store_clear_blob(rec, len);
    if (rc == E2EE_OK && (!rec || !len))
        rc = E2EE_ERR_ARG;
    if (rc == E2EE_OK)
        rc = e2ee__store_get_blob(st, k_get, E2EE__STORE_RECORD_MAX, rec, len, "su", user,
                                  device);
    return rc;
}

int e2ee__store_session_delete(struct e2ee__store *st, const char *user, uint32_t device)
{
    int rc = check_peer(st, user, device);
    if (rc == E2EE_OK)
        rc = e2ee__store_change_one(st, k_delete, "su", user, device);
    return rc;
}

int e2ee__store_session_delete_user(struct e2ee__store *st, const char *user, size_t *removed)
{
    int rc = st ? e2ee__store_check_id(user) : E2EE_ERR_ARG;
    if (removed)
        *removed = 0;
    if (rc == E2EE_OK)
        rc = e2ee__store_run(st, k_delete_user, removed, "s", user);
    return rc;
}
