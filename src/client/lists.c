/* e2ee client: what the client knows, from its store (groups, members, known users). */
#include <stdlib.h>
#include <string.h>

#include "client/client_internal.h"

void e2ee_strv_free(char **list, size_t n)
{
    for (size_t i = 0; list && i < n; i++)
        free(list[i]);
    free(list);
}

static int list_args(e2ee_client *c, char ***list, size_t *n)
{
    if (list)
        *list = NULL;
    if (n)
        *n = 0;
    return c && list && n ? E2EE_OK : E2EE_ERR_ARG;
}

int e2ee_client_list_groups(e2ee_client *c, char ***list, size_t *n)
{
    struct e2ee__store_group *groups = NULL;
    size_t ng = 0, k = 0;
    char **out = NULL;
    int rc = list_args(c, list, n);

    if (rc != E2EE_OK)
        goto done;
    pthread_mutex_lock(&c->mu);
    rc = e2ee__store_group_list(c->st, &groups, &ng);
    pthread_mutex_unlock(&c->mu);
    if (rc == E2EE_OK) {
        out = calloc(ng ? ng : 1, sizeof *out);
        rc = out ? E2EE_OK : E2EE_ERR_NOMEM;
    }
    for (size_t i = 0; rc == E2EE_OK && i < ng; i++) {
        if (!groups[i].joined)
            continue;
        out[k] = strdup(groups[i].id); /* the store lists them ordered by id */
        rc = out[k] ? E2EE_OK : E2EE_ERR_NOMEM;
        k += rc == E2EE_OK;
    }
    if (rc == E2EE_OK) {
        *list = out;
        *n = k;
        out = NULL;
    }
done:
    e2ee_strv_free(out, k);
    free(groups);
    return rc;
}

int e2ee_client_list_members(e2ee_client *c, const char *group, char ***list, size_t *n)
{
    struct e2ee__store_group g;
    int rc = list_args(c, list, n);
    if (rc == E2EE_OK)
        rc = e2ee__client_id_check(group);
    if (rc != E2EE_OK)
        goto done;
    pthread_mutex_lock(&c->mu);
    rc = e2ee__store_group_get(c->st, group, &g);
    if (rc == E2EE_ERR_NOT_FOUND || (rc == E2EE_OK && !g.joined))
        rc = E2EE_ERR_NO_SUCH_GROUP;
    if (rc == E2EE_OK)
        rc = e2ee__store_member_list(c->st, group, list, n);
    pthread_mutex_unlock(&c->mu);
done:
    return rc;
}

int e2ee_client_list_known_users(e2ee_client *c, char ***list, size_t *n)
{
    int rc = list_args(c, list, n);
    if (rc == E2EE_OK) {
        pthread_mutex_lock(&c->mu);
        rc = e2ee__store_peer_list(c->st, list, n);
        pthread_mutex_unlock(&c->mu);
    }
    return rc;
}
