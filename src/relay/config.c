/* e2ee relay: configuration keys, defaults, bounds and parsing. */
#include "relay/config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/log.h"
#include "relay/store.h"

#define LINE_MAX_LEN 4096
#define KIB 1024ULL
#define MIB (1024ULL * 1024ULL)

enum key_type { K_STR, K_U32, K_U64, K_ENUM };

struct key_def {
    const char *name;
    enum key_type type;
    size_t off;
    size_t size;            /* K_STR: buffer size */
    uint64_t min, max;      /* K_U32 / K_U64 bounds */
    const char *const *names; /* K_ENUM: value names, index = value */
};

static const char *const k_user_events[] = {"all", "groups", NULL};
static const char *const k_levels[] = {"error", "warn", "info", "debug", NULL};
static const char *const k_sync[] = {"full", "normal", NULL};

#define OFF(f) offsetof(struct e2ee__relay_config, f)
#define SZ(f) sizeof(((struct e2ee__relay_config *)0)->f)
#define STR(n, f) {n, K_STR, OFF(f), SZ(f), 0, 0, NULL}
#define U32(n, f, lo, hi) {n, K_U32, OFF(f), 0, lo, hi, NULL}
#define U64(n, f, lo, hi) {n, K_U64, OFF(f), 0, lo, hi, NULL}
#define ENUM(n, f, names) {n, K_ENUM, OFF(f), 0, 0, 0, names}

static const struct key_def k_keys[] = {
    STR("listen", listen),
    STR("store", store),
    STR("tls_cert", tls_cert),
    STR("tls_key", tls_key),
    STR("metrics", metrics),
    STR("relay_id", relay_id),
    STR("registration_token", registration_token),
    ENUM("user_events", user_events, k_user_events),
    ENUM("log_level", log_level, k_levels),
    ENUM("store_sync", store_sync, k_sync),
    U32("low_prekey_threshold", low_prekey_threshold, 0, 100000),
    U32("max_frame_size", max_frame_size, 1024, 64 * MIB),
    U32("max_group_size", max_group_size, 2, 100000),
    U32("max_groups_per_user", max_groups_per_user, 1, 100000),
    U64("max_queue_msgs", max_queue_msgs, 1, 1000000000ULL),
    U64("max_queue_bytes", max_queue_bytes, 1024, 1ULL << 40),
    U32("max_requests_per_sec", max_requests_per_sec, 1, 10000000),
    U32("max_connections", max_connections, 1, 1000000),
    U64("max_unsent_bytes", max_unsent_bytes, 4 * KIB, 1ULL << 36),
    U32("max_prekeys", max_prekeys, 1, 100000),
    U32("login_timeout", login_timeout, 1, 3600),
    U32("ping_interval", ping_interval, 1, 3600),
    U32("idle_timeout", idle_timeout, 2, 7200),
    U64("dedup_window", dedup_window, 1, 365ULL * 86400ULL),
    U32("list_users_page", list_users_page, 1, 10000),
    U32("max_bundles_per_fetch", max_bundles_per_fetch, 1, E2EE_RCFG_BUNDLES_MAX),
    U32("commit_delay_us", commit_delay_us, 0, 1000000),
};
#define N_KEYS (sizeof k_keys / sizeof k_keys[0])

void e2ee__rcfg_defaults(struct e2ee__relay_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->listen, sizeof cfg->listen, "127.0.0.1:8765");
    snprintf(cfg->store, sizeof cfg->store, "./e2ee-relay.db");
    cfg->user_events = E2EE_RCFG_USER_EVENTS_ALL;
    cfg->log_level = E2EE_RLOG_INFO;
    cfg->store_sync = E2EE_RS_SYNC_FULL;
    cfg->low_prekey_threshold = 10;
    cfg->max_frame_size = (uint32_t)MIB;
    cfg->max_group_size = 1000;
    cfg->max_groups_per_user = 100;
    cfg->max_queue_msgs = 10000;
    cfg->max_queue_bytes = 64 * MIB;
    cfg->max_requests_per_sec = 1000;
    cfg->max_connections = 10000;
    cfg->max_unsent_bytes = 8 * MIB;
    cfg->max_prekeys = 500;
    cfg->login_timeout = 30;
    cfg->ping_interval = 30;
    cfg->idle_timeout = 75;
    cfg->dedup_window = 86400;
    cfg->list_users_page = 500;
    cfg->max_bundles_per_fetch = 256;
    cfg->commit_delay_us = 0;
}

static const struct key_def *find_key(const char *name)
{
    for (size_t i = 0; i < N_KEYS; i++) {
        if (strcmp(k_keys[i].name, name) == 0)
            return &k_keys[i];
    }
    return NULL;
}

static int parse_uint(const char *value, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end = NULL;
    if (!*value || *value == '-' || *value == '+')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(value, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int set_enum(const struct key_def *k, struct e2ee__relay_config *cfg, const char *value)
{
    for (uint32_t i = 0; k->names[i]; i++) {
        if (strcmp(k->names[i], value) == 0) {
            *(uint32_t *)((char *)cfg + k->off) = i;
            return 0;
        }
    }
    return -1;
}

static void enum_list(const struct key_def *k, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; k->names[i] && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", k->names[i]);
}

int e2ee__rcfg_set(struct e2ee__relay_config *cfg, const char *key, const char *value, char *err,
                   size_t errcap)
{
    const struct key_def *k = find_key(key);
    char *base = (char *)cfg;
    uint64_t v = 0;
    if (!k) {
        snprintf(err, errcap, "unknown option '%s'", key);
        return -1;
    }
    switch (k->type) {
    case K_STR:
        if (strlen(value) >= k->size) {
            snprintf(err, errcap, "%s: value too long (at most %zu bytes)", key, k->size - 1);
            return -1;
        }
        memcpy(base + k->off, value, strlen(value) + 1);
        return 0;
    case K_ENUM:
        if (set_enum(k, cfg, value) == 0)
            return 0;
        char names[128];
        enum_list(k, names, sizeof names);
        snprintf(err, errcap, "%s: '%s' is not one of: %s", key, value, names);
        return -1;
    case K_U32:
    case K_U64:
        if (parse_uint(value, k->min, k->max, &v) != 0) {
            snprintf(err, errcap, "%s: '%s' is not a whole number in %llu..%llu", key, value,
                     (unsigned long long)k->min, (unsigned long long)k->max);
            return -1;
        }
        if (k->type == K_U32)
            *(uint32_t *)(base + k->off) = (uint32_t)v;
        else
            *(uint64_t *)(base + k->off) = v;
        return 0;
    }
    return -1;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

int e2ee__rcfg_load_stream(struct e2ee__relay_config *cfg, FILE *f, const char *name,
                           char *err, size_t errcap)
{
    char line[LINE_MAX_LEN], msg[512];
    unsigned line_no = 0;
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        line_no++;
        if (!strchr(line, '\n') && !feof(f)) {
            snprintf(err, errcap, "%s:%u: line too long", name, line_no);
            rc = -1;
            break;
        }
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *s = trim(line);
        if (!*s)
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, errcap, "%s:%u: expected 'key = value'", name, line_no);
            rc = -1;
            break;
        }
        *eq = '\0';
        if (e2ee__rcfg_set(cfg, trim(s), trim(eq + 1), msg, sizeof msg) != 0) {
            snprintf(err, errcap, "%s:%u: %s", name, line_no, msg);
            rc = -1;
        }
    }
    return rc;
}

int e2ee__rcfg_load_file(struct e2ee__relay_config *cfg, const char *path, char *err,
                         size_t errcap)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errcap, "cannot read config file %s: %s", path, strerror(errno));
        return -1;
    }
    int rc = e2ee__rcfg_load_stream(cfg, f, path, err, errcap);
    fclose(f);
    return rc;
}

int e2ee__rcfg_split_addr(const char *addr, char *host, size_t hostcap, int *port)
{
    uint64_t p = 0;
    const char *colon;
    size_t hl;
    if (!addr || !*addr)
        return -1;
    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');
        if (!close || close[1] != ':')
            return -1;
        hl = (size_t)(close - addr - 1);
        colon = close + 1;
        addr++;
    } else {
        colon = strrchr(addr, ':');
        if (!colon)
            return -1;
        hl = (size_t)(colon - addr);
    }
    if (hl == 0 || hl >= hostcap || parse_uint(colon + 1, 0, 65535, &p) != 0)
        return -1;
    memcpy(host, addr, hl);
    host[hl] = '\0';
    *port = (int)p;
    return 0;
}

uint32_t e2ee__rcfg_server_frame_max(const struct e2ee__relay_config *c)
{
    uint64_t ids = c->max_group_size > c->list_users_page ? c->max_group_size
                                                          : c->list_users_page;
    uint64_t list = ids * (E2EE_RELAY_ID_MAX + 8) + 4096;
    uint64_t item = (uint64_t)c->max_frame_size + 4096;
    uint64_t bundles = (uint64_t)c->max_bundles_per_fetch * E2EE_RCFG_BUNDLE_ITEM_MAX + 4096;
    uint64_t m = item > list ? item : list;
    if (bundles > m)
        m = bundles;
    if (m < E2EE_RCFG_BATCH_TARGET + 4096)
        m = E2EE_RCFG_BATCH_TARGET + 4096;
    return m > UINT32_MAX ? UINT32_MAX : (uint32_t)m;
}

int e2ee__rcfg_check(const struct e2ee__relay_config *cfg, char *err, size_t errcap)
{
    char host[E2EE_RCFG_ADDR_MAX];
    int port = 0;
    if (e2ee__rcfg_split_addr(cfg->listen, host, sizeof host, &port) != 0) {
        snprintf(err, errcap, "listen: '%s' is not HOST:PORT", cfg->listen);
        return -1;
    }
    if (cfg->metrics[0] && e2ee__rcfg_split_addr(cfg->metrics, host, sizeof host, &port) != 0) {
        snprintf(err, errcap, "metrics: '%s' is not HOST:PORT", cfg->metrics);
        return -1;
    }
    if (!cfg->tls_cert[0] != !cfg->tls_key[0]) {
        snprintf(err, errcap, "tls_cert and tls_key go together: give both or neither");
        return -1;
    }
    if (cfg->relay_id[0] && !e2ee__relay_id_valid(cfg->relay_id)) {
        snprintf(err, errcap, "relay_id: 1..%d characters of A-Z a-z 0-9 . _ - @ +",
                 E2EE_RELAY_ID_MAX);
        return -1;
    }
    if (cfg->idle_timeout <= cfg->ping_interval) {
        snprintf(err, errcap, "idle_timeout must be longer than ping_interval");
        return -1;
    }
    uint64_t need = 2ULL * e2ee__rcfg_server_frame_max(cfg);
    if (cfg->max_unsent_bytes < need) {
        snprintf(err, errcap, "max_unsent_bytes must be at least %llu with these limits "
                              "(twice the largest frame the relay sends)",
                 (unsigned long long)need);
        return -1;
    }
    if (!cfg->store[0]) {
        snprintf(err, errcap, "store: a file path is needed");
        return -1;
    }
    return 0;
}

void e2ee__rcfg_log(const struct e2ee__relay_config *cfg)
{
    const char *base = (const char *)cfg;
    for (size_t i = 0; i < N_KEYS; i++) {
        const struct key_def *k = &k_keys[i];
        const void *p = base + k->off;
        if (k->type == K_STR) {
            const char *v = p;
            if (strcmp(k->name, "registration_token") == 0)
                v = *v ? "(set)" : "";
            RLOG_DEBUG("config %s=%s", k->name, v);
        } else if (k->type == K_ENUM) {
            RLOG_DEBUG("config %s=%s", k->name, k->names[*(const uint32_t *)p]);
        } else if (k->type == K_U32) {
            RLOG_DEBUG("config %s=%u", k->name, *(const uint32_t *)p);
        } else {
            RLOG_DEBUG("config %s=%llu", k->name, (unsigned long long)*(const uint64_t *)p);
        }
    }
}
