/* e2ee store: ids of messages already received (sender, device, message id), to drop
 * duplicates; pruned by age and by count. */
#include "store/store_internal.h"

static const char k_add[] = "INSERT OR IGNORE INTO seen (user_id, device_id, msg_id, seen_at) "
                            "VALUES (?, ?, ?, ?)";
static const char k_check[] =
    "SELECT count(*) FROM seen WHERE user_id = ? AND device_id = ? AND msg_id = ?";
static const char k_prune_age[] = "DELETE FROM seen WHERE seen_at < ?";
static const char k_prune_count[] =
    "DELETE FROM seen WHERE id IN (SELECT id FROM seen ORDER BY seen_at, id "
    "LIMIT max((SELECT count(*) FROM seen) - ?1, 0))";
static const char k_count[] = "SELECT count(*) FROM seen";

static int check_msg(struct e2ee__store *st, const char *user, uint32_t device,
                     const char *msg_id)
{
    int rc = st ? e2ee__store_check_id(user) : E2EE_ERR_ARG;
    if (rc == E2EE_OK)
        rc = e2ee__store_check_device(device);
    if (rc == E2EE_OK)
        rc = e2ee__store_check_id(msg_id);
    return rc;
}

int e2ee__store_seen_add(struct e2ee__store *st, const char *user, uint32_t device,
                         const char *msg_id, int64_t now)
{
    size_t changed = 0;
    int rc = check_msg(st, user, device, msg_id);
    if (rc == E2EE_OK)
        rc = e2ee__store_run(st, k_add, &changed, "susI", user, device, msg_id, now);
    if (rc == E2EE_OK && changed == 0)
        rc = E2EE_ERR_EXISTS;
    return rc;
}

int e2ee__store_seen_check(struct e2ee__store *st, const char *user, uint32_t device,
                           const char *msg_id, int *seen)
{
    int64_t n = 0;
    int rc = check_msg(st, user, device, msg_id);
    if (seen)
        *seen = 0;
    if (rc == E2EE_OK && !seen)
        rc = E2EE_ERR_ARG;
    if (rc == E2EE_OK)
        rc = e2ee__store_get_i64(st, k_check, &n, "sus", user, device, msg_id);
    if (rc == E2EE_OK)
        *seen = n > 0;
    return rc;
}

static int prune(struct e2ee__store *st, int64_t before, int64_t keep, size_t *removed)
{
    size_t by_age = 0, by_count = 0;
    int rc = e2ee__store_run(st, k_prune_age, &by_age, "I", before);
    if (rc == E2EE_OK)
        rc = e2ee__store_run(st, k_prune_count, &by_count, "I", keep);
    *removed = by_age + by_count;
    return rc;
}

int e2ee__store_seen_prune(struct e2ee__store *st, int64_t before, size_t keep_max,
                           size_t *removed)
{
    int64_t keep = keep_max > INT64_MAX ? INT64_MAX : (int64_t)keep_max;
    size_t n = 0;
    int rc = st ? e2ee__store_savepoint(st) : E2EE_ERR_ARG;

    if (removed)
        *removed = 0;
    if (rc == E2EE_OK)
        rc = e2ee__store_savepoint_end(st, prune(st, before, keep, &n));
    if (rc == E2EE_OK && removed)
        *removed = n;
    return rc;
}

int e2ee__store_seen_count(struct e2ee__store *st, size_t *count)
{
    return e2ee__store_count(st, k_count, count);
}
