/*
 * e2ee-relay: command line.
 *
 *   e2ee-relay [--config FILE] [--listen ADDR:PORT] [--store PATH]
 *              [--tls-cert FILE --tls-key FILE] [--metrics ADDR:PORT]
 *              [--log-level LEVEL] [--set KEY=VALUE]...
 *
 * The config file is read first; flags override it. Exit status: 0 after a clean stop
 * (SIGTERM, SIGINT), 1 when the relay cannot start or fails, 2 for a usage or config error.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/config.h"
#include "relay/log.h"
#include "relay/relay.h"

#define EXIT_USAGE 2

static volatile sig_atomic_t g_stop;
static struct e2ee__relay g_relay;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
    e2ee__relay_signal_stop(&g_relay);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: e2ee-relay [--config FILE] [--listen ADDR:PORT] [--store PATH]\n"
            "                  [--tls-cert FILE --tls-key FILE] [--metrics ADDR:PORT]\n"
            "                  [--log-level error|warn|info|debug] [--set KEY=VALUE]...\n"
            "Serves the e2ee relay protocol (WebSocket subprotocol e2ee.v1).\n"
            "Defaults: --listen 127.0.0.1:8765 --store ./e2ee-relay.db, no TLS, no metrics.\n"
            "Every option is also a config file key (key = value); see docs/RELAY.md.\n");
}

/* Maps a flag to its config key; NULL when it is not one. */
static const char *flag_key(const char *flag)
{
    static const char *const map[][2] = {
        {"--listen", "listen"},     {"--store", "store"},         {"--tls-cert", "tls_cert"},
        {"--tls-key", "tls_key"},   {"--metrics", "metrics"},     {"--log-level", "log_level"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        if (strcmp(flag, map[i][0]) == 0)
            return map[i][1];
    }
    return NULL;
}

/* Finds --config FILE and loads it. 0, or the exit status. */
static int load_config_file(int argc, char **argv, struct e2ee__relay_config *cfg)
{
    char err[600];
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") != 0)
            continue;
        if (i + 1 >= argc) {
            fprintf(stderr, "e2ee-relay: --config needs a file\n");
            return EXIT_USAGE;
        }
        if (e2ee__rcfg_load_file(cfg, argv[i + 1], err, sizeof err) != 0) {
            fprintf(stderr, "e2ee-relay: %s\n", err);
            return EXIT_USAGE;
        }
    }
    return 0;
}

/* Applies --set KEY=VALUE. 0 or -1 with err. */
static int apply_set(struct e2ee__relay_config *cfg, const char *kv, char *err, size_t cap)
{
    char key[64];
    const char *eq = strchr(kv, '=');
    if (!eq || (size_t)(eq - kv) >= sizeof key || eq == kv) {
        snprintf(err, cap, "--set needs KEY=VALUE, got '%s'", kv);
        return -1;
    }
    memcpy(key, kv, (size_t)(eq - kv));
    key[eq - kv] = '\0';
    return e2ee__rcfg_set(cfg, key, eq + 1, err, cap);
}

/* Applies every flag but --config. 0, 1 (help shown) or the exit status. */
static int apply_flags(int argc, char **argv, struct e2ee__relay_config *cfg)
{
    char err[600];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *key = flag_key(a);
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 1;
        }
        if (strcmp(a, "--config") != 0 && strcmp(a, "--set") != 0 && !key) {
            fprintf(stderr, "e2ee-relay: unknown argument '%s'\n", a);
            usage(stderr);
            return EXIT_USAGE;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "e2ee-relay: %s needs a value\n", a);
            return EXIT_USAGE;
        }
        const char *v = argv[++i];
        int rc = 0;
        if (key)
            rc = e2ee__rcfg_set(cfg, key, v, err, sizeof err);
        else if (strcmp(a, "--set") == 0)
            rc = apply_set(cfg, v, err, sizeof err);
        if (rc != 0) {
            fprintf(stderr, "e2ee-relay: %s\n", err);
            return EXIT_USAGE;
        }
    }
    return 0;
}

static int install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0)
        return -1;
    sa.sa_handler = SIG_IGN;
    return sigaction(SIGPIPE, &sa, NULL);
}

int main(int argc, char **argv)
{
    struct e2ee__relay_config cfg;
    char err[600];
    int rc;
    e2ee__rcfg_defaults(&cfg);
    rc = load_config_file(argc, argv, &cfg);
    if (rc == 0)
        rc = apply_flags(argc, argv, &cfg);
    if (rc == 1)
        return 0;
    if (rc != 0)
        return rc;
    if (e2ee__rcfg_check(&cfg, err, sizeof err) != 0) {
        fprintf(stderr, "e2ee-relay: %s\n", err);
        return EXIT_USAGE;
    }
    e2ee__rlog_set_level((int)cfg.log_level);
    if (install_signals() != 0) {
        RLOG_ERROR("cannot install signal handlers");
        return 1;
    }
    rc = e2ee__relay_init(&g_relay, &cfg, &g_stop);
    if (rc == 0)
        rc = e2ee__relay_run(&g_relay);
    else
        rc = 1;
    e2ee__relay_cleanup(&g_relay);
    return rc;
}
