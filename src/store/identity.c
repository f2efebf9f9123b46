/* e2ee store: the identity record of the store's owner (one row). */
#include "store/store_internal.h"

static const char k_put[] = "INSERT INTO identity (id, record) VALUES (1, ?)";
static const char k_get[] = "SELECT record FROM identity WHERE id = 1";

int e2ee__store_identity_put(struct e2ee__store *st, const uint8_t *rec, size_t len)
{
    int rc = st ? e2ee__store_check_blob(rec, len, E2EE__STORE_RECORD_MAX, 0) : E2EE_ERR_ARG;
    if (rc == E2EE_OK)
        rc = e2ee__store_run(st, k_put, NULL, "b", rec, len);
    return rc;
}

int e2ee__store_identity_get(struct e2ee__store *st, uint8_t **rec, size_t *len)
{
    int rc = st && rec && len ? E2EE_OK : E2EE_ERR_ARG;
    e2ee__store_clear_blob(rec, len);
    if (rc == E2EE_OK)
        rc = e2ee__store_get_blob(st, k_get, E2EE__STORE_RECORD_MAX, rec, len, "");
    return rc;
}
