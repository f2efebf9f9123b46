/*
 * Fuzz target: the relay's config parser. The input is a config file (read through a memory
 * stream by e2ee__rcfg_load_stream, the code behind --config), followed by the checks the
 * relay runs before it starts. A file that loads and passes them gives addresses that split
 * and limits the relay can honour.
 */
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "relay/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct e2ee__relay_config cfg;
    char err[600], host[E2EE_RCFG_ADDR_MAX];
    int port = 0;
    static char newline[] = "\n";
    e2ee__rcfg_defaults(&cfg);
    /* fmemopen wants at least one byte: an empty file reads as one empty line */
    FILE *f = fmemopen(size ? (void *)data : (void *)newline, size ? size : 1, "r");
    FZ_CHECK(f != NULL);
    int rc = e2ee__rcfg_load_stream(&cfg, f, "fuzz.conf", err, sizeof err);
    fclose(f);
    if (rc != 0) {
        FZ_CHECK(strlen(err) < sizeof err);
        return 0;
    }
    if (e2ee__rcfg_check(&cfg, err, sizeof err) != 0)
        return 0;
    FZ_CHECK(e2ee__rcfg_split_addr(cfg.listen, host, sizeof host, &port) == 0);
    FZ_CHECK(port >= 0 && port <= 65535 && host[0]);
    FZ_CHECK(cfg.max_unsent_bytes >= 2ull * e2ee__rcfg_server_frame_max(&cfg));
    FZ_CHECK(cfg.idle_timeout > cfg.ping_interval);
    e2ee__rcfg_log(&cfg);
    return 0;
}
