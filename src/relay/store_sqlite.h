/* e2ee relay store: private interface between the SQLite store files. */
#ifndef E2EE_RELAY_STORE_SQLITE_H
#define E2EE_RELAY_STORE_SQLITE_H

#include <stddef.h>

#include "relay/store.h"

struct sqlite3;

/*
 * Brings the schema of db up to E2EE_RSTORE_SCHEMA_VERSION. *from receives the version
 * found. Errors: E2EE_ERR_VERSION (newer than this program), E2EE_ERR_CORRUPT (another
 * database), E2EE_ERR_STORE; err receives a reason.
 */
E2EE_MUST_CHECK int e2ee__rstore_migrate(struct sqlite3 *db, int *from, char *err, size_t cap);

#endif
