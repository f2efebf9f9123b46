/*
 * e2ee relay: configuration. Every option is a `key = value` line of the config file and
 * can be overridden on the command line (named flags for the common ones, `--set key=value`
 * for any key). docs/RELAY.md lists every key with its default and bounds.
 */
#ifndef E2EE_RELAY_CONFIG_H
#define E2EE_RELAY_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "relay/ids.h"

#define E2EE_RCFG_PATH_MAX 1024
#define E2EE_RCFG_ADDR_MAX 128
#define E2EE_RCFG_TOKEN_MAX 256

enum e2ee__rcfg_user_events {
    E2EE_RCFG_USER_EVENTS_ALL = 0,    /* user created/deleted go to every connected user */
    E2EE_RCFG_USER_EVENTS_GROUPS = 1, /* only to users who share a group with that user */
};

struct e2ee__relay_config {
    char listen[E2EE_RCFG_ADDR_MAX];      /* HOST:PORT, port 0 = any free port */
    char store[E2EE_RCFG_PATH_MAX];       /* SQLite file */
    char tls_cert[E2EE_RCFG_PATH_MAX];    /* PEM; with tls_key enables wss:// */
    char tls_key[E2EE_RCFG_PATH_MAX];
    char metrics[E2EE_RCFG_ADDR_MAX];     /* HOST:PORT of /metrics; "" = off */
    char relay_id[E2EE_RELAY_ID_BUF];     /* "" = a random id kept in the store */
    char registration_token[E2EE_RCFG_TOKEN_MAX]; /* "" = open registration */
    uint32_t user_events;                 /* enum e2ee__rcfg_user_events */
    uint32_t log_level;                   /* enum e2ee__rlog_level */
    uint32_t store_sync;                  /* enum e2ee__rs_sync */
    uint32_t low_prekey_threshold;
    uint32_t max_frame_size;
    uint32_t max_group_size;
    uint32_t max_groups_per_user;
    uint64_t max_queue_msgs;
    uint64_t max_queue_bytes;
    uint32_t max_requests_per_sec;
    uint32_t max_connections;
    uint64_t max_unsent_bytes;
    uint32_t max_prekeys;
    uint32_t login_timeout;               /* seconds */
    uint32_t ping_interval;               /* seconds idle before a WebSocket ping */
    uint32_t idle_timeout;                /* seconds without a pong before hanging up */
    uint64_t dedup_window;                /* seconds a client message id is remembered */
    uint32_t list_users_page;
    uint32_t max_bundles_per_fetch;       /* items of one RelayFetchBundles */
    uint32_t commit_delay_us;             /* extra wait before a group commit */
};

/* Fills cfg with the defaults. */
void e2ee__rcfg_defaults(struct e2ee__relay_config *cfg);

/*
 * Sets one key from its text value. Returns 0, or -1 with a reason in err (unknown key,
 * value not a number, out of bounds, too long).
 */
int e2ee__rcfg_set(struct e2ee__relay_config *cfg, const char *key, const char *value, char *err,
                   size_t errcap);

/* Reads a config file of `key = value` lines ('#' starts a comment). 0 or -1 with err. */
int e2ee__rcfg_load_file(struct e2ee__relay_config *cfg, const char *path, char *err,
                         size_t errcap);
/* Same from an open stream; name is used in messages ("name:line: ..."). */
int e2ee__rcfg_load_stream(struct e2ee__relay_config *cfg, FILE *f, const char *name,
                           char *err, size_t errcap);

/* Checks the options together (addresses, TLS cert and key both or neither, relay id,
 * max_unsent_bytes at least twice the largest frame sent). 0 or -1 with err. */
int e2ee__rcfg_check(const struct e2ee__relay_config *cfg, char *err, size_t errcap);

/* Splits "HOST:PORT" or "[V6]:PORT". 0 or -1. host receives at most hostcap bytes. */
int e2ee__rcfg_split_addr(const char *addr, char *host, size_t hostcap, int *port);

#define E2EE_RCFG_BUNDLES_MAX 1000      /* highest max_bundles_per_fetch */
/* Encoded size bound of one RelayBundleItem: two ids and a result text (E2EE_RELAY_TEXT_MAX),
 * three keys, two signatures and the field tags. */
#define E2EE_RCFG_BUNDLE_ITEM_MAX (2 * 64 + 200 + 3 * 32 + 2 * 64 + 96)

/* Largest ServerFrame the relay sends with these limits: an item carries at most one
 * client frame's bytes or one member list; a batch of deliveries stays under
 * E2EE_RCFG_BATCH_TARGET plus one item; a bundle list holds max_bundles_per_fetch items. */
#define E2EE_RCFG_BATCH_TARGET (256 * 1024)
uint32_t e2ee__rcfg_server_frame_max(const struct e2ee__relay_config *cfg);

/* Writes every key = value (the token masked) to the log at debug level. */
void e2ee__rcfg_log(const struct e2ee__relay_config *cfg);

#endif
